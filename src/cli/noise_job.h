/*
 * The job a `zepto noise record` task belongs to, as its launcher says (Open MPI's mpirun, or
 * Slurm's srun): rank, number of tasks, and a key naming the run (job and step).
 */
#ifndef ZEPTO_CLI_NOISE_JOB_H
#define ZEPTO_CLI_NOISE_JOB_H

struct cli_noise_job {
    unsigned rank, size;  /* 0 of 1 when no launcher started us */
    const char *launcher; /* "mpirun", "srun" or NULL */
    char key[96];         /* [A-Za-z0-9._-] only; "" when size is 1 */
};

/* Open MPI first: under `salloc mpirun` the SLURM_* variables are those of mpirun's daemon. A
 * variable that is not a number is ignored (as if absent). */
void cli_noise_job_detect(struct cli_noise_job *j);

#endif
