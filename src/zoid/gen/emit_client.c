/*
 * The client side written by `zepto zoid gen`: BASE_client.h (the plugin and function ids, the
 * connection setter) and BASE_client.c (one stub per function, with the header's own prototype:
 * check the arguments, encode the request, call, scatter the reply in place; and for a function
 * without out parameters, split-phase stubs FN_begin and FN_end). The order of the
 * request and the reply is the wire-layout table's (gen_layout.h).
 */
#include <stdio.h>
#include <string.h>

#include "zoid/gen/emit_int.h"

/* Whether fn also gets split-phase stubs (FN_begin, FN_end): its reply is only its result and
 * errno (no out parameters, so nothing to scatter into the caller's memory later), and the
 * header has no functions of those names. */
static bool split_phase(const struct zg_plugin *p, const struct zg_func *fn)
{
    const struct zg_layout *l = fn->layout;
    if (l->part[ZG_REP_OBJS].n || l->part[ZG_REP_ARRAYS].n)
        return false;
    char b[ZG_NAME_MAX + 8], e[ZG_NAME_MAX + 8];
    snprintf(b, sizeof(b), "%s_begin", fn->name);
    snprintf(e, sizeof(e), "%s_end", fn->name);
    for (int i = 0; i < p->nfuncs; i++)
        if (!strcmp(p->funcs[i].name, b) || !strcmp(p->funcs[i].name, e))
            return false;
    return true;
}

/* "int PFN_begin(struct PFN_call *zg_call, <FN's parameters>)" or "RET PFN_end(struct PFN_call
 * *zg_call)" (no ';'). */
static void split_prototype(FILE *f, const struct zg_func *fn, const char *pf, bool end)
{
    if (end) {
        fprintf(f, "%s %s%s_end(struct %s%s_call *zg_call)", fn->ret.name, pf, fn->name, pf,
                fn->name);
        return;
    }
    fprintf(f, "int %s%s_begin(struct %s%s_call *zg_call", pf, fn->name, pf, fn->name);
    for (int i = 0; i < fn->nparams; i++) {
        fputs(", ", f);
        zg_param_decl(f, &fn->params[i]);
    }
    fputc(')', f);
}

/* The size of a reply that is only the result and errno, as a C expression. */
static void result_size(const struct zg_func *fn, char *buf, size_t len)
{
    if (zg_is_void(&fn->ret))
        snprintf(buf, len, "4");
    else
        snprintf(buf, len, "sizeof(%s) + 4", fn->ret.name);
}

static void emit_split_h(const struct zg_plugin *p, const char *pf, FILE *f)
{
    char sz[ZG_NAME_MAX + 16];
    bool any = false;
    for (int i = 0; i < p->nfuncs; i++) {
        const struct zg_func *fn = &p->funcs[i];
        if (!split_phase(p, fn))
            continue;
        if (!any)
            fprintf(f,
                    "/* Split-phase stubs (docs/FORMATS.md, \"Split-phase stubs\"), for the\n"
                    " * functions without out parameters: FN_begin checks the arguments as FN\n"
                    " * does and sends the call (0, or -1 with errno: nothing sent); the\n"
                    " * arguments may be reused once it returns. FN_end waits for the reply and\n"
                    " * returns what FN would have, errno included (-1 and the transport's\n"
                    " * errno when the call was lost). Every call begun is ended exactly once,\n"
                    " * and its struct stays where it is in between. */\n");
        any = true;
        /* A struct named in a prototype's parameters must be declared outside it (this header
         * does not include the plugin's). */
        for (int k = 0; k < fn->nparams; k++)
            if (fn->params[k].type.base == ZG_STRUCT)
                fprintf(f, "%s;\n", fn->params[k].type.name);
        result_size(fn, sz, sizeof(sz));
        fprintf(f,
                "struct %s%s_call {\n    struct zoid_call_handle *zg_h;\n"
                "    struct iovec zg_iov;\n    unsigned char zg_rfix[%s];\n};\n",
                pf, fn->name, sz);
        split_prototype(f, fn, pf, false);
        fputs(";\n", f);
        split_prototype(f, fn, pf, true);
        fputs(";\n\n", f);
    }
}

