# Write-behind of a relaxed `zepto zoid mount` (src/zoid/fuse/zfuse_behind.c, issue 15): the
# kernel's write-back pages are answered at once and sent to the daemon many in one call.
# 1. 2,000 random 4 KiB writes through the relaxed mount, then fsync and close: the export holds
#    exactly what a local file written the same way holds, and the daemon received less than a
#    quarter of the write calls the same writes through a strict mount cost (one each).
# 2. Order with other calls: writes, a truncate, writes past it, a stat and a read through the
#    mount in between: the same as the local file.
# 3. A write-behind that fails reaches the program: a 1 MiB tmpfs export (root) filled by 2 MiB
#    of random writes gives ENOSPC at fsync or close, and nothing hangs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_fuse_lib.sh"

require_fuse
both_mounts

# WRITER FILE REF N SEED [truncate]: N random 4 KiB writes (each page's own bytes) to FILE and to
# the local REF, with "truncate": a truncate to half, a stat, a read back, and N more writes
# over the whole; then fsync and close. Prints the errno fsync or close met (0: none).
cat >"$WORK/writer.py" <<'PY'
import os, random, sys
path, ref, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
mixed = len(sys.argv) > 5
rnd = random.Random(seed)
fd, rf = os.open(path, os.O_RDWR), os.open(ref, os.O_RDWR)
pages = os.fstat(rf).st_size // 4096
def burst(count):
    for i in range(count):
        off = rnd.randrange(pages) * 4096
        data = bytes([(i * 7 + off // 4096) % 251]) * 4093 + rnd.randbytes(3)
        if os.pwrite(fd, data, off) != 4096:
            sys.exit("short write")
        os.pwrite(rf, data, off)
err = 0
try:
    burst(n)
    if mixed:
        os.ftruncate(fd, pages * 2048)
        os.ftruncate(rf, pages * 2048)
        if os.fstat(fd).st_size != pages * 2048:
            sys.exit("size after truncate: %d" % os.fstat(fd).st_size)
        off = rnd.randrange(pages // 2) * 4096
        if os.pread(fd, 4096, off) != os.pread(rf, 4096, off):
            sys.exit("read back after truncate differs at %d" % off)
        burst(n)
    os.fsync(fd)
except OSError as e:
    err = e.errno
try:
    os.close(fd)
except OSError as e:
    err = err or e.errno
print(err)
PY

# The write calls the daemon received (a batch counts once: `zepto zoid stat`, write_messages).
messages() { "$ZEPTO" zoid stat --server "unix:$WORK/data.sock" --json | jq -e .write_messages; }

# 1.
declare -A calls
for m in r s; do
    head -c 16M /dev/zero >"$exp/rand-$m"
    head -c 16M /dev/zero >"$WORK/ref-$m"
    before=$(messages) || fail "no write_messages counter"
    err=$(timeout 120 python3 "$WORK/writer.py" "$WORK/$m/rand-$m" "$WORK/ref-$m" 2000 7 2>&1)
    calls[$m]=$(($(messages) - before))
    [ "$err" = 0 ] || fail "$m: fsync or close failed: errno $err"
    cmp -s "$exp/rand-$m" "$WORK/ref-$m" || fail "$m: the export differs from the local file"
done
echo "2,000 random 4 KiB writes: ${calls[r]} write calls to the daemon (relaxed), ${calls[s]} (strict)"
[ "${calls[s]}" -ge 2000 ] || fail "strict: ${calls[s]} write calls for 2,000 writes (one each expected)"
[ $((calls[r] * 4)) -lt "${calls[s]}" ] || fail "relaxed: ${calls[r]} write calls, not under a quarter of strict's ${calls[s]}"

# 2.
head -c 16M /dev/zero >"$exp/mixed"
head -c 16M /dev/zero >"$WORK/ref-mixed"
err=$(timeout 120 python3 "$WORK/writer.py" "$WORK/r/mixed" "$WORK/ref-mixed" 500 11 truncate 2>&1)
[ "$err" = 0 ] || fail "mixed: fsync or close failed: errno $err"
cmp -s "$exp/mixed" "$WORK/ref-mixed" || fail "mixed: the export differs from the local file"
cmp -s "$WORK/s/mixed" "$WORK/ref-mixed" || fail "mixed: the strict mount reads another file"

# 3.
if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$WORK/tiny-export"
    if mount -t tmpfs -o size=1m zepto-behind "$WORK/tiny-export"; then
        tiny_cleanup() { fuse_cleanup; umount -l "$WORK/tiny-export" 2>/dev/null; }
        trap tiny_cleanup EXIT
        start_daemon tiny
        mount_fg "$WORK/t" "unix:$WORK/tiny.sock" --consistency relaxed || fail "tiny mount"
        : >"$WORK/t/full"
        truncate -s 2M "$WORK/t/full"
        truncate -s 2M "$WORK/ref-full"
        err=$(timeout 60 python3 "$WORK/writer.py" "$WORK/t/full" "$WORK/ref-full" 2000 3 2>&1)
        st=$?
        [ "$st" -ne 124 ] || fail "full export: the writer hung"
        [ "$err" = 28 ] || fail "full export: fsync/close gave errno '$err', expected 28 (ENOSPC)"
        echo "full export: fsync or close failed with errno $err"
    else
        echo "part 3 skipped: cannot mount a tmpfs here"
    fi
else
    echo "part 3 skipped: needs root (a tmpfs to fill)"
fi
finish
