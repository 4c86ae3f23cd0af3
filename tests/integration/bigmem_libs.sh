# zepto bigmem run --static --libs: a shared library's static arrays (12 MiB .data, 12 MiB .bss)
# go into huge pages with the program's, values intact; without --libs they stay in small pages.
# `zepto bigmem info --pid` shows it from the running program's smaps. fork and exec under
# --static behave as with the heap: a forked child writes its own copy (the parent's values
# unchanged), an exec'd program moves its own static data again. 2 MiB hugetlb part: root, the
# pool raised under the reports' lock and put back.
. "$(dirname "$0")/lib.sh"

HELP="$(dirname "$0")/../helpers"
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo "")
case "$thp" in *"[never]"* | "") echo "SKIP: transparent huge pages are off"; exit 77 ;; esac
cc -O2 -w -shared -fPIC -o "$WORK/libzbigtable.so" "$HELP/bigmem_libtable.c" || fail "cc (library)"
cc -O2 -w -o "$WORK/prog" "$HELP/bigmem_libmain.c" -L"$WORK" -lzbigtable -Wl,-rpath,"$WORK" ||
    fail "cc (program)"
[ "$failures" -eq 0 ] || finish
field() { sed -n "s/^$1 //p" "$WORK/stdout"; }

# Bad --pid: a usage error, a process that is not there.
expect_status 2 "bigmem info: --pid" "$ZEPTO" bigmem info --pid abc
expect_status 2 "bigmem info: --pid" "$ZEPTO" bigmem info --pid 0
gone=$(($(cat /proc/sys/kernel/pid_max) + 1))
expect_status 1 "bigmem info: --pid $gone: no such process" "$ZEPTO" bigmem info --pid "$gone"
if [ "$(cat /proc/2/comm 2>/dev/null)" = kthreadd ]; then
    expect_status 1 "bigmem info: --pid 2: a kernel thread" "$ZEPTO" bigmem info --pid 2
fi

expect_ok "$WORK/prog"
sum=$(field checksum)
[ -n "$sum" ] || fail "plain run: no checksum"

# THP: the library's data is moved with --libs only (the preload's line, from smaps).
expect_ok "$ZEPTO" bigmem run --pages thp --static --libs -v -- "$WORK/prog"
[ "$(field checksum)" = "$sum" ] || fail "--libs (THP): checksum $(field checksum), $sum plain"
grep -Eq "static libzbigtable.so data .* moved to THP pages \([1-9][0-9.]* MiB huge" "$WORK/stderr" ||
    fail "--libs (THP): the library's data not in THP: $(cat "$WORK/stderr")"
expect_ok "$ZEPTO" bigmem run --pages thp --static -v -- "$WORK/prog"
[ "$(field checksum)" = "$sum" ] || fail "--static (THP): checksum"
! grep -q "libzbigtable" "$WORK/stderr" || fail "without --libs the library was touched: $(cat "$WORK/stderr")"

# hold PREFIX...: runs "PREFIX... prog hold" in the background until ready; sets $held.
hold() {
    rm -f "$WORK/in" "$WORK/out"
    mkfifo "$WORK/in"
    "$@" "$WORK/prog" hold <"$WORK/in" >"$WORK/out" 2>"$WORK/err" &
    held=$!
    exec 8>"$WORK/in"
    for _ in $(seq 300); do
        grep -q '^ready$' "$WORK/out" 2>/dev/null && return 0
        kill -0 "$held" 2>/dev/null || break
        sleep 0.1
    done
    fail "$* prog hold: not ready: $(cat "$WORK/err")"
}
release() {
    exec 8>&-
    wait "$held" || fail "held program exited $?"
}
# segment OBJECT PAGES: the running program has a data segment of OBJECT in PAGES (info --pid).
segment() {
    jq -e --arg o "$1" --arg p "$2" \
        '[.segments[] | select((.object | endswith($o)) and .kind == "data" and .pages == $p)] | length > 0' \
        "$WORK/info.json" >/dev/null
}

