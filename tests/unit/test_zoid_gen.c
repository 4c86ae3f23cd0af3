/*
 * Proves the reader of annotated headers (src/zoid/gen/gen_parse.c): every annotation kind gives
 * the parameter description the emitter relies on (direction, kind, lengths, nullable, zerocopy,
 * defaults), the parts of C a header holds besides prototypes are skipped, the plugin annotation
 * and its hooks are read, and every malformed input is refused with "PATH:LINE:" naming the line
 * that is wrong. The emitter is checked for the prototypes it copies and the plugin it describes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zoid/gen/gen.h"

#define PLUGIN "/* zoid: plugin 7 kv */\n"

static struct zg_plugin *parse_ok(const char *text)
{
    struct zepto_err err = {0};
    struct zg_plugin *p = NULL;
    int rc = zg_parse("t.h", text, strlen(text), &p, &err);
    if (rc)
        fail_msg("parse failed (%d): %s\n--- header:\n%s", rc, err.msg, text);
    return p;
}

/* The parse fails with -EINVAL and a message starting "t.h:LINE: " and containing `what`. */
static void parse_error(const char *text, int line, const char *what)
{
    struct zepto_err err = {0};
    struct zg_plugin *p = NULL;
    int rc = zg_parse("t.h", text, strlen(text), &p, &err);
    if (rc != -EINVAL)
        fail_msg("rc %d, expected -EINVAL (msg '%s')\n--- header:\n%s", rc, err.msg, text);
    assert_null(p);
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "t.h:%d: ", line);
    if (strncmp(err.msg, prefix, strlen(prefix)) || !strstr(err.msg, what))
        fail_msg("message '%s', expected '%s...%s'\n--- header:\n%s", err.msg, prefix, what, text);
}

static const struct zg_param *param(const struct zg_plugin *p, int fn, int i)
{
    assert_true(fn < p->nfuncs);
    assert_true(i < p->funcs[fn].nparams);
    return &p->funcs[fn].params[i];
}

static void values_and_defaults(void **state)
{
    (void)state;
    struct zg_plugin *p = parse_ok(PLUGIN "#include <stdint.h>\n"
                                          "long f(unsigned long long a, const int32_t b,\n"
                                          "       signed char c, char d, long int e, _Bool g,\n"
                                          "       float h, double i, size_t j, ssize_t k);\n"
                                          "void g(void);\n"
                                          "int h();\n");
    assert_int_equal(p->id, 7);
    assert_string_equal(p->name, "kv");
    assert_int_equal(p->nfuncs, 3);
    const struct zg_func *f = &p->funcs[0];
    assert_string_equal(f->name, "f");
    assert_string_equal(f->ret.name, "long");
    assert_int_equal(f->nparams, 10);
    static const char *const types[] = {"unsigned long long",
                                        "int32_t",
                                        "signed char",
                                        "char",
                                        "long",
                                        "bool",
                                        "float",
                                        "double",
                                        "size_t",
                                        "ssize_t"};
    static const enum zg_base bases[] = {ZG_UNSIGNED, ZG_SIGNED, ZG_SIGNED, ZG_CHAR,     ZG_SIGNED,
                                         ZG_BOOL,     ZG_FLOAT,  ZG_DOUBLE, ZG_UNSIGNED, ZG_SIGNED};
    for (int i = 0; i < 10; i++) {
        assert_string_equal(f->params[i].type.name, types[i]);
        assert_int_equal(f->params[i].type.base, bases[i]);
        assert_int_equal(f->params[i].kind, ZG_VALUE);
        assert_int_equal(f->params[i].dir, ZG_IN);
    }
    assert_int_equal(p->funcs[1].nparams, 0);
    assert_int_equal(p->funcs[1].ret.base, ZG_VOID);
    assert_int_equal(p->funcs[2].nparams, 0);
    zg_free(p);
}

