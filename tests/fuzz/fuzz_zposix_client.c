/*
 * libFuzzer target for the client side of the posix protocol against a hostile server: the
 * generated client stubs (zposix_client.c) call this file's zoid_call(), which answers with the
 * fuzzer's bytes as the reply, scattered into the stub's reply buffers the way libzoid does
 * (a reply longer than the room is EMSGSIZE; a short one is given as it is). Input: [u8 which
 * call][u8 remote error or 0][reply bytes...]; one of the calls is split-phase
 * (zp_pwrite_begin/_end). The caller's buffers are exactly the size asked (ASan sees any byte
 * written past them), and a count returned must be -1 or within what was asked: a stub that
 * believes a server's count aborts here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "zepto/zoid.h"
#include "zposix.h"
#include "zposix_client.h"

static const uint8_t *reply;
static size_t reply_len;
static int remote_error;

int zoid_call(struct zoid_client *c, uint16_t plugin, uint16_t function, const struct iovec *req,
              int nreq, const struct iovec *rep, int nrep, size_t *rep_len, int timeout_ms)
{
    (void)c, (void)plugin, (void)function, (void)req, (void)nreq, (void)timeout_ms;
    if (remote_error)
        return -(ZOID_REMOTE + remote_error);
    size_t room = 0;
    for (int i = 0; i < nrep; i++)
        room += rep[i].iov_len;
    if (reply_len > room)
        return -EMSGSIZE;
    size_t off = 0;
    for (int i = 0; i < nrep && off < reply_len; i++) {
        size_t n = rep[i].iov_len < reply_len - off ? rep[i].iov_len : reply_len - off;
        memcpy(rep[i].iov_base, reply + off, n);
        off += n;
    }
    *rep_len = reply_len;
    return 0;
}

/* The split-phase stubs: the reply is scattered when the call is ended, as libzoid does. */
struct zoid_call_handle {
    const struct iovec *rep;
    int nrep;
};

int zoid_call_begin(struct zoid_client *c, uint16_t plugin, uint16_t function,
                    const struct iovec *req, int nreq, const struct iovec *rep, int nrep,
                    int timeout_ms, struct zoid_call_handle **out)
{
    static struct zoid_call_handle one;
    (void)c, (void)plugin, (void)function, (void)req, (void)nreq, (void)timeout_ms;
    one = (struct zoid_call_handle){rep, nrep};
    *out = &one;
    return 0;
}

int zoid_call_end(struct zoid_call_handle *h, size_t *rep_len)
{
    return zoid_call(NULL, 0, 0, NULL, 0, h->rep, h->nrep, rep_len, 0);
}

/* Never reached: the stubs get their connection from zposix_zoid_use(). */
int zoid_connect(const char *addr, const struct zoid_client_opts *opts, struct zoid_client **out,
                 struct zepto_err *err)
{
    (void)addr, (void)opts, (void)out, (void)err;
    abort();
}

static void check_count(ssize_t got, size_t asked)
{
    if (got < -1 || (got > 0 && (size_t)got > asked))
        abort(); /* a server's count was believed */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int used;
    if (!used++)
        zposix_zoid_use((struct zoid_client *)&used);
    if (size < 2)
        return 0;
    remote_error = data[1] % 8 == 7 ? data[1] % 200 + 1 : 0;
    reply = data + 2;
    reply_len = size - 2;
    size_t n = 1 + data[0] / 8; /* 1..32 bytes asked */
    char *buf = malloc(n);
    if (!buf)
        abort();
    switch (data[0] % 8) {
    case 0: check_count(zp_pread(3, buf, n, 0), n); break;
    case 1: check_count(zp_getdents(3, buf, n), n); break;
    case 2: check_count(zp_readlinkat(3, "link", buf, n), n); break;
    case 3: {
        struct stat *st = malloc(sizeof(*st));
        if (!st)
            abort();
        (void)zp_fstatat(3, "", st, 0);
        free(st);
        break;
    }
    case 4: check_count(zp_getdents_stat(3, buf, n), n); break;
    case 5: { /* a create's reply: a handle and two stats, each into a buffer of its exact size */
        struct stat *st = malloc(sizeof(*st)), *dst = malloc(sizeof(*dst));
        if (!st || !dst)
            abort();
        (void)zp_openat_stat(3, "f", O_CREAT | O_RDWR, 0644, st, dst);
        free(st);
        free(dst);
        break;
    }
    case 7: { /* split-phase: the reply comes into the call's struct */
        struct zp_pwrite_call *call = malloc(sizeof(*call));
        if (!call)
            abort();
        if (!zp_pwrite_begin(call, 3, buf, n, 0))
            (void)zp_pwrite_end(call);
        free(call);
        break;
    }
    default: {
        uint64_t id;
        (void)zp_session_new(1, &id, (uint8_t *)buf, (uint32_t)n);
        break;
    }
    }
    free(buf);
    return 0;
}
