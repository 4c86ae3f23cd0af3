/*
 * Token handshake primitives, on libsodium's HMAC-SHA256 and random bytes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zoid/core/auth.h"

static void ensure_sodium(void)
{
    static int done;
    if (!done)
        done = sodium_init() >= 0 ? 1 : 0; /* 1: already initialised is fine too */
}

int zoid_token_read(const char *path, struct zoid_token *t, struct zepto_err *err)
{
    memset(t, 0, sizeof(*t));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return zepto_fail(err, EINVAL, "%s: not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return zepto_fail(err, EACCES, "%s: mode %03o lets others read the token; chmod 600 it",
                          path, (unsigned)(st.st_mode & 0777));
    }
    ssize_t n = read(fd, t->key, sizeof(t->key));
    int e = errno;
    close(fd);
    if (n < 0)
        return zepto_fail(err, e, "%s: %s", path, strerror(e));
    while (n > 0 && (t->key[n - 1] == '\n' || t->key[n - 1] == '\r'))
        n--;
    if (n == 0)
        return zepto_fail(err, EINVAL, "%s: the token is empty", path);
    if ((size_t)n == sizeof(t->key))
        return zepto_fail(err, EINVAL, "%s: the token is longer than %d bytes", path,
                          ZOID_TOKEN_MAX - 1);
    t->len = (size_t)n;
    return 0;
}

void zoid_nonce(unsigned char nonce[ZOID_NONCE_BYTES])
{
    ensure_sodium();
    randombytes_buf(nonce, ZOID_NONCE_BYTES);
}

void zoid_endpoint(int fd, int local, char out[ZOID_ENDPOINT_MAX])
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "";
    unsigned port = 0;
    out[0] = 0;
    if ((local ? getsockname(fd, (struct sockaddr *)&ss, &len)
               : getpeername(fd, (struct sockaddr *)&ss, &len)) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
    } else {
        return;
    }
    snprintf(out, ZOID_ENDPOINT_MAX, "%s:%u", ip, port);
}

void zoid_mac(const struct zoid_token *t, enum zoid_role role,
              const unsigned char ns[ZOID_NONCE_BYTES], const unsigned char nc[ZOID_NONCE_BYTES],
              const char *endpoint, unsigned char mac[ZOID_MAC_BYTES])
{
    static const char client[] = "zoid2 client", server[] = "zoid2 server";
    const char *label = role == ZOID_ROLE_CLIENT ? client : server;
    unsigned char elen = (unsigned char)strnlen(endpoint, ZOID_ENDPOINT_MAX - 1);
    ensure_sodium();
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, t->key, t->len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, sizeof(client));
    crypto_auth_hmacsha256_update(&st, ns, ZOID_NONCE_BYTES);
    crypto_auth_hmacsha256_update(&st, nc, ZOID_NONCE_BYTES);
    crypto_auth_hmacsha256_update(&st, &elen, 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)endpoint, elen);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
}

int zoid_mac_verify(const struct zoid_token *t, enum zoid_role role,
                    const unsigned char ns[ZOID_NONCE_BYTES],
                    const unsigned char nc[ZOID_NONCE_BYTES], const char *endpoint,
                    const unsigned char *mac, size_t len)
{
    unsigned char want[ZOID_MAC_BYTES];
    if (len != ZOID_MAC_BYTES)
        return -EACCES;
    zoid_mac(t, role, ns, nc, endpoint, want);
    return sodium_memcmp(want, mac, ZOID_MAC_BYTES) == 0 ? 0 : -EACCES;
}

int zoid_mac_equal(const unsigned char a[ZOID_MAC_BYTES], const unsigned char b[ZOID_MAC_BYTES])
{
    return sodium_memcmp(a, b, ZOID_MAC_BYTES) == 0;
}
