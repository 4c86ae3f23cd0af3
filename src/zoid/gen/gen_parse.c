/*
 * The reader of annotated headers for `zepto zoid gen`: a tokenizer for the part of C that
 * headers hold, and a parser that keeps the function prototypes and reads the comments attached
 * to their parameters (docs/FORMATS.md, "ZOID annotations").
 *
 * It does not preprocess: directives are skipped whole, so a prototype hidden behind #if is still
 * seen, and macros are not expanded (a type spelled through a macro or a typedef is refused as an
 * unknown type, which is the safe answer: the generator must know every size it encodes).
 * Declarations that are not prototypes (structs, enums, typedefs, variables, static inline
 * functions with their bodies) are skipped. Every error names PATH:LINE and stops the parse.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoid/gen/gen.h"

/* ---- tokens ------------------------------------------------------------------------------- */

enum tok_kind { T_IDENT, T_NUMBER, T_STRING, T_PUNCT, T_COMMENT, T_EOF };

struct tok {
    enum tok_kind kind;
    const char *s; /* the text (a comment's without its delimiters) */
    size_t n;
    int line; /* where it starts */
};

/* What the comments after one parameter said, before the names in it are resolved. */
struct annot {
    int dir;  /* 0: not given */
    int kind; /* -1: not given; else enum zg_kind */
    bool nullable, zerocopy;
    char len[2][ZG_NAME_MAX];
    int line;
};

struct parser {
    const char *path;
    struct tok *t;
    int n, cap;
    struct zepto_err *err;
    struct zg_plugin *p;
    struct annot **annots; /* for each of p->funcs: its parameters' annotations */
    int plugin_line;       /* of the plugin annotation; 0 before it */
};

static int fail(struct parser *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, int line, const char *fmt, ...)
{
    char msg[ZEPTO_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return zepto_fail(ps->err, EINVAL, "%s:%d: %s", ps->path, line, msg);
}

static bool tok_is(const struct tok *t, const char *s)
{
    return (t->kind == T_IDENT || t->kind == T_PUNCT) && t->n == strlen(s) &&
           !memcmp(t->s, s, t->n);
}

static int push(struct parser *ps, enum tok_kind kind, const char *s, size_t n, int line)
{
    if (ps->n == ps->cap) {
        int cap = ps->cap ? 2 * ps->cap : 256;
        struct tok *t = realloc(ps->t, (size_t)cap * sizeof(*t));
        if (!t)
            return zepto_fail(ps->err, ENOMEM, "%s: out of memory", ps->path);
        ps->t = t;
        ps->cap = cap;
    }
    ps->t[ps->n++] = (struct tok){kind, s, n, line};
    return 0;
}

/* Skips a block comment starting at s[i] == '/', s[i+1] == '*'; returns the index after it. */
static size_t skip_block_comment(struct parser *ps, const char *s, size_t len, size_t i, int *line,
                                 int *rc)
{
    int start = *line;
    for (i += 2; i + 1 < len; i++) {
        if (s[i] == '*' && s[i + 1] == '/')
            return i + 2;
        if (s[i] == '\n')
            (*line)++;
    }
    *rc = fail(ps, start, "unterminated comment");
    return len;
}

static int tokenize(struct parser *ps, const char *s, size_t len)
{
    int line = 1, rc = 0;
    bool line_start = true; /* only blanks so far on this line */
    size_t i = 0;
    while (i < len && !rc) {
        char c = s[i];
        if (c == '\n') {
            line++;
            line_start = true;
            i++;
        } else if (isspace((unsigned char)c)) {
            i++;
        } else if (c == '#' && line_start) {
            /* A directive: to the end of the line, continuations and comments included. */
            while (i < len && s[i] != '\n' && !rc) {
                if (s[i] == '\\' && i + 1 < len && s[i + 1] == '\n') {
                    line++;
                    i += 2;
                } else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
                    i = skip_block_comment(ps, s, len, i, &line, &rc);
                } else if (s[i] == '/' && i + 1 < len && s[i + 1] == '/') {
                    while (i < len && s[i] != '\n')
                        i++;
                } else {
                    i++;
                }
            }
        } else if (c == '/' && i + 1 < len && s[i + 1] == '*') {
            int at = line;
            size_t end = skip_block_comment(ps, s, len, i, &line, &rc);
            if (!rc)
                rc = push(ps, T_COMMENT, s + i + 2, end - i - 4, at);
            i = end;
            line_start = false;
        } else if (c == '/' && i + 1 < len && s[i + 1] == '/') {
            size_t j = i + 2;
            while (j < len && s[j] != '\n')
                j++;
            rc = push(ps, T_COMMENT, s + i + 2, j - i - 2, line);
            i = j;
        } else if (isalpha((unsigned char)c) || c == '_') {
            size_t j = i + 1;
            while (j < len && (isalnum((unsigned char)s[j]) || s[j] == '_'))
                j++;
            rc = push(ps, T_IDENT, s + i, j - i, line);
            i = j;
            line_start = false;
        } else if (isdigit((unsigned char)c)) {
            size_t j = i + 1;
            while (j < len && (isalnum((unsigned char)s[j]) || s[j] == '_' || s[j] == '.'))
                j++;
            rc = push(ps, T_NUMBER, s + i, j - i, line);
            i = j;
            line_start = false;
        } else if (c == '"' || c == '\'') {
            size_t j = i + 1;
            while (j < len && s[j] != c && s[j] != '\n')
                j += s[j] == '\\' ? 2 : 1;
            if (j >= len || s[j] != c)
                return fail(ps, line, "unterminated %s literal", c == '"' ? "string" : "character");
            rc = push(ps, T_STRING, s + i, j + 1 - i, line);
            i = j + 1;
            line_start = false;
        } else if (c == '.' && i + 2 < len && s[i + 1] == '.' && s[i + 2] == '.') {
            rc = push(ps, T_PUNCT, s + i, 3, line);
            i += 3;
            line_start = false;
        } else {
            rc = push(ps, T_PUNCT, s + i, 1, line);
            i++;
            line_start = false;
        }
    }
    return rc ? rc : push(ps, T_EOF, s + len, 0, line);
}

