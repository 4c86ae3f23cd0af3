/*
 * The daemon side written by `zepto zoid gen`: BASE_server.h (the hooks, the registration) and
 * BASE_server.c (one dispatch function per remote function: decode the request, reserve and
 * zero the reply, call the implementation, encode its results; then the plugin description).
 * The order of the request and the reply is the wire-layout table's (gen_layout.h).
 */
#include <stdio.h>
#include <string.h>

#include "zoid/gen/emit_int.h"

/* Whether an array may need a copy of its own (it cannot always be used where it
 * lies: a non-const in array must not be written in the request, and elements other than bytes
 * may lie misaligned). */
static bool may_copy(const struct zg_param *a)
{
    bool in_place_ok = zg_returns(a) || a->type.is_const;
    return !(in_place_ok && a->type.base == ZG_VOID);
}

static const char *const hook_sigs[3] = {"int %s(struct zoid_host *host);\n",
                                         "void %s(void *plugin_state);\n",
                                         "void %s(void *plugin_state, void *client_state);\n"};

void zg_emit_server_h(const struct zg_plugin *p, const struct zg_names *n, FILE *f)
{
    char up[ZG_NAME_MAX + 8];
    zg_upper(up, sizeof(up), n->base);
    zg_banner(f, n, "Daemon side of the ZOID plugin");
    fprintf(f, "#ifndef %s_SERVER_H_ZOID\n#define %s_SERVER_H_ZOID\n\n", up, up);
    fprintf(f, "#include \"zepto/zoid_plugin.h\"\n\n");
    fprintf(
        f,
        "/* The call the running function of %s serves (NULL outside one): for\n"
        " * zoid_call_plugin_state(), zoid_call_client_state() and zoid_call_identity() in the\n"
        " * implementation. */\n"
        "struct zoid_call *%s%s_zoid_current(void);\n\n",
        n->header, zg_prefix(n), n->base);
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
    if (*zg_prefix(n))
        fprintf(f,
                "/* The plugin's description (prefixed: for a plugin built into a program). */\n"
                "const struct zoid_plugin *%szoid_plugin_register(void);\n\n",
                zg_prefix(n));
    else
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
        if (zg_is_array(a)) {
            fprintf(f, "    size_t zg_n_%s = 0, zg_b_%s = 0;\n", nm, nm);
            if (a->kind == ZG_ARRAY2D)
                fprintf(f, "    size_t zg_k_%s = 0;\n", nm);
            if (zg_sends(a))
                fprintf(f, "    const void *zg_p_%s = NULL;\n", nm);
            if (may_copy(a))
                fprintf(f, "    void *zg_t_%s = NULL;\n", nm);
            fprintf(f, "    %s%s *%s = NULL;\n", a->type.is_const ? "const " : "", tn, nm);
            temps |= may_copy(a);
        }
        if (zg_returns(a) && a->kind != ZG_VALUE)
            fprintf(f, "    size_t zg_x_%s = 0;\n", nm);
    }
    if (!zg_is_void(&fn->ret))
        fprintf(f, "    %s zg_ret = 0;\n", fn->ret.name);
    fprintf(f, "    int zg_rc = -EPROTO;\n\n");

    /* Fixed part. */
    fprintf(f, "    zoid_reader_init(&zg_r, zg_payload, zg_len);\n");
    ZG_FOR_PART(fn, ZG_REQ_FIXED, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REQ_FIXED, i);
        if (a->kind == ZG_VALUE) {
            zg_get_scalar(f, "    ", &a->type, a->name);
        } else if (a->type.base == ZG_STRUCT) {
            fprintf(f, "    zoid_get_obj(&zg_r, &zg_o_%s, sizeof(zg_o_%s));\n", a->name, a->name);
        } else {
            snprintf(expr, sizeof(expr), "zg_o_%s", a->name);
            zg_get_scalar(f, "    ", &a->type, expr);
        }
    }
    ZG_FOR_PART(fn, ZG_REQ_FLAGS, i)
    fprintf(f, "    zg_f_%s = zoid_get_bool(&zg_r);\n", zg_at(fn, ZG_REQ_FLAGS, i)->name);
    ZG_FOR_PART(fn, ZG_REQ_STRLENS, i)
    fprintf(f, "    zg_s_%s = zoid_get_u32(&zg_r);\n", zg_at(fn, ZG_REQ_STRLENS, i)->name);

    /* Counts, from the lengths just read; a bad one fails the reader. */
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (!zg_is_array(a))
            continue;
        zg_elem_size(esz, sizeof(esz), &a->type);
        fprintf(f, "    if (");
        if (a->nullable)
            fprintf(f, "zg_f_%s && ", a->name);
        fprintf(f, "!(");
        zg_count_cond(f, fn, a);
        fprintf(f, " && zoid_mul(zg_n_%s, %s, &zg_b_%s)))\n", a->name, esz, a->name);
        fprintf(f, "        zoid_reader_fail(&zg_r);\n");
    }

    /* Variable part, then the zero-copy arrays. */
    ZG_FOR_PART(fn, ZG_REQ_VARIABLE, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REQ_VARIABLE, i);
        const char *nm = a->name;
        if (a->kind == ZG_STRING && a->nullable) {
            fprintf(f, "    if (zg_f_%s)\n        %s = zoid_get_string(&zg_r, zg_s_%s);\n", nm, nm,
                    nm);
            fprintf(f, "    else if (zg_s_%s)\n        zoid_reader_fail(&zg_r);\n", nm);
        } else if (a->kind == ZG_STRING) {
            fprintf(f, "    %s = zoid_get_string(&zg_r, zg_s_%s);\n", nm, nm);
        } else if (zg_is_array(a)) {
            if (a->nullable)
                fprintf(f, "    if (zg_f_%s)\n    ", nm);
            fprintf(f, "    zg_p_%s = zoid_get_bytes(&zg_r, zg_b_%s);\n", nm, nm);
        } else if (a->type.base == ZG_STRUCT) {
            fprintf(f, "    if (zg_f_%s)\n", nm);
            fprintf(f, "        zoid_get_obj(&zg_r, &zg_o_%s, sizeof(zg_o_%s));\n", nm, nm);
        } else {
            fprintf(f, "    if (zg_f_%s)\n", nm);
            snprintf(expr, sizeof(expr), "zg_o_%s", nm);
            zg_get_scalar(f, "        ", &a->type, expr);
        }
    }
    ZG_FOR_PART(fn, ZG_REQ_ZEROCOPY, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REQ_ZEROCOPY, i);
        if (a->nullable)
            fprintf(f, "    if (zg_f_%s)\n    ", a->name);
        fprintf(f, "    zg_p_%s = zoid_get_bytes(&zg_r, zg_b_%s);\n", a->name, a->name);
    }
    fprintf(f, "    if (!zoid_reader_done(&zg_r))\n        return -EPROTO;\n\n");

    /* The reply, reserved at once (pointers into it stay valid) and zeroed (nothing of the
     * daemon's memory goes out in what the function leaves unwritten); a `filled` array only
     * past the bytes the function says it wrote, after the call. */
    char head[ZG_NAME_MAX + 32] = "4", errno_at[ZG_NAME_MAX + 32] = "0";
    if (fn->layout->has_ret) {
        snprintf(head, sizeof(head), "sizeof(%s) + 4", fn->ret.name);
        snprintf(errno_at, sizeof(errno_at), "sizeof(%s)", fn->ret.name);
    }
    fprintf(f, "    size_t zg_rlen = %s;\n", head);
    ZG_FOR_PART(fn, ZG_REP_OBJS, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REP_OBJS, i);
        const char *ind = a->nullable ? "        " : "    ";
        if (a->nullable)
            fprintf(f, "    if (zg_f_%s) {\n", a->name);
        fprintf(f, "%szg_x_%s = zg_rlen;\n%szg_rlen += sizeof(%s);\n", ind, a->name, ind,
                a->type.name);
        if (a->nullable)
            fprintf(f, "    }\n");
    }
    ZG_FOR_PART(fn, ZG_REP_ARRAYS, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REP_ARRAYS, i);
        fprintf(f, "    zg_x_%s = zg_rlen;\n", a->name);
        fprintf(f, "    if (!zoid_add(zg_rlen, zg_b_%s, &zg_rlen))\n        return -EMSGSIZE;\n",
                a->name);
    }
    fprintf(f, "    errno = 0;\n");
    fprintf(f, "    unsigned char *zg_rep = zoid_reply_reserve(zg_call, zg_rlen);\n");
    fprintf(f, "    if (!zg_rep)\n        return errno == ENOMEM ? -ENOMEM : -EMSGSIZE;\n");
    const struct zg_param *filled = NULL;
    for (int i = 0; i < fn->nparams; i++)
        if (fn->params[i].filled)
            filled = &fn->params[i];
    if (filled) /* all but the filled array now; what the function leaves of it after the call */
        fprintf(f,
                "    memset(zg_rep, 0, zg_x_%s);\n"
                "    memset(zg_rep + zg_x_%s + zg_b_%s, 0, zg_rlen - zg_x_%s - zg_b_%s);\n",
                filled->name, filled->name, filled->name, filled->name, filled->name);
    else
        fprintf(f, "    memset(zg_rep, 0, zg_rlen);\n");

    /* Arrays: in place when the bytes are aligned for their type and may stay where they are
     * (in the request when const, in the reply when out), else in a copy. */
    for (int i = 0; i < fn->nparams; i++) {
        const struct zg_param *a = &fn->params[i];
        if (!zg_is_array(a))
            continue;
        const char *nm = a->name, *tn = a->type.name, *cq = a->type.is_const ? "const " : "";
        bool bytes = a->type.base == ZG_VOID;
        const char *ind = a->nullable ? "        " : "    ";
        if (a->nullable)
            fprintf(f, "    if (zg_f_%s) {\n", nm);
        char src[ZG_NAME_MAX + 32];
        if (zg_returns(a))
            snprintf(src, sizeof(src), "zg_rep + zg_x_%s", nm);
        else
            snprintf(src, sizeof(src), "zg_p_%s", nm);
        bool in_place_ok = zg_returns(a) || a->type.is_const;
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
            if (!zg_returns(a))
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
    if (!zg_is_void(&fn->ret))
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
    if (filled)
        fprintf(f,
                "    {\n        size_t zg_w = zg_ret < 0 ? 0\n"
                "                      : (uint64_t)zg_ret < zg_b_%s ? (size_t)zg_ret\n"
                "                                                   : zg_b_%s;\n"
                "        memset(zg_rep + zg_x_%s + zg_w, 0, zg_b_%s - zg_w);\n    }\n",
                filled->name, filled->name, filled->name, filled->name);

    ZG_FOR_PART(fn, ZG_REP_ARRAYS, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REP_ARRAYS, i);
        if (may_copy(a))
            fprintf(f, "    if (zg_t_%s)\n        memcpy(zg_rep + zg_x_%s, zg_t_%s, zg_b_%s);\n",
                    a->name, a->name, a->name, a->name);
    }
    if (!zg_is_void(&fn->ret))
        zg_store_scalar(f, "    ", &fn->ret, "zg_rep", "zg_ret");
    fprintf(f, "    zoid_store_int(zg_rep + %s, zg_errno, 4);\n", errno_at);
    ZG_FOR_PART(fn, ZG_REP_OBJS, i)
    {
        const struct zg_param *a = zg_at(fn, ZG_REP_OBJS, i);
        const char *ind = a->nullable ? "        " : "    ";
        if (a->nullable)
            fprintf(f, "    if (zg_f_%s)\n", a->name);
        char at[ZG_NAME_MAX + 32], val[ZG_NAME_MAX + 8];
        snprintf(at, sizeof(at), "zg_rep + zg_x_%s", a->name);
        snprintf(val, sizeof(val), "zg_o_%s", a->name);
        if (a->type.base == ZG_STRUCT)
            fprintf(f, "%smemcpy(%s, &%s, sizeof(%s));\n", ind, at, val, val);
        else
            zg_store_scalar(f, ind, &a->type, at, val);
    }
    fprintf(f, "    zg_rc = 0;\n");
    if (temps) {
        fprintf(f, "zg_out:\n");
        for (int i = 0; i < fn->nparams; i++)
            if (zg_is_array(&fn->params[i]) && may_copy(&fn->params[i]))
                fprintf(f, "    free(zg_t_%s);\n", fn->params[i].name);
    }
    fprintf(f, "    return zg_rc;\n}\n");
}

