/* core/src/decode_pkt.c: the per-frame hot path of the packet decoder.
 *
 * fl_decode() walks one captured frame from its link layer through VLAN,
 * MPLS and PPPoE shims, IPv4/IPv6 (options, extension headers, fragments)
 * to the transport header, and writes one row of a packet batch. It never
 * allocates and never reads past caplen: every read is preceded by a check
 * against `end`. A frame it cannot use is counted under one reason and
 * adds no row. Lengths come from the IP headers, not from caplen, so a
 * capture cut short by its snaplen still counts bytes right.
 *
 * Not here: counters, the fragment table and the schema (decode.c). */
#include "decode_int.h"
#include "rt.h"

/* Bounds on what one frame may make the decoder do; past them the frame is
 * malformed for our purposes (real traffic stays far below). */
#define DECODE_MAX_SHIMS 16   /* VLAN tags + MPLS labels + PPPoE + PW words */
#define DECODE_MAX_EXTHDR 8   /* IPv6 extension headers in one chain */

/* The parser is written for inlining: one loop over "what comes next"
 * (decode_net) into the IP and transport functions, all inlined into
 * fl_decode. The only recursion, into a tunnel's inner packet, goes
 * through decode_decap, which is kept out of line. */
#define DECODE_INLINE static inline __attribute__((always_inline))

_Static_assert(DECODE_TUN_ET_ETH == DECODE_ET_TEB && DECODE_TUN_ET_IP == DECODE_ET_RAW,
               "decode_tunnel.c names inner packets as decode_net does");

enum {
    DECODE_IP_HOPOPTS = 0, DECODE_IP_ICMP = 1, DECODE_IP_IPIP = 4, DECODE_IP_TCP = 6,
    DECODE_IP_UDP = 17, DECODE_IP_IPV6 = 41, DECODE_IP_ROUTING = 43,
    DECODE_IP_FRAGMENT = 44, DECODE_IP_GRE = 47, DECODE_IP_AH = 51,
    DECODE_IP_ICMPV6 = 58, DECODE_IP_NONE = 59, DECODE_IP_DSTOPTS = 60,
    DECODE_IP_SCTP = 132, DECODE_IP_MOBILITY = 135, DECODE_IP_HIP = 139,
    DECODE_IP_SHIM6 = 140,
};

/* One frame in flight: where it may be read, and the row being built. */
struct decode_pkt {
    const uint8_t *frame;
    const uint8_t *end;         /* one past the last byte that may be read */
    uint32_t wirelen;
    uint16_t vlan;
    bool vlan_seen;
    uint8_t shims, decaps;
    uint8_t notes;              /* bit (1 << enum fl_decode_note) per note */
    uint8_t trail;              /* wire bytes after the payload (802.11 FCS) */
    /* Addresses as the two 64-bit words of their 16-byte cells: written
     * and read whole, so the row copy and the hash load what was stored
     * (no store-forwarding stall from byte-wise building). */
    uint64_t src[2], dst[2];
    /* The transport words, cleared by one store per packet. An ICMP
     * query/reply has sport 0 and hx = dport ^ icmp_id, so the hash ports
     * (sport | icmp_id, dport ^ hx) are (icmp_id, icmp_id) for it and
     * (sport, dport) for everything else, without a branch. */
    union {
        struct {
            uint16_t sport, dport;
            uint16_t icmp_id;   /* ICMP query/reply identifier, else 0 */
            uint16_t hx;
        };
        uint64_t l4w;
    };
    uint8_t proto, ver, ttl, flags;
    uint32_t ip_len, payload_len;
    /* Tunnels the row came out of: the outermost's kind and id, and a bit
     * per kind opened (one store clears them for every packet). */
    union {
        struct {
            uint8_t tun_kind;       /* enum fl_tunnel_kind, 0 = none */
            bool tun_has_id;
            uint16_t tunnels;
        };
        uint32_t tunw;
    };
    uint32_t tun_id;
};

/* What the IP layer hands to the transport layer. */
struct decode_l3 {
    const uint8_t *l4;          /* first byte after the IP header(s) */
    uint32_t cap;               /* bytes readable from l4 (captured, within IP) */
    uint32_t len;               /* bytes from l4 to the end of the IP packet */
    bool frag, later;           /* a fragment; not the first one */
    struct decode_frag_key key; /* set when frag */
};

static inline uint16_t decode_rd16(const uint8_t *q)
{
    return (uint16_t)((unsigned)q[0] << 8 | q[1]);
}

static inline uint32_t decode_rd32(const uint8_t *q)
{
    return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
}

static inline size_t decode_avail(const struct decode_pkt *p, const uint8_t *q)
{
    return (size_t)(p->end - q);
}

/* An ethertype read from a frame (2 readable bytes at q). */
static inline uint16_t decode_et(const uint8_t *q)
{
    uint16_t et = decode_rd16(q);
    return et < 0x0600 ? DECODE_ET_BAD : et;
}

/* ::ffff:a.b.c.d as address words. */
static inline void decode_v4mapped(uint64_t w[2], const uint8_t *ip4)
{
    uint32_t a;
    memcpy(&a, ip4, 4);
    w[0] = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    w[1] = 0xffff0000ull | (uint64_t)a << 32;
#else
    w[1] = 0x0000ffff00000000ull | a;
#endif
}

static inline void decode_v6words(uint64_t w[2], const uint8_t *ip6)
{
    memcpy(&w[0], ip6, 8);
    memcpy(&w[1], ip6 + 8, 8);
}

