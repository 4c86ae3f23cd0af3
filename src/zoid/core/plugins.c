/*
 * The plugin table: the built-in core plugin (id 0: null, echo, sink, source, whoami, sleep;
 * what the benchmark, health checks and tests call), the built-in posix plugin (id 1, file
 * forwarding: src/zoid/posix) when linked in, and every *.so of --plugin-dir, loaded with
 * dlopen and described by its zoid_plugin_register(). A plugin whose description is wrong (API
 * version, id taken, no functions) or whose init fails is not loaded, and the daemon says why.
 * Each plugin's init gets its struct zoid_host, which stays in its slot until fini.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zoid/core/daemon_int.h"

/* ---- the core plugin ---- */

static int core_null(struct zoid_call *call, const void *payload, size_t len)
{
    (void)call;
    (void)payload;
    (void)len;
    return 0;
}

static int core_echo(struct zoid_call *call, const void *payload, size_t len)
{
    /* The request buffer lives until the reply is sent: send it back without a copy. */
    return zoid_reply_bulk(call, payload, len, NULL, NULL);
}

static int core_sink(struct zoid_call *call, const void *payload, size_t len)
{
    return core_null(call, payload, len);
}

static const unsigned char zeros[1 << 16];

static int core_source(struct zoid_call *call, const void *payload, size_t len)
{
    uint64_t n = 0;
    if (len != sizeof(n))
        return -EPROTO;
    memcpy(&n, payload, sizeof(n));
    while (n) {
        size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
        int rc = zoid_reply_bulk(call, zeros, k, NULL, NULL);
        if (rc)
            return rc;
        n -= k;
    }
    return 0;
}

static int core_whoami(struct zoid_call *call, const void *payload, size_t len)
{
    (void)payload;
    if (len)
        return -EPROTO;
    const struct zoid_identity *id = zoid_call_identity(call);
    uint32_t out[4] = {id->uid, id->gid, (uint32_t)id->pid, id->verified};
    return zoid_reply_append(call, out, sizeof(out));
}

/* For tests of timeouts, interrupted calls and draining: a call that takes a while. */
static int core_sleep(struct zoid_call *call, const void *payload, size_t len)
{
    uint64_t ns;
    if (len != sizeof(ns))
        return -EPROTO;
    memcpy(&ns, payload, sizeof(ns));
    if (ns > 10000000000ull)
        return -EINVAL;
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    /* The daemon interrupts it (EINTR) when the client leaves or the call times out. */
    while (nanosleep(&ts, &ts) && errno == EINTR)
        if (zoid_call_cancelled(call))
            return -ECANCELED;
    return 0;
}

static const zoid_fn core_functions[ZOID_CORE_FUNCTIONS] = {core_null,   core_echo,   core_sink,
                                                            core_source, core_whoami, core_sleep};
static const char *const core_names[ZOID_CORE_FUNCTIONS] = {"null",   "echo",   "sink",
                                                            "source", "whoami", "sleep"};

const struct zoid_plugin zoid_core_plugin = {
    .api = ZOID_PLUGIN_API,
    .id = 0,
    .name = "core",
    .nfunctions = ZOID_CORE_FUNCTIONS,
    .functions = core_functions,
    .function_names = core_names,
};

/* The index of the slot whose host is `host` in d's table, or -1 (a host from elsewhere). */
static int slot_of(const struct zoid_daemon *d, const struct zoid_host *host)
{
    uintptr_t first = (uintptr_t)&d->slots[0].host, at = (uintptr_t)host;
    if (at < first || (at - first) % sizeof(struct zoid_slot) ||
        (at - first) / sizeof(struct zoid_slot) >= ZOID_MAX_PLUGINS)
        return -1;
    return (int)((at - first) / sizeof(struct zoid_slot));
}

int zoid_host_in_place(struct zoid_host *host, unsigned fn)
{
    struct zoid_daemon *d = host ? host->daemon : NULL;
    int i = d && fn < 64 ? slot_of(d, host) : -1;
    if (i < 0)
        return -EINVAL;
    d->in_place[i] |= 1ull << fn;
    return 0;
}

int zoid_host_payload_tail(struct zoid_host *host, unsigned fn, uint32_t head)
{
    struct zoid_daemon *d = host ? host->daemon : NULL;
    int i = d && fn < 64 && head <= 4096 ? slot_of(d, host) : -1;
    if (i < 0)
        return -EINVAL;
    d->tail_head[i][fn] = (uint16_t)(head + 1);
    return 0;
}

/* ---- loading ---- */

/* The posix plugin (src/zoid/posix), built into the zepto executable. Weak: the daemon's
 * sources are also built without it (the frame fuzzer), and then there is no plugin 1. */
const struct zoid_plugin *zoid_posix_plugin_register(void) __attribute__((weak));
/* The sockfwd plugin (src/zoid/sockfwd, id 3: socket forwarding), built in the same way. */
const struct zoid_plugin *zoid_sockfwd_plugin_register(void) __attribute__((weak));
/* The stream plugin (src/zoid/stream, id 14), built in the same way. */
const struct zoid_plugin *zoid_stream_plugin_register(void) __attribute__((weak));