/* ---- small text helpers ------------------------------------------------------------------- */

bool zg_is_ident(const char *s)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

static int copy_name(struct parser *ps, char *dst, const char *s, size_t n, int line)
{
    if (n >= ZG_NAME_MAX)
        return fail(ps, line, "name '%.40s...' is too long", s);
    memcpy(dst, s, n);
    dst[n] = 0;
    return 0;
}

/* Blank-separated words of a comment, in place: returns the next word and advances *s. */
static char *next_word(char **s)
{
    char *w = *s;
    while (*w && isspace((unsigned char)*w))
        w++;
    if (!*w)
        return NULL;
    char *e = w;
    while (*e && !isspace((unsigned char)*e))
        e++;
    if (*e)
        *e++ = 0;
    *s = e;
    return w;
}

/* The comment's text as a C string with blanks trimmed (caller frees). */
static char *comment_text(const struct tok *t)
{
    char *s = malloc(t->n + 1);
    if (!s)
        return NULL;
    memcpy(s, t->s, t->n);
    s[t->n] = 0;
    return s;
}

static bool starts_with_zoid(const struct tok *t)
{
    size_t i = 0;
    while (i < t->n && isspace((unsigned char)t->s[i]))
        i++;
    return t->n - i >= 5 && !memcmp(t->s + i, "zoid:", 5);
}

/* ---- the file annotation: zoid: plugin ID NAME [init=FN] [fini=FN] [gone=FN] -------------- */

