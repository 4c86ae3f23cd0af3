#!/usr/bin/env bash
# `zepto noise collective` on 2 ranks with 1 %, 5 % and 10 % synthetic noise, sync and random,
# beside the simulator's prediction for the same setting. Prints a markdown table.
#
# The prediction is made twice: with the detours as specified, and with the detours as a running
# program really loses them on this machine (the spin plus the preemption around it, measured
# here first as the CPU share that 1 us injections every 1 ms take from a program of fixed work).
# The measured "added" time is noisy mean minus quiet mean (the quiet runs carry this VM's own
# noise, which the simulator does not have); the predicted one is simulated mean minus the
# noiseless closed form.
set -euo pipefail
build=${1:-build}
bin="$build/bin"
iters=${ITERS:-2000}
cpu=$(($(nproc) - 1))
mpi=(mpirun --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi=(mpirun --allow-run-as-root --oversubscribe -np 2)

# The preemption cost per injected detour, from a program of fixed work.
n=$(taskset -c "$cpu" "$bin/fixed_work" --calibrate 500)
q=$(taskset -c "$cpu" "$bin/fixed_work" "$n")
s=$("$bin/zepto" noise play -q --synthetic period=1ms,duration=1us -c "$cpu" -- "$bin/fixed_work" "$n")
cost_ns=$(awk -v q="$q" -v s="$s" 'BEGIN { printf "%d", (1 - q / s) * 1e6 - 1000 }')
echo "preemption cost per injected detour (fixed work, 1 us every 1 ms on CPU $cpu): $cost_ns ns"
echo
echo "| noise | phase | quiet mean | noisy mean | slowdown (mean) | slowdown (median) | measured added | predicted added (as specified) | predicted added (+ preemption cost) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for d in 10 50 100; do
    for phase in sync random; do
        out=$("${mpi[@]}" "$bin/zepto" noise collective --iters "$iters" \
            --inject "period=1ms,duration=${d}us" --phase "$phase" --seed 7 --json)
        read -r qm nm sm sd win qmed <<<"$(jq -r '"\(.quiet.mean_ns) \(.noisy.mean_ns) \(.slowdown_mean) \(.slowdown_median) \(.window_ns) \(.quiet.median_ns)"' <<<"$out")"
        # LogGOP for 2 ranks: one round of 2o + L equal to the quiet median.
        lat=$(awk -v m="$qmed" 'BEGIN { l = m - 400; printf "%dns", (l < 1 ? 1 : l) }')
        sim() {
            "$bin/zepto" noise simulate --synthetic "period=1ms,duration=$1" --ranks 2 \
                --window "${win}ns" --latency "$lat" --overhead 200ns --iters "$iters" \
                --phase "$phase" --seed 7 --json | jq -r '.mean_ns - .noiseless_ns'
        }
        p1=$(sim "${d}us")
        p2=$(sim "$((d * 1000 + cost_ns))ns")
        awk -v d="$d" -v ph="$phase" -v qm="$qm" -v nm="$nm" -v sm="$sm" -v sd="$sd" \
            -v p1="$p1" -v p2="$p2" 'BEGIN {
            printf "| %d %% (%d us / 1 ms) | %s | %.2f us | %.2f us | %.3f | %.3f | %.2f us | %.2f us | %.2f us |\n",
                d / 10, d, ph, qm / 1e3, nm / 1e3, sm, sd, (nm - qm) / 1e3, p1 / 1e3, p2 / 1e3 }'
    done
done
