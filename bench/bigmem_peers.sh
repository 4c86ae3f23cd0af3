#!/usr/bin/env bash
# bigmem against what a user would run instead (docs/BENCHMARKS.md). bench_gups (HPCC
# RandomAccess with its verification, and a dependent pointer chase, on one malloc'd table) runs
# under five peers, interleaved: every round runs each peer once, starting one peer later than
# the round before, so that a noisy machine slows them alike:
#   4K          glibc malloc as it is (THP in madvise mode gives it no huge pages)
#   THP-always  the same, with /sys/kernel/mm/transparent_hugepage/enabled = always for the run
#   glibc-2M    GLIBC_TUNABLES=glibc.malloc.hugetlb=2: glibc mmaps large chunks from the 2 MiB pool
#   mimalloc    LD_PRELOAD=libmimalloc.so.2 with large OS pages (2 MiB hugetlb, else THP)
#   bigmem      zepto bigmem run --pages 2M --strict (libzepto-bigmem.so, region pre-faulted)
# then the start-up cost of a 1, 4 and 16 GiB bigmem region (`zepto bigmem run -v -- true`).
#
# Needs root: it raises the 2 MiB pool and switches the THP mode, and puts both back at exit,
# also on failure and on Ctrl-C. Raw results: bench/out/bigmem-peers.jsonl.
#
# usage: bash bench/bigmem_peers.sh [BUILD] [SIZE] [ROUNDS] [REGIONS]
#        (default: build 1G 3 "1 4 16"; REGIONS in GiB for the start-up cost, "" for none)
set -euo pipefail
build=${1:-build}
size=${2:-1G}
rounds=${3:-3}
regions=${4-1 4 16}
bin="$build/bin"
out=bench/out
mkdir -p "$out"
raw="$out/bigmem-peers.jsonl"
: >"$raw"

pool=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
thp=/sys/kernel/mm/transparent_hugepage/enabled
if [ "$(id -u)" -ne 0 ]; then
    echo "bigmem_peers.sh: needs root (it changes nr_hugepages and the THP mode, and restores them)" >&2
    exit 1
fi
for f in "$bin/bench_gups" "$bin/zepto"; do
    [ -x "$f" ] || { echo "bigmem_peers.sh: $f is missing: build first (make)" >&2; exit 1; }
done
mimalloc=$(ldconfig -p | awk '/libmimalloc\.so\.2 / { print $NF; exit }')
[ -n "$mimalloc" ] || { echo "bigmem_peers.sh: libmimalloc.so.2 not found (apt-get install libmimalloc2.0)" >&2; exit 1; }

# Save what we change; put it back however we leave.
old_pool=$(cat "$pool")
old_thp=$(sed 's/.*\[\(.*\)\].*/\1/' "$thp")
restore() {
    echo "$old_pool" >"$pool" || true
    echo "$old_thp" >"$thp" || true
}
trap restore EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

bytes_of() { numfmt --from=iec "${1%B}"; }
table=$(bytes_of "$size")
pow=1
while [ $((pow * 2)) -le "$table" ]; do pow=$((pow * 2)); done
table=$pow
mib=$((table >> 20))
# glibc and mimalloc round the table up to whole huge pages and add a header; bigmem's region
# holds the table in mimalloc blocks of 32 MiB plus one block for the small allocations.
region_mib=$(((mib + 128 + 31) / 32 * 32))
need=$(((region_mib + 1) / 2))

# set_pool N: the pool at its old size plus N free pages (or fail saying what the kernel gave).
set_pool() {
    local want=$(($1 + old_pool)) got
    echo "$want" >"$pool"
    got=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
    if [ "$got" -lt "$1" ]; then
        echo "the kernel gave $got free 2 MiB pages of the $1 asked" >&2
        return 1
    fi
}

peer_cmd() {
    case $1 in
    4K) echo "$bin/bench_gups $size" ;;
    THP-always) echo "(echo always > $thp) $bin/bench_gups $size" ;;
    glibc-2M) echo "GLIBC_TUNABLES=glibc.malloc.hugetlb=2 $bin/bench_gups $size" ;;
    mimalloc) echo "LD_PRELOAD=$mimalloc MIMALLOC_LARGE_OS_PAGES=1 MIMALLOC_ALLOW_LARGE_OS_PAGES=1 $bin/bench_gups $size" ;;
    bigmem) echo "$bin/zepto bigmem run --pages 2M --size ${region_mib}M --strict -- $bin/bench_gups $size" ;;
    esac
}

run_peer() {
    case $1 in
    4K) "$bin/bench_gups" "$size" ;;
    THP-always)
        echo always >"$thp"
        "$bin/bench_gups" "$size"
        echo "$old_thp" >"$thp"
        ;;
    glibc-2M) GLIBC_TUNABLES=glibc.malloc.hugetlb=2 "$bin/bench_gups" "$size" ;;
    # mimalloc 2.0.9 (Debian 12) reads MIMALLOC_LARGE_OS_PAGES; newer ones read ALLOW_LARGE_.
    mimalloc)
        LD_PRELOAD="$mimalloc" MIMALLOC_LARGE_OS_PAGES=1 MIMALLOC_ALLOW_LARGE_OS_PAGES=1 \
            "$bin/bench_gups" "$size"
        ;;
    bigmem)
        "$bin/zepto" bigmem run --pages 2M --size "${region_mib}M" --strict -- \
            "$bin/bench_gups" "$size"
        ;;
    esac
}

