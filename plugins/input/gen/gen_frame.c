/* gen_frame.c: the bytes of one generated frame.
 *
 * Ethernet (802.1Q when the client's host is on a VLAN), IPv4 with a valid
 * header checksum or IPv6 with a flow label, then TCP (SYN options on the
 * handshake), UDP or ICMP/ICMPv6 echo, with valid L4 checksums, and frames
 * padded to Ethernet's 60-byte minimum as a NIC would. Filler payload comes
 * from a seeded random pad at an even offset: its ones'-complement sum is a
 * difference of two prefix sums, so checksums cost O(1) per packet instead
 * of a pass over the payload. Application payloads that dissectors parse
 * (DNS, NTP, HTTP, RTP, ESP) come from gen_app.c.
 *
 * Addresses: clients 10.0.0.0/8 and 2001:db8:c1::/96, servers and ping
 * targets 198.18.0.0/15 (RFC 2544) and 2001:db8:5e::/96; MACs are locally
 * administered. Nothing here consumes the PRNG stream except what
 * gen_flow.c passed in the packet. */
#include <stdlib.h>
#include <string.h>
#include "gen.h"

static const uint8_t gen_gw_mac[6] = { 0x02, 0x1f, 0x10, 0x00, 0x00, 0x01 };

/* Ones'-complement sums (RFC 1071) are kept in host byte order: the sum
 * of native 16-bit words equals the sum of big-endian words up to one byte
 * swap at the end (RFC 1071 2(B)), so bytes are added 4 at a time as
 * native words, big-endian constants are swapped once into host order, and
 * gen_csum folds, swaps and complements once per checksum. */
static inline __attribute__((always_inline)) uint64_t gen_sum(uint64_t s, const uint8_t *p, size_t n)
{
    uint64_t v;
    uint32_t w;
    uint16_t h;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&v, p, 8);
        s += (v & 0xffffffffu) + (v >> 32);
    }
    if (n >= 4) {
        memcpy(&w, p, 4);
        s += w;
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        memcpy(&h, p, 2);
        s += h;
        p += 2;
        n -= 2;
    }
    if (n) {
        uint8_t last[2] = { p[0], 0 };
        memcpy(&h, last, 2);
        s += h;
    }
    return s;
}

/* A big-endian 16-bit value as the host-order sum sees it. */
static inline uint64_t gen_be(uint32_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    uint16_t h;
    memcpy(&h, b, 2);
    return h;
}

/* Fold a host-order sum and return the checksum to store big-endian. */
static inline uint16_t gen_csum(uint64_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    uint16_t h = (uint16_t)~s, be;
    uint8_t b[2];
    memcpy(b, &h, 2);             /* host bytes, already in wire order */
    be = (uint16_t)(b[0] << 8 | b[1]);
    return be;
}

int gen_pad_init(struct gen *g)
{
    /* Its own stream, so the pad never shifts the main one. */
    uint64_t x = g->seed ^ 0x70616444u;
    struct gen_rng r = { { gen_splitmix(&x), gen_splitmix(&x), gen_splitmix(&x), gen_splitmix(&x) } };
    uint32_t words = GEN_PAD_BYTES / 2;

    if (!(g->pad = malloc(GEN_PAD_BYTES)) || !(g->pad_sum = malloc((words + 1) * sizeof(uint32_t))))
        return -FL_ENOMEM;
    for (uint32_t i = 0; i < GEN_PAD_BYTES; i += 8) {
        uint64_t v = gen_rand(&r);
        memcpy(g->pad + i, &v, 8);
    }
    /* host-order words; at most 0xffff each, so the sums fit 32 bits */
    g->pad_sum[0] = 0;
    for (uint32_t i = 0; i < words; i++) {
        uint16_t h;
        memcpy(&h, g->pad + 2 * i, 2);
        g->pad_sum[i + 1] = g->pad_sum[i] + h;
    }
    return 0;
}

