/*
 * Proves the JSON writer of src/base/json.c: commas and nesting come out exactly (compact and
 * pretty), strings are escaped so that the output is always valid JSON (invalid UTF-8 becomes
 * U+FFFD, valid multi-byte characters are kept), doubles read back exactly, non-finite numbers
 * become null, and misuse or a failed write is reported by zb_json_finish().
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/json.h"

/* An in-memory FILE and its contents. */
struct sink {
    FILE *f;
    char *buf;
    size_t len;
};

static void sink_open(struct sink *s)
{
    s->buf = NULL;
    s->len = 0;
    s->f = open_memstream(&s->buf, &s->len);
    assert_non_null(s->f);
}

/* Closes the stream and returns what was written (owned by s until sink_free). */
static const char *sink_close(struct sink *s)
{
    assert_int_equal(fclose(s->f), 0);
    s->f = NULL;
    return s->buf;
}

static void sink_free(struct sink *s)
{
    free(s->buf);
}

static void compact_nesting_and_commas(void **state)
{
    (void)state;
    struct sink s;
    struct zb_json j;
    sink_open(&s);
    zb_json_init(&j, s.f, false);
    zb_json_obj_begin(&j);
    zb_json_kv_u64(&j, "a", 1);
    zb_json_key(&j, "b");
    zb_json_arr_begin(&j);
    zb_json_bool(&j, true);
    zb_json_null(&j);
    zb_json_str(&j, "x");
    zb_json_arr_end(&j);
    zb_json_obj_end(&j);
    assert_int_equal(zb_json_finish(&j), 0);
    assert_string_equal(sink_close(&s), "{\"a\":1,\"b\":[true,null,\"x\"]}\n");
    sink_free(&s);
}

static void compact_empty_and_deep_containers(void **state)
{
    (void)state;
    struct sink s;
    struct zb_json j;
    sink_open(&s);
    zb_json_init(&j, s.f, false);
    zb_json_arr_begin(&j);
    zb_json_arr_begin(&j);
    zb_json_arr_end(&j);
    zb_json_obj_begin(&j);
    zb_json_obj_end(&j);
    zb_json_obj_begin(&j);
    zb_json_key(&j, "k");
    zb_json_arr_begin(&j);
    zb_json_i64(&j, -1);
    zb_json_obj_begin(&j);
    zb_json_kv_bool(&j, "f", false);
    zb_json_kv_str(&j, "n", NULL);
    zb_json_kv_i64(&j, "m", INT64_MIN);
    zb_json_obj_end(&j);
    zb_json_arr_end(&j);
    zb_json_obj_end(&j);
    zb_json_arr_end(&j);
    assert_int_equal(zb_json_finish(&j), 0);
    assert_string_equal(sink_close(&s), "[[],{},{\"k\":[-1,{\"f\":false,\"n\":null,"
                                        "\"m\":-9223372036854775808}]}]\n");
    sink_free(&s);
}

static void pretty_indents_by_two(void **state)
{
    (void)state;
    struct sink s;
    struct zb_json j;
    sink_open(&s);
    zb_json_init(&j, s.f, true);
    zb_json_obj_begin(&j);
    zb_json_kv_u64(&j, "a", 1);
    zb_json_key(&j, "b");
    zb_json_arr_begin(&j);
    zb_json_bool(&j, true);
    zb_json_arr_end(&j);
    zb_json_key(&j, "c");
    zb_json_arr_begin(&j);
    zb_json_arr_end(&j);
    zb_json_obj_end(&j);
    assert_int_equal(zb_json_finish(&j), 0);
    assert_string_equal(sink_close(&s),
                        "{\n  \"a\": 1,\n  \"b\": [\n    true\n  ],\n  \"c\": []\n}\n");
    sink_free(&s);
}

/* The body zb_json_escape writes for len bytes of in. */
static char *escaped(const char *in, size_t len)
{
    struct sink s;
    sink_open(&s);
    zb_json_escape(s.f, in, len);
    sink_close(&s);
    return s.buf;
}

static void expect_escape(const char *in, size_t len, const char *want)
{
    char *got = escaped(in, len);
    if (strcmp(got, want))
        fail_msg("escaped as '%s', expected '%s'", got, want);
    free(got);
}

