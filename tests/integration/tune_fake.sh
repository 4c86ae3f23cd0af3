# zepto tune on a fake /proc and /sys (ZEPTO_SYSROOT): what the plan changes and leaves, apply and
# restore byte for byte, apply twice, drift, a knob that vanished, an apply killed half-way,
# corrupted, foreign and hostile state files, and bad CPU lists.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
tree() { python3 "$here/tune_tree.py" "$@"; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to build the fake tree"; exit 77; }

root=$WORK/root
# $$ (this shell, which runs zepto) becomes a fake process in init's session: an ancestor, left.
left=$(tree make "$root" $$) || fail "fake tree: $left"
export ZEPTO_SYSROOT=$root ZEPTO_TUNE_STATE=$WORK/state/tune.state
st=$ZEPTO_TUNE_STATE

# --- the plan: what moves, what stays ---
expect_ok "$ZEPTO" tune plan --cpus 2-3 --json
plan=$WORK/plan.json
cp "$WORK/stdout" "$plan"
check_plan() { python3 - "$plan" "$left" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
left = [int(x) for x in sys.argv[2].split()]
ch = p["changes"]
def has(**kw):
    return any(all(c.get(k) == v for k, v in kw.items()) for c in ch)
errs = []
want = [dict(target="/proc/irq/24/smp_affinity_list", new="0"),
        dict(target="/proc/irq/26/smp_affinity_list", old="3"),
        dict(target="/proc/irq/default_smp_affinity", new="1"),
        dict(target="/sys/devices/virtual/workqueue/cpumask", new="1"),
        dict(group="kthread", pid=100), dict(group="daemons", pid=200),
        dict(group="daemons", pid=203), dict(target="/proc/sys/vm/stat_interval", new="10"),
        dict(target="/sys/kernel/mm/transparent_hugepage/defrag", old="always", new="madvise"),
        dict(target="/sys/devices/system/cpu/cpu3/cpuidle/state2/disable", new="1"),
        dict(target="/sys/module/page_reporting/parameters/page_reporting_order", old="9",
             new="11")]
for w in want:
    if not has(**w): errs.append(f"missing {w}")
for pid in left:
    if has(pid=pid): errs.append(f"pid {pid} must be left alone")
if 204 not in left and not has(pid=204):
    errs.append("pid 204 is in init's session and no ancestor: it must be moved")
if has(target="/proc/irq/25/smp_affinity_list"): errs.append("IRQ 25 is already on CPU 0")
if not has(target="/proc/sys/kernel/timer_migration", old="1", new="0"): errs.append("timer_migration")
if has(target="/proc/sys/kernel/nmi_watchdog"): errs.append("nmi_watchdog is absent here")
if p["housekeeping_cpus"] != "0": errs.append("housekeeping " + p["housekeeping_cpus"])
if "nohz_full" in p["boot_advice"] or "rcu_nocbs=2-3" not in p["boot_advice"]:
    errs.append("boot advice: " + p["boot_advice"])
print("\n".join(errs))
sys.exit(1 if errs else 0)
PY
}
check_plan || fail "plan: see above"

# --- apply, status, restore: byte for byte ---
tree snap "$root" "$WORK/before"
# What an apply killed before its rename left: its temporary file goes with the next write of the
# state; a live writer's stays.
dead=$(($(cat /proc/sys/kernel/pid_max) - 1))
while [ -e "/proc/$dead" ]; do dead=$((dead - 1)); done
mkdir -p -m 0700 "$(dirname "$st")"
echo partial >"$st.tmp.$dead"
echo live >"$st.tmp.$$"
expect_ok "$ZEPTO" tune apply --cpus 2-3
[ -f "$st" ] || fail "apply left no state file"
[ -e "$st.tmp.$dead" ] && fail "a dead apply's temporary state file stayed"
[ -e "$st.tmp.$$" ] || fail "a live writer's temporary state file was removed"
rm -f "$st.tmp.$$"
[ "$(cat "$root/proc/irq/24/smp_affinity_list")" = 0 ] || fail "IRQ 24 not moved"
grep -q 'Cpus_allowed_list:.0$' "$root/proc/100/status" || fail "kswapd0 not moved"
[ "$(cat "$root/proc/200/cpuset")" = /zepto-housekeeping ] || fail "sshd not confined"
[ "$(cat "$root/sys/fs/cgroup/cpuset/zepto-housekeeping/cpuset.cpus")" = 0 ] ||
    fail "housekeeping cpuset CPUs"
[ "$(cat "$root/proc/201/cpuset")" = /slurm/uid_0/job_7 ] || fail "a job's process was moved"
[ "$(cat "$root/sys/module/page_reporting/parameters/page_reporting_order")" = 11 ] ||
    fail "free page reporting not switched off"
expect_status 1 "already in effect" "$ZEPTO" tune apply --cpus 2-3
"$ZEPTO" tune status >"$WORK/status" || fail "status exited $?"
grep -q "changes in effect" "$WORK/status" || fail "status: $(head -1 "$WORK/status")"
grep -q "drifted" "$WORK/status" && fail "status reports drift right after apply"
echo 5 >"$root/proc/sys/vm/stat_interval" # someone else changes a knob
"$ZEPTO" tune status --json >"$WORK/status.json" || fail "status --json exited $?"
grep -q '"status": "refused"' "$WORK/status.json" || fail "status misses the drift"
echo 10 >"$root/proc/sys/vm/stat_interval"
expect_ok "$ZEPTO" tune restore
[ -f "$st" ] && fail "restore left the state file"
tree snap "$root" "$WORK/after"
diff "$WORK/before" "$WORK/after" >&2 || fail "restore is not exact (diff above)"
expect_status 0 "nothing to restore" "$ZEPTO" tune restore
"$ZEPTO" tune status | grep -q "not tuned" || fail "status after restore"

# --- a knob that vanished between apply and restore ---
expect_ok "$ZEPTO" tune apply --cpus 2-3
rm "$root/proc/sys/kernel/numa_balancing"
expect_ok "$ZEPTO" tune restore
grep -q "numa_balancing.*gone" "$WORK/stdout" || fail "restore does not report the vanished knob"
echo 1 >"$root/proc/sys/kernel/numa_balancing"
tree snap "$root" "$WORK/after2"
diff "$WORK/before" "$WORK/after2" >&2 || fail "restore after a vanished knob is not exact"

# --- -q (a job's epilog): silent when all went back and when nothing is tuned ---
"$ZEPTO" tune apply -q --cpus 2-3 >/dev/null 2>"$WORK/q.err" || fail "apply -q exited $?"
"$ZEPTO" tune restore -q >"$WORK/q.out" 2>>"$WORK/q.err" || fail "restore -q exited $?"
"$ZEPTO" tune restore --quiet >>"$WORK/q.out" 2>>"$WORK/q.err" || fail "restore --quiet exited $?"
[ -s "$WORK/q.out" ] || [ -s "$WORK/q.err" ] &&
    fail "apply/restore -q printed: $(cat "$WORK/q.out" "$WORK/q.err")"
[ -f "$st" ] && fail "restore -q left the state file"
tree snap "$root" "$WORK/after3"
diff "$WORK/before" "$WORK/after3" >&2 || fail "restore -q is not exact"

# --- apply killed half-way: a knob that blocks (a FIFO), SIGKILL, then restore ---
knob=$root/sys/kernel/mm/transparent_hugepage/khugepaged/defrag
rm "$knob" && mkfifo "$knob"
(printf '1\n' >"$knob") & # answers the plan's read; the write that follows blocks
"$ZEPTO" tune apply --cpus 2-3 >/dev/null 2>&1 &
apid=$!
for _ in $(seq 1 500); do # until apply has written the state and reached the knob
    grep -qs "phase applying" "$st" && [ "$(cat "$root/proc/irq/24/smp_affinity_list")" = 0 ] &&
        [ "$(cat "$root/proc/sys/vm/stat_interval")" = 10 ] && break
    sleep 0.02
done
kill -9 "$apid" 2>/dev/null
wait "$apid" 2>/dev/null
grep -q "phase applying" "$st" || fail "the state file was not written before the changes"
[ "$(cat "$root/proc/irq/24/smp_affinity_list")" = 0 ] || fail "apply did not get half-way"
rm -f "$knob" && printf '1\n' >"$knob" # the knob is a plain file again
"$ZEPTO" tune status >"$WORK/status" 2>&1
grep -q "did not finish" "$WORK/status" || fail "status does not say apply was killed"
expect_ok "$ZEPTO" tune restore
tree snap "$root" "$WORK/after3"
diff "$WORK/before" "$WORK/after3" >&2 || fail "restore after a killed apply is not exact"

# --- state files that must not be trusted ---
expect_ok "$ZEPTO" tune apply --cpus 2-3
cp "$st" "$WORK/good.state"
sed -i 's/^phase applied/phase Applied/' "$st"
expect_status 1 "corrupted" "$ZEPTO" tune restore
cp "$WORK/good.state" "$st"
echo 99999999-2222-3333-4444-555555555555 >"$root/proc/sys/kernel/random/boot_id"
expect_status 1 "another boot" "$ZEPTO" tune restore
echo 11111111-2222-3333-4444-555555555555 >"$root/proc/sys/kernel/random/boot_id"
echo othernode >"$root/proc/sys/kernel/hostname"
expect_status 1 "from host 'fakenode'" "$ZEPTO" tune restore
echo fakenode >"$root/proc/sys/kernel/hostname"
# A state file with a valid checksum that names a file outside /proc and /sys.
sed 's#/proc/sys/vm/stat_interval#/etc/../etc/passwd#' "$WORK/good.state" >"$st"
tree state "$st"
expect_status 1 "not a valid change" "$ZEPTO" tune restore
cp "$WORK/good.state" "$st" && chmod 0666 "$st"
expect_status 1 "mode 0666 lets others write it: not trusted" "$ZEPTO" tune restore
chmod 0600 "$st"
expect_ok "$ZEPTO" tune restore
tree snap "$root" "$WORK/after4"
diff "$WORK/before" "$WORK/after4" >&2 || fail "final restore is not exact"

# --- cgroup v2: the slices get the housekeeping CPUs, root-level processes a cgroup ---
v2=$WORK/root-v2
tree make-v2 "$v2"
tree snap "$v2" "$WORK/v2.before"
ZEPTO_SYSROOT=$v2 "$ZEPTO" tune plan --cpus 2-3 --json >"$WORK/v2.json" || fail "v2 plan"
python3 - "$WORK/v2.json" <<'PY' || fail "v2 plan: see above"
import json, sys
ch = json.load(open(sys.argv[1]))["changes"]
def has(**kw):
    return any(all(c.get(k) == v for k, v in kw.items()) for c in ch)
errs = [w for w in (dict(target="/sys/fs/cgroup/cgroup.subtree_control", new="+cpuset"),
                    dict(target="/sys/fs/cgroup/system.slice/cpuset.cpus", new="0"),
                    dict(target="/sys/fs/cgroup/zepto-housekeeping", kind="cpuset"),
                    dict(kind="move", pid=203)) if not has(**w)]
if has(kind="move", pid=200): errs.append("a service in system.slice was moved")
print(errs)
sys.exit(1 if errs else 0)
PY
expect_ok env ZEPTO_SYSROOT="$v2" "$ZEPTO" tune apply --cpus 2-3
[ "$(cat "$v2/sys/fs/cgroup/system.slice/cpuset.cpus")" = 0 ] || fail "v2: system.slice not set"
[ "$(cat "$v2/proc/203/cpuset")" = /zepto-housekeeping ] || fail "v2: crond not moved"
expect_ok env ZEPTO_SYSROOT="$v2" "$ZEPTO" tune restore
tree snap "$v2" "$WORK/v2.after"
diff "$WORK/v2.before" "$WORK/v2.after" >&2 || fail "v2: restore is not exact"

# --- irqbalance under systemd (a fake /usr/bin/systemctl in the sysroot): banned, stopped, left ---
irq=$WORK/root-irqb
left=$(tree make "$irq" $$) || fail "fake tree: $left"
mkdir -p "$irq/run/systemd/system"
mkdir -p "$irq/proc/300" && echo irqbalance >"$irq/proc/300/comm"
mkdir -p "$irq/usr/bin" "$WORK/fakebin"
echo active >"$WORK/irqb.unit"
cat >"$irq/usr/bin/systemctl" <<SH
#!/bin/sh
# A fake systemctl: the unit's state in $WORK/irqb.unit, every call in $WORK/systemctl.log.
echo "\$*" >>"$WORK/systemctl.log"
case "\$1" in
is-active) cat "$WORK/irqb.unit"; [ "\$(cat "$WORK/irqb.unit")" = active ] ;;
stop) echo inactive >"$WORK/irqb.unit" ;;
start|restart) echo active >"$WORK/irqb.unit"
    cat "$irq/run/systemd/system/irqbalance.service.d/zepto-tune.conf" 2>/dev/null |
        grep '^Environment=' >>"$WORK/systemctl.log"; : ;;
