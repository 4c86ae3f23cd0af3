/*
 * The rings of the shm: transport (shm.c): a shared region holds two single-producer,
 * single-consumer byte rings (client to daemon, daemon to client). Each side keeps its own index
 * privately and only publishes it, so that a hostile peer rewriting the shared words can make
 * the rings say nonsense (caught: -EPROTO) but never make this side read or write outside them.
 * Split out of shm.c so that the fuzzer drives the same code.
 */
#ifndef ZOID_CORE_SHM_RING_H
#define ZOID_CORE_SHM_RING_H

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Who sleeps on a ring word (rwait, wwait): nobody, a futex waiter, the daemon's epoll (a byte
 * on the socket wakes it). Any other value is a peer's garbage: the waker wakes by futex. */
enum { SHM_AWAKE = 0, SHM_FUTEX = 1, SHM_DOORBELL = 2 };

/* One ring's shared words, each on its own cache line. */
struct shm_ctl {
    _Atomic uint32_t head; /* written by the producer */
    char pad0[60];
    _Atomic uint32_t tail; /* written by the consumer */
    char pad1[60];
    _Atomic uint32_t rwait; /* the consumer sleeps (waiting for bytes) */
    char pad2[60];
    _Atomic uint32_t wwait; /* the producer sleeps (waiting for room) */
    char pad3[60];
};

/* Where each side last ran (sched_getcpu() + 1; 0: not known), after the two rings' words: a
 * waiter does not spin for a peer that needs its CPU. Only advice: a peer that lies about it
 * changes whether this side spins, nothing else. */
struct shm_where {
    _Atomic int32_t cpu[2]; /* [0] the client, [1] the daemon */
};

/* The region: a page of the two rings' words and where the sides run, then ring 0 (client to
 * daemon), then ring 1. The request ring is the larger: a payload that fits in it whole can be
 * read in place by the daemon (shm.c, "views"), which maps it twice, back to back, so that every
 * span of it is contiguous. Both sizes are powers of two and multiples of the page. */
#define SHM_MAGIC          "ZOIDSHM1"
#define SHM_CTL_BYTES      4096u
#define SHM_REQ_RING_BYTES (1u << 20)   /* client to daemon */
#define SHM_REP_RING_BYTES (512u << 10) /* daemon to client */
#define SHM_REGION         (SHM_CTL_BYTES + SHM_REQ_RING_BYTES + SHM_REP_RING_BYTES)
/* The daemon's mapping: the control page, the request ring twice, the reply ring. */
#define SHM_DAEMON_SPAN (SHM_CTL_BYTES + 2u * SHM_REQ_RING_BYTES + SHM_REP_RING_BYTES)

/* One side of one ring: the shared words and data, and this side's own index. */
struct shm_end {
    struct shm_ctl *c;
    unsigned char *data;
    uint32_t cap;  /* a power of two */
    uint32_t mine; /* the producer's head or the consumer's tail, as this side knows it */
};

/* Bytes ready to read (consumer), or -EPROTO when the producer's head is impossible. */
static inline long shm_avail(struct shm_end *e)
{
    uint32_t head = atomic_load_explicit(&e->c->head, memory_order_acquire);
    uint32_t n = head - e->mine;
    return n > e->cap ? -EPROTO : (long)n;
}

/* Room to write (producer), or -EPROTO when the consumer's tail is impossible. */
static inline long shm_room(struct shm_end *e)
{
    uint32_t tail = atomic_load_explicit(&e->c->tail, memory_order_acquire);
    uint32_t used = e->mine - tail;
    return used > e->cap ? -EPROTO : (long)(e->cap - used);
}

/* Copies n bytes (n <= shm_avail) out of the ring and publishes the new tail. */
void shm_take(struct shm_end *e, void *buf, size_t n);
/* The same without publishing (the daemon publishes its tail itself, around views). */
void shm_copy_out(struct shm_end *e, void *buf, size_t n);
/* Copies n bytes (n <= shm_room) into the ring; shm_publish makes them visible. */
void shm_put(struct shm_end *e, const void *buf, size_t n);
void shm_publish(struct shm_end *e);

#endif
