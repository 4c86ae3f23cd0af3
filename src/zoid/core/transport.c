/*
 * The unix: and tcp: transports. Both are byte streams on socket descriptors; they differ in how
 * they connect and listen and in who the peer is (SO_PEERCRED on unix sockets, the address on
 * TCP). Sending and receiving go through scatter/gather calls so that bulk data moves between the
 * socket and the caller's memory without a copy; partial transfers are resumed and EAGAIN waits
 * in poll(). A signal interrupts only the wait for a frame (wait), never a frame half read.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "zepto/zoid_settings.h"
#include "zoid/core/transport.h"

#define IOV_BATCH 64

static int remaining_ms(uint64_t deadline)
{
    if (deadline == UINT64_MAX)
        return -1;
    uint64_t now = zb_mono_read();
    return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

static uint64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? UINT64_MAX : zb_mono_read() + (uint64_t)timeout_ms * 1000000u;
}

/* Waits for `events` on fd; 0, -ETIMEDOUT, -EINTR, or the socket's error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    int rc = poll(&p, 1, remaining_ms(deadline));
    if (rc < 0)
        return -errno;
    if (rc == 0)
        return -ETIMEDOUT;
    if ((p.revents & (POLLERR | POLLNVAL)) && !(p.revents & events))
        return -ECONNRESET;
    return 0;
}

/* Moves iov forward past `done` bytes; returns how many entries are left in *cur. */
static int advance(struct iovec *cur, int n, size_t done)
{
    int i = 0;
    while (i < n && done >= cur[i].iov_len)
        done -= cur[i++].iov_len;
    memmove(cur, cur + i, (size_t)(n - i) * sizeof(*cur));
    n -= i;
    if (n) {
        cur[0].iov_base = (char *)cur[0].iov_base + done;
        cur[0].iov_len -= done;
    }
    return n;
}

/* sendv/recvv on a copy of iov, IOV_BATCH entries at a time. timeout_ms: sending, the longest
 * wait without progress (a slow reader that takes bytes goes on); receiving, a total counted from
 * the first wait. */
static int transfer(int fd, const struct iovec *iov, int n, int timeout_ms, bool out, int more)
{
    uint64_t deadline = 0; /* from the first wait on (no clock read when nothing waits) */
    struct iovec cur[IOV_BATCH];
    while (n > 0) {
        int k = n < IOV_BATCH ? n : IOV_BATCH;
        memcpy(cur, iov, (size_t)k * sizeof(*cur));
        iov += k;
        n -= k;
        while (k > 0) {
            /* Skip empty entries so that a zero-length read does not look like the end. */
            if (cur[0].iov_len == 0) {
                k = advance(cur, k, 0);
                continue;
            }
            ssize_t r;
            if (out) {
                struct msghdr m = {.msg_iov = cur, .msg_iovlen = (size_t)k};
                r = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT | more);
            } else { /* the descriptor may block (set_slice): this read must not */
                struct msghdr m = {.msg_iov = cur, .msg_iovlen = (size_t)k};
                r = recvmsg(fd, &m, MSG_DONTWAIT);
            }
            if (r > 0) {
                k = advance(cur, k, (size_t)r);
                if (out) /* sending: a deadline without progress, not a total */
                    deadline = 0;
                continue;
            }
            if (r == 0)
                return -ECONNRESET; /* end of stream */
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return errno == EPIPE ? -ECONNRESET : -errno;
            if (!deadline)
                deadline = deadline_of(timeout_ms);
            int rc = wait_fd(fd, out ? POLLOUT : POLLIN, deadline);
            if (rc && rc != -EINTR)
                return rc;
        }
    }
    return 0;
}

static int sock_wait(int fd, int timeout_ms)
{
    return wait_fd(fd, POLLIN, deadline_of(timeout_ms));
}

int zoid_sock_sendv(int fd, const struct iovec *iov, int n, int timeout_ms)
{
    return transfer(fd, iov, n, timeout_ms, true, 0);
}

/* ---- requests sent by reference (unix: sendv_ref) ---- */

/* Entries this large go by reference; the thread's pipe holds at most REF_PIPE at a time. */
#define REF_MIN  (64u << 10)
#define REF_PIPE (1u << 20)

/* The pipe of one thread; pid and inode tell that it is still this process's and still the
 * pipe made here (a child after fork shares its parent's; a program that closed every
 * descriptor may have a new file under the same numbers). */
