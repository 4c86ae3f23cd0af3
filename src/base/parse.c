/*
 * Parsers for durations, sizes and counts, with exact integer arithmetic: "2.5ms" is 2,500,000 ns
 * by construction, not by rounding a double.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/parse.h"

__extension__ typedef unsigned __int128 u128;

/* A decimal number split into its integer digits and up to 18 fraction digits. */
struct decimal {
    uint64_t whole;    /* integer part */
    uint64_t frac;     /* fraction digits as an integer */
    unsigned frac_len; /* how many fraction digits */
    const char *end;   /* first character after the number */
};

static int parse_decimal(const char *s, struct decimal *d)
{
    const char *p = s;
    d->whole = 0;
    d->frac = 0;
    d->frac_len = 0;
    if (!isdigit((unsigned char)*p))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (d->whole > (UINT64_MAX - digit) / 10)
            return -ERANGE;
        d->whole = d->whole * 10 + digit;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        for (; isdigit((unsigned char)*p); p++) {
            if (d->frac_len == 18) {
                if (*p != '0') /* more precision than any unit here can hold */
                    return -ERANGE;
                continue;
            }
            d->frac = d->frac * 10 + (uint64_t)(*p - '0');
            d->frac_len++;
        }
    }
    d->end = p;
    return 0;
}

/* whole.frac × mult, exactly; -ERANGE on overflow or when the fraction leaves a remainder. */
static int scale_decimal(const struct decimal *d, uint64_t mult, uint64_t limit, uint64_t *out)
{
    if (d->whole > limit / mult)
        return -ERANGE;
    uint64_t v = d->whole * mult;
    if (d->frac_len) {
        uint64_t pow10 = 1;
        for (unsigned i = 0; i < d->frac_len; i++)
            pow10 *= 10;
        /* frac/pow10 × mult must be whole: split mult to avoid overflow of frac × mult. */
        u128 num = (u128)d->frac * mult;
        if (num % pow10)
            return -EDOM;
        uint64_t add = (uint64_t)(num / pow10);
        if (v > limit - add)
            return -ERANGE;
        v += add;
    }
    *out = v;
    return 0;
}

static const char *printable(const char *s)
{
    return s ? s : "(null)";
}

int zb_parse_duration_ns(const char *s, uint64_t *ns, struct zepto_err *err)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1},        {"us", 1000},          {"ms", 1000000},        {"s", 1000000000},
        {"", 1000000000}, {"m", 60000000000ull}, {"h", 3600000000000ull}}; /* a bare number is
                                                                              seconds, as rtla's -d
                                                                            */
    struct decimal d;

    if (!s || !*s)
        return zepto_fail(err, EINVAL, "empty duration (expected e.g. 10s, 500ms, 300us)");
    if (*s == '-')
        return zepto_fail(err, EINVAL, "'%s': a duration cannot be negative", s);
    int rc = parse_decimal(s, &d);
    if (rc == -ERANGE)
        return zepto_fail(err, ERANGE, "'%s': duration too large", s);
    if (rc)
        return zepto_fail(err, EINVAL, "'%s': not a duration (expected e.g. 10s, 500ms, 300us)", s);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(d.end, units[i].name))
            continue;
        rc = scale_decimal(&d, units[i].ns, INT64_MAX, ns);
        if (rc == -EDOM)
            return zepto_fail(err, EINVAL, "'%s': finer than one nanosecond", s);
        if (rc)
            return zepto_fail(err, ERANGE, "'%s': duration too large", s);
        return 0;
    }
    return zepto_fail(err, EINVAL, "'%s': unknown unit '%s' (use ns, us, ms, s, m or h; none is s)",
                      s, d.end);
}

