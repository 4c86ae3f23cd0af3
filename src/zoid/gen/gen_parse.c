/*
 * The parser of annotated headers for `zepto zoid gen`: from the tokens (gen_lex.c), the
 * top-level declarations; the function prototypes are kept with the comments attached to their
 * parameters, everything else (structs, enums, typedefs, variables, static inline functions with
 * their bodies) is skipped. Once the whole file is read the annotations are checked
 * (gen_annot.c), the hooks leave the function list and each function gets its wire layout
 * (gen_layout.c). Every error names PATH:LINE and stops the parse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoid/gen/gen_layout.h"
#include "zoid/gen/gen_parse_int.h"

/* ---- prototypes --------------------------------------------------------------------------- */

/* Identifiers the generated code uses next to the parameters. */
static bool reserved_name(const char *s)
{
    static const char *const names[] = {"errno",  "memcpy", "memset", "malloc",
                                        "calloc", "free",   "strlen", "NAN"};
    if (!strncmp(s, "zg_", 3) || !strncmp(s, "zoid_", 5))
        return true;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(s, names[i]))
            return true;
    return false;
}

/* A parameter: its tokens t[0..n) without comments, and the text of its comments (or NULL). */
static int parse_param(struct parser *ps, const char *fn, int index, const struct tok *t, int n,
                       struct zg_param *pa, struct annot *a, char *annot_text)
{
    char what[2 * ZG_NAME_MAX + 32];
    memset(pa, 0, sizeof(*pa));
    pa->line = t[0].line;
    for (int i = 0; i < n; i++) {
        if (zg_tok_is(&t[i], "["))
            return zg_fail(ps, t[i].line,
                           "%s: array parameters are not supported (a pointer with array(LEN))",
                           fn);
        if (zg_tok_is(&t[i], "("))
            return zg_fail(ps, t[i].line, "%s: function pointer parameters are not supported", fn);
        if (zg_tok_is(&t[i], "..."))
            return zg_fail(ps, t[i].line, "%s: variadic functions are not supported", fn);
    }
    const struct tok *name = &t[n - 1];
    static const char *const type_words[] = {"void",  "char",   "short",    "int",      "long",
                                             "float", "double", "signed",   "unsigned", "const",
                                             "bool",  "_Bool",  "restrict", "struct"};
    bool unnamed = name->kind != T_IDENT || n == 1;
    for (size_t i = 0; !unnamed && i < sizeof(type_words) / sizeof(type_words[0]); i++)
        unnamed = zg_tok_is(name, type_words[i]);
    if (!unnamed && n >= 2 && zg_tok_is(&t[n - 2], "struct"))
        unnamed = true; /* "struct stats" alone */
    if (unnamed)
        return zg_fail(ps, t[0].line, "%s: parameter %d has no name", fn, index + 1);
    if (zg_copy_name(ps, pa->name, name->s, name->n, name->line))
        return -EINVAL;
    if (reserved_name(pa->name))
        return zg_fail(ps, name->line, "%s: parameter name '%s' is reserved for the generated code",
                       fn, pa->name);
    snprintf(what, sizeof(what), "%s: parameter '%s'", fn, pa->name);
    if (zg_parse_type(ps, t, n - 1, name->line, what, &pa->type))
        return -EINVAL;
    a->dir = 0;
    a->kind = -1;
    if (annot_text && zg_parse_annot(ps, fn, annot_text, a))
        return -EINVAL;
    return 0;
}

