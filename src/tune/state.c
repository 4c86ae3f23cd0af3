/*
 * The state file of zepto tune: every change with its old and new value, the host and the boot
 * it belongs to, and a checksum. Written atomically (a temporary file, fsync, rename) before the
 * first change is made, so that a restore works after a crash; read back with checks, because a
 * root process writes what it says into /proc and /sys: the file must be owned by the caller and
 * writable by no one else, and every path in it must lie under the trees zepto tune touches.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tune/tune_int.h"

#define STATE_MAGIC "zepto-tune-state 1"

/* Field encoding: bytes outside printable ASCII, space and '%' as %XX; "" as "%-". */
static void put_field(FILE *f, const char *s)
{
    fputc(' ', f);
    if (!*s) {
        fputs("%-", f);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '%' || *p >= 0x7f)
            fprintf(f, "%%%02X", *p);
        else
            fputc(*p, f);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Removes the temporary files of writers of path that died before their rename ("PATH.tmp.PID"
 * of a process that is gone, a regular file of ours): an apply killed half-way leaves one. */
static void drop_stale_tmps(const char *path)
{
    char dir[PATH_MAX], prefix[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, sizeof(dir), ".");
        snprintf(prefix, sizeof(prefix), "%s.tmp.", path);
    } else {
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) ? (int)(slash - path) : 1, path);
        snprintf(prefix, sizeof(prefix), "%s.tmp.", slash + 1);
    }
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t pl = strlen(prefix);
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, pl))
            continue;
        char *end;
        long pid = strtol(e->d_name + pl, &end, 10);
        struct stat st;
        if (*end || pid <= 0 || pid > INT_MAX || !(kill((pid_t)pid, 0) && errno == ESRCH) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid())
            continue;
        unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}
/* Decodes one field in place; -1 on a malformed escape or a NUL byte. */
static int get_field(char *s)
{
    if (!strcmp(s, "%-")) {
        s[0] = '\0';
        return 0;
    }
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p != '%') {
            *o++ = *p;
            continue;
        }
        int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
        if (h < 0 || l < 0 || (h == 0 && l == 0))
            return -1;
        *o++ = (char)(h * 16 + l);
        p += 2;
    }
    *o = '\0';
    return 0;
}

static void identity(char *host, size_t hl, char *boot, size_t bl)
{
    if (zt_read("/proc/sys/kernel/hostname", host, hl))
        snprintf(host, hl, "unknown");
    if (zt_read("/proc/sys/kernel/random/boot_id", boot, bl))
        snprintf(boot, bl, "unknown");
}

static int mkdirs(const char *path)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(dir, 0755) && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    if (mkdir(dir, 0755) && errno != EEXIST)
        return -errno;
    return 0;
}

int zt_state_write(const struct zepto_tune_plan *p, const char *path, const char *phase,
                   struct zepto_err *err)
{
    char host[256], boot[64], tmp[600];
    identity(host, sizeof(host), boot, sizeof(boot));
    int rc = mkdirs(path);
    if (rc)
        return zepto_fail(err, -rc, "state file '%s': cannot make its directory: %s", path,
                          strerror(-rc));
    char *body = NULL;
    size_t blen = 0;
    FILE *m = open_memstream(&body, &blen);
    if (!m)
        return zepto_fail(err, ENOMEM, "state file '%s': out of memory", path);
    fprintf(m, STATE_MAGIC "\nhost");
    put_field(m, host);
    fprintf(m, "\nboot");
    put_field(m, boot);
    fprintf(m, "\nphase %s\napp", phase);
    put_field(m, p->app_cpus);
    fprintf(m, "\nhousekeeping");
    put_field(m, p->housekeeping);
    fputc('\n', m);
    for (unsigned i = 0; i < p->count; i++) {
        const struct zepto_tune_change *c = &p->changes[i];
        fprintf(m, "change %d %d %d %d %llu %d", (int)c->kind, (int)c->group, (int)c->vtype, c->pid,
                c->starttime, (int)c->status);
        put_field(m, c->target);
        put_field(m, c->comm);
        put_field(m, c->old_value);
        put_field(m, c->new_value);
        put_field(m, c->why);
        put_field(m, c->affinity);
        fputc('\n', m);
    }
    if (fclose(m)) {
        free(body);
        return zepto_fail(err, ENOMEM, "state file '%s': out of memory", path);
    }
    unsigned long sum = crc32(0L, (const Bytef *)body, (uInt)blen);
    drop_stale_tmps(path);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = errno;
        free(body);
        return zepto_fail(err, rc, "state file '%s': %s", tmp, strerror(rc));
    }
    char tail[64];
    int tl = snprintf(tail, sizeof(tail), "sum %08lx\n", sum);
    rc = 0;
    if (write(fd, body, blen) != (ssize_t)blen || write(fd, tail, (size_t)tl) != tl || fsync(fd))
        rc = errno ? errno : EIO;
    free(body);
    if (close(fd) && !rc)
        rc = errno;
    if (!rc && rename(tmp, path))
        rc = errno;
    if (rc) {
        unlink(tmp);
        return zepto_fail(err, rc, "state file '%s': %s", path, strerror(rc));
    }
    return 0;
}

