#!/bin/sh
# Like the official Redis image: `docker run IMAGE --requirepass x` passes
# the flags to the server, and the server listens on all interfaces unless
# a config file or --bind says otherwise; protected mode is off unless
# asked for, as in the official image.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.toml}" != "$1" ]; then
    set -- ferrokv "$@"
fi
if [ "$1" = "ferrokv" ]; then
    case " $* " in
        *" --bind "*) ;;
        *) set -- "$@" --bind "* -::*" ;;
    esac
    # The official image builds Redis with protected mode off (Docker only
    # exposes published ports); a flag or config file can still turn it on.
    config=""
    for arg in "$@"; do
        case "$arg" in *.toml) config="$arg" ;; esac
    done
    case " $* " in
        *" --protected-mode "*) ;;
        *)
            if [ -z "$config" ] || ! grep -q '^protected-mode' "$config" 2>/dev/null; then
                set -- "$@" --protected-mode no
            fi
            ;;
    esac
    if [ "$(id -u)" = "0" ]; then
        chown -R redis:redis /data 2>/dev/null || true
        exec setpriv --reuid=redis --regid=redis --init-groups "$@"
    fi
fi
exec "$@"
