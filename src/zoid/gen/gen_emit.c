/*
 * The writer of `zepto zoid gen`: from a parsed header, the client stubs (BASE_client.c/.h), with
 * the header's own prototypes, and the daemon's dispatch functions and plugin description
 * (BASE_server.c/.h). Both sides follow docs/FORMATS.md ("Arguments of generated stubs"); the
 * order in which this file visits the parameters is that layout, so client and server emitters
 * walk them through the same helpers.
 *
 * The generated code leans on include/zepto/zoid_codec.h for every byte it reads or writes; what
 * is written here is the order, the sizes (always sizeof of the C type, so that the compiler of
 * the generated code, not this generator, decides them) and the checks.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zoid/gen/gen.h"

/* ---- how parameters travel ---------------------------------------------------------------- */

static bool is_array(const struct zg_param *a)
{
    return a->kind == ZG_ARRAY || a->kind == ZG_ARRAY2D;
}

static bool sends(const struct zg_param *a)
{
    return a->dir == ZG_IN || a->dir == ZG_INOUT;
}

static bool returns(const struct zg_param *a)
{
    return a->dir == ZG_OUT || a->dir == ZG_INOUT;
}

/* In the fixed part of the request: values, and objects that cannot be absent. */
static bool in_fixed(const struct zg_param *a)
{
    return a->kind == ZG_VALUE || (a->kind == ZG_OBJ && sends(a) && !a->nullable);
}

/* In the variable part of the request, before the zero-copy arrays. */
static bool in_variable(const struct zg_param *a)
{
    return a->kind == ZG_STRING || (is_array(a) && sends(a) && !a->zerocopy) ||
           (a->kind == ZG_OBJ && sends(a) && a->nullable);
}

static bool in_zerocopy(const struct zg_param *a)
{
    return is_array(a) && sends(a) && a->zerocopy;
}

/* sizeof of the pointee or value; 1 for the bytes of a void array. */
static void elem_size(char *buf, size_t len, const struct zg_type *t)
{
    if (t->base == ZG_VOID)
        snprintf(buf, len, "1");
    else
        snprintf(buf, len, "sizeof(%s)", t->name);
}

/* "const char *key", "double *restrict y", "size_t n". */
static void param_decl(FILE *f, const struct zg_param *a)
{
    fprintf(f, "%s%s %s%s%s", a->type.is_const ? "const " : "", a->type.name,
            a->type.pointer ? "*" : "", a->type.restrict_ptr ? "restrict " : "", a->name);
}

static void prototype(FILE *f, const struct zg_func *fn)
{
    fprintf(f, "%s %s(", fn->ret.name, fn->name);
    for (int i = 0; i < fn->nparams; i++) {
        if (i)
            fputs(", ", f);
        param_decl(f, &fn->params[i]);
    }
    fputs(fn->nparams ? ")" : "void)", f);
}

static bool is_void(const struct zg_type *t)
{
    return t->base == ZG_VOID && !t->pointer;
}

/* Server side: whether an array may need a copy of its own (it cannot always be used where it
 * lies: a non-const in array must not be written in the request, and elements other than bytes
 * may lie misaligned). */
static bool may_copy(const struct zg_param *a)
{
    bool in_place_ok = returns(a) || a->type.is_const;
    return !(in_place_ok && a->type.base == ZG_VOID);
}

/* ---- scalar encoders, one spelling per base type ------------------------------------------ */

