# Real programs on a `zepto zoid mount`, in strict and in relaxed consistency, each checked against
# the same tree local or on the export: cp -a of a tree there and back (identical checksums,
# modes, links), tar create and extract, sqlite3 (10,000 rows in 10 transactions, read back),
# fio sequential and random jobs with --verify=crc32c, find, ls -l, du, mv, rm -r, mmap of a
# forwarded file, exec of a forwarded binary and script, the caller's umask, and identity (what a
# user creates is theirs; a root-only file stays unreadable to them). The daemon's payload limit
# is 64 KiB, so that the kernel's 128 KiB-1 MiB requests are split into several calls. As root
# on Linux 6.9 or later, the same again on a strict mount of a shm: daemon of the same export
# with --passthrough (the kernel reads and writes the files itself: docs/zoid-mount.md).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_fuse_lib.sh"

require_fuse
for tool in sqlite3 fio tar sha256sum setpriv; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

# The tree: sizes around the split points, an empty file and directory, a symlink, a hard link,
# modes, a name with spaces and one that is not UTF-8.
tree="$WORK/tree"
mkdir -p "$tree/sub/deeper" "$tree/empty dir"
head -c 3000000 /dev/urandom >"$tree/big"
head -c 65536 /dev/urandom >"$tree/sub/exactly64k"
head -c 65537 /dev/urandom >"$tree/sub/deeper/64k+1"
: >"$tree/empty"
echo "hello" >"$tree/with space.txt"
printf 'bytes\n' >"$tree/$(printf 'caf\xe9')"
ln -s ../big "$tree/sub/link"
ln "$tree/sub/exactly64k" "$tree/sub/hardlink"
chmod 0640 "$tree/sub/exactly64k"
chmod 0750 "$tree/sub/deeper"
touch -d '2020-01-02 03:04:05' "$tree/with space.txt"

sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
shape() { (cd "$1" && find . -printf '%p %y %m %n %l %s\n' | LC_ALL=C sort); }
long() { (cd "$1" && LC_ALL=C ls -lnR --time-style=+%s . | grep -av '^total '); }

start_daemon data --max-payload 64K
export_dir="$WORK/data-export"
shared_dir # the mount points, which uid 65534 must reach

