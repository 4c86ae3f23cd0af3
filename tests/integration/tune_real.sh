# zepto tune on this machine (issue 16). Another user may plan but not apply or restore. As root:
# busy processes and a disk-I/O loop started in their own sessions share the application CPU
# before apply and are gone from it after: the recorder's --explain names "thread zt-busy" before
# and not after, and the interrupts of every IRQ the tuning moved stop arriving on it. Restore
# then puts back every value the plan touched byte for byte (files, thread affinities, cpusets),
# also for the children the I/O loop forked inside the housekeeping cpuset meanwhile.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
ncpu=$(nproc --all)
[ "$ncpu" -ge 2 ] || { echo "SKIP: zepto tune needs 2 CPUs or more (this machine: $ncpu)"; exit 77; }
app=$((ncpu - 1))

# --- another user: plan yes, apply and restore no ---
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    shared=$(mktemp -d /tmp/zepto-tune.XXXXXX)
    chmod 0755 "$shared"
    cp "$ZEPTO" "$shared/zepto"
    nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
    nobody "$shared/zepto" tune plan --cpus "$app" >"$WORK/plan.nobody" 2>&1 ||
        fail "plan as nobody: $(cat "$WORK/plan.nobody")"
    grep -q "application CPUs: $app" "$WORK/plan.nobody" || fail "plan as nobody printed no plan"
    expect_status 1 "needs root" nobody "$shared/zepto" tune apply --cpus "$app" \
        --state "$shared/s"
    expect_status 1 "needs root" nobody "$shared/zepto" tune restore --state "$shared/s"
    expect_status 1 "zepto tune check needs root" nobody "$shared/zepto" tune check \
        --cpus "$app" --state "$shared/s"
    [ -e "$shared/s" ] && fail "an unprivileged apply wrote a state file"
    rm -rf "$shared"

    # A process of that user names itself with a newline and a terminal escape: root's plan
    # shows it, with neither. (Started outside this script's process tree: the plan leaves the
    # caller's own descendants alone.)
    (nobody setsid python3 -c 'import ctypes, os, time
ctypes.CDLL(None).prctl(15, b"zt\nev\x1b[7m", 0, 0, 0)
print("named", os.getpid(), flush=True)
time.sleep(60)' >"$WORK/evil.out" &)
    evil=
    for _ in $(seq 100); do
        evil=$(awk '/^named/ {print $2}' "$WORK/evil.out")
        [ -n "$evil" ] && break
        sleep 0.1 # polling the process's own word that it renamed itself
    done
    "$ZEPTO" tune plan --cpus "$app" >"$WORK/plan.evil" 2>&1 || fail "plan: $(cat "$WORK/plan.evil")"
    [ -n "$evil" ] && kill "$evil" 2>/dev/null
    grep -q $'\x1b' "$WORK/plan.evil" && fail "the plan printed another user's escape sequence raw"
    grep -aq "zt?ev?\[7m (pid $evil)" "$WORK/plan.evil" ||
        fail "the plan does not show the renamed process as zt?ev?[7m: $(grep -a zt "$WORK/plan.evil")"
else
    echo "(unprivileged case not run: needs root, setpriv and user nobody)"
fi

[ "$(id -u)" -eq 0 ] || { echo "SKIP: apply and restore need root"; exit 77; }
[ -e /sys/fs/cgroup/cpuset/cpuset.cpus ] || grep -qw cpuset /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
    { echo "SKIP: no cpuset controller (cgroup v1 cpuset or v2 with cpuset)"; exit 77; }
export ZEPTO_TUNE_STATE=$WORK/tune.state
[ -e /run/zepto/tune.state ] && { echo "SKIP: a tuning is in effect on this machine (/run/zepto/tune.state)"; exit 77; }

# --- the ground truth: busy processes and an I/O loop, each in a session of its own ---
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; "$ZEPTO" tune restore >/dev/null 2>&1; }
trap cleanup EXIT
py=/usr/bin/python3 # not a pyenv shim: the process itself must become zt-busy at once
[ -x "$py" ] || py=$(command -v python3)
for _ in $(seq "$ncpu"); do
    setsid "$py" -c 'open("/proc/self/comm", "w").write("zt-busy")
