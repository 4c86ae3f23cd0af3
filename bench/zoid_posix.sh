#!/usr/bin/env bash
# POSIX forwarding against local I/O, in one run: a daemon exporting a tmpfs directory, and the
# same file jobs run on a local directory of the same tmpfs ("local"), through the interposer
# (`zepto zoid run --mount`, "preload-strict" and "preload-relaxed") and through FUSE mounts
# (`zepto zoid mount`, "fuse-strict" and "fuse-relaxed"). Jobs: sequential and random reads and
# writes of 4 KiB and 1 MiB blocks on a SIZE file, SECS each, with fio (psync engine, buffered,
# options that keep it to pread/pwrite: no fallocate, fadvise or invalidation, threads rather
# than processes) and with bench/posix_stream.c (the same loop in a program made only of
# pread/pwrite, in case fio cannot run under the interposer); and the metadata rate of
# bench/posix_meta.c (create/stat/unlink of META_N files) and the latency of one path's stat
# repeated LOOP_N times (bench/posix_stat_loop.c: a program polling a file). The modes are interleaved job by job
# and their order rotates, because the machine is noisy; figures are medians over the rounds.
# Two more modes go through a second daemon on TCP loopback (same export, a token):
# "preload-tcp-strict" and "preload-tcp-relaxed", and two through a third on shm: (the same node's
# shared-memory transport): "preload-shm-strict" and "preload-shm-relaxed", where the daemon lends the
# interposer its descriptors of large files (docs/zoid-posix.md, "Lent descriptors"), and
# "preload-shmfwd-strict" and "preload-shmfwd-relaxed", the same with ZOID_LEND=0 (every
# byte through the daemon); and two FUSE mounts of the shm: daemon, "fuse-shm-strict" and
# "fuse-shm-relaxed" (their large writes through lent descriptors). Prints a markdown table with
# the goals of
# issue 15 (interposer >= 90 % of local throughput with 1 MiB sequential blocks on the same node,
# >= 70 % over TCP loopback; relaxed random 4 KiB writes >= 3x strict; interposer >= 20,000
# creates/s; FUSE >= 70 % of local for 1 MiB sequential, >= 10,000 creates/s, >= 30,000 stats/s)
# and of issue 6 (>= 70 % for every 1 MiB job), and writes $OUT/summary.json.
#
# usage: bash bench/zoid_posix.sh [BUILD [ROUNDS]]        (defaults: build, 1 round)
#   environment: SECS (5), SIZE (256M), META_N (2000), LOOP_N (5000), TOOLS ("fio stream"), MODES (all
#   available of: local preload-strict preload-relaxed preload-shm-strict preload-shm-relaxed
#   preload-shmfwd-strict preload-shmfwd-relaxed preload-tcp-strict preload-tcp-relaxed
#   fuse-strict fuse-relaxed fuse-shm-strict fuse-shm-relaxed fuse-shm-pt; the last is a strict
#   mount of the shm: daemon with --passthrough, root only),
#   OUT (bench/out/zoid_posix)
# Root: the tmpfs is mounted on a scratch directory (and unmounted at the end); otherwise the
# scratch directory is in /dev/shm. About 8 jobs x 9 modes x (SECS + 3 s) per round.
set -euo pipefail
build=${1:-build}
rounds=${2:-1}
bin=$build/bin
secs=${SECS:-5}
size=${SIZE:-256M}
meta_n=${META_N:-2000}
loop_n=${LOOP_N:-5000}
tools=${TOOLS:-fio stream}
out=${OUT:-bench/out/zoid_posix}

die() {
    echo "zoid_posix.sh: $*" >&2
    exit 1
}
for b in zepto bench_posix_stream bench_posix_meta bench_posix_stat_loop; do
    [ -x "$bin/$b" ] || die "$bin/$b is not built (cmake --build $build)"
done
command -v jq >/dev/null || die "jq is missing (apt-get install jq)"
case " $tools " in
*" fio "*)
    command -v fio >/dev/null || die "fio is missing (apt-get install fio), or run with TOOLS=stream"
    fio_version=$(fio --version)
    # The interposer sees only what goes through the dynamic linker.
    if ldd "$(command -v fio)" 2>&1 | grep -q "not a dynamic executable"; then
        die "$(command -v fio) is statically linked: the interposer cannot forward its calls"
    fi
    ;;
