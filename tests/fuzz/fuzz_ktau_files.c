/*
 * libFuzzer target for the readers of ktau's files, which `zepto ktau run` and `zepto ktau show`
 * take from a directory a user names: libktau's per-thread files (ktau_raw_read) and TAU profiles
 * (ktau_tau_read). The first byte picks the reader; the rest is the file, handed over through a
 * memfd (both readers take a path).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ktau/profile.h"
#include "ktau/raw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int fd = memfd_create("ktau-fuzz", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
        close(fd);
        return 0;
    }
    char path[64];
    struct zepto_err err;
    if (data[0] & 1) {
        /* ktau_tau_read takes node, context and thread from the file's name: a symbolic link
         * to the memfd in the working directory (run_fuzz.sh runs in the test's own). */
        mkdir("tau", 0700);
        snprintf(path, sizeof(path), "tau/profile.1.2.3");
        char fdp[32];
        snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fd);
        unlink(path);
        if (!symlink(fdp, path)) {
            struct ktau_pthread t = {0};
            if (!ktau_tau_read(path, &t, &err)) {
                double sum = 0;
                for (size_t i = 0; i < t.n; i++)
                    sum +=
                        t.f[i].calls + t.f[i].incl_us + (double)(t.f[i].name[0] + t.f[i].group[0]);
                (void)sum;
            }
            ktau_pthread_free(&t);
            unlink(path);
        }
    } else {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        struct ktau_raw_thread t = {0};
        if (!ktau_raw_read(path, &t, &err)) {
            uint64_t sum = 0;
            for (uint32_t i = 0; i < t.h.nroutines; i++)
                sum += t.routines[i].calls + (uint64_t)t.names[i][0];
            for (uint64_t i = 0; i < t.h.nevents; i++)
                sum += t.events[i].rid_dir;
            (void)sum;
            ktau_raw_free(&t);
        }
    }
    close(fd);
    return 0;
}
