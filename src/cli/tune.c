/*
 * `zepto tune plan|apply|restore|status`: quiet the application CPUs of a node, and undo it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/tune.h"

static const char help[] =
    "usage: zepto tune COMMAND [ARGS...]\n"
    "\n"
    "Make a node quiet for an application on some of its CPUs: device IRQs, unbound kernel\n"
    "threads and workqueues, user-space daemons and per-CPU kernel work moved to housekeeping\n"
    "CPUs (default: CPU 0 and its siblings, never emptied), every old value saved first.\n"
    "\n"
    "commands:\n"
    "  plan      what would change and why (no root needed)   zepto tune plan --cpus 1-3\n"
    "  apply     save the old values, then change (root)       zepto tune apply --cpus 1-3\n"
    "  restore   put back what the state file saved (root)     zepto tune restore\n"
    "  status    is a tuning in effect, has it drifted         zepto tune status\n"
    "  check     noise before and after, in one run (root)     zepto tune check --cpus 1\n"
    "\n"
    "Each command has --help.\n";

static const char usage_plan[] =
    "usage: zepto tune plan --cpus LIST [--housekeeping LIST] [--json]\n"
    "\n"
    "Lists every change `apply` would make for an application on the CPUs of LIST, grouped (irq,\n"
    "workqueue, kthread, daemons, sysctl, thp, cpu), each with its current and new value and why,\n"
    "then the kernel parameters that need a reboot (nohz_full, rcu_nocbs, isolcpus, irqaffinity)\n"
    "and what only an administrator can change. Reads only; any user may run it.\n"
    "\n"
    "  -c, --cpus LIST         the application CPUs (\"1-3\")\n"
    "      --housekeeping LIST the CPUs left to the system (default CPU 0 and its siblings)\n"
    "      --irqbalance MODE   a running irqbalance (under systemd): ban (default: restarted\n"
    "                          with the application CPUs banned), stop, or leave\n"
    "      --json              the plan as JSON\n"
    "\n"
    "example:\n"
    "  zepto tune plan --cpus 1 --json | jq '.changes[] | select(.group==\"irq\")'\n";

static const char usage_apply[] =
    "usage: zepto tune apply --cpus LIST [--housekeeping LIST] [--state FILE] [--json] [-q]\n"
    "\n"
    "Makes the plan's changes (root). The old values go to the state file first (written\n"
    "atomically); each change is then written and read back, and what the kernel refused is\n"
    "listed. Refuses when a state file exists (a tuning is in effect): restore first.\n"
    "\n"
    "  -c, --cpus LIST         the application CPUs\n"
    "      --housekeeping LIST the CPUs left to the system (default CPU 0 and its siblings)\n"
    "      --irqbalance MODE   a running irqbalance (under systemd): ban (default: restarted\n"
    "                          with the application CPUs banned), stop, or leave\n"
    "      --state FILE        where the old values are kept (default /run/zepto/tune.state,\n"
    "                          or ZEPTO_TUNE_STATE)\n"
    "      --json              the result as JSON\n"
    "  -q, --quiet             no note on stderr of where the old values went (refusals and\n"
    "                          errors are still printed)\n"
    "\n"
    "exit status: 0 applied (refusals are listed), 1 could not apply, 2 usage\n";

static const char usage_restore[] =
    "usage: zepto tune restore [--state FILE] [--json] [-q]\n"
    "\n"
    "Puts back every value the state file saved, in reverse order, and removes the file (root).\n"
    "Works after `apply` was killed half-way; running it again does nothing.\n"
    "\n"
    "  -q, --quiet             print nothing when all went back or nothing was tuned (a job's\n"
    "                          epilog); what could not be put back is still printed\n"
    "\n"
    "exit status: 0 restored or nothing to restore, 1 something could not be put back (the\n"
    "state file is kept), 2 usage\n";

static const char usage_status[] =
    "usage: zepto tune status [--state FILE] [--json]\n"
    "\n"
    "Whether a tuning is in effect, and for each change whether the new value still holds,\n"
    "is back to the old one, or was changed by someone else (drift).\n"
    "\n"
    "exit status: 0 (also when nothing is tuned), 1 the state file cannot be read, 2 usage\n";

enum { OPT_HOUSEKEEPING = CLI_OPT_LOCAL, OPT_STATE, OPT_IRQBALANCE };

struct params {
    const char *cpus, *housekeeping, *state;
    enum zepto_tune_irqbalance irqbalance;
    bool json, quiet, help;
};

static int parse(const char *cmd, bool takes_cpus, int argc, char **argv, struct params *p,
                 struct zepto_err *err)
{
    static const struct option with_cpus[] = {
        {"cpus", required_argument, 0, 'c'},
        {"housekeeping", required_argument, 0, OPT_HOUSEKEEPING},
        {"state", required_argument, 0, OPT_STATE},
        {"irqbalance", required_argument, 0, OPT_IRQBALANCE},
        CLI_LONGOPT_JSON,
        CLI_LONGOPT_QUIET,
        CLI_LONGOPT_HELP,
        {0}};
    static const struct option plan[] = {/* plan reads no state file */
                                         {"cpus", required_argument, 0, 'c'},
                                         {"housekeeping", required_argument, 0, OPT_HOUSEKEEPING},
                                         {"irqbalance", required_argument, 0, OPT_IRQBALANCE},
                                         CLI_LONGOPT_JSON,
                                         CLI_LONGOPT_HELP,
                                         {0}};
    static const struct option without[] = {
        {"state", required_argument, 0, OPT_STATE}, CLI_LONGOPT_JSON, CLI_LONGOPT_HELP, {0}};
    static const struct option restore[] = {{"state", required_argument, 0, OPT_STATE},
                                            CLI_LONGOPT_JSON,
                                            CLI_LONGOPT_QUIET,
                                            CLI_LONGOPT_HELP,
                                            {0}};
    int c;
    memset(p, 0, sizeof(*p));
    p->state = zepto_tune_default_state();
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv,
                              !strcmp(cmd, "tune plan")      ? plan
                              : !strcmp(cmd, "tune restore") ? restore
                              : takes_cpus                   ? with_cpus
                                                             : without,
                              false, err)) != -1) {
        switch (c) {
        case 'c': p->cpus = optarg; break;
        case OPT_HOUSEKEEPING: p->housekeeping = optarg; break;
        case OPT_IRQBALANCE:
            if (!strcmp(optarg, "ban"))
                p->irqbalance = ZT_IRQBALANCE_BAN;
            else if (!strcmp(optarg, "stop"))
                p->irqbalance = ZT_IRQBALANCE_STOP;
            else if (!strcmp(optarg, "leave"))
                p->irqbalance = ZT_IRQBALANCE_LEAVE;
            else
                return zepto_fail(err, EINVAL, "--irqbalance '%s': ban, stop or leave", optarg);
            break;
        case OPT_STATE:
            if (!*optarg)
                return zepto_fail(err, EINVAL, "--state '': empty path");
            p->state = optarg;
            break;
        case CLI_OPT_JSON: p->json = true; break;
        case 'q': p->quiet = true; break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
    }
    if (takes_cpus && !p->cpus && strcmp(cmd, "status"))
        return zepto_fail(err, EINVAL, "--cpus is required: the application CPUs (\"1-3\")");
    return cli_opts_no_operand(argc, argv, err);
}

