/*
 * Noise trace files: the binary, versioned, checksummed format of docs/FORMATS.md.
 *
 * Every integer is little-endian. A file is a fixed header, one fixed-size record per CPU, the
 * detours of each CPU in the order of the records, in version 2 (explained traces) the causes
 * section, and a CRC-32 of everything before it. The reader checks every size against the file
 * length before it allocates, so a truncated or corrupted file is an error, never a crash.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/outfile.h"
#include "base/parse.h"
#include "zepto/noise.h"

#define HEADER_SIZE  344u
#define CPU_REC_SIZE 88u
#define DETOUR_SIZE  16u
#define MAX_CPUS     4096u
#define CAUSES_HEAD  12u   /* version 2: ncauses, cause_size, detour_cause_size */
#define CAUSE_SIZE   64u   /* kind, name[60] */
#define WHY_SIZE     12u   /* cause index, traced_ns */
#define MAX_CAUSES   4096u /* distinct causes in one trace */

/* The fuzzer cannot forge checksums; its build checks everything but the CRC. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define SKIP_CRC 1
#else
#define SKIP_CRC 0
#endif

/* ---- little-endian fields ---- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_str(unsigned char *p, size_t field, const char *s)
{
    memset(p, 0, field);
    size_t n = strnlen(s, field - 1);
    memcpy(p, s, n);
}

/* Copies a NUL-padded field; fails when it has no terminating NUL. */
static int get_str(const unsigned char *p, size_t field, char *out)
{
    if (!memchr(p, 0, field))
        return -1;
    memcpy(out, p, field);
    return 0;
}

void zn_trace_free(struct zn_trace *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; t->cpu && i < t->ncpu; i++) {
        free(t->cpu[i].d);
        free(t->cpu[i].why);
    }
    free(t->cpu);
    free(t->causes);
    free(t);
}

int zn_trace_cause(struct zn_trace *t, uint32_t kind, const char *name)
{
    char n[sizeof(t->causes[0].name)] = {0};
    snprintf(n, sizeof(n), "%s", kind == ZN_CAUSE_UNKNOWN || kind == ZN_CAUSE_FAULT ? "" : name);
    for (uint32_t i = 0; i < t->ncauses; i++)
        if (t->causes[i].kind == kind && !strcmp(t->causes[i].name, n))
            return (int)i;
    if (t->ncauses >= MAX_CAUSES) /* fold the rest into the last (never seen: ~30 names) */
        return (int)t->ncauses - 1;
    struct zn_cause *c = realloc(t->causes, (t->ncauses + 1) * sizeof(*c));
    if (!c)
        return -ENOMEM;
    t->causes = c;
    c[t->ncauses].kind = kind;
    memcpy(c[t->ncauses].name, n, sizeof(n));
    return (int)t->ncauses++;
}

void zn_cause_label(const struct zn_cause *c, char *buf, size_t len)
{
    static const char *const kinds[ZN_CAUSE_KINDS] = {"unknown (host)", "irq", "softirq", "thread",
                                                      "page fault"};
    const char *k = c->kind < ZN_CAUSE_KINDS ? kinds[c->kind] : "?";
    if (c->name[0])
        snprintf(buf, len, "%s %s", k, c->name);
    else
        snprintf(buf, len, "%s", k);
    zb_printable(buf); /* a thread names itself: no newline or escape reaches a terminal */
}

/* ---- writing ---- */

struct out {
    FILE *f;
    uLong crc;
};

static void emit(struct out *o, const void *p, size_t n)
{
    fwrite(p, 1, n, o->f);
    o->crc = crc32(o->crc, p, (uInt)n);
}

