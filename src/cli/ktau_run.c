/*
 * `zepto ktau run`: runs a program with libktau.so preloaded and the kernel capture following it
 * and everything it starts, then merges both into DIR: TAU profiles (profile.N.0.T), a Chrome
 * trace (trace.json), a summary (summary.txt), and libktau's own files (ktau-raw/). The program's
 * exit status is passed through (127 when it cannot be run, 128+N when signal N killed it).
 *
 * --mpi preloads libktau-mpi.so too (PMPI wrappers). Run by an MPI launcher (a rank variable in
 * the environment), each rank's zepto shares DIR with the others and owns only its rank's files
 * there: profile.<rank>.<context>.<thread>, trace.<rank>.json, summary.<rank>.txt and
 * ktau-raw/rank.<rank>/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/spawn.h"
#include "base/sysinfo.h"
#include "cli/cli.h"
#include "cli/ktau_dir.h"
#include "ktau/capture.h"
#include "ktau/merge.h"
#include "ktau/profile.h"
#include "ktau/raw.h"

#define CMD "ktau run"

static const char usage[] =
    "usage: zepto ktau run [-o DIR] [--no-kernel] [--mpi] [--force] -- CMD ARGS...\n"
    "\n"
    "Runs CMD with libktau preloaded (its ktau_start/ktau_stop timers and -finstrument-functions\n"
    "hooks) and the kernel's tracepoints recorded for CMD's threads and children (syscalls,\n"
    "interrupts, softirqs, scheduling, page faults), then writes into DIR:\n"
    "  profile.<node>.0.<thread>  TAU profiles (pprof, ParaProf), kernel entries in the KTAU_*\n"
    "                             groups and under each routine as 'routine => entry'\n"
    "  trace.json                 Chrome trace events (Perfetto, chrome://tracing)\n"
    "  summary.txt                per thread: wall time and the kernel's share\n"
    "  ktau-raw/                  libktau's per-thread files (docs/FORMATS.md)\n"
    "A program without timers is one routine (its name) with its kernel breakdown.\n"
    "\n"
    "  -o, --output DIR  where to write (default: ktau-profile)\n"
    "  --no-kernel       user-level timers only (no perf_event_open)\n"
    "  --mpi             also preload libktau-mpi.so: each MPI call (send, receive, wait,\n"
    "                    collective, init...) is a routine MPI_<name>, and the profiles of a\n"
    "                    process are named with its rank: profile.<rank>.0.<thread> (other\n"
    "                    processes, such as mpirun, take the nodes after the last rank)\n"
    "  --force           replace the profiles of an earlier run in DIR\n"
    "\n"
    "Under an MPI launcher (mpirun -np N zepto ktau run --mpi -o DIR -- ./app: the way for\n"
    "several nodes), each rank writes only its own files into the shared DIR:\n"
    "profile.<rank>.<context>.<thread> (context 0 is the program, 1, 2... the processes it\n"
    "starts), trace.<rank>.json, summary.<rank>.txt, ktau-raw/rank.<rank>/.\n"
    "\n"
    "The kernel side needs root or kernel.perf_event_paranoid <= 1, and tracefs.\n"
    "\n"
    "example:\n"
    "  zepto ktau run -o prof -- ./solver input.dat && zepto ktau show prof\n"
    "  mpirun -np 4 zepto ktau run --mpi -o prof -- ./solver && zepto ktau show prof\n";

/* libktau.so: $ZEPTO_KTAU_LIB, else ../lib/ or the directory of this zepto. */
static int find_lib(char *path, size_t len)
{
    const char *env = getenv("ZEPTO_KTAU_LIB");
    if (env && *env) {
        snprintf(path, len, "%s", env);
        return access(path, R_OK) ? -1 : 0;
    }
    char dir[PATH_MAX];
    if (cli_self_dir(dir, sizeof(dir)))
        return -1;
    snprintf(path, len, "%s../lib/libktau.so", dir);
    if (!access(path, R_OK))
        return 0;
    snprintf(path, len, "%slibktau.so", dir);
    return access(path, R_OK) ? -1 : 0;
}

