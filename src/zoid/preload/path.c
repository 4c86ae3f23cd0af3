/*
 * Which paths are forwarded, and what the daemon is sent for them.
 *
 * A path is forwarded when, lexically normalised (".", ".." and repeated slashes removed, without
 * looking at the file system), it is the mount prefix or lies beneath it: absolute paths, paths
 * relative to a forwarded working directory, and paths relative to a forwarded directory
 * descriptor in an *at call (sent as they are, relative to that handle: the daemon resolves them
 * beneath the export). The prefix is stripped and the rest sent relative to ZP_ROOT. A trailing
 * slash is kept, so that "file/" still fails with ENOTDIR.
 *
 * The forwarded working directory (set by chdir or fchdir into the mount) lives here: the
 * kernel's stays where it was, getcwd() returns the prefix joined with it, and relative paths
 * resolve beneath it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zoid/preload/zpl.h"

static pthread_mutex_t cwd_mu = PTHREAD_MUTEX_INITIALIZER;
static char *cwd_rel; /* beneath the export; NULL: the working directory is local */
/* A handle of the forwarded working directory (O_PATH), opened at first use in each session:
 * relative paths without ".." are sent relative to it, so that a path longer than PATH_MAX in
 * all works as it does locally. The handle of the previous directory is closed one chdir later,
 * so that a thread still using it does not meet a reused handle number. */
static int cwd_h = -1, cwd_old = -1;
static uint64_t cwd_gen;

int zpl_normalise(const char *in, char *out, size_t len)
{
    size_t o = 0;
    if (len < 2)
        return -1;
    out[o++] = '/';
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - s);
        if (n == 1 && s[0] == '.')
            continue;
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (o > 1 && out[o - 1] != '/')
                o--;
            if (o > 1)
                o--; /* the slash before the last component */
            continue;
        }
        if (o > 1) {
            if (o + 1 >= len)
                return -1;
            out[o++] = '/';
        }
        if (o + n >= len)
            return -1;
        memcpy(out + o, s, n);
        o += n;
    }
    out[o] = 0;
    return 0;
}

/* The part of the normalised absolute path `abs` beneath the prefix into rel ("." for the
 * prefix itself); false when abs is not beneath it. */
static bool strip_prefix(const char *abs, char *rel, size_t len)
{
    size_t n = zpl_cfg.prefix_len;
    if (strncmp(abs, zpl_cfg.prefix, n) || (abs[n] && abs[n] != '/'))
        return false;
    const char *r = abs[n] ? abs + n + 1 : ".";
    if (strlen(r) >= len)
        return false;
    strcpy(rel, r);
    return true;
}

bool zpl_cwd_get(char *buf, size_t len)
{
    pthread_mutex_lock(&cwd_mu);
    bool fwd = cwd_rel != NULL;
    if (fwd)
        snprintf(buf, len, "%s", cwd_rel);
    pthread_mutex_unlock(&cwd_mu);
    return fwd;
}

void zpl_cwd_set(const char *rel)
{
    char *n = rel ? strdup(rel) : NULL;
    uint64_t gen = zpl_gen();
    pthread_mutex_lock(&cwd_mu);
    free(cwd_rel);
    cwd_rel = n;
    int stale = cwd_old;
    cwd_old = cwd_gen == gen ? cwd_h : -1;
    cwd_h = -1;
    pthread_mutex_unlock(&cwd_mu);
    if (stale >= 0 && zpl_gen() == gen) {
        int r;
        ZP_CALL(r, zp_close(stale));
        (void)r;
    }
}

