/*
 * Fuzzes the shm: transport's rings against a hostile peer: the input rewrites the shared words
 * (ring heads and tails, wake words) and the ring bytes between the daemon side's reads and
 * writes (the same shm.c code, included). Whatever the peer writes, a read returns at most what
 * was asked, a write never runs past the ring, and an impossible index is -EPROTO, never a crash.
 */
#include "../../src/zoid/core/shm.c"

#include <stdlib.h>
#include <sys/socket.h>

static unsigned char *region;
static int sv[2] = {-1, -1};
static struct shm_conn *conn;

static void setup(void)
{
    region = mmap(NULL, SHM_REGION, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        abort();
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
}

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!region)
        setup();
    memset(region, 0, SHM_CTL_BYTES);
    free(conn);
    conn = attach(region, true);
    conn->spin_ns = 0;
    conn_set(sv[0], conn);
    struct shm_ctl *c0 = (struct shm_ctl *)region, *c1 = c0 + 1;
    static unsigned char buf[SHM_RING_BYTES + 64];
    while (size >= 5) {
        uint8_t op = data[0];
        uint32_t v = u32(data + 1);
        data += 5;
        size -= 5;
        switch (op % 8) {
        case 0: atomic_store(&c0->head, v); break; /* the peer's request head */
        case 1: atomic_store(&c1->tail, v); break; /* the peer's reply tail */
        case 2:
            atomic_store(&c0->rwait, v);
            atomic_store(&c1->wwait, v);
            break;
        case 3:
            atomic_store(&c1->rwait, v);
            atomic_store(&c0->wwait, v);
            break;
        case 4: { /* the daemon reads */
            size_t want = v % sizeof(buf);
            long n = shm_recv_nb(sv[0], buf, want ? want : 1);
            if (n > (long)(want ? want : 1))
                abort();
            break;
        }
        case 5: { /* the daemon writes a reply */
            size_t len = v % sizeof(buf);
            struct iovec iov = {buf, len};
            int rc = shm_sendv(sv[0], &iov, 1, 0);
            if (rc && rc != -ETIMEDOUT && rc != -EPROTO && rc != -ECONNRESET)
                abort();
            break;
        }
        case 6: { /* the peer writes request bytes */
            size_t n = v % 256 < size ? v % 256 : size;
            memcpy(region + SHM_CTL_BYTES + (u32(data - 4) % SHM_RING_BYTES) / 2, data, n);
            data += n;
            size -= n;
            break;
        }
        default: (void)shm_arm(sv[0]); break;
        }
    }
    char junk[256];
    while (recv(sv[1], junk, sizeof(junk), MSG_DONTWAIT) > 0) {
    }
    return 0;
}
