/*
 * The posix plugin of `zepto zoid serve` as the daemon sees it: built-in plugin 1, configured by
 * its struct zoid_host (export, consistency) at init (protocol: zposix.h; docs/zoid-posix.md).
 */
#ifndef ZEPTO_ZPOSIX_PLUGIN_H
#define ZEPTO_ZPOSIX_PLUGIN_H

#include "zepto/zoid_plugin.h"

/* The plugin's description (the generated zoid_plugin_register, renamed: it is linked into the
 * zepto executable, which exports its symbols to dlopened plugins). */
const struct zoid_plugin *zoid_posix_plugin_register(void);

#endif
