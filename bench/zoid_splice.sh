#!/usr/bin/env bash
# Reads sent from the file's pages and writes spliced into the file (issue 15, part 3): the same
# interposed 1 MiB reads and writes (bench_posix_stream, strict) against two daemons side by
# side, one splicing (the default) and one copying (ZOID_POSIX_SPLICE=0), over tcp: loopback and
# over unix:, alternating in each round, with the daemon's CPU time of each run and a local read
# or write of the same file in the same round. Writes over unix: also run spliced with the
# client's copy (ZOID_SEND_BY_REFERENCE=0: no sending by reference), and "unix copy" writes
# copy on both sides (the code before either lever). Writes over tcp: also run relaxed, streamed
# (the default: begun in the program's thread, replies read later, src/zoid/preload/writestream.c)
# and not ("nostream": ZOID_PRELOAD_STREAM=0, each write waited for).
#
# usage: bench/zoid_splice.sh [BUILD_DIR] [ROUNDS]
#   environment: SECS (2), BS (1048576), OPS ("read write"), OUT (bench/out/zoid_splice)
# Prints a markdown table of medians (MB/s, daemon CPU ms per GB) and writes raw.jsonl.
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
bin=$build/bin
secs=${SECS:-2}
bs=${BS:-1048576}
ops=${OPS:-read write}
out=${OUT:-bench/out/zoid_splice}
die() {
    echo "zoid_splice.sh: $*" >&2
    exit 1
}
for b in zepto bench_posix_stream; do
    [ -x "$bin/$b" ] || die "$bin/$b is not built (cmake --build $build)"
done
command -v jq >/dev/null || die "jq is missing (apt-get install jq)"
mkdir -p "$out"
: >"$out/raw.jsonl"
scratch=$(mktemp -d /dev/shm/zepto-splice.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$scratch"' EXIT
mkdir "$scratch/export"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$scratch/token"
chmod 600 "$scratch/token"
head -c 256M /dev/urandom >"$scratch/export/f"
port=$((20000 + RANDOM % 20000))

# serve ADDR [VAR=VALUE]
serve() {
    local addr=$1 log
    shift
    log="$out/daemon-$(echo "$addr" | tr -c 'a-z0-9\n' _).log"
    env "$@" "$bin/zepto" zoid serve --listen "$addr" --token-file "$scratch/token" \
        --export "$scratch/export" 2>"$log" &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q "plugin 1 posix" "$log" && return 0
        sleep 0.05
    done
    die "the daemon on $addr did not start: $(cat "$log")"
}
serve "tcp:127.0.0.1:$port"
serve "tcp:127.0.0.1:$((port + 1))" ZOID_POSIX_SPLICE=0
serve "unix:$scratch/splice.sock"
serve "unix:$scratch/copy.sock" ZOID_POSIX_SPLICE=0
declare -A pid_of=(["tcp splice"]=${pids[0]} ["tcp copy"]=${pids[1]} ["unix splice"]=${pids[2]}
    ["unix copy"]=${pids[3]})
declare -A addr_of=(["tcp splice"]="tcp:127.0.0.1:$port" ["tcp copy"]="tcp:127.0.0.1:$((port + 1))"
    ["unix splice"]="unix:$scratch/splice.sock" ["unix copy"]="unix:$scratch/copy.sock")
tick=$(getconf CLK_TCK)
cpu_ms() { awk -v t="$tick" '{print int(($14 + $15) * 1000 / t)}' "/proc/$1/stat"; }

for r in $(seq "$rounds"); do
    for op in $ops; do
        modes=("tcp splice" "tcp copy" "unix splice" "unix copy" local)
        [ "$op" = write ] && modes+=("unix splice noref" "tcp relaxed" "tcp relaxed nostream")
        for mode in "${modes[@]}"; do
            daemon=${mode% noref}
            cons=strict
            env=(ZOID_TOKEN_FILE="$scratch/token")
            if [[ "$mode" = "tcp relaxed"* ]]; then
                daemon="tcp splice"
                cons=relaxed
                [[ "$mode" = *nostream ]] && env+=(ZOID_PRELOAD_STREAM=0)
            fi
            [[ "$mode" = *noref || ( "$op" = write && "$mode" = "unix copy" ) ]] &&
                env+=(ZOID_SEND_BY_REFERENCE=0)
            if [ "$mode" = local ]; then
                bw=$("$bin/bench_posix_stream" "$op" "$scratch/export/f" "$bs" 268435456 "$secs" |
                    jq .bw_bytes)
                cpu=0
            else
                c0=$(cpu_ms "${pid_of[$daemon]}")
                bw=$(env "${env[@]}" "$bin/zepto" zoid run --server "${addr_of[$daemon]}" \
                    --mount /zm --consistency "$cons" -- "$bin/bench_posix_stream" "$op" /zm/f \
                    "$bs" 268435456 "$secs" | tail -1 | jq .bw_bytes)
                cpu=$(($(cpu_ms "${pid_of[$daemon]}") - c0))
            fi
            jq -nc --arg mode "$op $mode" --argjson round "$r" --argjson bw "$bw" \
                --argjson cpu "$cpu" --argjson secs "$secs" '{mode: $mode, round: $round,
                bw: $bw, daemon_cpu_ms: $cpu,
                cpu_ms_per_gb: (if $bw > 0 then $cpu / ($bw * $secs / 1e9) else null end)}' \
                >>"$out/raw.jsonl"
        done
    done
    echo "round $r/$rounds done" >&2
done

echo "| mode | MB/s (median) | x local | daemon CPU ms per GB |"
echo "|---|---:|---:|---:|"
jq -rs '
  def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  (map(select(.mode == "read local") | .bw) | med) as $rlocal
  | (map(select(.mode == "write local") | .bw) | med) as $wlocal
  | group_by(.mode) | map({mode: .[0].mode, bw: (map(.bw) | med),
                           cpu: (map(.cpu_ms_per_gb) | med)})
  | sort_by(.mode) | .[]
  | (if (.mode | startswith("read")) then $rlocal else $wlocal end) as $local
  | "| \(.mode) | \(.bw / 1e6 | floor) | \(if $local then (.bw / $local * 100 | floor / 100) else "–" end) | \(if (.mode | endswith("local")) then "–" else (.cpu | floor) end) |"
' "$out/raw.jsonl"
