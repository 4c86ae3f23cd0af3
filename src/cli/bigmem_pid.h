/*
 * `zepto bigmem info --pid PID`: the segments of a running program and of its libraries, and the
 * page size backing each (src/cli/bigmem_pid.c).
 */
#ifndef ZEPTO_CLI_BIGMEM_PID_H
#define ZEPTO_CLI_BIGMEM_PID_H

#include <stdbool.h>
#include <sys/types.h>

/* Prints the listing (text, or JSON with json); returns the exit code. */
int cli_bigmem_info_pid(const char *cmd, pid_t pid, bool json);

#endif
