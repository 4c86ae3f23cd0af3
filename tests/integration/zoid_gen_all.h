/*
 * Every annotation of `zepto zoid gen` in one header, for the round-trip test
 * (zoid_gen_roundtrip.c): every scalar type as a value and as a return, strings, arrays in every
 * direction, 2-D arrays, objects (struct and scalar), nullable and zero-copy pointers, errno,
 * per-client state, and the plugin's hooks (one declared here, two left to the generated server
 * header). zoid_gen_all_impl.c implements it.
 */
#ifndef ZOID_GEN_ALL_H
#define ZOID_GEN_ALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* zoid: plugin 4343 all init=all_init fini=all_fini gone=all_gone */

struct all_obj {
    int32_t a;
    double b;
    char name[13];
};

#ifdef __cplusplus
extern "C" {
#endif

/* Every scalar type back as the return value. */
char all_echo_char(char v);
signed char all_echo_schar(signed char v);
unsigned char all_echo_uchar(unsigned char v);
short all_echo_short(short v);
unsigned short all_echo_ushort(unsigned short v);
int all_echo_int(int v);
unsigned int all_echo_uint(unsigned v);
long all_echo_long(long v);
unsigned long all_echo_ulong(unsigned long v);
long long all_echo_llong(long long v);
unsigned long long all_echo_ullong(unsigned long long v);
int8_t all_echo_i8(int8_t v);
uint8_t all_echo_u8(uint8_t v);
int16_t all_echo_i16(int16_t v);
uint16_t all_echo_u16(uint16_t v);
int32_t all_echo_i32(int32_t v);
uint32_t all_echo_u32(uint32_t v);
int64_t all_echo_i64(int64_t v);
uint64_t all_echo_u64(uint64_t v);
size_t all_echo_size(size_t v);
ssize_t all_echo_ssize(ssize_t v);
bool all_echo_bool(bool v);
float all_echo_float(float v);
double all_echo_double(double v);

/* Many values of different sizes in one call: 1 when each has the value the test sends. */
int all_mix(char c, int8_t a, uint16_t b, int32_t d, uint64_t e, float f, double g, bool h, long i,
            unsigned char j);
void all_nothing(void);

/* Strings. */
size_t all_strlen(const char *s /* string */);
int all_maybe_strlen(const char *s /* string nullable: -2 when NULL */);

/* Arrays in every direction. */
int64_t all_sum_i32(const int32_t *v /* array(n) */, int n);
int all_fill_u16(uint16_t *out /* out array(n) */, size_t n, uint16_t start);
void all_double_f64(double *v /* inout array(n) */, unsigned n);
uint32_t all_bytesum(const void *data /* array(len) zerocopy */, size_t len);
ssize_t all_read(void *buf, /* out array(cap) zerocopy */
                 size_t cap, uint8_t seed);
int all_xor(uint8_t *buf /* inout array(n) zerocopy */, uint32_t n, uint8_t k);
/* Writes all cap bytes (0xEE), says it wrote `says` (-1: an error): the daemon zeroes the rest. */
ssize_t all_read_filled(void *buf /* out array(cap) zerocopy filled */, size_t cap, long says);
int all_transpose(const float *in /* array2d(rows, cols) */,
                  float *out /* out array2d(cols, rows) */, int rows, int cols);
long all_opt_sum(const int64_t *v /* array(n) nullable */, size_t n);
int all_opt_fill(int32_t *out /* out array(n) nullable */, size_t n);
int all_peek(int32_t *v /* in array(n): the callee may write, the caller sees nothing */, size_t n);
double all_dot(const char *tag /* string */, const double *a /* array(n) */,
               const double *b /* array(n) zerocopy */, size_t n);

/* Objects. */
int all_obj_in(const struct all_obj *o /* obj */);
int all_obj_out(struct all_obj *o /* out obj */, int32_t a);
int all_obj_inout(struct all_obj *o /* inout */);
int all_incr(int64_t *v /* inout */);
void all_pair(uint8_t *a /* out */, double *b /* out */);
int all_opt_obj(const struct all_obj *in /* nullable */, struct all_obj *out /* out nullable */);
int all_opt_incr(long *v /* inout nullable */);

/* errno, the call's context, per-client state. */
int all_fail(int e);
double all_fail_double(int e);
int all_count(void);
uint32_t all_uid(void);
int all_released(void);

void all_gone(void *plugin_state, void *client_state);

#ifdef __cplusplus
}
#endif
#endif
