/*
 * libzoid-preload.so: descriptors the daemon lends (zp_lend). When the daemon is on this node
 * (shm:), a forwarded regular file's open file description can be handed to the process itself:
 * reads, writes and seeks on it then go straight to the kernel, as local I/O does, while
 * everything else (stat, locks, truncation, fsync, close) still goes to the daemon on the same
 * description. A description is lent at its first write of ZPL_LEND_MIN bytes or more, its
 * first read after one that brought that much (a large file, not merely a large buffer), its
 * ZPL_LEND_AFTER-th read or write (a file opened to read a few small blocks costs no more than
 * before), or when the program maps it (mmap). docs/zoid-posix.md, "Lent descriptors".
 *
 * The lent descriptor is a number the program does not know about. As with the connection's
 * socket, close() of it answers EBADF, dup2/dup3 onto it EBUSY, and close_range leaves it out
 * (the numbers lent are marked in a bitmap). What the library cannot see (a raw close system
 * call, as for every forwarded descriptor) it cannot guard; the lent descriptor's identity
 * (device, inode) is checked where that costs nothing next to the call: reads and writes of
 * ZPL_LEND_MIN bytes or more, seeks, mmap. A mismatch forwards again.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zepto/zoid.h"
#include "zoid/preload/zpl.h"
#include "lend_client.h"
#include "zposix_client.h"

ZPL_REAL_DECL(close);
ZPL_REAL_DECL(fstat);

/* The descriptors lent now (below LENT_BITS; a higher one is guarded by its identity check
 * only). */
#define LENT_BITS 65536
static _Atomic uint64_t lent_bits[LENT_BITS / 64];

static void mark(int fd, bool on)
{
    if (fd < 0 || fd >= LENT_BITS)
        return;
    uint64_t bit = 1ull << (fd % 64);
    if (on)
        atomic_fetch_or(&lent_bits[fd / 64], bit);
    else
        atomic_fetch_and(&lent_bits[fd / 64], ~bit);
}

bool zpl_is_lent(int fd)
{
    return fd >= 0 && fd < LENT_BITS &&
           (atomic_load_explicit(&lent_bits[fd / 64], memory_order_relaxed) >> (fd % 64) & 1);
}

int zpl_next_lent(unsigned from, unsigned last)
{
    for (unsigned fd = from; fd <= last && fd < LENT_BITS; fd++) {
        uint64_t w = atomic_load_explicit(&lent_bits[fd / 64], memory_order_relaxed) >> (fd % 64);
        if (!w) {
            fd |= 63; /* the rest of this word is clear */
            continue;
        }
        if (w & 1)
            return (int)fd;
    }
    return -1;
}

static struct zp_lender lender = ZP_LENDER_INIT;

/* The lent descriptor of wb if it is still the one lent, else -1 (and wb forwards from then on). */
static int checked(struct zpl_wb *wb)
{
    int l = atomic_load_explicit(&wb->lfd, memory_order_acquire);
    if (l < 0)
        return -1;
    struct stat st;
    if (!REAL(fstat)(l, &st) && st.st_dev == wb->lfd_dev && st.st_ino == wb->lfd_ino)
        return l;
    /* replaced behind our back (its number may be another file's now: not ours to close) */
    int want = l;
    if (atomic_compare_exchange_strong(&wb->lfd, &want, ZPL_LFD_NEVER))
        mark(l, false);
    return -1;
}

/* l (a lent descriptor, or -1), once what another thread of the program buffered or had in
 * flight through the daemon for the description before it was lent has gone out: such a write
 * must not land after a later write through l. Costs a few loads when nothing is pending. */
static int settled(struct zpl_fd *e, int l)
{
    if (l >= 0)
        zpl_flush(e); /* a failure stays in wb->err for the next fsync or close */
    return l;
}

int zpl_lent_now(struct zpl_fd *e)
{
    return settled(e, checked(e->wb));
}

/* Asks the daemon for e's description (lender.mu held, wb->lfd ZPL_LFD_NONE): the descriptor,
 * or -1 and wb->lfd says whether to ask again. */
static int ask(struct zpl_fd *e)
{
    struct zpl_wb *wb = e->wb;
    /* Buffered and in-flight writes sent, reads ahead dropped, the daemon's position the
     * program's: from here on the kernel keeps the position. A failed write stays in wb->err
     * for the forwarded call that reports it. */
    if (zpl_flush(e) || wb->err)
        return -1;
    int h = zpl_fd_handle(e);
    if (h < 0)
        return -1;
    uint64_t tag = zp_lender_tag(&lender);
    int rc;
    ZP_CALL(rc, zp_lend(h, tag));
    if (rc) {
        int err = errno;
        zp_lender_failed(&lender, err);
        if (err == EINVAL || err == EAGAIN || err == EBADF)
            atomic_store(&wb->lfd, ZPL_LFD_NEVER); /* not this one */
        else if (zp_lender_on(&lender))
            zpl_fail(); /* the connection, perhaps */
        return -1;
    }
    /* What came must be the file the daemon's handle has (a daemon that lends the wrong file is
     * caught here, not by the program's data), opened with the access mode asked for. */
    int fd = zpl_take_lent(tag), mode;
    struct stat hst, st;
    if (fd >= 0) {
        ZP_CALL(rc, zp_fstatat(h, "", &hst, AT_EMPTY_PATH));
        if (rc) {
            REAL(close)(fd);
            fd = -EIO;
        }
    }
    fd = fd == -EIO ? -1 : zp_lender_check(&lender, fd, &hst, &mode, &st);
    if (fd >= 0 && mode != (e->oflags & O_ACCMODE)) {
        REAL(close)(fd);
        fd = -1;
    }
    if (fd < 0) {
        atomic_store(&wb->lfd, ZPL_LFD_NEVER);
        return -1;
    }
    wb->lfd_dev = st.st_dev;
    wb->lfd_ino = st.st_ino;
    mark(fd, true);
    atomic_store_explicit(&wb->lfd, fd, memory_order_release);
    return fd;
}

int zpl_lent(struct zpl_fd *e, size_t n)
{
    struct zpl_wb *wb = e->wb;
    int l = atomic_load_explicit(&wb->lfd, memory_order_acquire);
    if (l >= 0) /* small calls skip the identity check (an fstat would double their cost) */
        return settled(e, n >= ZPL_LEND_MIN ? checked(wb) : l);
    if (l == ZPL_LFD_NEVER || !zp_lender_on(&lender) || (e->oflags & O_PATH))
        return -1;
    if (n < ZPL_LEND_MIN && atomic_fetch_add(&wb->io_calls, 1) + 1 < ZPL_LEND_AFTER)
        return -1;
    pthread_mutex_lock(&lender.mu);
    l = atomic_load(&wb->lfd);
    if (l == ZPL_LFD_NONE && zp_lender_on(&lender))
        l = ask(e);
    pthread_mutex_unlock(&lender.mu);
    return l >= 0 ? settled(e, checked(wb)) : -1;
}

void zpl_lend_drop(struct zpl_wb *wb)
{
    int l = checked(wb);
    if (l >= 0) {
        mark(l, false);
        REAL(close)(l);
    }
}