/* Fills slot (its host from base) and runs the plugin's init: 0, or its -errno. */
static int start(struct zoid_slot *slot, const struct zoid_plugin *p, void *handle,
                 const struct zoid_host *base)
{
    *slot = (struct zoid_slot){.p = p, .handle = handle, .host = *base};
    slot->host.plugin_name = p->name;
    slot->host.plugin_state = NULL;
    struct zoid_daemon *d = base->daemon;
    int i = d ? slot_of(d, &slot->host) : -1;
    if (i >= 0) {
        d->in_place[i] = 0;
        memset(d->tail_head[i], 0, sizeof(d->tail_head[i]));
    }
    int rc = p->init ? p->init(&slot->host) : 0;
    if (rc) {
        *slot = (struct zoid_slot){0};
        if (i >= 0) { /* what a plugin that failed here said is forgotten */
            d->in_place[i] = 0;
            memset(d->tail_head[i], 0, sizeof(d->tail_head[i]));
        }
    }
    return rc > 0 ? -rc : rc;
}

static int load_builtin(const struct zoid_host *base, struct zoid_slot *slots, unsigned *n,
                        struct zepto_err *err)
{
    const struct zoid_plugin *list[] = {
        zoid_posix_plugin_register ? zoid_posix_plugin_register() : NULL,
        zoid_sockfwd_plugin_register ? zoid_sockfwd_plugin_register() : NULL,
        zoid_stream_plugin_register ? zoid_stream_plugin_register() : NULL,
    };
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
        const struct zoid_plugin *p = list[i];
        if (!p)
            continue;
        int rc = start(&slots[*n], p, NULL, base);
        if (rc)
            return zepto_fail(err, EIO, "built-in plugin %s: its init failed: %s", p->name,
                              strerror(-rc));
        snprintf(slots[*n].path, sizeof(slots[*n].path), "(built in)");
        (*n)++;
    }
    return 0;
}

int zoid_plugin_find(const struct zoid_slot *slots, unsigned n, uint16_t id)
{
    for (unsigned i = 0; i < n; i++)
        if (slots[i].p->id == id)
            return (int)i;
    return -1;
}

static bool ends_with_so(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && !strcmp(name + n - 3, ".so");
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_one(const char *path, const struct zoid_host *base, struct zoid_slot *slots,
                    unsigned *n, struct zepto_err *err)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return zepto_fail(err, ENOEXEC, "plugin %s: %s", path, dlerror());
    zoid_register_fn reg;
    *(void **)&reg = dlsym(h, ZOID_REGISTER_SYMBOL);
    const struct zoid_plugin *p = reg ? reg() : NULL;
    const char *why = NULL;
    char api[128];
    if (p && p->api != ZOID_PLUGIN_API)
        snprintf(api, sizeof(api),
                 "built for plugin API %u, this daemon loads API %d plugins only (rebuild it "
                 "against this zepto's zepto/zoid_plugin.h)",
                 (unsigned)p->api, ZOID_PLUGIN_API);
    if (!reg)
        why = "no " ZOID_REGISTER_SYMBOL "()";
    else if (!p)
        why = ZOID_REGISTER_SYMBOL "() returned NULL";
    else if (p->api != ZOID_PLUGIN_API)
        why = api;
    else if (p->id == 0)
        why = "id 0 belongs to the core plugin";
    else if (!p->nfunctions || !p->functions || !p->name)
        why = "no name or no functions";
    else if (zoid_plugin_find(slots, *n, p->id) >= 0)
        why = "its id is taken by another plugin";
    else if (*n == ZOID_MAX_PLUGINS)
        why = "too many plugins";
    if (why) {
        dlclose(h);
        return zepto_fail(err, EINVAL, "plugin %s: %s", path, why);
    }
    int rc = start(&slots[*n], p, h, base);
    if (rc) {
        dlclose(h);
        return zepto_fail(err, EIO, "plugin %s (%s): its init failed: %s", path, p->name,
                          strerror(-rc));
    }
    snprintf(slots[*n].path, sizeof(slots[*n].path), "%s", path);
    (*n)++;
    return 0;
}

int zoid_plugins_load(const char *dir, const struct zoid_host *base, struct zoid_slot *slots,
                      unsigned *n, struct zepto_err *err)
{
    *n = 0;
    start(&slots[(*n)++], &zoid_core_plugin, NULL, base);
    zoid_host_in_place(&slots[0].host, ZOID_CORE_SINK); /* the benchmark's uploads: not read */
    int rc = load_builtin(base, slots, n, err);
    if (rc || !dir)
        return rc;
    DIR *dh = opendir(dir);
    if (!dh)
        return zepto_fail(err, errno, "--plugin-dir %s: %s", dir, strerror(errno));
    char *names[256];
    unsigned count = 0;
    struct dirent *e;
    while ((e = readdir(dh)) && count < 256)
        if (ends_with_so(e->d_name))
            names[count++] = strdup(e->d_name);
    closedir(dh);
    qsort(names, count, sizeof(char *), cmp_names); /* a stable order: ids are checked in it */
    for (unsigned i = 0; i < count; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (!rc && names[i])
            rc = load_one(path, base, slots, n, err);
        free(names[i]);
    }
    if (rc)
        zoid_plugins_unload(slots, *n);
    return rc;
}

void zoid_plugins_unload(struct zoid_slot *slots, unsigned n)
{
    for (unsigned i = n; i-- > 0;) {
        if (slots[i].p && slots[i].p->fini)
            slots[i].p->fini(slots[i].host.plugin_state);
        if (slots[i].handle)
            dlclose(slots[i].handle);
        slots[i] = (struct zoid_slot){0};
    }
}