static int print(const struct zepto_tune_plan *pl, bool json, bool status)
{
    if (json)
        return zepto_tune_plan_json(pl, stdout) ? EXIT_FAIL : 0;
    zepto_tune_plan_text(pl, status, stdout);
    return 0;
}

static int tune_plan(int argc, char **argv)
{
    struct params p;
    struct zepto_err err = {0};
    if (parse("tune plan", true, argc, argv, &p, &err))
        return cli_usage_err("tune plan", &err);
    if (p.help)
        return fputs(usage_plan, stdout), 0;
    struct zepto_tune_opts o = {
        .app_cpus = p.cpus, .housekeeping = p.housekeeping, .irqbalance = p.irqbalance};
    struct zepto_tune_plan pl;
    int rc = zepto_tune_plan_make(&o, &pl, &err);
    if (rc)
        return rc == -EINVAL ? cli_usage_err("tune plan", &err) : cli_fail("tune plan", &err);
    rc = print(&pl, p.json, false);
    zepto_tune_plan_free(&pl);
    return rc;
}

static int tune_apply(int argc, char **argv)
{
    struct params p;
    struct zepto_err err = {0};
    if (parse("tune apply", true, argc, argv, &p, &err))
        return cli_usage_err("tune apply", &err);
    if (p.help)
        return fputs(usage_apply, stdout), 0;
    struct zepto_tune_opts o = {
        .app_cpus = p.cpus, .housekeeping = p.housekeeping, .irqbalance = p.irqbalance};
    struct zepto_tune_plan pl;
    int rc = zepto_tune_plan_make(&o, &pl, &err);
    if (rc)
        return rc == -EINVAL ? cli_usage_err("tune apply", &err) : cli_fail("tune apply", &err);
    if (zepto_tune_apply(&pl, p.state, &err)) {
        zepto_tune_plan_free(&pl);
        return cli_fail("tune apply", &err);
    }
    rc = print(&pl, p.json, true);
    unsigned refused = 0;
    for (unsigned i = 0; i < pl.count; i++)
        refused += pl.changes[i].status == ZT_REFUSED;
    if (refused)
        fprintf(stderr, "zepto tune apply: the kernel refused %u of %u changes (listed)\n", refused,
                pl.count);
    if (!p.quiet)
        fprintf(stderr,
                "zepto tune apply: old values saved in %s; `zepto tune restore` undoes it\n",
                p.state);
    zepto_tune_plan_free(&pl);
    return rc;
}

