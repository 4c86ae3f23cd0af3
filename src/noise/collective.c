/*
 * MPI collectives timed with and without injected noise, without a barrier in the timed loop.
 *
 * Barrier-free timing (the window method of SKaMPI and ReproMPI): the ranks first measure their
 * clock offset to rank 0 (ping-pongs, the offset of the fastest round trip), then agree on start
 * times s_0 < s_1 < ... on rank 0's clock, one window apart (the window times a random factor in
 * [1, 1.5), from a shared seed, so that the windows do not beat with a periodic noise). Each rank
 * waits for s_k on its own clock, runs the collective and notes when it finished; the time of
 * iteration k is the latest finish over the ranks minus s_k. No barrier before an operation
 * means that a rank delayed by noise is not hidden behind the barrier's own wait. An iteration
 * is dropped (an overrun) when some rank was still busy with the previous one at s_k; the window
 * is chosen from the warm-up (4 times the median operation, plus the longest detour and 200 us
 * for the preemption around it) so that this is rare, and the count is reported.
 *
 * Quiet and noisy blocks alternate (5 of each by default) so that a drift of the machine shows in
 * both. In noisy blocks each rank runs a zn_player on its own CPU; in sync phase the pattern
 * position is a function of rank 0's clock, so every rank is at the same position at once.
 */
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/cpuset.h"
#include "base/json.h"
#include "base/rand.h"
#include "zepto/noise.h"

#define PINGPONGS          64
#define START_MARGIN_NS    5000000ull
#define NOISE_ALLOWANCE_NS 200000ull /* preemption and wake-up around a detour */
#define MIN_WINDOW_NS      20000ull

int zn_coll_op_parse(const char *s, enum zn_coll_op *op, struct zepto_err *err)
{
    if (s && !strcmp(s, "allreduce"))
        *op = ZN_OP_ALLREDUCE;
    else if (s && !strcmp(s, "barrier"))
        *op = ZN_OP_BARRIER;
    else if (s && !strcmp(s, "bcast"))
        *op = ZN_OP_BCAST;
    else
        return zepto_fail(err, EINVAL, "'%s': use allreduce, barrier or bcast", s ? s : "");
    return 0;
}

const char *zn_coll_op_name(enum zn_coll_op op)
{
    return op == ZN_OP_ALLREDUCE ? "allreduce" : op == ZN_OP_BARRIER ? "barrier" : "bcast";
}

struct ctx {
    const struct zn_coll_opts *o;
    int rank, size, local_rank, local_size, cpu;
    bool oversubscribed;
    int64_t offset; /* this rank's clock minus rank 0's */
    void *sendbuf, *recvbuf;
    int count;
    uint64_t rng; /* the shared schedule */
};

