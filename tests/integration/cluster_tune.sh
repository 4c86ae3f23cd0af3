# The Slurm prolog and epilog of zepto tune (dist/slurm) on the test cluster: an exclusive job on
# zn2 (real CPU 1) runs on a node tuned for CPU 1 (new IRQs default to CPU 0, the state file is
# there while it runs); after it, the epilog restores every value the plan touches byte for
# byte. A job on zn1 (the housekeeping CPU 0 only) and a job that shares its node run untuned.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
cluster_require python3 scontrol
[ "$(nproc --all)" -ge 2 ] || { echo "skip: needs 2 CPUs"; exit 77; }
[ -e /run/zepto/tune.state ] && { echo "skip: a tuning is in effect on this machine"; exit 77; }
[ -e /sys/fs/cgroup/cpuset/cpuset.cpus ] || { echo "skip: no cgroup v1 cpuset (the cluster's nodes need it)"; exit 77; }

sd=$WORK/state
mkdir -p "$sd"
for s in prolog epilog; do
    cat >"$WORK/$s.sh" <<EOS
#!/bin/bash
export ZEPTO=$ZEPTO ZEPTO_TUNE_STATE_DIR=$sd SLURM_CONF=$CL_STATE/slurm.conf PATH=$PATH
exec $src/dist/slurm/zepto-tune-$s.sh
EOS
    chmod +x "$WORK/$s.sh"
done
export ZEPTO_CLUSTER_PROLOG=$WORK/prolog.sh ZEPTO_CLUSTER_EPILOG=$WORK/epilog.sh

cluster_up 2
"$ZEPTO" tune plan --cpus 1 --housekeeping 0 --json >"$WORK/plan.json" || fail "plan"
python3 "$here/tune_snap.py" "$WORK/plan.json" "$WORK/snap.before"
default_before=$(cat /proc/irq/default_smp_affinity)

wait_untuned() { # the epilog runs after the job has ended: wait (bounded) for its restore
    for _ in $(seq 300); do
        ls "$sd"/tune-job*.state >/dev/null 2>&1 || return 0
        sleep 0.1
    done
    return 1
}

# An exclusive job on zn2: tuned while it runs.
srun -N1 -w zn2 --exclusive bash -c "cat /proc/irq/default_smp_affinity; ls $sd" \
    >"$WORK/job2.out" 2>&1 || fail "job on zn2: $(cat "$WORK/job2.out")"
[ "$(head -1 "$WORK/job2.out")" = 1 ] ||
    fail "the job on zn2 ran untuned (default IRQ affinity $(head -1 "$WORK/job2.out"), expected 1)"
grep -q "tune-job.*\.state" "$WORK/job2.out" || fail "no state file while the job ran"
wait_untuned || fail "the epilog did not restore (state: $(ls "$sd"))"
python3 "$here/tune_snap.py" "$WORK/plan.json" "$WORK/snap.after"
python3 "$here/tune_snap.py" --diff "$WORK/snap.before" "$WORK/snap.after" >&2 ||
    fail "the epilog's restore is not exact (above)"

# zn1 has only the housekeeping CPU; a shared job is not the node's alone: both untuned.
srun -N1 -w zn1 --exclusive cat /proc/irq/default_smp_affinity >"$WORK/job1.out" 2>&1 ||
    fail "job on zn1: $(cat "$WORK/job1.out")"
[ "$(cat "$WORK/job1.out")" = "$default_before" ] || fail "a job on the housekeeping CPU was tuned"
srun -N1 -w zn2 --oversubscribe cat /proc/irq/default_smp_affinity >"$WORK/job3.out" 2>&1 ||
    fail "shared job on zn2: $(cat "$WORK/job3.out")"
[ "$(cat "$WORK/job3.out")" = "$default_before" ] || fail "a shared job was tuned"
wait_untuned || fail "state files left: $(ls "$sd")"
finish
