/*
 * A program for the bigmem tests, run under `zepto bigmem run`. It asks the preloaded library for
 * its region (dlsym) and checks that what the malloc family returns lies inside it.
 *   bigmem_probe family           every function of the malloc family, and its edge cases
 *   bigmem_probe threads N M      N threads doing M malloc/free each, contents verified
 *   bigmem_probe fork             a child that only forks writes to and allocates from the heap
 *   bigmem_probe forkexec PROG    a child that execs PROG (which should get its own region)
 *   bigmem_probe region           prints the region, or "no region"
 *   bigmem_probe touch MB         allocates and touches MB, prints the page faults it took
 *   bigmem_probe sparse MB USED   allocates MB, touches its first USED MB, prints its RSS (KiB)
 *   bigmem_probe exhaust MB       allocates 1 MiB blocks up to MB, says where they came from
 * Exit 0 when every check held; 1 otherwise (each failure printed); 3 when not under bigmem.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char *base;
static size_t size;
static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            putchar('\n');                                                                         \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* Compares addresses only (a pointer argument would make gcc -O0 warn that the block's
 * uninitialised bytes are read). */
static bool inside_addr(uintptr_t a, size_t n)
{
    return a >= (uintptr_t)base && a + n <= (uintptr_t)base + size;
}
#define inside(p, n) inside_addr((uintptr_t)(p), (n))

static bool find_region(void)
{
    bool (*fn)(void **, size_t *);
    *(void **)&fn = dlsym(RTLD_DEFAULT, "zepto_bigmem_region");
    void *s;
    if (!fn || !fn(&s, &size))
        return false;
    base = s;
    return true;
}

static long faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt + ru.ru_majflt;
}

static void family(void)
{
    char *p = malloc(100);
    CHECK(p && inside(p, 100), "malloc %p", (void *)p);
    memset(p, 'x', 100);
    CHECK(malloc_usable_size(p) >= 100, "usable %zu", malloc_usable_size(p));
    p = realloc(p, 1 << 20);
    CHECK(p && inside(p, 1 << 20) && p[0] == 'x' && p[99] == 'x', "realloc grow kept content");
    p = realloc(p, 10);
    CHECK(p && inside(p, 10) && p[9] == 'x', "realloc shrink");
    free(p);

    unsigned char *z = calloc(1000, 1000);
    bool zero = z != NULL;
    for (size_t i = 0; z && i < 1000000; i++)
        zero &= z[i] == 0;
    CHECK(z && inside(z, 1000000) && zero, "calloc zeroed in region");
    free(z);
    errno = 0;
    volatile size_t huge = SIZE_MAX / 2; /* volatile: the compiler must not judge the call */
    CHECK(calloc(huge, 4) == NULL && errno == ENOMEM, "calloc overflow");

    size_t aligns[] = {16, 64, 4096, 2 << 20};
    for (size_t i = 0; i < 4; i++) {
        void *a = NULL;
        CHECK(posix_memalign(&a, aligns[i], 1000) == 0 && a && inside(a, 1000) &&
                  (uintptr_t)a % aligns[i] == 0,
              "posix_memalign %zu: %p", aligns[i], a);
        free(a);
        a = aligned_alloc(aligns[i], aligns[i] * 2);
        CHECK(a && inside(a, aligns[i] * 2) && (uintptr_t)a % aligns[i] == 0, "aligned_alloc %zu",
              aligns[i]);
        free(a);
        a = memalign(aligns[i], 77);
        CHECK(a && inside(a, 77) && (uintptr_t)a % aligns[i] == 0, "memalign %zu", aligns[i]);
        free(a);
    }
    void *a = NULL;
    CHECK(posix_memalign(&a, 24, 100) == EINVAL, "posix_memalign of 24 is EINVAL");
    long ps = sysconf(_SC_PAGESIZE);
    void *v = valloc(10);
    CHECK(v && inside(v, 10) && (uintptr_t)v % (uintptr_t)ps == 0, "valloc");
    free(v);
    v = pvalloc(10);
    CHECK(v && inside(v, (size_t)ps) && (uintptr_t)v % (uintptr_t)ps == 0 &&
              malloc_usable_size(v) >= (size_t)ps,
          "pvalloc rounds to a page");
    free(v);
    char *d = strdup("big memory"); /* allocated inside libc: still ours */
    CHECK(d && inside(d, 11) && !strcmp(d, "big memory"), "strdup");
    free(d);
    p = realloc(NULL, 50);
    CHECK(p && inside(p, 50), "realloc(NULL)");
    CHECK(realloc(p, 0) == NULL, "realloc(p, 0) frees");
    free(NULL);
    CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL)");
}

