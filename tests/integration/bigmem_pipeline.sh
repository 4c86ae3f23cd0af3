# With defaults, `bigmem run` commits what the programs use: a shell pipeline (sh, sort, uniq,
# wc, each preloaded) commits a first chunk each plus what sort needs, not half of the memory each
# (the old default, OOM-killed on a node). Measured two ways: the regions in the verbose exit lines,
# and the Rss of the pipeline's processes sampled from outside while it runs.
. "$(dirname "$0")/bigmem_ondemand_lib.sh"

guard_default_is_small
seq 1 300000 | awk '{ print ($1 * 7919) % 300007 }' >"$WORK/nums"

ZEPTO_BIGMEM_VERBOSE=1 "$ZEPTO" bigmem run -- \
    sh -c 'sort -n "$1" | uniq | wc -l' sh "$WORK/nums" >"$WORK/out" 2>"$WORK/err" &
pid=$!
peak_kb=0
while kill -0 "$pid" 2>/dev/null; do
    kb=$( (cat /proc/"$pid"/smaps_rollup 2>/dev/null
        for c in $(ps -o pid= --ppid "$pid" 2>/dev/null); do cat /proc/"$c"/smaps_rollup 2>/dev/null; done) |
        awk '/^Rss:/ { s += $2 } END { print s + 0 }')
    [ "$kb" -gt "$peak_kb" ] && peak_kb=$kb
    sleep 0.02
done
status=0
wait "$pid" || status=$?
[ "$status" -eq 0 ] || fail "the pipeline exited $status: $(cat "$WORK/err")"
[ "$(tr -d ' ' <"$WORK/out")" = 300000 ] || fail "the pipeline printed '$(cat "$WORK/out")'"
check_regions "$WORK/err" $((512 * MIB))
echo "largest summed Rss of the pipeline's processes: $((peak_kb / 1024)) MiB"
[ "$peak_kb" -le $((512 * 1024)) ] || fail "the pipeline's processes held $((peak_kb / 1024)) MiB at once"
finish
