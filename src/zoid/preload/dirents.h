/*
 * The check of the directory records (linux_dirent64) in a daemon's reply: dirents.c.
 */
#ifndef ZEPTO_ZOID_PRELOAD_DIRENTS_H
#define ZEPTO_ZOID_PRELOAD_DIRENTS_H

#include <stdbool.h>
#include <stddef.h>

/* Whether buf[0..n) is whole records, each 8-byte aligned in length, inside the buffer, with a
 * non-empty NUL-terminated name free of '/' inside its own record. */
bool zpl_dirents_ok(const void *buf, size_t n);

#endif
