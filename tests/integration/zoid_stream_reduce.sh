#!/bin/bash
# integration.zoid_stream_reduce (issue 14): stream reductions registered by third-party plugins
# (zoid_stream_reduction_register). The example plugin (examples/zoid-stream/reduce_stats.c) is
# loaded into a daemon; 3 producers push 20 steps each and the consumer gets one reduced record
# per step with the max / mean of the producers' doubles. A plugin whose combine fails or whose
# finish claims a wrong size turns that step into a gap the consumer reports, and the daemon and
# its other streams keep working.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"
failures=0
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to write and check doubles"; exit 77; }
SOCK="$WORK/zoid.sock"
EXPORT="$WORK/export"
mkdir -p "$WORK/plugins"
cp "$STATS_SO" "$BAD_SO" "$WORK/plugins/"
start_daemon --plugin-dir "$WORK/plugins" || exit 1
log="$WORK/daemon.1.log"
grep -q "stream reduction max-f64: registered" "$log" || fail "max-f64 not registered: $(cat "$log")"
grep -q "stream reduction mean-f64: registered" "$log" || fail "mean-f64 not registered"
export ZOID_SERVER="unix:$SOCK"

# Producer r, step k: the doubles (10k + r, -r).
for r in 0 1 2; do
    python3 -c 'import struct,sys
r=int(sys.argv[1]); sys.stdout.buffer.write(b"".join(struct.pack("<2d",10*k+r,-r) for k in range(20)))' "$r" \
        >"$WORK/p$r.dat"
done
# check FILE A B: 20 records of two doubles, step k = (10k + A, B).
check() {
    python3 -c 'import struct,sys
d=open(sys.argv[1],"rb").read(); a=float(sys.argv[2]); b=float(sys.argv[3])
v=[struct.unpack_from("<2d",d,i) for i in range(0,len(d),16)]
want=[(10*k+a,b) for k in range(20)]
sys.exit(0 if v==want else print(sys.argv[1], "got", v[:4], "...", len(v), "records") or 1)' "$@"
}
# run_stream NAME REDUCE OUT: creates the stream, 3 producers in parallel, the consumer to OUT.
run_stream() {
    local name=$1 reduce=$2 out=$3 pids=() r
    expect_ok "$ZEPTO" zoid stream cat --create --producers 3 --reduce "$reduce" --count 0 "$name"
    timeout 30 "$ZEPTO" zoid stream cat --timeout 20000 "$name" >"$out" 2>"$out.err" &
    local cat_pid=$!
    for r in 0 1 2; do
        timeout 30 "$ZEPTO" zoid stream push --record 16 --rank $r "$name" <"$WORK/p$r.dat" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || fail "$name: a producer exited $?"; done
    wait $cat_pid || fail "$name: cat exited $?: $(cat "$out.err")"
}
run_stream smax plugin:max-f64 "$WORK/max.out"
check "$WORK/max.out" 2 0 || fail "max-f64: wrong reduced steps"
run_stream smean plugin:mean-f64 "$WORK/mean.out"
check "$WORK/mean.out" 1 -1 || fail "mean-f64: wrong reduced steps"

# Unknown reduction: one clear line.
expect_status 1 "stream snone: no such reduction registered in the daemon" "$ZEPTO" zoid stream \
    cat --create --producers 2 --reduce plugin:nosuch snone

# Misbehaving reductions, fed (k, 0) for step k by every producer. "fail": combine fails on
# step 13; "grow": finish claims 4 KiB more than the step holds, on every step.
for r in 0 1 2; do
    python3 -c 'import struct,sys
sys.stdout.buffer.write(b"".join(struct.pack("<2d",k,0) for k in range(20)))' >"$WORK/p$r.dat"
done
# A healthy stream runs beside them all along.
expect_ok "$ZEPTO" zoid stream cat --create --count 0 side
run_stream sfail plugin:fail "$WORK/fail.out"
python3 -c 'import struct,sys
d=open(sys.argv[1],"rb").read(); v=[struct.unpack_from("<2d",d,i)[0] for i in range(0,len(d),16)]
sys.exit(0 if v==[k for k in range(20) if k!=13] else print("fail: got", v) or 1)' "$WORK/fail.out" ||
    fail "fail: steps other than 13 should come through"
grep -q "1 records lost before" "$WORK/fail.out.err" || fail "fail: no gap reported: $(cat "$WORK/fail.out.err")"
grep -q "reduction fail (plugin stream-bad-reductions) failed on step 13" "$log" ||
    fail "fail: not logged"
run_stream sgrow plugin:grow "$WORK/grow.out"
[ ! -s "$WORK/grow.out" ] || fail "grow: a step of the wrong size came through"
grep -q "reduction grow (plugin stream-bad-reductions) failed on step" "$log" || fail "grow: not logged"
kill -0 "$DAEMON" || fail "the daemon died"
head -c 100000 /dev/urandom >"$WORK/side.in"
timeout 20 "$ZEPTO" zoid stream cat --timeout 10000 side >"$WORK/side.out" &
side=$!
expect_ok timeout 20 "$ZEPTO" zoid stream push --record 4096 side <"$WORK/side.in"
wait $side || fail "side stream cat exited $?"
cmp -s "$WORK/side.in" "$WORK/side.out" || fail "the side stream lost bytes"
stop_daemon
finish