static void every_annotation_kind(void **state)
{
    (void)state;
    struct zg_plugin *p = parse_ok(
        PLUGIN "struct st { int a; };\n"
               "int f(const char *s /* string */, const char *ns /* string nullable */,\n"
               "      const void *in /* array(n) */, void *out, /* out array(n) */\n"
               "      size_t n, double *io /* inout array(n) zerocopy */,\n"
               "      const float *m /* array2d(rows, cols) */, int rows, unsigned cols,\n"
               "      struct st *o /* out obj */, const struct st *i /* nullable */,\n"
               "      int64_t *v /* inout */, int *w /* in */, uint8_t *z // out nullable\n"
               "      );\n");
    const struct zg_func *f = &p->funcs[0];
    assert_int_equal(f->nparams, 14);
    const struct zg_param *a = param(p, 0, 0);
    assert_int_equal(a->kind, ZG_STRING);
    assert_int_equal(a->dir, ZG_IN);
    assert_false(a->nullable);
    a = param(p, 0, 1);
    assert_int_equal(a->kind, ZG_STRING);
    assert_true(a->nullable);
    a = param(p, 0, 2);
    assert_int_equal(a->kind, ZG_ARRAY);
    assert_int_equal(a->dir, ZG_IN);
    assert_int_equal(a->type.base, ZG_VOID);
    assert_int_equal(a->len[0], 4);
    a = param(p, 0, 3); /* annotated after its comma */
    assert_int_equal(a->kind, ZG_ARRAY);
    assert_int_equal(a->dir, ZG_OUT);
    assert_int_equal(a->len[0], 4);
    a = param(p, 0, 5);
    assert_int_equal(a->dir, ZG_INOUT);
    assert_true(a->zerocopy);
    assert_string_equal(a->type.name, "double");
    a = param(p, 0, 6);
    assert_int_equal(a->kind, ZG_ARRAY2D);
    assert_int_equal(a->len[0], 7);
    assert_int_equal(a->len[1], 8);
    a = param(p, 0, 9);
    assert_int_equal(a->kind, ZG_OBJ);
    assert_int_equal(a->dir, ZG_OUT);
    assert_string_equal(a->type.name, "struct st");
    a = param(p, 0, 10); /* const pointer: in, obj by default */
    assert_int_equal(a->kind, ZG_OBJ);
    assert_int_equal(a->dir, ZG_IN);
    assert_true(a->nullable);
    a = param(p, 0, 11);
    assert_int_equal(a->kind, ZG_OBJ);
    assert_int_equal(a->dir, ZG_INOUT);
    a = param(p, 0, 12); /* explicit in on a non-const pointer */
    assert_int_equal(a->dir, ZG_IN);
    assert_false(a->type.is_const);
    a = param(p, 0, 13); /* a // comment */
    assert_int_equal(a->dir, ZG_OUT);
    assert_true(a->nullable);
    zg_free(p);
}

static void prose_and_prefix_in_annotations(void **state)
{
    (void)state;
    struct zg_plugin *p =
        parse_ok(PLUGIN "int f(int *x /* zoid: out: where the answer goes */,\n"
                        "      const char *k /* string: the key, any length */);\n");
    assert_int_equal(param(p, 0, 0)->dir, ZG_OUT);
    assert_int_equal(param(p, 0, 1)->kind, ZG_STRING);
    zg_free(p);
}

static void non_prototypes_are_skipped(void **state)
{
    (void)state;
    struct zg_plugin *p =
        parse_ok("/* A header. */\n"
                 "#ifndef T_H\n#define T_H \\\n  1\n#include <stddef.h>\n"
                 "#define MACRO(x) ((x) + 1) /* int macro_fn(void); */\n" PLUGIN
                 "#ifdef __cplusplus\nextern \"C\" {\n#endif\n"
                 "typedef int (*cb)(int);\n"
                 "struct s { int (*fp)(void); char name[8]; };\n"
                 "enum e { A, B = 2 };\n"
                 "extern int variable;\n"
                 "int (*fnptr)(int);\n"
                 "static inline int helper(int x) { return x + (int)sizeof(struct s); }\n"
                 "static int hidden(void);\n"
                 "extern int real(int x) __attribute__((warn_unused_result));\n"
                 "__attribute__((deprecated)) int older(void);\n"
                 "const char *s = \"int fake(void);\";\n"
                 "#ifdef __cplusplus\n}\n#endif\n#endif\n");
    assert_int_equal(p->nfuncs, 2);
    assert_string_equal(p->funcs[0].name, "real");
    assert_string_equal(p->funcs[1].name, "older");
    zg_free(p);
}

