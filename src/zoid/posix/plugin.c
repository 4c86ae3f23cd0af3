/*
 * The posix plugin's life: its configuration (the export and the default consistency, from
 * `zepto zoid serve`), its init (the export opened once, O_PATH, as the root of every lookup),
 * fini, the client_gone hook (a connection's session reference), and its log lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zp_impl.h"
#include "zposix_plugin.h"
#include "zposix_server.h"

int zp_export_fd = -1;
char zp_export_real[PATH_MAX];
int zp_default_consistency = ZP_STRICT;
static char *export_dir;

void zoid_posix_configure(const char *dir, int consistency)
{
    free(export_dir);
    export_dir = dir ? strdup(dir) : NULL;
    zp_default_consistency = consistency == ZP_RELAXED ? ZP_RELAXED : ZP_STRICT;
}

void zp__log(const char *fmt, ...)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", localtime_r(&now, &tm));
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "zepto zoid serve: %s posix: %s\n", when, line);
}

int zp_server_init(void)
{
    if (!export_dir) {
        zp__log("no export directory configured");
        return -1;
    }
    int fd = open(export_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || !realpath(export_dir, zp_export_real)) {
        zp__log("export %s: %s", export_dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    zp_export_fd = fd;
    zp__identity_init();
    return 0;
}

void zp_server_fini(void)
{
    /* No session is left: the daemon drops every client before it unloads the plugins. */
    if (zp_export_fd >= 0)
        close(zp_export_fd);
    zp_export_fd = -1;
    free(export_dir);
    export_dir = NULL;
}

void zp_server_gone(void *state)
{
    zp__conn_gone(state);
}
