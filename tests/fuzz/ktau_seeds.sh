# Seeds for fuzz_ktau_files: real files of a `zepto ktau run` of the report's workload (libktau's
# per-thread files and TAU profiles), each behind the byte that picks its reader. Usage: SCRIPT DIR
# (with $ZEPTO set; the workload sits next to it).
set -eu
dir=$1
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT
"$ZEPTO" ktau run --no-kernel -o "$run/p" -- "$(dirname "$ZEPTO")/zepto-ktau-workload" --quick \
    "$run" >/dev/null 2>&1
# and files with atomic events (TAU userevents; the raw files' trailer), when the test program
# that records them is built
ev="$(dirname "$ZEPTO")/ktau_events"
[ -x "$ev" ] && "$ZEPTO" ktau run --no-kernel -o "$run/e" -- "$ev" >/dev/null 2>&1
n=0
for f in "$run"/p/ktau-raw/ktau.*.bin "$run"/e/ktau-raw/ktau.*.bin; do
    [ -e "$f" ] || continue
    { printf '\x00'; cat "$f"; } >"$dir/raw.$n"
    n=$((n + 1))
done
for f in "$run"/p/profile.* "$run"/e/profile.*; do
    [ -e "$f" ] || continue
    { printf '\x01'; cat "$f"; } >"$dir/tau.$n"
    n=$((n + 1))
done
[ "$n" -ge 2 ] || { echo "ktau_seeds: no files from the run" >&2; exit 1; }
