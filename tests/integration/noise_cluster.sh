# `zepto noise analyse` and `noise simulate` over several nodes' traces, with ground truth:
# synthetic traces (tests/helpers/noise_synth.c) of 6 nodes with random noise, one of which also
# carries 8 us every 3 ms on CPU 1. That node alone is flagged, with the period and the reason;
# random noise gives no period; --json carries the same; bad inputs give one line; the simulated
# slowdown at 1024 ranks grows with the noisy node; one trace alone prints as before. And the
# recording side without a cluster: two tasks of a fake Slurm step on this one host get distinct
# names and record in turns; the missing task, -o naming a file, a bad --sync-timeout.
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

# Simulate skips what it cannot read, with a note each, and uses the rest.
mkdir -p "$WORK/simbad"
cp "$d/zn1.znt" "$d/zn2.znt" "$WORK/simbad/"
head -c 300 "$d/zn3.znt" >"$WORK/simbad/zn3.znt"
expect_status 0 "note: skipped .*/zn3.znt: truncated trace" \
    "$ZEPTO" noise simulate "$WORK/simbad" --ranks 64 --json
jq -e '.traces == 2 and .patterns == 4' "$WORK/stdout" >/dev/null || fail "simulate did not go on"
expect_status 1 "noise simulate: no readable trace \(2 skipped; first: .*readme.txt: not a zepto" \
    "$ZEPTO" noise simulate "$WORK/other/readme.txt" "$WORK/simbad/zn3.znt" --ranks 64

# A signature on every node is listed once, as shared; one on zn6 alone names zn6.
expect_ok "$ZEPTO" noise analyse "$d"
grep -Eq '^ +3\.00 ms +8\.0 us +zn6 only \(CPU 1\)$' "$WORK/stdout" ||
    fail "zn6's signature line: $(sed -n '/^signatures/,$p' "$WORK/stdout")"
mkdir -p "$WORK/shared"
for i in 1 2 3; do
    "$synth" "$WORK/shared/zn$i.znt" "zn$i" 2 2 "$i" 1 8000 3000000 1 || fail "noise_synth shared zn$i"
done
expect_ok "$ZEPTO" noise analyse "$WORK/shared"
[ "$(sed -n '/^signatures:/,$p' "$WORK/stdout" | grep -c '3\.00 ms')" -eq 1 ] ||
    fail "shared signature not once: $(cat "$WORK/stdout")"
grep -Eq '^ +3\.00 ms +8\.0 us +shared by all 3 nodes$' "$WORK/stdout" || fail "not shared: $(cat "$WORK/stdout")"
grep -q '^outliers: none$' "$WORK/stdout" || fail "a shared signature flagged a node"
expect_ok "$ZEPTO" noise analyse "$WORK/shared" --json
jq -e '.signatures | length == 1 and .[0].shared and (.[0].nodes | length) == 3' "$WORK/stdout" \
    >/dev/null || fail "json signatures: $(jq -c .signatures "$WORK/stdout")"

# Recording as two tasks of one (fake) Slurm step on this host: same host name, so the traces are
# HOST.r0.znt and HOST.r1.znt; both record all CPUs, so they take turns: the second starts after
# the first has ended.
host=$(uname -n)
rec="$WORK/rec"
rm -rf "$rec"
task() { SLURM_PROCID=$1 SLURM_NTASKS=2 SLURM_JOB_ID=$$ SLURM_STEP_ID=7 "$ZEPTO" noise record -d 300ms -o "$rec" "${@:2}"; }
task 0 >"$WORK/t0.out" 2>"$WORK/t0.err" &
t0=$!
task 1 >"$WORK/t1.out" 2>"$WORK/t1.err" || fail "task 1: $(cat "$WORK/t1.err")"
wait "$t0" || fail "task 0: $(cat "$WORK/t0.err")"
[ "$(ls -A "$rec" | tr '\n' ' ')" = ".zepto-nodes $host.r0.znt $host.r1.znt " ] ||
    fail "recording directory: $(ls -A "$rec")"
grep -q "turn 2 of 2" "$WORK/t0.err" "$WORK/t1.err" || fail "no turns: $(cat "$WORK/t0.err" "$WORK/t1.err")"
expect_ok "$ZEPTO" noise analyse "$rec" --json
jq -e '[.nodes[].start_unix_ns] | sort | .[1] - .[0] >= 300000000' "$WORK/stdout" >/dev/null ||
    fail "the turns overlap: $(jq -c '[.nodes[].start_unix_ns]' "$WORK/stdout")"
rm "$rec/$host.r1.znt"
expect_status 0 "warning: .*/rec/$host.r1.znt is missing: the recording \(job slurm-$$.7\) had 2 tasks" \
    "$ZEPTO" noise analyse "$rec"
grep -q "^$host.r0.znt\? " "$WORK/stdout" || grep -q "^$host " "$WORK/stdout" ||
    fail "the remaining trace was not analysed: $(cat "$WORK/stdout")"

# Bad input of the recording side: the other task never comes (bounded wait, exit 1, nothing
# left behind), -o a file with several tasks (usage), a bad --sync-timeout (usage).
rm -rf "$rec"
expect_status 1 "noise record: .*/rec/.zepto-sync-slurm-1.0: 1 of 2 tasks registered within 0.5 s \(rank 1 never came\)" \
    env SLURM_PROCID=0 SLURM_NTASKS=2 SLURM_JOB_ID=1 SLURM_STEP_ID=0 "$ZEPTO" noise record -d 100ms --sync-timeout 500ms -o "$rec"
[ -z "$(ls -A "$rec")" ] || fail "left behind: $(ls -A "$rec")"
: >"$WORK/afile"
expect_status 2 "noise record: -o '.*/afile': 2 tasks write one trace each into a directory, and this is a file" \
    env SLURM_PROCID=0 SLURM_NTASKS=2 SLURM_JOB_ID=1 "$ZEPTO" noise record -d 100ms -o "$WORK/afile"
expect_status 2 "noise record: --sync-timeout 'x'" "$ZEPTO" noise record --sync-timeout x
expect_status 2 "noise record: --sync-timeout '0s': the timeout must be longer than zero" \
    "$ZEPTO" noise record --sync-timeout 0s

finish
