/*
 * Proves the trace file format of src/noise/trace_io.c (docs/FORMATS.md): writing and reading back
 * keeps every field and detour; every prefix of a file and every kind of corruption (magic,
 * version, checksum, ordering, counts, CPU count, trailing bytes, duplicate CPU, bad contents
 * behind a valid checksum) is refused with a message saying what is wrong, never a crash; the
 * causes of version 2 (`record --explain`) round-trip and analyse, their corruption is refused;
 * and reading a missing file or a directory names the path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <zlib.h>

#include <cmocka.h>

#include "zepto/noise.h"

/* Offsets from docs/FORMATS.md. */
#define HEADER_SIZE  344
#define CPU_REC_SIZE 88
#define DETOUR_SIZE  16
#define H_VERSION    8
#define H_NCPU       28
#define H_THRESHOLD  56
#define H_HOST       72
#define H_CLOCK      328
#define R_CPU        0
#define R_DETOURS    40
#define R_MIN        56
#define R_STORED     80

static char tmpdir[256];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/zepto-test-trace-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (!d)
        return -1;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
        if (rmdir(path))
            unlink(path);
    }
    closedir(d);
    return rmdir(tmpdir);
}

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

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Makes the trailing CRC-32 right again after a patch. */
static void recrc(unsigned char *buf, size_t len)
{
    put_u32(buf + len - 4, (uint32_t)crc32(crc32(0, Z_NULL, 0), buf, (uInt)(len - 4)));
}

/* A valid two-CPU trace: CPU 0 with three detours, CPU 5 truncated after two of four. */
static struct zn_trace *sample_trace(void)
{
    struct zn_trace *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    snprintf(t->host, sizeof(t->host), "node-17");
    snprintf(t->kernel, sizeof(t->kernel), "6.1.0-18-amd64");
    snprintf(t->cpu_model, sizeof(t->cpu_model), "Intel(R) Xeon(R) Platinum 8272CL");
    snprintf(t->clock, sizeof(t->clock), "tsc");
    t->clock_hz = 2593906000u;
    t->start_unix_ns = 1700000000123456789ull;
    t->start_mono_ns = 98765432101ull;
    t->duration_ns = 2000000000u;
    t->threshold_ns = 250;
    t->flags = ZN_TRACE_AUTO_THRESHOLD | ZN_TRACE_INTERRUPTED;
    t->ncpu = 2;
    t->cpu = calloc(2, sizeof(*t->cpu));
    assert_non_null(t->cpu);

    struct zn_cpu_trace *c = &t->cpu[0];
    c->cpu = 0;
    c->measured_ns = 1999999000u;
    c->loops = 123456789;
    c->loop_min_ps = 10500;
    c->loop_tail_ps = 31000;
    c->stored = c->detours = 3;
    c->d = malloc(3 * sizeof(*c->d));
    assert_non_null(c->d);
    c->d[0] = (struct zn_detour){1000, 300};
    c->d[1] = (struct zn_detour){4000000, 2500};
    c->d[2] = (struct zn_detour){1999990000u, 9000};
    c->detour_ns = 300 + 2500 + 9000;
    c->detour_min_ns = 300;
    c->detour_max_ns = 9000;

    c = &t->cpu[1];
    c->cpu = 5;
    c->flags = ZN_CPU_TRUNCATED;
    c->measured_ns = 1999998000u;
    c->loops = 99999;
    c->loop_min_ps = 11000;
    c->loop_tail_ps = 0;
    c->detours = 4;
    c->stored = 2;
    c->d = malloc(2 * sizeof(*c->d));
    assert_non_null(c->d);
    c->d[0] = (struct zn_detour){500, 260};
    c->d[1] = (struct zn_detour){600, 70000};
    c->detour_ns = 260 + 70000 + 400 + 300;
    c->detour_min_ns = 260;
    c->detour_max_ns = 70000;
    c->truncated_at_ns = 600;
    return t;
}

