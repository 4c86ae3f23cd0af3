# Ctrl-C (SIGINT) stops a recording early and everything recorded until then is still written:
# a 60 s recording interrupted 1.5 s after it started exits 0 with a trace of about 1.5 s, marked
# as interrupted. SIGTERM does the same.
. "$(dirname "$0")/lib.sh"

for sig in INT TERM; do
    trace="$WORK/$sig.znt"
    : >"$WORK/err"
    "$ZEPTO" noise record -c 0 -d 60s -o "$trace" >"$WORK/out" 2>"$WORK/err" &
    pid=$!
    # Signal once the recorder says the recording itself started (after start-up and
    # calibration, which take a variable time under the sanitizers and on a loaded machine), then
    # let it record for 1.5 s. The line is awaited by polling the file: no fixed sleep before it.
    for _ in $(seq 600); do
        grep -q "recording now" "$WORK/err" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05 # polling interval
    done
    grep -q "calibrating" "$WORK/err" || fail "SIG$sig: no start-up line: $(cat "$WORK/err")"
    grep -q "recording now" "$WORK/err" || fail "SIG$sig: the recording did not start: $(cat "$WORK/err")"
    sleep 1.5 # the length of the recording, not a synchronisation
    start=$(date +%s%N)
    kill -s "$sig" "$pid"
    status=0
    wait "$pid" || status=$?
    elapsed_ms=$((($(date +%s%N) - start) / 1000000))
    [ "$status" -eq 0 ] || fail "SIG$sig: record exited $status: $(cat "$WORK/err")"
    [ "$elapsed_ms" -lt 10000 ] || fail "SIG$sig did not stop a 60 s recording (${elapsed_ms} ms)"
    grep -q "stopped early" "$WORK/err" || fail "SIG$sig: no 'stopped early' note"
    grep -q "trace written to $trace" "$WORK/out" || fail "SIG$sig: trace not written"
    expect_ok "$ZEPTO" noise analyse "$trace" --json
    jq -e '.interrupted == true and .cpus[0].measured_ns > 500000000 and
           .cpus[0].measured_ns < 4000000000 and .cpus[0].detours == .cpus[0].stored_detours' \
        "$WORK/stdout" >/dev/null ||
        fail "SIG$sig: trace not interrupted or not ~1.5 s: $(jq -c '[.interrupted, .cpus[0].measured_ns]' "$WORK/stdout")"
done
finish
