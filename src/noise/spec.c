/*
 * Synthetic noise specs (`period=1ms,duration=50us,jitter=10us`) and the phase names.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "zepto/noise.h"

int zn_synthetic_parse(const char *spec, struct zn_synthetic *out, struct zepto_err *err)
{
    static const char *const keys[] = {"period", "duration", "jitter"};
    uint64_t val[3] = {0};
    bool seen[3] = {false};
    char item[256];

    memset(out, 0, sizeof(*out));
    if (!spec || !*spec)
        return zepto_fail(err, EINVAL,
                          "empty noise spec (expected period=P,duration=D[,jitter=J])");
    for (const char *p = spec; *p;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof(item))
            return zepto_fail(err, EINVAL, "'%s': empty or overlong item in the spec", spec);
        memcpy(item, p, len);
        item[len] = 0;
        p += len;
        if (*p == ',' && !*++p)
            return zepto_fail(err, EINVAL, "'%s': trailing comma", spec);

        char *eq = strchr(item, '=');
        if (!eq)
            return zepto_fail(err, EINVAL, "'%s': '%s' is not key=value", spec, item);
        *eq = 0;
        unsigned k = 0;
        while (k < 3 && strcmp(item, keys[k]))
            k++;
        if (k == 3)
            return zepto_fail(err, EINVAL,
                              "'%s': unknown key '%s' (use period, duration and jitter)", spec,
                              item);
        if (seen[k])
            return zepto_fail(err, EINVAL, "'%s': %s given twice", spec, keys[k]);
        struct zepto_err e2 = {0};
        if (zb_parse_duration_ns(eq + 1, &val[k], &e2))
            return zepto_fail(err, EINVAL, "'%s': %s %s", spec, keys[k], e2.msg);
        seen[k] = true;
    }
    if (!seen[0] || !seen[1])
        return zepto_fail(err, EINVAL, "'%s': needs period= and duration=", spec);
    if (!val[0])
        return zepto_fail(err, EINVAL, "'%s': the period must be longer than zero", spec);
    if (!val[1])
        return zepto_fail(err, EINVAL, "'%s': the duration must be longer than zero", spec);
    if (val[1] >= val[0])
        return zepto_fail(err, EINVAL, "'%s': the duration must be shorter than the period", spec);
    if (val[1] + val[2] > val[0])
        return zepto_fail(
            err, EINVAL, "'%s': duration + jitter exceed the period (detours would overlap)", spec);
    out->period_ns = val[0];
    out->duration_ns = val[1];
    out->jitter_ns = val[2];
    return 0;
}

int zn_phase_parse(const char *s, enum zn_phase *phase, struct zepto_err *err)
{
    if (s && !strcmp(s, "sync"))
        *phase = ZN_PHASE_SYNC;
    else if (s && !strcmp(s, "random"))
        *phase = ZN_PHASE_RANDOM;
    else
        return zepto_fail(err, EINVAL, "'%s': use sync or random", s ? s : "");
    return 0;
}
