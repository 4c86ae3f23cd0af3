/*
 * An instrumented example for `zepto ktau`: a 2-D Jacobi relaxation split between threads, with
 * named regions (KTAU_REGION) around its phases and every function timed by
 * -finstrument-functions. Its kernel side is typical of a small solver: page faults when the
 * grids are first touched, futex waits at the barrier, write and fsync system calls (blocked
 * time) in the checkpoint.
 *
 *   make -C examples/ktau            (uses pkg-config zepto-ktau; set PKG_CONFIG_PATH to
 *                                     build/lib/pkgconfig for a build tree)
 *   zepto ktau run -o prof -- examples/ktau/jacobi 1024 50 && zepto ktau show prof
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "zepto/ktau.h"

#define THREADS 2

struct grid {
    int n;
    double *a, *b;
};

static struct grid g;
static int iterations;
static pthread_barrier_t barrier;

static void init_rows(int lo, int hi)
{
    for (int i = lo; i < hi; i++)
        for (int j = 0; j < g.n; j++)
            g.a[(size_t)i * g.n + j] = g.b[(size_t)i * g.n + j] = (i == 0) ? 100.0 : 0.0;
}

static void relax_rows(const double *src, double *dst, int lo, int hi)
{
    int n = g.n;
    for (int i = lo > 0 ? lo : 1; i < hi && i < n - 1; i++)
        for (int j = 1; j < n - 1; j++)
            dst[(size_t)i * n + j] =
                0.25 * (src[(size_t)(i - 1) * n + j] + src[(size_t)(i + 1) * n + j] +
                        src[(size_t)i * n + j - 1] + src[(size_t)i * n + j + 1]);
}

static void checkpoint(int step)
{
    KTAU_REGION("checkpoint I/O");
    char path[64];
    snprintf(path, sizeof(path), "jacobi.ckpt.%d", step % 2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return;
    size_t len = (size_t)g.n * (size_t)g.n * sizeof(double);
    if (write(fd, g.a, len) != (ssize_t)len)
        perror("write");
    fsync(fd);
    close(fd);
    unlink(path);
}

static void *worker(void *arg)
{
    int id = (int)(long)arg, rows = g.n / THREADS;
    int lo = id * rows, hi = id == THREADS - 1 ? g.n : lo + rows;
    {
        KTAU_REGION("first touch");
        init_rows(lo, hi);
    }
    pthread_barrier_wait(&barrier);
    for (int it = 0; it < iterations; it++) {
        {
            KTAU_REGION("relax");
            relax_rows(it % 2 ? g.b : g.a, it % 2 ? g.a : g.b, lo, hi);
        }
        {
            KTAU_REGION("barrier");
            pthread_barrier_wait(&barrier);
        }
        if (id == 0 && it % 10 == 9)
            checkpoint(it);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    g.n = argc > 1 ? atoi(argv[1]) : 1024;
    iterations = argc > 2 ? atoi(argv[2]) : 50;
    if (g.n < 4 || iterations < 1) {
        fprintf(stderr, "usage: jacobi [N [ITERATIONS]]\n");
        return 2;
    }
    g.a = malloc((size_t)g.n * (size_t)g.n * sizeof(double));
    g.b = malloc((size_t)g.n * (size_t)g.n * sizeof(double));
    if (!g.a || !g.b)
        return 1;
    pthread_barrier_init(&barrier, NULL, THREADS);
    pthread_t th[THREADS];
    for (long t = 1; t < THREADS; t++)
        pthread_create(&th[t], NULL, worker, (void *)t);
    worker((void *)0);
    for (int t = 1; t < THREADS; t++)
        pthread_join(th[t], NULL);
    printf("center %.6f\n", g.a[(size_t)(g.n / 2) * g.n + g.n / 2]);
    free(g.a);
    free(g.b);
    return 0;
}
