/*
 * The caller's identity on a worker thread: file-system uid and gid and supplementary groups,
 * switched with the raw system calls, which act on the calling thread only (glibc's setgroups,
 * setfsuid wrappers aside, broadcast to every thread of the process: not what we want).
 *
 * A thread keeps what it is (the daemon's identity at first) from one call to the next: a call
 * whose caller is what the thread already is costs no system call (a client's calls, one after
 * the other, or the daemon's own identity). A thread left as a client says so to the daemon
 * (zoid_call_thread_dirty), which switches it back to the daemon's identity before it runs a
 * function of another plugin or leaves the pool, so that other plugins run as the daemon. A
 * non-zero fs uid drops the file-system capabilities (CAP_DAC_OVERRIDE, CAP_FOWNER, ...) of
 * the thread, so that a root daemon checks permissions as the caller's uid would be checked.
 * When the thread cannot become the caller (a daemon that is not root, serving another uid),
 * the call fails with EACCES.
 *
 * A worker thread also gets a umask of 0 (of its own: unshare(CLONE_FS)) the first time it runs
 * a call: clients send modes already masked with their own umask.
 */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zp_impl.h"

#define MAX_GROUPS 64

struct ident {
    uint32_t uid, gid, n;
    uint32_t groups[MAX_GROUPS];
};

static struct ident daemon_id;
static _Thread_local struct ident cur;
static _Thread_local bool cur_valid;

void zp__identity_init(void)
{
    daemon_id.uid = (uint32_t)geteuid();
    daemon_id.gid = (uint32_t)getegid();
    gid_t g[MAX_GROUPS];
    int n = getgroups(MAX_GROUPS, g);
    daemon_id.n = n > 0 ? (uint32_t)n : 0;
    for (int i = 0; i < n; i++)
        daemon_id.groups[i] = (uint32_t)g[i];
}

static bool same(const struct ident *a, const struct ident *b)
{
    return a->uid == b->uid && a->gid == b->gid && a->n == b->n &&
           !memcmp(a->groups, b->groups, a->n * sizeof(a->groups[0]));
}

/* Sets the thread's identity to want; false when the kernel did not let it. */
static bool set_ident(const struct ident *want)
{
    /* Groups and gid first: a uid other than 0 takes the capability to change them away. */
    bool groups_ok = syscall(SYS_setgroups, (size_t)want->n, want->groups) == 0;
    syscall(SYS_setfsgid, want->gid);
    bool gid_ok = (uint32_t)syscall(SYS_setfsgid, -1) == want->gid;
    syscall(SYS_setfsuid, want->uid);
    bool uid_ok = (uint32_t)syscall(SYS_setfsuid, -1) == want->uid;
    /* Without CAP_SETGID the groups stay the daemon's: acceptable for the daemon's own uid. */
    if (!groups_ok && want->uid == daemon_id.uid && want->gid == daemon_id.gid)
        groups_ok = true;
    return groups_ok && gid_ok && uid_ok;
}

int zp__become(const struct zoid_identity *id)
{
    if (!cur_valid) {
        /* The modes clients send are already masked with their own umask (the interposer does
         * it, the kernel does it for a FUSE mount): the daemon's must not mask them again. The
         * umask belongs to the process's fs_struct: this thread gets a copy of its own first. */
        if (unshare(CLONE_FS) == 0)
            umask(0);
        cur = daemon_id;
        cur_valid = true;
    }
    struct ident want = {.uid = id->uid, .gid = id->gid};
    want.n = id->ngroups < MAX_GROUPS ? id->ngroups : MAX_GROUPS;
    memcpy(want.groups, id->groups, want.n * sizeof(want.groups[0]));
    if (same(&want, &cur))
        return 0;
    cur = want;
    if (!set_ident(&want)) {
        zp__restore();
        return EACCES;
    }
    return 0;
}

static void restore_hook(void)
{
    zp__restore();
}

void zp__settle(struct zoid_call *call)
{
    if (cur_valid && !same(&cur, &daemon_id))
        zoid_call_thread_dirty(call, restore_hook);
}

void zp__restore(void)
{
    if (!cur_valid || same(&cur, &daemon_id))
        return;
    /* uid first: back to 0 gives the capabilities to set the groups again. */
    syscall(SYS_setfsuid, daemon_id.uid);
    syscall(SYS_setfsgid, daemon_id.gid);
    syscall(SYS_setgroups, (size_t)daemon_id.n, daemon_id.groups);
    cur = daemon_id;
}
