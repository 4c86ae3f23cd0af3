#!/bin/bash
# integration.zoid_stream_depart (issue 14, part 2): departures (docs/zoid-stream.md). A producer
# SIGKILLed mid-stream counts as ended and departed: its consumer ends promptly (far below its
# --timeout) and says so, and the reduced steps after it carry the others' sum. A consumer
# SIGKILLed mid-stream is logged and counted; its producer blocks (policy block) or fails
# (policy error), and a consumer that reconnects gets everything that was not acknowledged.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"
failures=0
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to write and check doubles"; exit 77; }
command -v mkfifo >/dev/null || { echo "SKIP: mkfifo is needed"; exit 77; }
SOCK="$WORK/zoid.sock"
EXPORT="$WORK/export"
start_daemon || exit 1
log="$WORK/daemon.1.log"
export ZOID_SERVER="unix:$SOCK"
Z=("$ZEPTO" zoid stream)

# until SECONDS CMD...: polls CMD (every 50 ms) until it succeeds; 1 after SECONDS.
until_ok() {
    local end=$((SECONDS + $1))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.05
    done
}
stat_has() { "${Z[@]}" stat "$1" 2>/dev/null | grep -q -- "$2"; }
gone() { ! kill -0 "$1" 2>/dev/null; }
# kill_now PID: SIGKILL, and reaped (its status is not wanted).
kill_now() {
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}
# reap PID SECONDS: waits (bounded) for PID to exit; its status, or 124 after SECONDS.
reap() {
    until_ok "$2" gone "$1" || { kill_now "$1"; return 124; }
    local st=0
    wait "$1" || st=$?
    return $st
}

# ---- 1. A producer of a reduced stream killed mid-stream -------------------------------------
# 3 producers, sum-f64 of 64 KiB slices (each sent at once); rank r, step k: 8192 doubles 10k+r.
# Ranks 0 and 1 push 20 steps and end; rank 2 pushes 5 steps, then is SIGKILLed.
for r in 0 1 2; do
    python3 -c 'import struct,sys
r=int(sys.argv[1]); n=int(sys.argv[2])
sys.stdout.buffer.write(b"".join(struct.pack("<d",10*k+r)*8192 for k in range(n)))' \
        "$r" $([ "$r" = 2 ] && echo 5 || echo 20) >"$WORK/p$r.dat"
done
start=$SECONDS
"${Z[@]}" cat --create --producers 3 --reduce sum-f64 --timeout 60000 red >"$WORK/red.out" \
    2>"$WORK/red.err" &
cat_pid=$!
until_ok 10 "${Z[@]}" stat red || fail "the consumer did not create the stream"
for r in 0 1; do
    expect_ok timeout 30 "${Z[@]}" push --record 64K --rank $r red <"$WORK/p$r.dat"
done
mkfifo "$WORK/p2.fifo"
"${Z[@]}" push --record 64K --rank 2 red <"$WORK/p2.fifo" 2>"$WORK/p2.err" &
p2=$!
exec 7>"$WORK/p2.fifo"
cat "$WORK/p2.dat" >&7
# its 5 slices are in when steps 0-4 went out (pushed counts the records emitted)
until_ok 20 stat_has red "pushed 5 " || fail "rank 2's slices did not arrive: $("${Z[@]}" stat red)"
t0=$SECONDS
kill_now $p2
exec 7>&-
reap $cat_pid 15
st=$?
took=$((SECONDS - t0))
echo "consumer ended ${took} s after the producer was killed (its --timeout: 60 s), status $st"
[ "$st" -eq 3 ] || fail "consumer exited $st (expected 3: ended with a departed producer): $(cat "$WORK/red.err")"
grep -q "red: 1 producer departed without ending" "$WORK/red.err" ||
    fail "consumer did not report the departure: $(cat "$WORK/red.err")"
grep -Eq "stream red: producer unix:pid [0-9]+( uid [0-9]+)? departed without its end \(1 ranks\); counted as ended" \
    "$log" || fail "no departure in the daemon's log: $(grep red "$log")"
python3 - "$WORK/red.out" <<'PY' || fail "reduced steps after the departure are not ranks 0+1"
import struct, sys
d = open(sys.argv[1], "rb").read()
rec = 8192 * 8
got = [struct.unpack_from("<d", d, i)[0] for i in range(0, len(d), rec)]
want = [30.0 * k + 3 if k < 5 else 20.0 * k + 1 for k in range(20)]
uniform = all(d[i:i + rec] == d[i:i + 8] * 8192 for i in range(0, len(d), rec))
if len(d) != 20 * rec or got != want or not uniform:
    print("got", len(d), "bytes:", got, file=sys.stderr)
    sys.exit(1)
PY
expect_ok "${Z[@]}" stat red
grep -q "departed: 1 producers (without ending), 0 consumers" "$WORK/stdout" ||
    fail "stat: $(cat "$WORK/stdout")"
