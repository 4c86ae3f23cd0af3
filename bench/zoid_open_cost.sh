#!/bin/bash
# What an open costs at the daemon, two builds side by side (issue 12: non-blocking opens and the
# per-uid count of descriptors add an fcntl pair and a counter to each open): ROUNDS alternating
# rounds of bench_posix_meta (create, stat, unlink of N files) under `zepto zoid run`, against a
# daemon of BEFORE and one of AFTER, each with its own export; prints the median rates and the
# ratio after/before.
#
#   bench/zoid_open_cost.sh BEFORE_BUILD AFTER_BUILD [ROUNDS] [N]
set -u
before=${1:?usage: bench/zoid_open_cost.sh BEFORE_BUILD AFTER_BUILD [ROUNDS] [N]}
after=${2:?usage: bench/zoid_open_cost.sh BEFORE_BUILD AFTER_BUILD [ROUNDS] [N]}
rounds=${3:-5}
n=${4:-3000}
work=$(mktemp -d /tmp/zoid-open-cost.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for b in before after; do
    dir=$before
    [ "$b" = after ] && dir=$after
    mkdir -p "$work/$b/export/d"
    "$dir/bin/zepto" zoid serve --listen "unix:$work/$b/sock" --export "$work/$b/export" \
        2>"$work/$b/log" &
    pids+=($!)
done
for _ in $(seq 100); do
    [ -S "$work/before/sock" ] && [ -S "$work/after/sock" ] && break
    sleep 0.05
done
for r in $(seq "$rounds"); do
    for b in before after; do
        dir=$before
        [ "$b" = after ] && dir=$after
        "$dir/bin/zepto" zoid run --server "unix:$work/$b/sock" --mount /zm -- \
            "$after/bin/bench_posix_meta" /zm/d "$n" >>"$work/$b.json"
    done
done
python3 - "$work" <<'EOF'
import json, statistics, sys
w = sys.argv[1]
med = {}
for b in ("before", "after"):
    rows = [json.loads(l) for l in open(f"{w}/{b}.json") if l.strip()]
    med[b] = {k: statistics.median(r[k] for r in rows) for k in rows[0] if isinstance(rows[0][k], (int, float))}
for k in med["before"]:
    print(f"{k}: before {med['before'][k]:.0f}  after {med['after'][k]:.0f}  ratio {med['after'][k] / med['before'][k]:.2f}")
EOF
