/*
 * Sessions of the posix plugin: a descriptor table of the daemon's kernel descriptors, numbered
 * from 0 (the client's remote handles), shared by the connections attached to it, and what a
 * session declares of itself (zp_no_symlinks).
 *
 * Every connection gets a small record in its plugin state slot (created on its first call, with
 * a compare-and-swap: calls of one connection run on several workers at once) pointing to its
 * session. A call references the session for its duration, so that a session replaced or
 * released meanwhile stays valid until the call ends. The last reference closes every
 * descriptor. A global registry maps session ids to sessions for zp_session_attach; it holds no
 * reference (a session leaves it when its last reference goes).
 *
 * A handle's kernel descriptor is referenced too (struct zp_file): a call uses it outside the
 * table's lock, and a concurrent close of the handle must not let the number be reused under it.
 * zp_dup shares the descriptor (same open file description, as dup(2)).
 *
 * Every handle has an owner: the connection that opened or dup'ed it, or the last one that
 * adopted it (zp_adopt). When a connection goes (closed, or its process killed: the kernel closes
 * the socket), the handles it owns are closed, whatever the process did or failed to do before.
 * A session's handles thus track the processes that hold them: a shell running thousands of
 * programs that each die without closing does not fill its session's table. A forked child or an
 * exec'd image adopts the handles it inherited once it has attached on a connection of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coalesce.h"
#include "zp_impl.h"
#include "zposix_server.h"

/* A connection's state slot. */
struct zp_conn {
    pthread_mutex_t mu;
    struct zp_session *s; /* referenced; NULL before the first call */
    uint64_t id;          /* owner of handles; never 0, never reused */
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct zp_session *registry;
static uint64_t next_id = 1;
static _Atomic uint64_t next_conn_id = 1;

/* The connection the current call came on, as an owner of handles (0: none, outside a call). */
static uint64_t owner_now(void)
{
    struct zoid_call *call = zposix_zoid_current();
    if (!call)
        return 0;
    struct zp_conn *c =
        __atomic_load_n((struct zp_conn **)zoid_call_client_state(call), __ATOMIC_ACQUIRE);
    return c ? c->id : 0;
}

/* ---- descriptors ---- */

void zp__put(struct zp_file *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
        if (atomic_load(&f->lent))
            atomic_fetch_sub(&zpc_lent_files, 1);
        close(f->fd);
        zp__quota_give(f->uid);
        free(f);
    }
}

struct zp_file *zp__get(struct zp_session *s, int h)
{
    struct zp_file *f = NULL;
    pthread_mutex_lock(&s->mu);
    if (h >= 0 && h < s->cap && s->slots[h].f) {
        f = s->slots[h].f;
        atomic_fetch_add(&f->refs, 1);
    }
    pthread_mutex_unlock(&s->mu);
    if (!f)
        errno = EBADF;
    return f;
}

/* The lowest free handle (growing the table), under s->mu; -1 + EMFILE/ENOMEM. */
static int free_slot(struct zp_session *s)
{
    for (int h = 0; h < s->cap; h++)
        if (!s->slots[h].f)
            return h;
    if (s->cap >= ZP_MAX_HANDLES) {
        errno = EMFILE;
        return -1;
    }
    int cap = s->cap ? s->cap * 2 : 16;
    if (cap > ZP_MAX_HANDLES)
        cap = ZP_MAX_HANDLES;
    struct zp_slot *n = realloc(s->slots, (size_t)cap * sizeof(*n));
    if (!n) {
        errno = ENOMEM;
        return -1;
    }
    memset(n + s->cap, 0, (size_t)(cap - s->cap) * sizeof(*n));
    int h = s->cap;
    s->slots = n;
    s->cap = cap;
    return h;
}

