/*
 * The FUSE client's checks of what the daemon replies (issue 12): counts, offsets, directory
 * records and attributes are checked before the kernel sees them, and a lie becomes EIO, never a
 * crash or bytes beyond what was asked. Plain functions of the reply's bytes, with no libfuse
 * and no connection, so that fuzz.zfuse_check drives them with arbitrary input.
 */
#ifndef ZEPTO_ZFUSE_CHECK_H
#define ZEPTO_ZFUSE_CHECK_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* The layout getdents64(2) writes and zp_getdents forwards. */
struct zf_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* A count the daemon returned for a read, write, getdents or readlink of `asked` bytes: never
 * more than asked (a short count is fine). Negative counts are errors, not checked here. */
bool zf_check_count(long got, size_t asked);

/* A zp_getdents reply of n bytes: whole records of at least a header, a name byte and its NUL,
 * 8-byte aligned (they are read in place); each name NUL-terminated inside its record, not "",
 * without '/'; a known d_type, and "." and ".." directories (or of unknown type). */
bool zf_check_dirents(const void *buf, size_t n);

/* The result of lseek(off, whence) on a file of `size` bytes (-1: not known). SEEK_SET: off.
 * SEEK_DATA: at or after off, before the end; SEEK_HOLE: at or after off, at most the end. */
bool zf_check_seek(int64_t res, int64_t off, int whence, int64_t size);

/* Attributes: a known file type, sizes and block counts not negative, and the type `want`
 * (S_IFDIR, S_IFREG) unless want is 0. */
bool zf_check_stat(const struct stat *st, mode_t want);

/* The lock F_GETLK reports: a known type, SEEK_SET, a range that does not overflow. */
bool zf_check_flock(const struct flock *fl);

/* A zp_getdents_stat reply of n bytes (readdirplus): records as zf_check_dirents says, each
 * holding after its name (at zf_dirent_stat_at) a struct stat that is either all absent
 * (st_mode 0) or passes zf_check_stat, of the record's d_type when that is known. */
bool zf_check_dirents_stat(const void *buf, size_t n);
/* Where a checked zp_getdents_stat record's struct stat starts, from the record's start. */
size_t zf_dirent_stat_at(const struct zf_dirent64 *e);

#endif