static int parse_plugin(struct parser *ps, const struct tok *t)
{
    char *text = comment_text(t);
    if (!text)
        return zepto_fail(ps->err, ENOMEM, "%s: out of memory", ps->path);
    char *s = strstr(text, "zoid:") + 5, *w;
    int rc = 0;
    struct zg_plugin *p = ps->p;
    w = next_word(&s);
    if (!w || strcmp(w, "plugin")) {
        rc = fail(ps, t->line, "unknown zoid annotation '%s' (expected 'zoid: plugin ID NAME')",
                  w ? w : "");
        goto out;
    }
    if (ps->plugin_line) {
        rc = fail(ps, t->line, "a second plugin annotation (the first is on line %d)",
                  ps->plugin_line);
        goto out;
    }
    ps->plugin_line = t->line;
    w = next_word(&s);
    char *end = NULL;
    unsigned long id = w && isdigit((unsigned char)*w) ? strtoul(w, &end, 10) : 0;
    if (!w || !end || *end || id < 1 || id > 65535) {
        rc = fail(ps, t->line, "plugin id '%s': a number from 1 to 65535", w ? w : "");
        goto out;
    }
    p->id = (unsigned)id;
    w = next_word(&s);
    bool name_ok = w && *w && strlen(w) < 64;
    for (const char *c = w; name_ok && *c; c++)
        name_ok = isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.';
    if (!name_ok) {
        rc = fail(ps, t->line, "plugin name '%s': letters, digits, '_', '-' or '.' (1 to 63)",
                  w ? w : "");
        goto out;
    }
    snprintf(p->name, sizeof(p->name), "%s", w);
    while ((w = next_word(&s))) {
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
            rc = fail(ps, t->line, "unknown plugin option '%s%s%s' (init=FN, fini=FN, gone=FN)", w,
                      eq ? "=" : "", eq ? eq + 1 : "");
            goto out;
        }
        if (*dst) {
            rc = fail(ps, t->line, "%s= given twice", w);
            goto out;
        }
        if (!zg_is_ident(eq + 1) || strlen(eq + 1) >= ZG_NAME_MAX) {
            rc = fail(ps, t->line, "%s='%s': not a function name", w, eq + 1);
            goto out;
        }
        strcpy(dst, eq + 1);
    }
