/*
 * Write-behind of a relaxed mount (zfuse_behind.c): small writes answered at once and sent to the
 * daemon later, many in one call.
 */
#ifndef ZEPTO_ZFUSE_BEHIND_H
#define ZEPTO_ZFUSE_BEHIND_H

#include <stddef.h>
#include <sys/types.h>

struct zf_open;

/* Keeps a write of f (relaxed mounts, up to 64 KiB): size, or 0 when it must be sent now. */
int zf_behind_write(struct zf_open *f, const char *buf, size_t size, off_t off);
/* Sends whatever is kept; every remote call of the mount does this first (zf_enter). */
void zf_behind_send(void);
/* Sends f's kept writes and gives (and clears) the first error a sending of them met, as a
 * negative errno; 0 when none did. For flush (close), fsync and release. */
int zf_behind_error(struct zf_open *f);

#endif
