/*
 * The FUSE client's checks of the daemon's replies (zfuse_check.h). The generated stubs already
 * refuse a count larger than the buffer they were given; these checks hold the client to what it
 * asked (which may be less than the buffer) and cover what the stubs cannot know: the records of
 * a listing, what an offset or an attribute means. Fuzzed by fuzz.zfuse_check.
 */
#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "zfuse_check.h"

bool zf_check_count(long got, size_t asked)
{
    return got >= 0 && (unsigned long)got <= asked;
}

static bool known_dtype(unsigned char t)
{
    switch (t) {
    case DT_UNKNOWN:
    case DT_FIFO:
    case DT_CHR:
    case DT_DIR:
    case DT_BLK:
    case DT_REG:
    case DT_LNK:
    case DT_SOCK: return true;
    default: return false;
    }
}

bool zf_check_dirents(const void *buf, size_t n)
{
    const char *b = buf;
    const size_t head = offsetof(struct zf_dirent64, d_name);
    size_t pos = 0;
    while (pos < n) {
        if (n - pos < head + 2) /* a record is at least its header, one name byte and a NUL */
            return false;
        struct zf_dirent64 e;
        memcpy(&e, b + pos, head);
        if (e.d_reclen < head + 2 || e.d_reclen > n - pos || e.d_reclen % 8)
            return false;
        const char *name = b + pos + head;
        const char *nul = memchr(name, '\0', e.d_reclen - head);
        if (!nul || nul == name || memchr(name, '/', (size_t)(nul - name)))
            return false;
        if (!known_dtype(e.d_type))
            return false;
        bool dots = strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
        if (dots && e.d_type != DT_DIR && e.d_type != DT_UNKNOWN)
            return false;
        pos += e.d_reclen;
    }
    return true;
}

bool zf_check_seek(int64_t res, int64_t off, int whence, int64_t size)
{
    if (res < 0)
        return false;
    switch (whence) {
    case SEEK_SET: return res == off;
    case SEEK_DATA: return res >= off && (size < 0 || res < size);
    case SEEK_HOLE: return res >= off && (size < 0 || res <= size);
    default: return true;
    }
}

bool zf_check_stat(const struct stat *st, mode_t want)
{
    mode_t type = st->st_mode & S_IFMT;
    switch (type) {
    case S_IFREG:
    case S_IFDIR:
    case S_IFLNK:
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK: break;
    default: return false;
    }
    if (want && type != want)
        return false;
    return st->st_size >= 0 && st->st_blocks >= 0 && st->st_blksize >= 0;
}

bool zf_check_flock(const struct flock *fl)
{
    if (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK && fl->l_type != F_UNLCK)
        return false;
    if (fl->l_type == F_UNLCK)
        return true; /* no lock: the rest is not used */
    if (fl->l_whence != SEEK_SET || fl->l_start < 0 || fl->l_len < 0)
        return false;
    return fl->l_len == 0 || fl->l_start <= INT64_MAX - fl->l_len;
}

size_t zf_dirent_stat_at(const struct zf_dirent64 *e)
{
    size_t len = strlen(e->d_name);
    return (offsetof(struct zf_dirent64, d_name) + len + 1 + 7) & ~(size_t)7;
}

bool zf_check_dirents_stat(const void *buf, size_t n)
{
    if (!zf_check_dirents(buf, n))
        return false;
    const char *b = buf;
    for (size_t pos = 0; pos < n;) {
        const struct zf_dirent64 *e = (const void *)(b + pos);
        size_t at = zf_dirent_stat_at(e);
        if (at + sizeof(struct stat) > e->d_reclen)
            return false;
        struct stat st;
        memcpy(&st, b + pos + at, sizeof(st));
        if (st.st_mode != 0) {
            mode_t want = e->d_type == DT_UNKNOWN ? 0 : (mode_t)DTTOIF(e->d_type);
            if (!zf_check_stat(&st, want))
                return false;
        }
        pos += e->d_reclen;
    }
    return true;
}
