# ktau across nodes (issue 13 part 4) on the test cluster: 2 nodes x 2 ranks of ktau_cluster.c,
# where rank 2 (on zn2) does known kernel work (512 MiB of getrandom, ~0.5 s of system time) and
# the others do not. Which rank has the most kernel time is measured: the test runs through
# timing_retry.sh (a failure only on a busy machine skips).
#  1. direct launch, srun -N2 --ntasks-per-node=2 zepto ktau run --mpi (issue 13's line; the
#     cluster's MpiDefault is pmix, its nodes have 2 Slurm CPUs by default): the profiles
#     of every rank in one directory, named by rank (profile.<rank>.0.*), each with the host it
#     ran on (ranks 0, 1 on zn1, 2, 3 on zn2) and its exact MPI calls and message sizes;
#     `zepto ktau show` gives the summary across the 4 ranks and flags rank 2 on zn2;
#  2. srun without an MPI plugin (--mpi=none): zepto ktau run --mpi says so
#     in one line per task and writes nothing;
#  3. salloc + mpirun zepto ktau run --mpi, rank 1 (on zn1) the noisy one: the same checks.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
cluster_require mpirun
PROG=$BIN/ktau_cluster
if [ ! -x "$PROG" ] || [ ! -e "$BIN/../lib/libktau-mpi.so" ]; then
    echo "skip: built without MPI (no ktau_cluster or libktau-mpi.so)"
    exit 77
fi
expect_status 2 "^cluster: --cpus needs a number 1\.\.64, got '0'$" "$CLUSTER" up 2 --cpus 0
expect_status 2 "^cluster: --cpus needs a number 1\.\.64, got ''$" "$CLUSTER" up 2 --cpus
[ -d "$CL_STATE" ] && fail "a bad --cpus left $CL_STATE"
cluster_up 2
if ! srun --mpi=list 2>&1 | grep -q pmix; then
    echo "skip: this Slurm has no mpi/pmix plugin ($(srun --mpi=list 2>&1 | tr '\n' ' '))"
    exit 77
fi