static inline void decode_addr_cell(struct fl_addr *a, const uint64_t w[2])
{
    memcpy(a->b, &w[0], 8);
    memcpy(a->b + 8, &w[1], 8);
}

/* ---- Transport layer and decapsulation ----------------------------------- */

DECODE_INLINE int decode_net(struct fl_decoder *d, struct decode_pkt *p, uint16_t et,
                             const uint8_t *q);

/* Decapsulation is best effort: the row describes the innermost packet that
 * decodes cleanly, and the outer one when the inner is not IP, malformed or
 * cut off, so an outer packet that decoded never vanishes because of what
 * it carries (counted as decap_fallback). h/cap: the tunnel header and the
 * captured bytes from it; t: what decode_tunnel.c read in it. */
static __attribute__((noinline)) void
decode_decap(struct fl_decoder *d, struct decode_pkt *p, const struct decode_tun *t,
             const uint8_t *h, uint32_t cap)
{
    struct decode_pkt in;

    if (p->decaps >= d->decap_depth) {
        p->notes |= 1u << FL_NOTE_DECAP_FALLBACK;
        return;
    }
    in = *p;
    in.decaps++;
    /* The inner packet lies within the outer payload (and within the
     * length its tunnel header states). */
    in.end = h + (t->lim && t->lim < cap ? t->lim : cap);
    if (!in.tun_kind) {
        in.tun_kind = t->kind;
        in.tun_has_id = t->has_id;
        in.tun_id = t->has_id ? t->id : 0;
    }
    in.tunnels |= (uint16_t)(1u << t->kind);
    if (decode_net(d, &in, t->et, h + t->off) == 0)
        *p = in;
    else
        p->notes |= 1u << FL_NOTE_DECAP_FALLBACK;
}

/* A packet that may carry a tunnel the decoder opens (decap on, not a
 * fragment): find which, read its header, and go in. */
static __attribute__((noinline)) void
decode_tunnel(struct fl_decoder *d, struct decode_pkt *p, const uint8_t *h, uint32_t cap,
              uint32_t len)
{
    struct decode_tun t;
    int rc = DECODE_TUN_NO;

    switch (p->proto) {
    case DECODE_IP_GRE:
        rc = decode_tun_gre(h, cap, &t);
        break;
    case DECODE_IP_IPIP:
    case DECODE_IP_IPV6:
        memset(&t, 0, sizeof t);
        t.kind = FL_TUN_IPIP;
        t.et = p->proto == DECODE_IP_IPIP ? DECODE_ET_IPV4 : DECODE_ET_IPV6;
        rc = DECODE_TUN_OK;
        break;
    case DECODE_IP_UDP:
        /* The destination port first, then the source port for the kinds
         * whose replies come from it (GTP-U, Teredo, AYIYA); the first
         * header that passes its sanity checks is the tunnel. */
        if (cap < 8)
            return;
        for (int pass = 0; pass < 2 && rc == DECODE_TUN_NO; pass++) {
            uint16_t port = pass ? p->sport : p->dport;
            for (uint32_t i = 0; i < d->n_ports && rc == DECODE_TUN_NO; i++) {
                uint8_t k = d->ports[i].kind;
                if (d->ports[i].port != port)
                    continue;
                if (pass && k != FL_TUN_GTP && k != FL_TUN_TEREDO && k != FL_TUN_AYIYA)
                    continue;
                rc = decode_tun_udp(k, h + 8, cap - 8, len > 8 ? len - 8 : 0, &t);
            }
        }
        if (rc != DECODE_TUN_NO) {
            h += 8;
            cap -= 8;
        }
        break;
    default:
        return;
    }
    if (rc == DECODE_TUN_NO || !((d->decap_kinds >> t.kind) & 1))
        return;     /* GRE carrying ERSPAN when only gre is asked for, say */
    if (rc == DECODE_TUN_FAIL) {
        p->notes |= 1u << FL_NOTE_DECAP_FALLBACK;
        return;
    }
    decode_decap(d, p, &t, h, cap);
}

/* Whether decap may find a tunnel in this (unfragmented) packet. */
static inline bool decode_tunnel_candidate(const struct fl_decoder *d, const struct decode_pkt *p)
{
    switch (p->proto) {
    case DECODE_IP_GRE:
        return (d->decap_kinds & (1u << FL_TUN_GRE | 1u << FL_TUN_ERSPAN)) != 0;
    case DECODE_IP_IPIP:
    case DECODE_IP_IPV6:
        return (d->decap_kinds >> FL_TUN_IPIP) & 1;
    case DECODE_IP_UDP:
        return d->port_bits &&
               (decode_port_watched(d, p->dport) || decode_port_watched(d, p->sport));
    default:
        return false;
    }
}

