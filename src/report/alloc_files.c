/*
 * The small files the tasks of an allocation report leave for each other in the shared
 * directory: `key value` lines, written atomically (a temporary name, then rename) so that a
 * reader sees a whole file or none, and parsed strictly since another task (or an earlier job's
 * leftover) wrote them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/alloc.h"

#define KV_FILE_MAX (64 * 1024)

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || c == '_';
}

int zr_kv_parse(const char *buf, size_t len, const char *what, struct zr_kv *kv,
                struct zepto_err *err)
{
    memset(kv, 0, sizeof(*kv));
    size_t line = 0;
    for (size_t i = 0; i < len;) {
        const char *s = buf + i;
        const char *nl = memchr(s, '\n', len - i);
        size_t l = nl ? (size_t)(nl - s) : len - i;
        i += l + (nl ? 1 : 0);
        line++;
        if (!l)
            continue;
        if (memchr(s, 0, l))
            return zepto_fail(err, EINVAL, "%s: line %zu: a NUL byte", what, line);
        size_t k = 0;
        while (k < l && key_char(s[k]))
            k++;
        if (!k || k >= sizeof(kv->key[0]) || (k < l && s[k] != ' '))
            return zepto_fail(err, EINVAL, "%s: line %zu: not 'key value'", what, line);
        size_t v = k < l ? l - k - 1 : 0;
        if (v >= ZR_KV_VAL_MAX)
            return zepto_fail(err, EINVAL, "%s: line %zu: value longer than %d bytes", what, line,
                              ZR_KV_VAL_MAX - 1);
        if (kv->n >= ZR_KV_MAX)
            return zepto_fail(err, EINVAL, "%s: more than %d keys", what, ZR_KV_MAX);
        memcpy(kv->key[kv->n], s, k);
        memcpy(kv->val[kv->n], s + k + (k < l ? 1 : 0), v);
        kv->n++;
    }
    return 0;
}

int zr_kv_read(const char *path, struct zr_kv *kv, struct zepto_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    char *buf = malloc(KV_FILE_MAX + 1);
    if (!buf) {
        close(fd);
        return zepto_fail(err, ENOMEM, "out of memory");
    }
    size_t len = 0;
    ssize_t r;
    while (len <= KV_FILE_MAX && (r = read(fd, buf + len, KV_FILE_MAX + 1 - len)) > 0)
        len += (size_t)r;
    int rc;
    if (r < 0)
        rc = zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    else if (len > KV_FILE_MAX)
        rc = zepto_fail(err, EFBIG, "%s: larger than %d bytes", path, KV_FILE_MAX);
    else
        rc = zr_kv_parse(buf, len, path, kv, err);
    free(buf);
    close(fd);
    return rc;
}

const char *zr_kv_get(const struct zr_kv *kv, const char *key)
{
    for (unsigned i = 0; i < kv->n; i++)
        if (!strcmp(kv->key[i], key))
            return kv->val[i];
    return NULL;
}

int zr_write_atomic(const char *path, const char *text, struct zepto_err *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return zepto_fail(err, errno, "%s: %s", tmp, strerror(errno));
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return zepto_fail(err, e, "%s: %s", tmp, strerror(e));
        }
        off += (size_t)w;
    }
    if (close(fd) || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return zepto_fail(err, e, "%s: %s", path, strerror(e));
    }
    return 0;
}
