/* cql_conn.c: one TCP connection to a CQL node: connect with a time
 * limit, send frames, receive whole response frames. Framing only: what
 * the frames mean is the session's business (cassandra_session.c). Every
 * wait is bounded by the caller's deadline; a closed or failed socket
 * closes the connection and returns -FL_EIO with the reason in err. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "cql_conn.h"

uint64_t cql_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int ms_left(uint64_t deadline)
{
    uint64_t now = cql_mono_ns();
    if (now >= deadline)
        return 0;
    uint64_t ms = (deadline - now + 999999) / 1000000;
    return ms > 60000 ? 60000 : (int)ms;
}

void cql_conn_close(struct cql_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->in_len = c->in_off = 0;
    c->out.len = 0;
    c->out_off = 0;
}

void cql_conn_free(struct cql_conn *c)
{
    cql_conn_close(c);
    free(c->in);
    c->in = NULL;
    c->in_cap = 0;
    cql_wr_free(&c->out);
}

/* "host:port", "[v6]:port", or "host" (port 9042). */
int cql_hostport_split(const char *hp, char *host, size_t hlen, char *port, size_t plen)
{
    const char *colon;
    size_t n;
    if (hp[0] == '[') {
        const char *e = strchr(hp, ']');
        if (!e || (e[1] && e[1] != ':'))
            return -FL_EINVAL;
        n = (size_t)(e - hp - 1);
        colon = e[1] ? e + 1 : NULL;
        hp++;
    } else {
        colon = strrchr(hp, ':');
        if (colon && strchr(hp, ':') != colon)
            return -FL_EINVAL;   /* a bare IPv6 address: needs [ ] */
        n = colon ? (size_t)(colon - hp) : strlen(hp);
    }
    if (n == 0 || n >= hlen)
        return -FL_EINVAL;
    memcpy(host, hp, n);
    host[n] = 0;
    const char *p = colon ? colon + 1 : "9042";
    char *end;
    long v = strtol(p, &end, 10);
    if (!*p || *end || v < 1 || v > 65535 || strlen(p) >= plen)
        return -FL_EINVAL;
    snprintf(port, plen, "%ld", v);
    return 0;
}

int cql_conn_open(struct cql_conn *c, const char *hostport, uint64_t timeout_ns)
{
    char host[256], port[8];
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    uint64_t deadline = cql_mono_ns() + timeout_ns;
    int rc, fd = -1;

    cql_conn_close(c);
    c->err[0] = 0;
    if (cql_hostport_split(hostport, host, sizeof host, port, sizeof port) < 0) {
        snprintf(c->err, sizeof c->err, "bad host \"%s\"", hostport);
        return -FL_EINVAL;
    }
    if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
        snprintf(c->err, sizeof c->err, "%s: %s", hostport, gai_strerror(rc));
        return -FL_EIO;
    }
    rc = -FL_EIO;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            goto connected;
        if (errno == EINPROGRESS) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            int n, soerr = 0;
            socklen_t sl = sizeof soerr;
            while ((n = poll(&pfd, 1, ms_left(deadline))) < 0 && errno == EINTR)
                ;
            if (n == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                goto connected;
            snprintf(c->err, sizeof c->err, "connect to %s: %s", hostport,
                     n == 0 ? "timed out" : strerror(soerr ? soerr : errno));
        } else {
            snprintf(c->err, sizeof c->err, "connect to %s: %s", hostport, strerror(errno));
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return rc;
connected:
    freeaddrinfo(ai);
    {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c->fd = fd;
    return 0;
}

static int fail(struct cql_conn *c, const char *what, int e)
{
    snprintf(c->err, sizeof c->err, "%s: %s", what, e ? strerror(e) : "connection closed by the server");
    cql_conn_close(c);
    return -FL_EIO;
}

/* Write what is pending without waiting; 0 (maybe some left) or -FL_EIO. */
static int push(struct cql_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return fail(c, "send", errno);
        }
        c->out_off += (size_t)n;
    }
    c->out.len = c->out_off = 0;
    return 0;
}

/* A whole frame at in[in_off..]? Then *h and 1; 0 if more is needed;
 * -FL_EPROTO for a bad header. */
static int have_frame(struct cql_conn *c, struct cql_hdr *h)
{
    if (!c->in)
        return 0;   /* nothing received yet */
    int rc = cql_hdr_decode(c->in + c->in_off, c->in_len - c->in_off, h);
    if (rc == -FL_EAGAIN)
        return 0;
    if (rc < 0)
        return rc;
    return c->in_len - c->in_off >= CQL_HDR_LEN + (size_t)h->length;
}

int cql_conn_next(struct cql_conn *c, uint64_t deadline, struct cql_resp *r)
{
    struct cql_hdr h;
    int rc;
    if (c->fd < 0) {
        snprintf(c->err, sizeof c->err, "not connected");
        return -FL_EIO;
    }
    for (;;) {
        if ((rc = have_frame(c, &h)) < 0) {
            snprintf(c->err, sizeof c->err, "malformed frame header (version 0x%02x, length %u)",
                     c->in[c->in_off], h.length);
            cql_conn_close(c);
            return -FL_EPROTO;
        }
        if (rc == 1)
            break;
        if ((rc = push(c)) < 0)
            return rc;
        /* the frames before in_off are done with (their slices were the
         * previous call's): move the partial one to the front, once per
         * read rather than once per frame */
        if (c->in_off) {
            memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
            c->in_len -= c->in_off;
            c->in_off = 0;
        }
        /* read first, poll only when nothing is there: with many requests
         * in flight the answers are usually waiting, and a poll per read
         * would double the system calls */
        size_t want = c->in_len + 65536;
        if (c->in_cap < want) {
            uint8_t *p = realloc(c->in, want);
            if (!p)
                return -FL_ENOMEM;
            c->in = p;
            c->in_cap = want;
        }
        ssize_t got = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (got > 0) {
            c->in_len += (size_t)got;
            continue;
        }
        if (got == 0)
            return fail(c, "receive", 0);
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return fail(c, "receive", errno);
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN | (c->out.len ? POLLOUT : 0) };
        int n = poll(&pfd, 1, ms_left(deadline));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(c, "poll", errno);
        if (n == 0)
            return -FL_EAGAIN;
    }
    rc = cql_resp_decode(&h, c->in + c->in_off + CQL_HDR_LEN, c->bind_cols, c->result_cols, r);
    c->in_off += CQL_HDR_LEN + h.length;
    if (rc < 0) {
        snprintf(c->err, sizeof c->err, "malformed response (opcode 0x%02x, %u bytes)%s",
                 h.opcode, h.length, rc == -FL_ERANGE ? ": too many columns" : "");
        cql_conn_close(c);
        return -FL_EPROTO;
    }
    return 0;
}

int cql_conn_flush(struct cql_conn *c, uint64_t deadline)
{
    while (c->fd >= 0 && c->out.len) {
        int rc = push(c);
        if (rc < 0)
            return rc;
        if (!c->out.len)
            break;
        struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
        int n = poll(&pfd, 1, ms_left(deadline));
        if (n == 0)
            return -FL_EAGAIN;
        if (n < 0 && errno != EINTR)
            return fail(c, "poll", errno);
    }
    if (c->out.err) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return c->out.err;
    }
    return c->fd >= 0 ? 0 : -FL_EIO;
}

int cql_conn_send_some(struct cql_conn *c)
{
    if (c->fd < 0)
        return -FL_EIO;
    return push(c);
}
