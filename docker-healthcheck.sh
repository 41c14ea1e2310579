#!/bin/sh
# Container health: the server answers PING and has finished loading its
# data set (INFO persistence reports loading:0). Uses the image's
# redis-cli; set REDISCLI_AUTH when a password is required, and
# FERROKV_PORT when the server does not listen on 6379.
set -eu
port="${FERROKV_PORT:-6379}"
[ "$(redis-cli -h 127.0.0.1 -p "$port" ping)" = "PONG" ] || exit 1
redis-cli -h 127.0.0.1 -p "$port" info persistence | grep -q '^loading:0' || exit 1
