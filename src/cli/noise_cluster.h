/*
 * The cluster view of `zepto noise analyse` (several traces or a directory).
 */
#ifndef ZEPTO_CLI_NOISE_CLUSTER_H
#define ZEPTO_CLI_NOISE_CLUSTER_H

#include <stdbool.h>

/* Analyses the traces named by ops (files or directories of *.znt); returns an exit status. */
int cli_noise_cluster(int nops, char **ops, bool json);

#endif
