/* fl_collect.h: what collector inputs share (input.ipfix, input.sflow):
 * their sources, sockets (`listen:`) or files (`path:`), checked and
 * parsed; and the UDP datagrams of a capture file (pcap or pcapng, read
 * with libpcap), to replay what exporters and agents sent. A static
 * library, not part of libflowline's ABI. */
#ifndef FL_COLLECT_H
#define FL_COLLECT_H

#include <stdbool.h>
#include <stdint.h>
#include <flowline/netin.h>
#include <flowline/opts.h>
#include <flowline/plugin.h>

/* A collector's sources: the `listen` and `path` options, the endpoint
 * used when neither is given, the default port, and whether TCP is
 * accepted. */
struct fl_sources {
    const struct fl_strlist *listen, *paths;
    const char *dflt;           /* "udp://[::]:4739" */
    uint16_t port;
    bool udp_only;
};

/* In describe(): listen and path not both; workers: N only with listen
 * (N readers of one file would read it N times); every endpoint parses;
 * every file exists and is declared as read (standard input is refused). */
int fl_sources_check(struct fl_ctx *ctx, const struct fl_sources *s);
/* In init(), without path: the endpoints (listen, or the default one);
 * *eps is the caller's to free. */
int fl_sources_endpoints(struct fl_ctx *ctx, const struct fl_sources *s,
                         struct fl_endpoint **eps, size_t *n);

/* The UDP payload of a captured frame of link type dlt (a DLT_ value:
 * Ethernet with VLAN tags, Linux cooked v1/v2, loopback, raw IP) and its
 * IP source. false when the frame is not UDP over IPv4/IPv6, or is an IP
 * fragment (*frag set: a fragment cannot be framed alone). */
bool fl_udp_payload(int dlt, const uint8_t *f, uint32_t cap, struct fl_addr *src,
                    const uint8_t **pl, uint32_t *pl_len, bool *frag);

/* One datagram: its payload, sender and capture time; < 0 stops the read. */
typedef int (*fl_udpcap_fn)(void *user, const uint8_t *p, uint32_t len,
                            const struct fl_addr *src, uint64_t ts_ns);

/* Every UDP payload of the capture at path for which want(p, len) is true
 * goes to fn, to any port. Counted on ctx: udp_fragments, udp_other (a
 * payload want refused), bad_record (a damaged capture: what came before
 * is kept). Logs and returns a negative code when the file cannot be
 * opened, or fn's negative code. */
int fl_udpcap_read(struct fl_ctx *ctx, const char *path,
                   bool (*want)(const uint8_t *p, uint32_t len), fl_udpcap_fn fn, void *user);

#endif
