/*
 * The posix plugin's zp_pwrite for large writes from socket clients: the daemon reads only the
 * call's fixed arguments and leaves the bytes in the client's socket (zoid_host_payload_tail),
 * and zp__pwrite_tail moves them into the file without a copy through the daemon's memory. The
 * plugin's description is the generated one with this entry in zp_pwrite's place; a call whose
 * payload came whole (small, or from shm:) goes to the generated entry as before.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "coalesce.h"
#include "zepto/zoid_codec.h"
#include "zp_impl.h"
#include "zposix_plugin.h"

/* The generated description (zposix_server.c's zoid_plugin_register, renamed by CMake). */
const struct zoid_plugin *zoid_posix_plugin_generated(void);

/* zp_pwrite's arguments before its bytes: h (int), n (size_t), off (int64_t). */
#define HEAD (sizeof(int) + sizeof(size_t) + sizeof(int64_t))

static struct zoid_plugin desc;
static zoid_fn fns[64];
static zoid_fn generated_pwrite;
static int pwrite_fn = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int pwrite_entry(struct zoid_call *call, const void *payload, size_t len)
{
    size_t left = zoid_call_payload_left(call);
    if (!left)
        return generated_pwrite(call, payload, len);
    struct zoid_reader r;
    zoid_reader_init(&r, payload, len);
    int h = (int)zoid_get_int(&r, sizeof(int));
    size_t n = (size_t)zoid_get_uint(&r, sizeof(size_t));
    int64_t off = zoid_get_int(&r, sizeof(int64_t));
    if (!zoid_reader_done(&r) || n != left)
        return -EPROTO; /* the rest is dropped by the daemon */
    unsigned char *rep = zoid_reply_reserve(call, sizeof(ssize_t) + 4);
    if (!rep)
        return errno == ENOMEM ? -ENOMEM : -EMSGSIZE;
    memset(rep, 0, sizeof(ssize_t) + 4);
    errno = 0;
    ssize_t rc = zp__pwrite_tail(call, h, n, off);
    int e = errno;
    zoid_store_int(rep, (int64_t)rc, sizeof(ssize_t));
    zoid_store_int(rep + sizeof(ssize_t), e, 4);
    return 0;
}

static void build(void)
{
    const struct zoid_plugin *g = zoid_posix_plugin_generated();
    desc = *g;
    if (g->nfunctions > 64 || !g->function_names)
        return; /* as generated: every write read whole */
    memcpy(fns, g->functions, g->nfunctions * sizeof(*fns));
    for (unsigned i = 0; i < g->nfunctions; i++)
        if (g->function_names[i] && !strcmp(g->function_names[i], "zp_pwrite")) {
            generated_pwrite = fns[i];
            fns[i] = pwrite_entry;
            pwrite_fn = (int)i;
        }
    desc.functions = fns;
}

const struct zoid_plugin *zoid_posix_plugin_register(void)
{
    pthread_once(&once, build);
    return &desc;
}

int zp__write_tail_init(struct zoid_host *host)
{
    if (pwrite_fn < 0 || !zpc_cfg.splice)
        return 0; /* ZOID_POSIX_SPLICE=0: every write read whole, as before */
    return zoid_host_payload_tail(host, (unsigned)pwrite_fn, HEAD);
}
