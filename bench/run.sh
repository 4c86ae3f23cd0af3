#!/usr/bin/env bash
# `make bench`: the measurements behind docs/BENCHMARKS.md. Prints each figure with the command
# that produced it; raw output goes to bench/out/. Long: about 15 minutes.
set -euo pipefail
build=${1:-build}
bin="$build/bin"
out=bench/out
mkdir -p "$out"
cpu=$(($(nproc) - 1))

section() { printf '\n## %s\n$ %s\n' "$1" "$2"; }

section "Recorder loop vs bare clock-read loop" "$bin/bench_loop_ratio $cpu 5"
"$bin/bench_loop_ratio" "$cpu" 5 | tee "$out/loop_ratio.txt"

section "Detection of injected detours (every 7 ms, 3 s each)" "$bin/bench_detect $cpu"
"$bin/bench_detect" "$cpu" | tee "$out/detect.txt" || echo "(skipped: see above)"

section "auto threshold: per-CPU loop time, clock tail, threshold, sub-microsecond detours" \
    "$bin/zepto noise record -q -d 5s -o $out/threshold.znt --json"
for i in 1 2 3; do
    "$bin/zepto" noise record -q -d 5s -o "$out/threshold.znt" --json >"$out/threshold.json"
    jq -r '"threshold \(.threshold_ns) ns; " + ([.cpus[] | "CPU \(.cpu): loop \(.loop_min_ns) ns, tail \(.loop_tail_ns) ns, \(.detours) detours"] | join("; "))' "$out/threshold.json"
    "$bin/zepto" noise export "$out/threshold.znt" --format csv |
        awk -F, -v n="$(nproc)" 'NR > 1 { all++; if ($3 < 1000) { sub1++; t += $3 } }
            END { printf "  detours under 1 us: %.1f per CPU-second (%.2f %% of detours, %.5f %% of the time)\n",
                  sub1 / (5 * n), 100 * sub1 / all, 100 * t / (5e9 * n) }'
done

section "noise play: injection lateness and length error (100 us every 1 ms, 5 s)" \
    "$bin/zepto noise play --synthetic period=1ms,duration=100us -c $cpu -d 5s --json [-- fixed_work]"
n=$(taskset -c "$cpu" "$bin/fixed_work" --calibrate 5000)
for mode in idle busy; do
    if [ "$mode" = idle ]; then
        "$bin/zepto" noise play -q --synthetic period=1ms,duration=100us -c "$cpu" -d 5s --json >"$out/play-$mode.json"
    else
        "$bin/zepto" noise play -q --synthetic period=1ms,duration=100us -c "$cpu" \
            --report "$out/play-$mode.json" -- "$bin/fixed_work" "$n" >/dev/null
    fi
    jq -r --arg m "$mode" '"CPU \($m): \(.all.detours) detours, \(.all.noise_fraction * 100 | . * 1000 | round / 1000) % of the time; start late median \(.all.late_median_ns) ns, p99 \(.all.late_p99_ns) ns, max \(.all.late_max_ns) ns; length error median \(.all.length_error_median_ns) ns, p99 \(.all.length_error_p99_ns) ns, max \(.all.length_error_max_ns) ns (\(.priority))"' "$out/play-$mode.json"
done

section "noise collective: 2 ranks, synthetic noise, measured and predicted" "bash bench/collective.sh $build"
bash bench/collective.sh "$build" | tee "$out/collective.txt"

section "noise simulate: speed" "bash bench/sim_speed.sh $build"
bash bench/sim_speed.sh "$build" | tee "$out/sim_speed.txt"

section "noise analyse: periodic signatures, speed and detection before/after" "bash bench/periodic.sh $build"
bash bench/periodic.sh "$build" | tee "$out/periodic.txt"

section "noise record across nodes: srun wall time vs recording length; analyse DIR" \
    "bash bench/cluster_noise.sh $build 3"
bash bench/cluster_noise.sh "$build" 3 | tee "$out/cluster_noise.txt"

section "bigmem: in-process page-size comparison (1 GiB table, 3 rounds)" "$bin/zepto bigmem bench --size 1G"
"$bin/zepto" bigmem bench --size 1G | tee "$out/bigmem_bench.txt"