/* libktau-mpi.so for --mpi: $ZEPTO_KTAU_MPI_LIB, else next to libktau.so (`ktau`). */
static int find_mpi_lib(const char *ktau, char *path, size_t len, struct zepto_err *err)
{
    const char *env = getenv("ZEPTO_KTAU_MPI_LIB");
    if (env && *env) {
        snprintf(path, len, "%s", env);
        if (access(path, R_OK))
            return zepto_fail(err, errno, "ZEPTO_KTAU_MPI_LIB=%s: %s (--mpi needs libktau-mpi.so)",
                              env, strerror(errno));
        return 0;
    }
    const char *slash = strrchr(ktau, '/');
    int dl = slash ? (int)(slash - ktau + 1) : 0;
    snprintf(path, len, "%.*slibktau-mpi.so", dl, ktau);
    if (access(path, R_OK))
        return zepto_fail(err, ENOENT,
                          "--mpi: no libktau-mpi.so next to %s (zepto was built without MPI: "
                          "install Open MPI's development files and rebuild, or set "
                          "ZEPTO_KTAU_MPI_LIB)",
                          ktau);
    return 0;
}

/* Reads every DIR/<raw>/ktau.*.bin; files that cannot be read are said and skipped. */
static int read_users(const char *dir, const char *raw, struct ktau_raw_thread **out, size_t *n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, raw);
    *out = NULL;
    *n = 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    size_t cap = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "ktau.", 5) || l < 4 || strcmp(e->d_name + l - 4, ".bin"))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            struct ktau_raw_thread *nt = realloc(*out, cap * sizeof(*nt));
            if (!nt)
                break;
            *out = nt;
        }
        char p[PATH_MAX];
        struct zepto_err err = {0};
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        if (ktau_raw_read(p, &(*out)[*n], &err))
            fprintf(stderr, "zepto %s: skipped %s\n", CMD, err.msg);
        else
            (*n)++;
    }
    closedir(d);
    return 0;
}

static void fmt_ns(char *buf, size_t len, uint64_t ns)
{
    if (ns >= 1000000000u)
        snprintf(buf, len, "%.3f s", (double)ns / 1e9);
    else if (ns >= 1000000u)
        snprintf(buf, len, "%.3f ms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.3f us", (double)ns / 1e3);
}

static int write_summary(const char *dir, const char *name, char **argv,
                         const struct ktau_merge_out *m, const char *kernel_note, bool kernel,
                         int status)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f, "zepto ktau run:");
    for (char **a = argv; *a; a++)
        fprintf(f, " %s", *a);
    fprintf(f, "\nexit status: %d\nkernel capture: %s\nthreads: %zu\n\n", status, kernel_note,
            m->n);
    for (size_t i = 0; i < m->n; i++) {
        const struct ktau_tsum *s = &m->sums[i];
        char w[32], sy[32], ir[32], so[32], pr[32], bl[32];
        fmt_ns(w, sizeof(w), s->end_ns - s->start_ns);
        fmt_ns(sy, sizeof(sy), s->syscall_ns);
        fmt_ns(ir, sizeof(ir), s->irq_ns);
        fmt_ns(so, sizeof(so), s->softirq_ns);
        fmt_ns(pr, sizeof(pr), s->preempted_ns);
        fmt_ns(bl, sizeof(bl), s->blocked_ns);
        fprintf(f, "profile.%d.%d.%d  %s pid %u tid %u: wall %s, %llu user routines%s%s\n", s->node,
                s->context, s->thread, s->comm, s->pid, s->tid, w,
                (unsigned long long)s->user_routines,
                s->has_user ? "" : " (no libktau file: the whole thread is one routine)",
                s->truncated ? " (event log cut at KTAU_LOG_MAX)" : "");
        if (kernel)
            fprintf(f,
                    "  syscalls %llu (%s)  irqs %llu (%s)  softirqs %llu (%s)\n"
                    "  preempted %llu times (%s)  blocked %llu times (%s)  page faults %llu\n",
                    (unsigned long long)s->syscalls, sy, (unsigned long long)s->irqs, ir,
                    (unsigned long long)s->softirqs, so, (unsigned long long)s->preempts, pr,
                    (unsigned long long)s->blocks, bl, (unsigned long long)s->faults);
    }
    return ferror(f) | fclose(f) ? -EIO : 0;
}

