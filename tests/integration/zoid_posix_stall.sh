#!/bin/bash
# integration.zoid_posix_stall (issue 12, "blocking opens and calls bounded"): what in the
# export could hold a worker of the daemon waiting for someone else must not, while another
# client (zoid_victim, root) keeps making null calls (each under 100 ms, none failing):
#   fifo    two `cat` of a FIFO without a writer, as nobody, end at once (EOF), and a writer
#           without a reader gets ENXIO at once (before: each open held a worker until the
#           call timeout, and stopping the daemon waited for them)
#   read    a `cat` blocked in the daemon reading a FIFO whose writer sends nothing: SIGTERM
#           stops the daemon within 2 s and the cat gets an error
#   lease   an open for writing of a file under a lease (which the kernel would hold for
#           fs.lease-break-time, 45 s) answers EWOULDBLOCK within a second
# ZOID_STALL_CASES="fifo" runs only those; ZEPTO may name another daemon (today's).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (clients of other uids)"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: no setpriv"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3 (the lease holder)"; exit 77; }
VICTIM="$BIN/zoid_victim"
. "$(dirname "$0")/zoid_victim_lib.sh"
CASES=${ZOID_STALL_CASES:-fifo read lease}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
# daemon_in WCHAN: waits (at most 5 s) for a thread of the daemon to sleep in that kernel function.
daemon_in() {
    local t
    for _ in $(seq 100); do
        for t in /proc/"$DAEMON"/task/*; do
            grep -q "$1" "$t/wchan" 2>/dev/null && return 0
        done
        sleep 0.05
    done
    return 1
}

share_with_nobody || { echo "FAIL: no scratch directory for nobody"; exit 1; }

for c in $CASES; do
    case $c in
    fifo)
        start_daemon && chmod 0777 "$SOCK"
        rm -f "$EXPORT/fifo" "$EXPORT/fifo_w"
        mkfifo -m 0666 "$EXPORT/fifo" "$EXPORT/fifo_w"
        "$VICTIM" --server "unix:$SOCK" --seconds 3 --interval-ms 5 >"$WORK/victim.out" &
        vpid=$!
        t0=$(now)
        for i in 1 2; do
            (cd /tmp && timeout 10 "${AS_NOBODY[@]}" "$ZEPTO" zoid run --server "unix:$SOCK" \
                --mount "$MNT" -- cat "$MNT/fifo" >"$WORK/cat.$i" 2>&1
            echo $? >"$WORK/cat.$i.rc") &
        done
        (cd /tmp && timeout 10 "${AS_NOBODY[@]}" "$ZEPTO" zoid run --server "unix:$SOCK" \
            --mount "$MNT" -- sh -c "echo x > $MNT/fifo_w" >"$WORK/w.out" 2>&1
        echo $? >"$WORK/w.rc") &
        wait_for_file "$WORK/cat.1.rc" 12 && wait_for_file "$WORK/cat.2.rc" 12 &&
            wait_for_file "$WORK/w.rc" 12
        took=$(since "$t0")
        echo "fifo: two readers and a writer done in $took s: rc $(cat "$WORK"/cat.1.rc \
            "$WORK"/cat.2.rc "$WORK"/w.rc 2>/dev/null | tr '\n' ' ')"
        below "$took" 5 || fail "fifo: opens of a FIFO without its other end took $took s"
        for i in 1 2; do
            [ "$(cat "$WORK/cat.$i.rc" 2>/dev/null)" = 0 ] ||
                fail "fifo: cat $i: $(cat "$WORK/cat.$i" 2>/dev/null)"
        done
        grep -q "No such device or address" "$WORK/w.out" ||
            fail "fifo: a writer without a reader did not get ENXIO: $(cat "$WORK/w.out")"
        wait "$vpid"
        victim_ok fifo "$(cat "$WORK/victim.out")"
        stop_daemon
        ;;
    read)
        start_daemon && chmod 0777 "$SOCK"
        rm -f "$EXPORT/fifo"
        mkfifo -m 0666 "$EXPORT/fifo"
        exec 7<>"$EXPORT/fifo" # a writer (and reader) that sends one line, then nothing
        echo hello >&7
        rm -f "$WORK/cat.rc"
        (cd /tmp && timeout 20 "${AS_NOBODY[@]}" "$ZEPTO" zoid run --server "unix:$SOCK" \
            --mount "$MNT" -- cat "$MNT/fifo" >"$WORK/cat.out" 2>&1
        echo $? >"$WORK/cat.rc") &
        for _ in $(seq 100); do grep -q hello "$WORK/cat.out" && break; sleep 0.05; done
        if ! daemon_in pipe_read; then
            fail "read: no worker of the daemon is reading the FIFO: $(cat "$WORK/cat.out")"
        else
            t0=$(now)
            kill -TERM "$DAEMON"
            for _ in $(seq 200); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.05; done
            took=$(since "$t0")
            stop_daemon KILL
            wait_for_file "$WORK/cat.rc" 10
            echo "read: SIGTERM with a FIFO read in flight: stopped in $took s; cat rc" \
                "$(cat "$WORK/cat.rc" 2>/dev/null): $(tr '\n' ' ' <"$WORK/cat.out")"
            below "$took" 3 || fail "read: the daemon took $took s to stop"
            [ "$(cat "$WORK/cat.rc" 2>/dev/null)" != 0 ] ||
                fail "read: the cat whose read was cut short exited 0"
        fi
        exec 7>&-
        stop_daemon
        ;;
    lease)
        start_daemon && chmod 0777 "$SOCK"
        echo data >"$EXPORT/leased"
        rm -f "$WORK/leased"
        # The holder takes a read lease and never lets go (it ignores the kernel's SIGIO).
        python3 -c '
import fcntl, os, signal, sys
signal.signal(signal.SIGIO, signal.SIG_IGN)
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, 1024, fcntl.F_RDLCK)  # F_SETLEASE
open(sys.argv[2], "w").close()
signal.pause()' "$EXPORT/leased" "$WORK/leased" &
        holder=$!
        if ! wait_for_file "$WORK/leased" 5; then
            echo "SKIP lease: python3 could not take a lease here"
        else
            "$VICTIM" --server "unix:$SOCK" --seconds 2 --interval-ms 5 >"$WORK/victim.out" &
            vpid=$!
            t0=$(now)
            out=$(cd /tmp && timeout 60 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" \
                -- sh -c "echo more >> $MNT/leased" 2>&1)
            took=$(since "$t0")
            echo "lease: open for writing under a lease: $took s: $out"
            below "$took" 2 || fail "lease: the open waited $took s for the lease's break"
            grep -q "Resource temporarily unavailable" <<<"$out" ||
                fail "lease: the open did not answer EWOULDBLOCK: $out"
            wait "$vpid"
            victim_ok lease "$(cat "$WORK/victim.out")"
        fi
        kill "$holder" 2>/dev/null
        wait "$holder" 2>/dev/null
        stop_daemon
        ;;
    *) fail "unknown case $c" ;;
    esac
done
[ "$fails" = 0 ] || exit 1
echo "PASS"
