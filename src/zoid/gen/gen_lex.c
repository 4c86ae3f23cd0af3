/*
 * The tokenizer of `zepto zoid gen`: the part of C that headers hold, split into identifiers,
 * numbers, literals, punctuation and comments (kept: they carry the annotations), with the
 * line each starts on. Preprocessor directives are skipped whole (continuations and comments
 * included), so a prototype behind #if is still seen and macros are not expanded. Also the
 * parser's message helper and the small text helpers the other reader files share.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoid/gen/gen_parse_int.h"

int zg_fail(struct parser *ps, int line, const char *fmt, ...)
{
    char msg[ZEPTO_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return zepto_fail(ps->err, EINVAL, "%s:%d: %s", ps->path, line, msg);
}

bool zg_tok_is(const struct tok *t, const char *s)
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
    *rc = zg_fail(ps, start, "unterminated comment");
    return len;
}

int zg_tokenize(struct parser *ps, const char *s, size_t len)
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
                return zg_fail(ps, line, "unterminated %s literal",
                               c == '"' ? "string" : "character");
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

int zg_copy_name(struct parser *ps, char *dst, const char *s, size_t n, int line)
{
    if (n >= ZG_NAME_MAX)
        return zg_fail(ps, line, "name '%.40s...' is too long", s);
    memcpy(dst, s, n);
    dst[n] = 0;
    return 0;
}

/* Blank-separated words of a comment, in place: returns the next word and advances *s. */
char *zg_next_word(char **s)
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
char *zg_comment_text(const struct tok *t)
{
    char *s = malloc(t->n + 1);
    if (!s)
        return NULL;
    memcpy(s, t->s, t->n);
    s[t->n] = 0;
    return s;
}

bool zg_starts_with_zoid(const struct tok *t)
{
    size_t i = 0;
    while (i < t->n && isspace((unsigned char)t->s[i]))
        i++;
    return t->n - i >= 5 && !memcmp(t->s + i, "zoid:", 5);
}
