# The noise commands end to end: record writes a trace and prints the summary, analyse reads it
# (table and JSON), export gives CSV and LogGOPSim lines that match the trace, help and version.
. "$(dirname "$0")/lib.sh"

trace="$WORK/node.znt"
expect_ok "$ZEPTO" noise record -q -d 1s -o "$trace"
grep -q "^CPU .*measured.*detours.*rate/s.*noise" "$WORK/stdout" || fail "record printed no table"
grep -q "trace written to $trace" "$WORK/stdout" || fail "record did not name the trace"
[ -s "$trace" ] || fail "no trace written"

expect_ok "$ZEPTO" noise analyse "$trace"
grep -q "^node " "$WORK/stdout" || fail "analyse has no node row"
grep -q "Periodic signatures" "$WORK/stdout" || fail "analyse has no signature section"
grep -q "Detour lengths" "$WORK/stdout" || fail "analyse has no histogram"

expect_ok "$ZEPTO" noise analyse "$trace" --json
json="$WORK/analyse.json"
cp "$WORK/stdout" "$json"
jq -e '.node.noise_fraction >= 0 and .node.noise_fraction < 1' "$json" >/dev/null ||
    fail "noise_fraction missing or out of 0..1"
ncpu=$(nproc)
jq -e --argjson n "$ncpu" '.cpus | length == $n' "$json" >/dev/null || fail "not one entry per CPU"
jq -e '.threshold_auto == true and .threshold_ns > 0' "$json" >/dev/null || fail "no auto threshold"
jq -e '[.cpus[] | .measured_ns > 900000000] | all' "$json" >/dev/null ||
    fail "a CPU measured less than 0.9 s of a 1 s recording"
jq -e '.node.detours == ([.cpus[].detours] | add)' "$json" >/dev/null || fail "node != sum of CPUs"
jq -e '.node.median_ns <= .node.p99_ns and .node.p99_ns <= .node.max_ns' "$json" >/dev/null ||
    fail "quantiles out of order"
stored=$(jq '[.cpus[].stored_detours] | add' "$json")

# CSV: one row per stored detour, header as documented.
expect_ok "$ZEPTO" noise export "$trace" --format csv -o "$WORK/d.csv"
[ "$(head -1 "$WORK/d.csv")" = "cpu,start_ns,duration_ns" ] || fail "CSV header"
rows=$(($(wc -l <"$WORK/d.csv") - 1))
[ "$rows" -eq "$stored" ] || fail "CSV has $rows rows, the trace $stored detours"
thr=$(jq .threshold_ns "$json")
awk -F, -v t="$thr" 'NR > 1 && ($3 < t || $2 < 0) { bad = 1 } END { exit bad }' "$WORK/d.csv" ||
    fail "a CSV detour below the threshold"

# LogGOPSim: one CPU, start<TAB>duration, sorted.
expect_ok "$ZEPTO" noise export "$trace" --format loggopsim -c 0
cpu0=$(jq '.cpus[] | select(.cpu == 0) | .stored_detours' "$json")
[ "$(wc -l <"$WORK/stdout")" -eq "$cpu0" ] || fail "loggopsim lines != CPU 0 detours"
awk -F'\t' 'NF != 2 || $1 < prev { bad = 1 } { prev = $1 } END { exit bad }' "$WORK/stdout" ||
    fail "loggopsim lines not start<TAB>duration in order"

# record --json prints the same document as analyse --json.
expect_ok "$ZEPTO" noise record -q -c 0 -d 300ms --json
jq -e '.node and .cpus and (.cpus | length == 1) and .cpus[0].cpu == 0' "$WORK/stdout" \
    >/dev/null || fail "record --json is not the summary document"

# A buffer that fills: counts stay exact, the output says when it filled.
expect_ok "$ZEPTO" noise record -q -c 0 -d 500ms -t 200ns --buffer 3 -o "$WORK/full.znt"
if grep -q "detour buffer full at" "$WORK/stdout"; then
    expect_ok "$ZEPTO" noise analyse "$WORK/full.znt" --json
    jq -e '.cpus[0].truncated == true and .cpus[0].stored_detours == 3 and
           .cpus[0].detours > 3 and .cpus[0].truncated_at_ns > 0' "$WORK/stdout" >/dev/null ||
        fail "truncated trace does not keep exact counts"
else
    detours=$(jq '.cpus[0].detours' <("$ZEPTO" noise analyse "$WORK/full.znt" --json))
    [ "$detours" -le 3 ] || fail "buffer of 3 with $detours detours not reported as full"
fi

# A fixed threshold is kept as given.
expect_ok "$ZEPTO" noise record -q -c 0 -d 200ms -t 5us --json
jq -e '.threshold_ns == 5000 and .threshold_auto == false and
       (.cpus[0].min_ns == 0 or .cpus[0].min_ns > 5000)' "$WORK/stdout" >/dev/null ||
    fail "-t 5us not honoured"

# The monotonic clock works too, and says so.
expect_ok "$ZEPTO" noise record -q -c 0 -d 200ms --clock monotonic --json
jq -e '.clock == "monotonic" and .clock_hz == 1000000000' "$WORK/stdout" >/dev/null ||
    fail "--clock monotonic not used"

# Help and version.
for cmd in "" "noise" "noise record" "noise analyse" "noise export" "report"; do
    # shellcheck disable=SC2086
    expect_ok "$ZEPTO" $cmd --help
    grep -q "usage: zepto" "$WORK/stdout" || fail "'zepto $cmd --help' has no usage"
    grep -qi "example" "$WORK/stdout" || fail "'zepto $cmd --help' has no example"
done
expect_ok "$ZEPTO" --version
grep -Eq "^zepto [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]{7,}" "$WORK/stdout" ||
    fail "version line: $(cat "$WORK/stdout")"
finish
