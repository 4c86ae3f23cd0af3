/*
 * `zepto bigmem info --pid PID`: reads /proc/PID/smaps and lists the writable and executable
 * segments of the program and its libraries (zbm_mappings_parse), each with its address range
 * and the pages backing it: which ones `bigmem run --static/--libs/--text` moved.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/parse.h"
#include "cli/bigmem_pid.h"
#include "cli/cli.h"
#include "zepto/bigmem.h"

#define MAX_MAPPINGS 512
#define MAX_SMAPS    (64u << 20) /* more is not a process bigmem info can list usefully */

/* The whole file into a malloc'd, NUL-terminated buffer. */
static char *slurp(const char *path, size_t *len, struct zepto_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        zepto_fail(err, errno, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, used = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (used + 1 == cap) {
            char *b = cap < MAX_SMAPS ? realloc(buf, cap *= 2) : NULL;
            if (!b)
                break;
            buf = b;
        }
        ssize_t n = read(fd, buf + used, cap - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            zepto_fail(err, errno, "%s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (n == 0) {
            close(fd);
            buf[used] = 0;
            *len = used;
            return buf;
        }
        used += (size_t)n;
    }
    free(buf);
    close(fd);
    zepto_fail(err, ENOMEM, "%s: out of memory", path);
    return NULL;
}

static const char *kind(const struct zbm_mapping *m)
{
    return m->perms[2] == 'x' ? "text" : "data";
}

static void json_out(pid_t pid, const char *exe, const struct zbm_mapping *m, unsigned n)
{
    struct zb_json j;
    zb_json_init(&j, stdout, true);
    zb_json_obj_begin(&j);
    zb_json_kv_u64(&j, "schema_version", 1); /* docs/schema/ */
    zb_json_kv_i64(&j, "pid", pid);
    zb_json_kv_str(&j, "executable", exe);
    zb_json_key(&j, "segments");
    zb_json_arr_begin(&j);
    for (unsigned i = 0; i < n; i++) {
        char a[32];
        zb_json_obj_begin(&j);
        zb_json_kv_str(&j, "object", m[i].object);
        zb_json_kv_bool(&j, "executable", !strcmp(m[i].object, exe));
        zb_json_kv_str(&j, "kind", kind(&m[i]));
        zb_json_kv_str(&j, "perms", m[i].perms);
        snprintf(a, sizeof(a), "%#llx", (unsigned long long)m[i].start);
        zb_json_kv_str(&j, "start", a);
        snprintf(a, sizeof(a), "%#llx", (unsigned long long)m[i].end);
        zb_json_kv_str(&j, "end", a);
        zb_json_kv_u64(&j, "size_bytes", m[i].end - m[i].start);
        zb_json_kv_bool(&j, "anonymous", m[i].anon);
        zb_json_kv_str(&j, "pages", zbm_backing_name(zbm_mapping_backing(&m[i])));
        zb_json_kv_u64(&j, "kernel_page_size_bytes", m[i].kernel_page_kb * 1024);
        zb_json_kv_u64(&j, "huge_bytes", zbm_mapping_huge_bytes(&m[i]));
        zb_json_kv_u64(&j, "rss_bytes", m[i].rss_kb * 1024);
        zb_json_kv_u64(&j, "anon_huge_pages_bytes", m[i].anon_huge_kb * 1024);
        zb_json_kv_u64(&j, "file_pmd_mapped_bytes", m[i].file_pmd_kb * 1024);
        zb_json_kv_u64(&j, "hugetlb_bytes", m[i].hugetlb_kb * 1024);
        zb_json_obj_end(&j);
    }
    zb_json_arr_end(&j);
    zb_json_obj_end(&j);
    zb_json_finish(&j);
}

static void text_out(pid_t pid, const char *exe, const struct zbm_mapping *m, unsigned n)
{
    printf("process %d: %s\n", (int)pid, exe);
    printf("%-24s %-4s %-5s %-33s %10s  %s\n", "object", "kind", "perms", "addresses", "size",
           "pages (huge part)");
    for (unsigned i = 0; i < n; i++) {
        const char *base = strrchr(m[i].object, '/');
        char a[32], b[32], range[48];
        snprintf(range, sizeof(range), "%llx-%llx", (unsigned long long)m[i].start,
                 (unsigned long long)m[i].end);
        enum zbm_backing bk = zbm_mapping_backing(&m[i]);
        printf("%-24.24s %-4s %-5s %-33s %10s  %s", base ? base + 1 : m[i].object, kind(&m[i]),
               m[i].perms, range, zb_fmt_size(m[i].end - m[i].start, a, sizeof(a)),
               zbm_backing_name(bk));
        if (bk != ZBM_BACK_SMALL)
            printf(" (%s)", zb_fmt_size(zbm_mapping_huge_bytes(&m[i]), b, sizeof(b)));
        printf("%s\n", m[i].anon ? ", anonymous" : "");
    }
}

int cli_bigmem_info_pid(const char *cmd, pid_t pid, bool json)
{
    struct zepto_err err = {0};
    char path[64], exe[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    ssize_t el = readlink(path, exe, sizeof(exe) - 1);
    if (el < 0) {
        char dir[32];
        snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
        if ((errno == ENOENT || errno == ESRCH) && access(dir, F_OK) == 0)
            zepto_fail(&err, EINVAL, "--pid %d: a kernel thread (no program, no heap)", (int)pid);
        else if (errno == ENOENT || errno == ESRCH)
            zepto_fail(&err, ESRCH, "--pid %d: no such process", (int)pid);
        else
            zepto_fail(&err, errno, "--pid %d: %s: %s", (int)pid, path, strerror(errno));
        return cli_fail(cmd, &err);
    }
    exe[el] = 0;
    snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
    size_t len = 0;
    char *text = slurp(path, &len, &err);
    if (!text)
        return cli_fail(cmd, &err);
    struct zbm_mapping *m = calloc(MAX_MAPPINGS, sizeof(*m));
    if (!m) {
        free(text);
        zepto_fail(&err, ENOMEM, "out of memory");
        return cli_fail(cmd, &err);
    }
    unsigned n = zbm_mappings_parse(text, len, m, MAX_MAPPINGS);
    free(text);
    if (json)
        json_out(pid, exe, m, n);
    else
        text_out(pid, exe, m, n);
    free(m);
    return 0;
}