/* Host-order sum of pad[off, off + len) with off even. */
static inline uint64_t gen_pad_sumof(const struct gen *g, uint32_t off, uint32_t len)
{
    uint64_t s = g->pad_sum[(off + len) / 2] - g->pad_sum[off / 2];
    if (len & 1)
        s = gen_sum(s, g->pad + off + len - 1, 1);
    return s;
}

/* Address of the client (side 0) or server (side 1): 4 or 16 bytes. */
static void gen_addr(const struct gen_flow *f, int side, uint8_t *out)
{
    uint32_t idx = (side ? f->server : f->client) + 1;
    if (!(f->flags & GEN_F_V6)) {
        gen_put32(out, (side ? 0xc6120000u : 0x0a000000u) + idx);
        return;
    }
    static const uint8_t pfx[2][12] = {
        { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0xc1 },
        { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x5e },
    };
    memcpy(out, pfx[side], 12);
    gen_put32(out + 12, idx);
}

/* ping's payload on 64-bit Linux: a struct timeval, then bytes 0x10.. */
static void gen_icmp_payload(uint8_t *d, uint64_t ts_abs)
{
    uint64_t sec = ts_abs / 1000000000u, usec = ts_abs % 1000000000u / 1000u;
    memcpy(d, &sec, 8);
    memcpy(d + 8, &usec, 8);
    for (int i = 16; i < 56; i++)
        d[i] = (uint8_t)i;
}