static void escapes_specials_and_controls(void **state)
{
    (void)state;
    expect_escape("a\"b", 3, "a\\\"b");
    expect_escape("a\\b", 3, "a\\\\b");
    expect_escape("l1\nl2\tx\r\b\f", 10, "l1\\nl2\\tx\\r\\b\\f");
    expect_escape("\x01", 1, "\\u0001");
    expect_escape("\x1f", 1, "\\u001f");
    expect_escape("a\0b", 3, "a\\u0000b"); /* the length, not a NUL, ends the string */
    expect_escape("/ ~\x7f", 4, "/ ~\x7f");

    /* The same through the writer: the value is quoted. */
    struct sink s;
    struct zb_json j;
    sink_open(&s);
    zb_json_init(&j, s.f, false);
    zb_json_obj_begin(&j);
    zb_json_kv_str(&j, "q\"k", "v\n");
    zb_json_obj_end(&j);
    assert_int_equal(zb_json_finish(&j), 0);
    assert_string_equal(sink_close(&s), "{\"q\\\"k\":\"v\\n\"}\n");
    sink_free(&s);
}

static void valid_utf8_is_kept(void **state)
{
    (void)state;
    static const char text[] = "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
    expect_escape(text, sizeof(text) - 1, text); /* é € 😀 U+10FFFF */
    expect_escape("\xc2\x80", 2, "\xc2\x80");    /* the smallest two-byte character */
    expect_escape("\xe0\xa0\x80", 3, "\xe0\xa0\x80");
    expect_escape("\xf0\x90\x80\x80", 4, "\xf0\x90\x80\x80");
    expect_escape("\xed\x9f\xbf", 3, "\xed\x9f\xbf"); /* U+D7FF, just below the surrogates */
}

/* Whether every byte of s is ASCII (invalid input must not leak raw bytes). */
static bool all_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

static void expect_replaced(const char *in, size_t len)
{
    char *got = escaped(in, len);
    if (!all_ascii(got) || strncmp(got, "a\\ufffd", 7) || got[strlen(got) - 1] != 'z')
        fail_msg("invalid UTF-8 escaped as '%s'", got);
    free(got);
}

static void invalid_utf8_becomes_replacement(void **state)
{
    (void)state;
    expect_escape("a\xff"
                  "z",
                  3, "a\\ufffdz");
    expect_escape("a\x80"
                  "z",
                  3, "a\\ufffdz"); /* a lone continuation byte */
    expect_replaced("a\xe2\x82"
                    "z",
                    4); /* truncated three-byte sequence */
    expect_replaced("a\xc0\x80"
                    "z",
                    4); /* overlong NUL */
    expect_replaced("a\xe0\x80\xaf"
                    "z",
                    5); /* overlong three-byte '/' */
    expect_replaced("a\xf0\x80\x80\xaf"
                    "z",
                    6); /* overlong four-byte '/' */
    expect_replaced("a\xed\xa0\x80"
                    "z",
                    5); /* surrogate U+D800 */
    expect_replaced("a\xed\xb0\x80"
                    "z",
                    5); /* surrogate U+DC00 */
    expect_replaced("a\xed\xbf\xbf"
                    "z",
                    5); /* surrogate U+DFFF */
    expect_replaced("a\xf4\x90\x80\x80"
                    "z",
                    6); /* above U+10FFFF */
    expect_replaced("a\xf5\x80\x80\x80"
                    "z",
                    6);
    expect_replaced("a\xc3"
                    "z",
                    3); /* lead byte, then ASCII */

    /* A sequence cut by the length given, not by a NUL. */
    char *got = escaped("\xc3\xa9", 1);
    assert_string_equal(got, "\\ufffd");
    free(got);
}

static void doubles_read_back_exactly(void **state)
{
    (void)state;
    static const double vals[] = {0.1,   1.0 / 3.0, 2.5,           -7.0,
                                  1e300, 5e-324,    123456789.125, 0.30000000000000004};
    struct sink s;
    struct zb_json j;
    sink_open(&s);
    zb_json_init(&j, s.f, false);
    zb_json_arr_begin(&j);
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        zb_json_f64(&j, vals[i]);
    zb_json_arr_end(&j);
    assert_int_equal(zb_json_finish(&j), 0);
    const char *out = sink_close(&s);

    assert_true(out[0] == '[');
    const char *p = out + 1;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        char *end;
        double v = strtod(p, &end);
        if (v != vals[i])
            fail_msg("value %zu reads back as %.17g, expected %.17g (output %s)", i, v, vals[i],
                     out);
        assert_true(*end == (i + 1 < sizeof(vals) / sizeof(vals[0]) ? ',' : ']'));
        p = end + 1;
    }
    /* The shortest form where one exists. */
    assert_non_null(strstr(out, "[0.1,"));
    assert_non_null(strstr(out, ",2.5,"));
    sink_free(&s);
}

