/*
 * The kv store itself, as it runs inside the daemon: plain C against kv.h, built into
 * libkv_zoid.so with the dispatch `zepto zoid gen` writes (kv_server.c). The one ZOID-specific
 * part is where a client's namespace lives: in the plugin's per-client slot
 * (zoid_call_client_state of the call being served), created at the client's first call and freed
 * by kv_gone when the client goes.
 *
 * A client may have many calls in flight on many daemon threads at once, so each namespace has
 * its own lock; creating one takes a global lock (once per client).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "kv_server.h"

#define NBUCKETS 256

struct entry {
    struct entry *next;
    size_t len;
    char key[KV_KEY_MAX + 1];
    unsigned char value[]; /* len bytes */
};

struct ns {
    pthread_mutex_t mu;
    struct entry *bucket[NBUCKETS];
    struct kv_stats st; /* clients is filled in by kv_stats */
};

static pthread_mutex_t create_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint32_t live; /* namespaces alive */

int kv_init(struct zoid_host *host)
{
    (void)host;
    live = 0;
    return 0;
}

void kv_fini(void *plugin_state)
{
    (void)plugin_state;
}

void kv_gone(void *plugin_state, void *client_state)
{
    (void)plugin_state;
    struct ns *ns = client_state;
    if (!ns)
        return;
    for (int b = 0; b < NBUCKETS; b++) {
        for (struct entry *e = ns->bucket[b], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&ns->mu);
    free(ns);
    live--;
}

/* The caller's namespace, created at its first call; NULL (errno set) when there is no call. */
static struct ns *caller_ns(void)
{
    struct zoid_call *call = kv_zoid_current();
    if (!call) {
        errno = EPERM;
        return NULL;
    }
    void **slot = zoid_call_client_state(call);
    pthread_mutex_lock(&create_mu);
    if (!*slot) {
        struct ns *ns = calloc(1, sizeof(*ns));
        if (ns) {
            pthread_mutex_init(&ns->mu, NULL);
            live++;
        }
        *slot = ns;
    }
    struct ns *ns = *slot;
    pthread_mutex_unlock(&create_mu);
    if (!ns)
        errno = ENOMEM;
    return ns;
}

static unsigned hash(const char *key)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h % NBUCKETS;
}

/* The link that points at key's entry (or at the NULL ending its bucket). */
static struct entry **find(struct ns *ns, const char *key)
{
    struct entry **at = &ns->bucket[hash(key)];
    while (*at && strcmp((*at)->key, key))
        at = &(*at)->next;
    return at;
}

int kv_put(const char *key, const void *value, size_t len)
{
    size_t klen = strlen(key);
    if (klen == 0 || klen > KV_KEY_MAX) {
        errno = EINVAL;
        return -1;
    }
    struct ns *ns = caller_ns();
    if (!ns)
        return -1;
    struct entry *e = malloc(sizeof(*e) + len);
    if (!e) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(e->key, key, klen + 1);
    e->len = len;
    if (len)
        memcpy(e->value, value, len);
    pthread_mutex_lock(&ns->mu);
    struct entry **at = find(ns, key), *old = *at;
    e->next = old ? old->next : NULL;
    *at = e;
    ns->st.keys += !old;
    ns->st.bytes += len - (old ? old->len : 0);
    ns->st.puts++;
    pthread_mutex_unlock(&ns->mu);
    free(old);
    return 0;
}

int kv_get(const char *key, void *buf, size_t cap, size_t *len)
{
    struct ns *ns = caller_ns();
    if (!ns)
        return -1;
    pthread_mutex_lock(&ns->mu);
    ns->st.gets++;
    struct entry *e = *find(ns, key);
    if (e) {
        memcpy(buf, e->value, cap < e->len ? cap : e->len);
        *len = e->len;
    }
    pthread_mutex_unlock(&ns->mu);
    if (!e) {
        errno = ENOENT;
        return -1;
    }
    return 0;
}

int kv_del(const char *key, size_t *old_len)
{
    struct ns *ns = caller_ns();
    if (!ns)
        return -1;
    pthread_mutex_lock(&ns->mu);
    ns->st.dels++;
    struct entry **at = find(ns, key), *e = *at;
    if (e) {
        *at = e->next;
        ns->st.keys--;
        ns->st.bytes -= e->len;
        if (old_len)
            *old_len = e->len;
    }
    pthread_mutex_unlock(&ns->mu);
    if (!e) {
        errno = ENOENT;
        return -1;
    }
    free(e);
    return 0;
}

long kv_count(void)
{
    struct ns *ns = caller_ns();
    if (!ns)
        return -1;
    pthread_mutex_lock(&ns->mu);
    long n = (long)ns->st.keys;
    pthread_mutex_unlock(&ns->mu);
    return n;
}

int kv_matvec(const double *m, uint32_t rows, uint32_t cols, const double *x, double *y)
{
    for (uint32_t r = 0; r < rows; r++) {
        double s = 0;
        for (uint32_t c = 0; c < cols; c++)
            s += m[(size_t)r * cols + c] * x[c];
        y[r] = s;
    }
    return 0;
}

int kv_stats(struct kv_stats *st)
{
    struct ns *ns = caller_ns();
    if (!ns)
        return -1;
    pthread_mutex_lock(&ns->mu);
    *st = ns->st;
    pthread_mutex_unlock(&ns->mu);
    st->clients = live;
    return 0;
}
