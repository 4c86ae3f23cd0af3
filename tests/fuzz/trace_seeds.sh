# Seeds for fuzz_trace, written into the directory $1 by $ZEPTO: a short version 1 trace and,
# where the kernel capture is allowed (root or perf_event_paranoid <= 0), a version 2 trace with
# its causes section, so that the fuzzer starts in both layouts.
set -eu
dir=$1
mkdir -p "$dir"
"$ZEPTO" noise record -q -c 0 -d 50ms --buffer 64 -o "$dir/seed.znt" >/dev/null
"$ZEPTO" noise record -q -c 0 -d 50ms --buffer 64 --explain -o "$dir/explained.znt" \
    >/dev/null 2>&1 || true
# Without the capture that trace is a second version 1 seed: keep only a real version 2.
if [ -f "$dir/explained.znt" ] &&
    [ "$(head -c 12 "$dir/explained.znt" | tail -c 4 | od -An -tu4 | tr -d ' ')" != 2 ]; then
    rm -f "$dir/explained.znt"
fi
