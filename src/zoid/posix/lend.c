/*
 * zp_lend: a client on the daemon's node (shm: transport, its uid vouched for by the kernel)
 * gets the daemon's own descriptor of a regular file it opened through the daemon, and reads and
 * writes it directly: the bytes no longer travel through the daemon, and the file position, the
 * flags and the locks stay the one open file description the daemon's handle has.
 *
 * Lending gives the client nothing it could not do through the daemon: the file was opened with
 * the client's identity (fs uid, gid and groups: identity.c), with the access mode it asked for;
 * reopening it through /proc/self/fd is checked against the file's permissions for the client.
 * Only regular files are lent (a directory's descriptor would let *at calls leave the export).
 */
#include <errno.h>

#include "coalesce.h"
#include "zposix_server.h"

int zp_lend(int h, uint64_t tag)
{
    ZP_ENTER(x);
    ZP_FILE_OR_FAIL(x, h, f);
    int rc = 0;
    if (!zpc_cfg.lend)
        errno = EPERM, rc = -1;
    else if (!f->reg || (atomic_load(&f->flags) & O_PATH))
        errno = EINVAL, rc = -1;
    if (!rc) {
        /* What relaxed sessions gathered for the file goes out first, so that reads through the
         * lent descriptor see it; an error stays for the file's next fsync or close. */
        zpc_flush_keep(f->dev, f->ino);
        int e = -zoid_call_lend_fd(x.call, f->fd, tag);
        if (e)
            errno = e, rc = -1;
        else if (zpc_add(ZPC_descriptors_lent, 1), !atomic_exchange(&f->lent, true))
            atomic_fetch_add(&zpc_lent_files, 1); /* written outside the daemon from now on */
    }
    zp__put(f);
    return (int)zp__leave(&x, rc);
}
