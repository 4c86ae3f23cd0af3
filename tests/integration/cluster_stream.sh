#!/bin/bash
# integration.cluster_stream (issue 14 part 2): zoid streams on the test cluster. The daemon
# serves tcp: with a token on the I/O node (zio); N ranks started by `srun -N N` on the compute
# nodes each push one slice (1024 doubles) per time step (examples/zoid-stream/timesteps.c,
# --produce); the consumer runs on the host, outside the cluster, over TCP, and must receive every
# step whole (N of N contributions) with the right sum in every cell, in step order. Root only;
# skips (77) without namespaces, Slurm or the tools.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
cluster_require timeout mkfifo python3
ZEPTO=$(readlink -f "$ZEPTO")
TS="$BIN/zoid_stream_timesteps"
[ -x "$TS" ] || { echo "skip: $TS not built"; exit 77; }
N=3
STEPS=200
IO=$CL_NET.100
SRV=tcp:$IO:7000
chmod 755 "$WORK"
mkdir -p "$WORK/export"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/token"
chmod 600 "$WORK/token"
export ZOID_TOKEN_FILE=$WORK/token

cleanup() {
  [ -n "${DPID:-}" ] && kill -9 "$DPID" 2>/dev/null
  [ -n "${CPID:-}" ] && kill -9 "$CPID" 2>/dev/null
  wait 2>/dev/null
  "$CLUSTER" down >/dev/null 2>&1
}
cluster_up $N --io
trap cleanup EXIT
[ "$failures" -eq 0 ] || finish

# until_ok SECONDS CMD...: polls CMD every 0.1 s until it succeeds; 1 after SECONDS.
until_ok() {
  local end=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.1
  done
}
gone() { ! kill -0 "$1" 2>/dev/null; }

LOG=$WORK/serve.log
"$CLUSTER" run zio sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$WORK/daemon.pid" \
  "$ZEPTO" zoid serve --listen "$SRV" --token-file "$WORK/token" --export "$WORK/export" \
  >"$LOG" 2>&1 &
until_ok 10 grep -q 'listening on' "$LOG" || { fail "daemon did not start: $(cat "$LOG")"; finish; }
DPID=$(cat "$WORK/daemon.pid")

# The consumer: on the host (the bridge's address, outside the cluster), over TCP.
timeout 120 "$TS" --consume "$SRV" $N $STEPS >"$WORK/consumer.out" 2>"$WORK/consumer.err" &
CPID=$!
until_ok 20 "$ZEPTO" zoid stream stat --server "$SRV" --token-file "$WORK/token" field ||
  fail "the consumer did not create the stream: $(cat "$WORK/consumer.err")"

# N ranks, one per compute node, one slice per time step.
t0=$SECONDS
timeout 120 srun -N $N --ntasks-per-node=1 --mpi=none sh -c \
  'hostname >"$1/host.$SLURM_PROCID"; exec "$2" --produce "$3" slurm "$4"' \
  sh "$WORK" "$TS" "$SRV" $STEPS >"$WORK/srun.out" 2>&1 ||
  fail "srun of the producers: $(tail -5 "$WORK/srun.out")"
until_ok 60 gone $CPID || fail "the consumer did not end within 60 s of the producers"
st=0
wait $CPID || st=$?
CPID=
echo "$N ranks x $STEPS steps in $((SECONDS - t0)) s; consumer status $st"
[ "$st" -eq 0 ] || fail "consumer exited $st: $(tail -3 "$WORK/consumer.out") $(cat "$WORK/consumer.err")"

# Every step once, in order, whole and right.
[ "$(wc -l <"$WORK/consumer.out")" -eq $STEPS ] ||
  fail "consumer printed $(wc -l <"$WORK/consumer.out") lines, expected $STEPS: $(tail -3 "$WORK/consumer.out")"