DECODE_INLINE int decode_l4(struct fl_decoder *d, struct decode_pkt *p, struct decode_l3 *l3)
{
    const uint8_t *h = l3->l4;
    uint32_t cap = l3->cap, len = l3->len;
    struct fl_addr src, dst;

    p->l4w = 0;
    p->flags = 0;
    p->payload_len = len;
    if (l3->frag) {
        p->notes |= 1u << FL_NOTE_FRAGMENTS;
        decode_addr_cell(&src, p->src);
        decode_addr_cell(&dst, p->dst);
        l3->key.src = &src;
        l3->key.dst = &dst;
        if (l3->later) {
            /* No transport header here: the flow is its first fragment's. */
            const struct decode_frag *f = decode_frag_get(d, &l3->key);
            if (f) {
                int reply;
                p->proto = f->proto;
                p->sport = f->sport;
                p->dport = f->dport;
                /* An ICMP first fragment left its identifier as sport. */
                if (fl_icmp_query(f->proto, (uint8_t)(f->dport >> 8), &reply) >= 0) {
                    p->icmp_id = f->sport;
                    p->hx = p->dport ^ f->sport;
                    p->sport = 0;
                }
            } else {
                p->notes |= 1u << FL_NOTE_FRAG_UNJOINED;
            }
            return 0;
        }
    }

    switch (p->proto) {
    case DECODE_IP_TCP: {
        uint32_t doff;
        if (len < 20)
            return DECODE_DROP(FL_DROP_BAD_L4);
        if (cap < 14)   /* ports, data offset and flags */
            return DECODE_DROP(FL_DROP_TRUNCATED);
        doff = (uint32_t)(h[12] >> 4) * 4;
        if (doff < 20 || doff > len)
            return DECODE_DROP(FL_DROP_BAD_L4);
        p->sport = decode_rd16(h);
        p->dport = decode_rd16(h + 2);
        p->flags = h[13];
        p->payload_len = len - doff;
        break;
    }
    case DECODE_IP_UDP: {
        uint32_t ulen;
        if (len < 8)
            return DECODE_DROP(FL_DROP_BAD_L4);
        if (cap < 8)
            return DECODE_DROP(FL_DROP_TRUNCATED);
        ulen = decode_rd16(h + 4);
        /* A first fragment's UDP length covers the whole datagram; length 0
         * is a jumbogram's (RFC 2675). */
        if ((ulen < 8 && !(ulen == 0 && len > 0xffff)) || (!l3->frag && ulen > len))
            return DECODE_DROP(FL_DROP_BAD_L4);
        p->sport = decode_rd16(h);
        p->dport = decode_rd16(h + 2);
        p->payload_len = len - 8;
        break;
    }
    case DECODE_IP_ICMP:
    case DECODE_IP_ICMPV6: {
        /* type, code, checksum at least; the payload is counted after the
         * 8-byte header every ICMP message starts with. Query/reply
         * messages carry an identifier next (RFC 792, RFC 4443); one cut
         * off by the snaplen reads as 0. */
        int reply;
        if (len < 4)
            return DECODE_DROP(FL_DROP_BAD_L4);
        if (cap < 2)
            return DECODE_DROP(FL_DROP_TRUNCATED);
        p->dport = (uint16_t)(h[0] << 8 | h[1]);
        p->payload_len = len > 8 ? len - 8 : 0;
        if (fl_icmp_query(p->proto, h[0], &reply) >= 0) {
            if (cap >= 6 && len >= 6)
                p->icmp_id = decode_rd16(h + 4);
            p->hx = p->dport ^ p->icmp_id;
        }
        break;
    }
    case DECODE_IP_SCTP:
        /* RFC 9260 common header: ports, verification tag, checksum. */
        if (len < 12)
            return DECODE_DROP(FL_DROP_BAD_L4);
        if (cap < 4)
            return DECODE_DROP(FL_DROP_TRUNCATED);
        p->sport = decode_rd16(h);
        p->dport = decode_rd16(h + 2);
        p->payload_len = len - 12;
        break;
    default:
        break;
    }
    if (l3->frag)   /* sport or icmp_id: one of them is 0 */
        decode_frag_put(d, &l3->key, p->proto, p->sport | p->icmp_id, p->dport);
    else if (d->decap_kinds && decode_tunnel_candidate(d, p))
        /* A fragment's inner packet is incomplete: it stays the outer flow. */
        decode_tunnel(d, p, h, cap, len);
    return 0;
}

/* ---- IP ------------------------------------------------------------------ */

/* Total length 0 is what a host capture shows for a TCP segmentation
 * offload (TSO/GSO) super-packet, and an IPv6 jumbogram says its length in
 * a hop-by-hop option: in both cases the packet is as long as the rest of
 * the frame on the wire. */
static inline uint32_t decode_wire_rest(const struct decode_pkt *p, const uint8_t *q)
{
    size_t off = (size_t)(q - p->frame) + p->trail;
    return p->wirelen > off ? p->wirelen - (uint32_t)off : 0;
}

DECODE_INLINE int decode_ip4(struct fl_decoder *d, struct decode_pkt *p, const uint8_t *q)
{
    size_t cap = decode_avail(p, q);
    uint32_t hl, tot, capn;
    uint16_t fo;
    struct decode_l3 l3;

    /* The version first: a link type that promised IPv4 but carries
     * something else is a bad IP packet however short it is. */
    if (cap < 1)
        return DECODE_DROP(FL_DROP_TRUNCATED);
    if ((q[0] >> 4) != 4)
        return DECODE_DROP(FL_DROP_BAD_IP);
    if (cap < 20)
        return DECODE_DROP(FL_DROP_TRUNCATED);
    hl = (uint32_t)(q[0] & 15) * 4;
    tot = decode_rd16(q + 2);
    if (tot == 0)
        tot = decode_wire_rest(p, q);
    if (hl < 20 || tot < hl)
        return DECODE_DROP(FL_DROP_BAD_IP);
    if (cap < hl)
        return DECODE_DROP(FL_DROP_TRUNCATED);

    p->ver = 4;
    p->ttl = q[8];
    p->proto = q[9];
    decode_v4mapped(p->src, q + 12);
    decode_v4mapped(p->dst, q + 16);
    p->ip_len = tot;
    if (cap < tot) {
        p->notes |= 1u << FL_NOTE_IP_TRUNCATED;
        capn = (uint32_t)cap;
    } else {
        capn = tot;   /* bytes after the IP packet are link padding */
    }

    l3.l4 = q + hl;
    l3.cap = capn - hl;
    l3.len = tot - hl;
    fo = decode_rd16(q + 6);
    l3.frag = (fo & 0x3fff) != 0;     /* MF set or offset non-zero */
    l3.later = (fo & 0x1fff) != 0;
    if (l3.frag) {
        l3.key.id = decode_rd16(q + 4);
        l3.key.kproto = p->proto;
    }
    return decode_l4(d, p, &l3);
}

