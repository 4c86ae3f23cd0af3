#!/usr/bin/env bash
# make deb-check (and CI): installs the packages of `make deb` (DIR, default build-deb) with apt,
# which pulls their dependencies, runs `zepto report --quick` from the installed package into a
# temporary directory, and removes the packages again (also when the run fails).
set -euo pipefail
dir=$(cd "${1:-build-deb}" && pwd)
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
tmp=$(mktemp -d)
cleanup() {
    $sudo apt-get purge -y -qq zepto zepto-mpi >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
$sudo apt-get install -y -qq --no-install-recommends "$dir"/zepto_*.deb "$dir"/zepto-mpi_*.deb >/dev/null
[ "$(command -v zepto)" = /usr/bin/zepto ] || { echo "deb-check: zepto is not /usr/bin/zepto" >&2; exit 1; }
/usr/bin/zepto --version
(cd "$tmp" && /usr/bin/zepto report --quick -o "$tmp/report")
[ -s "$tmp/report/report.json" ] || { echo "deb-check: no report.json" >&2; exit 1; }
pkg-config --cflags --libs zoid
echo "deb-check: zepto installed, report --quick ran, removing"