struct ref_pipe {
    int rd, wr;
    size_t cap;
    pid_t pid;
    dev_t dev;
    ino_t ino_rd, ino_wr;
};

static pthread_key_t ref_key;
static pthread_once_t ref_once = PTHREAD_ONCE_INIT;
static bool ref_off; /* ZOID_SEND_BY_REFERENCE=0, or no key */

/* System calls made directly: in a program under the interposer (src/zoid/preload), the libc
 * names of these are its own, which may forward to the daemon (a deadlock under the send lock). */
static int raw_fstat(int fd, struct stat *st)
{
    return (int)syscall(SYS_fstat, fd, st);
}

static void raw_close(int fd)
{
    (void)syscall(SYS_close, fd);
}

static bool ref_pipe_ours(const struct ref_pipe *rp);

/* Closes the pipe, when its descriptors are still it. */
static void ref_pipe_free(void *v)
{
    struct ref_pipe *rp = v;
    if (ref_pipe_ours(rp)) {
        raw_close(rp->rd);
        raw_close(rp->wr);
    }
    free(rp);
}

static void ref_init(void)
{
    const char *v = getenv("ZOID_SEND_BY_REFERENCE");
    ref_off = (v && !strcmp(v, "0")) || pthread_key_create(&ref_key, ref_pipe_free);
}

static bool ref_pipe_ours(const struct ref_pipe *rp)
{
    struct stat a, b;
    return rp->pid == (pid_t)syscall(SYS_getpid) && !raw_fstat(rp->rd, &a) &&
           !raw_fstat(rp->wr, &b) && S_ISFIFO(a.st_mode) && a.st_dev == rp->dev &&
           a.st_ino == rp->ino_rd && b.st_dev == rp->dev && b.st_ino == rp->ino_wr;
}

/* The calling thread's pipe, or NULL (then bytes are copied as sendv does). */
static struct ref_pipe *ref_pipe(void)
{
    pthread_once(&ref_once, ref_init);
    if (ref_off)
        return NULL;
    struct ref_pipe *rp = pthread_getspecific(ref_key);
    if (rp && ref_pipe_ours(rp))
        return rp;
    if (rp) { /* not ours any more: its numbers are left alone */
        pthread_setspecific(ref_key, NULL);
        free(rp);
    }
    int fds[2];
    struct stat st;
    if (!(rp = malloc(sizeof(*rp))) || syscall(SYS_pipe2, fds, O_CLOEXEC | O_NONBLOCK)) {
        free(rp);
        return NULL;
    }
    (void)syscall(SYS_fcntl, fds[1], F_SETPIPE_SZ, (int)REF_PIPE);
    int cap = (int)syscall(SYS_fcntl, fds[1], F_GETPIPE_SZ);
    *rp = (struct ref_pipe){
        fds[0], fds[1], cap > 0 ? (size_t)cap : 65536, (pid_t)syscall(SYS_getpid), 0, 0, 0};
    if (!raw_fstat(fds[0], &st)) {
        rp->dev = st.st_dev;
        rp->ino_rd = st.st_ino;
    }
    if (!raw_fstat(fds[1], &st))
        rp->ino_wr = st.st_ino;
    if (pthread_setspecific(ref_key, rp)) {
        ref_pipe_free(rp);
        return NULL;
    }
    return rp;
}

/* A pipe that may hold bytes of a frame not sent: closed, the next is new. */
static void ref_pipe_reset(void)
{
    struct ref_pipe *rp = pthread_getspecific(ref_key);
    if (rp) {
        pthread_setspecific(ref_key, NULL);
        ref_pipe_free(rp);
    }
}

/* len bytes at p: their pages put in the pipe (vmsplice) and spliced into the socket. 0, or
 * -errno; *sent says how many went (the rest are for sendv to copy when it is -EFAULT: memory
 * that cannot be referenced). */
