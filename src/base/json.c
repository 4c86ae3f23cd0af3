/*
 * The JSON writer. Numbers are printed with the fewest digits that read back to the same double
 * (%.15g, else %.17g), so that `0.1` stays `0.1` and nothing is lost.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

void zb_json_init(struct zb_json *j, FILE *f, bool pretty)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
    j->pretty = pretty;
}

static void fail(struct zb_json *j, int code)
{
    if (!j->error)
        j->error = code;
}

static void indent(struct zb_json *j)
{
    if (!j->pretty)
        return;
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
        fputs("  ", j->f);
}

/* Separators before a value: a comma between elements, nothing after a key. */
static void before_value(struct zb_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth > 0) {
        if (j->in_object[j->depth - 1])
            fail(j, -EINVAL); /* a value inside an object needs a key first */
        if (j->has_items[j->depth - 1])
            fputc(',', j->f);
        j->has_items[j->depth - 1] = true;
        indent(j);
    }
}

static void open_level(struct zb_json *j, char c, bool object)
{
    before_value(j);
    fputc(c, j->f);
    if (j->depth == ZB_JSON_MAX_DEPTH) {
        fail(j, -E2BIG);
        return;
    }
    j->has_items[j->depth] = false;
    j->in_object[j->depth] = object;
    j->depth++;
}

static void close_level(struct zb_json *j, char c, bool object)
{
    if (j->depth == 0 || j->in_object[j->depth - 1] != object || j->after_key) {
        fail(j, -EINVAL);
        return;
    }
    j->depth--;
    if (j->has_items[j->depth])
        indent(j);
    fputc(c, j->f);
}

void zb_json_obj_begin(struct zb_json *j)
{
    open_level(j, '{', true);
}

void zb_json_obj_end(struct zb_json *j)
{
    close_level(j, '}', true);
}

void zb_json_arr_begin(struct zb_json *j)
{
    open_level(j, '[', false);
}

void zb_json_arr_end(struct zb_json *j)
{
    close_level(j, ']', false);
}

void zb_json_key(struct zb_json *j, const char *key)
{
    if (j->depth == 0 || !j->in_object[j->depth - 1] || j->after_key) {
        fail(j, -EINVAL);
        return;
    }
    if (j->has_items[j->depth - 1])
        fputc(',', j->f);
    j->has_items[j->depth - 1] = true;
    indent(j);
    fputc('"', j->f);
    zb_json_escape(j->f, key, strlen(key));
    fputs(j->pretty ? "\": " : "\":", j->f);
    j->after_key = true;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not valid. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000;
    else
        return 0;
    if (left < n)
        return 0;
    unsigned cp = c & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void zb_json_escape(FILE *f, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
        } else if (c < 0x20) {
            switch (c) {
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            case '\t': fputs("\\t", f); break;
            case '\b': fputs("\\b", f); break;
            case '\f': fputs("\\f", f); break;
            default: fprintf(f, "\\u%04x", c); break;
            }
        } else if (c >= 0x80) {
            size_t n = utf8_len(s + i, len - i);
            if (!n) {
                fputs("\\ufffd", f);
                i++;
                continue;
            }
            fwrite(s + i, 1, n, f);
            i += n;
            continue;
        } else {
            fputc((int)c, f);
        }
        i++;
    }
}

void zb_json_strn(struct zb_json *j, const char *s, size_t len)
{
    before_value(j);
    fputc('"', j->f);
    zb_json_escape(j->f, s, len);
    fputc('"', j->f);
}

void zb_json_str(struct zb_json *j, const char *s)
{
    if (!s) {
        zb_json_null(j);
        return;
    }
    zb_json_strn(j, s, strlen(s));
}

void zb_json_u64(struct zb_json *j, uint64_t v)
{
    before_value(j);
    fprintf(j->f, "%" PRIu64, v);
}

void zb_json_i64(struct zb_json *j, int64_t v)
{
    before_value(j);
    fprintf(j->f, "%" PRId64, v);
}

void zb_json_f64(struct zb_json *j, double v)
{
    if (!isfinite(v)) {
        zb_json_null(j);
        return;
    }
    before_value(j);
    char buf[40];
    snprintf(buf, sizeof(buf), "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof(buf), "%.17g", v);
    fputs(buf, j->f);
}

void zb_json_bool(struct zb_json *j, bool v)
{
    before_value(j);
    fputs(v ? "true" : "false", j->f);
}

void zb_json_null(struct zb_json *j)
{
    before_value(j);
    fputs("null", j->f);
}

void zb_json_kv_str(struct zb_json *j, const char *key, const char *v)
{
    zb_json_key(j, key);
    zb_json_str(j, v);
}

void zb_json_kv_u64(struct zb_json *j, const char *key, uint64_t v)
{
    zb_json_key(j, key);
    zb_json_u64(j, v);
}

void zb_json_kv_i64(struct zb_json *j, const char *key, int64_t v)
{
    zb_json_key(j, key);
    zb_json_i64(j, v);
}

void zb_json_kv_f64(struct zb_json *j, const char *key, double v)
{
    zb_json_key(j, key);
    zb_json_f64(j, v);
}

void zb_json_kv_bool(struct zb_json *j, const char *key, bool v)
{
    zb_json_key(j, key);
    zb_json_bool(j, v);
}

int zb_json_finish(struct zb_json *j)
{
    if (j->depth != 0 || j->after_key)
        fail(j, -EINVAL);
    fputc('\n', j->f);
    if (ferror(j->f))
        fail(j, -EIO);
    return j->error;
}
