/*
 * Replies straight from a file (zoid_reply_file): a plugin's reply carries bytes of a file
 * without the daemon copying them through its memory. They are spliced from the file into a
 * pipe of the calling thread (references to the file's pages), and from there into the client's
 * socket when the reply goes (transport sendv_pipe), so that a forwarded read costs the client's
 * one copy out of the socket instead of three. Socket transports only: on shm the client's file
 * bytes already travel through lent descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "zoid/core/daemon.h"

/* The most one reply takes from a file: the pipe's size (the default limit of pipe-max-size);
 * the caller reads the rest itself. */
#define REPLY_FILE_MAX (1u << 20)

struct tpipe {
    int rd, wr;
    size_t cap;
};

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void tpipe_free(void *v)
{
    struct tpipe *tp = v;
    close(tp->rd);
    close(tp->wr);
    free(tp);
}

static void key_make(void)
{
    if (pthread_key_create(&key, tpipe_free))
        abort(); /* only when the process has no keys left: nothing here can go on */
}

static struct tpipe *tpipe_get(bool make)
{
    pthread_once(&once, key_make);
    struct tpipe *tp = pthread_getspecific(key);
    if (tp || !make)
        return tp;
    int fds[2];
    errno = 0;
    tp = malloc(sizeof(*tp));
    if (!tp)
        return NULL;
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK)) {
        free(tp);
        return NULL;
    }
    (void)fcntl(fds[1], F_SETPIPE_SZ, (int)REPLY_FILE_MAX); /* else the size it has */
    int cap = fcntl(fds[1], F_GETPIPE_SZ);
    *tp = (struct tpipe){fds[0], fds[1], cap > 0 ? (size_t)cap : 4096};
    if (pthread_setspecific(key, tp)) {
        tpipe_free(tp);
        return NULL;
    }
    return tp;
}

int zoid__thread_pipe(int *rd, int *wr, size_t *cap)
{
    struct tpipe *tp = tpipe_get(true);
    if (!tp)
        return errno ? -errno : -ENOMEM;
    *rd = tp->rd;
    *wr = tp->wr;
    *cap = tp->cap;
    return 0;
}

int zoid__reply_pipe(void)
{
    struct tpipe *tp = tpipe_get(false);
    return tp ? tp->rd : -1;
}

void zoid__reply_pipe_reset(void)
{
    struct tpipe *tp = tpipe_get(false);
    if (tp) {
        pthread_setspecific(key, NULL);
        tpipe_free(tp);
    }
}

int zoid__reply_iov_of(const struct zoid_call *c, size_t at, size_t n)
{
    for (int i = 0; i < c->niov; i++) /* no at + n: a huge n must not wrap round */
        if (c->buf_off[i] != SIZE_MAX && c->buf_off[i] <= at &&
            n <= c->buf_off[i] + c->iov[i].iov_len - at && at <= c->buf_off[i] + c->iov[i].iov_len)
            return i;
    return -1;
}

ssize_t zoid_reply_file(struct zoid_call *call, void *region, int fd, int64_t off, size_t n)
{
    if (!call || !region || fd < 0)
        return -EINVAL;
    if (!call->peer || !call->peer->t->sendv_pipe)
        return -EOPNOTSUPP;
    if (call->file_len)
        return -EBUSY;
    const unsigned char *r = region;
    if (!call->buf || r < call->buf || (size_t)(r - call->buf) > call->buf_len ||
        zoid__reply_iov_of(call, (size_t)(r - call->buf), n) < 0)
        return -EINVAL; /* not bytes this call reserved */
    struct tpipe *tp = tpipe_get(true);
    if (!tp) /* never 0: that would read as the end of the file */
        return errno ? -errno : -ENOMEM;
    size_t want = n < tp->cap ? n : tp->cap, got = 0;
    loff_t pos = off;
    while (got < want) {
        ssize_t k = splice(fd, off < 0 ? NULL : &pos, tp->wr, NULL, want - got, SPLICE_F_NONBLOCK);
        if (k > 0)
            got += (size_t)k;
        else if (k == 0 || (k < 0 && errno != EINTR && got))
            break; /* the end of the file, or the pipe is full; a later error: the caller's */
        else if (errno != EINTR)
            return -errno;
    }
    call->file_at = (size_t)(r - call->buf);
    call->file_len = got;
    return (ssize_t)got;
}
