/*
 * The ZOID daemon: an epoll loop that accepts clients and reads their frames, run in turn by the
 * threads of a pool that also run the calls (leader/followers).
 *
 * One thread at a time, the leader, runs the loop. The loop never blocks: it reads each client's
 * frames piecewise (header, then a payload allocated only after its length passed the limit).
 * The leader keeps the first complete call it reads and queues the others; then it hands the loop
 * to a follower and runs its call itself, so that a call is read, run and answered by one thread
 * without a hand-over on its way (the cost that made a null call twice a raw ping-pong). Queued
 * calls go to idle threads. Replies are sent under the client's send lock. A client is
 * referenced by the loop and by each of its calls in flight; when it goes (closes, crashes, is
 * killed, breaks the protocol, times out) the loop drops it at once, and the last reference
 * releases its per-plugin state (the plugins' client_gone hooks) and its socket.
 *
 * SIGTERM or SIGINT: stop accepting and reading, let the calls in flight finish and reply, close
 * every client, unload the plugins, return 0. One log line per connect, disconnect and error.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "zoid/daemon.h"

#define HANDSHAKE_S 5
#define STALL_S     30 /* a frame begun and not finished */

struct job {
    struct zoid_peer *peer;
    struct zoid_header h;
    unsigned char *payload;
    int error; /* answer with this at once (EBUSY) instead of running the call */
    struct job *next;
};

struct zoid_daemon {
    struct zoid_daemon_opts o;
    const struct zoid_transport *t;
    struct zoid_addr addr;
    struct zoid_token token;
    bool need_token;
    int lfd, epfd, sigfd;
    struct zoid_slot slots[ZOID_MAX_PLUGINS];
    unsigned nslots;
    struct zoid_peer *peers;
    unsigned clients;
    /* worker pool */
    pthread_t *workers;
    unsigned nworkers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    unsigned busy;    /* jobs queued or running */
    bool leading;     /* a thread runs the loop */
    unsigned idle;    /* threads waiting for a call or for the loop */
    bool done;        /* the loop has ended: no more jobs will come */
    struct job *grab; /* the first call the leader read in this turn: it runs it itself */
    bool draining;
    int loop_rc;
    struct zepto_err *loop_err;
};

static const char *export_root; /* for plugins (zoid_daemon_export_dir) */

const char *zoid_daemon_export_dir(void)
{
    return export_root;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", localtime_r(&now, &tm));
    va_list ap;
    va_start(ap, fmt);
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "zepto zoid serve: %s %s\n", when, line);
}

/* ---- workers ---- */

static void run_job(struct zoid_daemon *d, struct job *j)
{
    struct zoid_peer *p = j->peer;
    int slot = zoid_plugin_find(d->slots, d->nslots, j->h.plugin);
    struct zoid_call call;
    zoid_call_init(&call, p, slot < 0 ? 0 : (unsigned)slot, d->o.max_payload);
    call.h = j->h;
    call.payload = j->payload;
    int error = j->error;
    /* What another plugin left on this thread (the posix plugin: a client's fs identity) goes
     * before this call runs. */
    if (zoid_thread_leftover.fn && zoid_thread_leftover.plugin != j->h.plugin)
        zoid_thread_leftover.fn();
    if (!error) {
        if (slot < 0 || j->h.function >= d->slots[slot].p->nfunctions ||
            !d->slots[slot].p->functions[j->h.function])
            error = ENOSYS;
        else
            error = d->slots[slot].p->functions[j->h.function](&call, j->payload, j->h.length);
        if (error < 0)
            error = EIO; /* plugins return positive errnos; anything else is a failure */
    }
    zoid_call_finish(&call, error);
    free(j->payload);
    atomic_fetch_sub(&p->in_flight, 1);
    zoid_peer_unref(p);
}

static int enqueue(struct zoid_daemon *d, struct zoid_peer *p, int error)
{
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->peer = p;
    j->h = p->h;
    j->payload = p->payload;
    j->error = error;
    p->payload = NULL;
    atomic_fetch_add(&p->refs, 1);
    atomic_fetch_add(&p->in_flight, 1);
    pthread_mutex_lock(&d->mu);
    if (!d->grab) {
        d->grab = j; /* the leader runs it once it hands the loop over */
    } else {
        if (d->tail)
            d->tail->next = j;
        else
            d->head = j;
        d->tail = j;
        pthread_cond_signal(&d->cv);
    }
    d->busy++;
    pthread_mutex_unlock(&d->mu);
    return 0;
}

