/*
 * Who sent one call on a unix socket: the kernel's credentials of the message (SCM_CREDENTIALS,
 * SO_PASSCRED), not the connection's (SO_PEERCRED, taken at connect). A process that changed
 * identity after it inherited the connection is identified as what it is now. When the uid or
 * gid differ from the connection's, the supplementary groups are read from /proc/<pid>/status;
 * a call whose groups cannot be read reliably is refused (EACCES).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "zoid/core/cred.h"

struct zoid_cred zoid_cred_of(const struct msghdr *m)
{
    struct zoid_cred c = {0};
    for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR((struct msghdr *)m, h))
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS &&
            h->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred u;
            memcpy(&u, CMSG_DATA(h), sizeof(u));
            c = (struct zoid_cred){.valid = true, .pid = u.pid, .uid = u.uid, .gid = u.gid};
        }
    if (m->msg_flags & MSG_CTRUNC)
        c.valid = false;
    return c;
}

bool zoid_cred_same(const struct zoid_cred *a, const struct zoid_cred *b)
{
    return a->valid == b->valid && a->pid == b->pid && a->uid == b->uid && a->gid == b->gid;
}

/* The groups of pid from /proc, if its effective uid and gid are still uid and gid. */
static int proc_groups(int32_t pid, uint32_t uid, uint32_t gid, struct zoid_identity *id)
{
    char path[64], line[4096];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -EACCES;
    bool uid_ok = false, gid_ok = false, groups_ok = false;
    while (fgets(line, sizeof(line), f)) {
        unsigned long r, e;
        if (sscanf(line, "Uid: %lu %lu", &r, &e) == 2)
            uid_ok = e == uid;
        else if (sscanf(line, "Gid: %lu %lu", &r, &e) == 2)
            gid_ok = e == gid;
        else if (!strncmp(line, "Groups:", 7)) {
            if (!strchr(line, '\n'))
                break; /* longer than the line: not reliable */
            char *s = line + 7, *end;
            id->ngroups = 0;
            for (;;) {
                unsigned long g = strtoul(s, &end, 10);
                if (end == s)
                    break;
                if (id->ngroups < sizeof(id->groups) / sizeof(id->groups[0]))
                    id->groups[id->ngroups++] = (uint32_t)g;
                s = end;
            }
            groups_ok = true;
        }
    }
    fclose(f);
    return uid_ok && gid_ok && groups_ok ? 0 : -EACCES;
}

int zoid_cred_identity(const struct zoid_identity *conn, const struct zoid_cred *c,
                       struct zoid_identity *out)
{
    *out = *conn;
    if (!c->valid)
        return -EACCES;
    out->pid = c->pid;
    if (c->uid == conn->uid && c->gid == conn->gid)
        return 0;
    out->uid = c->uid;
    out->gid = c->gid;
    snprintf(out->peer, sizeof(out->peer), "unix:pid %d uid %u", (int)c->pid, c->uid);
    return proc_groups(c->pid, c->uid, c->gid, out);
}
