#!/usr/bin/env bash
# Installs the Debian packages the test suite runs as real servers, and the npm dependencies.
# Idempotent: a package that is already present is not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

# The suite and the service run on the Node.js LTS lines 22 and 24; on a machine with another,
# .ci/run runs them with scripts/install-node.sh.
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 22 ]; then
  echo "install-deps: Node.js $(node --version) is not supported: use 22 or 24 (LTS), or .ci/run" >&2
  exit 1
fi

PKGS=(postgresql postgresql-contrib redis-server docker.io busybox-static prometheus
  prometheus-alertmanager prometheus-postgres-exporter prometheus-redis-exporter
  prometheus-node-exporter prometheus-blackbox-exporter openssl)
# The packaging tests: `docker-compose config` on deploy/ (Debian's compose v1), and debootstrap
# for the image-build test's base-image stand-ins (no image registry is reached).
PKGS+=(docker-compose debootstrap)
# A real browser for the console's tests (driven by playwright-core, no browser download),
# and CJK glyphs for the contact names in its screenshots.
PKGS+=(chromium fonts-noto-cjk)
# curl runs the example cron lines that ping heartbeats (examples/heartbeats.crontab).
PKGS+=(curl)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d keeps the packages' own services from starting: tests start their own instances.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# `npm install` rather than `npm ci`: with a lockfile it installs the locked versions, and
# it tolerates the platform-specific optional packages npm leaves out of lockfiles.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi
# better-sqlite3 ships its SQLite binding prebuilt (Node-API: one file for every Node.js line), and
# no install script builds one: check that it loads here, so a platform without one fails now.
node -e "new (require('better-sqlite3'))(':memory:').close()"

