/*
 * What the client and server emitters of `zepto zoid gen` spell the same way: declarations,
 * the scalar encoders and decoders (one spelling per base type, through
 * include/zepto/zoid_codec.h; sizes are always sizeof of the C type, so that the compiler of the
 * generated code, not this generator, decides them), size expressions and the file banner.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "zoid/gen/emit_int.h"

/* sizeof of the pointee or value; 1 for the bytes of a void array. */
void zg_elem_size(char *buf, size_t len, const struct zg_type *t)
{
    if (t->base == ZG_VOID)
        snprintf(buf, len, "1");
    else
        snprintf(buf, len, "sizeof(%s)", t->name);
}

/* "const char *key", "double *restrict y", "size_t n". */
void zg_param_decl(FILE *f, const struct zg_param *a)
{
    fprintf(f, "%s%s %s%s%s", a->type.is_const ? "const " : "", a->type.name,
            a->type.pointer ? "*" : "", a->type.restrict_ptr ? "restrict " : "", a->name);
}

void zg_prototype(FILE *f, const struct zg_func *fn, const char *prefix)
{
    fprintf(f, "%s %s%s(", fn->ret.name, prefix, fn->name);
    for (int i = 0; i < fn->nparams; i++) {
        if (i)
            fputs(", ", f);
        zg_param_decl(f, &fn->params[i]);
    }
    fputs(fn->nparams ? ")" : "void)", f);
}

bool zg_is_void(const struct zg_type *t)
{
    return t->base == ZG_VOID && !t->pointer;
}

/* ---- scalar encoders, one spelling per base type ------------------------------------------ */

/* Appends the scalar expression e of type t to writer zg_w. */
void zg_put_scalar(FILE *f, const char *ind, const struct zg_type *t, const char *e)
{
    switch (t->base) {
    case ZG_SIGNED:
        fprintf(f, "%szoid_put_int(&zg_w, (int64_t)(%s), sizeof(%s));\n", ind, e, t->name);
        break;
    case ZG_UNSIGNED:
        fprintf(f, "%szoid_put_uint(&zg_w, (uint64_t)(%s), sizeof(%s));\n", ind, e, t->name);
        break;
    case ZG_CHAR: fprintf(f, "%szoid_put_char(&zg_w, %s);\n", ind, e); break;
    case ZG_BOOL: fprintf(f, "%szoid_put_bool(&zg_w, %s);\n", ind, e); break;
    case ZG_FLOAT: fprintf(f, "%szoid_put_f32(&zg_w, %s);\n", ind, e); break;
    case ZG_DOUBLE: fprintf(f, "%szoid_put_f64(&zg_w, %s);\n", ind, e); break;
    default: break;
    }
}

/* lvalue = the next scalar of type t from reader zg_r (bools other than 0 and 1 fail it). */
void zg_get_scalar(FILE *f, const char *ind, const struct zg_type *t, const char *lv)
{
    switch (t->base) {
    case ZG_SIGNED:
        fprintf(f, "%s%s = (%s)zoid_get_int(&zg_r, sizeof(%s));\n", ind, lv, t->name, t->name);
        break;
    case ZG_UNSIGNED:
        fprintf(f, "%s%s = (%s)zoid_get_uint(&zg_r, sizeof(%s));\n", ind, lv, t->name, t->name);
        break;
    case ZG_CHAR: fprintf(f, "%s%s = zoid_get_char(&zg_r);\n", ind, lv); break;
    case ZG_BOOL: fprintf(f, "%s%s = zoid_get_bool(&zg_r);\n", ind, lv); break;
    case ZG_FLOAT: fprintf(f, "%s%s = zoid_get_f32(&zg_r);\n", ind, lv); break;
    case ZG_DOUBLE: fprintf(f, "%s%s = zoid_get_f64(&zg_r);\n", ind, lv); break;
    default: break;
    }
}