/* The trees a state file may name: nothing else is ever written from one. */
static bool allowed_path(const char *rel)
{
    static const char *const roots[] = {"/proc/irq/", "/proc/sys/", "/sys/devices/",
                                        "/sys/kernel/mm/", "/sys/fs/cgroup/"};
    if (strstr(rel, "/..") || strstr(rel, "/./"))
        return false;
    if (!strcmp(rel, "/sys/fs/cgroup")) /* the v2 hierarchy itself (a move's target) */
        return true;
    if (!strcmp(rel, "/sys/module/page_reporting/parameters/page_reporting_order"))
        return true; /* the one module parameter the plan changes */
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
        if (!strncmp(rel, roots[i], strlen(roots[i])))
            return true;
    return false;
}

static int parse_change(char *line, struct zepto_tune_plan *p)
{
    int kind, group, vtype, pid, status, n = 0;
    unsigned long long start;
    if (sscanf(line, "change %d %d %d %d %llu %d %n", &kind, &group, &vtype, &pid, &start, &status,
               &n) != 6 ||
        !n)
        return -1;
    if (kind < ZT_KIND_FILE || kind > ZT_KIND_SERVICE || group < 0 || group >= ZT_GROUP_COUNT ||
        vtype < ZT_VALUE_TEXT || vtype > ZT_VALUE_CHOICE || status < ZT_PENDING ||
        status > ZT_RESTORED || pid < 0)
        return -1;
    char *f[6], *save = NULL, *s = line + n;
    for (int i = 0; i < 6; i++, s = NULL) {
        f[i] = strtok_r(s, " ", &save);
        if (!f[i] || get_field(f[i]))
            return -1;
    }
    if (strtok_r(NULL, " ", &save))
        return -1;
    /* A move names two cpusets of its hierarchy: "/" or "/NAME...", never a way out of it. */
    if (kind == ZT_KIND_CGMOVE &&
        (f[2][0] != '/' || f[3][0] != '/' || strstr(f[2], "..") || strstr(f[3], "..")))
        return -1;
    if (kind == ZT_KIND_SERVICE) {
        if (!zt_service_valid(f[0], f[3]))
            return -1;
    } else if ((kind != ZT_KIND_AFFINITY && !allowed_path(f[0])) ||
               (kind == ZT_KIND_AFFINITY && pid <= 0) || (kind == ZT_KIND_CGMOVE && pid <= 0))
        return -1;
    if (zt_plan_add(p, (enum zepto_tune_group)group, (enum zepto_tune_kind)kind,
                    (enum zepto_tune_value)vtype, f[0], f[2], f[3], f[4]))
        return -2;
    struct zepto_tune_change *c = &p->changes[p->count - 1];
    c->pid = pid;
    c->starttime = start;
    c->status = (enum zepto_tune_status)status;
    snprintf(c->comm, sizeof(c->comm), "%s", f[1]);
    snprintf(c->affinity, sizeof(c->affinity), "%s", f[5]);
    return 0;
}

