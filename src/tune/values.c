/*
 * The values zepto tune writes and reads back: hex cpumasks in the kernel's form, CPU lists,
 * choice files ("always [madvise] never"), and their comparison by meaning rather than text.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tune/tune_int.h"

int zt_mask_parse(const char *s, struct zb_cpuset *set)
{
    zb_cpuset_clear(set);
    size_t n = strlen(s);
    unsigned bit = 0;
    bool any = false;
    for (size_t i = n; i-- > 0;) {
        char ch = s[i];
        if (ch == ',' || ch == '\n' || ch == ' ')
            continue;
        if (!isxdigit((unsigned char)ch))
            return -EINVAL;
        unsigned v = (unsigned)(isdigit((unsigned char)ch) ? ch - '0'
                                                           : tolower((unsigned char)ch) - 'a' + 10);
        for (unsigned b = 0; b < 4; b++, bit++)
            if (v & (1u << b)) {
                if (bit >= ZB_CPU_MAX)
                    return -ERANGE;
                zb_cpuset_add(set, bit);
            }
        any = true;
    }
    return any ? 0 : -EINVAL;
}

const char *zt_mask_format(const struct zb_cpuset *set, char *buf, size_t len)
{
    int top = -1;
    for (int c = ZB_CPU_MAX - 1; c >= 0; c--)
        if (zb_cpuset_has(set, (unsigned)c)) {
            top = c;
            break;
        }
    int words = top < 0 ? 1 : top / 32 + 1;
    size_t at = 0;
    buf[0] = '\0';
    for (int w = words - 1; w >= 0 && at + 10 < len; w--) {
        unsigned v = 0;
        for (unsigned b = 0; b < 32; b++)
            if (zb_cpuset_has(set, (unsigned)w * 32 + b))
                v |= 1u << b;
        at += (size_t)snprintf(buf + at, len - at, w == words - 1 ? "%x" : ",%08x", v);
    }
    return buf;
}

const char *zt_choice_selected(const char *s, char *buf, size_t len)
{
    const char *open = strchr(s, '['), *close = open ? strchr(open, ']') : NULL;
    if (!open || !close) {
        snprintf(buf, len, "%s", s);
        return buf;
    }
    snprintf(buf, len, "%.*s", (int)(close - open - 1), open + 1);
    return buf;
}

static bool sets_equal(const struct zb_cpuset *a, const struct zb_cpuset *b)
{
    return !memcmp(a, b, sizeof(*a));
}

bool zt_value_equal(enum zepto_tune_value t, const char *now, const char *want)
{
    struct zb_cpuset a, b;
    char sel[128];
    if (!now[0] || !want[0]) /* an empty list (a v2 cpuset that inherits) equals only itself */
        return !now[0] && !want[0];
    switch (t) {
    case ZT_VALUE_CPULIST:
        return !zb_cpuset_parse(now, &a, NULL) && !zb_cpuset_parse(want, &b, NULL) &&
               sets_equal(&a, &b);
    case ZT_VALUE_CPUMASK:
        return !zt_mask_parse(now, &a) && !zt_mask_parse(want, &b) && sets_equal(&a, &b);
    case ZT_VALUE_CHOICE: return !strcmp(zt_choice_selected(now, sel, sizeof(sel)), want);
    case ZT_VALUE_TEXT: break;
    }
    return !strcmp(now, want);
}