int zn_trace_write(const struct zn_trace *t, const char *path, struct zepto_err *err)
{
    unsigned char h[HEADER_SIZE] = {0};
    memcpy(h, ZN_TRACE_MAGIC, 8);
    bool explained = t->flags & ZN_TRACE_EXPLAINED;
    for (uint32_t i = 0; explained && i < t->ncpu; i++)
        if (t->cpu[i].stored && !t->cpu[i].why)
            return zepto_fail(err, EINVAL, "%s: CPU %u has detours without causes", path,
                              t->cpu[i].cpu);
    put_u32(h + 8, explained ? 2 : 1);
    put_u32(h + 12, HEADER_SIZE);
    put_u32(h + 16, CPU_REC_SIZE);
    put_u32(h + 20, DETOUR_SIZE);
    put_u32(h + 24, t->flags);
    put_u32(h + 28, t->ncpu);
    put_u64(h + 32, t->clock_hz);
    put_u64(h + 40, t->start_unix_ns);
    put_u64(h + 48, t->duration_ns);
    put_u64(h + 56, t->threshold_ns);
    put_u64(h + 64, t->start_mono_ns);
    put_str(h + 72, 64, t->host);
    put_str(h + 136, 64, t->kernel);
    put_str(h + 200, 128, t->cpu_model);
    put_str(h + 328, 16, t->clock);

    struct zb_out file;
    int rc = zb_out_open(&file, path, err);
    if (rc)
        return rc;
    struct out o = {file.f, crc32(0, Z_NULL, 0)};

    emit(&o, h, sizeof(h));
    for (uint32_t i = 0; i < t->ncpu; i++) {
        const struct zn_cpu_trace *c = &t->cpu[i];
        unsigned char r[CPU_REC_SIZE] = {0};
        put_u32(r + 0, c->cpu);
        put_u32(r + 4, c->flags);
        put_u64(r + 8, c->measured_ns);
        put_u64(r + 16, c->loops);
        put_u64(r + 24, c->loop_min_ps);
        put_u64(r + 32, c->loop_tail_ps);
        put_u64(r + 40, c->detours);
        put_u64(r + 48, c->detour_ns);
        put_u64(r + 56, c->detour_min_ns);
        put_u64(r + 64, c->detour_max_ns);
        put_u64(r + 72, c->truncated_at_ns);
        put_u64(r + 80, c->stored);
        emit(&o, r, sizeof(r));
    }
    for (uint32_t i = 0; i < t->ncpu; i++) {
        const struct zn_cpu_trace *c = &t->cpu[i];
        unsigned char block[DETOUR_SIZE * 256];
        size_t used = 0;
        for (uint64_t k = 0; k < c->stored; k++) {
            put_u64(block + used, c->d[k].start_ns);
            put_u64(block + used + 8, c->d[k].duration_ns);
            used += DETOUR_SIZE;
            if (used == sizeof(block) || k + 1 == c->stored) {
                emit(&o, block, used);
                used = 0;
            }
        }
    }
    if (explained) {
        unsigned char head[CAUSES_HEAD];
        put_u32(head, t->ncauses);
        put_u32(head + 4, CAUSE_SIZE);
        put_u32(head + 8, WHY_SIZE);
        emit(&o, head, sizeof(head));
        for (uint32_t k = 0; k < t->ncauses; k++) {
            unsigned char r[CAUSE_SIZE];
            put_u32(r, t->causes[k].kind);
            put_str(r + 4, CAUSE_SIZE - 4, t->causes[k].name);
            emit(&o, r, sizeof(r));
        }
        for (uint32_t i = 0; i < t->ncpu; i++) {
            const struct zn_cpu_trace *c = &t->cpu[i];
            for (uint64_t k = 0; k < c->stored; k++) {
                unsigned char r[WHY_SIZE];
                put_u32(r, c->why[k].cause);
                put_u64(r + 4, c->why[k].traced_ns);
                emit(&o, r, sizeof(r));
            }
        }
    }
    unsigned char crc[4];
    put_u32(crc, (uint32_t)o.crc);
    fwrite(crc, 1, 4, o.f);
    return zb_out_commit(&file, err); /* a failure leaves what was at path */
}

/* ---- reading ---- */

static int bad(struct zepto_err *err, const char *what)
{
    return zepto_fail(err, EINVAL, "corrupted trace: %s", what);
}

static int check_cpu(const struct zn_trace *t, const struct zn_cpu_trace *c, struct zepto_err *err)
{
    if (c->cpu >= MAX_CPUS)
        return bad(err, "CPU number out of range");
    if (c->stored > c->detours)
        return bad(err, "more detours stored than counted");
    if (!(c->flags & ZN_CPU_TRUNCATED) && c->stored != c->detours)
        return bad(err, "detours missing from a CPU whose buffer did not fill");
    if (c->flags & ~(uint32_t)ZN_CPU_TRUNCATED)
        return bad(err, "unknown CPU flags");
    uint64_t sum = 0, prev_start = 0;
    for (uint64_t k = 0; k < c->stored; k++) {
        const struct zn_detour *d = &c->d[k];
        if (d->start_ns < prev_start)
            return bad(err, "detours out of order");
        if (d->duration_ns < c->detour_min_ns || d->duration_ns > c->detour_max_ns)
            return bad(err, "a detour outside the recorded min/max");
        if (d->start_ns > c->measured_ns)
            return bad(err, "a detour starts after the end of the recording");
        if (d->duration_ns > UINT64_MAX - sum)
            return bad(err, "detour time overflows");
        sum += d->duration_ns;
        prev_start = d->start_ns;
    }
    /* Each length was rounded to whole nanoseconds on its own: allow 1 ns each. */
    if (sum > c->detour_ns + c->stored)
        return bad(err, "stored detours exceed the recorded total");
    /* Each detour lies inside the measured time; 1 ns each is left for rounding of ticks. */
    if (c->detour_ns > c->measured_ns + c->detours)
        return bad(err, "more detour time than time measured");
    if (c->detours && c->detour_min_ns < t->threshold_ns)
        return bad(err, "a detour below the threshold");
    return 0;
}