DECODE_INLINE int decode_ip6(struct fl_decoder *d, struct decode_pkt *p, const uint8_t *q)
{
    size_t cap = decode_avail(p, q);
    uint32_t plen, tot, capn, pos = 40, n;
    uint8_t nh;
    struct decode_l3 l3;

    if (cap < 1)
        return DECODE_DROP(FL_DROP_TRUNCATED);
    if ((q[0] >> 4) != 6)
        return DECODE_DROP(FL_DROP_BAD_IP);
    if (cap < 40)
        return DECODE_DROP(FL_DROP_TRUNCATED);
    plen = decode_rd16(q + 4);
    nh = q[6];
    if (plen == 0 && nh != DECODE_IP_NONE) {
        plen = decode_wire_rest(p, q);
        plen = plen > 40 ? plen - 40 : 0;
    }
    tot = plen + 40;

    p->ver = 6;
    p->ttl = q[7];
    decode_v6words(p->src, q + 8);
    decode_v6words(p->dst, q + 24);
    p->ip_len = tot;
    if (cap < tot) {
        p->notes |= 1u << FL_NOTE_IP_TRUNCATED;
        capn = (uint32_t)cap;
    } else {
        capn = tot;
    }

    /* Walk the extension headers (RFC 8200 §4) with offsets from q, so a
     * header that claims more than was captured is caught before any
     * pointer moves past the end. Only the bytes read are required to be
     * captured; a header's extent is checked against the IP length. */
    l3.frag = l3.later = false;
    for (n = 0;; n++) {
        uint32_t len;
        switch (nh) {
        case DECODE_IP_HOPOPTS:
            if (n != 0)     /* hop-by-hop must come first */
                return DECODE_DROP(FL_DROP_BAD_EXTHDR);
            /* fall through */
        case DECODE_IP_ROUTING:
        case DECODE_IP_DSTOPTS:
        case DECODE_IP_MOBILITY:
        case DECODE_IP_HIP:
        case DECODE_IP_SHIM6:
        case DECODE_IP_AH:
            if (n >= DECODE_MAX_EXTHDR || tot - pos < 8)
                return DECODE_DROP(FL_DROP_BAD_EXTHDR);
            if (capn < pos + 2)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            /* AH counts 4-byte words minus 2 (RFC 4302), the rest 8-byte
             * words minus 1. */
            len = nh == DECODE_IP_AH ? ((uint32_t)q[pos + 1] + 2) * 4
                                     : ((uint32_t)q[pos + 1] + 1) * 8;
            if (len > tot - pos)
                return DECODE_DROP(FL_DROP_BAD_EXTHDR);
            nh = q[pos];
            pos += len;
            continue;
        case DECODE_IP_FRAGMENT: {
            uint16_t fo;
            if (n >= DECODE_MAX_EXTHDR || tot - pos < 8)
                return DECODE_DROP(FL_DROP_BAD_EXTHDR);
            if (capn < pos + 8)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            fo = decode_rd16(q + pos + 2);
            /* Offset 0 without M is an atomic fragment (RFC 6946): not a
             * fragment at all. */
            if (fo & 0xfff9) {
                if (l3.frag)
                    return DECODE_DROP(FL_DROP_BAD_EXTHDR);
                l3.frag = true;
                l3.later = (fo & 0xfff8) != 0;
                l3.key.id = decode_rd32(q + pos + 4);
                l3.key.kproto = q[pos];
            }
            nh = q[pos];
            pos += 8;
            if (l3.later)
                goto upper;     /* what follows is the middle of a datagram */
            continue;
        }
        default:
            goto upper;
        }
    }
upper:
    p->proto = nh;
    l3.l4 = q + (pos < capn ? pos : capn);
    l3.cap = capn > pos ? capn - pos : 0;
    l3.len = tot - pos;
    return decode_l4(d, p, &l3);
}

/* ---- Link layer and shims ------------------------------------------------ */

/* What follows at q is named by et: an ethertype, or DECODE_ET_TEB (an
 * Ethernet header), DECODE_ET_PPP (a PPP frame), DECODE_ET_RAW (IP of
 * either version). Peel headers until IP; every shim counts towards
 * DECODE_MAX_SHIMS so no frame loops long. */
