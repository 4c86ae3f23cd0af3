/*
 * libFuzzer target for zepto tune's state file parser (src/tune/state.c): a root process writes
 * what a state file says into /proc and /sys, so whatever parses must name only paths under the
 * trees zepto tune touches, with valid kinds, groups and statuses. Seeds: tune_state_seeds.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tune/tune_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int under(const char *p, const char *root)
{
    return !strncmp(p, root, strlen(root));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    struct zepto_tune_plan p;
    struct zepto_err err;
    char phase[32], host[256], boot[64];
    if (zt_state_parse(buf, size, "fuzz", &p, phase, sizeof(phase), host, sizeof(host), boot,
                       sizeof(boot), &err) == 0) {
        for (unsigned i = 0; i < p.count; i++) {
            const struct zepto_tune_change *c = &p.changes[i];
            if (c->kind != ZT_KIND_AFFINITY && !under(c->target, "/proc/irq/") &&
                !under(c->target, "/proc/sys/") && !under(c->target, "/sys/"))
                __builtin_trap();
            if (c->kind == ZT_KIND_CGMOVE &&
                (strstr(c->old_value, "..") || strstr(c->new_value, "..")))
                __builtin_trap();
            if (strstr(c->target, "/..") || (unsigned)c->group >= ZT_GROUP_COUNT ||
                (c->kind == ZT_KIND_CGMOVE && c->pid <= 0) || !c->old_value || !c->new_value)
                __builtin_trap();
        }
        zepto_tune_plan_free(&p);
    }
    free(buf);
    return 0;
}
