/*
 * Checks of the generated stubs and dispatch of zoid_gen_all.h that hold whatever carries the
 * calls (zoid_gen_checks.h): every scalar type at its extremes, strings, arrays in every
 * direction, objects, split-phase stubs, and the refusals made before anything is sent.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "all_client.h"
#include "zoid_gen_all.h"
#include "zoid_gen_checks.h"

int zg_failures;

void zg_every_scalar_type(void)
{
    EQ_I(all_echo_char('a'), 'a');
    EQ_I(all_echo_char((char)-100), (char)-100);
    EQ_I(all_echo_schar(SCHAR_MIN), SCHAR_MIN);
    EQ_U(all_echo_uchar(UCHAR_MAX), UCHAR_MAX);
    EQ_I(all_echo_short(SHRT_MIN), SHRT_MIN);
    EQ_U(all_echo_ushort(USHRT_MAX), USHRT_MAX);
    EQ_I(all_echo_int(INT_MIN), INT_MIN);
    EQ_U(all_echo_uint(UINT_MAX), UINT_MAX);
    EQ_I(all_echo_long(LONG_MIN), LONG_MIN);
    EQ_U(all_echo_ulong(ULONG_MAX), ULONG_MAX);
    EQ_I(all_echo_llong(LLONG_MIN), LLONG_MIN);
    EQ_U(all_echo_ullong(ULLONG_MAX), ULLONG_MAX);
    EQ_I(all_echo_i8(INT8_MIN), INT8_MIN);
    EQ_U(all_echo_u8(UINT8_MAX), UINT8_MAX);
    EQ_I(all_echo_i16(INT16_MIN), INT16_MIN);
    EQ_U(all_echo_u16(UINT16_MAX), UINT16_MAX);
    EQ_I(all_echo_i32(INT32_MIN), INT32_MIN);
    EQ_U(all_echo_u32(UINT32_MAX), UINT32_MAX);
    EQ_I(all_echo_i64(INT64_MIN), INT64_MIN);
    EQ_I(all_echo_i64(-2), -2);
    EQ_U(all_echo_u64(UINT64_MAX - 5), UINT64_MAX - 5);
    EQ_U(all_echo_size(SIZE_MAX), SIZE_MAX);
    EQ_I(all_echo_ssize(-SSIZE_MAX - 1), -SSIZE_MAX - 1);
    CHECK(all_echo_bool(true) == true, "true");
    CHECK(all_echo_bool(false) == false, "false");
    EQ_D(all_echo_float(-FLT_MAX), -FLT_MAX);
    EQ_D(all_echo_float(FLT_MIN), FLT_MIN);
    EQ_D(all_echo_double(DBL_MAX), DBL_MAX);
    EQ_D(all_echo_double(-1e-300), -1e-300);
    CHECK(signbit(all_echo_double(-0.0)), "-0.0 lost its sign");
    CHECK(isnan(all_echo_double(NAN)), "NaN");
    CHECK(isinf(all_echo_float(INFINITY)), "inf");
    EQ_I(all_mix('z', -7, 65000, -123456789, UINT64_MAX - 1, 1.5f, -2.25, true, -42, 200), 1);
    errno = 777;
    all_nothing();
    EQ_ERRNO(777); /* a call that succeeds leaves errno alone */
}

void zg_strings(void)
{
    EQ_U(all_strlen("hello"), 5);
    EQ_U(all_strlen(""), 0);
    size_t n = 100000;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = 0;
    EQ_U(all_strlen(big), n); /* its own iovec */
    free(big);
    EQ_I(all_maybe_strlen(NULL), -2);
    EQ_I(all_maybe_strlen("abc"), 3);
    int before = zg_calls();
    errno = 0;
    EQ_U(all_strlen(NULL), SIZE_MAX);
    EQ_ERRNO(EFAULT);
    ZG_NOTHING_SENT(before); /* refused before anything was sent */
}

