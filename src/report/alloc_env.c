/*
 * Which job step a task of `zepto report` runs in, from its launcher's environment: Slurm's
 * srun, or Open MPI's mpirun. The variables are the launcher's, not Zepto settings; all of them
 * are read here, through one table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/parse.h"
#include "report/alloc.h"

enum var {
    V_JOB,       /* SLURM_JOB_ID */
    V_STEP,      /* SLURM_STEP_ID */
    V_PROCID,    /* SLURM_PROCID */
    V_NTASKS,    /* SLURM_STEP_NUM_TASKS, else SLURM_NTASKS */
    V_NTASKS2,   /* SLURM_NTASKS */
    V_NODEID,    /* SLURM_NODEID */
    V_LOCALID,   /* SLURM_LOCALID */
    V_NNODES,    /* SLURM_STEP_NUM_NODES, else SLURM_NNODES */
    V_NNODES2,   /* SLURM_NNODES */
    V_NODELIST,  /* SLURM_STEP_NODELIST, else SLURM_NODELIST */
    V_NODELIST2, /* SLURM_NODELIST */
    V_NODENAME,  /* SLURMD_NODENAME */
    V_CLUSTER,   /* SLURM_CLUSTER_NAME */
    V_PORT,      /* SLURM_SRUN_COMM_PORT: tells two steps of equal job ids apart */
    V_ORANK,     /* OMPI_COMM_WORLD_RANK */
    V_OSIZE,     /* OMPI_COMM_WORLD_SIZE */
    V_OLRANK,    /* OMPI_COMM_WORLD_LOCAL_RANK */
    V_OLSIZE,    /* OMPI_COMM_WORLD_LOCAL_SIZE */
    V_OJOB,      /* OMPI_MCA_ess_base_jobid */
    V_PMIXNS,    /* PMIX_NAMESPACE */
    V_COUNT
};

static const char *const names[V_COUNT] = {
    "SLURM_JOB_ID",
    "SLURM_STEP_ID",
    "SLURM_PROCID",
    "SLURM_STEP_NUM_TASKS",
    "SLURM_NTASKS",
    "SLURM_NODEID",
    "SLURM_LOCALID",
    "SLURM_STEP_NUM_NODES",
    "SLURM_NNODES",
    "SLURM_STEP_NODELIST",
    "SLURM_NODELIST",
    "SLURMD_NODENAME",
    "SLURM_CLUSTER_NAME",
    "SLURM_SRUN_COMM_PORT",
    "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "OMPI_COMM_WORLD_LOCAL_SIZE",
    "OMPI_MCA_ess_base_jobid",
    "PMIX_NAMESPACE",
};

static const char *var(enum var v)
{
    const char *s = getenv(names[v]);
    return s && *s ? s : NULL;
}

static int number(enum var v, uint64_t max, unsigned *out, struct zepto_err *err)
{
    uint64_t x;
    const char *s = var(v);
    if (!s)
        return zepto_fail(err, EINVAL, "%s is not set", names[v]);
    if (zb_parse_u64(s, 0, max, &x, err)) {
        zepto_err_prefix(err, "%s", names[v]);
        return -EINVAL;
    }
    *out = (unsigned)x;
    return 0;
}

