#!/bin/bash
# integration.cluster_zoid (issue 13 part 3): zoid between hosts on the test cluster. The daemon
# serves tcp: with a token in the I/O node's namespace (zio); compute nodes zn1, zn2 run real
# programs (cp, dd, sha256sum, tar, sqlite3, python3) under `zoid run` and through `zoid mount`,
# by `cluster.sh run` and by `srun -N2`, and every byte is checked by checksum on the I/O node's
# export. Then the faults, each with a bounded outcome (docs/zoid-deploy.md, "Faults"):
#   kill     the daemon SIGKILLed mid-write: the writer gets EIO at once, the mount EIO, a new
#            client a clear error; restarted, the mount reconnects and new calls work
#   client   a compute node's writer SIGKILLed mid-write: the daemon releases its handles, and
#            another node's null calls go on (every one answered, the slowest under the bar)
#   link     zn1's link cut (ip link set down) mid-write: the writer fails within ZOID_TCP_TIMEOUT
#            + slack, the daemon drops the connection and its handles as fast; link up, new
#            calls and the mount work again
# Root only; skips (77) without namespaces, Slurm or the tools.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
cluster_require sha256sum tar dd
ZEPTO=$(readlink -f "$ZEPTO")
# A bad ZOID_TCP_TIMEOUT: one line naming it, exit 2 (before anything is up).
for bad in 0 x 3601 5s; do
  expect_status 2 "^zepto zoid: ZOID_TCP_TIMEOUT '$bad': whole seconds from 1 to 3600$" \
    env ZOID_TCP_TIMEOUT=$bad "$ZEPTO" zoid bench --server tcp:127.0.0.1:1
done
BUSY="$BIN/machine_busy"
VICTIM="$BIN/zoid_victim"
[ -x "$VICTIM" ] || { echo "skip: $VICTIM not built"; exit 77; }
FUSE=1
{ command -v fusermount3 >/dev/null && [ -c /dev/fuse ]; } || FUSE=0
[ "$FUSE" = 1 ] || echo "note: no FUSE here (fusermount3, /dev/fuse): the mount parts are skipped"

# The bound on a silent peer, short for the test; the default is 20 s (docs/zoid-deploy.md).
export ZOID_TCP_TIMEOUT=4
SLACK=6
BAR_MS=100
ldd "$ZEPTO" 2>/dev/null | grep -q libasan && BAR_MS=300
IO=$CL_NET.100
SRV=tcp:$IO:7000
EXP=$WORK/export
MNT=$WORK/mnt
mkdir -p "$EXP" "$MNT/zn1" "$MNT/zn2"
chmod 755 "$WORK"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/token"
chmod 600 "$WORK/token"
RUN=("$ZEPTO" zoid run --server "$SRV" --token-file "$WORK/token" --mount /io --)

cleanup() {
  for n in zn1 zn2; do fusermount3 -u -z "$MNT/$n" 2>/dev/null; done
  [ -n "${DPID:-}" ] && kill -9 "$DPID" 2>/dev/null
  ip link set dev "${CL_LINKP}zn1" up 2>/dev/null
  "$CLUSTER" down >/dev/null 2>&1
}
cluster_up 2 --io
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# until_ok SECONDS CMD...: polls CMD every 0.1 s until it succeeds; 1 after SECONDS.
until_ok() {
  local end=$(($(now_ms) + $1 * 1000))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(now_ms)" -lt "$end" ] || return 1
    sleep 0.1
  done
}
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! alive "$1"; }
bigger() { [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }
# start_daemon N: the daemon in zio (log $WORK/serve-N.log, pid $DPID), listening.
start_daemon() {
  LOG=$WORK/serve-$1.log
  "$CLUSTER" run zio sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$WORK/daemon.pid" \
    "$ZEPTO" zoid serve --listen "$SRV" --token-file "$WORK/token" --export "$EXP" >"$LOG" 2>&1 &
  until_ok 10 grep -q 'listening on' "$LOG" || { fail "daemon $1 did not start: $(cat "$LOG")"; finish; }
  DPID=$(cat "$WORK/daemon.pid")
}
# sum FILE: its sha256 only.
sum() { sha256sum "$1" | cut -d' ' -f1; }
mount_node() {
  "$CLUSTER" run "$1" "$ZEPTO" zoid mount --server "$SRV" --token-file "$WORK/token" "$MNT/$1" ||
    fail "zoid mount on $1"
}

# ---- 1. real programs across the bridge ----
start_daemon 1
grep -q 'token required' "$LOG" || fail "the daemon does not require the token: $(cat "$LOG")"
head -c $((3 << 20)) /dev/urandom >"$WORK/src.bin"
SRC=$(sum "$WORK/src.bin")
mkdir -p "$WORK/tree/a/b" "$WORK/tree/c"
for i in $(seq 40); do head -c $((RANDOM * 3)) /dev/urandom >"$WORK/tree/$([ $((i % 3)) = 0 ] && echo a/b || echo c)/f$i"; done
tar -C "$WORK/tree" -cf "$WORK/tree.tar" .
treesum() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2); }
TREE=$(treesum "$WORK/tree")

