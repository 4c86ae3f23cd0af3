# Reads sent from the file's pages (splice) through real daemons: test_zoid_splice ($DRIVER)
# against a unix: and a tcp: daemon (spliced), and against shm: and a unix: daemon started with
# ZOID_POSIX_SPLICE=0 (copied: the counter must stay still). A daemon log without its splice
# line, or a daemon that died, fails too.
. "$(dirname "$0")/lib.sh"
: "${DRIVER:?DRIVER must name test_zoid_splice}"
mkdir -p "$WORK/export"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/token"
chmod 600 "$WORK/token"
export ZOID_TOKEN_FILE=$WORK/token
pids=()
trap 'kill -9 "${pids[@]}" 2>/dev/null' EXIT

# serve NAME ADDR [VAR=VALUE]: a daemon on ADDR, its log in $WORK/NAME.log, started and ready.
serve() {
    local name=$1 addr=$2
    shift 2
    env "$@" "$ZEPTO" zoid serve --listen "$addr" --token-file "$WORK/token" \
        --export "$WORK/export" --threads 4 2>"$WORK/$name.log" &
    pids+=($!)
    for _ in $(seq 200); do
        grep -q "plugin 1 posix" "$WORK/$name.log" && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    fail "$name: the daemon did not start: $(cat "$WORK/$name.log")"
}

port=$((20000 + RANDOM % 20000))
serve unix "unix:$WORK/u.sock"
serve tcp "tcp:127.0.0.1:$port"
serve shm "shm:$WORK/s.sock"
serve off "unix:$WORK/off.sock" ZOID_POSIX_SPLICE=0
grep -q "(splice): yes" "$WORK/unix.log" || fail "unix: no splice line: $(cat "$WORK/unix.log")"
grep -q "(splice): no (ZOID_POSIX_SPLICE=0)" "$WORK/off.log" ||
    fail "ZOID_POSIX_SPLICE=0: not said: $(cat "$WORK/off.log")"

expect_ok "$DRIVER" "unix:$WORK/u.sock" "$WORK/export" spliced
expect_ok "$DRIVER" "tcp:127.0.0.1:$port" "$WORK/export" spliced
expect_ok "$DRIVER" "shm:$WORK/s.sock" "$WORK/export" copied
expect_ok "$DRIVER" "unix:$WORK/off.sock" "$WORK/export" copied
expect_status 2 "usage" "$DRIVER" "unix:$WORK/u.sock" "$WORK/export" sometimes
for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null || fail "daemon $i died"
done
finish
