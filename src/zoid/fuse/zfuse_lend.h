/*
 * Descriptors the daemon lends the mount (zfuse_lend.c): an open's writes straight to the
 * daemon's open file description when the daemon is on this node (shm:).
 */
#ifndef ZEPTO_ZFUSE_LEND_H
#define ZEPTO_ZFUSE_LEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zf_open;

/* The descriptor to write size bytes of f (fi->fh fh) with, lent now if the time has come, or
 * -1: send the write to the daemon. */
int zf_lent(struct zf_open *f, uint64_t fh, size_t size);
/* f's descriptor lent now, whatever its use so far (zfuse_pt.c: a backing), or -1. */
int zf_lend_now(struct zf_open *f, uint64_t fh);
/* Closes f's lent descriptor (its release). */
void zf_lend_drop(struct zf_open *f);
/* The descriptor the daemon lent with tag (zfuse_conn.c; between zf_enter and zf_leave): >= 0, or
 * a negative errno. */
int zf_take_lent(uint64_t tag);

#endif
