/*
 * The annotations of `zepto zoid gen` (docs/FORMATS.md, "ZOID annotations") and their checks:
 * the file annotation (zoid: plugin ID NAME [init=FN] [fini=FN] [gone=FN]), the words of a
 * parameter's comments, the rules that apply them to the parameter's type (defaults, directions,
 * lengths), and the signatures the plugin's hooks must have.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoid/gen/gen_parse_int.h"

/* ---- the file annotation: zoid: plugin ID NAME [init=FN] [fini=FN] [gone=FN] -------------- */

int zg_parse_plugin(struct parser *ps, const struct tok *t)
{
    char *text = zg_comment_text(t);
    if (!text)
        return zepto_fail(ps->err, ENOMEM, "%s: out of memory", ps->path);
    char *s = strstr(text, "zoid:") + 5, *w;
    int rc = 0;
    struct zg_plugin *p = ps->p;
    w = zg_next_word(&s);
    if (!w || strcmp(w, "plugin")) {
        rc = zg_fail(ps, t->line, "unknown zoid annotation '%s' (expected 'zoid: plugin ID NAME')",
                     w ? w : "");
        goto out;
    }
    if (ps->plugin_line) {
        rc = zg_fail(ps, t->line, "a second plugin annotation (the first is on line %d)",
                     ps->plugin_line);
        goto out;
    }
    ps->plugin_line = t->line;
    w = zg_next_word(&s);
    char *end = NULL;
    unsigned long id = w && isdigit((unsigned char)*w) ? strtoul(w, &end, 10) : 0;
    if (!w || !end || *end || id < 1 || id > 65535) {
        rc = zg_fail(ps, t->line, "plugin id '%s': a number from 1 to 65535", w ? w : "");
        goto out;
    }
    p->id = (unsigned)id;
    w = zg_next_word(&s);
    bool name_ok = w && *w && strlen(w) < 64;
    for (const char *c = w; name_ok && *c; c++)
        name_ok = isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.';
    if (!name_ok) {
        rc = zg_fail(ps, t->line, "plugin name '%s': letters, digits, '_', '-' or '.' (1 to 63)",
                     w ? w : "");
        goto out;
    }
    snprintf(p->name, sizeof(p->name), "%s", w);
    while ((w = zg_next_word(&s))) {
        char *eq = strchr(w, '=');
        char *dst = NULL;
        if (eq) {
            *eq = 0;
            dst = !strcmp(w, "init")   ? p->init
                  : !strcmp(w, "fini") ? p->fini
                  : !strcmp(w, "gone") ? p->gone
                                       : NULL;
        }
        if (!dst) {
            rc = zg_fail(ps, t->line, "unknown plugin option '%s%s%s' (init=FN, fini=FN, gone=FN)",
                         w, eq ? "=" : "", eq ? eq + 1 : "");
            goto out;
        }
        if (*dst) {
            rc = zg_fail(ps, t->line, "%s= given twice", w);
            goto out;
        }
        if (!zg_is_ident(eq + 1) || strlen(eq + 1) >= ZG_NAME_MAX) {
            rc = zg_fail(ps, t->line, "%s='%s': not a function name", w, eq + 1);
            goto out;
        }
        strcpy(dst, eq + 1);
    }
out:
    free(text);
    return rc;
}

/* ---- parameter annotations ---------------------------------------------------------------- */

static const char annot_list[] =
    "in, out, inout, string, array(LEN), array2d(ROWS, COLS), obj, nullable, zerocopy, filled; "
    "prose goes after a ':'";

/* Reads "(" NAME {"," NAME} ")" with exactly `want` names from *s. */
static int annot_names(struct parser *ps, const char *fn, char **s, const char *word, int want,
                       struct annot *a)
{
    char *c = *s;
    int got = 0;
    while (isspace((unsigned char)*c))
        c++;
    if (*c != '(')
        goto bad;
    c++;
    for (;;) {
        while (isspace((unsigned char)*c))
            c++;
        char *b = c;
        while (isalnum((unsigned char)*c) || *c == '_')
            c++;
        if (c == b || got == want || (size_t)(c - b) >= ZG_NAME_MAX || isdigit((unsigned char)*b))
            goto bad;
        memcpy(a->len[got], b, (size_t)(c - b));
        a->len[got][c - b] = 0;
        got++;
        while (isspace((unsigned char)*c))
            c++;
        if (*c == ')')
            break;
        if (*c != ',')
            goto bad;
        c++;
    }
    if (got != want)
        goto bad;
    *s = c + 1;
    return 0;
bad:
    return zg_fail(ps, a->line, "%s: '%s' needs %s", fn, word,
                   want == 1 ? "the name of its length parameter: array(LEN)"
                             : "two parameter names: array2d(ROWS, COLS)");
}

