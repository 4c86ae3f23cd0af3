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
# (the socket non-blocking), prints "ok PEER BYTES" or "errno NAME".
SF_PROBE='
import errno, select, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    s = socket.create_connection((host, port), timeout=10)
except OSError as e:
    print("errno", errno.errorcode.get(e.errno, e.errno)); sys.exit(0)
peer = s.getpeername()[0] + ":" + str(s.getpeername()[1])
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
