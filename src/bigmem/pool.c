/*
 * Raising the 2 MiB hugetlb pool for a benchmark and putting it back, at the end, at exit and on
 * SIGINT, SIGTERM and SIGHUP, as rtla restores what it changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/parse.h"
#include "zepto/bigmem.h"

/* Process-wide state, because the signal handler must find the value to write back. */

#define POOL_PATH "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"

static const int guard_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define NSIG_GUARD (sizeof(guard_signals) / sizeof(guard_signals[0]))

static struct {
    volatile sig_atomic_t active; /* nr_hugepages differs from `old` because of us */
    char path[320];
    char old[24];
    size_t old_len;
    struct sigaction saved[NSIG_GUARD];
    bool at_exit;
} guard;

/* open/write/close only: async-signal-safe. */
static int write_value(const char *path, const char *s, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, s, len);
    int e = n < 0 ? errno : 0;
    close(fd);
    return n == (ssize_t)len ? 0 : -(e ? e : EIO);
}

static void on_signal(int sig)
{
    if (guard.active) {
        write_value(guard.path, guard.old, guard.old_len);
        guard.active = 0;
    }
    for (size_t i = 0; i < NSIG_GUARD; i++)
        if (guard_signals[i] == sig)
            sigaction(sig, &guard.saved[i], NULL);
    raise(sig); /* delivered with the old disposition once this handler returns */
}

void zbm_pool_restore(void)
{
    if (!guard.active)
        return;
    /* Value first, handlers after: a signal in between finds the work done. */
    write_value(guard.path, guard.old, guard.old_len);
    guard.active = 0;
    for (size_t i = 0; i < NSIG_GUARD; i++)
        sigaction(guard_signals[i], &guard.saved[i], NULL);
}

int zbm_pool_reserve(uint64_t pages, uint64_t keep_free, const char *sysroot,
                     struct zbm_pool_change *ch, struct zepto_err *err)
{
    char a[32], b[32], c[32], val[24];
    struct zbm_system s;
    int rc;

    memset(ch, 0, sizeof(*ch));
    if (!sysroot)
        sysroot = "";
    if ((rc = zbm_system_read(&s, sysroot, err)))
        return rc;
    const struct zbm_pool *p = zbm_pool_of(&s, ZBM_HUGE_2M);
    if (!p)
        return zepto_fail(err, ENOENT, "this kernel has no 2 MiB hugetlb pool");
    ch->before = ch->during = p->total;
    if (p->free >= pages)
        return 0;
    uint64_t want = p->total + (pages - p->free);
    if (geteuid())
        return zepto_fail(err, EPERM,
                          "the 2 MiB pool has %llu free pages, %llu needed, and only root may "
                          "raise it (as root: echo %llu > " POOL_PATH ")",
                          (unsigned long long)p->free, (unsigned long long)pages,
                          (unsigned long long)want);
    uint64_t extra = (pages - p->free) * ZBM_HUGE_2M;
    if (extra + keep_free > s.mem_available)
        return zepto_fail(err, ENOMEM,
                          "%llu more 2 MiB pages (%s) would leave less than %s of the %s "
                          "available",
                          (unsigned long long)(pages - p->free), zb_fmt_size(extra, a, sizeof(a)),
                          zb_fmt_size(keep_free, b, sizeof(b)),
                          zb_fmt_size(s.mem_available, c, sizeof(c)));

    if (!guard.active) {
        snprintf(guard.path, sizeof(guard.path), "%s" POOL_PATH, sysroot);
        guard.old_len =
            (size_t)snprintf(guard.old, sizeof(guard.old), "%llu\n", (unsigned long long)p->total);
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < NSIG_GUARD; i++) {
            sigaction(guard_signals[i], &sa, &guard.saved[i]);
            if (guard.saved[i].sa_handler == SIG_IGN) /* nohup, or a shell's background job: */
                sigaction(guard_signals[i], &guard.saved[i], NULL); /* it stays ignored */
        }
        if (!guard.at_exit)
            guard.at_exit = !atexit(zbm_pool_restore);
    }
    guard.active = 1; /* before the write: a signal during it must restore */
    int n = snprintf(val, sizeof(val), "%llu\n", (unsigned long long)want);
    if ((rc = write_value(guard.path, val, (size_t)n))) {
        zbm_pool_restore();
        return zepto_fail(err, -rc, "%s: %s", guard.path, strerror(-rc));
    }
    if ((rc = zbm_system_read(&s, sysroot, err))) {
        zbm_pool_restore();
        return rc;
    }
    p = zbm_pool_of(&s, ZBM_HUGE_2M);
    if (!p || p->free < pages) {
        uint64_t got = p ? p->free : 0;
        zbm_pool_restore();
        return zepto_fail(err, ENOMEM,
                          "the kernel found only %llu of the %llu free 2 MiB pages needed "
                          "(memory too fragmented; try again after dropping caches: echo 3 > "
                          "/proc/sys/vm/drop_caches)",
                          (unsigned long long)got, (unsigned long long)pages);
    }
    ch->changed = true;
    ch->during = p->total;
    return 0;
}
