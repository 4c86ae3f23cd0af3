# fio through the interposer: a sequential and a random write job verifying their data
# (--verify=crc32c), in strict and relaxed; then, against a daemon with a 1 MiB payload limit,
# reads and writes of 8 MiB in one call (split by the library) with identical data back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

command -v fio >/dev/null || { echo "SKIP: fio is not installed"; exit 77; }

start_daemon
mkdir -p "$EXPORT/fio"
for c in strict relaxed; do
    for job in "seq --rw=write --bs=1M --size=32M" "rnd --rw=randwrite --bs=4k --size=8M"; do
        set -- $job
        status=0
        timeout 120 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" --consistency "$c" \
            -- fio --name="$c-$1" --directory="$MNT/fio" "${@:2}" --verify=crc32c \
            --ioengine=psync --output-format=terse >"$WORK/fio.out" 2>&1 || status=$?
        [ "$status" -eq 0 ] || fail "fio $c $1: exit $status: $(tail -3 "$WORK/fio.out")"
        # terse v3: field 5 is the job's error.
        [ "$(cut -d';' -f5 "$WORK/fio.out" | tail -1)" = 0 ] ||
            fail "fio $c $1 reported an error: $(tail -1 "$WORK/fio.out")"
    done
done
stop_daemon

start_daemon --max-payload 1M
head -c $((20 << 20)) /dev/urandom >"$WORK/big"
expect_ok zrun dd if="$WORK/big" of="$MNT/big" bs=8M
cmp -s "$WORK/big" "$EXPORT/big" || fail "8 MiB writes over a 1 MiB payload limit"
expect_ok zrun dd if="$MNT/big" of="$WORK/big.back" bs=8M
cmp -s "$WORK/big" "$WORK/big.back" || fail "8 MiB reads over a 1 MiB payload limit"
stop_daemon
finish
