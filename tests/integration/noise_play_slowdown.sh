# A program of fixed work runs about 10 % longer under `--synthetic period=1ms,duration=100us`
# than under the same injections of 1 us: the difference is the injected time, whatever each
# injection's wake-up costs on this machine. Quiet, 1 us and 100 us runs alternate five times.
# A broken injector (none, twice the length, the wrong period) falls outside 7-13 % of the CPU.
. "$(dirname "$0")/lib.sh"

cpu=$(($(nproc) - 1))
if [ ! -x "$BIN/fixed_work" ]; then
    echo "SKIP: the fixed_work helper is missing"
    exit 77
fi
n=$(taskset -c "$cpu" "$BIN/fixed_work" --calibrate 400)
run() { "$ZEPTO" noise play -q --synthetic "period=1ms,duration=$1" -c "$cpu" -- "$BIN/fixed_work" "$n"; }
# Nine rounds of quiet, 1 us and 100 us runs side by side: the wake-up cost drifts with the host
# from minute to minute, so each round is compared within itself, and the median round is kept.
# A program that gets a share f of its CPU taken runs 1/(1-f) times as long: the share the
# injections took is 1 - quiet/time, and the 100 us ones take 9.9 % more than the 1 us ones.
for i in 1 2 3 4 5 6 7 8 9; do
    q=$(taskset -c "$cpu" "$BIN/fixed_work" "$n")
    s=$(run 1us)
    l=$(run 100us)
    echo "$q $s $l" | awk '{ printf "%.5f %.3f %.3f %.3f\n", $1 / $2 - $1 / $3, $1 / 1e9, $2 / 1e9, $3 / 1e9 }' >>"$WORK/rounds"
done
sort -n "$WORK/rounds" | awk '{ printf "round: quiet %.3f s, 1 us injections %.3f s, 100 us injections %.3f s: +%.1f %% of the CPU\n", $2, $3, $4, 100 * $1 }'
d=$(sort -n "$WORK/rounds" | sed -n 5p | cut -d' ' -f1)
awk -v d="$d" 'BEGIN {
    printf "median round: the 100 us injections took %.1f %% more of the CPU than the 1 us ones (expected 9.9 %%)\n", 100 * d
    exit !(d >= 0.07 && d <= 0.13)
}' || fail "the 100 us injections did not take 7-13 % more of the CPU"
finish