/* Appends the scalar expression e of type t to writer zg_w. */
static void put_scalar(FILE *f, const char *ind, const struct zg_type *t, const char *e)
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
static void get_scalar(FILE *f, const char *ind, const struct zg_type *t, const char *lv)
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
static void store_scalar(FILE *f, const char *ind, const struct zg_type *t, const char *p,
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
static void load_scalar(FILE *f, const struct zg_type *t, const char *p)
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
static void add_term(char *expr, size_t len, const char *term)
{
    size_t n = strlen(expr);
    if (n == 0 || !strcmp(expr, "0"))
        snprintf(expr, len, "%s", term);
    else
        snprintf(expr + n, len - n, " + %s", term);
}

/* The element count of array a into zg_n_NAME, as a condition that is false on a bad count:
 * `count(len0)` or `count(rows) && count(cols) && rows*cols fits`. */
static void count_cond(FILE *f, const struct zg_func *fn, const struct zg_param *a)
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

static void upper(char *dst, size_t len, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        dst[i] = (char)toupper((unsigned char)s[i]);
    dst[i] = 0;
}

static void banner(FILE *f, const struct zg_names *n, const char *what)
{
    fprintf(f,
            "/*\n * %s for %s, written by `zepto zoid gen` from %s: do not edit.\n"
            " * Layout: docs/FORMATS.md, \"Arguments of generated stubs\".\n */\n",
            what, n->base, n->header);
}

/* ---- client ------------------------------------------------------------------------------- */

void zg_emit_client_h(const struct zg_plugin *p, const struct zg_names *n, FILE *f)
{
    char up[ZG_NAME_MAX + 8], fup[ZG_NAME_MAX + 8];
    upper(up, sizeof(up), n->base);
    banner(f, n, "Client side of the ZOID plugin");
    fprintf(f, "#ifndef %s_CLIENT_H_ZOID\n#define %s_CLIENT_H_ZOID\n\n", up, up);
    fprintf(f, "#include \"zepto/zoid.h\"\n\n");
    fprintf(f, "/* The plugin \"%s\" and its function ids. */\n", p->name);
    fprintf(f, "#define %s_ZOID_PLUGIN_ID %u\n", up, p->id);
    fprintf(f, "enum %s_zoid_function {\n", n->base);
    for (int i = 0; i < p->nfuncs; i++) {
        upper(fup, sizeof(fup), p->funcs[i].name);
        fprintf(f, "    %s_ZOID_FN_%s = %d,\n", up, fup, i);
    }
    fprintf(f, "};\n\n");
    fprintf(f,
            "/* The connection the stubs of %s use (NULL: none yet). Without it, the first call\n"
            " * connects to $ZOID_SERVER (once, whichever thread gets there first). Returns 0. */\n"
            "int %s_zoid_use(struct zoid_client *c);\n\n",
            n->header, n->base);
    fprintf(f, "#endif\n");
}

/* The return statement of a stub whose call failed (errno set). */
static const char *fail_return(const struct zg_type *t, char *buf, size_t len)
{
    if (is_void(t))
        return "return;";
    if (t->base == ZG_FLOAT || t->base == ZG_DOUBLE)
        return "return NAN;";
    if (t->base == ZG_BOOL)
        return "return false;";
    snprintf(buf, len, "return (%s)-1;", t->name);
    return buf;
}

static void emit_client_stub(const struct zg_func *fn, int id, const struct zg_names *n,
                             const char *up, FILE *f)
{
    char fr[ZG_NAME_MAX + 16], esz[ZG_NAME_MAX + 16], fix[4096] = "0", rfix[4096] = "",
                                                      expr[ZG_NAME_MAX + 64];
    const char *fail = fail_return(&fn->ret, fr, sizeof(fr));
    int nreq = 1, nrep = 1, nflags = 0, nstrings = 0;
    fputc('\n', f);
    prototype(f, fn);
    fputs("\n{\n", f);

    /* Counts, sizes and pointers first: nothing is sent with a bad argument. */
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        elem_size(esz, sizeof(esz), &a->type);
        if (is_array(a)) {
            fprintf(f, "    size_t zg_n_%s = 0, zg_b_%s = 0;\n", a->name, a->name);
            if (a->kind == ZG_ARRAY2D)
                fprintf(f, "    size_t zg_k_%s = 0;\n", a->name);
            const char *ind = a->nullable ? "        " : "    ";
            if (a->nullable)
                fprintf(f, "    if (%s) {\n", a->name);
            fprintf(f, "%sif (!(", ind);
            count_cond(f, fn, a);
            fprintf(f, ")) {\n%s    errno = EINVAL;\n%s    %s\n%s}\n", ind, ind, fail, ind);
            fprintf(f, "%sif (!zoid_mul(zg_n_%s, %s, &zg_b_%s)) {\n", ind, a->name, esz, a->name);
            fprintf(f, "%s    errno = EOVERFLOW;\n%s    %s\n%s}\n", ind, ind, fail, ind);
            if (a->nullable)
                fprintf(f, "    }\n");
            else
                fprintf(f,
                        "    if (!%s && zg_b_%s) {\n        errno = EFAULT;\n        %s\n    }\n",
                        a->name, a->name, fail);
        } else if (a->kind == ZG_STRING) {
            if (!a->nullable)
                fprintf(f, "    if (!%s) {\n        errno = EFAULT;\n        %s\n    }\n", a->name,
                        fail);
            fprintf(f, "    size_t zg_s_%s = %s ? strlen(%s) + 1 : 0;\n", a->name, a->name,
                    a->name);
            fprintf(f,
                    "    if (zg_s_%s > UINT32_MAX) {\n        errno = EMSGSIZE;\n        %s\n"
                    "    }\n",
                    a->name, fail);
        } else if (a->kind == ZG_OBJ && !a->nullable) {
            fprintf(f, "    if (!%s) {\n        errno = EFAULT;\n        %s\n    }\n", a->name,
                    fail);
        }
        if (in_fixed(a))
            add_term(fix, sizeof(fix), esz);
        nflags += a->nullable;
        nstrings += a->kind == ZG_STRING;
        nreq += in_variable(a) || in_zerocopy(a);
        nrep += returns(a);
    }
    if (nflags) {
        snprintf(expr, sizeof(expr), "%d", nflags);
        add_term(fix, sizeof(fix), expr);
    }
    if (nstrings) {
        snprintf(expr, sizeof(expr), "%d", 4 * nstrings);
        add_term(fix, sizeof(fix), expr);
    }
    /* errno as the caller left it: what a successful call leaves, whatever the transport did
     * to it on the way. */
    fprintf(f, "    int zg_errno = errno;\n");
    fprintf(f, "    struct zoid_client *zg_c = %s__zoid_client();\n", n->base);
    fprintf(f, "    if (!zg_c)\n        %s\n\n", fail);

    /* The request: fixed part staged, then the variable part, then the zero-copy arrays. */
    fprintf(f, "    struct iovec zg_req[%d];\n", nreq);
    fprintf(f, "    unsigned char zg_stage[%s + ZOID_CODEC_STAGE];\n", fix);
    fprintf(f, "    struct zoid_iovb zg_q;\n    struct zoid_writer zg_w;\n");
    fprintf(f, "    zoid_iovb_init(&zg_q, zg_req, %d, zg_stage, sizeof(zg_stage));\n", nreq);
    fprintf(f, "    zoid_writer_init(&zg_w, zoid_iovb_take(&zg_q, %s), %s);\n", fix, fix);
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (!in_fixed(a))
            continue;
        if (a->kind == ZG_VALUE) {
            put_scalar(f, "    ", &a->type, a->name);
        } else if (a->type.base == ZG_STRUCT) {
            fprintf(f, "    zoid_put_bytes(&zg_w, %s, sizeof(%s));\n", a->name, a->type.name);
        } else {
            snprintf(expr, sizeof(expr), "*%s", a->name);
            put_scalar(f, "    ", &a->type, expr);
        }
    }
    for (int i = 0; i < fn->nparams; i++)
        if (fn->params[i].nullable)
            fprintf(f, "    zoid_put_bool(&zg_w, %s != NULL);\n", fn->params[i].name);
    for (int i = 0; i < fn->nparams; i++)
        if (fn->params[i].kind == ZG_STRING)
            fprintf(f, "    zoid_put_u32(&zg_w, (uint32_t)zg_s_%s);\n", fn->params[i].name);
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (a->kind == ZG_STRING)
            fprintf(f, "    zoid_iovb_add(&zg_q, %s, zg_s_%s);\n", a->name, a->name);
        else if (in_variable(a) && is_array(a))
            fprintf(f, "    zoid_iovb_add(&zg_q, %s, zg_b_%s);\n", a->name, a->name);
        else if (in_variable(a))
            fprintf(f, "    if (%s)\n        zoid_iovb_add(&zg_q, %s, sizeof(%s));\n", a->name,
                    a->name, a->type.name);
    }
    for (int i = 0; i < fn->nparams; i++)
        if (in_zerocopy(&fn->params[i]))
            fprintf(f, "    zoid_iovb_ref(&zg_q, %s, zg_b_%s);\n", fn->params[i].name,
                    fn->params[i].name);
    fprintf(f,
            "    if (zg_q.failed || zg_w.failed) {\n        errno = EMSGSIZE;\n        %s\n"
            "    }\n\n",
            fail);

    /* The reply: return value and errno, out objects, out arrays, scattered in place. */
    char off[4096] = "0";
    if (!is_void(&fn->ret)) {
        snprintf(expr, sizeof(expr), "sizeof(%s)", fn->ret.name);
        add_term(rfix, sizeof(rfix), expr);
    }
    add_term(rfix, sizeof(rfix), "4");
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (a->kind == ZG_OBJ && returns(a) && a->type.base != ZG_STRUCT) {
            snprintf(expr, sizeof(expr), "sizeof(%s)", a->type.name);
            add_term(rfix, sizeof(rfix), expr);
        }
    }
    fprintf(f, "    unsigned char zg_rfix[%s];\n", rfix);
    fprintf(f, "    struct iovec zg_rep[%d];\n    struct zoid_iovb zg_p;\n", nrep);
    fprintf(f, "    zoid_iovb_init(&zg_p, zg_rep, %d, NULL, 0);\n", nrep);
    char head[ZG_NAME_MAX + 32] = "4";
    if (!is_void(&fn->ret))
        snprintf(head, sizeof(head), "sizeof(%s) + 4", fn->ret.name);
    fprintf(f, "    zoid_iovb_ref(&zg_p, zg_rfix, %s);\n", head);
    snprintf(off, sizeof(off), "%s", head);
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (a->kind != ZG_OBJ || !returns(a))
            continue;
        const char *ind = a->nullable ? "        " : "    ";
        if (a->nullable)
            fprintf(f, "    if (%s)\n", a->name);
        if (a->type.base == ZG_STRUCT) {
            fprintf(f, "%szoid_iovb_ref(&zg_p, %s, sizeof(%s));\n", ind, a->name, a->type.name);
        } else {
            fprintf(f, "%szoid_iovb_ref(&zg_p, zg_rfix + %s, sizeof(%s));\n", ind, off,
                    a->type.name);
            snprintf(expr, sizeof(expr), "sizeof(%s)", a->type.name);
            add_term(off, sizeof(off), expr);
        }
    }
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (is_array(a) && returns(a))
            fprintf(f, "    zoid_iovb_ref(&zg_p, %s, zg_b_%s);\n", a->name, a->name);
    }
    fprintf(f, "    size_t zg_got = 0;\n");
    fprintf(f,
            "    int zg_rc = zoid_call(zg_c, %s_ZOID_PLUGIN_ID, %d, zg_req, zg_q.n, zg_rep, "
            "zg_p.n, &zg_got, 0);\n",
            up, id);
    fprintf(f, "    if (zg_rc == 0 && (zg_p.failed || zg_got != zg_p.total))\n");
    fprintf(f, "        zg_rc = -EPROTO;\n");
    fprintf(f, "    if (zg_rc) {\n        errno = zoid_errno(zg_rc);\n        %s\n    }\n", fail);
    char expr_ret[ZG_NAME_MAX + 8] = "";
    if (!is_void(&fn->ret)) {
        snprintf(expr_ret, sizeof(expr_ret), "(%s)", fn->ret.name);
        fprintf(f, "    %s zg_ret = ", fn->ret.name);
        load_scalar(f, &fn->ret, "zg_rfix");
        fputs(";\n", f);
    }
    /* errno follows the return value; the scalar objects follow errno. */
    fprintf(f, "    int32_t zg_err = (int32_t)zoid_load_int(zg_rfix%s%s, 4);\n",
            is_void(&fn->ret) ? "" : " + sizeof", is_void(&fn->ret) ? "" : expr_ret);
    snprintf(off, sizeof(off), "%s", head);
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (a->kind != ZG_OBJ || !returns(a) || a->type.base == ZG_STRUCT)
            continue;
        char at[4200];
        snprintf(at, sizeof(at), "zg_rfix + %s", off);
        fprintf(f, "    if (%s)\n        *%s = ", a->name, a->name);
        load_scalar(f, &a->type, at);
        fputs(";\n", f);
        snprintf(expr, sizeof(expr), "sizeof(%s)", a->type.name);
        add_term(off, sizeof(off), expr);
    }
    fprintf(f, "    errno = zg_err ? zg_err : zg_errno;\n");
    if (!is_void(&fn->ret))
        fprintf(f, "    return zg_ret;\n");
    fputs("}\n", f);
}

