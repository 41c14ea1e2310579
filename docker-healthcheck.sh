#!/bin/sh
# Container health: the server answers PING and has finished loading its
# data set (INFO persistence reports loading:0). Uses the image's
# redis-cli; set REDISCLI_AUTH when a password is required, and
# FERROKV_HOST / FERROKV_PORT when the server does not listen on
# 127.0.0.1:6379.
set -eu
host="${FERROKV_HOST:-127.0.0.1}"
port="${FERROKV_PORT:-6379}"
[ "$(redis-cli -h "$host" -p "$port" ping)" = "PONG" ] || exit 1
redis-cli -h "$host" -p "$port" info persistence | grep -q '^loading:0' || exit 1
