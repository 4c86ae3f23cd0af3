# Identity of every call (issue 12): a child of `zepto zoid run` that drops privileges acts as
# what it is now, not as the parent that opened the connection; --insecure tcp peers act as
# nobody (65534). Needs root and setpriv.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (to drop privileges)"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv is missing"; exit 77; }

DROP=(setpriv --reuid=65534 --regid=65534 --clear-groups)
share_with_nobody
start_daemon
chmod 0777 "$SOCK" # the dropped child may connect again, as itself
chmod 0755 "$WORK"
printf 'secret\n' >"$EXPORT/secret"
chmod 0600 "$EXPORT/secret"
chmod 0777 "$EXPORT"
mkdir -p "$EXPORT/rootdir"
chmod 0755 "$EXPORT/rootdir"

# The parent (root) reads it, then a child that dropped privileges over the same connection.
zrun sh -c "cat $MNT/secret; ${DROP[*]} cat $MNT/secret && echo LEAK" >"$WORK/out" 2>"$WORK/err" || true
grep -qx secret "$WORK/out" || fail "root could not read its file: $(cat "$WORK/out" "$WORK/err")"
grep -q LEAK "$WORK/out" && fail "a child of uid 65534 read a root 0600 file"
grep -q "Permission denied" "$WORK/err" || fail "no permission denied: $(cat "$WORK/err")"

# The same process drops privileges over its own connection (no exec, no new connection).
if command -v python3 >/dev/null; then
    zrun python3 -c "
import os
print(open('$MNT/secret').read().strip())
os.setgroups([]); os.setgid(65534); os.setuid(65534)
try:
    open('$MNT/secret').read(); print('LEAK')
except PermissionError:
    print('denied')
try:
    open('$MNT/pymade', 'w').write('x')
except PermissionError:
    pass
" >"$WORK/out" 2>"$WORK/err" || true
    grep -qx secret "$WORK/out" || fail "python as root: $(cat "$WORK/out" "$WORK/err")"
    grep -qx denied "$WORK/out" || fail "a process that became 65534 read a root 0600 file: $(cat "$WORK/out" "$WORK/err")"
    [ "$(stat -c %u "$EXPORT/pymade" 2>/dev/null)" = 0 ] && fail "a process that became 65534 created a root-owned file"
fi

# A file created after the drop belongs to 65534; one in a root 0755 directory is refused.
zrun sh -c "${DROP[*]} sh -c 'echo x >$MNT/made; echo y >$MNT/rootdir/made'" 2>"$WORK/err" || true
[ "$(stat -c %u "$EXPORT/made")" = 65534 ] || fail "file made after the drop: uid $(stat -c %u "$EXPORT/made")"
[ -e "$EXPORT/rootdir/made" ] && fail "a child of uid 65534 created a file in a root 0755 directory"
stop_daemon

# --insecure on loopback: peers act as nobody.
PORT=$((20000 + RANDOM % 20000))
log="$WORK/insecure.log"
"$ZEPTO" zoid serve --listen "tcp:127.0.0.1:$PORT" --insecure --export "$EXPORT" 2>"$log" &
DAEMON=$!
for i in $(seq 200); do
    grep -q "plugin 1 posix" "$log" 2>/dev/null && break
    sleep 0.05
done
T=(timeout 60 "$ZEPTO" zoid run --server "tcp:127.0.0.1:$PORT" --mount "$MNT" --)
"${T[@]}" sh -c "echo z >$MNT/tcpmade" || fail "--insecure client could not create a file"
[ "$(stat -c %u "$EXPORT/tcpmade")" = 65534 ] || fail "--insecure: created as uid $(stat -c %u "$EXPORT/tcpmade")"
"${T[@]}" cat "$MNT/secret" >"$WORK/out" 2>&1 && fail "--insecure client read a root 0600 file"
grep -qx secret "$WORK/out" && fail "--insecure client read a root 0600 file"
stop_daemon
finish
