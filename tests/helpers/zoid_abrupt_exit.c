/*
 * A program that ends without exit handlers, for tests/integration/zoid_preload_loop.sh: under
 * `zepto zoid run` it first makes a forwarded call (a stat of PATH, so that the interposer attaches
 * to its parent's session and adopts its handles), then ends the way a crash or a killed job does.
 *
 *   zoid_abrupt_exit exit|kill [PATH]   _exit(0), or SIGKILL to itself
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "exit") && strcmp(argv[1], "kill"))) {
        fprintf(stderr, "usage: zoid_abrupt_exit exit|kill [PATH]\n");
        return 2;
    }
    struct stat st;
    if (argc > 2 && stat(argv[2], &st)) {
        perror(argv[2]);
        return 1;
    }
    if (!strcmp(argv[1], "kill"))
        raise(SIGKILL);
    _exit(0);
}
