#!/usr/bin/env bash
# Cluster-wide recording on the namespace test cluster (scripts/cluster.sh, id $ZEPTO_CLUSTER_ID,
# default 0): the wall time of `srun -N 2 zepto noise record -d D -o DIR` against D (what the
# start barrier, calibration and Slurm's launch add), of the same with 4 nodes on this machine's
# 2 CPUs (two turns), and the time `zepto noise analyse DIR` takes for those directories. Each
# line is one run; the overhead is wall - D (or wall - 2D for two turns), in the same run.
# Needs root and the Slurm packages; brings a 4-node cluster up and takes it down.
# Usage: bench/cluster_noise.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
rounds=${2:-3}
zepto="$build/bin/zepto"
[ -x "$zepto" ] || { echo "no $zepto: build first (make)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "(skipped: the test cluster needs root)"; exit 0; }
command -v srun >/dev/null || { echo "(skipped: no srun: scripts/deps.sh installs Slurm)"; exit 0; }
cluster=$(dirname "$0")/../scripts/cluster.sh
out=$(mktemp -d /tmp/zepto-bench-cluster.XXXXXX)
# Down only a cluster this script brought up (another one of this id is not ours).
if ! "$cluster" up 4 >"$out/up.log" 2>&1; then
    echo "(skipped: cluster.sh up 4 failed: $(tail -1 "$out/up.log"))"
    rm -rf "$out"
    exit 0
fi
trap '"$cluster" down >/dev/null 2>&1; rm -rf "$out"' EXIT
eval "$("$cluster" env)"

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# What Slurm alone costs: a step that does nothing.
for r in $(seq "$rounds"); do
    t=$(date +%s%N)
    srun -N 2 true
    echo "  srun -N 2 true: wall $(ms "$t") ms"
done

for d in 3 10; do
    for n in 2 4; do
        turns=$(( n > $(nproc) ? (n + $(nproc) - 1) / $(nproc) : 1 ))
        for r in $(seq "$rounds"); do
            dir="$out/n$n-d$d-$r"
            printf '$ srun -N %s %s noise record -d %ss -o DIR\n' "$n" "$zepto" "$d"
            t=$(date +%s%N)
            srun -N "$n" "$zepto" noise record -d "${d}s" -o "$dir" >/dev/null 2>&1
            wall=$(ms "$t")
            t=$(date +%s%N)
            "$zepto" noise analyse "$dir" >/dev/null 2>&1
            an=$(ms "$t")
            echo "  $n nodes, $turns turn(s) of ${d} s: wall $wall ms, overhead $((wall - turns * d * 1000)) ms; analyse DIR $an ms"
        done
    done
done
