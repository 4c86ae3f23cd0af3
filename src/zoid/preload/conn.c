/*
 * The interposer's start and its link to the daemon: libc's functions by dlsym, the
 * configuration from the environment, and the one connection and session that every thread
 * shares.
 *
 * The session starts at the first forwarded call (zp_session_new), not at load: a program that
 * never touches the mount never connects. When a call fails for want of the daemon (the
 * connection broke, or a call timed out), the connection is marked broken and the call returns
 * EIO; the next call that needs the daemon connects again and starts a new session, whose
 * generation number makes the descriptors of the old one stale (ESTALE). A forked child or an
 * exec'd image attaches to its parent's session (zp_session_attach) on a connection of its own,
 * then adopts the handles it inherited (zp_adopt) before it closes the socket it kept: the daemon
 * closes a connection's handles when the connection goes, so that a process that dies without
 * exit handlers (_exit, SIGKILL, SIGPIPE) leaves nothing open in a session that outlives it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zepto/zoid.h"
#include "zepto/zoid_settings.h"
#include "zoid/preload/zpl.h"
#include "zposix_client.h"

ZPL_REAL_DECL(close);
ZPL_REAL_DECL(fcntl);

struct zpl_config zpl_cfg = {.consistency = -1};
__thread int zpl_busy __attribute__((tls_model("initial-exec")));

/* zp_adopt's bound: the daemon's table of a session (ZP_MAX_HANDLES there). */
#define ZP_MAX_ADOPT 4096

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static atomic_bool inited;

/* The connection. `mu` guards all of it; `ready` lets the common case skip the lock. */
static struct {
    pthread_mutex_t mu;
    atomic_bool ready;     /* c is connected and attached */
    struct zoid_client *c; /* NULL before the first call or after a fork */
    uint64_t gen;          /* session generation; 0 before the first session */
    uint64_t sid;          /* session id and secret, for a child to attach */
    uint8_t secret[ZP_SECRET_BYTES];
    bool attach;     /* attach to sid at the next connect */
    bool joined;     /* attached to a session another process started */
    atomic_int sock; /* the connection's socket, -1 when none */
    dev_t sock_dev;  /* the socket's identity: a program may close its descriptor behind our */
    ino_t sock_ino;  /* back (a raw close_range) and the kernel give the number to a file */
    int keep;        /* an inherited socket keeping the session alive, or -1 */
    dev_t keep_dev;
    ino_t keep_ino;
    int consistency;    /* of the session */
    size_t chunk;       /* payload of one read or write */
    atomic_bool tcp;    /* the daemon is reached over TCP (read by any thread) */
    atomic_bool socket; /* over TCP or a unix socket (not shm:) */
    int *orphans;       /* handles to close once attached (passed by an exec whose */
    size_t norphans;    /* descriptors were close-on-exec) */
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .sock = -1, .keep = -1, .consistency = ZP_STRICT};

/* The socket the client library opens while connecting (transport.c's socket() calls are linked
 * to this function with --wrap=socket). It is moved to a high descriptor number, out of the way
 * of programs that dup2 onto small fixed numbers (shells: `exec 3>file`). */
int __real_socket(int domain, int type, int protocol);
int __wrap_socket(int domain, int type, int protocol);
static int new_sock = -1;

int __wrap_socket(int domain, int type, int protocol)
{
    int fd = __real_socket(domain, type, protocol);
    if (fd < 0 || !zpl_busy)
        return fd;
    struct rlimit rl;
    int base = !getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 64
                   ? (int)rl.rlim_cur - 32
                   : 0;
    if (base > 4096)
        base = 4096;
    if (base > fd) {
        int hi = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, base);
        if (hi >= 0) {
            REAL(close)(fd);
            fd = hi;
        }
    }
    new_sock = fd;
    return fd;
}

