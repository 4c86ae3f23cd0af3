#!/usr/bin/env bash
# ktau MPI: what a libktau-mpi wrapper adds to an MPI call. Two ranks each time N MPI_Iprobe calls
# (a cheap call that enters Open MPI's progress engine), bare and with libktau-mpi.so preloaded
# into the ranks (mpirun -x LD_PRELOAD; no KTAU_DIR, so nothing is written); 5 interleaved rounds,
# the best of each. Usage: bench/ktau_mpi.sh BUILD [N]
set -euo pipefail
build=${1:-build}
n=${2:-500000}
prog="$build/bin/ktau_mpi"
lib="$(cd "$build/lib" && pwd)/libktau-mpi.so"
if ! command -v mpirun >/dev/null || [ ! -x "$prog" ] || [ ! -e "$lib" ]; then
    echo "(skipped: needs mpirun, $prog and $lib: build with Open MPI's development files)"
    exit 0
fi
mpi=(mpirun --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi=(mpirun --allow-run-as-root --oversubscribe -np 2)
bare=() wrapped=()
for _ in 1 2 3 4 5; do
    bare+=("$("${mpi[@]}" "$prog" bench "$n" | sed -n 's/^iprobe_ns=//p')")
    wrapped+=("$("${mpi[@]}" -x LD_PRELOAD="$lib" "$prog" bench "$n" | sed -n 's/^iprobe_ns=//p')")
done
echo "MPI_Iprobe, $n calls per rank, ns per call (5 rounds): bare ${bare[*]}; wrapped ${wrapped[*]}"
best() { printf '%s\n' "$@" | sort -g | head -1; }
awk -v b="$(best "${bare[@]}")" -v w="$(best "${wrapped[@]}")" \
    'BEGIN { printf "best: bare %.1f ns, wrapped %.1f ns: +%.1f ns per call (x%.2f)\n", b, w, w - b, w / b }'
