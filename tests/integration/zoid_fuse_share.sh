# integration.zoid_fuse_share (issue 12: "on the FUSE mount, one user holding 4,096 opens gave
# root EMFILE"): a root mount with allow_other gives each uid a share of its one daemon session's
# handles. As nobody (65534) an abuser holds opens until EMFILE: it gets exactly its share (1024
# by default), the mount reports it in one line (not one per refused call); while it holds them,
# root and another uid (65533) still open, read and list files, and the other uid's stat and
# open+read+close each stay under 100 ms. Once the abuser exits its share is back (the same count
# again). With --max-opens-per-uid 3520 (all that users other than root may hold together) the
# other uid gets EMFILE and root still opens: its reserve. Needs root, setpriv, python3 and FUSE.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_fuse_lib.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (a mount with allow_other, clients of other uids)"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: no setpriv"; exit 77; }
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
AS_OTHER=(setpriv --reuid=65533 --regid=65533 --clear-groups)
# A python3 other uids may run (the one on $PATH may sit in root's home).
PY=""
for p in /usr/bin/python3 /usr/local/bin/python3 "$(command -v python3)"; do
    if [ -n "$p" ] && "${AS_NOBODY[@]}" "$p" -c pass 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "SKIP: no python3 that uid 65534 may run (the clients holding opens)"; exit 77; }
BAR_MS=100
ldd "$ZEPTO" 2>/dev/null | grep -q libasan && BAR_MS=300 # every call checked by ASan

expect_status 2 "--max-opens-per-uid '0': must be at least 1" \
    "$ZEPTO" zoid mount --server unix:/x.sock --max-opens-per-uid 0 "$WORK"
expect_status 2 "--max-opens-per-uid '9999'" \
    "$ZEPTO" zoid mount --server unix:/x.sock --max-opens-per-uid 9999 "$WORK"

require_fuse
shared_dir || { echo "FAIL: no scratch directory for other uids"; exit 1; }

# hold.py FILE: opens FILE until an error, then tries 200 more times (the log must not get a line
# per refusal), prints "COUNT ERRNO-NAME MORE" and keeps everything open until stdin ends.
HOLD='
import errno, os, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
fds, err = [], 0
while True:
    try:
        fds.append(os.open(sys.argv[1], os.O_RDONLY))
    except OSError as e:
        err = e.errno
        break
more = 0
for _ in range(200):
    try:
        fds.append(os.open(sys.argv[1], os.O_RDONLY))
        more += 1
    except OSError:
        pass
print(len(fds) - more, errno.errorcode.get(err, err), more, flush=True)
sys.stdin.read()
'
# victim.py FILE DIR: 200 rounds of stat(FILE), open+read+close of FILE and a listing of DIR;
# prints the latencies "stat_p50 stat_max open_p50 open_max" in ms, or fails on any error.
VICTIM='
import os, sys, time
f, d = sys.argv[1], sys.argv[2]
st, op = [], []
for _ in range(200):
    t0 = time.perf_counter()
    os.stat(f)
    t1 = time.perf_counter()
    fd = os.open(f, os.O_RDONLY)
    data = os.read(fd, 100)
    os.close(fd)
    t2 = time.perf_counter()
    assert data == b"shared\n", data
    assert "f" in os.listdir(d)
    st.append((t1 - t0) * 1e3)
    op.append((t2 - t1) * 1e3)
st.sort()
op.sort()
print("%.2f %.2f %.2f %.2f" % (st[len(st) // 2], st[-1], op[len(op) // 2], op[-1]))
'

start_daemon share
echo shared >"$WORK/share-export/f"
chmod 0644 "$WORK/share-export/f"
mnt="$fuse_shared/mnt"

# abuse: starts hold.py as nobody on $mnt/f (coprocess AB) and reads its report into $held.
abuse() {
    coproc AB { exec "${AS_NOBODY[@]}" "$PY" -c "$HOLD" "$mnt/f"; }
    ab_pid=$AB_PID
    held=""
    read -r -t 60 held <&"${AB[0]}" || fail "the abuser did not report (held: '$held')"
    echo "abuser (uid 65534): $held"
}
# release: ends the abuser (its stdin closes) and waits for it.
release() {
    eval "exec ${AB[1]}>&-"
    wait "$ab_pid"
}
root_can_use() {
    [ "$(cat "$mnt/f" 2>&1)" = shared ] || fail "$1: root cannot read $mnt/f: $(cat "$mnt/f" 2>&1)"
    ls "$mnt" 2>&1 | grep -qx f || fail "$1: root cannot list $mnt: $(ls "$mnt" 2>&1)"
    { echo "$1" >"$mnt/root-$1"; } 2>"$WORK/err" || fail "$1: root cannot create a file: $(cat "$WORK/err")"
}

mount_fg "$mnt" "unix:$WORK/share.sock" || { fail "mount: $(tail -n 1 "$WORK/mount.log")"; finish; }
abuse
read -r count err more <<<"$held"
[ "${count:-0}" = 1024 ] && [ "$err" = EMFILE ] && [ "$more" = 0 ] ||
    fail "the abuser got '$held', expected its share: '1024 EMFILE 0'"
root_can_use default
lat=$(timeout 60 "${AS_OTHER[@]}" "$PY" -c "$VICTIM" "$mnt/f" "$mnt" 2>&1) ||
    fail "uid 65533 cannot use the mount while nobody holds its share: $lat"
echo "victim (uid 65533) while the abuser holds, ms: stat p50/max, open+read+close p50/max: $lat"
read -r _ st_max _ op_max <<<"$lat"
awk -v a="${st_max:-1e9}" -v b="${op_max:-1e9}" -v bar="$BAR_MS" 'BEGIN { exit !(a < bar && b < bar) }' ||
    fail "uid 65533 waited over $BAR_MS ms: $lat"
release
lines=$(grep -c "uid 65534 holds" "$WORK/mount.log")
[ "$lines" = 1 ] || fail "the mount logged $lines lines about uid 65534, expected one: $(grep "uid 65534" "$WORK/mount.log" | head -3)"

# The share comes back once the kernel has released the abuser's files (after its exit).
again() {
    held=$("${AS_NOBODY[@]}" "$PY" -c "$HOLD" "$mnt/f" </dev/null)
    [ "${held%% *}" = "$count" ]
}
wait_for 20 again || fail "after the abuser exited it got '$held', expected $count again"
echo "abuser again after exiting: $held"
# (Its exit status is not judged: libfuse may report the abuser's releases still in flight as
# ECONNABORTED, as main's build does.)
fusermount3 -u "$mnt"
wait "$mount_pid"

# All that other users may hold together, taken by one: the next uid gets EMFILE, root opens.
mount_fg "$mnt" "unix:$WORK/share.sock" --max-opens-per-uid 3520 ||
    { fail "mount: $(tail -n 1 "$WORK/mount.log")"; finish; }
abuse
[ "${held%% *}" = 3520 ] || fail "--max-opens-per-uid 3520: the abuser got '$held'"
out=$(timeout 60 "${AS_OTHER[@]}" cat "$mnt/f" 2>&1) && fail "uid 65533 opened beyond the users' total: $out"
case "$out" in *"Too many open files"*) ;; *) fail "uid 65533: '$out', expected EMFILE" ;; esac
root_can_use reserve
release
fusermount3 -u "$mnt"
wait "$mount_pid"
finish
