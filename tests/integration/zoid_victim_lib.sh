# Shared by the tests that measure what a well-behaved client (zoid_victim) sees while another
# abuses the daemon (zoid_limits, zoid_posix_stall, zoid_posix_handles). Sourced after lib.sh.
# The bar is the issue's 100 ms; under AddressSanitizer every byte copied is checked, 300 ms.
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
AS_OTHER=(setpriv --reuid=65533 --regid=65533 --clear-groups)
BAR_MS=100
ldd "$ZEPTO" 2>/dev/null | grep -q libasan && BAR_MS=300
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# json FIELD <<< LINE: a field of zoid_victim's (or zoid_abuse's) one-line JSON.
json() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }
# victim_ok NAME LINE: every call answered, none slower than the bar.
victim_ok() {
    local max f
    max=$(json max_ms <<<"$2")
    f=$(json failures <<<"$2")
    echo "$1: victim $2"
    [ "${f:-1}" = 0 ] || fail "$1: the victim saw $f failures: $2"
    awk -v m="${max:-1e9}" -v b="$BAR_MS" 'BEGIN { exit !(m < b) }' ||
        fail "$1: the victim waited $max ms (bar: $BAR_MS ms)"
}
