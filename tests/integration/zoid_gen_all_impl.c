/*
 * The implementation behind zoid_gen_all.h, built into the test plugin with the generated
 * dispatch: plain functions that know nothing of ZOID, except all_count/all_uid/all_released,
 * which use the call's context (per-client state, identity) as a real plugin would.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "zoid_gen_all.h"
#include "all_server.h"

static _Atomic int inits, released;

int all_init(struct zoid_host *host)
{
    (void)host;
    inits++;
    return 0;
}

void all_fini(void *plugin_state)
{
    (void)plugin_state;
}

void all_gone(void *plugin_state, void *client_state)
{
    (void)plugin_state;
    free(client_state);
    released++;
}

#define ECHO(name, type)                                                                           \
    type name(type v)                                                                              \
    {                                                                                              \
        return v;                                                                                  \
    }
ECHO(all_echo_char, char)
ECHO(all_echo_schar, signed char)
ECHO(all_echo_uchar, unsigned char)
ECHO(all_echo_short, short)
ECHO(all_echo_ushort, unsigned short)
ECHO(all_echo_int, int)
ECHO(all_echo_uint, unsigned)
ECHO(all_echo_long, long)
ECHO(all_echo_ulong, unsigned long)
ECHO(all_echo_llong, long long)
ECHO(all_echo_ullong, unsigned long long)
ECHO(all_echo_i8, int8_t)
ECHO(all_echo_u8, uint8_t)
ECHO(all_echo_i16, int16_t)
ECHO(all_echo_u16, uint16_t)
ECHO(all_echo_i32, int32_t)
ECHO(all_echo_u32, uint32_t)
ECHO(all_echo_i64, int64_t)
ECHO(all_echo_u64, uint64_t)
ECHO(all_echo_size, size_t)
ECHO(all_echo_ssize, ssize_t)
ECHO(all_echo_bool, bool)
ECHO(all_echo_float, float)
ECHO(all_echo_double, double)

int all_mix(char c, int8_t a, uint16_t b, int32_t d, uint64_t e, float f, double g, bool h, long i,
            unsigned char j)
{
    return c == 'z' && a == -7 && b == 65000 && d == -123456789 && e == UINT64_MAX - 1 &&
           f == 1.5f && g == -2.25 && h && i == -42 && j == 200;
}

void all_nothing(void)
{
}

size_t all_strlen(const char *s)
{
    return strlen(s);
}

int all_maybe_strlen(const char *s)
{
    return s ? (int)strlen(s) : -2;
}

int64_t all_sum_i32(const int32_t *v, int n)
{
    int64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    return sum;
}

int all_fill_u16(uint16_t *out, size_t n, uint16_t start)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint16_t)(start + i);
    return (int)n;
}

void all_double_f64(double *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        v[i] *= 2;
}

uint32_t all_bytesum(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += p[i];
    return sum;
}

ssize_t all_read(void *buf, size_t cap, uint8_t seed)
{
    unsigned char *p = buf;
    /* Fills half: the rest must come back as zeros, not as the daemon's old memory. */
    for (size_t i = 0; i < cap / 2; i++)
        p[i] = (unsigned char)(seed + i);
    return (ssize_t)(cap / 2);
}

ssize_t all_read_filled(void *buf, size_t cap, long says)
{
    memset(buf, 0xEE, cap); /* more than it says: stale bytes the daemon must not send */
    if (says < 0)
        errno = EIO;
    return says < 0 ? -1 : (ssize_t)says;
}

int all_xor(uint8_t *buf, uint32_t n, uint8_t k)
{
    for (uint32_t i = 0; i < n; i++)
        buf[i] ^= k;
    return 0;
}

int all_transpose(const float *in, float *out, int rows, int cols)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            out[c * rows + r] = in[r * cols + c];
    return rows * cols;
}

long all_opt_sum(const int64_t *v, size_t n)
{
    if (!v)
        return -1;
    long sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (long)v[i];
    return sum;
}

int all_opt_fill(int32_t *out, size_t n)
{
    if (!out)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = (int32_t)(i * i);
    return 0;
}

int all_peek(int32_t *v, size_t n)
{
    int32_t first = n ? v[0] : -1;
    for (size_t i = 0; i < n; i++)
        v[i] = -1;
    return first;
}

double all_dot(const char *tag, const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s + (double)strlen(tag) * 1000;
}

int all_obj_in(const struct all_obj *o)
{
    return o->a == 11 && o->b == 0.5 && !strcmp(o->name, "twelve char");
}

int all_obj_out(struct all_obj *o, int32_t a)
{
    o->a = a;
    o->b = 3.75;
    strcpy(o->name, "from daemon");
    return 0;
}

int all_obj_inout(struct all_obj *o)
{
    o->a += 1;
    o->b *= 2;
    o->name[0] = 'X';
    return 0;
}

int all_incr(int64_t *v)
{
    return (int)++*v;
}

void all_pair(uint8_t *a, double *b)
{
    *a = 250;
    *b = -0.125;
}

int all_opt_obj(const struct all_obj *in, struct all_obj *out)
{
    if (out) {
        memset(out, 0, sizeof(*out));
        out->a = in ? in->a * 10 : -1;
    }
    return (in ? 1 : 0) + (out ? 2 : 0);
}

int all_opt_incr(long *v)
{
    if (!v)
        return -1;
    return (int)++*v;
}

int all_fail(int e)
{
    errno = e;
    return -1;
}

double all_fail_double(int e)
{
    errno = e;
    return -1.5;
}

/* Per-client state: a counter in this plugin's slot, released by all_gone. */
int all_count(void)
{
    struct zoid_call *call = all_zoid_current();
    if (!call)
        return -1;
    int **slot = (int **)zoid_call_client_state(call);
    if (!*slot && !(*slot = calloc(1, sizeof(int)))) {
        errno = ENOMEM;
        return -1;
    }
    return ++**slot;
}

uint32_t all_uid(void)
{
    return zoid_call_identity(all_zoid_current())->uid;
}

int all_released(void)
{
    return released + 1000 * inits;
}
