# `zepto zoid mount --passthrough` (src/zoid/fuse/zfuse_pt.c, issue 15; docs/zoid-mount.md,
# "Passthrough"): a strict mount of a daemon on this node whose files the kernel reads and writes
# itself through the daemon's open file. 24 MiB written and read back with dd: the data right,
# no read or write call reached the daemon; opens of one file at once (reader, writer, appender,
# mmap, ftruncate) as on a local file; a running program (the daemon may not open it O_RDWR)
# read and run through the mount; another uid: its own file passed through and its owner, root's
# 0600 file refused; the same mount with ZOID_LEND=0 forwards every write (what the counters
# would show without the feature); hostile daemons lending a directory or a read-only file: the
# data right, forwarded; bad options.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_fuse_lib.sh"

require_fuse
[ "$(id -u)" -eq 0 ] || { echo "SKIP: passthrough needs root (CAP_SYS_ADMIN)"; exit 77; }
: "${ZHS:?ZHS must name the zoid_hostile_server helper}"
command -v jq >/dev/null || { echo "SKIP: jq is missing (scripts/deps.sh)"; exit 77; }
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: /usr/bin/python3 is missing"; exit 77; }
kv=$(uname -r)
IFS=. read -r kmaj kmin _ <<<"$kv"
if [ "$kmaj" -lt 6 ] || { [ "$kmaj" -eq 6 ] && [ "${kmin%%[!0-9]*}" -lt 9 ]; }; then
    echo "SKIP: Linux $kv has no FUSE passthrough (6.9 and later)"
    exit 77
fi
if [ -r /proc/config.gz ] && ! zcat /proc/config.gz | grep -q '^CONFIG_FUSE_PASSTHROUGH=y'; then
    echo "SKIP: this kernel is built without CONFIG_FUSE_PASSTHROUGH"
    exit 77
fi

start_shm_daemon
calls() { echo $(($(counter read_calls) + $(counter write_calls))); }
head -c $((24 << 20)) /dev/urandom >"$WORK/src"

shared_dir # the mount point, which uid 65534 must reach
m="$fuse_shared/m"
mount_fg "$m" "shm:$WORK/x.sock" --consistency strict --passthrough ||
    { echo "FAIL: the passthrough mount: $(tail -n 3 "$WORK/mount.log")" >&2; exit 1; }
c0=$(calls)
dd if="$WORK/src" of="$m/big" bs=1M conv=fsync status=none || fail "dd into the mount"
cmp -s "$WORK/src" "$exp/big" || fail "the file written through the mount differs"
cmp -s "$WORK/src" "$m/big" || fail "the file read back through the mount differs"
n=$(($(calls) - c0))
[ "$n" -eq 0 ] && echo "ok: 24 MiB written and read back right, no read or write call to the daemon" ||
    fail "$n read or write calls reached the daemon (passthrough should leave none)"

c0=$(calls)
out=$("$PY" "$(dirname "$0")/zoid_fuse_passthrough.py" "$m" "$exp" 2>&1)
[ "$out" = ok ] && echo "ok: reader, writer, appender, mmap and ftruncate of one file at once" ||
    fail "opens of one file: $out"
n=$(($(calls) - c0))
[ "$n" -eq 0 ] || fail "$n read or write calls reached the daemon during the opens of one file"

# A program running from the export: the daemon may not open it O_RDWR (ETXTBSY), so it is
# served as before; it is read right and runs through the mount.
cp /bin/sleep "$exp/prog"
"$exp/prog" 30 &
prog=$!
cmp -s /bin/sleep "$m/prog" && "$m/prog" 0 && echo "ok: a running program read and run through the mount" ||
    fail "a running program through the mount"
kill "$prog" 2>/dev/null
wait "$prog" 2>/dev/null

# Another uid: the kernel checks its permissions; what it may write is passed through.
printf 'secret\n' >"$exp/secret" && chmod 600 "$exp/secret"
mkdir -p "$exp/nobody" && chown 65534:65534 "$exp/nobody"
nob=(setpriv --reuid 65534 --regid 65534 --clear-groups)
"${nob[@]}" cat "$m/secret" >/dev/null 2>&1 && fail "uid 65534 read root's 0600 file through the mount"
c0=$(calls)
"${nob[@]}" dd if=/dev/zero of="$m/nobody/f" bs=1M count=8 status=none || fail "uid 65534: dd"
"${nob[@]}" cmp -s -n $((8 << 20)) /dev/zero "$m/nobody/f" || fail "uid 65534: reading back its file"
n=$(($(calls) - c0))
[ "$(stat -c %u "$exp/nobody/f")" = 65534 ] && [ "$(stat -c %s "$exp/nobody/f")" = $((8 << 20)) ] &&
    cmp -s -n $((8 << 20)) /dev/zero "$exp/nobody/f" &&
    [ "$n" -eq 0 ] && echo "ok: uid 65534 wrote and read its own file through passthrough, root's refused" ||
    fail "uid 65534: owner $(stat -c %u "$exp/nobody/f"), $n calls to the daemon"
