# zepto zoid bench measures a daemon on a unix socket: every figure is there and positive, the p99
# is at least the median, calls/s for 1, 4, 16 and 64 clients, both directions for every payload
# size; on TCP it proves the token; bad input exits 2 (usage) or 1 (runtime) with one line that
# names the problem. The daemons are started in the background and waited for by the bench's own
# connection retries (--wait), never by sleeping.
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || { echo "SKIP: jq is not installed"; exit 77; }

sock="$WORK/zoid.sock"
mkdir -p "$WORK/export"
"$ZEPTO" zoid serve --listen "unix:$sock" --export "$WORK/export" 2>"$WORK/daemon.log" &
daemon=$!
tcp_daemon=
stop_daemons() {
    kill "$daemon" ${tcp_daemon:+"$tcp_daemon"} 2>/dev/null
    wait "$daemon" ${tcp_daemon:+"$tcp_daemon"} 2>/dev/null
}
trap stop_daemons EXIT

# JSON: every figure.
expect_ok "$ZEPTO" zoid bench --server "unix:$sock" --quick --json --wait 10s
out="$WORK/bench.json"
cp "$WORK/stdout" "$out"
jq -e --arg s "unix:$sock" '.server == $s and .transport == "unix" and .quick == true and
       .max_payload_bytes > 0 and .latency_calls == 2000 and .latency_warmup_calls == 200' \
    "$out" >/dev/null || fail "bad header: $(jq -c 'del(.clients, .bandwidth)' "$out")"
jq -e '.latency_median_ns > 0 and .latency_p99_ns >= .latency_median_ns and
       .latency_min_ns <= .latency_median_ns and .latency_max_ns >= .latency_p99_ns and
       .latency_mean_ns > 0' "$out" >/dev/null ||
    fail "bad latency: $(jq -c '{latency_median_ns, latency_p99_ns, latency_min_ns}' "$out")"
jq -e '[.clients[].clients] == [1, 4, 16, 64] and
       ([.clients[] | .calls > 0 and .duration_ns > 0 and .calls_per_s > 0] | all)' \
    "$out" >/dev/null || fail "bad calls/s: $(jq -c .clients "$out")"
jq -e '[.bandwidth[] | [.direction, .function, .payload_bytes]] ==
       [["upload", "sink", 4096], ["download", "source", 4096],
        ["upload", "sink", 65536], ["download", "source", 65536],
        ["upload", "sink", 1048576], ["download", "source", 1048576],
        ["upload", "sink", 16777216], ["download", "source", 16777216]] and
       ([.bandwidth[] | .calls >= 2 and .duration_ns > 0 and .bandwidth_bytes_per_s > 0] | all)' \
    "$out" >/dev/null || fail "bad bandwidth: $(jq -c .bandwidth "$out")"
jq -e '([.bandwidth[] | .in_flight] | all(. == 1)) and ([.bandwidth_pipelined[] | .in_flight] | all(. == 4)) and
       [.bandwidth_pipelined[] | [.direction, .payload_bytes]] == [.bandwidth[] | [.direction, .payload_bytes]] and
       ([.bandwidth_pipelined[] | .calls >= 2 and .bandwidth_bytes_per_s > 0] | all)' \
    "$out" >/dev/null || fail "bad pipelined bandwidth: $(jq -c .bandwidth_pipelined "$out")"
# One call's round trip is the floor of what 1 client can do in a second (a generous bound: the
# clients' run is short and the machine is shared).
jq -e '.clients[0].calls_per_s < 1e9 / .latency_min_ns * 1.5' "$out" >/dev/null ||
    fail "1 client made more calls/s than its fastest round trip allows: $(jq -c . "$out")"

# Text: the three parts.
expect_ok "$ZEPTO" zoid bench --server "unix:$sock" --quick
for pat in '^  median .* p99 ' '^ +64 +[0-9]+$' '^ +16\.0 MiB +[0-9.]+ +[0-9.]+ \| +[0-9.]+ +[0-9.]+$'; do
    grep -Eq "$pat" "$WORK/stdout" || fail "text output lacks /$pat/: $(cat "$WORK/stdout")"
done
"$ZEPTO" zoid bench --help | grep -q '^example:' || fail "--help has no example"

# Usage errors (exit 2).
expect_status 2 "missing --server" "$ZEPTO" zoid bench
expect_status 2 "--server 'bogus': unknown transport" "$ZEPTO" zoid bench --server bogus
expect_status 2 "--server 'tcp:127.0.0.1': expected tcp:HOST:PORT" \
    "$ZEPTO" zoid bench --server tcp:127.0.0.1
expect_status 2 "--server 'tcp:127.0.0.1:0': the port must be 1 to 65535" \
    "$ZEPTO" zoid bench --server tcp:127.0.0.1:0
expect_status 2 "--server 'unix:': a unix socket path" "$ZEPTO" zoid bench --server unix:
expect_status 2 "--wait 'soon': not a duration" "$ZEPTO" zoid bench --server "unix:$sock" --wait soon
expect_status 2 "unknown option '--frobnicate'" "$ZEPTO" zoid bench --frobnicate
expect_status 2 "option '--server' needs a value" "$ZEPTO" zoid bench --server
expect_status 2 "unexpected argument 'extra'" "$ZEPTO" zoid bench --server "unix:$sock" extra

