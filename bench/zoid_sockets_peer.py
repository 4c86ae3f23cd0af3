"""Both ends of bench/zoid_sockets.sh (socket forwarding, issue 14 part 3).

server PORT: accepts on every address; per connection one command byte: 'c' close, 'w' read
to EOF and answer the byte count (8 bytes), 'r' + 8-byte N: send N bytes and close.
client HOST PORT NCONN BYTES: NCONN connects (each timed, then closed), then BYTES up ('w') and
BYTES down ('r') on one connection each; prints "connect_us MEDIAN up_MBps X down_MBps Y".
The client is an unmodified program: run it under `zepto zoid run --sockets` to forward it.
"""
import socket
import statistics
import struct
import sys
import threading
import time


def serve(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(512)
    print("ready", flush=True)

    def one(c):
        with c:
            cmd = c.recv(1)
            if cmd == b"w":
                n, buf = 0, bytearray(1 << 20)
                while True:
                    k = c.recv_into(buf)
                    if not k:
                        break
                    n += k
                c.sendall(struct.pack("!Q", n))
            elif cmd == b"r":
                hdr = b""
                while len(hdr) < 8:
                    hdr += c.recv(8 - len(hdr))
                n = struct.unpack("!Q", hdr)[0]
                chunk = memoryview(bytes(1 << 20))
                while n > 0:
                    k = c.send(chunk[: min(n, len(chunk))])
                    n -= k

    while True:
        c, _ = ls.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def client(host, port, nconn, nbytes):
    lat = []
    for _ in range(nconn):
        t = time.perf_counter()
        s = socket.create_connection((host, port))
        lat.append((time.perf_counter() - t) * 1e6)
        s.sendall(b"c")
        s.close()
    buf = memoryview(bytes(1 << 20))
    s = socket.create_connection((host, port))
    t = time.perf_counter()
    s.sendall(b"w")
    left = nbytes
    while left > 0:
        left -= s.send(buf[: min(left, len(buf))])
    s.shutdown(socket.SHUT_WR)
    got = b""
    while len(got) < 8:
        got += s.recv(8 - len(got))
    up = nbytes / (time.perf_counter() - t) / 1e6
    assert struct.unpack("!Q", got)[0] == nbytes
    s.close()
    s = socket.create_connection((host, port))
    t = time.perf_counter()
    s.sendall(b"r" + struct.pack("!Q", nbytes))
    rb, n = bytearray(1 << 20), 0
    while True:
        k = s.recv_into(rb)
        if not k:
            break
        n += k
    down = nbytes / (time.perf_counter() - t) / 1e6
    assert n == nbytes
    print("connect_us %.1f up_MBps %.1f down_MBps %.1f" % (statistics.median(lat), up, down))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(int(sys.argv[2]))
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
