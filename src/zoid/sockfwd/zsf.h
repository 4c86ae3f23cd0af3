/*
 * The sockfwd plugin inside the daemon: built-in plugin 3 of `zepto zoid serve`, which opens
 * TCP connections on behalf of `zepto zoid run --sockets` programs to the destinations that
 * --allow-connect allows, and relays their bytes (docs/zoid-sockets.md).
 */
#ifndef ZEPTO_ZOID_SOCKFWD_ZSF_H
#define ZEPTO_ZOID_SOCKFWD_ZSF_H

#include <stdint.h>

#include "zepto/zepto.h"
#include "zepto/zoid_plugin.h"

/* The plugin's description, found by the daemon's plugin loader (a weak reference). */
const struct zoid_plugin *zoid_sockfwd_plugin_register(void);

/* ---- the relay (zsf_relay.c) ---- */

/* Starts the relay's listener (every address, an ephemeral port) and its thread; 0 or -errno. */
int zsf__relay_start(const struct zoid_host *host, uint16_t *port);
/* Stops accepting, shuts every relayed connection down and waits (bounded) for their threads. */
void zsf__relay_stop(void);
/* Hands fd (connected to the destination) to the relay until a client presents the cookie
 * written into `cookie` (within 10 s); 0, or -EAGAIN when the relay is full. */
int zsf__relay_add(int fd, uint32_t uid, uint8_t cookie[32]);

#endif