while True: pass' &
    pids+=($!)
done
setsid bash -c 'while :; do dd if=/dev/zero of="$1" bs=4k count=64 oflag=direct,dsync 2>/dev/null; done' \
    zt-io "$WORK/io.dat" &
pids+=($!)
busy_pid=${pids[0]}
for p in "${pids[@]:0:$ncpu}"; do
    for _ in $(seq 1000); do grep -q zt-busy "/proc/$p/comm" 2>/dev/null && break; sleep 0.01; done
    grep -q zt-busy "/proc/$p/comm" || fail "busy process $p never became zt-busy"
done

explain=1
probe=$("$ZEPTO" noise record -q -d 50ms -c "$app" --explain 2>&1 >/dev/null) || true
case "$probe" in *"recording without causes"*) explain=0; echo "(no --explain here: $probe)" ;; esac
rec() { # rec NAME: 2 s on the application CPU, analysed to NAME.json
    local x=()
    [ "$explain" = 1 ] && x=(--explain)
    "$ZEPTO" noise record -q "${x[@]}" -c "$app" -d 2s -o "$WORK/$1.znt" 2>"$WORK/$1.err" ||
        fail "record $1: $(cat "$WORK/$1.err")"
    "$ZEPTO" noise analyse --json "$WORK/$1.znt" >"$WORK/$1.json" || fail "analyse $1"
}
# Interrupts on the application CPU of each IRQ apply moved (managed IRQs, such as virtio-blk's
# queues, are refused by the kernel and stay), from /proc/interrupts, as "IRQ COUNT" lines.
irqs_on_app() {
    python3 - "$WORK/apply.json" "$app" <<'PY'
import json, sys
plan, app = json.load(open(sys.argv[1])), int(sys.argv[2])
irqs = {c["target"].split("/")[3] for c in plan["changes"]
        if c.get("target", "").startswith("/proc/irq/") and
        c["target"].endswith("smp_affinity_list") and c["status"] == "applied"}
for line in open("/proc/interrupts").read().splitlines()[1:]:
    f = line.split()
    if f and f[0].rstrip(":") in irqs and len(f) > app + 1:
        print(f[0].rstrip(":"), f[app + 1])
PY
}

rec before
"$ZEPTO" tune plan --cpus "$app" --json >"$WORK/plan.json" || fail "plan --json"
python3 "$here/tune_snap.py" "$WORK/plan.json" "$WORK/snap.before"
# A process forking as fast as it can during apply: the children born between the plan and its
# move must follow it into the housekeeping cpuset.
forkers=()
# (two fork children; one forks orphans, reparented to init, that only their session names)
for loop in 'while :; do sleep 5 & done' 'while :; do sleep 5 & done' 'while :; do (sleep 5 &); done'; do
    setsid bash -c "$loop" &
    forkers+=($!)
done
pids+=("${forkers[@]}")
for f in "${forkers[@]}"; do
    for _ in $(seq 500); do [ -n "$(pgrep -P "$f")" ] && break; sleep 0.01; done
done
expect_ok "$ZEPTO" tune apply --cpus "$app" --json
cp "$WORK/stdout" "$WORK/apply.json"
grep -q "^zepto-tune-state 1" "$ZEPTO_TUNE_STATE" || fail "no state file after apply"
hk=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["housekeeping_cpus"])' "$WORK/plan.json")
[ "$(grep Cpus_allowed_list "/proc/$busy_pid/status" | cut -f2)" = "$hk" ] ||
    fail "zt-busy is not confined to the housekeeping CPUs ($hk): $(grep Cpus_allowed_list "/proc/$busy_pid/status")"
