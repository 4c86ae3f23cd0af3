/*
 * Kernel passthrough for a strict mount of a daemon on this node (zfuse_pt.c): an open file's
 * reads, writes and mmap go from the kernel straight to the daemon's open file, lent to the
 * mount, with no request to the mount at all.
 */
#ifndef ZEPTO_ZFUSE_PT_H
#define ZEPTO_ZFUSE_PT_H

#include <stdbool.h>
#include <stdint.h>

struct fuse_session;
struct zf_open;

/* Asks the kernel for passthrough at FUSE_INIT (the mount's device reads and writes go through
 * zfuse_pt.c from now on). Before the session loop starts. */
void zf_pt_install(struct fuse_session *se, bool to_syslog);
/* Whether opens may be passed through now (the kernel agreed; nothing refused it since). */
bool zf_pt_on(void);

/* How an open of the file the current request is about must be made: ZF_PT_NEW (a backing is
 * to be lent: open the file O_RDWR), ZF_PT_SHARE (the file has one: open as asked), ZF_PT_NONE
 * (the kernel caches this file's pages for other opens: as before, no passthrough). */
enum zf_pt_plan { ZF_PT_NONE, ZF_PT_NEW, ZF_PT_SHARE };
enum zf_pt_plan zf_pt_plan(bool create);
/* f was opened (its remote handle, O_RDWR when plan was ZF_PT_NEW) as fh: when plan is
 * ZF_PT_NEW, takes f's descriptor from the daemon and registers it as the file's backing.
 * Returns the backing's id, 0 when none. */
int32_t zf_pt_backing(struct zf_open *f, uint64_t fh, enum zf_pt_plan plan);
/* Marks the reply to f's open to pass it through the node's backing (mine, from zf_pt_backing,
 * when the node has none yet; given back when unused). Without one the open is counted as a
 * cached one. Whether f is passed through (a create's: whether it has mine). */
bool zf_pt_opened(struct zf_open *f, int32_t mine);
/* f's release: the backing goes when its last open does. */
void zf_pt_release(struct zf_open *f);

#endif
