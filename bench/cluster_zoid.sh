#!/usr/bin/env bash
# zoid between hosts (issue 13 part 3) on the test cluster (scripts/cluster.sh up 4 --io): the
# daemon in the I/O node zio (tcp: with a token, export on tmpfs), clients on compute nodes, for
# each link rate (`cluster.sh shape RATE`; "off" is the bare veth/bridge):
#   latency   null call (zepto zoid bench: median, p99) against a raw 64-byte TCP ping-pong
#             (bench_net_pair ping), both from zn1
#   1 MiB     zoid: `zepto zoid run -- dd bs=1M` to the export (a real program, pwrite of 1 MiB
#             per call) and zoid bench's 1 MiB sink calls (one and 4 in flight), against a raw
#             TCP stream of 1 MiB writes (bench_net_pair stream), all from zn1; the ratio
#   N nodes   N = 1, 2, 4 compute nodes at once, each `zoid run dd bs=1M` of its share, against N
#             raw streams at once: aggregate MiB/s = all bytes / (last end - first start)
# Every pair (raw, zoid) runs back to back in one run, so their ratio is what to read.
# All nodes share this machine's CPUs (node I on CPU (I-1) mod nproc, zio on the next): with the
# link unshaped, the CPUs are the limit, not the link; N=4 puts two writers on each CPU.
#
# usage: ZEPTO_CLUSTER_ID=K bash bench/cluster_zoid.sh [BUILD] [RATE...]   (default: off 1gbit)
#        SECS=3 (per stream) LAT_N=20000 (ping-pongs); raw output in bench/out/cluster_zoid/
set -euo pipefail
build=${1:-build}
[ $# -gt 0 ] && shift
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(off 1gbit)
bin=$(readlink -f "$build/bin")
here=$(cd "$(dirname "$0")/.." && pwd)
CLUSTER=$here/scripts/cluster.sh
net=10.213.${ZEPTO_CLUSTER_ID:-0}
SECS=${SECS:-3}
LAT_N=${LAT_N:-20000}
out=$here/bench/out/cluster_zoid
mkdir -p "$out"
rm -f "$out"/*
for b in zepto bench_net_pair; do
    [ -x "$bin/$b" ] || { echo "cluster_zoid.sh: $bin/$b missing: build first" >&2; exit 1; }
done

source "$here/bench/cluster_bench.sh"
RAW=tcp:$net.100:7001
cb_bg zio rawserver "$bin/bench_net_pair" serve "$RAW"
ZRUN=("$bin/zepto" zoid run --server "$SRV" --token-file "$work/token" --mount /io --)

now_ns() { date +%s%N; }
# zoid_dd NODE MIB TAG: dd of MIB MiB in 1 MiB writes to the export, timed on the node; prints
# "START END" (ns).
zoid_dd() {
    "$CLUSTER" run "$1" sh -c 'date +%s%N; "$@" 2>/dev/null; date +%s%N' sh \
        "${ZRUN[@]}" dd if=/dev/zero of="/io/$3" bs=1M count="$2" | tr '\n' ' '
}
# aggregate FILES...: MiB/s of "BYTES START END" lines: all bytes over first start to last end.
aggregate() {
    awk '{ b += $1; if (!s || $2 < s) s = $2; if ($3 > e) e = $3 }
         END { printf "%.1f", b / ((e - s) / 1e9) / 1048576 }' "$@"
}

printf '| link | null call zoid median / p99 (us) | raw ping-pong median / p99 (us) | zoid/raw | raw stream 1 MiB (MiB/s) | zoid run dd 1 MiB (MiB/s) | ratio | zoid bench sink 1 MiB, 1 / 4 in flight (MiB/s) |\n'
printf '|---|---|---|---|---|---|---|---|\n'
agg_rows=()
for rate in "${rates[@]}"; do
    "$CLUSTER" shape "$rate" >/dev/null
    # latency
    "$CLUSTER" run zn1 "$bin/bench_net_pair" ping "$RAW" "$LAT_N" >"$out/ping-$rate.json"
    "$CLUSTER" run zn1 "$bin/zepto" zoid bench --server "$SRV" --token-file "$work/token" --json \
        >"$out/zbench-$rate.json"
    zmed=$(jq '.latency_median_ns / 1000 | . * 10 | round / 10' "$out/zbench-$rate.json")
    zp99=$(jq '.latency_p99_ns / 1000 | . * 10 | round / 10' "$out/zbench-$rate.json")
    rmed=$(jq .median_us "$out/ping-$rate.json")
    rp99=$(jq .p99_us "$out/ping-$rate.json")
    sink() { jq "[.bandwidth$1[] | select(.direction == \"upload\" and .payload_bytes == 1048576)][0].bandwidth_bytes_per_s / 1048576 | round" "$out/zbench-$rate.json"; }
    # 1 MiB: a raw stream, then zoid dd of as many bytes as the raw stream moved in SECS
    "$CLUSTER" run zn1 "$bin/bench_net_pair" stream "$RAW" "$SECS" >"$out/stream-$rate.json"
    raw=$(jq .mib_s "$out/stream-$rate.json")
    mib=$(awk -v r="$raw" -v s="$SECS" 'BEGIN { m = int(r * s); print (m < 64 ? 64 : (m > 4096 ? 4096 : m)) }')
    read -r s e <<<"$(zoid_dd zn1 "$mib" one.bin)"
    zoid=$(awk -v m="$mib" -v s="$s" -v e="$e" 'BEGIN { printf "%.1f", m / ((e - s) / 1e9) }')
    rm -f "$work/export/one.bin"
    printf '| %s | %s / %s | %s / %s | %.2f | %s | %s | %.2f | %s / %s |\n' "$rate" "$zmed" "$zp99" \
        "$rmed" "$rp99" "$(bc -l <<<"$zmed / $rmed")" "$raw" "$zoid" "$(bc -l <<<"$zoid / $raw")" \
        "$(sink "")" "$(sink _pipelined)"
    # N nodes at once
    for n in 1 2 4; do
        rm -f "$out"/agg-*.txt
        pids=()
        for i in $(seq "$n"); do
            "$CLUSTER" run "zn$i" sh -c 'date +%s%N; "$@"; date +%s%N' sh \
                "$bin/bench_net_pair" stream "$RAW" "$SECS" >"$out/agg-raw-$i.txt" &
            pids+=($!)
        done
        wait "${pids[@]}"
        # three lines: start, the JSON, end -> "BYTES START END"
        for i in $(seq "$n"); do
            awk 'NR == 1 { s = $1 } NR == 2 { b = $0; sub(/.*"bytes":/, "", b); sub(/,.*/, "", b) }
                 NR == 3 { print b, s, $1 }' "$out/agg-raw-$i.txt" >"$out/agg-rawb-$i.txt"
        done
        rawagg=$(aggregate "$out"/agg-rawb-*.txt)
        each=$(awk -v r="$rawagg" -v s="$SECS" -v n="$n" 'BEGIN { m = int(r * s / n); print (m < 32 ? 32 : (m > 2048 ? 2048 : m)) }')
        pids=()
        for i in $(seq "$n"); do
            (read -r s e <<<"$(zoid_dd "zn$i" "$each" "agg$i.bin")"
             echo "$((each << 20)) $s $e" >"$out/agg-zoid-$i.txt") &
            pids+=($!)
        done
        wait "${pids[@]}"
        zagg=$(aggregate "$out"/agg-zoid-*.txt)
        rm -f "$work"/export/agg*.bin
        agg_rows+=("$(printf '| %s | %d | %s | %s | %.2f |' "$rate" "$n" "$rawagg" "$zagg" "$(bc -l <<<"$zagg / $rawagg")")")
    done
done
printf '\n| link | compute nodes writing | raw streams, aggregate (MiB/s) | zoid run dd 1 MiB, aggregate (MiB/s) | ratio |\n|---|---|---|---|---|\n'
printf '%s\n' "${agg_rows[@]}"
"$CLUSTER" shape off >/dev/null 2>&1 || true
