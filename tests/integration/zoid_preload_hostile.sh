# The interposer against a hostile daemon (issue 12): tests/helpers/zoid_hostile_server.c answers
# with one chosen lie (a count beyond what was asked, a bad directory record, a seek elsewhere,
# a negative size, a handle already in use, ...), and real programs (cat, head, dd, ls, stat,
# paste, readlink, python3) run under `zepto zoid run` against it. Each must print the correct
# data or fail with EIO: never the library's memory, never another file's data, never a crash
# (death by a signal), never a hang (10 s).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

: "${ZHS:?ZHS must name the zoid_hostile_server helper}"
PY=/usr/bin/python3

mkdir -p "$EXPORT/d"
printf 'hello\n' >"$EXPORT/a"
printf 'world\n' >"$EXPORT/b"
printf 'abcdef\n' >"$EXPORT/c"
touch "$EXPORT/d/x" "$EXPORT/d/y"
ln -sf a "$EXPORT/l"

# start_hostile MODE: the hostile daemon telling MODE's lie, on $SOCK.
start_hostile() {
    starts=$((starts + 1))
    rm -f "$SOCK"
    local log="$WORK/hostile.$starts.log"
    "$ZHS" "$1" --listen "unix:$SOCK" --export "$EXPORT" 2>"$log" &
    DAEMON=$!
    local i
    for i in $(seq 200); do
        grep -q "plugin 1 posix" "$log" 2>/dev/null && [ -S "$SOCK" ] && return 0
        kill -0 "$DAEMON" 2>/dev/null || break
        sleep 0.05
    done
    fail "the hostile daemon ($1) did not start: $(cat "$log")"
}

# check LIE EXPECTED CMD...: CMD under the interposer prints EXPECTED, or fails with EIO.
check() {
    local lie=$1 want=$2 rc=0
    shift 2
    timeout 10 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" -- "$@" \
        >"$WORK/out" 2>"$WORK/err" || rc=$?
    local got
    got=$(cat -v "$WORK/out")
    [ "$rc" -ne 124 ] || fail "$lie: $*: hangs"
    [ "$rc" -le 128 ] || fail "$lie: $*: killed by signal $((rc - 128)): $(head -c 300 "$WORK/err")"
    if [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then
        echo "ok: $lie: $*: the correct data"
    elif [ "$rc" -ne 0 ] && grep -q "Input/output error" "$WORK/err"; then
        echo "ok: $lie: $*: EIO"
    else
        fail "$lie: $*: exit $rc, neither the data nor EIO: out '$(printf %s "$got" | head -c 200)'," \
            "err '$(head -c 200 "$WORK/err")'"
    fi
}

py_seek="import sys; f = open(sys.argv[1], 'rb', buffering=0); print(f.seek(2)); print(f.read(3))"

for lie in pread-more dirent-slash dirent-nonul dirent-short lseek-far lseek-neg stat-size \
    handle-dup handle-neg readlink-more; do
    start_hostile "$lie"
    case $lie in
    pread-more)
        check "$lie" hello cat "$MNT/a"
        check "$lie" hel head -c 3 "$MNT/a"
        check "$lie" hello dd if="$MNT/a" bs=16 count=1 status=none
        ;;
    dirent-*)
        check "$lie" "$(printf 'x\ny')" ls "$MNT/d"
        check "$lie" "$(printf '%s\n' "$MNT/d" "$MNT/d/x" "$MNT/d/y")" find "$MNT/d"
        ;;
    lseek-*)
        if [ -x "$PY" ]; then
            check "$lie" "$(printf "2\nb'cde'")" "$PY" -c "$py_seek" "$MNT/c"
        fi
        check "$lie" def tail -c 4 "$MNT/c"
        ;;
    stat-size)
        check "$lie" "6 regular file" stat -c '%s %F' "$MNT/a"
        check "$lie" hello cat "$MNT/a"
        ;;
    handle-dup) check "$lie" "$(printf 'hello\tworld')" paste "$MNT/a" "$MNT/b" ;;
    handle-neg) check "$lie" hello cat "$MNT/a" ;;
    readlink-more) check "$lie" a readlink -v "$MNT/l" ;;
    esac
    stop_daemon
done

# Relaxed small writes at several places go in one zp_pwrite_many (write-behind); told that it
# wrote more than it was sent, the program's close fails with EIO, never hangs.
start_hostile pwritemany-more
got=$(timeout 30 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" --consistency relaxed -- \
    "$PY" "$(dirname "$0")/random_writes.py" "$MNT/w" 300 1024 2>&1)
[ "$got" = 5 ] || fail "pwritemany-more: relaxed random writes: '$got', expected errno 5 (EIO)"
stop_daemon
finish
