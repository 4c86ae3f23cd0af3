# Lent descriptors (issue 15, docs/zoid-posix.md "Lent descriptors"): with the daemon on the same
# node (shm:), the interposer reads and writes a forwarded regular file through the daemon's own
# open file description, handed over the connection's socket. Checked with real programs (dd,
# cmp, python3): the data; that the bytes no longer travel through the daemon (its counters);
# that the description is shared with the daemon's handle (positions after reads, seeks, dup, a
# forked child, O_APPEND; mmap works); that small files are not lent; that it can be switched
# off on either side and is never used on unix:; a second uid; a program that closes or replaces
# the lent descriptor behind the library's back; a daemon that lends the wrong things (the hostile
# server); a client that hoards lent descriptors without taking them (bounded, others served).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

: "${ZHS:?ZHS must name the zoid_hostile_server helper}"
: "${HOARD:?HOARD must name the zoid_lend_hoard helper}"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: /usr/bin/python3 is missing (the checks of shared positions need it)"; exit 0; }
command -v jq >/dev/null || { echo "SKIP: jq is missing (scripts/deps.sh)"; exit 0; }

share_with_nobody || { echo "FAIL: no scratch directory for the second uid" >&2; exit 1; }
export ZOID_TEST_TRANSPORT=shm
start_daemon
chmod 0777 "$SOCK" # for the second uid
SRV="shm:$SOCK"
zshm() { timeout 60 "$ZEPTO" zoid run --server "$SRV" --mount "$MNT" -- "$@"; }
# counter NAME: the daemon's counter (zepto zoid stat).
counter() { "$ZEPTO" zoid stat --server "$SRV" --json | jq -e ".$1"; }

head -c $((24 << 20)) /dev/urandom >"$WORK/src"

# 1. A large copy in and out: the data, lent once each way, the writes not through the daemon.
lent0=$(counter descriptors_lent) || fail "no descriptors_lent counter"
msgs0=$(counter write_messages)
zshm dd if="$WORK/src" of="$MNT/big" bs=1M status=none || fail "dd into the mount failed"
cmp -s "$WORK/src" "$EXPORT/big" || fail "the file written through a lent descriptor differs"
zshm dd if="$MNT/big" of="$WORK/back" bs=1M status=none || fail "dd out of the mount failed"
cmp -s "$WORK/src" "$WORK/back" || fail "the file read through a lent descriptor differs"
lent1=$(counter descriptors_lent)
msgs1=$(counter write_messages)
[ $((lent1 - lent0)) -eq 2 ] || fail "dd in and out: $((lent1 - lent0)) descriptors lent, expected 2"
[ $((msgs1 - msgs0)) -eq 0 ] || fail "24 MiB written through a lent descriptor: $((msgs1 - msgs0)) write calls reached the daemon, expected 0"
echo "ok: dd in and out: the data, 2 descriptors lent, $((msgs1 - msgs0)) writes through the daemon"

# 1b. A stat by path after each write through a lent descriptor sees that write: the daemon
#     does not answer it with a lookup made before (metadata coalescing shares only lookups not
#     yet begun while files are lent; a repeated stat took its previous answer, from before the
#     write).
cat >"$WORK/statwrite.py" <<'EOF'
import os, sys
p = sys.argv[1]
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"x" * (1 << 20))  # lends (a large write)
stale = 0
for i in range(1, 301):
    os.write(fd, b"y" * 4096)
    if os.stat(p).st_size != (1 << 20) + 4096 * i:
        stale += 1
os.close(fd)
print(stale)
EOF
out=$(zshm "$PY" "$WORK/statwrite.py" "$MNT/statwrite" 2>&1)
[ "$out" = 0 ] && echo "ok: 300 stats after writes through a lent descriptor, none stale" ||
    fail "stats after writes through a lent descriptor: $out of 300 stale"

