/*
 * The CSV writer.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "base/csv.h"

void zb_csv_init(struct zb_csv *c, FILE *f)
{
    c->f = f;
    c->row_started = false;
}

static void separator(struct zb_csv *c)
{
    if (c->row_started)
        fputc(',', c->f);
    c->row_started = true;
}

void zb_csv_str(struct zb_csv *c, const char *s)
{
    separator(c);
    if (!s)
        return;
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, c->f);
        return;
    }
    fputc('"', c->f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', c->f);
        fputc(*s, c->f);
    }
    fputc('"', c->f);
}

void zb_csv_u64(struct zb_csv *c, uint64_t v)
{
    separator(c);
    fprintf(c->f, "%" PRIu64, v);
}

void zb_csv_f64(struct zb_csv *c, double v)
{
    separator(c);
    fprintf(c->f, "%.15g", v);
}

void zb_csv_end_row(struct zb_csv *c)
{
    fputc('\n', c->f);
    c->row_started = false;
}

int zb_csv_finish(struct zb_csv *c)
{
    if (fflush(c->f) || ferror(c->f))
        return -EIO;
    return 0;
}
