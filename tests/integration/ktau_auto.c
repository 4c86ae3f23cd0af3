/*
 * The program of the ktau automatic-instrumentation test, built by the test with
 * `pkg-config --cflags --libs zepto-ktau` (-finstrument-functions): a static function (named from
 * the ELF symbol table), an exported one, one the test excludes with KTAU_EXCLUDE, a thread, and
 * a forked child. Calls: static_leaf 15 times in the parent (5 from main, 6 from exported_mid,
 * 4 from excluded_helper, which is not timed), 7 times in the child; worker_body once in the
 * thread.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int sink;

__attribute__((noinline)) static void static_leaf(void)
{
    for (int i = 0; i < 1000; i++)
        sink += i;
}

__attribute__((noinline)) void exported_mid(void);
__attribute__((noinline)) void exported_mid(void)
{
    static_leaf();
    static_leaf();
}

__attribute__((noinline)) void excluded_helper(void);
__attribute__((noinline)) void excluded_helper(void)
{
    static_leaf();
}

__attribute__((noinline)) static void *worker_body(void *arg)
{
    static_leaf();
    return arg;
}

int main(void)
{
    for (int i = 0; i < 3; i++)
        exported_mid();
    for (int i = 0; i < 5; i++)
        static_leaf();
    for (int i = 0; i < 4; i++)
        excluded_helper();
    pthread_t th;
    if (pthread_create(&th, NULL, worker_body, NULL) || pthread_join(th, NULL))
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 7; i++)
            static_leaf();
        exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
        return 1;
    return 0;
}
