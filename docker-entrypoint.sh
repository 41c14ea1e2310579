#!/bin/sh
# Like the official Redis image: `docker run IMAGE --requirepass x` passes
# the flags to the server, and the server listens on all interfaces unless
# a config file or --bind says otherwise.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.toml}" != "$1" ]; then
    set -- ferrokv "$@"
fi
if [ "$1" = "ferrokv" ]; then
    case " $* " in
        *" --bind "*) ;;
        *) set -- "$@" --bind "* -::*" ;;
    esac
    if [ "$(id -u)" = "0" ]; then
        chown -R redis:redis /data 2>/dev/null || true
        exec setpriv --reuid=redis --regid=redis --init-groups "$@"
    fi
fi
exec "$@"