static void plugin_hooks(void **state)
{
    (void)state;
    struct zg_plugin *p = parse_ok("int f(void);\n"
                                   "void bye(void *plugin_state, void *client_state);\n"
                                   "/* zoid: plugin 65535 my-plugin.v2 init=hello fini=done "
                                   "gone=bye */\n"
                                   "int hello(struct zoid_host *host);\n");
    assert_int_equal(p->id, 65535);
    assert_string_equal(p->name, "my-plugin.v2");
    assert_string_equal(p->init, "hello");
    assert_string_equal(p->fini, "done");
    assert_string_equal(p->gone, "bye");
    assert_true(p->hook_declared[0]);  /* hello: declared, so not forwarded */
    assert_false(p->hook_declared[1]); /* done: the generated server header declares it */
    assert_true(p->hook_declared[2]);
    assert_int_equal(p->nfuncs, 1);
    assert_string_equal(p->funcs[0].name, "f");
    zg_free(p);
}

static void file_annotation_errors(void **state)
{
    (void)state;
    parse_error("int f(void);\n", 1, "no '/* zoid: plugin ID NAME */' annotation");
    parse_error(PLUGIN, 1, "no function prototypes");
    parse_error("\n/* zoid: plugin 0 kv */\nint f(void);\n", 2, "plugin id '0'");
    parse_error("/* zoid: plugin 65536 kv */\nint f(void);\n", 1, "plugin id '65536'");
    parse_error("/* zoid: plugin x1 kv */\nint f(void);\n", 1, "plugin id 'x1'");
    parse_error("/* zoid: plugin 3 */\nint f(void);\n", 1, "plugin name ''");
    parse_error("/* zoid: plugin 3 k/v */\nint f(void);\n", 1, "plugin name 'k/v'");
    parse_error("/* zoid: plugin 3 kv start=go */\nint f(void);\n", 1, "unknown plugin option");
    parse_error("/* zoid: plugin 3 kv init=a init=b */\nint f(void);\n", 1, "init= given twice");
    parse_error("/* zoid: plugin 3 kv gone=1x */\nint f(void);\n", 1, "gone='1x'");
    parse_error("/* zoid: plugin 3 kv init=a fini=a */\nint f(void);\n", 1, "also the init hook");
    parse_error("/* zoid: plugins 3 kv */\nint f(void);\n", 1, "unknown zoid annotation 'plugins'");
    parse_error(PLUGIN "int f(void);\n/* zoid: plugin 8 kv2 */\n", 3, "second plugin annotation");
    parse_error(PLUGIN "int\n/* zoid: plugin 8 x */ f(void);\n", 3, "inside a declaration");
    parse_error("/* zoid: plugin 3 kv gone=bye */\nvoid bye(int x);\nint f(void);\n", 2,
                "gone hook: it must be void bye(void *plugin_state, void *client_state)");
    parse_error("/* zoid: plugin 3 kv init=hi */\nvoid hi(void);\nint f(void);\n", 2,
                "init hook: it must be int hi(struct zoid_host *host)");
    parse_error("/* zoid: plugin 3 kv fini=fi */\nvoid fi(void);\nint f(void);\n", 2,
                "fini hook: it must be void fi(void *plugin_state)");
    parse_error("/* zoid: plugin 3 kv gone=bye */\nvoid bye(void *state);\nint f(void);\n", 2,
                "gone hook: it must be void bye(void *plugin_state, void *client_state)");
}

static void type_errors(void **state)
{
    (void)state;
    parse_error(PLUGIN "\nmy_t f(void);\n", 3, "unknown type 'my_t'");
    parse_error(PLUGIN "int f(int a,\n      off_t b);\n", 3, "unknown type 'off_t'");
    parse_error(PLUGIN "int f(int **p /* out */);\n", 2, "pointers to pointers");
    parse_error(PLUGIN "char *f(void);\n", 2, "unsupported return type 'char *'");
    parse_error(PLUGIN "struct s f(void);\n", 2, "unsupported return type 'struct s'");
    parse_error(PLUGIN "long double f(void);\n", 2, "'double' with integer words");
    parse_error(PLUGIN "int f(unsigned signed x);\n", 2, "not a valid integer type");
    parse_error(PLUGIN "int f(volatile int x);\n", 2, "volatile");
    parse_error(PLUGIN "int f(enum e x);\n", 2, "enum types are not supported");
    parse_error(PLUGIN "int f(int a[4]);\n", 2, "array parameters are not supported");
    parse_error(PLUGIN "int f(int (*cb)(int));\n", 2, "function pointer parameters");
    parse_error(PLUGIN "int f(int x, ...);\n", 2, "variadic");
    parse_error(PLUGIN "int f(int);\n", 2, "parameter 1 has no name");
    parse_error(PLUGIN "int f(int a, struct s *);\n", 2, "parameter 2 has no name");
    parse_error(PLUGIN "int f(int a, int a);\n", 2, "two parameters named 'a'");
    parse_error(PLUGIN "int f(int a,);\n", 2, "empty parameter");
    parse_error(PLUGIN "int f(void x);\n", 2, "'x' cannot be void");
    parse_error(PLUGIN "int f(struct s x);\n", 2, "structs go by pointer");
    parse_error(PLUGIN "int f(int zg_x);\n", 2, "reserved for the generated code");
    parse_error(PLUGIN "int f(int errno);\n", 2, "reserved");
    parse_error(PLUGIN "int zoid_f(void);\n", 2, "zoid_ is libzoid's prefix");
    parse_error(PLUGIN "int f(void);\n\nint f(void);\n", 4, "f declared twice (first on line 2)");
}