zpl_fn zpl__real(const char *name, _Atomic(zpl_fn) *slot)
{
    zpl_fn f = atomic_load_explicit(slot, memory_order_relaxed);
    if (f)
        return f;
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) { /* nothing to fall back on: libc lacks a function a program just called */
        static const char msg[] = "libzoid-preload: a libc function is missing\n";
        ssize_t r = write(2, msg, sizeof(msg) - 1);
        (void)r;
        abort();
    }
    memcpy(&f, &p, sizeof(f));
    atomic_store_explicit(slot, f, memory_order_relaxed);
    return f;
}

static void init_once_fn(void)
{
    zpl_busy++;
    const char *m = zoid_setting(ZOID_SET_MOUNT, NULL);
    if (m && m[0] == '/' && !zpl_normalise(m, zpl_cfg.prefix, sizeof(zpl_cfg.prefix)) &&
        strcmp(zpl_cfg.prefix, "/")) {
        zpl_cfg.prefix_len = strlen(zpl_cfg.prefix);
        zpl_cfg.active = true;
    }
    const char *c = zoid_setting(ZOID_SET_CONSISTENCY, NULL);
    if (c && !strcmp(c, "strict"))
        zpl_cfg.consistency = ZP_STRICT;
    else if (c && !strcmp(c, "relaxed"))
        zpl_cfg.consistency = ZP_RELAXED;
    zpl_atfork_setup();
    const char *st = zoid_setting(ZOID_SET_PRELOAD_STATE, NULL);
    if (zpl_cfg.active && st) {
        zpl_state_import(st);
        for (int fd = 0; fd <= 2; fd++)
            zpl_std_after(fd);
    }
    /* Not for the grandchildren that do not go through our exec (system(), popen()). */
    unsetenv(zoid_setting_name(ZOID_SET_PRELOAD_STATE));
    zpl_busy--;
    atomic_store(&inited, true);
}

void zpl_init(void)
{
    if (!atomic_load_explicit(&inited, memory_order_acquire))
        pthread_once(&init_once, init_once_fn);
}

bool zpl_on(void)
{
    if (zpl_busy)
        return false;
    zpl_init();
    return zpl_cfg.active;
}

__attribute__((constructor)) static void zpl_ctor(void)
{
    zpl_init();
}

void zpl_sig_block(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    /* Faults must still kill the thread that causes them. */
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    sigdelset(&all, SIGTRAP);
    sigdelset(&all, SIGSYS);
    pthread_sigmask(SIG_BLOCK, &all, old);
}

