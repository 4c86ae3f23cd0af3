/*
 * What the files of the ZOID daemon (daemon*.c) share and nothing else sees: struct zoid_daemon,
 * a call (struct job), a uid's share, a thread's slot, the limits and periods, and the functions
 * that cross files (zd__*). The daemon's outside interface is zoid/core/daemon.h.
 */
#ifndef ZOID_CORE_DAEMON_INT_H
#define ZOID_CORE_DAEMON_INT_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "zoid/core/daemon.h"

/* What --insecure TCP peers act as: nobody/nogroup, no supplementary groups (docs/zoid.md). */
#define ZOID_INSECURE_ID 65534u

#define HANDSHAKE_S  5
#define STALL_S      30 /* a frame begun and not finished (the default of --stall-timeout) */
#define CONN_RESERVE 32 /* connections beyond max_clients for root and the daemon's own uid */
#define BACKOFF_NS   100000000u /* the listener rests this long after EMFILE/ENFILE */
#define SWEEP_NS     100000000u
#define DRAIN_NS     1000000000u /* after SIGTERM, calls still running past this are cut short */
#define LOG_BURST    10 /* lines of one format per second, then a count of those suppressed */
#define TRIM_FROM    (16u << 20) /* a burst of payloads this large is trimmed once it is over */
#define UID_BUCKETS  256
/* Interrupts a call's blocking system call (EINTR): the client left or the call timed out. */
#define CANCEL_SIG  (SIGRTMIN + 7)
#define LOG_SLOTS   64
#define PEER_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLONESHOT)
/* A worker watches its client's ring after calls whose request and reply were smaller than this
 * (daemon_own.c): 1 MiB uploads and downloads ran at 0.6x of the doorbell's speed watched. */
#define OWN_MAX_FRAME (256u << 10)

struct job {
    struct zoid_peer *peer;
    struct zoid_header h;
    unsigned char *payload;
    uint32_t bytes;          /* of the payload, counted in the budgets */
    bool in_place;           /* payload is a view into the transport: ended, not freed */
    uint32_t tail;           /* payload bytes left in the socket (zoid_host_payload_tail) */
    int error;               /* answer with this at once (EBUSY) instead of running the call */
    struct zoid_identity id; /* the sender of this call */
    uint64_t deadline_ns;    /* when running: past it, the call is interrupted */
    _Atomic bool timed_out;
    struct job *next;
};

/* One uid's share (under the daemon's mu): its connections, its calls running, its queue. */
struct zoid_uid {
    uint32_t uid;
    unsigned conns, running;
    struct job *qhead, *qtail;
    bool in_ring; /* in the ring of uids with calls queued that may run now */
    struct zoid_uid *ring_next, *hnext;
};

/* A thread of the pool and the call it runs (under mu: the sweep signals it). */
struct wslot {
    struct zoid_daemon *d;
    unsigned idx;
    pthread_t th;
    bool started;
    struct job *job;
    /* The daemon's epoch when this thread began its loop turn (it may hold an event's client
     * pointer), UINT64_MAX between turns: a client dropped at an epoch is freed once every
     * thread has begun a turn after it (daemon_grave.c). */
    _Atomic uint64_t active;
};

struct lograte {
    const void *key;
    uint64_t second;
    unsigned n, suppressed;
};

struct zoid_daemon {
    struct zoid_daemon_opts o;
    const struct zoid_transport *t;
    struct zoid_addr addr;
    struct zoid_token token;
    bool need_token;
    int lfd, epfd, sigfd;
    int export_fd; /* O_PATH of --export, for the plugins (struct zoid_host) */
    int stopfd;    /* eventfd, written when the loop has ended: wakes every thread */
    struct zoid_slot slots[ZOID_MAX_PLUGINS];
    unsigned nslots;
    pthread_mutex_t peers_mu; /* peers, clients */
    struct zoid_peer *peers;
    unsigned clients;
    int tfd;      /* timerfd: the sweep, every 100 ms */
    int spare_fd; /* /dev/null, closed to accept (and refuse) a client when out of descriptors */
    _Atomic uint64_t backoff_until; /* the listener rests (EMFILE) until then; 0: armed */
    uint32_t self_uid;
    /* worker pool: wslot 0 is the main thread, 1.. the workers */
    struct wslot *ws;
    unsigned nworkers;  /* threads started or starting (ws[1..nworkers]) */
    unsigned uid_cap;   /* calls of one uid running at once */
    pthread_mutex_t mu; /* the queue, free, busy, done, loop_rc, ws, uids */
    struct zoid_uid *uids[UID_BUCKETS];
    struct zoid_uid *ring_head, *ring_tail;
    unsigned queued;
    unsigned busy; /* jobs queued or running */
    unsigned free; /* threads not running a call (waiting for events or handling one) */
    bool done;     /* the loop has ended: no more jobs will come */
    _Atomic bool draining;
    _Atomic uint64_t drain_ns; /* when draining began */
    _Atomic uint64_t swept_ns;
    uint64_t own_ns; /* how long a worker watches its client's ring (daemon_own.c); 0: never */
    _Atomic uint64_t epoch;     /* advanced at each drop (daemon_grave.c) */
    struct zoid_peer_ev *grave; /* dropped clients' events that may still be held (peers_mu) */
    int kickfd;                 /* eventfd: clients in the kick list (daemon_own.c) */
    pthread_mutex_t kick_mu;
    struct zoid_peer *kick_head;
    int loop_rc;
    struct zepto_err *loop_err;
    /* payload budget */
    _Atomic uint64_t bytes, bytes_hi;
    uint64_t trimmed_ns;
    pthread_mutex_t memwait_mu;
    struct zoid_peer *memwait; /* peers waiting for room for a payload */
    _Atomic unsigned nmemwait;
    /* log rate */
    pthread_mutex_t log_mu;
    struct lograte *lr;
    /* by plugin slot: its functions (bit n: function n < 64) that take large payloads in place
     * (zoid_host_in_place) */
    uint64_t in_place[ZOID_MAX_PLUGINS];
    /* by plugin slot and function: 1 + the head of payloads left in the socket past it
     * (zoid_host_payload_tail), 0 for none */
    uint16_t tail_head[ZOID_MAX_PLUGINS][64];
};