try-restart) ;;
daemon-reload) ;;
*) exit 1 ;;
esac
SH
chmod +x "$irq/usr/bin/systemctl"
# A systemctl first in PATH must never be run: root's PATH is not trusted.
printf '#!/bin/sh\necho "PATH systemctl $*" >>"%s/systemctl.log"\n' "$WORK" >"$WORK/fakebin/systemctl"
chmod +x "$WORK/fakebin/systemctl"
irqrun() { env PATH="$WORK/fakebin:$PATH" ZEPTO_SYSROOT="$irq" ZEPTO_TUNE_STATE="$WORK/irqb.state" "$@"; }
tree snap "$irq" "$WORK/irqb.before"
irqrun "$ZEPTO" tune plan --cpus 2-3 --json >"$WORK/irqb.plan" || fail "irqbalance plan"
python3 - "$WORK/irqb.plan" <<'PY' || fail "irqbalance plan: see above"
import json, sys
ch = json.load(open(sys.argv[1]))["changes"]
s = [c for c in ch if c["kind"] == "service"]
ok = len(s) == 1 and s[0]["target"] == "irqbalance.service" and s[0]["old"] == "active" \
    and s[0]["new"] == "banned:2-3" and ch.index(s[0]) == 0
print("" if ok else f"service changes: {s}")
sys.exit(0 if ok else 1)
PY
: >"$WORK/systemctl.log"
expect_ok irqrun "$ZEPTO" tune apply --cpus 2-3
grep -qx "Environment=IRQBALANCE_BANNED_CPULIST=2-3" "$WORK/systemctl.log" ||
    fail "irqbalance was not restarted with the CPUs banned: $(cat "$WORK/systemctl.log")"
