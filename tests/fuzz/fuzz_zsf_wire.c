/*
 * libFuzzer target for the sockfwd plugin's request decoding and allow-list parsing
 * (src/zoid/sockfwd/zsf_wire.c, zsf_allow.c): what a hostile client can send the daemon (CONNECT,
 * RESOLVE), what a hostile daemon can answer the interposer (RESOLVE's reply), and the text of
 * --allow-connect. The first byte picks the decoder; the rest is its input, in a buffer of
 * exactly that size (ASan sees a read past it). A request accepted must encode back to the same
 * bytes (one encoding per request), a name must be NUL-free and of the length sent, a rule must
 * be a sane range; anything else aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zepto/zoid_sockfwd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    uint8_t sel = data[0] % 4;
    size--;
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        abort();
    memcpy(b, data + 1, size);
    switch (sel) {
    case 0: {
        struct zsf_dest d;
        if (!zsf_connect_decode(b, size, &d)) {
            uint8_t out[ZSF_CONNECT_LEN];
            zsf_connect_encode(&d, out);
            if (size != ZSF_CONNECT_LEN || memcmp(out, b, size) || !d.port)
                abort();
            char s[80];
            zsf_dest_str(&d, s, sizeof(s));
        }
        break;
    }
    case 1: {
        char name[ZSF_MAX_NAME + 1];
        int fam;
        if (!zsf_resolve_decode(b, size, name, &fam)) {
            uint8_t out[ZSF_MAX_NAME + 2];
            int n = zsf_resolve_encode(name, fam, out, sizeof(out));
            if (n < 0 || (size_t)n != size || memcmp(out, b, size) || strlen(name) != size - 2)
                abort();
        }
        break;
    }
    case 2: {
        struct zsf_dest d[ZSF_MAX_ADDRS];
        int n = zsf_resolved_decode(b, size, d);
        if (n > ZSF_MAX_ADDRS || (n >= 0 && size != 1 + (size_t)n * ZSF_ADDR_LEN))
            abort();
        for (int i = 0; i < n; i++)
            if (d[i].family != 4 && d[i].family != 6)
                abort();
        break;
    }
    default: {
        char *s = malloc(size + 1);
        if (!s)
            abort();
        memcpy(s, b, size);
        s[size] = 0;
        struct zsf_rule r[8];
        int n = zsf_rule_parse(s, r, 8);
        if (n > 8)
            abort();
        for (int i = 0; i < n; i++)
            if (r[i].lo < 1 || r[i].lo > r[i].hi || r[i].prefix > (r[i].family == 4 ? 32 : 128) ||
                (r[i].family != 4 && r[i].family != 6))
                abort();
        if (n > 0) {
            struct zsf_dest d = {.family = 4, .port = 80, .addr = {10, 1, 2, 3}};
            (void)zsf_allowed(r, (size_t)n, &d);
            d = (struct zsf_dest){.family = 6, .port = 443, .addr = {[10] = 0xff, [11] = 0xff, 10}};
            (void)zsf_allowed(r, (size_t)n, &d);
        }
        free(s);
        break;
    }
    }
    free(b);
    return 0;
}
