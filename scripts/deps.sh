#!/bin/sh
# Install the Debian packages the build and tests need, only if missing, so
# `make test` and `make demo` work on a fresh Debian 12 machine.
set -eu
PKGS="build-essential cmake pkg-config git
libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libcmocka-dev libcjson-dev libinih-dev
libmicrohttpd-dev
nodejs chromium curl
iproute2 gnuplot-nox
clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
# The Node.js tests need npm too: Debian's, unless the node installed brings
# its own (NodeSource's nodejs does, and conflicts with Debian's npm).
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
