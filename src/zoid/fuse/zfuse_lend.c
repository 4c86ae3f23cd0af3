/*
 * Descriptors the daemon lends the mount (zp_lend; docs/zoid-posix.md, "Lent descriptors"): with
 * the daemon on this node (shm:), an open file's writes go to the daemon's own open file
 * description, handed to the mount over the connection, instead of through the daemon. Asked
 * for at an open's first write of ZF_LEND_MIN bytes or more, or its ZF_LEND_AFTER-th; once per
 * open. Reads stay forwarded (zfuse_ops.c says why); everything else (attributes, truncation,
 * fsync, locks, release) goes to the daemon's handle, the same description.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zfuse_int.h"
#include "lend_client.h"
#include "zfuse_lend.h"
#include "zposix.h"
#include "zposix_client.h"

#define ZF_LEND_MIN   (64u << 10)
#define ZF_LEND_AFTER 8

static struct zp_lender lender = ZP_LENDER_INIT;

/* Asks for f's description (lender.mu held): its descriptor, or -1. */
static int ask(struct zf_open *f, uint64_t fh)
{
    uint64_t tag = zp_lender_tag(&lender);
    uint32_t g = zf_enter(); /* what the mount kept of its writes goes first */
    int h = zf_fh_handle(fh, g);
    if (h < 0) {
        zf_leave(g, 0);
        return -1;
    }
    long rc = zf_zp_lend(h, tag);
    int err = rc < 0 ? errno : 0, fd = -EIO;
    struct stat hst, st;
    if (!rc && (fd = zf_take_lent(tag)) >= 0 && zf_zp_fstatat(h, "", &hst, AT_EMPTY_PATH) < 0) {
        close(fd);
        fd = -EIO;
    }
    zf_leave(g, 0);
    if (rc < 0)
        zp_lender_failed(&lender, err);
    /* A regular file, the one the daemon's handle has; otherwise it stays forwarded. */
    return fd == -EIO ? -1 : zp_lender_check(&lender, fd, &hst, &f->lmode, &st);
}

int zf_lent(struct zf_open *f, uint64_t fh, size_t size)
{
    int l = atomic_load_explicit(&f->lfd, memory_order_acquire);
    if (l == ZF_LFD_NONE && zp_lender_on(&lender) &&
        (size >= ZF_LEND_MIN || atomic_fetch_add(&f->io_calls, 1) + 1 >= ZF_LEND_AFTER)) {
        pthread_mutex_lock(&lender.mu);
        l = atomic_load(&f->lfd);
        if (l == ZF_LFD_NONE) {
            l = zp_lender_on(&lender) ? ask(f, fh) : -1;
            atomic_store_explicit(&f->lfd, l >= 0 ? l : ZF_LFD_NEVER, memory_order_release);
        }
        pthread_mutex_unlock(&lender.mu);
    }
    /* A lent descriptor is the open file itself: it outlives a daemon's restart, as a local
     * descriptor would (the calls that need the daemon's handle answer ESTALE then). */
    return l < 0 || f->lmode == O_RDONLY ? -1 : l;
}

int zf_lend_now(struct zf_open *f, uint64_t fh)
{
    if (!zp_lender_on(&lender))
        return -1;
    pthread_mutex_lock(&lender.mu);
    int l = zp_lender_on(&lender) ? ask(f, fh) : -1;
    atomic_store_explicit(&f->lfd, l >= 0 ? l : ZF_LFD_NEVER, memory_order_release);
    pthread_mutex_unlock(&lender.mu);
    return l;
}

void zf_lend_drop(struct zf_open *f)
{
    int l = atomic_exchange(&f->lfd, ZF_LFD_NEVER);
    if (l >= 0)
        close(l);
}
