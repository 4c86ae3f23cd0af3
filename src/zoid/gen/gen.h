/*
 * The ZOID stub generator (private): what `zepto zoid gen` reads from an annotated C header and
 * what it writes from it. The reader (gen_lex.c, gen_type.c, gen_annot.c, gen_parse.c) turns
 * the header into a zg_plugin (every prototype, its types and its annotations, checked, and the
 * wire layout of each function, gen_layout.c); the emitters (emit_client.c, emit_server.c,
 * emit_common.c) write the client stubs, the server dispatch and their headers, and gen_write.c
 * the files. The annotation language is in docs/FORMATS.md ("ZOID annotations").
 */
#ifndef ZEPTO_ZOID_GEN_H
#define ZEPTO_ZOID_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "zepto/zepto.h"
#include "zepto/zoid_gen.h" /* ZG_NAME_MAX, zg_names, zg_parse_file, zg_write, zg_is_ident */

/* What a type is made of; the C spelling is in zg_type.name. */
enum zg_base {
    ZG_VOID,
    ZG_BOOL,
    ZG_CHAR,     /* plain char: its own byte, whatever its signedness */
    ZG_SIGNED,   /* signed integers: signed char ... long long, int8..64_t, ssize_t */
    ZG_UNSIGNED, /* unsigned integers: unsigned char ... size_t, uint8..64_t */
    ZG_FLOAT,
    ZG_DOUBLE,
    ZG_STRUCT, /* struct NAME */
};

struct zg_type {
    enum zg_base base;
    char name[ZG_NAME_MAX]; /* "unsigned long", "uint32_t", "struct stats", "void" */
    bool is_const;          /* of the pointee (or of the value) */
    bool pointer;           /* one level of pointer */
    bool restrict_ptr;      /* T *restrict p */
};

enum zg_dir { ZG_IN = 1, ZG_OUT = 2, ZG_INOUT = 3 };

enum zg_kind {
    ZG_VALUE,   /* a scalar passed by value */
    ZG_STRING,  /* const char *, NUL-terminated */
    ZG_ARRAY,   /* count elements, the count in another parameter */
    ZG_ARRAY2D, /* rows x cols elements */
    ZG_OBJ,     /* one object (scalar or struct) through a pointer */
};

struct zg_param {
    char name[ZG_NAME_MAX];
    struct zg_type type;
    enum zg_kind kind;
    enum zg_dir dir;
    bool nullable;
    bool zerocopy;
    bool filled; /* out bytes: the function's return value counts those it wrote */
    int len[2];  /* ARRAY: the count parameter's index in len[0]; ARRAY2D: rows, cols */
    int line;
};

struct zg_layout; /* gen_layout.h */

struct zg_func {
    char name[ZG_NAME_MAX];
    struct zg_type ret;
    struct zg_param *params;
    int nparams;
    int line;
    struct zg_layout *layout; /* how the request and reply are laid out (after zg_parse) */
};

struct zg_plugin {
    unsigned id;            /* 1..65535 */
    char name[ZG_NAME_MAX]; /* for the daemon's logs */
    char init[ZG_NAME_MAX]; /* hooks; "" when not given */
    char fini[ZG_NAME_MAX];
    char gone[ZG_NAME_MAX];
    bool hook_declared[3]; /* init, fini, gone: declared in the header */
    struct zg_func *funcs; /* the remote functions, in header order (= function ids) */
    int nfuncs;
};

/* Parses an annotated header held in text[0..len) (`path` names it in messages, which read
 * "PATH:LINE: what is wrong"). 0, or -EINVAL with the first error in err. */
int zg_parse(const char *path, const char *text, size_t len, struct zg_plugin **out,
             struct zepto_err *err);

/* The four generated files, written to streams (errors are the streams'). */
void zg_emit_client_h(const struct zg_plugin *p, const struct zg_names *n, FILE *f);
void zg_emit_client_c(const struct zg_plugin *p, const struct zg_names *n, FILE *f);
void zg_emit_server_h(const struct zg_plugin *p, const struct zg_names *n, FILE *f);
void zg_emit_server_c(const struct zg_plugin *p, const struct zg_names *n, FILE *f);

#endif
