/* core/src/decode_int.h: what the packet decoder's files share (decode.c:
 * lifecycle, counters, fragment table; decode_pkt.c: the per-frame hot
 * path). Not exported: plugins see flowline/decode.h only. */
#ifndef FL_DECODE_INT_H
#define FL_DECODE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <flowline/decode.h>

#define DECODE_HIDDEN __attribute__((visibility("hidden")))

/* Internal results: 0 = a row is ready, DECODE_DROP(reason) otherwise. */
#define DECODE_DROP(r) ((int)(r) + 1)

/* What comes next in a frame, as decode_net (decode_pkt.c) takes it and
 * decode_link (decode_link.c) returns it: an ethertype, or one of the
 * pseudo types below 0x0600. */
#define DECODE_ET_IPV4 0x0800
#define DECODE_ET_IPV6 0x86DD
#define DECODE_ET_VLAN 0x8100
#define DECODE_ET_QINQ 0x88A8
#define DECODE_ET_QINQ_OLD1 0x9100   /* pre-802.1ad QinQ, still in the wild */
#define DECODE_ET_QINQ_OLD2 0x9200
#define DECODE_ET_MPLS 0x8847
#define DECODE_ET_MPLS_MC 0x8848
#define DECODE_ET_PPPOE 0x8864
#define DECODE_ET_FABRICPATH 0x8903 /* Cisco FabricPath: 2 bytes, then Ethernet */
#define DECODE_ET_PBB 0x88E7         /* 802.1ah I-tag, then a customer Ethernet header */
#define DECODE_ET_VNTAG 0x8926       /* Cisco VN-Tag: 4 bytes, then an ethertype */
#define DECODE_ET_ETAG 0x893F        /* 802.1BR E-Tag: 6 bytes, then an ethertype */
#define DECODE_ET_MACSEC 0x88E5      /* 802.1AE SecTAG */
#define DECODE_ET_TEB 0x6558        /* an Ethernet header follows (GRE's TEB) */
#define DECODE_ET_ERSPAN2 0x88BE
#define DECODE_ET_PPP 0x880B        /* a PPP frame follows (PPTP's GRE type) */
/* Not on the wire: "an IP header, version by its first nibble" (raw IP
 * link types). Types below 0x0600 read from a frame become DECODE_ET_BAD,
 * so neither can be forged. */
#define DECODE_ET_RAW 0x05FE
#define DECODE_ET_BAD 0x05FF

/* The link types outside fl_decode's own switch (Ethernet, SLL, loopback,
 * raw IP, PPP): 802.11 and its radio headers, NFLOG, FDDI, Cisco HDLC, ...
 * (decode_link.c). What the frame's link header says comes next. */
struct decode_link {
    const uint8_t *q;   /* where it starts */
    const uint8_t *end; /* where it ends when before caplen (NFLOG), else NULL */
    uint16_t et;        /* what it is (as decode_net takes it) */
    uint8_t trail;      /* bytes at the end of the wire frame that are not
                         * payload (an 802.11 FCS a radio header announces) */
    int linktype;       /* DECODE_LINK_INNER: the frame at q is of this type */
};
#define DECODE_LINK_INNER (-1)

/* 0 with et, q and trail set; DECODE_LINK_INNER when the header (PPI,
 * PKTAP) wraps a whole frame of another link type (never PPI or PKTAP),
 * which fl_decode decodes as such; DECODE_DROP(reason) otherwise (an unknown link
 * type is FL_DROP_LINKTYPE). Reads only frame[0, caplen). cut: the capture
 * is shorter than the frame on the wire (what ends early is truncated). */
DECODE_HIDDEN int decode_link(int linktype, const uint8_t *frame, uint32_t caplen, bool cut,
                              struct decode_link *out);

/* Fragment table geometry: sets of DECODE_FRAG_WAYS slots; a new first
 * fragment replaces the oldest slot of its set, so the table never grows and
 * a stream of unfinished fragments only pushes out the stalest entries. */
#define DECODE_FRAG_WAYS 4u
#define DECODE_FRAG_DEFAULT 4096u
#define DECODE_FRAG_MAX (1u << 24)

/* One first fragment's flow identity, keyed by (src, dst, kproto, id).
 * kproto is the protocol as every fragment of the datagram states it (IPv4:
 * the protocol field; IPv6: the fragment header's next header), proto the
 * upper-layer protocol the first fragment resolved to. */
struct decode_frag {
    struct fl_addr src, dst;
    uint64_t stamp;          /* insertion order; 0 = empty slot */
    uint32_t id;
    uint16_t sport, dport;
    uint8_t kproto, proto;
};

/* Tunnels: nesting bound (default, most) and the UDP ports one decoder
 * watches (kind, port pairs). */
#define DECODE_DECAP_DEFAULT 4u
#define DECODE_DECAP_MAX 16u
#define DECODE_MAX_PORTS 64u

struct fl_decoder {
    uint64_t drops[FL_DROP_COUNT];      /* totals since creation */
    uint64_t notes[FL_NOTE_COUNT];
    uint64_t drops_flushed[FL_DROP_COUNT];  /* totals at the last flush */
    uint64_t notes_flushed[FL_NOTE_COUNT];
    uint32_t decap_kinds;               /* bit per enum fl_tunnel_kind; 0 = decap off */
    uint32_t decap_depth;               /* tunnels nested at most */
    bool tunnel_cols;                   /* rows have tunnel, tunnel_id */
    struct decode_frag *frag;           /* nsets * DECODE_FRAG_WAYS slots */
    uint32_t frag_set_mask;             /* nsets - 1 (nsets a power of two) */
    uint64_t frag_stamp;
    uint64_t tunnels[FL_TUN_COUNT];     /* rows per tunnel kind */
    uint64_t tunnels_flushed[FL_TUN_COUNT];
    /* UDP ports with a tunnel: the pairs, and a bitmap over both (a UDP
     * packet touches the pairs only when one of its ports is in it). */
    uint32_t n_ports;
    struct fl_decap_port ports[DECODE_MAX_PORTS];
    uint64_t *port_bits;                /* 65536 bits, NULL when no UDP kind */
    /* The tunnel column's strings: each kind's name is put into a batch's
     * arena once and its span reused while the arena holds it there. */
    struct fl_span span[FL_TUN_COUNT];
};

