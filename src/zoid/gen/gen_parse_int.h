/*
 * Private to the annotated-header reader of the ZOID stub generator (gen_lex.c, gen_type.c,
 * gen_annot.c, gen_parse.c): the tokens, the parser's state, and what each file offers the
 * others. Nothing here leaves src/zoid/gen/.
 */
#ifndef ZEPTO_ZOID_GEN_PARSE_INT_H
#define ZEPTO_ZOID_GEN_PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "zoid/gen/gen.h"

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
    bool nullable, zerocopy, filled;
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

/* gen_lex.c: messages, tokens and words. */
/* Records "PATH:LINE: message" in ps->err; returns -EINVAL. */
int zg_fail(struct parser *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool zg_tok_is(const struct tok *t, const char *s);
/* Splits s[0..len) into ps->t, ending with T_EOF; directives are skipped whole. */
int zg_tokenize(struct parser *ps, const char *s, size_t len);
int zg_copy_name(struct parser *ps, char *dst, const char *s, size_t n, int line);
/* Blank-separated words of a comment, in place: returns the next word and advances *s. */
char *zg_next_word(char **s);
/* The comment's text as a C string (caller frees), NULL when out of memory. */
char *zg_comment_text(const struct tok *t);
bool zg_starts_with_zoid(const struct tok *t);

/* gen_type.c: C types. */
/* Parses the type in tokens t[0..n) (no name, no comments); `what` names it in messages. */
int zg_parse_type(struct parser *ps, const struct tok *t, int n, int line, const char *what,
                  struct zg_type *ty);
bool zg_is_integer(const struct zg_type *t);

/* gen_annot.c: the annotations and their checks. */
/* The file annotation "zoid: plugin ID NAME [init=FN] [fini=FN] [gone=FN]" into ps->p. */
int zg_parse_plugin(struct parser *ps, const struct tok *t);
/* The words of a parameter's comments into a (fn names the function in messages). */
int zg_parse_annot(struct parser *ps, const char *fn, char *text, struct annot *a);
/* Applies a parameter's annotations to it: defaults, and every rule of the language. */
int zg_check_param(struct parser *ps, const struct zg_func *f, struct zg_param *pa,
                   const struct annot *a);
/* Checks that f has the signature of hook `which` (0 init, 1 fini, 2 gone). */
int zg_check_hook(struct parser *ps, const struct zg_func *f, int which);

#endif