void zg_arrays(void)
{
    enum { N = 1000 };
    int32_t v[N];
    int64_t want = 0;
    for (int i = 0; i < N; i++) {
        v[i] = (i % 3 ? 1 : -1) * i * 1000;
        want += v[i];
    }
    EQ_I(all_sum_i32(v, N), want);
    EQ_I(all_sum_i32(NULL, 0), 0);
    int before = zg_calls();
    errno = 0;
    EQ_I(all_sum_i32(v, -1), -1);
    EQ_ERRNO(EINVAL);
    errno = 0;
    EQ_I(all_sum_i32(NULL, 3), -1);
    EQ_ERRNO(EFAULT);
    ZG_NOTHING_SENT(before);

    uint16_t u[300];
    memset(u, 0xAA, sizeof(u));
    EQ_I(all_fill_u16(u, 300, 65400), 300);
    for (int i = 0; i < 300; i++)
        EQ_U(u[i], (uint16_t)(65400 + i));

    double d[5] = {1, -2, 3.5, 1e300, -0.25};
    all_double_f64(d, 5);
    EQ_D(d[0], 2);
    EQ_D(d[2], 7);
    EQ_D(d[3], 2e300);
    EQ_D(d[4], -0.5);

    size_t mib = 1 << 19;
    unsigned char *bytes = malloc(mib);
    uint32_t sum = 0;
    for (size_t i = 0; i < mib; i++) {
        bytes[i] = (unsigned char)(i * 7);
        sum += bytes[i];
    }
    EQ_U(all_bytesum(bytes, mib), sum);
    EQ_U(all_bytesum(bytes, 3), 0 + 7 + 14);

    unsigned char rd[1001];
    memset(rd, 0xAA, sizeof(rd));
    EQ_I(all_read(rd, 1000, 7), 500);
    int bad = 0;
    for (int i = 0; i < 1000; i++)
        bad += rd[i] != (i < 500 ? (unsigned char)(7 + i) : 0);
    EQ_I(bad, 0);         /* what the function did not write comes back zeroed */
    EQ_U(rd[1000], 0xAA); /* and nothing beyond cap */
    /* filled: the daemon zeroes only past the count the function returns, after it ran */
    long says[] = {500, 0, 1000, 5000, -1};
    for (size_t k = 0; k < sizeof(says) / sizeof(says[0]); k++) {
        memset(rd, 0xAA, sizeof(rd));
        errno = 0;
        ssize_t got = all_read_filled(rd, 1000, says[k]);
        /* a count beyond the array: the client refuses the reply (EPROTO) */
        EQ_I(got, says[k] > 1000 ? -1 : says[k]);
        if (got < 0)
            EQ_I(errno, says[k] > 1000 ? EPROTO : EIO);
        size_t w = got < 0 ? 0 : got > 1000 ? 1000 : (size_t)got;
        bad = 0;
        for (size_t i = 0; got >= 0 && i < 1000; i++)
            bad += rd[i] != (i < w ? 0xEE : 0);
        EQ_I(bad, 0);
        EQ_U(rd[1000], 0xAA);
    }

    memcpy(rd, bytes, 64);
    EQ_I(all_xor(rd, 64, 0x5A), 0);
    bad = 0;
    for (int i = 0; i < 64; i++)
        bad += rd[i] != (bytes[i] ^ 0x5A);
    EQ_I(bad, 0);
    free(bytes);

    float m[3 * 5], t[5 * 3];
    for (int i = 0; i < 15; i++)
        m[i] = (float)i + 0.5f;
    memset(t, 0, sizeof(t));
    EQ_I(all_transpose(m, t, 3, 5), 15);
    bad = 0;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 5; c++)
            bad += t[c * 3 + r] != m[r * 5 + c];
    EQ_I(bad, 0);
    errno = 0;
    EQ_I(all_transpose(m, t, 3, -5), -1);
    EQ_ERRNO(EINVAL);

    int64_t o[4] = {1, 2, 3, -10};
    EQ_I(all_opt_sum(NULL, 4), -1);
    EQ_I(all_opt_sum(o, 4), -4);
    int32_t f[6] = {9, 9, 9, 9, 9, 9};
    EQ_I(all_opt_fill(NULL, 6), -1);
    EQ_I(all_opt_fill(f, 6), 0);
    EQ_I(f[5], 25);

    int32_t pk[3] = {5, 6, 7};
    EQ_I(all_peek(pk, 3), 5);
    CHECK(pk[0] == 5 && pk[1] == 6 && pk[2] == 7, "an in array came back changed");

    double a[7], b[7], dot = 0;
    for (int i = 0; i < 7; i++) {
        a[i] = i + 0.25;
        b[i] = 2 - i;
        dot += a[i] * b[i];
    }
    /* Tags of every length put the arrays at every alignment in the request. */
    EQ_D(all_dot("ab", a, b, 7), dot + 2000);
    EQ_D(all_dot("abc", a, b, 7), dot + 3000);
    EQ_D(all_dot("abcdefg", a, b, 7), dot + 7000);
}

