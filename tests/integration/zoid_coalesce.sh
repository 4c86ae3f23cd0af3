#!/bin/bash
# integration.zoid_coalesce (issue 14, part 1): collective coalescing in the posix plugin, with a
# real daemon and N client processes of bench_zoid_coalesce released at the same instant; every
# figure is checked against the counters of `zepto zoid stat --json`:
#   read    8 clients read one 16 MiB file in 1 MiB preads: right bytes for all, and the daemon
#           read it about once (backend bytes <= 1.5x the file; 8x without coalescing, which a
#           daemon with ZOID_COALESCE=0 shows in the same test)
#   write   32 relaxed clients write disjoint 4 KiB blocks of one 8 MiB file: the exact file,
#           and fewer than a tenth of the calls as backend writes; strict: one backend write
#           per call
#   kill    16 relaxed writers, one killed (SIGKILL) half way: every answered block of all of
#           them is in the file
#   ident   root and uid 65534 at once, 200 rounds each: a root-only file (0600) and a file in a
#           root-only directory (0700): 65534 gets EACCES for every access, stat and open, root
#           always gets the right bytes
#   lone    one client stats one path and reads one range 2,000 times each: it takes its own
#           answers from the window, and no lookup or read ever waits for company
#           (company_waits stays; before, each lookup after the window waited it out)
#   bad     zoid stat without or with a bad --server (exit 2, one line), an unreachable one
#           (exit 1); bad ZOID_COALESCE_* values are logged and the defaults kept
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (clients of uid 65534)"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: no jq"; exit 77; }
DRV="$BIN/bench_zoid_coalesce"
share_with_nobody || { echo "FAIL: no scratch directory for nobody"; exit 1; }
stat_of() { "$ZEPTO" zoid stat --server "unix:$SOCK" --json | jq -r ".$1"; }
# run_drv ARGS...: the driver, at most 50 s; its JSON line must say ok.
run_drv() {
    local out
    out=$(timeout 50 "$DRV" "$@") || { fail "$1: $out"; return 1; }
    echo "  $out"
}

# ---- read ----
start_daemon
head -c 16M /dev/urandom >"$EXPORT/deck.dat"
echo "read: 8 clients, 16 MiB, 1 MiB preads"
# Sharing needs the clients together: on a loaded machine one can run ahead and read alone (a CI
# run: 1.62x). Up to three attempts; all above 1.5x fails (without coalescing it is 8x).
# Each attempt reads a file of its own (the daemon keeps what it read for a second).
for attempt in 1 2 3; do
    cp "$EXPORT/deck.dat" "$EXPORT/deck$attempt.dat"
    b0=$(stat_of read_backend_bytes) c0=$(stat_of read_calls)
    run_drv read "unix:$SOCK" "deck$attempt.dat" 8 1048576 "$EXPORT/deck$attempt.dat"
    calls=$(($(stat_of read_calls) - c0))
    bytes=$(($(stat_of read_backend_bytes) - b0))
    echo "  attempt $attempt: calls $calls, backend bytes $bytes ($(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 16777216 }')x the file)"
    [ "$calls" -eq $((8 * 17)) ] || fail "read: $calls zp_pread calls counted, want 136"
    [ "$bytes" -le $((16777216 * 3 / 2)) ] && break
done
[ "$bytes" -le $((16777216 * 3 / 2)) ] || fail "read: the daemon read $bytes bytes for a 16 MiB file (want <= 1.5x), three times"
stop_daemon
ZOID_COALESCE=0 start_daemon
run_drv read "unix:$SOCK" deck.dat 8 1048576 "$EXPORT/deck.dat"
bytes=$(stat_of read_backend_bytes)
echo "  without coalescing: backend bytes $bytes"
[ "$bytes" -ge $((16777216 * 8)) ] || fail "read: ZOID_COALESCE=0 still shares ($bytes bytes)"
stop_daemon

