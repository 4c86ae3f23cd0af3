/*
 * `zepto zoid gen HEADER -o DIR [--name NAME] [--prefix P]`: the ZOID stub generator. Reads a C
 * header whose prototypes carry comment annotations and writes NAME_client.c/.h (stubs with the
 * header's own prototypes) and NAME_server.c/.h (the plugin's dispatch) into DIR.
 */
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
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

int cli_zoid_gen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"name", required_argument, 0, 'n'},
        {"prefix", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},
        {0},
    };
    const char *out = NULL, *name = NULL, *prefix = NULL;
    int c;
    optind = 1;
    while ((c = cli_getopt(CMD, argc, argv, ":o:n:p:h", longopts)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'n': name = optarg; break;
        case 'p': prefix = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (cli_one_operand(CMD, argc, argv, "HEADER"))
        return EXIT_USAGE;
    const char *header = argv[optind];
    if (!header[0])
        return cli_usage_error(CMD, "HEADER: empty file name");
    if (!out)
        return cli_usage_error(CMD, "missing -o DIR (see --help)");
    if (!out[0])
        return cli_usage_error(CMD, "-o: empty directory name");
    if (prefix && (!zg_is_ident(prefix) || strlen(prefix) >= ZG_NAME_MAX / 2))
        return cli_usage_error(CMD, "--prefix '%s': not the start of a C identifier", prefix);

    /* The header as the generated files include it, and the default NAME from it. */
    char copy[4096], base[ZG_NAME_MAX];
    snprintf(copy, sizeof(copy), "%s", header);
    const char *file = basename(copy);
    if (name) {
        if (!zg_is_ident(name) || strlen(name) >= ZG_NAME_MAX - 16)
            return cli_usage_error(CMD, "--name '%s': not a C identifier", name);
        snprintf(base, sizeof(base), "%s", name);
    } else {
        size_t n = strlen(file);
        if (n > 2 && !strcmp(file + n - 2, ".h"))
            n -= 2;
        snprintf(base, sizeof(base), "%.*s", (int)(n < sizeof(base) ? n : sizeof(base) - 1), file);
        if (!zg_is_ident(base) || n >= ZG_NAME_MAX - 16)
            return cli_usage_error(CMD, "%s: '%s' is not a C identifier (give --name)", header,
                                   base);
    }

    struct zepto_err err = {0};
    struct zg_plugin *p;
    if (zg_parse_file(header, &p, &err))
        return cli_fail(CMD, &err);
    struct zg_names names = {.base = base, .header = file, .prefix = prefix};
    int rc = zg_write(p, &names, out, &err);
    zg_free(p);
    return rc ? cli_fail(CMD, &err) : 0;
}
