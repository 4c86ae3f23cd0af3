/*
 * Inside the shm: transport, between its two files: shm.c (the rings, waking, views, the
 * transport's table) and shm_setup.c (a connection's region at accept and connect, descriptors
 * on its socket). A struct shm_conn is one side of one connection, found by its descriptor.
 */
#ifndef ZOID_CORE_SHM_INT_H
#define ZOID_CORE_SHM_INT_H

#include <stdbool.h>
#include <stdint.h>

struct zoid_addr;
struct zepto_err;
struct shm_conn;

/* shm.c: a side's state over a mapped region (the daemon's mapping from zoid__shm_map_daemon,
 * the client's as the region lies in the file), NULL without memory; freed (not unmapped) by
 * zoid__shm_free (NULL: nothing). */
struct shm_conn *zoid__shm_attach(unsigned char *base, bool daemon);
void zoid__shm_free(struct shm_conn *s);
/* The daemon's mapping of a region's memfd (SHM_DAEMON_SPAN bytes, the request ring twice), or
 * MAP_FAILED with errno. */
unsigned char *zoid__shm_map_daemon(int mfd);
/* Makes s the connection of descriptor fd (NULL: none): 0, -EMFILE, -ENOMEM. */
int zoid__shm_conn_set(int fd, struct shm_conn *s);

/* shm_setup.c: the transport's accept, connect, lend_fd and take_fd. */
int zoid__shm_accept(int lfd, int *fd);
int zoid__shm_connect(const struct zoid_addr *a, int timeout_ms, int *fd, struct zepto_err *err);
/* What waits first on unix socket fd within timeout_ms: 1 an shm: daemon's greeting (a unix:
 * client that reached an shm: daemon says so, instead of waiting out the handshake for a header
 * that never comes), 0 nothing yet, -1 something else. */
int zoid__shm_greets(int fd, int timeout_ms);
int zoid__shm_lend_fd(int fd, int what, uint64_t tag);
int zoid__shm_take_fd(int fd, uint64_t tag);

#endif