/* The causes table: known kinds, terminated names (empty exactly for unknown and fault), each
 * cause once. */
static int read_causes(struct zn_trace *t, const unsigned char *p, uint32_t n,
                       struct zepto_err *err)
{
    for (uint32_t k = 0; k < n; k++, p += CAUSE_SIZE) {
        struct zn_cause *c = &t->causes[k];
        c->kind = get_u32(p);
        if (c->kind >= ZN_CAUSE_KINDS)
            return bad(err, "unknown cause kind");
        if (get_str(p + 4, CAUSE_SIZE - 4, c->name))
            return bad(err, "unterminated cause name");
        bool unnamed = c->kind == ZN_CAUSE_UNKNOWN || c->kind == ZN_CAUSE_FAULT;
        if (unnamed != !c->name[0])
            return bad(err, "a cause name that does not match its kind");
        for (uint32_t j = 0; j < k; j++)
            if (t->causes[j].kind == c->kind && !strcmp(t->causes[j].name, c->name))
                return bad(err, "a cause appears twice");
    }
    t->ncauses = n;
    return 0;
}

/* One CPU's detour causes, at *at (advanced): indices in range, traced time within the detour. */
static int read_why(struct zn_trace *t, struct zn_cpu_trace *c, const unsigned char *p, size_t *at,
                    struct zepto_err *err)
{
    if (c->stored && !(c->why = malloc((size_t)c->stored * sizeof(*c->why))))
        return zepto_fail(err, ENOMEM, "out of memory");
    for (uint64_t k = 0; k < c->stored; k++, *at += WHY_SIZE) {
        c->why[k].cause = get_u32(p + *at);
        c->why[k].traced_ns = get_u64(p + *at + 4);
        if (c->why[k].cause >= t->ncauses)
            return bad(err, "a detour cause out of range");
        if (c->why[k].traced_ns > c->d[k].duration_ns)
            return bad(err, "more kernel time traced than the detour lasted");
    }
    return 0;
}