static int send_by_ref(int fd, struct ref_pipe *rp, const char *p, size_t len, bool more,
                       int timeout_ms, size_t *sent)
{
    uint64_t deadline = 0;
    *sent = 0;
    while (*sent < len) {
        struct iovec v = {(void *)(p + *sent), len - *sent < rp->cap ? len - *sent : rp->cap};
        ssize_t k = vmsplice(rp->wr, &v, 1, SPLICE_F_NONBLOCK);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -EFAULT; /* the caller copies the rest */
        size_t in = (size_t)k;
        while (in) {
            bool last = *sent + in == len && !more;
            ssize_t r = splice(rp->rd, NULL, fd, NULL, in,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (last ? 0 : SPLICE_F_MORE));
            if (r > 0) {
                in -= (size_t)r;
                *sent += (size_t)r;
                deadline = 0; /* as sendv: the longest wait without progress */
                continue;
            }
            int rc = r == 0 ? -EIO : errno == EPIPE ? -ECONNRESET : -errno;
            if (r < 0 && errno == EAGAIN) {
                if (!deadline)
                    deadline = deadline_of(timeout_ms);
                rc = wait_fd(fd, POLLOUT, deadline);
            }
            if (r < 0 && (errno == EINTR || rc == -EINTR || !rc))
                continue;
            ref_pipe_reset(); /* the frame is broken: its bytes still in the pipe go with it */
            return rc;
        }
    }
    return 0;
}

static int sendv_ref(int fd, struct ref_pipe *rp, const struct iovec *iov, int n, int timeout_ms)
{
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && iov[j].iov_len < REF_MIN)
            j++;
        int rc = j > i ? transfer(fd, iov + i, j - i, timeout_ms, true, j < n ? MSG_MORE : 0) : 0;
        if (rc || j == n)
            return rc;
        size_t sent;
        rc = send_by_ref(fd, rp, iov[j].iov_base, iov[j].iov_len, j + 1 < n, timeout_ms, &sent);
        if (rc == -EFAULT) { /* memory that cannot be referenced: the rest copied */
            struct iovec rest = {(char *)iov[j].iov_base + sent, iov[j].iov_len - sent};
            rc = transfer(fd, &rest, 1, timeout_ms, true, j + 1 < n ? MSG_MORE : 0);
        }
        if (rc)
            return rc;
        i = j + 1;
    }
    return 0;
}

/* A splice into a socket has no MSG_NOSIGNAL: to a peer gone, it raises SIGPIPE in the calling
 * thread, which in a client's program would kill it (its default action). The signal is blocked
 * in this thread while the frame goes, and one the send raised is taken back (one that was
 * pending before stays pending). */
