/*
 * Names of instrumented functions: dladdr(3) for exported symbols, else the object's own ELF
 * symbol table (.symtab), which also holds static functions when the object was not stripped.
 * Objects are mapped once and kept (a handful per program); the lookup is a linear scan of the
 * table, paid once per function per thread, at write-out (or at first call when KTAU_EXCLUDE
 * needs the name then).
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ktau/rt.h"

#define NOINST      __attribute__((no_instrument_function))
#define MAX_OBJECTS 32

struct elf_obj {
    char path[256];
    const unsigned char *map; /* the whole file, or NULL when unusable */
    size_t size;
    const Elf64_Sym *syms;
    size_t nsyms;
    const char *strs;
    size_t strs_size;
    bool exec; /* ET_EXEC: symbol values are addresses */
};

static struct elf_obj objs[MAX_OBJECTS];
static int nobjs;
static pthread_mutex_t objs_lock = PTHREAD_MUTEX_INITIALIZER;

static NOINST void elf_load(struct elf_obj *o)
{
    int fd = open(o->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return;
    if (fstat(fd, &st) || (size_t)st.st_size < sizeof(Elf64_Ehdr)) {
        close(fd);
        return;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return;
    const Elf64_Ehdr *eh = m;
    size_t size = (size_t)st.st_size;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > size ||
        (size - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum) {
        munmap(m, size);
        return;
    }
    const Elf64_Shdr *sh = (const Elf64_Shdr *)((const char *)m + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
            continue;
        const Elf64_Shdr *str = &sh[sh[i].sh_link];
        if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset ||
            str->sh_offset > size || str->sh_size > size - str->sh_offset)
            break;
        o->syms = (const Elf64_Sym *)((const char *)m + sh[i].sh_offset);
        o->nsyms = sh[i].sh_size / sizeof(Elf64_Sym);
        o->strs = (const char *)m + str->sh_offset;
        o->strs_size = str->sh_size;
        break;
    }
    o->map = m;
    o->size = size;
    o->exec = eh->e_type == ET_EXEC;
}

static NOINST struct elf_obj *elf_get(const char *path)
{
    for (int i = 0; i < nobjs; i++)
        if (!strcmp(objs[i].path, path))
            return &objs[i];
    if (nobjs == MAX_OBJECTS)
        return NULL;
    struct elf_obj *o = &objs[nobjs++];
    snprintf(o->path, sizeof(o->path), "%s", path);
    elf_load(o);
    return o;
}

/* The name of the function containing off (exact start preferred). */
static NOINST const char *elf_find(const struct elf_obj *o, uint64_t off)
{
    const char *best = NULL;
    for (size_t i = 0; i < o->nsyms; i++) {
        const Elf64_Sym *s = &o->syms[i];
        if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_name >= o->strs_size)
            continue;
        if (s->st_value == off)
            return o->strs + s->st_name;
        if (!best && off > s->st_value && off < s->st_value + s->st_size)
            best = o->strs + s->st_name;
    }
    return best;
}

void kt__resolve(struct kt_routine *r)
{
    void *fn = (void *)r->key;
    Dl_info info;
    r->resolved = 1;
    if (!dladdr(fn, &info)) {
        snprintf(r->sym, sizeof(r->sym), "func %p", fn);
        return;
    }
    if (info.dli_sname && info.dli_saddr == fn) {
        snprintf(r->sym, sizeof(r->sym), "%s", info.dli_sname);
        return;
    }
    /* The main program's entry from dladdr may be its argv[0]; /proc/self/exe always works. */
    char exe[256];
    const char *path = info.dli_fname;
    if (!path || !*path || !strchr(path, '/') || access(path, R_OK)) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = 0;
        path = exe;
    }
    pthread_mutex_lock(&objs_lock);
    struct elf_obj *o = elf_get(path);
    const char *name = NULL;
    if (o && o->map) {
        uint64_t off =
            (uint64_t)(uintptr_t)fn - (o->exec ? 0 : (uint64_t)(uintptr_t)info.dli_fbase);
        name = elf_find(o, off);
    }
    if (name)
        snprintf(r->sym, sizeof(r->sym), "%s", name);
    else
        snprintf(r->sym, sizeof(r->sym), "func 0x%lx [%s]",
                 (unsigned long)((uintptr_t)fn - (uintptr_t)info.dli_fbase),
                 strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    pthread_mutex_unlock(&objs_lock);
}

bool kt__excluded(const char *list, const char *name)
{
    char glob[256];
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len && len < sizeof(glob)) {
            memcpy(glob, p, len);
            glob[len] = 0;
            if (!fnmatch(glob, name, 0))
                return true;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return false;
}
