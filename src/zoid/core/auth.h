/*
 * The TCP token handshake (version 2): a shared token (a file of mode 0600), a random nonce from
 * each side, and a role-labelled HMAC-SHA256 from each side over both nonces and the daemon's
 * address as both ends see it, compared in constant time (libsodium). Mutual: the client checks
 * the daemon's proof too.
 */
#ifndef ZEPTO_ZOID_AUTH_H
#define ZEPTO_ZOID_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "zepto/zepto.h"

#define ZOID_NONCE_BYTES       32
#define ZOID_MAC_BYTES         32
#define ZOID_TOKEN_MAX         4096
#define ZOID_HANDSHAKE_VERSION 2
#define ZOID_ENDPOINT_MAX      64

/* Which side a proof comes from: the label is part of the MAC, so one side's proof never passes
 * for the other's. */
enum zoid_role { ZOID_ROLE_CLIENT, ZOID_ROLE_SERVER };

struct zoid_token {
    unsigned char key[ZOID_TOKEN_MAX];
    size_t len;
};

/* Reads a token file: refused when anyone but its owner may read it, or when it is empty. */
int zoid_token_read(const char *path, struct zoid_token *t, struct zepto_err *err);
void zoid_nonce(unsigned char nonce[ZOID_NONCE_BYTES]);
/* The daemon's address of a connected TCP socket, "ip:port": local (the daemon) or peer (the
 * client's view of the daemon). Empty for other sockets. */
void zoid_endpoint(int fd, int local, char out[ZOID_ENDPOINT_MAX]);
/* HMAC-SHA256(token, "zoid2 client"|"zoid2 server", nonce_server, nonce_client, endpoint). */
void zoid_mac(const struct zoid_token *t, enum zoid_role role,
              const unsigned char ns[ZOID_NONCE_BYTES], const unsigned char nc[ZOID_NONCE_BYTES],
              const char *endpoint, unsigned char mac[ZOID_MAC_BYTES]);
/* Constant-time comparison of the expected MAC with the one received: 0 or -EACCES. */
int zoid_mac_verify(const struct zoid_token *t, enum zoid_role role,
                    const unsigned char ns[ZOID_NONCE_BYTES],
                    const unsigned char nc[ZOID_NONCE_BYTES], const char *endpoint,
                    const unsigned char *mac, size_t len);
/* Constant-time: 1 when the two MACs are equal. */
int zoid_mac_equal(const unsigned char a[ZOID_MAC_BYTES], const unsigned char b[ZOID_MAC_BYTES]);

#endif
