/*
 * The sender of one call on a unix socket (cred.c): the kernel's SCM_CREDENTIALS of the
 * message, and the identity a call runs with.
 */
#ifndef ZOID_CORE_CRED_H
#define ZOID_CORE_CRED_H

#include <stdbool.h>
#include <stdint.h>

#include "zepto/zoid_plugin.h"

struct zoid_cred {
    bool valid; /* the message carried credentials */
    int32_t pid;
    uint32_t uid, gid;
};

/* The credentials a received message m carries (valid false when none, or cut short). */
struct msghdr;
struct zoid_cred zoid_cred_of(const struct msghdr *m);
/* Whether two messages' credentials are the same sender's. */
bool zoid_cred_same(const struct zoid_cred *a, const struct zoid_cred *b);

/* The identity of a call sent with credentials c on connection conn: 0, or -EACCES when it
 * cannot be told reliably (no credentials, groups unreadable, the process gone). */
int zoid_cred_identity(const struct zoid_identity *conn, const struct zoid_cred *c,
                       struct zoid_identity *out);

#endif
