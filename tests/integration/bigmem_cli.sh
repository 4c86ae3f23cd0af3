# zepto bigmem run/info: bad input gets one line and the right exit code; info reads a fake
# /proc and /sys tree (ZEPTO_SYSROOT) and says what auto would choose from it.
. "$(dirname "$0")/lib.sh"

expect_status 2 "--size '0': must be more than zero" "$ZEPTO" bigmem run --size 0 -- true
expect_status 2 "--size '1Z': unknown size suffix 'Z'" "$ZEPTO" bigmem run --size 1Z -- true
expect_status 2 "--size '100T': more than this machine's memory" "$ZEPTO" bigmem run --size 100T -- true
expect_status 2 "--pages '3M': use auto, 1G, 2M, thp or 4K" "$ZEPTO" bigmem run --pages 3M -- true
expect_status 2 "missing the command to run" "$ZEPTO" bigmem run --pages 4K
expect_status 2 "unexpected argument 'true' \(put the command after --\)" "$ZEPTO" bigmem run true
expect_status 2 "unknown option '--huge'" "$ZEPTO" bigmem run --huge -- true
expect_status 127 "/nonexistent/prog: No such file or directory" "$ZEPTO" bigmem run --pages 4K --size 64M -- /nonexistent/prog
: >"$WORK/notexec"
expect_status 126 "notexec: Permission denied" "$ZEPTO" bigmem run --pages 4K --size 64M -- "$WORK/notexec"
expect_status 2 "unexpected argument 'x'" "$ZEPTO" bigmem info x
expect_status 1 "cannot find libzepto-bigmem.so" env ZEPTO_BIGMEM_LIB=/nonexistent.so "$ZEPTO" bigmem run --pages 4K --size 64M -- true

# A fake machine: a 1 GiB pool with 4 free pages, THP never.
root="$WORK/root"
mkdir -p "$root/proc" "$root/sys/kernel/mm/hugepages/hugepages-1048576kB" \
    "$root/sys/kernel/mm/hugepages/hugepages-2048kB" "$root/sys/kernel/mm/transparent_hugepage"
printf 'MemTotal:       67108864 kB\nMemAvailable:   60000000 kB\n' >"$root/proc/meminfo"
set_pool() { # DIR TOTAL FREE
    echo "$2" >"$root/sys/kernel/mm/hugepages/$1/nr_hugepages"
    echo "$3" >"$root/sys/kernel/mm/hugepages/$1/free_hugepages"
    echo 0 >"$root/sys/kernel/mm/hugepages/$1/resv_hugepages"
    echo 0 >"$root/sys/kernel/mm/hugepages/$1/surplus_hugepages"
}
set_pool hugepages-1048576kB 4 4
set_pool hugepages-2048kB 0 0
echo 'always madvise [never]' >"$root/sys/kernel/mm/transparent_hugepage/enabled"
echo 'always defer defer+madvise [madvise] never' >"$root/sys/kernel/mm/transparent_hugepage/defrag"
info() { env ZEPTO_SYSROOT="$root" "$@" "$ZEPTO" bigmem info --json; }

expect_ok info
jq -e '.auto.pages == "1G" and .auto.region_bytes == 4294967296 and
       (.pools | length) == 2 and .pools[0].page_size_bytes == 1073741824 and
       .pools[0].free_pages == 4 and .thp_enabled == "never" and .local_ranks == 1' \
    "$WORK/stdout" >/dev/null || fail "1 GiB pool: $(cat "$WORK/stdout")"
# Two MPI ranks on the node share the pool.
expect_ok info OMPI_COMM_WORLD_LOCAL_SIZE=2
jq -e '.auto.pages == "1G" and .auto.region_bytes == 2147483648 and .local_ranks == 2' \
    "$WORK/stdout" >/dev/null || fail "2 ranks: $(cat "$WORK/stdout")"
# Empty pools, THP never: auto falls to 4 KiB pages, half of what is available (57.2 GiB).
set_pool hugepages-1048576kB 4 0
expect_ok info
jq -e '.auto.pages == "4K" and .auto.region_bytes == 30702305280' "$WORK/stdout" >/dev/null ||
    fail "no pools: $(cat "$WORK/stdout")"
# The human form names the same choice.
expect_ok env ZEPTO_SYSROOT="$root" "$ZEPTO" bigmem info
grep -q "^auto would use: 28.6 GiB of 4K pages" "$WORK/stdout" || fail "info text: $(cat "$WORK/stdout")"
grep -q "^default run: reserves 28.6 GiB of address space, commits it in pre-faulted chunks of 4K pages" "$WORK/stdout" ||
    fail "info does not say what the default does: $(cat "$WORK/stdout")"

# An unreadable /proc file: the file is named.
rm "$root/proc/meminfo" && mkdir "$root/proc/meminfo"
expect_status 1 "$root/proc/meminfo: Is a directory" env ZEPTO_SYSROOT="$root" "$ZEPTO" bigmem info
expect_status 1 "meminfo: Is a directory" env ZEPTO_SYSROOT="$root" "$ZEPTO" bigmem run -- true
finish