static int parse_proto(struct parser *ps, const struct tok *t, int n, int open)
{
    struct zg_plugin *p = ps->p;
    const struct tok *name = &t[open - 1];
    struct zg_func f = {0};
    struct annot *annots = NULL;
    char **texts = NULL;
    int rc = 0;
    if (zg_copy_name(ps, f.name, name->s, name->n, name->line))
        return -EINVAL;
    f.line = name->line;
    if (!strncmp(f.name, "zoid_", 5))
        return zg_fail(ps, f.line, "function name '%s' is reserved (zoid_ is libzoid's prefix)",
                       f.name);

    /* The return type: what precedes the name, without comments and storage words. */
    struct tok rt[32];
    int nrt = 0;
    for (int i = 0; i < open - 1; i++) {
        if (t[i].kind == T_COMMENT || zg_tok_is(&t[i], "extern"))
            continue;
        if (nrt == 32)
            return zg_fail(ps, t[i].line, "%s: return type too long", f.name);
        rt[nrt++] = t[i];
    }
    char what[ZG_NAME_MAX + 32];
    snprintf(what, sizeof(what), "%s: return type", f.name);
    if (zg_parse_type(ps, rt, nrt, f.line, what, &f.ret))
        return -EINVAL;
    if (f.ret.pointer || f.ret.base == ZG_STRUCT)
        return zg_fail(ps, f.line,
                       "%s: unsupported return type '%s%s' (void, integers, bool, float, double)",
                       f.name, f.ret.name, f.ret.pointer ? " *" : "");

    /* Parameters: split the list at top-level commas; a comment belongs to the parameter it
     * follows (before its comma, or after it on the same line). */
    int close = open, depth = 0;
    for (; close < n; close++) {
        if (zg_tok_is(&t[close], "("))
            depth++;
        else if (zg_tok_is(&t[close], ")") && --depth == 0)
            break;
    }
    int maxp = 1;
    for (int i = open + 1; i < close; i++)
        maxp += zg_tok_is(&t[i], ",");
    f.params = calloc((size_t)maxp, sizeof(*f.params));
    annots = calloc((size_t)maxp, sizeof(*annots));
    texts = calloc((size_t)maxp, sizeof(*texts));
    struct tok *pt = calloc((size_t)(close - open) + 1, sizeof(*pt));
    if (!f.params || !annots || !texts || !pt) {
        rc = zepto_fail(ps->err, ENOMEM, "%s: out of memory", ps->path);
        goto out;
    }
    /* First split (a comment after a comma may still belong to the parameter before it),
     * then parse each parameter with all its comments. */
    int *pstart = calloc((size_t)maxp, sizeof(int)), *pcount = calloc((size_t)maxp, sizeof(int));
    if (!pstart || !pcount) {
        free(pstart);
        free(pcount);
        rc = zepto_fail(ps->err, ENOMEM, "%s: out of memory", ps->path);
        goto out;
    }
    int np = 0, npt = 0, last_comma_line = -1;
    depth = 0;
    for (int i = open + 1; i <= close && !rc; i++) {
        const struct tok *k = &t[i];
        bool end = i == close || (depth == 0 && zg_tok_is(k, ","));
        if (k->kind == T_COMMENT) {
            /* Attached to the parameter being read, or to the one just ended on this line. */
            int cur = pcount[np] ? np : (np > 0 && k->line == last_comma_line) ? np - 1 : -1;
            if (cur < 0) {
                rc = zg_fail(ps, k->line, "%s: an annotation comment must follow its parameter",
                             f.name);
                break;
            }
            size_t old = texts[cur] ? strlen(texts[cur]) : 0;
            char *s = realloc(texts[cur], old + k->n + 2);
            if (!s) {
                rc = zepto_fail(ps->err, ENOMEM, "%s: out of memory", ps->path);
                break;
            }
            s[old] = ' ';
            memcpy(s + old + 1, k->s, k->n);
            s[old + 1 + k->n] = 0;
            texts[cur] = s;
            if (!annots[cur].line)
                annots[cur].line = k->line;
            continue;
        }
        if (!end) {
            if (zg_tok_is(k, "(") || zg_tok_is(k, "["))
                depth++;
            else if (zg_tok_is(k, ")") || zg_tok_is(k, "]"))
                depth--;
            if (!pcount[np])
                pstart[np] = npt;
            pcount[np]++;
            pt[npt++] = *k;
            continue;
        }
        if (pcount[np] == 0) {
            if (!(i == close && np == 0)) /* "()" has no parameter */
                rc = zg_fail(ps, k->line, "%s: empty parameter", f.name);
            break;
        }
        np++;
        last_comma_line = k->line;
    }
    if (!rc && np == 1 && pcount[0] == 1 && zg_tok_is(&pt[0], "void")) {
        if (texts[0])
            rc = zg_fail(ps, annots[0].line, "%s: (void) takes no annotation", f.name);
        np = 0;
    }
    for (int i = 0; i < np && !rc; i++)
        rc = parse_param(ps, f.name, i, pt + pstart[i], pcount[i], &f.params[i], &annots[i],
                         texts[i]);
    free(pstart);
    free(pcount);
    f.nparams = np;
    for (int i = 0; i < np && !rc; i++)
        for (int j = 0; j < i && !rc; j++)
            if (!strcmp(f.params[i].name, f.params[j].name))
                rc = zg_fail(ps, f.params[i].line, "%s: two parameters named '%s'", f.name,
                             f.params[i].name);
    if (rc)
        goto out;

    for (int i = 0; i < p->nfuncs && !rc; i++)
        if (!strcmp(p->funcs[i].name, f.name))
            rc = zg_fail(ps, f.line, "%s declared twice (first on line %d)", f.name,
                         p->funcs[i].line);
    if (!rc && p->nfuncs == 65535)
        rc = zg_fail(ps, f.line, "more than 65535 functions");
    if (rc)
        goto out;
    /* Kept with its annotations; checked once the whole file (and the hooks) are known. */
    struct zg_func *fs = realloc(p->funcs, (size_t)(p->nfuncs + 1) * sizeof(*fs));
    if (fs)
        p->funcs = fs;
    struct annot **as = realloc(ps->annots, (size_t)(p->nfuncs + 1) * sizeof(*as));
    if (as)
        ps->annots = as;
    if (!fs || !as) {
        rc = zepto_fail(ps->err, ENOMEM, "%s: out of memory", ps->path);
        goto out;
    }
    p->funcs[p->nfuncs] = f;
    ps->annots[p->nfuncs++] = annots;
    f.params = NULL;
    annots = NULL;
out:
    for (int i = 0; i < maxp && texts; i++)
        free(texts[i]);
    free(texts);
    free(annots);
    free(pt);
    free(f.params);
    return rc;
}