out:
    free(text);
    return rc;
}

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
static int parse_type(struct parser *ps, const struct tok *t, int n, int line, const char *what,
                      struct zg_type *ty)
{
    int nsigned = 0, nunsigned = 0, nshort = 0, nlong = 0, nint = 0, nchar = 0, stars = 0;
    const char *named = NULL;
    char tag[ZG_NAME_MAX] = "";
    memset(ty, 0, sizeof(*ty));
    for (int i = 0; i < n; i++) {
        const struct tok *k = &t[i];
        if (tok_is(k, "*")) {
            if (++stars > 1)
                return fail(ps, k->line, "%s: pointers to pointers are not supported", what);
        } else if (tok_is(k, "const")) {
            if (!stars)
                ty->is_const = true; /* a const after the '*' is the parameter's own */
        } else if (tok_is(k, "restrict") || tok_is(k, "__restrict") || tok_is(k, "__restrict__")) {
            if (!stars)
                return fail(ps, k->line, "%s: restrict applies to a pointer", what);
            ty->restrict_ptr = true;
        } else if (stars) {
            return fail(ps, k->line, "%s: unexpected '%.*s' after '*'", what, (int)k->n, k->s);
        } else if (tok_is(k, "volatile")) {
            return fail(ps, k->line, "%s: volatile is not supported", what);
        } else if (tok_is(k, "signed")) {
            nsigned++;
        } else if (tok_is(k, "unsigned")) {
            nunsigned++;
        } else if (tok_is(k, "short")) {
            nshort++;
        } else if (tok_is(k, "long")) {
            nlong++;
        } else if (tok_is(k, "int")) {
            nint++;
        } else if (tok_is(k, "char")) {
            nchar++;
        } else if (tok_is(k, "struct")) {
            if (named || i + 1 >= n || t[i + 1].kind != T_IDENT)
                return fail(ps, k->line, "%s: 'struct' needs a tag name", what);
            i++;
            if (copy_name(ps, tag, t[i].s, t[i].n, t[i].line))
                return -EINVAL;
            named = "struct";
        } else if (tok_is(k, "enum") || tok_is(k, "union")) {
            return fail(ps, k->line, "%s: %.*s types are not supported (%s)", what, (int)k->n, k->s,
                        tok_is(k, "enum") ? "pass an int" : "use a struct");
        } else if (k->kind == T_IDENT) {
            size_t j;
            for (j = 0; j < sizeof(named_types) / sizeof(named_types[0]); j++)
                if (tok_is(k, named_types[j].name))
                    break;
            if (j == sizeof(named_types) / sizeof(named_types[0]))
                return fail(ps, k->line,
                            "%s: unknown type '%.*s' (scalars, struct NAME, void; no typedefs)",
                            what, (int)k->n, k->s);
            if (named)
                return fail(ps, k->line, "%s: two type names", what);
            named = named_types[j].name;
            ty->base = named_types[j].base;
        } else {
            return fail(ps, k->line, "%s: unexpected '%.*s' in a type", what, (int)k->n, k->s);
        }
    }
    ty->pointer = stars == 1;
    int nint_words = nsigned + nunsigned + nshort + nlong + nint + nchar;
    if (named) {
        if (nint_words)
            return fail(ps, line, "%s: '%s' with integer words is not a type", what, named);
        if (!strcmp(named, "struct")) {
            ty->base = ZG_STRUCT;
            snprintf(ty->name, sizeof(ty->name), "struct %s", tag);
        } else {
            snprintf(ty->name, sizeof(ty->name), "%s", !strcmp(named, "_Bool") ? "bool" : named);
        }
        return 0;
    }
    if (!nint_words)
        return fail(ps, line, "%s: no type", what);
    if ((nsigned && nunsigned) || nsigned > 1 || nunsigned > 1 || nint > 1 || nchar > 1 ||
        nshort > 1 || nlong > 2 || (nshort && nlong) || (nchar && (nshort || nlong || nint)))
        return fail(ps, line, "%s: not a valid integer type", what);
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

static bool is_integer(const struct zg_type *t)
{
    return !t->pointer && (t->base == ZG_SIGNED || t->base == ZG_UNSIGNED);
}

/* ---- parameter annotations ---------------------------------------------------------------- */

static const char annot_list[] =
    "in, out, inout, string, array(LEN), array2d(ROWS, COLS), obj, nullable, zerocopy; "
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
    return fail(ps, a->line, "%s: '%s' needs %s", fn, word,
                want == 1 ? "the name of its length parameter: array(LEN)"
                          : "two parameter names: array2d(ROWS, COLS)");
}

