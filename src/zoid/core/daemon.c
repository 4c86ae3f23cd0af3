/*
 * The ZOID daemon: an epoll set of clients whose events are taken, one at a time, by the threads
 * of a pool that also run the calls.
 *
 * Every thread that is not running a call waits in epoll_wait on the same set for one event.
 * Clients are registered one-shot: the thread an event went to is the only one touching that
 * client's frame; it reads exactly one frame without blocking (header, then a payload allocated
 * only after its length passed the limit), re-arms the client, and runs the call itself, so that
 * a call is read, run and answered by one thread with no hand-over and no wake-up of another
 * thread (a hand-over per call made a null call 1.6x a raw ping-pong). Only when every other
 * thread is busy in a call does it queue the call instead and go back to waiting, so that
 * accepts, signals and other clients are never starved; a thread that finishes a call takes
 * queued calls first. Replies are sent under the client's send lock.
 *
 * One client must never stall the others (docs/zoid.md, threat model): while calls wait that
 * could run, the pool grows (up to max_threads); calls wait in one queue per uid, taken in turn,
 * and a client at its limits is parked (daemon_limits.c). A departed client's queued calls are
 * not run and its running ones are told (daemon_peers.c). The sweep runs on a timerfd every
 * 100 ms (daemon_sweep.c); on EMFILE the listener rests.
 *
 * SIGTERM or SIGINT: stop accepting and reading, let the calls in flight finish and reply (those
 * still running after DRAIN_NS are interrupted as if timed out: a FIFO read must not keep the
 * daemon up), close every client, unload the plugins, return 0. One log line per connect,
 * disconnect and error.
 *
 * This file: set-up, the event loop, draining, zoid_daemon_run. The others: daemon_log.c (the
 * rate-limited log), daemon_limits.c (uids, queues, budgets, parking), daemon_pool.c (threads and
 * calls), daemon_peers.c (accept, refuse, drop), daemon_frames.c (reading frames, the handshake),
 * daemon_own.c (a worker watching its client's ring between calls), daemon_sweep.c (timeouts);
 * daemon_int.h holds what they share.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "zepto/zoid_settings.h"
#include "zoid/core/daemon_int.h"

static void on_cancel_sig(int sig)
{
    (void)sig; /* only to interrupt a system call */
}

