#!/usr/bin/env bash
# zepto tune against its peers (issue 16): noise on the application CPU (the last one) untuned,
# under `zepto tune`, under tuned's cpu-partitioning profile (Debian's tuned, run in the
# foreground and stopped, which rolls it back), and after `tuna --cpus APP --isolate` (undone by
# the script from its snapshot). Rounds interleave the four; each recording has --explain, and the
# guest-attributable detour time other than the timer tick is summed from its causes. After every
# configuration the files and thread affinities zepto's plan covers are compared with the
# snapshot taken first; anything a peer left changed is reported, then put back.
#
# Two scenarios, each with its own rounds: "idle" is the node as it is; "daemons" adds what a
# compute node's own software does besides the application, each in a session of its own and
# pinned nowhere: a monitoring agent waking every 2 ms, a log shipper busy 30 % of the time, and
# small synchronous disk writes every 10 ms (block IRQs, completions and kworkers). On an idle VM
# there is almost no guest noise to remove, so only the second scenario can judge a tuning.
#
# usage: bench/tune_peers.sh [BUILD] [SECONDS] [ROUNDS] [SCENARIOS]     (root)
#        SCENARIOS: "idle daemons" (default), or one of them; CONFIGS="untuned zepto" limits
#        the configurations (untuned first); RECORDER=split (default) starts the recorder on
#        CPU 0 and the application CPU (its measuring thread pins itself to the application CPU,
#        its --explain drain thread goes to CPU 0, as a tool's helper thread would on a tuned
#        node), RECORDER=pinned starts it on the application CPU alone (the drain thread too);
#        SETTLE (default 3) seconds pass between setting a configuration up and recording
set -uo pipefail
build=${1:-build}
secs=${2:-5}
rounds=${3:-3}
scenarios=${4:-idle daemons}
zepto=$build/bin/zepto
here=$(cd "$(dirname "$0")" && pwd)
snaptool=$here/../tests/integration/tune_snap.py
[ "$(id -u)" -eq 0 ] || { echo "tune_peers: needs root (skipped)"; exit 0; }
ncpu=$(nproc --all)
[ "$ncpu" -ge 2 ] || { echo "tune_peers: needs 2 CPUs (skipped)"; exit 0; }
app=$((ncpu - 1))
case ${RECORDER:-split} in
split) rec_cpus="0,$app" ;;
pinned) rec_cpus=$app ;;
*) echo "tune_peers: RECORDER=${RECORDER}: split or pinned" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ZEPTO_TUNE_STATE=$tmp/tune.state

"$zepto" tune plan --cpus "$app" --json >"$tmp/plan.json"
python3 "$snaptool" "$tmp/plan.json" "$tmp/base.snap"
# IRQ and thread affinities of the whole machine, for undoing tuna (which has no undo).
save_affinities() {
    for f in /proc/irq/default_smp_affinity /proc/irq/*/smp_affinity_list; do
        echo "$f $(cat "$f")"
    done >"$tmp/irqs"
    for t in /proc/[0-9]*/task/[0-9]*; do
        a=$(awk '/Cpus_allowed_list/ {print $2}' "$t/status" 2>/dev/null) && echo "${t##*/} $a"
    done >"$tmp/threads"
}
load_affinities() {
    while read -r f v; do echo "$v" >"$f" 2>/dev/null; done <"$tmp/irqs"
    while read -r tid v; do taskset -pc "$v" "$tid" >/dev/null 2>&1; done <"$tmp/threads"
}
check_restored() { # check_restored CONFIG: compare with the first snapshot, say what differs
    python3 "$snaptool" "$tmp/plan.json" "$tmp/now.snap"
    if ! python3 "$snaptool" --diff "$tmp/base.snap" "$tmp/now.snap" >"$tmp/diff"; then
        echo "  $1 left $(wc -l <"$tmp/diff") value(s) changed, e.g. $(head -1 "$tmp/diff")" >&2
        return 1
    fi
}

have_tuned=0
if command -v tuned >/dev/null; then
    have_tuned=1
    vars=/etc/tuned/cpu-partitioning-variables.conf
    [ -e "$vars" ] && cp "$vars" "$tmp/vars.orig"
fi
have_tuna=0
command -v tuna >/dev/null && have_tuna=1

setup() {
    case $1 in
    untuned) ;;
    zepto) "$zepto" tune apply --cpus "$app" >/dev/null 2>"$tmp/apply.err" || cat "$tmp/apply.err" >&2 ;;
    tuned)
        echo "isolated_cores=$app" >"$vars"
        tuned --no-dbus -p cpu-partitioning -l "$tmp/tuned.log" >/dev/null 2>&1 &
        tuned_pid=$!
        for _ in $(seq 600); do
            grep -q "static tuning from profile 'cpu-partitioning' applied" "$tmp/tuned.log" 2>/dev/null && break
            sleep 0.1
        done
        ;;
    tuna) save_affinities; tuna --cpus "$app" --isolate >/dev/null 2>&1 ;;
    esac
}
teardown() {
    case $1 in
    zepto) "$zepto" tune restore >/dev/null 2>&1 ;;
    tuned)
        kill -TERM "$tuned_pid" 2>/dev/null
        wait "$tuned_pid" 2>/dev/null
        if [ -e "$tmp/vars.orig" ]; then cp "$tmp/vars.orig" "$vars"; else rm -f "$vars"; fi
        ;;
    tuna) load_affinities ;;
    esac
    if ! check_restored "$1"; then
        # Put back what the peer left: files from the plan's snapshot, threads with taskset.
        python3 - "$tmp/base.snap" <<'PY'