# info --pid of a plain program: its segments, all in small pages.
hold env
"$ZEPTO" bigmem info --pid "$held" --json >"$WORK/info.json" || fail "info --pid (plain)"
"$ZEPTO" bigmem info --pid "$held" >"$WORK/info.txt" || fail "info --pid text"
release
jq -e '.segments | length > 0' "$WORK/info.json" >/dev/null || fail "info --pid: no segments: $(cat "$WORK/info.json")"
segment /prog 4K || fail "info --pid: the program's data not listed in 4K: $(cat "$WORK/info.txt")"
segment /libzbigtable.so 4K || fail "info --pid: the library's data not listed: $(cat "$WORK/info.txt")"
grep -Eq "^prog +data +rw-p" "$WORK/info.txt" || fail "info --pid text: $(cat "$WORK/info.txt")"
! segment /prog "2M hugetlb" || fail "plain program in hugetlb pages?"

pool=/proc/sys/vm/nr_hugepages
if [ "$(id -u)" -ne 0 ] || [ ! -w "$pool" ] || ! command -v flock >/dev/null; then
    echo "note: 2M part not run (needs root and flock)"
    finish
fi
exec 9>/run/lock/zepto-report-hugepages.lock
flock -w 150 9 || { echo "SKIP: the huge-page pool lock is held"; exit 77; }
old=$(cat "$pool")
trap 'echo "$old" >"$pool"' EXIT
echo $((old + 64)) >"$pool"
if [ $(($(cat "$pool") - old)) -lt 64 ]; then
    echo "SKIP: the kernel gave $(($(cat "$pool") - old)) of 64 huge pages"
    exit 77
fi

# 2M, --libs: the library's segment is in hugetlb pages (smaps of the running program).
hold "$ZEPTO" bigmem run --pages 2M --size 32M --static --libs --
[ "$(sed -n 's/^checksum //p' "$WORK/out")" = "$sum" ] || fail "2M --libs: checksum"
"$ZEPTO" bigmem info --pid "$held" --json >"$WORK/info.json" || fail "info --pid (2M --libs)"
"$ZEPTO" bigmem info --pid "$held" >"$WORK/info.txt"
release
segment /libzbigtable.so "2M hugetlb" || fail "2M --libs: library not in hugetlb pages: $(cat "$WORK/info.txt")"
segment /prog "2M hugetlb" || fail "2M --libs: program not in hugetlb pages: $(cat "$WORK/info.txt")"
grep -Eq "^libzbigtable.so +data .* 2M hugetlb \(" "$WORK/info.txt" || fail "info text: $(cat "$WORK/info.txt")"

# 2M without --libs: the program's data moved, the library's not.
hold "$ZEPTO" bigmem run --pages 2M --size 32M --static --
"$ZEPTO" bigmem info --pid "$held" --json >"$WORK/info.json" || fail "info --pid (2M)"
release
segment /prog "2M hugetlb" || fail "2M: program not in hugetlb pages"
! segment /libzbigtable.so "2M hugetlb" || fail "2M without --libs: library in hugetlb pages"

# fork: the child writes its own copy of the hugetlb table; the parent's stays.
expect_ok "$WORK/prog" fork
child=$(field child)
expect_ok "$ZEPTO" bigmem run --pages 2M --size 32M --static --libs -v -- "$WORK/prog" fork
[ "$(field parent)" = "$sum" ] || fail "fork: parent $(field parent) after the child wrote, $sum before"
[ "$(field child)" = "$child" ] || fail "fork: child $(field child), $child plain"
grep -q "static executable data .* moved to 2.0 MiB hugetlb" "$WORK/stderr" || fail "fork: $(cat "$WORK/stderr")"
# exec: the new program moves its own static data (its own line at exit), same values.
expect_ok "$ZEPTO" bigmem run --pages 2M --size 32M --static -v -- "$WORK/prog" exec
[ "$(grep -c "^checksum $sum$" "$WORK/stdout")" -eq 2 ] || fail "exec: $(cat "$WORK/stdout")"
[ "$(grep -c "static executable data .* moved to 2.0 MiB hugetlb" "$WORK/stderr")" -eq 2 ] ||
    fail "exec: the exec'd program's data not moved: $(cat "$WORK/stderr")"
finish
