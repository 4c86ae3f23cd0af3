/*
 * A streaming JSON writer: nesting and commas are tracked for the caller, strings are escaped
 * (invalid UTF-8 becomes U+FFFD, so the output is always valid JSON), non-finite numbers become
 * null. Errors (a failed write, unbalanced nesting) are sticky and reported by zb_json_finish().
 */
#ifndef ZEPTO_BASE_JSON_H
#define ZEPTO_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZB_JSON_MAX_DEPTH 32

struct zb_json {
    FILE *f;
    bool pretty;                       /* newlines and two-space indents */
    int depth;                         /* open objects and arrays */
    bool has_items[ZB_JSON_MAX_DEPTH]; /* this level already holds an element */
    bool in_object[ZB_JSON_MAX_DEPTH]; /* the level is an object (keys expected) */
    bool after_key;                    /* a key was written; its value comes next */
    int error;                         /* first error, as a negative errno */
};

void zb_json_init(struct zb_json *j, FILE *f, bool pretty);
void zb_json_obj_begin(struct zb_json *j);
void zb_json_obj_end(struct zb_json *j);
void zb_json_arr_begin(struct zb_json *j);
void zb_json_arr_end(struct zb_json *j);
void zb_json_key(struct zb_json *j, const char *key);
void zb_json_str(struct zb_json *j, const char *s);
void zb_json_strn(struct zb_json *j, const char *s, size_t len);
void zb_json_u64(struct zb_json *j, uint64_t v);
void zb_json_i64(struct zb_json *j, int64_t v);
void zb_json_f64(struct zb_json *j, double v);
void zb_json_bool(struct zb_json *j, bool v);
void zb_json_null(struct zb_json *j);

/* key + value in one call. */
void zb_json_kv_str(struct zb_json *j, const char *key, const char *v);
void zb_json_kv_u64(struct zb_json *j, const char *key, uint64_t v);
void zb_json_kv_i64(struct zb_json *j, const char *key, int64_t v);
void zb_json_kv_f64(struct zb_json *j, const char *key, double v);
void zb_json_kv_bool(struct zb_json *j, const char *key, bool v);

/* Ends the document (newline after the top-level value); 0, or the first error. */
int zb_json_finish(struct zb_json *j);

/* Writes s as the body of a JSON string (no quotes) into f; used by the writer and by tests. */
void zb_json_escape(FILE *f, const char *s, size_t len);

#endif