import json, subprocess, sys
for k, v in json.load(open(sys.argv[1])).items():
    if k.startswith("/") and not v.startswith("<"):
        try:
            open(k, "wb").write(bytes.fromhex(v))
        except OSError:
            pass
    elif k.endswith(" affinity"):
        subprocess.run(["taskset", "-apc", v, k.split()[1]], capture_output=True)
PY
    fi
}

configs=(untuned zepto)
[ $have_tuned = 1 ] && configs+=(tuned)
[ $have_tuna = 1 ] && configs+=(tuna)
[ -n "${CONFIGS:-}" ] && read -ra configs <<<"$CONFIGS" # e.g. CONFIGS="untuned zepto"

bg_pids=()
py=/usr/bin/python3
# py_daemon NAME BUSY SLEEP: a daemon in its own session (setsid) named NAME that is busy for
# BUSY seconds, then sleeps SLEEP seconds, forever.
py_daemon() {
    setsid "$py" -c '
import sys, time
name, busy, rest = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
open("/proc/self/comm", "w").write(name)
while True:
    t = time.perf_counter() + busy
    while time.perf_counter() < t: pass
    time.sleep(rest)' "$@" &
    bg_pids+=($!)
}
background_start() {
    # Each in its own session: a daemon, not part of the caller's session.
    py_daemon zt-agent 0.0002 0.002
    py_daemon zt-shipper 0.003 0.007
    setsid bash -c 'while :; do dd if=/dev/zero of="$1" bs=4k count=1 oflag=direct,dsync 2>/dev/null; sleep 0.01; done' \
        zt-io "$tmp/io.dat" &
    bg_pids+=($!)
}
background_stop() {
    for p in "${bg_pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; done
    bg_pids=()
}
trap 'background_stop; rm -rf "$tmp"' EXIT

for sc in $scenarios; do
    [ "$sc" = daemons ] && background_start
    for r in $(seq "$rounds"); do
        for c in "${configs[@]}"; do
            setup "$c"
            # Deferred work the kernel queued before the change (free page reporting's next pass
            # waits 2 s) runs out first, as it would early in a job: SETTLE s under every
            # configuration alike.
            sleep "${SETTLE:-3}"
            # Started as an application is under each: on the application CPU (RECORDER above).
            taskset -c "$rec_cpus" "$zepto" noise record -q --explain -c "$app" -d "${secs}s" -o "$tmp/$sc.$c.$r.znt" \
                >/dev/null 2>"$tmp/rec.err" || echo "  record under $c failed: $(head -1 "$tmp/rec.err")" >&2
            "$zepto" noise analyse --json "$tmp/$sc.$c.$r.znt" >"$tmp/$sc.$c.$r.json" 2>/dev/null
            teardown "$c"
        done
    done
    [ "$sc" = daemons ] && background_stop
done

for sc in $scenarios; do
echo "== scenario: $sc"
python3 - "$tmp/$sc" "$rounds" "${configs[@]}" <<'PY'
import json, statistics, sys
tmp, rounds, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
tick = {"irq local_timer", "softirq TIMER", "softirq SCHED", "softirq RCU"}
# The recorder's own threads (with RECORDER=pinned its drain thread shares the application
# CPU): the measurement, not the node's noise; listed but left out of the sum.
own = {"thread zepto"}
rows = {}
left = {}
for c in configs:
    nf, rate, guest, host = [], [], [], []
    left[c] = {}
    for r in range(1, rounds + 1):
        try:
            t = json.load(open(f"{tmp}.{c}.{r}.json"))
        except (OSError, ValueError):
            continue
        cpu = t["cpus"][0]
        nf.append(cpu["noise_fraction"] * 100)
        rate.append(cpu["rate_per_s"])
        causes = cpu.get("causes", [])
        guest.append(sum(k["detour_total_ns"] for k in causes
                         if k["kind"] != "unknown" and k["cause"] not in tick | own) / 1e6)
        for k in causes:
            if k["kind"] != "unknown" and k["cause"] not in tick:
                left[c][k["cause"]] = left[c].get(k["cause"], 0) + k["detour_total_ns"] / 1e6
        host.append(sum(k["detour_total_ns"] for k in causes if k["kind"] == "unknown") / 1e6)
    rows[c] = (nf, rate, guest, host)
def med(v):
    return statistics.median(v) if v else float("nan")
def rng(v):
    return f"{min(v):.3f}-{max(v):.3f}" if v else "-"
print(f"{'config':<9} {'noise %':>9} {'(range)':>15} {'detours/s':>10} {'guest non-tick ms':>18} {'(range)':>15} {'host ms':>8}")
for c, (nf, rate, guest, host) in rows.items():
    print(f"{c:<9} {med(nf):>9.4f} {rng(nf):>15} {med(rate):>10.1f} {med(guest):>18.3f} {rng(guest):>15} {med(host):>8.2f}")
for c in configs:
    top = sorted(left[c].items(), key=lambda kv: -kv[1])[:4]
    print(f"  {c}: guest non-tick causes (all rounds): " +
          ", ".join(f"{k} {v:.2f} ms" for k, v in top))
base = med(rows["untuned"][2])
for c in configs[1:]:
    g = med(rows[c][2])
    if base > 0:
        print(f"{c}: removes {100 * (1 - g / base):.0f} % of the untuned guest non-tick detour time")
PY
done
