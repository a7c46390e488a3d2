#!/bin/sh
# Install the Node tests' npm packages exactly as package-lock.json pins them
# (npm ci; from npm's cache when it holds them, else the registry). Skipped
# when node_modules already holds this lock file's packages, since npm ci
# wipes and reinstalls on every run; a lock keeps two test runs from
# installing at once.
set -eu
cd "$(dirname "$0")"
exec 9>.install.lock
flock 9
stamp=node_modules/.installed-lock.json
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
    echo "node_deps: node_modules is up to date"
    exit 0
fi
npm ci --prefer-offline --no-audit --no-fund
cp package-lock.json "$stamp"
echo "node_deps: installed with node $(node --version), npm $(npm --version)"