static int tune_restore(int argc, char **argv)
{
    struct params p;
    struct zepto_err err = {0};
    if (parse("tune restore", false, argc, argv, &p, &err))
        return cli_usage_err("tune restore", &err);
    if (p.help)
        return fputs(usage_restore, stdout), 0;
    struct zepto_tune_plan pl;
    bool nothing;
    int rc = zepto_tune_restore(p.state, &pl, &nothing, &err);
    if (nothing) {
        if (!p.quiet)
            fprintf(stderr, "zepto tune restore: nothing to restore: no state file at %s\n",
                    p.state);
        return 0;
    }
    if ((pl.count || !rc) && (!p.quiet || p.json || rc))
        print(&pl, p.json, true);
    zepto_tune_plan_free(&pl);
    if (rc)
        return cli_fail("tune restore", &err);
    return 0;
}

static int tune_status(int argc, char **argv)
{
    struct params p;
    struct zepto_err err = {0};
    if (parse("tune status", false, argc, argv, &p, &err))
        return cli_usage_err("tune status", &err);
    if (p.help)
        return fputs(usage_status, stdout), 0;
    struct zepto_tune_plan pl;
    bool nothing;
    if (zepto_tune_status(p.state, &pl, &nothing, &err))
        return cli_fail("tune status", &err);
    if (nothing) {
        if (p.json)
            printf("{\n  \"schema_version\": 1,\n  \"tuned\": false\n}\n");
        else
            printf("not tuned: no state file at %s\n", p.state);
        return 0;
    }
    unsigned drift = 0;
    for (unsigned i = 0; i < pl.count; i++)
        drift += pl.changes[i].status != ZT_APPLIED && pl.changes[i].status != ZT_GONE;
    if (!p.json)
        printf("tuned (state file %s): %u of %u changes in effect%s\n", p.state, pl.count - drift,
               pl.count, drift ? ", the others drifted or were refused (below)" : "");
    int rc = print(&pl, p.json, true);
    zepto_tune_plan_free(&pl);
    return rc;
}

int cli_tune(int argc, char **argv)
{
    static const struct cli_cmd cmds[] = {{"plan", "what would change", tune_plan},
                                          {"apply", "make the changes", tune_apply},
                                          {"restore", "undo them", tune_restore},
                                          {"status", "whether a tuning is in effect", tune_status},
                                          {"check", "noise before and after", cli_tune_check},
                                          {0}};
    return cli_dispatch("tune", cmds, argc, argv, help);
}
