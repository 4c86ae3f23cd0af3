# The kv example through a real daemon: `zepto zoid serve` loads libkv_zoid.so from
# $PLUGIN_DIR and kv_demo ($KV_DEMO, linked with the generated stubs only) calls it. Proves the
# tour's every answer, namespaces kept apart per client, a client's namespace released when it
# exits or is killed, clients in parallel, and a clean daemon stop.
. "$(dirname "$0")/../../tests/integration/lib.sh"
: "${KV_DEMO:?KV_DEMO must name kv_demo}"
: "${PLUGIN_DIR:?PLUGIN_DIR must name the directory of libkv_zoid.so}"

[ -f "$PLUGIN_DIR/libkv_zoid.so" ] || fail "no libkv_zoid.so in $PLUGIN_DIR"

sock="$WORK/kv.sock"
mkdir -p "$WORK/export"
"$ZEPTO" zoid serve --listen "unix:$sock" --export "$WORK/export" --plugin-dir "$PLUGIN_DIR" \
    2>"$WORK/daemon.log" &
daemon=$!
holder=
trap 'kill -9 $daemon $holder 2>/dev/null' EXIT
for _ in $(seq 400); do # up to 20 s: a loaded machine (ctest -j) starts slowly
    [ -S "$sock" ] && break
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.05
done
if [ ! -S "$sock" ]; then
    echo "FAIL: the daemon did not start: $(cat "$WORK/daemon.log")" >&2
    exit 1
fi
export ZOID_SERVER="unix:$sock"

# clients_become N: the daemon holds N namespaces (waiting a little for client_gone to run).
clients_become() {
    local want=$1 got=
    for _ in $(seq 200); do
        got=$("$KV_DEMO" clients 2>&1) && [ "$got" = "$want" ] && return 0
        sleep 0.1
    done
    fail "the daemon holds $got namespace(s), expected $want"
}

expect_ok "$KV_DEMO" run
grep -q "^0 wrong" "$WORK/stdout" || fail "the tour: $(cat "$WORK/stdout")"
clients_become 1

# A client that stays, then is killed: its namespace lives as long as it does, unseen by others.
"$KV_DEMO" hold >"$WORK/hold.out" 2>&1 &
holder=$!
for _ in $(seq 400); do
    grep -q holding "$WORK/hold.out" && break
    sleep 0.05
done
grep -q holding "$WORK/hold.out" || fail "kv_demo hold: $(cat "$WORK/hold.out")"
clients_become 2
status=0
"$KV_DEMO" get held >"$WORK/stdout" 2>&1 || status=$?
[ "$status" -eq 3 ] || fail "another client's key was visible (status $status): $(cat "$WORK/stdout")"
kill -9 "$holder"
wait "$holder" 2>/dev/null
holder=
clients_become 1

# A client that fills its namespace and exits.
expect_ok "$KV_DEMO" fill 500
grep -q "^filled 500$" "$WORK/stdout" || fail "kv_demo fill: $(cat "$WORK/stdout")"
clients_become 1

# Clients in parallel, each in its own namespace.
pids=()
for i in 1 2 3 4; do
    "$KV_DEMO" run >"$WORK/run$i.out" 2>&1 &
    pids+=($!)
done
for i in 1 2 3 4; do
    wait "${pids[$((i - 1))]}" || fail "parallel run $i: $(cat "$WORK/run$i.out")"
done
clients_become 1

kill -TERM "$daemon"
status=0
wait "$daemon" || status=$?
[ "$status" -eq 0 ] || fail "the daemon exited $status on SIGTERM: $(tail -5 "$WORK/daemon.log")"
trap - EXIT
finish
