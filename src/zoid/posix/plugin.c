/*
 * The posix plugin's life: its init (its state: the export the daemon opened, O_PATH, as the root
 * of every lookup, its real path and the default consistency, all from struct zoid_host), fini
 * and the client_gone hook (a connection's session reference).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "coalesce.h"
#include "zp_impl.h"
#include "zposix_plugin.h"
#include "zposix_server.h"

int zp_server_init(struct zoid_host *host)
{
    if (!host->export_dir || host->export_fd < 0) {
        zoid_host_log(host, ZOID_LOG_ERR, "no export directory configured");
        return -ENOTDIR;
    }
    struct zp_plugin *pl = calloc(1, sizeof(*pl));
    if (!pl)
        return -ENOMEM;
    if (!realpath(host->export_dir, pl->export_real)) {
        int e = errno;
        zoid_host_log(host, ZOID_LOG_ERR, "export %s: %s", host->export_dir, strerror(e));
        free(pl);
        return -e;
    }
    pl->host = host;
    pl->export_fd = host->export_fd;
    pl->consistency = host->consistency == ZP_RELAXED ? ZP_RELAXED : ZP_STRICT;
    host->plugin_state = pl;
    zp__identity_init();
    zp__quota_init();
    zpc_init(host);
    int rc = zp__write_tail_init(host);
    if (rc) {
        zpc_fini();
        free(pl);
        host->plugin_state = NULL;
        return rc;
    }
    zoid_host_log(host, ZOID_LOG_INFO, "open files: %ld per uid, %ld for root and the daemon's uid",
                  zp__quota_share(false), zp__quota_share(true));
    return 0;
}

void zp_server_fini(void *plugin_state)
{
    /* No session is left: the daemon drops every client before it unloads the plugins. The
     * export's descriptor is the daemon's. Gathered writes go out first. */
    zpc_fini();
    free(plugin_state);
}

void zp_server_gone(void *plugin_state, void *client_state)
{
    (void)plugin_state;
    zp__conn_gone(client_state);
}
