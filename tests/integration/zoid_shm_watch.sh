#!/bin/bash
# integration.zoid_shm_watch (issue 15, part 1): the worker that answered a client watches its
# ring until the next call (src/zoid/core/daemon_own.c), so that a client making calls one after
# another costs the daemon no system call. A client making null calls back to back for a second
# (zoid_victim, busy-polling on CPU 1) against a daemon on CPU 0: watched (the default), the
# daemon spends at most half the share of its CPU time in the kernel that the same daemon with
# ZOID_SHM_WATCH=0 does in the same run (no doorbell to take, no epoll wake-up, no re-arming:
# what is left is its look at other clients' events and the sweep), and answers 1.2x the calls.
# Beside a watched client, a second client's calls are all answered; a watched client killed
# mid-run is dropped ("disconnect" in the log) and the daemon answers the next one. Timed: run
# through timing_retry.sh.
set -u
. "$(dirname "$0")/lib.sh"

[ "$(nproc)" -ge 2 ] || { echo "SKIP: needs 2 CPUs (the client and the daemon each on its own)"; exit 77; }
command -v taskset >/dev/null || { echo "SKIP: no taskset"; exit 77; }
VICTIM="$BIN/zoid_victim"
mkdir -p "$WORK/exp"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT

# serve NAME [VAR=VALUE...]: a daemon on CPU 0 at shm:$WORK/NAME.sock; its pid in $DAEMON.
serve() {
    local name=$1
    shift
    env "$@" taskset -c 0 "$ZEPTO" zoid serve --listen "shm:$WORK/$name.sock" --export "$WORK/exp" \
        2>"$WORK/$name.log" &
    DAEMON=$!
    pids+=("$DAEMON")
    local deadline=$((SECONDS + 10))
    until grep -q 'listening on' "$WORK/$name.log"; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "FAIL: daemon $name did not start: $(cat "$WORK/$name.log")"; exit 1; }
        sleep 0.05
    done
}
ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; } # user, system
# measure NAME PID: "calls user system" of one second of back-to-back null calls.
measure() {
    local u0 s0 u1 s1 out
    read -r u0 s0 < <(ticks "$2")
    out=$(ZOID_SHM_SPIN=poll taskset -c 1 "$VICTIM" --server "shm:$WORK/$1.sock" --seconds 1 \
        --interval-ms 0) || { echo "FAIL: zoid_victim against $1"; exit 1; }
    read -r u1 s1 < <(ticks "$2")
    [ "$(jq -r .failures <<<"$out")" = 0 ] || { echo "FAIL: $1: calls failed: $out"; exit 1; }
    echo "$(jq -r .calls <<<"$out") $((u1 - u0)) $((s1 - s0))"
}

serve on
on_pid=$DAEMON
serve off ZOID_SHM_WATCH=0
off_pid=$DAEMON
read -r on_calls on_user on_sys < <(measure on "$on_pid")
read -r off_calls off_user off_sys < <(measure off "$off_pid")
echo "watched:     $on_calls calls, daemon CPU ticks user $on_user system $on_sys"
echo "not watched: $off_calls calls, daemon CPU ticks user $off_user system $off_sys"
on_share=$(awk -v u="$on_user" -v s="$on_sys" 'BEGIN { printf "%.2f", u + s ? s / (u + s) : 1 }')
off_share=$(awk -v u="$off_user" -v s="$off_sys" 'BEGIN { printf "%.2f", u + s ? s / (u + s) : 1 }')
asan=0
ldd "$ZEPTO" 2>/dev/null | grep -q libasan && asan=1
if [ "$asan" = 1 ]; then
    # AddressSanitizer's allocator adds kernel time of its own (its quarantine maps and unmaps)
    echo "note: under AddressSanitizer the kernel share is not judged: watched $on_share, not watched $off_share"
elif awk -v a="$on_share" -v b="$off_share" 'BEGIN { exit !(a <= b / 2) }'; then
    echo "ok: watched, the daemon spent $on_share of its CPU time in the kernel (not watched: $off_share)"
else
    fail "watched, the daemon spent $on_share of its CPU time in the kernel (at most half of the $off_share not watched)"
fi
bar=1.2
[ "$asan" = 1 ] && bar=1.1 # instrumented, each call costs more besides its wake-ups
awk -v a="$on_calls" -v b="$off_calls" -v r="$bar" 'BEGIN { exit !(a >= r * b) }' &&
    echo "ok: watched, $on_calls calls in a second against $off_calls" ||
    fail "watched, $on_calls calls in a second, not ${bar}x the $off_calls of the same daemon not watching"

# A second client beside a watched one: every call answered (the watcher looks at the others'
# events too), in a bounded time.
ZOID_SHM_SPIN=poll taskset -c 1 "$VICTIM" --server "shm:$WORK/on.sock" --seconds 2 --interval-ms 0 \
    >"$WORK/busy.json" &
busy=$!
side=$(taskset -c 1 "$VICTIM" --server "shm:$WORK/on.sock" --seconds 1 --interval-ms 1)
wait "$busy"
[ "$(jq -r .failures <<<"$side")" = 0 ] && [ "$(jq -r .calls <<<"$side")" -ge 100 ] &&
    awk -v m="$(jq -r .max_ms <<<"$side")" 'BEGIN { exit !(m < 100) }' &&
    echo "ok: beside a watched client, another made $(jq -r .calls <<<"$side") calls, slowest $(jq -r .max_ms <<<"$side") ms" ||
    fail "beside a watched client, another saw $side"

# A watched client killed mid-run: dropped, and the next client served.
connects=$(grep -c ' connect ' "$WORK/on.log")
before=$(grep -c ' disconnect ' "$WORK/on.log")
ZOID_SHM_SPIN=poll taskset -c 1 "$VICTIM" --server "shm:$WORK/on.sock" --seconds 30 --interval-ms 0 \
    >/dev/null &
victim=$!
deadline=$((SECONDS + 10))
until [ "$(grep -c ' connect ' "$WORK/on.log")" -gt "$connects" ]; do # it is in, making calls
    [ "$SECONDS" -lt "$deadline" ] || { echo "FAIL: the victim did not connect"; exit 1; }
    sleep 0.05
done
kill -9 "$victim"
wait "$victim" 2>/dev/null
deadline=$((SECONDS + 5))
until [ "$(grep -c ' disconnect ' "$WORK/on.log")" -gt "$before" ]; do
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.05
done
[ "$(grep -c ' disconnect ' "$WORK/on.log")" -gt "$before" ] &&
    echo "ok: a watched client killed mid-run was dropped" ||
    fail "a watched client killed mid-run: no disconnect in the log: $(tail -n 3 "$WORK/on.log")"
after=$(taskset -c 1 "$VICTIM" --server "shm:$WORK/on.sock" --seconds 0.2 --interval-ms 0 2>&1)
[ "$(jq -r .failures <<<"$after" 2>/dev/null)" = 0 ] && echo "ok: the next client served" ||
    fail "after the kill, a new client saw: $after"
finish