void zg_emit_client_c(const struct zg_plugin *p, const struct zg_names *n, FILE *f)
{
    char up[ZG_NAME_MAX + 8];
    upper(up, sizeof(up), n->base);
    banner(f, n, "Client stubs");
    fprintf(f, "#include <errno.h>\n#include <math.h>\n#include <pthread.h>\n"
               "#include <stdatomic.h>\n#include <stdbool.h>\n#include <stdint.h>\n"
               "#include <string.h>\n\n");
    fprintf(f, "#include \"zepto/zoid.h\"\n#include \"zepto/zoid_codec.h\"\n");
    fprintf(f, "#include \"%s_client.h\"\n#include \"%s\"\n\n", n->base, n->header);
    fprintf(f,
            "/* The connection: set by %s_zoid_use(), or opened by the first call that finds\n"
            " * none (under the lock, so that racing first calls open one). */\n"
            "static _Atomic(struct zoid_client *) %s__zoid_conn;\n"
            "static pthread_mutex_t %s__zoid_mu = PTHREAD_MUTEX_INITIALIZER;\n\n",
            n->base, n->base, n->base);
    fprintf(f,
            "int %s_zoid_use(struct zoid_client *c)\n{\n"
            "    pthread_mutex_lock(&%s__zoid_mu);\n"
            "    atomic_store_explicit(&%s__zoid_conn, c, memory_order_release);\n"
            "    pthread_mutex_unlock(&%s__zoid_mu);\n    return 0;\n}\n\n",
            n->base, n->base, n->base, n->base);
    fprintf(f,
            "/* The connection, or NULL with errno set (connecting failed). */\n"
            "static struct zoid_client *%s__zoid_client(void)\n{\n"
            "    struct zoid_client *c = atomic_load_explicit(&%s__zoid_conn, "
            "memory_order_acquire);\n"
            "    if (c)\n        return c;\n"
            "    pthread_mutex_lock(&%s__zoid_mu);\n"
            "    c = atomic_load_explicit(&%s__zoid_conn, memory_order_acquire);\n"
            "    if (!c) {\n"
            "        struct zepto_err err = {0};\n"
            "        int rc = zoid_connect(NULL, NULL, &c, &err);\n"
            "        if (rc) {\n"
            "            c = NULL;\n"
            "            errno = zoid_errno(rc);\n"
            "        } else {\n"
            "            atomic_store_explicit(&%s__zoid_conn, c, memory_order_release);\n"
            "        }\n"
            "    }\n"
            "    pthread_mutex_unlock(&%s__zoid_mu);\n"
            "    return c;\n}\n",
            n->base, n->base, n->base, n->base, n->base, n->base);
    for (int i = 0; i < p->nfuncs; i++)
        emit_client_stub(&p->funcs[i], i, n, up, f);
}