struct worker {
    unsigned seed, ops;
    int bad;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    enum { LIVE = 64 };
    unsigned char *live[LIVE] = {0};
    size_t len[LIVE] = {0};
    for (unsigned i = 0; i < w->ops; i++) {
        unsigned k = (unsigned)rand_r(&w->seed) % LIVE;
        if (live[k]) {
            for (size_t j = 0; j < len[k]; j += 97)
                w->bad += live[k][j] != (unsigned char)(k + len[k]);
            free(live[k]);
        }
        /* Mostly small blocks, one in 64 up to 1 MiB: 8 threads keep ~40 MiB live. */
        len[k] = 1 + (size_t)rand_r(&w->seed) % (rand_r(&w->seed) % 64 ? 4096 : 1 << 20);
        live[k] = malloc(len[k]);
        if (!live[k] || !inside(live[k], len[k])) {
            w->bad++;
            live[k] = NULL;
            continue;
        }
        memset(live[k], (unsigned char)(k + len[k]), len[k]);
    }
    for (unsigned k = 0; k < LIVE; k++)
        free(live[k]);
    return NULL;
}

static void threads(unsigned n, unsigned ops)
{
    pthread_t t[64];
    struct worker w[64];
    n = n > 64 ? 64 : n;
    for (unsigned i = 0; i < n; i++) {
        w[i] = (struct worker){.seed = i + 1, .ops = ops};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    int bad = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        bad += w[i].bad;
    }
    CHECK(bad == 0, "%d blocks outside the region or with wrong contents", bad);
}

static void do_fork(void)
{
    char *mine = malloc(1 << 20);
    memset(mine, 'p', 1 << 20);
    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        memset(mine, 'c', 1 << 20); /* copy-on-write in the region */
        for (int i = 0; i < 1000; i++) {
            char *q = malloc((size_t)(i * 37 % 5000) + 1);
            bad += !q || !inside(q, 1);
            free(q);
        }
        free(mine);
        _exit(bad ? 1 : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "forked child status %d", st);
    CHECK(mine[0] == 'p' && mine[(1 << 20) - 1] == 'p', "the child's writes stayed its own");
    char *after = malloc(4096);
    CHECK(after && inside(after, 4096), "allocating after the fork");
    free(after);
    free(mine);
}

static void forkexec(char *prog)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {prog, "region", NULL};
        execv(prog, argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exec'd child status %d (3: no region)", st);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bigmem_probe MODE [ARGS]\n");
        return 2;
    }
    const char *mode = argv[1];
    bool have = find_region();
    if (!strcmp(mode, "region")) {
        if (have)
            printf("region %p %zu\n", (void *)base, size);
        else
            printf("no region\n");
        return have ? 0 : 3;
    }
    if (!strcmp(mode, "touch") && argc == 3) {
        size_t n = strtoull(argv[2], NULL, 10) << 20;
        long f0 = faults();
        char *p = malloc(n);
        for (size_t i = 0; p && i < n; i += 4096)
            p[i] = 1;
        printf("faults %ld in_region %d\n", faults() - f0, have && p && inside(p, n));
        free(p);
        return p ? 0 : 1;
    }
    if (!strcmp(mode, "sparse") && argc == 4) {
        size_t n = strtoull(argv[2], NULL, 10) << 20, used = strtoull(argv[3], NULL, 10) << 20;
        char *p = malloc(n);
        for (size_t i = 0; p && i < used && i < n; i += 4096)
            p[i] = 1;
        long rss = -1;
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        while (f && fgets(line, sizeof(line), f))
            if (!strncmp(line, "VmRSS:", 6))
                rss = strtol(line + 6, NULL, 10);
        if (f)
            fclose(f);
        printf("rss_kb %ld in_region %d\n", rss, have && p && inside(p, n));
        free(p);
        return p ? 0 : 1;
    }
    if (!strcmp(mode, "exhaust") && argc == 3) {
        unsigned mb = (unsigned)strtoul(argv[2], NULL, 10), in = 0, out = 0;
        for (unsigned i = 0; i < mb; i++) {
            errno = 0;
            char *p = malloc(1 << 20);
            if (!p) {
                printf("enomem after %u MiB (errno %s)\n", i, errno == ENOMEM ? "ENOMEM" : "?");
                return 0;
            }
            memset(p, 1, 1 << 20);
            if (have && inside(p, 1 << 20))
                in++;
            else
                out++;
        }
        printf("region %u MiB, ordinary %u MiB\n", in, out);
        return 0;
    }
    if (!have) {
        printf("no region: not running under zepto bigmem run\n");
        return 3;
    }
    if (!strcmp(mode, "family"))
        family();
    else if (!strcmp(mode, "threads") && argc == 4)
        threads((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]));
    else if (!strcmp(mode, "fork"))
        do_fork();
    else if (!strcmp(mode, "forkexec") && argc == 3)
        forkexec(argv[2]);
    else {
        fprintf(stderr, "bigmem_probe: unknown mode %s\n", mode);
        return 2;
    }
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
