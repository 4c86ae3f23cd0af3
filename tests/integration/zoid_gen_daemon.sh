# The stubs and dispatch generated from zoid_gen_all.h through a real daemon: `zepto zoid serve`
# loads the generated plugin from $PLUGIN_DIR, and test_zoid_gen_daemon ($DRIVER) calls every
# annotation kind through it; then the daemon stops cleanly on SIGTERM.
. "$(dirname "$0")/lib.sh"
: "${DRIVER:?DRIVER must name test_zoid_gen_daemon}"
: "${PLUGIN_DIR:?PLUGIN_DIR must name the directory of zoid_gen_all_plugin.so}"

sock="$WORK/gen.sock"
rm -f "$sock"
mkdir -p "$WORK/export"
"$ZEPTO" zoid serve --listen "unix:$sock" --export "$WORK/export" --plugin-dir "$PLUGIN_DIR" \
    --max-payload 1M 2>"$WORK/daemon.log" &
daemon=$!
trap 'kill -9 $daemon 2>/dev/null' EXIT
export ZOID_SERVER="unix:$sock"

# The daemon logs its plugins once it listens: wait for that line, not for a time.
for _ in $(seq 200); do
    grep -q "plugin 4343 all" "$WORK/daemon.log" && break
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.05
done
grep -q "plugin 4343 all" "$WORK/daemon.log" ||
    fail "the daemon did not start with the plugin: $(cat "$WORK/daemon.log")"

expect_ok "$DRIVER"
kill -TERM "$daemon"
status=0
wait "$daemon" || status=$?
trap - EXIT
[ "$status" -eq 0 ] || fail "the daemon exited $status on SIGTERM: $(tail -5 "$WORK/daemon.log")"
finish