/* ---- clients ---- */

void zoid_daemon_release_state(struct zoid_daemon *d, struct zoid_peer *p)
{
    for (unsigned i = 0; d && i < d->nslots; i++)
        if (p->state[i] && d->slots[i].p->client_gone)
            d->slots[i].p->client_gone(p->state[i]);
}

static void drop(struct zoid_daemon *d, struct zoid_peer *p, const char *why)
{
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    atomic_store(&p->closed, true);
    shutdown(p->fd, SHUT_RDWR); /* a worker blocked sending to it returns at once */
    for (struct zoid_peer **pp = &d->peers; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    d->clients--;
    logf_("disconnect %s after %.1f s (%s; %u clients)", p->id.peer,
          (double)(zb_mono_read() - p->since_ns) / 1e9, why, d->clients);
    zoid_peer_unref(p);
}

static int send_simple(struct zoid_peer *p, enum zoid_kind kind, int error, const void *data,
                       size_t len)
{
    struct zoid_header h = {.kind = (uint8_t)kind, .error = error, .length = (uint32_t)len};
    struct iovec iov = {(void *)data, len};
    return zoid_peer_send(p, &h, &iov, len ? 1 : 0);
}

/* The supplementary groups of a client (struct zoid_identity): a unix peer's from the kernel
 * (SO_PEERGROUPS, as they were when it connected; the first 64), a tcp client's are the daemon's
 * own (it acts as the daemon). */
static void peer_groups(struct zoid_daemon *d, int fd, struct zoid_identity *id)
{
    enum { MAX = sizeof(id->groups) / sizeof(id->groups[0]) };
    id->ngroups = 0;
    if (strcmp(d->t->scheme, "unix")) {
        gid_t g[MAX];
        int n = getgroups(MAX, g);
        for (int i = 0; i < n; i++)
            id->groups[id->ngroups++] = (uint32_t)g[i];
        return;
    }
    gid_t small[MAX];
    gid_t *g = small;
    socklen_t len = sizeof(small);
    int rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len);
    if (rc && errno == ERANGE && (g = malloc(len)) != NULL)
        rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len);
    for (size_t i = 0; !rc && g && i < len / sizeof(gid_t) && id->ngroups < MAX; i++)
        id->groups[id->ngroups++] = (uint32_t)g[i];
    if (g != small)
        free(g);
}

static void accept_all(struct zoid_daemon *d)
{
    for (;;) {
        int fd;
        int rc = d->t->accept(d->lfd, &fd);
        if (rc == -EAGAIN || rc == -EWOULDBLOCK)
            return;
        if (rc) {
            logf_("accept: %s", strerror(-rc));
            return;
        }
        struct zoid_peer *p = calloc(1, sizeof(*p));
        if (!p) {
            close(fd);
            continue;
        }
        p->fd = fd;
        p->t = d->t;
        p->d = d;
        p->refs = 1;
        p->max_payload = d->o.max_payload;
        pthread_mutex_init(&p->send_mu, NULL);
        d->t->identify(fd, &p->id);
        peer_groups(d, fd, &p->id);
        if (!d->need_token && !strcmp(d->t->scheme, "tcp"))
            p->id.verified = false; /* --insecure */
        else if (!strcmp(d->t->scheme, "tcp"))
            p->id.verified = true; /* once the token checks out */
        p->since_ns = p->last_ns = zb_mono_read();
        if (d->clients >= d->o.max_clients) {
            send_simple(p, ZOID_REFUSED, EUSERS, NULL, 0);
            logf_("refused %s: %u clients already", p->id.peer, d->clients);
            zoid_peer_unref(p);
            continue;
        }
        zoid_nonce(p->nonce);
        unsigned char chal[ZOID_NONCE_BYTES + 4] = {0};
        memcpy(chal, p->nonce, ZOID_NONCE_BYTES);
        chal[ZOID_NONCE_BYTES] = d->need_token;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = p};
        if (send_simple(p, ZOID_CHALLENGE, 0, chal, sizeof(chal)) ||
            epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
            zoid_peer_unref(p);
            continue;
        }
        p->next = d->peers;
        d->peers = p;
        d->clients++;
        logf_("connect %s (%u clients)", p->id.peer, d->clients);
    }
}

