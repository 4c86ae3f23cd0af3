#!/usr/bin/env bash
# zoid against the sockets it runs on, in one run: a daemon on a unix socket and one on TCP
# loopback (--insecure), and beside each, on the same transport, the raw baselines of
# bench/raw_pingpong.c (64-byte ping-pong) and bench/raw_stream.c (N-byte messages one way).
# Rounds alternate zoid and raw, and their order, because the machine is noisy; every figure is
# the median of the rounds, every ratio the ratio of two medians. Prints a markdown table with the
# targets of issue 5: null-call latency <= 1.3x the raw ping-pong, 1 MiB bandwidth (4 calls in
# flight) >= 0.8x the raw stream. Raw JSON goes to $OUT (default bench/out/zoid).
#
# usage: bash bench/zoid.sh [BUILD [ROUNDS]]      (defaults: build 3; about 20 s a round)
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
out=${OUT:-bench/out/zoid}
prog=zoid
# shellcheck source=bench/zoid_lib.sh
. "$(dirname "$0")/zoid_lib.sh"
zl_init zepto bench_raw_pingpong bench_raw_stream
zl_serve daemon-unix.log "unix:$dir/zoid.sock"
zl_serve_tcp daemon-tcp.log
declare -A server=([unix]="unix:$dir/zoid.sock" [tcp]="tcp:127.0.0.1:$port")
declare -A raw=([unix]="unix:$dir/raw.sock" [tcp]="tcp:127.0.0.1:0")

run_zoid() { "$bin/zepto" zoid bench --server "${server[$1]}" --wait 10s --json >"$out/zoid-$1-$2.json"; }
run_raw() {
    "$bin/bench_raw_pingpong" "${raw[$1]}" >"$out/pingpong-$1-$2.json"
    "$bin/bench_raw_stream" "${raw[$1]}" >"$out/stream-$1-$2.json"
}
for r in $(seq "$rounds"); do
    for t in unix tcp; do
        echo "round $r/$rounds: $t" >&2
        if [ $((r % 2)) -eq 1 ]; then
            run_raw "$t" "$r"
            run_zoid "$t" "$r"
        else
            run_zoid "$t" "$r"
            run_raw "$t" "$r"
        fi
    done
done

# med KIND TRANSPORT EXPR: the median over the rounds of EXPR on each round's JSON.
med() { zl_med "$3" "$out/$1-$2-"*.json; }
# Per-round ratios of zoid to raw, for judging the noise: "1.52 1.61 1.58".
per_round() {
    local t=$1 zexpr=$2 rkind=$3 rexpr=$4 r list=""
    for r in $(seq "$rounds"); do
        list+=$(jq -n --slurpfile z "$out/zoid-$t-$r.json" --slurpfile w "$out/$rkind-$t-$r.json" \
            "(\$z[0] | $zexpr) / (\$w[0] | $rexpr) * 100 | round / 100")" "
    done
    echo "${list% }"
}
verdict() { awk -v r="$1" -v op="$2" -v t="$3" 'BEGIN { ok = op == "<=" ? r <= t : r >= t;
    printf "%.2f %s", r, ok ? "(holds)" : "(missed)" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
num() { awk -v v="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, v }'; }

lat_z='.latency_median_ns / 1000'
lat_r='.latency_median_ns / 1000'
# bw_z DIRECTION BYTES [KEY]: KEY bandwidth (one call at a time) or bandwidth_pipelined (4 calls in
# flight on the connection, as a forwarding client streams; the figure the 0.8 target is for).
bw_z() { echo "(.${3:-bandwidth}[] | select(.direction == \"$1\" and .payload_bytes == $2) | .bandwidth_bytes_per_s / 1048576)"; }
bw_r() { echo "(.sizes[] | select(.message_bytes == $1) | .bandwidth_bytes_per_s / 1048576)"; }

echo
echo "zoid against raw sockets, $rounds interleaved rounds (medians; ratio = zoid / raw)"
echo
echo "| figure | unix zoid | unix raw | unix ratio | tcp zoid | tcp raw | tcp ratio | target |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
row() { # LABEL TARGET-OP TARGET ZKIND ZEXPR RKIND REXPR DECIMALS
    local line="| $1 |" t z w
    for t in unix tcp; do
        z=$(med "$4" "$t" "$5")
        w=$(med "$6" "$t" "$7")
        if [ -n "$2" ]; then
            line+=" $(num "$z" "$8") | $(num "$w" "$8") | $(verdict "$(ratio "$z" "$w")" "$2" "$3") |"
        else
            line+=" $(num "$z" "$8") | $(num "$w" "$8") | $(ratio "$z" "$w") |"
        fi
    done
    echo "$line ${2:+ratio $2 $3} |"
}
row "null call round trip, median (µs)" "<=" 1.3 zoid "$lat_z" pingpong "$lat_r" 1
row "null call round trip, p99 (µs)" "" "" zoid '.latency_p99_ns / 1000' pingpong \
    '.latency_p99_ns / 1000' 1
for s in 4096 65536 1048576 16777216; do
    if [ "$s" -ge 1048576 ]; then label="$((s >> 20)) MiB"; else label="$((s >> 10)) KiB"; fi
    for dir in upload download; do
        row "$label $dir, 1 call at a time (MiB/s)" "" "" zoid "$(bw_z $dir "$s")" stream \
            "$(bw_r "$s")" 0
        if [ "$s" -eq 1048576 ]; then
            row "$label $dir, 4 in flight (MiB/s)" ">=" 0.8 zoid \
                "$(bw_z $dir "$s" bandwidth_pipelined)" stream "$(bw_r "$s")" 0
        else
            row "$label $dir, 4 in flight (MiB/s)" "" "" zoid \
                "$(bw_z $dir "$s" bandwidth_pipelined)" stream "$(bw_r "$s")" 0
        fi
    done
done
# Calls/s: the raw column of 1 client is the ping-pong's round trips per second.
for n in 1 4 16 64; do
    plural=s
    [ "$n" -gt 1 ] || plural=
    line="| calls/s, $n client$plural |"
    for t in unix tcp; do
        z=$(med zoid "$t" "(.clients[] | select(.clients == $n) | .calls_per_s)")
        if [ "$n" -eq 1 ]; then
            w=$(med pingpong "$t" '1e9 / .latency_mean_ns')
            line+=" $(num "$z" 0) | $(num "$w" 0) | $(ratio "$z" "$w") |"
        else
            line+=" $(num "$z" 0) | — | — |"
        fi
    done
    echo "$line |"
done
echo
for t in unix tcp; do
    echo "$t, per round: latency ratio $(per_round "$t" "$lat_z" pingpong "$lat_r");" \
        "1 MiB upload, 4 in flight $(per_round "$t" "$(bw_z upload 1048576 bandwidth_pipelined)" \
            stream "$(bw_r 1048576)");" \
        "download $(per_round "$t" "$(bw_z download 1048576 bandwidth_pipelined)" stream \
            "$(bw_r 1048576)")"
done
