/*
 * The client's side of lent descriptors shared by the interposer and the mount
 * (lend_client.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "lend_client.h"

bool zp_lender_on(struct zp_lender *l)
{
    int st = atomic_load_explicit(&l->state, memory_order_relaxed);
    if (st == 0) {
        const char *v = getenv("ZOID_LEND");
        st = v && !strcmp(v, "0") ? -1 : 1;
        int zero = 0;
        atomic_compare_exchange_strong(&l->state, &zero, st);
        st = atomic_load(&l->state);
    }
    return st > 0;
}

uint64_t zp_lender_tag(struct zp_lender *l)
{
    if (!l->next_tag && getrandom(&l->next_tag, sizeof(l->next_tag), 0) != sizeof(l->next_tag))
        l->next_tag = (uint64_t)getpid() << 32 | 1;
    return l->next_tag++;
}

void zp_lender_failed(struct zp_lender *l, int err)
{
    if (err == EOPNOTSUPP || err == EPERM || err == ENOSYS || err == EPROTONOSUPPORT)
        atomic_store(&l->state, -1); /* not this daemon or transport: never again */
}

int zp_lender_check(struct zp_lender *l, int fd, const struct stat *hst, int *mode, struct stat *st)
{
    if (fd < 0) {
        if (fd == -EPROTO) /* something other than a lent descriptor came */
            atomic_store(&l->state, -1);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fstat(fd, st) || !S_ISREG(st->st_mode) || st->st_dev != hst->st_dev ||
        st->st_ino != hst->st_ino) {
        close(fd);
        atomic_store(&l->state, -1); /* a daemon that lends the wrong things */
        return -1;
    }
    *mode = fl & O_ACCMODE;
    return fd;
}