/* A complete frame from p; false when p must be dropped (why says why). */
static bool handle(struct zoid_daemon *d, struct zoid_peer *p, const char **why)
{
    struct zoid_header *h = &p->h;
    if (!p->welcomed) {
        if (h->kind != ZOID_AUTH) {
            *why = "no answer to the challenge";
            return false;
        }
        if (d->need_token && zoid_mac_verify(&d->token, p->nonce, p->payload, h->length) != 0) {
            send_simple(p, ZOID_REFUSED, EACCES, NULL, 0);
            *why = "wrong token";
            return false;
        }
        unsigned char lim[8];
        for (int i = 0; i < 4; i++) {
            lim[i] = (unsigned char)(d->o.max_payload >> (8 * i));
            lim[4 + i] = (unsigned char)(d->o.max_in_flight >> (8 * i));
        }
        free(p->payload);
        p->payload = NULL;
        p->welcomed = true;
        if (send_simple(p, ZOID_WELCOME, 0, lim, sizeof(lim))) {
            *why = "gone during the handshake";
            return false;
        }
        return true;
    }
    if (h->kind != ZOID_CALL) {
        *why = "a frame that is not a call";
        return false;
    }
    int busy = atomic_load(&p->in_flight) >= d->o.max_in_flight ? EBUSY : 0;
    if (enqueue(d, p, busy)) {
        *why = "out of memory";
        return false;
    }
    return true;
}

/* Reads what p has sent, without blocking; false when p must be dropped. */
static bool readable(struct zoid_daemon *d, struct zoid_peer *p, const char **why)
{
    for (;;) {
        ssize_t n;
        if (p->hdr_got < ZOID_HEADER_SIZE) {
            n = recv(p->fd, p->hdr + p->hdr_got, ZOID_HEADER_SIZE - p->hdr_got, MSG_DONTWAIT);
        } else {
            size_t want = p->h.length - p->payload_got;
            n = want ? recv(p->fd, p->payload + p->payload_got, want, MSG_DONTWAIT) : 0;
            if (!want)
                goto complete;
        }
        if (n == 0) {
            *why = p->hdr_got || p->payload_got ? "closed in the middle of a frame" : "closed";
            return false;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            if (errno == EINTR)
                continue;
            *why = strerror(errno);
            return false;
        }
        p->last_ns = zb_mono_read();
        if (p->hdr_got < ZOID_HEADER_SIZE) {
            p->hdr_got += (size_t)n;
            if (p->hdr_got < ZOID_HEADER_SIZE)
                continue;
            struct zepto_err err = {0};
            uint32_t limit = p->welcomed ? d->o.max_payload : ZOID_MAC_BYTES;
            if (zoid_header_decode(p->hdr, limit, &p->h, &err)) {
                logf_("error from %s: %s", p->id.peer, err.msg);
                *why = "a bad frame";
                return false;
            }
            p->payload_got = 0;
            p->payload = p->h.length ? malloc(p->h.length) : NULL;
            if (p->h.length && !p->payload) {
                *why = "out of memory";
                return false;
            }
            continue;
        }
        p->payload_got += (size_t)n;
        if (p->payload_got < p->h.length)
            continue;
    complete:
        p->hdr_got = 0;
        p->payload_got = 0;
        if (!handle(d, p, why))
            return false;
    }
}

/* Handshakes not finished, frames stalled half way, clients idle too long. */
static void sweep(struct zoid_daemon *d)
{
    uint64_t now = zb_mono_read();
    for (struct zoid_peer *p = d->peers, *next; p; p = next) {
        next = p->next;
        double quiet = (double)(now - p->last_ns) / 1e9;
        if (!p->welcomed && (double)(now - p->since_ns) / 1e9 > HANDSHAKE_S)
            drop(d, p, "no handshake in time");
        else if ((p->hdr_got || p->payload_got) && quiet > STALL_S)
            drop(d, p, "a frame stalled half way");
        else if (atomic_load(&p->in_flight) == 0 && quiet > d->o.idle_s)
            drop(d, p, "idle");
    }
}

/* ---- set-up and the loop ---- */