DECODE_INLINE int decode_net(struct fl_decoder *d, struct decode_pkt *p, uint16_t et,
                             const uint8_t *q)
{
    for (;;) {
        switch (et) {
        case DECODE_ET_IPV4:
            return decode_ip4(d, p, q);
        case DECODE_ET_IPV6:
            return decode_ip6(d, p, q);
        case DECODE_ET_TEB: {
            uint16_t len;
            if (decode_avail(p, q) < 14)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            len = decode_rd16(q + 12);
            q += 14;
            if (len >= 0x0600) {
                et = len;
                continue;
            }
            /* 802.3 length field: IP only rides in LLC/SNAP (AA AA 03,
             * OUI, ethertype); anything else (STP, IPX, ...) is not IP. */
            if (len > 1500)
                return DECODE_DROP(FL_DROP_NOT_IP);
            if (decode_avail(p, q) < 3)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            if (q[0] != 0xaa || q[1] != 0xaa || q[2] != 0x03)
                return DECODE_DROP(FL_DROP_NOT_IP);
            if (decode_avail(p, q) < 8)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            et = decode_et(q + 6);
            q += 8;
            continue;
        }
        case DECODE_ET_VLAN:
        case DECODE_ET_QINQ:
        case DECODE_ET_QINQ_OLD1:
        case DECODE_ET_QINQ_OLD2:
            if (++p->shims > DECODE_MAX_SHIMS)
                return DECODE_DROP(FL_DROP_NOT_IP);
            if (decode_avail(p, q) < 4)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            if (!p->vlan_seen) {
                p->vlan = decode_rd16(q) & 0x0fff;
                p->vlan_seen = true;
            }
            et = decode_et(q + 2);
            q += 4;
            continue;
        case DECODE_ET_MPLS:
        case DECODE_ET_MPLS_MC:
            /* Labels until bottom of stack; the payload type is not
             * signalled, so guess it from the first nibble (RFC 4928 keeps
             * pseudowire payloads from starting with 4 or 6). */
            for (;;) {
                if (++p->shims > DECODE_MAX_SHIMS)
                    return DECODE_DROP(FL_DROP_NOT_IP);
                if (decode_avail(p, q) < 4)
                    return DECODE_DROP(FL_DROP_TRUNCATED);
                q += 4;
                if (q[-2] & 1)
                    break;
            }
            if (decode_avail(p, q) < 1)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            switch (q[0] >> 4) {
            case 4: et = DECODE_ET_IPV4; break;
            case 6: et = DECODE_ET_IPV6; break;
            case 0: /* pseudowire control word (RFC 4385), then Ethernet */
                if (decode_avail(p, q) < 4)
                    return DECODE_DROP(FL_DROP_TRUNCATED);
                q += 4;
                et = DECODE_ET_TEB;
                break;
            default:
                return DECODE_DROP(FL_DROP_NOT_IP);
            }
            continue;
        case DECODE_ET_FABRICPATH:
            /* Cisco FabricPath: a 16-byte outer header (outer destination
             * and source, this type, then FTag and TTL in 2 bytes) wraps
             * the classic Ethernet frame with its own addresses. */
            if (++p->shims > DECODE_MAX_SHIMS)
                return DECODE_DROP(FL_DROP_NOT_IP);
            if (decode_avail(p, q) < 2)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            q += 2;
            et = DECODE_ET_TEB;
            continue;
        case DECODE_ET_PBB:
            /* 802.1ah: the I-tag (priority, flags, 24-bit I-SID), then the
             * customer's addresses and ethertype. */
            if (++p->shims > DECODE_MAX_SHIMS)
                return DECODE_DROP(FL_DROP_NOT_IP);
            if (decode_avail(p, q) < 4)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            q += 4;
            et = DECODE_ET_TEB;
            continue;
        case DECODE_ET_VNTAG:
        case DECODE_ET_ETAG: {
            /* VN-Tag (4 bytes) and 802.1BR E-Tag (6 bytes) after their
             * type, then the ethertype of what they tag. */
            size_t n = et == DECODE_ET_VNTAG ? 4 : 6;
            if (++p->shims > DECODE_MAX_SHIMS)
                return DECODE_DROP(FL_DROP_NOT_IP);
            if (decode_avail(p, q) < n + 2)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            et = decode_et(q + n);
            q += n + 2;
            continue;
        }
        case DECODE_ET_MACSEC: {
            /* 802.1AE SecTAG: TCI/AN, short length, packet number, and
             * the SCI when the SC bit (0x20) is set. Without E (0x08) and
             * C (0x04) the data is only integrity-protected and starts
             * with its ethertype; otherwise it is ciphertext. */
            size_t n;
            if (++p->shims > DECODE_MAX_SHIMS)
                return DECODE_DROP(FL_DROP_NOT_IP);
            if (decode_avail(p, q) < 1)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            if (q[0] & 0x0c)
                return DECODE_DROP(FL_DROP_ENCRYPTED);
            n = q[0] & 0x20 ? 14 : 6;
            if (decode_avail(p, q) < n + 2)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            et = decode_et(q + n);
            q += n + 2;
            continue;
        }
        case DECODE_ET_PPPOE:
            /* RFC 2516 session stage: ver/type 0x11, code 0, session id,
             * length, then a PPP protocol field. */
            if (++p->shims > DECODE_MAX_SHIMS)
                return DECODE_DROP(FL_DROP_NOT_IP);
            if (decode_avail(p, q) < 6)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            if (q[0] != 0x11 || q[1] != 0)
                return DECODE_DROP(FL_DROP_NOT_IP);
            q += 6;
            et = DECODE_ET_PPP;
            continue;
        case DECODE_ET_PPP: {
            /* RFC 1662 HDLC-like framing (FF 03) or none; Cisco HDLC
             * (address 0F/8F, control 0, ethertype) turns up in captures
             * labelled PPP too. Neither FF nor 0F/8F 00 can start a PPP
             * protocol field, so the three are told apart safely. Then the
             * protocol, compressed to one byte when the first is odd. */
            uint16_t proto;
            if (++p->shims > DECODE_MAX_SHIMS)
                return DECODE_DROP(FL_DROP_NOT_IP);
            if (decode_avail(p, q) < 2)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            if (q[0] == 0xff && q[1] == 0x03) {
                q += 2;
            } else if ((q[0] == 0x0f || q[0] == 0x8f) && q[1] == 0x00) {
                if (decode_avail(p, q) < 4)
                    return DECODE_DROP(FL_DROP_TRUNCATED);
                et = decode_et(q + 2);
                q += 4;
                continue;
            }
            if (decode_avail(p, q) < 1)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            if (q[0] & 1) {
                proto = q[0];
                q += 1;
            } else {
                if (decode_avail(p, q) < 2)
                    return DECODE_DROP(FL_DROP_TRUNCATED);
                proto = decode_rd16(q);
                q += 2;
            }
            switch (proto) {
            case 0x0021: et = DECODE_ET_IPV4; break;
            case 0x0057: et = DECODE_ET_IPV6; break;
            case 0x0281:
            case 0x0283: et = DECODE_ET_MPLS; break;
            default: return DECODE_DROP(FL_DROP_NOT_IP);
            }
            continue;
        }
        case DECODE_ET_RAW:
            if (decode_avail(p, q) < 1)
                return DECODE_DROP(FL_DROP_TRUNCATED);
            switch (q[0] >> 4) {
            case 4: et = DECODE_ET_IPV4; break;
            case 6: et = DECODE_ET_IPV6; break;
            default: return DECODE_DROP(FL_DROP_BAD_IP);
            }
            continue;
        default:
            return DECODE_DROP(FL_DROP_NOT_IP);
        }
    }
}

