#!/usr/bin/env python3
"""Snapshot costs, ferrokv next to redis-server (stdlib only).

For each server: load N keys (`SET key:<i> <16 bytes>` through
`redis-cli --pipe`), time a SAVE, note the dump size, measure GET latency
(redis-benchmark, pipeline 1) once idle and once while BGSAVEs of the whole
dataset run back to back, then restart on the dump and read the load time
from the server's own "DB loaded from disk" log line.

    benches/snapshot.py target/release/ferrokv [--keys 1000000]
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(port, *args, timeout=600):
    out = subprocess.run(
        ["redis-cli", "-p", str(port), *args],
        capture_output=True, text=True, timeout=timeout,
    )
    return out.stdout.strip()


def wait_ready(port, deadline=120):
    end = time.time() + deadline
    while time.time() < end:
        try:
            if cli(port, "PING", timeout=5) == "PONG":
                return
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.05)
    raise SystemExit(f"server on {port} not ready")


def start(cmd, port, workdir, log):
    full = cmd + ["--port", str(port), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", workdir]
    logf = open(log, "w")
    proc = subprocess.Popen(full, stdout=logf, stderr=subprocess.STDOUT,
                            cwd=workdir)
    wait_ready(port)
    return proc


def stop(proc, port):
    try:
        cli(port, "SHUTDOWN", "NOSAVE", timeout=30)
    except subprocess.TimeoutExpired:
        pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def populate(port, keys, path):
    if not os.path.exists(path):
        with open(path, "w") as f:
            for i in range(keys):
                k = f"key:{i}"
                f.write(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n$16\r\nvalue-{i:010d}\r\n")
    with open(path, "rb") as f:
        subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f,
                       capture_output=True, check=True)


def get_p99(port, keys, requests):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "get", "-n", str(requests),
         "-c", "20", "-r", str(keys), "-P", "1", "--csv"],
        capture_output=True, text=True, check=True,
    ).stdout
    rows = [l for l in out.splitlines() if l.startswith('"GET"')]
    fields = [x.strip('"') for x in rows[-1].split(",")]
    # "test","rps","avg","min","p50","p95","p99","max"
    return float(fields[1]), float(fields[4]), float(fields[6]), float(fields[7])


def bgsave_loop(port, stop_flag, counter):
    while not stop_flag.is_set():
        reply = cli(port, "BGSAVE", timeout=60)
        if reply.startswith("Background saving started"):
            counter[0] += 1
        time.sleep(0.02)


def measure(name, cmd, keys, datafile, requests):
    work = tempfile.mkdtemp(prefix=f"snapbench-{name}-")
    port = free_port()
    proc = start(cmd, port, work, os.path.join(work, "log1"))
    populate(port, keys, datafile)
    assert int(cli(port, "DBSIZE")) == keys
    t = time.time()
    assert cli(port, "SAVE") == "OK"
    save_s = time.time() - t
    size = os.path.getsize(os.path.join(work, "dump.rdb"))
    idle = get_p99(port, keys, requests)
    stop_flag, counter = threading.Event(), [0]
    th = threading.Thread(target=bgsave_loop, args=(port, stop_flag, counter))
    th.start()
    busy = get_p99(port, keys, requests)
    stop_flag.set()
    th.join()
    while cli(port, "INFO", "persistence").find("rdb_bgsave_in_progress:1") >= 0:
        time.sleep(0.1)
    stop(proc, port)
    log2 = os.path.join(work, "log2")
    t = time.time()
    proc = start(cmd, port, work, log2)
    ready_s = time.time() - t
    assert int(cli(port, "DBSIZE")) == keys
    stop(proc, port)
    m = re.search(r"DB loaded from disk: ([0-9.]+) seconds", open(log2).read())
    load_s = float(m.group(1)) if m else ready_s
    shutil.rmtree(work, ignore_errors=True)
    return dict(save=save_s, size=size, load=load_s, idle=idle, busy=busy,
                bgsaves=counter[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ferrokv")
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200_000)
    a = ap.parse_args()
    datafile = os.path.join(tempfile.gettempdir(), f"snapbench-{a.keys}.resp")
    res = {
        "ferrokv": measure("ferrokv", [os.path.abspath(a.ferrokv)], a.keys, datafile, a.requests),
        "redis": measure("redis", ["redis-server"], a.keys, datafile, a.requests),
    }
    os.remove(datafile)
    f, r = res["ferrokv"], res["redis"]
    print(f"| Measure ({a.keys} keys) | ferrokv | Redis 7.0.15 | Ratio |")
    print("|---|---:|---:|---:|")
    print(f"| SAVE s | {f['save']:.3f} | {r['save']:.3f} | {f['save']/r['save']:.2f} |")
    print(f"| Load at start-up s | {f['load']:.3f} | {r['load']:.3f} | {f['load']/r['load']:.2f} |")
    print(f"| RDB file bytes | {f['size']} | {r['size']} | {f['size']/r['size']:.2f} |")
    for label, i in (("GET rps", 0), ("GET p50 ms", 1), ("GET p99 ms", 2), ("GET max ms", 3)):
        print(f"| {label}, idle | {f['idle'][i]:.3f} | {r['idle'][i]:.3f} | {f['idle'][i]/r['idle'][i]:.2f} |")
        print(f"| {label}, during BGSAVE | {f['busy'][i]:.3f} | {r['busy'][i]:.3f} | {f['busy'][i]/r['busy'][i]:.2f} |")
    print(f"| BGSAVEs started during the GET run | {f['bgsaves']} | {r['bgsaves']} | |")


if __name__ == "__main__":
    main()