grep -q "^daemon-reload" "$WORK/systemctl.log" || fail "no daemon-reload after the drop-in"
irqrun "$ZEPTO" tune status --json | grep -q '"status": "applied"' || fail "irqbalance status"
: >"$WORK/systemctl.log"
expect_ok irqrun "$ZEPTO" tune restore
grep -q "^restart irqbalance.service" "$WORK/systemctl.log" || fail "not restarted at restore"
grep -q "^Environment=" "$WORK/systemctl.log" && fail "restarted at restore with the drop-in still there"
[ "$(cat "$WORK/irqb.unit")" = active ] || fail "irqbalance not running after restore"
tree snap "$irq" "$WORK/irqb.after"
diff "$WORK/irqb.before" "$WORK/irqb.after" >&2 || fail "irqbalance: restore is not exact"
expect_ok irqrun "$ZEPTO" tune apply --cpus 2-3 --irqbalance stop
[ "$(cat "$WORK/irqb.unit")" = inactive ] || fail "--irqbalance stop did not stop it"
expect_ok irqrun "$ZEPTO" tune restore
[ "$(cat "$WORK/irqb.unit")" = active ] || fail "irqbalance not started again after stop"
echo inactive >"$WORK/irqb.unit" # a stopped unit stays stopped, also when banned
expect_ok irqrun "$ZEPTO" tune apply --cpus 2-3
[ "$(cat "$WORK/irqb.unit")" = inactive ] || fail "a stopped irqbalance was started by apply"
expect_ok irqrun "$ZEPTO" tune restore
[ "$(cat "$WORK/irqb.unit")" = inactive ] || fail "a stopped irqbalance was started by restore"
echo active >"$WORK/irqb.unit"
irqrun "$ZEPTO" tune plan --cpus 2-3 --irqbalance leave >"$WORK/irqb.leave" || fail "leave"
grep -q "irqbalance (pid 300) is running and left alone" "$WORK/irqb.leave" || fail "no note for leave"
grep -q "irqbalance.service" "$WORK/irqb.leave" && fail "--irqbalance leave still plans a change"
expect_status 2 "--irqbalance 'kill'" irqrun "$ZEPTO" tune plan --cpus 2-3 --irqbalance kill
rm -r "$irq/run/systemd/system" # no systemd: only a note
irqrun "$ZEPTO" tune plan --cpus 2-3 >"$WORK/irqb.nosd" || fail "plan without systemd"
grep -q "not under systemd" "$WORK/irqb.nosd" || fail "no note without systemd"
mkdir -p "$irq/run/systemd/system"
# A state file may name no other unit: root would run systemctl on it.
expect_ok irqrun "$ZEPTO" tune apply --cpus 2-3
cp "$WORK/irqb.state" "$WORK/irqb.good"
sed -i 's#irqbalance.service#sshd.service#' "$WORK/irqb.state"
tree state "$WORK/irqb.state"
expect_status 1 "not a valid change" irqrun "$ZEPTO" tune restore
cp "$WORK/irqb.good" "$WORK/irqb.state"
expect_ok irqrun "$ZEPTO" tune restore
grep "^PATH systemctl" "$WORK/systemctl.log" >&2 && fail "a systemctl found through PATH was run"

# --- bad CPU lists: usage errors, nothing written ---
expect_status 2 "CPU 7 is not online" "$ZEPTO" tune plan --cpus 7
expect_status 2 "housekeeping CPU" "$ZEPTO" tune apply --cpus all
expect_status 2 "housekeeping CPU" "$ZEPTO" tune apply --cpus 0-3
expect_status 2 "cpus" "$ZEPTO" tune apply
expect_status 2 "'x-y'" "$ZEPTO" tune plan --cpus x-y
expect_status 2 "housekeeping" "$ZEPTO" tune plan --cpus 1 --housekeeping 1
expect_status 2 "unrecognized|unknown" "$ZEPTO" tune restore --cpus 1
[ -f "$st" ] && fail "a refused apply wrote a state file"
tree snap "$root" "$WORK/after5"
diff "$WORK/before" "$WORK/after5" >&2 || fail "a refused command changed the tree"
finish
