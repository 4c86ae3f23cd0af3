#!/bin/bash
# integration.zoid_limits (issue 12, "one client must never stall the others"): for each abuse,
# a well-behaved client (zoid_victim, root) beside the abuser (zoid_abuse, mostly as nobody)
# must see every null call answered in under 100 ms and no failure, and the daemon must show
# the limit at work:
#   sleeps   64 long calls sent then abandoned: new calls of another client go on; the daemon's
#            log shows the abandoned calls cancelled well before they would have ended
#   timeout  a call longer than --call-timeout answers ETIMEDOUT at the deadline
#   noread   a client that never reads its replies is dropped within --send-timeout (+1 s)
#   conns    nobody fills --max-conns-per-uid and gets "too many connections for uid 65534
#            (limit N)"; another uid still connects, and root past --max-clients (its reserve)
#   emfile   a connection flood against `ulimit -n 64`: the daemon's CPU time stays small, its
#            log bounded, and once the flood ends new clients connect
#   big      clients sending ~32 MB frames to sink while other calls hold workers: the
#            daemon's RSS stays under a bound derived from --max-bytes, and drops back after
#   trickle  8 clients each trickling half of a 1 MiB payload (4 KiB every 5 ms; on shm: one
#            the daemon would read in place) and then stopping: the daemon's CPU time stays
#            under a fifth of the time (it does not spin on or keep re-reading partial payloads)
# ZOID_LIMITS_CASES="sleeps noread" runs only those; ZEPTO may name another daemon (today's).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (clients of other uids)"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: no setpriv"; exit 77; }
ABUSE="$BIN/zoid_abuse"
VICTIM="$BIN/zoid_victim"
. "$(dirname "$0")/zoid_victim_lib.sh"
AS_THIRD=(setpriv --reuid=65532 --regid=65532 --clear-groups)
CASES=${ZOID_LIMITS_CASES:-sleeps timeout noread conns emfile big trickle}
ASAN=
ldd "$ZEPTO" 2>/dev/null | grep -q libasan && ASAN=1

# The flags' bad values: one clear line, exit 2.
srv=(zoid serve --listen "unix:$WORK/x.sock" --export "$WORK")
expect_status 2 "--max-threads '0': must be at least 1" "$ZEPTO" "${srv[@]}" --max-threads 0
expect_status 2 "--max-calls-per-uid 'x': not a whole number" "$ZEPTO" "${srv[@]}" \
    --max-calls-per-uid x
expect_status 2 "--max-conns-per-uid '0': must be at least 1" "$ZEPTO" "${srv[@]}" \
    --max-conns-per-uid 0
expect_status 2 "--max-client-bytes '10': from 1M to 1T" "$ZEPTO" "${srv[@]}" \
    --max-client-bytes 10
expect_status 2 "--max-bytes '2T': from 1M to 1T" "$ZEPTO" "${srv[@]}" --max-bytes 2T
expect_status 2 "--call-timeout '1ms': a duration from 10ms to 1h" "$ZEPTO" "${srv[@]}" \
    --call-timeout 1ms
expect_status 2 "--send-timeout 'abc': a duration from 10ms to 1h" "$ZEPTO" "${srv[@]}" \
    --send-timeout abc
expect_status 2 "--threads 8 is above --max-threads 4" "$ZEPTO" "${srv[@]}" --threads 8 \
    --max-threads 4

share_with_nobody || { echo "FAIL: no scratch directory for nobody"; exit 1; }
if [ -n "$SHARED" ]; then
    cp "$ABUSE" "$SHARED/" && ABUSE="$SHARED/zoid_abuse"
