# `zepto zoid mount` with two clients and with faults: two strict mounts of one daemon see each
# other's writes at once (files open on both all along) and their locks conflict; close-to-open
# in relaxed mode; the daemon killed in the middle of a write gives EIO to the writer and to later
# calls, never a hang (every access is guarded by `timeout`); a restarted daemon serves new opens
# while descriptors from before are stale; SIGTERM and SIGINT unmount cleanly (the mount point
# leaves /proc/mounts and the process exits 0); in relaxed mode, fsync with the daemon dead
# fails with EIO.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_fuse_lib.sh"

require_fuse
sock="unix:$WORK/shared.sock"
start_daemon shared
exp="$WORK/shared-export"

# Two clients, strict.
a="$WORK/a" b="$WORK/b"
mount_fg "$a" "$sock" --consistency strict || fail "mount a: $(tail -n 1 "$WORK/mount.log")"
pid_a=$mount_pid
mount_fg "$b" "$sock" --consistency strict || fail "mount b: $(tail -n 1 "$WORK/mount.log")"
pid_b=$mount_pid
"$BIN/zoid_fuse_check" raw "$a/raw" "$b/raw" || fail "strict read-after-write between two mounts"
"$BIN/zoid_fuse_check" locks "$a/lockfile" "$b/lockfile" || fail "locks between two mounts"
echo one >"$a/c2o"
[ "$(cat "$b/c2o")" = one ] || fail "close-to-open, strict"
mv "$a/c2o" "$a/c2o-renamed"
[ ! -e "$b/c2o" ] && [ -f "$b/c2o-renamed" ] || fail "a rename through a is not seen through b"

# Relaxed: what was written and closed on one mount is read on the other once its cached
# attributes (1 s) expire.
r="$WORK/r"
mount_fg "$r" "$sock" --consistency relaxed || fail "mount r: $(tail -n 1 "$WORK/mount.log")"
pid_r=$mount_pid
head -c 200000 /dev/urandom >"$WORK/payload"
cp "$WORK/payload" "$r/relaxed"
cmp -s "$WORK/payload" "$exp/relaxed" || fail "relaxed: the export lacks what was closed"
same_on_b() { cmp -s "$WORK/payload" "$b/relaxed"; }
wait_for 5 same_on_b || fail "relaxed: close-to-open on another mount"

# SIGTERM and SIGINT: a clean unmount.
kill -TERM "$pid_b"
status=0
timeout 10 tail --pid="$pid_b" -f /dev/null || status=$?
[ "$status" -eq 0 ] || fail "the mount did not exit within 10 s of SIGTERM"
wait "$pid_b" || fail "after SIGTERM the mount process exited $?"
is_mounted "$b" && fail "$b is still in /proc/mounts after SIGTERM"
mount_fg "$b" "$sock" || fail "mount b again: $(tail -n 1 "$WORK/mount.log")"
[ ${#mount_prefix[@]} -gt 0 ] || echo "note: SIGINT not tested (env --default-signal missing)"
kill -"$([ ${#mount_prefix[@]} -gt 0 ] && echo INT || echo TERM)" "$mount_pid"
wait "$mount_pid" || fail "after SIGINT the mount process exited $?"
is_mounted "$b" && fail "$b is still in /proc/mounts after SIGINT"

# The daemon killed in the middle of a large write: EIO, promptly.
echo before >"$a/kept"
dd if=/dev/urandom of="$r/buffered" bs=64k count=64 2>/dev/null || fail "relaxed: buffered write"
exec 8<"$a/kept"
timeout 30 dd if=/dev/zero of="$a/huge" bs=1M count=20000 2>"$WORK/dd.err" &
dd_pid=$!
grown() { [ -f "$exp/huge" ] && [ "$(stat -c %s "$exp/huge")" -gt 4000000 ]; }
wait_for 10 grown || fail "the large write did not start"
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
status=0
wait "$dd_pid" || status=$?
[ "$status" -eq 1 ] && grep -q "Input/output error" "$WORK/dd.err" ||
    fail "the writer got status $status (124: hung), $(cat "$WORK/dd.err")"
for what in "cat $a/kept" "stat $a/kept" "ls $a" "touch $a/new" "mkdir $a/newdir"; do
    status=0
    timeout 10 $what >/dev/null 2>"$WORK/err" || status=$?
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && grep -q "Input/output error" "$WORK/err" ||
        fail "'$what' with the daemon dead: status $status (124: hung), $(cat "$WORK/err")"
done
status=0
timeout 10 cat <&8 >/dev/null 2>"$WORK/err" || status=$?
[ "$status" -eq 1 ] || fail "reading an open file with the daemon dead: status $status"
# Relaxed: what the kernel still held, or its fsync, fails at fsync.
status=0
timeout 10 sync -d "$r/buffered" 2>"$WORK/err" || status=$?
[ "$status" -eq 1 ] && grep -q "Input/output error" "$WORK/err" ||
    fail "relaxed: fsync with the daemon dead: status $status (124: hung), $(cat "$WORK/err")"

# The daemon restarted: new opens work (the mount reconnects), descriptors from before are stale.
start_daemon shared
works() { [ "$(timeout 10 cat "$a/kept" 2>/dev/null)" = before ]; }
wait_for 10 works || fail "the mount did not reconnect to the restarted daemon"
echo after >"$a/kept2" && [ "$(cat "$exp/kept2")" = after ] || fail "writing after the restart"
status=0
timeout 10 cat <&8 >/dev/null 2>"$WORK/err" || status=$?
[ "$status" -eq 1 ] && grep -q "Stale file handle" "$WORK/err" ||
    fail "a descriptor from before the restart: status $status, $(cat "$WORK/err")"
exec 8<&-

kill -TERM "$pid_a" "$pid_r"
wait "$pid_a" || fail "mount a exited $?"
wait "$pid_r" || fail "mount r exited $?"
is_mounted "$a" && fail "$a is still mounted"
is_mounted "$r" && fail "$r is still mounted"
finish
