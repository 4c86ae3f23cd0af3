# Edges of the interposer where data could be lost or a program crash (tests/helpers/
# zoid_preload_edge.c): a raw close_range(3, ~0) that takes the library's connection (later
# writes still arrive, and never land in the program's own file that took the socket's number);
# bind/connect/sendto/sendmsg of a unix socket on a forwarded path (EOPNOTSUPP, and no socket
# appears in the real working directory); invalid path and buffer pointers (EFAULT, not a crash,
# the connection still in step); a client
# the daemon socket's permissions refuse (EACCES, not EIO); a setuid program (run without the
# interposer) writing into a forwarded stdout: its output arrives or the command fails, never an
# exit 0 with an empty file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

: "${ZPE:?ZPE must name the zoid_preload_edge program}"
[ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null || share_with_nobody
start_daemon
for c in strict relaxed; do
    mkdir -p "$EXPORT/$c"
    rm -f "$WORK/local.$c"
    expect_ok timeout 60 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" \
        --consistency "$c" -- "$ZPE" closerange "$MNT/$c" "$WORK/local.$c"
    [ "$(cat "$EXPORT/$c/before" 2>/dev/null)" = one ] || fail "$c: before close_range"
    [ "$(cat "$EXPORT/$c/after" 2>/dev/null)" = two ] || fail "$c: after close_range"
    [ "$(cat "$EXPORT/$c/closefrom" 2>/dev/null)" = three ] || fail "$c: after closefrom"
    [ "$(cat "$WORK/local.$c")" = local ] || fail "$c: the local file is not what the program wrote"
    [ ! -s "$EXPORT/$c/kept" ] || fail "$c: a local write went to the forwarded file"
done

# Unix sockets on forwarded paths: refused, nothing created locally or in the export.
mkdir -p "$EXPORT/socks" "$WORK/cwd"
(cd "$WORK/cwd" && expect_ok timeout 60 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" \
    -- "$ZPE" sockets "$MNT/socks") || failures=$((failures + 1))
[ -z "$(ls -A "$WORK/cwd")" ] || fail "sockets: something appeared in the real cwd: $(ls -A "$WORK/cwd")"
[ -z "$(ls -A "$EXPORT/socks")" ] || fail "sockets: something appeared in the export"

# Bad buffers (unmapped, PROT_NONE, read-only, running off their mapping, 2 MiB ones with a bad
# last page) handed to read, write, their vector forms, fstat, fstatfs, getdents64, readlink,
# futimens, and socket addresses: EFAULT, no crash, the descriptor and the connection working
# after each.
: "${ZPB:?ZPB must name the zoid_preload_badbuf program}"
mkdir -p "$EXPORT/badbuf"
for c in strict relaxed; do
    expect_ok timeout 60 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" --sockets \
        --consistency "$c" -- "$ZPB" "$MNT/badbuf"
done

# Invalid path pointers: EFAULT from open, stat, mkdir, unlink, rename, opendir, fopen, chdir;
# with the working directory local and forwarded.
expect_ok zrun "$ZPE" efault
mkdir -p "$EXPORT/cwd"
expect_ok zrun sh -c "cd $MNT/cwd && exec \"\$0\" efault" "$ZPE"

# Refused by the socket's permissions (mode 0600, a client running as nobody): EACCES. The
# preload is set by hand (`zoid run` would fail itself before starting the program).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && [ -n "${ZPL_LIB:-}" ]; then
    chmod 0600 "$SOCK"
    expect_ok timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups \
        env LD_PRELOAD="$ZPL_LIB" ZOID_SERVER="unix:$SOCK" ZOID_MOUNT="$MNT" "$ZPE" refused "$MNT"
    chmod 0666 "$SOCK"
    suid=$(command -v mount || true)
    if [ -n "$suid" ] && [ -u "$suid" ]; then
        mkdir -p "$EXPORT/suid"
        chmod 0777 "$EXPORT/suid"
        status=$(cd /tmp && timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups \
            env LD_PRELOAD="$ZPL_LIB" ZOID_SERVER="unix:$SOCK" ZOID_MOUNT="$MNT" \
            sh -c "\"$suid\" --version >$MNT/suid/out 2>/dev/null; echo \$?")
        if [ "$status" = 0 ] && [ ! -s "$EXPORT/suid/out" ]; then
            fail "setuid $suid: exit 0 and its output lost"
        fi
    else
        echo "skipped: no setuid mount for the setuid check"
    fi
else
    echo "skipped: the refused-client and setuid checks need root and setpriv"
fi

stop_daemon
finish
