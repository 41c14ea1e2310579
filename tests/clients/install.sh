#!/usr/bin/env bash
# Installs the client libraries that tests/clients.rs runs against ferrokv
# into target/clients/ (nothing global): node-redis, ioredis and BullMQ from the
# lock file beside this script, redis-py 5.x and the current redis-py.
# Re-running skips what is already installed at the pinned versions.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dest="$root/target/clients"
mkdir -p "$dest"

node_dir="$dest/node"
if ! cmp -s "$here/package-lock.json" "$node_dir/package-lock.json" ||
    [ ! -d "$node_dir/node_modules/ioredis" ] ||
    [ ! -d "$node_dir/node_modules/redis" ] ||
    [ ! -d "$node_dir/node_modules/bullmq" ]; then
    rm -rf "$node_dir"
    mkdir -p "$node_dir"
    cp "$here/package.json" "$here/package-lock.json" "$node_dir/"
    # `npm install --no-save` installs the locked versions like `npm ci`
    # but tolerates the lock file lacking other platforms' optional native
    # packages (msgpackr-extract, pulled in by BullMQ), which `npm ci`
    # rejects as "not in sync".
    npm install --prefix "$node_dir" --no-save --ignore-scripts --no-audit --no-fund --loglevel=error
fi

install_py() {
    local dir="$dest/$1" spec="$2"
    if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$spec" ]; then
        return
    fi
    rm -rf "$dir"
    python3 -m pip install --quiet --disable-pip-version-check --no-input \
        --root-user-action=ignore --target "$dir" "$spec"
    echo "$spec" >"$dir/.installed"
}
install_py py-redis5 "redis==5.3.1"
install_py py-redis-latest "redis==8.1.0"
echo "client libraries installed in $dest"