# ---- write ----
# A flush at rest after 1 s, not 20 ms: on a loaded machine 32 writers can all stall for 20 ms,
# which sends half-filled stripes (correct, but more backend writes than this test allows).
ZOID_COALESCE_FLUSH_MS=1000 start_daemon
for mode in relaxed strict; do
    rm -f "$EXPORT/ckpt.dat"
    echo "write: 32 $mode clients, 4 KiB blocks, 8 MiB"
    o0=$(stat_of write_backend_ops) c0=$(stat_of write_calls)
    run_drv write "unix:$SOCK" ckpt.dat 32 4096 8388608 "$mode" "$EXPORT/ckpt.dat"
    ops=$(($(stat_of write_backend_ops) - o0)) calls=$(($(stat_of write_calls) - c0))
    echo "  calls $calls, backend writes $ops"
    [ "$calls" -eq 2048 ] || fail "write $mode: $calls calls counted, want 2048"
    if [ "$mode" = relaxed ]; then
        [ "$ops" -lt $((calls / 10)) ] || fail "write relaxed: $ops backend writes for $calls calls"
    else
        [ "$ops" -eq "$calls" ] || fail "write strict: $ops backend writes for $calls calls (want one each)"
    fi
done

# ---- kill ----
rm -f "$EXPORT/ckpt.dat"
echo "kill: 16 relaxed writers, one killed half way"
run_drv write "unix:$SOCK" ckpt.dat 16 4096 4194304 relaxed "$EXPORT/ckpt.dat" kill

# ---- ident ----
chmod 0777 "$SOCK"
head -c 4096 /dev/urandom >"$EXPORT/secret.dat"
chmod 0600 "$EXPORT/secret.dat"
mkdir -p "$EXPORT/private" && chmod 0700 "$EXPORT/private" && : >"$EXPORT/private/f"
echo "ident: 4 root and 4 uid-65534 clients at once, 200 rounds"
m0=$(stat_of meta_calls)
run_drv ident "unix:$SOCK" secret.dat private/f 8 200 "$EXPORT/secret.dat"
echo "  metadata calls $(($(stat_of meta_calls) - m0)), of which shared so far: $(stat_of meta_joined)"
stop_daemon

# ---- lone ----
start_daemon
head -c 65536 /dev/urandom >"$EXPORT/alone.dat"
echo "lone: one client, 2,000 stats of one path and 2,000 reads of one range"
w0=$(stat_of company_waits) j0=$(stat_of meta_joined) r0=$(stat_of read_retained)
out=$(zrun python3 -c '
import os, sys, time
p = sys.argv[1]
t = time.monotonic()
for _ in range(2000):
    os.stat(p)
fd = os.open(p, os.O_RDONLY)
for _ in range(2000):
    assert len(os.pread(fd, 4096, 8192)) == 4096
print("%.1f us a call" % ((time.monotonic() - t) / 4000 * 1e6))' "$MNT/alone.dat" 2>&1) ||
    fail "lone: $out"
waits=$(($(stat_of company_waits) - w0)) joined=$(($(stat_of meta_joined) - j0))
retained=$(($(stat_of read_retained) - r0))
echo "  $out; took its own answers: $joined lookups, $retained reads; waits for company: $waits"
[ "$joined" -gt 0 ] && [ "$retained" -gt 0 ] || fail "lone: no answer came from the window (the case tests nothing)"
[ "$waits" -eq 0 ] || fail "lone: a client alone waited $waits times for company"
stop_daemon

# ---- bad input ----
expect_status 2 "missing --server" "$ZEPTO" zoid stat
expect_status 2 "--server 'bogus'" "$ZEPTO" zoid stat --server bogus
expect_status 2 "unknown option|unrecognized" "$ZEPTO" zoid stat --server "unix:$SOCK" --bogus
expect_status 1 "none.sock" "$ZEPTO" zoid stat --server "unix:$WORK/none.sock"
ZOID_COALESCE_WINDOW_US=9999 ZOID_COALESCE=yes start_daemon
grep -q "ZOID_COALESCE_WINDOW_US '9999'" "$WORK/daemon.$starts.log" &&
    grep -q "ZOID_COALESCE 'yes'" "$WORK/daemon.$starts.log" &&
    grep -q "window 200 us" "$WORK/daemon.$starts.log" ||
    fail "bad settings not logged or not replaced: $(cat "$WORK/daemon.$starts.log")"
stop_daemon

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "PASS"
