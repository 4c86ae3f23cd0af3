# Reads sent from the file's pages and writes spliced into the file through real daemons:
# test_zoid_splice ($DRIVER) and test_zoid_splice_write ($WRITER) against a unix: and a tcp:
# daemon (spliced), and against shm: and a unix: daemon started with ZOID_POSIX_SPLICE=0 (copied:
# the counters must stay still). A daemon log without its splice line, or a daemon that died,
# fails too. A daemon with one thread and --stall-timeout 1s: a write queued longer than the bound
# completes, a frame stopped half way is dropped.
. "$(dirname "$0")/lib.sh"
: "${DRIVER:?DRIVER must name test_zoid_splice}"
: "${WRITER:?WRITER must name test_zoid_splice_write}"
: "${BYREF:?BYREF must name test_zoid_byref}"
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
grep -q "spliced between the socket and the file: yes" "$WORK/unix.log" ||
    fail "unix: no splice line: $(cat "$WORK/unix.log")"
grep -q "the file: no (ZOID_POSIX_SPLICE=0)" "$WORK/off.log" ||
    fail "ZOID_POSIX_SPLICE=0: not said: $(cat "$WORK/off.log")"

for d in "$DRIVER" "$WRITER"; do
    expect_ok "$d" "unix:$WORK/u.sock" "$WORK/export" spliced
    expect_ok "$d" "tcp:127.0.0.1:$port" "$WORK/export" spliced
    expect_ok "$d" "shm:$WORK/s.sock" "$WORK/export" copied
    expect_ok "$d" "unix:$WORK/off.sock" "$WORK/export" copied
    expect_status 2 "usage" "$d" "unix:$WORK/u.sock" "$WORK/export" sometimes
done
# An unmodified program's large writes sent by reference (unix:), beside a forked child and
# after it closed the transport's pipe; and with sending by reference switched off.
expect_ok "$ZEPTO" zoid run --server "unix:$WORK/u.sock" --mount /zz -- "$BYREF" /zz "$WORK/export"
mkdir -p "$WORK/export/copy"
ZOID_SEND_BY_REFERENCE=0 expect_status 1 "1 MiB pipes after large writes" \
    "$ZEPTO" zoid run --server "unix:$WORK/u.sock" --mount /zz -- "$BYREF" /zz "$WORK/export"
# A write queued behind a slow call for longer than the stall bound: a daemon with one thread,
# --stall-timeout 1s and the test plugin (its digest_slow holds the thread 2.5 s).
: "${PLUGINS:?PLUGINS must name the directory of the test plugin}"
"$ZEPTO" zoid serve --listen "unix:$WORK/q.sock" --export "$WORK/export" --threads 1 \
    --max-threads 1 --stall-timeout 1s --plugin-dir "$PLUGINS" 2>"$WORK/queue.log" &
pids+=($!)
export ZOID_QUEUE_PID=$!
for _ in $(seq 200); do
    grep -q "plugin 1 posix" "$WORK/queue.log" && break
    sleep 0.05
done
expect_ok "$WRITER" "unix:$WORK/q.sock" "$WORK/export" queued
for _ in $(seq 100); do # the log is written at the daemon's next sweep
    grep -q "a frame stalled half way" "$WORK/queue.log" && break
    sleep 0.05
done
grep -q "a frame stalled half way" "$WORK/queue.log" ||
    fail "queue: the stalled frame was not named in the log: $(cat "$WORK/queue.log")"
expect_status 2 "--stall-timeout 'never': a duration from 10ms to 1h" \
    "$ZEPTO" zoid serve --listen "unix:$WORK/x.sock" --export "$WORK/export" --stall-timeout never
# The hand-made frames of the writer: a client dropped mid-frame and one with two senders.
grep -q "a frame from two senders" "$WORK/unix.log" ||
    fail "unix: the two senders' frame was not named in the log"
for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null || fail "daemon $i died"
done
finish