# the departed rank cannot come back into a stream that has ended
expect_status 1 "stream red: already ended" "${Z[@]}" push --rank 2 red <"$WORK/p2.dat"

# ---- 2. The same without a reduction: 2 producers, one killed --------------------------------
head -c 655360 /dev/urandom >"$WORK/a.dat"
"${Z[@]}" cat --create --producers 2 --timeout 60000 plain >"$WORK/plain.out" 2>"$WORK/plain.err" &
cat_pid=$!
until_ok 10 "${Z[@]}" stat plain || fail "the consumer did not create plain"
expect_ok timeout 30 "${Z[@]}" push --record 64K plain <"$WORK/a.dat"
mkfifo "$WORK/b.fifo"
"${Z[@]}" push --record 64K --rank 1 plain <"$WORK/b.fifo" 2>/dev/null &
pb=$!
exec 7>"$WORK/b.fifo"
head -c 196608 "$WORK/a.dat" >&7
until_ok 20 stat_has plain "pushed 13 " || fail "plain: the 3 records did not arrive"
t0=$SECONDS
kill_now $pb
exec 7>&-
reap $cat_pid 15
st=$?
echo "plain: consumer ended $((SECONDS - t0)) s after the kill, status $st"
[ "$st" -eq 3 ] || fail "plain: consumer exited $st: $(cat "$WORK/plain.err")"
[ "$(stat -c %s "$WORK/plain.out")" -eq $((655360 + 196608)) ] ||
    fail "plain: $(stat -c %s "$WORK/plain.out") bytes, expected both producers' records"

# ---- 3. A consumer killed mid-stream ----------------------------------------------------------
# 64 records of 64 KiB (each its index; sent at once, not batched), a 256 KiB stream (3 fit),
# policy block.
python3 -c 'import sys
sys.stdout.buffer.write(b"".join(bytes([i]) * 65536 for i in range(64)))' >"$WORK/c.dat"
"${Z[@]}" cat --create --limit 256K --timeout 60000 cons >"$WORK/c1.out" 2>/dev/null &
c1=$!
until_ok 10 "${Z[@]}" stat cons || fail "the consumer did not create cons"
mkfifo "$WORK/c.fifo"
"${Z[@]}" push --record 64K cons <"$WORK/c.fifo" 2>"$WORK/cpush.err" &
pc=$!
exec 7>"$WORK/c.fifo"
head -c 262144 "$WORK/c.dat" >&7 # 4 records, read by the consumer
until_ok 20 stat_has cons "delivered 4 " || fail "cons: the consumer did not read 4 records"
kill_now $c1
tail -c +262145 "$WORK/c.dat" >&7 & # the rest: the producer fills the stream and blocks
feeder=$!
until_ok 20 grep -Eq "stream cons: consumer unix:pid $c1( uid [0-9]+)? departed with" "$log" ||
    fail "the consumer's departure was not logged: $(grep cons "$log")"
until_ok 20 stat_has cons "blocked 1 " || fail "cons: the producer is not blocked: $("${Z[@]}" stat cons)"
kill -0 $pc 2>/dev/null || fail "cons: the producer did not wait for a consumer: $(cat "$WORK/cpush.err")"
expect_ok "${Z[@]}" stat cons
grep -q "departed: 0 producers (without ending), 1 consumers" "$WORK/stdout" ||
    fail "cons stat: $(cat "$WORK/stdout")"
# a consumer reconnects: it gets everything not acknowledged, so nothing is lost
timeout 60 "${Z[@]}" cat --timeout 30000 cons >"$WORK/c2.out" 2>"$WORK/c2.err" 7>&- &
c2=$!
wait $feeder
exec 7>&-
reap $pc 30 || fail "cons: the producer failed: $(cat "$WORK/cpush.err")"
reap $c2 30 || fail "cons: the second consumer exited $?: $(cat "$WORK/c2.err")"
python3 - "$WORK/c.dat" "$WORK/c1.out" "$WORK/c2.out" <<'PY' || fail "cons: records lost"
import sys
d, a, b = (open(p, "rb").read() for p in sys.argv[1:])
R = 65536
# at least once: the second consumer starts at or before where the first one stopped (a killed
# consumer's file may end inside a record: SIGKILL can come in the middle of a write)
ok = a == d[:len(a)] and any(d[:k] + b == d for k in range(0, len(a) + 1, R))
if not ok:
    print(len(d), len(a), len(b), file=sys.stderr)
sys.exit(0 if ok else 1)
PY

# ---- 4. The same with policy error: the producer gets the error, not a silent loss ------------
"${Z[@]}" cat --create --limit 64K --policy error --timeout 60000 cerr >/dev/null 2>&1 &
c1=$!
until_ok 10 "${Z[@]}" stat cerr || fail "the consumer did not create cerr"
kill_now $c1
expect_status 1 "stream cerr: full \(policy error\)" timeout 30 "${Z[@]}" push --record 16K cerr \
    <"$WORK/c.dat"

