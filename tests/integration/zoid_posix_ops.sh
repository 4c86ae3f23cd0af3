# The posix plugin through a real daemon: starts `zepto zoid serve` on a fresh export (no
# --plugin-dir: the plugin is built in) and runs test_zoid_posix_ops ($DRIVER) against it, then
# checks the daemon's log (session lines) and that it stops cleanly on SIGTERM.
. "$(dirname "$0")/lib.sh"
: "${DRIVER:?DRIVER must name test_zoid_posix_ops}"
if [ "$(id -u)" -ne 0 ]; then
    echo "skip: needs root (the driver forks clients of other uids)"
    exit 77
fi
# --consistency: a usage error for anything but strict or relaxed; --help mentions it.
expect_status 2 "consistency" "$ZEPTO" zoid serve --listen "unix:$WORK/bad.sock" --export "$WORK" \
    --consistency sloppy
"$ZEPTO" zoid serve --help | grep -q -- "--consistency" || fail "serve --help: no --consistency"

# Clients of uid 65534 must reach the socket and the driver: $WORK and the build may sit below a
# directory only root can enter (a clone made with mktemp -d), so both live in a scratch directory
# anyone can enter.
shared=$(mktemp -d /tmp/zepto-posix-ops.XXXXXX)
chmod 0755 "$shared"
cp "$DRIVER" "$shared/"
driver_copy="$shared/$(basename "$DRIVER")"
sock="$shared/posix.sock"
export_dir="$WORK/export"
mkdir -p "$export_dir"
chmod 0755 "$WORK" "$export_dir"
umask 022 # the daemon's umask must not mask the modes clients send
"$ZEPTO" zoid serve --listen "unix:$sock" --export "$export_dir" --threads 4 --max-payload 1M \
    2>"$WORK/daemon.log" &
daemon=$!
trap 'kill -9 $daemon 2>/dev/null; rm -rf "$shared"' EXIT
for _ in $(seq 200); do
    grep -q "plugin 1 posix" "$WORK/daemon.log" && break
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.05
done
grep -q "plugin 1 posix" "$WORK/daemon.log" ||
    fail "the daemon did not start with the posix plugin: $(cat "$WORK/daemon.log")"
chmod 0666 "$sock" # clients of other uids connect too

status=0
"$driver_copy" "unix:$sock" "$export_dir" "$daemon" || status=$?
[ "$status" -eq 0 ] || fail "test_zoid_posix_ops exited $status"
# The identity checks again, the client a process that setpriv made uid 65534 with no groups.
if command -v setpriv >/dev/null; then
    expect_ok setpriv --reuid=65534 --regid=65534 --clear-groups "$driver_copy" "unix:$sock" nobody
    owner=$(stat -c %u:%g "$export_dir/id/open/mine-setpriv" 2>/dev/null || echo none)
    [ "$owner" = "65534:65534" ] || fail "a file created as 65534 is owned by $owner"
fi
grep -q "posix: session [0-9]* created" "$WORK/daemon.log" || fail "no session line in the log"
grep -q "posix: session [0-9]* released" "$WORK/daemon.log" || fail "no release line in the log"

kill -TERM "$daemon"
status=0
wait "$daemon" || status=$?
trap 'rm -rf "$shared"' EXIT
[ "$status" -eq 0 ] || fail "the daemon exited $status on SIGTERM: $(tail -5 "$WORK/daemon.log")"

# serve --consistency relaxed: the default that zp_session_new reports.
"$ZEPTO" zoid serve --listen "unix:$WORK/relaxed.sock" --export "$export_dir" \
    --consistency relaxed 2>"$WORK/relaxed.log" &
daemon=$!
trap 'kill -9 $daemon 2>/dev/null; rm -rf "$shared"' EXIT
for _ in $(seq 200); do
    grep -q "plugin 1 posix" "$WORK/relaxed.log" && break
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.05
done
expect_ok "$DRIVER" "unix:$WORK/relaxed.sock" relaxed
kill -TERM "$daemon"
wait "$daemon" || fail "the relaxed daemon did not stop cleanly"
trap - EXIT
rm -rf "$shared"
finish
