#!/usr/bin/env bash
# Periodic signatures (issue 13): speed of `zepto noise analyse` and how often overlapping
# sources are named, before (the zepto of main before this work, built here from git, or given)
# and after (BUILD_DIR), in one run, alternating.
#   1. wall and user time of one synthetic 128-CPU x 60 s trace and of 8 nodes x 2 CPUs x 60 s;
#   2. detection over SEEDS synthetic 1-CPU x 10 s traces: a 1 ms tick of 5 us, 8 us every 3 ms,
#      6 us every 4 ms, 500/s Poisson detours of 1-4 us; the 3 and 4 ms sources apart from the
#      tick, or due while the tick runs (merged into it); a source is named when a signature is
#      within 1 % of its period; any other signature is extra. Plus SEEDS pure-Poisson traces.
# Usage: bench/periodic.sh [BUILD_DIR [OLD_ZEPTO]]   (SEEDS=20, BEFORE_REF=b18c5af by default)
set -euo pipefail
build=${1:-build}
new="$build/bin/zepto"
synth="$build/bin/noise_synth"
[ -x "$new" ] && [ -x "$synth" ] || { echo "no $new or $synth: build first (make)" >&2; exit 1; }
out=bench/out/periodic
mkdir -p "$out"
old=${2:-}
if [ -z "$old" ]; then
    ref=${BEFORE_REF:-b18c5af}
    src="$out/before-src"
    if [ ! -x "$out/before-build/bin/zepto" ]; then
        rm -rf "$src" && mkdir -p "$src"
        git archive "$ref" | tar -x -C "$src"
        cmake -S "$src" -B "$out/before-build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
        make -C "$out/before-build" -j2 zepto >/dev/null
    fi
    old="$out/before-build/bin/zepto"
    echo "before: $old (git $ref)"
fi
echo "after: $new ($(git rev-parse --short HEAD))"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. Speed.
if [ ! -f "$out/big128.znt" ]; then
    "$synth" "$out/big128.znt" big 128 60 99 5
    mkdir -p "$out/bench8"
    for i in 1 2 3 4 5 6 7; do "$synth" "$out/bench8/n$i.znt" "n$i" 2 60 "$i" 5; done
    "$synth" "$out/bench8/n8.znt" n8 2 60 8 5 8000 3000000 1
fi
echo '$ zepto noise analyse big128.znt  (noise_synth big128.znt big 128 60 99 5)'
echo '$ zepto noise analyse bench8      (noise_synth bench8/nI.znt nI 2 60 I 5, n8 + 8000 3000000 1)'
for r in $(seq "${RUNS:-2}"); do
    for input in big128.znt bench8; do
        for who in after before; do
            bin=$new
            [ "$who" = before ] && bin=$old
            /usr/bin/time -f "run $r $who $input: %e s wall, %U s user, %M KB" \
                "$bin" noise analyse "$out/$input" >/dev/null
        done
    done
done

# 2. Detection over seeds.
seeds=${SEEDS:-20}
tick=1000000:5000:150000
apart="$tick,3000000:8000:570000,4000000:6000:880000"
merged="$tick,3000000:8000:152000,4000000:6000:1152000"
echo "\$ NOISE_SYNTH_PERIODIC=$apart (apart) or $merged (on the tick) noise_synth T h 1 10 SEED 2.5; zepto noise analyse T --json"
# named/expected and extra signatures of one analysis; $1 = json, $2.. = expected periods (ns)
judge() {
    jq -r --argjson want "[${*:2}]" '[.node.signatures[].period_ns] as $got |
        ([$want[] as $w | select(any($got[]; (. - $w) | fabs <= 0.01 * $w))] | length) as $named |
        ([$got[] as $g | select(all($want[]; . as $w | (($g - $w) | fabs) > 0.01 * $w))] | length)
            as $extra |
        "\($named) \($extra)"' <<<"$1"
}
for who in before after; do
    bin=$new
    [ "$who" = before ] && bin=$old
    for layout in apart merged poisson; do
        named=0 extra=0 want=0 all=0
        for seed in $(seq "$seeds"); do
            t="$out/seed.znt"
            case $layout in
            apart) NOISE_SYNTH_PERIODIC=$apart "$synth" "$t" h 1 10 "$seed" 2.5 ;;
            merged) NOISE_SYNTH_PERIODIC=$merged "$synth" "$t" h 1 10 "$seed" 2.5 ;;
            poisson) "$synth" "$t" h 1 10 "$seed" 2.5 ;;
            esac
            js=$("$bin" noise analyse "$t" --json)
            if [ "$layout" = poisson ]; then
                read -r n e < <(judge "$js")
            else
                read -r n e < <(judge "$js" 1000000,3000000,4000000)
                want=$((want + 3))
                [ "$n" -eq 3 ] && [ "$e" -eq 0 ] && all=$((all + 1))
            fi
            named=$((named + n)) extra=$((extra + e))
        done
        if [ "$layout" = poisson ]; then
            echo "$who $layout: $extra signatures in $seeds seeds"
        else
            echo "$who $layout: $named of $want sources named, $extra extra signatures, all three and nothing else in $all of $seeds seeds"
        fi
    done
done
rm -f "$out/seed.znt"
