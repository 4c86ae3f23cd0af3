# Every malformed input to the CLI: a one-line error naming the input, exit 2 for usage errors and
# 1 for runtime failures, never a crash.
. "$(dirname "$0")/lib.sh"

ncpu=$(nproc)
# Usage errors (exit 2).
expect_status 2 "unknown command 'bogus'" "$ZEPTO" bogus
expect_status 2 "noise: unknown command 'bogus'" "$ZEPTO" noise bogus
expect_status 2 "-d 'abc': not a duration" "$ZEPTO" noise record -d abc
expect_status 2 "-d '-1s': a duration cannot be negative" "$ZEPTO" noise record -d -1s
expect_status 2 "-d '10x': unknown unit" "$ZEPTO" noise record -d 10x
expect_status 2 "-d '0s': the duration must be longer than zero" "$ZEPTO" noise record -d 0s
expect_status 2 "-d '5parsecs': unknown unit" "$ZEPTO" noise record -d 5parsecs
expect_status 2 "-c '99': CPU 99 is not available" "$ZEPTO" noise record -c 99 -d 1s
expect_status 2 "-c '$ncpu': CPU $ncpu is not available" "$ZEPTO" noise record -c "$ncpu" -d 1s
expect_status 2 "-c '3-1': range 3-1 runs backwards" "$ZEPTO" noise record -c 3-1
expect_status 2 "-c '0,,1': not a CPU list" "$ZEPTO" noise record -c 0,,1
expect_status 2 "-c '': empty CPU list|-c empty CPU list" "$ZEPTO" noise record -c ''
expect_status 2 "-t '0': the threshold must be longer than zero" "$ZEPTO" noise record -t 0
expect_status 2 "-t '0ns': the threshold must be longer than zero" "$ZEPTO" noise record -t 0ns
expect_status 2 "-t 'fast': not a duration" "$ZEPTO" noise record -t fast
expect_status 2 "--buffer '0': must be at least 1" "$ZEPTO" noise record --buffer 0
expect_status 2 "--clock 'sundial': unknown clock" "$ZEPTO" noise record --clock sundial
expect_status 2 "unknown option '--frobnicate'" "$ZEPTO" noise record --frobnicate
expect_status 2 "unknown option '-x'" "$ZEPTO" noise record -x
expect_status 2 "option '-d' needs a value" "$ZEPTO" noise record -d
expect_status 2 "unexpected argument 'extra'" "$ZEPTO" noise record extra
expect_status 2 "ZEPTO_CLOCK=" env ZEPTO_CLOCK=quartz "$ZEPTO" noise record -d 1s
expect_status 2 "missing TRACE" "$ZEPTO" noise analyse
# Several traces are the cluster view (issue 13): none of them valid is one line, exit 1.
expect_status 1 "no valid trace to analyse \(2 left out; first: a: No such file or directory\)" \
    "$ZEPTO" noise analyse a b
expect_status 2 "missing --format" "$ZEPTO" noise export x.znt
expect_status 2 "--format 'xml': use csv or loggopsim" "$ZEPTO" noise export x.znt --format xml
expect_status 2 "-c 'x': not a CPU list" "$ZEPTO" noise export x.znt --format csv -c x
expect_status 2 "unexpected argument 'now'" "$ZEPTO" report now
expect_status 2 "-o: empty directory name" "$ZEPTO" report -o ''

# Runtime failures on bad traces (exit 1, message names the file and the problem).
missing="$WORK/missing.znt"
expect_status 1 "$missing: No such file or directory" "$ZEPTO" noise analyse "$missing"
expect_status 1 "$WORK: no .znt trace in the directory" "$ZEPTO" noise analyse "$WORK"
printf 'hello world, not a trace at all' >"$WORK/text.znt"
expect_status 1 "text.znt: not a zepto noise trace \(bad magic\)" "$ZEPTO" noise analyse "$WORK/text.znt"
: >"$WORK/empty.znt"
expect_status 1 "empty.znt: not a zepto noise trace" "$ZEPTO" noise analyse "$WORK/empty.znt"

# A real trace, then damaged copies of it.
"$ZEPTO" noise record -q -c 0 -d 200ms -o "$WORK/good.znt" >/dev/null 2>&1 ||
    fail "recording a trace to damage failed"
size=$(stat -c %s "$WORK/good.znt")
head -c $((size / 2)) "$WORK/good.znt" >"$WORK/truncated.znt"
expect_status 1 "truncated.znt: truncated trace" "$ZEPTO" noise analyse "$WORK/truncated.znt"
head -c 100 "$WORK/good.znt" >"$WORK/short.znt"
expect_status 1 "short.znt: truncated trace" "$ZEPTO" noise analyse "$WORK/short.znt"
cp "$WORK/good.znt" "$WORK/corrupt.znt"
printf '\xff\xff\xff\xff' | dd of="$WORK/corrupt.znt" bs=1 seek=100 conv=notrunc 2>/dev/null
expect_status 1 "corrupt.znt: corrupted trace: checksum mismatch" "$ZEPTO" noise analyse "$WORK/corrupt.znt"
cp "$WORK/good.znt" "$WORK/v9.znt"
printf '\x09' | dd of="$WORK/v9.znt" bs=1 seek=8 conv=notrunc 2>/dev/null
expect_status 1 "v9.znt: trace version 9, this zepto reads versions 1 and 2" "$ZEPTO" noise analyse "$WORK/v9.znt"
expect_status 1 "v9.znt: trace version 9" "$ZEPTO" noise export "$WORK/v9.znt" --format csv
expect_status 2 "-c 7: CPU 7 is not in the trace" "$ZEPTO" noise export "$WORK/good.znt" --format csv -c 7
expect_status 1 "/nonexistent-dir/x.csv: No such file or directory" \
    "$ZEPTO" noise export "$WORK/good.znt" --format csv -o /nonexistent-dir/x.csv
expect_status 1 "/nonexistent-dir/t.znt: No such file or directory" \
    "$ZEPTO" noise record -q -c 0 -d 100ms -o /nonexistent-dir/t.znt
finish
