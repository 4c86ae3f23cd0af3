#!/usr/bin/env bash
# The shm: transport (issue 15) against its raw baselines, in interleaved rounds of one run:
# bench/raw_futex.c (a futex ping-pong between two processes, a memcpy of 1 MiB),
# bench/raw_pingpong.c on a unix socket, and `zepto zoid bench` on unix: and on shm: with the
# default spin, with spinning off (ZOID_SHM_SPIN=off) and busy-polling (ZOID_SHM_SPIN=poll).
# Prints medians over the rounds, the per-round spread and each target's verdict.
#
# usage: bash bench/zoid_shm.sh [BUILD [ROUNDS]]      (defaults: build 3; about 50 s a round)
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
out=${OUT:-bench/out/zoid_shm}
prog=zoid_shm
# shellcheck source=bench/zoid_lib.sh
. "$(dirname "$0")/zoid_lib.sh"
zl_init zepto bench_raw_pingpong bench_raw_futex
zl_serve daemon-unix.log "unix:$dir/u.sock"
zl_serve daemon-shm.log "shm:$dir/s.sock"

# KIND ROUND: one measurement into $out/KIND-ROUND.json
run() {
    case $1 in
    unix) "$bin/zepto" zoid bench --server "unix:$dir/u.sock" --wait 10s --json ;;
    shm) "$bin/zepto" zoid bench --server "shm:$dir/s.sock" --wait 10s --json ;;
    shmoff) ZOID_SHM_SPIN=off "$bin/zepto" zoid bench --server "shm:$dir/s.sock" --wait 10s --json ;;
    shmpoll) ZOID_SHM_SPIN=poll "$bin/zepto" zoid bench --server "shm:$dir/s.sock" --wait 10s --json ;;
    rawunix) "$bin/bench_raw_pingpong" "unix:$dir/raw.sock" ;;
    rawfutex) "$bin/bench_raw_futex" 20000 1048576 ;;
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
