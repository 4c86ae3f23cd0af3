/*
 * kv_demo: a program written against kv.h alone, linked with the generated client stubs (libkv)
 * instead of an implementation, so that every kv_* call runs in the daemon named by
 * $ZOID_SERVER (the stubs connect at the first call).
 *
 *   kv_demo [run]     the tour: put, get (whole and cut short), del (with and without the old
 *                     length), count, matvec, stats; checks each answer, exits 1 on a wrong one
 *   kv_demo fill N    puts N keys and exits (its namespace goes with it)
 *   kv_demo hold      puts the key "held", prints "holding" and waits to be killed
 *   kv_demo get KEY   prints the value of KEY; exits 3 when this client has no such key
 *   kv_demo clients   prints how many namespaces the daemon holds, this client's included
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kv.h"

static int failures;

static void check(int ok, const char *what)
{
    printf("%-52s %s\n", what, ok ? "ok" : "WRONG");
    failures += !ok;
}

static int tour(void)
{
    const char *value = "the quick brown fox";
    check(kv_put("fox", value, strlen(value)) == 0, "kv_put fox");
    check(kv_put("empty", "", 0) == 0, "kv_put an empty value");

    char buf[64] = {0};
    size_t len = 0;
    check(kv_get("fox", buf, sizeof(buf), &len) == 0 && len == strlen(value) &&
              !memcmp(buf, value, len),
          "kv_get fox: the whole value");
    memset(buf, 0, sizeof(buf));
    check(kv_get("fox", buf, 9, &len) == 0 && len == strlen(value) && !strcmp(buf, "the quick"),
          "kv_get fox into 9 bytes: cut, whole length told");
    errno = 0;
    check(kv_get("wolf", buf, sizeof(buf), &len) == -1 && errno == ENOENT,
          "kv_get a missing key: -1, ENOENT");
    errno = 0;
    check(kv_put("", "x", 1) == -1 && errno == EINVAL, "kv_put an empty key: -1, EINVAL");
    check(kv_count() == 2, "kv_count: 2");

    size_t old = 0;
    check(kv_del("fox", &old) == 0 && old == strlen(value), "kv_del fox, old length back");
    check(kv_del("empty", NULL) == 0, "kv_del with a NULL old length");
    check(kv_count() == 0, "kv_count: 0");

    double m[2 * 3] = {1, 2, 3, 4, 5, 6}, x[3] = {1, 0, -1}, y[2] = {0};
    check(kv_matvec(m, 2, 3, x, y) == 0 && y[0] == -2 && y[1] == -2, "kv_matvec 2x3");

    struct kv_stats st;
    check(kv_stats(&st) == 0 && st.puts == 2 && st.gets == 3 && st.dels == 2 && st.keys == 0 &&
              st.clients >= 1,
          "kv_stats");
    printf("%d wrong\n", failures);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "run";
    if (!strcmp(cmd, "run") && argc <= 2)
        return tour();
    if (!strcmp(cmd, "fill") && argc == 3) {
        long n = atol(argv[2]);
        for (long i = 0; i < n; i++) {
            char key[32];
            snprintf(key, sizeof(key), "key%ld", i);
            if (kv_put(key, &i, sizeof(i))) {
                perror("kv_put");
                return 1;
            }
        }
        printf("filled %ld\n", kv_count());
        return 0;
    }
    if (!strcmp(cmd, "hold") && argc == 2) {
        if (kv_put("held", "yes", 3)) {
            perror("kv_put");
            return 1;
        }
        printf("holding\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    if (!strcmp(cmd, "get") && argc == 3) {
        char buf[256];
        size_t len = 0;
        if (kv_get(argv[2], buf, sizeof(buf), &len)) {
            printf("%s: %s\n", argv[2], strerror(errno));
            return errno == ENOENT ? 3 : 1;
        }
        printf("%.*s\n", (int)(len < sizeof(buf) ? len : sizeof(buf)), buf);
        return 0;
    }
    if (!strcmp(cmd, "clients") && argc == 2) {
        struct kv_stats st;
        if (kv_stats(&st)) {
            perror("kv_stats");
            return 1;
        }
        printf("%u\n", st.clients);
        return 0;
    }
    fprintf(stderr, "usage: kv_demo [run | fill N | hold | get KEY | clients]\n");
    return 2;
}