# ---- 5. What a consumer acknowledged is in its output before it can die --------------------
# 5000 records of 64 B through a fifo kept open: the producer sends its first 256 KiB batch
# (3277 records) and holds the rest. The consumer writes them through stdio and waits for more;
# that next read acknowledged all of them (the stream holds none), so they must be in its file
# already, the last 832 bytes too: SIGKILL it, and a second consumer must find nothing missing.
python3 -c 'import sys
sys.stdout.buffer.write(b"".join(b"%063d\n" % i for i in range(5000)))' >"$WORK/s.dat"
"${Z[@]}" cat --create --timeout 60000 small >"$WORK/s1.out" 2>/dev/null &
c1=$!
until_ok 10 "${Z[@]}" stat small || fail "the consumer did not create small"
mkfifo "$WORK/s.fifo"
"${Z[@]}" push --record 64 small <"$WORK/s.fifo" 2>"$WORK/spush.err" &
ps=$!
exec 7>"$WORK/s.fifo"
cat "$WORK/s.dat" >&7
until_ok 20 stat_has small "delivered [1-9]" || fail "small: nothing delivered: $("${Z[@]}" stat small)"
until_ok 20 stat_has small "records 0 (" ||
    fail "small: the consumer did not acknowledge: $("${Z[@]}" stat small)"
kill_now $c1
exec 7>&-
reap $ps 30 || fail "small: the producer failed: $(cat "$WORK/spush.err")"
timeout 60 "${Z[@]}" cat --timeout 30000 small >"$WORK/s2.out" 2>"$WORK/s2.err" ||
    fail "small: the second consumer failed: $(cat "$WORK/s2.err")"
python3 - "$WORK/s.dat" "$WORK/s1.out" "$WORK/s2.out" <<'PY' || fail "small: acknowledged records lost"
import sys
d, a, b = (open(p, "rb").read() for p in sys.argv[1:])
ok = a == d[:len(a)] and any(d[:k] + b == d for k in range(0, len(a) + 1, 64))
if not ok:
    print("file", len(d), "first consumer", len(a), "second", len(b), file=sys.stderr)
sys.exit(0 if ok else 1)
PY

# ---- 6b. A producer killed before its first push (it only opened the stream) -------------------
# 2 producers of a reduced stream: rank 0 pushes 3 steps and ends; rank 1 opens, waits on its
# (empty) standard input, and is SIGKILLed. The consumer must end promptly, with rank 0's steps.
if [ ! -r /proc/self/syscall ]; then
    echo "note: part 6b skipped: /proc/PID/syscall is absent (it tells when the producer has opened)"
else
    python3 -c 'import struct,sys; sys.stdout.buffer.write(b"".join(struct.pack("<d",k)*8192 for k in range(3)))' \
        >"$WORK/q0.dat"
    "${Z[@]}" cat --create --producers 2 --reduce sum-f64 --timeout 60000 early >"$WORK/early.out" \
        2>"$WORK/early.err" &
    cat_pid=$!
    until_ok 10 "${Z[@]}" stat early || fail "the consumer did not create early"
    expect_ok timeout 30 "${Z[@]}" push --record 64K --rank 0 early <"$WORK/q0.dat"
    mkfifo "$WORK/q1.fifo"
    "${Z[@]}" push --record 64K --rank 1 early <"$WORK/q1.fifo" 2>/dev/null &
    q1=$!
    exec 7>"$WORK/q1.fifo"
    # it has opened the stream once it waits in read(2) on its standard input (fd 0)
    reading() { read -r nr fd _ <"/proc/$q1/syscall" && [ "$nr" = 0 ] && [ "$fd" = 0x0 ]; }
    until_ok 10 reading || fail "the producer of rank 1 did not get to its input"
    t0=$SECONDS
    kill_now $q1
    exec 7>&-
    reap $cat_pid 15
    st=$?
    echo "early: consumer ended $((SECONDS - t0)) s after a producer was killed before its first push, status $st"
    [ "$st" -eq 3 ] || fail "early: consumer exited $st (expected 3): $(cat "$WORK/early.err")"
    [ "$(stat -c %s "$WORK/early.out")" -eq $((3 * 65536)) ] ||
        fail "early: $(stat -c %s "$WORK/early.out") bytes, expected rank 0's 3 steps"
fi

# ---- 6. A consumer whose standard output fails says so and exits 1 -----------------------------
printf 'x%.0s' $(seq 100) | "${Z[@]}" push --create --record 10 full >/dev/null 2>&1 ||
    fail "could not push the stream full"
expect_status 1 "stream full: writing the records to standard output" \
    sh -c "exec \"\$@\" >/dev/full" sh "${Z[@]}" cat --timeout 10000 full

kill -0 "$DAEMON" || fail "the daemon died"
stop_daemon
finish