static int sock_sendv_ref(int fd, const struct iovec *iov, int n, int timeout_ms)
{
    struct ref_pipe *rp = ref_pipe();
    if (!rp)
        return transfer(fd, iov, n, timeout_ms, true, 0);
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    bool was_pending = !sigpending(&pending) && sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int rc = sendv_ref(fd, rp, iov, n, timeout_ms);
    if (rc == -ECONNRESET && !was_pending) {
        struct timespec now = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static int sock_sent_read(int fd, int timeout_ms)
{
    uint64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        int q = 0;
        if (ioctl(fd, SIOCOUTQ, &q) || q <= 0)
            return 0; /* read, or the socket cannot say (then it is gone) */
        if (remaining_ms(deadline) == 0)
            return -ETIMEDOUT;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}

int zoid_sock_sendv_pipe(int fd, const struct iovec *iov, int n, int pipe_rd, size_t len,
                         int timeout_ms)
{
    int held = 0;
    if (ioctl(pipe_rd, FIONREAD, &held) || (size_t)held < len)
        return -EIO; /* an empty pipe would look like a full socket until the timeout */
    int rc = transfer(fd, iov, n, timeout_ms, true, len ? MSG_MORE : 0);
    uint64_t deadline = 0;
    while (!rc && len) {
        ssize_t r = splice(pipe_rd, NULL, fd, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (r > 0) {
            len -= (size_t)r;
            deadline = 0; /* as sendv: the longest wait without progress */
        } else if (r == 0) {
            rc = -EIO;
        } else if (errno == EAGAIN) {
            if (!deadline)
                deadline = deadline_of(timeout_ms);
            rc = wait_fd(fd, POLLOUT, deadline);
            if (rc == -EINTR)
                rc = 0;
        } else if (errno != EINTR) {
            rc = errno == EPIPE ? -ECONNRESET : -errno;
        }
    }
    return rc;
}

int zoid_sock_recvv(int fd, const struct iovec *iov, int n, int timeout_ms)
{
    return transfer(fd, iov, n, timeout_ms, false, 0);
}

static int sock_set_slice(int fd, int slice_ms)
{
    struct timeval tv = {slice_ms / 1000, (slice_ms % 1000) * 1000};
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
        return -errno;
    return 0;
}

static long sock_recv_some(int fd, void *buf, size_t len)
{
    ssize_t r = recv(fd, buf, len, 0);
    if (r > 0)
        return (long)r;
    if (r == 0)
        return -ECONNRESET;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return -ETIMEDOUT;
    return errno == EINTR ? -EINTR : -errno;
}

static void sock_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

static int nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) ? -errno : 0;
}

/* connect() with a timeout on a non-blocking socket. */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
    if (nonblock(fd))
        return -errno;
    if (connect(fd, sa, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EAGAIN)
        return -errno;
    int rc = wait_fd(fd, POLLOUT, deadline_of(timeout_ms));
    if (rc)
        return rc;
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    return -soerr;
}

/* ---- unix: ---- */

static int unix_sockaddr(const struct zoid_addr *a, struct sockaddr_un *sun, socklen_t *len)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    size_t n = strlen(a->path);
    if (n == 0 || n >= sizeof(sun->sun_path))
        return -ENAMETOOLONG;
    memcpy(sun->sun_path, a->path, n);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

int zoid_unix_connect(const struct zoid_addr *a, int timeout_ms, int *fd, struct zepto_err *err)
{
    struct sockaddr_un sun;
    socklen_t len;
    if (unix_sockaddr(a, &sun, &len))
        return zepto_fail(err, ENAMETOOLONG, "unix:%s: path too long", a->path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return zepto_fail(err, errno, "socket: %s", strerror(errno));
    /* Room for a 1 MiB request in flight (the kernel doubles it; net.core.wmem_max caps it):
     * sent by reference, it then goes in one piece instead of waking the daemon for each
     * ~200 KiB (1 MiB writes 2.6-2.8 -> 3.5 GB/s, docs/BENCHMARKS.md). */
    int sndbuf = 1 << 20;
    (void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    int rc = connect_within(s, (struct sockaddr *)&sun, len, timeout_ms);
    if (rc) {
        close(s);
        return zepto_fail(err, -rc, "unix:%s: %s", a->path, strerror(-rc));
    }
    *fd = s;
    return 0;
}

int zoid_unix_listen(const struct zoid_addr *a, int backlog, int *fd, struct zepto_err *err)
{
    struct sockaddr_un sun;
    socklen_t len;
    if (unix_sockaddr(a, &sun, &len))
        return zepto_fail(err, ENAMETOOLONG, "unix:%s: path too long", a->path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return zepto_fail(err, errno, "socket: %s", strerror(errno));
    /* Only a socket is ever replaced: a mistyped path must not cost a file. */
    struct stat st;
    if (lstat(a->path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
        close(s);
        return zepto_fail(err, EEXIST, "unix:%s: exists and is not a socket (left as it is)",
                          a->path);
    }
    /* A socket file left by a daemon that died: remove it only when nobody answers on it. */
    struct zoid_addr probe = *a;
    int old;
    if (zoid_unix_connect(&probe, 200, &old, NULL) == 0) {
        close(old);
        close(s);
        return zepto_fail(err, EADDRINUSE, "unix:%s: a daemon is already listening there", a->path);
    }
    unlink(a->path);
    if (bind(s, (struct sockaddr *)&sun, len) || listen(s, backlog)) {
        int e = errno;
        close(s);
        return zepto_fail(err, e, "unix:%s: %s", a->path, strerror(e));
    }
    *fd = s;
    return 0;
}

int zoid_sock_accept(int lfd, int *fd)
{
    int s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (s < 0)
        return -errno;
    *fd = s;
    return 0;
}

void zoid_unix_identify(int fd, struct zoid_identity *id)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    memset(id, 0, sizeof(*id));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        id->uid = cred.uid;
        id->gid = cred.gid;
        id->pid = cred.pid;
        id->verified = true;
    } else {
        id->pid = -1;
    }
    snprintf(id->peer, sizeof(id->peer), "unix:pid %d uid %u", id->pid, id->uid);
}

bool zoid_unix_loopback(const struct zoid_addr *a)
{
    (void)a;
    return true;
}

/* ---- tcp: ---- */

/* "tcp:HOST:PORT" as the user writes it: an IPv6 host in brackets. */
static const char *tcp_name(const char *host, const char *port, char *buf, size_t len)
{
    bool v6 = strchr(host, ':') != NULL;
    snprintf(buf, len, "tcp:%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);
    return buf;
}

static int tcp_resolve(const struct zoid_addr *a, bool passive, struct addrinfo **res,
                       struct zepto_err *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = passive ? AI_PASSIVE : 0};
    int rc = getaddrinfo(a->host[0] ? a->host : NULL, a->port, &hints, res);
    char nm[300];
    if (rc)
        return zepto_fail(err, EHOSTUNREACH, "%s: %s", tcp_name(a->host, a->port, nm, sizeof(nm)),
                          gai_strerror(rc));
    return 0;
}

/* The bound on a silent TCP peer (ZOID_TCP_TIMEOUT), in seconds; a bad value is the default. */
static int tcp_timeout_s(void)
{
    const char *v = zoid_setting(ZOID_SET_TCP_TIMEOUT, NULL);
    char *end;
    long s = v ? strtol(v, &end, 10) : 0;
    return v && end != v && !*end && s >= 1 && s <= 3600 ? (int)s : ZOID_TCP_TIMEOUT_S;
}

/*
 * A peer that vanishes without closing (its node powered off, the link cut) must not hold a
 * call or a daemon connection forever. Keepalive probes a quiet connection after a quarter of
 * the bound T (ZOID_TCP_TIMEOUT, default 20 s) and then every second; TCP_USER_TIMEOUT = T
 * bounds how long sent data may stay unacknowledged and, with keepalive, how long probes may go
 * unanswered. A call waiting on a dead peer thus fails within about T + 1 s (ETIMEDOUT, or
 * EHOSTUNREACH when the network said why: the clients treat both as a lost connection), and
 * the daemon drops the connection (and releases its handles) as quickly. A long call is not
 * affected: the peer's kernel answers the probes. (docs/zoid-deploy.md)
 */
static void tcp_tune(int s)
{
    int one = 1, t = tcp_timeout_s();
    int idle = t >= 4 ? t / 4 : 1, intvl = 1, cnt = t - idle > 0 ? t - idle : 1;
    unsigned user_timeout = (unsigned)t * 1000u;
    /* Calls are small and latency-bound. */
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Best effort: a kernel without one of these still works, only detects dead peers later. */
    setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    setsockopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
}

static int tcp_connect(const struct zoid_addr *a, int timeout_ms, int *fd, struct zepto_err *err)
{
    struct addrinfo *res;
    int rc = tcp_resolve(a, false, &res, err), last = ECONNREFUSED;
    if (rc)
        return rc;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0)
            continue;
        rc = connect_within(s, ai->ai_addr, ai->ai_addrlen, timeout_ms);
        if (!rc) {
            tcp_tune(s);
            freeaddrinfo(res);
            *fd = s;
            return 0;
        }
        last = -rc;
        close(s);
    }
    freeaddrinfo(res);
    char nm[300];
    return zepto_fail(err, last, "%s: %s", tcp_name(a->host, a->port, nm, sizeof(nm)),
                      strerror(last));
}

static int tcp_listen(const struct zoid_addr *a, int backlog, int *fd, struct zepto_err *err)
{
    struct addrinfo *res;
    int rc = tcp_resolve(a, true, &res, err), last = EADDRNOTAVAIL;
    if (rc)
        return rc;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s < 0)
            continue;
        int one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(s, ai->ai_addr, ai->ai_addrlen) == 0 && listen(s, backlog) == 0) {
            freeaddrinfo(res);
            *fd = s;
            return 0;
        }
        last = errno;
        close(s);
    }
    freeaddrinfo(res);
    char nm[300];
    return zepto_fail(err, last, "%s: %s", tcp_name(a->host, a->port, nm, sizeof(nm)),
                      strerror(last));
}

