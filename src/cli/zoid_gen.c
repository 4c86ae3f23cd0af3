/*
 * `zepto zoid gen HEADER -o DIR [--name NAME] [--prefix P]`: the ZOID stub generator. Reads a C
 * header whose prototypes carry comment annotations and writes NAME_client.c/.h (stubs with the
 * header's own prototypes) and NAME_server.c/.h (the plugin's dispatch) into DIR.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/zoid_gen.h"

#define CMD "zoid gen"

static const char usage[] =
    "usage: zepto zoid gen HEADER -o DIR [--name NAME] [--prefix P]\n"
    "\n"
    "Writes the client stubs and the daemon plugin's dispatch for the functions of an annotated\n"
    "C header (the annotation language: docs/FORMATS.md, \"ZOID annotations\").\n"
    "\n"
    "  -o, --output DIR   where NAME_client.c, NAME_client.h, NAME_server.c and NAME_server.h\n"
    "                     go (created if missing)\n"
    "  -n, --name NAME    the prefix of the files and of NAME_zoid_use() (default: HEADER's\n"
    "                     file name without .h)\n"
    "  -p, --prefix P     put P in front of every name the generated files define for the\n"
    "                     linker (the stubs, NAME_zoid_use, NAME_zoid_current,\n"
    "                     zoid_plugin_register), so that two generations of one header link\n"
    "                     into one program; NAME_client.h then declares the prefixed stubs\n"
    "\n"
    "Build the plugin from NAME_server.c and the implementation, the client library from\n"
    "NAME_client.c; both include HEADER by its file name.\n"
    "\n"
    "example:\n"
    "  zepto zoid gen kv.h -o gen && cc -shared -fPIC -o libkv_zoid.so gen/kv_server.c kv_impl.c\n";

struct params {
    const char *header, *out, *name, *prefix;
    char copy[4096];        /* the header's path, for basename() */
    const char *file;       /* the header as the generated files include it */
    char base[ZG_NAME_MAX]; /* NAME: --name, or from the header's file name */
    bool help;
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"name", required_argument, 0, 'n'},
        {"prefix", required_argument, 0, 'p'},
        CLI_LONGOPT_HELP,
        {0},
    };
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        switch (c) {
        case 'o': p->out = optarg; break;
        case 'n': p->name = optarg; break;
        case 'p': p->prefix = optarg; break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
    }
    if (cli_opts_one_operand(argc, argv, "HEADER", err))
        return -EINVAL;
    p->header = argv[optind];
    if (!p->header[0])
        return zepto_fail(err, EINVAL, "HEADER: empty file name");
    if (!p->out)
        return zepto_fail(err, EINVAL, "missing -o DIR (see --help)");
    if (!p->out[0])
        return zepto_fail(err, EINVAL, "-o: empty directory name");
    if (p->prefix && (!zg_is_ident(p->prefix) || strlen(p->prefix) >= ZG_NAME_MAX / 2))
        return zepto_fail(err, EINVAL, "--prefix '%s': not the start of a C identifier", p->prefix);

    snprintf(p->copy, sizeof(p->copy), "%s", p->header);
    p->file = basename(p->copy);
    if (p->name) {
        if (!zg_is_ident(p->name) || strlen(p->name) >= ZG_NAME_MAX - 16)
            return zepto_fail(err, EINVAL, "--name '%s': not a C identifier", p->name);
        snprintf(p->base, sizeof(p->base), "%s", p->name);
    } else {
        size_t n = strlen(p->file);
        if (n > 2 && !strcmp(p->file + n - 2, ".h"))
            n -= 2;
        snprintf(p->base, sizeof(p->base), "%.*s",
                 (int)(n < sizeof(p->base) ? n : sizeof(p->base) - 1), p->file);
        if (!zg_is_ident(p->base) || n >= ZG_NAME_MAX - 16)
            return zepto_fail(err, EINVAL, "%s: '%s' is not a C identifier (give --name)",
                              p->header, p->base);
    }
    return 0;
}

int cli_zoid_gen(int argc, char **argv)
{
    struct params prm = {0};
    struct zepto_err err = {0};
    if (parse(argc, argv, &prm, &err))
        return cli_usage_err(CMD, &err);
    if (prm.help) {
        fputs(usage, stdout);
        return 0;
    }
    const char *header = prm.header, *out = prm.out, *prefix = prm.prefix;
    const char *file = prm.file, *base = prm.base;

    struct zg_plugin *p;
    if (zg_parse_file(header, &p, &err))
        return cli_fail(CMD, &err);
    struct zg_names names = {.base = base, .header = file, .prefix = prefix};
    int rc = zg_write(p, &names, out, &err);
    zg_free(p);
    return rc ? cli_fail(CMD, &err) : 0;
}
