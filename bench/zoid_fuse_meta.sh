#!/usr/bin/env bash
# FUSE metadata rates (issue 15 part 3: >= 10,000 creates/s, >= 30,000 stats/s): bench/posix_meta.c
# (N files created O_EXCL and closed, then stat'ed, then unlinked) through a relaxed
# `zepto zoid mount` and on the local tmpfs the export lives on, rounds interleaved; with OLD (a
# zepto binary of another version) a second daemon and mount of that version beside, for a
# before/after in one run. Medians (min-max) of each rate, and each mount's ratio to local.
#
# usage: bash bench/zoid_fuse_meta.sh [BUILD [ROUNDS]]      (defaults: build, 5)
#   environment: N (2000 files), OLD (another zepto binary)
# Needs /dev/fuse and fusermount3 (exit 77 without them).
set -euo pipefail
build=${1:-build}
rounds=${2:-5}
n=${N:-2000}
meta=$build/bin/bench_posix_meta
[ -c /dev/fuse ] && command -v fusermount3 >/dev/null || { echo "zoid_fuse_meta: no FUSE here (skipped)"; exit 77; }
[ -x "$meta" ] || { echo "zoid_fuse_meta: $meta is not built" >&2; exit 2; }
w=$(mktemp -d -p /dev/shm zepto-fuse-meta.XXXXXX)
pids=()
cleanup() {
    for m in "$w"/mnt-*; do grep -q " $m fuse" /proc/mounts && fusermount3 -u -z "$m"; done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$w"
}
trap cleanup EXIT
declare -A zepto=([new]=$build/bin/zepto)
[ -n "${OLD:-}" ] && zepto[old]=$OLD
for v in "${!zepto[@]}"; do
    mkdir -p "$w/exp-$v" "$w/mnt-$v"
    "${zepto[$v]}" zoid serve --listen "unix:$w/$v.sock" --export "$w/exp-$v" 2>>"$w/daemon.log" &
    pids+=($!)
    for _ in $(seq 200); do [ -S "$w/$v.sock" ] && break; sleep 0.05; done
    "${zepto[$v]}" zoid mount --foreground --server "unix:$w/$v.sock" --consistency relaxed \
        "$w/mnt-$v" 2>>"$w/mount.log" &
    pids+=($!)
    for _ in $(seq 200); do grep -q " $w/mnt-$v fuse" /proc/mounts && break; sleep 0.05; done
    grep -q " $w/mnt-$v fuse" /proc/mounts || { echo "zoid_fuse_meta: mount $v failed" >&2; exit 1; }
done
echo "zoid_fuse_meta: $n files per round, $rounds rounds, $(uptime)"
mkdir "$w/local"
for r in $(seq "$rounds"); do
    for v in local "${!zepto[@]}"; do
        if [ "$v" = local ]; then dir=$w/local/r$r; mkdir "$dir"; else mkdir "$w/exp-$v/r$r"; dir=$w/mnt-$v/r$r; fi
        echo "$v $("$meta" "$dir" "$n")" >>"$w/raw"
    done
done
python3 - "$w/raw" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    v, j = line.split(" ", 1)
    rows.setdefault(v, []).append(json.loads(j))
def med(v, k):
    x = [r[k] for r in rows[v]]
    return statistics.median(x), min(x), max(x)
print(f"{'':<6} {'creates/s':>24} {'stats/s':>26} {'unlinks/s':>24}")
for v in rows:
    cells = []
    for k in ("create_per_s", "stat_per_s", "unlink_per_s"):
        m, lo, hi = med(v, k)
        cells.append(f"{m:>9.0f} ({lo:.0f}-{hi:.0f})")
    print(f"{v:<6} " + " ".join(f"{c:>24}" for c in cells))
for v in rows:
    if v != "local":
        print(f"{v}: creates {med(v, 'create_per_s')[0] / med('local', 'create_per_s')[0]:.3f}x local, "
              f"stats {med(v, 'stat_per_s')[0] / med('local', 'stat_per_s')[0]:.3f}x local")
if "old" in rows:
    print(f"new/old: creates {med('new', 'create_per_s')[0] / med('old', 'create_per_s')[0]:.2f}x, "
          f"stats {med('new', 'stat_per_s')[0] / med('old', 'stat_per_s')[0]:.2f}x")
PY