void zg_emit_client_h(const struct zg_plugin *p, const struct zg_names *n, FILE *f)
{
    char up[ZG_NAME_MAX + 8], fup[ZG_NAME_MAX + 8];
    zg_upper(up, sizeof(up), n->base);
    zg_banner(f, n, "Client side of the ZOID plugin");
    fprintf(f, "#ifndef %s_CLIENT_H_ZOID\n#define %s_CLIENT_H_ZOID\n\n", up, up);
    const char *pf = zg_prefix(n);
    fprintf(f, "#include <stdbool.h>\n#include <stdint.h>\n#include <sys/types.h>\n"
               "#include <sys/uio.h>\n\n#include \"zepto/zoid.h\"\n\n");
    if (*pf)
        fprintf(f, "#include \"%s\"\n\n", n->header);
    fprintf(f, "/* The plugin \"%s\" and its function ids. */\n", p->name);
    fprintf(f, "#define %s_ZOID_PLUGIN_ID %u\n", up, p->id);
    fprintf(f, "enum %s_zoid_function {\n", n->base);
    for (int i = 0; i < p->nfuncs; i++) {
        zg_upper(fup, sizeof(fup), p->funcs[i].name);
        fprintf(f, "    %s_ZOID_FN_%s = %d,\n", up, fup, i);
    }
    fprintf(f, "};\n\n");
    fprintf(f,
            "/* The connection the stubs of %s use (NULL: none yet). Without it, the first call\n"
            " * connects to $ZOID_SERVER (once, whichever thread gets there first). Returns 0. */\n"
            "int %s%s_zoid_use(struct zoid_client *c);\n\n",
            n->header, pf, n->base);
    emit_split_h(p, pf, f);
    if (*pf) {
        fprintf(f, "/* The stubs, the functions of %s with the prefix %s. */\n", n->header, pf);
        for (int i = 0; i < p->nfuncs; i++) {
            zg_prototype(f, &p->funcs[i], pf);
            fputs(";\n", f);
        }
        fputc('\n', f);
    }
    fprintf(f, "#endif\n");
}

/* The return statement of a stub whose call failed (errno set). */
static const char *fail_return(const struct zg_type *t, char *buf, size_t len)
{
    if (zg_is_void(t))
        return "return;";
    if (t->base == ZG_FLOAT || t->base == ZG_DOUBLE)
        return "return NAN;";
    if (t->base == ZG_BOOL)
        return "return false;";
    snprintf(buf, len, "return (%s)-1;", t->name);
    return buf;
}

/* The body of a stub up to the call: the arguments checked (`fail` when one is bad), the
 * connection, and the request in zg_req[0..zg_q.n), staged in zg_stage. */