static void non_finite_is_null_and_integers_exact(void **state)
{
    (void)state;
    struct sink s;
    struct zb_json j;
    sink_open(&s);
    zb_json_init(&j, s.f, false);
    zb_json_obj_begin(&j);
    zb_json_kv_f64(&j, "nan", NAN);
    zb_json_kv_f64(&j, "inf", INFINITY);
    zb_json_kv_f64(&j, "ninf", -INFINITY);
    zb_json_kv_u64(&j, "max", UINT64_MAX);
    zb_json_kv_f64(&j, "tenth", 0.1);
    zb_json_obj_end(&j);
    assert_int_equal(zb_json_finish(&j), 0);
    assert_string_equal(sink_close(&s), "{\"nan\":null,\"inf\":null,\"ninf\":null,"
                                        "\"max\":18446744073709551615,\"tenth\":0.1}\n");
    sink_free(&s);
}

/* Runs one misuse and returns what zb_json_finish() said. */
static int finish_after(void (*misuse)(struct zb_json *))
{
    struct sink s;
    struct zb_json j;
    sink_open(&s);
    zb_json_init(&j, s.f, false);
    misuse(&j);
    int rc = zb_json_finish(&j);
    sink_close(&s);
    sink_free(&s);
    return rc;
}

static void value_without_key(struct zb_json *j)
{
    zb_json_obj_begin(j);
    zb_json_u64(j, 1);
    zb_json_obj_end(j);
}

static void unbalanced_end(struct zb_json *j)
{
    zb_json_arr_begin(j);
    zb_json_arr_end(j);
    zb_json_arr_end(j);
}

static void key_at_top_level(struct zb_json *j)
{
    zb_json_key(j, "k");
    zb_json_u64(j, 1);
}

static void key_in_array(struct zb_json *j)
{
    zb_json_arr_begin(j);
    zb_json_key(j, "k");
    zb_json_u64(j, 1);
    zb_json_arr_end(j);
}

static void mismatched_end(struct zb_json *j)
{
    zb_json_obj_begin(j);
    zb_json_arr_end(j);
}

static void key_without_value(struct zb_json *j)
{
    zb_json_obj_begin(j);
    zb_json_key(j, "k");
    zb_json_obj_end(j);
}

static void two_keys_in_a_row(struct zb_json *j)
{
    zb_json_obj_begin(j);
    zb_json_key(j, "a");
    zb_json_key(j, "b");
    zb_json_u64(j, 1);
    zb_json_obj_end(j);
}

static void left_open(struct zb_json *j)
{
    zb_json_obj_begin(j);
    zb_json_kv_u64(j, "a", 1);
}

static void too_deep(struct zb_json *j)
{
    for (int i = 0; i <= ZB_JSON_MAX_DEPTH; i++)
        zb_json_arr_begin(j);
    for (int i = 0; i <= ZB_JSON_MAX_DEPTH; i++)
        zb_json_arr_end(j);
}

static void misuse_is_reported_by_finish(void **state)
{
    (void)state;
    assert_int_equal(finish_after(value_without_key), -EINVAL);
    assert_int_equal(finish_after(unbalanced_end), -EINVAL);
    assert_int_equal(finish_after(key_at_top_level), -EINVAL);
    assert_int_equal(finish_after(key_in_array), -EINVAL);
    assert_int_equal(finish_after(mismatched_end), -EINVAL);
    assert_int_equal(finish_after(key_without_value), -EINVAL);
    assert_int_equal(finish_after(two_keys_in_a_row), -EINVAL);
    assert_int_equal(finish_after(left_open), -EINVAL);
    assert_true(finish_after(too_deep) < 0);
}

static void write_error_is_reported(void **state)
{
    (void)state;
    FILE *f = fopen("/dev/null", "r"); /* every write to it fails */
    assert_non_null(f);
    struct zb_json j;
    zb_json_init(&j, f, false);
    zb_json_obj_begin(&j);
    zb_json_kv_str(&j, "a", "b");
    zb_json_obj_end(&j);
    assert_int_equal(zb_json_finish(&j), -EIO);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compact_nesting_and_commas),
        cmocka_unit_test(compact_empty_and_deep_containers),
        cmocka_unit_test(pretty_indents_by_two),
        cmocka_unit_test(escapes_specials_and_controls),
        cmocka_unit_test(valid_utf8_is_kept),
        cmocka_unit_test(invalid_utf8_becomes_replacement),
        cmocka_unit_test(doubles_read_back_exactly),
        cmocka_unit_test(non_finite_is_null_and_integers_exact),
        cmocka_unit_test(misuse_is_reported_by_finish),
        cmocka_unit_test(write_error_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
