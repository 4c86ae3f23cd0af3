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
#include "zepto/bigmem.h"

#define CMD "bigmem run"

static const char usage[] =
    "usage: zepto bigmem run [--size SIZE] [--pages auto|1G|2M|thp|4K] [--pin] [--strict] [-v]\n"
    "                        -- CMD ARGS...\n"
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
    "  -v, --verbose  at exit, one line: pages really used (from /proc/self/smaps), region,\n"
    "                 peak use, page faults after start-up (also ZEPTO_BIGMEM_VERBOSE=1)\n"
    "\n"
    "example:\n"
    "  echo 600 > /proc/sys/vm/nr_hugepages\n"
    "  zepto bigmem run --pages 2M --size 1G --pin -v -- ./my_solver input.dat\n"
    "  mpirun -np 4 zepto bigmem run --strict -- ./app      (the ranks share the pool)\n";

int cli_bigmem_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"size", required_argument, 0, 's'},
        {"pages", required_argument, 0, 'p'},
        {"pin", no_argument, 0, 'P'},
        {"strict", no_argument, 0, 'S'},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0},
    };
    struct zepto_err err = {0};
    enum zbm_pages pages = ZBM_AUTO;
    uint64_t size = 0;
    const char *size_arg = NULL, *pages_arg = "auto";
    bool pin = false, strict = false, verbose = false;
    int c;

    optind = 1;
    while ((c = cli_getopt(CMD, argc, argv, "+:vh", longopts)) != -1) {
        switch (c) {
        case 's':
            if (zb_parse_size(optarg, &size, &err))
                return cli_usage_error(CMD, "--size %s", err.msg);
            if (!size)
                return cli_usage_error(CMD, "--size '%s': must be more than zero", optarg);
            size_arg = optarg;
            break;
        case 'p':
            if (zbm_pages_parse(optarg, &pages, &err))
                return cli_usage_error(CMD, "--pages %s", err.msg);
            pages_arg = optarg;
            break;
        case 'P': pin = true; break;
        case 'S': strict = true; break;
        case 'v': verbose = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (cli_command_operand(CMD, argc, argv))
        return EXIT_USAGE;

    struct zbm_system sys;
    struct zbm_plan plan;
    if (zbm_system_read(&sys, zb_setting(ZB_SET_SYSROOT, ""), &err))
        return cli_fail(CMD, &err);
    if (size > sys.mem_total) {
        char a[32];
        return cli_usage_error(CMD, "--size '%s': more than this machine's memory (%s)", size_arg,
                               zb_fmt_size(sys.mem_total, a, sizeof(a)));
    }
    /* Checked here only to stop early; the library plans again in the program itself (the pool
     * may change in between, and MPI ranks take their share as they start). */
    if (zbm_plan_make(&sys, pages, size, strict, &plan, &err))
        return cli_fail(CMD, &err);

    char lib[PATH_MAX];
    const char *libs[] = {lib};
    if (zb_preload_find("libzepto-bigmem.so", zbm_setting(ZBM_SET_LIB, NULL),
                        zbm_settings()->list[ZBM_SET_LIB].env, lib, sizeof(lib), &err) ||
        zb_preload_prepend(libs, 1, &err))
        return cli_fail(CMD, &err);
    const struct zepto_setting *s = zbm_settings()->list;
    if (size_arg)
        setenv(s[ZBM_SET_SIZE].env, size_arg, 1);
    setenv(s[ZBM_SET_PAGES].env, pages_arg, 1);
    setenv(s[ZBM_SET_PIN].env, pin ? "1" : "0", 1);
    setenv(s[ZBM_SET_STRICT].env, strict ? "1" : "0", 1);
    if (verbose)
        setenv(s[ZBM_SET_VERBOSE].env, "1", 1);

    execvp(argv[optind], argv + optind);
    int e = errno;
    fprintf(stderr, "zepto %s: %s: %s\n", CMD, argv[optind], strerror(e));
    return e == ENOENT ? 127 : 126;
}
