/* netin.c: the sockets of network inputs (flowline/netin.h).
 *
 * One poll loop over every endpoint's socket (and, for TCP, every accepted
 * connection). UDP sockets are read in bursts with recvmmsg: one system
 * call for up to `burst` datagrams, each with its kernel receive stamp
 * (SO_TIMESTAMPNS) and the socket's drop count (SO_RXQ_OVFL), so a loaded
 * collector spends its time decoding, and what the kernel dropped is
 * counted rather than guessed. TCP streams are buffered per connection
 * and cut into messages by the plugin's length function. The loop wakes at
 * least every tick to send a wall-clock watermark and let the plugin flush,
 * and ends when the pipeline stops. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <flowline/log.h>
#include <flowline/netin.h>
#include <flowline/plugin.h>

#define NETIN_DEFAULT_BURST 64u
#define NETIN_MAX_BURST 1024u
#define NETIN_MAX_CONNS 256u        /* TCP exporters at once; more are refused */
#define NETIN_CMSG 64               /* room for a timespec and a drop count */

struct netin_conn {
    int fd;
    uint32_t session, endpoint;
    struct fl_addr from;
    uint16_t from_port;
    uint8_t *buf;               /* bytes of the message being assembled */
    size_t have;
};

struct fl_netin {
    struct fl_ctx *ctx;
    struct fl_netin_opts o;
    size_t n_ep;
    int *fds;                   /* one per endpoint (UDP socket or TCP listener) */
    enum fl_net_proto *proto;
    uint16_t *ports;
    uint32_t *drops_seen;       /* SO_RXQ_OVFL's last value per endpoint */
    struct netin_conn conns[NETIN_MAX_CONNS];
    size_t n_conns;
    uint32_t next_session;
    /* recvmmsg buffers: burst datagrams of max_msg bytes */
    uint8_t *bufs;
    struct mmsghdr *hdrs;
    struct iovec *iov;
    struct sockaddr_storage *from;
    uint8_t (*cmsg)[NETIN_CMSG];
    struct pollfd *pfd;
};

/* ---- endpoints ---------------------------------------------------------- */

int fl_endpoint_parse(const char *s, uint16_t default_port, struct fl_endpoint *ep,
                      char *err, size_t errlen)
{
    char host[64];
    const char *rest, *end;
    unsigned long port = default_port;

    memset(ep, 0, sizeof *ep);
    snprintf(ep->text, sizeof ep->text, "%s", s);
    if (strncmp(s, "udp://", 6) == 0) {
        ep->proto = FL_NET_UDP;
    } else if (strncmp(s, "tcp://", 6) == 0) {
        ep->proto = FL_NET_TCP;
    } else {
        snprintf(err, errlen, "\"%s\": an endpoint is udp://ADDRESS[:PORT] or "
                 "tcp://ADDRESS[:PORT] (IPv6 in brackets: udp://[::]:4739)", s);
        return -FL_EINVAL;
    }
    rest = s + 6;
    if (*rest == '[') {
        end = strchr(rest, ']');
        if (!end || (end[1] && end[1] != ':'))
            goto bad;
        rest++;
    } else {
        end = strchr(rest, ':');
        if (!end)
            end = rest + strlen(rest);
    }
    if ((size_t)(end - rest) >= sizeof host || end == rest)
        goto bad;
    memcpy(host, rest, (size_t)(end - rest));
    host[end - rest] = 0;
    if (*end == ']')
        end++;
    if (*end == ':') {
        char *e;
        errno = 0;
        port = strtoul(end + 1, &e, 10);
        if (errno || *e || e == end + 1 || port > 65535)
            goto bad;
    } else if (*end) {
        goto bad;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ep->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ep->addr;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        ep->addr_len = sizeof *a4;
        ep->multicast = IN_MULTICAST(ntohl(a4->sin_addr.s_addr));
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        ep->addr_len = sizeof *a6;
        ep->multicast = IN6_IS_ADDR_MULTICAST(&a6->sin6_addr);
    } else {
        snprintf(err, errlen, "\"%s\": \"%s\" is not a numeric IPv4 or IPv6 address", s, host);
        return -FL_EINVAL;
    }
    if (ep->multicast && ep->proto == FL_NET_TCP) {
        snprintf(err, errlen, "\"%s\": TCP cannot listen on a multicast group", s);
        return -FL_EINVAL;
    }
    return 0;
bad:
    snprintf(err, errlen, "\"%s\": expected udp://ADDRESS[:PORT] or tcp://ADDRESS[:PORT] "
             "with a port from 0 to 65535 (IPv6 in brackets: udp://[::]:4739)", s);
    return -FL_EINVAL;
}

