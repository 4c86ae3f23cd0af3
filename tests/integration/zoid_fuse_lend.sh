# Writes of `zepto zoid mount` through lent descriptors (src/zoid/fuse/zfuse_lend.c, issue 15;
# docs/zoid-posix.md, "Lent descriptors"): a mount of a daemon on this node (shm:) writes large
# files through the daemon's own open file description instead of sending the bytes. For a strict
# and a relaxed mount: 24 MiB written with dd (the data right, a descriptor lent, at most the
# writes before the lend reached the daemon), overwrites and a truncate in between (as a local
# file), read back through the mount; a mount with ZOID_LEND=0 lends nothing and writes right.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_fuse_lib.sh"

require_fuse
: "${ZHS:?ZHS must name the zoid_hostile_server helper}"
command -v jq >/dev/null || { echo "SKIP: jq is missing (scripts/deps.sh)"; exit 77; }
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: /usr/bin/python3 is missing"; exit 77; }

start_shm_daemon
head -c $((24 << 20)) /dev/urandom >"$WORK/src"

# PATH REF: overwrites at several places and a truncate through PATH, the same on the local REF;
# prints "same" when both read back alike.
cat >"$WORK/edit.py" <<'PY'
import os, sys
path, ref = sys.argv[1], sys.argv[2]
fds = [os.open(path, os.O_RDWR), os.open(ref, os.O_RDWR)]
for fd in fds:
    os.pwrite(fd, b"Z" * (1 << 20), 5 << 20)
    os.pwrite(fd, b"q" * 4096, 123 * 4096)
    os.ftruncate(fd, 10 << 20)
    os.pwrite(fd, b"tail" * 1000, (10 << 20) + 100)
    os.fsync(fd)
a = os.pread(fds[0], 16 << 20, 0)
b = os.pread(fds[1], 16 << 20, 0)
print("same" if a == b and os.fstat(fds[0]).st_size == os.fstat(fds[1]).st_size else "differ")
PY

for c in strict relaxed; do
    m="$WORK/m-$c"
    mount_fg "$m" "shm:$WORK/x.sock" --consistency "$c" || { fail "$c mount"; continue; }
    lent0=$(counter descriptors_lent) || fail "no descriptors_lent counter"
    msgs0=$(counter write_messages)
    dd if="$WORK/src" of="$m/big-$c" bs=1M conv=fsync status=none || fail "$c: dd into the mount"
    cmp -s "$WORK/src" "$exp/big-$c" || fail "$c: the file written through the mount differs"
    lent=$(($(counter descriptors_lent) - lent0)) msgs=$(($(counter write_messages) - msgs0))
    [ "$lent" -ge 1 ] && [ "$msgs" -le 8 ] &&
        echo "ok: $c mount: 24 MiB written right, $lent lent, $msgs write calls to the daemon" ||
        fail "$c mount: $lent descriptors lent (expected 1 or more), $msgs write calls to the daemon (expected at most 8)"
    cp "$WORK/src" "$WORK/ref-$c"
    [ "$("$PY" "$WORK/edit.py" "$m/big-$c" "$WORK/ref-$c")" = same ] &&
        cmp -s "$WORK/ref-$c" "$exp/big-$c" && echo "ok: $c mount: overwrites and a truncate as a local file" ||
        fail "$c mount: overwrites and a truncate differ from a local file"
done

ZOID_LEND=0 mount_fg "$WORK/m-off" "shm:$WORK/x.sock" --consistency strict || fail "mount with ZOID_LEND=0"
lent0=$(counter descriptors_lent)
dd if="$WORK/src" of="$WORK/m-off/off" bs=1M conv=fsync status=none || fail "dd, ZOID_LEND=0"
cmp -s "$WORK/src" "$exp/off" || fail "ZOID_LEND=0: data differs"
[ "$(counter descriptors_lent)" -eq "$lent0" ] && echo "ok: a mount with ZOID_LEND=0 lends nothing" ||
    fail "a mount with ZOID_LEND=0 was lent a descriptor"

# A hostile daemon lending nothing, a directory, or another file read-only: the mount writes
# right anyway (forwarded), and nothing hangs or crashes.
for lie in lend-none lend-dir lend-rdonly; do
    hexp="$WORK/h-$lie-export" hm="$WORK/h-$lie"
    mkdir -p "$hexp"
    printf 'first\n' >"$hexp/a-first" # what lend-rdonly lends instead
    "$ZHS" "$lie" --listen "shm:$WORK/h-$lie.sock" --export "$hexp" 2>"$WORK/h-$lie.log" &
    daemon_pids+=($!)
    wait_for 10 test -S "$WORK/h-$lie.sock" || { fail "$lie: the hostile daemon did not start"; continue; }
    mount_fg "$hm" "shm:$WORK/h-$lie.sock" --consistency strict || { fail "$lie: mount"; continue; }
    timeout 60 dd if="$WORK/src" of="$hm/w" bs=1M conv=fsync status=none 2>"$WORK/err" ||
        fail "$lie: dd into the mount: $(head -c 300 "$WORK/err")"
    cmp -s "$WORK/src" "$hexp/w" && [ "$(cat "$hexp/a-first")" = first ] &&
        echo "ok: $lie: the mount wrote right (forwarded)" || fail "$lie: the export's files differ"
    fusermount3 -u "$hm" || fail "$lie: unmount"
done

finish
