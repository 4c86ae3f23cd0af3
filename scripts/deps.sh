#!/usr/bin/env bash
# Installs the Debian packages that the build, the tests, `make run` and `make bench` need.
# Idempotent: when every package is already installed it only runs dpkg-query and exits.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang clang-format # build; clang for the clang build and fuzzing
  libcmocka-dev                                       # unit tests
  zlib1g-dev                                          # crc32 of trace files
  gnuplot-nox                                         # SVG plots in zepto report
  jq                                                  # JSON checks in the integration tests
  libopenmpi-dev openmpi-bin                          # MPI: zepto noise collective
  libmimalloc-dev                                     # bigmem: the allocator of the region
  libsodium-dev                                       # zoid: HMAC-SHA256 token handshake, nonces
  libfuse3-dev fuse3                                  # zoid: zepto zoid mount
  sqlite3 fio                                         # zoid: real programs on forwarded files
  libtraceevent-dev                                   # ktau: tracepoint record formats
  stress-ng                                           # make test-load: CPUs kept busy
  slurmctld slurmd slurm-client munge                 # scripts/cluster.sh: Slurm on namespace nodes
  gfortran                                            # ktau: Fortran MPI test (mpif90)
  tuned tuna                                          # tune: the peers of `zepto tune` (make bench)
  libhugetlbfs-bin libhugetlbfs0                      # bigmem: hugectl --heap and its preload library (make bench)
  debhelper lintian lmod                              # packaging: make deb, its lintian check, the modulefile test
  help2man python3-jsonschema                         # man pages from --help; JSON schema tests
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# scripts/cluster.sh runs its own munged, slurmctld and slurmds with generated files under
# /run/zepto-cluster; the system units that Debian enables at install are not used. slurmctld and
# slurmd would only be skipped at boot (ConditionPathExists=/etc/slurm/slurm.conf), munge would
# run for nothing: disable the ones installed just now (a site's existing Slurm is left alone).
units=()
for p in slurmctld slurmd munge; do
  [[ " ${missing[*]} " == *" $p "* ]] && units+=("$p")
done
if [ ${#units[@]} -gt 0 ] && [ -d /run/systemd/system ]; then
  $sudo systemctl disable --now "${units[@]}" >/dev/null 2>&1 || true
fi