int zg_parse_annot(struct parser *ps, const char *fn, char *text, struct annot *a)
{
    char *s = text;
    while (isspace((unsigned char)*s))
        s++;
    if (!strncmp(s, "zoid:", 5))
        s += 5;
    char *colon = strchr(s, ':');
    if (colon)
        *colon = 0;
    for (;;) {
        while (isspace((unsigned char)*s) || *s == ',')
            s++;
        if (!*s)
            return 0;
        char word[32];
        size_t n = 0;
        while ((isalnum((unsigned char)s[n]) || s[n] == '_') && n < sizeof(word) - 1)
            n++;
        if (n == 0) {
            return zg_fail(ps, a->line, "%s: unexpected '%c' in an annotation (%s)", fn, *s,
                           annot_list);
        }
        memcpy(word, s, n);
        word[n] = 0;
        s += n;
        int dir = !strcmp(word, "in")      ? ZG_IN
                  : !strcmp(word, "out")   ? ZG_OUT
                  : !strcmp(word, "inout") ? ZG_INOUT
                                           : 0;
        int kind = !strcmp(word, "string")    ? ZG_STRING
                   : !strcmp(word, "obj")     ? ZG_OBJ
                   : !strcmp(word, "array")   ? ZG_ARRAY
                   : !strcmp(word, "array2d") ? ZG_ARRAY2D
                                              : -1;
        if (dir) {
            if (a->dir)
                return zg_fail(ps, a->line, "%s: two directions ('%s' after '%s')", fn, word,
                               a->dir == ZG_IN    ? "in"
                               : a->dir == ZG_OUT ? "out"
                                                  : "inout");
            a->dir = dir;
        } else if (kind >= 0) {
            if (a->kind >= 0)
                return zg_fail(ps, a->line, "%s: '%s' with another of string, obj, array, array2d",
                               fn, word);
            a->kind = kind;
            if ((kind == ZG_ARRAY || kind == ZG_ARRAY2D) &&
                annot_names(ps, fn, &s, word, kind == ZG_ARRAY ? 1 : 2, a))
                return -EINVAL;
        } else if (!strcmp(word, "nullable") || !strcmp(word, "zerocopy") ||
                   !strcmp(word, "filled")) {
            bool *flag = word[0] == 'n' ? &a->nullable : word[0] == 'z' ? &a->zerocopy : &a->filled;
            if (*flag)
                return zg_fail(ps, a->line, "%s: '%s' given twice", fn, word);
            *flag = true;
        } else {
            return zg_fail(ps, a->line, "%s: unknown annotation '%s' (%s)", fn, word, annot_list);
        }
    }
}

static int find_param(const struct zg_func *f, const char *name)
{
    for (int i = 0; i < f->nparams; i++)
        if (!strcmp(f->params[i].name, name))
            return i;
    return -1;
}

