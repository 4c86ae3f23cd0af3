/* minflt(): this process's minor page faults so far, for bigmem_static_common.f90. */
#include <sys/resource.h>

long minflt(void);
long minflt(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_minflt;
}
