/*
 * Kernel passthrough (FUSE_PASSTHROUGH, Linux 6.9 and later) for a strict mount of a daemon on
 * this node: the daemon lends the mount its open file (zp_lend, over shm:), the mount registers
 * it with the kernel as the file's backing (FUSE_DEV_IOC_BACKING_OPEN, CAP_SYS_ADMIN), and the
 * kernel then reads, writes and maps the file through the backing itself: no request reaches
 * the mount or the daemon for the data. Attributes, truncation, fsync, locks and the release
 * still go to the daemon's handle of the same file.
 *
 * libfuse 3.14 knows nothing of it: the mount's device reads and writes go through here
 * (fuse_session_custom_io). The FUSE_INIT reply is amended (flags2 bit, max_stack_depth), and
 * the reply to an open or a create that got a backing carries FOPEN_PASSTHROUGH and the backing's
 * id. The request a thread is answering is the one it read (libfuse answers on the reading
 * thread), so the amendment is found by the request's unique number.
 *
 * The kernel's rules (fs/fuse/iomode.c): while a file is open for passthrough, every open of it
 * must be passthrough with the same backing, and none may be while it is open with the page
 * cache. So each FUSE inode (node id) has at most one backing, lent for an O_RDWR open (a
 * read-only backing could not serve a later writer; O_APPEND is left to each open's own flags),
 * shared by every later open of the file; a file open the cached way when passthrough starts
 * stays cached for its new opens until they are all released. A file the daemon will not open
 * O_RDWR for the mount is served as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include "zfuse_int.h"
#include "zfuse_lend.h"
#include "zfuse_pt.h"

/* The kernel's ABI (include/uapi/linux/fuse.h, protocol 7.40; this system's header is older). */
#define IN_HEADER       40 /* len, opcode, unique, nodeid, uid, gid, pid, extlen, padding */
#define OUT_HEADER      16 /* len, error, unique */
#define OP_OPEN         14
#define OP_INIT         26
#define OP_CREATE       35
#define INIT_EXT        (1u << 30) /* in flags: flags2 is meant */
#define WRITEBACK_CACHE (1u << 16)
#define FLAGS2_PT       (1u << 5) /* FUSE_PASSTHROUGH, 1 << 37 */
#define FOPEN_PT        (1u << 7)
#define OPEN_OUT        16  /* fh, open_flags, backing_id */
#define ENTRY_OUT       128 /* nodeid first */
struct backing_map {
    int32_t fd;
    uint32_t flags;
    uint64_t padding;
};
#define IOC_BACKING_OPEN  _IOW(229, 1, struct backing_map)
#define IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

static int devfd = -1;
static bool detached;    /* say so with syslog, else on stderr */
static atomic_int state; /* 0: off; 1: the kernel offered it at INIT; 2: agreed */
static atomic_bool ever; /* agreed once: opens are counted from then on, also when it stopped */
static _Atomic uint64_t init_unique;

/* The request this thread read last, and what its reply must carry. */
static _Thread_local struct {
    uint64_t unique, nodeid;
    uint32_t opcode;
    struct zf_open *f; /* a create's open, whose node the reply names */
    int32_t bid;       /* > 0: pass the reply's open through this backing */
} cur;

/* FUSE inodes with a backing or with cached opens. */
#define NBUCKETS 256
struct node {
    uint64_t id;
    int32_t bid;         /* 0: none */
    unsigned pt, cached; /* opens of each kind */
    struct node *next;
};
static struct node *nodes[NBUCKETS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* One line on what the kernel made of passthrough (once per cause: at INIT, or a refused
 * backing), so that a mount asked for it says whether it got it. */
static void say(int level, const char *what)
{
    if (detached)
        syslog(level, "zepto zoid mount: --passthrough: %s", what);
    else
        fprintf(stderr, "zepto zoid mount: --passthrough: %s\n", what);
}

static uint32_t get32(const void *p, size_t at)
{
    uint32_t v;
    memcpy(&v, (const char *)p + at, sizeof(v));
    return v;
}

static uint64_t get64(const void *p, size_t at)
{
    uint64_t v;
    memcpy(&v, (const char *)p + at, sizeof(v));
    return v;
}

static void put32(void *p, size_t at, uint32_t v)
{
    memcpy((char *)p + at, &v, sizeof(v));
}

/* Gives a backing id back to the kernel (the opens passed through it keep the file). */
static void backing_close(int32_t id)
{
    if (id > 0) {
        uint32_t b = (uint32_t)id;
        (void)ioctl(devfd, IOC_BACKING_CLOSE, &b);
    }
}

/* The node id's entry (mu held), made when make. */
static struct node *node_of(uint64_t id, bool make)
{
    struct node **pp = &nodes[id % NBUCKETS];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->id == id)
            return *pp;
    if (!make || !(*pp = calloc(1, sizeof(**pp))))
        return NULL;
    (*pp)->id = id;
    return *pp;
}

