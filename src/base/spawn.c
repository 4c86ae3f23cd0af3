/*
 * Child programs through posix_spawnp(3).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/spawn.h"

extern char **environ;

/* The environment with env_add merged in (replacing entries of the same name). The strings are
 * shared, only the array is new. */
static char **merge_env(char *const *env_add)
{
    size_t n = 0, extra = 0;
    while (environ[n])
        n++;
    while (env_add && env_add[extra])
        extra++;
    char **env = calloc(n + extra + 1, sizeof(*env));
    if (!env)
        return NULL;
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        size_t name_len = strcspn(environ[i], "=");
        bool replaced = false;
        for (size_t k = 0; k < extra; k++)
            if (!strncmp(env_add[k], environ[i], name_len) && env_add[k][name_len] == '=')
                replaced = true;
        if (!replaced)
            env[out++] = environ[i];
    }
    for (size_t k = 0; k < extra; k++)
        env[out++] = env_add[k];
    return env;
}

int zb_spawn(char *const argv[], const struct zb_spawn_opts *opts, pid_t *pid,
             struct zepto_err *err)
{
    static const struct zb_spawn_opts none;
    if (!opts)
        opts = &none;
    if (!argv || !argv[0] || !*argv[0])
        return zepto_fail(err, EINVAL, "no program to run");

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (opts->stdout_path)
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, opts->stdout_path,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (opts->stderr_path)
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, opts->stderr_path,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (opts->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, opts->cwd);
    char **env = merge_env(opts->env_add);
    int rc = env ? posix_spawnp(pid, argv[0], &fa, NULL, argv, env) : ENOMEM;
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return zepto_fail(err, rc, "%s: %s", argv[0], strerror(rc));
    return 0;
}

int zb_spawn_wait(pid_t pid, int *status, struct zepto_err *err)
{
    int ws;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR)
            return zepto_fail(err, errno, "waitpid %d: %s", (int)pid, strerror(errno));
    }
    if (WIFEXITED(ws))
        *status = WEXITSTATUS(ws);
    else if (WIFSIGNALED(ws))
        *status = 128 + WTERMSIG(ws);
    else
        *status = 1;
    return 0;
}

int zb_run(char *const argv[], const struct zb_spawn_opts *opts, int *status, struct zepto_err *err)
{
    pid_t pid;
    int rc = zb_spawn(argv, opts, &pid, err);
    if (rc)
        return rc;
    return zb_spawn_wait(pid, status, err);
}

/* Whether path names a file this process may run: 0, -EACCES (there, but not a regular file it
 * may execute) or -ENOENT. */
static int runnable(const char *path)
{
    struct stat st;
    if (stat(path, &st))
        return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -EACCES;
    return S_ISREG(st.st_mode) && access(path, X_OK) == 0 ? 0 : -EACCES;
}

int zb_executable_check(const char *name)
{
    if (!name || !*name)
        return -ENOENT;
    if (strchr(name, '/'))
        return runnable(name);
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char buf[PATH_MAX];
    int rc = -ENOENT; /* as a shell: the first one it may run, else EACCES if any was found */
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, ":");
        if (len && snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, p, name) < (int)sizeof(buf)) {
            int r = runnable(buf);
            if (r == 0)
                return 0;
            if (r == -EACCES)
                rc = -EACCES;
        }
        p += len;
        if (*p == ':')
            p++;
    }
    return rc;
}

bool zb_executable_exists(const char *name)
{
    return zb_executable_check(name) == 0;
}
