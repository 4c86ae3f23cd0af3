/*
 * fork and exec under the interposer.
 *
 * fork: the child must not share the parent's connection (their replies would cross), and its
 * descriptors must not be the parent's handles (a close in the child would close the parent's
 * file). So the prepare handler sends buffered writes and makes a second handle (zp_dup) of every
 * forwarded descriptor for the child; the child handler swaps them in, forgets the connection,
 * and at once connects anew, attaches to the parent's session (zp_session_attach), where those
 * handles live, and adopts them (zp_adopt): from then on they close with the child's connection,
 * however the child ends. Until then they belong to the parent's connection (a child killed in
 * that window leaves them open until the parent's connection goes). vfork is fork here (a vfork
 * child would share the parent's memory and its connection).
 *
 * exec: the new image gets ZOID_PRELOAD_STATE in its environment: the session id and secret,
 * the forwarded working directory, each forwarded descriptor with its handle, and a socket of
 * the old connection kept open across the exec so that the session outlives the old image until
 * the new one has attached. The new image attaches at its first forwarded call and adopts the
 * handles; one that never does leaves them to the kept socket's connection, which is its own
 * (a forked child's) and closes when it ends. Descriptors the exec closed (close-on-exec) have
 * their handles closed by the new image. posix_spawn does the same with fresh handles for the
 * child; as the kept socket is then the spawning process's, still in use, the spawned image
 * attaches and adopts at start ("spawn" in the state). Programs
 * started by system() or popen() are spawned inside glibc, which we do not see: they start
 * without the state (a new session, the kernel's working directory).
 *
 * State format: "v1 sid=HEX con=N sec=HEX32 keep=FD [spawn] cwd=HEX fd=KFD,HANDLE,FLAGS,PATHHEX
 * ...".
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zoid/preload/zpl.h"
#include "zoid/preload/zpl_async.h"

ZPL_REAL_DECL(execve);
ZPL_REAL_DECL(execvpe);
ZPL_REAL_DECL(fexecve);
ZPL_REAL_DECL(posix_spawn);
ZPL_REAL_DECL(posix_spawnp);
ZPL_REAL_DECL(fork);
ZPL_REAL_DECL(fcntl);

extern char **environ;

void zpl__conn_child(bool has_handles);
void zpl__conn_lock(void);
void zpl__conn_unlock(void);
int zpl__conn_export(char *buf, size_t len);
void zpl__conn_import(uint64_t sid, const uint8_t *secret, int consistency, int keep,
                      const int *orphans, size_t norphans);
void zpl__conn_attach_now(void);
void zpl__fdtab_child(void);
void zpl__cwd_lock(void);
void zpl__cwd_unlock(void);
void zpl__cwd_child(void);
int zpl__fdtab_import(int kfd, int h, int oflags, const char *path);

#define STATE_VAR "ZOID_PRELOAD_STATE="

/* ---- fork --------------------------------------------------------------------------------- */

static void prep_one(int fd, struct zpl_fd *e, void *arg)
{
    (void)fd;
    (void)arg;
    e->child_h = -1;
    if (e->h < 0 || e->gen != zpl_gen())
        return;
    int h2;
    ZP_CALL(h2, zp_dup(e->h));
    e->child_h = h2 < 0 ? -1 : h2;
}

static void count_one(int fd, struct zpl_fd *e, void *arg)
{
    (void)fd;
    (void)e;
    (*(int *)arg)++;
}

static void reset_one(int fd, struct zpl_fd *e, void *arg)
{
    (void)fd;
    (void)arg;
    e->child_h = -1;
}

static void at_prepare(void)
{
    if (!zpl_cfg.active)
        return;
    zpl_flush_all();
    zpl_aio_quiesce(); /* before the connection's lock below */
    int n = 0;
    zpl_fd_each(count_one, &n);
    zpl_fd_each(reset_one, NULL);
    if (n && !zpl_conn())
        zpl_fd_each(prep_one, NULL);
    zpl__conn_lock();
    zpl__cwd_lock();
}

static void at_parent(void)
{
    if (!zpl_cfg.active)
        return;
    zpl__cwd_unlock();
    zpl__conn_unlock();
}

static void child_one(int fd, struct zpl_fd *e, void *arg)
{
    (void)fd;
    (void)arg;
    e->h = e->child_h;
    e->child_h = -1;
}

static void at_child(void)
{
    if (!zpl_cfg.active)
        return;
    zpl__cwd_child();
    zpl__fdtab_child();
    int n = 0;
    zpl_fd_each(count_one, &n);
    zpl_fd_each(child_one, NULL);
    zpl__conn_child(n > 0);
    if (n > 0)
        zpl__conn_attach_now();
}

void zpl_atfork_setup(void)
{
    pthread_atfork(at_prepare, at_parent, at_child);
}

ZPL_API pid_t vfork(void)
{
    return REAL(fork)();
}

/* ---- the state ---------------------------------------------------------------------------- */

struct sbuf {
    char *s;
    size_t len, cap;
    bool failed;
};

static void put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap <= b->len + (size_t)n)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

