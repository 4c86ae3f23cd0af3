/*
 * Private to the emitters of the ZOID stub generator (emit_common.c, emit_client.c,
 * emit_server.c): the pieces of generated C both sides spell the same way. The order in which
 * parameters travel is not here but in the wire-layout table (gen_layout.h).
 */
#ifndef ZEPTO_ZOID_GEN_EMIT_INT_H
#define ZEPTO_ZOID_GEN_EMIT_INT_H

#include <stdbool.h>
#include <stdio.h>

#include "zoid/gen/gen.h"
#include "zoid/gen/gen_layout.h"

/* sizeof of the pointee or value; 1 for the bytes of a void array. */
void zg_elem_size(char *buf, size_t len, const struct zg_type *t);
/* "const char *key", "double *restrict y", "size_t n". */
void zg_param_decl(FILE *f, const struct zg_param *a);
/* The function's prototype (no ';'). */
void zg_prototype(FILE *f, const struct zg_func *fn, const char *prefix);
bool zg_is_void(const struct zg_type *t);

/* Appends the scalar expression e of type t to writer zg_w. */
void zg_put_scalar(FILE *f, const char *ind, const struct zg_type *t, const char *e);
/* lvalue = the next scalar of type t from reader zg_r. */
void zg_get_scalar(FILE *f, const char *ind, const struct zg_type *t, const char *lv);
/* Stores scalar expression e of type t at address p. */
void zg_store_scalar(FILE *f, const char *ind, const struct zg_type *t, const char *p,
                     const char *e);
/* The scalar of type t at address p, as an expression. */
void zg_load_scalar(FILE *f, const struct zg_type *t, const char *p);

/* Appends " + term" (or sets term) to an expression of sizes. */
void zg_add_term(char *expr, size_t len, const char *term);
/* The element count of array a into zg_n_NAME, as a condition false on a bad count. */
void zg_count_cond(FILE *f, const struct zg_func *fn, const struct zg_param *a);
/* n->prefix, or "" without one. */
const char *zg_prefix(const struct zg_names *n);
void zg_upper(char *dst, size_t len, const char *s);
/* The "written by zepto zoid gen: do not edit" comment at the top of a generated file. */
void zg_banner(FILE *f, const struct zg_names *n, const char *what);

#endif
