#!/usr/bin/env bash
# Requests per server CPU-second for custom commands, ferrokv vs redis-server
# (server pinned to CPU 0, redis-benchmark to CPU 1); robust to other load.
set -u
FK=${FK:-target/release/ferrokv}
TCK=$(getconf CLK_TCK)
cpu() { awk -v t=$TCK '{print ($14+$15)/t}' /proc/$1/stat; }
bench() { # pid port n args...
  local pid=$1 port=$2 n=$3; shift 3
  local c0=$(cpu $pid)
  taskset -c 1 redis-benchmark -p $port -P 16 -c 50 -n $n -r 1000000 -q "$@" >/dev/null 2>&1
  local c1=$(cpu $pid)
  python3 -c "print(f'{$n/($c1-$c0):.0f}')"
}
SCRIPT="return redis.call('incr', KEYS[1])"
for round in 1 2 3; do
 for srv in fk redis; do
  port=$((7800 + round*10)); [ $srv = redis ] && port=$((port+1))
  if [ $srv = fk ]; then taskset -c 0 $FK --port $port --save "" --appendonly no >/dev/null 2>&1 & else taskset -c 0 redis-server --port $port --save "" --appendonly no >/dev/null 2>&1 & fi
  pid=$!
  for i in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
  sha=$(redis-cli -p $port SCRIPT LOAD "$SCRIPT")
  echo "$srv SETBIT $(bench $pid $port 1000000 SETBIT bits 100000 1)"
  echo "$srv PFADD $(bench $pid $port 1000000 PFADD hll __rand_int__)"
  echo "$srv XADD $(bench $pid $port 500000 XADD stream '*' field __rand_int__)"
  echo "$srv EVALSHA $(bench $pid $port 500000 EVALSHA $sha 1 counter)"
  redis-cli -p $port shutdown nosave >/dev/null 2>&1
  sleep 0.3
 done
done
