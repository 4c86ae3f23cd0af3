/*
 * Facts about the machine that traces and reports carry: host name, kernel, CPU model and flags;
 * and the MPI rank a launcher gave this process.
 */
#ifndef ZEPTO_BASE_SYSINFO_H
#define ZEPTO_BASE_SYSINFO_H

#include <stddef.h>

struct zb_sysinfo {
    char host[64];
    char kernel[64];
    char cpu_model[128];
    unsigned cpus_online;
};

/* Fills what it can; fields it cannot read are "unknown". Never fails. */
void zb_sysinfo_get(struct zb_sysinfo *si);

/* Copies the first "flags" line of /proc/cpuinfo (the value only); -errno when there is none. */
int zb_sysinfo_cpu_flags(char *buf, size_t len);

/* The value of the first "key : value" line with that key in a /proc-style file; -errno if none. */
int zb_sysinfo_read_key(const char *path, const char *key, char *buf, size_t len);

/* The first line of a small file (e.g. under /sys or /proc), without its newline. */
int zb_sysinfo_read_line(const char *path, char *buf, size_t len);

/* The rank an MPI launcher gave this process, from its environment (OMPI_COMM_WORLD_RANK,
 * PMIX_RANK, PMI_RANK, SLURM_PROCID: the first set and not empty), or -1 (none, or not a number).
 * Reads the environment only (no allocation): libktau calls it in its constructor. */
int zb_launcher_rank(void);

/* The names of those variables, in that order, NULL-terminated (to hide a rank from a child:
 * set them empty). */
const char *const *zb_launcher_vars(void);

#endif
