# `zepto noise analyse` and `noise simulate` over several nodes' traces, with ground truth:
# synthetic traces (tests/helpers/noise_synth.c) of 6 nodes with random noise, one of which also
# carries 8 us every 3 ms on CPU 1. That node alone is flagged, with the period and the reason;
# random noise gives no period; --json carries the same; bad inputs give one line; the simulated
# slowdown at 1024 ranks grows with the noisy node; one trace alone prints as before.
. "$(dirname "$0")/lib.sh"

synth="$BIN/noise_synth"
d="$WORK/nodes"
quiet="$WORK/quiet"
mkdir -p "$d" "$quiet"
for i in 1 2 3 4 5; do
    "$synth" "$d/zn$i.znt" "zn$i" 2 2 "$i" || fail "noise_synth zn$i"
    cp "$d/zn$i.znt" "$quiet/"
done
"$synth" "$d/zn6.znt" zn6 2 2 6 1 8000 3000000 1 || fail "noise_synth zn6"

# The cluster view, text.
expect_ok "$ZEPTO" noise analyse "$d"
out="$WORK/stdout"
grep -Eq '^outliers: zn6: [0-9.]+x the median noise fraction; 8\.0 us every 3\.00 ms on CPU 1 not seen on most nodes$' "$out" ||
    fail "zn6 not flagged with its reason: $(grep outlier "$out")"
[ "$(grep -c '^ *zn[0-9]: ' "$out")" -eq 0 ] || fail "other nodes flagged: $(cat "$out")"
[ "$(grep -Ec '^zn[1-6] ' "$out")" -eq 6 ] || fail "expected 6 node rows: $(cat "$out")"
grep -Eq '^noise fraction over 6 nodes: median' "$out" || fail "no distribution line"

# Files on the command line give the same view as the directory.
"$ZEPTO" noise analyse "$d"/zn*.znt >"$WORK/files.txt" || fail "analyse of files failed"
cmp -s "$out" "$WORK/files.txt" || fail "files and directory differ"

# Random noise alone: no outlier, no period.
expect_ok "$ZEPTO" noise analyse "$quiet"
grep -q '^outliers: none$' "$WORK/stdout" || fail "quiet nodes flagged: $(cat "$WORK/stdout")"
grep -q 'every' "$WORK/stdout" && fail "random noise gave a period: $(cat "$WORK/stdout")"

# JSON: the same facts.
expect_ok "$ZEPTO" noise analyse "$d" --json
j="$WORK/stdout"
[ "$(jq -r '[.outliers[].name] | join(",")' "$j")" = zn6 ] || fail "json outliers: $(jq -c .outliers "$j")"
jq -e '.nodes_count == 6 and (.nodes[] | select(.host == "zn6") | .signatures[0].period_ns
       | . > 2.9e6 and . < 3.1e6) and .noise_fraction.median > 0' "$j" >/dev/null ||
    fail "json lacks the period or the distribution"
jq -e '.outliers[0].reason | test("8.0 us every 3.00 ms on CPU 1")' "$j" >/dev/null ||
    fail "json reason: $(jq -c .outliers "$j")"

# One trace alone: the single-node summary, not the cluster view.
expect_ok "$ZEPTO" noise analyse "$d/zn6.znt"
grep -q '^Noise on zn6' "$WORK/stdout" || fail "single trace output changed"

# Bad inputs.
mkdir -p "$WORK/empty" "$WORK/other"
touch "$WORK/other/readme.txt"
expect_status 1 "noise analyse: .*/empty: no .znt trace in the directory" \
    "$ZEPTO" noise analyse "$WORK/empty"
expect_status 1 "noise analyse: .*/other: no .znt trace in the directory" \
    "$ZEPTO" noise analyse "$WORK/other"
cp "$d"/zn1.znt "$d"/zn2.znt "$WORK/other/"
head -c 300 "$d/zn3.znt" >"$WORK/other/zn3.znt"
expect_status 0 "warning: left out: .*/zn3.znt: .*truncated" "$ZEPTO" noise analyse "$WORK/other"
grep -Eq '^zn1 ' "$WORK/stdout" || fail "the valid traces were not analysed"
cp "$d/zn1.znt" "$WORK/other/zn1-again.znt"
rm "$WORK/other/zn3.znt"
expect_status 0 "warning: .*zn1-again.znt and .*zn1.znt are both from host zn1" \
    "$ZEPTO" noise analyse "$WORK/other"
grep -q '^zn1 (.*zn1-again.znt)' "$WORK/stdout" || fail "duplicate host not named by file"
# Nothing valid: one line, naming how many were left out and the first, exit 1.
expect_status 1 "no valid trace to analyse \(2 left out; first: .*readme.txt: not a zepto noise trace" \
    "$ZEPTO" noise analyse "$WORK/other/readme.txt" "$WORK/nothing.znt"

# Traces of different clocks cannot be compared.
mkdir -p "$WORK/clocks"
cp "$d/zn1.znt" "$d/zn2.znt" "$WORK/clocks/"
NOISE_SYNTH_CLOCK=tsc "$synth" "$WORK/clocks/zn3.znt" zn3 2 2 3 || fail "noise_synth tsc"
expect_status 1 "noise analyse: .*/zn3.znt uses clock tsc but .*/zn1.znt uses monotonic" \
    "$ZEPTO" noise analyse "$WORK/clocks"

# Simulation over the allocation: the noisy node slows the collective.
slow() { "$ZEPTO" noise simulate "$1" --ranks 1024 --json | jq -r .slowdown; }
with=$(slow "$d") || fail "simulate with zn6"
without=$(slow "$quiet") || fail "simulate without zn6"
awk -v a="$with" -v b="$without" 'BEGIN { exit !(a > b && b >= 1) }' ||
    fail "slowdown with the noisy node $with not above $without"
"$ZEPTO" noise simulate "$d" --ranks 1024 --json | jq -e '.traces == 6 and .patterns == 12' \
    >/dev/null || fail "simulate did not take all 12 CPU records"

finish
