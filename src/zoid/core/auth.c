/*
 * Token handshake primitives, on libsodium's HMAC-SHA256 and random bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
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

void zoid_mac(const struct zoid_token *t, const unsigned char nonce[ZOID_NONCE_BYTES],
              unsigned char mac[ZOID_MAC_BYTES])
{
    ensure_sodium();
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, t->key, t->len);
    crypto_auth_hmacsha256_update(&st, nonce, ZOID_NONCE_BYTES);
    crypto_auth_hmacsha256_final(&st, mac);
}

int zoid_mac_verify(const struct zoid_token *t, const unsigned char nonce[ZOID_NONCE_BYTES],
                    const unsigned char *mac, size_t len)
{
    unsigned char want[ZOID_MAC_BYTES];
    if (len != ZOID_MAC_BYTES)
        return -EACCES;
    zoid_mac(t, nonce, want);
    return sodium_memcmp(want, mac, ZOID_MAC_BYTES) == 0 ? 0 : -EACCES;
}