section "bigmem against its peers (512 MiB, 5 rounds); region start-up" "bash bench/bigmem_peers.sh $build 512M 5"
if [ "$(id -u)" -eq 0 ]; then
    bash bench/bigmem_peers.sh "$build" 512M 5 | tee "$out/bigmem_peers.txt"
else
    echo "(skipped: the peers need root to reserve huge pages and to switch THP to always)"
fi

section "zoid against raw sockets (unix and tcp loopback, 3 interleaved rounds)" \
    "bash bench/zoid.sh $build 3"
OUT="$out/zoid" bash bench/zoid.sh "$build" 3 | tee "$out/zoid.txt"

section "zoid shm: against a futex ping-pong, a memcpy and the unix ping-pong (3 rounds)" \
    "bash bench/zoid_shm.sh $build 3"
OUT="$out/zoid_shm" bash bench/zoid_shm.sh "$build" 3 | tee "$out/zoid_shm.txt"

section "zepto report timings" "/usr/bin/time -f %e $bin/zepto report [--quick] -o $out/report"
for mode in --quick ""; do
    start=$(date +%s%N)
    # shellcheck disable=SC2086
    "$bin/zepto" report $mode -o "$out/report" >/dev/null
    awk -v m="$mode" -v ns=$(($(date +%s%N) - start)) 'BEGIN { printf "zepto report %-8s %.1f s\n", m, ns / 1e9 }'
done

section "Fuzzing the trace decoder (60 s)" "ctest -R fuzz.trace with ZEPTO_FUZZ_SECONDS=60"
if [ -x "$bin/fuzz_trace" ]; then
    ZEPTO="$bin/zepto" FUZZER="$bin/fuzz_trace" FUZZ_SECONDS=60 WORK="$out/fuzz" \
        bash tests/fuzz/run_fuzz.sh
fi

section "Fuzzing the zoid frame decoder and readers (60 s)" "ctest -R fuzz.zoid_frame with ZEPTO_FUZZ_SECONDS=60"
if [ -x "$bin/fuzz_zoid_frame" ]; then
    FUZZER="$bin/fuzz_zoid_frame" SEEDS=tests/fuzz/zoid_seeds.sh FUZZ_ARGS=-close_fd_mask=2 \
        FUZZ_SECONDS=60 WORK="$out/fuzz-zoid" bash tests/fuzz/run_fuzz.sh
fi

section "zoid POSIX forwarding against local I/O (tmpfs export; 1 round, ~8 min)" \
    "SECS=5 SIZE=256M META_N=2000 bash bench/zoid_posix.sh $build 1"
SECS=5 SIZE=256M META_N=2000 OUT="$out/zoid_posix" bash bench/zoid_posix.sh "$build" 1 |
    tee "$out/zoid_posix.txt"

section "zoid reads sent from the file's pages (splice) against copied, tcp: and unix: (~1 min)" \
    "bash bench/zoid_splice.sh $build 3"
OUT="$out/zoid_splice" bash bench/zoid_splice.sh "$build" 3 | tee "$out/zoid_splice.txt" ||
    echo "(failed: see above)"

section "zoid run: the cost of the buffer checks (on against ZOID_CHECK_BUFFERS=0, ~1 min)" \
    "SECS=2 bash bench/zoid_buffer_checks.sh $build 5"
SECS=2 OUT="$out/zoid_buffer_checks" bash bench/zoid_buffer_checks.sh "$build" 5 |
    tee "$out/zoid_buffer_checks.txt" || echo "(failed: see above)"

section "ktau: a start/stop pair; capture overhead against perf record" \
    "$bin/bench_ktau_pair; $bin/bench_ktau_capture $bin/zepto"
"$bin/bench_ktau_pair" | tee "$out/ktau_pair.txt"
"$bin/bench_ktau_capture" "$bin/zepto" | tee "$out/ktau_capture.txt"

section "ktau: what a libktau-mpi wrapper adds to an MPI call (MPI_Iprobe, 2 ranks)" "bash bench/ktau_mpi.sh $build"
bash bench/ktau_mpi.sh "$build" | tee "$out/ktau_mpi.txt"

section "ktau: libktau-mpi per call, C and Fortran (MPI_Comm_rank, MPI_Sendrecv with events)" \
    "bash bench/ktau_mpi_calls.sh $build"
bash bench/ktau_mpi_calls.sh "$build" | tee "$out/ktau_mpi_calls.txt"

