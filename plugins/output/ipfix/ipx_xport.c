/* ipx_xport.c: where IPFIX messages go: a connected UDP socket (one
 * datagram per message), a TCP connection (a stream of messages, RFC 7011
 * §10.4) or a file of concatenated messages (RFC 5655). Blocking sockets:
 * an output stage has nothing else to do while it sends; a TCP send that
 * makes no progress for 30 s counts as a broken connection, so a collector
 * that stops reading cannot hang the pipeline. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ipx.h"

#define IPX_SEND_TIMEOUT_S 30

int ipx_xport_parse(struct ipx_xport *x, const char *target)
{
    const char *rest, *colon, *hend;
    if (!strncmp(target, "udp://", 6))
        x->kind = IPX_UDP;
    else if (!strncmp(target, "tcp://", 6))
        x->kind = IPX_TCP;
    else
        return -FL_EINVAL;
    rest = target + 6;
    if (rest[0] == '[') {
        if (!(hend = strchr(rest, ']')) || hend[1] != ':')
            return -FL_EINVAL;
        colon = hend + 1;
        rest++;
    } else {
        if (!(colon = strrchr(rest, ':')))
            return -FL_EINVAL;
        hend = colon;
    }
    if (hend == rest || !colon[1])
        return -FL_EINVAL;
    free(x->host);
    free(x->port);
    free(x->what);
    x->host = strndup(rest, (size_t)(hend - rest));
    x->port = strdup(colon + 1);
    x->what = strdup(target);
    x->fd = -1;
    return x->host && x->port && x->what ? 0 : -FL_ENOMEM;
}

/* A TCP connect that gives up after timeout_ms. */
static int connect_timed(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    if (connect(fd, sa, len) < 0) {
        if (errno != EINPROGRESS)
            return -1;
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        int n;
        do
            n = poll(&pfd, 1, timeout_ms);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        int err = 0;
        socklen_t el = sizeof err;
        if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
            return -1;
        if (err) {
            errno = err;
            return -1;
        }
    }
    return fcntl(fd, F_SETFL, fl);
}

static int open_socket(struct ipx_xport *x)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC,
                              .ai_socktype = x->kind == IPX_UDP ? SOCK_DGRAM : SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG }, *res = NULL;
    int rc = getaddrinfo(x->host, x->port, &hints, &res);
    x->gai_rc = rc == EAI_SYSTEM ? 0 : rc;
    if (rc != 0) {
        if (rc != EAI_SYSTEM)
            errno = EHOSTUNREACH;
        return -FL_EIO;
    }
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int ok = x->kind == IPX_UDP ? connect(fd, ai->ai_addr, ai->ai_addrlen)
                                    : connect_timed(fd, ai->ai_addr, ai->ai_addrlen,
                                                    (int)(x->connect_timeout_ns / 1000000u));
        if (ok == 0 && x->kind == IPX_TCP) {
            struct timeval tv = { .tv_sec = IPX_SEND_TIMEOUT_S };
            ok = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
        if (ok == 0) {
            x->fd = fd;
            freeaddrinfo(res);
            return 0;
        }
        saved = errno;
        close(fd);
    }
    freeaddrinfo(res);
    errno = saved ? saved : EHOSTUNREACH;
    return -FL_EIO;
}

static int open_file(struct ipx_xport *x)
{
    static const int how[] = { O_EXCL, O_TRUNC, O_APPEND };
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | how[x->existing];
    struct stat st;
    /* A FIFO or a device (/dev/null): write to it, there is no file to keep. */
    if (stat(x->what, &st) == 0 && !S_ISREG(st.st_mode))
        flags = O_WRONLY | O_CLOEXEC;
    do
        x->fd = open(x->what, flags, 0666);
    while (x->fd < 0 && errno == EINTR);
    return x->fd < 0 ? -FL_EIO : 0;
}

int ipx_xport_open(struct ipx_xport *x)
{
    ipx_xport_close(x);
    x->gai_rc = 0;
    return x->kind == IPX_FILE ? open_file(x) : open_socket(x);
}

int ipx_xport_send(struct ipx_xport *x, const uint8_t *p, size_t n, bool *refused)
{
    if (x->fd < 0) {
        errno = ENOTCONN;
        return -FL_EIO;
    }
    if (x->kind == IPX_UDP) {
        bool retried = false;
        for (;;) {
            ssize_t w = send(x->fd, p, n, MSG_NOSIGNAL);
            if (w >= 0)
                return 0;
            if (errno == EINTR)
                continue;
            /* The refusal is an ICMP error about an earlier datagram,
             * reported (and cleared) on this call: this one is not sent. */
            if (errno == ECONNREFUSED && !retried) {
                retried = true;
                *refused = true;
                continue;
            }
            return -FL_EIO;
        }
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = x->kind == IPX_TCP ? send(x->fd, p + done, n - done, MSG_NOSIGNAL)
                                       : write(x->fd, p + done, n - done);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w == 0)
            errno = EIO;
        if (x->kind == IPX_TCP) {
            int saved = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
            ipx_xport_close(x);
            errno = saved;
        }
        return -FL_EIO;
    }
    return 0;
}

const char *ipx_xport_strerror(const struct ipx_xport *x, int err)
{
    return x->gai_rc ? gai_strerror(x->gai_rc) : strerror(err);
}

void ipx_xport_close(struct ipx_xport *x)
{
    if (x->fd >= 0) {
        int saved = errno;
        close(x->fd);
        errno = saved;
    }
    x->fd = -1;
}

void ipx_xport_free(struct ipx_xport *x)
{
    ipx_xport_close(x);
    free(x->host);
    free(x->port);
    free(x->what);
    x->host = x->port = x->what = NULL;
}