# tau FILE NAME COLUMN: column (1 calls, 2 subrs, 3 excl, 4 incl) of routine NAME.
tau() {
    awk -F'"' -v n="$2" -v c="$3" '$2 == n { split($3, a, " "); print a[c]; found = 1 }
        END { if (!found) print "missing" }' "$1"
}
ev() { # ev FILE NAME: numevents max min of user event NAME
    awk -F'"' -v n="$2" 'on && $2 == n { split($3, a, " "); print a[1], a[2], a[3]; found = 1 }
        / userevents$/ { on = 1 } END { if (!found) print "missing" }' "$1"
}
# check_run DIR NOISY: 4 ranks, hosts, calls, message partners, show's summary and flagged rank.
check_run() {
    local d=$1 noisy=$2 r p host want right left n
    for r in 0 1 2 3; do
        p=$d/profile.$r.0.0
        [ -f "$p" ] || { fail "$d: no profile of rank $r"; continue; }
        want=zn$((r / 2 + 1))
        host=$(sed -n 's/.*<name>Hostname<\/name><value>\([^<]*\)<.*/\1/p' "$p")
        [ "$host" = "$want" ] || fail "$d: rank $r ran on '$host', expected $want"
        for f in MPI_Init MPI_Comm_rank MPI_Comm_size MPI_Ibarrier MPI_Finalize; do
            [ "$(tau "$p" $f 1)" = 1 ] || fail "$p: $f calls $(tau "$p" $f 1), expected 1"
        done
        [ "$(tau "$p" MPI_Sendrecv 1)" = 100 ] || fail "$p: MPI_Sendrecv $(tau "$p" MPI_Sendrecv 1)"
        [ "$(tau "$p" MPI_Allreduce 1)" = 5 ] || fail "$p: MPI_Allreduce $(tau "$p" MPI_Allreduce 1)"
        right=$(((r + 1) % 4)) left=$(((r + 3) % 4))
        [ "$(ev "$p" "Message size sent to node $right")" = "50 128 128" ] ||
            fail "$p: sent to node $right: $(ev "$p" "Message size sent to node $right")"
        [ "$(ev "$p" "Message size received from node $left")" = "50 128 128" ] ||
            fail "$p: received from node $left: $(ev "$p" "Message size received from node $left")"
        [ "$(ev "$p" "Message size for all-reduce")" = "5 8 8" ] || fail "$p: all-reduce events"
        if [ "$r" -eq "$noisy" ]; then
            [ "$(tau "$p" extra 1)" = 1 ] || fail "$p: the noisy rank has no 'extra' region"
        else
            [ "$(tau "$p" extra 1)" = missing ] || fail "$p: rank $r has an 'extra' region"
        fi
    done
    n=$(find "$d" -maxdepth 1 -name 'profile.*' | sed 's/.*profile\.\([0-9]*\)\..*/\1/' | sort -u | tr '\n' ' ')
    [ "$n" = "0 1 2 3 " ] || fail "$d: profiles of nodes '$n', expected 0 1 2 3"
    "$ZEPTO" ktau show "$d" >"$d.show" 2>"$d.err" || fail "ktau show $d: $(cat "$d.err")"
    grep -q '^summary across 4 ranks' "$d.show" || fail "$d: show has no summary across 4 ranks"
    grep -Eq '^ +100\.0 +[0-9.]+ +[0-9.]+ +[0-3] +[0-9.]+ +[0-3] +[0-9.]+  MPI_Sendrecv$' "$d.show" ||
        fail "$d: show's summary has no MPI_Sendrecv row of 100 calls a rank"
    want=zn$((noisy / 2 + 1))
    grep -Eq "^most kernel time: rank $noisy on $want, [0-9.]+ ms, [0-9.]+x the median" "$d.show" ||
        fail "$d: flagged '$(grep '^most kernel' "$d.show")', expected rank $noisy on $want"
    grep '^most kernel' "$d.show"
}

# 1. Direct launch by srun with PMIx.
OUT=$WORK/direct
srun -N2 --ntasks-per-node=2 "$ZEPTO" ktau run --mpi -o "$OUT" -- "$PROG" 2 512 \
    >"$WORK/out1" 2>"$WORK/err1" || fail "srun zepto ktau run: $(tail -3 "$WORK/err1")"
[ "$(grep -c 'thread profile(s) in' "$WORK/err1")" = 4 ] || fail "not 4 ranks said done: $(cat "$WORK/err1")"
check_run "$OUT" 2

# 2. srun without PMI: one line per task, exit 1, nothing written.
OUT=$WORK/nopmi
srun --mpi=none -N2 --ntasks-per-node=2 "$ZEPTO" ktau run --mpi -o "$OUT" -- "$PROG" \
    >"$WORK/out2" 2>"$WORK/err2" && fail "srun without PMI: zepto ktau run --mpi succeeded"
n=$(grep -c '^zepto ktau run: --mpi: srun started 4 tasks without PMI (--mpi=none), so the MPI ranks cannot find each other: use srun --mpi=pmix, or salloc/sbatch + mpirun$' "$WORK/err2")
[ "$n" = 4 ] || fail "srun without PMI: $n of 4 tasks said why: $(cat "$WORK/err2")"
[ -e "$OUT" ] && fail "srun without PMI: $OUT was made"

# 3. salloc + mpirun.
OUT=$WORK/mpirun
salloc -N2 --ntasks-per-node=2 mpirun -np 4 "$ZEPTO" ktau run --mpi -o "$OUT" -- "$PROG" 1 512 \
    >"$WORK/out3" 2>"$WORK/err3" || fail "salloc mpirun zepto ktau run: $(tail -3 "$WORK/err3")"
check_run "$OUT" 1
finish