int zn_trace_decode(const void *buf, size_t len, struct zn_trace **out, struct zepto_err *err)
{
    const unsigned char *p = buf;
    *out = NULL;
    if (len < 8 || memcmp(p, ZN_TRACE_MAGIC, 8))
        return zepto_fail(err, EINVAL, "not a zepto noise trace (bad magic)");
    if (len < 16)
        return zepto_fail(err, EINVAL, "truncated trace (%zu bytes)", len);
    uint32_t version = get_u32(p + 8);
    if (version != 1 && version != 2)
        return zepto_fail(err, EPROTO, "trace version %u, this zepto reads versions 1 and 2",
                          version);
    if (len < HEADER_SIZE + 4)
        return zepto_fail(err, EINVAL, "truncated trace (%zu bytes, the header alone is %u)", len,
                          HEADER_SIZE);
    if (get_u32(p + 12) != HEADER_SIZE || get_u32(p + 16) != CPU_REC_SIZE ||
        get_u32(p + 20) != DETOUR_SIZE)
        return bad(err, "header sizes do not match the version");
    uint32_t ncpu = get_u32(p + 28);
    if (ncpu == 0 || ncpu > MAX_CPUS)
        return bad(err, "CPU count out of range");

    /* Sizes first, then the checksum, then allocation. */
    size_t recs = (size_t)HEADER_SIZE + (size_t)ncpu * CPU_REC_SIZE;
    if (len < recs + 4)
        return zepto_fail(err, EINVAL, "truncated trace (%zu bytes, CPU records need %zu)", len,
                          recs + 4);
    uint64_t total_stored = 0;
    for (uint32_t i = 0; i < ncpu; i++) {
        uint64_t stored = get_u64(p + HEADER_SIZE + (size_t)i * CPU_REC_SIZE + 80);
        if (stored > (len - recs) / DETOUR_SIZE ||
            total_stored + stored > (len - recs) / DETOUR_SIZE)
            return zepto_fail(err, EINVAL, "truncated trace (%zu bytes, fewer than its detours)",
                              len);
        total_stored += stored;
    }
    size_t expect = recs + (size_t)total_stored * DETOUR_SIZE + 4;
    size_t causes_at = expect - 4; /* version 2: the causes section */
    uint32_t ncauses = 0;
    if (version == 2) {
        if (len < expect + CAUSES_HEAD)
            return zepto_fail(err, EINVAL, "truncated trace (%zu bytes, no causes section)", len);
        ncauses = get_u32(p + causes_at);
        if (get_u32(p + causes_at + 4) != CAUSE_SIZE || get_u32(p + causes_at + 8) != WHY_SIZE)
            return bad(err, "causes section sizes do not match version 2");
        if (ncauses > MAX_CAUSES)
            return bad(err, "cause count out of range");
        expect += CAUSES_HEAD + (size_t)ncauses * CAUSE_SIZE + (size_t)total_stored * WHY_SIZE;
    }
    if (len < expect)
        return zepto_fail(err, EINVAL, "truncated trace (%zu bytes, expected %zu)", len, expect);
    if (len > expect)
        return bad(err, "trailing bytes after the checksum");
    uint32_t crc = (uint32_t)crc32_z(crc32(0, Z_NULL, 0), p, len - 4);
    if (crc != get_u32(p + len - 4) && !SKIP_CRC)
        return bad(err, "checksum mismatch");

    struct zn_trace *t = calloc(1, sizeof(*t));
    if (!t)
        return zepto_fail(err, ENOMEM, "out of memory");
    t->flags = get_u32(p + 24);
    t->ncpu = ncpu;
    t->clock_hz = get_u64(p + 32);
    t->start_unix_ns = get_u64(p + 40);
    t->duration_ns = get_u64(p + 48);
    t->threshold_ns = get_u64(p + 56);
    t->start_mono_ns = get_u64(p + 64);
    int rc = 0;
    if (get_str(p + 72, 64, t->host) || get_str(p + 136, 64, t->kernel) ||
        get_str(p + 200, 128, t->cpu_model) || get_str(p + 328, 16, t->clock))
        rc = bad(err, "unterminated text field");
    else if (strcmp(t->clock, "tsc") && strcmp(t->clock, "monotonic"))
        rc = bad(err, "unknown clock");
    else if (!t->clock_hz)
        rc = bad(err, "zero clock frequency");
    else if (t->flags & ~(uint32_t)(ZN_TRACE_INTERRUPTED | ZN_TRACE_AUTO_THRESHOLD |
                                    (version == 2 ? ZN_TRACE_EXPLAINED : 0)))
        rc = bad(err, "unknown trace flags");
    else if (version == 2 && !(t->flags & ZN_TRACE_EXPLAINED))
        rc = bad(err, "a version 2 trace not marked explained");
    else if (!(t->cpu = calloc(ncpu, sizeof(*t->cpu))) ||
             (ncauses && !(t->causes = calloc(ncauses, sizeof(*t->causes)))))
        rc = zepto_fail(err, ENOMEM, "out of memory");
    else if (ncauses)
        rc = read_causes(t, p + causes_at + CAUSES_HEAD, ncauses, err);
    if (rc)
        goto fail;

    const unsigned char *d = p + recs;
    size_t why_at = causes_at + CAUSES_HEAD + (size_t)ncauses * CAUSE_SIZE;
    for (uint32_t i = 0; i < ncpu; i++) {
        const unsigned char *r = p + HEADER_SIZE + (size_t)i * CPU_REC_SIZE;
        struct zn_cpu_trace *c = &t->cpu[i];
        c->cpu = get_u32(r + 0);
        c->flags = get_u32(r + 4);
        c->measured_ns = get_u64(r + 8);
        c->loops = get_u64(r + 16);
        c->loop_min_ps = get_u64(r + 24);
        c->loop_tail_ps = get_u64(r + 32);
        c->detours = get_u64(r + 40);
        c->detour_ns = get_u64(r + 48);
        c->detour_min_ns = get_u64(r + 56);
        c->detour_max_ns = get_u64(r + 64);
        c->truncated_at_ns = get_u64(r + 72);
        c->stored = get_u64(r + 80);
        if (c->stored && !(c->d = malloc((size_t)c->stored * sizeof(*c->d)))) {
            rc = zepto_fail(err, ENOMEM, "out of memory");
            goto fail;
        }
        for (uint64_t k = 0; k < c->stored; k++, d += DETOUR_SIZE) {
            c->d[k].start_ns = get_u64(d);
            c->d[k].duration_ns = get_u64(d + 8);
        }
        if (version == 2 && (rc = read_why(t, c, p, &why_at, err)))
            goto fail;
        for (uint32_t j = 0; j < i; j++)
            if (t->cpu[j].cpu == c->cpu) {
                rc = bad(err, "a CPU appears twice");
                goto fail;
            }
        if ((rc = check_cpu(t, c, err)))
            goto fail;
    }
    *out = t;
    return 0;
fail:
    zn_trace_free(t);
    return rc;
}

int zn_trace_read(const char *path, struct zn_trace **out, struct zepto_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rbe");
    if (!f)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = zepto_fail(err, ENOMEM, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        rc = zepto_fail(err, EIO, "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    rc = zn_trace_decode(buf, len, out, err);
    if (rc)
        zepto_err_prefix(err, "%s", path);
out:
    free(buf);
    fclose(f);
    return rc;
}
