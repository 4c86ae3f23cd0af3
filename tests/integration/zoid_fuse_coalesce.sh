#!/bin/bash
# integration.zoid_fuse_coalesce (issue 14 part 1 through `zepto zoid mount`): a relaxed mount
# declares its session relaxed (zp_consistency), so the daemon buffers the writes of 8 processes
# writing the 4 KiB blocks of one 8 MiB file round-robin for gathering, or sends them straight to
# the backend when the kernel's writeback cache has already merged them into large aligned writes
# (`zepto zoid stat`: write_aggregated + write_direct = write calls; which of the two, and how many
# backend writes that saves, depends on what the kernel merged and when its attribute requests
# flush the file, so it is printed, not judged); a strict mount makes one backend write per call
# and buffers none. The file is byte-exact in the export once the writers have closed it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_fuse_lib.sh"
: "${ZSW:?ZSW must name tests/helpers/zoid_strided_writer}"
command -v jq >/dev/null || { echo "SKIP: no jq"; exit 77; }

require_fuse
ZOID_COALESCE_FLUSH_MS=2000 start_daemon data
exp="$WORK/data-export"
stat_of() { "$ZEPTO" zoid stat --server "unix:$WORK/data.sock" --json | jq -r ".$1"; }
mount_fg "$WORK/r" "unix:$WORK/data.sock" --consistency relaxed || fail "relaxed mount"
mount_fg "$WORK/s" "unix:$WORK/data.sock" --consistency strict || fail "strict mount"
"$ZSW" "$WORK/expect.dat" 8 2048 || fail "the strided writer failed on a local file"
for mode in r s; do
    o0=$(stat_of write_backend_ops) c0=$(stat_of write_calls) a0=$(stat_of write_aggregated)
    d0=$(stat_of write_direct)
    timeout 60 "$ZSW" "$WORK/$mode/ckpt.$mode" 8 2048 || fail "$mode: the writer failed"
    ops=$(($(stat_of write_backend_ops) - o0)) calls=$(($(stat_of write_calls) - c0))
    agg=$(($(stat_of write_aggregated) - a0)) direct=$(($(stat_of write_direct) - d0))
    echo "mount $mode: $calls write calls to the daemon, $agg buffered, $direct direct, $ops backend writes"
    cmp -s "$WORK/expect.dat" "$exp/ckpt.$mode" || fail "$mode: the file is not what was written"
    [ "$calls" -gt 0 ] || fail "$mode: no write reached the daemon"
    if [ "$mode" = r ]; then
        [ $((agg + direct)) -eq "$calls" ] ||
            fail "relaxed: $agg buffered and $direct direct of $calls writes (want all, one way or the other)"
    else
        [ "$ops" -eq "$calls" ] && [ "$agg" -eq 0 ] && [ "$direct" -eq 0 ] ||
            fail "strict: $ops backend writes for $calls calls, $agg buffered, $direct direct (want one each, none)"
    fi
done
finish
