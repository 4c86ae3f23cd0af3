/*
 * The ZOID stub generator as a library (`zepto zoid gen`, the zepto-zoid-gen build tool): read
 * an annotated C header (docs/FORMATS.md, "ZOID annotations") and write the client stubs and the
 * daemon plugin's dispatch generated from it. Functions return 0 or a negative errno and write
 * one line into err; messages about the header read "PATH:LINE: what is wrong".
 */
#ifndef ZEPTO_ZOID_GEN_PUBLIC_H
#define ZEPTO_ZOID_GEN_PUBLIC_H

#include <stdbool.h>

#include "zepto/zepto.h"

#define ZG_NAME_MAX 128 /* identifiers, type spellings */

struct zg_plugin; /* a parsed header */

/* Reads and parses the annotated header at path. 0, or -errno (-EINVAL: the header is wrong). */
int zg_parse_file(const char *path, struct zg_plugin **out, struct zepto_err *err);
void zg_free(struct zg_plugin *p);

/* What the generated files are called, include and define. */
struct zg_names {
    const char *base;   /* prefix of the files and of BASE_zoid_use(): "kv" */
    const char *header; /* how the generated files include the annotated header: "kv.h" */
    const char *prefix; /* NULL or "": the names as they are; else put in front of every name
                           the generated files define for the linker (the stubs,
                           BASE_zoid_use, BASE_zoid_current, zoid_plugin_register), so that
                           two generations of one header link into one program */
};

/* Writes BASE_client.h, BASE_client.c, BASE_server.h and BASE_server.c into dir (created if
 * missing), each through a temporary file renamed into place. 0 or -errno. */
int zg_write(const struct zg_plugin *p, const struct zg_names *n, const char *dir,
             struct zepto_err *err);

/* True when s is a C identifier. */
bool zg_is_ident(const char *s);

#endif
