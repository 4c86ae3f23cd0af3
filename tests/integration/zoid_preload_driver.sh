# The C driver (zoid_preload_prog.c) through the interposer: stdio (fopen, fdopen, freopen of
# stdout, mkstemp), directory streams and the working directory, threads writing at once, fork
# (an inherited descriptor, locks between processes), and the descriptor calls (dup, fcntl,
# readv, pwrite, mmap = ENODEV, rename across the mount = EXDEV, ...), in strict and relaxed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

: "${ZPP:?ZPP must name the zoid_preload_prog driver}"
start_daemon
for c in strict relaxed; do
    for m in stdio dir fork misc; do
        mkdir -p "$EXPORT/$c-$m"
        expect_ok timeout 60 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" \
            --consistency "$c" -- "$ZPP" "$m" "$MNT/$c-$m"
    done
    mkdir -p "$EXPORT/$c-threads"
    expect_ok timeout 60 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" \
        --consistency "$c" -- "$ZPP" threads "$MNT/$c-threads" 16
    [ "$(stat -c %s "$EXPORT/$c-threads/shared")" -eq $((16 * 64 * 4096)) ] ||
        fail "$c: threads: the shared file has the wrong size"
    for i in 0 7 15; do
        [ "$(stat -c %s "$EXPORT/$c-threads/t$i")" -eq $((64 * 4096)) ] ||
            fail "$c: threads: t$i has the wrong size"
    done
done
# freopen'd stdout went to the file, not to the terminal.
[ "$(cat "$EXPORT/strict-stdio/out.txt")" = "to stdout 42" ] || fail "freopen: out.txt"

stop_daemon
finish
