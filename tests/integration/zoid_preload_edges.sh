# Edges of the interposer where data could be lost or a program crash (tests/helpers/
# zoid_preload_edge.c): a raw close_range(3, ~0) that takes the library's connection (later
# writes still arrive, and never land in the program's own file that took the socket's number);
# bind/connect/sendto/sendmsg of a unix socket on a forwarded path (EOPNOTSUPP, and no socket
# appears in the real working directory); invalid path pointers (EFAULT, not a crash).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

: "${ZPE:?ZPE must name the zoid_preload_edge program}"
start_daemon
for c in strict relaxed; do
    mkdir -p "$EXPORT/$c"
    rm -f "$WORK/local.$c"
    expect_ok timeout 60 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" \
        --consistency "$c" -- "$ZPE" closerange "$MNT/$c" "$WORK/local.$c"
    [ "$(cat "$EXPORT/$c/before" 2>/dev/null)" = one ] || fail "$c: before close_range"
    [ "$(cat "$EXPORT/$c/after" 2>/dev/null)" = two ] || fail "$c: after close_range"
    [ "$(cat "$EXPORT/$c/closefrom" 2>/dev/null)" = three ] || fail "$c: after closefrom"
    [ ! -s "$WORK/local.$c" ] || fail "$c: the library wrote into the program's own file"
done

# Unix sockets on forwarded paths: refused, nothing created locally or in the export.
mkdir -p "$EXPORT/socks" "$WORK/cwd"
(cd "$WORK/cwd" && expect_ok timeout 60 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" \
    -- "$ZPE" sockets "$MNT/socks") || failures=$((failures + 1))
[ -z "$(ls -A "$WORK/cwd")" ] || fail "sockets: something appeared in the real cwd: $(ls -A "$WORK/cwd")"
[ -z "$(ls -A "$EXPORT/socks")" ] || fail "sockets: something appeared in the export"

# Invalid path pointers: EFAULT from open, stat, mkdir, unlink, rename, opendir, fopen, chdir;
# with the working directory local and forwarded.
expect_ok zrun "$ZPE" efault
mkdir -p "$EXPORT/cwd"
expect_ok zrun sh -c "cd $MNT/cwd && exec \"\$0\" efault" "$ZPE"

stop_daemon
finish