# 2. One open file description: the daemon's handle (fstat, ftruncate through the daemon) and the
#    lent descriptor (read, write, seek) agree; dup and a forked child share the position;
#    O_APPEND appends; mmap maps the file.
cat >"$WORK/shared.py" <<'EOF'
import mmap, os, sys
p = sys.argv[1]
big = 1 << 20
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"a" * big)                      # lends (a large write)
assert os.lseek(fd, 0, os.SEEK_CUR) == big, "position after the first write"
assert os.fstat(fd).st_size == big, "the daemon's fstat sees the lent write"
os.lseek(fd, 100, os.SEEK_SET)
assert os.read(fd, 4) == b"aaaa" and os.lseek(fd, 0, os.SEEK_CUR) == 104, "read at the position"
d = os.dup(fd)                                # a second handle, the same description
os.write(d, b"B" * big)
assert os.lseek(fd, 0, os.SEEK_CUR) == 104 + big, "dup shares the position"
pid = os.fork()
if pid == 0:
    os.write(fd, b"C" * big)                  # the child's write moves the parent's position
    os._exit(0)
os.waitpid(pid, 0)
end = 104 + 2 * big
assert os.lseek(fd, 0, os.SEEK_CUR) == end, "a forked child shares the position"
os.ftruncate(fd, end + 10)                    # through the daemon, on the same file
assert os.fstat(fd).st_size == end + 10
os.lseek(fd, 0, os.SEEK_SET)
m = mmap.mmap(fd, end, prot=mmap.PROT_READ)
assert m[100:104] == b"aaaa" and m[104:105] == b"B" and m[104 + big:105 + big] == b"C", "mmap"
m.close()
os.close(d)
os.close(fd)
a = os.open(p, os.O_WRONLY | os.O_APPEND)
b = os.open(p, os.O_WRONLY | os.O_APPEND)
for _ in range(3):
    os.write(a, b"x" * big)
    os.write(b, b"y" * big)
os.close(a)
os.close(b)
assert os.stat(p).st_size == end + 10 + 6 * big, "O_APPEND through two lent descriptors"
print("shared ok")
EOF
lent0=$(counter descriptors_lent)
out=$(zshm "$PY" "$WORK/shared.py" "$MNT/shared" 2>&1) || fail "shared description: $out"
lent1=$(counter descriptors_lent)
[ "$out" = "shared ok" ] && [ $((lent1 - lent0)) -ge 3 ] &&
    echo "ok: positions, dup, fork, ftruncate, mmap and O_APPEND on lent descriptors ($((lent1 - lent0)) lent)" ||
    fail "shared description: '$out', $((lent1 - lent0)) lent (expected 3 or more)"
[ "$(stat -c %s "$EXPORT/shared")" -eq $(((104 + 2 * 1048576 + 10) + 6 * 1048576)) ] ||
    fail "the export's file has the wrong size: $(stat -c %s "$EXPORT/shared")"

# 3. Small files are not lent (one small read: a lend would cost a round trip more).
printf 'small\n' >"$EXPORT/small"
lent0=$(counter descriptors_lent)
[ "$(zshm cat "$MNT/small")" = small ] || fail "cat of a small file"
[ "$(counter descriptors_lent)" -eq "$lent0" ] && echo "ok: a small file read once is not lent" ||
    fail "a small file read once was lent"

# 4. Switched off: by the client, by the daemon; and never on unix:.
lent0=$(counter descriptors_lent)
msgs0=$(counter write_messages)
ZOID_LEND=0 zshm dd if="$WORK/src" of="$MNT/off" bs=1M status=none || fail "dd, ZOID_LEND=0"
cmp -s "$WORK/src" "$EXPORT/off" || fail "ZOID_LEND=0: data differs"
[ "$(counter descriptors_lent)" -eq "$lent0" ] && [ $(($(counter write_messages) - msgs0)) -ge 24 ] &&
    echo "ok: ZOID_LEND=0 forwards every write" || fail "ZOID_LEND=0 still lent"
stop_daemon
ZOID_POSIX_LEND=0 start_daemon
zshm dd if="$WORK/src" of="$MNT/off2" bs=1M status=none || fail "dd, daemon ZOID_POSIX_LEND=0"
cmp -s "$WORK/src" "$EXPORT/off2" || fail "ZOID_POSIX_LEND=0: data differs"
[ "$(counter descriptors_lent)" -eq 0 ] && echo "ok: a daemon with ZOID_POSIX_LEND=0 lends nothing" ||
    fail "a daemon with ZOID_POSIX_LEND=0 lent"
grep -q "lent to same-node (shm:) clients: no" "$WORK/daemon.$starts.log" ||
    fail "the daemon does not say that it lends nothing"
