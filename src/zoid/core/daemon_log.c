/*
 * The ZOID daemon's log: one line per connect, disconnect and error, rate-limited per format so
 * that a flood of one kind of event (a client hammering the daemon with bad frames) cannot fill
 * the log or slow the threads down.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/parse.h"
#include "zoid/core/daemon_int.h"

/* Lines of one key (format) beyond LOG_BURST in a second are counted, not written; the count
 * comes as one line when that key logs again in a later second, or from the sweep. */
void zoid_daemon_vlogk(const struct zoid_daemon *d, const void *key, int level, const char *fmt,
                       va_list ap)
{
    if (!d->o.log)
        return;
    struct zoid_daemon *m = (struct zoid_daemon *)d; /* the rate table only */
    unsigned suppressed = 0;
    if (m->lr) {
        uint64_t second = zb_mono_read() / 1000000000u;
        pthread_mutex_lock(&m->log_mu);
        size_t h = ((uintptr_t)key >> 3) % LOG_SLOTS;
        struct lograte *e = &m->lr[h];
        for (unsigned i = 0; i < 4; i++) {
            struct lograte *c = &m->lr[(h + i) % LOG_SLOTS];
            if (c->key == key || !c->key) {
                e = c;
                break;
            }
        }
        if (e->key != key) {
            suppressed = e->suppressed;
            *e = (struct lograte){.key = key, .second = second};
        } else if (e->second != second) {
            suppressed = e->suppressed;
            e->second = second;
            e->n = e->suppressed = 0;
        }
        bool quiet = e->n >= LOG_BURST;
        if (quiet)
            e->suppressed++;
        else
            e->n++;
        pthread_mutex_unlock(&m->log_mu);
        if (quiet)
            return;
    }
    char line[512];
    if (suppressed) {
        snprintf(line, sizeof(line), "(%u similar lines suppressed)", suppressed);
        d->o.log(d->o.log_arg, ZOID_LOG_WARN, line);
    }
    vsnprintf(line, sizeof(line), fmt, ap);
    zb_printable(line); /* a client's path or name cannot forge log lines or reach a terminal */
    d->o.log(d->o.log_arg, level, line);
}

void zoid_daemon_log(const struct zoid_daemon *d, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    zoid_daemon_vlogk(d, fmt, level, fmt, ap);
    va_end(ap);
}

/* The counts of lines suppressed in seconds that are over (by the sweep). */
void zd__log_flush(struct zoid_daemon *d)
{
    if (!d->lr || !d->o.log)
        return;
    uint64_t second = zb_mono_read() / 1000000000u;
    for (unsigned i = 0; i < LOG_SLOTS; i++) {
        pthread_mutex_lock(&d->log_mu);
        unsigned n = d->lr[i].second != second ? d->lr[i].suppressed : 0;
        d->lr[i].suppressed -= n;
        pthread_mutex_unlock(&d->log_mu);
        if (n) {
            char line[64];
            snprintf(line, sizeof(line), "(%u similar lines suppressed)", n);
            d->o.log(d->o.log_arg, ZOID_LOG_WARN, line);
        }
    }
}
