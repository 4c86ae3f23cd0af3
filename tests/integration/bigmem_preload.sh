# zepto bigmem run with THP and 4 KiB regions (no hugetlb pool needed): the preloaded library
# serves the whole malloc family from the region, from many threads, across fork, fork+exec and
# an exec of a program that knows nothing of it (sort); the verbose line names the pages used.
. "$(dirname "$0")/lib.sh"

probe="$BIN/bigmem_probe"
run() { "$ZEPTO" bigmem run "$@"; }
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo "")
pages=thp
case "$thp" in *"[never]"* | "") pages=4K ;; esac

expect_ok run --pages "$pages" --size 256M -- "$probe" family
grep -q "^ok$" "$WORK/stdout" || fail "family: $(cat "$WORK/stdout")"
expect_ok run --pages "$pages" --size 256M -- "$probe" threads 8 3000
grep -q "^ok$" "$WORK/stdout" || fail "threads: $(cat "$WORK/stdout")"
expect_ok run --pages "$pages" --size 256M -- "$probe" fork
grep -q "^ok$" "$WORK/stdout" || fail "fork: $(cat "$WORK/stdout")"
# ... and a forked child's verbose line counts its own faults (it once printed 2^64 - n: the
# child's count restarts at 0 and was taken from the parent's).
expect_ok run --pages "$pages" --size 256M -v -- python3 -c \
    'import os; pid = os.fork(); pid and os.waitpid(pid, 0); bytearray(1 << 20)'
[ "$(grep -c "page faults after start-up" "$WORK/stderr")" -ge 2 ] ||
    fail "fork -v: no line from the child: $(cat "$WORK/stderr")"
grep -Eq "page faults after start-up [0-9]{10,}" "$WORK/stderr" &&
    fail "fork -v: an impossible fault count: $(grep -o 'faults after start-up [0-9]*' "$WORK/stderr")"
expect_ok run --pages "$pages" --size 256M -- "$probe" forkexec "$probe"
grep -q "^region 0x" "$WORK/stdout" || fail "the exec'd child has no region of its own"
grep -q "^ok$" "$WORK/stdout" || fail "forkexec: $(cat "$WORK/stdout")"

# Not running under bigmem: the probe says so (the checks above could not pass by accident).
status=0
"$probe" family >/dev/null || status=$?
[ "$status" -eq 3 ] || fail "the probe without bigmem exited $status, expected 3"

# exec of an ordinary program: sort runs, in its own region (its verbose line too).
expect_ok run --pages 4K --size 64M -v -- sh -c 'printf "b\na\n" | sort'
[ "$(cat "$WORK/stdout")" = "$(printf 'a\nb')" ] || fail "sort under bigmem: $(cat "$WORK/stdout")"
grep -q "zepto bigmem: pages 4.0 KiB (asked 4K), region 64.0 MiB" "$WORK/stderr" ||
    fail "no verbose line from sort: $(cat "$WORK/stderr")"

# The verbose line checks the pages in /proc/self/smaps and counts faults after start-up.
expect_ok run --pages "$pages" --size 256M -v -- "$probe" touch 128
grep -Eq "faults [0-9]+ in_region 1" "$WORK/stdout" || fail "touch: $(cat "$WORK/stdout")"
faults=$(sed -n 's/^faults \([0-9]*\).*/\1/p' "$WORK/stdout")
[ "$faults" -lt 100 ] || fail "$faults page faults touching 128 MiB of a pre-faulted region"
if [ "$pages" = thp ]; then
    grep -q "pages THP (" "$WORK/stderr" || fail "THP not seen in smaps: $(cat "$WORK/stderr")"
fi
grep -Eq "peak in use 128\.[0-9] MiB, page faults after start-up [0-9]+" "$WORK/stderr" ||
    fail "verbose line: $(cat "$WORK/stderr")"

# A growing region pre-faults the chunks many allocations share, not one made for a single large
# allocation: a program that asks for 2 GiB and touches 16 MiB of it (as GNU sort sizes its buffer
# from the machine's memory) commits about what it touches (it committed all 2 GiB, and took
# seconds, before).
expect_ok run --pages 4K -- "$probe" sparse 2048 16
grep -Eq "^rss_kb [0-9]+ in_region 1$" "$WORK/stdout" || fail "sparse: $(cat "$WORK/stdout")"
rss=$(sed -n 's/^rss_kb \([0-9]*\).*/\1/p' "$WORK/stdout")
[ "${rss:-0}" -lt $((256 * 1024)) ] || fail "sparse: ${rss} KiB resident for 16 MiB touched of 2 GiB"

# Full region: said once, then ordinary memory; with --strict, ENOMEM.
expect_ok run --pages 4K --size 64M -- "$probe" exhaust 128
[ "$(grep -c "region is full; further allocations use ordinary memory" "$WORK/stderr")" -eq 1 ] ||
    fail "exhaustion not said exactly once: $(cat "$WORK/stderr")"
grep -Eq "^region [0-9]+ MiB, ordinary [0-9]+ MiB" "$WORK/stdout" || fail "exhaust: $(cat "$WORK/stdout")"
expect_ok run --strict --pages 4K --size 64M -- "$probe" exhaust 128
grep -Eq "^enomem after [0-9]+ MiB \(errno ENOMEM\)" "$WORK/stdout" ||
    fail "strict exhaustion: $(cat "$WORK/stdout")"
finish