/* ---- server ------------------------------------------------------------------------------- */

static const char *const hook_sigs[3] = {"int %s(struct zoid_host *host);\n",
                                         "void %s(void *plugin_state);\n",
                                         "void %s(void *plugin_state, void *client_state);\n"};

void zg_emit_server_h(const struct zg_plugin *p, const struct zg_names *n, FILE *f)
{
    char up[ZG_NAME_MAX + 8];
    upper(up, sizeof(up), n->base);
    banner(f, n, "Daemon side of the ZOID plugin");
    fprintf(f, "#ifndef %s_SERVER_H_ZOID\n#define %s_SERVER_H_ZOID\n\n", up, up);
    fprintf(f, "#include \"zepto/zoid_plugin.h\"\n\n");
    fprintf(
        f,
        "/* The call the running function of %s serves (NULL outside one): for\n"
        " * zoid_call_identity(), zoid_call_plugin_state() and zoid_call_client_state() in the\n"
        " * implementation. */\n"
        "struct zoid_call *%s_zoid_current(void);\n\n",
        n->header, n->base);
    const char *hooks[3] = {p->init, p->fini, p->gone};
    bool any = false;
    for (int h = 0; h < 3; h++) {
        if (!hooks[h][0] || p->hook_declared[h])
            continue;
        if (!any)
            fprintf(f, "/* The plugin's hooks (from the zoid: plugin annotation). */\n");
        any = true;
        fprintf(f, hook_sigs[h], hooks[h]);
    }
    if (any)
        fputc('\n', f);
    fprintf(f, "/* What the daemon looks up in the plugin (dlsym). */\n"
               "__attribute__((visibility(\"default\"))) const struct zoid_plugin "
               "*zoid_plugin_register(void);\n\n");
    fprintf(f, "#endif\n");
}

