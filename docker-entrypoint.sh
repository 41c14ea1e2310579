#!/bin/sh
# Mirrors the official Redis image's entrypoint:
# - a first argument starting with `-` (`--appendonly yes`) or naming a
#   config file (`/etc/ferrokv.conf`, `/etc/redis.toml`) is given to
#   `ferrokv`;
# - ferrokv listens on all interfaces unless the command line or the
#   config file chooses `bind`, with protected mode off unless asked for
#   (Docker only exposes published ports), as in the official image;
# - started as root, it fixes /data's owner and drops to the redis user;
# - anything else (`sh`, `redis-cli …`) runs as given.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ] || [ "${1%.toml}" != "$1" ]; then
    set -- ferrokv "$@"
fi
if [ "$1" = "ferrokv" ]; then
    bind_set=
    case " $* " in
        *" --bind "*) bind_set=1 ;;
    esac
    if [ -f "${2:-}" ] && grep -Eq '^[[:space:]]*bind([[:space:]]|=|$)' "$2"; then
        bind_set=1
    fi
    if [ -z "$bind_set" ]; then
        set -- "$@" --bind "* -::*"
    fi
    config=""
    for arg in "$@"; do
        case "$arg" in *.toml | *.conf) config="$arg" ;; esac
    done
    case " $* " in
        *" --protected-mode "*) ;;
        *)
            if [ -z "$config" ] || ! grep -Eq '^[[:space:]]*protected-mode' "$config" 2>/dev/null; then
                set -- "$@" --protected-mode no
            fi
            ;;
    esac
    if [ "$(id -u)" = "0" ]; then
        find . \! -user redis -exec chown redis:redis '{}' + 2>/dev/null || true
        exec setpriv --reuid=redis --regid=redis --init-groups "$@"
    fi
fi
exec "$@"
