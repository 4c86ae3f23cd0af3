/*
 * ktau_run() (include/zepto/ktau_run.h): the program forked and held until the kernel capture is
 * in place, then exec'd with libktau.so (and libktau-mpi.so) preloaded and KTAU_DIR pointing at
 * DIR/ktau-raw; the capture drained while it runs; then the merge and DIR's files
 * (run_outputs.c). The program's exit status is passed back, never acted on.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/preload.h"
#include "base/sysinfo.h"
#include "ktau/capture.h"
#include "ktau/run.h"

/* libktau-mpi.so for --mpi: $ZEPTO_KTAU_MPI_LIB, else next to libktau.so (`ktau`). */
static int find_mpi_lib(const char *ktau, char *path, size_t len, struct zepto_err *err)
{
    const char *env = ktau_setting(KTAU_SET_MPI_LIB, NULL);
    if (env) {
        snprintf(path, len, "%s", env);
        if (access(path, R_OK))
            return zepto_fail(err, errno, "%s=%s: %s (--mpi needs libktau-mpi.so)",
                              ktau_settings()->list[KTAU_SET_MPI_LIB].env, env, strerror(errno));
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

/* What the child needs, all prepared before the fork. */
struct child_args {
    int go_fd, err_fd;   /* wait for a byte on go_fd; the exec's errno goes to err_fd */
    int out_fd, errf_fd; /* the program's stdout and stderr, or -1 */
    const char *libs[2]; /* libktau, libktau-mpi */
    size_t nlibs;
    const char *rawdir; /* KTAU_DIR */
    bool hide_rank;
    char *const *argv;
};

/* The child: waits for the capture to be in place, then execs the program with the libraries. */
static void child(const struct child_args *a)
{
    char c;
    while (read(a->go_fd, &c, 1) < 0 && errno == EINTR)
        ;
    close(a->go_fd);
    if (a->out_fd >= 0)
        dup2(a->out_fd, STDOUT_FILENO);
    if (a->errf_fd >= 0)
        dup2(a->errf_fd, STDERR_FILENO);
    zb_preload_prepend(a->libs, a->nlibs, NULL);
    setenv(ktau_settings()->list[KTAU_SET_DIR].env, a->rawdir, 1);
    if (a->hide_rank)
        for (const char *const *v = zb_launcher_vars(); *v; v++)
            setenv(*v, "", 1);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    execvp(a->argv[0], a->argv);
    int e = errno;
    (void)!write(a->err_fd, &e, sizeof(e));
    _exit(127);
}

/* Opens a file for the program's output (appended to), or -1 for none. */
static int open_out(const char *path, int *fd, struct zepto_err *err)
{
    *fd = -1;
    if (!path)
        return 0;
    *fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (*fd < 0)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    return 0;
}

/* Waits for the program, draining the capture meanwhile (kc NULL: no capture). */
static int wait_program(const struct ktau_run_opts *opts, pid_t pid, struct ktau_capture *kc,
                        int *ws, struct zepto_err *err)
{
    struct pollfd pfd[256];
    int npfd = 0;
    if (kc) {
        int fds[256];
        npfd = ktau_capture_poll_fds(kc, fds, 256);
        for (int i = 0; i < npfd; i++)
            pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    }
    bool draining = kc != NULL;
    for (;;) {
        pid_t w = waitpid(pid, ws, draining ? WNOHANG : 0);
        if (w == pid)
            return 0;
        if (w < 0 && errno != EINTR)
            return zepto_fail(err, errno, "waitpid: %s", strerror(errno));
        if (draining) {
            poll(pfd, (nfds_t)npfd, 100);
            struct zepto_err derr = {0};
            if (ktau_capture_drain(kc, &derr)) {
                /* Out of memory for the records: the rest is lost; wait for the program. */
                kt_run_warn(opts, "%s", derr.msg);
                draining = false;
            }
        }
    }
}

/* Everything a run holds, released by finish(). */
struct run_state {
    int go[2], ep[2], out_fd, err_fd;
    struct sigaction old_int, old_quit;
    bool signals_set;
    struct ktau_capture kc;
    bool have_kernel;
};

static void finish(struct run_state *s)
{
    int *fds[] = {&s->go[0], &s->go[1], &s->ep[0], &s->ep[1], &s->out_fd, &s->err_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    if (s->signals_set) {
        sigaction(SIGINT, &s->old_int, NULL);
        sigaction(SIGQUIT, &s->old_quit, NULL);
        s->signals_set = false;
    }
    if (s->have_kernel)
        ktau_capture_free(&s->kc);
    s->have_kernel = false;
}

/* Forks the program, opens the capture on it, lets it exec and waits for it. */
static int run_program(const struct ktau_run_opts *opts, struct child_args *ca, struct run_state *s,
                       struct ktau_run_result *res, pid_t *pid, uint64_t span[2],
                       struct zepto_err *err)
{
    if (pipe2(s->go, O_CLOEXEC) || pipe2(s->ep, O_CLOEXEC))
        return zepto_fail(err, errno, "pipe: %s", strerror(errno));
    ca->go_fd = s->go[0];
    ca->err_fd = s->ep[1];
    fflush(NULL);
    span[0] = zb_mono_read();
    *pid = fork();
    if (*pid < 0)
        return zepto_fail(err, errno, "fork: %s", strerror(errno));
    if (*pid == 0)
        child(ca);
    close(s->go[0]);
    close(s->ep[1]);
    s->go[0] = s->ep[1] = -1;
    /* Ctrl-C goes to the program; we stay to write what it did. */
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &s->old_int);
    sigaction(SIGQUIT, &ign, &s->old_quit);
    s->signals_set = true;

    snprintf(res->kernel_note, sizeof(res->kernel_note), "off (--no-kernel)");
    if (opts->kernel) {
        struct zepto_err kerr = {0};
        if (ktau_capture_open(&s->kc, *pid, &kerr)) {
            kt_run_warn(opts, "%s; profiling at user level only", kerr.msg);
            snprintf(res->kernel_note, sizeof(res->kernel_note), "off (%s)", kerr.msg);
            ktau_capture_free(&s->kc);
        } else {
            s->have_kernel = true;
        }
    }
    (void)!write(s->go[1], "g", 1);
    close(s->go[1]);
    s->go[1] = -1;
    if (read(s->ep[0], &res->exec_errno, sizeof(res->exec_errno)) != sizeof(res->exec_errno))
        res->exec_errno = 0;
    int ws = 0;
    int rc = wait_program(opts, *pid, s->have_kernel ? &s->kc : NULL, &ws, err);
    span[1] = zb_mono_read();
    if (rc)
        return rc;
    res->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 1;
    res->signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
    return 0;
}

/* The libraries to preload: libktau.so, and libktau-mpi.so with opts->mpi. */
static int find_libs(const struct ktau_run_opts *opts, char lib[PATH_MAX], char mpilib[PATH_MAX],
                     struct zepto_err *err)
{
    int rc = zb_preload_find("libktau.so", ktau_setting(KTAU_SET_LIB, NULL),
                             ktau_settings()->list[KTAU_SET_LIB].env, lib, PATH_MAX, err);
    if (!rc && opts->mpi)
        rc = find_mpi_lib(lib, mpilib, PATH_MAX, err);
    /* The child puts them in LD_PRELOAD (zb_preload_prepend), where it cannot say why not. */
    const char *bad = rc ? NULL : strpbrk(lib, " :") ? lib : strpbrk(mpilib, " :") ? mpilib : NULL;
    if (bad)
        rc = zepto_fail(err, EINVAL, "%s: LD_PRELOAD cannot carry a path with a space or ':'", bad);
    return rc;
}

/* --mpi in a step of several srun tasks with no PMI in the environment: srun ran without an MPI
 * plugin (MpiDefault=none, no --mpi=pmix), so each rank would be a singleton of rank 0, all of
 * them writing profile.0.*: refused, saying how to launch instead. */
static int check_srun_pmi(const struct ktau_run_opts *opts, struct zepto_err *err)
{
    const char *tasks = getenv("SLURM_STEP_NUM_TASKS");
    if (!opts->mpi || !getenv("SLURM_PROCID") || !tasks || atoi(tasks) < 2 || getenv("PMIX_RANK") ||
        getenv("PMI_RANK") || getenv("OMPI_COMM_WORLD_RANK"))
        return 0;
    const char *type = getenv("SLURM_MPI_TYPE");
    return zepto_fail(err, EINVAL,
                      "--mpi: srun started %s tasks without PMI (--mpi=%s), so the MPI ranks "
                      "cannot find each other: use srun --mpi=pmix, or salloc/sbatch + mpirun",
                      tasks, type && *type ? type : "none");
}

int ktau_run(const struct ktau_run_opts *opts, struct ktau_run_result *res, struct zepto_err *err)
{
    memset(res, 0, sizeof(*res));
    res->rank = -1;
    if (!opts->dir || !*opts->dir || !opts->argv || !opts->argv[0])
        return zepto_fail(err, EINVAL, "ktau_run: no directory or no program");
    char lib[PATH_MAX], mpilib[PATH_MAX] = "", rawdir[PATH_MAX];
    int rc = check_srun_pmi(opts, err);
    if (!rc)
        rc = find_libs(opts, lib, mpilib, err);
    if (rc)
        return rc;
    struct ktau_owned own;
    ktau_owned_init(&own, opts->rank == KTAU_RUN_RANK_LAUNCHER ? zb_launcher_rank()
                          : opts->rank < 0                     ? -1
                                                               : opts->rank);
    res->rank = own.rank;
    if ((rc = ktau_prepare_dir(opts->dir, &own, opts->force, err)))
        return rc;
    snprintf(rawdir, sizeof(rawdir), "%s/%s", opts->dir, own.raw);
    if (rawdir[0] != '/') {
        char cwd[PATH_MAX / 2];
        if (getcwd(cwd, sizeof(cwd)))
            snprintf(rawdir, sizeof(rawdir), "%s/%s/%s", cwd, opts->dir, own.raw);
    }

    struct run_state s = {.go = {-1, -1}, .ep = {-1, -1}, .out_fd = -1, .err_fd = -1};
    if ((rc = open_out(opts->stdout_path, &s.out_fd, err)) ||
        (rc = open_out(opts->stderr_path, &s.err_fd, err)))
        goto out;
    struct child_args ca = {.out_fd = s.out_fd,
                            .errf_fd = s.err_fd,
                            .libs = {lib, mpilib},
                            .nlibs = *mpilib ? 2 : 1,
                            .rawdir = rawdir,
                            .hide_rank = opts->hide_rank,
                            .argv = opts->argv};
    pid_t pid = 0;
    uint64_t span[2] = {0, 0};
    if ((rc = run_program(opts, &ca, &s, res, &pid, span, err)))
        goto out;
    if (res->exec_errno) {
        res->status = res->exec_errno == ENOENT ? 127 : 126;
        rc = zepto_fail(err, res->exec_errno, "%s: %s", opts->argv[0], strerror(res->exec_errno));
        goto out;
    }
    if (s.have_kernel) {
        struct zepto_err serr = {0};
        if (ktau_capture_stop(&s.kc, &serr))
            kt_run_warn(opts, "%s", serr.msg);
        ktau_capture_sort(&s.kc);
        res->kernel_on = true;
        res->kernel_records = s.kc.nrecs;
        res->lost = s.kc.lost;
        snprintf(res->kernel_note, sizeof(res->kernel_note), "on, %zu records, %llu lost",
                 s.kc.nrecs, (unsigned long long)s.kc.lost);
        if (s.kc.lost)
            kt_run_warn(opts, "the kernel lost %llu records (buffers full): kernel figures are low",
                        (unsigned long long)s.kc.lost);
    }
    if (res->signal)
        kt_run_warn(opts, "%s killed by signal %d (%s); writing what was recorded", opts->argv[0],
                    res->signal, strsignal(res->signal));
    struct kt_run_record rec = {.kernel = s.have_kernel ? &s.kc : NULL,
                                .kernel_note = res->kernel_note,
                                .status = res->status,
                                .root = pid,
                                .span = {span[0], span[1]}};
    rc = kt_run_write_outputs(opts, &own, &rec, &res->threads, err);
out:
    finish(&s);
    return rc;
}