*) fio_version=none ;;
esac
if ldd "$bin/bench_posix_stream" 2>&1 | grep -q "not a dynamic executable"; then
    die "$bin/bench_posix_stream is statically linked"
fi
size_bytes=$(numfmt --from=iec "$size")

# Which modes this build and this machine can run; why not, for the others.
declare -A why_not=()
implemented() {
    local help status=0
    help=$("$bin/zepto" zoid "$1" --help 2>&1) || status=$?
    [ "$status" -eq 0 ] && ! grep -qi "not implemented" <<<"$help"
}
implemented run || why_not[preload]="zepto zoid run is not implemented in this build"
if ! implemented mount; then
    why_not[fuse]="zepto zoid mount is not implemented in this build"
elif [ ! -c /dev/fuse ] || ! (exec 3<>/dev/fuse) 2>/dev/null; then
    why_not[fuse]="/dev/fuse is absent or cannot be opened"
fi
modes=()
for m in ${MODES:-local preload-strict preload-relaxed preload-shm-strict preload-shm-relaxed preload-shmfwd-strict preload-shmfwd-relaxed preload-tcp-strict preload-tcp-relaxed fuse-strict fuse-relaxed fuse-shm-strict fuse-shm-relaxed fuse-shm-pt}; do
    if [ -n "${why_not[${m%%-*}]:-}" ]; then
        echo "skipping $m: ${why_not[${m%%-*}]}" >&2
    else
        modes+=("$m")
    fi
done

mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.jsonl "$out"/*.log
if [ "$(id -u)" -eq 0 ]; then
    scratch=$(mktemp -d /tmp/zepto-zp-bench.XXXXXX)
    mount -t tmpfs -o "size=$((size_bytes * 3 + (512 << 20)))" zepto-zp-bench "$scratch"
    fs="tmpfs mounted on $scratch"
else
    scratch=$(mktemp -d /dev/shm/zepto-zp-bench.XXXXXX)
    fs="/dev/shm (tmpfs)"
fi
daemon=
daemon_tcp=
daemon_shm=
mounters=()
cleanup() {
    local p
    for p in "${mounters[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${mounters[@]}"; do wait "$p" 2>/dev/null || true; done
    for p in "$scratch"/mnt-*; do
        grep -q " $p fuse" /proc/mounts && { fusermount3 -u -z "$p" 2>/dev/null || umount -l "$p"; }
    done
    [ -z "$daemon" ] || { kill -TERM "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; }
    [ -z "$daemon_tcp" ] || { kill -TERM "$daemon_tcp" 2>/dev/null || true; wait "$daemon_tcp" 2>/dev/null || true; }
    [ -z "$daemon_shm" ] || { kill -TERM "$daemon_shm" 2>/dev/null || true; wait "$daemon_shm" 2>/dev/null || true; }
    if grep -q " $scratch tmpfs" /proc/mounts; then
        umount "$scratch" || umount -l "$scratch"
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir "$scratch/local" "$scratch/export"

wait_for() { # SECONDS CMD...: polls CMD until it succeeds
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}
sock=$scratch/s.sock
"$bin/zepto" zoid serve --listen "unix:$sock" --export "$scratch/export" 2>"$out/daemon.log" &
daemon=$!
wait_for 20 test -S "$sock" || die "the daemon did not start: $(cat "$out/daemon.log")"
# The same export over TCP loopback, with a token.
umask 077
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$scratch/token"
umask 022
tcp_port=$((20000 + RANDOM % 20000))
"$bin/zepto" zoid serve --listen "tcp:127.0.0.1:$tcp_port" --token-file "$scratch/token" \
    --export "$scratch/export" 2>"$out/daemon-tcp.log" &
daemon_tcp=$!
wait_for 20 grep -q "plugin 1 posix" "$out/daemon-tcp.log" ||
    die "the TCP daemon did not start: $(cat "$out/daemon-tcp.log")"
# The same export over shm: (same node, frames through shared memory).
shm_sock=$scratch/m.sock
"$bin/zepto" zoid serve --listen "shm:$shm_sock" --export "$scratch/export" 2>"$out/daemon-shm.log" &
daemon_shm=$!
wait_for 20 test -S "$shm_sock" || die "the shm daemon did not start: $(cat "$out/daemon-shm.log")"

# Per mode: the directory the jobs see, and the command prefix that runs them there.
prefix=$scratch/fwd # only the interposer knows this path
declare -A base=([local]=$scratch/local)
declare -A runner=([local]="")
for c in strict relaxed; do
    base[preload-$c]=$prefix
    runner[preload-$c]="$bin/zepto zoid run --server unix:$sock --mount $prefix --consistency $c --"
    base[preload-shm-$c]=$prefix
    runner[preload-shm-$c]="$bin/zepto zoid run --server shm:$shm_sock --mount $prefix --consistency $c --"
    base[preload-shmfwd-$c]=$prefix
    runner[preload-shmfwd-$c]="env ZOID_LEND=0 $bin/zepto zoid run --server shm:$shm_sock --mount $prefix --consistency $c --"
    base[preload-tcp-$c]=$prefix
    runner[preload-tcp-$c]="$bin/zepto zoid run --server tcp:127.0.0.1:$tcp_port --token-file $scratch/token --mount $prefix --consistency $c --"
    base[fuse-$c]=$scratch/mnt-$c
    runner[fuse-$c]=""
    base[fuse-shm-$c]=$scratch/mnt-shm-$c
    runner[fuse-shm-$c]=""
done
base[fuse-shm-pt]=$scratch/mnt-shm-pt # strict, with the kernel's passthrough (root)
runner[fuse-shm-pt]=""
mounted_or_gone() { grep -q " $1 fuse" /proc/mounts || ! kill -0 "$2" 2>/dev/null; }
kept=()
for m in "${modes[@]}"; do
    case $m in
    fuse-*)
        c=${m#fuse-} addr="unix:$sock" cons=${m#fuse-} extra=()
        [ "${c#shm-}" = "$c" ] || addr="shm:$shm_sock" cons=${c#shm-}
        [ "$c" != shm-pt ] || cons=strict extra=(--passthrough)
        mkdir "$scratch/mnt-$c"
        "$bin/zepto" zoid mount --server "$addr" --consistency "$cons" "${extra[@]}" --foreground \
            "$scratch/mnt-$c" 2>"$out/mount-$c.log" &
        mounters+=($!)
        wait_for 20 mounted_or_gone "$scratch/mnt-$c" "$!" || true
        if ! grep -q " $scratch/mnt-$c fuse" /proc/mounts; then
            echo "skipping $m: zepto zoid mount failed: $(head -c 300 "$out/mount-$c.log")" >&2
            continue
        fi
        ;;
    esac
    kept+=("$m")
done
modes=("${kept[@]}")

# The data files exist before the jobs (written locally, fully allocated), so that no job lays
# one out through the mode it measures.
head -c "$size_bytes" /dev/zero >"$scratch/local/data"
head -c "$size_bytes" /dev/zero >"$scratch/export/data"

# run_job TOOL JOB MODE ROUND: appends one line to $out/raw.jsonl.
run_job() {
    local tool=$1 job=$2 mode=$3 round=$4 rw=${2%-*} bs=${2##*-} file=${base[$3]}/data
    local log=$out/$tool-$job-$mode-$round.log status=0 bw=null
    # shellcheck disable=SC2086 # the runner is words
    case $tool in
    fio)
        ${runner[$mode]} fio --name="$job" --filename="$file" --size="$size" --bs="$bs" \
            --rw="$rw" --ioengine=psync --direct=0 --time_based --runtime="$secs" --thread \
            --invalidate=0 --fallocate=none --fadvise_hint=0 --randrepeat=1 --norandommap \
            --output-format=json >"$log" 2>"$log.err" || status=$?
        [ "$status" -ne 0 ] || bw=$(jq '.jobs[0].read.bw_bytes + .jobs[0].write.bw_bytes' "$log") ||
            status=1
        ;;
    stream)
        ${runner[$mode]} "$bin/bench_posix_stream" "$rw" "$file" "$(numfmt --from=iec "${bs^^}")" \
            "$size_bytes" "$secs" >"$log" 2>"$log.err" || status=$?
        [ "$status" -ne 0 ] || bw=$(jq .bw_bytes "$log") || status=1
        ;;
    esac
    if [ "$status" -ne 0 ]; then
        echo "  $tool $job $mode failed ($status): $(head -c 300 "$log.err")" >&2
        bw=null
    fi
    # The prefix exists only for the interposer: a file there is one it did not forward.
    [ ! -e "$prefix" ] || die "$tool $job $mode: $prefix exists locally: a call was not forwarded"
    jq -nc --arg t "$tool" --arg j "$job" --arg m "$mode" --argjson r "$round" --argjson bw "$bw" \
        --argjson st "$status" '{tool: $t, job: $j, mode: $m, round: $r, bw: $bw, status: $st}' \
        >>"$out/raw.jsonl"
}

run_meta() { # MODE ROUND
    local mode=$1 round=$2 d=${base[$1]}/meta-$1-$2 status=0 res=null
    local log=$out/meta-$mode-$round.log
    case $mode in
    local) mkdir "$d" ;;
    *) mkdir "$scratch/export/meta-$1-$2" ;;
    esac
    # shellcheck disable=SC2086
    ${runner[$mode]} "$bin/bench_posix_meta" "$d" "$meta_n" >"$log" 2>"$log.err" || status=$?
    if [ "$status" -eq 0 ]; then
        res=$(cat "$log")
    else
        echo "  meta $mode failed ($status): $(head -c 300 "$log.err")" >&2
    fi
    # One path's stat, repeated (a program polling a file): latency percentiles.
    local loop=null lstatus=0
    # created through the mode itself: a relaxed mount does not see a name made behind its back
    # for up to its entry timeout
    # shellcheck disable=SC2086
    ${runner[$mode]} sh -c ': >"$1"' sh "$d/loop" 2>"$log.loop.err" || lstatus=$?
    # shellcheck disable=SC2086
    [ "$lstatus" -ne 0 ] ||
        loop=$(${runner[$mode]} "$bin/bench_posix_stat_loop" "$d/loop" "$loop_n" 2>"$log.loop.err") ||
        lstatus=$?
    if [ "$lstatus" -ne 0 ] || [ -z "$loop" ]; then
        echo "  stat loop $mode failed ($lstatus): $(head -c 300 "$log.loop.err")" >&2
        loop=null
    fi
    jq -nc --arg m "$mode" --argjson r "$round" --argjson res "$res" --argjson st "$status" \
        --argjson loop "$loop" \
        '{tool: "meta", mode: $m, round: $r, meta: $res, stat_loop: $loop, status: $st}' \
        >>"$out/raw.jsonl"
}

load_before=$(uptime)
jobs=(read-4k write-4k randread-4k randwrite-4k read-1m write-1m randread-1m randwrite-1m)
n=${#modes[@]}
k=0
for r in $(seq "$rounds"); do
    for tool in $tools; do
        for job in "${jobs[@]}"; do
            echo "round $r/$rounds: $tool $job" >&2
            for i in $(seq 0 $((n - 1))); do
                run_job "$tool" "$job" "${modes[$(((i + k) % n))]}" "$r"
            done
            k=$((k + 1))
        done
    done
    echo "round $r/$rounds: metadata" >&2
    for i in $(seq 0 $((n - 1))); do
        run_meta "${modes[$(((i + k) % n))]}" "$r"
    done
    k=$((k + 1))
done
load_after=$(uptime)

# The summary: medians per tool, job and mode; the ratios the issue sets as goals.
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
jq -s --arg cpu "$cpu" --arg ncpu "$(nproc)" --arg kernel "$(uname -r)" --arg fs "$fs" \
    --arg fio "$fio_version" --arg lb "$load_before" --arg la "$load_after" \
    --arg secs "$secs" --arg size "$size" --argjson rounds "$rounds" \
    --arg cmd "${MODES:+MODES=\"$MODES\" }SECS=$secs SIZE=$size META_N=$meta_n TOOLS=\"$tools\" bash bench/zoid_posix.sh $build $rounds" '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
              else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def ratio(a; b): if a == null or b == null or b == 0 then null else a / b end;
  ([.[] | select(.tool != "meta")] | group_by([.tool, .job, .mode])
   | map({tool: .[0].tool, job: .[0].job, mode: .[0].mode,
          mib_s: ([.[] | .bw | select(. != null)] | median | if . == null then null
                  else . / 1048576 end),
          failed: ([.[] | select(.status != 0)] | length)})) as $t
  | ([.[] | select(.tool == "meta")] | group_by(.mode)
     | map({mode: .[0].mode,
            create_per_s: ([.[] | .meta.create_per_s? | select(. != null)] | median),
            stat_per_s: ([.[] | .meta.stat_per_s? | select(. != null)] | median),
            unlink_per_s: ([.[] | .meta.unlink_per_s? | select(. != null)] | median),
            stat_loop_p50_us: ([.[] | .stat_loop.p50_us? | select(. != null)] | median),
            stat_loop_p90_us: ([.[] | .stat_loop.p90_us? | select(. != null)] | median)})) as $m
  | def bw(tool; job; mode): first($t[] | select(.tool == tool and .job == job and .mode == mode)
                                 | .mib_s) // null;
  {command: $cmd, machine: {cpu: $cpu, cpus: ($ncpu | tonumber), kernel: $kernel, fs: $fs},
   fio: $fio, seconds_per_job: ($secs | tonumber), file_size: $size, rounds: $rounds,
   load_before: $lb, load_after: $la, throughput: $t, metadata: $m,
   goals: {
     issue15: (
       [($t | map(.tool) | unique)[] as $tool
        | ("read-1m", "write-1m") as $job
        | ("preload-strict", "preload-relaxed", "preload-shm-strict", "preload-shm-relaxed",
           "preload-shmfwd-strict", "preload-shmfwd-relaxed", "preload-tcp-strict",
           "preload-tcp-relaxed", "fuse-strict", "fuse-relaxed", "fuse-shm-strict",
           "fuse-shm-relaxed", "fuse-shm-pt") as $mode
        | {what: "\($mode) / local", tool: $tool, job: $job,
           ratio: ratio(bw($tool; $job; $mode); bw($tool; $job; "local")),
           goal: (if ($mode | startswith("preload-tcp")) or ($mode | startswith("fuse")) then 0.70
                  else 0.90 end)}]
       + [($t | map(.tool) | unique)[] as $tool
        | ("preload", "preload-shm", "preload-shmfwd", "preload-tcp", "fuse", "fuse-shm") as $client
        | {what: "\($client) relaxed / strict", tool: $tool, job: "randwrite-4k",
           ratio: ratio(bw($tool; "randwrite-4k"; "\($client)-relaxed");
                        bw($tool; "randwrite-4k"; "\($client)-strict")), goal: 3}]
       + [("preload-strict", "preload-relaxed", "preload-tcp-relaxed") as $mode
        | {what: "\($mode) creates/s", tool: "meta", job: "create",
           ratio: (first($m[] | select(.mode == $mode) | .create_per_s) // null), goal: 20000}]
       + [("fuse-strict", "fuse-relaxed") as $mode
        | ({what: "\($mode) creates/s", tool: "meta", job: "create",
            ratio: (first($m[] | select(.mode == $mode) | .create_per_s) // null), goal: 10000},
           {what: "\($mode) stats/s", tool: "meta", job: "stat",
            ratio: (first($m[] | select(.mode == $mode) | .stat_per_s) // null), goal: 30000})]
       | map(.met = (if .ratio == null then null else .ratio >= .goal end))),
     interposer_1m_vs_local: [($t | map(.tool) | unique)[] as $tool
        | ("read-1m", "write-1m", "randread-1m", "randwrite-1m") as $job
        | ("preload-strict", "preload-relaxed") as $mode
        | {tool: $tool, job: $job, mode: $mode,
           ratio: ratio(bw($tool; $job; $mode); bw($tool; $job; "local")), goal: 0.70}
        | .met = (if .ratio == null then null else .ratio >= .goal end)],
     relaxed_vs_strict_4k_writes: [($t | map(.tool) | unique)[] as $tool
        | ("write-4k", "randwrite-4k") as $job | ("preload", "fuse") as $client
        | {tool: $tool, job: $job, client: $client,
           ratio: ratio(bw($tool; $job; "\($client)-relaxed"); bw($tool; $job; "\($client)-strict")),
           goal: 3}
        | .met = (if .ratio == null then null else .ratio >= .goal end)]}}
' "$out/raw.jsonl" >"$out/summary.json"

# The table.
jq -r '
  def f: if . == null then "–" elif . >= 100 then (. | round | tostring)
         else (. * 10 | round / 10 | tostring) end;
  def r: if . == null then "–" else (. * 100 | round / 100 | tostring) end;
  . as $s
  | ([.throughput[].mode] + [.metadata[].mode] | unique) as $modes0
  | (["local", "preload-strict", "preload-relaxed", "preload-shm-strict", "preload-shm-relaxed",
      "preload-shmfwd-strict", "preload-shmfwd-relaxed", "preload-tcp-strict",
      "preload-tcp-relaxed", "fuse-strict", "fuse-relaxed", "fuse-shm-strict", "fuse-shm-relaxed",
      "fuse-shm-pt"]
     | map(select(. as $x | $modes0 | index($x)))) as $modes
  | "\n$ \(.command)\n\(.machine.cpus) x \(.machine.cpu), Linux \(.machine.kernel), \(.machine.fs); \(.fio); \(.seconds_per_job) s per job, \(.file_size) file, \(.rounds) round(s)\nload before: \(.load_before)\nload after:  \(.load_after)\n",
    (([.throughput[].tool] | unique)[] as $tool
     | "\n### \($tool): MiB/s (median)\n",
       "| job | " + ($modes | join(" | ")) + " |",
       "|---|" + ($modes | map("---:") | join("|")) + "|",
       ([$s.throughput[] | select(.tool == $tool) | .job] | unique)[] as $job
       | "| \($job) | " + ($modes | map(. as $m | first($s.throughput[]
           | select(.tool == $tool and .job == $job and .mode == $m)) | .mib_s | f) | join(" | "))
         + " |"),
    "\n### metadata: operations per second (median, \(.metadata | length) modes)\n",
    "| mode | create | stat | unlink | stat of one path, repeated: p50 / p90 µs |",
    "|---|---:|---:|---:|---:|",
    ($modes[] as $m | first($s.metadata[] | select(.mode == $m))
     | "| \($m) | \(.create_per_s | f) | \(.stat_per_s | f) | \(.unlink_per_s | f) | \(.stat_loop_p50_us | f) / \(.stat_loop_p90_us | f) |"),
    "\n### goals of issue 15\n",
    "| measure | tool | job | figure | goal | met |", "|---|---|---|---:|---:|---|",
    (.goals.issue15[]
     | "| \(.what) | \(.tool) | \(.job) | \(if .goal >= 100 then (.ratio | f) else (.ratio | r) end) | \(.goal) | \(if .met == null then "not measured" else .met end) |"),
    "\n### goals of issue 6\n",
    "| goal | tool | job | mode | ratio | met |", "|---|---|---|---|---:|---|",
    (.goals.interposer_1m_vs_local[]
     | "| interposer >= 70 % of local | \(.tool) | \(.job) | \(.mode) | \(.ratio | r) | \(if .met == null then "not measured" else .met end) |"),
    (.goals.relaxed_vs_strict_4k_writes[]
     | "| relaxed 4 KiB writes >= 3x strict | \(.tool) | \(.job) | \(.client) | \(.ratio | r) | \(if .met == null then "not measured" else .met end) |")
' "$out/summary.json"
echo
echo "raw results: $out/raw.jsonl; summary: $out/summary.json"
