#!/usr/bin/env bash
# FUSE 1 MiB writes and the daemon's collective buffering (issue 14 part 1, the 0.11x of
# issue 15 part 3), A/B in one run: sequential 1 MiB pwrites (bench/posix_stream.c, SECS each)
# through `zepto zoid mount` strict and relaxed, against a daemon that gathers relaxed writes
# (defaults) and one with ZOID_COALESCE_WRITES=0 (same export, side by side), and the same loop
# on a local directory of the same tmpfs. Configurations interleaved round by round, their order
# rotating; medians (min-max) of MiB/s, with the daemons' backend write calls per round.
#
# usage: bash bench/zoid_coalesce_fuse.sh [BUILD [ROUNDS]]      (defaults: build, 3)
#   environment: SECS (2), SIZE (64M), BS (1M), OUT (bench/out/zoid_coalesce_fuse), OLD (a zepto
#   binary of another version: a third daemon, mounted relaxed, "old-relaxed": before/after)
# Needs /dev/fuse and fusermount3 (exit 77 without them).
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
bin=$build/bin
secs=${SECS:-2}
size=$(numfmt --from=iec "${SIZE:-64M}")
bs=$(numfmt --from=iec "${BS:-1M}")
out=${OUT:-bench/out/zoid_coalesce_fuse}
for b in zepto bench_posix_stream; do
    [ -x "$bin/$b" ] || { echo "zoid_coalesce_fuse.sh: no $bin/$b (build first)" >&2; exit 2; }
done
command -v jq >/dev/null || { echo "zoid_coalesce_fuse.sh: needs jq" >&2; exit 2; }
[ -c /dev/fuse ] && command -v fusermount3 >/dev/null ||
    { echo "zoid_coalesce_fuse.sh: no /dev/fuse or fusermount3: skipped" >&2; exit 77; }
mkdir -p "$out"
scratch=$(mktemp -d /dev/shm/zoid-cfuse.XXXXXX)
mkdir -p "$scratch/export" "$scratch/local"
pids=()
mnts=()
cleanup() {
    for m in "${mnts[@]}"; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT
poll() { # TRIES CMD...: true once CMD is (0.05 s between tries)
    local n=$1
    shift
    for _ in $(seq "$n"); do "$@" && return 0; sleep 0.05; done
    return 1
}
start() { # NAME [ENV...]
    local name=$1
    shift
    env "$@" "${zepto:-$bin/zepto}" zoid serve --listen "unix:$scratch/$name.sock" --export "$scratch/export" \
        2>"$out/daemon-$name.log" &
    pids+=($!)
    poll 200 test -S "$scratch/$name.sock" || { echo "daemon $name did not start" >&2; exit 1; }
}
mount_one() { # DAEMON CONSISTENCY
    local m=$scratch/mnt-$1-$2
    mkdir -p "$m"
    "$bin/zepto" zoid mount --server "unix:$scratch/$1.sock" --consistency "$2" --foreground "$m" \
        2>"$out/mount-$1-$2.log" &
    pids+=($!)
    mnts+=("$m")
    poll 200 grep -q " $m fuse" /proc/mounts ||
        { echo "zoid_coalesce_fuse.sh: mount $m failed: $(head -c 300 "$out/mount-$1-$2.log")" >&2; exit 77; }
}
counter() { "$bin/zepto" zoid stat --server "unix:$scratch/$1.sock" --json | jq -r ".$2"; }
start on
start off ZOID_COALESCE_WRITES=0
confs=(local)
for d in on off; do
    for c in strict relaxed; do
        mount_one "$d" "$c"
        confs+=("$d-$c")
    done
done
if [ -n "${OLD:-}" ]; then
    zepto=$OLD start old
    mount_one old relaxed
    confs+=(old-relaxed)
fi
echo "load before: $(uptime)"
: >"$out/runs.jsonl"
for r in $(seq "$rounds"); do
    k=$(((r - 1) % ${#confs[@]}))
    order=("${confs[@]:k}" "${confs[@]:0:k}")
    for cf in "${order[@]}"; do
        if [ "$cf" = local ]; then
            dir=$scratch/local d=
        else
            dir=$scratch/mnt-$cf d=${cf%%-*}
        fi
        f=$dir/w-$cf.dat
        rm -f "$f"
        o0=$([ -n "$d" ] && counter "$d" write_backend_ops || echo 0)
        j=$("$bin/bench_posix_stream" write "$f" "$bs" "$size" "$secs")
        o1=$([ -n "$d" ] && counter "$d" write_backend_ops || echo 0)
        rm -f "$f"
        echo "$j" | jq -c --arg cf "$cf" --argjson r "$r" --argjson ops $((o1 - o0)) \
            '. + {conf:$cf, round:$r, backend_writes:$ops}' >>"$out/runs.jsonl"
    done
done
echo "load after: $(uptime)"
jq -rs --arg rounds "$rounds" --arg bs "$bs" '
  def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def f(d): . * pow(10; d) | round / pow(10; d);
  def mibs: .bw_bytes / 1048576;
  (map(select(.conf == "local") | mibs) | med) as $local |
  "FUSE sequential writes of \($bs)-byte blocks, \($rounds) rounds, medians (min-max)",
  "| configuration | MiB/s | x local | backend writes / MiB written |",
  "|---|---|---|---|",
  (group_by(.conf)[] | (map(mibs)) as $t |
    (map(if .ops > 0 then .backend_writes / (.ops * .bs / 1048576) else 0 end)) as $o |
    "| \({local: "local tmpfs", "on-strict": "strict, coalescing daemon", "on-relaxed": "relaxed, coalescing daemon", "off-strict": "strict, ZOID_COALESCE_WRITES=0", "off-relaxed": "relaxed, ZOID_COALESCE_WRITES=0", "old-relaxed": "relaxed, coalescing daemon of OLD"}[.[0].conf]) | \($t | med | f(1)) (\($t | min | f(1))-\($t | max | f(1))) | \(($t | med) / $local | f(2)) | \(if .[0].conf == "local" then "-" else ($o | med | f(2)) end) |")
' "$out/runs.jsonl" | tee "$out/summary.md"
