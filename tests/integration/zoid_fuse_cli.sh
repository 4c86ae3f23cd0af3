# `zepto zoid mount` on bad input: usage errors exit 2, what fails at run time exits 1, each with
# one line naming the problem, and nothing is left mounted. With FUSE usable: the mount point
# missing or not a directory, the daemon unreachable, a TCP daemon without or with the wrong
# token, are all reported before mounting; with the right token it mounts; the default mode
# detaches and the detached process ends at `fusermount3 -u`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_fuse_lib.sh"

mnt="$WORK/mnt"
mkdir -p "$mnt"

# Usage errors (exit 2).
expect_status 2 "missing --server" "$ZEPTO" zoid mount "$mnt"
expect_status 2 "--server 'bogus': unknown transport" "$ZEPTO" zoid mount --server bogus "$mnt"
expect_status 2 "missing MOUNTPOINT" "$ZEPTO" zoid mount --server unix:/nonexistent.sock
expect_status 2 "--consistency 'eventual': use strict or relaxed" \
    "$ZEPTO" zoid mount --server unix:/x.sock --consistency eventual "$mnt"
expect_status 2 "--threads" "$ZEPTO" zoid mount --server unix:/x.sock --threads 0 "$mnt"
expect_status 2 "unexpected argument 'extra'" "$ZEPTO" zoid mount --server unix:/x.sock "$mnt" extra
expect_status 2 "unknown option|unrecognized option" "$ZEPTO" zoid mount --bogus "$mnt"
"$ZEPTO" zoid mount --help | grep -q '^example:' || fail "--help has no example"

status=0
"$ZEPTO" zoid mount --server unix:/x.sock "$mnt" 2>"$WORK/err" || status=$?
if grep -q "built without libfuse3" "$WORK/err"; then
    [ "$status" -eq 1 ] || fail "built without libfuse3: exit $status, expected 1"
    echo "SKIP: zepto was built without libfuse3 (usage errors checked)"
    [ "$failures" -eq 0 ] && exit 77
    finish
fi
if [ ! -c /dev/fuse ]; then
    expect_status 1 "/dev/fuse is absent" "$ZEPTO" zoid mount --server unix:/x.sock "$mnt"
    echo "SKIP: /dev/fuse is absent (usage errors checked)"
    [ "$failures" -eq 0 ] && exit 77
    finish
fi
require_fuse

# Runtime errors (exit 1), before anything is mounted.
expect_status 1 "mount point $WORK/none: No such file or directory" \
    "$ZEPTO" zoid mount --server unix:/x.sock "$WORK/none"
: >"$WORK/file"
expect_status 1 "mount point $WORK/file: not a directory" \
    "$ZEPTO" zoid mount --server unix:/x.sock "$WORK/file"
expect_status 1 "unix:$WORK/absent.sock" "$ZEPTO" zoid mount --server "unix:$WORK/absent.sock" "$mnt"
is_mounted "$mnt" && fail "a mount was left after the daemon was unreachable"

# TCP with a token.
printf 'right\n' >"$WORK/token"
printf 'wrong\n' >"$WORK/bad-token"
chmod 600 "$WORK/token" "$WORK/bad-token"
mkdir -p "$WORK/tcp-export"
echo tcp >"$WORK/tcp-export/f"
tcp_daemon=
for try in 1 2 3 4 5; do
    port=$((20000 + (RANDOM * 7 + try) % 40000))
    "$ZEPTO" zoid serve --listen "tcp:127.0.0.1:$port" --token-file "$WORK/token" \
        --export "$WORK/tcp-export" 2>>"$WORK/tcp-daemon.log" &
    tcp_daemon=$!
    daemon_pids+=("$tcp_daemon")
    listening() { (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null || ! kill -0 "$tcp_daemon" 2>/dev/null; }
    wait_for 10 listening
    kill -0 "$tcp_daemon" 2>/dev/null && break
    tcp_daemon= # that port was taken
done
if [ -n "$tcp_daemon" ]; then
    expect_status 1 "wrong token" "$ZEPTO" zoid mount --server "tcp:127.0.0.1:$port" \
        --token-file "$WORK/bad-token" "$mnt"
    expect_status 1 "wants a token" env -u ZOID_TOKEN_FILE "$ZEPTO" zoid mount \
        --server "tcp:127.0.0.1:$port" "$mnt"
    is_mounted "$mnt" && fail "a mount was left after the daemon refused"
    if mount_fg "$mnt" "tcp:127.0.0.1:$port" --token-file "$WORK/token"; then
        [ "$(cat "$mnt/f")" = tcp ] || fail "reading through the TCP mount"
        fusermount3 -u "$mnt"
        wait "$mount_pid" || fail "the TCP mount process exited $?"
    else
        fail "the TCP mount with the right token did not come up: $(tail -n 1 "$WORK/mount.log")"
    fi
else
    fail "no free TCP port for the daemon"
fi

# The default: detach once mounted; the detached process ends when unmounted.
start_daemon bg
echo bg >"$WORK/bg-export/f"
mounts+=("$mnt")
expect_ok "$ZEPTO" zoid mount --server "unix:$WORK/bg.sock" "$mnt"
is_mounted "$mnt" || fail "the detached mount is not in /proc/mounts"
[ "$(cat "$mnt/f" 2>&1)" = bg ] || fail "reading through the detached mount: $(cat "$mnt/f" 2>&1)"
bgpid=$(pgrep -f -- "zoid mount --server unix:$WORK/bg.sock" | head -n 1)
[ -n "$bgpid" ] || fail "no detached mount process"
fusermount3 -u "$mnt" || fail "fusermount3 -u of the detached mount"
gone() { [ -z "$bgpid" ] || [ ! -d "/proc/$bgpid" ] || grep -q '^State:.*Z' "/proc/$bgpid/status"; }
wait_for 10 gone || fail "the detached mount process $bgpid did not exit after fusermount3 -u"
finish