static void annotation_errors(void **state)
{
    (void)state;
    parse_error(PLUGIN "int f(int *p);\n", 2,
                "'p' is a pointer to non-const: say in, out or inout");
    parse_error(PLUGIN "int f(int x,\n      int *p /* outt */);\n", 3, "unknown annotation 'outt'");
    parse_error(PLUGIN "int f(int x /* out */);\n", 2, "'x' is out but not a pointer");
    parse_error(PLUGIN "int f(int x /* array(x) */);\n", 2, "'x' is array but not a pointer");
    parse_error(PLUGIN "int f(int x /* nullable */);\n", 2, "'x' is nullable but not a pointer");
    parse_error(PLUGIN "int f(int *p /* in out */);\n", 2, "two directions");
    parse_error(PLUGIN "int f(int *p /* out obj string */);\n", 2, "'string' with another");
    parse_error(PLUGIN "int f(int *p /* out nullable nullable */);\n", 2, "given twice");
    parse_error(PLUGIN "int f(char *s /* string */);\n", 2, "must be const char *");
    parse_error(PLUGIN "int f(const int *s /* string */);\n", 2, "must be const char *");
    parse_error(PLUGIN "int f(const char *s);\n", 2, "say string, array(LEN) or obj");
    parse_error(PLUGIN "int f(const char *s /* out string */);\n", 2, "string 's' can only be in");
    parse_error(PLUGIN "int f(const void *p);\n", 2, "void *: say array(LEN)");
    parse_error(PLUGIN "int f(void *p /* out obj */);\n", 2, "void *: only array");
    parse_error(PLUGIN "struct s;\nint f(struct s *p /* out array(n) */, int n);\n", 3,
                "points to a struct: only obj");
    parse_error(PLUGIN "int f(int *p /* out zerocopy */);\n", 2, "zerocopy applies to arrays");
    parse_error(PLUGIN "int f(int *p /* out array(n) filled */, int n);\n", 2,
                "filled applies to an out array of void");
    parse_error(PLUGIN "long f(const void *p /* array(n) filled */, size_t n);\n", 2,
                "filled applies to an out array of void");
    parse_error(PLUGIN "long f(void *p /* out array(n) nullable filled */, size_t n);\n", 2,
                "filled applies to an out array of void, not nullable");
    parse_error(PLUGIN "unsigned f(void *p /* out array(n) filled */, size_t n);\n", 2,
                "must return a signed count of bytes");
    parse_error(PLUGIN "long f(void *a /* out array(n) filled */,\n"
                       "       void *b /* out array(n) filled */, size_t n);\n",
                3, "'a' and 'b' are both filled");
    parse_error(PLUGIN "int f(int x /* filled */);\n", 2, "'x' is filled but not a pointer");
    parse_error(PLUGIN "int f(const int *p /* out */);\n", 2, "'p' is const, so it cannot be out");
    parse_error(PLUGIN "int f(const int *p /* inout */);\n", 2, "cannot be inout");
    parse_error(PLUGIN "int f(int *p /* out array */);\n", 2, "'array' needs the name");
    parse_error(PLUGIN "int f(int *p /* out array() */);\n", 2, "'array' needs the name");
    parse_error(PLUGIN "int f(int *p /* out array(a, b) */, int a, int b);\n", 2,
                "'array' needs the name");
    parse_error(PLUGIN "int f(int *p /* out array2d(a) */, int a);\n", 2,
                "'array2d' needs two parameter names");
    parse_error(PLUGIN "int f(int *p /* out array(n */, int n);\n", 2, "'array' needs");
    parse_error(PLUGIN "int f(int *p /* out array(count) */,\n      int n);\n", 2,
                "f has no parameter 'count'");
    parse_error(PLUGIN "int f(int *p /* out array2d(r, c) */, int r);\n", 2,
                "f has no parameter 'c'");
    parse_error(PLUGIN "int f(int *p /* out array(n) */, double n);\n", 2,
                "length 'n' of 'p' must be an integer passed by value");
    parse_error(PLUGIN "int f(int *p /* out array(n) */, size_t *n /* in */);\n", 2,
                "must be an integer passed by value");
    parse_error(PLUGIN "int f(int *p /* out array(n) */, bool n);\n", 2,
                "must be an integer passed by value");
    parse_error(PLUGIN "int f(int *p /* inout array(p) */);\n", 2, "cannot be its own length");
    parse_error(PLUGIN "int f(/* in */ int x);\n", 2, "must follow its parameter");
    parse_error(PLUGIN "int f(int a,\n      /* out */ int *p);\n", 3, "must follow its parameter");
    parse_error(PLUGIN "int f(void /* in */);\n", 2, "(void) takes no annotation");
    parse_error(PLUGIN "int f(int x, int *p); /* out */\n", 2,
                "annotations of a parameter go right after it");
    parse_error(PLUGIN "int f(int *p /* out = */);\n", 2, "unexpected '='");
}

