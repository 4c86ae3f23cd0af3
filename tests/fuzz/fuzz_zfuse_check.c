/*
 * libFuzzer target for the FUSE client's checks of a daemon's replies (src/zoid/fuse/
 * zfuse_check.c, issue 12). The first input byte picks the check, the rest is the reply: a
 * zp_getdents buffer, a count against what was asked, an lseek result, a struct stat, a struct
 * flock, a zp_getdents_stat buffer (records with their attributes, readdirplus). What a check lets
 * through is then used the way zfuse_ops.c uses it (records read in place from a buffer exactly the
 * reply's size, `got` bytes copied out of an `asked`-byte buffer, ...): ASan sees a read past the
 * reply, and an abort() marks a lie the check let through.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zfuse_check.h"

/* The next n bytes of the input into out (zeros past its end). */
static void take(const uint8_t **data, size_t *size, void *out, size_t n)
{
    size_t k = *size < n ? *size : n;
    memset(out, 0, n);
    memcpy(out, *data, k);
    *data += k;
    *size -= k;
}

static void dirents(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    if (zf_check_dirents(buf, size)) {
        const size_t head = offsetof(struct zf_dirent64, d_name);
        for (size_t pos = 0; pos < size;) {
            const struct zf_dirent64 *e = (const void *)(buf + pos); /* in place, as readdir */
            if (e->d_reclen < head + 2 || e->d_reclen > size - pos || e->d_reclen % 8)
                abort();
            size_t len = strlen(e->d_name);
            if (len == 0 || len >= e->d_reclen - head || memchr(e->d_name, '/', len))
                abort();
            mode_t type = (mode_t)DTTOIF(e->d_type);
            if (type & ~S_IFMT)
                abort();
            if ((!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) && type && !S_ISDIR(type))
                abort();
            pos += e->d_reclen;
        }
    }
    free(buf);
}

/* Records with a struct stat after each name, used as readdir does in readdirplus. */
static void dirents_stat(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    if (zf_check_dirents_stat(buf, size)) {
        for (size_t pos = 0; pos < size;) {
            const struct zf_dirent64 *e = (const void *)(buf + pos);
            size_t at = zf_dirent_stat_at(e);
            if (at + sizeof(struct stat) > e->d_reclen || e->d_reclen > size - pos)
                abort();
            const struct stat *st = (const void *)(buf + pos + at); /* in place, as readdir */
            if (st->st_mode && (st->st_size < 0 || st->st_blocks < 0))
                abort();
            if (st->st_mode && e->d_type != DT_UNKNOWN &&
                (st->st_mode & S_IFMT) != (mode_t)DTTOIF(e->d_type))
                abort();
            pos += e->d_reclen;
        }
    }
    free(buf);
}

static void count(const uint8_t *data, size_t size)
{
    long got;
    uint16_t asked;
    take(&data, &size, &got, sizeof(got));
    take(&data, &size, &asked, sizeof(asked));
    char *reply = malloc(asked ? asked : 1), *out = malloc(asked ? asked : 1);
    if (!reply || !out)
        abort();
    memset(reply, 'r', asked);
    if (zf_check_count(got, asked))
        memcpy(out, reply, (size_t)got); /* what the kernel gets: ASan sees more than asked */
    free(reply);
    free(out);
}

static void seek(const uint8_t *data, size_t size)
{
    int64_t res, off, len;
    uint8_t w;
    take(&data, &size, &res, sizeof(res));
    take(&data, &size, &off, sizeof(off));
    take(&data, &size, &len, sizeof(len));
    take(&data, &size, &w, sizeof(w));
    int whence = w % 5; /* SEEK_SET, CUR, END, DATA, HOLE */
    if (!zf_check_seek(res, off, whence, len))
        return;
    if (res < 0 || (whence == SEEK_SET && res != off) ||
        ((whence == SEEK_DATA || whence == SEEK_HOLE) && res < off) ||
        (whence == SEEK_DATA && len >= 0 && res >= len) ||
        (whence == SEEK_HOLE && len >= 0 && res > len))
        abort();
}

static void stat_reply(const uint8_t *data, size_t size)
{
    uint8_t w;
    struct stat st;
    take(&data, &size, &w, sizeof(w));
    take(&data, &size, &st, sizeof(st));
    mode_t want = w % 3 == 0 ? 0 : w % 3 == 1 ? S_IFDIR : S_IFREG;
    if (!zf_check_stat(&st, want))
        return;
    mode_t type = st.st_mode & S_IFMT;
    if (!S_ISREG(type) && !S_ISDIR(type) && !S_ISLNK(type) && !S_ISCHR(type) && !S_ISBLK(type) &&
        !S_ISFIFO(type) && !S_ISSOCK(type))
        abort();
    if ((want && type != want) || st.st_size < 0 || st.st_blocks < 0)
        abort();
}

static void flock_reply(const uint8_t *data, size_t size)
{
    struct flock fl;
    take(&data, &size, &fl, sizeof(fl));
    if (!zf_check_flock(&fl))
        return;
    if (fl.l_type == F_UNLCK)
        return;
    if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK)
        abort();
    /* The end of the range, as libfuse computes it for the kernel: must not overflow. */
    if (fl.l_start < 0 || fl.l_len < 0 || (fl.l_len && fl.l_start > INT64_MAX - fl.l_len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t which = data[0];
    data++;
    size--;
    switch (which % 6) {
    case 0: dirents(data, size); break;
    case 1: count(data, size); break;
    case 2: seek(data, size); break;
    case 3: stat_reply(data, size); break;
    case 4: flock_reply(data, size); break;
    default: dirents_stat(data, size); break;
    }
    return 0;
}