static void put_hex(struct sbuf *b, const char *s)
{
    if (!s || !*s) {
        put(b, "-");
        return;
    }
    for (; *s; s++)
        put(b, "%02x", (unsigned char)*s);
}

struct fd_walk {
    struct sbuf *b;
    struct zpl_exec *x;
    bool spawn;
};

static void export_one(int fd, struct zpl_fd *e, void *arg)
{
    struct fd_walk *w = arg;
    if (e->h < 0 || e->gen != zpl_gen())
        return;
    int h = e->h;
    if (w->spawn) {
        /* The spawned child keeps only what is not close-on-exec, on handles of its own. */
        int fl = REAL(fcntl)(fd, F_GETFD);
        if (fl < 0 || (fl & FD_CLOEXEC))
            return;
        int h2 = -1;
        if (!zpl_conn() && e->gen == zpl_gen())
            ZP_CALL(h2, zp_dup(h));
        if (h2 < 0)
            return;
        int *d = realloc(w->x->dups, (w->x->ndups + 1) * sizeof(int));
        if (!d) {
            ZP_CALL(h2, zp_close(h2));
            return;
        }
        w->x->dups = d;
        d[w->x->ndups++] = h2;
        h = h2;
    }
    put(w->b, " fd=%d,%d,%d,", fd, h, e->oflags);
    put_hex(w->b, e->path);
}

int zpl_exec_prepare(struct zpl_exec *x, char *const envp[], bool spawn)
{
    memset(x, 0, sizeof(*x));
    x->keep = -1;
    zpl_flush_all();
    zpl_aio_quiesce(); /* closes in flight (relaxed) reach the daemon before the image goes */
    struct sbuf b = {0};
    char sess[256], cwd[PATH_MAX];
    put(&b, "%sv1", STATE_VAR);
    bool any = false;
    if (zpl__conn_export(sess, sizeof(sess))) {
        put(&b, " %s", sess);
        int keep = zpl_conn_fd();
        if (keep >= 0 && REAL(fcntl)(keep, F_SETFD, 0) == 0) {
            x->keep = keep;
            put(&b, " keep=%d", keep);
        }
        if (spawn)
            put(&b, " spawn");
        struct fd_walk w = {&b, x, spawn};
        zpl_fd_each(export_one, &w);
        any = true;
    }
    if (zpl_cwd_get(cwd, sizeof(cwd))) {
        put(&b, " cwd=");
        put_hex(&b, cwd);
        any = true;
    }
    size_t n = 0;
    while (envp && envp[n])
        n++;
    x->env = malloc((n + 2) * sizeof(char *));
    if (!x->env || b.failed) {
        free(b.s);
        zpl_exec_finish(x, true);
        errno = ENOMEM;
        return -1;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], STATE_VAR, sizeof(STATE_VAR) - 1))
            x->env[o++] = envp[i];
    if (any) {
        x->state = b.s;
        x->env[o++] = b.s;
    } else {
        free(b.s);
    }
    x->env[o] = NULL;
    return 0;
}

void zpl_exec_finish(struct zpl_exec *x, bool failed)
{
    if (x->keep >= 0)
        REAL(fcntl)(x->keep, F_SETFD, FD_CLOEXEC);
    if (failed) {
        for (size_t i = 0; i < x->ndups; i++) {
            int r;
            ZP_CALL(r, zp_close(x->dups[i]));
            (void)r;
        }
    }
    free(x->dups);
    free(x->state);
    free(x->env);
    memset(x, 0, sizeof(*x));
    x->keep = -1;
}

static int unhex(const char *s, size_t n, char *out, size_t len)
{
    if (n == 1 && s[0] == '-') {
        out[0] = 0;
        return 0;
    }
    if (n % 2 || n / 2 >= len)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (char)v;
    }
    out[n / 2] = 0;
    return 0;
}

void zpl_state_import(const char *state)
{
    if (strncmp(state, "v1", 2))
        return;
    uint64_t sid = 0;
    uint8_t secret[ZP_SECRET_BYTES] = {0};
    int con = ZP_STRICT, keep = -1;
    bool have_sid = false, spawned = false;
    int orphans[256];
    size_t norphans = 0;
    char path[PATH_MAX];
    for (const char *p = state + 2; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (!n)
            break;
        if (!strncmp(p, "sid=", 4)) {
            sid = strtoull(p + 4, NULL, 16);
            have_sid = true;
        } else if (!strncmp(p, "con=", 4)) {
            con = atoi(p + 4);
        } else if (!strncmp(p, "sec=", 4) && n == 4 + 2 * ZP_SECRET_BYTES) {
            for (int i = 0; i < ZP_SECRET_BYTES; i++) {
                unsigned v = 0;
                sscanf(p + 4 + 2 * i, "%2x", &v);
                secret[i] = (uint8_t)v;
            }
        } else if (n == 5 && !strncmp(p, "spawn", 5)) {
            spawned = true;
        } else if (!strncmp(p, "keep=", 5)) {
            keep = atoi(p + 5);
        } else if (!strncmp(p, "cwd=", 4)) {
            if (!unhex(p + 4, n - 4, path, sizeof(path)) && path[0])
                zpl_cwd_set(path);
        } else if (!strncmp(p, "fd=", 3)) {
            int kfd, h, fl, used = 0;
            if (sscanf(p + 3, "%d,%d,%d,%n", &kfd, &h, &fl, &used) == 3 && used &&
                (size_t)used + 3 <= n &&
                !unhex(p + 3 + used, n - 3 - (size_t)used, path, sizeof(path))) {
                /* Still open: the descriptor is ours. Gone (close-on-exec): its handle is
                 * closed once attached. */
                if (REAL(fcntl)(kfd, F_GETFD) >= 0)
                    zpl__fdtab_import(kfd, h, fl, path[0] ? path : NULL);
                else if (norphans < sizeof(orphans) / sizeof(orphans[0]))
                    orphans[norphans++] = h;
            }
        }
        p += n;
    }
    if (have_sid) {
        zpl__conn_import(sid, secret, con, keep, orphans, norphans);
        if (spawned)
            zpl__conn_attach_now();
    }
}

