/* A C program for tests/integration/bigmem_static.sh: a 16 MiB initialised global table (.data,
 * no large .bss), summed; prints the checksum and the page faults taken reading and writing it. */
#include <stdio.h>
#include <sys/resource.h>

#define N (2u << 20)
unsigned long table[N] = {
    [0 ... N / 2 - 1] = 0x1234567, [N / 2 ... N - 1] = 0x89abcdef, [12345] = 99};

static long faults(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_minflt;
}

int main(void)
{
    long f0 = faults();
    unsigned long s = 0;
    for (unsigned i = 0; i < N; i++) {
        s += table[i] * (i | 1);
        table[i] ^= i;
    }
    long f1 = faults();
    printf("checksum %lu\nfaults %ld\n", s, f1 - f0);
    return 0;
}