void zg_objects(void)
{
    struct all_obj in = {.a = 11, .b = 0.5, .name = "twelve char"};
    EQ_I(all_obj_in(&in), 1);
    struct all_obj out;
    memset(&out, 0xEE, sizeof(out));
    EQ_I(all_obj_out(&out, -99), 0);
    EQ_I(out.a, -99);
    EQ_D(out.b, 3.75);
    CHECK(!strcmp(out.name, "from daemon"), "name '%.13s'", out.name);
    EQ_I(all_obj_inout(&in), 0);
    EQ_I(in.a, 12);
    EQ_D(in.b, 1.0);
    CHECK(!strcmp(in.name, "Xwelve char"), "name '%s'", in.name);

    int64_t x = 41;
    EQ_I(all_incr(&x), 42);
    EQ_I(x, 42);
    uint8_t pa = 0;
    double pb = 0;
    all_pair(&pa, &pb);
    EQ_U(pa, 250);
    EQ_D(pb, -0.125);

    struct all_obj o2 = {0};
    EQ_I(all_opt_obj(NULL, NULL), 0);
    EQ_I(all_opt_obj(&in, NULL), 1);
    EQ_I(all_opt_obj(NULL, &o2), 2);
    EQ_I(o2.a, -1);
    EQ_I(all_opt_obj(&in, &o2), 3);
    EQ_I(o2.a, 120);
    long l = 7;
    EQ_I(all_opt_incr(NULL), -1);
    EQ_I(all_opt_incr(&l), 8);
    EQ_I(l, 8);

    int before = zg_calls();
    errno = 0;
    EQ_I(all_obj_out(NULL, 1), -1);
    EQ_ERRNO(EFAULT);
    ZG_NOTHING_SENT(before);
}

struct zg_sum_job {
    int base;
    int ok;
};

static void *sum_thread(void *arg)
{
    struct zg_sum_job *j = arg;
    int32_t v[64];
    for (int k = 0; k < 200; k++) {
        int64_t want = 0;
        for (int i = 0; i < 64; i++)
            want += v[i] = j->base + k * 3 + i;
        j->ok += all_sum_i32(v, 64) == want;
    }
    return NULL;
}

void zg_threads(int n)
{
    pthread_t t[16];
    struct zg_sum_job jobs[16];
    n = n > 16 ? 16 : n;
    for (int i = 0; i < n; i++) {
        jobs[i] = (struct zg_sum_job){.base = i * 100000};
        pthread_create(&t[i], NULL, sum_thread, &jobs[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        EQ_I(jobs[i].ok, 200);
    }
}

void zg_split_phase(void)
{
    /* Calls begun before any is ended, ended in the reverse order: each gets its own reply. */
    enum { N = 24 };
    struct all_echo_int_call ci[N];
    for (int i = 0; i < N; i++)
        EQ_I(all_echo_int_begin(&ci[i], i * 1000 - 7), 0);
    for (int i = N - 1; i >= 0; i--)
        EQ_I(all_echo_int_end(&ci[i]), i * 1000 - 7);

    /* A zero-copy array may be reused once begin returns. */
    unsigned char data[4096];
    uint32_t want = 0;
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (unsigned char)(i * 7);
        want += data[i];
    }
    struct all_bytesum_call cb;
    EQ_I(all_bytesum_begin(&cb, data, sizeof(data)), 0);
    memset(data, 0, sizeof(data));
    EQ_U(all_bytesum_end(&cb), want);

    /* Every kind of result: a double, void, an int from a struct given by pointer, an error;
     * errno is the function's, or the caller's when it succeeded. */
    struct all_echo_double_call cd;
    struct all_nothing_call cn;
    struct all_obj_in_call co;
    struct all_fail_call cf;
    struct all_obj in = {.a = 11, .b = 0.5, .name = "twelve char"};
    EQ_I(all_echo_double_begin(&cd, -0.1), 0);
    EQ_I(all_nothing_begin(&cn), 0);
    EQ_I(all_obj_in_begin(&co, &in), 0);
    EQ_I(all_fail_begin(&cf, ENOENT), 0);
    in.a = 0; /* sent already */
    errno = 4242;
    EQ_D(all_echo_double_end(&cd), -0.1);
    EQ_ERRNO(4242);
    all_nothing_end(&cn);
    EQ_ERRNO(4242);
    EQ_I(all_obj_in_end(&co), 1);
    EQ_I(all_fail_end(&cf), -1);
    EQ_ERRNO(ENOENT);

    /* Bad arguments are refused as the stub refuses them, with nothing sent. */
    int before = zg_calls();
    struct all_strlen_call cs;
    errno = 0;
    EQ_I(all_bytesum_begin(&cb, NULL, 5), -1);
    EQ_ERRNO(EFAULT);
    errno = 0;
    EQ_I(all_strlen_begin(&cs, NULL), -1);
    EQ_ERRNO(EFAULT);
    errno = 0;
    EQ_I(all_echo_int_begin(NULL, 1), -1);
    EQ_ERRNO(EFAULT);
    ZG_NOTHING_SENT(before);
    EQ_I(all_strlen_begin(&cs, "four"), 0);
    EQ_U(all_strlen_end(&cs), 4);
}
