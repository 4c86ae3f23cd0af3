# zepto bigmem run --static / --text: a Fortran program's 512 MiB COMMON block and module array
# (.bss) and a C program's 16 MiB initialised table (.data; PIE and non-PIE) are moved into huge
# pages before main (THP, and 2 MiB hugetlb pages when the pool can be raised: root, restored,
# under the report's pool lock); the values are those of a plain run, touching them takes few
# page faults; --text keeps a program running; a static binary is refused.
. "$(dirname "$0")/lib.sh"

HELP="$(dirname "$0")/../helpers"
command -v gfortran >/dev/null || { echo "SKIP: no gfortran (scripts/deps.sh installs it)"; exit 77; }
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo "")
case "$thp" in *"[never]"* | "") echo "SKIP: transparent huge pages are off"; exit 77 ;; esac

gfortran -O2 -J "$WORK" -o "$WORK/common" "$HELP/bigmem_static_common.f90" "$HELP/bigmem_static_minflt.c" ||
    fail "gfortran"
cc -O2 -w -o "$WORK/table" "$HELP/bigmem_static_table.c" || fail "cc (PIE)"
cc -O2 -w -no-pie -o "$WORK/table_nopie" "$HELP/bigmem_static_table.c" || fail "cc (non-PIE)"
field() { sed -n "s/^$1 //p" "$WORK/stdout"; }

for prog in common table table_nopie; do
    expect_ok "$WORK/$prog"
    sum=$(field checksum) plain=$(field faults)
    expect_ok "$ZEPTO" bigmem run --pages thp --static -v -- "$WORK/$prog"
    [ "$(field checksum)" = "$sum" ] || fail "$prog: checksum $(field checksum) under bigmem, $sum plain"
    grep -Eq "static executable data .* moved to THP pages \(([1-9][0-9.]*) MiB huge" "$WORK/stderr" ||
        fail "$prog: not in THP: $(cat "$WORK/stderr")"
    big=$(field faults)
    echo "$prog (THP): page faults touching the arrays $big under bigmem, $plain plain"
    [ "$plain" -gt 3000 ] || fail "$prog: only $plain faults plain"
    [ "$big" -lt $((plain / 5)) ] || fail "$prog: $big faults under bigmem --static, $plain plain"
done

# --text: the code runs from its huge-page copy (or in place), the result unchanged.
expect_ok "$ZEPTO" bigmem run --pages thp --text --static -v -- "$WORK/table"
[ "$(field checksum)" = "$sum" ] || fail "--text: checksum"

# A static binary is refused before it runs.
if cc -static -w -o "$WORK/table_static" "$HELP/bigmem_static_table.c" 2>/dev/null; then
    expect_status 1 "zepto bigmem run: .*table_static is statically linked: bigmem works through a preloaded library" \
        "$ZEPTO" bigmem run --static -- "$WORK/table_static"
else
    echo "note: no static libc, static binary case not run"
fi

# 2 MiB hugetlb pages: raise the pool (root), under the reports' lock, and put it back.
pool=/proc/sys/vm/nr_hugepages
lock=/run/lock/zepto-report-hugepages.lock
if [ "$(id -u)" -ne 0 ] || [ ! -w "$pool" ] || ! command -v flock >/dev/null; then
    echo "note: 2M part not run (needs root and flock)"
    finish
fi
exec 9>"$lock"
flock -w 150 9 || { echo "SKIP: the huge-page pool lock is held"; exit 77; }
old=$(cat "$pool")
trap 'echo "$old" >"$pool"' EXIT
echo $((old + 320)) >"$pool"
if [ $(($(cat "$pool") - old)) -lt 320 ]; then
    echo "SKIP: the kernel gave $(($(cat "$pool") - old)) of 320 huge pages"
    exit 77
fi
expect_ok "$WORK/common"
sum=$(field checksum) plain=$(field faults)
expect_ok "$ZEPTO" bigmem run --pages 2M --static -v -- "$WORK/common"
[ "$(field checksum)" = "$sum" ] || fail "2M: checksum $(field checksum), $sum plain"
grep -Eq "static executable data .* moved to 2.0 MiB hugetlb pages \(5[0-9][0-9].[0-9] MiB huge" "$WORK/stderr" ||
    fail "2M: not in hugetlb pages: $(cat "$WORK/stderr")"
echo "common (2M): page faults $(field faults) under bigmem, $plain plain"
[ "$(field faults)" -lt $((plain / 5)) ] || fail "2M: $(field faults) faults"
# A pool with room for the heap (64 MiB) but not for the static data: --strict stops before main;
# without it, the static data falls back to THP, said once.
echo $((old + 40)) >"$pool"
expect_status 1 "static data: .* needs [0-9]+ pages of 2.0 MiB, the pool has [0-9]+ free" \
    "$ZEPTO" bigmem run --strict --pages 2M --size 64M --static -- "$WORK/common"
expect_ok "$ZEPTO" bigmem run --pages 2M --size 64M --static -- "$WORK/common"
[ "$(grep -c "static data: .*using THP" "$WORK/stderr")" -eq 1 ] || fail "fallback: $(cat "$WORK/stderr")"
[ "$(field checksum)" = "$sum" ] || fail "fallback: checksum"
finish
