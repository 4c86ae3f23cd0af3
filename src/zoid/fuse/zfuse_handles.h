/*
 * The remote handles this mount holds open on the daemon, so that a reply naming a handle the
 * mount already holds (a lying or broken daemon) is refused: two files sharing one handle would
 * give one user another file's data, and closing one would close the other (issue 12).
 */
#ifndef ZEPTO_ZFUSE_HANDLES_H
#define ZEPTO_ZFUSE_HANDLES_H

#include <stdint.h>

/* The largest handle taken from the daemon (which gives the lowest free one, under 4096). */
#define ZF_HANDLE_MAX (1 << 20)

/* Records h, just opened in generation gen: h, or -EIO when h is out of range or already held
 * (the caller must not close it: it is not the caller's), or -ESTALE when gen is over. */
long zf_handle_claim(uint32_t gen, long h);
/* Forgets h of generation gen, just before it is closed: an honest daemon never gives it again
 * while it is open, so the record never outlives the handle. */
void zf_handle_drop(uint32_t gen, int h);

#endif