uint32_t gen_frame_build(const struct gen *g, const struct gen_flow *f, const struct gen_pkt *p,
                         uint64_t ts_abs, uint8_t *out, uint32_t room, uint32_t *ip_len)
{
    bool v6 = f->flags & GEN_F_V6;
    enum gen_proto pc = gen_flow_proto(f);
    uint8_t cmac[6] = { 0x02, 0x00 }, src[16], dst[16];
    uint8_t *q = out, *ip, *l4;
    uint32_t l4h, l4len, alen = v6 ? 16 : 4;
    uint8_t proto;
    uint64_t sum;

    /* Ethernet: the client talks to its gateway. */
    gen_put32(cmac + 2, f->client);
    memcpy(q, p->dir ? cmac : gen_gw_mac, 6);
    memcpy(q + 6, p->dir ? gen_gw_mac : cmac, 6);
    q += 12;
    if (f->vlan_on) {
        gen_put16(q, 0x8100);
        gen_put16(q + 2, f->vlan);
        q += 4;
    }
    gen_put16(q, v6 ? 0x86dd : 0x0800);
    ip = q + 2;

    switch (pc) {
    case GEN_P_TCP:  proto = 6;  l4h = p->syn_opts ? 40 : 20; break;
    case GEN_P_UDP:  proto = 17; l4h = 8; break;
    case GEN_P_ICMP: proto = 1;  l4h = 8; break;
    default:         proto = 58; l4h = 8; break;
    }
    l4len = l4h + p->pay_len;
    gen_addr(f, p->dir, src);
    gen_addr(f, !p->dir, dst);

    if (!v6) {
        *ip_len = 20 + l4len;
        ip[0] = 0x45;
        ip[1] = 0;
        gen_put16(ip + 2, *ip_len);
        gen_put16(ip + 4, p->ipid);
        gen_put16(ip + 6, proto == 6 ? 0x4000 : 0);   /* DF on TCP, as stacks do */
        ip[8] = p->dir ? f->ttl_s : f->ttl_c;
        ip[9] = proto;
        memset(ip + 10, 0, 2);
        memcpy(ip + 12, src, 4);
        memcpy(ip + 16, dst, 4);
        gen_put16(ip + 10, gen_csum(gen_sum(0, ip, 20)));
        l4 = ip + 20;
    } else {
        /* each end picks its own flow label for the connection */
        uint32_t label = (uint32_t)gen_hash((uint64_t)f->client << 24 ^ (uint64_t)f->cport << 1 ^ p->dir ^
                                            (uint64_t)f->server << 40) & 0xfffff;
        *ip_len = 40 + l4len;
        gen_put32(ip, 0x60000000u | label);
        gen_put16(ip + 4, l4len);
        ip[6] = proto;
        ip[7] = p->dir ? f->ttl_s : f->ttl_c;
        memcpy(ip + 8, src, 16);
        memcpy(ip + 24, dst, 16);
        l4 = ip + 40;
    }
    /* pseudo-header (RFC 793/768; RFC 8200 8.1); ICMPv4 has none */
    sum = pc == GEN_P_ICMP ? 0 : gen_sum(gen_sum(gen_be(proto) + gen_be(l4len), src, alen), dst, alen);

    uint16_t p0 = p->dir ? f->sport : f->cport, p1 = p->dir ? f->cport : f->sport;
    uint8_t *pay = l4 + l4h;
    if (pc == GEN_P_TCP) {
        uint32_t tsval = (uint32_t)(ts_abs / 1000000u);
        gen_put16(l4, p0);
        gen_put16(l4 + 2, p1);
        gen_put32(l4 + 4, p->seq);
        gen_put32(l4 + 8, p->ack);
        l4[12] = (uint8_t)(l4h / 4) << 4;
        l4[13] = p->tcp_flags;
        gen_put16(l4 + 14, (p->tcp_flags & 0x02) ? (p->dir ? 65160 : 64240) : 501);
        memset(l4 + 16, 0, 4);
        if (p->syn_opts) {
            uint8_t *o = l4 + 20;
            o[0] = 2; o[1] = 4; gen_put16(o + 2, v6 ? 1440 : 1460);         /* MSS */
            o[4] = 4; o[5] = 2;                                              /* SACK permitted */
            o[6] = 8; o[7] = 10; gen_put32(o + 8, tsval);                    /* timestamps */
            gen_put32(o + 12, p->dir ? tsval - 1 : 0);
            o[16] = 1;                                                       /* NOP */
            o[17] = 3; o[18] = 3; o[19] = 7;                                 /* window scale */
        }
    } else if (pc == GEN_P_UDP) {
        gen_put16(l4, p0);
        gen_put16(l4 + 2, p1);
        gen_put16(l4 + 4, l4len);
        memset(l4 + 6, 0, 2);
    } else {
        l4[0] = p->icmp_type;
        l4[1] = 0;
        memset(l4 + 2, 0, 2);
        gen_put16(l4 + 4, p->icmp_id);
        gen_put16(l4 + 6, p->icmp_seq);
        gen_icmp_payload(pay, ts_abs);
    }
    sum = gen_sum(sum, l4, l4h);
    if (pc == GEN_P_ICMP || pc == GEN_P_ICMP6) {
        sum = gen_sum(sum, pay, p->pay_len);
    } else if (p->pay) {
        memcpy(pay, p->pay, p->pay_len);
        sum = gen_sum(sum, pay, p->pay_len);
    } else if (p->pay_len) {
        /* An application header (even length, so the filler stays word
         * aligned for the prefix sums), then filler. Copy only what the
         * snaplen keeps; the sum covers all of it. */
        uint32_t keep = room - (uint32_t)(pay - out) - p->pre_len, fill = p->pay_len - p->pre_len;
        if (p->pre_len) {
            memcpy(pay, p->pre, p->pre_len);
            sum = gen_sum(sum, pay, p->pre_len);
        }
        memcpy(pay + p->pre_len, g->pad + p->pay_off, fill < keep ? fill : keep);
        sum += gen_pad_sumof(g, p->pay_off, fill);
    }
    uint16_t cs = gen_csum(sum);
    if (pc == GEN_P_UDP && cs == 0)
        cs = 0xffff;   /* 0 means "no checksum" in UDP */
    gen_put16(l4 + (pc == GEN_P_TCP ? 16 : pc == GEN_P_UDP ? 6 : 2), cs);

    uint32_t wire = (uint32_t)(pay - out) + p->pay_len;
    if (wire < 60) {
        memset(out + wire, 0, 60 - wire);
        wire = 60;
    }
    return wire;
}
