# `zepto zoid run` on bad input: usage errors exit 2 with one line naming the input; a command
# that cannot be run exits 127 (not found) or 126 (not executable); the program's own exit
# status is passed through; the environment the program gets.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

R=("$ZEPTO" zoid run)
expect_status 2 "missing --server" "${R[@]}" --mount /m -- true
expect_status 2 "missing --mount" "${R[@]}" --server "unix:$SOCK" -- true
expect_status 2 "--mount 'rel/dir': must be an absolute path" \
    "${R[@]}" --server "unix:$SOCK" --mount rel/dir -- true
expect_status 2 "--mount '/': must name a directory" "${R[@]}" --server "unix:$SOCK" --mount / -- true
expect_status 2 "--mount '/a/../b'" "${R[@]}" --server "unix:$SOCK" --mount /a/../b -- true
expect_status 2 "--consistency 'eventual': use strict or relaxed" \
    "${R[@]}" --server "unix:$SOCK" --mount /m --consistency eventual -- true
expect_status 2 "--server 'bogus': unknown transport" "${R[@]}" --server bogus --mount /m -- true
expect_status 2 "missing the command" "${R[@]}" --server "unix:$SOCK" --mount /m --
expect_status 2 "unexpected argument 'true'" "${R[@]}" --server "unix:$SOCK" --mount /m true
expect_status 2 "--token-file '$WORK/none'" \
    "${R[@]}" --server "unix:$SOCK" --mount /m --token-file "$WORK/none" -- true
expect_status 2 "unrecognized option|unknown option" "${R[@]}" --bogus
"${R[@]}" --help | grep -q '^example:' || fail "--help has no example"

start_daemon
expect_status 127 "no-such-program-zoid: No such file or directory" \
    "${R[@]}" --server "unix:$SOCK" --mount /m -- no-such-program-zoid
printf 'x' >"$WORK/notexec"
chmod 0644 "$WORK/notexec"
expect_status 126 "notexec: Permission denied" "${R[@]}" --server "unix:$SOCK" --mount /m -- "$WORK/notexec"
status=0
"${R[@]}" --server "unix:$SOCK" --mount /m -- sh -c 'exit 7' || status=$?
[ "$status" -eq 7 ] || fail "exit status not passed through: $status"

# The environment: the library first in LD_PRELOAD (an existing entry kept after it), the
# server, the normalised prefix, the consistency when given.
LD_PRELOAD=/nonexistent-but-kept.so expect_ok "${R[@]}" --server "unix:$SOCK" \
    --mount //m//x/ --consistency relaxed -- env
grep -q '^LD_PRELOAD=/.*/libzoid-preload.so /nonexistent-but-kept.so$' "$WORK/stdout" ||
    fail "LD_PRELOAD: $(grep LD_PRELOAD "$WORK/stdout")"
grep -qx "ZOID_SERVER=unix:$SOCK" "$WORK/stdout" || fail "ZOID_SERVER missing"
grep -qx "ZOID_MOUNT=/m/x" "$WORK/stdout" || fail "ZOID_MOUNT: $(grep ZOID_MOUNT "$WORK/stdout")"
grep -qx "ZOID_CONSISTENCY=relaxed" "$WORK/stdout" || fail "ZOID_CONSISTENCY missing"

stop_daemon
finish