fi

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMON/stat"; }
# serve [options]: a daemon for one case, its RSS watched (peak in $WORK/peak) until done.
serve() {
    start_daemon "$@" && chmod 0777 "$SOCK"
    RSS0=$(rss_kb)
    echo "$RSS0" >"$WORK/peak"
    (
        peak=$RSS0
        while r=$(rss_kb 2>/dev/null) && [ -n "$r" ]; do
            [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$WORK/peak"
            sleep 0.05
        done
    ) &
    WATCH=$!
}
# done_case NAME: the daemon's RSS (KiB) at start, at its peak and now; stops it (SIGTERM, or
# $ZOID_LIMITS_STOP: KILL for today's daemon, which lets abandoned calls run to their end).
done_case() {
    echo "$1: daemon RSS ${RSS0} -> peak $(cat "$WORK/peak") -> $(rss_kb) KiB"
    kill "$WATCH" 2>/dev/null
    wait "$WATCH" 2>/dev/null
    stop_daemon "${ZOID_LIMITS_STOP:-TERM}"
}
LOG() { echo "$WORK/daemon.$starts.log"; }

for c in $CASES; do
    case $c in
    sleeps)
        serve
        # 64 sleeps of 10 s (the client's max in flight): 16 run (a quarter of 64 threads),
        # the rest wait; the client leaves 300 ms later.
        "${AS_NOBODY[@]}" "$ABUSE" sleeps --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --count 64 --ms 10000 \
            --linger-ms 300 >"$WORK/abuse.out" &
        apid=$!
        v=$("$VICTIM" --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --seconds 2 --interval-ms 5)
        wait "$apid"
        victim_ok sleeps "$v"
        line=
        for _ in $(seq 100); do
            line=$(grep "uid 65534: .* calls cancelled" "$(LOG)") && break
            sleep 0.05
        done
        echo "sleeps: $line"
        n=$(sed -n 's/.*: \([0-9]*\) calls cancelled.*/\1/p' <<<"$line")
        after=$(sed -n 's/.*ended \([0-9.]*\) s after.*/\1/p' <<<"$line")
        [ "${n:-0}" = 64 ] || fail "sleeps: 64 abandoned calls not all cancelled: '$line'"
        awk -v a="${after:-99}" 'BEGIN { exit !(a < 1) }' ||
            fail "sleeps: the abandoned calls ran on (${after:-?} s, 10 s each)"
        done_case sleeps
        ;;
    timeout)
        serve --call-timeout 1s
        out=$("$ABUSE" hold --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --count 1 --ms 6000)
        echo "timeout: $out"
        grep -q '"errors":1,"first_error":"Connection timed out"' <<<"$out" ||
            fail "timeout: a 6 s call past --call-timeout 1s did not answer ETIMEDOUT: $out"
        s=$(json seconds <<<"$out")
        awk -v s="${s:-99}" 'BEGIN { exit !(s < 2) }' || fail "timeout: answered after $s s"
        done_case timeout
        ;;
    noread)
        serve
        "${AS_NOBODY[@]}" "$ABUSE" noread --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --count 64 --size 1000000 \
            --hold 8 >"$WORK/abuse.out" &
        apid=$!
        v=$("$VICTIM" --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --seconds 3 --interval-ms 5)
        wait "$apid"
        victim_ok noread "$v"
        out=$(cat "$WORK/abuse.out")
        echo "noread: $out"
        d=$(json dropped_after_s <<<"$out")
        awk -v d="${d:--1}" 'BEGIN { exit !(d >= 0 && d < 3) }' ||
            fail "noread: not dropped within the send timeout (2 s): $out"
        done_case noread
        ;;
    conns)
        serve --max-conns-per-uid 20 --max-clients 30
        exec 7> >("${AS_NOBODY[@]}" "$ABUSE" conns --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --count 21 --hold 20 \
            >"$WORK/conns1.out")
        exec 8> >("${AS_OTHER[@]}" "$ABUSE" conns --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --count 5 --hold 20 \
            >"$WORK/conns2.out")
        for _ in $(seq 100); do
            [ -s "$WORK/conns1.out" ] && [ -s "$WORK/conns2.out" ] && break
            sleep 0.05
        done
        o1=$(cat "$WORK/conns1.out")
        o2=$(cat "$WORK/conns2.out")
        echo "conns: nobody: $o1; uid 65533: $o2"
        [ "$(json connected <<<"$o1")" = 20 ] || fail "conns: nobody got other than 20: $o1"
        grep -q "too many connections for uid 65534 (limit 20)" <<<"$o1" ||
            fail "conns: nobody's 21st connection was not told why: $o1"
        [ "$(json connected <<<"$o2")" = 5 ] || fail "conns: another uid could not connect: $o2"
        # 25 clients: a third uid fills --max-clients (30), then root still connects.
        o3=$("${AS_THIRD[@]}" "$ABUSE" conns --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --count 8 --hold 0)
        echo "conns: uid 65532: $o3"
        [ "$(json connected <<<"$o3")" = 5 ] && grep -q "too many clients (limit 30)" <<<"$o3" ||
            fail "conns: --max-clients 30 not reached as it should: $o3"
        exec 9> >("${AS_THIRD[@]}" "$ABUSE" conns --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --count 5 --hold 20 \
            >"$WORK/conns3.out")
        for _ in $(seq 100); do [ -s "$WORK/conns3.out" ] && break; sleep 0.05; done
        v=$("$VICTIM" --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --seconds 1 --interval-ms 20 --reconnect)
        victim_ok "conns (root, 30 clients connected)" "$v"
        exec 7>&- 8>&- 9>&-
        done_case conns
        ;;
    emfile)
        # The hard limit too: the daemon raises its soft limit to the hard one.
        ZEPTO_REAL=$ZEPTO
        ZEPTO="$WORK/serve64.sh"
        printf '#!/bin/bash\nulimit -n 64 && exec "%s" "$@"\n' "$ZEPTO_REAL" >"$ZEPTO"
        chmod +x "$ZEPTO"
        serve
        ZEPTO=$ZEPTO_REAL
        t0=$(cpu_ticks)
        "$ABUSE" flood --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --count 300 --hold 3 >"$WORK/abuse.out"
        t1=$(cpu_ticks)
        hz=$(getconf CLK_TCK)
        size=$(stat -c %s "$(LOG)")
        echo "emfile: flood $(cat "$WORK/abuse.out"); daemon CPU $(((t1 - t0) * 1000 / hz)) ms" \
            "in 3 s, log $size bytes"
        [ $(((t1 - t0) * 1000 / hz)) -lt 600 ] ||
            fail "emfile: the daemon used $(((t1 - t0) * 1000 / hz)) ms of CPU in 3 s of flood"
        [ "$size" -lt 200000 ] || fail "emfile: the log grew to $size bytes in 3 s"
        # The flood's connections still in the backlog go first (the listener takes them at
        # least every 100 ms): wait (at most 3 s) for a first new client, then measure.
        for _ in $(seq 60); do
            "$VICTIM" --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --seconds 0.05 --reconnect | grep -q '"failures":0' &&
                break
        done
        v=$("$VICTIM" --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --seconds 1 --interval-ms 20 --reconnect)
        victim_ok "emfile (after the flood)" "$v"
        done_case emfile
        ;;
    big)
        # (ZOID_LIMITS_OLD: today's daemon, which has no budget to set)
        serve $([ -n "${ZOID_LIMITS_OLD:-}" ] || echo --max-bytes 256M)
        r0=$(rss_kb)
        "${AS_OTHER[@]}" "$ABUSE" hold --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --count 16 --ms 3000 \
            >/dev/null &
        hpid=$!
        "${AS_NOBODY[@]}" "$ABUSE" big --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --clients 16 --count 4 \
            --size 32000000 >"$WORK/abuse.out" &
        big=$!
        "$VICTIM" --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --seconds 3 --interval-ms 5 >"$WORK/victim.out" &
        vpid=$!
        peak=$r0
        while kill -0 "$big" 2>/dev/null; do
            r=$(rss_kb)
            [ "$r" -gt "$peak" ] && peak=$r
            sleep 0.05
        done
        wait "$vpid"
        # Under ASan each 32 MB frame's copies and its allocator's quarantine hold the daemon's
        # CPUs for longer: the victim waited 318-631 ms there on 2026-12-06, on the build before
        # and after that day's changes alike. Without ASan 250 ms: a fresh 32 MB buffer on this
        # VM is faulted in again after the host took its pages back (free page reporting,
        # docs/BENCHMARKS.md 2026-12-05), and a quiet CI run saw p99 88 ms, max 124 ms on shm:
        # (the 100 ms of the other cases failed it; by hand 86-140 ms). Starved, it would wait for
        # the abuser's whole run (2.7 s).
        bar_saved=$BAR_MS
        BAR_MS=250
        [ -z "$ASAN" ] || BAR_MS=1000
        victim_ok big "$(cat "$WORK/victim.out")"
        BAR_MS=$bar_saved
        wait "$hpid"
        after=$(rss_kb)
        for _ in $(seq 60); do
            after=$(rss_kb)
            [ "$after" -lt $((r0 + 65536)) ] && break
            sleep 0.1
        done
        echo "big: $(cat "$WORK/abuse.out"); RSS ${r0} -> peak ${peak} -> ${after} KiB"
        grep -q '"ok":64' "$WORK/abuse.out" || fail "big: not every frame was served"
        # The budget (256 MiB), plus the frame that may pass it, plus slack (the heap's, the
        # stacks of the pool, the victim's and the holders' calls): three frames.
        if [ -n "$ASAN" ]; then
            echo "big: RSS not judged: AddressSanitizer's allocator (quarantine) owns the heap"
        else
            [ "$peak" -lt $(((256 + 96) * 1024)) ] || fail "big: RSS peaked at $peak KiB"
            [ "$after" -lt $((r0 + 65536)) ] || fail "big: RSS stayed at $after KiB (from $r0)"
        fi
        done_case big
        ;;
    trickle)
        serve
        hz=$(getconf CLK_TCK)
        t0=$(cpu_ticks)
        w0=$(date +%s%N)
        "${AS_NOBODY[@]}" "$ABUSE" trickle --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --clients 8 \
            --size 1048576 --ms 5 --hold 1 >"$WORK/abuse.out" &
        apid=$!
        v=$("$VICTIM" --server "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --seconds 1.5 --interval-ms 5)
        wait "$apid"
        t1=$(cpu_ticks)
        wall=$((($(date +%s%N) - w0) / 1000000))
        victim_ok trickle "$v"
        used=$(((t1 - t0) * 1000 / hz))
        echo "trickle: $(cat "$WORK/abuse.out"); daemon CPU $used ms in $wall ms"
        grep -q '"pieces":1024' "$WORK/abuse.out" || fail "trickle: the abuser did not get its pieces in"
        [ "$used" -lt $((wall / 5)) ] || fail "trickle: the daemon used $used ms of CPU in $wall ms"
        done_case trickle
        ;;
    esac
done
[ "$fails" = 0 ] || { echo "FAILED: $fails"; exit 1; }
echo PASS