static void expect_same(const struct zn_trace *a, const struct zn_trace *b)
{
    assert_string_equal(a->host, b->host);
    assert_string_equal(a->kernel, b->kernel);
    assert_string_equal(a->cpu_model, b->cpu_model);
    assert_string_equal(a->clock, b->clock);
    assert_true(a->clock_hz == b->clock_hz);
    assert_true(a->start_unix_ns == b->start_unix_ns);
    assert_true(a->start_mono_ns == b->start_mono_ns);
    assert_true(a->duration_ns == b->duration_ns);
    assert_true(a->threshold_ns == b->threshold_ns);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->ncpu, b->ncpu);
    for (uint32_t i = 0; i < a->ncpu; i++) {
        const struct zn_cpu_trace *x = &a->cpu[i], *y = &b->cpu[i];
        assert_int_equal(x->cpu, y->cpu);
        assert_int_equal(x->flags, y->flags);
        assert_true(x->measured_ns == y->measured_ns);
        assert_true(x->loops == y->loops);
        assert_true(x->loop_min_ps == y->loop_min_ps);
        assert_true(x->loop_tail_ps == y->loop_tail_ps);
        assert_true(x->detours == y->detours);
        assert_true(x->detour_ns == y->detour_ns);
        assert_true(x->detour_min_ns == y->detour_min_ns);
        assert_true(x->detour_max_ns == y->detour_max_ns);
        assert_true(x->truncated_at_ns == y->truncated_at_ns);
        assert_true(x->stored == y->stored);
        if (x->stored)
            assert_memory_equal(x->d, y->d, x->stored * sizeof(*x->d));
    }
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1); /* +1: room for a trailing byte */
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The bytes of the sample trace as written by zn_trace_write. */
static unsigned char *sample_bytes(size_t *len)
{
    char path[512];
    struct zepto_err err = {0};
    struct zn_trace *t = sample_trace();
    snprintf(path, sizeof(path), "%s/sample.znt", tmpdir);
    if (zn_trace_write(t, path, &err))
        fail_msg("zn_trace_write: %s", err.msg);
    zn_trace_free(t);
    return slurp(path, len);
}

/* Decodes buf and expects a failure whose message contains what. */
static void expect_refused(const unsigned char *buf, size_t len, const char *what)
{
    struct zn_trace *t = (struct zn_trace *)buf; /* must be reset to NULL */
    struct zepto_err err = {0};
    int rc = zn_trace_decode(buf, len, &t, &err);
    if (rc >= 0) {
        zn_trace_free(t);
        fail_msg("a trace with %s was accepted", what);
    }
    assert_null(t);
    assert_int_equal(err.code, -rc);
    if (!strstr(err.msg, what))
        fail_msg("message '%s' does not mention '%s'", err.msg, what);
}

/* The sample with causes (version 2): CPU 0's detours unknown, irq, thread; CPU 5's irq,
 * thread. */
static struct zn_trace *explained_trace(void)
{
    struct zn_trace *t = sample_trace();
    t->flags |= ZN_TRACE_EXPLAINED;
    assert_int_equal(zn_trace_cause(t, ZN_CAUSE_UNKNOWN, "ignored"), 0);
    assert_int_equal(zn_trace_cause(t, ZN_CAUSE_IRQ, "local_timer"), 1);
    assert_int_equal(zn_trace_cause(t, ZN_CAUSE_THREAD, "kworker/0:1"), 2);
    assert_int_equal(zn_trace_cause(t, ZN_CAUSE_IRQ, "local_timer"), 1); /* interned once */
    static const struct zn_detour_cause w0[] = {{0, 0}, {1, 1000}, {2, 9000}};
    static const struct zn_detour_cause w5[] = {{1, 100}, {2, 50000}};
    t->cpu[0].why = malloc(sizeof(w0));
    t->cpu[1].why = malloc(sizeof(w5));
    assert_non_null(t->cpu[0].why);
    assert_non_null(t->cpu[1].why);
    memcpy(t->cpu[0].why, w0, sizeof(w0));
    memcpy(t->cpu[1].why, w5, sizeof(w5));
    return t;
}

/* Offsets of the causes section in the bytes of explained_trace(). */
#define X_CAUSES  (HEADER_SIZE + 2 * CPU_REC_SIZE + 5 * DETOUR_SIZE)
#define X_CAUSE_0 (X_CAUSES + 12)
#define X_WHY_0   (X_CAUSE_0 + 3 * 64)
#define X_LEN     (X_WHY_0 + 5 * 12 + 4)