static int parse_annot(struct parser *ps, const char *fn, char *text, struct annot *a)
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
            return fail(ps, a->line, "%s: unexpected '%c' in an annotation (%s)", fn, *s,
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
                return fail(ps, a->line, "%s: two directions ('%s' after '%s')", fn, word,
                            a->dir == ZG_IN    ? "in"
                            : a->dir == ZG_OUT ? "out"
                                               : "inout");
            a->dir = dir;
        } else if (kind >= 0) {
            if (a->kind >= 0)
                return fail(ps, a->line, "%s: '%s' with another of string, obj, array, array2d", fn,
                            word);
            a->kind = kind;
            if ((kind == ZG_ARRAY || kind == ZG_ARRAY2D) &&
                annot_names(ps, fn, &s, word, kind == ZG_ARRAY ? 1 : 2, a))
                return -EINVAL;
        } else if (!strcmp(word, "nullable") || !strcmp(word, "zerocopy")) {
            bool *flag = word[0] == 'n' ? &a->nullable : &a->zerocopy;
            if (*flag)
                return fail(ps, a->line, "%s: '%s' given twice", fn, word);
            *flag = true;
        } else {
            return fail(ps, a->line, "%s: unknown annotation '%s' (%s)", fn, word, annot_list);
        }
    }
}

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
        if (tok_is(&t[i], "["))
            return fail(ps, t[i].line,
                        "%s: array parameters are not supported (a pointer with array(LEN))", fn);
        if (tok_is(&t[i], "("))
            return fail(ps, t[i].line, "%s: function pointer parameters are not supported", fn);
        if (tok_is(&t[i], "..."))
            return fail(ps, t[i].line, "%s: variadic functions are not supported", fn);
    }
    const struct tok *name = &t[n - 1];
    static const char *const type_words[] = {"void",  "char",   "short",    "int",      "long",
                                             "float", "double", "signed",   "unsigned", "const",
                                             "bool",  "_Bool",  "restrict", "struct"};
    bool unnamed = name->kind != T_IDENT || n == 1;
    for (size_t i = 0; !unnamed && i < sizeof(type_words) / sizeof(type_words[0]); i++)
        unnamed = tok_is(name, type_words[i]);
    if (!unnamed && n >= 2 && tok_is(&t[n - 2], "struct"))
        unnamed = true; /* "struct stats" alone */
    if (unnamed)
        return fail(ps, t[0].line, "%s: parameter %d has no name", fn, index + 1);
    if (copy_name(ps, pa->name, name->s, name->n, name->line))
        return -EINVAL;
    if (reserved_name(pa->name))
        return fail(ps, name->line, "%s: parameter name '%s' is reserved for the generated code",
                    fn, pa->name);
    snprintf(what, sizeof(what), "%s: parameter '%s'", fn, pa->name);
    if (parse_type(ps, t, n - 1, name->line, what, &pa->type))
        return -EINVAL;
    a->dir = 0;
    a->kind = -1;
    if (annot_text && parse_annot(ps, fn, annot_text, a))
        return -EINVAL;
    return 0;
}

static int find_param(const struct zg_func *f, const char *name)
{
    for (int i = 0; i < f->nparams; i++)
        if (!strcmp(f->params[i].name, name))
            return i;
    return -1;
}

