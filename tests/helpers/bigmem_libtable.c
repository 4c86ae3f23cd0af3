/* A shared library for tests/integration/bigmem_libs.sh: a 12 MiB initialised table (.data) and
 * a 12 MiB .bss array, which `bigmem run --static --libs` moves into huge pages. */
#define N (3u << 19) /* 12 MiB of unsigned long */
unsigned long lib_table[N] = {
    [0 ... N / 2 - 1] = 0x2468ace, [N / 2 ... N - 1] = 0x13579bdf, [4321] = 7};
unsigned long lib_bss[N];

unsigned long lib_sum(void);
unsigned long lib_sum(void)
{
    unsigned long s = 0;
    for (unsigned i = 0; i < N; i++) {
        lib_bss[i] = lib_table[i] ^ i;
        s += lib_table[i] * (i | 1) + lib_bss[i];
    }
    return s;
}
