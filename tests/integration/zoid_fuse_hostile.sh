# `zepto zoid mount` against a hostile daemon (issue 12): tests/helpers/zoid_hostile_server.c
# tells one chosen lie (a count beyond what was asked, a directory record with '/', without its
# NUL or shorter than its header, a seek elsewhere, a negative size without a file type, a handle
# already in use, a link longer than the buffer), and programs (cat, head, dd, ls, find, stat,
# paste, readlink, python3's SEEK_DATA) read the mount. Each must print the correct data or fail
# with EIO: never bytes beyond the file, never a crash of the program or of the mount, never a
# hang (10 s).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_fuse_lib.sh"

: "${ZHS:?ZHS must name the zoid_hostile_server helper}"
PY=/usr/bin/python3
require_fuse

exp="$WORK/hexp"
mkdir -p "$exp/d"
printf 'hello\n' >"$exp/a"
printf 'world\n' >"$exp/b"
printf 'abcdef\n' >"$exp/c"
touch "$exp/d/x" "$exp/d/y"
ln -sf a "$exp/l"
sock="$WORK/hostile.sock"
mnt="$WORK/hmnt"

# start_hostile MODE [MOUNT OPTION...]: the hostile daemon telling MODE's lie, on $sock, and a
# mount of it on $mnt;
# MODE honest: the real daemon (the expected outputs are checked against it).
starts=0
start_hostile() {
    starts=$((starts + 1))
    rm -f "$sock"
    local log="$WORK/hostile.$starts.log"
    if [ "$1" = honest ]; then
        "$ZEPTO" zoid serve --listen "unix:$sock" --export "$exp" 2>"$log" &
    else
        "$ZHS" "$1" --listen "unix:$sock" --export "$exp" 2>"$log" &
    fi
    hostile=$!
    daemon_pids+=("$hostile")
    hostile_ready() { [ -S "$sock" ] && { [ "$1" = honest ] || grep -q "plugin 1 posix" "$log"; }; }
    wait_for 10 hostile_ready "$1" || { fail "the hostile daemon ($1) did not start: $(cat "$log")"; return 1; }
    mount_fg "$mnt" "unix:$sock" "${@:2}" || { fail "$1: mount: $(tail -n 1 "$WORK/mount.log")"; return 1; }
}
stop_hostile() {
    kill -0 "$mount_pid" 2>/dev/null || fail "$1: the mount process died: $(tail -n 3 "$WORK/mount.log")"
    fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
    wait "$mount_pid"
    kill "$hostile"
    wait "$hostile"
}

# check LIE EXPECTED CMD...: CMD prints EXPECTED, or fails with EIO (not with the honest daemon).
check() {
    local lie=$1 want=$2 rc=0
    shift 2
    timeout 10 "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    local got
    got=$(cat -v "$WORK/out")
    [ "$rc" -ne 124 ] || fail "$lie: $*: hangs"
    [ "$rc" -le 128 ] || fail "$lie: $*: killed by signal $((rc - 128)): $(head -c 300 "$WORK/err")"
    if [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then
        echo "ok: $lie: $*: the correct data"
    elif [ "$lie" != honest ] && [ "$rc" -ne 0 ] && grep -q "Input/output error" "$WORK/err"; then
        echo "ok: $lie: $*: EIO"
    else
        fail "$lie: $*: exit $rc, neither the data nor EIO: out '$(printf %s "$got" | head -c 200)'," \
            "err '$(head -c 200 "$WORK/err")'"
    fi
}

py_seek="import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); print(os.lseek(fd, 0, os.SEEK_DATA), os.lseek(fd, 0, os.SEEK_HOLE))"

for lie in honest pread-more dirent-slash dirent-nonul dirent-short lseek-far lseek-neg stat-size \
    handle-dup handle-neg readlink-more; do
    start_hostile "$lie" || continue
    case $lie in
    pread-more | honest)
        check "$lie" hello cat "$mnt/a"
        check "$lie" hel head -c 3 "$mnt/a"
        check "$lie" hello dd if="$mnt/a" bs=16 count=1 status=none
        ;;&
    dirent-* | honest)
        check "$lie" "$(printf 'x\ny')" ls "$mnt/d"
        check "$lie" "$(printf '%s\n' "$mnt/d" "$mnt/d/x" "$mnt/d/y")" find "$mnt/d"
        ;;&
    lseek-* | honest)
        [ -x "$PY" ] && check "$lie" "0 7" "$PY" -c "$py_seek" "$mnt/c"
        check "$lie" def tail -c 4 "$mnt/c"
        ;;&
    stat-size | honest)
        check "$lie" "6 regular file" stat -c '%s %F' "$mnt/a"
        ;;&
    handle-* | honest) check "$lie" "$(printf 'hello\tworld')" paste "$mnt/a" "$mnt/b" ;;&
    stat-size | handle-* | honest) # a create: its reply carries the attributes (zp_openat_stat)
        check "$lie" "regular empty file" sh -c "touch '$mnt/new-$lie' && touch '$mnt/new2-$lie' && stat -c %F '$mnt/new2-$lie'"
        ;;&
    readlink-more | honest) check "$lie" a readlink -v "$mnt/l" ;;&
    *) ;;
    esac
    stop_hostile "$lie"
done

# A relaxed mount's write-behind (zfuse_behind.c) told that a batch wrote more than it sent: the
# program's close fails with EIO (honest: 0), never hangs.
for lie in honest pwritemany-more; do
    start_hostile "$lie" --consistency relaxed || continue
    got=$(timeout 30 "$PY" "$(dirname "$0")/random_writes.py" "$mnt/w-$lie" 300 1024 --fsync 2>&1)
    want=0
    [ "$lie" = honest ] || want=5
    [ "$got" = "$want" ] || fail "$lie: random writes through a relaxed mount: '$got', expected errno $want"
    stop_hostile "$lie"
done
finish
