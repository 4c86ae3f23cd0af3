/*
 * C types for `zepto zoid gen`: the spellings a parameter or return type may have (scalars,
 * fixed-width integers, size_t/ssize_t, bool, float, double, struct NAME, void, one level of
 * pointer, const and restrict). Anything else, typedefs included, is refused: the generator must
 * know what every size it encodes is made of.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "zoid/gen/gen_parse_int.h"

/* ---- types -------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    enum zg_base base;
} named_types[] = {
    {"int8_t", ZG_SIGNED},     {"int16_t", ZG_SIGNED},    {"int32_t", ZG_SIGNED},
    {"int64_t", ZG_SIGNED},    {"uint8_t", ZG_UNSIGNED},  {"uint16_t", ZG_UNSIGNED},
    {"uint32_t", ZG_UNSIGNED}, {"uint64_t", ZG_UNSIGNED}, {"size_t", ZG_UNSIGNED},
    {"ssize_t", ZG_SIGNED},    {"bool", ZG_BOOL},         {"_Bool", ZG_BOOL},
    {"float", ZG_FLOAT},       {"double", ZG_DOUBLE},     {"void", ZG_VOID},
};

/* Parses the type in tokens t[0..n) (no name, no comments); `what` names it in messages. */
int zg_parse_type(struct parser *ps, const struct tok *t, int n, int line, const char *what,
                  struct zg_type *ty)
{
    int nsigned = 0, nunsigned = 0, nshort = 0, nlong = 0, nint = 0, nchar = 0, stars = 0;
    const char *named = NULL;
    char tag[ZG_NAME_MAX] = "";
    memset(ty, 0, sizeof(*ty));
    for (int i = 0; i < n; i++) {
        const struct tok *k = &t[i];
        if (zg_tok_is(k, "*")) {
            if (++stars > 1)
                return zg_fail(ps, k->line, "%s: pointers to pointers are not supported", what);
        } else if (zg_tok_is(k, "const")) {
            if (!stars)
                ty->is_const = true; /* a const after the '*' is the parameter's own */
        } else if (zg_tok_is(k, "restrict") || zg_tok_is(k, "__restrict") ||
                   zg_tok_is(k, "__restrict__")) {
            if (!stars)
                return zg_fail(ps, k->line, "%s: restrict applies to a pointer", what);
            ty->restrict_ptr = true;
        } else if (stars) {
            return zg_fail(ps, k->line, "%s: unexpected '%.*s' after '*'", what, (int)k->n, k->s);
        } else if (zg_tok_is(k, "volatile")) {
            return zg_fail(ps, k->line, "%s: volatile is not supported", what);
        } else if (zg_tok_is(k, "signed")) {
            nsigned++;
        } else if (zg_tok_is(k, "unsigned")) {
            nunsigned++;
        } else if (zg_tok_is(k, "short")) {
            nshort++;
        } else if (zg_tok_is(k, "long")) {
            nlong++;
        } else if (zg_tok_is(k, "int")) {
            nint++;
        } else if (zg_tok_is(k, "char")) {
            nchar++;
        } else if (zg_tok_is(k, "struct")) {
            if (named || i + 1 >= n || t[i + 1].kind != T_IDENT)
                return zg_fail(ps, k->line, "%s: 'struct' needs a tag name", what);
            i++;
            if (zg_copy_name(ps, tag, t[i].s, t[i].n, t[i].line))
                return -EINVAL;
            named = "struct";
        } else if (zg_tok_is(k, "enum") || zg_tok_is(k, "union")) {
            return zg_fail(ps, k->line, "%s: %.*s types are not supported (%s)", what, (int)k->n,
                           k->s, zg_tok_is(k, "enum") ? "pass an int" : "use a struct");
        } else if (k->kind == T_IDENT) {
            size_t j;
            for (j = 0; j < sizeof(named_types) / sizeof(named_types[0]); j++)
                if (zg_tok_is(k, named_types[j].name))
                    break;
            if (j == sizeof(named_types) / sizeof(named_types[0]))
                return zg_fail(ps, k->line,
                               "%s: unknown type '%.*s' (scalars, struct NAME, void; no typedefs)",
                               what, (int)k->n, k->s);
            if (named)
                return zg_fail(ps, k->line, "%s: two type names", what);
            named = named_types[j].name;
            ty->base = named_types[j].base;
        } else {
            return zg_fail(ps, k->line, "%s: unexpected '%.*s' in a type", what, (int)k->n, k->s);
        }
    }
    ty->pointer = stars == 1;
    int nint_words = nsigned + nunsigned + nshort + nlong + nint + nchar;
    if (named) {
        if (nint_words)
            return zg_fail(ps, line, "%s: '%s' with integer words is not a type", what, named);
        if (!strcmp(named, "struct")) {
            ty->base = ZG_STRUCT;
            snprintf(ty->name, sizeof(ty->name), "struct %s", tag);
        } else {
            snprintf(ty->name, sizeof(ty->name), "%s", !strcmp(named, "_Bool") ? "bool" : named);
        }
        return 0;
    }
    if (!nint_words)
        return zg_fail(ps, line, "%s: no type", what);
    if ((nsigned && nunsigned) || nsigned > 1 || nunsigned > 1 || nint > 1 || nchar > 1 ||
        nshort > 1 || nlong > 2 || (nshort && nlong) || (nchar && (nshort || nlong || nint)))
        return zg_fail(ps, line, "%s: not a valid integer type", what);
    const char *u = nunsigned ? "unsigned " : "";
    ty->base = nunsigned ? ZG_UNSIGNED : ZG_SIGNED;
    if (nchar) {
        if (!nsigned && !nunsigned)
            ty->base = ZG_CHAR;
        snprintf(ty->name, sizeof(ty->name), "%schar", nsigned ? "signed " : u);
    } else if (nshort) {
        snprintf(ty->name, sizeof(ty->name), "%sshort", u);
    } else if (nlong) {
        snprintf(ty->name, sizeof(ty->name), "%s%s", u, nlong == 2 ? "long long" : "long");
    } else {
        snprintf(ty->name, sizeof(ty->name), "%sint", u);
    }
    return 0;
}

bool zg_is_integer(const struct zg_type *t)
{
    return !t->pointer && (t->base == ZG_SIGNED || t->base == ZG_UNSIGNED);
}