/* Applies a parameter's annotations to it: defaults, and every rule of the language. */
static int check_param(struct parser *ps, const struct zg_func *f, struct zg_param *pa,
                       const struct annot *a)
{
    const struct zg_type *ty = &pa->type;
    int line = a->line ? a->line : pa->line;
    const char *fn = f->name, *nm = pa->name;
    static const char *const dirs[] = {"", "in", "out", "inout"};
    static const char *const kinds[] = {"", "string", "array", "array2d", "obj"};
    pa->nullable = a->nullable;
    pa->zerocopy = a->zerocopy;
    if (!ty->pointer) {
        if (ty->base == ZG_VOID)
            return fail(ps, pa->line, "%s: '%s' cannot be void", fn, nm);
        if (ty->base == ZG_STRUCT)
            return fail(ps, pa->line, "%s: '%s': structs go by pointer ('%s *%s', obj)", fn, nm,
                        ty->name, nm);
        if (a->dir == ZG_OUT || a->dir == ZG_INOUT)
            return fail(ps, line, "%s: '%s' is %s but not a pointer", fn, nm, dirs[a->dir]);
        if (a->kind >= 0)
            return fail(ps, line, "%s: '%s' is %s but not a pointer", fn, nm, kinds[a->kind]);
        if (a->nullable || a->zerocopy)
            return fail(ps, line, "%s: '%s' is %s but not a pointer", fn, nm,
                        a->nullable ? "nullable" : "zerocopy");
        pa->kind = ZG_VALUE;
        pa->dir = ZG_IN;
        return 0;
    }
    int kind = a->kind;
    if (kind < 0) {
        if (ty->base == ZG_VOID)
            return fail(ps, line, "%s: '%s' is void *: say array(LEN) or array2d(ROWS, COLS)", fn,
                        nm);
        if (ty->base == ZG_CHAR && ty->is_const)
            return fail(ps, line, "%s: '%s' is const char *: say string, array(LEN) or obj", fn,
                        nm);
        kind = ZG_OBJ;
    }
    pa->kind = (enum zg_kind)kind;
    if (kind == ZG_STRING) {
        if (ty->base != ZG_CHAR || !ty->is_const)
            return fail(ps, line, "%s: '%s' is a string, so it must be const char *", fn, nm);
        if (a->dir && a->dir != ZG_IN)
            return fail(ps, line, "%s: string '%s' can only be in", fn, nm);
    }
    if (ty->base == ZG_VOID && kind != ZG_ARRAY && kind != ZG_ARRAY2D)
        return fail(ps, line, "%s: '%s' is void *: only array(LEN) or array2d(ROWS, COLS)", fn, nm);
    if (ty->base == ZG_STRUCT && kind != ZG_OBJ)
        return fail(ps, line, "%s: '%s' points to a struct: only obj", fn, nm);
    if (a->zerocopy && kind != ZG_ARRAY && kind != ZG_ARRAY2D)
        return fail(ps, line, "%s: '%s': zerocopy applies to arrays", fn, nm);
    if (a->dir) {
        pa->dir = (enum zg_dir)a->dir;
        if (ty->is_const && pa->dir != ZG_IN)
            return fail(ps, line, "%s: '%s' is const, so it cannot be %s", fn, nm, dirs[pa->dir]);
    } else if (ty->is_const) {
        pa->dir = ZG_IN;
    } else {
        return fail(ps, line, "%s: '%s' is a pointer to non-const: say in, out or inout", fn, nm);
    }
    int nlen = kind == ZG_ARRAY ? 1 : kind == ZG_ARRAY2D ? 2 : 0;
    for (int k = 0; k < nlen; k++) {
        int j = find_param(f, a->len[k]);
        if (j < 0)
            return fail(ps, line, "%s: %s(%s...): %s has no parameter '%s'", fn, kinds[kind],
                        a->len[0], fn, a->len[k]);
        if (&f->params[j] == pa)
            return fail(ps, line, "%s: '%s' cannot be its own length", fn, nm);
        if (!is_integer(&f->params[j].type))
            return fail(ps, line, "%s: length '%s' of '%s' must be an integer passed by value", fn,
                        a->len[k], nm);
        pa->len[k] = j;
    }
    return 0;
}

static int check_hook(struct parser *ps, const struct zg_func *f, int which)
{
    static const char *const sig[] = {"int %s(struct zoid_host *host)",
                                      "void %s(void *plugin_state)",
                                      "void %s(void *plugin_state, void *client_state)"};
    const struct zg_type *r = &f->ret;
    int want_void = which == 1 ? 1 : which == 2 ? 2 : 0;
    bool ok = !r->pointer && f->nparams == (which == 0 ? 1 : want_void);
    if (which == 0)
        ok = ok && r->base == ZG_SIGNED && !strcmp(r->name, "int") && f->params[0].type.pointer &&
             !f->params[0].type.is_const && !strcmp(f->params[0].type.name, "struct zoid_host");
    else
        ok = ok && r->base == ZG_VOID;
    for (int i = 0; ok && which != 0 && i < want_void; i++)
        ok = f->params[i].type.pointer && f->params[i].type.base == ZG_VOID &&
             !f->params[i].type.is_const;
    if (ok)
        return 0;
    char want[ZG_NAME_MAX + 32];
    snprintf(want, sizeof(want), sig[which], f->name);
    return fail(ps, f->line, "%s is the plugin's %s hook: it must be %s", f->name,
                which == 0   ? "init"
                : which == 1 ? "fini"
                             : "gone",
                want);
}

