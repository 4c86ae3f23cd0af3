# Helpers of the socket-forwarding tests (zoid_sockets.sh, cluster_zoid_sockets.sh): a Python
# HTTP server on a given address, a probe that reports a connect's errno, and polls.

# wait_for CMD...: polls CMD (10 s at most, every 50 ms) until it succeeds.
wait_for() {
    local i
    for i in $(seq 200); do
        "$@" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# sf_probe: python3 -c program: connects to $1:$2, sends a GET, reads the answer with select
# (the socket non-blocking), prints "ok PEER BYTES" or "errno NAME"; a getpeername into a bad
# address must say EFAULT.
SF_PROBE='
import errno, select, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    s = socket.create_connection((host, port), timeout=10)
except OSError as e:
    print("errno", errno.errorcode.get(e.errno, e.errno)); sys.exit(0)
peer = s.getpeername()[0] + ":" + str(s.getpeername()[1])
import ctypes                       # a bad address to write the peer into: EFAULT, not a crash
libc = ctypes.CDLL(None, use_errno=True)
n = ctypes.c_uint(16)
if libc.getpeername(s.fileno(), ctypes.c_void_p(16), ctypes.byref(n)) != -1 or \
        ctypes.get_errno() != errno.EFAULT:
    print("getpeername into a bad address: not EFAULT"); sys.exit(1)
s.setblocking(False)
s.sendall(b"GET /small HTTP/1.0\r\nHost: x\r\n\r\n")
data = b""
while True:
    r, _, _ = select.select([s], [], [], 10)
    if not r:
        print("timeout"); sys.exit(1)
    b = s.recv(65536)
    if not b:
        break
    data += b
print("ok", peer, len(data), data.split(b"\r\n\r\n", 1)[-1].decode().strip())
'

# The daemon (pid $1) killed in the middle of a slow download of URL $2 by `CMD... curl`
# (CMD = $3...: how curl is run through zoid there): curl fails within 10 s with part of the
# file, never hangs. Its stderr is left in $WORK/cut.err.
sockets_cut_mid_transfer() {
    local daemon=$1 url=$2 prog status=0 t0
    shift 2
    "$@" curl -sS --max-time 60 --limit-rate 2m -o "$WORK/cut.got" "$url" 2>"$WORK/cut.err" &
    prog=$!
    wait_for test -s "$WORK/cut.got" || fail "the slow transfer did not start"
    t0=$SECONDS
    kill -9 "$daemon"
    wait "$prog" || status=$?
    [ "$status" -ne 0 ] || fail "curl succeeded though the daemon died mid-transfer"
    [ "$(stat -c %s "$WORK/cut.got")" -lt $((64 << 20)) ] || fail "the whole file arrived before the kill"
    [ $((SECONDS - t0)) -le 10 ] || fail "curl took $((SECONDS - t0)) s to see the daemon die"
}
