# `zepto noise simulate` end to end: every malformed input gives one line naming it (exit 2 for
# usage errors, 1 for a trace that cannot be read), --help has an example, the JSON document holds
# the closed form and consistent statistics with units in its keys, the human output its lines,
# seeds repeat, and a recorded trace drives the simulation with one pattern per CPU record.
. "$(dirname "$0")/lib.sh"

syn=period=1ms,duration=10us
sim() { "$ZEPTO" noise simulate "$@"; }

# Usage errors (exit 2).
expect_status 2 "noise simulate: missing --ranks N" sim --synthetic $syn
expect_status 2 "--ranks '0': must be at least 1" sim --synthetic $syn --ranks 0
expect_status 2 "--ranks '4294967297': must be at most 4294967296" \
    sim --synthetic $syn --ranks 4294967297
expect_status 2 "--ranks 'many': not a whole number" sim --synthetic $syn --ranks many
expect_status 2 "--ranks '-4': not a whole number" sim --synthetic $syn --ranks -4
expect_status 2 "--ranks '1.5': not a whole number" sim --synthetic $syn --ranks 1.5
expect_status 2 "option '--ranks' needs a value" sim --synthetic $syn --ranks
expect_status 2 "give TRACE 'x.znt' or --synthetic '$syn', not both" \
    sim x.znt --synthetic $syn --ranks 4
expect_status 2 "missing TRACE or --synthetic SPEC" sim --ranks 4
# A window shorter than one noiseless iteration would pile iterations up and call that noise (a
# 387x "slowdown" without any noise before the check).
expect_status 2 "--window 1 us is shorter than one iteration without noise \(5.60 us\)" \
    sim --synthetic period=1000h,duration=1ns --ranks 16 --window 1us
expect_status 1 "noise simulate: no readable trace \(2 skipped; first: a.znt: " sim a.znt b.znt --ranks 4
expect_status 2 "--synthetic 'period=1ms': needs period= and duration=" \
    sim --synthetic period=1ms --ranks 4
expect_status 2 "--synthetic 'period=1ms,duration=2ms': the duration must be shorter than the" \
    sim --synthetic period=1ms,duration=2ms --ranks 4
expect_status 2 "--synthetic 'period=1ms,duration=1us,color=red': unknown key 'color'" \
    sim --synthetic period=1ms,duration=1us,color=red --ranks 4
expect_status 2 "--synthetic 'period=1ms,duration=1us,': trailing comma" \
    sim --synthetic period=1ms,duration=1us, --ranks 4
expect_status 2 "--synthetic empty noise spec" sim --synthetic '' --ranks 4
expect_status 2 "--algo 'ring': use recursive-doubling, binomial or dissemination" \
    sim --synthetic $syn --ranks 4 --algo ring
expect_status 2 "--algo dissemination is a barrier" \
    sim --synthetic $syn --ranks 4 --algo dissemination
expect_status 2 "--op 'alltoall': use allreduce or barrier" \
    sim --synthetic $syn --ranks 4 --op alltoall
expect_status 2 "--phase 'later': use sync or random" sim --synthetic $syn --ranks 4 --phase later
expect_status 2 "--scale '0': must be above 0" sim --synthetic $syn --ranks 4 --scale 0
expect_status 2 "--scale '-2': must be above 0" sim --synthetic $syn --ranks 4 --scale -2
expect_status 2 "--scale 'big': not a number" sim --synthetic $syn --ranks 4 --scale big
expect_status 2 "--scale 100: the detours of pattern 0 would take 100 % of the time" \
    sim --synthetic $syn --ranks 4 --scale 100
expect_status 2 "--iters '0': must be at least 1" sim --synthetic $syn --ranks 4 --iters 0
expect_status 2 "--iters 'x': not a whole number" sim --synthetic $syn --ranks 4 --iters x
expect_status 2 "--seed '-1': not a whole number" sim --synthetic $syn --ranks 4 --seed -1
expect_status 2 "--seed '0': must be at least 1" sim --synthetic $syn --ranks 4 --seed 0
expect_status 2 "--latency '1x': unknown unit" sim --synthetic $syn --ranks 4 --latency 1x
expect_status 2 "--overhead '-1us': a duration cannot be negative" \
    sim --synthetic $syn --ranks 4 --overhead -1us
expect_status 2 "--compute 'soon': not a duration" \
    sim --synthetic $syn --ranks 4 --compute soon
expect_status 2 "--window '5parsecs': unknown unit" \
    sim --synthetic $syn --ranks 4 --window 5parsecs
expect_status 2 "unknown option '--frobnicate'" sim --synthetic $syn --ranks 4 --frobnicate

# Traces that cannot be read (exit 1, the reader's message).
expect_status 1 "$WORK/missing.znt: No such file or directory" sim "$WORK/missing.znt" --ranks 4
printf 'hello world, not a trace at all' >"$WORK/text.znt"
expect_status 1 "text.znt: not a zepto noise trace" sim "$WORK/text.znt" --ranks 4

# More ranks than memory (20 bytes a rank): refused before anything is allocated.
if [ "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)" -lt $((80 * 1024 * 1024)) ]; then
    expect_status 1 "4294967296 ranks need 80.0 GiB, more than this machine's" \
        sim --synthetic $syn --ranks 4294967296
fi

expect_ok sim --help
grep -q "^usage: zepto noise simulate" "$WORK/stdout" || fail "--help has no usage line"
grep -q "^example:" "$WORK/stdout" || fail "--help has no example"