bad=$(awk -v n=$N '{ want = n * (n - 1) / 2 + n * (NR - 1) }
  $2 != (NR - 1) ":" || $3 != n || $8 != "ok" || $12 != want "," { print; exit }' "$WORK/consumer.out")
[ -z "$bad" ] || fail "a step not whole, wrong or out of order: $bad"
# The ranks ran on N different compute nodes; the consumer came from outside the cluster.
hosts=$(cat "$WORK"/host.* 2>/dev/null | sort -u | tr '\n' ' ')
[ "$hosts" = "$(seq -f 'zn%g' 1 $N | tr '\n' ' ')" ] || fail "the ranks ran on '$hosts'"
grep -q "connect tcp:$CL_NET.1:" "$LOG" || fail "no connection from the host ($CL_NET.1): $(grep connect "$LOG")"
for i in $(seq $N); do
  grep -q "connect tcp:$CL_NET.$((10 + i)):" "$LOG" || fail "no producer connection from zn$i"
done
grep -q "departed" "$LOG" && fail "a departure was logged: $(grep departed "$LOG")"

# A rank SIGKILLed on its compute node mid-stream (its TCP connection goes): the consumer on the
# host ends promptly (its --timeout is 60 s) with the departure reported; the steps after it hold
# the other ranks' sum. Ranks 0..N-2: srun, 20 steps each; rank N-1 on zn$N: 5 steps, then killed.
O=(--server "$SRV" --token-file "$WORK/token")
zs() { local verb=$1; shift; "$ZEPTO" zoid stream "$verb" "${O[@]}" "$@"; }
for r in $(seq 0 $((N - 1))); do
  python3 -c 'import struct,sys
r=int(sys.argv[1]); n=int(sys.argv[2])
sys.stdout.buffer.write(b"".join(struct.pack("<d",10*k+r)*8192 for k in range(n)))' \
    "$r" $([ "$r" = $((N - 1)) ] && echo 5 || echo 20) >"$WORK/p$r.dat"
done
zs cat --create --producers $N --reduce sum-f64 --timeout 60000 dep >"$WORK/dep.out" \
  2>"$WORK/dep.err" &
CPID=$!
until_ok 20 zs stat dep || fail "the consumer did not create dep"
timeout 60 srun -N $((N - 1)) --ntasks-per-node=1 --mpi=none sh -c \
  'exec "$@" --rank "$SLURM_PROCID" dep <"$0/p$SLURM_PROCID.dat"' "$WORK" "$ZEPTO" zoid stream \
  push "${O[@]}" --record 64K >"$WORK/srun2.out" 2>&1 || fail "srun of ranks 0..$((N - 2)): $(tail -3 "$WORK/srun2.out")"
mkfifo "$WORK/last.fifo"
"$CLUSTER" run zn$N sh -c 'echo $$ >"$1"; shift; exec "$@" <"$0"' "$WORK/last.fifo" \
  "$WORK/last.pid" "$ZEPTO" zoid stream push "${O[@]}" --record 64K --rank $((N - 1)) dep 2>/dev/null &
LJOB=$!
exec 7>"$WORK/last.fifo"
cat "$WORK/p$((N - 1)).dat" >&7
pushed5() { zs stat dep | grep -q "pushed 5 "; }
until_ok 20 pushed5 ||
  fail "rank $((N - 1))'s 5 slices did not arrive"
t0=$SECONDS
kill -9 "$(cat "$WORK/last.pid")"
wait $LJOB 2>/dev/null
exec 7>&-
until_ok 15 gone $CPID || fail "the consumer still waits 15 s after rank $((N - 1)) was killed"
st=0
wait $CPID || st=$?
CPID=
echo "departure: the consumer ended $((SECONDS - t0)) s after the kill, status $st"
[ "$st" -eq 3 ] || fail "consumer exited $st, expected 3: $(cat "$WORK/dep.err")"
grep -q "dep: 1 producer departed without ending" "$WORK/dep.err" ||
  fail "the consumer did not report the departure: $(cat "$WORK/dep.err")"
grep -Eq "stream dep: producer tcp:$CL_NET.$((10 + N)):[0-9]+.* departed without its end" "$LOG" ||
  fail "no departure from zn$N in the daemon's log: $(grep dep "$LOG")"
python3 - "$WORK/dep.out" $N <<'PY' || fail "dep: steps after the departure are not the others' sum"
import struct, sys
d = open(sys.argv[1], "rb").read()
n = int(sys.argv[2])
rec = 8192 * 8
got = [struct.unpack_from("<d", d, i)[0] for i in range(0, len(d), rec)]
s_all = n * (n - 1) / 2
want = [10.0 * n * k + s_all if k < 5 else 10.0 * (n - 1) * k + s_all - (n - 1) for k in range(20)]
if len(d) != 20 * rec or got != want:
    print("got", len(d), "bytes:", got, "want", want, file=sys.stderr)
    sys.exit(1)
PY

kill -0 "$DPID" 2>/dev/null || fail "the daemon died"
finish