stop_daemon
ZOID_TEST_TRANSPORT=unix start_daemon
timeout 60 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" -- dd if="$WORK/src" of="$MNT/unix" bs=1M status=none ||
    fail "dd over unix:"
cmp -s "$WORK/src" "$EXPORT/unix" || fail "unix: data differs"
[ "$("$ZEPTO" zoid stat --server "unix:$SOCK" --json | jq .descriptors_lent)" -eq 0 ] &&
    echo "ok: nothing is lent over unix:" || fail "a descriptor was lent over unix:"
stop_daemon
start_daemon
chmod 0777 "$SOCK"

# 5. A second uid: its own file is lent and works; root's private file stays closed to it.
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
chmod 0777 "$EXPORT"
head -c $((1 << 20)) /dev/urandom >"$EXPORT/private"
chmod 0600 "$EXPORT/private"
srccopy="$EXPORT/../nobody-src" # beside the export: reachable by nobody (share_with_nobody)
cp "$WORK/src" "$srccopy" && chmod 0644 "$srccopy"
lent0=$(counter descriptors_lent)
# zoid run as root, the program as nobody (the build may be below a directory only root can
# enter): the interposer connects at the program's first forwarded call, as what it is then.
zshm "${AS_NOBODY[@]}" dd if="$srccopy" of="$MNT/nobodys" bs=1M status=none || fail "dd as nobody"
cmp -s "$WORK/src" "$EXPORT/nobodys" || fail "nobody's file differs"
[ "$(stat -c %u "$EXPORT/nobodys")" = 65534 ] || fail "nobody's file is owned by $(stat -c %u "$EXPORT/nobodys")"
if zshm "${AS_NOBODY[@]}" dd if="$MNT/private" of=/dev/null bs=1M status=none 2>"$WORK/err"; then
    fail "nobody read root's 0600 file through the daemon"
fi
grep -q "Permission denied" "$WORK/err" || fail "nobody reading root's file: $(cat "$WORK/err")"
[ $(($(counter descriptors_lent) - lent0)) -eq 1 ] &&
    echo "ok: a second uid gets its own file lent, and root's private file neither read nor lent" ||
    fail "second uid: $(($(counter descriptors_lent) - lent0)) lent, expected 1"

# 6. A program that closes or replaces every descriptor it does not know (close(2) of each number
#    in /proc/self/fd, closerange, dup2 onto it) keeps the lent one (EBADF, EBUSY, as for the
#    connection's socket); one replaced by a raw dup2 system call gets the file forwarded again:
#    never another file's data.
cat >"$WORK/behind.py" <<'EOF'
import errno, os, sys
p, real = sys.argv[1], sys.argv[2]
fd = os.open(p, os.O_RDONLY)
got = os.read(fd, 1 << 20)                    # forwarded: a large file
got += os.read(fd, 1 << 20)                   # lends
def lent():
    return [int(n) for n in os.listdir("/proc/self/fd")
            if os.path.realpath("/proc/self/fd/" + n) == real and int(n) != fd]
l = lent()
assert len(l) == 1, "the lent descriptor is not in /proc/self/fd: %r" % l
try:
    os.close(l[0])
    sys.exit("close of the lent descriptor succeeded")
except OSError as e:
    assert e.errno == errno.EBADF, e
os.closerange(fd + 1, 1 << 16)
assert lent() == l, "closerange closed the lent descriptor"
got += os.read(fd, 1 << 20)                   # through it still
z = os.open("/dev/zero", os.O_RDONLY)
try:
    os.dup2(z, l[0])
    sys.exit("dup2 onto the lent descriptor succeeded")
except OSError as e:
    assert e.errno == errno.EBUSY, e
import ctypes                                 # a raw dup2(2): what the library cannot see
if ctypes.CDLL(None, use_errno=True).syscall(33, z, l[0]) != l[0]:
    sys.exit("raw dup2 failed")
got += os.read(fd, 1 << 20)                   # forwarded again: /dev/zero is not the file
with open(real, "rb") as f:
    want = f.read(4 << 20)
