/*
 * Socket plumbing of the raw baselines: parsing the two address forms, listen/accept/connect,
 * and whole-buffer reads and writes on blocking sockets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "raw_sock.h"

int raw_addr_parse(const char *s, struct raw_addr *a)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->text, sizeof(a->text), "%s", s);
    if (!strncmp(s, "unix:", 5)) {
        struct sockaddr_un *sun = (struct sockaddr_un *)a->sa;
        if (!s[5] || strlen(s + 5) >= sizeof(sun->sun_path)) {
            fprintf(stderr, "'%s': a unix socket path of 1 to %zu bytes\n", s,
                    sizeof(sun->sun_path) - 1);
            return -1;
        }
        sun->sun_family = AF_UNIX;
        strcpy(sun->sun_path, s + 5);
        a->family = AF_UNIX;
        a->salen = sizeof(*sun);
        return 0;
    }
    char host[64];
    unsigned port;
    struct sockaddr_in *in = (struct sockaddr_in *)a->sa;
    if (strncmp(s, "tcp:", 4) || sscanf(s + 4, "%63[0-9.]:%u", host, &port) != 2 || port > 65535 ||
        inet_pton(AF_INET, host, &in->sin_addr) != 1) {
        fprintf(stderr, "'%s': expected unix:PATH or tcp:A.B.C.D:PORT\n", s);
        return -1;
    }
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    a->family = AF_INET;
    a->salen = sizeof(*in);
    return 0;
}

const char *raw_transport(const struct raw_addr *a)
{
    return a->family == AF_UNIX ? "unix" : "tcp";
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int raw_listen(struct raw_addr *a)
{
    int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        raw_die("socket");
    int one = 1;
    if (a->family == AF_UNIX)
        unlink(((struct sockaddr_un *)a->sa)->sun_path);
    else
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* room for 64 producers that connect before the first accept (bench_zoid_stream) */
    if (bind(fd, (struct sockaddr *)a->sa, a->salen) || listen(fd, 128))
        raw_die(a->text);
    if (a->family == AF_INET) {
        socklen_t len = a->salen;
        getsockname(fd, (struct sockaddr *)a->sa, &len);
        struct sockaddr_in *in = (struct sockaddr_in *)a->sa;
        char host[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(a->text, sizeof(a->text), "tcp:%s:%u", host, ntohs(in->sin_port));
    }
    return fd;
}

int raw_accept(int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        raw_die("accept");
    nodelay(fd); /* refused on a unix socket, which has no Nagle to turn off */
    return fd;
}

int raw_connect(const struct raw_addr *a)
{
    int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)a->sa, a->salen))
        raw_die(a->text);
    if (a->family == AF_INET)
        nodelay(fd);
    return fd;
}

int raw_read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int raw_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

uint64_t raw_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void raw_die(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(errno));
    exit(1);
}