static unsigned char *explained_bytes(size_t *len)
{
    char path[512];
    struct zepto_err err = {0};
    struct zn_trace *t = explained_trace();
    snprintf(path, sizeof(path), "%s/explained.znt", tmpdir);
    if (zn_trace_write(t, path, &err))
        fail_msg("zn_trace_write: %s", err.msg);
    zn_trace_free(t);
    unsigned char *buf = slurp(path, len);
    assert_int_equal(*len, X_LEN);
    return buf;
}

static void explained_round_trip(void **state)
{
    (void)state;
    char path[512];
    struct zepto_err err = {0};
    struct zn_trace *t = explained_trace(), *back = NULL;
    snprintf(path, sizeof(path), "%s/explained-rt.znt", tmpdir);
    assert_int_equal(zn_trace_write(t, path, &err), 0);
    if (zn_trace_read(path, &back, &err))
        fail_msg("zn_trace_read: %s", err.msg);
    expect_same(t, back);
    assert_int_equal(back->ncauses, 3);
    assert_memory_equal(back->causes, t->causes, 3 * sizeof(*t->causes));
    assert_string_equal(back->causes[0].name, "");
    for (uint32_t i = 0; i < 2; i++)
        for (uint64_t k = 0; k < t->cpu[i].stored; k++) {
            assert_int_equal(back->cpu[i].why[k].cause, t->cpu[i].why[k].cause);
            assert_true(back->cpu[i].why[k].traced_ns == t->cpu[i].why[k].traced_ns);
        }
    char label[96];
    zn_cause_label(&back->causes[2], label, sizeof(label));
    assert_string_equal(label, "thread kworker/0:1");
    zn_cause_label(&back->causes[0], label, sizeof(label));
    assert_string_equal(label, "unknown (host)");

    /* The analysis: time by cause for the node, largest first. */
    struct zn_summary *sum;
    assert_int_equal(zn_analyse(back, &sum, &err), 0);
    assert_int_equal(sum->node.ncause, 3);
    const struct zn_cause_summary *c = &sum->node.cause[0];
    assert_int_equal(c->cause, 2);
    assert_int_equal(c->detours, 2);
    assert_int_equal(c->detour_ns, 79000);
    assert_int_equal(c->median_ns, 9000);
    assert_int_equal(c->traced_ns, 59000);
    assert_true(c->share > 79000.0 / 82060 - 1e-9 && c->share < 79000.0 / 82060 + 1e-9);
    assert_int_equal(sum->node.cause[1].cause, 1);
    assert_int_equal(sum->node.cause[1].detour_ns, 2760);
    assert_int_equal(sum->node.cause[2].cause, 0);
    assert_int_equal(sum->cpu[1].ncause, 2); /* CPU 5 has no unknown detour */
    zn_summary_free(sum);
    zn_trace_free(back);

    /* Without causes the same trace is written as version 1, as before. */
    t->flags &= ~(uint32_t)ZN_TRACE_EXPLAINED;
    assert_int_equal(zn_trace_write(t, path, &err), 0);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    assert_int_equal(buf[H_VERSION], 1);
    assert_int_equal(len, HEADER_SIZE + 2 * CPU_REC_SIZE + 5 * DETOUR_SIZE + 4);
    free(buf);
    assert_int_equal(zn_trace_read(path, &back, &err), 0);
    assert_null(back->cpu[0].why);
    assert_int_equal(zn_analyse(back, &sum, &err), 0);
    assert_null(sum->node.cause);
    zn_summary_free(sum);
    zn_trace_free(back);
    zn_trace_free(t);
}