peers=(4K THP-always glibc-2M mimalloc bigmem)
n=${#peers[@]}
echo "## bigmem and its peers: $size table ($mib MiB), $rounds round(s), peers interleaved"
echo
echo "2 MiB pool: $old_pool pages, raised by $need for the run; THP mode: $old_thp (restored after)"
set_pool "$need"
echo
for p in "${peers[@]}"; do
    echo "    $p: $(peer_cmd "$p")"
done
echo
for ((r = 0; r < rounds; r++)); do
    for ((i = 0; i < n; i++)); do
        p=${peers[$(((r + i) % n))]}
        printf '\rround %d of %d: %-11s' $((r + 1)) "$rounds" "$p" >&2
        run_peer "$p" | jq -c --arg p "$p" --argjson r $((r + 1)) '. + {peer: $p, round: $r}' >>"$raw"
    done
done
printf '\r\033[K' >&2

jq -rs --arg order "${peers[*]}" '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def pages: if .hugetlb_bytes > 0 then "2M hugetlb"
             elif .anon_huge_bytes > 0 then "THP \(.anon_huge_bytes * 100 / .table_bytes | floor) %"
             else "\(.kernel_page_bytes / 1024) KiB" end;
  def fix($d): (. * pow(10; $d) | round | tostring) as $s
      | ("0" * ([$d + 1 - ($s | length), 0] | max) + $s) as $p
      | if $d == 0 then $s else $p[:-$d] + "." + $p[-$d:] end;
  group_by(.peer) | map({key: .[0].peer, value: {
      pages: (.[0] | pages),
      gups: (map(.gups) | median), chase: (map(.chase_ns) | median),
      rt: (map(.runtime_faults) | median), ai: (map(.alloc_init_faults) | median),
      st: (map(.startup_faults) | median), ms: (map(.alloc_init_ns) | median / 1e6),
      err: (map(.error_fraction) | max)}}) | from_entries as $m
  | $m["4K"] as $b
  | "| peer | pages | GUPS (median) | vs 4K | chase ns (median) | vs 4K | run-time faults | alloc+init faults | alloc+init ms | start-up faults | errors |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ($order | split(" ")[] as $p | $m[$p] |
     "| \($p) | \(.pages) | \(.gups | fix(4)) | \(.gups / $b.gups | fix(2)) | \(.chase | fix(1)) | \($b.chase / .chase | fix(2)) | \(.rt) | \(.ai) | \(.ms | round) | \(.st) | \(.err * 100) % |")
' "$raw"
echo
echo "vs 4K: speed-up over the 4K peer (above 1 is faster). run-time faults: from main() to the"
echo "end (malloc, first write, loops); start-up faults: before main() (the loader, a preload's"
echo "pre-faulting). Medians of $rounds round(s); raw results in $raw."

# ---- Start-up cost of the region ----
echo
echo "## bigmem start-up: zepto bigmem run --pages 2M --size N --strict -v -- true"
echo
echo "| region | pool pages | pool raise ms | set-up ms, 1st run | set-up ms, 2nd, 3rd | wall ms, 1st | wall ms, 2nd, 3rd |"
echo "|---|---|---|---|---|---|---|"
echo "$old_pool" >"$pool"
for gib in $regions; do
    pages=$((gib * 512))
    avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
    if [ $((gib * 1024 + 1024)) -gt "$avail" ]; then
        echo "| ${gib} GiB | $pages | - | not run: $avail MiB available, ${gib} GiB + 1 GiB to spare needed | | | |"
        continue
    fi
    t0=$(date +%s%N)
    if ! set_pool "$pages" 2>"$out/pool.err"; then
        echo "| ${gib} GiB | $pages | - | not run: $(cat "$out/pool.err") | | | |"
        echo "$old_pool" >"$pool"
        continue
    fi
    raise_ms=$((($(date +%s%N) - t0) / 1000000))
    setup=() wall=()
    for _ in 1 2 3; do
        t0=$(date +%s%N)
        line=$("$bin/zepto" bigmem run --pages 2M --size "${gib}G" --strict -v -- true 2>&1 >/dev/null |
            grep 'set up in')
        wall+=($((($(date +%s%N) - t0) / 1000000)))
        line=${line#*set up in }
        setup+=("${line%% ms*}")
    done
    echo "| ${gib} GiB | $pages | $raise_ms | ${setup[0]} | ${setup[1]}, ${setup[2]} | ${wall[0]} | ${wall[1]}, ${wall[2]} |"
    echo "$old_pool" >"$pool"
done
echo
echo "set-up: mapping and pre-faulting the region, from the library's verbose line; wall: the whole"
echo "command, exec of zepto, of true and the region's unmapping included. The 1st run after the"
echo "pool is raised also waits for the hypervisor to back the pages; the 2nd and 3rd reuse them."
