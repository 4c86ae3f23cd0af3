/*
 * zepto noise: the Selfish detour benchmark, re-made.
 *
 * A recorder runs one pinned thread per CPU in a loop that only reads the clock; every gap longer
 * than the threshold is a detour, time the CPU spent away from the application. A trace holds the
 * detours of every CPU with the facts needed to read them later (host, clock, threshold, loop
 * times); the analysis turns a trace into rates, noise fractions, a histogram and the periodic
 * signatures that explain the noise (a timer tick, a daemon waking every second).
 *
 * All times are nanoseconds counted from the start of the recording unless a name says otherwise.
 */
#ifndef ZEPTO_NOISE_H
#define ZEPTO_NOISE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "zepto/zepto.h"

#ifdef __cplusplus
extern "C" {
#endif

struct zb_json; /* base/json.h */

/* ---- traces ------------------------------------------------------------------------------ */

#define ZN_TRACE_MAGIC   "ZEPTONT\0" /* 8 bytes at the start of every trace file */
#define ZN_TRACE_VERSION 2           /* written when the trace has causes; version 1 otherwise */

struct zn_detour {
    uint64_t start_ns;    /* when the loop last ran before the gap */
    uint64_t duration_ns; /* length of the gap */
};

enum {
    ZN_CPU_TRUNCATED = 1u << 0, /* the detour buffer filled; counts stay exact, the list stops */
};

/* What the kernel says a detour was (`record --explain`): an index into the trace's causes and
 * how much of the detour the guest kernel's tracepoints account for. */
struct zn_detour_cause {
    uint32_t cause;     /* index into zn_trace.causes */
    uint64_t traced_ns; /* kernel time traced inside the detour (<= its length) */
};

enum zn_cause_kind {
    ZN_CAUSE_UNKNOWN = 0, /* nothing traced in the guest: the host */
    ZN_CAUSE_IRQ = 1,     /* name: interrupt handler or x86 vector ("local_timer") */
    ZN_CAUSE_SOFTIRQ = 2, /* name: vector ("TIMER") */
    ZN_CAUSE_THREAD = 3,  /* name: the comm of the task that took the CPU */
    ZN_CAUSE_FAULT = 4,   /* a page fault of the recorder; no name */
};
#define ZN_CAUSE_KINDS 5

struct zn_cause {
    uint32_t kind; /* enum zn_cause_kind */
    char name[60]; /* NUL-terminated; empty for UNKNOWN and FAULT */
};

struct zn_cpu_trace {
    uint32_t cpu;                /* CPU number */
    uint32_t flags;              /* ZN_CPU_* */
    uint64_t measured_ns;        /* how long this CPU's loop ran */
    uint64_t loops;              /* iterations of the loop (clock reads) */
    uint64_t loop_min_ps;        /* fastest iteration seen during calibration, picoseconds */
    uint64_t loop_tail_ps;       /* 99.99th percentile iteration during calibration, picoseconds */
    uint64_t detours;            /* exact count, also past a full buffer */
    uint64_t detour_ns;          /* exact total time in detours */
    uint64_t detour_min_ns;      /* exact shortest detour (0 when none) */
    uint64_t detour_max_ns;      /* exact longest detour */
    uint64_t truncated_at_ns;    /* when the buffer filled (ZN_CPU_TRUNCATED) */
    uint64_t stored;             /* detours in d[] (== detours unless truncated) */
    struct zn_detour *d;         /* sorted by start */
    struct zn_detour_cause *why; /* one per stored detour when the trace is explained, else NULL */
};

enum {
    ZN_TRACE_INTERRUPTED = 1u << 0,    /* stopped early (Ctrl-C); everything recorded is kept */
    ZN_TRACE_AUTO_THRESHOLD = 1u << 1, /* the threshold was chosen by `auto` */
    ZN_TRACE_EXPLAINED = 1u << 2       /* causes from the kernel (version 2 files) */
};

struct zn_trace {
    char host[64];
    char kernel[64];
    char cpu_model[128];
    char clock[16];         /* "tsc" or "monotonic" */
    uint64_t clock_hz;      /* ticks per second of that clock */
    uint64_t start_unix_ns; /* wall-clock time of the start (CLOCK_REALTIME) */
    uint64_t start_mono_ns; /* the same instant on CLOCK_MONOTONIC, to align with other tools */
    uint64_t duration_ns;   /* duration asked for */
    uint64_t threshold_ns;  /* gaps longer than this were detours */
    uint32_t flags;         /* ZN_TRACE_* */
    uint32_t ncpu;
    struct zn_cpu_trace *cpu;
    uint32_t ncauses; /* with ZN_TRACE_EXPLAINED: the distinct causes, each once */
    struct zn_cause *causes;
};

void zn_trace_free(struct zn_trace *t);

/* The index of cause (kind, name) in t->causes, added when new; -ENOMEM. */
int zn_trace_cause(struct zn_trace *t, uint32_t kind, const char *name);
/* "irq local_timer", "softirq TIMER", "thread kworker/0:1", "page fault", "unknown (host)". */
void zn_cause_label(const struct zn_cause *c, char *buf, size_t len);

/* Writes t to path in the binary format of docs/FORMATS.md (atomically: a temporary file is
 * renamed into place). */
int zn_trace_write(const struct zn_trace *t, const char *path, struct zepto_err *err);

/* Reads and fully validates a trace file: magic, version, sizes, checksum, ordering. */
int zn_trace_read(const char *path, struct zn_trace **out, struct zepto_err *err);

/* The same from memory (used by zn_trace_read and the fuzzer). */
int zn_trace_decode(const void *buf, size_t len, struct zn_trace **out, struct zepto_err *err);

/* ---- recording --------------------------------------------------------------------------- */

struct zn_record_opts {
    const int *cpus; /* CPUs to record on */
    unsigned ncpu;
    uint64_t duration_ns;    /* how long to record */
    uint64_t threshold_ns;   /* 0: auto */
    uint64_t buffer_detours; /* detours kept per CPU; 0: a default sized for the duration */
    int clock;               /* 0 auto, 1 tsc, 2 monotonic (enum zb_clock_kind) */
    uint64_t start_unix_ns;  /* 0: start right after calibration; else at this CLOCK_REALTIME
                                time (a common start across nodes), or at once when past */
};

/* Called from the thread that runs zn_recorder_run, about once a second: phase is "calibrating"
 * or "recording"; done and total are nanoseconds of that phase. */
typedef void (*zn_progress_fn)(void *arg, const char *phase, uint64_t done_ns, uint64_t total_ns);

struct zn_recorder;

int zn_recorder_new(const struct zn_record_opts *opts, struct zn_recorder **out,
                    struct zepto_err *err);
/* Calibrates, records, and returns when the duration is over or zn_recorder_stop was called. */
int zn_recorder_run(struct zn_recorder *rec, zn_progress_fn progress, void *arg,
                    struct zepto_err *err);
/* Ends the recording early; everything recorded so far is kept. Async-signal-safe. */
void zn_recorder_stop(struct zn_recorder *rec);
/* The thread id (gettid) of the recorder thread of opts.cpus[index], valid after
 * zn_recorder_run; 0 when unknown. */
int zn_recorder_thread_id(const struct zn_recorder *rec, unsigned index);
/* A time of the trace (ns from the start of the recording) on CLOCK_MONOTONIC, valid after a
 * successful zn_recorder_run: interpolated between clock pairs read at the start and at the end,
 * so the error of the calibrated frequency cancels. */
uint64_t zn_recorder_mono_ns(const struct zn_recorder *rec, uint64_t trace_ns);
/* Which clock is in use and why (valid after zn_recorder_new). */
const char *zn_recorder_clock_note(const struct zn_recorder *rec);
/* The recorded trace; the caller owns it. NULL before a successful run or when already taken. */
struct zn_trace *zn_recorder_take_trace(struct zn_recorder *rec);
void zn_recorder_free(struct zn_recorder *rec);

/* ---- explaining: the kernel's account of each detour (`record --explain`) --------------- */

/* A system-wide tracepoint capture on the recorded CPUs (ktau's, include/zepto/ktau_explain.h)
 * with a thread that drains it while the loops run. Needs root or perf_event_paranoid <= 0 and
 * tracefs: zn_explainer_start fails otherwise, saying so; the recording can go on without it. */
struct zn_explainer;

struct zn_explain_stats {
    uint64_t records;  /* kernel records captured */
    uint64_t lost;     /* records the kernel could not store (its buffers were full) */
    uint64_t bytes;    /* bytes drained */
    uint64_t drains;   /* drains while recording */
    uint64_t drain_ns; /* time spent copying in them */
};

/* Opens the capture on opts->cpus and starts the drain thread (on an allowed CPU that is not
 * recorded when there is one). Call before zn_recorder_run. */
int zn_explainer_start(const struct zn_record_opts *opts, struct zn_explainer **out,
                       struct zepto_err *err);
/* The CPU the drain thread is pinned to, or -1 (it then shares the recorded CPUs). */
int zn_explainer_drain_cpu(const struct zn_explainer *e);
/* After zn_recorder_run: stops the capture and gives every stored detour of t its cause (and
 * sets ZN_TRACE_EXPLAINED); on failure t is left without causes. With t NULL, only stops. */
int zn_explainer_finish(struct zn_explainer *e, const struct zn_recorder *rec, struct zn_trace *t,
                        struct zepto_err *err);
void zn_explainer_stats(const struct zn_explainer *e, struct zn_explain_stats *st);
void zn_explainer_free(struct zn_explainer *e);

/* ---- analysis ---------------------------------------------------------------------------- */

#define ZN_HIST_BINS      28 /* 10 ns .. 10 s in 1-2-5 steps, the last bin open-ended */
#define ZN_MAX_SIGNATURES 8

struct zn_hist {
    uint64_t lo_ns[ZN_HIST_BINS];    /* bin i holds detours in [lo_ns[i], lo_ns[i+1]) */
    uint64_t count[ZN_HIST_BINS];    /* detours in the bin */
    uint64_t total_ns[ZN_HIST_BINS]; /* their time */
};

/* A periodic signature: detours that recur with a fixed period. */
struct zn_signature {
    double period_ns;   /* fitted period */
    uint64_t detours;   /* detours that belong to it */
    uint64_t detour_ns; /* their total time */
    uint64_t length_ns; /* their median length */
    double noise_share; /* fraction of all detour time that it explains (0..1) */
    double regularity;  /* fraction of its cycles in which a detour was found (0..1) */
    char cpus[64];      /* CPUs it was seen on ("0-1") */
};

/* Detour time by cause (explained traces), over the stored detours. */
struct zn_cause_summary {
    uint32_t cause;         /* index into the trace's causes */
    uint64_t detours;       /* stored detours with this cause */
    uint64_t detour_ns;     /* their time */
    double share;           /* of the stored detours' time (0..1) */
    uint64_t median_ns;     /* their median length */
    uint64_t traced_ns;     /* kernel time traced inside them */
    double traced_fraction; /* traced_ns / detour_ns (0..1) */
};

struct zn_cpu_summary {
    uint32_t cpu;          /* CPU number; UINT32_MAX for the node summary */
    uint64_t measured_ns;  /* time measured (summed over CPUs for the node) */
    uint64_t detours;      /* exact */
    uint64_t detour_ns;    /* exact */
    double rate_per_s;     /* detours per second (summed over CPUs for the node) */
    double noise_fraction; /* detour time / time measured (0..1) */
    uint64_t min_ns, median_ns, p99_ns, max_ns; /* detour lengths; quantiles from stored ones */
    uint64_t loop_min_ps;     /* fastest loop iteration (the node: the slowest CPU's) */
    uint64_t loop_tail_ps;    /* 99.99th percentile iteration in calibration (node: largest) */
    uint64_t loop_mean_ps;    /* mean iteration of the recording, detours left out (node:
                                 largest) */
    bool truncated;           /* quantiles and signatures cover only the stored detours */
    uint64_t truncated_at_ns; /* earliest time a buffer filled */
    uint64_t stored;
    struct zn_hist hist;
    unsigned nsig;
    struct zn_signature sig[ZN_MAX_SIGNATURES]; /* by noise share, largest first */
    unsigned ncause;
    struct zn_cause_summary *cause; /* explained traces: by time, largest first; else NULL */
};

struct zn_summary {
    const struct zn_trace *trace; /* the trace analysed (not owned) */
    struct zn_cpu_summary node;
    unsigned ncpu;
    struct zn_cpu_summary *cpu;
};

int zn_analyse(const struct zn_trace *t, struct zn_summary **out, struct zepto_err *err);
void zn_summary_free(struct zn_summary *s);

/* Writes the summary as one JSON object (the `analyse --json` document). */
void zn_summary_json(const struct zn_summary *s, struct zb_json *j);

/* Writes the causes table of an explained trace's summary (one CPU's, or the node's) as one JSON
 * array, largest first: {cause, kind, name, detours, detour_total_ns, detour_time_fraction,
 * median_ns, traced_ns, traced_fraction}. The `causes` of `analyse --json` and of report.json. */
void zn_causes_json(const struct zn_trace *t, const struct zn_cpu_summary *s, struct zb_json *j);

/* Histogram of detour lengths (exposed for tests and plots). */
void zn_hist_build(const struct zn_detour *d, uint64_t n, struct zn_hist *h);

/* Periodic signatures in one CPU's detours (sorted by start) over a span of span_ns; fills at
 * most max signatures, largest noise share first, and returns how many. */
unsigned zn_find_signatures(const struct zn_detour *d, uint64_t n, uint64_t span_ns,
                            struct zn_signature *out, unsigned max);

/* ---- noise sources: synthetic specs and looping detour patterns -------------------------- */

/* `period=P,duration=D[,jitter=J]`: a detour of D every P, each start moved later by a uniform
 * random amount in [0, J). */
struct zn_synthetic {
    uint64_t period_ns;
    uint64_t duration_ns;
    uint64_t jitter_ns;
};

/* Parses a synthetic spec; rejects unknown or repeated keys, a zero period, a duration that is
 * zero or longer than the period, a jitter that would let detours overlap. */
int zn_synthetic_parse(const char *spec, struct zn_synthetic *out, struct zepto_err *err);

/* Detours that repeat every loop_ns: one traced CPU, or a synthetic spec drawn over many
 * periods. Starts are sorted and lie in [0, loop_ns). */
struct zn_pattern {
    uint64_t loop_ns;
    uint64_t n;
    uint64_t *start_ns;
    uint64_t *len_ns;
};

/* The pattern of trace CPU record `index`, lengths multiplied by scale; it loops over the time
 * that CPU measured (or until its buffer filled). */
int zn_pattern_from_trace(const struct zn_trace *t, unsigned index, double scale,
                          struct zn_pattern *p, struct zepto_err *err);
/* A synthetic spec drawn for enough periods that the pattern loops rarely (jitter from seed). */
int zn_pattern_from_synthetic(const struct zn_synthetic *s, double scale, uint64_t seed,
                              struct zn_pattern *p, struct zepto_err *err);
void zn_pattern_free(struct zn_pattern *p);
/* Share of the time the pattern takes (sum of lengths / loop). */
double zn_pattern_fraction(const struct zn_pattern *p);

/* Which record of trace t plays on `cpu`, the position-th CPU of the player: the record of that
 * CPU when the trace has one, else record position % ncpu. */
unsigned zn_trace_record_for(const struct zn_trace *t, int cpu, unsigned position);

/* A position in a pattern, for a consumer whose time runs on: the next detour starts at
 * next_ns (consumer time) and lasts len_ns. */
struct zn_cursor {
    const struct zn_pattern *p;
    uint64_t idx;     /* the next detour in p */
    uint64_t base_ns; /* consumer time at which the current loop of p began */
};

/* Consumer time t0 is pattern position offset_ns (taken modulo the loop). */
void zn_cursor_init(struct zn_cursor *c, const struct zn_pattern *p, uint64_t offset_ns,
                    uint64_t t0_ns);
/* The next detour (UINT64_MAX when the pattern has none). */
uint64_t zn_cursor_next(const struct zn_cursor *c, uint64_t *len_ns);
void zn_cursor_advance(struct zn_cursor *c);

enum zn_phase {
    ZN_PHASE_SYNC,  /* every CPU and every process at the same pattern position at one instant */
    ZN_PHASE_RANDOM /* each an independent random position */
};
int zn_phase_parse(const char *s, enum zn_phase *phase, struct zepto_err *err);

/* ---- play: inject detours into running programs ----------------------------------------- */

struct zn_play_opts {
    const struct zn_trace *trace;         /* detours to replay, or NULL for synthetic */
    const struct zn_synthetic *synthetic; /* when trace is NULL */
    const int *cpus;                      /* CPUs to inject on */
    unsigned ncpu;
    enum zn_phase phase;  /* sync: the pattern runs on CLOCK_REALTIME, position
                             = wall time modulo its loop, the same in every
                             process of synchronised hosts */
    double scale;         /* detour lengths multiplied by this */
    uint64_t seed;        /* random phases and jitter; 0: from time and pid */
    uint64_t duration_ns; /* stop injecting after this long; 0: at stop */
    bool have_epoch;      /* sync phase on CLOCK_MONOTONIC instead: position =
                             (now - epoch_mono_ns) modulo the loop (for
                             processes that agreed on an epoch, e.g. by MPI) */
    uint64_t epoch_mono_ns;
    bool keep_log; /* keep every injection (zn_player_log) */
};

/* One injection, CLOCK_MONOTONIC. */
struct zn_injection {
    uint32_t cpu;
    uint64_t due_ns;   /* when it should have started */
    uint64_t start_ns; /* when the injector began to spin */
    uint64_t end_ns;   /* when it stopped */
    uint64_t want_ns;  /* length asked for */
};

struct zn_play_cpu {
    int cpu;
    uint64_t detours;                                    /* injected */
    uint64_t injected_ns;                                /* total spin time */
    uint64_t late_median_ns, late_p99_ns, late_max_ns;   /* start - due */
    int64_t error_median_ns, error_p99_ns, error_max_ns; /* spin - length asked for */
};

struct zn_play_report {
    bool realtime;      /* the injectors ran at SCHED_FIFO */
    char priority[160]; /* the priority they ran at, or why not SCHED_FIFO */
    uint64_t ran_ns;    /* time injected */
    unsigned ncpu;
    struct zn_play_cpu *cpu;
    struct zn_play_cpu all; /* over all CPUs (cpu = -1) */
};

struct zn_player;

/* Validates, then starts one injector thread per CPU (pinned, SCHED_FIFO when allowed). */
int zn_player_start(const struct zn_play_opts *opts, struct zn_player **out, struct zepto_err *err);
/* Notes for the user known at start: SCHED_FIFO refused, RT throttling below the noise asked
 * for. Empty when there is nothing to say. */
const char *zn_player_notes(const struct zn_player *pl);
/* Whether the injectors are done (duration reached). */
bool zn_player_done(const struct zn_player *pl);
/* Stops the injectors (each finishes its current detour), waits for them and fills rep. */
int zn_player_finish(struct zn_player *pl, struct zn_play_report *rep, struct zepto_err *err);
/* The injections (with keep_log), valid after zn_player_finish until zn_player_free. */
const struct zn_injection *zn_player_log(const struct zn_player *pl, uint64_t *n);
void zn_play_report_free(struct zn_play_report *rep);

/* Writes the report as one JSON object: {realtime, priority, ran_ns, cpus: [{cpu, detours,
 * injected_ns, noise_fraction, late_median_ns, late_p99_ns, late_max_ns, length_error_median_ns,
 * length_error_p99_ns, length_error_max_ns}], all: {the same without cpu}}. */
void zn_play_report_json(const struct zn_play_report *r, struct zb_json *j);
void zn_player_free(struct zn_player *pl);

/* ---- simulate: the effect of noise on collectives at scale ------------------------------- */

enum zn_sim_algo { ZN_ALGO_RECURSIVE_DOUBLING, ZN_ALGO_BINOMIAL, ZN_ALGO_DISSEMINATION };
int zn_sim_algo_parse(const char *s, enum zn_sim_algo *algo, struct zepto_err *err);
const char *zn_sim_algo_name(enum zn_sim_algo algo);

struct zn_sim_opts {
    uint64_t ranks;
    enum zn_sim_algo algo;
    unsigned iters;
    double latency_ns;  /* L: network latency of a message */
    double overhead_ns; /* o: CPU time to send or to receive a message (noise delays it) */
    double compute_ns;  /* CPU time before the collective in every iteration */
    double window_ns;   /* 0: iterations back to back; else iteration k starts on every rank at
                           a common time, window_ns (x a random 1..1.5) after the previous one,
                           as `zepto noise collective` measures */
    enum zn_phase phase;
    uint64_t seed;
    const struct zn_pattern *patterns; /* rank r replays patterns[r % npatterns]; none: no noise */
    unsigned npatterns;
};

struct zn_sim_result {
    double noiseless_ns;                       /* closed-form time of one iteration without noise */
    double mean_ns, median_ns, p99_ns, max_ns; /* per iteration, with noise */
    double slowdown;                           /* mean / noiseless */
    uint64_t rounds;                           /* message rounds per iteration */
    double seconds;                            /* time the simulation took */
};

/* The time of one noiseless iteration, in closed form. */
double zn_sim_closed_form_ns(const struct zn_sim_opts *o);
int zn_simulate(const struct zn_sim_opts *o, struct zn_sim_result *r, struct zepto_err *err);

/* ---- export ------------------------------------------------------------------------------ */

enum zn_export_format { ZN_EXPORT_CSV, ZN_EXPORT_LOGGOPSIM };

/* Writes the detours of the CPUs in `cpus` (all when ncpu is 0): CSV `cpu,start_ns,duration_ns`,
 * or LogGOPSim's `start<TAB>duration` (one CPU only). */
int zn_export(const struct zn_trace *t, enum zn_export_format fmt, const int *cpus, unsigned ncpu,
              FILE *out, struct zepto_err *err);

/* ---- collective ------------------------------------------------------------------------- */

/* `zepto noise collective`: MPI collectives timed with and without injected noise
 * (src/noise/collective.c). Built only into the zepto-noise-collective program, which links
 * MPI; libzepto_noise does not. */
enum zn_coll_op { ZN_OP_ALLREDUCE, ZN_OP_BARRIER, ZN_OP_BCAST };

struct zn_coll_opts {
    enum zn_coll_op op;
    uint64_t bytes;     /* message size (allreduce of doubles: rounded up to 8) */
    unsigned iters;     /* timed iterations per mode */
    unsigned warmup;    /* untimed iterations first */
    unsigned blocks;    /* quiet and noisy blocks alternate this many times */
    uint64_t window_ns; /* 0: chosen from the warm-up */
    uint64_t seed;
    /* noise: one of the two, or neither (only the quiet measurement) */
    const struct zn_synthetic *synthetic;
    const struct zn_trace *trace;
    enum zn_phase phase;
    double scale;
};

struct zn_coll_stats {
    uint64_t valid; /* iterations that started on time on every rank */
    double mean_ns, median_ns, p99_ns, max_ns;
};

struct zn_coll_result {
    int ranks;
    int hosts;
    uint64_t window_ns;
    int64_t clock_offset_max_ns; /* largest |offset| to rank 0's clock */
    uint64_t clock_rtt_min_ns;   /* best ping-pong round trip used for it */
    struct zn_coll_stats quiet, noisy;
    uint64_t overruns; /* iterations dropped: a rank was still in the previous one */
    bool noise;        /* a noisy measurement was made */
    double slowdown_mean, slowdown_median;
    struct zn_play_cpu injected; /* summed over ranks: detours, time; lateness from rank 0 */
    bool realtime;               /* every rank's injector ran at SCHED_FIFO */
    char priority[160];
};

int zn_coll_op_parse(const char *s, enum zn_coll_op *op, struct zepto_err *err);
const char *zn_coll_op_name(enum zn_coll_op op);

/* Runs the measurement on MPI_COMM_WORLD (MPI must be initialised); every rank returns the same
 * result. Collective: every rank must call it with the same options. */
int zn_collective_run(const struct zn_coll_opts *o, struct zn_coll_result *r,
                      struct zepto_err *err);

void zn_coll_result_json(const struct zn_coll_opts *o, const struct zn_coll_result *r,
                         struct zb_json *j);

#ifdef __cplusplus
}
#endif
#endif