/* Merges what was recorded and writes DIR's files. */
static int write_outputs(const char *dir, const struct ktau_owned *o, char **argv,
                         struct ktau_capture *kc, const char *kernel_note, int status, pid_t root,
                         const uint64_t span[2], struct zepto_err *err)
{
    struct ktau_raw_thread *users;
    size_t nusers;
    read_users(dir, o->raw, &users, &nusers);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, o->trace);
    FILE *trace = fopen(path, "w");
    if (!trace)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    const char *comm = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    struct ktau_merge_in in = {.users = users,
                               .nusers = nusers,
                               .kernel = kc,
                               .comm = comm,
                               .root_pid = (uint32_t)root,
                               .root_start_ns = span[0],
                               .root_end_ns = span[1],
                               .trace = trace,
                               .one_rank = o->rank >= 0,
                               .rank = o->rank};
    struct ktau_merge_out m;
    int rc = ktau_merge(&in, &m, err);
    if (fclose(trace) && !rc)
        rc = zepto_fail(err, EIO, "%s: write failed", path);
    for (size_t i = 0; !rc && i < m.n; i++)
        rc = ktau_tau_write(dir, &m.threads[i], err);
    if (!rc && write_summary(dir, o->summary, argv, &m, kernel_note, kc != NULL, status))
        rc = zepto_fail(err, EIO, "%s/%s: write failed", dir, o->summary);
    char who[32] = "";
    if (o->rank >= 0)
        snprintf(who, sizeof(who), "rank %d: ", o->rank);
    if (!rc)
        fprintf(stderr, "zepto %s: %s%zu thread profile(s) in %s (kernel: %s)\n", CMD, who, m.n,
                dir, kernel_note);
    if (!rc || m.threads)
        ktau_merge_free(&m);
    for (size_t i = 0; i < nusers; i++)
        ktau_raw_free(&users[i]);
    free(users);
    return rc;
}

/* The child: waits for the capture to be in place, then execs CMD with the libraries (libktau,
 * and libktau-mpi when mpilib is not empty). */
static void child(int go_fd, int err_fd, const char *lib, const char *mpilib, const char *rawdir,
                  char **argv)
{
    char c;
    while (read(go_fd, &c, 1) < 0 && errno == EINTR)
        ;
    close(go_fd);
    const char *old = getenv("LD_PRELOAD");
    char *preload = malloc(strlen(lib) + strlen(mpilib) + (old ? strlen(old) : 0) + 3);
    if (preload) {
        sprintf(preload, "%s%s%s%s%s", lib, *mpilib ? " " : "", mpilib, old && *old ? " " : "",
                old && *old ? old : "");
        setenv("LD_PRELOAD", preload, 1);
    }
    setenv("KTAU_DIR", rawdir, 1);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    execvp(argv[0], argv);
    int e = errno;
    (void)!write(err_fd, &e, sizeof(e));
    _exit(127);
}

