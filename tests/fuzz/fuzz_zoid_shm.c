/*
 * Fuzzes the shm: transport's rings against a hostile peer: the input rewrites the shared words
 * (ring heads and tails, wake words) and the ring bytes between the daemon side's reads, views
 * (payloads read in place) and writes (the same shm.c code, included, on the daemon's own
 * mapping of a memfd). Whatever the peer writes, a read returns at most what was asked, a view
 * lies inside the twice-mapped request ring, a write never runs past the ring, and an impossible
 * index is -EPROTO, never a crash.
 */
#include "../../src/zoid/core/shm.c"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>

static unsigned char *region;
static int sv[2] = {-1, -1};
static struct shm_conn *conn;

static void setup(void)
{
    int mfd = memfd_create("fuzz-shm", MFD_CLOEXEC);
    if (mfd < 0 || ftruncate(mfd, SHM_REGION))
        abort();
    region = zoid__shm_map_daemon(mfd);
    close(mfd);
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
    zoid__shm_free(conn);
    conn = zoid__shm_attach(region, true);
    conn->spin_ns = 0;
    zoid__shm_conn_set(sv[0], conn);
    struct shm_ctl *c0 = (struct shm_ctl *)region, *c1 = c0 + 1;
    static unsigned char buf[SHM_REQ_RING_BYTES + 64];
    bool viewing = false;
    while (size >= 5) {
        uint8_t op = data[0];
        uint32_t v = u32(data + 1);
        data += 5;
        size -= 5;
        switch (op % 10) {
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
            memcpy(region + SHM_CTL_BYTES + (u32(data - 4) % SHM_REQ_RING_BYTES) / 2, data, n);
            data += n;
            size -= n;
            break;
        }
        case 7: (void)shm_arm(sv[0]); break;
        case 8: { /* the daemon reads a payload in place */
            size_t len = v % (SHM_REQ_RING_BYTES + 64);
            if (viewing || !shm_view_ok(sv[0], len))
                break;
            const void *at = NULL;
            long n = shm_view(sv[0], len, &at);
            if (n > 0) {
                const unsigned char *b = at, *lo = region + SHM_CTL_BYTES;
                if ((size_t)n != len || b < lo || b + len > lo + 2 * SHM_REQ_RING_BYTES)
                    abort();
                volatile unsigned char sum = 0; /* every byte of it is readable */
                for (size_t k = 0; k < len; k += 4096)
                    sum += b[k];
                sum += b[len - 1];
                viewing = true;
            } else if (n < 0 && errno != EAGAIN && errno != EPROTO) {
                abort();
            }
            break;
        }
        default:
            if (viewing)
                shm_view_end(sv[0]);
            viewing = false;
            break;
        }
    }
    if (viewing)
        shm_view_end(sv[0]);
    atomic_store(&conn->view_want, 0);
    char junk[256];
    while (recv(sv[1], junk, sizeof(junk), MSG_DONTWAIT) > 0) {
    }
    return 0;
}
