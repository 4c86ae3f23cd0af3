# Shared by the tests of bigmem's default (on-demand) region: a guard that stops a test before it
# starts many programs under a bigmem that would pre-fault half of the memory in each of them (the
# old default, which took a shared node down), and the parsing of the verbose exit lines.
. "$(dirname "$0")/lib.sh"

MIB=$((1 << 20))

# Size in bytes of "12.5 MiB"-style text.
to_bytes() {
    awk -v s="$1" -v u="$2" 'BEGIN {
        m["B"] = 1; m["KiB"] = 1024; m["MiB"] = 1048576; m["GiB"] = 1073741824; m["TiB"] = 1099511627776
        printf "%.0f\n", s * m[u] }'
}

# The default run of one program must commit little: otherwise stop here (exit 1), before the
# pipelines below would pre-fault half of the memory in every one of their programs.
guard_default_is_small() {
    local line size
    line=$("$ZEPTO" bigmem run -v -- true 2>&1 >/dev/null | grep "zepto bigmem: pages" || true)
    size=$(printf '%s\n' "$line" | sed -n 's/.*region \([0-9.]*\) \([KMGT]*i*B\).*/\1 \2/p')
    [ -n "$size" ] || { echo "FAIL: no verbose line from 'bigmem run -v -- true': $line" >&2; exit 1; }
    # shellcheck disable=SC2086
    local bytes
    bytes=$(to_bytes $size)
    if [ "$bytes" -gt $((64 * MIB)) ]; then
        echo "FAIL: 'bigmem run -- true' committed a $size region by default (at most 64 MiB" \
            "expected); not starting the pipelines" >&2
        exit 1
    fi
}

# check_regions FILE MAX_TOTAL: every verbose line in FILE has a region of at most twice its peak
# in use plus 64 MiB (the bound docs/bigmem.md states for a single-threaded program), and the
# regions add up to at most MAX_TOTAL bytes. Prints the total.
check_regions() {
    local file=$1 max=$2 total=0 n=0 region peak
    while IFS= read -r line; do
        region=$(printf '%s\n' "$line" | sed -n 's/.*region \([0-9.]*\) \([KMGT]*i*B\).*/\1 \2/p')
        peak=$(printf '%s\n' "$line" | sed -n 's/.*peak in use \([0-9.]*\) \([KMGT]*i*B\).*/\1 \2/p')
        # shellcheck disable=SC2086
        region=$(to_bytes $region)
        # shellcheck disable=SC2086
        peak=$(to_bytes $peak)
        [ "$region" -le $((2 * peak + 64 * MIB)) ] ||
            fail "a region of $((region / MIB)) MiB for a peak of $((peak / MIB)) MiB: $line"
        total=$((total + region))
        n=$((n + 1))
    done < <(grep "zepto bigmem: pages" "$file")
    [ "$n" -gt 0 ] || fail "no verbose lines in $file"
    [ "$total" -le "$max" ] || fail "the programs committed $((total / MIB)) MiB, more than $((max / MIB)) MiB"
    echo "$n programs, $((total / MIB)) MiB committed in all"
}