int cli_ktau_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"no-kernel", no_argument, 0, 'K'},
        {"mpi", no_argument, 0, 'M'},          {"force", no_argument, 0, 'F'},
        {"help", no_argument, 0, 'h'},         {0},
    };
    const char *dir = "ktau-profile";
    bool kernel = true, force = false, mpi = false;
    int c;
    optind = 1;
    while ((c = cli_getopt(CMD, argc, argv, "+:o:h", longopts)) != -1) {
        switch (c) {
        case 'o':
            if (!*optarg)
                return cli_usage_error(CMD, "-o: empty directory name");
            dir = optarg;
            break;
        case 'K': kernel = false; break;
        case 'F': force = true; break;
        case 'M': mpi = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (cli_command_operand(CMD, argc, argv))
        return EXIT_USAGE;
    char **cmd = argv + optind;
    if (!zb_executable_exists(cmd[0])) {
        fprintf(stderr, "zepto %s: %s: command not found\n", CMD, cmd[0]);
        return 127;
    }
    struct zepto_err err = {0};
    char lib[PATH_MAX], mpilib[PATH_MAX] = "", rawdir[PATH_MAX];
    if (find_lib(lib, sizeof(lib))) {
        zepto_fail(&err, ENOENT,
                   "cannot find libktau.so next to zepto (build it, or set "
                   "ZEPTO_KTAU_LIB)");
        return cli_fail(CMD, &err);
    }
    if (mpi && find_mpi_lib(lib, mpilib, sizeof(mpilib), &err))
        return cli_fail(CMD, &err);
    struct ktau_owned own;
    ktau_owned_init(&own, zb_launcher_rank());
    if (ktau_prepare_dir(dir, &own, force, &err))
        return cli_fail(CMD, &err);
    snprintf(rawdir, sizeof(rawdir), "%s/%s", dir, own.raw);
    if (rawdir[0] != '/') {
        char cwd[PATH_MAX / 2];
        if (getcwd(cwd, sizeof(cwd)))
            snprintf(rawdir, sizeof(rawdir), "%s/%s/%s", cwd, dir, own.raw);
    }

    int go[2], ep[2];
    if (pipe2(go, O_CLOEXEC) || pipe2(ep, O_CLOEXEC)) {
        zepto_fail(&err, errno, "pipe: %s", strerror(errno));
        return cli_fail(CMD, &err);
    }
    fflush(NULL);
    uint64_t span[2] = {zb_mono_read(), 0};
    pid_t pid = fork();
    if (pid < 0) {
        zepto_fail(&err, errno, "fork: %s", strerror(errno));
        return cli_fail(CMD, &err);
    }
    if (pid == 0) {
        close(go[1]);
        close(ep[0]);
        child(go[0], ep[1], lib, mpilib, rawdir, cmd);
    }
    close(go[0]);
    close(ep[1]);
    /* Ctrl-C goes to the program; we stay to write what it did. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);

    struct ktau_capture kc = {0};
    bool have_kernel = false;
    char note[600] = "off (--no-kernel)";
    if (kernel) {
        struct zepto_err kerr = {0};
        if (ktau_capture_open(&kc, pid, &kerr)) {
            fprintf(stderr, "zepto %s: %s; profiling at user level only\n", CMD, kerr.msg);
            snprintf(note, sizeof(note), "off (%s)", kerr.msg);
            ktau_capture_free(&kc);
        } else {
            have_kernel = true;
        }
    }
    (void)!write(go[1], "g", 1);
    close(go[1]);
    int exec_errno = 0;
    if (read(ep[0], &exec_errno, sizeof(exec_errno)) != sizeof(exec_errno))
        exec_errno = 0;
    close(ep[0]);

    int ws = 0;
    struct pollfd pfd[256];
    int npfd = 0;
    if (have_kernel) {
        int fds[256];
        npfd = ktau_capture_poll_fds(&kc, fds, 256);
        for (int i = 0; i < npfd; i++)
            pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    }
    bool draining = have_kernel;
    for (;;) {
        pid_t w = waitpid(pid, &ws, draining ? WNOHANG : 0);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            zepto_fail(&err, errno, "waitpid: %s", strerror(errno));
            return cli_fail(CMD, &err);
        }
        if (draining) {
            poll(pfd, (nfds_t)npfd, 100);
            if (ktau_capture_drain(&kc, &err)) {
                /* Out of memory for the records: the rest is lost; wait for the program. */
                fprintf(stderr, "zepto %s: %s\n", CMD, err.msg);
                draining = false;
            }
        }
    }
    span[1] = zb_mono_read();
    int status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 1;
    if (exec_errno) {
        fprintf(stderr, "zepto %s: %s: %s\n", CMD, cmd[0], strerror(exec_errno));
        return exec_errno == ENOENT ? 127 : 126;
    }
    if (have_kernel) {
        if (ktau_capture_stop(&kc, &err))
            fprintf(stderr, "zepto %s: %s\n", CMD, err.msg);
        ktau_capture_sort(&kc);
        snprintf(note, sizeof(note), "on, %zu records, %llu lost", kc.nrecs,
                 (unsigned long long)kc.lost);
        if (kc.lost)
            fprintf(stderr,
                    "zepto %s: the kernel lost %llu records (buffers full): kernel figures are "
                    "low\n",
                    CMD, (unsigned long long)kc.lost);
    }
    if (WIFSIGNALED(ws))
        fprintf(stderr, "zepto %s: %s killed by signal %d (%s); writing what was recorded\n", CMD,
                cmd[0], WTERMSIG(ws), strsignal(WTERMSIG(ws)));
    int rc = write_outputs(dir, &own, cmd, have_kernel ? &kc : NULL, note, status, pid, span, &err);
    if (have_kernel)
        ktau_capture_free(&kc);
    if (rc)
        return cli_fail(CMD, &err);
    return status;
}