/* BSD loopback: a 4-byte address family in the byte order of the writing
 * host (NULL) or network order (LOOP); accept both for both, since the
 * family values are small. AF_INET6 differs per OS: Linux 10, NetBSD and
 * OpenBSD 24, FreeBSD 28, Darwin 30. */
static inline uint16_t decode_loop_family(const uint8_t *q)
{
    uint32_t fam = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                   (uint32_t)q[3] << 24;
    if (fam > 0xffff)
        fam = __builtin_bswap32(fam);
    switch (fam) {
    case 2: return DECODE_ET_IPV4;
    case 10: case 24: case 28: case 30: return DECODE_ET_IPV6;
    default: return DECODE_ET_BAD;
    }
}

/* ---- The row ------------------------------------------------------------- */

/* The tunnel and tunnel_id cells of row r (decoders with tunnel columns).
 * A kind's name goes into the batch's arena once per batch: the span of
 * the last copy is reused while the batch's arena holds the name there
 * (checked each time: a recycled batch may have the old one's address). */
static __attribute__((noinline)) void
decode_commit_tunnel(struct fl_decoder *d, const struct decode_pkt *p, struct fl_batch *b,
                     uint32_t r)
{
    struct fl_span *cell = (struct fl_span *)b->data[FL_PKT_TUNNEL] + r;
    unsigned k = p->tun_kind;

    ((uint32_t *)b->data[FL_PKT_TUNNEL_ID])[r] = p->tun_id;
    cell->off = cell->len = 0;
    if (k) {
        const char *name = fl_tunnel_kind_name((int)k);
        uint32_t len = (uint32_t)strlen(name);
        if (fl_batch_span_holds(b, d->span[k], name, len) ||
            fl_batch_put_bytes(b, name, len, &d->span[k]) == 0)
            *cell = d->span[k];
        else
            k = 0;
    }
    if (!k)
        (void)fl_batch_set_missing(b, FL_PKT_TUNNEL, r);
    if (!p->tun_has_id)
        (void)fl_batch_set_missing(b, FL_PKT_TUNNEL_ID, r);
}

