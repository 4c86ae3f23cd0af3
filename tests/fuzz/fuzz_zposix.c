/*
 * libFuzzer target for the posix plugin: the generated dispatch (zposix_server.c) with the real
 * implementation behind it (src/zoid/posix), fed what one client sends, as fuzz_zoid_kv.c does:
 * a sequence of calls [u8 function][u16 length, little-endian][payload], then the client goes
 * (its session, and every descriptor in it, must be released: a leak shows).
 *
 * The plugin serves a scratch export, ./zposix-export (run_fuzz.sh runs the target in its work
 * directory), emptied every few thousand inputs. When the target runs as root, calls run as uid
 * 65534 (the plugin switches the thread's fs ids, which drops CAP_MKNOD, CAP_DAC_OVERRIDE and
 * the like), so that nothing outside the export is writable even if confinement failed. Files
 * are kept small (RLIMIT_FSIZE), and calls that would hold the thread (FIFOs, which a reader
 * can wait on forever) are not made.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_reply.h"
#include "zepto/zoid_plugin.h"
#include "zposix.h"
#include "zposix_client.h" /* the function ids */
#include "zposix_plugin.h"

#define EXPORT "zposix-export"

static void *client_state;
static struct zoid_identity ident;

const struct zoid_identity *zoid_call_identity(const struct zoid_call *call)
{
    (void)call;
    return &ident;
}

void **zoid_call_client_state(struct zoid_call *call)
{
    (void)call;
    return &client_state;
}

/* zp_lend: the descriptor it lends must be one of the daemon's, open, of a regular file. */
int zoid_call_lend_fd(struct zoid_call *call, int fd, uint64_t tag)
{
    (void)call;
    (void)tag;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode))
        abort();
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    if (ftw->level > 0)
        remove(path);
    return 0;
}

static void empty_export(void)
{
    nftw(EXPORT, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const struct zoid_plugin *setup(void)
{
    mkdir(EXPORT, 0777);
    chmod(EXPORT, 0777);
    empty_export();
    struct rlimit fs = {1 << 20, 1 << 20};
    setrlimit(RLIMIT_FSIZE, &fs);
    signal(SIGXFSZ, SIG_IGN);
    if (geteuid() == 0) {
        ident.uid = ident.gid = 65534;
    } else {
        ident.uid = (uint32_t)geteuid();
        ident.gid = (uint32_t)getegid();
    }
    ident.pid = 1;
    ident.verified = true;
    snprintf(ident.peer, sizeof(ident.peer), "fuzz");
    fake_host = (struct zoid_host){.plugin_name = "posix",
                                   .export_dir = EXPORT,
                                   .export_fd = open(EXPORT, O_PATH | O_DIRECTORY | O_CLOEXEC),
                                   .consistency = ZP_STRICT};
    const struct zoid_plugin *p = zoid_posix_plugin_register();
    if (p->init && p->init(&fake_host))
        abort();
    return p;
}

/* mknod of anything but a regular file (a FIFO could hold the thread): skipped. */
static int skip(unsigned fn, const unsigned char *payload, size_t len)
{
    if (fn == ZPOSIX_ZOID_FN_ZP_MKNODAT && len >= 8) {
        uint32_t mode;
        memcpy(&mode, payload + 4, 4);
        return (mode & S_IFMT) != S_IFREG && (mode & S_IFMT) != 0;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct zoid_plugin *p;
    static unsigned runs;
    if (!p)
        p = setup();
    if (++runs % 4096 == 0)
        empty_export();
    size_t at = 0;
    while (size - at >= 3) {
        unsigned fn = data[at] % p->nfunctions, shift = data[at] >> 5;
        size_t len = (size_t)data[at + 1] | (size_t)data[at + 2] << 8;
        at += 3;
        if (len > size - at)
            len = size - at;
        unsigned char *buf = malloc(shift + len ? shift + len : 1);
        if (len)
            memcpy(buf + shift, data + at, len);
        at += len;
        if (skip(fn, buf + shift, len)) {
            free(buf);
            continue;
        }
        struct zoid_call call = {0};
        int rc = p->functions[fn](&call, len || shift ? buf + shift : NULL, len);
        if (fake_dirty) { /* as the daemon would: the fuzzer's own identity */
            void (*clear)(void) = fake_dirty;
            fake_dirty = NULL;
            clear();
        }
        if ((rc == 0 && call.len < 4) ||
            (rc != 0 && rc != -EPROTO && rc != -EMSGSIZE && rc != -ENOMEM))
            abort();
        free(call.buf);
        free(buf);
    }
    if (client_state && p->client_gone)
        p->client_gone(fake_host.plugin_state, client_state);
    client_state = NULL;
    return 0;
}