void zpl_sig_restore(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Identity of a descriptor (false when it is not open). */
static bool fd_id(int fd, dev_t *dev, ino_t *ino)
{
    struct stat st;
    /* The system call itself: the library's own fstat is for the program's descriptors. */
    if (fd < 0 || syscall(SYS_fstat, fd, &st) || !S_ISSOCK(st.st_mode))
        return false;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return true;
}

/* Whether descriptor fd is still the socket recorded as (dev, ino). */
static bool fd_same(int fd, dev_t dev, ino_t ino)
{
    dev_t d;
    ino_t i;
    return fd_id(fd, &d, &i) && d == dev && i == ino;
}

/* The keep socket, if it is still ours, is closed; a number the program took over is left
 * alone. mu held. */
static void drop_keep(void)
{
    if (S.keep >= 0 && fd_same(S.keep, S.keep_dev, S.keep_ino))
        REAL(close)(S.keep);
    S.keep = -1;
}

/* The program closed (or replaced) the connection's descriptor: the client is abandoned without
 * touching the number (it may be the program's file now), and the next call connects again and
 * starts a new session. The daemon closed the handles the lost connection owned (their numbers
 * may already name other files of the session), so the old descriptors become stale: ESTALE,
 * never a write elsewhere. mu held. */
static void lost_locked(void)
{
    S.c = NULL; /* leaked: closing it would close a descriptor that is no longer ours */
    zposix_zoid_use(NULL);
    atomic_store(&S.sock, -1);
    atomic_store(&S.ready, false);
    S.attach = false;
}

/* The handles of the descriptor table, for zp_adopt. */
struct handle_list {
    int32_t *h;
    uint32_t n, cap;
};

static void collect_one(int fd, struct zpl_fd *e, void *arg)
{
    (void)fd;
    struct handle_list *l = arg;
    if (e->h >= 0 && e->gen == S.gen && l->n < l->cap)
        l->h[l->n++] = e->h;
}

/* Makes this connection the owner of every handle of the descriptor table (just attached, before
 * the kept socket of the connection that owned them is closed). A handle the daemon no longer
 * has (closed meanwhile) fails the whole call with EBADF: then one by one. An older daemon
 * without zp_adopt leaves them to the end of the session, as before. mu held. */
static void adopt_table(void)
{
    uint32_t cap = (uint32_t)zpl_fd_limit();
    if (cap > ZP_MAX_ADOPT)
        cap = ZP_MAX_ADOPT;
    struct handle_list l = {malloc(cap * sizeof(int32_t)), 0, cap};
    if (!l.h)
        return;
    zpl_fd_each(collect_one, &l);
    int rc = l.n ? zp_adopt(l.h, l.n) : 0;
    for (uint32_t i = 0; rc && errno == EBADF && i < l.n; i++)
        zp_adopt(&l.h[i], 1);
    free(l.h);
}

/* Closes handles an exec'd image inherited for descriptors the exec closed. mu held. */
static void close_orphans(void)
{
    for (size_t i = 0; i < S.norphans; i++)
        zp_close(S.orphans[i]);
    free(S.orphans);
    S.orphans = NULL;
    S.norphans = 0;
}

/* Connects and attaches or starts a session. mu held. */
static int connect_locked(void)
{
    struct zoid_client *c = NULL;
    struct zepto_err err = {0};
    zpl_busy++;
    new_sock = -1;
    int rc = zoid_connect(NULL, NULL, &c, &err);
    int sock = new_sock;
    zpl_busy--;
    if (rc)
        return rc < 0 ? rc : -EIO;
    dev_t sdev = 0;
    ino_t sino = 0;
    fd_id(sock, &sdev, &sino);
    /* The old client is left as it is (another thread may still be returning from a call on
     * it) and its socket shut down, not closed: a thread still waiting on it sees the end of
     * the stream, never a descriptor the kernel has given to something else. */
    int old = atomic_exchange(&S.sock, sock);
    if (old >= 0 && S.c && fd_same(old, S.sock_dev, S.sock_ino))
        shutdown(old, SHUT_RDWR);
    S.sock_dev = sdev;
    S.sock_ino = sino;
    S.c = c;
    zposix_zoid_use(c);
    uint32_t max = zoid_max_payload(c);
    S.chunk = max > (1u << 17) ? max - 4096 : max / 2;
    const char *addr = zoid_setting(ZOID_SET_SERVER, NULL);
    atomic_store(&S.tcp, addr && !strncmp(addr, "tcp:", 4));
    atomic_store(&S.socket, addr && (!strncmp(addr, "tcp:", 4) || !strncmp(addr, "unix:", 5)));
    bool attached = false;
    if (S.attach && S.gen) {
        attached = zp_session_attach(S.sid, S.secret, ZP_SECRET_BYTES) == 0;
        if (attached) {
            S.joined = true;
            adopt_table();
            close_orphans();
        }
    }
    S.attach = false;
    if (!attached) {
        uint64_t id;
        uint8_t secret[ZP_SECRET_BYTES];
        int def = zp_session_new(ZP_VERSION, &id, secret, ZP_SECRET_BYTES);
        if (def < 0) {
            S.c = NULL;
            zposix_zoid_use(NULL);
            atomic_store(&S.sock, -1);
            zoid_close(c);
            return -EIO;
        }
        S.sid = id;
        memcpy(S.secret, secret, sizeof(secret));
        S.consistency = zpl_cfg.consistency >= 0 ? zpl_cfg.consistency : def;
        /* The daemon starts every session strict: a relaxed one says so, so that its writes
         * may be gathered with other relaxed writers' into large backend writes (issue 14).
         * A daemon without coalescing refuses the call; the session stays as it was. */
        if (S.consistency == ZP_RELAXED)
            (void)zp_consistency(ZP_RELAXED);
        S.gen++;
        free(S.orphans);
        S.orphans = NULL;
        S.norphans = 0;
    }
    drop_keep();
    atomic_store_explicit(&S.ready, true, memory_order_release);
    return 0;
}

/* After a failed connect, calls fail at once for a second instead of each waiting for a connect
 * of their own (seconds on TCP to a dead node). */
#define RETRY_NS 1000000000ull
static uint64_t failed_at;
static int last_err; /* errno of the last failed connect */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The connection's descriptor is still its socket (one fstat per call to the daemon). */
static bool sock_intact(void)
{
    int s = atomic_load(&S.sock);
    return s >= 0 && fd_same(s, S.sock_dev, S.sock_ino);
}

int zpl_conn(void)
{
    if (atomic_load_explicit(&S.ready, memory_order_acquire) && sock_intact())
        return 0;
    pthread_mutex_lock(&S.mu);
    int rc = 0;
    if (atomic_load(&S.ready) && !sock_intact())
        lost_locked();
    if (!atomic_load(&S.ready)) {
        uint64_t now = mono_ns();
        if (failed_at && now - failed_at < RETRY_NS) {
            rc = -1;
        } else {
            rc = connect_locked();
            failed_at = rc ? now : 0;
            last_err = rc == -EACCES || rc == -EPERM ? -rc : EIO;
        }
    }
    pthread_mutex_unlock(&S.mu);
    if (rc) {
        /* Refused by the socket's permissions: EACCES; any other failure to reach it: EIO. */
        errno = last_err ? last_err : EIO;
        return -1;
    }
    return 0;
}

uint64_t zpl_gen(void)
{
    pthread_mutex_lock(&S.mu);
    uint64_t g = S.gen;
    pthread_mutex_unlock(&S.mu);
    return g;
}

size_t zpl_chunk(void)
{
    return S.chunk ? S.chunk : (1u << 20);
}

bool zpl_tcp(void)
{
    return atomic_load(&S.tcp);
}

struct zoid_client *zpl_client(void)
{
    pthread_mutex_lock(&S.mu);
    struct zoid_client *c = S.c;
    pthread_mutex_unlock(&S.mu);
    return c;
}

bool zpl_socket(void)
{
    return atomic_load(&S.socket);
}

bool zpl__conn_joined(void)
{
    pthread_mutex_lock(&S.mu);
    bool j = S.joined || (S.attach && S.gen);
    pthread_mutex_unlock(&S.mu);
    return j;
}

/* Connected and attached (fdtab.c's exit handler: no connection just to close). */
bool zpl__conn_live(void);
bool zpl__conn_live(void)
{
    return atomic_load_explicit(&S.ready, memory_order_acquire) && sock_intact();
}

bool zpl_relaxed(void)
{
    return S.consistency == ZP_RELAXED;
}

int zpl_conn_fd(void)
{
    int s = atomic_load(&S.sock);
    if (s >= 0 && fd_same(s, S.sock_dev, S.sock_ino))
        return s;
    int k = S.keep;
    return k >= 0 && fd_same(k, S.keep_dev, S.keep_ino) ? k : -1;
}

int zpl_take_lent(uint64_t tag)
{
    pthread_mutex_lock(&S.mu);
    int fd = S.c ? zoid_take_fd(S.c, tag) : -ENOTCONN;
    pthread_mutex_unlock(&S.mu);
    return fd;
}

int zpl_fail(void)
{
    int e = errno;
    /* EHOSTUNREACH and the like: a connection the network lost (the link cut, the I/O node
     * gone), reported by TCP when its user timeout ends it (transport.c). */
    if (e != ECONNRESET && e != EPIPE && e != ETIMEDOUT && e != EPROTO && e != ENOTCONN &&
        e != ECONNABORTED && e != EIO && e != EHOSTUNREACH && e != ENETUNREACH && e != EHOSTDOWN &&
        e != ENETDOWN)
        return -1;
    /* The daemon may have answered EPIPE itself (a FIFO without readers): a null call tells a
     * broken connection from that. */
    pthread_mutex_lock(&S.mu);
    struct zoid_client *c = S.c;
    bool broken = !c;
    if (c) {
        sigset_t old;
        zpl_sig_block(&old);
        broken = zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 2000) != 0;
        zpl_sig_restore(&old);
    }
    if (broken)
        atomic_store(&S.ready, false);
    pthread_mutex_unlock(&S.mu);
    errno = broken || e == EPROTO ? EIO : e; /* EPROTO: a reply the stubs refused */
    return -1;
}