static void lexical_errors(void **state)
{
    (void)state;
    parse_error(PLUGIN "int f(void);\n/* never closed\n", 3, "unterminated comment");
    parse_error(PLUGIN "const char *s = \"open\n;", 2, "unterminated string literal");
    parse_error(PLUGIN "int f(int x;\n", 2, "declaration does not end");
    parse_error(PLUGIN "int f(void));\n", 2, "unbalanced ')'");
}

static char *emit(void (*fn)(const struct zg_plugin *, const struct zg_names *, FILE *),
                  const struct zg_plugin *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct zg_names n = {.base = "kv", .header = "kv.h"};
    fn(p, &n, f);
    fclose(f);
    return buf;
}

static void emitter_copies_prototypes_and_describes_plugin(void **state)
{
    (void)state;
    struct zg_plugin *p =
        parse_ok("/* zoid: plugin 9 kv gone=kv_gone */\n"
                 "int kv_put(const char *key /* string */,\n"
                 "           const void *v /* array(n) zerocopy */, size_t n);\n"
                 "double kv_avg(double *restrict x /* inout array(n) */, int n);\n"
                 "void kv_gone(void *plugin_state, void *client_state);\n");
    char *c = emit(zg_emit_client_c, p);
    assert_non_null(strstr(c, "\nint kv_put(const char *key, const void *v, size_t n)\n{"));
    assert_non_null(strstr(c, "\ndouble kv_avg(double *restrict x, int n)\n{"));
    assert_non_null(strstr(c, "return NAN;"));
    assert_non_null(strstr(c, "#include \"kv.h\""));
    assert_null(strstr(c, "kv_gone"));
    free(c);
    char *h = emit(zg_emit_client_h, p);
    assert_non_null(strstr(h, "#define KV_ZOID_PLUGIN_ID 9"));
    assert_non_null(strstr(h, "KV_ZOID_FN_KV_AVG = 1"));
    assert_non_null(strstr(h, "int kv_zoid_use(struct zoid_client *c);"));
    free(h);
    char *s = emit(zg_emit_server_c, p);
    assert_non_null(strstr(s, ".id = 9,"));
    assert_non_null(strstr(s, ".client_gone = kv_gone,"));
    assert_non_null(strstr(s, ".init = NULL,"));
    assert_non_null(strstr(s, "zg_ret = kv_avg(x, n);"));
    free(s);
    char *sh = emit(zg_emit_server_h, p);
    assert_non_null(strstr(sh, "struct zoid_call *kv_zoid_current(void);"));
    assert_null(strstr(sh, "void kv_gone(")); /* the header declares it */
    free(sh);
    zg_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_and_defaults),
        cmocka_unit_test(every_annotation_kind),
        cmocka_unit_test(prose_and_prefix_in_annotations),
        cmocka_unit_test(non_prototypes_are_skipped),
        cmocka_unit_test(plugin_hooks),
        cmocka_unit_test(file_annotation_errors),
        cmocka_unit_test(type_errors),
        cmocka_unit_test(annotation_errors),
        cmocka_unit_test(lexical_errors),
        cmocka_unit_test(emitter_copies_prototypes_and_describes_plugin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
