#!/usr/bin/env bash
# Socket forwarding (issue 14 part 3): connect latency and stream throughput of an unmodified
# program (bench/zoid_sockets_peer.py, python3) forwarded through zoid vs direct, on the same link.
# On the test cluster (scripts/cluster.sh up 1 --io, ZEPTO_CLUSTER_ID): the server and the daemon
# (tcp with a token, --allow-connect the server) in zio, the client on zn1: direct is zn1 -> zio,
# forwarded is zn1 -> zio's relay -> the server over zio's loopback. Without the cluster (or with
# --local): both on this host (a non-loopback address; the daemon on a unix socket).
# ROUNDS rounds (default 5), each a direct and a forwarded run back to back (the order
# alternates); each run: NCONN connects (median), BYTES up and BYTES down on one connection.
# Prints the median and the range (min-max) of the rounds, and forwarded/direct of the medians.
#
# usage: ZEPTO_CLUSTER_ID=K bash bench/zoid_sockets.sh [BUILD] [--local]
#        ROUNDS=5 NCONN=200 BYTES=268435456; raw output in bench/out/zoid_sockets/
set -euo pipefail
build=${1:-build}
mode=${2:-cluster}
bin=$(readlink -f "$build/bin")
here=$(cd "$(dirname "$0")/.." && pwd)
CLUSTER=$here/scripts/cluster.sh
ROUNDS=${ROUNDS:-5}
NCONN=${NCONN:-200}
BYTES=${BYTES:-268435456}
PORT=18090
out=$here/bench/out/zoid_sockets
rm -rf "$out"
mkdir -p "$out"
chmod 755 "$out"
PEER=$here/bench/zoid_sockets_peer.py
pids=()
up=0
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    [ "$up" = 1 ] && "$CLUSTER" down >/dev/null 2>&1
    true
}
trap cleanup EXIT
wait_for() { for _ in $(seq 200); do "$@" 2>/dev/null && return 0; sleep 0.05; done; return 1; }

if [ "$mode" != --local ] && "$CLUSTER" up 1 --io >"$out/cluster-up.out" 2>&1; then
    up=1
    net=10.213.${ZEPTO_CLUSTER_ID:-0}
    HOST=$net.100
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$out/token"
    chmod 600 "$out/token"
    SRV=tcp:$HOST:7000
    on_io() { "$CLUSTER" run zio "$@"; }
    on_cn() { "$CLUSTER" run zn1 "$@"; }
    TOKEN=(--token-file "$out/token")
    where="test cluster ${ZEPTO_CLUSTER_ID:-0}: client on zn1, server and daemon in zio"
else
    [ "$mode" = --local ] || echo "note: the cluster did not come up ($(tail -1 "$out/cluster-up.out" 2>/dev/null)); on this host"
    HOST=$(ip -4 -o addr show scope global | awk '{sub("/.*", "", $4); print $4; exit}')
    [ -n "$HOST" ] || { echo "no non-loopback address: nothing to measure"; exit 1; }
    SRV=unix:$out/zoid.sock
    on_io() { "$@"; }
    on_cn() { "$@"; }
    TOKEN=()
    where="one host ($HOST), the daemon on a unix socket"
fi
on_io python3 -u "$PEER" server "$PORT" >"$out/server.out" 2>&1 &
pids+=($!)
on_io "$bin/zepto" zoid serve --listen "$SRV" "${TOKEN[@]}" --export "$out" \
    --allow-connect "$HOST:$PORT" >"$out/daemon.log" 2>&1 &
pids+=($!)
wait_for grep -q ready "$out/server.out" || { echo "the server did not start"; exit 1; }
wait_for grep -q 'listening on' "$out/daemon.log" || { echo "the daemon did not start"; exit 1; }

run() { # run direct|forwarded: one client run, its line appended to $out/<mode>.txt
    local pre=()
    [ "$1" = forwarded ] && pre=("$bin/zepto" zoid run --server "$SRV" "${TOKEN[@]}" --sockets --)
    on_cn "${pre[@]}" python3 "$PEER" client "$HOST" "$PORT" "$NCONN" "$BYTES" >>"$out/$1.txt"
}
echo "# $where; $ROUNDS rounds of $NCONN connects and $((BYTES >> 20)) MiB each way; $(uptime)"
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then run direct; run forwarded; else run forwarded; run direct; fi
done
grep -q "connected to $HOST:$PORT" "$out/daemon.log" ||
    echo "WARNING: the daemon logged no forwarded connection"
python3 - "$out/direct.txt" "$out/forwarded.txt" <<'PY'
import statistics, sys
def load(p):
    rows = [l.split() for l in open(p)]
    return {rows[0][i]: [float(r[i + 1]) for r in rows] for i in range(0, len(rows[0]), 2)}
d, f = load(sys.argv[1]), load(sys.argv[2])
for k, unit in (("connect_us", "us"), ("up_MBps", "MB/s"), ("down_MBps", "MB/s")):
    md, mf = statistics.median(d[k]), statistics.median(f[k])
    print("%-10s direct %8.1f %s (%.1f-%.1f)  forwarded %8.1f %s (%.1f-%.1f)  forwarded/direct %.2f"
          % (k, md, unit, min(d[k]), max(d[k]), mf, unit, min(f[k]), max(f[k]), mf / md))
PY