/* A socket address as a flowline address cell and port. */
static void netin_sockaddr(const struct sockaddr_storage *ss, struct fl_addr *a, uint16_t *port)
{
    memset(a, 0, sizeof *a);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        a->b[10] = a->b[11] = 0xff;
        memcpy(a->b + 12, &s4->sin_addr, 4);
        *port = ntohs(s4->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        memcpy(a->b, &s6->sin6_addr, 16);
        *port = ntohs(s6->sin6_port);
    } else {
        *port = 0;
    }
}

/* ---- opening ------------------------------------------------------------ */

static int netin_join(struct fl_ctx *ctx, int fd, const struct fl_endpoint *ep)
{
    int rc;
    if (ep->addr.ss_family == AF_INET) {
        struct ip_mreqn m = { 0 };
        m.imr_multiaddr = ((const struct sockaddr_in *)&ep->addr)->sin_addr;
        rc = setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
    } else {
        struct ipv6_mreq m = { 0 };
        m.ipv6mr_multiaddr = ((const struct sockaddr_in6 *)&ep->addr)->sin6_addr;
        rc = setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m);
    }
    if (rc < 0) {
        FL_LOG_ERROR(ctx, "%s: cannot join the multicast group: %s", ep->text, strerror(errno));
        return -FL_EIO;
    }
    return 0;
}

