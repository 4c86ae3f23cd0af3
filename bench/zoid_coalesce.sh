#!/usr/bin/env bash
# Collective coalescing of the posix plugin (issue 14, part 1), in one run, with its baselines:
#   read   1, 8 and 64 clients (processes, each its own connection, released together) open and
#          read the same SIZE file (256 MiB) in 1 MiB preads, against a daemon that coalesces
#          and one started with ZOID_COALESCE=0 (same export, running side by side): backend
#          bytes read per file size (target 1x, not Nx) and wall time per one client alone
#          (target <= 2x); next to them, the floors of the same N on this machine, without zoid:
#          "local" (N processes pread the file from the page cache) and "raw" (each of N clients
#          receives the file over its own unix socket from a sender process: the transport with
#          no protocol and no backend read); each row gives its ratio to the raw floor of its N
#   write  64 clients write disjoint blocks of 1 MiB (a 256 MiB file) and of 4 KiB (a 64 MiB
#          file), relaxed (gathered into 4 MiB aligned writes) vs strict (one backend write per
#          call, the uncoalesced baseline), each run ended by one fsync through the daemon:
#          backend write calls and MiB/s
# Configurations are interleaved round by round (the machine is shared and noisy); figures are
# medians over ROUNDS with min-max. The file is in the page cache: "backend" is the daemon's
# pread/pwrite calls on it, as counted by `zepto zoid stat`.
#
# usage: bash bench/zoid_coalesce.sh [BUILD [ROUNDS]]      (defaults: build, 3)
#   environment: SIZE (256M), CLIENTS ("1 8 64"), OUT (bench/out/zoid_coalesce)
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
bin=$build/bin
size=${SIZE:-256M}
clients=${CLIENTS:-1 8 64}
out=${OUT:-bench/out/zoid_coalesce}
drv=$bin/bench_zoid_coalesce
command -v jq >/dev/null || { echo "bench/zoid_coalesce.sh: needs jq" >&2; exit 2; }
[ -x "$drv" ] || { echo "bench/zoid_coalesce.sh: no $drv (build first)" >&2; exit 2; }
mkdir -p "$out"
scratch=$(mktemp -d /dev/shm/zoid-coalesce.XXXXXX)
exp=$scratch/export
mkdir -p "$exp"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT

start() { # NAME [ENV...]
    local name=$1
    shift
    env "$@" "$bin/zepto" zoid serve --listen "unix:$scratch/$name.sock" --export "$exp" \
        --max-clients 512 2>"$out/daemon-$name.log" &
    pids+=($!)
    dpid[$name]=$!
    for _ in $(seq 200); do [ -S "$scratch/$name.sock" ] && return 0; sleep 0.05; done
    echo "bench/zoid_coalesce.sh: daemon $name did not start: $(cat "$out/daemon-$name.log")" >&2
    exit 1
}
# CPU seconds a daemon has used (utime + stime of its /proc stat)
declare -A dpid
dcpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/${dpid[$1]}/stat"; }
counter() { "$bin/zepto" zoid stat --server "unix:$scratch/$1.sock" --json | jq -r ".$2"; }
start on
start off ZOID_COALESCE=0
head -c "$size" /dev/urandom >"$exp/deck.dat"
bytes=$(stat -c %s "$exp/deck.dat")
echo "load before: $(uptime)"

