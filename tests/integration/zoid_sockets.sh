# Socket forwarding on one host (docs/zoid-sockets.md): unmodified curl and python3 reach an HTTP
# server through `zepto zoid run --sockets` and the daemon's relay, whose socket is owned by the
# calling user; the allow-list refuses other destinations with EACCES and a log line; a name only
# the daemon can resolve works; junk on the relay port and junk requests to the plugin are
# refused; the daemon killed mid-transfer gives the program an error, not a hang; bad
# --allow-connect values are usage errors. The cluster test (cluster_zoid_sockets.sh) adds a
# compute node that has no route to the server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_sockets_lib.sh"

command -v curl >/dev/null && command -v python3 >/dev/null ||
    { echo "SKIP: needs curl and python3"; exit 77; }
ADDR=$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}')
[ -n "$ADDR" ] || { echo "SKIP: no non-loopback IPv4 address (loopback is never forwarded)"; exit 77; }

SOCK=$WORK/zoid.sock
mkdir -p "$WORK/export" "$WORK/www"
echo hello >"$WORK/www/small"
head -c $((8 << 20)) /dev/urandom >"$WORK/www/big"
# Larger than every socket buffer on the way, so that a cut cannot hide in them.
truncate -s 64M "$WORK/www/huge"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

# An HTTP server on ADDR, an ephemeral port (python prints it).
(cd "$WORK/www" && exec python3 -u -c '
import http.server, sys
s = http.server.ThreadingHTTPServer((sys.argv[1], 0), http.server.SimpleHTTPRequestHandler)
print(s.server_address[1], flush=True)
s.serve_forever()' "$ADDR" >"$WORK/http.port" 2>/dev/null) &
pids+=($!)
wait_for test -s "$WORK/http.port" || { fail "the HTTP server did not start"; finish; }
PORT=$(cat "$WORK/http.port")
# A port nothing allows (the daemon must refuse it, not try it).
DENIED=$((PORT == 65535 ? PORT - 1 : PORT + 1))

start_daemon() { # ARGS...: the daemon on $SOCK with extra options
    rm -f "$SOCK"
    "$ZEPTO" zoid serve --listen "unix:$SOCK" --export "$WORK/export" "$@" 2>>"$WORK/daemon.log" &
    daemon=$!
    pids+=($daemon)
    wait_for test -S "$SOCK" || fail "the daemon did not start: $(tail -3 "$WORK/daemon.log")"
}
zrun() { "$ZEPTO" zoid run --server "unix:$SOCK" --sockets -- "$@"; }

# 1. Through the daemon: curl (poll, non-blocking connect), python (select, getpeername).
start_daemon --allow-connect "$ADDR:$PORT"
out=$(zrun curl -sS --max-time 20 "http://$ADDR:$PORT/small" 2>&1) || fail "curl: $out"
[ "$out" = hello ] || fail "curl through the daemon got '$out'"
grep -q "connected to $ADDR:$PORT" "$WORK/daemon.log" ||
    fail "the daemon logged no forwarded connection: $(tail -3 "$WORK/daemon.log")"
zrun curl -sS --max-time 60 -o "$WORK/big.got" "http://$ADDR:$PORT/big" || fail "curl big failed"
cmp -s "$WORK/big.got" "$WORK/www/big" || fail "8 MiB through the relay differ"
out=$(zrun python3 -c "$SF_PROBE" "$ADDR" "$PORT" 2>&1)
[ "$out" = "ok $ADDR:$PORT $(printf '%s' "$out" | awk '{print $3}') hello" ] ||
    fail "python through the daemon: '$out'"
n=$(grep -c "connected to $ADDR:$PORT" "$WORK/daemon.log")
[ "$n" -ge 3 ] || fail "3 forwarded connections expected in the log, found $n"
# Without --sockets the same program connects directly: the daemon sees nothing more.
"$ZEPTO" zoid run --server "unix:$SOCK" --mount /zsf-none -- curl -sS "http://$ADDR:$PORT/small" >/dev/null
[ "$(grep -c "connected to $ADDR:$PORT" "$WORK/daemon.log")" -eq "$n" ] ||
    fail "a connection without --sockets went through the daemon"

# As the caller: curl run as uid 65534; the daemon's socket to the server is owned by 65534
# (what netfilter's owner match and ss -e see), not by the daemon's root.
if command -v setpriv >/dev/null && command -v ss >/dev/null &&
    setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$ZEPTO"; then
    chmod 777 "$SOCK"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$ZEPTO" zoid run --server "unix:$SOCK" \
        --sockets -- curl -sS --max-time 30 --limit-rate 1m -o /dev/null \
        "http://$ADDR:$PORT/huge" 2>/dev/null &
    slow=$!
    owned() { ss -tnpHe dst "$ADDR:$PORT" | grep -q "users:((\"zepto\",pid=$daemon,.*uid:65534 "; }
    wait_for owned ||
        fail "the daemon's connection for uid 65534 is not 65534's: $(ss -tnpHe dst "$ADDR:$PORT")"
    kill "$slow" 2>/dev/null
    wait "$slow" 2>/dev/null
else
    echo "note: setpriv or ss missing, or uid 65534 cannot run $ZEPTO: the owner not tested"
fi

# A hostile client: 3,000 random requests to the plugin, each refused; the daemon serves on.
"$BIN/zoid_sockfwd_junk" "unix:$SOCK" 3000 7 || fail "a junk request to the plugin was not refused"
out=$(zrun curl -sS --max-time 20 "http://$ADDR:$PORT/small" 2>&1)
[ "$out" = hello ] || fail "after junk requests: '$out'"

# 2. Refused: a port outside the allow-list gives EACCES and a log line.
out=$(zrun python3 -c "$SF_PROBE" "$ADDR" "$DENIED" 2>&1)
[ "$out" = "errno EACCES" ] || fail "disallowed port: '$out', expected errno EACCES"
grep -q "connect to $ADDR:$DENIED refused: not allowed by --allow-connect" "$WORK/daemon.log" ||
    fail "no log line for the refused destination"
status=0
zrun curl -sS --max-time 20 "http://$ADDR:$DENIED/" 2>/dev/null || status=$?
[ "$status" -eq 7 ] || fail "curl to a disallowed port: exit $status, expected 7"

# 3. Junk on the relay port (no cookie, a wrong one): closed, logged, the relay still serves.
RELAY=$(sed -n 's/.*relay on port \([0-9]*\).*/\1/p' "$WORK/daemon.log" | tail -1)
python3 - "$RELAY" <<'PY' || fail "the relay answered junk"
import socket, sys
for junk in (b"", b"x" * 10, b"\0" * 32, b"GET / HTTP/1.0\r\n\r\n" * 4):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    s.sendall(junk)
    if len(junk) < 32:
        s.shutdown(socket.SHUT_WR)
    try:
        b = s.recv(1)
    except ConnectionResetError:
        b = b""
    assert b == b"", b
PY
grep -q "without a valid cookie" "$WORK/daemon.log" || fail "junk on the relay was not logged"
out=$(zrun curl -sS --max-time 20 "http://$ADDR:$PORT/small" 2>&1)
[ "$out" = hello ] || fail "after junk on the relay: '$out'"

# 4. The daemon killed mid-transfer: curl (limited to 512 KiB/s) fails within seconds.
sockets_cut_mid_transfer "$daemon" "http://$ADDR:$PORT/huge" zrun
# After the daemon is gone, a forwarded connect is refused at once (no daemon to ask).
# (zoid run itself checks the daemon first: the interposer's environment is set by hand.)
out=$(LD_PRELOAD="$BIN/../lib/libzoid-preload.so" ZOID_SERVER="unix:$SOCK" ZOID_SOCKETS=1 \
    python3 -c "$SF_PROBE" "$ADDR" "$PORT" 2>&1)
[ "$out" = "errno ECONNREFUSED" ] || fail "connect without a daemon: '$out'"

# 5. No --allow-connect: every forwarded connect is refused (the default is none).
start_daemon
out=$(zrun python3 -c "$SF_PROBE" "$ADDR" "$PORT" 2>&1)
[ "$out" = "errno EACCES" ] || fail "default allow-list: '$out', expected errno EACCES"
kill "$daemon"

# 6. A name only the daemon can resolve (its own /etc/hosts, in a mount namespace of its own).
if unshare -m true 2>/dev/null; then
    printf '%s zsf-only-the-daemon.test\n' "$ADDR" >"$WORK/hosts"
    rm -f "$SOCK"
    unshare -m sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$WORK/hosts" \
        "$ZEPTO" zoid serve --listen "unix:$SOCK" --export "$WORK/export" \
        --allow-connect "$ADDR:$PORT" 2>>"$WORK/daemon.log" &
    daemon=$!
    pids+=($daemon)
    wait_for test -S "$SOCK" || fail "the daemon in its namespace did not start"
    getent hosts zsf-only-the-daemon.test >/dev/null && fail "the test name resolves locally"
    out=$(zrun curl -sS --max-time 20 "http://zsf-only-the-daemon.test:$PORT/small" 2>&1)
    [ "$out" = hello ] || fail "a name resolved by the daemon: '$out'"
    kill "$daemon"
else
    echo "note: no mount namespaces here: name resolution at the daemon not tested"
fi

# 7. Bad input on the command line: one line, exit 2.
for bad in 10.0.0.0/33:80 1.2.3.4 1.2.3.4:0 1.2.3.4:70000 1.2.3.4:90-80 '[::1:80' nohost:80 \
    1.2.3.4:80, ''; do
    expect_status 2 "allow-connect '$(printf '%s' "$bad" | sed 's/[][]/./g')'" "$ZEPTO" zoid serve --listen "unix:$WORK/x.sock" \
        --export "$WORK/export" --allow-connect "$bad"
done
expect_status 2 "missing --mount PREFIX \(or --sockets\)" "$ZEPTO" zoid run --server \
    "unix:$SOCK" -- true

finish
