/* flowline/netin.h: the sockets of network inputs (input.ipfix, input.sflow
 * and the later ones). A plugin names its endpoints and gets messages: the
 * layer owns the sockets, reads datagrams in bursts (recvmmsg), frames TCP
 * streams with the plugin's length function, stamps every message with its
 * sender and receive time, sends wall-clock watermarks, stops on
 * fl_stopping() and counts what it reads and loses. No plugin opens its own
 * socket.
 *
 * Stage counters it keeps: datagrams, bytes_received, kernel_drops (read
 * with SO_RXQ_OVFL: datagrams the socket buffer had no room for),
 * tcp_sessions, tcp_broken (a stream whose framing failed, or that ended
 * inside a message; closed), msg_too_large. */
#ifndef FLOWLINE_NETIN_H
#define FLOWLINE_NETIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <flowline/record.h>

#ifdef __cplusplus
extern "C" {
#endif

enum fl_net_proto { FL_NET_UDP, FL_NET_TCP };

/* One place to listen: "udp://[::]:4739", "tcp://0.0.0.0:4739",
 * "udp://239.1.1.1:2055" (a multicast group: joined), "udp://127.0.0.1"
 * (the default port). Numeric addresses only: a collector binds to an
 * address, it does not resolve one. */
struct fl_endpoint {
    enum fl_net_proto proto;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    bool multicast;
    char text[96];              /* as written, for messages */
};

/* Parse s into *ep; on error, a reason in err and -FL_EINVAL. */
FL_API int fl_endpoint_parse(const char *s, uint16_t default_port, struct fl_endpoint *ep,
                             char *err, size_t errlen);

/* One message: a datagram, or one framed message of a TCP stream. */
struct fl_net_msg {
    const uint8_t *data;
    size_t len;
    struct fl_addr from;        /* sender (IPv4 as IPv4-mapped) */
    uint16_t from_port;
    uint64_t ts_ns;             /* receive time (kernel stamp when there is one) */
    uint32_t session;           /* TCP: the connection, unique per run; UDP: 0 */
    uint32_t endpoint;          /* index in the endpoint list */
};

struct fl_netin_opts {
    uint64_t rcvbuf;            /* SO_RCVBUF asked for; 0 = the system's default */
    uint32_t burst;             /* datagrams per recvmmsg; 0 = 64 */
    uint32_t max_msg;           /* largest message accepted; 0 = 65535 */
    /* TCP: the length of the message at p, given n >= frame_hdr bytes of
     * it: > 0 its length (header included), <= 0 the stream is broken. */
    uint32_t frame_hdr;
    long (*frame_len)(const uint8_t *p, size_t n);
    /* A message; a negative return stops the loop with that code. */
    int (*on_msg)(void *user, const struct fl_net_msg *m);
    /* After each burst and at least every tick_ms (0 = 100): flush what is
     * pending. Negative stops the loop. May be NULL. */
    int (*on_tick)(void *user, uint64_t now_ns);
    /* A TCP session ended (its templates can go). May be NULL. */
    void (*on_close)(void *user, uint32_t session);
    uint32_t tick_ms;
    void *user;
    FL_GROWN_TAIL
};

struct fl_netin;
struct fl_ctx;

/* Open the sockets of n endpoints for the stage of ctx (SO_REUSEPORT when
 * the stage runs several workers, so the kernel spreads exporters over
 * them). Logs and returns a negative code when one cannot be opened. */
FL_API int fl_netin_open(struct fl_ctx *ctx, const struct fl_endpoint *eps, size_t n,
                         const struct fl_netin_opts *o, size_t opts_size,
                         struct fl_netin **out);
/* The port endpoint i is bound to (useful after asking for port 0). */
FL_API uint16_t fl_netin_port(const struct fl_netin *in, size_t i);
/* Read until fl_stopping() or an on_msg/on_tick error. 0 when stopped. */
FL_API int fl_netin_run(struct fl_netin *in);
FL_API void fl_netin_close(struct fl_netin **in);

#ifdef __cplusplus
}
#endif
#endif
