#!/bin/bash
# Stream departures (issue 14, part 2; docs/zoid-stream.md "Departures"): how long a consumer
# waits after one of its producers is SIGKILLed mid-stream, against the same producer ending
# normally (closing its input: the CLI's push sends its end), rounds interleaved (ROUNDS, default
# 5; medians and min..max). A 3-rank sum-f64 stream of 64 KiB slices: ranks 0 and 1 push 20 steps
# and end, rank 2 pushes 5 steps, then ends or is killed; the clock runs from that moment to the
# consumer's exit. Without departures the killed case lasted the consumer's --timeout (60 s here).
# usage: bench/zoid_stream_depart.sh [BUILD_DIR]
set -u
build=${1:-build}
Z=("$build/bin/zepto" zoid stream)
ROUNDS=${ROUNDS:-5}
work=$(mktemp -d)
"$build/bin/zepto" zoid serve --listen "unix:$work/sock" --export "$work" 2>"$work/log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "plugin 14 stream" "$work/log" && [ -S "$work/sock" ] && break; sleep 0.05; done
export ZOID_SERVER="unix:$work/sock"
uptime
for r in 0 1 2; do
    python3 -c 'import struct,sys
r=int(sys.argv[1]); n=int(sys.argv[2])
sys.stdout.buffer.write(b"".join(struct.pack("<d",10*k+r)*8192 for k in range(n)))' \
        "$r" $([ "$r" = 2 ] && echo 5 || echo 20) >"$work/p$r.dat"
done
now_us() { echo $(($(date +%s%N) / 1000)); }
median() { sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f (%.1f..%.1f)", m, v[1], v[NR] }'; }

# one_round NAME kill|end: prints the ms from rank 2's kill or end to the consumer's exit.
one_round() {
    local name=$1 how=$2 i
    "${Z[@]}" cat --create --producers 3 --reduce sum-f64 --timeout 60000 "$name" >/dev/null \
        2>/dev/null &
    local cat_pid=$!
    for i in $(seq 200); do "${Z[@]}" stat "$name" >/dev/null 2>&1 && break; sleep 0.05; done
    "${Z[@]}" push --record 64K --rank 0 "$name" <"$work/p0.dat"
    "${Z[@]}" push --record 64K --rank 1 "$name" <"$work/p1.dat"
    rm -f "$work/fifo" && mkfifo "$work/fifo"
    "${Z[@]}" push --record 64K --rank 2 "$name" <"$work/fifo" 2>/dev/null &
    local p2=$!
    exec 7>"$work/fifo"
    cat "$work/p2.dat" >&7
    for i in $(seq 400); do "${Z[@]}" stat "$name" 2>/dev/null | grep -q "pushed 5 " && break; sleep 0.05; done
    local t0
    t0=$(now_us)
    if [ "$how" = kill ]; then kill -9 $p2 && wait $p2 2>/dev/null; fi
    exec 7>&-
    while kill -0 $cat_pid 2>/dev/null; do sleep 0.002; done
    local t1
    t1=$(now_us)
    wait $cat_pid $p2 2>/dev/null
    "${Z[@]}" rm "$name" 2>/dev/null
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) / 1000 }'
}
: >"$work/kill" && : >"$work/end"
for i in $(seq "$ROUNDS"); do
    one_round "k$i" kill >>"$work/kill"
    one_round "e$i" end >>"$work/end"
done
k=$(median <"$work/kill")
e=$(median <"$work/end")
echo "consumer's wait after rank 2 stopped, ms, median (min..max) of $ROUNDS rounds:"
echo "  rank 2 SIGKILLed (departed): $k"
echo "  rank 2 ended normally:       $e"
awk -v a="${k%% *}" -v b="${e%% *}" 'BEGIN { printf "  ratio departed/ended: %.2f\n", a / b }'
echo "departures logged: $(grep -c 'departed without its end' "$work/log") (expected $ROUNDS)"
