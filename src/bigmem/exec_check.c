/*
 * `zepto bigmem run`'s check of the program it is asked to run: a statically linked executable
 * loads no preloaded library, so bigmem cannot reach it, and saying so beats running it
 * silently on ordinary memory. Reads the ELF header and program headers (outside input: the
 * parser is fuzzed, tests/fuzz/fuzz_bigmem_elf.c).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zepto/bigmem.h"

#define PH_MAX 64 /* program headers looked at; real executables have about a dozen */

int zbm_elf_kind(const unsigned char *buf, size_t len)
{
    if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG))
        return ZBM_ELF_NOT_ELF;
    int cls = buf[EI_CLASS];
    uint64_t phoff, phnum, phentsize, type;
    if (cls == ELFCLASS64 && len >= sizeof(Elf64_Ehdr)) {
        Elf64_Ehdr h;
        memcpy(&h, buf, sizeof(h));
        phoff = h.e_phoff, phnum = h.e_phnum, phentsize = h.e_phentsize, type = h.e_type;
        if (phentsize != sizeof(Elf64_Phdr))
            return ZBM_ELF_BAD;
    } else if (cls == ELFCLASS32 && len >= sizeof(Elf32_Ehdr)) {
        Elf32_Ehdr h;
        memcpy(&h, buf, sizeof(h));
        phoff = h.e_phoff, phnum = h.e_phnum, phentsize = h.e_phentsize, type = h.e_type;
        if (phentsize != sizeof(Elf32_Phdr))
            return ZBM_ELF_BAD;
    } else {
        return ZBM_ELF_BAD;
    }
    if (type != ET_EXEC && type != ET_DYN)
        return ZBM_ELF_BAD;
    if (phnum > PH_MAX || phoff > len || phnum * phentsize > len - phoff)
        return ZBM_ELF_BAD;
    for (uint64_t i = 0; i < phnum; i++) {
        uint32_t pt;
        memcpy(&pt, buf + phoff + i * phentsize, sizeof(pt)); /* p_type comes first in both */
        if (pt == PT_INTERP)
            return ZBM_ELF_DYNAMIC;
    }
    /* No interpreter: static (static-pie included; a shared library is not run). */
    return ZBM_ELF_STATIC;
}

/* The file execvp would run: cmd itself when it has a '/', else the first executable on PATH. */
static int resolve(const char *cmd, char *out, size_t len)
{
    if (strchr(cmd, '/'))
        return snprintf(out, len, "%s", cmd) < (int)len ? 0 : -ENAMETOOLONG;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        if (snprintf(out, len, "%.*s%s%s", (int)n, path, n ? "/" : "", cmd) < (int)len &&
            !access(out, X_OK))
            return 0;
        path += n + (path[n] == ':');
    }
    return -ENOENT;
}

int zbm_exec_check(const char *cmd, struct zepto_err *err)
{
    char file[PATH_MAX];
    if (resolve(cmd, file, sizeof(file)))
        return 0; /* execvp will say */
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    unsigned char buf[8192];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n <= 0)
        return 0;
    if (zbm_elf_kind(buf, (size_t)n) == ZBM_ELF_STATIC)
        return zepto_fail(err, ENOEXEC,
                          "%s is statically linked: bigmem works through a preloaded library, "
                          "which a static executable never loads (link it dynamically)",
                          file);
    return 0;
}