static int netin_socket(struct fl_netin *in, const struct fl_endpoint *ep, int *out)
{
    struct fl_ctx *ctx = in->ctx;
    int one = 1, zero = 0, fd;
    bool workers = fl_workers(ctx) > 1;

    fd = socket(ep->addr.ss_family, (ep->proto == FL_NET_UDP ? SOCK_DGRAM : SOCK_STREAM) |
                SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* Several workers share the port; the kernel spreads exporters over
     * them by their address. */
    if (workers && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        goto fail;
    /* [::] takes IPv4 exporters too (as IPv4-mapped senders). */
    if (ep->addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (ep->proto == FL_NET_UDP) {
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
        if (in->o.rcvbuf) {
            int want = in->o.rcvbuf > (1u << 30) ? 1 << 30 : (int)in->o.rcvbuf, got = 0;
            socklen_t gl = sizeof got;
            /* SO_RCVBUFFORCE passes net.core.rmem_max with CAP_NET_ADMIN. */
            if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
            getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
            /* Linux reports twice the usable size it granted. */
            if ((uint64_t)got / 2 < (uint64_t)want)
                FL_LOG_WARN(ctx, "%s: the kernel gave a receive buffer of %d bytes, not the %d "
                            "asked for (raise net.core.rmem_max, or run with CAP_NET_ADMIN)",
                            ep->text, got / 2, want);
        }
    }
    if (bind(fd, (const struct sockaddr *)&ep->addr, ep->addr_len) < 0)
        goto fail;
    if (ep->multicast && netin_join(ctx, fd, ep) < 0) {
        close(fd);
        return -FL_EIO;
    }
    if (ep->proto == FL_NET_TCP && listen(fd, 64) < 0)
        goto fail;
    *out = fd;
    return 0;
fail:
    FL_LOG_ERROR(ctx, "cannot listen on %s: %s", ep->text, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -FL_EIO;
}

int fl_netin_open(struct fl_ctx *ctx, const struct fl_endpoint *eps, size_t n,
                  const struct fl_netin_opts *opts, size_t opts_size, struct fl_netin **out)
{
    struct fl_netin *in;
    size_t burst;
    int rc = -FL_ENOMEM;

    *out = NULL;
    in = calloc(1, sizeof *in);
    if (!in)
        return -FL_ENOMEM;
    memcpy(&in->o, opts, opts_size < sizeof in->o ? opts_size : sizeof in->o);
    in->ctx = ctx;
    if (!in->o.burst)
        in->o.burst = NETIN_DEFAULT_BURST;
    if (in->o.burst > NETIN_MAX_BURST)
        in->o.burst = NETIN_MAX_BURST;
    if (!in->o.max_msg || in->o.max_msg > 65535)
        in->o.max_msg = 65535;
    if (!in->o.tick_ms)
        in->o.tick_ms = 100;
    burst = in->o.burst;
    in->fds = malloc(n * sizeof *in->fds);
    in->proto = calloc(n, sizeof *in->proto);
    in->ports = calloc(n, sizeof *in->ports);
    in->drops_seen = calloc(n, sizeof *in->drops_seen);
    in->bufs = malloc(burst * in->o.max_msg);
    in->hdrs = calloc(burst, sizeof *in->hdrs);
    in->iov = calloc(burst, sizeof *in->iov);
    in->from = calloc(burst, sizeof *in->from);
    in->cmsg = calloc(burst, sizeof *in->cmsg);
    in->pfd = calloc(n + NETIN_MAX_CONNS, sizeof *in->pfd);
    if (!in->fds || !in->proto || !in->ports || !in->drops_seen || !in->bufs || !in->hdrs ||
        !in->iov || !in->from || !in->cmsg || !in->pfd)
        goto fail;
    for (size_t i = 0; i < n; i++)
        in->fds[i] = -1;
    in->n_ep = n;
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        struct fl_addr a;
        if ((rc = netin_socket(in, &eps[i], &in->fds[i])) < 0)
            goto fail;
        in->proto[i] = eps[i].proto;
        if (eps[i].proto == FL_NET_TCP && !in->o.frame_len) {
            FL_LOG_ERROR(ctx, "%s: this input does not take TCP", eps[i].text);
            rc = -FL_EINVAL;
            goto fail;
        }
        if (getsockname(in->fds[i], (struct sockaddr *)&ss, &sl) == 0)
            netin_sockaddr(&ss, &a, &in->ports[i]);
    }
    *out = in;
    return 0;
fail:
    fl_netin_close(&in);
    return rc;
}

uint16_t fl_netin_port(const struct fl_netin *in, size_t i)
{
    return i < in->n_ep ? in->ports[i] : 0;
}

void fl_netin_close(struct fl_netin **inp)
{
    struct fl_netin *in = *inp;
    if (!in)
        return;
    for (size_t i = 0; in->fds && i < in->n_ep; i++)
        if (in->fds[i] >= 0)
            close(in->fds[i]);
    for (size_t i = 0; i < in->n_conns; i++) {
        close(in->conns[i].fd);
        free(in->conns[i].buf);
    }
    free(in->fds);
    free(in->proto);
    free(in->ports);
    free(in->drops_seen);
    free(in->bufs);
    free(in->hdrs);
    free(in->iov);
    free(in->from);
    free(in->cmsg);
    free(in->pfd);
    free(in);
    *inp = NULL;
}

/* ---- reading ------------------------------------------------------------ */

/* One burst of datagrams from UDP endpoint e. */
static int netin_udp(struct fl_netin *in, size_t e)
{
    uint32_t burst = in->o.burst;
    uint64_t bytes = 0, now = fl_now_ns();
    int n, rc = 0;

    for (uint32_t i = 0; i < burst; i++) {
        in->iov[i] = (struct iovec){ in->bufs + (size_t)i * in->o.max_msg, in->o.max_msg };
        in->hdrs[i].msg_hdr = (struct msghdr){
            .msg_name = &in->from[i], .msg_namelen = sizeof in->from[i],
            .msg_iov = &in->iov[i], .msg_iovlen = 1,
            .msg_control = in->cmsg[i], .msg_controllen = NETIN_CMSG,
        };
    }
    n = recvmmsg(in->fds[e], in->hdrs, burst, MSG_DONTWAIT, NULL);
    if (n <= 0)
        return 0;   /* EAGAIN, or an ICMP error queued on the socket */
    for (int i = 0; i < n && rc >= 0; i++) {
        struct msghdr *h = &in->hdrs[i].msg_hdr;
        struct fl_net_msg m = { .data = in->iov[i].iov_base, .len = in->hdrs[i].msg_len,
                                .ts_ns = now, .endpoint = (uint32_t)e };
        for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
            if (c->cmsg_level != SOL_SOCKET)
                continue;
            if (c->cmsg_type == SO_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof ts);
                m.ts_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
            } else if (c->cmsg_type == SO_RXQ_OVFL) {
                uint32_t d;
                memcpy(&d, CMSG_DATA(c), sizeof d);
                if (d != in->drops_seen[e])     /* a counter since the socket opened */
                    fl_counter_add(in->ctx, "kernel_drops", d - in->drops_seen[e]);
                in->drops_seen[e] = d;
            }
        }
        if (h->msg_flags & MSG_TRUNC) {
            fl_counter_add(in->ctx, "msg_too_large", 1);
            continue;
        }
        netin_sockaddr(&in->from[i], &m.from, &m.from_port);
        bytes += m.len;
        rc = in->o.on_msg(in->o.user, &m);
    }
    fl_counter_add(in->ctx, "datagrams", (uint64_t)n);
    fl_counter_add(in->ctx, "bytes_received", bytes);
    return rc;
}

static void netin_conn_drop(struct fl_netin *in, size_t i, bool broken)
{
    struct netin_conn *c = &in->conns[i];
    if (broken)
        fl_counter_add(in->ctx, "tcp_broken", 1);
    if (in->o.on_close)
        in->o.on_close(in->o.user, c->session);
    close(c->fd);
    free(c->buf);
    in->conns[i] = in->conns[--in->n_conns];
}

static void netin_accept(struct fl_netin *in, size_t e)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(in->fds[e], (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct netin_conn *c;

    if (fd < 0)
        return;
    if (in->n_conns == NETIN_MAX_CONNS) {
        fl_counter_add(in->ctx, "tcp_refused", 1);
        close(fd);
        return;
    }
    c = &in->conns[in->n_conns];
    *c = (struct netin_conn){ .fd = fd, .session = ++in->next_session, .endpoint = (uint32_t)e };
    c->buf = malloc(in->o.max_msg);
    if (!c->buf) {
        close(fd);
        return;
    }
    netin_sockaddr(&ss, &c->from, &c->from_port);
    in->n_conns++;
    fl_counter_add(in->ctx, "tcp_sessions", 1);
}

/* Read what connection i has; hand over every complete message. Returns
 * < 0 for an on_msg error, 1 when the connection was closed. */
static int netin_tcp(struct fl_netin *in, size_t i)
{
    struct netin_conn *c = &in->conns[i];
    ssize_t got;
    int rc = 0;

    got = read(c->fd, c->buf + c->have, in->o.max_msg - c->have);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        netin_conn_drop(in, i, c->have > 0);   /* ended inside a message */
        return 1;
    }
    if (got < 0)
        return 0;
    c->have += (size_t)got;
    fl_counter_add(in->ctx, "bytes_received", (uint64_t)got);
    while (c->have >= in->o.frame_hdr && rc >= 0) {
        long len = in->o.frame_len(c->buf, c->have);
        if (len <= 0 || (unsigned long)len > in->o.max_msg) {
            netin_conn_drop(in, i, true);
            return 1;
        }
        if ((size_t)len > c->have)
            break;
        struct fl_net_msg m = { .data = c->buf, .len = (size_t)len, .from = c->from,
                                .from_port = c->from_port, .ts_ns = fl_now_ns(),
                                .session = c->session, .endpoint = c->endpoint };
        rc = in->o.on_msg(in->o.user, &m);
        memmove(c->buf, c->buf + len, c->have - (size_t)len);
        c->have -= (size_t)len;
    }
    return rc < 0 ? rc : 0;
}

int fl_netin_run(struct fl_netin *in)
{
    uint64_t next_tick = 0;
    int rc = 0;

    while (rc >= 0 && !fl_stopping(in->ctx)) {
        size_t np = 0, n_conns = in->n_conns;
        uint64_t now;
        int ready;

        for (size_t i = 0; i < in->n_ep; i++)
            in->pfd[np++] = (struct pollfd){ .fd = in->fds[i], .events = POLLIN };
        for (size_t i = 0; i < n_conns; i++)
            in->pfd[np++] = (struct pollfd){ .fd = in->conns[i].fd, .events = POLLIN };
        ready = poll(in->pfd, np, (int)in->o.tick_ms);
        for (size_t i = 0; ready > 0 && i < in->n_ep && rc >= 0; i++) {
            if (!(in->pfd[i].revents & (POLLIN | POLLERR)))
                continue;
            if (in->proto[i] == FL_NET_UDP)
                rc = netin_udp(in, i);
            else
                netin_accept(in, i);
        }
        /* Connections from the last to the first: a closed one is replaced
         * by the last of the array, which was already served. */
        for (size_t k = n_conns; ready > 0 && k-- > 0 && rc >= 0;)
            if (in->pfd[in->n_ep + k].revents & (POLLIN | POLLERR | POLLHUP))
                rc = netin_tcp(in, k);
        if (rc < 0)
            break;
        now = fl_now_ns();
        if (ready <= 0 || now >= next_tick) {
            if (in->o.on_tick && (rc = in->o.on_tick(in->o.user, now)) < 0)
                break;
            fl_watermark(in->ctx, now);
            next_tick = now + (uint64_t)in->o.tick_ms * 1000000u;
        }
    }
    return rc < 0 ? rc : 0;
}