static void tcp_identify(int fd, struct zoid_identity *id)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[64] = "?", port[16] = "?";
    memset(id, 0, sizeof(*id));
    tcp_tune(fd);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV);
    /* A token holder acts with the daemon's own identity. */
    id->uid = (uint32_t)getuid();
    id->gid = (uint32_t)getgid();
    id->pid = -1;
    tcp_name(host, port, id->peer, sizeof(id->peer));
}

static bool tcp_loopback(const struct zoid_addr *a)
{
    struct addrinfo *res;
    if (tcp_resolve(a, true, &res, NULL))
        return false;
    bool loop = true;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)ai->ai_addr;
            loop &= (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        } else if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ai->ai_addr;
            loop &= IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        } else {
            loop = false;
        }
    }
    freeaddrinfo(res);
    return loop && a->host[0];
}

const struct zoid_transport zoid_unix_transport = {
    .scheme = "unix",
    .connect = zoid_unix_connect,
    .listen = zoid_unix_listen,
    .accept = zoid_sock_accept,
    .identify = zoid_unix_identify,
    .is_loopback = zoid_unix_loopback,
    .sendv = zoid_sock_sendv,
    .recvv = zoid_sock_recvv,
    .wait = sock_wait,
    /* No set_slice: on unix sockets a reply wait through a blocking read with SO_RCVTIMEO was
     * 2 us slower than poll and read (null call 25.4 against 23.2 us); on TCP 1.5 us faster. */
    .close = sock_close,
    .sendv_pipe = zoid_sock_sendv_pipe,
    .sendv_ref = sock_sendv_ref,
    .sent_read = sock_sent_read,
};