/* One prototype: tokens t[0..n) of the declaration, comments included. */
static int parse_proto(struct parser *ps, const struct tok *t, int n, int open)
{
    struct zg_plugin *p = ps->p;
    const struct tok *name = &t[open - 1];
    struct zg_func f = {0};
    struct annot *annots = NULL;
    char **texts = NULL;
    int rc = 0;
    if (copy_name(ps, f.name, name->s, name->n, name->line))
        return -EINVAL;
    f.line = name->line;
    if (!strncmp(f.name, "zoid_", 5))
        return fail(ps, f.line, "function name '%s' is reserved (zoid_ is libzoid's prefix)",
                    f.name);

    /* The return type: what precedes the name, without comments and storage words. */
    struct tok rt[32];
    int nrt = 0;
    for (int i = 0; i < open - 1; i++) {
        if (t[i].kind == T_COMMENT || tok_is(&t[i], "extern"))
            continue;
        if (nrt == 32)
            return fail(ps, t[i].line, "%s: return type too long", f.name);
        rt[nrt++] = t[i];
    }
    char what[ZG_NAME_MAX + 32];
    snprintf(what, sizeof(what), "%s: return type", f.name);
    if (parse_type(ps, rt, nrt, f.line, what, &f.ret))
        return -EINVAL;
    if (f.ret.pointer || f.ret.base == ZG_STRUCT)
        return fail(ps, f.line,
                    "%s: unsupported return type '%s%s' (void, integers, bool, float, double)",
                    f.name, f.ret.name, f.ret.pointer ? " *" : "");

    /* Parameters: split the list at top-level commas; a comment belongs to the parameter it
     * follows (before its comma, or after it on the same line). */
    int close = open, depth = 0;
    for (; close < n; close++) {
        if (tok_is(&t[close], "("))
            depth++;
        else if (tok_is(&t[close], ")") && --depth == 0)
            break;
    }
    int maxp = 1;
    for (int i = open + 1; i < close; i++)
        maxp += tok_is(&t[i], ",");
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
        bool end = i == close || (depth == 0 && tok_is(k, ","));
        if (k->kind == T_COMMENT) {
            /* Attached to the parameter being read, or to the one just ended on this line. */
            int cur = pcount[np] ? np : (np > 0 && k->line == last_comma_line) ? np - 1 : -1;
            if (cur < 0) {
                rc = fail(ps, k->line, "%s: an annotation comment must follow its parameter",
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
            if (tok_is(k, "(") || tok_is(k, "["))
                depth++;
            else if (tok_is(k, ")") || tok_is(k, "]"))
                depth--;
            if (!pcount[np])
                pstart[np] = npt;
            pcount[np]++;
            pt[npt++] = *k;
            continue;
        }
        if (pcount[np] == 0) {
            if (!(i == close && np == 0)) /* "()" has no parameter */
                rc = fail(ps, k->line, "%s: empty parameter", f.name);
            break;
        }
        np++;
        last_comma_line = k->line;
    }
    if (!rc && np == 1 && pcount[0] == 1 && tok_is(&pt[0], "void")) {
        if (texts[0])
            rc = fail(ps, annots[0].line, "%s: (void) takes no annotation", f.name);
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
                rc = fail(ps, f.params[i].line, "%s: two parameters named '%s'", f.name,
                          f.params[i].name);
    if (rc)
        goto out;

    for (int i = 0; i < p->nfuncs && !rc; i++)
        if (!strcmp(p->funcs[i].name, f.name))
            rc = fail(ps, f.line, "%s declared twice (first on line %d)", f.name, p->funcs[i].line);
    if (!rc && p->nfuncs == 65535)
        rc = fail(ps, f.line, "more than 65535 functions");
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
        if (h >= 0 && check_hook(ps, f, h))
            return -EINVAL;
        for (int j = 0; h < 0 && j < f->nparams; j++)
            if (check_param(ps, f, &f->params[j], &ps->annots[i][j]))
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
    if (!tok_is(&t[i], "__attribute__") && !tok_is(&t[i], "__attribute"))
        return i;
    int depth = 0, j = i + 1;
    for (; j < n; j++) {
        if (tok_is(&t[j], "("))
            depth++;
        else if (tok_is(&t[j], ")") && --depth == 0)
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
            if (open < 0 && depth == 0 && tok_is(&t[i], "("))
                open = nd;
            if (tok_is(&t[i], "{"))
                depth++;
            else if (tok_is(&t[i], "}"))
                depth--;
            d[nd++] = t[i];
        }
        i++;
    }
    int rc = 0;
    /* Skipped: typedefs, statics, definitions with a body, variables, structs, function
     * pointers (a '*' right after the first parenthesis), and inline functions. */
    bool proto = !body && nd > 0 && !tok_is(&d[0], "typedef") && !tok_is(&d[0], "static") &&
                 open > 0 && d[open - 1].kind == T_IDENT && open + 1 < nd &&
                 !tok_is(&d[open + 1], "*");
    for (int i = 0; proto && i < open; i++)
        proto = !tok_is(&d[i], "{") && !tok_is(&d[i], "inline");
    if (proto)
        rc = parse_proto(ps, d, nd, open);
    free(d);
    return rc;
}

/* Whether the words of a comment would all be parameter annotations. */
static bool looks_like_annotation(struct parser *ps, const struct tok *t)
{
    char *text = comment_text(t);
    if (!text)
        return false;
    struct annot a = {.kind = -1, .line = t->line};
    struct zepto_err *saved = ps->err, scratch;
    ps->err = &scratch;
    bool ok = parse_annot(ps, "", text, &a) == 0 && (a.dir || a.kind >= 0 || a.nullable);
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
            if (starts_with_zoid(k)) {
                if (parse_plugin(ps, k))
                    return -EINVAL;
            } else if (i > 0 && tok_is(&ps->t[i - 1], ";") && ps->t[i - 1].line == k->line &&
                       looks_like_annotation(ps, k)) {
                return fail(ps, k->line,
                            "annotations of a parameter go right after it, before the ')'");
            }
            i++;
            continue;
        }
        if (tok_is(k, ";")) {
            i++;
            continue;
        }
        if (tok_is(k, "extern") && ps->t[i + 1].kind == T_STRING && tok_is(&ps->t[i + 2], "{")) {
            extern_c++;
            i += 3;
            continue;
        }
        if (tok_is(k, "}") && extern_c > 0) {
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
                if (starts_with_zoid(c) && depth == 0)
                    return fail(ps, c->line, "a 'zoid:' annotation inside a declaration");
                continue;
            }
            if (tok_is(c, "(") || tok_is(c, "[") || tok_is(c, "{")) {
                if (depth == 0 && tok_is(c, "{")) {
                    int j = i - 1;
                    while (j > start && ps->t[j].kind == T_COMMENT)
                        j--;
                    body = tok_is(&ps->t[j], ")");
                }
                depth++;
            } else if (tok_is(c, ")") || tok_is(c, "]") || tok_is(c, "}")) {
                if (--depth < 0)
                    return fail(ps, c->line, "unbalanced '%.*s'", (int)c->n, c->s);
                if (depth == 0 && body) {
                    i++;
                    break;
                }
            } else if (depth == 0 && tok_is(c, ";")) {
                i++;
                break;
            }
        }
        if (depth > 0)
            return fail(ps, ps->t[start].line, "declaration does not end");
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
    int rc = tokenize(&ps, text, len);
    if (!rc)
        rc = parse_all(&ps);
    if (!rc && !ps.plugin_line)
        rc = fail(&ps, 1, "no '/* zoid: plugin ID NAME */' annotation");
    static const char *const hook_names[] = {"init", "fini", "gone"};
    const char *hooks[3] = {ps.p->init, ps.p->fini, ps.p->gone};
    for (int h = 0; h < 3 && !rc; h++)
        for (int i = 0; i < h && !rc; i++)
            if (hooks[h][0] && !strcmp(hooks[h], hooks[i]))
                rc = fail(&ps, ps.plugin_line, "%s=%s is also the %s hook", hook_names[h], hooks[h],
                          hook_names[i]);
    if (!rc)
        rc = check_all(&ps);
    if (!rc && ps.p->nfuncs == 0)
        rc = fail(&ps, ps.plugin_line, "no function prototypes to forward");
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
    for (int i = 0; i < p->nfuncs; i++)
        free(p->funcs[i].params);
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