static void emit_request(const struct zg_func *fn, const struct zg_names *n, const char *fail,
                         FILE *f)
{
    char esz[ZG_NAME_MAX + 16], fix[4096] = "0", expr[ZG_NAME_MAX + 64];
    const struct zg_layout *l = fn->layout;
    int nreq = 1 + l->part[ZG_REQ_VARIABLE].n + l->part[ZG_REQ_ZEROCOPY].n;
    int nflags = l->part[ZG_REQ_FLAGS].n, nstrings = l->part[ZG_REQ_STRLENS].n;

    /* Counts, sizes and pointers first: nothing is sent with a bad argument. */
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        zg_elem_size(esz, sizeof(esz), &a->type);
        if (zg_is_array(a)) {
            fprintf(f, "    size_t zg_n_%s = 0, zg_b_%s = 0;\n", a->name, a->name);
            if (a->kind == ZG_ARRAY2D)
                fprintf(f, "    size_t zg_k_%s = 0;\n", a->name);
            const char *ind = a->nullable ? "        " : "    ";
            if (a->nullable)
                fprintf(f, "    if (%s) {\n", a->name);
            fprintf(f, "%sif (!(", ind);
            zg_count_cond(f, fn, a);
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
    }
    ZG_FOR_PART(fn, ZG_REQ_FIXED, i)
    {
        zg_elem_size(esz, sizeof(esz), &zg_at(fn, ZG_REQ_FIXED, i)->type);
        zg_add_term(fix, sizeof(fix), esz);
    }
    if (nflags) {
        snprintf(expr, sizeof(expr), "%d", nflags);
        zg_add_term(fix, sizeof(fix), expr);
    }
    if (nstrings) {
        snprintf(expr, sizeof(expr), "%d", 4 * nstrings);
        zg_add_term(fix, sizeof(fix), expr);
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
    ZG_FOR_PART(fn, ZG_REQ_FIXED, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REQ_FIXED, i);
        if (a->kind == ZG_VALUE) {
            zg_put_scalar(f, "    ", &a->type, a->name);
        } else if (a->type.base == ZG_STRUCT) {
            fprintf(f, "    zoid_put_bytes(&zg_w, %s, sizeof(%s));\n", a->name, a->type.name);
        } else {
            snprintf(expr, sizeof(expr), "*%s", a->name);
            zg_put_scalar(f, "    ", &a->type, expr);
        }
    }
    ZG_FOR_PART(fn, ZG_REQ_FLAGS, i)
    fprintf(f, "    zoid_put_bool(&zg_w, %s != NULL);\n", zg_at(fn, ZG_REQ_FLAGS, i)->name);
    ZG_FOR_PART(fn, ZG_REQ_STRLENS, i)
    fprintf(f, "    zoid_put_u32(&zg_w, (uint32_t)zg_s_%s);\n", zg_at(fn, ZG_REQ_STRLENS, i)->name);
    ZG_FOR_PART(fn, ZG_REQ_VARIABLE, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REQ_VARIABLE, i);
        if (a->kind == ZG_STRING)
            fprintf(f, "    zoid_iovb_add(&zg_q, %s, zg_s_%s);\n", a->name, a->name);
        else if (zg_is_array(a))
            fprintf(f, "    zoid_iovb_add(&zg_q, %s, zg_b_%s);\n", a->name, a->name);
        else
            fprintf(f, "    if (%s)\n        zoid_iovb_add(&zg_q, %s, sizeof(%s));\n", a->name,
                    a->name, a->type.name);
    }
    ZG_FOR_PART(fn, ZG_REQ_ZEROCOPY, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REQ_ZEROCOPY, i);
        fprintf(f, "    zoid_iovb_ref(&zg_q, %s, zg_b_%s);\n", a->name, a->name);
    }
    fprintf(f,
            "    if (zg_q.failed || zg_w.failed) {\n        errno = EMSGSIZE;\n        %s\n"
            "    }\n\n",
            fail);
}