assert got == want, "read another file's data"
print("behind ok")
EOF
out=$(zshm "$PY" "$WORK/behind.py" "$MNT/big" "$(realpath "$EXPORT/big")" 2>&1)
[ "$out" = "behind ok" ] &&
    echo "ok: close, closerange and dup2 leave the lent descriptor; replaced by a raw dup2, the file is forwarded again" ||
    fail "a program closing or replacing the lent descriptor: $out"

# 6b. Bad buffers on shm: (tests/helpers/zoid_preload_badbuf.c): EFAULT, or through a lent
#     descriptor the kernel's own short count; no crash; the descriptor and the ring in step.
if [ -n "${ZPB:-}" ]; then
    mkdir -p "$EXPORT/badbuf"
    for c in strict relaxed; do
        expect_ok timeout 60 "$ZEPTO" zoid run --server "$SRV" --mount "$MNT" --consistency "$c" \
            -- "$ZPB" "$MNT/badbuf"
    done
else
    fail "ZPB must name the zoid_preload_badbuf program"
fi

# 7. A hostile daemon lending nothing, a directory, or another file opened read-only (the wrong
#    access mode for a file opened to write; the wrong file for one opened to read): the data
#    still right (forwarded), no crash.
stop_daemon
for lie in lend-none lend-dir lend-rdonly; do
    rm -f "$SOCK"
    "$ZHS" "$lie" --listen "shm:$SOCK" --export "$EXPORT" 2>"$WORK/hostile.$lie.log" &
    DAEMON=$!
    for _ in $(seq 200); do
        grep -q "plugin 1 posix" "$WORK/hostile.$lie.log" 2>/dev/null && [ -S "$SOCK" ] && break
        sleep 0.05
    done
    rm -f "$EXPORT/h.$lie"
    rc=0
    timeout 30 "$ZEPTO" zoid run --server "shm:$SOCK" --mount "$MNT" -- \
        dd if="$WORK/src" of="$MNT/h.$lie" bs=1M status=none 2>"$WORK/err" || rc=$?
    [ "$rc" -eq 0 ] && cmp -s "$WORK/src" "$EXPORT/h.$lie" && echo "ok: $lie: written right, forwarded" ||
        fail "$lie: exit $rc, $(head -c 300 "$WORK/err")"
    rc=0
    timeout 30 "$ZEPTO" zoid run --server "shm:$SOCK" --mount "$MNT" -- \
        dd if="$MNT/h.$lie" of="$WORK/h.back" bs=1M status=none 2>"$WORK/err" || rc=$?
    [ "$rc" -eq 0 ] && cmp -s "$WORK/src" "$WORK/h.back" && echo "ok: $lie: read right" ||
        fail "$lie: reading back: exit $rc, $(head -c 300 "$WORK/err")"
    stop_daemon
done
start_daemon
chmod 0777 "$SOCK"

# 8. A client that has descriptors lent and never takes them: refused (EAGAIN) once its socket is
#    full, the daemon holds no more of them than that, and another client is still lent its own.
exec 7> >("$HOARD" --server "$SRV" --path big --count 20000 --hold 30 >"$WORK/hoard.json")
for _ in $(seq 200); do [ -s "$WORK/hoard.json" ] && break; sleep 0.05; done
lent=$(jq .lent "$WORK/hoard.json") refused=$(jq .refused "$WORK/hoard.json") err=$(jq .errno "$WORK/hoard.json")
[ -n "$lent" ] && [ "$refused" -gt 0 ] && [ "$err" -eq 11 ] && [ "$lent" -lt 5000 ] ||
    fail "the hoarder: $(cat "$WORK/hoard.json"), expected some refused with EAGAIN (11) and fewer than 5000 lent"
fds=$(ls "/proc/$DAEMON/fd" | wc -l)
[ "$fds" -lt 100 ] || fail "the daemon holds $fds descriptors while a client hoards"
lent0=$(counter descriptors_lent)
zshm dd if="$MNT/big" of="$WORK/back2" bs=1M status=none || fail "another client while one hoards"
cmp -s "$WORK/src" "$WORK/back2" || fail "another client while one hoards: data differs"
[ $(($(counter descriptors_lent) - lent0)) -eq 1 ] &&
    echo "ok: a hoarder gets $lent lent then EAGAIN; another client is still lent its own" ||
    fail "while one hoards, another client was lent $(($(counter descriptors_lent) - lent0))"
exec 7>&-

finish