/* Drops an entry nobody holds (mu held). */
static void node_put(struct node *n)
{
    if (n->pt || n->cached)
        return;
    backing_close(n->bid);
    for (struct node **pp = &nodes[n->id % NBUCKETS]; *pp; pp = &(*pp)->next)
        if (*pp == n) {
            *pp = n->next;
            free(n);
            return;
        }
}

static ssize_t pt_read(int fd, void *buf, size_t len, void *userdata)
{
    (void)userdata;
    if (cur.opcode == OP_CREATE && cur.f) /* a create libfuse did not answer (it failed later) */
        backing_close(cur.bid);
    cur.f = NULL;
    cur.bid = 0;
    cur.opcode = 0;
    ssize_t r = read(fd, buf, len);
    if (r < IN_HEADER)
        return r;
    int e = errno;
    cur.opcode = get32(buf, 4);
    cur.unique = get64(buf, 8);
    cur.nodeid = get64(buf, 16);
    cur.f = NULL;
    cur.bid = 0;
    /* init_in: major, minor, max_readahead, flags, flags2 */
    if (cur.opcode == OP_INIT && r >= IN_HEADER + 20 && (get32(buf, IN_HEADER + 12) & INIT_EXT) &&
        (get32(buf, IN_HEADER + 16) & FLAGS2_PT)) {
        atomic_store(&init_unique, cur.unique);
        atomic_store(&state, 1);
    } else if (cur.opcode == OP_INIT) {
        say(LOG_WARNING, "the kernel does not offer it (Linux 6.9 or later with "
                         "CONFIG_FUSE_PASSTHROUGH): files are forwarded");
    }
    errno = e;
    return r;
}

/* Counts open f of node id as passed through (the node's backing, or mine, the backing lent for
 * f, when the node has none) or as cached (no backing, or the node is open the cached way: its
 * next opens must be too). Returns the backing the reply names, 0 for none; mine is given back
 * when unused. */
static int32_t settle(struct zf_open *f, uint64_t id, int32_t mine)
{
    pthread_mutex_lock(&mu);
    struct node *n = node_of(id, true);
    int32_t use = 0;
    if (n && !n->cached && (n->bid > 0 || mine > 0)) {
        if (n->bid <= 0)
            n->bid = mine, mine = 0;
        use = n->bid;
        n->pt++;
        f->pt = 1;
    } else if (n) {
        n->cached++;
        f->pt = 2;
    }
    f->pt_node = id;
    backing_close(mine);
    pthread_mutex_unlock(&mu);
    return use;
}

static ssize_t pt_writev(int fd, struct iovec *iov, int count, void *userdata)
{
    (void)userdata;
    if (count != 2 || iov[0].iov_len != OUT_HEADER || get32(iov[0].iov_base, 4) != 0)
        return writev(fd, iov, count);
    uint64_t unique = get64(iov[0].iov_base, 8);
    size_t n = iov[1].iov_len;
    unsigned char copy[ENTRY_OUT + OPEN_OUT];
    struct iovec v[2] = {iov[0], {copy, n}};
    if (unique == atomic_load(&init_unique) && atomic_load(&state) == 1 && n >= 40) {
        /* init_out: flags at 12, flags2 at 32, max_stack_depth at 36 */
        unsigned char init[256];
        if (n > sizeof(init) || (get32(iov[1].iov_base, 12) & WRITEBACK_CACHE)) {
            atomic_store(&state, 0); /* the kernel refuses passthrough with writeback caching */
            say(LOG_WARNING, "not with the writeback cache: files are forwarded");
            return writev(fd, iov, count);
        }
        say(LOG_INFO, "the kernel offers it: files opened here are read and written in place");
        memcpy(init, iov[1].iov_base, n);
        put32(init, 12, get32(init, 12) | INIT_EXT);
        put32(init, 32, get32(init, 32) | FLAGS2_PT);
        put32(init, 36, 1); /* the backing files are on ordinary file systems */
        atomic_store(&state, 2);
        atomic_store(&ever, true);
        struct iovec w[2] = {iov[0], {init, n}};
        return writev(fd, w, 2);
    }
    if (unique != cur.unique || !(cur.opcode == OP_OPEN || cur.opcode == OP_CREATE) ||
        (cur.opcode == OP_OPEN && (cur.bid <= 0 || n != OPEN_OUT)) ||
        (cur.opcode == OP_CREATE && (!cur.f || n != ENTRY_OUT + OPEN_OUT)))
        return writev(fd, iov, count);
    memcpy(copy, iov[1].iov_base, n);
    /* a create's reply names the node (entry_out.nodeid): settled now */
    int32_t bid = cur.opcode == OP_CREATE ? settle(cur.f, get64(copy, 0), cur.bid) : cur.bid;
    cur.bid = 0;
    cur.f = NULL;
    if (bid <= 0)
        return writev(fd, iov, count);
    put32(copy, n - OPEN_OUT + 8, get32(copy, n - OPEN_OUT + 8) | FOPEN_PT);
    put32(copy, n - OPEN_OUT + 12, (uint32_t)bid);
    return writev(fd, v, 2);
}