# Runtime failures (exit 1): nobody there, even after waiting.
expect_status 1 "nobody.sock: No such file or directory; is zepto zoid serve running there" \
    "$ZEPTO" zoid bench --server "unix:$WORK/nobody.sock"
expect_status 1 "nobody.sock: No such file or directory" \
    "$ZEPTO" zoid bench --server "unix:$WORK/nobody.sock" --wait 100ms

# A daemon never takes a path that is not a socket (a mistyped --listen cost the file before),
# nor one another daemon answers on.
echo important >"$WORK/notes.txt"
for scheme in unix shm; do
    expect_status 1 "notes.txt: exists and is not a socket \(left as it is\)" \
        "$ZEPTO" zoid serve --listen "$scheme:$WORK/notes.txt" --export "$WORK/export"
    [ "$(cat "$WORK/notes.txt")" = important ] || fail "serve --listen $scheme:FILE changed the file"
done
expect_status 2 "--listen: 'foo:bar': unknown transport" \
    "$ZEPTO" zoid serve --listen foo:bar --export "$WORK/export"
expect_status 2 "--listen: 'tcp:127.0.0.1': expected tcp:HOST:PORT" \
    "$ZEPTO" zoid serve --listen tcp:127.0.0.1 --export "$WORK/export"
expect_status 1 "a daemon is already listening there" \
    "$ZEPTO" zoid serve --listen "unix:$sock" --export "$WORK/export"
[ -S "$sock" ] || fail "a refused second daemon removed the first one's socket"

# A client of the other same-node transport is told so at once (a unix: client waited the 5 s
# handshake timeout for a header an shm: daemon never sends).
"$ZEPTO" zoid serve --listen "shm:$WORK/shm.sock" --export "$WORK/export" 2>>"$WORK/daemon.log" &
shm_daemon=$!
for _ in $(seq 100); do [ -S "$WORK/shm.sock" ] && break; sleep 0.05; done
start=$(date +%s%N)
expect_status 1 "shm.sock: the daemon speaks shm: \(connect with shm:PATH\)" \
    "$ZEPTO" zoid bench --server "unix:$WORK/shm.sock" --quick
[ $((($(date +%s%N) - start) / 1000000)) -lt 3000 ] || fail "unix: client of an shm: daemon: not told at once"
expect_status 1 "the daemon does not speak shm" "$ZEPTO" zoid bench --server "shm:$sock" --quick
kill "$shm_daemon"
wait "$shm_daemon" 2>/dev/null

# TCP with a token: the right one works, a wrong one, none, or one others can read is refused.
printf 'right\n' >"$WORK/token"
printf 'wrong\n' >"$WORK/bad-token"
printf 'right\n' >"$WORK/open-token"
chmod 600 "$WORK/token" "$WORK/bad-token"
chmod 644 "$WORK/open-token"
# A free port: the daemon exits at once when the one tried is taken; then the next is tried.
for try in 1 2 3 4 5; do
    port=$((20000 + (RANDOM * 7 + try) % 40000))
    "$ZEPTO" zoid serve --listen "tcp:127.0.0.1:$port" --token-file "$WORK/token" \
        --export "$WORK/export" 2>"$WORK/tcp-daemon.log" &
    tcp_daemon=$!
    # The wrong token is refused once the daemon listens (--wait retries until then).
    before=$failures
    expect_status 1 "tcp:127.0.0.1:$port: the daemon refused: wrong token" \
        "$ZEPTO" zoid bench --server "tcp:127.0.0.1:$port" --token-file "$WORK/bad-token" --wait 10s
    kill -0 "$tcp_daemon" 2>/dev/null && break
    wait "$tcp_daemon" 2>/dev/null
    tcp_daemon=
    failures=$before # that port was taken: the failure above was not the bench's
done
if [ -n "$tcp_daemon" ]; then
    expect_status 1 "the daemon wants a token.*give --token-file F" \
        env -u ZOID_TOKEN_FILE "$ZEPTO" zoid bench --server "tcp:127.0.0.1:$port"
    expect_status 1 "open-token: mode 644 lets others read the token" \
        "$ZEPTO" zoid bench --server "tcp:127.0.0.1:$port" --token-file "$WORK/open-token"
    expect_ok "$ZEPTO" zoid bench --server "tcp:127.0.0.1:$port" --token-file "$WORK/token" \
        --quick --json
    jq -e '.transport == "tcp" and .latency_median_ns > 0' "$WORK/stdout" >/dev/null ||
        fail "tcp bench: $(cat "$WORK/stdout")"
else
    fail "no free TCP port for the daemon in 5 tries: $(cat "$WORK/tcp-daemon.log")"
fi

# The unix daemon served every bench and is still up.
kill -0 "$daemon" 2>/dev/null || fail "the daemon died: $(tail -5 "$WORK/daemon.log")"
finish