static void emit_dispatch(const struct zg_func *fn, const struct zg_names *n, FILE *f)
{
    char esz[ZG_NAME_MAX + 16], expr[ZG_NAME_MAX + 64];
    bool temps = false;
    fprintf(f,
            "\nstatic int %s__zoid_%s(struct zoid_call *zg_call, const void *zg_payload, "
            "size_t zg_len)\n{\n",
            n->base, fn->name);
    fprintf(f, "    struct zoid_reader zg_r;\n");
    /* Every local first, so that the cleanup below may be reached from anywhere. */
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        const char *nm = a->name, *tn = a->type.name;
        if (a->kind == ZG_VALUE)
            fprintf(f, "    %s %s = 0;\n", tn, nm);
        if (a->nullable)
            fprintf(f, "    bool zg_f_%s = false;\n", nm);
        if (a->kind == ZG_STRING)
            fprintf(f, "    uint32_t zg_s_%s = 0;\n    const char *%s = NULL;\n", nm, nm);
        if (a->kind == ZG_OBJ && a->type.base == ZG_STRUCT)
            fprintf(f, "    %s zg_o_%s;\n    memset(&zg_o_%s, 0, sizeof(zg_o_%s));\n", tn, nm, nm,
                    nm);
        else if (a->kind == ZG_OBJ)
            fprintf(f, "    %s zg_o_%s = 0;\n", tn, nm);
        if (is_array(a)) {
            fprintf(f, "    size_t zg_n_%s = 0, zg_b_%s = 0;\n", nm, nm);
            if (a->kind == ZG_ARRAY2D)
                fprintf(f, "    size_t zg_k_%s = 0;\n", nm);
            if (sends(a))
                fprintf(f, "    const void *zg_p_%s = NULL;\n", nm);
            if (may_copy(a))
                fprintf(f, "    void *zg_t_%s = NULL;\n", nm);
            fprintf(f, "    %s%s *%s = NULL;\n", a->type.is_const ? "const " : "", tn, nm);
            temps |= may_copy(a);
        }
        if (returns(a) && a->kind != ZG_VALUE)
            fprintf(f, "    size_t zg_x_%s = 0;\n", nm);
    }
    if (!is_void(&fn->ret))
        fprintf(f, "    %s zg_ret = 0;\n", fn->ret.name);
    fprintf(f, "    int zg_rc = -EPROTO;\n\n");

    /* Fixed part. */
    fprintf(f, "    zoid_reader_init(&zg_r, zg_payload, zg_len);\n");
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (!in_fixed(a))
            continue;
        if (a->kind == ZG_VALUE) {
            get_scalar(f, "    ", &a->type, a->name);
        } else if (a->type.base == ZG_STRUCT) {
            fprintf(f, "    zoid_get_obj(&zg_r, &zg_o_%s, sizeof(zg_o_%s));\n", a->name, a->name);
        } else {
            snprintf(expr, sizeof(expr), "zg_o_%s", a->name);
            get_scalar(f, "    ", &a->type, expr);
        }
    }
    for (int i = 0; i < fn->nparams; i++)
        if (fn->params[i].nullable)
            fprintf(f, "    zg_f_%s = zoid_get_bool(&zg_r);\n", fn->params[i].name);
    for (int i = 0; i < fn->nparams; i++)
        if (fn->params[i].kind == ZG_STRING)
            fprintf(f, "    zg_s_%s = zoid_get_u32(&zg_r);\n", fn->params[i].name);

    /* Counts, from the lengths just read; a bad one fails the reader. */
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (!is_array(a))
            continue;
        elem_size(esz, sizeof(esz), &a->type);
        fprintf(f, "    if (");
        if (a->nullable)
            fprintf(f, "zg_f_%s && ", a->name);
        fprintf(f, "!(");
        count_cond(f, fn, a);
        fprintf(f, " && zoid_mul(zg_n_%s, %s, &zg_b_%s)))\n", a->name, esz, a->name);
        fprintf(f, "        zoid_reader_fail(&zg_r);\n");
    }

    /* Variable part, then the zero-copy arrays. */
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        const char *nm = a->name;
        if (a->kind == ZG_STRING && a->nullable) {
            fprintf(f, "    if (zg_f_%s)\n        %s = zoid_get_string(&zg_r, zg_s_%s);\n", nm, nm,
                    nm);
            fprintf(f, "    else if (zg_s_%s)\n        zoid_reader_fail(&zg_r);\n", nm);
        } else if (a->kind == ZG_STRING) {
            fprintf(f, "    %s = zoid_get_string(&zg_r, zg_s_%s);\n", nm, nm);
        } else if (in_variable(a) && is_array(a)) {
            if (a->nullable)
                fprintf(f, "    if (zg_f_%s)\n    ", nm);
            fprintf(f, "    zg_p_%s = zoid_get_bytes(&zg_r, zg_b_%s);\n", nm, nm);
        } else if (in_variable(a) && a->type.base == ZG_STRUCT) {
            fprintf(f, "    if (zg_f_%s)\n", nm);
            fprintf(f, "        zoid_get_obj(&zg_r, &zg_o_%s, sizeof(zg_o_%s));\n", nm, nm);
        } else if (in_variable(a)) {
            fprintf(f, "    if (zg_f_%s)\n", nm);
            snprintf(expr, sizeof(expr), "zg_o_%s", nm);
            get_scalar(f, "        ", &a->type, expr);
        }
    }
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (!in_zerocopy(a))
            continue;
        if (a->nullable)
            fprintf(f, "    if (zg_f_%s)\n    ", a->name);
        fprintf(f, "    zg_p_%s = zoid_get_bytes(&zg_r, zg_b_%s);\n", a->name, a->name);
    }
    fprintf(f, "    if (!zoid_reader_done(&zg_r))\n        return -EPROTO;\n\n");

    /* The reply, reserved at once (pointers into it stay valid) and zeroed (nothing of the
     * daemon's memory goes out in what the function leaves unwritten). */
    char head[ZG_NAME_MAX + 32] = "4", errno_at[ZG_NAME_MAX + 32] = "0";
    if (!is_void(&fn->ret)) {
        snprintf(head, sizeof(head), "sizeof(%s) + 4", fn->ret.name);
        snprintf(errno_at, sizeof(errno_at), "sizeof(%s)", fn->ret.name);
    }
    fprintf(f, "    size_t zg_rlen = %s;\n", head);
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (a->kind != ZG_OBJ || !returns(a))
            continue;
        const char *ind = a->nullable ? "        " : "    ";
        if (a->nullable)
            fprintf(f, "    if (zg_f_%s) {\n", a->name);
        fprintf(f, "%szg_x_%s = zg_rlen;\n%szg_rlen += sizeof(%s);\n", ind, a->name, ind,
                a->type.name);
        if (a->nullable)
            fprintf(f, "    }\n");
    }
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (!is_array(a) || !returns(a))
            continue;
        fprintf(f, "    zg_x_%s = zg_rlen;\n", a->name);
        fprintf(f, "    if (!zoid_add(zg_rlen, zg_b_%s, &zg_rlen))\n        return -EMSGSIZE;\n",
                a->name);
    }
    fprintf(f, "    errno = 0;\n");
    fprintf(f, "    unsigned char *zg_rep = zoid_reply_reserve(zg_call, zg_rlen);\n");
    fprintf(f, "    if (!zg_rep)\n        return errno == ENOMEM ? -ENOMEM : -EMSGSIZE;\n");
    fprintf(f, "    memset(zg_rep, 0, zg_rlen);\n");

    /* Arrays: in place when the bytes are aligned for their type and may stay where they are
     * (in the request when const, in the reply when out), else in a copy. */
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (!is_array(a))
            continue;
        const char *nm = a->name, *tn = a->type.name, *cq = a->type.is_const ? "const " : "";
        bool bytes = a->type.base == ZG_VOID;
        const char *ind = a->nullable ? "        " : "    ";
        if (a->nullable)
            fprintf(f, "    if (zg_f_%s) {\n", nm);
        char src[ZG_NAME_MAX + 32];
        if (returns(a))
            snprintf(src, sizeof(src), "zg_rep + zg_x_%s", nm);
        else
            snprintf(src, sizeof(src), "zg_p_%s", nm);
        bool in_place_ok = returns(a) || a->type.is_const;
        if (in_place_ok && bytes) {
            fprintf(f, "%s%s = %s;\n", ind, nm, src);
        } else {
            if (in_place_ok)
                fprintf(f,
                        "%sif (zoid_aligned(%s, _Alignof(%s))) {\n"
                        "%s    %s = (%s%s *)(%svoid *)(%s);\n"
                        "%s} else {\n",
                        ind, src, tn, ind, nm, cq, tn, cq, src, ind);
            else
                fprintf(f, "%s{\n", ind);
            fprintf(f, "%s    %s = zg_t_%s = calloc(zg_b_%s ? zg_b_%s : 1, 1);\n", ind, nm, nm, nm,
                    nm);
            fprintf(f,
                    "%s    if (!%s) {\n%s        zg_rc = -ENOMEM;\n%s        goto zg_out;\n"
                    "%s    }\n",
                    ind, nm, ind, ind, ind);
            if (!returns(a))
                fprintf(f, "%s    memcpy(zg_t_%s, zg_p_%s, zg_b_%s);\n", ind, nm, nm, nm);
            fprintf(f, "%s}\n", ind);
        }
        if (a->dir == ZG_INOUT)
            fprintf(f, "%smemcpy(%s, zg_p_%s, zg_b_%s);\n", ind, nm, nm, nm);
        if (a->nullable)
            fprintf(f, "    }\n");
    }

    /* The call, with errno as the function leaves it. */
    fprintf(f, "\n    %s__zoid_call = zg_call;\n    errno = 0;\n    ", n->base);
    if (!is_void(&fn->ret))
        fprintf(f, "zg_ret = ");
    fprintf(f, "%s(", fn->name);
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        fputs(i ? ", " : "", f);
        if (a->kind == ZG_OBJ && a->nullable)
            fprintf(f, "zg_f_%s ? &zg_o_%s : NULL", a->name, a->name);
        else if (a->kind == ZG_OBJ)
            fprintf(f, "&zg_o_%s", a->name);
        else
            fputs(a->name, f);
    }
    fprintf(f, ");\n    int zg_errno = errno;\n    %s__zoid_call = NULL;\n", n->base);

    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (is_array(a) && returns(a) && may_copy(a))
            fprintf(f, "    if (zg_t_%s)\n        memcpy(zg_rep + zg_x_%s, zg_t_%s, zg_b_%s);\n",
                    a->name, a->name, a->name, a->name);
    }
    if (!is_void(&fn->ret))
        store_scalar(f, "    ", &fn->ret, "zg_rep", "zg_ret");
    fprintf(f, "    zoid_store_int(zg_rep + %s, zg_errno, 4);\n", errno_at);
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (a->kind != ZG_OBJ || !returns(a))
            continue;
        const char *ind = a->nullable ? "        " : "    ";
        if (a->nullable)
            fprintf(f, "    if (zg_f_%s)\n", a->name);
        char at[ZG_NAME_MAX + 32], val[ZG_NAME_MAX + 8];
        snprintf(at, sizeof(at), "zg_rep + zg_x_%s", a->name);
        snprintf(val, sizeof(val), "zg_o_%s", a->name);
        if (a->type.base == ZG_STRUCT)
            fprintf(f, "%smemcpy(%s, &%s, sizeof(%s));\n", ind, at, val, val);
        else
            store_scalar(f, ind, &a->type, at, val);
    }
    fprintf(f, "    zg_rc = 0;\n");
    if (temps) {
        fprintf(f, "zg_out:\n");
        for (int i = 0; i < fn->nparams; i++)
            if (is_array(&fn->params[i]) && may_copy(&fn->params[i]))
                fprintf(f, "    free(zg_t_%s);\n", fn->params[i].name);
    }
    fprintf(f, "    return zg_rc;\n}\n");
}