stray=$(python3 - "${forkers[@]}" <<'PY'
import os, sys
roots = {int(a) for a in sys.argv[1:]}  # session leaders (setsid): their sessions and children
left = []
for d in os.listdir("/proc"):
    try:
        st = open(f"/proc/{d}/stat").read()
        f = st[st.rindex(")") + 2:].split()
        # a zombie (a sleep that ended before its move, not yet reaped under load) cannot move
        if f[0] not in "ZX" and (int(f[1]) in roots or int(f[3]) in roots) and \
                open(f"/proc/{d}/cpuset").read().strip() == "/":
            left.append(d)
    except (OSError, ValueError):
        pass  # exited meanwhile
print(" ".join(left))
PY
)
kill "${forkers[@]}"
[ -z "$stray" ] || fail "children of a confined process left in the root cpuset: $stray"
irqs_on_app >"$WORK/irqs.0"
rec after
irqs_on_app >"$WORK/irqs.1"
# x86 moves an IRQ when its next interrupt arrives, on the old CPU: one more there is the move.
late=$(awk 'NR == FNR { n[$1] = $2; next }
    ($1 in n) && $2 - n[$1] > 1 { printf "IRQ %s: %d; ", $1, $2 - n[$1] }' "$WORK/irqs.0" "$WORK/irqs.1")
[ -z "$late" ] || fail "moved IRQs still arrived on CPU $app after apply: $late"
"$ZEPTO" tune status >"$WORK/status" || fail "status exited $?"
grep -q "changes in effect" "$WORK/status" || fail "status: $(head -1 "$WORK/status")"
expect_ok "$ZEPTO" tune restore
[ -e "$ZEPTO_TUNE_STATE" ] && fail "the state file is left after restore"
python3 "$here/tune_snap.py" "$WORK/plan.json" "$WORK/snap.after"
python3 "$here/tune_snap.py" --diff "$WORK/snap.before" "$WORK/snap.after" >&2 ||
    fail "restore is not exact (above)"
for d in /sys/fs/cgroup/cpuset/zepto-housekeeping /sys/fs/cgroup/zepto-housekeeping; do
    [ -d "$d" ] && fail "the housekeeping cpuset $d is left"
done

# Ctrl-C during the tuned recording of `tune check`: exit 130, the node restored exactly.
"$ZEPTO" tune check --cpus "$app" -d 2s --rounds 1 --no-explain >"$WORK/check.out" 2>&1 &
cpid=$!
for _ in $(seq 500); do [ -e "$ZEPTO_TUNE_STATE" ] && break; sleep 0.02; done
[ -e "$ZEPTO_TUNE_STATE" ] || fail "tune check never applied"
kill -INT "$cpid"
status=0
wait "$cpid" || status=$?
[ "$status" -eq 130 ] || fail "interrupted check exited $status: $(cat "$WORK/check.out")"
grep -q "interrupted: the node is restored" "$WORK/check.out" || fail "check: $(cat "$WORK/check.out")"
[ -e "$ZEPTO_TUNE_STATE" ] && fail "interrupted check left the state file"
python3 "$here/tune_snap.py" "$WORK/plan.json" "$WORK/snap.check"
python3 "$here/tune_snap.py" --diff "$WORK/snap.before" "$WORK/snap.check" >&2 ||
    fail "an interrupted check did not restore exactly (above)"

if [ "$explain" = 1 ]; then
    # After apply zt-busy cannot reach the application CPU: always judged. Before, it shares it
    # unless other load keeps the scheduler from putting it there: judged on a quiet machine.
    quiet=1
    "$BIN/machine_busy" >"$WORK/busy" 2>&1 || quiet=0
    python3 - "$WORK/before.json" "$WORK/after.json" "$quiet" "$(cat "$WORK/busy")" <<'PY' ||
import json, sys
def busy(path):
    t = json.load(open(path))
    return sum(c["detour_total_ns"] for cpu in t["cpus"] for c in cpu.get("causes", [])
               if c["name"] == "zt-busy")
b, a = busy(sys.argv[1]), busy(sys.argv[2])
print(f"thread zt-busy on the application CPU: {b/1e6:.1f} ms before, {a/1e6:.1f} ms after")
assert a < 1e6, "zt-busy still on the application CPU after apply"
if b <= 10e6:
    assert sys.argv[3] == "0", "zt-busy did not share the application CPU before apply"
    print("note: the machine is busy, zt-busy did not reach the application CPU before apply: "
          + sys.argv[4])
PY
        fail "the detours of zt-busy (above)"
fi
finish
