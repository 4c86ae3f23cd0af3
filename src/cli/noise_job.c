/*
 * Which task of which job this `zepto noise record` is, from the launcher's environment: Open MPI
 * (OMPI_COMM_WORLD_RANK/SIZE, the job id in OMPI_MCA_ess_base_jobid or PMIX_NAMESPACE), else
 * Slurm (SLURM_PROCID, SLURM_NTASKS, SLURM_JOB_ID.SLURM_STEP_ID).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/noise_job.h"

static bool env_uint(const char *name, unsigned max, unsigned *out)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return false;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || v[0] == '-' || n > max)
        return false;
    *out = (unsigned)n;
    return true;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* Keeps the key usable as a file name: anything else becomes '_'. */
static void clean(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '-'))
            *s = '_';
}

void cli_noise_job_detect(struct cli_noise_job *j)
{
    unsigned rank, size;
    memset(j, 0, sizeof *j);
    j->size = 1;
    if (env_uint("OMPI_COMM_WORLD_RANK", 1u << 30, &rank) &&
        env_uint("OMPI_COMM_WORLD_SIZE", 1u << 30, &size) && rank < size) {
        j->launcher = "mpirun";
        snprintf(j->key, sizeof j->key, "ompi-%.80s",
                 env_or("OMPI_MCA_ess_base_jobid", env_or("PMIX_NAMESPACE", "job")));
    } else if (env_uint("SLURM_PROCID", 1u << 30, &rank) &&
               (env_uint("SLURM_NTASKS", 1u << 30, &size) ||
                env_uint("SLURM_NPROCS", 1u << 30, &size)) &&
               rank < size) {
        j->launcher = "srun";
        snprintf(j->key, sizeof j->key, "slurm-%.40s.%.40s", env_or("SLURM_JOB_ID", "job"),
                 env_or("SLURM_STEP_ID", "0"));
    } else {
        return;
    }
    j->rank = rank;
    j->size = size;
    clean(j->key);
}