int zb_parse_size(const char *s, uint64_t *bytes, struct zepto_err *err)
{
    struct decimal d;

    if (!s || !*s)
        return zepto_fail(err, EINVAL, "empty size (expected e.g. 4096, 64M, 1G)");
    if (*s == '-')
        return zepto_fail(err, EINVAL, "'%s': a size cannot be negative", s);
    int rc = parse_decimal(s, &d);
    if (rc == -ERANGE)
        return zepto_fail(err, ERANGE, "'%s': size too large", s);
    if (rc)
        return zepto_fail(err, EINVAL, "'%s': not a size (expected e.g. 4096, 64M, 1G)", s);

    uint64_t mult = 1;
    const char *u = d.end;
    if (*u && strcasecmp(u, "B")) {
        switch (toupper((unsigned char)*u)) {
        case 'K': mult = 1ull << 10; break;
        case 'M': mult = 1ull << 20; break;
        case 'G': mult = 1ull << 30; break;
        case 'T': mult = 1ull << 40; break;
        default: mult = 0; break;
        }
        const char *rest = u + 1;
        if (!mult || (*rest && strcasecmp(rest, "B") && strcasecmp(rest, "iB")))
            return zepto_fail(err, EINVAL, "'%s': unknown size suffix '%s' (use K, M, G or T)", s,
                              u);
    }
    rc = scale_decimal(&d, mult, UINT64_MAX, bytes);
    if (rc == -EDOM)
        return zepto_fail(err, EINVAL, "'%s': not a whole number of bytes", s);
    if (rc)
        return zepto_fail(err, ERANGE, "'%s': size too large", s);
    return 0;
}

int zb_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, struct zepto_err *err)
{
    struct decimal d;

    if (!s || !*s)
        return zepto_fail(err, EINVAL, "empty number");
    int rc = parse_decimal(s, &d);
    if (rc == -ERANGE || (!rc && !*d.end && d.whole > max))
        return zepto_fail(err, ERANGE, "'%s': must be at most %llu", s, (unsigned long long)max);
    if (rc || *d.end || d.frac_len)
        return zepto_fail(err, EINVAL, "'%s': not a whole number", printable(s));
    if (d.whole < min)
        return zepto_fail(err, ERANGE, "'%s': must be at least %llu", s, (unsigned long long)min);
    *out = d.whole;
    return 0;
}

int zb_parse_double(const char *s, double min, double max, double *out, struct zepto_err *err)
{
    if (!s || !*s)
        return zepto_fail(err, EINVAL, "empty number");
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    struct decimal d;
    if (parse_decimal(p, &d) || *d.end)
        return zepto_fail(err, EINVAL, "'%s': not a number", s);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return zepto_fail(err, EINVAL, "'%s': not a number", s);
    if (v < min || v > max)
        return zepto_fail(err, ERANGE, "'%s': must be between %g and %g", s, min, max);
    *out = v;
    return 0;
}

const char *zb_fmt_duration(uint64_t ns, char *buf, unsigned len)
{
    /* Each unit is used up to where its rounded figure would read 1000; whole figures are
     * printed without decimals ("5 us", "4.50 us"). */
    static const struct {
        double below; /* ns */
        double unit;  /* ns per unit */
        const char *name;
    } units[] = {{1e3, 1, "ns"}, {999995.0, 1e3, "us"}, {999995000.0, 1e6, "ms"}, {0, 1e9, "s"}};
    double v = (double)ns;
    size_t i = 0;
    while (units[i].below && v >= units[i].below)
        i++;
    uint64_t per = (uint64_t)units[i].unit;
    if (ns % per == 0)
        snprintf(buf, len, "%llu %s", (unsigned long long)(ns / per), units[i].name);
    else
        snprintf(buf, len, i == 3 ? "%.3f %s" : "%.2f %s", v / units[i].unit, units[i].name);
    return buf;
}

const char *zb_fmt_size(uint64_t bytes, char *buf, unsigned len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    unsigned u = 0;
    /* Bytes print whole; a larger unit takes over where "%.1f" would round up to 1024.0. */
    while (v >= (u ? 1023.95 : 1024) && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
    return buf;
}

char *zb_printable(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    return s;
}
