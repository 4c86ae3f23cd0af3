/*
 * `zepto zoid mount` with libfuse3: checks what can be checked before mounting (/dev/fuse, the
 * mount point, the daemon and its posix plugin), mounts, detaches like a mount helper unless told
 * to stay in the foreground, serves requests on a pool of FUSE threads over one zoid connection,
 * and unmounts when a signal (SIGTERM, SIGINT, SIGHUP) or `fusermount3 -u` ends the loop.
 */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)

#include <errno.h>
#include <fuse.h>
#include <fuse_log.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zepto/zoid_mount.h"
#include "zfuse_behind.h"
#include "zfuse_int.h"
#include "zfuse_attrs.h"
#include "zfuse_listings.h"
#include "zfuse_pt.h"
#include "zfuse_share.h"
#include "zposix.h"

#define DEFAULT_THREADS 16
#define IDLE_THREADS    8

/* libfuse's messages: kept (the last one explains a failed mount) rather than printed, since the
 * CLI prints one line per error; printed as they come with --debug. */
static char fuse_last_msg[256];
static bool fuse_log_print;

static void zf_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
    (void)level;
    if (fuse_log_print) {
        vfprintf(stderr, fmt, ap);
        return;
    }
    /* A message may come in pieces: a new one starts after a newline. */
    static bool line_done = true;
    size_t n = line_done ? 0 : strlen(fuse_last_msg);
    vsnprintf(fuse_last_msg + n, sizeof(fuse_last_msg) - n, fmt, ap);
    n = strlen(fuse_last_msg);
    line_done = n == 0 || fuse_last_msg[n - 1] == '\n';
    if (line_done && n)
        fuse_last_msg[n - 1] = '\0';
}

/* Appends s to the -o list, escaping the commas libfuse would split at. */
static void opt_escaped(char *out, size_t len, const char *s)
{
    size_t n = strlen(out);
    for (; *s && n + 2 < len; s++) {
        if (*s == ',' || *s == '\\')
            out[n++] = '\\';
        out[n++] = *s;
    }
    out[n] = '\0';
}

static int check_mountpoint(const char *mp, struct zepto_err *err)
{
    struct stat st;
    if (stat("/dev/fuse", &st) || !S_ISCHR(st.st_mode))
        return zepto_fail(err, ENODEV,
                          "/dev/fuse is absent: load the fuse module (modprobe fuse), or give the "
                          "container the device (--device /dev/fuse)");
    if (stat(mp, &st))
        return zepto_fail(err, errno, "mount point %s: %s", mp, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return zepto_fail(err, ENOTDIR, "mount point %s: not a directory", mp);
    return 0;
}

int zoid_mount(const struct zoid_mount_opts *o, struct zepto_err *err)
{
    int rc = check_mountpoint(o->mountpoint, err);
    if (rc)
        return rc;
    if (o->passthrough && geteuid() != 0)
        return zepto_fail(
            err, EPERM, "--passthrough needs root (the kernel lets only CAP_SYS_ADMIN pass files)");
    rc = zf_conn_open(o, err);
    if (rc)
        return rc;
    if (o->passthrough && zf_state.consistency != ZP_STRICT) {
        rc = zepto_fail(err, EINVAL,
                        "--passthrough: the daemon's default is relaxed: add --consistency strict");
        goto out_conn;
    }

    fuse_log_print = o->debug;
    fuse_set_log_func(zf_log);
    char mopts[1024] = "default_permissions,subtype=zoid,fsname=zoid:";
    opt_escaped(mopts, sizeof(mopts), o->server);
    /* Other users reach the mount only when it is root's (allow_other needs user_allow_other in
     * /etc/fuse.conf otherwise); the kernel checks their permissions on the attributes. */
    if (geteuid() == 0)
        strcat(mopts, ",allow_other");
    char *argv[] = {"zepto", "-o", mopts, o->debug ? "-d" : NULL, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(o->debug ? 4 : 3, argv);
    struct fuse *f = fuse_new(&args, &zf_ops, sizeof(zf_ops), NULL);
    if (!f) {
        rc = zepto_fail(err, EINVAL, "setting up FUSE: %s", fuse_last_msg);
        goto out_conn;
    }
    if (fuse_mount(f, o->mountpoint)) {
        rc = zepto_fail(err, EPERM, "mounting on %s: %s", o->mountpoint,
                        fuse_last_msg[0] ? fuse_last_msg : "failed");
        goto out_fuse;
    }
    struct fuse_session *se = fuse_get_session(f);
    if (o->passthrough)
        zf_pt_install(se, !(o->foreground || o->debug)); /* the kernel says at FUSE_INIT */
    if (fuse_set_signal_handlers(se)) {
        rc = zepto_fail(err, EINVAL, "installing signal handlers: %s", fuse_last_msg);
        goto out_unmount;
    }
    /* The parent of a background mount exits 0 here, once the child is ready. */
    if (fuse_daemonize(o->foreground || o->debug)) {
        rc = zepto_fail(err, ECHILD, "detaching: %s", fuse_last_msg);
        goto out_signals;
    }
    zf_share_init(o->max_opens_per_uid, geteuid(), !(o->foreground || o->debug));
    if ((rc = zf_conn_start_keepalive())) {
        zepto_fail(err, -rc, "starting the keepalive thread: %s", strerror(-rc));
        goto out_signals;
    }
    struct fuse_loop_config *lc = fuse_loop_cfg_create();
    if (!lc) {
        rc = zepto_fail(err, ENOMEM, "out of memory");
        goto out_signals;
    }
    unsigned threads = o->threads ? o->threads : DEFAULT_THREADS;
    fuse_loop_cfg_set_max_threads(lc, threads);
    fuse_loop_cfg_set_idle_threads(lc, threads < IDLE_THREADS ? threads : IDLE_THREADS);
    /* The loop returns the number of the signal that ended it (a clean end), or -errno. */
    int lrc = fuse_loop_mt(f, lc);
    /* An unmount while requests are still being answered ends the device's reads with
     * ECONNABORTED rather than ENODEV: the mount is gone all the same, as asked. */
    if (lrc == -ECONNABORTED || lrc == -ENODEV)
        lrc = 0;
    if (lrc < 0)
        rc = zepto_fail(err, -lrc, "serving %s: %s", o->mountpoint, strerror(-lrc));
    fuse_loop_cfg_destroy(lc);
out_signals:
    fuse_remove_signal_handlers(se);
out_unmount:
    fuse_unmount(f);
out_fuse:
    fuse_destroy(f);
    /* Writes kept behind for opens never released (a lazy unmount) go to the daemon, then the
     * relaxed releases still waiting are sent (and their opens freed) before every open left is
     * freed: the other order freed them twice. */
    zf_behind_send();
    zf_close_flush();
    zf_share_free_all();    /* no FUSE thread is left */
    zf_attrs_enable(false); /* and the attributes kept from replies go */
    zf_listings_enable(false);
    fuse_opt_free_args(&args);
out_conn:
    zf_conn_close();
    return rc;
}