/* Every prefix, a flipped byte, and each bad field of the causes section behind a valid CRC. */
static void corrupted_causes_are_refused(void **state)
{
    (void)state;
    size_t len;
    unsigned char *full = explained_bytes(&len);
    assert_int_equal(full[H_VERSION], 2);
    for (size_t n = X_CAUSES; n < len; n++) {
        unsigned char *p = malloc(n);
        assert_non_null(p);
        memcpy(p, full, n);
        struct zn_trace *t = NULL;
        if (zn_trace_decode(p, n, &t, NULL) >= 0)
            fail_msg("a prefix of %zu of %zu bytes was accepted", n, len);
        free(p);
    }
    unsigned char *buf = malloc(len + 64);
    assert_non_null(buf);
    const struct {
        size_t at;
        unsigned width; /* 1, 4 or 8 bytes */
        uint64_t value;
        const char *what;
    } bad[] = {
        {X_CAUSES + 4, 4, 65, "causes section sizes"},
        {X_CAUSES + 8, 4, 16, "causes section sizes"},
        {X_CAUSE_0 + 64, 4, 9, "unknown cause kind"},
        {X_CAUSE_0 + 4, 1, 'x', "does not match its kind"},    /* a named unknown */
        {X_CAUSE_0 + 64 + 4, 1, 0, "does not match its kind"}, /* an irq without a name */
        {X_WHY_0 + 12, 4, 3, "cause out of range"},
        {X_WHY_0 + 12 + 4, 8, 2501, "more kernel time traced"},
        {24, 4, ZN_TRACE_AUTO_THRESHOLD, "not marked explained"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(buf, full, len);
        if (bad[i].width == 1)
            buf[bad[i].at] = (unsigned char)bad[i].value;
        else if (bad[i].width == 4)
            put_u32(buf + bad[i].at, (uint32_t)bad[i].value);
        else
            put_u64(buf + bad[i].at, bad[i].value);
        recrc(buf, len);
        expect_refused(buf, len, bad[i].what);
    }
    /* The same cause twice. */
    memcpy(buf, full, len);
    memcpy(buf + X_CAUSE_0 + 128, buf + X_CAUSE_0 + 64, 64);
    recrc(buf, len);
    expect_refused(buf, len, "appears twice");
    /* A name without its terminating NUL. */
    memcpy(buf, full, len);
    memset(buf + X_CAUSE_0 + 64 + 4, 'a', 60);
    recrc(buf, len);
    expect_refused(buf, len, "unterminated cause name");
    /* Too many causes for the file, and too many at all. */
    memcpy(buf, full, len);
    put_u32(buf + X_CAUSES, 4);
    recrc(buf, len);
    expect_refused(buf, len, "truncated");
    put_u32(buf + X_CAUSES, 1u << 30);
    recrc(buf, len);
    expect_refused(buf, len, "cause count");
    /* The flag in a version 1 file; a flipped byte in the section; a byte too many. */
    memcpy(buf, full, len);
    put_u32(buf + H_VERSION, 1);
    recrc(buf, len);
    expect_refused(buf, len, "trailing bytes");
    memcpy(buf, full, len);
    buf[X_WHY_0 + 5] ^= 1;
    expect_refused(buf, len, "checksum");
    memcpy(buf, full, len);
    buf[len] = 0;
    expect_refused(buf, len + 1, "trailing bytes");
    free(buf);
    free(full);
}

/* A version 1 file with the explained flag is refused. */
static void explained_flag_needs_version_2(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = sample_bytes(&len);
    put_u32(buf + 24, ZN_TRACE_AUTO_THRESHOLD | ZN_TRACE_EXPLAINED);
    recrc(buf, len);
    expect_refused(buf, len, "unknown trace flags");
    free(buf);
}

static void round_trip_keeps_every_field(void **state)
{
    (void)state;
    char path[512];
    struct zepto_err err = {0};
    struct zn_trace *t = sample_trace(), *back = NULL;
    snprintf(path, sizeof(path), "%s/round.znt", tmpdir);
    if (zn_trace_write(t, path, &err))
        fail_msg("zn_trace_write: %s", err.msg);
    if (zn_trace_read(path, &back, &err))
        fail_msg("zn_trace_read: %s", err.msg);
    expect_same(t, back);
    zn_trace_free(back);

    /* The size is the documented one, and no temporary file is left behind. */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, HEADER_SIZE + 2 * CPU_REC_SIZE + 5 * DETOUR_SIZE + 4);
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp"))
            fail_msg("temporary file %s left behind", e->d_name);
    closedir(d);

    /* Writing again replaces the file. */
    t->cpu[0].loops = 7;
    assert_int_equal(zn_trace_write(t, path, &err), 0);
    assert_int_equal(zn_trace_read(path, &back, &err), 0);
    assert_true(back->cpu[0].loops == 7);
    zn_trace_free(back);
    zn_trace_free(t);
}

