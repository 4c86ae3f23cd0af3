/*
 * zepto: the one command of the toolkit. Dispatches to the subcommand groups.
 */
#include <stdio.h>
#include <string.h>

#include "base/settings.h"
#include "zepto/bigmem.h"
#include "zepto/zoid_settings.h"
#include "zepto/ktau_run.h"
#include "cli/cli.h"

static const char help[] =
    "usage: zepto COMMAND [ARGS...]\n"
    "\n"
    "ZeptoOS ideas for today's Linux HPC nodes.\n"
    "\n"
    "commands:\n"
    "  noise    record, analyse, export, play and simulate OS noise (the Selfish benchmark)\n"
    "  bigmem   run unmodified programs in big memory (huge pages, pre-faulted, pinned)\n"
    "  zoid     forward function calls to an I/O node daemon (serve, gen, bench)\n"
    "  ktau     profile a program with what the kernel did inside each routine (run, show)\n"
    "  tune     make the application CPUs quiet, measure it, restore (plan, apply, check)\n"
    "  report   characterise this node and write an HTML report\n"
    "\n"
    "options:\n"
    "  --help       this text\n"
    "  --version    version and the git commit it was built from\n"
    "\n"
    "example:\n"
    "  zepto noise record -d 10s -o node.znt && zepto noise analyse node.znt\n"
    "  zepto report --quick\n"
    "\n"
    "Each command has --help. Environment:\n";

static void print_help(FILE *f)
{
    fputs(help, f);
    /* Every part's table of environment variables. */
    const struct zepto_settings *tables[] = {zb_settings(), zbm_settings(), zoid_settings(),
                                             ktau_settings()};
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
        for (unsigned i = 0; i < tables[t]->count; i++)
            fprintf(f, "  %s=%s\n      %s\n", tables[t]->list[i].env, tables[t]->list[i].values,
                    tables[t]->list[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        print_help(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--commands")) { /* for the man pages and the completion */
        fputs("noise\nbigmem\nzoid\nktau\ntune\nreport\n", stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("zepto %s (commit %s)\n", zepto_version, zepto_commit);
        return 0;
    }
    if (!strcmp(cmd, "noise"))
        return cli_noise(argc - 1, argv + 1);
    if (!strcmp(cmd, "bigmem"))
        return cli_bigmem(argc - 1, argv + 1);
    if (!strcmp(cmd, "zoid"))
        return cli_zoid(argc - 1, argv + 1);
    if (!strcmp(cmd, "ktau"))
        return cli_ktau(argc - 1, argv + 1);
    if (!strcmp(cmd, "tune"))
        return cli_tune(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return cli_report(argc - 1, argv + 1);
    fprintf(stderr, "zepto: unknown command '%s' (see 'zepto --help')\n", cmd);
    return EXIT_USAGE;
}