/* Keeps what a file name may hold: letters, digits, '.', '-' and '_'. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '-' || *s == '_'))
            *s = '_';
}

static void host_name(struct zepto_report_alloc *a, const char *given)
{
    if (given)
        snprintf(a->host, sizeof(a->host), "%s", given);
    else if (gethostname(a->host, sizeof(a->host) - 1))
        snprintf(a->host, sizeof(a->host), "unknown");
    sanitize(a->host);
    if (!strcmp(a->host, ".") || !strcmp(a->host, ".."))
        a->host[0] = '_';
}

static int slurm(struct zepto_report_alloc *a, struct zepto_err *err)
{
    int rc;
    snprintf(a->launcher, sizeof(a->launcher), "slurm");
    if ((rc = number(V_PROCID, ZR_HOSTLIST_MAX * 1024, &a->rank, err)) ||
        (rc = number(var(V_NTASKS) ? V_NTASKS : V_NTASKS2, ZR_HOSTLIST_MAX * 1024, &a->ntasks,
                     err)) ||
        (rc = number(var(V_NNODES) ? V_NNODES : V_NNODES2, ZR_HOSTLIST_MAX, &a->nodes, err)))
        return rc;
    unsigned node, local;
    if ((rc = number(V_NODEID, ZR_HOSTLIST_MAX, &node, err)) ||
        (rc = number(V_LOCALID, ZR_HOSTLIST_MAX * 1024, &local, err)))
        return rc;
    if (!a->nodes || a->rank >= a->ntasks || node >= a->nodes)
        return zepto_fail(err, EINVAL,
                          "SLURM_PROCID %u, SLURM_NODEID %u do not fit %u tasks on %u nodes",
                          a->rank, node, a->ntasks, a->nodes);
    a->node_index = (int)node;
    a->node_leader = local == 0;
    const char *list = var(V_NODELIST) ? var(V_NODELIST) : var(V_NODELIST2);
    snprintf(a->nodelist, sizeof(a->nodelist), "%s", list ? list : "");
    host_name(a, var(V_NODENAME));
    snprintf(a->job, sizeof(a->job), "%s-%s.%s%s%s", var(V_CLUSTER) ? var(V_CLUSTER) : "slurm",
             var(V_JOB), var(V_STEP) ? var(V_STEP) : "batch", var(V_PORT) ? "-" : "",
             var(V_PORT) ? var(V_PORT) : "");
    sanitize(a->job);
    return 1;
}

static int openmpi(struct zepto_report_alloc *a, struct zepto_err *err)
{
    int rc;
    unsigned local, lsize;
    snprintf(a->launcher, sizeof(a->launcher), "openmpi");
    if ((rc = number(V_ORANK, ZR_HOSTLIST_MAX * 1024, &a->rank, err)) ||
        (rc = number(V_OSIZE, ZR_HOSTLIST_MAX * 1024, &a->ntasks, err)) ||
        (rc = number(V_OLRANK, ZR_HOSTLIST_MAX * 1024, &local, err)) ||
        (rc = number(V_OLSIZE, ZR_HOSTLIST_MAX * 1024, &lsize, err)))
        return rc;
    if (!lsize || a->rank >= a->ntasks || local >= lsize || a->ntasks % lsize)
        return zepto_fail(err, EINVAL,
                          "OMPI_COMM_WORLD_RANK %u, LOCAL_RANK %u do not fit %u tasks, %u a node "
                          "(the same number of tasks on every node is needed)",
                          a->rank, local, a->ntasks, lsize);
    a->nodes = a->ntasks / lsize;
    a->node_index = -1;
    a->node_leader = local == 0;
    host_name(a, NULL);
    const char *job = var(V_PMIXNS) ? var(V_PMIXNS) : var(V_OJOB);
    if (!job)
        return zepto_fail(err, EINVAL, "Open MPI: neither PMIX_NAMESPACE nor %s is set",
                          names[V_OJOB]);
    snprintf(a->job, sizeof(a->job), "ompi-%s", job);
    sanitize(a->job);
    return 1;
}

int zepto_report_alloc_detect(struct zepto_report_alloc *a, struct zepto_err *err)
{
    memset(a, 0, sizeof(*a));
    a->node_index = -1;
    int rc = 0;
    /* srun sets SLURM_PROCID for its tasks; a batch script or salloc shell is not a step of
     * several tasks. mpirun under Slurm: Open MPI's view is the one of the tasks. */
    if (var(V_ORANK))
        rc = openmpi(a, err);
    else if (var(V_JOB) && var(V_PROCID) && var(V_STEP))
        rc = slurm(a, err);
    if (rc < 0)
        return rc;
    return rc == 1 && a->ntasks > 1 ? 1 : 0;
}
