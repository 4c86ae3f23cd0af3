/*
 * Proves the CSV writer of src/base/csv.c: fields are separated by commas and rows end with a
 * newline; only fields holding a comma, a quote or a line break are quoted, with quotes doubled
 * (RFC 4180); numbers are written exactly; a failed write is reported.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "base/csv.h"

static void header_and_rows(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct zb_csv c;
    zb_csv_init(&c, f);
    zb_csv_str(&c, "cpu");
    zb_csv_str(&c, "start_ns");
    zb_csv_str(&c, "share");
    zb_csv_end_row(&c);
    zb_csv_u64(&c, 0);
    zb_csv_u64(&c, UINT64_MAX);
    zb_csv_f64(&c, 0.25);
    zb_csv_end_row(&c);
    zb_csv_u64(&c, 1);
    zb_csv_str(&c, "");
    zb_csv_str(&c, NULL); /* an empty field */
    zb_csv_end_row(&c);
    assert_int_equal(zb_csv_finish(&c), 0);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(buf, "cpu,start_ns,share\n0,18446744073709551615,0.25\n1,,\n");
    free(buf);
}

static void quoting_of_special_fields(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct zb_csv c;
    zb_csv_init(&c, f);
    zb_csv_str(&c, "a,b");
    zb_csv_str(&c, "say \"hi\"");
    zb_csv_str(&c, "line1\nline2");
    zb_csv_str(&c, "cr\r");
    zb_csv_str(&c, "plain text; 'single'");
    zb_csv_str(&c, "\"");
    zb_csv_end_row(&c);
    assert_int_equal(zb_csv_finish(&c), 0);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(buf, "\"a,b\",\"say \"\"hi\"\"\",\"line1\nline2\",\"cr\r\","
                             "plain text; 'single',\"\"\"\"\n");
    free(buf);
}

static void write_error_is_reported(void **state)
{
    (void)state;
    FILE *f = fopen("/dev/null", "r"); /* every write to it fails */
    assert_non_null(f);
    struct zb_csv c;
    zb_csv_init(&c, f);
    zb_csv_str(&c, "x");
    zb_csv_end_row(&c);
    assert_int_equal(zb_csv_finish(&c), -EIO);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_and_rows),
        cmocka_unit_test(quoting_of_special_fields),
        cmocka_unit_test(write_error_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
