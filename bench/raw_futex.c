/*
 * The shm: transport's raw baselines (bench/zoid_shm.sh): a futex ping-pong between two
 * processes over shared memory (each side sleeps on its word, no spinning: the floor for a
 * blocking wake-up), and one memcpy of N bytes (the floor for moving a payload once). Prints one
 * JSON object.
 *
 * usage: bench_raw_futex [ROUNDS [BYTES]]     (defaults 20000, 1 MiB)
 */
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "raw_pin.h"

struct words {
    _Atomic uint32_t ping;
    char pad[60];
    _Atomic uint32_t pong;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits until *w == want, sleeping on the futex; then hands over by setting other and waking. */
static void wait_eq(_Atomic uint32_t *w, uint32_t want)
{
    uint32_t v;
    while ((v = atomic_load(w)) != want)
        syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void post(_Atomic uint32_t *w, uint32_t v)
{
    atomic_store(w, v);
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    long bytes = argc > 2 ? strtol(argv[2], NULL, 10) : 1 << 20;
    if (rounds < 10 || bytes < 1) {
        fprintf(stderr, "usage: bench_raw_futex [ROUNDS>=10 [BYTES>=1]]\n");
        return 2;
    }
    struct words *w =
        mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (w == MAP_FAILED)
        return 1;
    long warm = rounds / 10;
    pid_t pid = fork();
    if (pid == 0) {
        raw_pin_server();
        for (uint32_t i = 1; i <= (uint32_t)(rounds + warm); i++) {
            wait_eq(&w->ping, i);
            post(&w->pong, i);
        }
        _exit(0);
    }
    uint64_t *lat = malloc((size_t)rounds * sizeof(*lat));
    for (uint32_t i = 1; i <= (uint32_t)(rounds + warm); i++) {
        uint64_t t0 = now_ns();
        post(&w->ping, i);
        wait_eq(&w->pong, i);
        if (i > (uint32_t)warm)
            lat[i - warm - 1] = now_ns() - t0;
    }
    waitpid(pid, NULL, 0);
    qsort(lat, (size_t)rounds, sizeof(*lat), cmp);

    /* One memcpy of BYTES, warm buffers, median of 200. */
    char *a = malloc((size_t)bytes), *b = malloc((size_t)bytes);
    memset(a, 1, (size_t)bytes);
    memset(b, 2, (size_t)bytes);
    uint64_t cp[200];
    for (int i = 0; i < 200; i++) {
        uint64_t t0 = now_ns();
        memcpy(i % 2 ? a : b, i % 2 ? b : a, (size_t)bytes);
        cp[i] = now_ns() - t0;
    }
    qsort(cp, 200, sizeof(*cp), cmp);
    printf("{\"futex_rounds\": %ld, \"latency_median_ns\": %llu, \"latency_p99_ns\": %llu, "
           "\"memcpy_bytes\": %ld, \"memcpy_median_ns\": %llu, \"memcpy_bytes_per_s\": %.0f, "
           "\"check\": %d}\n",
           rounds, (unsigned long long)lat[rounds / 2], (unsigned long long)lat[rounds * 99 / 100],
           bytes, (unsigned long long)cp[100], (double)bytes / ((double)cp[100] / 1e9),
           a[bytes / 2] + b[0]);
    free(a);
    free(b);
    free(lat);
    return 0;
}