static void emit_client_stub(const struct zg_func *fn, int id, const struct zg_names *n,
                             const char *up, FILE *f)
{
    char fr[ZG_NAME_MAX + 16], rfix[4096] = "", expr[ZG_NAME_MAX + 64];
    const char *fail = fail_return(&fn->ret, fr, sizeof(fr));
    const struct zg_layout *l = fn->layout;
    int nrep = 1 + l->part[ZG_REP_OBJS].n + l->part[ZG_REP_ARRAYS].n;
    fputc('\n', f);
    zg_prototype(f, fn, zg_prefix(n));
    fputs("\n{\n", f);
    emit_request(fn, n, fail, f);

    /* The reply: return value and errno, out objects, out arrays, scattered in place. */
    char off[4096] = "0";
    if (l->has_ret) {
        snprintf(expr, sizeof(expr), "sizeof(%s)", fn->ret.name);
        zg_add_term(rfix, sizeof(rfix), expr);
    }
    zg_add_term(rfix, sizeof(rfix), "4");
    ZG_FOR_PART(fn, ZG_REP_OBJS, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REP_OBJS, i);
        if (a->type.base != ZG_STRUCT) {
            snprintf(expr, sizeof(expr), "sizeof(%s)", a->type.name);
            zg_add_term(rfix, sizeof(rfix), expr);
        }
    }
    fprintf(f, "    unsigned char zg_rfix[%s];\n", rfix);
    fprintf(f, "    struct iovec zg_rep[%d];\n    struct zoid_iovb zg_p;\n", nrep);
    fprintf(f, "    zoid_iovb_init(&zg_p, zg_rep, %d, NULL, 0);\n", nrep);
    char head[ZG_NAME_MAX + 32] = "4";
    if (l->has_ret)
        snprintf(head, sizeof(head), "sizeof(%s) + 4", fn->ret.name);
    fprintf(f, "    zoid_iovb_ref(&zg_p, zg_rfix, %s);\n", head);
    snprintf(off, sizeof(off), "%s", head);
    ZG_FOR_PART(fn, ZG_REP_OBJS, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REP_OBJS, i);
        const char *ind = a->nullable ? "        " : "    ";
        if (a->nullable)
            fprintf(f, "    if (%s)\n", a->name);
        if (a->type.base == ZG_STRUCT) {
            fprintf(f, "%szoid_iovb_ref(&zg_p, %s, sizeof(%s));\n", ind, a->name, a->type.name);
        } else {
            fprintf(f, "%szoid_iovb_ref(&zg_p, zg_rfix + %s, sizeof(%s));\n", ind, off,
                    a->type.name);
            snprintf(expr, sizeof(expr), "sizeof(%s)", a->type.name);
            zg_add_term(off, sizeof(off), expr);
        }
    }
    ZG_FOR_PART(fn, ZG_REP_ARRAYS, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REP_ARRAYS, i);
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
    if (!zg_is_void(&fn->ret)) {
        snprintf(expr_ret, sizeof(expr_ret), "(%s)", fn->ret.name);
        fprintf(f, "    %s zg_ret = ", fn->ret.name);
        zg_load_scalar(f, &fn->ret, "zg_rfix");
        fputs(";\n", f);
    }
    /* A ssize_t result with one out array counts that array's elements: a count larger than the
     * caller's array is a lie from the server, never passed on (the caller would use it). */
    const struct zg_param *counted = NULL;
    int nout = 0;
    for (int i = 0; i < fn->nparams; i++)
        if (fn->params[i].kind == ZG_ARRAY && fn->params[i].dir == ZG_OUT) {
            counted = &fn->params[i];
            nout++;
        }
    if (nout == 1 && !counted->nullable && !strcmp(fn->ret.name, "ssize_t"))
        fprintf(f,
                "    if (zg_ret < -1 || (zg_ret > 0 && (size_t)zg_ret > zg_n_%s)) {\n"
                "        errno = EPROTO;\n        %s\n    }\n",
                counted->name, fail);
    /* errno follows the return value; the scalar objects follow errno. */
    fprintf(f, "    int32_t zg_err = (int32_t)zoid_load_int(zg_rfix%s%s, 4);\n",
            zg_is_void(&fn->ret) ? "" : " + sizeof", zg_is_void(&fn->ret) ? "" : expr_ret);
    snprintf(off, sizeof(off), "%s", head);
    ZG_FOR_PART(fn, ZG_REP_OBJS, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REP_OBJS, i);
        if (a->type.base == ZG_STRUCT)
            continue;
        char at[4200];
        snprintf(at, sizeof(at), "zg_rfix + %s", off);
        fprintf(f, "    if (%s)\n        *%s = ", a->name, a->name);
        zg_load_scalar(f, &a->type, at);
        fputs(";\n", f);
        snprintf(expr, sizeof(expr), "sizeof(%s)", a->type.name);
        zg_add_term(off, sizeof(off), expr);
    }
    fprintf(f, "    errno = zg_err ? zg_err : zg_errno;\n");
    if (!zg_is_void(&fn->ret))
        fprintf(f, "    return zg_ret;\n");
    fputs("}\n", f);
}

