/*
 * Shared helpers of the CLI: error lines, subcommand dispatch,
 * progress.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/preload.h"
#include "cli/cli.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "zepto %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

int cli_fail(const char *cmd, const struct zepto_err *err)
{
    fprintf(stderr, "zepto %s: %s\n", cmd, err->msg[0] ? err->msg : "failed");
    return EXIT_FAIL;
}

int cli_self_dir(char *buf, size_t len)
{
    return zb_self_dir(buf, len, NULL) ? -1 : 0;
}

int cli_dispatch(const char *group, const struct cli_cmd *cmds, int argc, char **argv,
                 const char *group_help)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(group_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "--commands")) { /* for the man pages and the completion */
        for (const struct cli_cmd *c = cmds; c->name; c++) {
            bool alias = false;
            for (const struct cli_cmd *d = cmds; d < c; d++)
                alias |= d->run == c->run;
            if (!alias)
                printf("%s\t%s\n", c->name, c->summary);
        }
        return 0;
    }
    for (const struct cli_cmd *c = cmds; c->name; c++)
        if (!strcmp(argv[1], c->name))
            return c->run(argc - 1, argv + 1);
    return cli_usage_error(group, "unknown command '%s' (see 'zepto %s --help')", argv[1], group);
}

static bool progress_shown;

void cli_progress(const char *what, uint64_t done_ns, uint64_t total_ns)
{
    static char last[128];
    /* No animation for a pipe, a file, a dumb terminal, or when NO_COLOR asks for plain text. */
    const char *term = getenv("TERM"), *no_color = getenv("NO_COLOR");
    if (!isatty(STDERR_FILENO) || (no_color && *no_color) || (term && !strcmp(term, "dumb")))
        return;
    uint64_t left = done_ns < total_ns ? total_ns - done_ns : 0;
    char line[128];
    snprintf(line, sizeof(line), "%s: %llu s left", what,
             (unsigned long long)((left + 999999999u) / 1000000000u));
    if (!strcmp(line, last))
        return;
    snprintf(last, sizeof(last), "%s", line);
    fprintf(stderr, "\r\033[K%s", line);
    progress_shown = true;
}

void cli_progress_done(void)
{
    if (progress_shown)
        fputs("\r\033[K", stderr);
    progress_shown = false;
}