/* The forwarded working directory's handle in this session, or -1 with errno. */
static int cwd_handle(void)
{
    if (zpl_conn())
        return -1;
    uint64_t gen = zpl_gen();
    pthread_mutex_lock(&cwd_mu);
    if (cwd_h >= 0 && cwd_gen == gen) {
        int h = cwd_h;
        pthread_mutex_unlock(&cwd_mu);
        return h;
    }
    char *rel = cwd_rel ? strdup(cwd_rel) : NULL;
    pthread_mutex_unlock(&cwd_mu);
    if (!rel) {
        errno = ENOENT;
        return -1;
    }
    int h;
    ZP_CALL(h, zp_openat(ZP_ROOT, rel, O_PATH | O_DIRECTORY, 0));
    if (h < -1 || (h >= 0 && zpl_handle_used(h))) /* a daemon's bad answer */
        h = -1, errno = EPROTO;
    if (h < 0) {
        zpl_fail();
        free(rel);
        return -1;
    }
    pthread_mutex_lock(&cwd_mu);
    if (cwd_rel && !strcmp(cwd_rel, rel) && (cwd_h < 0 || cwd_gen != gen)) {
        cwd_h = h;
        cwd_gen = gen;
    }
    pthread_mutex_unlock(&cwd_mu);
    free(rel);
    return h;
}

static bool has_dotdot(const char *path)
{
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return true;
        p += n;
        while (*p == '/')
            p++;
    }
    return false;
}

/* fork: the working directory's lock is held across it, and new in the child. */
void zpl__cwd_lock(void);
void zpl__cwd_unlock(void);
void zpl__cwd_child(void);
void zpl__cwd_lock(void)
{
    pthread_mutex_lock(&cwd_mu);
}
void zpl__cwd_unlock(void)
{
    pthread_mutex_unlock(&cwd_mu);
}
void zpl__cwd_child(void)
{
    pthread_mutex_init(&cwd_mu, NULL);
    cwd_h = cwd_old = -1; /* the parent's */
}

int zpl_visible_path(const char *rel, char *out, size_t len)
{
    int n = strcmp(rel, ".") ? snprintf(out, len, "%s/%s", zpl_cfg.prefix, rel)
                             : snprintf(out, len, "%s", zpl_cfg.prefix);
    if (n < 0 || (size_t)n >= len) {
        errno = ERANGE;
        return -1;
    }
    return 0;
}

/* Adds "/" to rel when path ended with one (and rel is not the root). */
static int keep_slash(const char *path, char *rel, size_t len)
{
    size_t pl = strlen(path), rl = strlen(rel);
    if (pl && path[pl - 1] == '/' && strcmp(rel, ".")) {
        if (rl + 2 > len) {
            errno = ENAMETOOLONG;
            return -1;
        }
        rel[rl] = '/';
        rel[rl + 1] = 0;
    }
    return 0;
}

/* A last component "." or ".." is kept (rmdir("dir/.") is EINVAL, not a removal of dir): rel
 * becomes the normalised parent joined with it. */