static void quiet_cpu_round_trips(void **state)
{
    (void)state;
    char path[512];
    struct zepto_err err = {0};
    struct zn_trace *t = sample_trace(), *back = NULL;
    free(t->cpu[0].d);
    t->cpu[0].d = NULL;
    t->cpu[0].detours = t->cpu[0].stored = t->cpu[0].detour_ns = 0;
    t->cpu[0].detour_min_ns = t->cpu[0].detour_max_ns = 0;
    snprintf(t->clock, sizeof(t->clock), "monotonic");
    t->clock_hz = 1000000000u;
    snprintf(path, sizeof(path), "%s/quiet.znt", tmpdir);
    assert_int_equal(zn_trace_write(t, path, &err), 0);
    if (zn_trace_read(path, &back, &err))
        fail_msg("zn_trace_read: %s", err.msg);
    expect_same(t, back);
    zn_trace_free(back);
    zn_trace_free(t);
}

static void every_prefix_is_refused(void **state)
{
    (void)state;
    size_t len;
    unsigned char *full = sample_bytes(&len);
    for (size_t n = 0; n < len; n++) {
        /* A copy of exactly n bytes, so that a read past it is caught by sanitizers. */
        unsigned char *p = malloc(n ? n : 1);
        assert_non_null(p);
        memcpy(p, full, n);
        struct zn_trace *t = NULL;
        struct zepto_err err = {0};
        int rc = zn_trace_decode(p, n, &t, &err);
        if (rc >= 0)
            fail_msg("a prefix of %zu of %zu bytes was accepted", n, len);
        assert_null(t);
        assert_true(err.msg[0] != 0);
        free(p);
    }
    /* And the whole file is fine. */
    struct zn_trace *t = NULL;
    assert_int_equal(zn_trace_decode(full, len, &t, NULL), 0);
    zn_trace_free(t);
    free(full);
}

static void wrong_magic_and_version(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = sample_bytes(&len);
    buf[0] ^= 0x20;
    expect_refused(buf, len, "magic");
    buf[0] ^= 0x20;

    put_u32(buf + H_VERSION, 3); /* checksum left stale: the version is checked first */
    struct zn_trace *t = NULL;
    struct zepto_err err = {0};
    assert_int_equal(zn_trace_decode(buf, len, &t, &err), -EPROTO);
    if (!strstr(err.msg, "version 3"))
        fail_msg("message '%s' does not name version 3", err.msg);
    free(buf);
}

static void flipped_byte_fails_the_checksum(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = sample_bytes(&len);
    size_t at[] = {H_HOST + 1, HEADER_SIZE + 9, len - 4 - DETOUR_SIZE - 3, len - 1};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        buf[at[i]] ^= 0x01;
        expect_refused(buf, len, "checksum");
        buf[at[i]] ^= 0x01;
    }
    free(buf);
}

/* Offset of CPU record i and of detour k of the whole detour area. */
static size_t rec(unsigned i)
{
    return HEADER_SIZE + (size_t)i * CPU_REC_SIZE;
}

static size_t det(unsigned k)
{
    return HEADER_SIZE + 2 * CPU_REC_SIZE + (size_t)k * DETOUR_SIZE;
}

static void bad_contents_behind_a_valid_checksum(void **state)
{
    (void)state;
    size_t len;
    unsigned char *orig = sample_bytes(&len);
    unsigned char *buf = malloc(len + 1);
    assert_non_null(buf);

    /* Detours of CPU 0 out of order. */
    memcpy(buf, orig, len);
    put_u64(buf + det(0), get_u64(orig + det(1)));
    put_u64(buf + det(1), get_u64(orig + det(0)));
    recrc(buf, len);
    expect_refused(buf, len, "order");

    /* More stored than counted (CPU 5 counted 4 and stored 2: say it counted 1). */
    memcpy(buf, orig, len);
    put_u64(buf + rec(1) + R_DETOURS, 1);
    recrc(buf, len);
    expect_refused(buf, len, "more detours stored than counted");

    /* A CPU appearing twice. */
    memcpy(buf, orig, len);
    put_u32(buf + rec(1) + R_CPU, 0);
    recrc(buf, len);
    expect_refused(buf, len, "twice");

    /* A detour shorter than the recorded minimum. */
    memcpy(buf, orig, len);
    put_u64(buf + rec(0) + R_MIN, 301);
    recrc(buf, len);
    expect_refused(buf, len, "min/max");

    /* A minimum below the threshold. */
    memcpy(buf, orig, len);
    put_u64(buf + H_THRESHOLD, 1000);
    recrc(buf, len);
    expect_refused(buf, len, "threshold");

    /* An unknown clock, and a text field without its NUL. */
    memcpy(buf, orig, len);
    memcpy(buf + H_CLOCK, "hpet", 5);
    recrc(buf, len);
    expect_refused(buf, len, "clock");
    memcpy(buf, orig, len);
    memset(buf + H_HOST, 'x', 64);
    recrc(buf, len);
    expect_refused(buf, len, "unterminated");

    /* Counts that do not match the file's length. */
    memcpy(buf, orig, len);
    put_u64(buf + rec(0) + R_STORED, 4); /* one detour more than the file holds */
    put_u64(buf + rec(0) + R_DETOURS, 4);
    recrc(buf, len);
    expect_refused(buf, len, "truncated");
    memcpy(buf, orig, len);
    put_u64(buf + rec(0) + R_STORED, UINT64_MAX / 8);
    recrc(buf, len);
    expect_refused(buf, len, "truncated");

    free(buf);
    free(orig);
}