static int setup(struct zoid_daemon *d, struct zepto_err *err)
{
    int rc = zoid_addr_parse(d->o.listen, &d->addr, &d->t, err);
    if (rc)
        return rc;
    bool tcp = !strcmp(d->t->scheme, "tcp");
    /* ZOID_SHM_SPIN: "poll" watches 1 ms; ZOID_SHM_WATCH=0: never (daemon_own.c) */
    const char *watch = zoid_setting(ZOID_SET_SHM_WATCH, "1");
    long spin = d->t->hold && strcmp(watch, "0") ? zoid_shm_spin_ns() : 0;
    d->own_ns = spin < 0 ? 1000000u : (uint64_t)spin;
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
    d->export_fd = open(d->o.export_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (d->export_fd < 0)
        return zepto_fail(err, errno, "--export %s: %s", d->o.export_dir, strerror(errno));
    d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    d->self_uid = (uint32_t)geteuid();
    /* One descriptor per client: take what the hard limit allows. */
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct zoid_host base = {.export_dir = d->o.export_dir,
                             .export_fd = d->export_fd,
                             .consistency = d->o.consistency,
                             .daemon = d};
    /* The address first: a taken or wrong one is one line, before the plugins say anything
     * (nobody is accepted before the loop serves). */
    if ((rc = d->t->listen(&d->addr, 1024, &d->lfd, err)))
        return rc;
    return zoid_plugins_load(d->o.plugin_dir, &base, d->slots, &d->nslots, err);
}

/* ---- the threads: events, one at a time, and calls ---- */

/* Stop accepting and reading (a signal): the calls in flight finish, then the loop ends. */
static void start_draining(struct zoid_daemon *d, int sig)
{
    if (atomic_load(&d->draining))
        return;
    atomic_store(&d->drain_ns, zb_mono_read()); /* before draining: its readers need it */
    if (atomic_exchange(&d->draining, true))
        return;
    pthread_mutex_lock(&d->mu);
    unsigned busy = d->busy;
    pthread_mutex_unlock(&d->mu);
    zoid_daemon_log(d, ZOID_LOG_INFO, "%s: draining %u calls in flight", strsignal(sig), busy);
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->lfd, NULL);
    pthread_mutex_lock(&d->peers_mu);
    for (struct zoid_peer *p = d->peers; p; p = p->next)
        epoll_ctl(d->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    pthread_mutex_unlock(&d->peers_mu);
}

/* An event of a client: read by this thread if it gets the client's reader token. */
static struct job *peer_event(struct zoid_daemon *d, struct zoid_peer_ev *e, uint32_t events)
{
    struct job *j = NULL;
    if (!zd__read_begin(e))
        return NULL; /* a worker watching its ring reads it (daemon_own.c), or it is gone */
    struct zoid_peer *p = e->p;
    (void)atomic_load_explicit(&p->handoff, memory_order_acquire);
    const char *why = atomic_load(&p->kill_why);
    if (atomic_load(&d->draining))
        zd__read_end(d, p, false); /* no more reading; the client stays until the end */
    else if (why)
        zd__drop(d, p, why);
    else if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
        zd__drop(d, p, "closed");
    else if (zd__readable(d, p, &why, &j) < 0)
        zd__drop(d, p, why);
    else
        zd__read_end(d, p, true);
    return j;
}

static struct job *loop_turn(struct zoid_daemon *d);

/* Waits (at most a second) for one event and handles it. Returns the call this thread is to run,
 * if the event brought one. While it may hold a client's event, the thread is active at the
 * epoch it began (daemon_grave.c). */
struct job *zd__loop_turn(struct zoid_daemon *d)
{
    _Atomic uint64_t *active = &d->ws[zd__my_ws].active;
    atomic_store(active, atomic_load(&d->epoch));
    struct job *j = loop_turn(d);
    atomic_store(active, UINT64_MAX);
    return j;
}

static struct job *loop_turn(struct zoid_daemon *d)
{
    struct epoll_event ev;
    int n = 0;
    if (zd__owned) {
        zd__ran_job = false;
        struct job *j = zd__own_turn(d, &ev, &n);
        if (j)
            return j;
    }
    if (zd__ran_job && d->t->arm) {
        /* shm: a worker that just answered looks for its client's next request a while (the
         * doorbell byte makes the socket readable) before it sleeps: no wake-up to pay. */
        zd__ran_job = false;
        long spin = zoid_shm_spin_ns();
        uint64_t end = zb_mono_read() + (uint64_t)(spin < 0 ? 1000000 : spin);
        while (n == 0 && zb_mono_read() < end)
            n = epoll_wait(d->epfd, &ev, 1, 0);
    }
    if (n == 0)
        n = epoll_wait(d->epfd, &ev, 1, atomic_load(&d->draining) ? 20 : 1000);
    if (n < 0 && errno != EINTR) {
        int e = errno;
        pthread_mutex_lock(&d->mu);
        if (!d->loop_rc)
            d->loop_rc = zepto_fail(d->loop_err, e, "epoll_wait: %s", strerror(e));
        zd__end_loop(d);
        pthread_mutex_unlock(&d->mu);
        return NULL;
    }
    struct job *j = NULL;
    void *ptr = n == 1 ? ev.data.ptr : NULL;
    if (!ptr || ptr == &d->stopfd) {
    } else if (ptr == &d->lfd) {
        if (zd__accept_all(d) && !atomic_load(&d->draining))
            zd__rearm(d, d->lfd, &d->lfd, EPOLLIN | EPOLLONESHOT);
    } else if (ptr == &d->tfd) {
        uint64_t ticks;
        ssize_t r = read(d->tfd, &ticks, sizeof(ticks));
        (void)r;
        if (!atomic_load(&d->draining))
            zd__sweep(d);
        zd__rearm(d, d->tfd, &d->tfd, EPOLLIN | EPOLLONESHOT);
    } else if (ptr == &d->kickfd) {
        /* a client with bytes in its ring that its socket does not report */
        struct zoid_peer *p = zd__kick_take(d);
        if (p && !atomic_load(&p->closed))
            j = peer_event(d, p->ev, EPOLLIN);
        if (p)
            zoid_peer_unref(p);
    } else if (ptr == &d->sigfd) {
        struct signalfd_siginfo si;
        while (read(d->sigfd, &si, sizeof(si)) == sizeof(si))
            if (si.ssi_signo != SIGPIPE)
                start_draining(d, (int)si.ssi_signo);
        zd__rearm(d, d->sigfd, &d->sigfd, EPOLLIN | EPOLLONESHOT);
    } else {
        j = peer_event(d, ptr, ev.events);
    }
    if (!atomic_load(&d->draining)) {
        zd__sweep(d);
    } else {
        uint64_t now = zb_mono_read();
        pthread_mutex_lock(&d->mu);
        if (now - atomic_load(&d->drain_ns) > DRAIN_NS)
            zd__signal_calls(d, NULL, UINT64_MAX); /* every call is past the drain's deadline */
        zd__check_done(d);
        pthread_mutex_unlock(&d->mu);
    }
    return j;
}

int zoid_daemon_run(const struct zoid_daemon_opts *o, struct zepto_err *err)
{
    struct zoid_daemon *d = calloc(1, sizeof(*d));
    if (!d)
        return zepto_fail(err, ENOMEM, "out of memory");
    d->o = *o;
    d->lfd = d->epfd = d->sigfd = d->stopfd = d->export_fd = d->tfd = d->spare_fd = -1;
    d->kickfd = -1;
    if (!d->o.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        d->o.threads = n > 0 ? (unsigned)n : 2;
    }
    if (!d->o.max_clients)
        d->o.max_clients = 4096;
    if (!d->o.max_threads)
        d->o.max_threads = 64;
    if (d->o.max_threads < d->o.threads)
        d->o.max_threads = d->o.threads;
    d->uid_cap = d->o.max_calls_per_uid ? d->o.max_calls_per_uid : d->o.max_threads / 4;
    if (!d->uid_cap)
        d->uid_cap = 1;
    if (!d->o.max_conns_per_uid)
        d->o.max_conns_per_uid = d->o.max_clients > 1 ? d->o.max_clients / 2 : 1;
    if (!d->o.max_client_bytes)
        d->o.max_client_bytes = 64u << 20;
    if (!d->o.max_bytes)
        d->o.max_bytes = 1u << 30;
    if (!d->o.call_timeout_ms)
        d->o.call_timeout_ms = 30000;
    if (!d->o.send_timeout_ms)
        d->o.send_timeout_ms = 2000;
    if (!d->o.stall_timeout_ms)
        d->o.stall_timeout_ms = STALL_S * 1000;
    if (!d->o.max_payload)
        d->o.max_payload = 64u << 20;
    if (!d->o.max_in_flight)
        d->o.max_in_flight = 64;
    if (!d->o.idle_s)
        d->o.idle_s = 600;
    pthread_mutex_init(&d->mu, NULL);
    pthread_mutex_init(&d->peers_mu, NULL);
    pthread_mutex_init(&d->memwait_mu, NULL);
    pthread_mutex_init(&d->log_mu, NULL);
    pthread_mutex_init(&d->kick_mu, NULL);
    d->lr = calloc(LOG_SLOTS, sizeof(*d->lr));
    d->ws = calloc(d->o.max_threads + 1, sizeof(*d->ws));
    if (!d->ws) {
        free(d->lr);
        free(d);
        return zepto_fail(err, ENOMEM, "out of memory");
    }
    for (unsigned i = 0; i <= d->o.max_threads; i++)
        d->ws[i] = (struct wslot){.d = d, .idx = i, .active = UINT64_MAX};
    d->ws[0] = (struct wslot){
        .d = d, .idx = 0, .th = pthread_self(), .started = true, .active = UINT64_MAX};
    atomic_store(&d->epoch, 1);
    zd__my_ws = 0;
    /* The signal that interrupts a call: a handler that does nothing, without SA_RESTART. */
    struct sigaction sa = {.sa_handler = on_cancel_sig};
    sigemptyset(&sa.sa_mask);
    sigaction(CANCEL_SIG, &sa, NULL);
    sigset_t cs;
    sigemptyset(&cs);
    sigaddset(&cs, CANCEL_SIG);
    pthread_sigmask(SIG_UNBLOCK, &cs, NULL);
    /* Payloads up to 32 MiB come from the heap and stay there when freed: a fresh mmap per
     * large frame (glibc's default above 128 KiB, and trimming) costs a page fault per 4 KiB,
     * which made a 16 MiB upload a fifth of the socket's speed. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    /* One arena: a payload freed by one thread is reused by the next, whichever thread reads
     * it (with an arena per thread of a grown pool, each kept its own freed payloads: RSS
     * twice the budget with 2 arenas, 8 times with 8). Small blocks come from each thread's
     * tcache. The sweep trims the heap after a burst. */
    mallopt(M_ARENA_MAX, 1);

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
        d->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        d->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        struct itimerspec its = {.it_interval = {0, SWEEP_NS}, .it_value = {0, SWEEP_NS}};
        struct epoll_event fev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &d->tfd};
        if (d->tfd < 0 || timerfd_settime(d->tfd, 0, &its, NULL) ||
            epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->tfd, &fev))
            rc = zepto_fail(err, errno, "timerfd: %s", strerror(errno));
        /* One-shot: one thread takes an accept or a signal, then re-arms it. The stop event is
         * level-triggered: once written, every thread sees it. */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &d->lfd};
        struct epoll_event sev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &d->sigfd};
        struct epoll_event tev = {.events = EPOLLIN, .data.ptr = &d->stopfd};
        struct epoll_event kev = {.events = EPOLLIN, .data.ptr = &d->kickfd};
        if (d->sigfd < 0 || d->epfd < 0 || d->stopfd < 0 || d->kickfd < 0 ||
            epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->kickfd, &kev) ||
            epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->lfd, &ev) ||
            epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sigfd, &sev) ||
            epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->stopfd, &tev))
            rc = zepto_fail(err, errno, "epoll: %s", strerror(errno));
    }
    d->loop_err = err;
    for (unsigned i = 1; !rc && i <= d->o.threads; i++) {
        if (pthread_create(&d->ws[i].th, NULL, zd__worker, &d->ws[i]))
            rc = zepto_fail(err, EAGAIN, "cannot start worker threads");
        else
            d->ws[i].started = true, d->nworkers++;
    }
    if (!rc) {
        zoid_daemon_log(d, ZOID_LOG_INFO,
                        "listening on %s, export %s, %u to %u workers, %u plugins%s", o->listen,
                        o->export_dir, d->nworkers, d->o.max_threads, d->nslots,
                        d->need_token ? ", token required" : "");
        for (unsigned i = 1; i < d->nslots; i++)
            zoid_daemon_log(d, ZOID_LOG_INFO, "plugin %u %s from %s", d->slots[i].p->id,
                            d->slots[i].p->name, d->slots[i].path);
    }

    bool served = !rc;
    if (served)
        zd__serve(d);     /* returns when the loop has ended and no call is left for this thread */
    zoid_dirty_clear(-1); /* the daemon's own identity again, to clean up */

    /* Shut down: workers first (they hold clients), then clients, then plugins. */
    pthread_mutex_lock(&d->mu);
    zd__end_loop(d);
    pthread_mutex_unlock(&d->mu);
    /* In order: a thread the pool added was started by one with a lower slot (or the main). */
    for (unsigned i = 1;; i++) {
        pthread_mutex_lock(&d->mu);
        bool more = i <= d->nworkers, started = more && d->ws[i].started;
        pthread_mutex_unlock(&d->mu);
        if (!more)
            break;
        if (started)
            pthread_join(d->ws[i].th, NULL);
    }
    if (served)
        rc = d->loop_rc;
    while (d->peers)
        zd__drop(d, d->peers, "daemon stopping");
    zd__grave_sweep(d, true);
    if (d->lfd >= 0)
        d->t->close(d->lfd);
    struct stat st; /* the socket, not what another hand put there since */
    if (d->lfd >= 0 && strcmp(d->t->scheme, "tcp") && !lstat(d->addr.path, &st) &&
        S_ISSOCK(st.st_mode))
        unlink(d->addr.path);
    if (d->epfd >= 0)
        close(d->epfd);
    if (d->sigfd >= 0)
        close(d->sigfd);
    if (d->stopfd >= 0)
        close(d->stopfd);
    zd__kick_clear(d);
    if (d->kickfd >= 0)
        close(d->kickfd);
    pthread_mutex_destroy(&d->kick_mu);
    if (d->tfd >= 0)
        close(d->tfd);
    if (d->spare_fd >= 0)
        close(d->spare_fd);
    zoid_plugins_unload(d->slots, d->nslots);
    if (d->export_fd >= 0)
        close(d->export_fd);
    if (!rc)
        zoid_daemon_log(d, ZOID_LOG_INFO, "stopped");
    free(d->ws);
    free(d->lr);
    for (unsigned i = 0; i < UID_BUCKETS; i++)
        while (d->uids[i]) {
            struct zoid_uid *u = d->uids[i];
            d->uids[i] = u->hnext;
            free(u);
        }
    memset(&d->token, 0, sizeof(d->token));
    free(d);
    return rc;
}
