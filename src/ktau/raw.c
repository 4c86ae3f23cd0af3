/*
 * Reader of libktau's per-thread files (format in raw.h and docs/FORMATS.md). Every count and
 * length is checked against what the file holds before anything is allocated.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktau/raw.h"

void ktau_raw_free(struct ktau_raw_thread *t)
{
    if (t->names)
        for (uint32_t i = 0; i < t->h.nroutines; i++)
            free(t->names[i]);
    free(t->names);
    free(t->routines);
    free(t->events);
    if (t->uev_names)
        for (uint64_t i = 0; i < t->nuev; i++)
            free(t->uev_names[i]);
    free(t->uev_names);
    free(t->uev);
    memset(t, 0, sizeof(*t));
}

/* The atomic events after the event log: a count, then records with their names. */
static int read_uevents(FILE *f, uint64_t left, const char *path, struct ktau_raw_thread *out,
                        struct zepto_err *err)
{
    uint64_t n;
    if (left < sizeof(n) || fread(&n, sizeof(n), 1, f) != 1)
        return zepto_fail(err, EPROTO, "%s: no atomic event count after the events", path);
    left -= sizeof(n);
    if (n > left / sizeof(struct ktau_raw_uevent))
        return zepto_fail(err, EPROTO, "%s: bad atomic event count %llu", path,
                          (unsigned long long)n);
    out->uev = calloc(n ? n : 1, sizeof(*out->uev));
    out->uev_names = calloc(n ? n : 1, sizeof(*out->uev_names));
    if (!out->uev || !out->uev_names)
        return zepto_fail(err, ENOMEM, "%s: out of memory", path);
    for (uint64_t i = 0; i < n; i++) {
        struct ktau_raw_uevent *u = &out->uev[i];
        if (left < sizeof(*u) || fread(u, sizeof(*u), 1, f) != 1)
            return zepto_fail(err, EPROTO, "%s: truncated in atomic event %llu", path,
                              (unsigned long long)i);
        left -= sizeof(*u);
        uint64_t padded = ((uint64_t)u->name_len + 7) & ~7ull;
        if (padded > left)
            return zepto_fail(err, EPROTO, "%s: atomic event %llu: name longer than the file", path,
                              (unsigned long long)i);
        out->nuev = i + 1;
        out->uev_names[i] = malloc(padded + 1);
        if (!out->uev_names[i] || fread(out->uev_names[i], 1, padded, f) != padded)
            return zepto_fail(err, EPROTO, "%s: truncated in atomic event %llu's name", path,
                              (unsigned long long)i);
        out->uev_names[i][u->name_len] = 0;
        left -= padded;
    }
    if (left)
        return zepto_fail(err, EPROTO, "%s: %llu bytes after the atomic events", path,
                          (unsigned long long)left);
    return 0;
}

int ktau_raw_read(const char *path, struct ktau_raw_thread *out, struct zepto_err *err)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    int rc = 0;
    long size = -1;
    if (!fseek(f, 0, SEEK_END))
        size = ftell(f);
    rewind(f);
    struct ktau_raw_header *h = &out->h;
    if (size < (long)sizeof(*h) || fread(h, sizeof(*h), 1, f) != 1) {
        rc = zepto_fail(err, EPROTO, "%s: too short for a ktau file", path);
        goto out;
    }
    if (memcmp(h->magic, KTAU_RAW_MAGIC, 8) || h->version != KTAU_RAW_VERSION) {
        rc = zepto_fail(err, EPROTO, "%s: not a ktau file of version %u", path, KTAU_RAW_VERSION);
        goto out;
    }
    h->comm[sizeof(h->comm) - 1] = 0;
    uint64_t left = (uint64_t)size - sizeof(*h);
    if (h->nroutines == 0 || h->nroutines > left / sizeof(struct ktau_raw_routine)) {
        rc = zepto_fail(err, EPROTO, "%s: bad routine count %u", path, h->nroutines);
        goto out;
    }
    out->routines = calloc(h->nroutines, sizeof(*out->routines));
    out->names = calloc(h->nroutines, sizeof(*out->names));
    if (!out->routines || !out->names) {
        rc = zepto_fail(err, ENOMEM, "%s: out of memory", path);
        goto out;
    }
    for (uint32_t i = 0; i < h->nroutines; i++) {
        struct ktau_raw_routine *r = &out->routines[i];
        if (left < sizeof(*r) || fread(r, sizeof(*r), 1, f) != 1) {
            rc = zepto_fail(err, EPROTO, "%s: truncated in routine %u", path, i);
            goto out;
        }
        left -= sizeof(*r);
        uint64_t padded = ((uint64_t)r->name_len + 7) & ~7ull;
        if (padded > left) {
            rc = zepto_fail(err, EPROTO, "%s: routine %u: name longer than the file", path, i);
            goto out;
        }
        out->names[i] = malloc(padded + 1);
        if (!out->names[i] || fread(out->names[i], 1, padded, f) != padded) {
            rc = zepto_fail(err, EPROTO, "%s: truncated in routine %u's name", path, i);
            goto out;
        }
        out->names[i][r->name_len] = 0;
        left -= padded;
    }
    bool has_ue = h->flags & KTAU_RAW_UEVENTS;
    if (has_ue ? h->nevents > left / sizeof(struct ktau_raw_event)
               : h->nevents != left / sizeof(struct ktau_raw_event) ||
                     left % sizeof(struct ktau_raw_event)) {
        rc = zepto_fail(err, EPROTO, "%s: %llu events announced, %llu bytes left", path,
                        (unsigned long long)h->nevents, (unsigned long long)left);
        goto out;
    }
    if (h->nevents) {
        out->events = malloc(h->nevents * sizeof(*out->events));
        if (!out->events || fread(out->events, sizeof(*out->events), h->nevents, f) != h->nevents) {
            rc = zepto_fail(err, EPROTO, "%s: cannot read the events", path);
            goto out;
        }
    }
    for (uint64_t i = 0; i < h->nevents; i++)
        if ((out->events[i].rid_dir >> 1) >= h->nroutines) {
            rc = zepto_fail(err, EPROTO, "%s: event %llu names routine %u of %u", path,
                            (unsigned long long)i, out->events[i].rid_dir >> 1, h->nroutines);
            goto out;
        }
    left -= h->nevents * sizeof(struct ktau_raw_event);
    if (has_ue)
        rc = read_uevents(f, left, path, out, err);
out:
    fclose(f);
    if (rc)
        ktau_raw_free(out);
    return rc;
}
