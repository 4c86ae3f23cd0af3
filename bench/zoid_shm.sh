#!/usr/bin/env bash
# The shm: transport (issue 15) against its raw baselines, in interleaved rounds of one run:
# bench/raw_futex.c (a futex ping-pong between two processes, a memcpy of 1 MiB),
# bench/raw_pingpong.c on a unix socket, and `zepto zoid bench` on unix: and on shm: with the
# default spin, with spinning off (ZOID_SHM_SPIN=off) and busy-polling (ZOID_SHM_SPIN=poll).
# Prints medians over the rounds, the per-round spread and each target's verdict.
#
# usage: bash bench/zoid_shm.sh [BUILD [ROUNDS]]      (defaults: build 3; about 50 s a round)
#   PLACE=free (default): the scheduler places both sides (on an idle VM a wake-up across CPUs
#   costs ~40 µs, within one CPU ~2 µs, and each round may get either, for the baseline as for
#   zoid); PLACE=cross: the daemons and the baselines' servers on CPU 0, every client on CPU 1;
#   PLACE=same: everything on CPU 0. The ratios compare like with like only when placed.
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
out=${OUT:-bench/out/zoid_shm}
prog=zoid_shm
# shellcheck source=bench/zoid_lib.sh
. "$(dirname "$0")/zoid_lib.sh"
zl_init zepto bench_raw_pingpong bench_raw_futex
case ${PLACE:-free} in
free) server=() client=() ;;
cross) server=(taskset -c 0) client=(taskset -c 1) && export RAW_SERVER_CPU=0 ;;
same) server=(taskset -c 0) client=(taskset -c 0) && export RAW_SERVER_CPU=0 ;;
*) echo "zoid_shm: PLACE=$PLACE: free, cross or same" >&2 && exit 2 ;;
esac
[ "${PLACE:-free}" = free ] || [ "$(nproc)" -ge 2 ] || { echo "zoid_shm: PLACE needs 2 CPUs" >&2; exit 2; }
ZL_SERVE_PREFIX=("${server[@]}")
zl_serve daemon-unix.log "unix:$dir/u.sock"
zl_serve daemon-shm.log "shm:$dir/s.sock"

# KIND ROUND: one measurement into $out/KIND-ROUND.json
run() {
    local z=("${client[@]}" "$bin/zepto")
    case $1 in
    unix) "${z[@]}" zoid bench --server "unix:$dir/u.sock" --wait 10s --json ;;
    shm) "${z[@]}" zoid bench --server "shm:$dir/s.sock" --wait 10s --json ;;
    shmoff) ZOID_SHM_SPIN=off "${z[@]}" zoid bench --server "shm:$dir/s.sock" --wait 10s --json ;;
    shmpoll) ZOID_SHM_SPIN=poll "${z[@]}" zoid bench --server "shm:$dir/s.sock" --wait 10s --json ;;
    rawunix) "${client[@]}" "$bin/bench_raw_pingpong" "unix:$dir/raw.sock" ;;
    rawfutex) "${client[@]}" "$bin/bench_raw_futex" 20000 1048576 ;;
    esac >"$out/$1-$2.json"
}
kinds=(rawunix rawfutex unix shm shmoff shmpoll)
for r in $(seq "$rounds"); do
    echo "round $r/$rounds" >&2
    order=("${kinds[@]}")
    if [ $((r % 2)) -eq 0 ]; then # reversed every other round
        order=()
        for ((i = ${#kinds[@]} - 1; i >= 0; i--)); do order+=("${kinds[$i]}"); done
    fi
    for k in "${order[@]}"; do run "$k" "$r"; done
done

# med KIND EXPR: the median over the rounds; per KIND EXPR: each round's value.
med() { zl_med "$2" "$out/$1-"*.json; }
per() { jq -s -c "[.[] | $2 | . * 100 | round / 100]" "$out/$1-"*.json; }
verdict() { awk -v a="$1" -v b="$2" -v op="$3" -v t="$4" 'BEGIN { r = a / b;
    ok = op == "<=" ? r <= t : r >= t; printf "%.3f %s %s: %s", r, op, t, ok ? "met" : "MISSED" }'; }
lat='.latency_median_ns / 1000'
bw1='(.bandwidth[] | select(.direction == "upload" and .payload_bytes == 1048576) | .bandwidth_bytes_per_s / 1048576)'
bwp='(.bandwidth_pipelined[] | select(.direction == "upload" and .payload_bytes == 1048576) | .bandwidth_bytes_per_s / 1048576)'
c16='(.clients[] | select(.clients == 16) | .calls_per_s)'
mc='.memcpy_bytes_per_s / 1048576'

echo
echo "shm: against raw baselines, $rounds interleaved rounds (medians; per-round values in brackets)"
echo "load: $(uptime)"
echo "placement: ${PLACE:-free}"
echo
printf '%-44s %12s  %s\n' "figure" "median" "rounds"
for k in rawunix rawfutex unix shm shmoff shmpoll; do
    printf '%-44s %12.1f  %s\n' "null call / ping-pong, $k (µs)" "$(med $k "$lat")" "$(per $k "$lat")"
done
printf '%-44s %12.0f  %s\n' "memcpy 1 MiB (MiB/s)" "$(med rawfutex "$mc")" "$(per rawfutex "$mc")"
for k in unix shm; do
    printf '%-44s %12.0f  %s\n' "1 MiB upload, 1 at a time, $k (MiB/s)" "$(med $k "$bw1")" "$(per $k "$bw1")"
    printf '%-44s %12.0f  %s\n' "1 MiB upload, 4 in flight, $k (MiB/s)" "$(med $k "$bwp")" "$(per $k "$bwp")"
    printf '%-44s %12.0f  %s\n' "calls/s at 16 clients, $k" "$(med $k "$c16")" "$(per $k "$c16")"
done
echo
echo "targets (issue 15, part 1):"
echo "  null call, default spin / raw unix ping-pong: $(verdict "$(med shm "$lat")" "$(med rawunix "$lat")" "<=" 0.45)"
echo "  null call, spin off / raw futex ping-pong:    $(verdict "$(med shmoff "$lat")" "$(med rawfutex "$lat")" "<=" 1.3)"
echo "  null call, busy-poll / raw unix ping-pong:    $(verdict "$(med shmpoll "$lat")" "$(med rawunix "$lat")" "<=" 0.07)"
echo "  1 MiB upload (1 at a time) / memcpy 1 MiB:    $(verdict "$(med shm "$bw1")" "$(med rawfutex "$mc")" ">=" 0.8)"
echo "  calls/s at 16 clients, shm / unix:            $(verdict "$(med shm "$c16")" "$(med unix "$c16")" ">=" 2)"
echo "  unix null call / raw unix ping-pong (part 2): $(verdict "$(med unix "$lat")" "$(med rawunix "$lat")" "<=" 1.15)"