static int keep_last_dot(const char *abs, char *rel, size_t len)
{
    size_t n = strlen(abs);
    while (n > 1 && abs[n - 1] == '/')
        n--;
    size_t s = n;
    while (s > 0 && abs[s - 1] != '/')
        s--;
    size_t last = n - s;
    if (!((last == 1 && abs[s] == '.') || (last == 2 && abs[s] == '.' && abs[s + 1] == '.')))
        return 0;
    char head[PATH_MAX * 2], norm[PATH_MAX * 2], hrel[PATH_MAX];
    snprintf(head, sizeof(head), "%.*s", (int)s, abs);
    if (zpl_normalise(head, norm, sizeof(norm)) || !strip_prefix(norm, hrel, sizeof(hrel)))
        return 0;
    if (strlen(hrel) + 1 + last >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    snprintf(rel, len, "%s/%.*s", hrel, (int)last, abs + s);
    return 0;
}

int zpl_resolve(int dirfd, const char *path, struct zpl_path *p)
{
    p->dir = NULL;
    p->dirh = ZP_ROOT;
    p->at_cwd = false;
    if (!zpl_on() || !path)
        return 0;
    if (!zpl_readable(path)) {
        errno = EFAULT;
        return -1;
    }
    char abs[PATH_MAX * 2];
    if (!path[0]) {
        /* "" names the directory descriptor itself (AT_EMPTY_PATH); with AT_FDCWD and a
         * forwarded working directory it is ENOENT, as the kernel says for a path. */
        if (dirfd == AT_FDCWD) {
            char cwd[PATH_MAX];
            if (!zpl_cwd_get(cwd, sizeof(cwd)))
                return 0;
            errno = ENOENT;
            return -1;
        }
    }
    if (path[0] == '/') {
        /* Quick refusal for the common case: not even the prefix's first bytes. */
        if (strncmp(path, zpl_cfg.prefix, 2) && path[1] != '/' && path[1] != '.')
            return 0;
        if (strlen(path) >= PATH_MAX) {
            errno = ENAMETOOLONG;
            return -1;
        }
        snprintf(abs, sizeof(abs), "%s", path);
    } else if (dirfd != AT_FDCWD) {
        struct zpl_fd *e = zpl_fd_get(dirfd);
        if (!e)
            return 0;
        int h = zpl_fd_handle(e);
        if (h < 0) {
            zpl_fd_put(e);
            return -1;
        }
        if (strlen(path) >= sizeof(p->rel)) {
            zpl_fd_put(e);
            errno = ENAMETOOLONG;
            return -1;
        }
        p->dir = e;
        p->dirh = h;
        strcpy(p->rel, path);
        return 1;
    } else {
        char cwd[PATH_MAX];
        if (!zpl_cwd_get(cwd, sizeof(cwd)))
            return 0;
        if (!has_dotdot(path) && strlen(path) < sizeof(p->rel)) {
            int h = cwd_handle();
            if (h < 0)
                return -1;
            p->dirh = h;
            p->at_cwd = true;
            strcpy(p->rel, path);
            return 1;
        }
        int n = snprintf(abs, sizeof(abs), "%s/%s/%s", zpl_cfg.prefix, cwd, path);
        if (n < 0 || (size_t)n >= sizeof(abs)) {
            errno = ENAMETOOLONG;
            return -1;
        }
    }
    char norm[PATH_MAX * 2];
    if (zpl_normalise(abs, norm, sizeof(norm))) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (!strip_prefix(norm, p->rel, sizeof(p->rel))) {
        if (path[0] == '/')
            return 0;
        /* A relative path leaving the forwarded cwd (../../etc): local, and absolute now that
         * the kernel's working directory is not the program's. */
        if (strlen(norm) >= sizeof(p->rel)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        strcpy(p->rel, norm);
        p->dirh = -1;
        return 2;
    }
    if (keep_last_dot(abs, p->rel, sizeof(p->rel)))
        return -1;
    if (keep_slash(path, p->rel, sizeof(p->rel)))
        return -1;
    return 1;
}

void zpl_path_done(struct zpl_path *p)
{
    zpl_fd_put(p->dir);
    p->dir = NULL;
}

char *zpl_join_rel(const struct zpl_path *p)
{
    char abs[PATH_MAX * 3], norm[PATH_MAX * 3];
    if (p->at_cwd) {
        pthread_mutex_lock(&cwd_mu);
        snprintf(abs, sizeof(abs), "/%s/%s", cwd_rel ? cwd_rel : ".", p->rel);
        pthread_mutex_unlock(&cwd_mu);
    } else if (p->dir) {
        if (!p->dir->path)
            return NULL;
        snprintf(abs, sizeof(abs), "/%s/%s", p->dir->path, p->rel);
    } else {
        snprintf(abs, sizeof(abs), "/%s", p->rel);
    }
    if (zpl_normalise(abs, norm, sizeof(norm)))
        return NULL;
    return strdup(norm[1] ? norm + 1 : ".");
}

/* ---- umask -------------------------------------------------------------------------------- */

ZPL_REAL_DECL(umask);
static atomic_int mask = -1;

mode_t zpl_umask(void)
{
    int m = atomic_load(&mask);
    if (m >= 0)
        return (mode_t)m;
    /* Read without changing it: /proc/self/status has it since Linux 4.7. */
    FILE *f = fopen("/proc/self/status", "re");
    char line[128];
    m = 022;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "Umask:", 6)) {
            m = (int)strtol(line + 6, NULL, 8);
            break;
        }
    if (f)
        fclose(f);
    atomic_store(&mask, m);
    return (mode_t)m;
}

ZPL_API mode_t umask(mode_t m)
{
    mode_t old = REAL(umask)(m);
    atomic_store(&mask, (int)(m & 0777));
    return old;
}
