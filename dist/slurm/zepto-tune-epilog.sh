#!/bin/bash
# Slurm Epilog: puts back what zepto-tune-prolog.sh changed for this job (its state file), and
# does nothing for a job the prolog left untuned. A failure is logged; the state file is then
# kept, so that `zepto tune restore --state FILE` can be run again by hand.
set -u
zepto=${ZEPTO:-zepto}
job=${SLURM_JOB_ID:?the Slurm Epilog sets SLURM_JOB_ID}
state=${ZEPTO_TUNE_STATE_DIR:-/run/zepto}/tune-job$job.state
log() { logger -t zepto-tune "job $job: $*" 2>/dev/null || echo "zepto-tune: job $job: $*" >&2; }
[ -e "$state" ] || exit 0
if out=$("$zepto" tune restore --state "$state" 2>&1 >/dev/null); then
    log "restored${out:+: $out}"
else
    log "zepto tune restore failed (state kept in $state): $out"
fi
exit 0