static void cpu_count_out_of_range(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = sample_bytes(&len);
    put_u32(buf + H_NCPU, 0);
    recrc(buf, len);
    expect_refused(buf, len, "CPU count");
    put_u32(buf + H_NCPU, UINT32_MAX);
    recrc(buf, len);
    expect_refused(buf, len, "CPU count");
    put_u32(buf + H_NCPU, 4097);
    recrc(buf, len);
    expect_refused(buf, len, "CPU count");
    put_u32(buf + H_NCPU, 4096); /* in range, but far more records than the file holds */
    recrc(buf, len);
    expect_refused(buf, len, "truncated");
    free(buf);
}

static void trailing_bytes_are_refused(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = sample_bytes(&len); /* has room for one more byte */
    buf[len] = 0;
    expect_refused(buf, len + 1, "trailing");
    /* Even with a checksum that covers the extra byte. */
    recrc(buf, len + 1);
    expect_refused(buf, len + 1, "trailing");
    free(buf);
}

static void read_names_the_path(void **state)
{
    (void)state;
    char path[512];
    struct zepto_err err = {0};
    struct zn_trace *t = (struct zn_trace *)&err;

    snprintf(path, sizeof(path), "%s/no-such-file.znt", tmpdir);
    assert_int_equal(zn_trace_read(path, &t, &err), -ENOENT);
    assert_null(t);
    if (!strstr(err.msg, path))
        fail_msg("message '%s' does not name %s", err.msg, path);

    t = (struct zn_trace *)&err;
    memset(&err, 0, sizeof(err));
    assert_true(zn_trace_read(tmpdir, &t, &err) < 0);
    assert_null(t);
    if (!strstr(err.msg, tmpdir))
        fail_msg("message '%s' does not name %s", err.msg, tmpdir);

    /* A corrupt file: the decoder's message, prefixed with the path. */
    size_t len;
    unsigned char *buf = sample_bytes(&len);
    buf[len - 1] ^= 0xff;
    snprintf(path, sizeof(path), "%s/corrupt.znt", tmpdir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    free(buf);
    assert_int_equal(zn_trace_read(path, &t, &err), -EINVAL);
    assert_null(t);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "checksum"));
}

static void write_to_missing_directory_fails(void **state)
{
    (void)state;
    char path[512];
    struct zepto_err err = {0};
    struct zn_trace *t = sample_trace();
    snprintf(path, sizeof(path), "%s/no/such/dir/t.znt", tmpdir);
    assert_int_equal(zn_trace_write(t, path, &err), -ENOENT);
    assert_non_null(strstr(err.msg, path));
    zn_trace_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_keeps_every_field),
        cmocka_unit_test(explained_round_trip),
        cmocka_unit_test(corrupted_causes_are_refused),
        cmocka_unit_test(explained_flag_needs_version_2),
        cmocka_unit_test(quiet_cpu_round_trips),
        cmocka_unit_test(every_prefix_is_refused),
        cmocka_unit_test(wrong_magic_and_version),
        cmocka_unit_test(flipped_byte_fails_the_checksum),
        cmocka_unit_test(bad_contents_behind_a_valid_checksum),
        cmocka_unit_test(cpu_count_out_of_range),
        cmocka_unit_test(trailing_bytes_are_refused),
        cmocka_unit_test(read_names_the_path),
        cmocka_unit_test(write_to_missing_directory_fails),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
