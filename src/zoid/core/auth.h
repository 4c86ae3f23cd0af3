/*
 * The TCP token handshake: a shared token (a file of mode 0600), a random nonce from the daemon,
 * and the client's HMAC-SHA256 of it, compared in constant time (libsodium).
 */
#ifndef ZEPTO_ZOID_AUTH_H
#define ZEPTO_ZOID_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "zepto/zepto.h"

#define ZOID_NONCE_BYTES 32
#define ZOID_MAC_BYTES   32
#define ZOID_TOKEN_MAX   4096

struct zoid_token {
    unsigned char key[ZOID_TOKEN_MAX];
    size_t len;
};

/* Reads a token file: refused when anyone but its owner may read it, or when it is empty. */
int zoid_token_read(const char *path, struct zoid_token *t, struct zepto_err *err);
void zoid_nonce(unsigned char nonce[ZOID_NONCE_BYTES]);
void zoid_mac(const struct zoid_token *t, const unsigned char nonce[ZOID_NONCE_BYTES],
              unsigned char mac[ZOID_MAC_BYTES]);
/* Constant-time comparison of the expected MAC with the one received. */
int zoid_mac_verify(const struct zoid_token *t, const unsigned char nonce[ZOID_NONCE_BYTES],
                    const unsigned char *mac, size_t len);

#endif
