# ktau with MPI: two ranks of ktau_mpi.c under mpirun with libktau-mpi preloaded, launched both
# ways (zepto ktau run as each rank, and zepto ktau run around mpirun). From the TAU files, read
# here independently: one profile per rank named by the rank (profile.<rank>.0.0), the exact count
# of each MPI call per rank, the user region's child calls, the rank's own child process as
# context 1, mpirun after the ranks, kernel entries charged to MPI routines (when the capture is
# permitted), valid trace JSON; a rank replaces only its own files; --mpi without the library.
. "$(dirname "$0")/lib.sh"

if ! command -v mpirun >/dev/null; then
    echo "SKIP: mpirun not found (scripts/deps.sh installs openmpi-bin)"
    exit 77
fi
PROG=$BIN/ktau_mpi
if [ ! -x "$PROG" ] || [ ! -e "$BIN/../lib/libktau-mpi.so" ]; then
    echo "SKIP: built without MPI (no ktau_mpi or libktau-mpi.so: install libopenmpi-dev)"
    exit 77
fi
mpi=(mpirun --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi=(mpirun --allow-run-as-root --oversubscribe -np 2)

# --mpi without the library: one line naming it, exit 1, nothing made.
ZEPTO_KTAU_MPI_LIB=/nonexistent expect_status 1 \
    'ZEPTO_KTAU_MPI_LIB=/nonexistent: No such file or directory \(--mpi needs libktau-mpi.so\)' \
    "$ZEPTO" ktau run --mpi -o "$WORK/nolib" -- true
[ -e "$WORK/nolib" ] && fail "a directory was made without the library"

# tau FILE NAME COLUMN(1=calls,2=subrs,3=excl,4=incl): field 2 of a '"'-split line is the name.
tau() {
    awk -F'"' -v n="$2" -v c="$3" '$2 == n { split($3, a, " "); print a[c]; found = 1 }
        END { if (!found) print "missing" }' "$1"
}
expect() { # expect FILE NAME COLUMN WANT
    local got
    got=$(tau "$1" "$2" "$3")
    [ "$got" = "$4" ] || fail "$(basename "$1"): $2: column $3 is $got, expected $4"
}
# The calls ktau_mpi.c makes on rank R, in profile P.
check_rank() { # check_rank P R
    local p=$1 r=$2
    [ -f "$p" ] || { fail "no $p"; return; }
    for f in MPI_Init MPI_Finalize; do expect "$p" $f 1 1; done
    if [ "$r" -eq 0 ]; then
        expect "$p" MPI_Send 1 100
        expect "$p" MPI_Recv 1 missing
    else
        expect "$p" MPI_Recv 1 100
        expect "$p" MPI_Send 1 missing
    fi
    for f in MPI_Isend MPI_Irecv MPI_Waitall; do expect "$p" $f 1 10; done
    expect "$p" MPI_Allreduce 1 50
    expect "$p" MPI_Barrier 1 20
    expect "$p" exchange 1 1
    expect "$p" exchange 2 30
    grep -q '^"MPI_Send" .* GROUP="TAU_USER"$\|^"MPI_Recv" .* GROUP="TAU_USER"$' "$p" ||
        fail "$p: MPI routines not in TAU_USER"
}
# Kernel entries under MPI routines: MPI_Init's system calls on both ranks, and in rank 0's first
# MPI_Barrier (100 ms waiting for rank 1, busy-polling in Open MPI's shared-memory transport)
# the poll(2) calls of its progress engine's 10 ms event tick.
check_kernel() { # check_kernel DIR
    local n
    for r in 0 1; do
        n=$(awk -F'"' '$2 ~ /^MPI_Init => sys_/ { split($3, a, " "); s += a[1] } END { print s + 0 }' \
            "$1/profile.$r.0.0")
        [ "$n" -ge 10 ] || fail "rank $r: $n system calls under MPI_Init"
    done
    n=$(awk -F'"' '$2 ~ /^MPI_Barrier => sys_/ { split($3, a, " "); s += a[1] } END { print s + 0 }' \
        "$1/profile.0.0.0")
    echo "rank 0: $n system calls under MPI_Barrier"
    [ "$n" -ge 3 ] || fail "rank 0: $n system calls under MPI_Barrier, expected the polls of 100 ms"
    awk -v t="$(tau "$1/profile.0.0.0" MPI_Barrier 4)" 'BEGIN { exit !(t >= 90000) }' ||
        fail "rank 0: MPI_Barrier took $(tau "$1/profile.0.0.0" MPI_Barrier 4) us, expected >= 100 ms"
}
kernel_on() { # kernel_on STDERR_FILE
    if grep -Eq 'refused|tracefs|user level only' "$1"; then
        echo "kernel capture not permitted here: $(head -1 "$1"); kernel entries not checked"
        return 1
    fi
}

# 1. zepto ktau run as each rank (the tau_exec style).
OUT=$WORK/ranks
status=0
"${mpi[@]}" "$ZEPTO" ktau run --mpi -o "$OUT" -- "$PROG" >"$WORK/out1" 2>"$WORK/err1" || status=$?
[ "$status" -eq 0 ] || fail "mpirun zepto ktau run exited $status: $(cat "$WORK/err1")"
for r in 0 1; do
    check_rank "$OUT/profile.$r.0.0" $r
    python3 -m json.tool "$OUT/trace.$r.json" >/dev/null || fail "trace.$r.json is not valid JSON"
    grep -q "^profile.$r.0.0  ktau_mpi pid" "$OUT/summary.$r.txt" || fail "summary.$r.txt"
    grep -q "rank $r: .* thread profile(s) in $OUT" "$WORK/err1" || fail "rank $r said nothing"
done
grep -q '^"true" 1 ' "$OUT/profile.0.1.0" || fail "rank 0's child is not profile.0.1.0"
for f in "$OUT"/*; do
    [[ $(basename "$f") =~ ^(profile\.[01]\.[0-9]+\.[0-9]+|trace\.[01]\.json|summary\.[01]\.txt|ktau-raw)$ ]] ||
        fail "unexpected file $f"
done
kernel_on "$WORK/err1" && check_kernel "$OUT"

# A rank replaces only its own files (the launcher's rank variable is all it takes).
expect_status 1 'earlier run for this rank \(use --force' \
    env OMPI_COMM_WORLD_RANK=1 "$ZEPTO" ktau run --no-kernel -o "$OUT" -- true
OMPI_COMM_WORLD_RANK=1 "$ZEPTO" ktau run --no-kernel --force -o "$OUT" -- true 2>/dev/null ||
    fail "--force as rank 1 failed"
grep -q '^"true" 1 ' "$OUT/profile.1.0.0" || fail "rank 1's profile was not replaced"
[ -e "$OUT/profile.1.0.1" ] && fail "rank 1's old thread profile was left"
expect "$OUT/profile.0.0.0" MPI_Send 1 100 # rank 0's, untouched
[ -f "$OUT/trace.0.json" ] || fail "rank 0's trace was removed"

# 2. zepto ktau run around mpirun (one node): the ranks are nodes 0 and 1, mpirun node 2.
OUT=$WORK/around
status=0
"$ZEPTO" ktau run --mpi -o "$OUT" -- "${mpi[@]}" "$PROG" >"$WORK/out2" 2>"$WORK/err2" || status=$?
[ "$status" -eq 0 ] || fail "zepto ktau run mpirun exited $status: $(cat "$WORK/err2")"
for r in 0 1; do check_rank "$OUT/profile.$r.0.0" $r; done
grep -q '^"true" 1 ' "$OUT/profile.0.1.0" || fail "rank 0's child is not profile.0.1.0"
grep -q '^"mpirun" 1 ' "$OUT/profile.2.0.0" || fail "mpirun is not profile.2.0.0"
python3 -m json.tool "$OUT/trace.json" >/dev/null || fail "trace.json is not valid JSON"
kernel_on "$WORK/err2" && check_kernel "$OUT"
"$ZEPTO" ktau show "$OUT" >"$WORK/show" || fail "ktau show failed"
grep -Eq '^ +[0-9.]+%.* MPI_Allreduce$' "$WORK/show" || fail "show: no row for MPI_Allreduce"
# 3. The MPI example (examples/ktau/halo_mpi.c), built with mpicc and zepto-ktau.pc: per rank
# 100 MPI_Sendrecv (2 a step), 5 MPI_Allreduce (every 10th step), 50 calls of sweep() (timed by
# -finstrument-functions), each with one "stencil" region inside.
if command -v mpicc >/dev/null; then
    export PKG_CONFIG_PATH=$BIN/../lib/pkgconfig
    EX=$(dirname "$0")/../../examples/ktau
    # shellcheck disable=SC2046
    mpicc -O1 -g $(pkg-config --cflags zepto-ktau) "$EX/halo_mpi.c" -o "$WORK/halo_mpi" \
        $(pkg-config --libs zepto-ktau) || fail "cannot build examples/ktau/halo_mpi.c"
    OUT=$WORK/halo
    "${mpi[@]}" "$ZEPTO" ktau run --mpi --no-kernel -o "$OUT" -- "$WORK/halo_mpi" 2000 50 \
        >"$WORK/out3" 2>"$WORK/err3" || fail "halo_mpi run failed: $(cat "$WORK/err3")"
    grep -q '^ranks=2 points=4000 steps=50 ' "$WORK/out3" || fail "halo_mpi: $(cat "$WORK/out3")"
    for r in 0 1; do
        expect "$OUT/profile.$r.0.0" MPI_Sendrecv 1 100
        expect "$OUT/profile.$r.0.0" MPI_Allreduce 1 5
        expect "$OUT/profile.$r.0.0" stencil 1 50
        expect "$OUT/profile.$r.0.0" sweep 1 50
        expect "$OUT/profile.$r.0.0" sweep 2 50
    done
else
    echo "(examples/ktau/halo_mpi.c not built: no mpicc)"
fi
finish