void zg_emit_server_c(const struct zg_plugin *p, const struct zg_names *n, FILE *f)
{
    const char *b = n->base;
    zg_banner(f, n, "Daemon dispatch");
    fprintf(f, "#include <errno.h>\n#include <stdbool.h>\n#include <stdint.h>\n"
               "#include <stdlib.h>\n#include <string.h>\n\n");
    fprintf(f, "#include \"zepto/zoid_codec.h\"\n#include \"zepto/zoid_plugin.h\"\n");
    fprintf(f, "#include \"%s_server.h\"\n#include \"%s\"\n\n", b, n->header);
    fprintf(f,
            "/* The call this thread serves, set around each call of the implementation. */\n"
            "static _Thread_local struct zoid_call *%s__zoid_call;\n\n"
            "struct zoid_call *%s%s_zoid_current(void)\n{\n    return %s__zoid_call;\n}\n",
            b, zg_prefix(n), b, b);
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
    if (*zg_prefix(n))
        fprintf(f,
                "const struct zoid_plugin *%szoid_plugin_register(void)\n{\n"
                "    return &%s__zoid_plugin;\n}\n",
                zg_prefix(n), b);
    else
        fprintf(f,
                "__attribute__((visibility(\"default\"))) const struct zoid_plugin "
                "*zoid_plugin_register(void)\n{\n    return &%s__zoid_plugin;\n}\n",
                b);
}