section "zepto report for an allocation: 2 and 4 nodes against one (test cluster, --quick, 2 rounds)" \
    "bash bench/report_alloc.sh $build 2"
bash bench/report_alloc.sh "$build" 2 | tee "$out/report_alloc.txt"

section "zoid between hosts on the test cluster (4 nodes + I/O node; unshaped and 1gbit)" \
    "ZEPTO_CLUSTER_ID=\${ZEPTO_CLUSTER_ID:-0} bash bench/cluster_zoid.sh $build off 1gbit"
if [ "$(id -u)" = 0 ] && command -v slurmctld >/dev/null; then
    bash bench/cluster_zoid.sh "$build" off 1gbit | tee "$out/cluster_zoid.txt" || echo "(failed: see above)"
else
    echo "(skipped: needs root and Slurm, scripts/deps.sh)"
fi

section "zepto tune against tuned cpu-partitioning and tuna --isolate (5 s x 3 rounds, --explain)" \
    "bash bench/tune_peers.sh $build 5 3"
bash bench/tune_peers.sh "$build" 5 3 | tee "$out/tune_peers.txt"

section "zoid socket forwarding: connect latency and stream throughput, forwarded vs direct (cluster)" \
    "ZEPTO_CLUSTER_ID=\${ZEPTO_CLUSTER_ID:-0} bash bench/zoid_sockets.sh $build"
bash bench/zoid_sockets.sh "$build" | tee "$out/zoid_sockets.txt" || echo "(failed: see above)"

section "zoid collective coalescing: 1/8/64 readers of one 256 MiB file and its floors, 64 writers (3 rounds)" \
    "bash bench/zoid_coalesce.sh $build 3"
OUT="$out/zoid_coalesce" bash bench/zoid_coalesce.sh "$build" 3 | tee "$out/zoid_coalesce.txt" || echo "(failed: see above)"

section "zoid FUSE 1 MiB writes: strict/relaxed x write coalescing on/off (5 rounds)" \
    "bash bench/zoid_coalesce_fuse.sh $build 5"
OUT="$out/zoid_coalesce_fuse" bash bench/zoid_coalesce_fuse.sh "$build" 5 | tee "$out/zoid_coalesce_fuse.txt" || echo "(skipped or failed: see above)"

section "zoid FUSE metadata: creates, stats, unlinks through a relaxed mount vs local tmpfs (5 rounds)" \
    "bash bench/zoid_fuse_meta.sh $build 5"
bash bench/zoid_fuse_meta.sh "$build" 5 | tee "$out/zoid_fuse_meta.txt" || echo "(skipped or failed: see above)"

section "bigmem static data and code (issue 17; 5 paired rounds)" "bash bench/bigmem_static.sh $build 5"
if [ "$(id -u)" -eq 0 ]; then
    bash bench/bigmem_static.sh "$build" 5 | tee "$out/bigmem_static.txt"
else
    echo "(skipped: needs root to raise the 2 MiB pool)"
fi

section "zoid streams against raw TCP (1/8/64 producers, 64 B/4 KiB/1 MiB, 3 interleaved rounds)" \
    "ROUNDS=3 bash bench/zoid_stream.sh $build"
ROUNDS=3 bash bench/zoid_stream.sh "$build" | tee "$out/zoid_stream.txt" || echo "(failed: see above)"
section "zoid streams between hosts: compute nodes -> I/O node -> consumer outside (test cluster; 1gbit and unshaped)" \
    "ZEPTO_CLUSTER_ID=\${ZEPTO_CLUSTER_ID:-0} ROUNDS=3 bash bench/cluster_stream.sh $build 1gbit off"
if [ "$(id -u)" = 0 ] && command -v slurmctld >/dev/null; then
    ROUNDS=3 bash bench/cluster_stream.sh "$build" 1gbit off | tee "$out/cluster_stream.txt" || echo "(failed: see above)"
else
    echo "(skipped: needs root and Slurm, scripts/deps.sh)"
fi
section "zoid stream departures: the consumer's wait after a producer is SIGKILLed vs ends (5 interleaved rounds)" \
    "ROUNDS=5 bash bench/zoid_stream_depart.sh $build"
ROUNDS=5 bash bench/zoid_stream_depart.sh "$build" | tee "$out/zoid_stream_depart.txt" || echo "(failed: see above)"