static inline bool decode_port_watched(const struct fl_decoder *d, uint16_t port)
{
    return (d->port_bits[port >> 6] >> (port & 63)) & 1;
}

/* ---- Tunnel headers (decode_tunnel.c) ----------------------------------- */

/* What follows a tunnel header, beside ethertypes: an Ethernet frame (GRE's
 * transparent Ethernet bridging type) and "IP, version by its first nibble"
 * (decode_pkt.c's DECODE_ET_RAW, not an ethertype on any wire). */
#define DECODE_TUN_ET_ETH 0x6558
#define DECODE_TUN_ET_IP 0x05FE

enum { DECODE_TUN_OK, DECODE_TUN_NO, DECODE_TUN_FAIL };

/* A tunnel header read: the inner packet starts off bytes after it and is
 * named by et; it ends lim bytes after it when lim is non-zero (a length
 * the header states). id: VNI, TEID, session, key, when has_id. */
struct decode_tun {
    uint32_t off, lim, id;
    uint16_t et;
    uint8_t kind;               /* enum fl_tunnel_kind */
    bool has_id;
};

/* h: the tunnel header (GRE: the GRE header; UDP kinds: the UDP payload);
 * cap: bytes captured from h; len: UDP kinds: the payload's length on the
 * wire. DECODE_TUN_OK, DECODE_TUN_NO (not this tunnel, or a message without
 * a packet: the outer flow), DECODE_TUN_FAIL (this tunnel, but truncated or
 * malformed: the outer flow, counted). t->kind is set in every case (GRE:
 * FL_TUN_ERSPAN for ERSPAN's protocol types). */
DECODE_HIDDEN int decode_tun_gre(const uint8_t *h, uint32_t cap, struct decode_tun *t);
DECODE_HIDDEN int decode_tun_vxlan(const uint8_t *h, uint32_t cap, uint32_t len,
                                   struct decode_tun *t);
DECODE_HIDDEN int decode_tun_geneve(const uint8_t *h, uint32_t cap, uint32_t len,
                                    struct decode_tun *t);
DECODE_HIDDEN int decode_tun_gtp(const uint8_t *h, uint32_t cap, uint32_t len,
                                 struct decode_tun *t);
DECODE_HIDDEN int decode_tun_gre_udp(const uint8_t *h, uint32_t cap, uint32_t len,
                                     struct decode_tun *t);
DECODE_HIDDEN int decode_tun_teredo(const uint8_t *h, uint32_t cap, uint32_t len,
                                    struct decode_tun *t);
DECODE_HIDDEN int decode_tun_ayiya(const uint8_t *h, uint32_t cap, uint32_t len,
                                   struct decode_tun *t);
/* The parser of a kind carried in UDP. */
DECODE_HIDDEN int decode_tun_udp(uint8_t kind, const uint8_t *h, uint32_t cap, uint32_t len,
                                 struct decode_tun *t);

/* The key of a fragmented datagram, as both ends of the table see it. */
struct decode_frag_key {
    const struct fl_addr *src, *dst;
    uint32_t id;
    uint8_t kproto;
};

/* Remember the ports of a first fragment (replaces the set's oldest slot). */
DECODE_HIDDEN void decode_frag_put(struct fl_decoder *d, const struct decode_frag_key *k,
                                   uint8_t proto, uint16_t sport, uint16_t dport);
/* The first fragment of k's datagram, or NULL if it was never seen or has
 * been pushed out. */
DECODE_HIDDEN const struct decode_frag *decode_frag_get(const struct fl_decoder *d,
                                                        const struct decode_frag_key *k);

/* A 64-bit finaliser (xorshift-multiply); every input bit reaches every
 * output bit, which the flow table's power-of-two masking relies on. */
static inline uint64_t decode_mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

static inline uint64_t decode_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* One endpoint (address as its two 64-bit words in memory order, port)
 * mixed to 64 bits. For IPv4-mapped addresses the first word is 0 and the
 * second holds the address in one half, so (addr, port) -> pre-mix value
 * is injective there. */
static inline uint64_t decode_endpoint(uint64_t w0, uint64_t w1, uint16_t port)
{
    return decode_mix64((w0 * 0x9e3779b97f4a7c15ull) ^ w1 ^
                        ((uint64_t)port * 0xc2b2ae3d27d4eb4full));
}

/* The symmetric flow hash: the two endpoints are combined with addition,
 * which commutes, so both directions give one value without comparing
 * endpoints (no branch on the hot path). s and t: address words. */
static inline uint64_t decode_flow_hash(const uint64_t s[2], uint16_t sp,
                                        const uint64_t t[2], uint16_t tp, uint8_t proto)
{
    return decode_mix64(decode_endpoint(s[0], s[1], sp) + decode_endpoint(t[0], t[1], tp) +
                        (uint64_t)proto * 0x165667b19e3779f9ull);
}

/* The words of an address cell, as decode_flow_hash takes them. */
static inline void decode_addr_words(const struct fl_addr *a, uint64_t w[2])
{
    w[0] = decode_load64(a->b);
    w[1] = decode_load64(a->b + 8);
}

#endif
