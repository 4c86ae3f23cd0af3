/*
 * `zepto bigmem run`: runs a program with libzepto-bigmem.so preloaded, its options passed in
 * ZEPTO_BIGMEM_* variables. With --strict, the plan is checked here first, so that a page size
 * that cannot be had stops the run before the program starts, with what to change.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/parse.h"
#include "base/preload.h"
#include "base/settings.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/bigmem.h"

#define CMD "bigmem run"

static const char usage[] =
    "usage: zepto bigmem run [--size SIZE] [--pages auto|1G|2M|thp|4K] [--pin] [--strict]\n"
    "                        [--static] [--libs] [--text] [-v] -- CMD ARGS...\n"
    "\n"
    "Runs CMD (unmodified) with its whole malloc family served from one region: huge pages\n"
    "reserved and faulted in before main() runs, optionally pinned, never given back.\n"
    "\n"
    "  --size SIZE    region size (K M G T; rounded up to 32 MiB); default: the hugetlb pool\n"
    "                 (divided among the node's MPI ranks), else half of the memory\n"
    "  --pages P      auto (default: 1G if its pool has room, else 2M, else THP, else 4K),\n"
    "                 or one of 1G, 2M, thp, 4K\n"
    "  --pin          mlock the region\n"
    "  --strict       fail instead of falling back: before the run when the page size cannot be\n"
    "                 had, and with ENOMEM from malloc when the region is full\n"
    "  --static       before main(), move the program's static data (.data, .bss: COMMON\n"
    "                 blocks, module arrays, globals) into huge pages at the same addresses\n"
    "                 (2M when the pool has room for it, else THP; the unaligned ends stay)\n"
    "  --libs         with --static: the shared libraries' static data too\n"
    "  --text         map the executable's code in huge pages (THP in place where the kernel\n"
    "                 can, else a huge-page copy made read+exec)\n"
    "  -v, --verbose  at exit, one line: pages really used (from /proc/self/smaps), region,\n"
    "                 peak use, page faults after start-up (also ZEPTO_BIGMEM_VERBOSE=1)\n"
    "\n"
    "example:\n"
    "  echo 600 > /proc/sys/vm/nr_hugepages\n"
    "  zepto bigmem run --pages 2M --size 1G --pin -v -- ./my_solver input.dat\n"
    "  mpirun -np 4 zepto bigmem run --strict -- ./app      (the ranks share the pool)\n";

struct params {
    const char *size_arg;  /* as given, passed on to the library (NULL: its default) */
    const char *pages_arg; /* as given */
    uint64_t size;         /* bytes, 0: not given */
    enum zbm_pages pages;
    bool pin, strict, verbose, help;
    bool statics, libs, text;
    char **cmd; /* after -- */
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    enum {
        OPT_SIZE = CLI_OPT_LOCAL,
        OPT_PAGES,
        OPT_PIN,
        OPT_STRICT,
        OPT_STATIC,
        OPT_LIBS,
        OPT_TEXT
    };
    static const struct option longopts[] = {
        {"size", required_argument, 0, OPT_SIZE},
        {"pages", required_argument, 0, OPT_PAGES},
        {"pin", no_argument, 0, OPT_PIN},
        {"strict", no_argument, 0, OPT_STRICT},
        {"static", no_argument, 0, OPT_STATIC},
        {"libs", no_argument, 0, OPT_LIBS},
        {"text", no_argument, 0, OPT_TEXT},
        CLI_LONGOPT_VERBOSE,
        CLI_LONGOPT_HELP,
        {0},
    };
    int c;
    cli_opts_begin();
    /* Stop at the first operand: CMD's own options stay CMD's. */
    while ((c = cli_opts_next(argc, argv, longopts, true, err)) != -1) {
        switch (c) {
        case OPT_SIZE:
            if (cli_opt_named("--size", zb_parse_size(optarg, &p->size, err), err))
                return -EINVAL;
            if (!p->size)
                return zepto_fail(err, EINVAL, "--size '%s': must be more than zero", optarg);
            p->size_arg = optarg;
            break;
        case OPT_PAGES:
            if (cli_opt_named("--pages", zbm_pages_parse(optarg, &p->pages, err), err))
                return -EINVAL;
            p->pages_arg = optarg;
            break;
        case OPT_PIN: p->pin = true; break;
        case OPT_STRICT: p->strict = true; break;
        case OPT_STATIC: p->statics = true; break;
        case OPT_LIBS: p->libs = true; break;
        case OPT_TEXT: p->text = true; break;
        case 'v': p->verbose = true; break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
    }
    if (cli_opts_command(argc, argv, err))
        return -EINVAL;
    p->cmd = argv + optind;
    if (p->libs && !p->statics)
        return zepto_fail(err, EINVAL, "--libs needs --static");
    return 0;
}

/* With --strict, the plan is checked here only to stop early; the library plans again in the
 * program itself (the pool may change in between, and MPI ranks take their share as they
 * start). Returns 0, or the exit code after printing why. */
static int validate(const struct params *p)
{
    struct zepto_err err = {0};
    struct zbm_system sys;
    struct zbm_plan plan;
    if (zbm_system_read(&sys, zb_setting(ZB_SET_SYSROOT, ""), &err))
        return cli_fail(CMD, &err);
    if (p->size > sys.mem_total) {
        char a[32];
        return cli_usage_error(CMD, "--size '%s': more than this machine's memory (%s)",
                               p->size_arg, zb_fmt_size(sys.mem_total, a, sizeof(a)));
    }
    if (zbm_plan_make(&sys, p->pages, p->size, p->strict, &plan, &err))
        return cli_fail(CMD, &err);
    return 0;
}

/* Preloads the library, passes the options in its variables and becomes CMD. */
static int run(const struct params *p)
{
    struct zepto_err err = {0};
    char lib[PATH_MAX];
    const char *libs[] = {lib};
    if (zb_preload_find("libzepto-bigmem.so", zbm_setting(ZBM_SET_LIB, NULL),
                        zbm_settings()->list[ZBM_SET_LIB].env, lib, sizeof(lib), &err) ||
        zb_preload_prepend(libs, 1, &err))
        return cli_fail(CMD, &err);
    const struct zepto_setting *s = zbm_settings()->list;
    if (p->size_arg)
        setenv(s[ZBM_SET_SIZE].env, p->size_arg, 1);
    setenv(s[ZBM_SET_PAGES].env, p->pages_arg, 1);
    setenv(s[ZBM_SET_PIN].env, p->pin ? "1" : "0", 1);
    setenv(s[ZBM_SET_STRICT].env, p->strict ? "1" : "0", 1);
    if (p->verbose)
        setenv(s[ZBM_SET_VERBOSE].env, "1", 1);
    setenv(s[ZBM_SET_STATIC].env, p->statics ? "1" : "0", 1);
    setenv(s[ZBM_SET_LIBS].env, p->libs ? "1" : "0", 1);
    setenv(s[ZBM_SET_TEXT].env, p->text ? "1" : "0", 1);

    execvp(p->cmd[0], p->cmd);
    int e = errno;
    fprintf(stderr, "zepto %s: %s: %s\n", CMD, p->cmd[0], strerror(e));
    return e == ENOENT ? 127 : 126;
}

int cli_bigmem_run(int argc, char **argv)
{
    struct params p = {.pages = ZBM_AUTO, .pages_arg = "auto"};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    int rc = validate(&p);
    if (!rc && zbm_exec_check(p.cmd[0], &err))
        return cli_fail(CMD, &err);
    return rc ? rc : run(&p);
}