/* ---- fork and exec state ------------------------------------------------------------------ */

/* In a forked child: the parent's connection is not ours. Its socket stays open (as `keep`)
 * until this process attaches, so that the session outlives the parent if need be. */
void zpl__conn_child(bool has_handles);
void zpl__conn_child(bool has_handles)
{
    pthread_mutex_init(&S.mu, NULL);
    int s = atomic_exchange(&S.sock, -1);
    if (s >= 0 && fd_same(s, S.sock_dev, S.sock_ino)) {
        if (has_handles && S.keep < 0) {
            S.keep = s;
            S.keep_dev = S.sock_dev;
            S.keep_ino = S.sock_ino;
        } else {
            REAL(close)(s);
        }
    }
    /* Without handles of its own, the child must not keep the parent's kept socket (an exec'd
     * image not attached yet) open: that connection's handles would live as long as the child. */
    if (!has_handles)
        drop_keep();
    S.c = NULL;
    /* A stub called before this process connects must not use the parent's connection. */
    zposix_zoid_use(NULL);
    atomic_store(&S.ready, false);
    S.attach = has_handles && S.gen != 0;
}

/* Attaches now rather than at the first forwarded call, so that the inherited handles are
 * adopted before the process can die (a forked child; a spawned image, whose kept socket is the
 * spawning process's). A failure leaves it to the first call, as before. */
