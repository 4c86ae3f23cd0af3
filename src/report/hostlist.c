/*
 * Slurm's compressed host lists ("zn[1-4,7],io[01-02]", SLURM_STEP_NODELIST) expanded into names,
 * in Slurm's order (the order of SLURM_NODEID). Brackets may appear more than once in a name
 * ("r[1-2]n[1-2]": the last bracket varies fastest); zero padding of the lower bound is kept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/alloc.h"

#define RANGE_MAX 1000000u /* numbers in a bracket: Slurm's are far below */

struct expand {
    char (*names)[ZR_HOST_MAX];
    unsigned n, max;
    const char *list;
    struct zepto_err *err;
};

static int bad(struct expand *x, const char *why)
{
    return zepto_fail(x->err, EINVAL, "host list '%.200s': %s", x->list, why);
}

static int add(struct expand *x, const char *name, size_t len)
{
    if (!len)
        return bad(x, "an empty name");
    if (len >= ZR_HOST_MAX)
        return bad(x, "a name longer than 63 characters");
    if (x->n >= x->max)
        return zepto_fail(x->err, E2BIG, "host list '%.200s': more than %u names", x->list, x->max);
    memcpy(x->names[x->n], name, len);
    x->names[x->n][len] = 0;
    x->n++;
    return 0;
}

/* Reads a decimal number of at most 7 digits at *p; its digit count in *width. */
static int number(const char **p, const char *end, unsigned *v, unsigned *width)
{
    const char *s = *p;
    unsigned val = 0, w = 0;
    while (s < end && *s >= '0' && *s <= '9' && w < 8) {
        val = val * 10 + (unsigned)(*s - '0');
        s++, w++;
    }
    if (!w || w > 7)
        return -1;
    *p = s, *v = val, *width = w;
    return 0;
}

/* Expands one name (no top-level comma) of len bytes: prefix is what has been built so far. */
static int expand_name(struct expand *x, char *prefix, size_t plen, const char *s, size_t len)
{
    const char *open = memchr(s, '[', len);
    if (!open) {
        if (memchr(s, ']', len))
            return bad(x, "']' without '['");
        if (plen + len >= ZR_HOST_MAX)
            return bad(x, "a name longer than 63 characters");
        memcpy(prefix + plen, s, len);
        return add(x, prefix, plen + len);
    }
    size_t head = (size_t)(open - s);
    const char *close = memchr(open, ']', len - head);
    if (!close)
        return bad(x, "'[' without ']'");
    if (plen + head >= ZR_HOST_MAX)
        return bad(x, "a name longer than 63 characters");
    memcpy(prefix + plen, s, head);
    plen += head;
    const char *rest = close + 1;
    size_t rest_len = len - (size_t)(rest - s);
    const char *p = open + 1;
    /* An empty bracket would expand to nothing: every bracket giving at least one name or an
     * error bounds the work by the names allowed (an empty one behind a large range made the
     * fuzzer spin). */
    if (p == close)
        return bad(x, "an empty bracket");
    while (p < close) {
        unsigned lo, hi, wlo, whi;
        if (number(&p, close, &lo, &wlo))
            return bad(x, "a bracket holds something other than numbers and ranges");
        hi = lo;
        if (p < close && *p == '-') {
            p++;
            if (number(&p, close, &hi, &whi) || hi < lo)
                return bad(x, "a bad range in brackets");
        }
        if (p < close && *p != ',')
            return bad(x, "a bracket holds something other than numbers and ranges");
        if (p < close)
            p++;
        if (hi - lo >= RANGE_MAX)
            return bad(x, "a range too large");
        for (unsigned v = lo; v <= hi; v++) {
            char num[16];
            int w = snprintf(num, sizeof(num), "%0*u", (int)wlo, v);
            if (plen + (size_t)w >= ZR_HOST_MAX)
                return bad(x, "a name longer than 63 characters");
            memcpy(prefix + plen, num, (size_t)w);
            int rc = expand_name(x, prefix, plen + (size_t)w, rest, rest_len);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int zr_hostlist_expand(const char *list, unsigned max, char (**names)[ZR_HOST_MAX], unsigned *n,
                       struct zepto_err *err)
{
    struct expand x = {.max = max, .list = list, .err = err};
    *names = NULL;
    *n = 0;
    if (!max || !(x.names = calloc(max, sizeof(*x.names))))
        return zepto_fail(err, ENOMEM, "out of memory");
    const char *s = list;
    int rc = 0;
    while (!rc) {
        /* The next top-level comma (commas inside brackets separate numbers). */
        const char *e = s;
        int depth = 0;
        for (; *e && (depth || *e != ','); e++) {
            if (*e == '[')
                depth++;
            else if (*e == ']' && depth)
                depth--;
        }
        char prefix[ZR_HOST_MAX];
        rc = expand_name(&x, prefix, 0, s, (size_t)(e - s));
        if (!*e)
            break;
        s = e + 1;
    }
    if (rc) {
        free(x.names);
        return rc;
    }
    *names = x.names;
    *n = x.n;
    return 0;
}
