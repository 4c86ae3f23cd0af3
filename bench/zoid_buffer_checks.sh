#!/usr/bin/env bash
# The cost of the interposer's buffer checks (docs/zoid-run.md, "Bad pointers"): the same
# interposed reads and writes (bench_posix_stream through `zepto zoid run` over unix:, the export
# a directory under /tmp: bench/zoid_lib.sh) with the checks on (the default) and off (ZOID_CHECK_BUFFERS=0), alternating in each
# round, for the calls where they cost most (4 KiB relaxed reads and writes: no round trip to
# hide them) and for strict 4 KiB and 1 MiB calls.
#
# usage: bench/zoid_buffer_checks.sh [BUILD_DIR] [ROUNDS]
#   environment: SECS (1), OUT (bench/out/zoid_buffer_checks)
# Prints a markdown table of medians (MiB/s) and the ratio on/off; writes raw.jsonl.
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
secs=${SECS:-1}
out=${OUT:-bench/out/zoid_buffer_checks}
prog=zoid_buffer_checks
. "$(dirname "$0")/zoid_lib.sh"
zl_init zepto bench_posix_stream
command -v jq >/dev/null || { echo "$prog: jq is missing (scripts/deps.sh)" >&2; exit 1; }
: >"$out/raw.jsonl"
zl_serve daemon.log "unix:$dir/d.sock"
for _ in $(seq 100); do
    grep -q "plugin 1 posix" "$out/daemon.log" && break
    sleep 0.05
done
grep -q "plugin 1 posix" "$out/daemon.log" || { echo "$prog: the daemon did not start" >&2; exit 1; }

jobs=("relaxed write 4096" "relaxed read 4096" "relaxed randwrite 4096" "strict write 4096"
    "strict read 4096" "strict write 1048576" "strict read 1048576")
for r in $(seq "$rounds"); do
    for job in "${jobs[@]}"; do
        read -r cons op bs <<<"$job"
        for checks in 1 0; do
            line=$(ZOID_CHECK_BUFFERS=$checks "$bin/zepto" zoid run --server "unix:$dir/d.sock" \
                --mount /zz --consistency "$cons" -- "$bin/bench_posix_stream" "$op" /zz/f "$bs" \
                $((64 << 20)) "$secs") || die "$job (checks $checks) failed"
            jq -c --arg job "$job" --argjson checks "$checks" --argjson round "$r" \
                '{job: $job, checks: $checks, round: $round, mibs: (.bw_bytes / 1048576)}' \
                <<<"$line" >>"$out/raw.jsonl"
        done
    done
done

echo "| job | checks off MiB/s | checks on MiB/s | on/off |"
echo "|---|---:|---:|---:|"
jq -rs '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  group_by(.job) | sort_by(.[0].job)[] |
  (map(select(.checks == 0).mibs) | median) as $off |
  (map(select(.checks == 1).mibs) | median) as $on |
  "| \(.[0].job) | \($off | round) | \($on | round) | \($on / $off * 100 | round / 100) |"
' "$out/raw.jsonl"
