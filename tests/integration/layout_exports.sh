#!/usr/bin/env bash
# integration.layout_exports: each library that goes into users' programs exports its public API
# and nothing else (docs/ARCHITECTURE.md, "The arrows"). Arguments: LIB=MAP pairs, each a built
# shared library and its version script. Every symbol `nm -D --defined-only` shows must be one of
# the map's globals (a pattern like MPI_* allowed), and none may carry an internal prefix (base's
# zb_, a part's internal zbm_/kt_/zpl_/zp_/zf_/zn_/zg_, or a zoid_ name outside zoid.h's API).
# For a map with a named version node (libzoid.map), every listed name must also be exported.
# LIB=MAP=DIR: every function DIR's *.c define with an export macro at the start of the line
# (ZPL_API, EXPORT) must be exported too, so that a newly interposed function missing from the
# map fails here instead of silently not interposing.
set -u
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# The functions include/zepto/zoid.h declares: the only zoid_* a library may export.
zoid_api=" zoid_addr_check zoid_call zoid_close zoid_connect zoid_header_decode zoid_header_encode "
zoid_api+=" zoid_max_payload zoid_max_in_flight zoid_on_async zoid_poll zoid_strerror "
# A call in two halves (a stream consumer's read ahead).
zoid_api+=" zoid_call_begin zoid_call_cancel zoid_call_end "
# Descriptors the daemon lends a same-node client (shm:).
zoid_api+=" zoid_take_fd "
# The stream client (docs/zoid-stream.md).
zoid_api+=" zoid_stream_close zoid_stream_delete zoid_stream_end zoid_stream_flush zoid_stream_open "
zoid_api+=" zoid_stream_push zoid_stream_read zoid_stream_stat "
# Departures (docs/zoid-stream.md, "Departures").
zoid_api+=" zoid_stream_departed zoid_stream_departures "
# Whether the next read calls the daemon (and acknowledges): a buffering consumer flushes first.
zoid_api+=" zoid_stream_buffered "
# Pushes refused for room and their bytes (docs/zoid-stream.md, "Waiting in line").
zoid_api+=" zoid_stream_refusals "

# The names between "global:" and "local:" of a version script, comments stripped.
map_globals() {
    sed -e 's#/\*.*\*/##g' -e '/\/\*/,/\*\//d' "$1" |
        awk '/global:/ {on = 1; next} /local:/ {on = 0} on' | tr -d ' ;\t' | grep -v '^$'
}

[ $# -gt 0 ] || { echo "usage: layout_exports.sh LIB=MAP[=DIR]..." >&2; exit 2; }
for pair in "$@"; do
    IFS='=' read -r lib map srcdir <<<"$pair"
    name=$(basename "$lib")
    [ -f "$lib" ] || { fail "$name: not built ($lib)"; continue; }
    [ -f "$map" ] || { fail "$name: no version script $map"; continue; }
    mapfile -t allowed < <(map_globals "$map")
    # Defined dynamic symbols, without their version (name@@ZOID_1) and the version nodes (A).
    mapfile -t syms < <(nm -D --defined-only "$lib" | awk '$2 != "A" {sub(/@.*/, "", $3); print $3}')
    for s in "${syms[@]}"; do
        ok=0
        for a in "${allowed[@]}"; do
            # shellcheck disable=SC2053 # a map entry may be a glob pattern
            [[ $s == $a ]] && { ok=1; break; }
        done
        [ $ok -eq 1 ] || fail "$name exports $s, which $(basename "$map") does not list"
        case $s in
        zb_* | zbm_* | kt_* | zpl_* | zp_* | zf_* | zn_* | zg_*)
            fail "$name exports the internal symbol $s" ;;
        zoid_*)
            [[ $zoid_api == *" $s "* ]] || fail "$name exports $s, not part of zoid.h's API" ;;
        esac
    done
    if grep -Eq '^[A-Za-z_][A-Za-z0-9_.]* *\{' "$map"; then
        for a in "${allowed[@]}"; do
            printf '%s\n' "${syms[@]}" | grep -qx -- "$a" || fail "$name does not export $a"
        done
    fi
    if [ -n "$srcdir" ]; then
        while IFS= read -r fn; do
            printf '%s\n' "${syms[@]}" | grep -qx -- "$fn" ||
                fail "$name does not export $fn, marked for export in $srcdir (add it to the map)"
        done < <(grep -hE '^(ZPL_API|EXPORT)[[:space:]]' "$srcdir"/*.c |
            sed -E 's/\(.*//; s/.*[ *]([A-Za-z_0-9]+)$/\1/' | sort -u)
    fi
    echo "$name: ${#syms[@]} symbols exported"
done

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "all passed"