suite() {
    local mode=$1 mnt="$fuse_shared/mnt-$1"
    local exp="$export_dir/$mode"
    local how=(unix:"$WORK/data.sock" --consistency "$mode")
    [ "$mode" != pt ] || how=(shm:"$WORK/data-shm.sock" --consistency strict --passthrough)
    mkdir -p "$exp"
    chmod 1777 "$exp"
    mount_fg "$mnt" "${how[@]}" ||
        { fail "$mode: the mount did not come up: $(tail -n 1 "$WORK/mount.log")"; return; }
    local m="$mnt/$mode"

    # cp -a there and back.
    cp -a "$tree" "$m/tree" || fail "$mode: cp -a to the mount"
    rm -rf "$WORK/back"
    cp -a "$m/tree" "$WORK/back" || fail "$mode: cp -a from the mount"
    [ "$(sums "$tree")" = "$(sums "$WORK/back")" ] || fail "$mode: checksums differ after cp -a"
    [ "$(sums "$tree")" = "$(sums "$exp/tree")" ] || fail "$mode: the export's copy differs"
    [ "$(shape "$tree")" = "$(shape "$WORK/back")" ] ||
        fail "$mode: types, modes, links differ: $(diff <(shape "$tree") <(shape "$WORK/back"))"
    [ "$(stat -c %Y "$m/tree/with space.txt")" = "$(stat -c %Y "$tree/with space.txt")" ] ||
        fail "$mode: cp -a did not keep the mtime"

    # ls -l, find, du: the mount shows what the export has.
    [ "$(long "$m/tree")" = "$(long "$exp/tree")" ] ||
        fail "$mode: ls -l differs: $(diff <(long "$m/tree") <(long "$exp/tree") | head -5)"
    [ "$(cd "$m/tree" && find . | LC_ALL=C sort)" = "$(cd "$tree" && find . | LC_ALL=C sort)" ] ||
        fail "$mode: find lists other names"
    [ "$(cd "$m/tree" && find . -name '*64k*' -type f | sort)" = "$(printf './sub/deeper/64k+1\n./sub/exactly64k')" ] ||
        fail "$mode: find -name -type"
    [ "$(du -s --apparent-size -B1 "$m/tree" | cut -f1)" = \
      "$(du -s --apparent-size -B1 "$exp/tree" | cut -f1)" ] || fail "$mode: du differs"

    # tar create and extract.
    tar -C "$tree" -cf "$m/t.tar" . || fail "$mode: tar create"
    mkdir "$m/untar"
    tar -C "$m/untar" -xf "$m/t.tar" || fail "$mode: tar extract"
    [ "$(sums "$tree")" = "$(sums "$m/untar")" ] || fail "$mode: checksums differ after tar"
    [ "$(shape "$tree")" = "$(shape "$m/untar")" ] || fail "$mode: tar lost modes or links"

    # mv and rm -r.
    mv "$m/untar" "$m/moved" || fail "$mode: mv"
    mv "$m/moved/big" "$m/big-moved" || fail "$mode: mv a file across directories"
    [ -d "$exp/moved" ] && [ ! -e "$exp/untar" ] && [ -f "$exp/big-moved" ] ||
        fail "$mode: mv not seen on the export"
    rm -r "$m/moved" "$m/big-moved" "$m/t.tar" || fail "$mode: rm -r"
    [ ! -e "$exp/moved" ] || fail "$mode: rm -r left the tree on the export"

    # sqlite3: 10,000 rows in 10 transactions, read back.
    {
        echo "create table t(a integer primary key, b text);"
        for i in 0 1 2 3 4 5 6 7 8 9; do
            echo "begin;"
            seq $((i * 1000 + 1)) $((i * 1000 + 1000)) | sed "s/.*/insert into t values(&, 'row &');/"
            echo "commit;"
        done
    } | sqlite3 "$m/t.db" || fail "$mode: sqlite3 inserts"
    [ "$(sqlite3 "$m/t.db" 'select count(*), sum(a), max(b) from t;')" = "10000|50005000|row 9999" ] ||
        fail "$mode: sqlite3 read back: $(sqlite3 "$m/t.db" 'select count(*), sum(a) from t;' 2>&1)"
    [ "$(sqlite3 "$m/t.db" 'pragma integrity_check;')" = ok ] || fail "$mode: sqlite3 integrity"

    # fio with verification.
    fio --name=seq --directory="$m" --ioengine=psync --rw=write --bs=64k --size=8m \
        --verify=crc32c --do_verify=1 >"$WORK/fio.out" 2>&1 ||
        fail "$mode: fio sequential: $(tail -n 3 "$WORK/fio.out")"
    fio --name=rand --directory="$m" --ioengine=psync --rw=randwrite --bs=4k --size=2m \
        --verify=crc32c --do_verify=1 >"$WORK/fio.out" 2>&1 ||
        fail "$mode: fio random: $(tail -n 3 "$WORK/fio.out")"
    grep -q "err= 0" "$WORK/fio.out" || fail "$mode: fio reported errors"

    # mmap and exec of forwarded files.
    "$BIN/zoid_fuse_check" mmap "$m/mapped" "$exp/mapped" || fail "$mode: mmap"
    cp "$BIN/zoid_fuse_check" "$m/prog"
    local status=0
    "$m/prog" 2>"$WORK/prog.err" || status=$?
    [ "$status" -eq 2 ] && grep -q '^usage: zoid_fuse_check' "$WORK/prog.err" ||
        fail "$mode: exec of a forwarded binary: status $status, $(cat "$WORK/prog.err")"
    printf '#!/bin/sh\necho "script $1"\n' >"$m/script.sh"
    chmod +x "$m/script.sh"
    [ "$("$m/script.sh" ran)" = "script ran" ] || fail "$mode: exec of a forwarded script"

    # A path longer than PATH_MAX beneath the mount (reached by relative paths): 18 levels of
    # 250-byte names.
    local name
    name=$(printf 'd%.0s' $(seq 250))
    (cd "$m" && for _ in $(seq 18); do mkdir "$name" && cd "$name" || exit 1; done &&
        echo deep >file && [ "$(cat file)" = deep ] && ln file hard && mv hard moved &&
        [ "$(stat -c %h file)" = 2 ]) || fail "$mode: a path deeper than PATH_MAX"
    rm -r "${m:?}/$name" || fail "$mode: rm -r of a tree deeper than PATH_MAX"
    [ ! -e "$exp/$name" ] || fail "$mode: the deep tree is still on the export"

    # The caller's umask, not the daemon's.
    (umask 0 && touch "$m/um-file" && mkdir "$m/um-dir")
    [ "$(stat -c %a "$exp/um-file" "$exp/um-dir" | tr '\n' ' ')" = "666 777 " ] ||
        fail "$mode: umask 0 gave modes $(stat -c %a "$exp/um-file" "$exp/um-dir" | tr '\n' ' ')"
    (umask 027 && touch "$m/um2" && mkdir "$m/um2d")
    [ "$(stat -c %a "$exp/um2" "$exp/um2d" | tr '\n' ' ')" = "640 750 " ] ||
        fail "$mode: umask 027 gave modes $(stat -c %a "$exp/um2" "$exp/um2d" | tr '\n' ' ')"

    # Identity: what user 65534 creates is theirs; root's 0600 file is not readable to them.
    echo secret >"$m/root-only"
    chmod 0600 "$m/root-only"
    local nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    "${nobody[@]}" sh -c "echo mine >'$m/nobody-file' && mkdir '$m/nobody-dir'" ||
        fail "$mode: user 65534 could not create in a 1777 directory"
    [ "$(stat -c %u:%g "$exp/nobody-file" "$exp/nobody-dir" | tr '\n' ' ')" = "65534:65534 65534:65534 " ] ||
        fail "$mode: owner of what 65534 created: $(stat -c %u:%g "$exp/nobody-file" "$exp/nobody-dir" | tr '\n' ' ')"
    # ... also through the mount, right after the create (its reply's attributes were taken
    # before the file was given to them: not used).
    local owner
    owner=$("${nobody[@]}" sh -c ": >'$m/nobody-2' && stat -c %u:%g '$m/nobody-2'")
    [ "$owner" = 65534:65534 ] || fail "$mode: owner through the mount right after the create: $owner"
    if "${nobody[@]}" cat "$m/root-only" >/dev/null 2>"$WORK/perm.err"; then
        fail "$mode: user 65534 read root's 0600 file"
    fi
    grep -q "Permission denied" "$WORK/perm.err" || fail "$mode: $(cat "$WORK/perm.err")"
    if "${nobody[@]}" rm "$m/root-only" 2>/dev/null; then
        fail "$mode: user 65534 removed root's file from a sticky directory"
    fi

    fusermount3 -u "$mnt" || fail "$mode: fusermount3 -u"
    wait "$mount_pid" || fail "$mode: the mount process exited $?"
    # What was written is on the export after the unmount.
    [ "$(sqlite3 "$exp/t.db" 'select count(*) from t;')" = 10000 ] ||
        fail "$mode: the database on the export"
}

suite strict
suite relaxed
kv=$(uname -r)
IFS=. read -r kmaj kmin _ <<<"$kv"
if [ "$(id -u)" -ne 0 ] || [ "$kmaj" -lt 6 ] || { [ "$kmaj" -eq 6 ] && [ "${kmin%%[!0-9]*}" -lt 9 ]; }; then
    echo "note: no passthrough suite (needs root and Linux 6.9 or later; here uid $(id -u), $kv)"
else
    "$ZEPTO" zoid serve --listen "shm:$WORK/data-shm.sock" --export "$export_dir" --max-payload 64K \
        2>>"$WORK/data-shm-daemon.log" &
    daemon_pids+=($!)
    wait_for 10 test -S "$WORK/data-shm.sock" || fail "the shm daemon did not start"
    suite pt
    lent=$("$ZEPTO" zoid stat --server "shm:$WORK/data-shm.sock" --json |
        grep -o '"descriptors_lent": *[0-9]*' | grep -o '[0-9]*$')
    [ "${lent:-0}" -gt 0 ] && echo "ok: the passthrough suite ran on $lent lent files" ||
        fail "pt: no file was lent to the passthrough mount (passthrough never happened)"
fi
finish