/* After the whole file: the plugin's hooks leave the function list (they run in the daemon and
 * are not forwarded), and every other function's parameters are checked. */
static int hook_of(const struct zg_plugin *p, const char *name)
{
    const char *hooks[3] = {p->init, p->fini, p->gone};
    for (int h = 0; h < 3; h++)
        if (hooks[h][0] && !strcmp(hooks[h], name))
            return h;
    return -1;
}

static int check_all(struct parser *ps)
{
    struct zg_plugin *p = ps->p;
    for (int i = 0; i < p->nfuncs; i++) {
        struct zg_func *f = &p->funcs[i];
        int h = hook_of(p, f->name);
        if (h >= 0 && zg_check_hook(ps, f, h))
            return -EINVAL;
        for (int j = 0; h < 0 && j < f->nparams; j++)
            if (zg_check_param(ps, f, &f->params[j], &ps->annots[i][j]))
                return -EINVAL;
    }
    int kept = 0;
    for (int i = 0; i < p->nfuncs; i++) {
        int h = hook_of(p, p->funcs[i].name);
        if (h >= 0) {
            p->hook_declared[h] = true;
            free(p->funcs[i].params);
            free(ps->annots[i]);
            continue;
        }
        p->funcs[kept] = p->funcs[i];
        ps->annots[kept++] = ps->annots[i];
    }
    p->nfuncs = kept;
    return 0;
}

/* One top-level declaration t[0..n), comments included: a prototype is parsed, anything else
 * skipped. `body` says it ended with a function body rather than ';'. */
