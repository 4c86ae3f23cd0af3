/*
 * A CSV writer (RFC 4180): fields that hold a comma, a quote or a line break are quoted, quotes
 * doubled; rows end with "\n".
 */
#ifndef ZEPTO_BASE_CSV_H
#define ZEPTO_BASE_CSV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct zb_csv {
    FILE *f;
    bool row_started; /* a field was written on the current row */
};

void zb_csv_init(struct zb_csv *c, FILE *f);
void zb_csv_str(struct zb_csv *c, const char *s);
void zb_csv_u64(struct zb_csv *c, uint64_t v);
void zb_csv_f64(struct zb_csv *c, double v);
void zb_csv_end_row(struct zb_csv *c);
/* 0, or -EIO when a write failed. */
int zb_csv_finish(struct zb_csv *c);

#endif