# JSON: 1000 ranks of recursive doubling (not a power of two: 9 + 2 rounds, 11 x 1.4 us without
# noise at the default L = 1 us, o = 200 ns).
json="$WORK/sim.json"
expect_ok sim --synthetic $syn --ranks 1000 --json
cp "$WORK/stdout" "$json"
jq -e '.ranks == 1000 and .op == "allreduce" and .algorithm == "recursive-doubling"
       and .rounds == 11 and .iterations == 100 and .phase == "random" and .patterns == 1' \
    "$json" >/dev/null || fail "wrong set-up in $(cat "$json")"
jq -e '.noiseless_ns == 15400 and .latency_ns == 1000 and .overhead_ns == 200' "$json" >/dev/null ||
    fail "noiseless_ns is not the closed form 15400"
jq -e '.noise_fraction > 0.0099 and .noise_fraction < 0.0101' "$json" >/dev/null ||
    fail "noise_fraction is not 1 %"
jq -e '.noiseless_ns <= .median_ns and .median_ns <= .p99_ns and .p99_ns <= .max_ns
       and .noiseless_ns <= .mean_ns and .mean_ns <= .max_ns' "$json" >/dev/null ||
    fail "statistics out of order"
jq -e '(.slowdown - .mean_ns / .noiseless_ns | fabs) < 1e-9 and .slowdown > 1' "$json" >/dev/null ||
    fail "slowdown is not mean / noiseless"
jq -e '.simulation_s >= 0 and .simulation_s < 60' "$json" >/dev/null || fail "simulation_s"
# Every key is a measured value with its unit, a ratio or fraction that says so, or set-up.
plain='^(ranks|op|algorithm|rounds|iterations|synthetic|patterns|noise_fraction|scale|phase|seed|schema_version)$'
jq -e --arg plain "$plain" '[keys[] | select(test("_(ns|s)$") or test($plain) or . == "slowdown"
       | not)] == []' "$json" >/dev/null || fail "a key without its unit: $(jq -c keys "$json")"

# Barrier: dissemination by default, 10 rounds at 1000 ranks; binomial at 1024: 2 x 10 rounds.
expect_ok sim --synthetic $syn --ranks 1000 --op barrier --json
jq -e '.algorithm == "dissemination" and .rounds == 10 and .noiseless_ns == 14000' \
    "$WORK/stdout" >/dev/null || fail "barrier: $(cat "$WORK/stdout")"
expect_ok sim --synthetic $syn --ranks 1024 --algo binomial --compute 5us --json
jq -e '.algorithm == "binomial" and .rounds == 20 and .noiseless_ns == 33000' \
    "$WORK/stdout" >/dev/null || fail "binomial: $(cat "$WORK/stdout")"

# Detours of 1 ns cost next to nothing; a window keeps iterations apart.
expect_ok sim --synthetic $syn --scale 0.0001 --ranks 512 --window 50us --json
jq -e '.slowdown < 1.01 and .window_ns == 50000' "$WORK/stdout" >/dev/null ||
    fail "1 ns detours slowed down: $(cat "$WORK/stdout")"

# Seeds repeat; another seed gives other phases.
sim --synthetic $syn --ranks 300 --seed 5 --json | jq .mean_ns >"$WORK/a" || fail "seed 5"
sim --synthetic $syn --ranks 300 --seed 5 --json | jq .mean_ns >"$WORK/b" || fail "seed 5 again"
sim --synthetic $syn --ranks 300 --seed 6 --json | jq .mean_ns >"$WORK/c" || fail "seed 6"
cmp -s "$WORK/a" "$WORK/b" || fail "the same seed gave $(cat "$WORK/a") and $(cat "$WORK/b")"
cmp -s "$WORK/a" "$WORK/c" && fail "seeds 5 and 6 gave the same mean $(cat "$WORK/a")"

# Human output.
expect_ok sim --synthetic $syn --ranks 64 --phase sync
for line in "^ranks +64, allreduce by recursive-doubling, 6 message rounds" \
    "^noise +synthetic $syn" "^noiseless +8.40 us per iteration" \
    "^with noise +mean .* median .* p99 .* max " \
    "^slowdown +[0-9.]+x" "^simulated +in [0-9.]+ s"; do
    grep -Eq "$line" "$WORK/stdout" || fail "no line /$line/ in: $(cat "$WORK/stdout")"
done

# A recorded trace: one pattern per CPU record, then damaged copies of it.
trace="$WORK/node.znt"
"$ZEPTO" noise record -q -c 0 -d 200ms -o "$trace" >/dev/null 2>&1 ||
    fail "recording a trace failed"
expect_ok sim "$trace" --ranks 100 --json
jq -e --arg t "$trace" '.trace == $t and .patterns == 1 and .ranks == 100 and .slowdown >= 1' \
    "$WORK/stdout" >/dev/null || fail "trace run: $(cat "$WORK/stdout")"
size=$(stat -c %s "$trace")
head -c $((size / 2)) "$trace" >"$WORK/truncated.znt"
expect_status 1 "truncated.znt: truncated trace" sim "$WORK/truncated.znt" --ranks 4
cp "$trace" "$WORK/corrupt.znt"
printf '\xff\xff\xff\xff' | dd of="$WORK/corrupt.znt" bs=1 seek=100 conv=notrunc 2>/dev/null
expect_status 1 "corrupt.znt: corrupted trace: checksum mismatch" sim "$WORK/corrupt.znt" --ranks 4

finish