/* The index after an attribute group "__attribute__((...))" starting at t[i], or i. */
static int skip_attribute(const struct tok *t, int n, int i)
{
    if (!zg_tok_is(&t[i], "__attribute__") && !zg_tok_is(&t[i], "__attribute"))
        return i;
    int depth = 0, j = i + 1;
    for (; j < n; j++) {
        if (zg_tok_is(&t[j], "("))
            depth++;
        else if (zg_tok_is(&t[j], ")") && --depth == 0)
            return j + 1;
        else if (depth == 0 && t[j].kind != T_COMMENT)
            break;
    }
    return j;
}

static int parse_decl(struct parser *ps, const struct tok *t, int n, bool body)
{
    /* Without comments and attributes, which say nothing the generator needs. */
    struct tok *d = malloc((size_t)n * sizeof(*d));
    if (!d)
        return zepto_fail(ps->err, ENOMEM, "%s: out of memory", ps->path);
    int nd = 0, open = -1, depth = 0;
    for (int i = 0; i < n;) {
        int j = skip_attribute(t, n, i);
        if (j != i) {
            i = j;
            continue;
        }
        if (t[i].kind != T_COMMENT || open >= 0) {
            if (open < 0 && depth == 0 && zg_tok_is(&t[i], "("))
                open = nd;
            if (zg_tok_is(&t[i], "{"))
                depth++;
            else if (zg_tok_is(&t[i], "}"))
                depth--;
            d[nd++] = t[i];
        }
        i++;
    }
    int rc = 0;
    /* Skipped: typedefs, statics, definitions with a body, variables, structs, function
     * pointers (a '*' right after the first parenthesis), and inline functions. */
    bool proto = !body && nd > 0 && !zg_tok_is(&d[0], "typedef") && !zg_tok_is(&d[0], "static") &&
                 open > 0 && d[open - 1].kind == T_IDENT && open + 1 < nd &&
                 !zg_tok_is(&d[open + 1], "*");
    for (int i = 0; proto && i < open; i++)
        proto = !zg_tok_is(&d[i], "{") && !zg_tok_is(&d[i], "inline");
    if (proto)
        rc = parse_proto(ps, d, nd, open);
    free(d);
    return rc;
}

/* Whether the words of a comment would all be parameter annotations. */
static bool looks_like_annotation(struct parser *ps, const struct tok *t)
{
    char *text = zg_comment_text(t);
    if (!text)
        return false;
    struct annot a = {.kind = -1, .line = t->line};
    struct zepto_err *saved = ps->err, scratch;
    ps->err = &scratch;
    bool ok = zg_parse_annot(ps, "", text, &a) == 0 && (a.dir || a.kind >= 0 || a.nullable);
    ps->err = saved;
    free(text);
    return ok;
}

static int parse_all(struct parser *ps)
{
    int i = 0, extern_c = 0;
    while (ps->t[i].kind != T_EOF) {
        const struct tok *k = &ps->t[i];
        if (k->kind == T_COMMENT) {
            if (zg_starts_with_zoid(k)) {
                if (zg_parse_plugin(ps, k))
                    return -EINVAL;
            } else if (i > 0 && zg_tok_is(&ps->t[i - 1], ";") && ps->t[i - 1].line == k->line &&
                       looks_like_annotation(ps, k)) {
                return zg_fail(ps, k->line,
                               "annotations of a parameter go right after it, before the ')'");
            }
            i++;
            continue;
        }
        if (zg_tok_is(k, ";")) {
            i++;
            continue;
        }
        if (zg_tok_is(k, "extern") && ps->t[i + 1].kind == T_STRING &&
            zg_tok_is(&ps->t[i + 2], "{")) {
            extern_c++;
            i += 3;
            continue;
        }
        if (zg_tok_is(k, "}") && extern_c > 0) {
            extern_c--;
            i++;
            continue;
        }
        /* One declaration: to the ';' at depth 0, or to the end of a function body. */
        int start = i, depth = 0;
        bool body = false;
        for (; ps->t[i].kind != T_EOF; i++) {
            const struct tok *c = &ps->t[i];
            if (c->kind == T_COMMENT) {
                if (zg_starts_with_zoid(c) && depth == 0)
                    return zg_fail(ps, c->line, "a 'zoid:' annotation inside a declaration");
                continue;
            }
            if (zg_tok_is(c, "(") || zg_tok_is(c, "[") || zg_tok_is(c, "{")) {
                if (depth == 0 && zg_tok_is(c, "{")) {
                    int j = i - 1;
                    while (j > start && ps->t[j].kind == T_COMMENT)
                        j--;
                    body = zg_tok_is(&ps->t[j], ")");
                }
                depth++;
            } else if (zg_tok_is(c, ")") || zg_tok_is(c, "]") || zg_tok_is(c, "}")) {
                if (--depth < 0)
                    return zg_fail(ps, c->line, "unbalanced '%.*s'", (int)c->n, c->s);
                if (depth == 0 && body) {
                    i++;
                    break;
                }
            } else if (depth == 0 && zg_tok_is(c, ";")) {
                i++;
                break;
            }
        }
        if (depth > 0)
            return zg_fail(ps, ps->t[start].line, "declaration does not end");
        if (parse_decl(ps, ps->t + start, i - start, body))
            return -EINVAL;
    }
    return 0;
}

