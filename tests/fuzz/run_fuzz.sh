# Runs a libFuzzer target for $FUZZ_SECONDS from a seed corpus: the files the script $SEEDS writes
# into the directory it is given, or else a real trace recorded by $ZEPTO. $FUZZ_ARGS: more
# libFuzzer options. Fails when the fuzzer finds a crash, a leak or undefined behaviour.
set -eu
WORK=$(realpath -m "$WORK")
FUZZER=$(realpath "$FUZZER")
rm -rf "$WORK"
mkdir -p "$WORK/corpus"
if [ -n "${SEEDS:-}" ]; then
    bash "$SEEDS" "$WORK/corpus"
else
    "$ZEPTO" noise record -q -c 0 -d 50ms --buffer 64 -o "$WORK/corpus/seed.znt" >/dev/null
fi
cd "$WORK"
# shellcheck disable=SC2086
"$FUZZER" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -print_final_stats=1 ${FUZZ_ARGS:-} corpus 2>"$WORK/log" || {
    tail -40 "$WORK/log" >&2
    exit 1
}
grep -E "stat::number_of_executed_units|Done" "$WORK/log" | tail -2
