/*
 * zepto-bigmem-static-demo: the static-array program of the report's bigmem section. A 16 MiB
 * initialised table (.data) and a 64 MiB array (.bss), as an HPC code keeps its big arrays in
 * globals; it sums and rewrites both, then prints what the report compares between a plain run
 * and one under `zepto bigmem run --static`:
 *   checksum N     the same in both runs (the initialised data intact)
 *   faults N       minor page faults taken touching the arrays
 *   touch_ns N     time spent touching them
 *   data_bytes N   the program's writable segments, and how much of them is in huge pages
 *   huge_bytes N   (from /proc/self/smaps)
 *   pages NAME     the largest pages backing them: 4K, THP, 2M hugetlb
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "zepto/bigmem.h"

#define NT (2u << 20) /* 16 MiB of unsigned long */
#define NB (8u << 20) /* 64 MiB */
unsigned long table[NT] = {0x1234567, [NT / 2] = 0x89abcdef, [NT - 1] = 7};
unsigned long array[NB];

static long faults(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_minflt;
}

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* The program's own writable mappings in /proc/self/smaps: their size and huge part. */
static int smaps_figures(unsigned long long *data, unsigned long long *huge, const char **pages)
{
    char exe[PATH_MAX];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    FILE *f = fopen("/proc/self/smaps", "r");
    if (el < 0 || !f) {
        if (f)
            fclose(f);
        return -1;
    }
    exe[el] = 0;
    size_t cap = 1 << 20, len = 0;
    char *text = malloc(cap);
    while (text) {
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (len < cap)
            break;
        char *t = realloc(text, cap *= 2);
        if (!t) {
            free(text);
            text = NULL;
        } else
            text = t;
    }
    fclose(f);
    struct zbm_mapping *m = calloc(512, sizeof(*m));
    if (!text || !m) {
        free(text);
        free(m);
        return -1;
    }
    unsigned n = zbm_mappings_parse(text, len, m, 512);
    enum zbm_backing best = ZBM_BACK_SMALL;
    *data = *huge = 0;
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(m[i].object, exe) || m[i].perms[1] != 'w')
            continue;
        *data += m[i].end - m[i].start;
        *huge += zbm_mapping_huge_bytes(&m[i]);
        if (zbm_mapping_backing(&m[i]) > best)
            best = zbm_mapping_backing(&m[i]);
    }
    *pages = zbm_backing_name(best);
    free(text);
    free(m);
    return 0;
}

int main(void)
{
    long f0 = faults();
    long long t0 = now_ns();
    unsigned long s = 0;
    for (unsigned i = 0; i < NT; i++) {
        s += table[i] * (i | 1);
        table[i] ^= i;
    }
    for (unsigned i = 0; i < NB; i++)
        array[i] = table[i % NT] + i;
    for (unsigned i = 0; i < NB; i += 7)
        s += array[i];
    long long t1 = now_ns();
    long f1 = faults();
    unsigned long long data = 0, huge = 0;
    const char *pages = "unknown";
    smaps_figures(&data, &huge, &pages);
    printf("checksum %lu\nfaults %ld\ntouch_ns %lld\ndata_bytes %llu\nhuge_bytes %llu\npages %s\n",
           s, f1 - f0, t1 - t0, data, huge, pages);
    return 0;
}