static const struct zoid_transport tcp_transport = {
    .scheme = "tcp",
    .connect = tcp_connect,
    .listen = tcp_listen,
    .accept = zoid_sock_accept,
    .identify = tcp_identify,
    .is_loopback = tcp_loopback,
    .sendv = zoid_sock_sendv,
    .recvv = zoid_sock_recvv,
    .wait = sock_wait,
    .set_slice = sock_set_slice,
    .recv_some = sock_recv_some,
    .close = sock_close,
    .sendv_pipe = zoid_sock_sendv_pipe,
};

int zoid_addr_parse(const char *s, struct zoid_addr *a, const struct zoid_transport **t,
                    struct zepto_err *err)
{
    memset(a, 0, sizeof(*a));
    if (!s || !*s)
        return zepto_fail(err, EINVAL, "empty address (use unix:PATH, shm:PATH or tcp:HOST:PORT)");
    if (!strncmp(s, "unix:", 5)) {
        if (!s[5] || strlen(s + 5) >= sizeof(a->path))
            return zepto_fail(err, EINVAL, "'%s': a unix socket path of 1 to %zu bytes", s,
                              sizeof(a->path) - 1);
        snprintf(a->scheme, sizeof(a->scheme), "unix");
        snprintf(a->path, sizeof(a->path), "%s", s + 5);
        *t = &zoid_unix_transport;
        return 0;
    }
    if (!strncmp(s, "tcp:", 4)) {
        const char *hp = s + 4, *colon;
        if (*hp == '[') { /* [v6]:port */
            const char *end = strchr(hp, ']');
            if (!end || end[1] != ':')
                return zepto_fail(err, EINVAL, "'%s': expected tcp:[ADDR]:PORT", s);
            snprintf(a->host, sizeof(a->host), "%.*s", (int)(end - hp - 1), hp + 1);
            colon = end + 1;
        } else {
            colon = strrchr(hp, ':');
            if (!colon)
                return zepto_fail(err, EINVAL, "'%s': expected tcp:HOST:PORT", s);
            if ((size_t)(colon - hp) >= sizeof(a->host))
                return zepto_fail(err, EINVAL, "'%s': host name too long", s);
            snprintf(a->host, sizeof(a->host), "%.*s", (int)(colon - hp), hp);
        }
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || port < 1 || port > 65535)
            return zepto_fail(err, EINVAL, "'%s': the port must be 1 to 65535", s);
        snprintf(a->scheme, sizeof(a->scheme), "tcp");
        snprintf(a->port, sizeof(a->port), "%ld", port);
        *t = &tcp_transport;
        return 0;
    }
    if (!strncmp(s, "shm:", 4)) {
        if (!s[4] || strlen(s + 4) >= sizeof(a->path))
            return zepto_fail(err, EINVAL, "'%s': a unix socket path of 1 to %zu bytes", s,
                              sizeof(a->path) - 1);
        snprintf(a->scheme, sizeof(a->scheme), "shm");
        snprintf(a->path, sizeof(a->path), "%s", s + 4);
        *t = &zoid_shm_transport;
        return 0;
    }
    return zepto_fail(err, EINVAL,
                      "'%s': unknown transport (use unix:PATH, shm:PATH or tcp:HOST:PORT)", s);
}