static int read_all(const char *path, char **out, size_t *len, struct zepto_err *err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return -ENOENT;
        return zepto_fail(err, e, "state file '%s': %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return zepto_fail(err, EINVAL, "state file '%s': not a regular file", path);
    }
    if (st.st_uid != geteuid() || (st.st_mode & 022)) {
        close(fd);
        if (st.st_uid != geteuid())
            return zepto_fail(err, EPERM,
                              "state file '%s': owned by uid %u: not trusted (it must belong to "
                              "uid %u, mode 0600)",
                              path, (unsigned)st.st_uid, (unsigned)geteuid());
        return zepto_fail(err, EPERM,
                          "state file '%s': mode %04o lets others write it: not trusted (mode "
                          "0600)",
                          path, (unsigned)(st.st_mode & 07777));
    }
    if (st.st_size > (64 << 20)) {
        close(fd);
        return zepto_fail(err, EFBIG, "state file '%s': larger than 64 MiB", path);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t r = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (r != st.st_size) {
        free(buf);
        return zepto_fail(err, EIO, "state file '%s': short read", path);
    }
    buf[r] = '\0';
    *out = buf;
    *len = (size_t)r;
    return 0;
}

int zt_state_parse(char *buf, size_t len, const char *path, struct zepto_tune_plan *p, char *phase,
                   size_t plen, char *host, size_t hl, char *boot, size_t bl, struct zepto_err *err)
{
    memset(p, 0, sizeof(*p));
    host[0] = boot[0] = '\0';
    snprintf(phase, plen, "?");
    /* The checksum line is the last; it covers everything before it. */
    char *sumline = len > 1 ? memrchr(buf, '\n', len - 1) : NULL;
    sumline = sumline ? sumline + 1 : buf;
    unsigned long want;
    if (len < sizeof(STATE_MAGIC) || strncmp(buf, STATE_MAGIC "\n", sizeof(STATE_MAGIC)) ||
        memchr(buf, '\0', len) || sscanf(sumline, "sum %lx", &want) != 1 ||
        crc32(0L, (const Bytef *)buf, (uInt)(sumline - buf)) != want)
        return zepto_fail(err, EINVAL,
                          "state file '%s': corrupted (bad header or checksum); the values it "
                          "saved cannot be trusted: restore by hand or remove it",
                          path);
    *sumline = '\0';
    char *save = NULL;
    unsigned lineno = 1;
    int rc = 0;
    for (char *line = strtok_r(buf + sizeof(STATE_MAGIC), "\n", &save); line && !rc;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char v[300];
        if (sscanf(line, "host %255s", v) == 1 && !get_field(v))
            snprintf(host, hl, "%s", v);
        else if (sscanf(line, "boot %63s", v) == 1 && !get_field(v))
            snprintf(boot, bl, "%s", v);
        else if (sscanf(line, "phase %31s", v) == 1)
            snprintf(phase, plen, "%s", v);
        else if (sscanf(line, "app %255s", v) == 1 && !get_field(v))
            snprintf(p->app_cpus, sizeof(p->app_cpus), "%s", v);
        else if (sscanf(line, "housekeeping %255s", v) == 1 && !get_field(v))
            snprintf(p->housekeeping, sizeof(p->housekeeping), "%s", v);
        else if (!strncmp(line, "change ", 7)) {
            int r = parse_change(line, p);
            if (r == -2)
                rc = zepto_fail(err, ENOMEM, "state file '%s': out of memory", path);
            else if (r)
                rc = zepto_fail(err, EINVAL, "state file '%s' line %u: not a valid change", path,
                                lineno);
        } else
            rc = zepto_fail(err, EINVAL, "state file '%s' line %u: unknown line", path, lineno);
    }
    if (rc)
        zepto_tune_plan_free(p);
    return rc;
}

int zt_state_read(const char *path, struct zepto_tune_plan *p, char *phase, size_t plen,
                  struct zepto_err *err)
{
    memset(p, 0, sizeof(*p));
    char *buf = NULL;
    size_t len = 0;
    int rc = read_all(path, &buf, &len, err);
    if (rc)
        return rc;
    char host[256], boot[64], f_host[256], f_boot[64];
    rc = zt_state_parse(buf, len, path, p, phase, plen, f_host, sizeof(f_host), f_boot,
                        sizeof(f_boot), err);
    free(buf);
    if (rc)
        return rc;
    identity(host, sizeof(host), boot, sizeof(boot));
    if (strcmp(f_host, host))
        rc = zepto_fail(err, EINVAL, "state file '%s': from host '%s', this is '%s'", path, f_host,
                        host);
    else if (strcmp(f_boot, boot))
        rc = zepto_fail(err, ESTALE,
                        "state file '%s': from another boot (%s, now %s): the kernel values it "
                        "saved were reset by the reboot; remove it",
                        path, f_boot, boot);
    if (rc)
        zepto_tune_plan_free(p);
    return rc;
}