static int setup(struct zoid_daemon *d, struct zepto_err *err)
{
    int rc = zoid_addr_parse(d->o.listen, &d->addr, &d->t, err);
    if (rc)
        return rc;
    bool tcp = !strcmp(d->t->scheme, "tcp");
    if (tcp && d->o.insecure && !d->t->is_loopback(&d->addr))
        return zepto_fail(err, EACCES,
                          "--insecure is allowed on a loopback address only, not on %s",
                          d->o.listen);
    if (tcp && !d->o.insecure && !d->o.token_file)
        return zepto_fail(err, EACCES,
                          "a tcp listener needs --token-file (or, on loopback "
                          "only, --insecure)");
    if (d->o.token_file && (rc = zoid_token_read(d->o.token_file, &d->token, err)))
        return rc;
    d->need_token = tcp && !d->o.insecure;
    struct stat st;
    if (!d->o.export_dir || stat(d->o.export_dir, &st) || !S_ISDIR(st.st_mode))
        return zepto_fail(err, ENOTDIR, "--export %s: not a directory",
                          d->o.export_dir ? d->o.export_dir : "(none)");
    export_root = d->o.export_dir;
    /* One descriptor per client: take what the hard limit allows. */
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((rc = zoid_plugins_load(d->o.plugin_dir, d->slots, &d->nslots, err)))
        return rc;
    return d->t->listen(&d->addr, 1024, &d->lfd, err);
}

/* ---- the loop, one turn at a time, and the threads that take turns ---- */

/* One turn of the loop: wait for events (at most a second) and handle them. Returns false when
 * the loop has ended (drained after a signal, or failed: d->loop_rc). Leader only. */
static bool loop_turn(struct zoid_daemon *d)
{
    struct epoll_event evs[128];
    int n = epoll_wait(d->epfd, evs, 128, d->draining ? 20 : 1000);
    if (n < 0 && errno != EINTR) {
        d->loop_rc = zepto_fail(d->loop_err, errno, "epoll_wait: %s", strerror(errno));
        return false;
    }
    for (int i = 0; i < n; i++) {
        void *ptr = evs[i].data.ptr;
        if (ptr == &d->lfd) {
            accept_all(d);
        } else if (ptr == &d->sigfd) {
            struct signalfd_siginfo si;
            while (read(d->sigfd, &si, sizeof(si)) == sizeof(si))
                if (si.ssi_signo != SIGPIPE && !d->draining) {
                    d->draining = true;
                    pthread_mutex_lock(&d->mu);
                    unsigned busy = d->busy;
                    pthread_mutex_unlock(&d->mu);
                    logf_("%s: draining %u calls in flight", strsignal((int)si.ssi_signo), busy);
                    epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->lfd, NULL);
                    for (struct zoid_peer *p = d->peers; p; p = p->next)
                        epoll_ctl(d->epfd, EPOLL_CTL_DEL, p->fd, NULL);
                }
        } else if (!d->draining) {
            struct zoid_peer *p = ptr;
            const char *why = "closed";
            if ((evs[i].events & (EPOLLERR | EPOLLHUP)) && !(evs[i].events & EPOLLIN))
                drop(d, p, "closed");
            else if (!readable(d, p, &why))
                drop(d, p, why);
        }
    }
    if (!d->draining) {
        sweep(d);
        return true;
    }
    pthread_mutex_lock(&d->mu);
    unsigned busy = d->busy;
    pthread_mutex_unlock(&d->mu);
    return busy > 0;
}

/* What every thread of the pool runs, the main one included: queued calls first; else the loop
 * when nobody runs it; else wait. The leader runs the first call it reads itself, handing the
 * loop to an idle thread, only when there is one: with every other thread busy in a call (a
 * blocking lock, a slow plugin) it queues the call and keeps leading, so that the loop (accepts,
 * signals, other clients' frames) never stops. Returns once the loop has ended and the queue is
 * empty. */
