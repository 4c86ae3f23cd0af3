# ktau with Fortran MPI programs: Open MPI's Fortran bindings call PMPI_* directly, so only
# libktau-mpi's Fortran wrappers see their calls. ktau_halo.f90 (a halo exchange and a reduction)
# is built with mpif90 twice, with mpif.h and with `use mpi_f08`, and run on two ranks under
# `mpirun zepto ktau run --mpi`: per rank, the exact count of each MPI call the program makes and
# the message sizes and partners (TAU's atomic events). Skips without mpif90.
. "$(dirname "$0")/lib.sh"

for t in mpirun mpif90; do
    command -v $t >/dev/null || { echo "SKIP: $t not found (scripts/deps.sh installs it)"; exit 77; }
done
[ -e "$BIN/../lib/libktau-mpi.so" ] || { echo "SKIP: built without MPI (no libktau-mpi.so)"; exit 77; }
SRC=$(dirname "$0")/ktau_halo.f90
mpi=(mpirun --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi=(mpirun --allow-run-as-root --oversubscribe -np 2)

tau() { # tau FILE NAME: calls of routine NAME, or "missing"
    awk -F'"' -v n="$2" '$2 == n { split($3, a, " "); print a[1]; found = 1 }
        END { if (!found) print "missing" }' "$1"
}
ev() { # ev FILE NAME: numevents max min mean of user event NAME, or "missing"
    awk -F'"' -v n="$2" 'on && $2 == n { split($3, a, " "); print a[1], a[2], a[3], a[4] + 0; found = 1 }
        / userevents$/ { on = 1 } END { if (!found) print "missing" }' "$1"
}
expect_calls() { # expect_calls FILE NAME WANT
    local got
    got=$(tau "$1" "$2")
    [ "$got" = "$3" ] || fail "$1: $2 called $got times, expected $3"
}
expect_ev() { # expect_ev FILE NAME WANT
    local got
    got=$(ev "$1" "$2")
    [ "$got" = "$3" ] || fail "$1: event '$2' is '$got', expected '$3'"
}

for kind in mpifh f08; do
    flags=()
    [ $kind = f08 ] && flags=(-DKTAU_F08)
    mpif90 -cpp "${flags[@]}" -O1 "$SRC" -o "$WORK/halo_$kind" 2>"$WORK/cc_$kind" ||
        { fail "mpif90 ($kind): $(head -5 "$WORK/cc_$kind")"; continue; }
    OUT=$WORK/prof_$kind
    "${mpi[@]}" "$ZEPTO" ktau run --mpi --no-kernel -o "$OUT" -- "$WORK/halo_$kind" \
        >"$WORK/out_$kind" 2>"$WORK/err_$kind" || fail "$kind: run failed: $(cat "$WORK/err_$kind")"
    grep -q '^ranks=2 sum=' "$WORK/out_$kind" || fail "$kind: program said '$(cat "$WORK/out_$kind")'"
    for r in 0 1; do
        p=$OUT/profile.$r.0.0
        [ -f "$p" ] || { fail "$kind: no $p"; continue; }
        peer=$((1 - r))
        for f in MPI_Init MPI_Comm_rank MPI_Comm_size MPI_Finalize MPI_Wait MPI_Bcast MPI_Reduce; do
            expect_calls "$p" $f 1
        done
        expect_calls "$p" MPI_Barrier 2
        expect_calls "$p" MPI_Sendrecv 20
        expect_calls "$p" MPI_Isend 21
        expect_calls "$p" MPI_Irecv 20
        expect_calls "$p" MPI_Waitall 20
        expect_calls "$p" MPI_Allreduce 4
        # rank 0 sends the 32 doubles, rank 1 receives them; each receives its own 1 double
        expect_calls "$p" MPI_Send $([ $r = 0 ] && echo 1 || echo missing)
        expect_calls "$p" MPI_Recv $([ $r = 0 ] && echo 1 || echo 2)
        # to the peer: 20 Sendrecv of 64 bytes and 20 Isend of 128 (+ rank 0's 256-byte Send)
        expect_ev "$p" "Message size sent to node $peer" \
            "$([ $r = 0 ] && echo "41 256 64 99.9024" || echo "40 128 64 96")"
        expect_ev "$p" "Message size received from node $r" "1 8 8 8"
        expect_ev "$p" "Message size for all-reduce" "4 8 8 8"
        expect_ev "$p" "Message size for broadcast" "1 16 16 16"
        expect_ev "$p" "Message size for reduce" "1 8 8 8"
    done
done
finish
