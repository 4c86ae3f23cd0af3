# Faults under the interposer: the daemon killed in the middle of a write loop (the program
# sees EIO within seconds, never a hang); the daemon restarted under an open descriptor (it
# turns stale, EBADF/ESTALE, while new opens work); relaxed consistency (a loop of small writes
# is all there after close; a write buffered when the daemon dies fails at close with EIO).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

: "${ZPP:?ZPP must name the zoid_preload_prog driver}"

# wait_size FILE BYTES: polls (10 s at most) until FILE holds at least BYTES.
wait_size() {
    local i
    for i in $(seq 200); do
        [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

# wait_line FILE TEXT: polls (10 s at most) until FILE has the line TEXT.
wait_line() {
    local i
    for i in $(seq 200); do
        grep -qx "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# 1. Killed mid-write: EIO (exit 3 from the driver), well within the 30 s guard.
start_daemon
timeout 30 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" -- \
    "$ZPP" writeloop "$MNT/loop" 2>"$WORK/loop.err" &
writer=$!
wait_size "$EXPORT/loop" $((8 << 20)) || fail "the write loop did not get going"
t0=$SECONDS
stop_daemon KILL
status=0
wait "$writer" || status=$?
[ "$status" -eq 3 ] || fail "write loop after SIGKILL: exit $status ($(cat "$WORK/loop.err"))"
[ $((SECONDS - t0)) -le 10 ] || fail "the write loop took $((SECONDS - t0)) s to see the error"

# 2. Restarted: the old descriptor is stale, a new open works.
rm -f "$WORK/go"
start_daemon
zrun "$ZPP" stale "$MNT/stale" "$WORK/go" >"$WORK/stale.out" 2>"$WORK/stale.err" &
prog=$!
wait_line "$WORK/stale.out" ready || fail "stale: the driver never got ready"
stop_daemon
start_daemon
touch "$WORK/go"
status=0
wait "$prog" || status=$?
[ "$status" -eq 0 ] || fail "stale descriptor after a restart: exit $status: $(cat "$WORK/stale.err")"

# 3. Relaxed: 20,000 small writes, all there after close.
expect_ok zrun_relaxed "$ZPP" relaxed "$MNT/relaxed" 20000
[ "$(stat -c %s "$EXPORT/relaxed")" -eq $((20000 * 9)) ] || fail "relaxed: wrong size"
[ "$(sed -n '1p;20000p' "$EXPORT/relaxed" | tr '\n' ' ')" = "00000000 00019999 " ] ||
    fail "relaxed: wrong contents"
cmp -s "$EXPORT/relaxed" <(seq -f '%08g' 0 19999) || fail "relaxed: contents differ"

# 4. Relaxed: the write was acknowledged before the daemon had it; close reports the loss.
rm -f "$WORK/go2"
zrun_relaxed "$ZPP" closeerr "$MNT/lost" "$WORK/go2" >"$WORK/lost.out" 2>"$WORK/lost.err" &
prog=$!
wait_line "$WORK/lost.out" ready || fail "closeerr: the driver never got ready"
stop_daemon KILL
touch "$WORK/go2"
status=0
wait "$prog" || status=$?
[ "$status" -eq 0 ] || fail "relaxed close after the daemon died: exit $status: $(cat "$WORK/lost.err")"

# 5. No daemon at all: zoid run says so in one line before starting anything.
expect_status 1 "zoid run: unix:.*" "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" -- true

finish
