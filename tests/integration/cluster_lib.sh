# The names of the test cluster a test uses (scripts/cluster.sh; ZEPTO_CLUSTER_ID=K selects one of
# ten independent clusters, default 0), the checks before using it, and up with down at exit.
# Source after lib.sh. Sets CLUSTER (the script), CL_STATE, CL_BRIDGE, CL_NET, CL_PREFIX, CL_LINKP,
# CL_CPUSET, the same names cluster.sh derives from the id.
CLUSTER=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/cluster.sh
CL_ID=${ZEPTO_CLUSTER_ID:-0}
CL_SFX=${CL_ID#0}
CL_STATE=/run/zepto-cluster$CL_SFX
CL_BRIDGE=zbr$CL_ID
CL_NET=10.213.$CL_ID
CL_PREFIX=zepto$CL_SFX-
CL_LINKP=zv$CL_SFX-
CL_CPUSET=/sys/fs/cgroup/cpuset/zepto-cluster$CL_SFX
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# cluster_require TOOL...: skip (77, with the reason) unless root, the tools, namespaces, and no
# cluster of this id already up (someone else's: not touched).
cluster_require() {
  local t
  if [ "$(id -u)" -ne 0 ]; then
    echo "skip: needs root (namespaces, bridge, daemons)"
    exit 77
  fi
  for t in ip nsenter unshare munged slurmctld slurmd srun salloc sinfo "$@"; do
    command -v "$t" >/dev/null || { echo "skip: $t not installed (scripts/deps.sh installs it)"; exit 77; }
  done
  if ! ip netns add "${CL_PREFIX}probe$$" 2>/dev/null; then
    echo "skip: this machine cannot create network namespaces"
    exit 77
  fi
  ip netns delete "${CL_PREFIX}probe$$"
  # A cluster left by a test that was killed (a ctest timeout sends SIGKILL: no trap ran) is
  # taken down; any other is someone else's and left alone.
  local owner
  owner=$(cat "$CL_STATE/test-owner" 2>/dev/null || true)
  if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
    echo "note: taking down test cluster $CL_ID left by test process $owner, which is gone"
    "$CLUSTER" down >/dev/null 2>&1 || true
  fi
  if [ -d "$CL_STATE" ] || ip link show "$CL_BRIDGE" >/dev/null 2>&1; then
    echo "skip: test cluster $CL_ID is already up here (not ours; ZEPTO_CLUSTER_ID picks another)"
    exit 77
  fi
}

# cluster_up N [--io]: bring the cluster up, take it down when the test exits, export SLURM_CONF.
cluster_up() {
  trap '"$CLUSTER" down >/dev/null 2>&1' EXIT
  "$CLUSTER" up "$@" >"$WORK/cluster-up.out" 2>&1 || fail "cluster.sh up $*: $(tail -3 "$WORK/cluster-up.out")"
  echo $$ >"$CL_STATE/test-owner" # so that the next test can clean up if this one is killed
  export SLURM_CONF=$CL_STATE/slurm.conf
}
