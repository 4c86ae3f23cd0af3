#!/bin/bash
# Slurm Prolog: quiets the CPUs of an exclusive job on this node with `zepto tune apply`, saving
# the old values in /run/zepto/tune-job$SLURM_JOB_ID.state for the Epilog's restore.
#
# slurm.conf:  Prolog=/usr/local/lib/zepto/zepto-tune-prolog.sh
#              Epilog=/usr/local/lib/zepto/zepto-tune-epilog.sh
# The application CPUs are, first found: $ZEPTO_TUNE_CPUS (set in the prolog's environment by
# the site), the job's cpuset (task/cgroup with PrologFlags=Contain), the cpuset slurmd runs in
# when it is not the root one (a node confined to part of a machine, like the test cluster of
# scripts/cluster.sh), or the CPU_IDs `scontrol show job -d` gives for this node. Housekeeping
# CPUs (CPU 0 and its siblings, or $ZEPTO_TUNE_HOUSEKEEPING) are taken out. Jobs that share the
# node are left alone: tuning is for a node given to one job. A failure is logged and never
# fails the job (exit 0): a job on an untuned node still runs.
set -u
zepto=${ZEPTO:-zepto}
job=${SLURM_JOB_ID:?the Slurm Prolog sets SLURM_JOB_ID}
state=${ZEPTO_TUNE_STATE_DIR:-/run/zepto}/tune-job$job.state
log() { logger -t zepto-tune "job $job: $*" 2>/dev/null || echo "zepto-tune: job $job: $*" >&2; }

# Expands "0-2,5" into "0 1 2 5".
expand() {
    local part out=()
    for part in ${1//,/ }; do
        if [[ $part == *-* ]]; then out+=($(seq "${part%-*}" "${part#*-}")); else out+=("$part"); fi
    done
    echo "${out[@]}"
}

info=$(scontrol show job -d "$job" 2>/dev/null)
if ! grep -q "OverSubscribe=NO" <<<"$info"; then
    log "not exclusive (OverSubscribe is not NO): node left untuned"
    exit 0
fi
cpus=${ZEPTO_TUNE_CPUS:-}
if [ -z "$cpus" ]; then
    for f in /sys/fs/cgroup/cpuset/slurm*/uid_*/job_"$job"/cpuset.cpus \
        /sys/fs/cgroup/system.slice/slurmstepd.scope/job_"$job"/cpuset.cpus.effective; do
        [ -r "$f" ] && cpus=$(cat "$f") && break
    done
fi
if [ -z "$cpus" ]; then
    own=$(cat /proc/self/cpuset 2>/dev/null)
    if [ -n "$own" ] && [ "$own" != / ] && [ -r "/sys/fs/cgroup/cpuset$own/cpuset.cpus" ]; then
        cpus=$(cat "/sys/fs/cgroup/cpuset$own/cpuset.cpus")
    fi
fi
if [ -z "$cpus" ]; then
    cpus=$(grep -o "Nodes=${SLURMD_NODENAME:-$(hostname)} CPU_IDs=[0-9,-]*" <<<"$info" | sed 's/.*CPU_IDs=//')
fi
[ -n "$cpus" ] || { log "cannot tell the job's CPUs: node left untuned"; exit 0; }

hk=${ZEPTO_TUNE_HOUSEKEEPING:-$(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list 2>/dev/null || echo 0)}
keep=" $(expand "$hk") "
app=()
for c in $(expand "$cpus"); do [[ $keep == *" $c "* ]] || app+=("$c"); done
if [ ${#app[@]} -eq 0 ]; then
    log "the job has only housekeeping CPUs ($cpus): node left untuned"
    exit 0
fi
list=$(IFS=,; echo "${app[*]}")
if out=$("$zepto" tune apply --cpus "$list" --housekeeping "$hk" --state "$state" 2>&1 >/dev/null); then
    log "tuned for CPUs $list (housekeeping $hk): $out"
else
    log "zepto tune apply failed: $out"
fi
exit 0
