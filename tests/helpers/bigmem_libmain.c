/* A program for tests/integration/bigmem_libs.sh, linked with bigmem_libtable.c (a shared
 * library with large static arrays) and a 16 MiB table of its own.
 *   (no argument)  prints the checksum of both tables
 *   hold           prints the checksum, then "ready", and waits until stdin closes
 *   fork           a child changes the tables; the parent's values stay as they were
 *   exec           a child execs this program again (which prints its own checksum) */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

unsigned long lib_sum(void);

#define N (2u << 20)
unsigned long table[N] = {[0 ... N - 1] = 0x5a5a5a5a, [777] = 3};

static unsigned long sum(void)
{
    unsigned long s = lib_sum();
    for (unsigned i = 0; i < N; i++)
        s += table[i] * (i | 1);
    return s;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    unsigned long s = sum();
    printf("checksum %lu\n", s);
    fflush(stdout);
    if (!strcmp(mode, "hold")) {
        printf("ready\n");
        fflush(stdout);
        char c;
        while (read(0, &c, 1) > 0)
            ;
        return 0;
    }
    if (!strcmp(mode, "fork") || !strcmp(mode, "exec")) {
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            if (!strcmp(mode, "exec")) {
                execl("/proc/self/exe", argv[0], (char *)NULL);
                _exit(127);
            }
            for (unsigned i = 0; i < N; i++)
                table[i] = i;
            printf("child %lu\n", sum());
            fflush(stdout);
            _exit(0);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
            return 1;
        printf("parent %lu\n", sum());
    }
    return 0;
}