/* Applies a parameter's annotations to it: defaults, and every rule of the language. */
int zg_check_param(struct parser *ps, const struct zg_func *f, struct zg_param *pa,
                   const struct annot *a)
{
    const struct zg_type *ty = &pa->type;
    int line = a->line ? a->line : pa->line;
    const char *fn = f->name, *nm = pa->name;
    static const char *const dirs[] = {"", "in", "out", "inout"};
    static const char *const kinds[] = {"", "string", "array", "array2d", "obj"};
    pa->nullable = a->nullable;
    pa->zerocopy = a->zerocopy;
    pa->filled = a->filled;
    if (!ty->pointer) {
        if (ty->base == ZG_VOID)
            return zg_fail(ps, pa->line, "%s: '%s' cannot be void", fn, nm);
        if (ty->base == ZG_STRUCT)
            return zg_fail(ps, pa->line, "%s: '%s': structs go by pointer ('%s *%s', obj)", fn, nm,
                           ty->name, nm);
        if (a->dir == ZG_OUT || a->dir == ZG_INOUT)
            return zg_fail(ps, line, "%s: '%s' is %s but not a pointer", fn, nm, dirs[a->dir]);
        if (a->kind >= 0)
            return zg_fail(ps, line, "%s: '%s' is %s but not a pointer", fn, nm, kinds[a->kind]);
        if (a->nullable || a->zerocopy || a->filled)
            return zg_fail(ps, line, "%s: '%s' is %s but not a pointer", fn, nm,
                           a->nullable   ? "nullable"
                           : a->zerocopy ? "zerocopy"
                                         : "filled");
        pa->kind = ZG_VALUE;
        pa->dir = ZG_IN;
        return 0;
    }
    int kind = a->kind;
    if (kind < 0) {
        if (ty->base == ZG_VOID)
            return zg_fail(ps, line, "%s: '%s' is void *: say array(LEN) or array2d(ROWS, COLS)",
                           fn, nm);
        if (ty->base == ZG_CHAR && ty->is_const)
            return zg_fail(ps, line, "%s: '%s' is const char *: say string, array(LEN) or obj", fn,
                           nm);
        kind = ZG_OBJ;
    }
    pa->kind = (enum zg_kind)kind;
    if (kind == ZG_STRING) {
        if (ty->base != ZG_CHAR || !ty->is_const)
            return zg_fail(ps, line, "%s: '%s' is a string, so it must be const char *", fn, nm);
        if (a->dir && a->dir != ZG_IN)
            return zg_fail(ps, line, "%s: string '%s' can only be in", fn, nm);
    }
    if (ty->base == ZG_VOID && kind != ZG_ARRAY && kind != ZG_ARRAY2D)
        return zg_fail(ps, line, "%s: '%s' is void *: only array(LEN) or array2d(ROWS, COLS)", fn,
                       nm);
    if (ty->base == ZG_STRUCT && kind != ZG_OBJ)
        return zg_fail(ps, line, "%s: '%s' points to a struct: only obj", fn, nm);
    if (a->zerocopy && kind != ZG_ARRAY && kind != ZG_ARRAY2D)
        return zg_fail(ps, line, "%s: '%s': zerocopy applies to arrays", fn, nm);
    if (a->filled) {
        /* The daemon zeroes only what the function did not write: the return value must say. */
        if (kind != ZG_ARRAY || ty->base != ZG_VOID || a->dir != ZG_OUT || a->nullable)
            return zg_fail(
                ps, line, "%s: '%s': filled applies to an out array of void, not nullable", fn, nm);
        if (f->ret.pointer || f->ret.base != ZG_SIGNED)
            return zg_fail(ps, line,
                           "%s: '%s' is filled, so %s must return a signed count of bytes", fn, nm,
                           fn);
        for (const struct zg_param *o = f->params; o < pa; o++)
            if (o->filled)
                return zg_fail(ps, line, "%s: '%s' and '%s' are both filled: one at most", fn,
                               o->name, nm);
    }
    if (a->dir) {
        pa->dir = (enum zg_dir)a->dir;
        if (ty->is_const && pa->dir != ZG_IN)
            return zg_fail(ps, line, "%s: '%s' is const, so it cannot be %s", fn, nm,
                           dirs[pa->dir]);
    } else if (ty->is_const) {
        pa->dir = ZG_IN;
    } else {
        return zg_fail(ps, line, "%s: '%s' is a pointer to non-const: say in, out or inout", fn,
                       nm);
    }
    int nlen = kind == ZG_ARRAY ? 1 : kind == ZG_ARRAY2D ? 2 : 0;
    for (int k = 0; k < nlen; k++) {
        int j = find_param(f, a->len[k]);
        if (j < 0)
            return zg_fail(ps, line, "%s: %s(%s...): %s has no parameter '%s'", fn, kinds[kind],
                           a->len[0], fn, a->len[k]);
        if (&f->params[j] == pa)
            return zg_fail(ps, line, "%s: '%s' cannot be its own length", fn, nm);
        if (!zg_is_integer(&f->params[j].type))
            return zg_fail(ps, line, "%s: length '%s' of '%s' must be an integer passed by value",
                           fn, a->len[k], nm);
        pa->len[k] = j;
    }
    return 0;
}

/* void * (not const): the plugin's and the client's state. */
static bool is_void_ptr(const struct zg_type *t)
{
    return t->pointer && t->base == ZG_VOID && !t->is_const;
}

/* API 2: int init(struct zoid_host *), void fini(void *plugin_state),
 * void gone(void *plugin_state, void *client_state). */
int zg_check_hook(struct parser *ps, const struct zg_func *f, int which)
{
    static const char *const sig[] = {"int %s(struct zoid_host *host)",
                                      "void %s(void *plugin_state)",
                                      "void %s(void *plugin_state, void *client_state)"};
    const struct zg_type *r = &f->ret;
    bool ok;
    const struct zg_param *a = f->params;
    if (which == 0)
        ok = !r->pointer && r->base == ZG_SIGNED && !strcmp(r->name, "int") && f->nparams == 1 &&
             a[0].type.pointer && a[0].type.base == ZG_STRUCT && !a[0].type.is_const &&
             !strcmp(a[0].type.name, "struct zoid_host");
    else
        ok = !r->pointer && r->base == ZG_VOID && f->nparams == which;
    for (int i = 0; which > 0 && ok && i < f->nparams; i++)
        ok = is_void_ptr(&a[i].type);
    if (ok)
        return 0;
    char want[ZG_NAME_MAX + 64];
    snprintf(want, sizeof(want), sig[which], f->name);
    return zg_fail(ps, f->line, "%s is the plugin's %s hook: it must be %s", f->name,
                   which == 0   ? "init"
                   : which == 1 ? "fini"
                                : "gone",
                   want);
}
