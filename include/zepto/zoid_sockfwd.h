/*
 * Socket forwarding (docs/zoid-sockets.md): the sockfwd plugin's protocol (built-in plugin 3 of
 * `zepto zoid serve`, docs/zoid-sockets.md): the requests and replies of its two functions, shared
 * by the daemon (src/zoid/sockfwd) and the interposer (src/zoid/preload/sockfwd*.c). Fixed layouts,
 * byte by byte, so that a decoder never trusts a length it did not check (fuzzed:
 * tests/fuzz/fuzz_zsf_wire.c).
 *
 *  CONNECT  request: version (1), family (4|6), port (2 bytes, big-endian), address (16 bytes;
 *                    IPv4 in the first 4, the rest zero): 20 bytes exactly.
 *           reply:   cookie (32 bytes), relay port (2, big-endian): 34 bytes. The client then
 *                    opens a TCP connection to the relay port on the daemon's host and sends the
 *                    cookie; the daemon answers one byte (0) and relays the bytes both ways.
 *  RESOLVE  request: version (1), family (0 any, 4, 6), the host name (1..253 bytes, no NUL).
 *           reply:   count (1 byte, at most ZSF_MAX_ADDRS), then count x (family, 16 bytes).
 */
#ifndef ZEPTO_ZOID_SOCKFWD_H
#define ZEPTO_ZOID_SOCKFWD_H

#include <stddef.h>
#include <stdint.h>

#include "zepto/zepto.h"

#define ZSF_PLUGIN_ID     3
#define ZSF_FN_CONNECT    0
#define ZSF_FN_RESOLVE    1
#define ZSF_VERSION       1
#define ZSF_COOKIE_LEN    32
#define ZSF_CONNECT_LEN   20
#define ZSF_CONNECTED_LEN (ZSF_COOKIE_LEN + 2)
#define ZSF_MAX_NAME      253
#define ZSF_MAX_ADDRS     16
#define ZSF_ADDR_LEN      17 /* family + 16 bytes */

/* An IPv4 or IPv6 address and port, in host order for the port. */
struct zsf_dest {
    uint8_t family; /* 4 or 6 */
    uint16_t port;
    uint8_t addr[16];
};

/* 0, or -EINVAL when buf is not exactly a well-formed CONNECT request. */
int zsf_connect_decode(const void *buf, size_t len, struct zsf_dest *d);
/* Writes the 20-byte request into out. */
void zsf_connect_encode(const struct zsf_dest *d, uint8_t out[ZSF_CONNECT_LEN]);

/* 0 with name (NUL-terminated, at most ZSF_MAX_NAME bytes) and *family (0, 4 or 6), or -EINVAL. */
int zsf_resolve_decode(const void *buf, size_t len, char name[ZSF_MAX_NAME + 1], int *family);
/* The request for name into out (ZSF_MAX_NAME + 2 bytes); its length, or -EINVAL. */
int zsf_resolve_encode(const char *name, int family, uint8_t *out, size_t cap);
/* A RESOLVE reply checked: the number of addresses (0..ZSF_MAX_ADDRS) put in out, or -EPROTO. */
int zsf_resolved_decode(const void *buf, size_t len, struct zsf_dest out[ZSF_MAX_ADDRS]);

/* Adds the rules of one `zepto zoid serve --allow-connect CIDR:PORTS` to the daemon's built-in
 * sockfwd plugin (before the daemon starts); 0 or -EINVAL with the value named in err. */
int zoid_sockfwd_allow(const char *spec, struct zepto_err *err);

/* The allow-list of `zepto zoid serve --allow-connect` (zsf_allow.c). */
struct zsf_rule {
    uint8_t family; /* 4 or 6 */
    uint8_t prefix; /* bits of addr that must match */
    uint8_t addr[16];
    uint16_t lo, hi; /* ports lo..hi */
};
/* Parses "CIDR:PORTS" ("10.0.0.0/8:80", "192.0.2.7:8000-8100", "[fd00::]/8:443", "0.0.0.0/0:*";
 * PORTS a port, a range, '*' or several of these separated by ','), appending up to `max`
 * rules: the number appended, or -EINVAL. */
int zsf_rule_parse(const char *spec, struct zsf_rule *out, size_t max);
/* Whether d (IPv4-mapped IPv6 counts as IPv4) is allowed by one of the rules. */
int zsf_allowed(const struct zsf_rule *rules, size_t n, const struct zsf_dest *d);
/* d as "1.2.3.4:80" or "[::1]:80". */
void zsf_dest_str(const struct zsf_dest *d, char *out, size_t len);

#endif