void zg_emit_server_c(const struct zg_plugin *p, const struct zg_names *n, FILE *f)
{
    const char *b = n->base;
    banner(f, n, "Daemon dispatch");
    fprintf(f, "#include <errno.h>\n#include <stdbool.h>\n#include <stdint.h>\n"
               "#include <stdlib.h>\n#include <string.h>\n\n");
    fprintf(f, "#include \"zepto/zoid_codec.h\"\n#include \"zepto/zoid_plugin.h\"\n");
    fprintf(f, "#include \"%s_server.h\"\n#include \"%s\"\n\n", b, n->header);
    fprintf(f,
            "/* The call this thread serves, set around each call of the implementation. */\n"
            "static _Thread_local struct zoid_call *%s__zoid_call;\n\n"
            "struct zoid_call *%s_zoid_current(void)\n{\n    return %s__zoid_call;\n}\n",
            b, b, b);
    for (int i = 0; i < p->nfuncs; i++)
        emit_dispatch(&p->funcs[i], n, f);
    fprintf(f, "\nstatic const zoid_fn %s__zoid_functions[] = {\n", b);
    for (int i = 0; i < p->nfuncs; i++)
        fprintf(f, "    %s__zoid_%s,\n", b, p->funcs[i].name);
    fprintf(f, "};\n\nstatic const char *const %s__zoid_names[] = {\n", b);
    for (int i = 0; i < p->nfuncs; i++)
        fprintf(f, "    \"%s\",\n", p->funcs[i].name);
    fprintf(f, "};\n\n");
    fprintf(f, "static const struct zoid_plugin %s__zoid_plugin = {\n", b);
    fprintf(f, "    .api = ZOID_PLUGIN_API,\n    .id = %u,\n    .name = \"%s\",\n", p->id, p->name);
    fprintf(f, "    .nfunctions = %d,\n    .functions = %s__zoid_functions,\n", p->nfuncs, b);
    fprintf(f, "    .function_names = %s__zoid_names,\n", b);
    fprintf(f, "    .init = %s,\n    .fini = %s,\n    .client_gone = %s,\n",
            p->init[0] ? p->init : "NULL", p->fini[0] ? p->fini : "NULL",
            p->gone[0] ? p->gone : "NULL");
    fprintf(f, "};\n\n");
    fprintf(f,
            "__attribute__((visibility(\"default\"))) const struct zoid_plugin "
            "*zoid_plugin_register(void)\n{\n    return &%s__zoid_plugin;\n}\n",
            b);
}

