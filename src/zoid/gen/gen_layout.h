/*
 * The wire layout of one generated function (docs/FORMATS.md, "Arguments of generated stubs"):
 * which parameters go, in which order, into each part of the request and of the reply. Built
 * once per function by gen_layout.c; the client emitter (emit_client.c) and the server emitter
 * (emit_server.c) both walk this table, so the two sides cannot disagree on the order.
 *
 * Request: the fixed part (values, and objects that cannot be absent, in parameter order), one
 * bool per nullable parameter (present or not), one u32 length per string, then the variable
 * part (strings, copied in arrays, nullable in objects) and last the zero-copy arrays.
 * Reply: the return value (unless void) and a 4-byte errno, the out objects (a nullable one only
 * when present), then the out arrays.
 */
#ifndef ZEPTO_ZOID_GEN_LAYOUT_H
#define ZEPTO_ZOID_GEN_LAYOUT_H

#include <stdbool.h>

#include "zoid/gen/gen.h"

/* One part of the layout: parameter indices, in wire order. */
struct zg_part {
    int n;
    int *at; /* into zg_func.params */
};

enum zg_part_id {
    ZG_REQ_FIXED,    /* values, and non-nullable in/inout objects */
    ZG_REQ_FLAGS,    /* nullable parameters: a bool each */
    ZG_REQ_STRLENS,  /* strings: a u32 length each (the NUL included; 0 when absent) */
    ZG_REQ_VARIABLE, /* strings, in/inout arrays that are not zero-copy, nullable in objects */
    ZG_REQ_ZEROCOPY, /* in/inout zero-copy arrays */
    ZG_REP_OBJS,     /* out/inout objects */
    ZG_REP_ARRAYS,   /* out/inout arrays */
    ZG_NPARTS,
};

struct zg_layout {
    struct zg_part part[ZG_NPARTS];
    bool has_ret; /* the reply starts with the return value */
};

/* Builds fn->layout. 0 or -ENOMEM. */
int zg_layout_build(struct zg_func *fn);
void zg_layout_free(struct zg_func *fn);

/* How a parameter travels (the rules the table is built from). */
static inline bool zg_is_array(const struct zg_param *a)
{
    return a->kind == ZG_ARRAY || a->kind == ZG_ARRAY2D;
}

static inline bool zg_sends(const struct zg_param *a)
{
    return a->dir == ZG_IN || a->dir == ZG_INOUT;
}

static inline bool zg_returns(const struct zg_param *a)
{
    return a->dir == ZG_OUT || a->dir == ZG_INOUT;
}

/* The parameter of part `id` at position i. */
static inline const struct zg_param *zg_at(const struct zg_func *fn, enum zg_part_id id, int i)
{
    return &fn->params[fn->layout->part[id].at[i]];
}

#define ZG_FOR_PART(fn, id, i) for (int i = 0; i < (fn)->layout->part[id].n; i++)

#endif
