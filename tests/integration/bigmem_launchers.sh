# Launchers that start many programs work under a default `bigmem run`, each program committing
# only what it uses: `make -j4` on a tiny Makefile, and Open MPI's mpirun when it is installed.
. "$(dirname "$0")/bigmem_ondemand_lib.sh"

guard_default_is_small
mkdir -p "$WORK/mk"
printf 'all: a b c d\n%%:\n\t@seq 1 20000 | sort -rn | head -1 > $@.out\n' >"$WORK/mk/Makefile"
status=0
ZEPTO_BIGMEM_VERBOSE=1 timeout 120 "$ZEPTO" bigmem run -- make -s -j4 -C "$WORK/mk" \
    >"$WORK/make.out" 2>"$WORK/make.err" || status=$?
[ "$status" -eq 0 ] || fail "make -j4 under bigmem run exited $status: $(cat "$WORK/make.err")"
for t in a b c d; do
    [ "$(cat "$WORK/mk/$t.out" 2>/dev/null)" = 20000 ] || fail "make target $t: no output"
done
check_regions "$WORK/make.err" $((1024 * MIB))

if command -v mpirun >/dev/null; then
    root=""
    [ "$(id -u)" -eq 0 ] && root=--allow-run-as-root
    status=0
    # shellcheck disable=SC2016
    timeout 120 "$ZEPTO" bigmem run -- mpirun $root --oversubscribe -np 2 \
        sh -c 'echo "rank $OMPI_COMM_WORLD_RANK"' >"$WORK/mpi.out" 2>"$WORK/mpi.err" || status=$?
    [ "$status" -eq 0 ] || fail "mpirun under bigmem run exited $status: $(cat "$WORK/mpi.err")"
    [ "$(sort "$WORK/mpi.out" | tr '\n' ' ')" = "rank 0 rank 1 " ] ||
        fail "mpirun under bigmem run printed: $(cat "$WORK/mpi.out")"
else
    echo "mpirun not installed: only make -j tested"
fi
finish
