#!/bin/bash
# integration.zoid_posix_handles (issue 12, "per-uid limits on handles"): one user opening files
# on many connections must not take the daemon's descriptors from everyone else. The daemon runs
# with `ulimit -n 4096` (its share per uid is then 512, see src/zoid/posix/quota.c). Five
# programs of nobody, each in a session of its own, open one file up to 1,000 times and hold
# what they got (on main: 5,000 opens, the daemon out of descriptors). While they hold:
# - nobody's five together got exactly its share, each refusal EMFILE, and the daemon said so
#   in at most two log lines;
# - root and another uid still open and read files, and a well-behaved client's null calls stay
#   under 100 ms;
# afterwards nobody's share is whole again (one program gets all of it).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (clients of other uids)"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: no setpriv"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3 (the holders)"; exit 77; }
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 4096 ] ||
    { echo "SKIP: the hard RLIMIT_NOFILE ($(ulimit -Hn)) is below 4096"; exit 77; }
VICTIM="$BIN/zoid_victim"
. "$(dirname "$0")/zoid_victim_lib.sh"

share_with_nobody || { echo "FAIL: no scratch directory for nobody"; exit 1; }
ZEPTO_REAL=$ZEPTO
ZEPTO="$WORK/serve4096.sh"
printf '#!/bin/bash\nulimit -n 4096 && exec "%s" "$@"\n' "$ZEPTO_REAL" >"$ZEPTO"
chmod +x "$ZEPTO"
start_daemon
ZEPTO=$ZEPTO_REAL
chmod 0777 "$SOCK"
LOG="$WORK/daemon.$starts.log"
grep "open files:" "$LOG"
SHARE=$(sed -n 's/.*open files: \([0-9]*\) per uid.*/\1/p' "$LOG")
[ -n "$SHARE" ] || SHARE=512 # a daemon that does not say (main's): the share it should have
HOLD="${SHARED:-$WORK}/hold" # where nobody's holders report
mkdir -p "$HOLD" && chmod 0777 "$HOLD"
echo data >"$EXPORT/f"
chmod 0644 "$EXPORT/f"

# holder I: as nobody, opens $MNT/f up to 1,000 times, writes "COUNT ERRNO" to $WORK/hold.I and
# holds until its standard input (the gate) ends.
HOLDER='
import os, sys
fds, err = [], 0
for _ in range(1000):
    try:
        fds.append(os.open(sys.argv[1], os.O_RDONLY))
    except OSError as e:
        err = e.errno
        break
with open(sys.argv[2], "w") as f:
    f.write("%d %d\n" % (len(fds), err))
sys.stdin.read()
'
holder() {
    (ulimit -n 2048 && cd /tmp && exec timeout 60 "${AS_NOBODY[@]}" "$ZEPTO" zoid run \
        --server "unix:$SOCK" --mount "$MNT" -- python3 -c "$HOLDER" "$MNT/f" "$HOLD/hold.$1" \
        <"$WORK/gate") &
}
rm -f "$HOLD"/hold.* "$WORK/gate"
mkfifo "$WORK/gate"
pids=
for i in 1 2 3 4 5; do
    holder "$i"
    pids="$pids $!"
done
exec 9>"$WORK/gate" # every holder's stdin is open: they run
for i in 1 2 3 4 5; do wait_for_file "$HOLD/hold.$i" 30 || fail "holder $i did not report"; done
total=0
for i in 1 2 3 4 5; do
    read -r n e <"$HOLD/hold.$i" || continue
    echo "holder $i: $n opens, then errno $e"
    total=$((total + n))
    [ "$n" = 1000 ] || [ "$e" = 24 ] || fail "holder $i was refused with errno $e, not EMFILE"
done
echo "nobody holds $total opens (share $SHARE)"
[ "$total" = "$SHARE" ] || fail "nobody's five sessions got $total opens, not its share $SHARE"

# While they hold: root and uid 65533 open and read; the victim's null calls.
"$VICTIM" --server "unix:$SOCK" --seconds 1 --interval-ms 5 >"$WORK/victim.out" &
vpid=$!
out=$(cd /tmp && timeout 30 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" -- \
    sh -c "cat $MNT/f && ls $MNT" 2>&1)
grep -q '^data$' <<<"$out" || fail "root could not read while nobody held: $out"
out=$(cd /tmp && timeout 30 "${AS_OTHER[@]}" "$ZEPTO" zoid run --server "unix:$SOCK" \
    --mount "$MNT" -- cat "$MNT/f" 2>&1)
[ "$out" = data ] || fail "uid 65533 could not read while nobody held: $out"
wait "$vpid"
victim_ok "while held" "$(cat "$WORK/victim.out")"
lines=$(grep -c "uid 65534: too many open files" "$LOG")
echo "daemon: $lines log line(s) about uid 65534: $(grep -m1 "uid 65534: too many" "$LOG")"
[ "$lines" -ge 1 ] && [ "$lines" -le 2 ] ||
    fail "the daemon logged $lines lines about nobody's refusals (want 1 or 2)"

# Released: the share is whole again.
exec 9>&-
for p in $pids; do wait "$p"; done
rm -f "$HOLD/hold.6"
holder 6
h6=$!
exec 9>"$WORK/gate"
wait_for_file "$HOLD/hold.6" 30
n=0 e=0
read -r n e <"$HOLD/hold.6"
echo "after the release: one holder got $n opens (errno $e)"
[ "$n" = "$SHARE" ] || fail "after the release nobody got $n opens, not its share $SHARE"
exec 9>&-
wait "$h6"
stop_daemon
[ "$fails" = 0 ] || exit 1
echo "PASS"