/* Stores scalar expression e of type t at address p. */
void zg_store_scalar(FILE *f, const char *ind, const struct zg_type *t, const char *p,
                     const char *e)
{
    switch (t->base) {
    case ZG_SIGNED:
        fprintf(f, "%szoid_store_int(%s, (int64_t)(%s), sizeof(%s));\n", ind, p, e, t->name);
        break;
    case ZG_UNSIGNED:
        fprintf(f, "%szoid_store_uint(%s, (uint64_t)(%s), sizeof(%s));\n", ind, p, e, t->name);
        break;
    case ZG_CHAR: fprintf(f, "%szoid_store_uint(%s, (unsigned char)(%s), 1);\n", ind, p, e); break;
    case ZG_BOOL: fprintf(f, "%szoid_store_uint(%s, (%s) ? 1 : 0, 1);\n", ind, p, e); break;
    case ZG_FLOAT: fprintf(f, "%szoid_store_f32(%s, %s);\n", ind, p, e); break;
    case ZG_DOUBLE: fprintf(f, "%szoid_store_f64(%s, %s);\n", ind, p, e); break;
    default: break;
    }
}

/* The scalar of type t at address p, as an expression. */
void zg_load_scalar(FILE *f, const struct zg_type *t, const char *p)
{
    switch (t->base) {
    case ZG_SIGNED: fprintf(f, "(%s)zoid_load_int(%s, sizeof(%s))", t->name, p, t->name); break;
    case ZG_UNSIGNED: fprintf(f, "(%s)zoid_load_uint(%s, sizeof(%s))", t->name, p, t->name); break;
    case ZG_CHAR: fprintf(f, "zoid_load_char(%s)", p); break;
    case ZG_BOOL: fprintf(f, "zoid_load_uint(%s, 1) != 0", p); break;
    case ZG_FLOAT: fprintf(f, "zoid_load_f32(%s)", p); break;
    case ZG_DOUBLE: fprintf(f, "zoid_load_f64(%s)", p); break;
    default: break;
    }
}

/* Appends " + term" (or sets term) to an expression of sizes. */
void zg_add_term(char *expr, size_t len, const char *term)
{
    size_t n = strlen(expr);
    if (n == 0 || !strcmp(expr, "0"))
        snprintf(expr, len, "%s", term);
    else
        snprintf(expr + n, len - n, " + %s", term);
}

/* The element count of array a into zg_n_NAME, as a condition that is false on a bad count:
 * `count(len0)` or `count(rows) && count(cols) && rows*cols fits`. */
void zg_count_cond(FILE *f, const struct zg_func *fn, const struct zg_param *a)
{
    int nlen = a->kind == ZG_ARRAY2D ? 2 : 1;
    for (int k = 0; k < nlen; k++) {
        const struct zg_param *l = &fn->params[a->len[k]];
        bool sgn = l->type.base == ZG_SIGNED;
        fprintf(f, "%szoid_count_%s((%s)%s, &zg_%c_%s)", k ? " && " : "", sgn ? "i" : "u",
                sgn ? "int64_t" : "uint64_t", l->name, k ? 'k' : 'n', a->name);
    }
    if (nlen == 2)
        fprintf(f, " && zoid_mul(zg_n_%s, zg_k_%s, &zg_n_%s)", a->name, a->name, a->name);
}

const char *zg_prefix(const struct zg_names *n)
{
    return n->prefix ? n->prefix : "";
}

void zg_upper(char *dst, size_t len, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        dst[i] = (char)toupper((unsigned char)s[i]);
    dst[i] = 0;
}

void zg_banner(FILE *f, const struct zg_names *n, const char *what)
{
    fprintf(f,
            "/*\n * %s for %s, written by `zepto zoid gen` from %s: do not edit.\n"
            " * Layout: docs/FORMATS.md, \"Arguments of generated stubs\".\n */\n",
            what, n->base, n->header);
}
