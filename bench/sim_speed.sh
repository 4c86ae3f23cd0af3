#!/usr/bin/env bash
# Speed of the collective simulator: the wall time of `zepto noise simulate` for 10^4, 10^5 and
# 10^6 ranks x 100 iterations of allreduce by recursive doubling, random phase, under a synthetic
# 1 % noise (10 us every 1 ms). Prints each exact command, then the wall time (measured here
# around the process) and the simulation time the tool reports. Target: 10^6 ranks in <= 10 s
# on one core. Usage: bench/sim_speed.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
zepto="$build/bin/zepto"
[ -x "$zepto" ] || { echo "no $zepto: build first (make)" >&2; exit 1; }

# Milliseconds-rounded figures: wall time of the process, the simulation's own time, slowdown.
# shellcheck disable=SC2016 # a jq program, not shell
line='def r3: . * 1000 | round / 1000;
    "\(.ranks) ranks x \(.iterations) iterations: wall \($wall / 1e9 | r3) s, "
    + "simulation \(.simulation_s | r3) s, slowdown \(.slowdown | r3)"'

for ranks in 10000 100000 1000000; do
    cmd=("$zepto" noise simulate --synthetic "period=1ms,duration=10us" --ranks "$ranks"
         --iters 100 --op allreduce --algo recursive-doubling --phase random --json)
    printf '$ %s\n' "${cmd[*]}"
    start=$(date +%s%N)
    out=$("${cmd[@]}")
    wall_ns=$(($(date +%s%N) - start))
    jq -r --argjson wall "$wall_ns" "$line" <<<"$out"
done
