#!/usr/bin/env bash
# The allocation report's wall time on the test cluster (issue 13 part 4): `srun -N N zepto
# report --quick` for N = 2 and 4 against a single-node report (`srun -N 1`, which is the
# single-node report), in interleaved rounds, one run. Prints the median wall time of each and
# the ratio to the single node, and how long each node's own report took (from report.json).
# Usage: bench/report_alloc.sh BUILD [ROUNDS] [--full]. Root; brings cluster ZEPTO_CLUSTER_ID
# (default 0) up with 4 nodes and down at the end.
set -euo pipefail
build=$(realpath "${1:-build}")
rounds=${2:-2}
quick=--quick
[ "${3:-}" = --full ] && quick=
zepto="$build/bin/zepto"
cluster=$(cd "$(dirname "$0")/.." && pwd)/scripts/cluster.sh
id=${ZEPTO_CLUSTER_ID:-0}
sfx=${id#0}
if [ "$(id -u)" -ne 0 ] || ! command -v srun >/dev/null || ! command -v slurmd >/dev/null; then
    echo "(skipped: needs root and slurm-wlm for the test cluster)"
    exit 0
fi
work=$(mktemp -d /tmp/zepto-bench-report.XXXXXX)
trap '"$cluster" down >/dev/null 2>&1; rm -rf "$work"' EXIT
"$cluster" up 4 >/dev/null
export SLURM_CONF=/run/zepto-cluster$sfx/slurm.conf

declare -A times
for r in $(seq "$rounds"); do
    for n in 1 2 4; do
        dir="$work/r$r-n$n"
        t0=$(date +%s.%N)
        srun -N "$n" "$zepto" report $quick -o "$dir" >"$work/out" 2>&1 ||
            { echo "srun -N $n failed: $(tail -3 "$work/out")"; exit 1; }
        t1=$(date +%s.%N)
        times[$n]+="$(echo "$t1 - $t0" | bc) "
        if [ "$n" -gt 1 ]; then
            echo "round $r, $n nodes: $(jq -r '[.nodes[] | "\(.host) \(.report_seconds | . * 10 | round / 10) s" + (if .recorded_after != "" then " (after \(.recorded_after))" else "" end)] | join(", ")' "$dir/report.json")"
        fi
    done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
one=$(echo "${times[1]}" | median)
for n in 1 2 4; do
    m=$(echo "${times[$n]}" | median)
    printf 'srun -N %s zepto report %s: median %.1f s over %s rounds (%s), %.2fx the single node\n' \
        "$n" "$quick" "$m" "$rounds" "$(echo "${times[$n]}" | xargs)" "$(echo "$m / $one" | bc -l)"
done
