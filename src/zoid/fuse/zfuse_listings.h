/*
 * `zepto zoid mount`, relaxed consistency: the names of recently listed directories, so that a
 * lookup of a name that does not exist (every create asks one first) is answered without a round
 * trip to the daemon. A directory is listed (by zfuse_names.c) after its second miss within
 * ZF_LISTING_TTL_NS, or when an expired listing of it was in use; its listing answers "absent"
 * for ZF_LISTING_TTL_NS from the moment the listing started. Names made through the mount are
 * added before they are made (also to a listing being read), a rename or a link drops every
 * listing (a directory moved takes its names elsewhere). Names are kept as 64-bit hashes: a
 * collision can only make an absent name look present (asked of the daemon), never the reverse,
 * which is also why a removal does not take a name out. docs/zoid-mount.md says what relaxed
 * mode may show stale because of this.
 */
#ifndef ZEPTO_ZFUSE_LISTINGS_H
#define ZEPTO_ZFUSE_LISTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long a listing answers, from the start of its reading: as the kernel's relaxed entry and
 * negative timeouts (1 s). */
#define ZF_LISTING_TTL_NS 1000000000LL
/* Larger directories are not kept (reading them again every second would cost more than it
 * saves); such a directory is not read again for ZF_LISTING_BIG_NS. */
#define ZF_LISTING_NAMES_MAX 32768
#define ZF_LISTING_BIG_NS    10000000000LL
/* Directories kept at once (the least recently read go first). */
#define ZF_LISTING_DIRS 32

/* A listing being read: the directory, and the names read so far. */
struct zf_listing_fetch {
    char dir[4096];
    uint64_t *slots; /* a set of name hashes (0: empty), cap a power of two */
    size_t cap, used;
    uint64_t token; /* which reading of which slot this is */
    size_t seen;    /* names read, repeats too (a daemon that repeats itself ends too_big) */
    bool too_big;
};

/* On for relaxed mounts; off, nothing is kept and nothing is answered. */
void zf_listings_enable(bool on);
/* Whether path's name is known to be absent: its directory's listing is fresh and lacks it. */
bool zf_listing_absent(const char *path);
/* A name about to be made through the mount (create, mkdir, mknod, symlink): into its
 * directory's listing, also one being read. */
void zf_listing_add(const char *path);
/* Every listing goes, and none being read is kept (rename, link, unmount). */
void zf_listings_clear(void);

/* The daemon said path does not exist: true when its directory should be read now (f set up:
 * the caller adds the names it reads with zf_listing_fetch_name and ends with
 * zf_listing_fetch_done). */
bool zf_listing_missed(const char *path, struct zf_listing_fetch *f);
void zf_listing_fetch_name(struct zf_listing_fetch *f, const char *name, size_t len);
/* complete: every name of the directory was read (else it is not read again for
 * ZF_LISTING_BIG_NS, as a directory too big). Frees f's set. */
void zf_listing_fetch_done(struct zf_listing_fetch *f, bool complete);

#endif
