#!/bin/bash
# integration.zoid_run_coalesce (issue 14 part 1, wired into real programs): `zepto zoid run
# --consistency relaxed` declares its sessions relaxed (zp_consistency), so that the daemon
# gathers the writes of real programs:
#   strided  8 processes write the 4 KiB blocks of one 8 MiB file round-robin (pwrite, an N-to-1
#            checkpoint): backend writes < calls / 4 (`zepto zoid stat`); strict: one each.
#            Fails on a `zoid run` that does not call zp_consistency (backend writes == calls).
#   dd       8 `dd` write disjoint 1 MiB slices of one file with 4 KiB blocks.
# Both: the file is byte-exact in the export once the program has ended.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

command -v jq >/dev/null || { echo "SKIP: no jq"; exit 77; }
stat_of() { "$ZEPTO" zoid stat --server "unix:$SOCK" --json | jq -r ".$1"; }

# A flush at rest after 2 s, not 20 ms: on a loaded machine the writers can all stall for 20 ms.
ZOID_COALESCE_FLUSH_MS=2000 start_daemon
run_mode() { # MODE CMD...
    local mode=$1
    shift
    if [ "$mode" = relaxed ]; then zrun_relaxed "$@"; else zrun "$@"; fi
}
# counted MODE WHAT CMD...: runs CMD under zoid run MODE; sets $calls and $ops (daemon counters).
counted() {
    local mode=$1 what=$2
    shift 2
    local o0 c0
    o0=$(stat_of write_backend_ops) c0=$(stat_of write_calls)
    run_mode "$mode" "$@" || fail "$what $mode: the program failed"
    ops=$(($(stat_of write_backend_ops) - o0)) calls=$(($(stat_of write_calls) - c0))
    echo "$what $mode: $calls write calls to the daemon, $ops backend writes"
}

"$ZSW" "$WORK/expect.dat" 8 2048 || fail "the strided writer failed on a local file"
head -c 8M /dev/urandom >"$WORK/src.dat"
writers='for i in 0 1 2 3 4 5 6 7; do
    dd if="$1" of="$2" bs=4k skip=$((i * 256)) seek=$((i * 256)) count=256 conv=notrunc \
        status=none &
done
wait'
for mode in relaxed strict; do
    rm -f "$EXPORT/ckpt.dat" "$EXPORT/dd.dat"
    counted "$mode" strided "$ZSW" "$MNT/ckpt.dat" 8 2048
    cmp -s "$WORK/expect.dat" "$EXPORT/ckpt.dat" || fail "strided $mode: the file is not what was written"
    [ "$calls" -ge 2048 ] || fail "strided $mode: $calls write calls counted, want >= 2048"
    if [ "$mode" = relaxed ]; then
        [ "$ops" -lt $((calls / 4)) ] || fail "strided relaxed: $ops backend writes for $calls calls (not gathered)"
    else
        [ "$ops" -eq "$calls" ] || fail "strided strict: $ops backend writes for $calls calls (want one each)"
    fi
    counted "$mode" dd bash -c "$writers" sh "$WORK/src.dat" "$MNT/dd.dat"
    cmp -s "$WORK/src.dat" "$EXPORT/dd.dat" || fail "dd $mode: the file is not what dd wrote"
    [ "$mode" = relaxed ] || [ "$ops" -eq "$calls" ] || fail "dd strict: $ops backend writes for $calls calls"
done
stop_daemon
finish
