# ktau's atomic events (TAU's userevents): ktau_events.c records known values on two threads,
# checked exactly per thread in the TAU files (numevents max min mean sumsqr) and in
# `zepto ktau show`; then the message sizes and partners libktau-mpi records for ktau_mpi.c's
# calls on two ranks (mpirun -np 2, one host): per rank, "Message size sent to node <peer>",
# "... received from node <peer>", "... sent to / received from all nodes" and
# "Message size for all-reduce", with their exact counts and sizes.
. "$(dirname "$0")/lib.sh"

PROG=$BIN/ktau_events
[ -x "$PROG" ] || { echo "SKIP: $PROG not built"; exit 77; }

# ev FILE NAME: the five numbers of user event NAME (or "missing").
ev() {
    awk -F'"' -v n="$2" 'on && $2 == n { sub(/^ +/, "", $3); print $3; found = 1 }
        / userevents$/ { on = 1 } END { if (!found) print "missing" }' "$1"
}
expect_ev() { # expect_ev FILE NAME "N MAX MIN MEAN SUMSQR"
    local got
    got=$(ev "$1" "$2")
    [ "$got" = "$3" ] || fail "$(basename "$1"): event '$2' is '$got', expected '$3'"
}

OUT=$WORK/events
"$ZEPTO" ktau run --no-kernel -o "$OUT" -- "$PROG" 2>"$WORK/err" || fail "ktau run: $(cat "$WORK/err")"
expect_ev "$OUT/profile.0.0.0" value "100 100 1 50.5 338350"
expect_ev "$OUT/profile.0.0.0" half "2 0.5 0.5 0.5 0.5"
expect_ev "$OUT/profile.0.0.1" value "3 7 7 7 147"
expect_ev "$OUT/profile.0.0.1" half "missing"
grep -qx '2 userevents' "$OUT/profile.0.0.0" || fail "profile.0.0.0: no '2 userevents' line"
grep -qx '# eventname numevents max min mean sumsqr' "$OUT/profile.0.0.0" ||
    fail "profile.0.0.0: no userevents header"
grep -q "<name>Hostname</name><value>$(hostname)</value>" "$OUT/profile.0.0.0" ||
    fail "profile.0.0.0: no Hostname $(hostname) in the metadata"
"$ZEPTO" ktau show "$OUT" >"$WORK/show" || fail "ktau show failed"
grep -Eq '^ +100 +100 +1 +50.5 +[0-9.]+ +value$' "$WORK/show" ||
    fail "show: no row for event 'value': $(grep -i value "$WORK/show")"

# MPI: the message sizes of ktau_mpi.c (per rank: rank 0 100 MPI_Send of 64 doubles to rank 1,
# rank 1 as many MPI_Recv; both 10 MPI_Isend + 10 MPI_Irecv of 64 doubles with the peer; 50
# MPI_Allreduce of one double).
MPIPROG=$BIN/ktau_mpi
if ! command -v mpirun >/dev/null || [ ! -x "$MPIPROG" ]; then
    echo "(MPI part skipped: no mpirun or ktau_mpi)"
    finish
fi
mpi=(mpirun --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi=(mpirun --allow-run-as-root --oversubscribe -np 2)
OUT=$WORK/mpi
"${mpi[@]}" "$ZEPTO" ktau run --mpi --no-kernel -o "$OUT" -- "$MPIPROG" >/dev/null 2>"$WORK/err2" ||
    fail "mpirun zepto ktau run: $(cat "$WORK/err2")"
P0=$OUT/profile.0.0.0 P1=$OUT/profile.1.0.0
expect_ev "$P0" "Message size sent to node 1" "110 512 512 512 28835840"
expect_ev "$P0" "Message size sent to all nodes" "110 512 512 512 28835840"
expect_ev "$P0" "Message size received from node 1" "10 512 512 512 2621440"
expect_ev "$P1" "Message size sent to node 0" "10 512 512 512 2621440"
expect_ev "$P1" "Message size received from node 0" "110 512 512 512 28835840"
expect_ev "$P1" "Message size received from all nodes" "110 512 512 512 28835840"
for p in "$P0" "$P1"; do
    expect_ev "$p" "Message size for all-reduce" "50 8 8 8 3200"
done
expect_ev "$P0" "Message size sent to node 0" "missing"
finish
