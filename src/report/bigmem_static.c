/*
 * The report's bigmem section, part 2: zepto-bigmem-static-demo (a 16 MiB initialised table and
 * a 64 MiB .bss array, src/bigmem/static_demo.c), found beside the zepto binary, run plain and
 * under `zepto bigmem run --static --pages 2M` (THP without a pool), the two kinds interleaved.
 * Each run prints its checksum, the faults and time touching its arrays, and how much of its data
 * smaps shows in huge pages; the wall time is measured here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/parse.h"
#include "base/preload.h"
#include "report/bigmem_static.h"
#include "report/probe.h"

#define DEMO "zepto-bigmem-static-demo"

#if defined(__SANITIZE_ADDRESS__)
#define ZR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZR_ASAN 1
#endif
#endif
#define MAX_ROUNDS 8

struct one {
    double faults, touch_ms, wall_ms;
    uint64_t data, huge;
    char pages[16], checksum[32];
};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static const char *field(const char *out, const char *key)
{
    size_t n = strlen(key);
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, key, n) && l[n] == ' ')
            return l + n + 1;
    return NULL;
}

/* Runs argv, its stdout into out; 0 when it exited 0 and printed its figures. */
static int run_one(char *const argv[], struct one *o, char *error, size_t elen)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC)) {
        snprintf(error, elen, "pipe: %s", strerror(errno));
        return -1;
    }
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(error, elen, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(p[1], STDOUT_FILENO);
        if (null >= 0)
            dup2(null, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    char out[1024];
    size_t used = 0;
    for (ssize_t n;
         used < sizeof(out) - 1 &&
         ((n = read(p[0], out + used, sizeof(out) - 1 - used)) > 0 || (n < 0 && errno == EINTR));)
        if (n > 0)
            used += (size_t)n;
    out[used] = 0;
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    o->wall_ms = now_ms() - t0;
    const char *f = field(out, "faults"), *t = field(out, "touch_ns"), *c = field(out, "checksum"),
               *d = field(out, "data_bytes"), *h = field(out, "huge_bytes"),
               *pg = field(out, "pages");
    if (!WIFEXITED(st) || WEXITSTATUS(st) || !f || !t || !c || !d || !h || !pg) {
        snprintf(error, elen, "%s%s exited %d without its figures", argv[0],
                 argv[1] ? " (bigmem run)" : "", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return -1;
    }
    o->faults = strtod(f, NULL);
    o->touch_ms = strtod(t, NULL) / 1e6;
    o->data = strtoull(d, NULL, 10);
    o->huge = strtoull(h, NULL, 10);
    snprintf(o->pages, sizeof(o->pages), "%.*s", (int)strcspn(pg, "\n"), pg);
    snprintf(o->checksum, sizeof(o->checksum), "%.*s", (int)strcspn(c, "\n"), c);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void summarise(const struct one *o, unsigned n, struct zr_bms_kind *k)
{
    double f[MAX_ROUNDS], t[MAX_ROUNDS], w[MAX_ROUNDS];
    for (unsigned i = 0; i < n; i++) {
        f[i] = o[i].faults;
        t[i] = o[i].touch_ms;
        w[i] = o[i].wall_ms;
    }
    k->faults = median(f, n);
    k->touch_ms = median(t, n);
    k->wall_ms = median(w, n);
    k->data_bytes = o[n - 1].data;
    k->huge_bytes = o[n - 1].huge;
    snprintf(k->pages, sizeof(k->pages), "%s", o[n - 1].pages);
    snprintf(k->checksum, sizeof(k->checksum), "%s", o[n - 1].checksum);
}

void zr_bms_run(unsigned rounds, bool pool_ok, struct zr_bms *r)
{
    struct zepto_err err = {0};
    char dir[PATH_MAX], demo[PATH_MAX + 32], self[PATH_MAX];
    r->ran = false;
#ifdef ZR_ASAN
    snprintf(r->error, sizeof(r->error),
             "this zepto is built with AddressSanitizer, which must own malloc: the bigmem "
             "preload cannot run under it");
    return;
#endif
    if (zb_self_dir(dir, sizeof(dir), &err)) {
        snprintf(r->error, sizeof(r->error), "%s", err.msg);
        return;
    }
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    snprintf(demo, sizeof(demo), "%s" DEMO, dir);
    if (sl < 0 || access(demo, X_OK)) {
        snprintf(r->error, sizeof(r->error), "%s: %s (not built or not installed)", demo,
                 strerror(errno));
        return;
    }
    self[sl] = 0;
    snprintf(r->pages_arg, sizeof(r->pages_arg), "%s", pool_ok ? "2M" : "thp");
    char *plain[] = {demo, NULL};
    char *big[] = {self, "bigmem", "run", "--pages", r->pages_arg, "--static", "--", demo, NULL};
    struct one p[MAX_ROUNDS], b[MAX_ROUNDS];
    if (rounds < 1)
        rounds = 1;
    if (rounds > MAX_ROUNDS)
        rounds = MAX_ROUNDS;
    r->checksums_equal = true;
    for (unsigned i = 0; i < rounds; i++) {
        /* alternate which goes first, so that neither always runs on a warmer machine */
        if (run_one(i % 2 ? big : plain, i % 2 ? &b[i] : &p[i], r->error, sizeof(r->error)) ||
            run_one(i % 2 ? plain : big, i % 2 ? &p[i] : &b[i], r->error, sizeof(r->error)))
            return;
        if (strcmp(p[i].checksum, b[i].checksum))
            r->checksums_equal = false;
    }
    summarise(p, rounds, &r->plain);
    summarise(b, rounds, &r->bigmem);
    r->rounds = rounds;
    r->ran = true;
    r->error[0] = 0;
}

static void kind_json(const struct zr_bms_kind *k, struct zb_json *j)
{
    zb_json_obj_begin(j);
    zb_json_kv_f64(j, "faults", k->faults);
    zb_json_kv_f64(j, "touch_ms", k->touch_ms);
    zb_json_kv_f64(j, "wall_ms", k->wall_ms);
    zb_json_kv_u64(j, "data_bytes", k->data_bytes);
    zb_json_kv_u64(j, "huge_bytes", k->huge_bytes);
    zb_json_kv_str(j, "pages", k->pages);
    zb_json_kv_str(j, "checksum", k->checksum);
    zb_json_obj_end(j);
}

void zr_bms_json(const struct zr_bms *r, struct zb_json *j)
{
    zb_json_obj_begin(j);
    zb_json_kv_str(j, "program", DEMO);
    if (!r->ran) {
        zb_json_kv_str(j, "error", r->error);
        zb_json_obj_end(j);
        return;
    }
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "zepto bigmem run --pages %s --static", r->pages_arg);
    zb_json_kv_str(j, "command", cmd);
    zb_json_kv_u64(j, "rounds", r->rounds);
    zb_json_kv_bool(j, "checksums_equal", r->checksums_equal);
    if (r->pool.changed) {
        zb_json_kv_u64(j, "pool_pages_before", r->pool.before);
        zb_json_kv_u64(j, "pool_pages_during", r->pool.during);
    }
    if (r->pool_note[0])
        zb_json_kv_str(j, "pool_note", r->pool_note);
    zb_json_key(j, "plain");
    kind_json(&r->plain, j);
    zb_json_key(j, "bigmem");
    kind_json(&r->bigmem, j);
    zb_json_obj_end(j);
}

static void kind_row(const char *name, const struct zr_bms_kind *k, FILE *f)
{
    char a[32], b[32];
    fprintf(f,
            "<tr><td>%s</td><td>%.0f</td><td>%.1f ms</td><td>%.1f ms</td><td>%s of %s</td>"
            "<td>%s</td></tr>\n",
            name, k->faults, k->touch_ms, k->wall_ms, zb_fmt_size(k->huge_bytes, a, sizeof(a)),
            zb_fmt_size(k->data_bytes, b, sizeof(b)), k->pages);
}

void zr_bms_html(const struct zr_bms *r, FILE *f)
{
    fprintf(f, "<p>Static arrays: <code>" DEMO "</code> keeps a 16 MiB initialised table and a "
               "64 MiB array in globals, as many HPC codes keep theirs in COMMON blocks and "
               "module arrays, where the heap's huge pages do not reach.");
    if (!r->ran) {
        fprintf(f, " Not run: ");
        zr_html_escape(f, r->error);
        fprintf(f, "</p>\n");
        return;
    }
    fprintf(f,
            " Run plain and under <code>zepto bigmem run --pages %s --static</code>, which moves "
            "them into huge pages before <code>main()</code>; %u round%s, the two interleaved, "
            "medians.</p>\n",
            r->pages_arg, r->rounds, r->rounds == 1 ? "" : "s");
    fprintf(f, "<table><tr><th>run</th><th>page faults touching the arrays</th><th>time "
               "touching them</th><th>whole run</th><th>data in huge pages (smaps)</th>"
               "<th>pages</th></tr>\n");
    kind_row("plain", &r->plain, f);
    kind_row("bigmem --static", &r->bigmem, f);
    fprintf(f, "</table>\n<p>Checksums %s.",
            r->checksums_equal ? "equal: the initialised data "
                                 "came through intact"
                               : "<strong>differ</strong>");
    if (r->pool.changed)
        fprintf(f, " The 2 MiB pool was raised from %llu to %llu pages for the runs and put back.",
                (unsigned long long)r->pool.before, (unsigned long long)r->pool.during);
    if (r->pool_note[0]) {
        fprintf(f, " 2 MiB pool: ");
        zr_html_escape(f, r->pool_note);
        fprintf(f, "; THP used instead.");
    }
    fprintf(f, " The whole run includes moving the data, which a long program pays once.</p>\n");
}