/* ---- files -------------------------------------------------------------------------------- */

static int write_one(const struct zg_plugin *p, const struct zg_names *n, const char *dir,
                     const char *suffix,
                     void (*emit)(const struct zg_plugin *, const struct zg_names *, FILE *),
                     struct zepto_err *err)
{
    char path[4096], tmp[4096 + 16];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s_%s", dir, n->base, suffix) >= sizeof(path))
        return zepto_fail(err, ENAMETOOLONG, "%s: path too long", dir);
    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return zepto_fail(err, e, "%s: %s", path, strerror(e));
    }
    emit(p, n, f);
    int bad = ferror(f);
    int e = bad ? EIO : 0;
    if (fclose(f) && !e)
        e = errno ? errno : EIO;
    /* mkstemp made it 0600: give it the mode of any file this user creates. */
    mode_t mask = umask(0);
    umask(mask);
    if (!e && chmod(tmp, 0666 & ~mask))
        e = errno;
    if (!e && rename(tmp, path))
        e = errno;
    if (e) {
        unlink(tmp);
        return zepto_fail(err, e, "%s: %s", path, strerror(e));
    }
    return 0;
}

int zg_write(const struct zg_plugin *p, const struct zg_names *n, const char *dir,
             struct zepto_err *err)
{
    if (mkdir(dir, 0777) && errno != EEXIST)
        return zepto_fail(err, errno, "%s: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st))
        return zepto_fail(err, errno, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return zepto_fail(err, ENOTDIR, "%s: %s", dir, strerror(ENOTDIR));
    int rc = write_one(p, n, dir, "client.h", zg_emit_client_h, err);
    if (!rc)
        rc = write_one(p, n, dir, "client.c", zg_emit_client_c, err);
    if (!rc)
        rc = write_one(p, n, dir, "server.h", zg_emit_server_h, err);
    if (!rc)
        rc = write_one(p, n, dir, "server.c", zg_emit_server_c, err);
    return rc;
}
