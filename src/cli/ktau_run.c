/*
 * `zepto ktau run`: runs a program with libktau.so preloaded and the kernel capture following it
 * and everything it starts, then merges both into DIR: TAU profiles (profile.N.0.T), a Chrome
 * trace (trace.json), a summary (summary.txt), and libktau's own files (ktau-raw/). The program's
 * exit status is passed through (127 when it cannot be run, 128+N when signal N killed it).
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
#include "cli/cli.h"
#include "ktau/capture.h"
#include "ktau/merge.h"
#include "ktau/profile.h"
#include "ktau/raw.h"

#define CMD "ktau run"

static const char usage[] =
    "usage: zepto ktau run [-o DIR] [--no-kernel] [--force] -- CMD ARGS...\n"
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
    "  --force           replace the profiles of an earlier run in DIR\n"
    "\n"
    "The kernel side needs root or kernel.perf_event_paranoid <= 1, and tracefs.\n"
    "\n"
    "example:\n"
    "  zepto ktau run -o prof -- ./solver input.dat && zepto ktau show prof\n";

static bool old_output(const char *name)
{
    return !strncmp(name, "profile.", 8) || !strcmp(name, "trace.json") ||
           !strcmp(name, "summary.txt") || !strcmp(name, "ktau-raw");
}

/* Removes the files of an earlier run (only those we write). */
static int clear_dir(const char *dir, struct zepto_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/ktau-raw", dir);
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (!strncmp(e->d_name, "ktau.", 5)) {
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    if (!(d = opendir(dir)))
        return zepto_fail(err, errno, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)))
        if (old_output(e->d_name) && strcmp(e->d_name, "ktau-raw")) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (unlink(path) && !rc)
                rc = zepto_fail(err, errno, "%s: %s", path, strerror(errno));
        }
    closedir(d);
    return rc;
}

/* Makes DIR (one level) and DIR/ktau-raw; refuses a DIR with earlier profiles unless force. */
static int prepare_dir(const char *dir, bool force, struct zepto_err *err)
{
    struct stat st;
    if (!stat(dir, &st)) {
        if (!S_ISDIR(st.st_mode))
            return zepto_fail(err, ENOTDIR, "%s: not a directory", dir);
        DIR *d = opendir(dir);
        if (!d)
            return zepto_fail(err, errno, "%s: %s", dir, strerror(errno));
        struct dirent *e;
        bool old = false;
        while ((e = readdir(d)))
            old |= old_output(e->d_name);
        closedir(d);
        if (old && !force)
            return zepto_fail(err, EEXIST,
                              "%s: holds the profiles of an earlier run (use --force to replace "
                              "them)",
                              dir);
        if (old && clear_dir(dir, err))
            return -1;
    } else if (mkdir(dir, 0755)) {
        return zepto_fail(err, errno, "%s: cannot create the directory: %s", dir, strerror(errno));
    }
    char raw[PATH_MAX];
    snprintf(raw, sizeof(raw), "%s/ktau-raw", dir);
    if (mkdir(raw, 0755) && errno != EEXIST)
        return zepto_fail(err, errno, "%s: not writable: %s", dir, strerror(errno));
    if (access(raw, W_OK))
        return zepto_fail(err, errno, "%s: not writable: %s", dir, strerror(errno));
    return 0;
}

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

/* Reads every DIR/ktau-raw/ktau.*.bin; files that cannot be read are said and skipped. */
static int read_users(const char *dir, struct ktau_raw_thread **out, size_t *n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/ktau-raw", dir);
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

static int write_summary(const char *dir, char **argv, const struct ktau_merge_out *m,
                         const char *kernel_note, bool kernel, int status)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/summary.txt", dir);
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
        fprintf(f, "profile.%d.0.%d  %s pid %u tid %u: wall %s, %llu user routines%s%s\n", s->node,
                s->thread, s->comm, s->pid, s->tid, w, (unsigned long long)s->user_routines,
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
static int write_outputs(const char *dir, char **argv, struct ktau_capture *kc,
                         const char *kernel_note, int status, pid_t root, const uint64_t span[2],
                         struct zepto_err *err)
{
    struct ktau_raw_thread *users;
    size_t nusers;
    read_users(dir, &users, &nusers);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/trace.json", dir);
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
                               .trace = trace};
    struct ktau_merge_out m;
    int rc = ktau_merge(&in, &m, err);
    if (fclose(trace) && !rc)
        rc = zepto_fail(err, EIO, "%s: write failed", path);
    for (size_t i = 0; !rc && i < m.n; i++)
        rc = ktau_tau_write(dir, &m.threads[i], err);
    if (!rc && write_summary(dir, argv, &m, kernel_note, kc != NULL, status))
        rc = zepto_fail(err, EIO, "%s/summary.txt: write failed", dir);
    if (!rc)
        fprintf(stderr, "zepto %s: %zu thread profile(s) in %s (kernel: %s)\n", CMD, m.n, dir,
                kernel_note);
    if (!rc || m.threads)
        ktau_merge_free(&m);
    for (size_t i = 0; i < nusers; i++)
        ktau_raw_free(&users[i]);
    free(users);
    return rc;
}

/* The child: waits for the capture to be in place, then execs CMD with the library. */
static void child(int go_fd, int err_fd, const char *lib, const char *rawdir, char **argv)
{
    char c;
    while (read(go_fd, &c, 1) < 0 && errno == EINTR)
        ;
    close(go_fd);
    const char *old = getenv("LD_PRELOAD");
    char *preload = malloc(strlen(lib) + (old ? strlen(old) : 0) + 2);
    if (preload) {
        sprintf(preload, "%s%s%s", lib, old && *old ? " " : "", old && *old ? old : "");
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
        {"output", required_argument, 0, 'o'},
        {"no-kernel", no_argument, 0, 'K'},
        {"force", no_argument, 0, 'F'},
        {"help", no_argument, 0, 'h'},
        {0},
    };
    const char *dir = "ktau-profile";
    bool kernel = true, force = false;
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
        case 'h': fputs(usage, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return cli_usage_error(CMD, "missing the command to run (after --)");
    if (strcmp(argv[optind - 1], "--"))
        return cli_usage_error(CMD, "unexpected argument '%s' (put the command after --)",
                               argv[optind]);
    char **cmd = argv + optind;
    if (!zb_executable_exists(cmd[0])) {
        fprintf(stderr, "zepto %s: %s: command not found\n", CMD, cmd[0]);
        return 127;
    }
    struct zepto_err err = {0};
    char lib[PATH_MAX], rawdir[PATH_MAX];
    if (find_lib(lib, sizeof(lib))) {
        zepto_fail(&err, ENOENT,
                   "cannot find libktau.so next to zepto (build it, or set "
                   "ZEPTO_KTAU_LIB)");
        return cli_fail(CMD, &err);
    }
    if (prepare_dir(dir, force, &err))
        return cli_fail(CMD, &err);
    snprintf(rawdir, sizeof(rawdir), "%s/ktau-raw", dir);
    if (rawdir[0] != '/') {
        char cwd[PATH_MAX / 2];
        if (getcwd(cwd, sizeof(cwd)))
            snprintf(rawdir, sizeof(rawdir), "%s/%s/ktau-raw", cwd, dir);
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
        child(go[0], ep[1], lib, rawdir, cmd);
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
    int rc = write_outputs(dir, cmd, have_kernel ? &kc : NULL, note, status, pid, span, &err);
    if (have_kernel)
        ktau_capture_free(&kc);
    if (rc)
        return cli_fail(CMD, &err);
    return status;
}
