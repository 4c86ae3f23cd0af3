/*
 * Whether the program's pointers can be used, without faulting: the interposer reads every path
 * a program passes (to decide whether it is forwarded) and the buffers of forwarded calls, where
 * the kernel would have answered EFAULT for a bad pointer. A crash in the interposer, or a frame
 * sent half way (the connection then out of step for every later call), is what a bad pointer
 * would cost otherwise. The kernel does the checking, page by page: process_vm_readv of a path
 * on this very process, a read of 8 bytes of each page of a buffer by rt_sigprocmask, and
 * process_vm_writev of a byte onto itself for a buffer the call writes into (probe_pages).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zoid/preload/zpl.h"

#define PAGE       4096u
#define PAGE_OF(a) ((a) & ~(uintptr_t)(PAGE - 1))
/* Ranges of more pages are checked by mincore (no page unmapped) and their first and last
 * pages: a protection changed in the middle of a large buffer is not seen (the call then fails
 * with its connection). */
#define PROBE_PAGES 16u
/* The kernel's largest read or write (INT_MAX rounded down to a page). */
#define MAX_RW_COUNT ((size_t)0x7ffff000)
/* mincore's answer for this many pages at a time. */
#define CORE_PAGES 4096u

bool zpl_readable(const char *s)
{
    uintptr_t a = (uintptr_t)s;
    char buf[PAGE];
    int saved = errno;
    for (size_t total = 0; total < 2 * PATH_MAX;) {
        size_t n = PAGE - (a & (PAGE - 1));
        struct iovec l = {buf, n}, r = {(void *)a, n};
        ssize_t got = process_vm_readv((pid_t)syscall(SYS_getpid), &l, 1, &r, 1, 0);
        if (got < 0) {
            bool fault = errno == EFAULT;
            errno = saved;
            return !fault; /* the probe itself refused (seccomp): as before, no check */
        }
        if (memchr(buf, 0, (size_t)got))
            return true;
        if ((size_t)got < n)
            return false; /* the string runs into memory that cannot be read */
        a += n;
        total += n;
    }
    return true; /* longer than any path: the callers answer ENAMETOOLONG */
}

/* Whether each of the k pages at a[] can be read (and written, when `write`). 1 usable, 0 a
 * fault, -1 the probe itself refused.
 * - Read: rt_sigprocmask with an invalid `how` copies 8 bytes of the page's start from the
 *   program (EFAULT when it cannot) before it looks at `how` (EINVAL): a check with no side
 *   effect, four times cheaper than process_vm_readv.
 * - Written: process_vm_writev of one byte of each page onto itself: the kernel reads it from
 *   the program's memory and writes it back to the same place, so the bytes stay as they were
 *   unless another thread writes them meanwhile (which a buffer handed to a read must not see
 *   anyway). Always to this very process: the pid is asked each time (a fork changes it). */
static int probe_pages(const uintptr_t *a, unsigned k, bool write)
{
    if (!write) {
        for (unsigned i = 0; i < k; i++) {
            long r = syscall(SYS_rt_sigprocmask, 0x7fff, (void *)PAGE_OF(a[i]), NULL, 8);
            if (r < 0 && errno == EFAULT)
                return 0;
            if (r == 0 || errno != EINVAL)
                return -1; /* not the kernel this was written for: no check */
        }
        return 1;
    }
    struct iovec at[PROBE_PAGES + 2];
    for (unsigned i = 0; i < k; i++)
        at[i] = (struct iovec){(void *)a[i], 1};
    ssize_t got = process_vm_writev((pid_t)syscall(SYS_getpid), at, k, at, k, 0);
    if (got == (ssize_t)k)
        return 1;
    return got >= 0 || errno == EFAULT ? 0 : -1;
}

/* Whether [a, end) has no page unmapped. */
static bool all_mapped(uintptr_t a, uintptr_t end)
{
    unsigned char vec[CORE_PAGES];
    for (uintptr_t p = PAGE_OF(a); p < end;) {
        size_t len = end - p > (uintptr_t)CORE_PAGES * PAGE ? (size_t)CORE_PAGES * PAGE : end - p;
        if (mincore((void *)p, len, vec) && errno == ENOMEM)
            return false;
        p += len;
    }
    return true;
}

/* ZOID_CHECK_BUFFERS=0 switches the buffer checks off (the benchmark's baseline). */
static bool checks_on(void)
{
    static atomic_int on = -1;
    int v = atomic_load_explicit(&on, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("ZOID_CHECK_BUFFERS");
        v = !(e && !strcmp(e, "0"));
        atomic_store_explicit(&on, v, memory_order_relaxed);
    }
    return v;
}

bool zpl_mem_ok(const void *buf, size_t n, bool write)
{
    uintptr_t a = (uintptr_t)buf;
    if (!n || !checks_on())
        return true; /* as the kernel: nothing to move, nothing checked */
    if (a + n < a || a < PAGE)
        return false;
    uintptr_t end = a + n, last = PAGE_OF(end - 1);
    size_t pages = (last - PAGE_OF(a)) / PAGE + 1;
    uintptr_t at[PROBE_PAGES + 2];
    unsigned k = 0;
    int saved = errno;
    if (pages <= PROBE_PAGES) {
        at[k++] = a;
        for (uintptr_t p = PAGE_OF(a) + PAGE; p <= last; p += PAGE)
            at[k++] = p;
    } else {
        if (!all_mapped(a, end)) {
            errno = saved;
            return false;
        }
        at[k++] = a;
        at[k++] = end - 1;
    }
    int ok = probe_pages(at, k, write);
    errno = saved;
    return ok != 0; /* refused (seccomp): as before, no check */
}

size_t zpl_mem_usable(const void *buf, size_t n, bool write)
{
    if (zpl_mem_ok(buf, n, write))
        return n;
    /* Some page is bad: the usable bytes end where the first bad page begins (a fault's cost,
     * so page by page). */
    uintptr_t a = (uintptr_t)buf;
    if (a + n < a)
        return 0; /* past the end of the address space: the kernel's EFAULT before any copy */
    if (n > MAX_RW_COUNT)
        n = MAX_RW_COUNT; /* what the kernel moves at most in one call */
    uintptr_t end = a + n;
    int saved = errno;
    size_t ok = 0;
    for (uintptr_t p = a; p < end;) {
        uintptr_t next = PAGE_OF(p) + PAGE;
        if (p < PAGE || probe_pages(&p, 1, write) == 0)
            break;
        ok = (next < end ? next : end) - a;
        p = next;
    }
    errno = saved;
    return ok;
}
