# zepto noise collective under mpirun -np 2: sane JSON with and without injected noise, and
# usage errors before MPI starts.
. "$(dirname "$0")/lib.sh"

if ! command -v mpirun >/dev/null; then
    echo "SKIP: mpirun not found (scripts/deps.sh installs openmpi-bin)"
    exit 77
fi
# Usage errors need no launcher.
expect_status 2 "--op 'gather': use allreduce, barrier or bcast" "$ZEPTO" noise collective --op gather
expect_status 2 "--inject 'period=1ms': needs period= and duration=" "$ZEPTO" noise collective --inject period=1ms
expect_status 2 "--iters '0': must be at least 1" "$ZEPTO" noise collective --iters 0
expect_status 1 "nope.znt: No such file or directory" "$ZEPTO" noise collective --trace "$WORK/nope.znt"

mpi=(mpirun --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi=(mpirun --allow-run-as-root --oversubscribe -np 2)

expect_ok "${mpi[@]}" "$ZEPTO" noise collective --iters 300 --json
# Iterations that overran their window are counted, not timed: under the sanitizers, on a
# shared machine, a fifth of them can overrun; every iteration is one or the other.
jq -e '.ranks == 2 and .hosts == 1 and .op == "allreduce" and .noisy == null and
       .quiet.iterations + .overruns == 300 and .quiet.iterations >= 150 and
       .quiet.median_ns > 0 and
       .quiet.median_ns <= .quiet.p99_ns and .quiet.p99_ns <= .quiet.max_ns' "$WORK/stdout" \
    >/dev/null || fail "quiet run: $(cat "$WORK/stdout")"

for phase in sync random; do
    expect_ok "${mpi[@]}" "$ZEPTO" noise collective --iters 300 --op barrier \
        --inject period=1ms,duration=50us --phase "$phase" --json
    jq -e --arg p "$phase" '.ranks == 2 and .noise.phase == $p and .noise.injected_detours > 0 and
           .quiet.iterations > 250 and .noisy.iterations > 250 and .slowdown_mean > 0 and
           .window_ns > 50000' "$WORK/stdout" >/dev/null ||
        fail "$phase noise: $(cat "$WORK/stdout")"
done
expect_ok "${mpi[@]}" "$ZEPTO" noise collective --iters 100 --op bcast --bytes 64K
grep -q "bcast of 65536 bytes on 2 ranks" "$WORK/stdout" || fail "bcast text output"
finish
