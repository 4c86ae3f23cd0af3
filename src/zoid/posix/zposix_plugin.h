/*
 * The posix plugin of `zepto zoid serve` as the daemon sees it: configured before the plugin
 * table is loaded, then registered as built-in plugin 1 (protocol: zposix.h; docs/zoid-posix.md).
 */
#ifndef ZEPTO_ZPOSIX_PLUGIN_H
#define ZEPTO_ZPOSIX_PLUGIN_H

#include "zepto/zoid_plugin.h"

/* The tree the plugin serves (opened once at init) and the consistency zp_session_new reports
 * (ZP_STRICT or ZP_RELAXED). Call before the plugin's init; the string is copied. */
void zoid_posix_configure(const char *export_dir, int consistency);

/* The plugin's description (the generated zoid_plugin_register, renamed: it is linked into the
 * zepto executable, which exports its symbols to dlopened plugins). */
const struct zoid_plugin *zoid_posix_plugin_register(void);

#endif