# Warm-up (not counted): the daemons' first calls start their worker threads and heaps.
for d in on off; do "$drv" read "unix:$scratch/$d.sock" deck.dat 1 1048576 "$exp/deck.dat" >/dev/null; done
: >"$out/runs.jsonl"
for r in $(seq "$rounds"); do
    for n in $clients; do
        for d in on off; do
            b0=$(counter "$d" read_backend_bytes) c0=$(dcpu "$d")
            j=$("$drv" read "unix:$scratch/$d.sock" deck.dat "$n" 1048576 "$exp/deck.dat")
            b1=$(counter "$d" read_backend_bytes) c1=$(dcpu "$d")
            echo "$j" | jq -c --arg d "$d" --argjson r "$r" --argjson b $((b1 - b0)) \
                --argjson dc "$(echo "$c1 - $c0" | bc -l | sed 's/^\./0./')" \
                --argjson size "$bytes" '. + {kind:"read", daemon:$d, round:$r, backend_ratio:($b / $size), daemon_cpu_s:$dc}' \
                >>"$out/runs.jsonl"
        done
        for fl in local raw; do
            j=$("$drv" "$fl" "$exp/deck.dat" "$n" 1048576)
            echo "$j" | jq -c --arg d "$fl" --argjson r "$r" '. + {kind:"read", daemon:$d, round:$r, backend_ratio:null, daemon_cpu_s:0}' \
                >>"$out/runs.jsonl"
        done
    done
    for bs in 1048576 4096; do
        total=$((bs == 4096 ? 64 << 20 : 256 << 20))
        for m in relaxed strict; do
            rm -f "$exp/ckpt.dat"
            o0=$(counter on write_backend_ops)
            j=$("$drv" write "unix:$scratch/on.sock" ckpt.dat 64 "$bs" "$total" "$m" "$exp/ckpt.dat")
            o1=$(counter on write_backend_ops)
            echo "$j" | jq -c --arg m "$m" --argjson r "$r" --argjson bs "$bs" --argjson ops $((o1 - o0)) \
                --argjson total "$total" '. + {kind:"write", mode:$m, round:$r, block:$bs, backend_writes:$ops, calls:($total / $bs), mib_s:($total / 1048576 / .wall_s)}' \
                >>"$out/runs.jsonl"
        done
    done
done
echo "load after: $(uptime)"
bad=$(jq -s '[.[] | select(.ok | not)] | length' "$out/runs.jsonl")
[ "$bad" = 0 ] || { echo "bench/zoid_coalesce.sh: $bad runs failed:"; jq -c 'select(.ok | not)' "$out/runs.jsonl"; }

# Medians and spreads, and the targets.
jq -rs --arg rounds "$rounds" '
  def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def f(d): . * pow(10; d) | round / pow(10; d);
  (map(select(.kind == "read" and .daemon == "on" and .clients == 1) | .wall_s) | med) as $one |
  "read: \($rounds) rounds, medians (min-max); one client alone through the coalescing daemon: \($one | f(3)) s",
  (map(select(.kind == "read")) | group_by(.clients) | map({key: (.[0].clients | tostring),
    value: (map(select(.daemon == "raw") | .wall_s) | med)}) | from_entries) as $raw |
  "| clients | daemon | backend bytes / file | wall s | wall / one client alone | wall / raw floor of N | CPU s: clients + daemon | CPUs busy (CPU s / wall) |",
  "|---|---|---|---|---|---|---|---|",
  (group_by([.kind, .clients, .daemon])[] | select(.[0].kind == "read") |
    (map(.wall_s)) as $w | (map(.backend_ratio)) as $b | (.[0].clients | tostring) as $n |
    "| \(.[0].clients) | \({on: "coalescing", off: "ZOID_COALESCE=0", local: "floor: local pread, no zoid", raw: "floor: raw unix socket, no zoid"}[.[0].daemon]) | \(if $b[0] == null then "-" else "\($b | med | f(2)) (\($b | min | f(2))-\($b | max | f(2)))" end) | \($w | med | f(3)) (\($w | min | f(3))-\($w | max | f(3))) | \(($w | med) / $one | f(2)) | \(if $raw[$n] then ($w | med) / $raw[$n] | f(2) else "-" end) | \(map(.clients_cpu_s) | med | f(1)) + \(map(.daemon_cpu_s) | med | f(1)) | \(map((.clients_cpu_s + .daemon_cpu_s) / .wall_s) | med | f(2)) |"),
  "",
  "write: 64 clients, disjoint blocks, \($rounds) rounds, medians (min-max)",
  "| block | mode | calls | backend writes | MiB/s |",
  "|---|---|---|---|---|",
  (group_by([.kind, .block, .mode])[] | select(.[0].kind == "write") |
    (map(.mib_s)) as $t | (map(.backend_writes)) as $o |
    "| \(.[0].block) | \(.[0].mode) | \(.[0].calls) | \($o | med) (\($o | min)-\($o | max)) | \($t | med | f(1)) (\($t | min | f(1))-\($t | max | f(1))) |")
' "$out/runs.jsonl" | tee "$out/summary.md"
[ "$bad" = 0 ]