static void serve(struct zoid_daemon *d)
{
    pthread_mutex_lock(&d->mu);
    for (;;) {
        struct job *j = d->head;
        if (j) {
            d->head = j->next;
            if (!d->head)
                d->tail = NULL;
        } else if (d->done) {
            break;
        } else if (!d->leading) {
            d->leading = true;
            bool more = true;
            while (!j && more) {
                d->grab = NULL;
                pthread_mutex_unlock(&d->mu);
                do /* d->grab is set by this thread only (handle -> enqueue) */
                    more = loop_turn(d);
                while (more && !d->grab);
                pthread_mutex_lock(&d->mu);
                j = d->grab;
                d->grab = NULL;
                if (j && more && !d->idle) { /* nobody to take the loop: queue it, lead on */
                    j->next = d->head;
                    d->head = j;
                    if (!d->tail)
                        d->tail = j;
                    j = NULL;
                }
            }
            d->leading = false;
            if (!more)
                d->done = true;
            if (!more)
                pthread_cond_broadcast(&d->cv);
            else
                pthread_cond_signal(&d->cv); /* an idle thread takes the loop over */
            if (!j)
                continue;
        } else {
            d->idle++;
            pthread_cond_wait(&d->cv, &d->mu);
            d->idle--;
            continue;
        }
        pthread_mutex_unlock(&d->mu);
        run_job(d, j);
        free(j);
        pthread_mutex_lock(&d->mu);
        d->busy--;
    }
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void *worker(void *arg)
{
    struct zoid_daemon *d = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    serve(d);
    if (zoid_thread_leftover.fn)
        zoid_thread_leftover.fn();
    return NULL;
}

int zoid_daemon_run(const struct zoid_daemon_opts *o, struct zepto_err *err)
{
    struct zoid_daemon *d = calloc(1, sizeof(*d));
    if (!d)
        return zepto_fail(err, ENOMEM, "out of memory");
    d->o = *o;
    d->lfd = d->epfd = d->sigfd = -1;
    if (!d->o.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        d->o.threads = n > 0 ? (unsigned)n : 2;
    }
    if (!d->o.max_clients)
        d->o.max_clients = 4096;
    if (!d->o.max_payload)
        d->o.max_payload = 64u << 20;
    if (!d->o.max_in_flight)
        d->o.max_in_flight = 64;
    if (!d->o.idle_s)
        d->o.idle_s = 600;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    /* Payloads up to 32 MiB come from the heap and stay there when freed: a fresh mmap per
     * large frame (glibc's default above 128 KiB, and trimming) costs a page fault per 4 KiB,
     * which made a 16 MiB upload a fifth of the socket's speed. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);

    int rc = setup(d, err);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    if (!rc) {
        d->sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
        d->epfd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &d->lfd};
        struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &d->sigfd};
        if (d->sigfd < 0 || d->epfd < 0 || epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->lfd, &ev) ||
            epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sigfd, &sev))
            rc = zepto_fail(err, errno, "epoll: %s", strerror(errno));
    }
    d->workers = calloc(d->o.threads, sizeof(pthread_t));
    for (unsigned i = 0; !rc && i < d->o.threads; i++) {
        if (pthread_create(&d->workers[i], NULL, worker, d))
            rc = zepto_fail(err, EAGAIN, "cannot start worker threads");
        else
            d->nworkers++;
    }
    if (!rc) {
        logf_("listening on %s, export %s, %u workers, %u plugins%s", o->listen, o->export_dir,
              d->nworkers, d->nslots, d->need_token ? ", token required" : "");
        for (unsigned i = 1; i < d->nslots; i++)
            logf_("plugin %u %s from %s", d->slots[i].p->id, d->slots[i].p->name, d->slots[i].path);
    }

    if (!rc) {
        d->loop_err = err;
        serve(d); /* returns when the loop has ended and no call is left for this thread */
        rc = d->loop_rc;
    }
    if (zoid_thread_leftover.fn)
        zoid_thread_leftover.fn(); /* the daemon's own identity again, to clean up */

    /* Shut down: workers first (they hold clients), then clients, then plugins. */
    pthread_mutex_lock(&d->mu);
    d->done = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    for (unsigned i = 0; i < d->nworkers; i++)
        pthread_join(d->workers[i], NULL);
    while (d->peers)
        drop(d, d->peers, "daemon stopping");
    if (d->lfd >= 0)
        d->t->close(d->lfd);
    if (d->lfd >= 0 && !strcmp(d->t->scheme, "unix"))
        unlink(d->addr.path);
    if (d->epfd >= 0)
        close(d->epfd);
    if (d->sigfd >= 0)
        close(d->sigfd);
    zoid_plugins_unload(d->slots, d->nslots);
    if (!rc)
        logf_("stopped");
    free(d->workers);
    memset(&d->token, 0, sizeof(d->token));
    free(d);
    return rc;
}