DECODE_INLINE void decode_commit(struct fl_decoder *d, const struct decode_pkt *p,
                                 uint64_t ts, struct fl_batch *b)
{
    uint32_t r = b->rows;
    void **col = b->data;

    ((uint64_t *)col[FL_PKT_TS])[r] = ts;
    decode_addr_cell((struct fl_addr *)col[FL_PKT_SRC_ADDR] + r, p->src);
    decode_addr_cell((struct fl_addr *)col[FL_PKT_DST_ADDR] + r, p->dst);
    ((uint16_t *)col[FL_PKT_SRC_PORT])[r] = p->sport;
    ((uint16_t *)col[FL_PKT_DST_PORT])[r] = p->dport;
    ((uint8_t *)col[FL_PKT_PROTO])[r] = p->proto;
    ((uint8_t *)col[FL_PKT_IP_VERSION])[r] = p->ver;
    ((uint8_t *)col[FL_PKT_TTL])[r] = p->ttl;
    ((uint8_t *)col[FL_PKT_TCP_FLAGS])[r] = p->flags;
    ((uint32_t *)col[FL_PKT_IP_LEN])[r] = p->ip_len;
    ((uint32_t *)col[FL_PKT_FRAME_LEN])[r] = p->wirelen;
    ((uint32_t *)col[FL_PKT_PAYLOAD_LEN])[r] = p->payload_len;
    ((uint16_t *)col[FL_PKT_VLAN])[r] = p->vlan;
    ((uint16_t *)col[FL_PKT_ICMP_ID])[r] = p->icmp_id;
    /* A query/reply pair hashes by (addresses, identifier): both hash
     * ports are the identifier, so request and reply hash alike. */
    ((uint64_t *)col[FL_PKT_FLOW_HASH])[r] = decode_flow_hash(
        p->src, p->sport | p->icmp_id, p->dst, p->dport ^ p->hx, p->proto);
    if (r == 0) {
        b->t_min = b->t_max = ts;
    } else {
        if (ts < b->t_min)
            b->t_min = ts;
        if (ts > b->t_max)
            b->t_max = ts;
    }
    if (__builtin_expect(d->tunnel_cols, 0))
        decode_commit_tunnel(d, p, b, r);
    if (__builtin_expect(p->tunnels != 0, 0))
        for (unsigned k = 1; k < FL_TUN_COUNT; k++)
            d->tunnels[k] += (p->tunnels >> k) & 1;
    b->rows = r + 1;
    /* A snaplen shorter than the packets makes ip_truncated the common
     * case: counted without a branch, the rare notes with one. */
    d->notes[FL_NOTE_IP_TRUNCATED] += (p->notes >> FL_NOTE_IP_TRUNCATED) & 1;
    if (__builtin_expect(p->notes & ~(1u << FL_NOTE_IP_TRUNCATED), 0))
        for (unsigned i = 0; i < FL_NOTE_COUNT; i++)
            if (i != FL_NOTE_IP_TRUNCATED)
                d->notes[i] += (p->notes >> i) & 1;
}

/* Narrow the readable bytes to what decode_link says is payload: before
 * its end, and before an FCS the radio header announced (when the capture
 * holds it), never before the payload's start. */
static void decode_link_bound(struct decode_pkt *p, const struct decode_link *lk)
{
    if (lk->end && lk->end < p->end)
        p->end = lk->end;
    if (lk->trail && p->wirelen >= lk->trail) {
        uint32_t keep = p->wirelen - lk->trail;
        p->trail = lk->trail;
        if ((size_t)(p->end - p->frame) > keep)
            p->end = p->frame + keep;
    }
    if (p->end < lk->q)
        p->end = lk->q;
}

/* The rarer link types (decode_link.c), out of line so that fl_decode
 * keeps no more live values than it did without them (the Ethernet fast
 * path's registers with them). Returns DECODE_LINK_GO with *et and *q set
 * for decode_net, or what fl_decode returns: 0 when the frame was counted,
 * or the result of decoding the frame a PPI or PKTAP header wraps (as its
 * own link type, its row keeping the record's wire length; decode_link
 * never names PPI or PKTAP there, so this recursion is one level deep). */
#define DECODE_LINK_GO 2
static __attribute__((noinline)) int
decode_link_start(struct fl_decoder *d, struct decode_pkt *p, int linktype, uint64_t ts_ns,
                  struct fl_batch *b, uint16_t *et, const uint8_t **q)
{
    struct decode_link lk = { .end = NULL, .trail = 0 };
    uint32_t caplen = (uint32_t)(p->end - p->frame), off;
    int rc = decode_link(linktype, p->frame, caplen, caplen < p->wirelen, &lk);

    if (rc == DECODE_LINK_INNER) {
        off = (uint32_t)(lk.q - p->frame);
        rc = fl_decode(d, lk.linktype, ts_ns, lk.q, caplen - off,
                       p->wirelen > off ? p->wirelen - off : 0, b);
        if (rc == 1)
            ((uint32_t *)b->data[FL_PKT_FRAME_LEN])[b->rows - 1] = p->wirelen;
        return rc;
    }
    if (rc != 0) {
        d->drops[rc - 1]++;
        return 0;
    }
    decode_link_bound(p, &lk);
    *et = lk.et;
    *q = lk.q;
    return DECODE_LINK_GO;
}

/* The common frame in one pass: Ethernet with at most one VLAN tag, IPv4
 * without options or IPv6
 * without extension headers, not a fragment, TCP or UDP, every length
 * consistent and not on a UDP port decap watches. It checks exactly what the
 * general path checks for such a frame and fills the same row; anything
 * else (or anything it would drop) returns false and the general path
 * decodes the frame from the start, so drops are counted in one place.
 * It sets every field of p that decode_commit reads (a column added there
 * needs its value here too; tests/unit/decode/test_decode_fast.c compares
 * the two paths column by column). */
