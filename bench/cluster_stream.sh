#!/usr/bin/env bash
# zoid streams between hosts (issue 14 part 2) on the test cluster (scripts/cluster.sh up 4
# --io): producers on the compute nodes zn1..zn4, the daemon on the I/O node zio, the consumer on
# this machine outside the cluster, as on a real system; for each link rate of zio
# (`cluster.sh shape RATE`, both ways; "off" is the bare veth/bridge):
#   raw      the same bytes over raw TCP from the producers to a reader on zio: zio's link in
#   relay    the same through a process on zio that only forwards them to the consumer (in and
#            out of zio's link, as the stream goes): what a forwarder that touches nothing moves
#   stream   through a zoid stream in the daemon on zio, read by `bench_zoid_stream consume`
# for 1, 8, 64 producers (spread over min(N, 4) nodes) of 4 KiB and 1 MiB records. Rate: bytes
# over the consumer's first to last byte. Rounds interleaved (ROUNDS, default 3): median
# (min..max) and the stream's share of raw and of the relay.
# All nodes share this machine's two CPUs (zn1, zn3 and zio on CPU 0; zn2, zn4 on CPU 1): with the
# link unshaped, the CPUs are the limit, not the link.
#
# usage: ZEPTO_CLUSTER_ID=K bash bench/cluster_stream.sh [BUILD] [RATE...]  (default: 1gbit off)
#        ROUNDS=3, STREAM_MB=256 (per run); raw output in bench/out/cluster_stream/
set -euo pipefail
build=${1:-build}
[ $# -gt 0 ] && shift
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(1gbit off)
bin=$(readlink -f "$build/bin")
here=$(cd "$(dirname "$0")/.." && pwd)
CLUSTER=$here/scripts/cluster.sh
net=10.213.${ZEPTO_CLUSTER_ID:-0}
ROUNDS=${ROUNDS:-3}
MB=${STREAM_MB:-256}
out=$here/bench/out/cluster_stream
mkdir -p "$out"
rm -f "$out"/*
for b in zepto bench_zoid_stream; do
    [ -x "$bin/$b" ] || { echo "cluster_stream.sh: $bin/$b missing: build first" >&2; exit 1; }
done
B=$bin/bench_zoid_stream

source "$here/bench/cluster_bench.sh"
SINK_IO=tcp:$net.100:7001 # raw: the reader on zio
FWD_IO=tcp:$net.100:7002  # relay: the forwarder on zio
SINK_HOST=tcp:$net.1:7003 # relay: the reader on this machine
listening() { grep -q '^listening' "$out/$1.log" 2>/dev/null; }
# finish NAME: waits (120 s at most) for the process NAME, prints its JSON line's MiB/s.
finish() {
    local pid
    pid=$(cat "$work/$1.pid")
    cb_until_ok 120 sh -c "! kill -0 $pid" || { echo "cluster_stream.sh: $1 did not end" >&2; exit 1; }
    grep '^{' "$out/$1.log" | jq -e 'select(.lost == 0) | .mb_per_s' ||
        { echo "cluster_stream.sh: $1: $(cat "$out/$1.log")" >&2; exit 1; }
}
# produce N RECORD ADDR NAME|-: N producers over min(N, 4) compute nodes, MB in all; waits.
produce() {
    local n=$1 size=$2 to=$3 name=$4 nodes each pids=()
    nodes=$((n < 4 ? n : 4))
    each=$((n / nodes))
    for i in $(seq "$nodes"); do
        "$CLUSTER" run "zn$i" "$B" produce "$to" "$name" "$each" "$size" $((MB / nodes)) \
            $(((i - 1) * each)) >>"$out/producers" 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}"
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                   printf "%.0f (%.0f..%.0f)", m, v[1], v[NR] }'
}
printf '| link | producers (nodes) | record | raw TCP to zio (MiB/s) | relay via zio (MiB/s) | stream via zio (MiB/s) | stream / raw | stream / relay |\n'
printf '|---|---|---|---|---|---|---|---|\n'
run=0
for rate in "${rates[@]}"; do
    "$CLUSTER" shape "$rate" >/dev/null
    for n in 1 8 64; do
        for size in 4096 1048576; do
            : >"$work/raw" && : >"$work/relay" && : >"$work/stream"
            for _ in $(seq "$ROUNDS"); do
                run=$((run + 1))
                cb_bg zio "raw$run" "$B" sink "$SINK_IO" "$n" "$size"
                cb_until_ok 10 listening "raw$run"
                produce "$n" "$size" "$SINK_IO" -
                finish "raw$run" >>"$work/raw"

                cb_bg host "relayed$run" "$B" sink "$SINK_HOST" 1 "$size"
                cb_until_ok 10 listening "relayed$run"
                cb_bg zio "fwd$run" "$B" forward "$FWD_IO" "$n" "$SINK_HOST"
                cb_until_ok 10 listening "fwd$run"
                produce "$n" "$size" "$FWD_IO" -
                finish "relayed$run" >>"$work/relay"

                cb_bg host "stream$run" "$B" consume "$SRV" "s$run" "$n" "$size"
                cb_until_ok 10 "$bin/zepto" zoid stream stat --server "$SRV" "s$run"
                produce "$n" "$size" "$SRV" "s$run"
                finish "stream$run" >>"$work/stream"
            done
            r=$(median <"$work/raw")
            y=$(median <"$work/relay")
            s=$(median <"$work/stream")
            printf '| %s | %d (%d) | %s | %s | %s | %s | %.0f %% | %.0f %% |\n' "$rate" "$n" \
                $((n < 4 ? n : 4)) "$([ "$size" = 4096 ] && echo 4 KiB || echo 1 MiB)" "$r" "$y" \
                "$s" "$(bc -l <<<"100 * ${s%% *} / ${r%% *}")" \
                "$(bc -l <<<"100 * ${s%% *} / ${y%% *}")"
        done
    done
done
echo
echo "daemon VmHWM: $(awk '/^VmHWM/ { print $2, $3 }' "/proc/$(cat "$work/daemon.pid")/status")"
"$CLUSTER" shape off >/dev/null 2>&1 || true