static int run_op(struct ctx *c)
{
    switch (c->o->op) {
    case ZN_OP_ALLREDUCE:
        return MPI_Allreduce(c->sendbuf, c->recvbuf, c->count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    case ZN_OP_BARRIER: return MPI_Barrier(MPI_COMM_WORLD);
    case ZN_OP_BCAST: return MPI_Bcast(c->sendbuf, (int)c->o->bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
    }
    return MPI_ERR_OTHER;
}

/* Local rank on this host; pins the rank to one of the CPUs it may use. */
static int place(struct ctx *c, int *hosts, struct zepto_err *err)
{
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &c->local_rank);
    MPI_Comm_size(local, &c->local_size);
    MPI_Comm_free(&local);
    int first = c->local_rank == 0;
    MPI_Allreduce(&first, hosts, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);

    struct zb_cpuset allowed;
    int cpus[ZB_CPU_MAX];
    if (zb_cpuset_allowed(&allowed, err))
        return -EIO;
    unsigned n = zb_cpuset_list(&allowed, cpus, ZB_CPU_MAX);
    /* Bound by the launcher to one CPU: that one. Otherwise spread the local ranks. */
    c->cpu = n == 1 ? cpus[0] : cpus[(unsigned)c->local_rank % n];
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    c->oversubscribed = c->local_size > (online > 0 ? online : 1);
    return zb_pin_self(c->cpu, err);
}

/* Offsets to rank 0's clock from the fastest of PINGPONGS round trips. */
static void sync_clocks(struct ctx *c, struct zn_coll_result *r)
{
    int64_t offset = 0, max_off = 0;
    uint64_t best_rtt_all = UINT64_MAX;
    for (int peer = 1; peer < c->size; peer++) {
        if (c->rank == 0) {
            uint64_t best = UINT64_MAX;
            for (int i = 0; i < PINGPONGS; i++) {
                uint64_t t0 = zb_mono_read(), tr;
                MPI_Send(&t0, 1, MPI_UINT64_T, peer, 1, MPI_COMM_WORLD);
                MPI_Recv(&tr, 1, MPI_UINT64_T, peer, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                uint64_t t1 = zb_mono_read();
                if (t1 - t0 < best) {
                    best = t1 - t0;
                    offset = (int64_t)(tr - (t0 + (t1 - t0) / 2));
                }
            }
            MPI_Send(&offset, 1, MPI_INT64_T, peer, 3, MPI_COMM_WORLD);
            max_off = llabs(offset) > max_off ? llabs(offset) : max_off;
            best_rtt_all = best < best_rtt_all ? best : best_rtt_all;
        } else if (c->rank == peer) {
            for (int i = 0; i < PINGPONGS; i++) {
                uint64_t t0;
                MPI_Recv(&t0, 1, MPI_UINT64_T, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                uint64_t tr = zb_mono_read();
                MPI_Send(&tr, 1, MPI_UINT64_T, 0, 2, MPI_COMM_WORLD);
            }
            MPI_Recv(&c->offset, 1, MPI_INT64_T, 0, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
    }
    MPI_Bcast(&max_off, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
    MPI_Bcast(&best_rtt_all, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    r->clock_offset_max_ns = max_off;
    r->clock_rtt_min_ns = c->size > 1 ? best_rtt_all : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n ? v[n / 2] : 0;
}

/* Warm-up: returns the slowest rank's median operation time. */
static double warm_up(struct ctx *c)
{
    unsigned n = c->o->warmup ? c->o->warmup : 1;
    double *d = calloc(n, sizeof(double)), med = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    for (unsigned i = 0; d && i < n; i++) {
        uint64_t t0 = zb_mono_read();
        run_op(c);
        d[i] = (double)(zb_mono_read() - t0);
    }
    if (d)
        med = median_of(d, n);
    free(d);
    double all;
    MPI_Allreduce(&med, &all, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return all;
}

/* Waits on this rank's clock for rank 0's time `t`; true when it was already past. */
static bool wait_for(struct ctx *c, uint64_t t)
{
    uint64_t local = t + (uint64_t)c->offset;
    if (zb_mono_read() >= local)
        return true;
    while (zb_mono_read() < local)
        if (c->oversubscribed)
            sched_yield(); /* another rank of this CPU may need it to reach its own start */
    return false;
}

/* One block of n iterations; durations (max over ranks) and overruns land on rank 0. */
static void run_block(struct ctx *c, uint64_t window, unsigned n, double *dur, int *over)
{
    uint64_t start = 0;
    if (c->rank == 0)
        start = zb_mono_read() + START_MARGIN_NS;
    MPI_Bcast(&start, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    double *mine = calloc(n, sizeof(double));
    int *late = calloc(n, sizeof(int));
    uint64_t s = start;
    for (unsigned k = 0; mine && late && k < n; k++) {
        late[k] = wait_for(c, s);
        run_op(c);
        mine[k] = (double)(zb_mono_read() - (s + (uint64_t)c->offset));
        s += (uint64_t)((double)window * (1 + 0.5 * zb_rand_unit(&c->rng)));
    }
    if (mine && late) {
        MPI_Reduce(mine, dur, (int)n, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        MPI_Reduce(late, over, (int)n, MPI_INT, MPI_MAX, 0, MPI_COMM_WORLD);
    }
    free(mine);
    free(late);
}

static void stats(const double *all, const int *over, size_t n, struct zn_coll_stats *s,
                  uint64_t *overruns)
{
    double *v = malloc((n ? n : 1) * sizeof(double));
    size_t m = 0;
    double sum = 0;
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; v && i < n; i++) {
        if (over[i]) {
            (*overruns)++;
            continue;
        }
        v[m++] = all[i];
        sum += all[i];
    }
    if (v && m) {
        qsort(v, m, sizeof(double), cmp_double);
        s->valid = m;
        s->mean_ns = sum / (double)m;
        s->median_ns = v[m / 2];
        s->p99_ns = v[(m * 99) / 100];
        s->max_ns = v[m - 1];
    }
    free(v);
}

/* The longest detour the noise can bring, for the window. */
static uint64_t longest_detour(const struct zn_coll_opts *o)
{
    if (o->synthetic)
        return (uint64_t)((double)o->synthetic->duration_ns * o->scale);
    uint64_t m = 0;
    for (uint32_t i = 0; o->trace && i < o->trace->ncpu; i++)
        m = o->trace->cpu[i].detour_max_ns > m ? o->trace->cpu[i].detour_max_ns : m;
    return (uint64_t)((double)m * o->scale);
}

static int start_noise(struct ctx *c, struct zn_player **pl, struct zepto_err *err)
{
    const struct zn_coll_opts *o = c->o;
    struct zn_play_opts po = {
        .trace = o->trace,
        .synthetic = o->synthetic,
        .cpus = &c->cpu,
        .ncpu = 1,
        .phase = o->phase,
        .scale = o->scale,
        .seed = o->seed + 7919u * (uint64_t)(c->rank + 1),
        .have_epoch = true,
        .epoch_mono_ns = (uint64_t)c->offset, /* rank 0's time 0 on this rank's clock */
    };
    return zn_player_start(&po, pl, err);
}

static void add_injected(struct zn_coll_result *r, const struct zn_play_report *rep)
{
    r->injected.detours += rep->all.detours;
    r->injected.injected_ns += rep->all.injected_ns;
    if (rep->all.late_p99_ns > r->injected.late_p99_ns)
        r->injected.late_p99_ns = rep->all.late_p99_ns;
    if (rep->all.late_median_ns > r->injected.late_median_ns)
        r->injected.late_median_ns = rep->all.late_median_ns;
    r->realtime = rep->realtime;
    snprintf(r->priority, sizeof(r->priority), "%s", rep->priority);
}

int zn_collective_run(const struct zn_coll_opts *o, struct zn_coll_result *r, struct zepto_err *err)
{
    struct ctx c = {.o = o};
    int rc = 0;
    memset(r, 0, sizeof(*r));
    MPI_Comm_rank(MPI_COMM_WORLD, &c.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c.size);
    r->ranks = c.size;
    r->noise = o->synthetic || o->trace;

    int local_rc = place(&c, &r->hosts, err), any_rc;
    MPI_Allreduce(&local_rc, &any_rc, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (any_rc)
        return local_rc ? local_rc : zepto_fail(err, EIO, "another rank could not pin itself");

    uint64_t bytes = o->bytes ? o->bytes : 8;
    c.count = (int)((bytes + 7) / 8);
    c.sendbuf = calloc((size_t)c.count, 8);
    c.recvbuf = calloc((size_t)c.count, 8);
    unsigned blocks = o->blocks ? o->blocks : 5, per = (o->iters + blocks - 1) / blocks;
    size_t total = (size_t)per * blocks;
    double *quiet = calloc(total, sizeof(double)), *noisy = calloc(total, sizeof(double));
    int *qover = calloc(total, sizeof(int)), *nover = calloc(total, sizeof(int));
    if (!c.sendbuf || !c.recvbuf || !quiet || !noisy || !qover || !nover) {
        rc = zepto_fail(err, ENOMEM, "out of memory");
        goto out;
    }

    sync_clocks(&c, r);
    double med = warm_up(&c);
    uint64_t window = o->window_ns;
    if (!window) {
        window = (uint64_t)(4 * med);
        window = window < MIN_WINDOW_NS ? MIN_WINDOW_NS : window;
        if (r->noise)
            window += longest_detour(o) + NOISE_ALLOWANCE_NS;
    }
    r->window_ns = window;
    uint64_t seed = o->seed;
    MPI_Bcast(&seed, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    c.rng = seed;

    for (unsigned b = 0; b < blocks; b++) {
        run_block(&c, window, per, quiet + (size_t)b * per, qover + (size_t)b * per);
        if (!r->noise)
            continue;
        struct zn_player *pl = NULL;
        struct zepto_err perr = {0};
        int prc = start_noise(&c, &pl, &perr), all_prc;
        MPI_Allreduce(&prc, &all_prc, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        if (all_prc) {
            if (pl) {
                struct zn_play_report rep;
                zn_player_finish(pl, &rep, NULL);
                zn_play_report_free(&rep);
                zn_player_free(pl);
            }
            rc = prc ? (*err = perr, prc) : zepto_fail(err, EIO, "another rank's injector failed");
            goto out;
        }
        run_block(&c, window, per, noisy + (size_t)b * per, nover + (size_t)b * per);
        struct zn_play_report rep;
        zn_player_finish(pl, &rep, NULL);
        add_injected(r, &rep);
        zn_play_report_free(&rep);
        zn_player_free(pl);
    }

    /* Injection totals over the ranks; whether every rank had SCHED_FIFO. */
    uint64_t sums[2] = {r->injected.detours, r->injected.injected_ns}, tot[2];
    MPI_Reduce(sums, tot, 2, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    int rt = r->realtime || !r->noise, all_rt;
    MPI_Allreduce(&rt, &all_rt, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (c.rank == 0) {
        r->injected.detours = tot[0];
        r->injected.injected_ns = tot[1];
        r->realtime = all_rt;
        stats(quiet, qover, total, &r->quiet, &r->overruns);
        if (r->noise) {
            stats(noisy, nover, total, &r->noisy, &r->overruns);
            r->slowdown_mean = r->quiet.mean_ns > 0 ? r->noisy.mean_ns / r->quiet.mean_ns : 0;
            r->slowdown_median =
                r->quiet.median_ns > 0 ? r->noisy.median_ns / r->quiet.median_ns : 0;
        }
    }
    MPI_Bcast(r, (int)sizeof(*r), MPI_BYTE, 0, MPI_COMM_WORLD);
out:
    free(c.sendbuf);
    free(c.recvbuf);
    free(quiet);
    free(noisy);
    free(qover);
    free(nover);
    return rc;
}

static void stats_json(struct zb_json *j, const char *key, const struct zn_coll_stats *s)
{
    zb_json_key(j, key);
    zb_json_obj_begin(j);
    zb_json_kv_u64(j, "iterations", s->valid);
    zb_json_kv_f64(j, "mean_ns", s->mean_ns);
    zb_json_kv_f64(j, "median_ns", s->median_ns);
    zb_json_kv_f64(j, "p99_ns", s->p99_ns);
    zb_json_kv_f64(j, "max_ns", s->max_ns);
    zb_json_obj_end(j);
}

void zn_coll_result_json(const struct zn_coll_opts *o, const struct zn_coll_result *r,
                         struct zb_json *j)
{
    zb_json_obj_begin(j);
    zb_json_kv_u64(j, "schema_version", 1); /* docs/schema/ */
    zb_json_kv_str(j, "op", zn_coll_op_name(o->op));
    zb_json_kv_u64(j, "bytes", o->op == ZN_OP_BARRIER ? 0 : (o->bytes ? o->bytes : 8));
    zb_json_kv_i64(j, "ranks", r->ranks);
    zb_json_kv_i64(j, "hosts", r->hosts);
    zb_json_kv_u64(j, "window_ns", r->window_ns);
    zb_json_kv_i64(j, "clock_offset_max_ns", r->clock_offset_max_ns);
    zb_json_kv_u64(j, "clock_rtt_min_ns", r->clock_rtt_min_ns);
    zb_json_kv_u64(j, "overruns", r->overruns);
    stats_json(j, "quiet", &r->quiet);
    if (r->noise) {
        stats_json(j, "noisy", &r->noisy);
        zb_json_kv_f64(j, "slowdown_mean", r->slowdown_mean);
        zb_json_kv_f64(j, "slowdown_median", r->slowdown_median);
        zb_json_key(j, "noise");
        zb_json_obj_begin(j);
        zb_json_kv_str(j, "phase", o->phase == ZN_PHASE_SYNC ? "sync" : "random");
        zb_json_kv_f64(j, "scale", o->scale);
        if (o->synthetic) {
            zb_json_kv_u64(j, "period_ns", o->synthetic->period_ns);
            zb_json_kv_u64(j, "duration_ns", o->synthetic->duration_ns);
            zb_json_kv_u64(j, "jitter_ns", o->synthetic->jitter_ns);
        }
        zb_json_kv_bool(j, "realtime", r->realtime);
        zb_json_kv_str(j, "priority", r->priority);
        zb_json_kv_u64(j, "injected_detours", r->injected.detours);
        zb_json_kv_u64(j, "injected_ns", r->injected.injected_ns);
        zb_json_kv_u64(j, "late_median_ns", r->injected.late_median_ns);
        zb_json_kv_u64(j, "late_p99_ns", r->injected.late_p99_ns);
        zb_json_obj_end(j);
    } else {
        zb_json_key(j, "noisy");
        zb_json_null(j);
    }
    zb_json_obj_end(j);
}
