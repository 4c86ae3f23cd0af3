#!/usr/bin/env bash
# ktau MPI wrappers, C and Fortran: what libktau-mpi adds per call. ktau_mpi_calls.c and .f90
# (built here with mpicc / mpif90) each time N MPI_Comm_rank (the wrapper's timer pair alone) and
# N MPI_Sendrecv of one double with the rank itself (the pair plus four message-size events) on 2
# ranks, bare and with libktau-mpi.so preloaded (no KTAU_DIR: nothing written); 5 interleaved
# rounds, the best of each. Usage: bench/ktau_mpi_calls.sh BUILD [N]
set -euo pipefail
build=${1:-build}
n=${2:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
lib="$(cd "$build/lib" 2>/dev/null && pwd)/libktau-mpi.so"
if ! command -v mpirun >/dev/null || ! command -v mpicc >/dev/null || ! command -v mpif90 >/dev/null ||
    [ ! -e "$lib" ]; then
    echo "(skipped: needs mpirun, mpicc, mpif90 and $lib)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpicc -O2 "$here/ktau_mpi_calls.c" -o "$tmp/c"
mpif90 -O2 "$here/ktau_mpi_calls.f90" -o "$tmp/f"
mpi=(mpirun --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi=(mpirun --allow-run-as-root --oversubscribe -np 2)
declare -A best
keep() { # keep KEY VALUE: the smallest
    if [ -z "${best[$1]:-}" ] || awk -v a="$2" -v b="${best[$1]}" 'BEGIN { exit !(a < b) }'; then
        best[$1]=$2
    fi
}
for _ in 1 2 3 4 5; do
    for lang in c f; do
        for mode in bare wrapped; do
            pre=()
            [ $mode = wrapped ] && pre=(-x LD_PRELOAD="$lib")
            line=$("${mpi[@]}" "${pre[@]}" "$tmp/$lang" "$n" | grep comm_rank_ns)
            keep "$lang.$mode.rank" "$(sed 's/.*comm_rank_ns=\([0-9.]*\).*/\1/' <<<"$line")"
            keep "$lang.$mode.sr" "$(sed 's/.*sendrecv_ns=\([0-9.]*\).*/\1/' <<<"$line")"
        done
    done
done
echo "libktau-mpi per call, $n calls per rank, 2 ranks, best of 5 interleaved rounds (ns):"
printf '%-8s %-14s %8s %8s %8s %6s\n' lang call bare wrapped added ratio
for lang in c f; do
    for call in rank sr; do
        b=${best[$lang.bare.$call]} w=${best[$lang.wrapped.$call]}
        awk -v l="$([ $lang = c ] && echo C || echo Fortran)" \
            -v c="$([ $call = rank ] && echo MPI_Comm_rank || echo MPI_Sendrecv)" -v b="$b" -v w="$w" \
            'BEGIN { printf "%-8s %-14s %8.1f %8.1f %8.1f %6.2f\n", l, c, b, w, w - b, w / b }'
    done
done
