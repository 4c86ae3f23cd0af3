# zepto bigmem run with 2 MiB hugetlb pages reserved by the test (root only; the pool is
# restored on exit): a program touching 256 MiB takes fewer than 100 page faults in big memory
# and tens of thousands without; pinning; the fallback and --strict when the pool is empty.
. "$(dirname "$0")/lib.sh"

pool=/proc/sys/vm/nr_hugepages
if [ "$(id -u)" -ne 0 ] || [ ! -w "$pool" ]; then
    echo "SKIP: reserving 2 MiB huge pages needs root ($pool)"
    exit 77
fi
old=$(cat "$pool")
trap 'echo "$old" >"$pool"' EXIT
echo $((old + 170)) >"$pool"
if [ $(($(cat "$pool") - old)) -lt 170 ]; then
    echo "SKIP: the kernel gave $(($(cat "$pool") - old)) of 170 huge pages (memory too fragmented)"
    exit 77
fi
probe="$BIN/bigmem_probe"

# 256 MiB in one allocation: 9 blocks of 32 MiB with its header, plus one for small objects.
expect_ok "$ZEPTO" bigmem run --pages 2M --size 320M --pin -v -- "$probe" touch 256
with=$(sed -n 's/^faults \([0-9]*\) in_region 1$/\1/p' "$WORK/stdout")
grep -q "pages 2.0 MiB hugetlb (asked 2M), region 320.0 MiB at 0x[0-9a-f]* pinned" "$WORK/stderr" ||
    fail "verbose line: $(cat "$WORK/stderr")"
! grep -q "region is full" "$WORK/stderr" || fail "320 MiB did not hold 256 MiB: $(cat "$WORK/stderr")"
expect_ok "$probe" touch 256
without=$(sed -n 's/^faults \([0-9]*\).*/\1/p' "$WORK/stdout")
echo "page faults touching 256 MiB: $with in big memory (2 MiB pages), $without without"
[ -n "$with" ] && [ "$with" -lt 100 ] || fail "big memory took '$with' faults"
[ "$without" -gt 10000 ] || fail "ordinary memory took only $without faults"

# auto picks the pool when it has room.
expect_ok "$ZEPTO" bigmem run -v -- "$probe" region
grep -q "pages 2.0 MiB hugetlb (asked auto)" "$WORK/stderr" || fail "auto: $(cat "$WORK/stderr")"

# An empty pool: --strict stops before the program, saying what to change; else a fallback.
echo "$old" >"$pool"
expect_status 1 "--strict: 64.0 MiB needs 32 pages of 2.0 MiB, the pool has [0-9]+ free of [0-9]+: as root, echo [0-9]+ > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages \(or hugeadm --pool-pages-min 2MB:[0-9]+\)" \
    "$ZEPTO" bigmem run --strict --pages 2M --size 64M -- "$probe" region
expect_ok "$ZEPTO" bigmem run --pages 2M --size 64M -- "$probe" region
grep -q "2M pages cannot be had (64.0 MiB needs 32 pages of 2.0 MiB" "$WORK/stderr" ||
    fail "no fallback message: $(cat "$WORK/stderr")"
grep -q "^region 0x" "$WORK/stdout" || fail "no region after the fallback"
# No 1 GiB pool on most machines: --strict says how to get one.
if [ ! -d /sys/kernel/mm/hugepages/hugepages-1048576kB ]; then
    expect_status 1 "--strict: this kernel has no 1 GiB hugetlb pool \(boot with hugepagesz=1G hugepages=N\)" \
        "$ZEPTO" bigmem run --strict --pages 1G -- "$probe" region
fi
finish