fusermount3 -u "$m" || fail "unmount"

# Without lending there is nothing to pass through: every write goes to the daemon.
ZOID_LEND=0 mount_fg "$WORK/m-off" "shm:$WORK/x.sock" --consistency strict --passthrough ||
    fail "mount with ZOID_LEND=0"
w0=$(counter write_calls)
dd if="$WORK/src" of="$WORK/m-off/off" bs=1M conv=fsync status=none || fail "dd, ZOID_LEND=0"
cmp -s "$WORK/src" "$exp/off" || fail "ZOID_LEND=0: data differs"
[ $(($(counter write_calls) - w0)) -ge 24 ] && echo "ok: ZOID_LEND=0: every write forwarded, data right" ||
    fail "ZOID_LEND=0: only $(($(counter write_calls) - w0)) writes reached the daemon"
# An appender whose open got no backing (opened O_RDWR for one, without O_APPEND) is served the
# forwarded way: the daemon's handle must append as asked, after what others added meanwhile.
out=$("$PY" -c '
import os, sys
m, e = sys.argv[1], sys.argv[2]
fd = os.open(m + "/app", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.write(fd, b"A")
with open(e + "/app", "ab") as f:
    f.write(b"BBBB")
os.write(fd, b"C")
os.close(fd)
print(open(e + "/app", "rb").read().decode())' "$WORK/m-off" "$exp" 2>&1)
[ "$out" = ABBBBC ] && echo "ok: ZOID_LEND=0: an appender appends after what another writer added" ||
    fail "ZOID_LEND=0: appending through the mount left \"$out\" (ABBBBC expected)"
fusermount3 -u "$WORK/m-off" || fail "unmount m-off"
grep -q -- "--passthrough: the kernel offers it" "$WORK/mount.log" &&
    echo "ok: the mount said the kernel agreed to passthrough" ||
    fail "no line in the mount's log says whether the kernel agreed: $(tail -n 3 "$WORK/mount.log")"

# Hostile daemons: a directory or another file read-only instead of the file: never a backing.
for lie in lend-dir lend-rdonly; do
    hexp="$WORK/h-$lie-export" hm="$WORK/h-$lie"
    mkdir -p "$hexp"
    printf 'first\n' >"$hexp/a-first"
    "$ZHS" "$lie" --listen "shm:$WORK/h-$lie.sock" --export "$hexp" 2>"$WORK/h-$lie.log" &
    daemon_pids+=($!)
    wait_for 10 test -S "$WORK/h-$lie.sock" || { fail "$lie: the hostile daemon did not start"; continue; }
    mount_fg "$hm" "shm:$WORK/h-$lie.sock" --consistency strict --passthrough ||
        { fail "$lie: mount"; continue; }
    timeout 60 dd if="$WORK/src" of="$hm/w" bs=1M conv=fsync status=none 2>"$WORK/err" ||
        fail "$lie: dd into the mount: $(head -c 300 "$WORK/err")"
    cmp -s "$WORK/src" "$hexp/w" && cmp -s "$WORK/src" "$hm/w" && [ "$(cat "$hexp/a-first")" = first ] &&
        echo "ok: $lie: the mount wrote and read right (forwarded)" || fail "$lie: the files differ"
    fusermount3 -u "$hm" || fail "$lie: unmount"
done

# Bad options: usage errors (2) before anything is mounted; not root: 1.
mkdir -p "$WORK/m-bad"
expect_status 2 "needs the daemon on this node" "$ZEPTO" zoid mount --server "unix:$WORK/x.sock" --passthrough "$WORK/m-bad"
expect_status 2 "needs --consistency strict" "$ZEPTO" zoid mount --server "shm:$WORK/x.sock" --consistency relaxed --passthrough "$WORK/m-bad"
if "${nob[@]}" test -x "$ZEPTO"; then
    expect_status 1 "needs root" "${nob[@]}" "$ZEPTO" zoid mount --foreground --server "shm:$WORK/x.sock" --consistency strict --passthrough /tmp
else
    echo "note: uid 65534 cannot run $ZEPTO here (a directory above it is root's): not-root case left out"
fi

finish