int zg_parse(const char *path, const char *text, size_t len, struct zg_plugin **out,
             struct zepto_err *err)
{
    struct parser ps = {.path = path, .err = err};
    *out = NULL;
    ps.p = calloc(1, sizeof(*ps.p));
    if (!ps.p)
        return zepto_fail(err, ENOMEM, "%s: out of memory", path);
    int rc = zg_tokenize(&ps, text, len);
    if (!rc)
        rc = parse_all(&ps);
    if (!rc && !ps.plugin_line)
        rc = zg_fail(&ps, 1, "no '/* zoid: plugin ID NAME */' annotation");
    static const char *const hook_names[] = {"init", "fini", "gone"};
    const char *hooks[3] = {ps.p->init, ps.p->fini, ps.p->gone};
    for (int h = 0; h < 3 && !rc; h++)
        for (int i = 0; i < h && !rc; i++)
            if (hooks[h][0] && !strcmp(hooks[h], hooks[i]))
                rc = zg_fail(&ps, ps.plugin_line, "%s=%s is also the %s hook", hook_names[h],
                             hooks[h], hook_names[i]);
    if (!rc)
        rc = check_all(&ps);
    if (!rc && ps.p->nfuncs == 0)
        rc = zg_fail(&ps, ps.plugin_line, "no function prototypes to forward");
    for (int i = 0; i < ps.p->nfuncs && !rc; i++)
        if (zg_layout_build(&ps.p->funcs[i]))
            rc = zepto_fail(err, ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < ps.p->nfuncs; i++)
        free(ps.annots[i]);
    free(ps.annots);
    free(ps.t);
    if (rc) {
        zg_free(ps.p);
        return rc;
    }
    *out = ps.p;
    return 0;
}

void zg_free(struct zg_plugin *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nfuncs; i++) {
        zg_layout_free(&p->funcs[i]);
        free(p->funcs[i].params);
    }
    free(p->funcs);
    free(p);
}

int zg_parse_file(const char *path, struct zg_plugin **out, struct zepto_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "re");
    if (!f)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    errno = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 16384;
            if (cap > (64u << 20)) {
                rc = zepto_fail(err, EFBIG, "%s: larger than 64 MiB, not a header", path);
                break;
            }
            char *b = realloc(buf, cap);
            if (!b) {
                rc = zepto_fail(err, ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = b;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                rc = zepto_fail(err, errno ? errno : EIO, "%s: %s", path,
                                errno ? strerror(errno) : "read error");
            break;
        }
    }
    fclose(f);
    if (!rc && memchr(buf, 0, len))
        rc = zepto_fail(err, EINVAL, "%s: a NUL byte: not a C header", path);
    if (!rc)
        rc = zg_parse(path, buf, len, out, err);
    free(buf);
    return rc;
}