int zp__install(struct zp_session *s, int fd)
{
    /* Counted for whoever opened it (the call's sender), not the session's creator. */
    struct zoid_call *call = zposix_zoid_current();
    uint32_t uid = call ? zoid_call_identity(call)->uid : s->uid;
    if (zp__quota_take(s->pl->host, uid)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    uint64_t owner = owner_now();
    struct zp_file *f = malloc(sizeof(*f));
    if (!f) {
        close(fd);
        zp__quota_give(uid);
        errno = ENOMEM;
        return -1;
    }
    f->fd = fd;
    f->uid = uid;
    atomic_init(&f->refs, 1);
    struct stat st;
    bool known = !fstat(fd, &st);
    f->dev = known ? (uint64_t)st.st_dev : 0;
    f->ino = known ? (uint64_t)st.st_ino : 0;
    f->reg = known && S_ISREG(st.st_mode);
    atomic_init(&f->flags, fcntl(fd, F_GETFL));
    atomic_init(&f->lent, false);
    pthread_mutex_lock(&s->mu);
    int h = free_slot(s);
    if (h >= 0)
        s->slots[h] = (struct zp_slot){.f = f, .fdflags = 0, .owner = owner};
    pthread_mutex_unlock(&s->mu);
    if (h < 0) {
        int e = errno;
        zp__put(f);
        errno = e;
    }
    return h;
}

int zp__dup(struct zp_session *s, int h)
{
    uint64_t owner = owner_now();
    pthread_mutex_lock(&s->mu);
    int n = -1;
    if (h < 0 || h >= s->cap || !s->slots[h].f) {
        errno = EBADF;
    } else if ((n = free_slot(s)) >= 0) {
        struct zp_file *f = s->slots[h].f; /* after free_slot: the table may have moved */
        atomic_fetch_add(&f->refs, 1);
        s->slots[n] = (struct zp_slot){.f = f, .fdflags = 0, .owner = owner};
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

int zp__close(struct zp_session *s, int h)
{
    struct zp_file *f = NULL;
    pthread_mutex_lock(&s->mu);
    if (h >= 0 && h < s->cap && s->slots[h].f) {
        f = s->slots[h].f;
        s->slots[h].f = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (!f) {
        errno = EBADF;
        return -1;
    }
    /* The last handle on the descriptor: its close(2) reports what it reports (EIO of a
     * delayed write on some file systems). A call still using it closes it when it ends. */
    if (atomic_fetch_sub(&f->refs, 1) == 1) {
        if (atomic_load(&f->lent))
            atomic_fetch_sub(&zpc_lent_files, 1);
        int rc = close(f->fd);
        zp__quota_give(f->uid);
        free(f);
        if (rc && errno != EINTR)
            return -1;
    }
    return 0;
}

int zp__fdflags(struct zp_session *s, int h, int set, int *out)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (h < 0 || h >= s->cap || !s->slots[h].f) {
        errno = EBADF;
        rc = -1;
    } else if (set >= 0) {
        s->slots[h].fdflags = set & FD_CLOEXEC;
    } else {
        *out = s->slots[h].fdflags;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- ownership ---- */

int zp__adopt(struct zp_session *s, const int32_t *handles, uint32_t n)
{
    uint64_t owner = owner_now();
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    for (uint32_t i = 0; i < n; i++) {
        int h = handles[i];
        if (h < 0 || h >= s->cap || !s->slots[h].f) {
            errno = EBADF;
            rc = -1;
            break;
        }
    }
    for (uint32_t i = 0; !rc && i < n; i++)
        s->slots[handles[i]].owner = owner;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Closes the handles of s that owner owns (the connection is gone, or left the session); the
 * number closed. The descriptors are closed outside the lock (a close may wait for a file
 * system), unless the list cannot be allocated. */
static int drop_owned(struct zp_session *s, uint64_t owner)
{
    if (!s || !owner)
        return 0;
    pthread_mutex_lock(&s->mu);
    struct zp_file **out = s->cap ? malloc((size_t)s->cap * sizeof(*out)) : NULL;
    int n = 0;
    for (int h = 0; h < s->cap; h++) {
        if (!s->slots[h].f || s->slots[h].owner != owner)
            continue;
        if (out)
            out[n] = s->slots[h].f;
        else
            zp__put(s->slots[h].f);
        n++;
        s->slots[h].f = NULL;
        s->slots[h].owner = 0;
    }
    pthread_mutex_unlock(&s->mu);
    /* As a close by the program would: the last writer's handle sends what was gathered for
     * its file (relaxed coalescing), so a program that exits without closing finds its data in
     * the file as soon as the daemon has seen it go, not a flush period later. */
    for (int i = 0; out && i < n; i++) {
        if (zpc_pending())
            zpc_close(out[i]);
        zp__put(out[i]);
    }
    free(out);
    return n;
}

/* ---- sessions ---- */

static void session_unref(struct zp_session *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    pthread_mutex_lock(&registry_mu);
    for (struct zp_session **pp = &registry; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    pthread_mutex_unlock(&registry_mu);
    int open = 0;
    for (int h = 0; h < s->cap; h++)
        if (s->slots[h].f) {
            open++;
            zp__put(s->slots[h].f);
        }
    zoid_host_log(s->pl->host, ZOID_LOG_INFO, "session %llu released (%d handles closed)",
                  (unsigned long long)s->id, open);
    free(s->slots);
    pthread_mutex_destroy(&s->mu);
    memset(s->secret, 0, sizeof(s->secret));
    free(s);
}

/* A new session (one reference), in the registry; NULL + errno. */
static struct zp_session *session_create(const struct zp_plugin *pl, uint32_t uid)
{
    struct zp_session *s = calloc(1, sizeof(*s));
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->pl = pl;
    size_t got = 0;
    while (got < sizeof(s->secret)) {
        ssize_t n = getrandom(s->secret + got, sizeof(s->secret) - got, 0);
        if (n < 0 && errno != EINTR) {
            free(s);
            errno = EAGAIN;
            return NULL;
        }
        if (n > 0)
            got += (size_t)n;
    }
    atomic_init(&s->refs, 1);
    atomic_init(&s->consistency, ZP_STRICT);
    s->uid = uid;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_lock(&registry_mu);
    if (next_id == 1) {
        /* From a random start: ids of a daemon's earlier life are unknown to this one (ENOENT)
         * rather than someone else's session. */
        uint32_t r = 0;
        if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == sizeof(r))
            next_id = ((uint64_t)r << 16) + 1;
    }
    s->id = next_id++;
    s->next = registry;
    registry = s;
    pthread_mutex_unlock(&registry_mu);
    return s;
}

/* The connection's record, created on first use. */
static struct zp_conn *conn_of(struct zoid_call *call)
{
    void **slot = zoid_call_client_state(call);
    struct zp_conn *c = __atomic_load_n((struct zp_conn **)slot, __ATOMIC_ACQUIRE);
    if (c)
        return c;
    struct zp_conn *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    pthread_mutex_init(&n->mu, NULL);
    n->id = atomic_fetch_add(&next_conn_id, 1);
    void *expected = NULL;
    if (__atomic_compare_exchange_n(slot, &expected, (void *)n, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return n;
    pthread_mutex_destroy(&n->mu);
    free(n);
    return expected;
}

/* Sets the connection's session to s (taking the caller's reference), dropping the old one and
 * closing the handles the connection owns there (no call of it can reach them any more); -1 +
 * ENOMEM when the connection's record cannot be made (s is dropped). */
static int conn_set(struct zp_conn *c, struct zp_session *s)
{
    if (!c) {
        session_unref(s);
        errno = ENOMEM;
        return -1;
    }
    pthread_mutex_lock(&c->mu);
    struct zp_session *old = c->s;
    c->s = s;
    pthread_mutex_unlock(&c->mu);
    if (old != s)
        drop_owned(old, c->id);
    session_unref(old);
    return 0;
}

void zp__conn_gone(void *state)
{
    struct zp_conn *c = state;
    if (!c)
        return;
    int n = drop_owned(c->s, c->id);
    if (n && c->s)
        zoid_host_log(c->s->pl->host, ZOID_LOG_DEBUG,
                      "session %llu: %d handles closed with their connection",
                      (unsigned long long)c->s->id, n);
    session_unref(c->s);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int zp__enter(struct zp_ctx *x)
{
    return zp__enter_call(x, zposix_zoid_current());
}

int zp__enter_call(struct zp_ctx *x, struct zoid_call *call)
{
    x->call = call;
    x->s = NULL;
    struct zp_conn *c = x->call ? conn_of(x->call) : NULL;
    if (!c) {
        errno = x->call ? ENOMEM : EPROTO;
        return -1;
    }
    const struct zoid_identity *id = zoid_call_identity(x->call);
    pthread_mutex_lock(&c->mu);
    if (!c->s) {
        /* A call before zp_session_new: a session with the defaults. */
        c->s = session_create(zoid_call_plugin_state(x->call), id->uid);
        if (c->s)
            zoid_call_log(x->call, ZOID_LOG_INFO, "session %llu created for %s",
                          (unsigned long long)c->s->id, id->peer);
    }
    if (c->s) {
        x->s = c->s;
        atomic_fetch_add(&x->s->refs, 1);
    }
    pthread_mutex_unlock(&c->mu);
    if (!x->s)
        return -1;
    int e = zp__become(id);
    if (e) {
        session_unref(x->s);
        x->s = NULL;
        errno = e;
        return -1;
    }
    return 0;
}

long zp__leave(struct zp_ctx *x, long rc)
{
    int e = errno;
    zp__settle(x->call);
    session_unref(x->s);
    x->s = NULL;
    errno = e;
    return rc;
}

int zp__session_new(struct zp_ctx *x, uint64_t *id, uint8_t *secret)
{
    const struct zoid_identity *who = zoid_call_identity(x->call);
    struct zp_session *s = session_create(zoid_call_plugin_state(x->call), who->uid);
    if (!s)
        return -1;
    *id = s->id;
    memcpy(secret, s->secret, ZP_SECRET_BYTES);
    zoid_call_log(x->call, ZOID_LOG_INFO, "session %llu created for %s", (unsigned long long)s->id,
                  who->peer);
    return conn_set(conn_of(x->call), s);
}

static bool same_secret(const uint8_t *a, const uint8_t *b, size_t n)
{
    volatile uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

int zp__session_attach(struct zp_ctx *x, uint64_t id, const uint8_t *secret, uint32_t len)
{
    const struct zoid_identity *who = zoid_call_identity(x->call);
    struct zp_session *s = NULL;
    int e = ENOENT;
    pthread_mutex_lock(&registry_mu);
    for (struct zp_session *r = registry; r; r = r->next) {
        if (r->id != id)
            continue;
        bool ok = len == ZP_SECRET_BYTES && same_secret(r->secret, secret, ZP_SECRET_BYTES);
        if (!ok || r->uid != who->uid) {
            e = EPERM;
            break;
        }
        /* Referenced unless it is on its way out (its last reference is going). */
        int n = atomic_load(&r->refs);
        while (n > 0 && !atomic_compare_exchange_weak(&r->refs, &n, n + 1))
            ;
        if (n > 0)
            s = r;
        break;
    }
    pthread_mutex_unlock(&registry_mu);
    if (!s) {
        errno = e;
        return -1;
    }
    zoid_call_log(x->call, ZOID_LOG_INFO, "session %llu attached by %s", (unsigned long long)id,
                  who->peer);
    return conn_set(conn_of(x->call), s);
}

int zp_adopt(const int32_t *handles, uint32_t n)
{
    if (n > ZP_MAX_HANDLES) {
        errno = EINVAL;
        return -1;
    }
    struct zp_ctx x;
    if (zp__enter(&x))
        return -1;
    return (int)zp__leave(&x, zp__adopt(x.s, handles, n));
}

int zp_no_symlinks(void)
{
    struct zp_ctx x;
    if (zp__enter(&x))
        return -1;
    atomic_store(&x.s->no_symlinks, true);
    return (int)zp__leave(&x, 0);
}