DECODE_INLINE bool decode_fast(struct fl_decoder *d, struct decode_pkt *p,
                               const uint8_t *frame, uint32_t caplen)
{
    const uint8_t *q = frame + 14, *h;
    uint32_t cap, tot, len, hl;
    uint16_t et;

    if (caplen < 18 + 40)
        return false;
    et = decode_rd16(frame + 12);
    /* One 802.1Q/802.1ad tag (10% of the bench trace's packets). */
    if (__builtin_expect(et != DECODE_ET_IPV4 && et != DECODE_ET_IPV6, 0)) {
        if (et != DECODE_ET_VLAN && et != DECODE_ET_QINQ && et != DECODE_ET_QINQ_OLD1
            && et != DECODE_ET_QINQ_OLD2)
            return false;
        p->vlan = decode_rd16(q) & 0x0fff;
        et = decode_rd16(q + 2);
        q += 4;
    }
    cap = caplen - (uint32_t)(q - frame);
    if (et == DECODE_ET_IPV4) {
        uint16_t fo = decode_rd16(q + 6);
        if (q[0] != 0x45 || (fo & 0x3fff) != 0)
            return false;
        tot = decode_rd16(q + 2);
        if (tot < 20)       /* 0 (TSO) and bad lengths: the general path */
            return false;
        hl = 20;
        p->ver = 4;
        p->ttl = q[8];
        p->proto = q[9];
        decode_v4mapped(p->src, q + 12);
        decode_v4mapped(p->dst, q + 16);
    } else if (et == DECODE_ET_IPV6) {
        if ((q[0] >> 4) != 6)
            return false;
        tot = decode_rd16(q + 4);
        if (tot == 0)       /* a jumbogram or no next header */
            return false;
        tot += 40;
        hl = 40;
        p->ver = 6;
        p->ttl = q[7];
        p->proto = q[6];
        decode_v6words(p->src, q + 8);
        decode_v6words(p->dst, q + 24);
    } else {
        return false;
    }
    p->ip_len = tot;
    p->notes = (uint8_t)((cap < tot) << FL_NOTE_IP_TRUNCATED);
    cap = (cap < tot ? cap : tot) - hl;
    len = tot - hl;
    h = q + hl;
    if (p->proto == DECODE_IP_TCP) {
        uint32_t doff;
        if (len < 20 || cap < 14)
            return false;
        doff = (uint32_t)(h[12] >> 4) * 4;
        if (doff < 20 || doff > len)
            return false;
        p->flags = h[13];
        p->payload_len = len - doff;
    } else if (p->proto == DECODE_IP_UDP) {
        uint32_t ulen;
        if (len < 8 || cap < 8)
            return false;
        ulen = decode_rd16(h + 4);
        if (ulen < 8 || ulen > len)
            return false;
        p->flags = 0;
        p->payload_len = len - 8;
    } else {
        return false;
    }
    p->l4w = 0;     /* icmp_id and hx: 0 for TCP and UDP */
    p->sport = decode_rd16(h);
    p->dport = decode_rd16(h + 2);
    /* With decap on, a UDP packet on a tunnel port is the general path's
     * (GRE and IP-in-IP are neither TCP nor UDP, so never here). */
    if (__builtin_expect(d->port_bits != NULL, 0) && p->proto == DECODE_IP_UDP &&
        (decode_port_watched(d, p->dport) || decode_port_watched(d, p->sport)))
        return false;
    return true;
}

int fl_decode(struct fl_decoder *d, int linktype, uint64_t ts_ns,
              const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
              struct fl_batch *b)
{
    struct decode_pkt p;
    const uint8_t *q;
    uint16_t et;
    int rc;

    if (b->rows >= b->cap)
        return -FL_EFULL;
    p.tunw = 0;
    p.tun_id = 0;
    if (linktype == FL_DLT_EN10MB) {
        p.wirelen = wirelen;
        p.vlan = 0;
        if (decode_fast(d, &p, frame, caplen)) {
            decode_commit(d, &p, ts_ns, b);
            return 1;
        }
    }
    p.frame = frame;
    p.end = frame + caplen;
    p.wirelen = wirelen;
    p.vlan = 0;
    p.vlan_seen = false;
    p.shims = p.decaps = 0;
    p.notes = 0;
    p.trail = 0;

    /* Each link type says where its payload starts and what it is. */
    switch (linktype) {
    case FL_DLT_EN10MB:
        et = DECODE_ET_TEB;
        q = frame;
        break;
    case FL_DLT_LINUX_SLL:
        /* packet type, ARPHRD type, address length, 8 address bytes, then
         * the protocol: an ethertype for everything that can carry IP. */
        if (caplen < 16)
            goto truncated;
        et = decode_et(frame + 14);
        q = frame + 16;
        break;
    case FL_DLT_LINUX_SLL2:
        /* protocol first, then reserved, ifindex, ARPHRD, type, addr */
        if (caplen < 20)
            goto truncated;
        et = decode_et(frame);
        q = frame + 20;
        break;
    case FL_DLT_NULL:
    case FL_DLT_LOOP:
        if (caplen < 4)
            goto truncated;
        et = decode_loop_family(frame);
        q = frame + 4;
        break;
    case FL_DLT_RAW:
    case 12:    /* DLT_RAW on most systems, as libpcap reports LINKTYPE_RAW */
    case 14:    /* DLT_RAW on OpenBSD */
        et = DECODE_ET_RAW;
        q = frame;
        break;
    case FL_DLT_IPV4:
        et = DECODE_ET_IPV4;
        q = frame;
        break;
    case FL_DLT_IPV6:
        et = DECODE_ET_IPV6;
        q = frame;
        break;
    case FL_DLT_PPP:
    case FL_DLT_PPP_SERIAL:
        et = DECODE_ET_PPP;
        q = frame;
        break;
    default:
        rc = decode_link_start(d, &p, linktype, ts_ns, b, &et, &q);
        if (rc != DECODE_LINK_GO)
            return rc;
        break;
    }
    rc = decode_net(d, &p, et, q);
    if (__builtin_expect(rc != 0, 0)) {
        d->drops[rc - 1]++;
        return 0;
    }
    decode_commit(d, &p, ts_ns, b);
    return 1;
truncated:
    d->drops[FL_DROP_TRUNCATED]++;
    return 0;
}
