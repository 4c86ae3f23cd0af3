#!/bin/bash
# integration.cluster_zoid_sockets (issue 14, part 3): socket forwarding on the test cluster. A
# service namespace hangs off the I/O node zio only (a veth pair on a subnet of its own, no
# forwarding): the compute node zn1 has no route to it. An unmodified curl and python3 on zn1
# reach the HTTP server there only through `zepto zoid run --sockets` (the daemon in zio, tcp
# with a token, --allow-connect naming the server); without zoid they fail. A disallowed port
# gets EACCES and a log line; the daemon killed mid-transfer gives curl an error within seconds.
# Root only; skips (77) without namespaces, Slurm or the tools.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
source "$(dirname "$0")/zoid_sockets_lib.sh"
cluster_require curl python3
ZEPTO=$(readlink -f "$ZEPTO")
IO=$CL_NET.100
SRV=tcp:$IO:7000
SVCNS=${CL_PREFIX}zsfsvc
SVCNET=172.31.$((200 + CL_ID))
SVC=$SVCNET.2
PORT=8080
mkdir -p "$WORK/export" "$WORK/www"
chmod 755 "$WORK"
echo hello >"$WORK/www/small"
head -c $((8 << 20)) /dev/urandom >"$WORK/www/big"
# Larger than every socket buffer on the way, so that a cut cannot hide in them.
truncate -s 64M "$WORK/www/huge"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/token"
chmod 600 "$WORK/token"
RUN=("$ZEPTO" zoid run --server "$SRV" --token-file "$WORK/token" --sockets --)

cleanup() {
  [ -n "${DPID:-}" ] && kill -9 "$DPID" 2>/dev/null
  [ -n "${HPID:-}" ] && kill -9 "$HPID" 2>/dev/null
  ip netns delete "$SVCNS" 2>/dev/null
  "$CLUSTER" down >/dev/null 2>&1
}
cluster_up 1 --io
trap cleanup EXIT

# The service namespace, reachable from zio only.
ip netns add "$SVCNS" || { fail "ip netns add $SVCNS"; finish; }
ip link add "zsf${CL_ID}a" type veth peer name "zsf${CL_ID}b" &&
  ip link set "zsf${CL_ID}a" netns "${CL_PREFIX}zio" &&
  ip link set "zsf${CL_ID}b" netns "$SVCNS" &&
  ip -n "${CL_PREFIX}zio" addr add "$SVCNET.1/30" dev "zsf${CL_ID}a" &&
  ip -n "${CL_PREFIX}zio" link set "zsf${CL_ID}a" up &&
  ip -n "$SVCNS" addr add "$SVC/30" dev "zsf${CL_ID}b" &&
  ip -n "$SVCNS" link set "zsf${CL_ID}b" up &&
  ip -n "$SVCNS" link set lo up || { fail "the service namespace's link"; finish; }
(cd "$WORK/www" && exec ip netns exec "$SVCNS" python3 -m http.server "$PORT" --bind "$SVC" \
  >/dev/null 2>&1) &
HPID=$!
wait_for ip netns exec "${CL_PREFIX}zio" curl -sf -o /dev/null --max-time 2 "http://$SVC:$PORT/small" ||
  { fail "the HTTP server is not reachable from zio"; finish; }

# Without zoid, zn1 cannot reach it.
status=0
"$CLUSTER" run zn1 curl -sS --connect-timeout 3 --max-time 5 "http://$SVC:$PORT/small" \
  >/dev/null 2>&1 || status=$?
[ "$status" -ne 0 ] || fail "zn1 reaches the service without zoid: the test proves nothing"

LOG=$WORK/serve.log
"$CLUSTER" run zio sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$WORK/daemon.pid" \
  "$ZEPTO" zoid serve --listen "$SRV" --token-file "$WORK/token" --export "$WORK/export" \
  --allow-connect "$SVC:$PORT" >"$LOG" 2>&1 &
wait_for grep -q 'listening on' "$LOG" || { fail "the daemon did not start: $(cat "$LOG")"; finish; }
DPID=$(cat "$WORK/daemon.pid")

# Through zoid: curl, python3 urllib, python3 select + getpeername, 8 MiB intact.
out=$("$CLUSTER" run zn1 "${RUN[@]}" curl -sS --max-time 20 "http://$SVC:$PORT/small" 2>&1)
[ "$out" = hello ] || fail "curl on zn1 through zoid: '$out'"
out=$("$CLUSTER" run zn1 "${RUN[@]}" python3 -c "
import urllib.request
print(urllib.request.urlopen('http://$SVC:$PORT/small', timeout=20).read().decode().strip())" 2>&1)
[ "$out" = hello ] || fail "python3 urllib on zn1 through zoid: '$out'"
out=$("$CLUSTER" run zn1 "${RUN[@]}" python3 -c "$SF_PROBE" "$SVC" "$PORT" 2>&1)
case $out in "ok $SVC:$PORT "*" hello") ;; *) fail "python3 select on zn1: '$out'" ;; esac
"$CLUSTER" run zn1 "${RUN[@]}" curl -sS --max-time 60 -o "$WORK/big.got" "http://$SVC:$PORT/big" ||
  fail "curl of 8 MiB on zn1"
cmp -s "$WORK/big.got" "$WORK/www/big" || fail "8 MiB through zoid differ"
[ "$(grep -c "connected to $SVC:$PORT" "$LOG")" -ge 4 ] || fail "the daemon logged too few connections"

# A disallowed port: EACCES, a log line.
out=$("$CLUSTER" run zn1 "${RUN[@]}" python3 -c "$SF_PROBE" "$SVC" $((PORT + 1)) 2>&1)
[ "$out" = "errno EACCES" ] || fail "a disallowed port from zn1: '$out'"
grep -q "connect to $SVC:$((PORT + 1)) refused: not allowed by --allow-connect" "$LOG" ||
  fail "no log line for the refused port"

# The daemon killed mid-transfer: an error within seconds, not a hang.
sockets_cut_mid_transfer "$DPID" "http://$SVC:$PORT/huge" "$CLUSTER" run zn1 "${RUN[@]}"
grep -qi "reset\|recv failure\|transfer closed" "$WORK/cut.err" || fail "curl: $(cat "$WORK/cut.err")"
finish
