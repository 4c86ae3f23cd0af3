/*
 * What the machine offers for big memory: hugetlb pools, THP mode, available memory, the
 * memlock limit, and how many MPI ranks of this node share it. Read with open/read into stack
 * buffers, because the preloaded library calls this before the program's malloc works.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "zepto/bigmem.h"

/* Reads a small file under root into buf (NUL-terminated); -errno on failure. */
static int slurp(const char *root, const char *path, char *buf, size_t len)
{
    char full[512];
    snprintf(full, sizeof(full), "%s%s", root, path);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, buf + used, len - 1 - used);
        if (n < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0 || (used += (size_t)n) == len - 1)
            break;
    }
    close(fd);
    buf[used] = 0;
    return 0;
}

static uint64_t number(const char *s)
{
    return strtoull(s, NULL, 10);
}

/* The value in kB of a /proc/meminfo line, in bytes; 0 when absent. */
static uint64_t meminfo(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    if (!p)
        return 0;
    p += strlen(key);
    while (*p == ' ' || *p == ':')
        p++;
    return number(p) * 1024;
}

/* The bracketed word of a sysfs choice ("always [madvise] never"). */
static void chosen(const char *text, char *out, size_t len)
{
    const char *a = strchr(text, '['), *b = a ? strchr(a, ']') : NULL;
    if (!a || !b || (size_t)(b - a) > len) {
        out[0] = 0;
        return;
    }
    snprintf(out, len, "%.*s", (int)(b - a - 1), a + 1);
}

static unsigned local_ranks(void)
{
    /* Open MPI, MPICH/Hydra, Slurm ("4" or "4(x2)"), PMI. */
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
                                       "SLURM_NTASKS_PER_NODE", "PMI_LOCAL_SIZE"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);
        long n = v ? strtol(v, NULL, 10) : 0;
        if (n > 0)
            return (unsigned)n;
    }
    return 1;
}

/* CAP_IPC_LOCK (bit 14) in the effective set: mlock is not limited by RLIMIT_MEMLOCK. */
static bool can_lock_all(const char *root)
{
    char buf[4096];
    if (slurp(root, "/proc/self/status", buf, sizeof(buf)))
        return false;
    const char *p = strstr(buf, "CapEff:");
    return p && (strtoull(p + 7, NULL, 16) >> 14) & 1;
}

int zbm_system_read(struct zbm_system *s, const char *root, struct zepto_err *err)
{
    static const uint64_t sizes_kb[] = {16777216, 1048576, 524288, 32768, 16384, 2048, 64};
    char buf[8192];
    int rc;

    memset(s, 0, sizeof(*s));
    if (!root)
        root = "";
    if ((rc = slurp(root, "/proc/meminfo", buf, sizeof(buf))))
        return zepto_fail(err, -rc, "%s/proc/meminfo: %s", root, strerror(-rc));
    s->mem_total = meminfo(buf, "MemTotal");
    s->mem_available = meminfo(buf, "MemAvailable");
    if (!s->mem_total)
        return zepto_fail(err, EINVAL, "%s/proc/meminfo: no MemTotal line", root);

    for (size_t i = 0; i < sizeof(sizes_kb) / sizeof(sizes_kb[0]) && s->npools < ZBM_MAX_POOLS;
         i++) {
        char dir[128], path[192];
        snprintf(dir, sizeof(dir), "/sys/kernel/mm/hugepages/hugepages-%llukB",
                 (unsigned long long)sizes_kb[i]);
        snprintf(path, sizeof(path), "%s/nr_hugepages", dir);
        if (slurp(root, path, buf, sizeof(buf)))
            continue; /* no pool of that size */
        struct zbm_pool *p = &s->pool[s->npools++];
        p->page_size = sizes_kb[i] * 1024;
        p->total = number(buf);
        static const char *const fields[] = {"free_hugepages", "resv_hugepages",
                                             "surplus_hugepages"};
        uint64_t *dst[] = {&p->free, &p->reserved, &p->surplus};
        for (int k = 0; k < 3; k++) {
            snprintf(path, sizeof(path), "%s/%s", dir, fields[k]);
            if ((rc = slurp(root, path, buf, sizeof(buf))))
                return zepto_fail(err, -rc, "%s%s: %s", root, path, strerror(-rc));
            *dst[k] = number(buf);
        }
    }

    if (!slurp(root, "/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf))) {
        chosen(buf, s->thp_enabled, sizeof(s->thp_enabled));
        if (!slurp(root, "/sys/kernel/mm/transparent_hugepage/defrag", buf, sizeof(buf)))
            chosen(buf, s->thp_defrag, sizeof(s->thp_defrag));
        if (!slurp(root, "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", buf, sizeof(buf)))
            s->thp_size = number(buf);
    }
    struct rlimit rl;
    s->memlock = getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY
                     ? UINT64_MAX
                     : (uint64_t)rl.rlim_cur;
    s->can_lock_all = can_lock_all(root);
    s->local_ranks = local_ranks();
    return 0;
}

const struct zbm_pool *zbm_pool_of(const struct zbm_system *s, uint64_t page_size)
{
    for (unsigned i = 0; i < s->npools; i++)
        if (s->pool[i].page_size == page_size)
            return &s->pool[i];
    return NULL;
}