/* FN_begin: FN's checks and request, the call begun with its reply into the caller's struct. */
static void emit_begin_stub(const struct zg_func *fn, int id, const struct zg_names *n,
                            const char *up, FILE *f)
{
    fputc('\n', f);
    split_prototype(f, fn, zg_prefix(n), false);
    fputs("\n{\n", f);
    fprintf(f, "    if (!zg_call) {\n        errno = EFAULT;\n        return -1;\n    }\n");
    emit_request(fn, n, "return -1;", f);
    fprintf(f,
            "    zg_call->zg_iov = (struct iovec){zg_call->zg_rfix, sizeof(zg_call->zg_rfix)};\n"
            "    int zg_rc = zoid_call_begin(zg_c, %s_ZOID_PLUGIN_ID, %d, zg_req, zg_q.n, "
            "&zg_call->zg_iov, 1, 0, &zg_call->zg_h);\n"
            "    if (zg_rc) {\n        zg_call->zg_h = NULL;\n        errno = zoid_errno(zg_rc);\n"
            "        return -1;\n    }\n"
            "    errno = zg_errno;\n    return 0;\n}\n",
            up, id);
}

/* FN_end: the reply of a call FN_begin began, decoded as FN's stub decodes it. */
static void emit_end_stub(const struct zg_func *fn, const struct zg_names *n, FILE *f)
{
    char fr[ZG_NAME_MAX + 16];
    const char *fail = fail_return(&fn->ret, fr, sizeof(fr));
    bool v = zg_is_void(&fn->ret);
    fputc('\n', f);
    split_prototype(f, fn, zg_prefix(n), true);
    fputs("\n{\n", f);
    fprintf(f,
            "    int zg_errno = errno;\n    size_t zg_got = 0;\n"
            "    int zg_rc = zoid_call_end(zg_call->zg_h, &zg_got);\n"
            "    zg_call->zg_h = NULL;\n"
            "    if (zg_rc == 0 && zg_got != sizeof(zg_call->zg_rfix))\n        zg_rc = -EPROTO;\n"
            "    if (zg_rc) {\n        errno = zoid_errno(zg_rc);\n        %s\n    }\n",
            fail);
    if (!v) {
        fprintf(f, "    %s zg_ret = ", fn->ret.name);
        zg_load_scalar(f, &fn->ret, "zg_call->zg_rfix");
        fputs(";\n", f);
    }
    fprintf(f, "    int32_t zg_err = (int32_t)zoid_load_int(zg_call->zg_rfix%s%s%s, 4);\n",
            v ? "" : " + sizeof(", v ? "" : fn->ret.name, v ? "" : ")");
    fprintf(f, "    errno = zg_err ? zg_err : zg_errno;\n");
    if (!v)
        fprintf(f, "    return zg_ret;\n");
    fputs("}\n", f);
}

void zg_emit_client_c(const struct zg_plugin *p, const struct zg_names *n, FILE *f)
{
    char up[ZG_NAME_MAX + 8];
    zg_upper(up, sizeof(up), n->base);
    zg_banner(f, n, "Client stubs");
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
            "int %s%s_zoid_use(struct zoid_client *c)\n{\n"
            "    pthread_mutex_lock(&%s__zoid_mu);\n"
            "    atomic_store_explicit(&%s__zoid_conn, c, memory_order_release);\n"
            "    pthread_mutex_unlock(&%s__zoid_mu);\n    return 0;\n}\n\n",
            zg_prefix(n), n->base, n->base, n->base, n->base);
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
    for (int i = 0; i < p->nfuncs; i++) {
        emit_client_stub(&p->funcs[i], i, n, up, f);
        if (split_phase(p, &p->funcs[i])) {
            emit_begin_stub(&p->funcs[i], i, n, up, f);
            emit_end_stub(&p->funcs[i], n, f);
        }
    }
}