extern _Thread_local unsigned zd__my_ws;          /* this thread's slot in d->ws */
extern _Thread_local bool zd__ran_job;            /* this thread has just run a call (shm: spin) */
extern _Thread_local struct zoid_peer *zd__owned; /* the client whose ring it watches */

/* daemon.c */
struct job *zd__loop_turn(struct zoid_daemon *d);

/* daemon_log.c */
void zd__log_flush(struct zoid_daemon *d);

/* daemon_limits.c (mu held for the uids and queues) */
struct zoid_uid *zd__uid_get(struct zoid_daemon *d, uint32_t uid);
void zd__q_push(struct zoid_daemon *d, struct job *j);
struct job *zd__q_pop(struct zoid_daemon *d, bool any);
void zd__uid_done(struct zoid_daemon *d, struct zoid_uid *u);
bool zd__reserve(struct zoid_daemon *d, struct zoid_peer *p, uint32_t len);
void zd__release(struct zoid_daemon *d, struct zoid_peer *p, uint32_t len);
void zd__memwait_add(struct zoid_daemon *d, struct zoid_peer *p);
void zd__memwait_remove(struct zoid_daemon *d, struct zoid_peer *p);
void zd__settle(struct zoid_daemon *d, struct zoid_peer *p);
/* zd__settle with the transport's part (zd__arm_extra) already taken. */
void zd__settle_with(struct zoid_daemon *d, struct zoid_peer *p, uint32_t extra);
void zd__unpark(struct zoid_daemon *d, struct zoid_peer *p);
void zd__signal_calls(struct zoid_daemon *d, struct zoid_peer *p, uint64_t now);

/* daemon_pool.c */
int zd__enqueue(struct zoid_daemon *d, struct zoid_peer *p, int error, struct job **mine);
void zd__end_loop(struct zoid_daemon *d);
void zd__check_done(struct zoid_daemon *d);
void zd__serve(struct zoid_daemon *d);
void *zd__worker(void *arg);

/* daemon_peers.c */
void zd__drop(struct zoid_daemon *d, struct zoid_peer *p, const char *why);
void zd__rearm(struct zoid_daemon *d, int fd, void *ptr, uint32_t events);
/* A peer's part of zd__rearm: what its transport adds (EPOLLOUT: bytes already there; by the
 * thread that reads its frames), and the re-arming itself (events as given, by any thread). */
uint32_t zd__arm_extra(struct zoid_peer *p);
void zd__rearm_peer(struct zoid_daemon *d, struct zoid_peer *p, uint32_t events);
int zd__send_simple(struct zoid_peer *p, enum zoid_kind kind, int error, const void *data,
                    size_t len);
bool zd__accept_all(struct zoid_daemon *d);

/* daemon_frames.c */
int zd__readable(struct zoid_daemon *d, struct zoid_peer *p, const char **why, struct job **job);

/* daemon_own.c: who reads a client's frames (its event's thread, or a worker watching its
 * ring between calls). read_begin before an event's reading (false: a watcher has it and re-arms
 * after), read_end after it (settle: the socket's one-shot was used, re-arm or park it). */
bool zd__read_begin(struct zoid_peer_ev *e);
void zd__read_end(struct zoid_daemon *d, struct zoid_peer *p, bool settle);
/* Before the reply to p's only call: this thread watches p's ring next (its next loop turn). */
void zd__own_begin(struct zoid_daemon *d, struct zoid_peer *p);
/* The watch, at the start of a loop turn: the call read from the ring, or NULL (*n == 1: an
 * event found meanwhile, in *ev, for the caller). */
struct job *zd__own_turn(struct zoid_daemon *d, struct epoll_event *ev, int *n);
/* Stops watching (a queued call to run instead, or the thread's end). */
void zd__own_end(struct zoid_daemon *d);
/* p has bytes in its ring that its socket does not report (shm): its next event comes through
 * the kick list (an eventfd in the epoll set), not EPOLLOUT, which a client that never reads its
 * socket (lent descriptors hoarded) would never raise. kick_take: the next one (referenced), or
 * NULL; kick_clear: the daemon's end, every reference given back. */
void zd__kick(struct zoid_daemon *d, struct zoid_peer *p);
struct zoid_peer *zd__kick_take(struct zoid_daemon *d);
void zd__kick_clear(struct zoid_daemon *d);

/* daemon_grave.c: a dropped client is no longer in the epoll set, but a thread may have taken
 * one of its events just before (a watcher re-arms while another thread reads: two events of a
 * client may be out at once). What they point to goes once no thread can hold one. */
void zd__grave_add(struct zoid_daemon *d, struct zoid_peer_ev *e); /* peers_mu held */
void zd__grave_sweep(struct zoid_daemon *d, bool all);             /* all: no thread is left */

/* daemon_sweep.c */
void zd__sweep(struct zoid_daemon *d);

#endif
