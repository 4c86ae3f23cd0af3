/*
 * zoid's table of environment variables (include/zepto/zoid_settings.h), read through base's
 * zb_env(): getenv only, no allocation, so that libzoid-preload.so may read it in its
 * constructor.
 */
#include "zepto/zoid_settings.h"

#include "base/settings.h"

static const struct zepto_setting list[ZOID_SET_COUNT] = {
    [ZOID_SET_SERVER] = {"ZOID_SERVER", "unix:PATH|shm:PATH|tcp:HOST:PORT",
                         "the zoid daemon a client reaches when it names none (zoid run sets it)"},
    [ZOID_SET_TOKEN_FILE] = {"ZOID_TOKEN_FILE", "FILE",
                             "the shared token for a tcp daemon, when no --token-file is given"},
    [ZOID_SET_MOUNT] = {"ZOID_MOUNT", "PREFIX",
                        "the prefix libzoid-preload.so forwards (zoid run --mount sets it)"},
    [ZOID_SET_CONSISTENCY] = {"ZOID_CONSISTENCY", "strict|relaxed",
                              "the forwarded writes' consistency (zoid run --consistency sets it)"},
    [ZOID_SET_PRELOAD_STATE] = {"ZOID_PRELOAD_STATE", "STATE",
                                "internal: the session libzoid-preload.so hands across exec"},
    [ZOID_SET_PRELOAD_LIB] = {"ZEPTO_ZOID_PRELOAD_LIB", "PATH",
                              "libzoid-preload.so that zoid run preloads (default: ../lib next "
                              "to zepto)"},
    [ZOID_SET_TCP_TIMEOUT] = {"ZOID_TCP_TIMEOUT", "SECONDS",
                              "tcp: a peer silent this long (link cut, node gone) is dropped "
                              "and its calls fail with ETIMEDOUT, 1..3600 (default 20)"},
    [ZOID_SET_SOCKETS] = {"ZOID_SOCKETS", "0|1",
                          "1: libzoid-preload.so forwards TCP connections through the daemon "
                          "(zoid run --sockets sets it)"},
    [ZOID_SET_SHM_SPIN] = {"ZOID_SHM_SPIN", "MICROSECONDS|off|poll",
                           "shm: how long a waiting client spins before it sleeps (default 50; "
                           "poll: never sleeps)"},
    [ZOID_SET_SHM_WATCH] = {"ZOID_SHM_WATCH", "0|1",
                            "shm: 1 (default): the daemon's worker that answered a client reads "
                            "its ring itself for ZOID_SHM_SPIN; 0: it waits for a doorbell"},
};

static const struct zepto_settings table = {"zoid", list, ZOID_SET_COUNT};

const struct zepto_settings *zoid_settings(void)
{
    return &table;
}

const char *zoid_setting(enum zoid_setting s, const char *fallback)
{
    return zb_env(&table, (unsigned)s, fallback);
}

const char *zoid_setting_name(enum zoid_setting s)
{
    return (unsigned)s < ZOID_SET_COUNT ? list[s].env : "";
}