void zf_pt_install(struct fuse_session *se, bool to_syslog)
{
    detached = to_syslog;
    static const struct fuse_custom_io io = {.read = pt_read, .writev = pt_writev};
    devfd = fuse_session_fd(se);
    if (devfd < 0 || fuse_session_custom_io(se, &io, devfd))
        devfd = -1;
}

bool zf_pt_on(void)
{
    return atomic_load(&state) == 2;
}

enum zf_pt_plan zf_pt_plan(bool create)
{
    if (!atomic_load(&ever))
        return ZF_PT_NONE;
    if (create) /* the node is known at the reply */
        return zf_pt_on() ? ZF_PT_NEW : ZF_PT_NONE;
    pthread_mutex_lock(&mu);
    struct node *n = node_of(cur.nodeid, false);
    enum zf_pt_plan p = n && n->cached    ? ZF_PT_NONE
                        : n && n->bid > 0 ? ZF_PT_SHARE
                        : zf_pt_on()      ? ZF_PT_NEW
                                          : ZF_PT_NONE;
    pthread_mutex_unlock(&mu);
    return p;
}

int32_t zf_pt_backing(struct zf_open *f, uint64_t fh, enum zf_pt_plan plan)
{
    if (plan != ZF_PT_NEW || !atomic_load(&ever))
        return 0;
    int fd = zf_lend_now(f, fh);
    if (fd < 0)
        return 0;
    struct backing_map m = {.fd = fd};
    int id = f->lmode == O_RDWR ? ioctl(devfd, IOC_BACKING_OPEN, &m) : -1;
    int e = errno;
    zf_lend_drop(f); /* the kernel holds the file now */
    if (id < 0 && f->lmode == O_RDWR && (e == EPERM || e == EOPNOTSUPP || e == ENOTTY) &&
        atomic_exchange(&state, 0) == 2) { /* not allowed here: never again */
        char why[96];
        snprintf(why, sizeof(why), "the kernel refused a backing file (%s): files are forwarded",
                 strerror(e));
        say(LOG_WARNING, why);
    }
    return id > 0 ? id : 0;
}

bool zf_pt_opened(struct zf_open *f, int32_t mine)
{
    f->pt = 0;
    if (!atomic_load(&ever))
        return false;
    if (cur.opcode == OP_CREATE) {
        /* settled by the reply (settle_create): it counts f as one kind or the other */
        cur.f = f;
        cur.bid = mine;
        return mine > 0;
    }
    if (cur.opcode != OP_OPEN) { /* not a request's open: nothing to amend */
        backing_close(mine);
        return false;
    }
    cur.bid = settle(f, cur.nodeid, mine);
    return cur.bid > 0;
}

void zf_pt_release(struct zf_open *f)
{
    if (!f->pt)
        return;
    pthread_mutex_lock(&mu);
    struct node *n = node_of(f->pt_node, false);
    if (n) {
        if (f->pt == 1 && n->pt)
            n->pt--;
        else if (f->pt == 2 && n->cached)
            n->cached--;
        node_put(n);
    }
    f->pt = 0;
    pthread_mutex_unlock(&mu);
}
