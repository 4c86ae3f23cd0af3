/*
 * The cluster view of `zepto noise analyse` (several traces or a directory).
 */
#ifndef ZEPTO_CLI_NOISE_CLUSTER_H
#define ZEPTO_CLI_NOISE_CLUSTER_H

#include <stdbool.h>

/* Analyses the traces named by ops (files or directories of *.znt); returns an exit status. */
int cli_noise_cluster(int nops, char **ops, bool json);

/* Expands ops (files, or directories as their *.znt sorted by name) into *files; on failure
 * prints one line ("zepto CMD: ...") and returns EXIT_FAIL. */
int cli_noise_files(const char *cmd, int nops, char **ops, char ***files, unsigned *n);
void cli_noise_files_free(char **files, unsigned n);

struct zn_pattern;
/* Loads the CPU patterns of every trace named by ops, node after node: rank r of `simulate`
 * replays pattern r % n. Prints one line and returns EXIT_FAIL on a bad trace. */
int cli_noise_sim_patterns(int nops, char **ops, double scale, struct zn_pattern **out, unsigned *n,
                           unsigned *ntraces);

#endif