out=$("$CLUSTER" run zn1 "${RUN[@]}" sh -c "cp '$WORK/src.bin' /io/cp.bin && dd if=/io/cp.bin of=/io/dd.bin bs=64k 2>/dev/null &&
  sha256sum /io/dd.bin && mkdir /io/tree && tar -C /io/tree -xf '$WORK/tree.tar' && hostname" 2>&1)
[ "$(sum "$EXP/cp.bin")" = "$SRC" ] || fail "zoid run cp on zn1: the export's copy differs"
[ "$(sum "$EXP/dd.bin")" = "$SRC" ] || fail "zoid run dd on zn1: the export's copy differs"
grep -q "^$SRC  /io/dd.bin$" <<<"$out" || fail "zoid run sha256sum on zn1: $out"
grep -qx zn1 <<<"$out" || fail "zoid run on zn1 ran on '$(tail -1 <<<"$out")'"
[ "$(treesum "$EXP/tree")" = "$TREE" ] || fail "zoid run tar -x on zn1: the tree differs"
if command -v sqlite3 >/dev/null; then
  got=$("$CLUSTER" run zn2 "${RUN[@]}" sqlite3 /io/t.db \
    'create table t(a); insert into t values (1), (2), (39); select sum(a) from t;' 2>&1)
  [ "$got" = 42 ] || fail "zoid run sqlite3 on zn2: '$got'"
  [ "$(sqlite3 "$EXP/t.db" 'select count(*) from t;' 2>&1)" = 3 ] || fail "sqlite3: the export's db"
fi
PY=$(command -v python3 || true)
if [ -n "$PY" ] && "$PY" -c 'import hashlib' 2>/dev/null; then
  got=$("$CLUSTER" run zn2 "${RUN[@]}" "$PY" -c "
import hashlib
d = open('/io/cp.bin', 'rb').read()
open('/io/py.bin', 'wb').write(d)
print(hashlib.sha256(d).hexdigest())" 2>&1)
  [ "$got" = "$SRC" ] && [ "$(sum "$EXP/py.bin")" = "$SRC" ] || fail "zoid run python3 on zn2: '$got'"
fi

if [ "$FUSE" = 1 ]; then
  mount_node zn1
  mount_node zn2
  cp "$WORK/src.bin" "$MNT/zn1/m.bin" || fail "cp into zn1's mount"
  [ "$(sum "$MNT/zn2/m.bin")" = "$SRC" ] || fail "zn1's write read through zn2's mount differs"
  [ "$(sum "$EXP/m.bin")" = "$SRC" ] || fail "the mount's write differs on the I/O node"
  mkdir "$MNT/zn2/mtree" && tar -C "$MNT/zn2/mtree" -xf "$WORK/tree.tar" || fail "tar -x into zn2's mount"
  [ "$(treesum "$EXP/mtree")" = "$TREE" ] || fail "tar -x through zn2's mount: the tree differs"
  [ "$(treesum "$MNT/zn1/mtree")" = "$TREE" ] || fail "the tree read through zn1's mount differs"
fi

# srun -N2: each node's task writes through zoid run, then through its node's mount.
got=$(timeout 60 srun -N2 sh -c "\"\$0\" zoid run --server $SRV --token-file $WORK/token --mount /io -- \
  sh -c 'dd if=$WORK/src.bin of=/io/srun-\$(hostname).bin bs=1M 2>/dev/null && sha256sum /io/srun-\$(hostname).bin'" \
  "$ZEPTO" 2>&1 | sort)
[ "$got" = "$SRC  /io/srun-zn1.bin
$SRC  /io/srun-zn2.bin" ] || fail "srun -N2 zoid run: '$got'"
for n in zn1 zn2; do [ "$(sum "$EXP/srun-$n.bin" 2>/dev/null)" = "$SRC" ] || fail "srun: $n's file differs"; done
if [ "$FUSE" = 1 ]; then
  got=$(timeout 60 srun -N2 sh -c "cp $WORK/src.bin $MNT/\$(hostname)/smnt-\$(hostname).bin && hostname" 2>&1 | sort | tr '\n' ' ')
  [ "$got" = "zn1 zn2 " ] || fail "srun -N2 cp into the mounts: '$got'"
  for n in zn1 zn2; do [ "$(sum "$EXP/smnt-$n.bin" 2>/dev/null)" = "$SRC" ] || fail "srun mount: $n's file differs"; done
fi
rm -f "$EXP"/srun-*.bin "$EXP"/smnt-*.bin

# writer NODE FILE: a long dd through zoid run on NODE in the background ($WPID; stderr in
# $WORK/writer.err), once it has written 4 MiB.
writer() {
  "$CLUSTER" run "$1" sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$WORK/writer.pid" \
    "${RUN[@]}" dd if=/dev/zero of="/io/$2" bs=64k count=400000 2>"$WORK/writer.err" &
  WSH=$!
  until_ok 10 test -s "$WORK/writer.pid" || fail "writer on $1 did not start"
  WPID=$(cat "$WORK/writer.pid")
  rm -f "$WORK/writer.pid"
  until_ok 10 bigger "$EXP/$2" $((4 << 20)) || fail "writer on $1: $2 did not grow: $(cat "$WORK/writer.err")"
}
# mark: the daemon log's length now; released PEER_IP: since the mark, the daemon's log shows a
# session of that node whose N >= 1 handles it closed with the connection, and the session
# released.
mark() { MARK=$(($(wc -l <"$LOG") + 1)); }
released() {
  local ids id
  ids=$(sed -n "s/.*session \([0-9]*\) created for tcp:$1:.*/\1/p" "$LOG")
  for id in $ids; do
    tail -n +"$MARK" "$LOG" | grep -Eq "session $id: [1-9][0-9]* handles closed with their connection" &&
      tail -n +"$MARK" "$LOG" | grep -q "session $id released" && return 0
  done
  return 1
}

# ---- 2a. the daemon killed mid-write, then restarted ----
writer zn1 kill.bin
t0=$(now_ms)
kill -9 "$DPID"
until_ok 10 dead "$WPID" || fail "kill: the writer still runs 10 s after the daemon died"
wait "$WSH"
st=$?
echo "kill: the writer ended after $(($(now_ms) - t0)) ms, exit $st: $(tail -1 "$WORK/writer.err")"
[ "$st" -ne 0 ] && grep -q 'Input/output error' "$WORK/writer.err" || fail "kill: the writer: exit $st, $(cat "$WORK/writer.err")"
expect_status 1 "tcp:$IO:7000: .*(refused|Connection refused)" \
  timeout 10 "$CLUSTER" run zn2 "$ZEPTO" zoid bench --server "$SRV" --token-file "$WORK/token" --quick
echo "kill: a new client: $(cat "$WORK/stderr")"
if [ "$FUSE" = 1 ]; then
  err=$(timeout 10 stat "$MNT/zn2/cp.bin" 2>&1) && fail "kill: stat through the mount worked with the daemon dead"
  echo "kill: the mount meanwhile: $err"
  grep -q 'Input/output error' <<<"$err" || fail "kill: the mount gave '$err', not EIO"
fi
start_daemon 2
[ "$(sum "$EXP/cp.bin")" = "$SRC" ] || fail "restart: the export changed"
until_ok 10 "$CLUSTER" run zn1 "${RUN[@]}" cmp -s /io/cp.bin "$WORK/src.bin" || fail "restart: zoid run does not work again"
if [ "$FUSE" = 1 ]; then
  until_ok 10 cmp -s "$MNT/zn2/cp.bin" "$WORK/src.bin" || fail "restart: zn2's mount did not recover"
  until_ok 10 cmp -s "$MNT/zn1/cp.bin" "$WORK/src.bin" || fail "restart: zn1's mount did not recover"
  cp "$WORK/src.bin" "$MNT/zn2/after.bin" && [ "$(sum "$EXP/after.bin")" = "$SRC" ] || fail "restart: a write through zn2's mount"
fi

# ---- 2b. a compute node's writer killed mid-write; another node's null calls go on ----
writer zn1 client.bin
"$CLUSTER" run zn2 "$VICTIM" --server "$SRV" --token-file "$WORK/token" --seconds 3 --interval-ms 10 \
  >"$WORK/victim.json" 2>&1 &
VSH=$!
until_ok 10 grep -q "connect tcp:$CL_NET.12:" "$LOG" || fail "client: the victim did not connect"
t0=$(now_ms)
mark
kill -9 "$WPID"
until_ok 5 released "$CL_NET.11" || fail "client: the daemon did not release the killed writer's handles: $(tail -5 "$LOG")"
echo "client: handles released $(($(now_ms) - t0)) ms after the kill: $(grep 'with their connection' "$LOG" | tail -1)"
wait "$WSH"
wait "$VSH"
v=$(cat "$WORK/victim.json")
echo "client: zn2's null calls meanwhile: $v"
f=$(sed -n 's/.*"failures":\([0-9]*\).*/\1/p' <<<"$v")
max=$(sed -n 's/.*"max_ms":\([0-9.]*\).*/\1/p' <<<"$v")
[ "${f:-1}" = 0 ] || fail "client: zn2's null calls failed: $v"
if ! awk -v m="${max:-1e9}" -v b="$BAR_MS" 'BEGIN { exit !(m < b) }'; then
  if b=$("$BUSY"); then fail "client: zn2 waited $max ms (bar $BAR_MS ms) on a quiet machine: $b"; else echo "note: zn2 waited $max ms, but the machine is busy ($b): not judged"; fi
fi

# ---- 2c. zn1's link cut mid-write ----
writer zn1 link.bin
t0=$(now_ms)
mark
ip link set dev "${CL_LINKP}zn1" down
if [ "$FUSE" = 1 ]; then # a call on zn1's mount meanwhile, timed on its own
  (
    s=$(now_ms)
    e=$(timeout 30 stat "$MNT/zn1/cp.bin" 2>&1) && e="worked: $e"
    echo "$(($(now_ms) - s)) $e" >"$WORK/mstat"
  ) &
  MSH=$!
fi
# The writer's end and the daemon's release, each timed from the cut, polled together.
wdone=
ddone=
end=$((t0 + (ZOID_TCP_TIMEOUT + SLACK) * 1000))
while [ -z "$wdone" ] || [ -z "$ddone" ]; do
  [ -z "$wdone" ] && dead "$WPID" && wdone=$(now_ms)
  [ -z "$ddone" ] && released "$CL_NET.11" && ddone=$(now_ms)
  [ "$(now_ms)" -lt "$end" ] || break
  sleep 0.1
done
[ -n "$wdone" ] || fail "link: the writer still runs $((ZOID_TCP_TIMEOUT + SLACK)) s after the cut"
[ -n "$ddone" ] || fail "link: the daemon kept the cut client's session $((ZOID_TCP_TIMEOUT + SLACK)) s: $(tail -5 "$LOG")"
until_ok 30 dead "$WPID"
wait "$WSH"
st=$?
echo "link: the writer ended after $((${wdone:-0} - t0)) ms, exit $st: $(tail -1 "$WORK/writer.err")"
echo "link: the daemon released it after $((${ddone:-0} - t0)) ms: $(grep "disconnect tcp:$CL_NET.11" "$LOG" | tail -2 | tr '\n' ' ')"
if [ "$FUSE" = 1 ]; then
  # The mount's bound: the TCP timeout, then one reconnection attempt (2 s) before EIO.
  wait "$MSH"
  read -r ms err <"$WORK/mstat"
  echo "link: zn1's mount meanwhile: after $ms ms: $err"
  [ "$ms" -le $(((ZOID_TCP_TIMEOUT + 2 + SLACK) * 1000)) ] || fail "link: the mount's stat took $ms ms"
  grep -q 'Input/output error' <<<"$err" || fail "link: the mount gave '$err', not EIO"
fi
[ "$st" -ne 0 ] && grep -q 'Input/output error' "$WORK/writer.err" || fail "link: the writer: exit $st, $(cat "$WORK/writer.err")"
"$CLUSTER" run zn2 "${RUN[@]}" cmp -s /io/cp.bin "$WORK/src.bin" || fail "link: zn2 did not work while zn1's link was down"
ip link set dev "${CL_LINKP}zn1" up
until_ok 10 "$CLUSTER" run zn1 "${RUN[@]}" cmp -s /io/cp.bin "$WORK/src.bin" || fail "link up: zoid run on zn1 does not work again"
if [ "$FUSE" = 1 ]; then
  until_ok 10 cmp -s "$MNT/zn1/cp.bin" "$WORK/src.bin" || fail "link up: zn1's mount did not recover"
fi
rm -f "$EXP"/*.bin
grep -q 'ERROR\|fatal' "$LOG" && echo "note: daemon log errors: $(grep 'ERROR\|fatal' "$LOG" | head -3)"
finish