/* ---- exec --------------------------------------------------------------------------------- */

ZPL_API int execve(const char *path, char *const argv[], char *const envp[])
{
    if (!zpl_on())
        return REAL(execve)(path, argv, envp);
    if (zpl_exec_check(path, false))
        return -1;
    struct zpl_exec x;
    if (zpl_exec_prepare(&x, envp, false))
        return -1;
    int rc = REAL(execve)(path, argv, x.env);
    int e = errno;
    zpl_exec_finish(&x, true);
    errno = e;
    return rc;
}

ZPL_API int execv(const char *path, char *const argv[])
{
    return execve(path, argv, environ);
}

ZPL_API int execvpe(const char *file, char *const argv[], char *const envp[])
{
    if (!zpl_on())
        return REAL(execvpe)(file, argv, envp);
    if (zpl_exec_check(file, true))
        return -1;
    struct zpl_exec x;
    if (zpl_exec_prepare(&x, envp, false))
        return -1;
    int rc = REAL(execvpe)(file, argv, x.env);
    int e = errno;
    zpl_exec_finish(&x, true);
    errno = e;
    return rc;
}

ZPL_API int execvp(const char *file, char *const argv[])
{
    return execvpe(file, argv, environ);
}

ZPL_API int fexecve(int fd, char *const argv[], char *const envp[])
{
    if (!zpl_on())
        return REAL(fexecve)(fd, argv, envp);
    if (zpl_fd_is(fd)) { /* the kernel cannot run what it cannot read */
        errno = ENOEXEC;
        return -1;
    }
    struct zpl_exec x;
    if (zpl_exec_prepare(&x, envp, false))
        return -1;
    int rc = REAL(fexecve)(fd, argv, x.env);
    int e = errno;
    zpl_exec_finish(&x, true);
    errno = e;
    return rc;
}

/* The execl family: the arguments into an array (execle's environment follows the NULL). */
#define MAX_ARGS 4096
#define COLLECT(arg0, argv, ap)                                                                    \
    do {                                                                                           \
        size_t n_ = 0;                                                                             \
        argv[n_++] = (char *)arg0;                                                                 \
        while (argv[n_ - 1] && n_ < MAX_ARGS)                                                      \
            argv[n_++] = va_arg(ap, char *);                                                       \
        if (argv[n_ - 1]) {                                                                        \
            va_end(ap);                                                                            \
            errno = E2BIG;                                                                         \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

ZPL_API int execl(const char *path, const char *arg, ...)
{
    char *argv[MAX_ARGS];
    va_list ap;
    va_start(ap, arg);
    COLLECT(arg, argv, ap);
    va_end(ap);
    return execve(path, argv, environ);
}

ZPL_API int execlp(const char *file, const char *arg, ...)
{
    char *argv[MAX_ARGS];
    va_list ap;
    va_start(ap, arg);
    COLLECT(arg, argv, ap);
    va_end(ap);
    return execvpe(file, argv, environ);
}

ZPL_API int execle(const char *path, const char *arg, ...)
{
    char *argv[MAX_ARGS];
    va_list ap;
    va_start(ap, arg);
    COLLECT(arg, argv, ap);
    char **envp = va_arg(ap, char **);
    va_end(ap);
    return execve(path, argv, envp);
}

/* ---- posix_spawn -------------------------------------------------------------------------- */

ZPL_API int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (!zpl_on())
        return REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
    if (zpl_exec_check(path, false))
        return errno;
    struct zpl_exec x;
    if (zpl_exec_prepare(&x, envp, true))
        return errno;
    int rc = REAL(posix_spawn)(pid, path, fa, attr, argv, x.env);
    zpl_exec_finish(&x, rc != 0);
    return rc;
}

ZPL_API int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                         const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (!zpl_on())
        return REAL(posix_spawnp)(pid, file, fa, attr, argv, envp);
    if (zpl_exec_check(file, true))
        return errno;
    struct zpl_exec x;
    if (zpl_exec_prepare(&x, envp, true))
        return errno;
    int rc = REAL(posix_spawnp)(pid, file, fa, attr, argv, x.env);
    zpl_exec_finish(&x, rc != 0);
    return rc;
}
