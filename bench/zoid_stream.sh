#!/bin/bash
# Streams (issue 14, part 2): 1, 8, 64 producers -> 1 consumer, records of 64 B, 4 KiB, 1 MiB,
# through a zoid stream on a loopback TCP daemon vs raw TCP of the same bytes, and vs the same
# bytes through a relay that only forwards them (one more hop, as any I/O node adds: the ceiling
# of a forwarder on this machine), rounds interleaved (ROUNDS, default 3; medians and min..max),
# the daemon's VmHWM, and a consumer 10x slower than the producers (memory bounded, nothing
# lost).
# usage: bench/zoid_stream.sh [BUILD_DIR]   (MB per run: STREAM_MB, default 64)
set -u
build=${1:-build}
bin=$build/bin
ROUNDS=${ROUNDS:-3}
MB=${STREAM_MB:-64}
work=$(mktemp -d)
port=$((30000 + RANDOM % 20000))
"$bin/zepto" zoid serve --listen "tcp:127.0.0.1:$port" --insecure --export "$work" \
    2>"$work/log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "plugin 14 stream" "$work/log" && break; sleep 0.05; done
addr=tcp:127.0.0.1:$port
uptime
median() { sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f (%.1f..%.1f)", m, v[1], v[NR] }'; }
printf "%-5s %-8s %-26s %-26s %-26s %s\n" prod record "stream MB/s (min..max)" "raw MB/s" \
    "relay MB/s" "stream/raw stream/relay rec/s"
for n in 1 8 64; do
    for size in 64 4096 1048576; do
        mb=$MB
        [ "$size" = 64 ] && mb=$((MB / 8))
        : >"$work/s" && : >"$work/r" && : >"$work/y"
        for _ in $(seq "$ROUNDS"); do
            "$bin/bench_zoid_stream" "$addr" $n $size $mb >>"$work/s" || echo "stream run failed"
            "$bin/bench_zoid_stream" raw $n $size $mb >>"$work/r" || echo "raw run failed"
            "$bin/bench_zoid_stream" relay $n $size $mb >>"$work/y" || echo "relay run failed"
        done
        s=$(grep -o '"mb_per_s":[0-9.]*' "$work/s" | cut -d: -f2 | median)
        r=$(grep -o '"mb_per_s":[0-9.]*' "$work/r" | cut -d: -f2 | median)
        y=$(grep -o '"mb_per_s":[0-9.]*' "$work/y" | cut -d: -f2 | median)
        ratio=$(awk -v a="${s%% *}" -v b="${r%% *}" 'BEGIN { printf "%.0f %%", 100 * a / b }')
        ratio_y=$(awk -v a="${s%% *}" -v b="${y%% *}" 'BEGIN { printf "%.0f %%", 100 * a / b }')
        recs=$(grep -o '"records_per_s":[0-9.]*' "$work/s" | cut -d: -f2 | median)
        printf "%-5s %-8s %-26s %-26s %-26s %s %s  (%s rec/s)\n" $n $size "$s" "$r" "$y" "$ratio" \
            "$ratio_y" "$recs"
    done
done
echo "daemon VmHWM: $(awk '/^VmHWM/ { print $2, $3 }' /proc/$daemon/status)"
# A consumer 10x slower than the producers: 8 producers of 64 KiB records, the consumer sleeps
# per record; the stream's 64 MiB bound holds and nothing is lost.
"$bin/bench_zoid_stream" raw 8 65536 256 >"$work/fast"
fast_us=$(grep -o '"seconds":[0-9.]*' "$work/fast" | cut -d: -f2 | awk '{ printf "%d", $1 * 1e6 / 4096 }')
slow=$((fast_us * 10 + 1))
"$bin/bench_zoid_stream" "$addr" 8 65536 256 $slow >"$work/slow" || echo "slow run: failed or lost"
echo "slow consumer (${slow} us/record): $(cat "$work/slow")"
echo "daemon VmHWM after the slow run: $(awk '/^VmHWM/ { print $2, $3 }' /proc/$daemon/status)"
