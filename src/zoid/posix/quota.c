/*
 * Each uid's share of the daemon's descriptors: the kernel descriptors that the posix plugin
 * keeps open for clients' handles are counted per uid (the uid of the call that opened them), so
 * that one user (or several of them together) cannot take every descriptor of a daemon that also
 * needs them for connections and for everyone else's files.
 *
 * From the daemon's RLIMIT_NOFILE (raised to its hard limit at start) N: a user may hold N/8,
 * all users together N/2; root and the daemon's own uid together N/4 (they are not limited
 * alone, but neither can a TCP client, which acts as the daemon's uid, take everything). The
 * rest is for connections and the short-lived descriptors of path calls. A uid at its share gets
 * EMFILE, and the daemon logs one line per uid at most every 10 s.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "zp_impl.h"

#define BUCKETS   256
#define LOG_EVERY 10 /* seconds between two lines about one uid */
#define MIN_SHARE 16

struct uid_count {
    uint32_t uid;
    long held;
    time_t logged;
    struct uid_count *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct uid_count *table[BUCKETS];
static long per_uid, users_max, privileged_max;
static long users_held, privileged_held;
static uint32_t daemon_uid;

void zp__quota_init(void)
{
    struct rlimit rl;
    long n = 1024;
    if (!getrlimit(RLIMIT_NOFILE, &rl))
        n = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1l << 30) ? (1l << 30)
                                                                     : (long)rl.rlim_cur;
    pthread_mutex_lock(&mu);
    per_uid = n / 8 > MIN_SHARE ? n / 8 : MIN_SHARE;
    users_max = n / 2 > per_uid ? n / 2 : per_uid;
    privileged_max = n / 4 > MIN_SHARE ? n / 4 : MIN_SHARE;
    daemon_uid = (uint32_t)geteuid();
    pthread_mutex_unlock(&mu);
}

long zp__quota_share(bool privileged)
{
    pthread_mutex_lock(&mu);
    long r = privileged ? privileged_max : per_uid;
    pthread_mutex_unlock(&mu);
    return r;
}

/* The uid's entry (created with 0 held), mu held; NULL without memory. */
static struct uid_count *entry(uint32_t uid)
{
    struct uid_count **pp = &table[uid % BUCKETS];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->uid == uid)
            return *pp;
    *pp = calloc(1, sizeof(**pp));
    if (*pp)
        (*pp)->uid = uid;
    return *pp;
}

int zp__quota_take(const struct zoid_host *host, uint32_t uid)
{
    bool priv = uid == 0 || uid == daemon_uid;
    pthread_mutex_lock(&mu);
    struct uid_count *e = entry(uid);
    const char *why = NULL;
    long limit = 0;
    if (!e) {
        pthread_mutex_unlock(&mu);
        errno = ENOMEM;
        return -1;
    }
    if (priv && privileged_held >= privileged_max) {
        why = "root and the daemon's uid together";
        limit = privileged_max;
    } else if (!priv && e->held >= per_uid) {
        why = "one uid";
        limit = per_uid;
    } else if (!priv && users_held >= users_max) {
        why = "all users together";
        limit = users_max;
    }
    if (!why) {
        e->held++;
        if (priv)
            privileged_held++;
        else
            users_held++;
        pthread_mutex_unlock(&mu);
        return 0;
    }
    time_t now = time(NULL);
    bool log = now - e->logged >= LOG_EVERY;
    if (log)
        e->logged = now;
    long held = e->held;
    pthread_mutex_unlock(&mu);
    if (log)
        zoid_host_log(host, ZOID_LOG_WARN,
                      "uid %u: too many open files (holds %ld; limit of %s: %ld): EMFILE", uid,
                      held, why, limit);
    errno = EMFILE;
    return -1;
}

void zp__quota_give(uint32_t uid)
{
    bool priv = uid == 0 || uid == daemon_uid;
    pthread_mutex_lock(&mu);
    struct uid_count **pp = &table[uid % BUCKETS];
    while (*pp && (*pp)->uid != uid)
        pp = &(*pp)->next;
    struct uid_count *e = *pp;
    if (e && e->held > 0) {
        e->held--;
        if (priv)
            privileged_held--;
        else
            users_held--;
        if (!e->held && !e->logged) {
            *pp = e->next; /* nothing to remember about it */
            free(e);
        }
    }
    pthread_mutex_unlock(&mu);
}