void zpl__conn_attach_now(void);
void zpl__conn_attach_now(void)
{
    int e = errno;
    pthread_mutex_lock(&S.mu);
    if (S.attach && !atomic_load(&S.ready))
        connect_locked();
    pthread_mutex_unlock(&S.mu);
    errno = e;
}

void zpl__conn_lock(void);
void zpl__conn_unlock(void);
void zpl__conn_lock(void)
{
    pthread_mutex_lock(&S.mu);
}
void zpl__conn_unlock(void)
{
    pthread_mutex_unlock(&S.mu);
}

/* The session part of ZOID_PRELOAD_STATE: "sid=HEX sec=HEX con=N". mu must not be held. */
int zpl__conn_export(char *buf, size_t len);
int zpl__conn_export(char *buf, size_t len)
{
    pthread_mutex_lock(&S.mu);
    if (!S.gen) {
        pthread_mutex_unlock(&S.mu);
        buf[0] = 0;
        return 0;
    }
    int n = snprintf(buf, len, "sid=%llx con=%d sec=", (unsigned long long)S.sid, S.consistency);
    for (int i = 0; i < ZP_SECRET_BYTES && n + 3 < (int)len; i++)
        n += snprintf(buf + n, len - (size_t)n, "%02x", S.secret[i]);
    pthread_mutex_unlock(&S.mu);
    return 1;
}

/* Imports the session part at start (before any thread). */
void zpl__conn_import(uint64_t sid, const uint8_t *secret, int consistency, int keep,
                      const int *orphans, size_t norphans);
void zpl__conn_import(uint64_t sid, const uint8_t *secret, int consistency, int keep,
                      const int *orphans, size_t norphans)
{
    S.sid = sid;
    memcpy(S.secret, secret, ZP_SECRET_BYTES);
    S.gen = 1;
    S.attach = true;
    S.consistency = consistency;
    if (keep >= 0 && fd_id(keep, &S.keep_dev, &S.keep_ino)) {
        REAL(fcntl)(keep, F_SETFD, FD_CLOEXEC);
        S.keep = keep;
    }
    if (norphans) {
        S.orphans = malloc(norphans * sizeof(int));
        if (S.orphans) {
            memcpy(S.orphans, orphans, norphans * sizeof(int));
            S.norphans = norphans;
        }
    }
}
