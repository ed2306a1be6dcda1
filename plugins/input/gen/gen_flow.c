/* gen_flow.c: what each generated conversation is and what it sends.
 *
 * gen_flow_start picks a flow's kind, its exact packet count (so that the
 * total over all flows is exactly `packets` and the number of flows exactly
 * `flows`), and its endpoints, which are unique over the whole trace: flow k
 * gets client host h = perm(k mod H) and the (k / H)-th ephemeral port of
 * that host, so no 5-tuple is ever reused. gen_flow_step is the per-packet
 * state machine of each kind: TCP handshake, data rounds, FIN/ACK or RST end;
 * DNS and NTP request/response; bulk UDP (QUIC-, RTP-, ESP-like); ICMP
 * echo pairs.
 *
 * This file decides *what* is sent; gen_frame.c writes the bytes and gen.c
 * decides *when*. */
#include <math.h>
#include "gen.h"

/* Linux's default ephemeral range is 32768-60999: 28232 ports per host. */
#define GEN_EPH_BASE 32768u
#define GEN_EPH_N 28232u
/* Address space for servers and ping targets: 198.18.0.0/15 (RFC 2544),
 * minus the first and last address. */
#define GEN_SRV_SPACE 131070u

enum { TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08, TCP_ACK = 0x10 };

enum gen_tcp_phase {
    TP_SYN, TP_REFUSE, TP_SYNACK, TP_SCANRST, TP_ACK, TP_DATA,
    TP_FIN1, TP_FINACK1, TP_FIN2, TP_FINACK2, TP_RST
};

/* The mix by number of conversations (per mille), and the packets a
 * fixed-size kind sends on average; the variable kinds absorb the rest of
 * the packet budget. */
static const uint16_t gen_weight[GEN_K_COUNT] = {
    [GEN_K_TCP_WEB] = 480, [GEN_K_TCP_UPLOAD] = 40, [GEN_K_TCP_INTERACT] = 30,
    [GEN_K_TCP_SHORT] = 30, [GEN_K_UDP_DNS] = 260, [GEN_K_UDP_NTP] = 30,
    [GEN_K_UDP_BULK] = 70, [GEN_K_ICMP_ECHO] = 60,
};
static const bool gen_variable[GEN_K_COUNT] = {
    [GEN_K_TCP_WEB] = true, [GEN_K_TCP_UPLOAD] = true, [GEN_K_TCP_INTERACT] = true,
    [GEN_K_UDP_BULK] = true,
};
/* sum over fixed kinds of weight * mean size: short 2, DNS ~1.97, NTP 2, ping 9 */
#define GEN_FIXED_PKTS ((30 * 2.0 + 260 * 1.97 + 30 * 2.0 + 60 * 9.0) / 1000.0)
#define GEN_VAR_SHARE ((480 + 40 + 30 + 70) / 1000.0)

static const uint16_t gen_scan_ports[] = { 21, 23, 25, 110, 445, 3389, 5900, 8080 };

enum gen_proto gen_flow_proto(const struct gen_flow *f)
{
    switch (f->kind) {
    case GEN_K_UDP_DNS: case GEN_K_UDP_NTP: case GEN_K_UDP_BULK:
        return GEN_P_UDP;
    case GEN_K_ICMP_ECHO:
        return (f->flags & GEN_F_V6) ? GEN_P_ICMP6 : GEN_P_ICMP;
    default:
        return GEN_P_TCP;
    }
}

/* A uniform double in (0, 1). */
static double gen_unit(struct gen_rng *r)
{
    return ((double)(gen_rand(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Log-normal with the given mean: the heavy tail of real flow sizes (many
 * mice, a few elephants). sigma 1.2 puts the median at about half the mean. */
static double gen_lognormal(struct gen_rng *r, double mean)
{
    const double sigma = 1.2;
    double u1 = gen_unit(r), u2 = gen_unit(r);
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    return exp(log(mean) - sigma * sigma / 2 + sigma * z);
}

/* Packets for a variable-size kind with mean mu; `base` is the smallest
 * complete exchange (TCP: handshake + FIN close = 7). */
static uint64_t gen_size_var(struct gen_rng *r, double mu, uint32_t base)
{
    if (mu > base + 1.0) {
        double x = gen_lognormal(r, mu - base);
        double lim = 100.0 * mu;
        if (x > lim)
            x = lim;
        return base + (uint64_t)(x + 0.5);
    }
    uint32_t hi = (uint32_t)(2.0 * mu - 0.5);
    return gen_range(r, 1, hi < 1 ? 1 : hi);
}

static enum gen_kind gen_pick_kind(struct gen_rng *r)
{
    uint32_t x = gen_below(r, 1000);
    for (int k = 0; k < GEN_K_COUNT; k++) {
        if (x < gen_weight[k])
            return (enum gen_kind)k;
        x -= gen_weight[k];
    }
    return GEN_K_TCP_WEB;
}

/* Server index skewed towards small numbers: a few popular servers. */
static uint32_t gen_pick_server(struct gen_rng *r, uint32_t n)
{
    uint64_t a = gen_below(r, n), b = gen_below(r, n);
    return (uint32_t)(a * b / n);
}

void gen_flow_start(struct gen *g, struct gen_flow *f, uint64_t t)
{
    struct gen_rng *r = &g->rng;
    uint64_t k = g->started++;
    uint64_t left_flows = g->flows - k;                 /* this one included */
    uint64_t most = g->unassigned - (left_flows - 1);   /* leave 1 for each other */
    double mean = (double)g->unassigned / (double)left_flows;
    double mu = (mean - GEN_FIXED_PKTS) / GEN_VAR_SHARE;
    enum gen_kind kind = gen_pick_kind(r);
    uint64_t n;

    if (mu < 1.0)
        mu = 1.0;
    switch (kind) {
    case GEN_K_TCP_SHORT: n = gen_range(r, 1, 3); break;
    case GEN_K_UDP_DNS:   n = gen_below(r, 100) < 3 ? 1 : 2; break;   /* 3% unanswered */
    case GEN_K_UDP_NTP:   n = 2; break;
    case GEN_K_ICMP_ECHO: n = 2 * (uint64_t)gen_range(r, 1, 8); break;
    case GEN_K_UDP_BULK:  n = gen_size_var(r, mu, 2); break;
    default:              n = gen_size_var(r, mu, 7); break;
    }
    /* The last flow takes what is left, whatever that is: only a variable
     * kind can, and a TCP conversation can have any length. */
    if (left_flows == 1) {
        n = g->unassigned;
        if (!gen_variable[kind])
            kind = GEN_K_TCP_WEB;
    }
    if (n > most)
        n = most;
    if (n < 1)
        n = 1;
    if (n > UINT32_MAX)
        n = UINT32_MAX;   /* packets per flow are u32; the budget check in gen.c keeps this unreachable */
    g->unassigned -= n;

    f->kind = (uint8_t)kind;
    f->n = f->left = (uint32_t)n;
    f->flags = 0;
    f->phase = 0;
    f->unacked = 0;
    f->burst = 0;
    f->aux = 0;
    f->first = f->last = t;

    /* Endpoints: unique (client, port) per flow; see the file comment. */
    uint32_t slot = (uint32_t)(k % g->n_hosts), j = (uint32_t)(k / g->n_hosts);
    uint32_t h = (uint32_t)(((uint64_t)slot * g->host_mul + g->host_add) % g->n_hosts);
    uint64_t hh = gen_hash(h ^ (g->seed << 24));
    f->client = h;
    f->cport = (uint16_t)(GEN_EPH_BASE + (j + (uint32_t)(hh % GEN_EPH_N)) % GEN_EPH_N);
    uint64_t hv = gen_hash(hh);   /* VLAN membership is per host, like a real access port */
    f->vlan_on = g->vlan >= 1.0 || hv < g->vlan_thr;
    f->vlan = (uint16_t)(100 + (hv >> 40) % 100);
    if (g->ipv6 >= 1.0 || gen_rand(r) < g->ipv6_thr)
        f->flags |= GEN_F_V6;

    if (kind == GEN_K_ICMP_ECHO) {
        /* A flow meter keying ICMP on addresses and type/code only
         * (nfdump; flowmeter with icmp_pairs: false) needs each ping
         * session on its own (client, target) pair: the target is the
         * j-th address after the host's own offset. */
        f->server = (j + (uint32_t)((hh >> 20) % GEN_SRV_SPACE)) % GEN_SRV_SPACE;
        f->sport = 0;
        f->aux = (uint16_t)gen_rand(r);   /* echo identifier */
    } else {
        f->server = gen_pick_server(r, g->n_servers);
        switch (kind) {
        case GEN_K_TCP_WEB:      f->sport = gen_below(r, 5) ? 443 : 80; break;
        case GEN_K_TCP_UPLOAD:   f->sport = gen_below(r, 2) ? 22 : 443; break;
        case GEN_K_TCP_INTERACT: f->sport = 22; break;
        case GEN_K_TCP_SHORT:
            f->sport = gen_scan_ports[gen_below(r, sizeof(gen_scan_ports) / sizeof(gen_scan_ports[0]))];
            break;
        case GEN_K_UDP_DNS:      f->sport = 53; f->aux = (uint16_t)gen_rand(r); break;
        case GEN_K_UDP_NTP:      f->sport = 123; break;
        default: {               /* UDP bulk: QUIC 60%, RTP 25%, IPsec NAT-T 15% */
            uint32_t x = gen_below(r, 100);
            f->aux = x < 60 ? 0 : x < 85 ? 1 : 2;
            f->sport = f->aux == 0 ? 443 : f->aux == 1 ? 5004 : 4500;
            break;
        }
        }
    }
    /* Servers are a mix of OS defaults (64, 128, 255) some hops away; the
     * capture point is at the client edge, so client TTLs are as sent. */
    uint64_t sh = gen_hash(((uint64_t)f->server << 1) ^ g->seed);
    static const uint8_t ttl_base[4] = { 64, 64, 128, 255 };
    f->ttl_s = (uint8_t)(ttl_base[sh & 3] - 4 - (sh >> 8) % 21);
    f->ttl_c = (hh >> 60) < 3 ? 128 : 64;   /* about one client in five runs Windows */

    if (f->kind <= GEN_K_TCP_SHORT) {
        f->cseq = (uint32_t)gen_rand(r);
        f->sseq = (uint32_t)gen_rand(r);
        f->phase = TP_SYN;
        if (gen_below(r, 100) < 30)
            f->flags |= GEN_F_SRV_CLOSE;
        /* n >= 4: handshake, n - 4 data packets, RST; n >= 7 mostly:
         * handshake, n - 7 data packets, FIN close (gen_tcp_tail); 5% of
         * those are left open instead (handshake, n - 3 data packets). */
        if (n >= 4 && (n < 7 || gen_below(r, 100) < 10))
            f->flags |= GEN_F_RST_END;
        else if (n >= 7 && gen_below(r, 100) < 5)
            f->flags |= GEN_F_OPEN_END;
    }
    f->ipid[0] = (uint16_t)gen_rand(r);
    f->ipid[1] = (uint16_t)gen_rand(r);
}

/* Packets after the data phase: the FIN close (4), the RST (1), or none
 * (left open). */
static inline uint32_t gen_tcp_tail(const struct gen_flow *f)
{
    return (f->flags & GEN_F_RST_END) ? 1 : (f->flags & GEN_F_OPEN_END) ? 0 : 4;
}

/* Fill the TCP fields of a packet from side `dir` and advance that side's
 * sequence number by what the segment consumes. */
static void gen_tcp_seg(struct gen_flow *f, struct gen_pkt *p, uint8_t dir, uint8_t flags,
                        uint16_t len)
{
    uint32_t *own = dir ? &f->sseq : &f->cseq, *other = dir ? &f->cseq : &f->sseq;
    p->dir = dir;
    p->tcp_flags = flags;
    p->pay_len = len;
    p->seq = *own;
    p->ack = (flags & TCP_ACK) ? *other : 0;
    *own += len + ((flags & (TCP_SYN | TCP_FIN)) ? 1 : 0);
}

/* One data-phase packet: request/response rounds with delayed ACKs every
 * second bulk segment (web, upload), or keystroke/echo/ACK (interactive). */
static void gen_tcp_data(struct gen *g, struct gen_flow *f, struct gen_pkt *p)
{
    struct gen_rng *r = &g->rng;
    uint16_t mss = (f->flags & GEN_F_V6) ? 1440 : 1460;

    if (f->kind == GEN_K_TCP_INTERACT) {
        switch (f->aux) {
        case 0:
            gen_tcp_seg(f, p, 0, TCP_PSH | TCP_ACK, (uint16_t)gen_range(r, 36, 100));
            p->gap = GEN_GAP_TURN;
            f->aux = 1;
            break;
        case 1:
            gen_tcp_seg(f, p, 1, TCP_PSH | TCP_ACK, (uint16_t)gen_range(r, 36, 400));
            p->gap = GEN_GAP_TURN;
            f->aux = 2;
            break;
        default:
            gen_tcp_seg(f, p, 0, TCP_ACK, 0);
            p->gap = GEN_GAP_NORMAL;
            f->aux = 0;
            break;
        }
        return;
    }
    /* web: the client asks, the server sends; upload: the reverse.
     * aux: 0 = a request is next, 1 = the response's first segment,
     * 2 = the rest of the response. */
    uint8_t bulk = f->kind == GEN_K_TCP_WEB ? 1 : 0, req = !bulk;
    bool http = f->sport == 80;
    if (f->aux == 0) {
        uint16_t len;
        if (http) {
            len = gen_http_request(g, f, (uint16_t)gen_range(r, GEN_HTTP_REQ_MIN, 1200));
            p->pay = g->scratch;
        } else {
            len = bulk ? (uint16_t)gen_range(r, 80, 1200) : (uint16_t)gen_range(r, 20, 200);
        }
        gen_tcp_seg(f, p, req, TCP_PSH | TCP_ACK, len);
        uint32_t lim = (f->left - gen_tcp_tail(f)) / 4;
        if (lim < 4)
            lim = 4;
        if (lim > 2000)
            lim = 2000;
        f->burst = (uint16_t)gen_range(r, 1, lim);
        /* an HTTP head must fit in a one-segment response; and tiny last
         * segments read as broken records to an SSH or TLS dissector */
        f->last_len = (uint16_t)gen_range(r, http && f->burst == 1 ? GEN_HTTP_RESP_MAX + 10 : 64, mss);
        f->unacked = 0;
        f->aux = 1;
        p->gap = GEN_GAP_TURN;
    } else if (f->unacked >= 2 || f->burst == 0) {
        gen_tcp_seg(f, p, req, TCP_ACK, 0);
        f->unacked = 0;
        if (f->burst == 0) {
            f->aux = 0;
            p->gap = GEN_GAP_NORMAL;   /* think time before the next request */
        } else {
            p->gap = GEN_GAP_BURST;
        }
    } else {
        bool last = f->burst == 1;
        uint16_t len = last ? f->last_len : mss;
        if (http && f->aux == 1) {
            p->pre_len = gen_http_response(g, (uint32_t)(f->burst - 1) * mss + f->last_len);
            p->pre = g->scratch;
        }
        gen_tcp_seg(f, p, bulk, last ? (TCP_PSH | TCP_ACK) : TCP_ACK, len);
        f->aux = 2;
        f->burst--;
        f->unacked++;
        p->gap = last ? GEN_GAP_TURN : GEN_GAP_BURST;
    }
}

static void gen_tcp_step(struct gen *g, struct gen_flow *f, struct gen_pkt *p)
{
    uint8_t closer = (f->flags & GEN_F_SRV_CLOSE) ? 1 : 0;
    uint8_t end = (f->flags & GEN_F_RST_END) ? TP_RST : TP_FIN1;

    p->gap = GEN_GAP_TURN;
    switch (f->phase) {
    case TP_SYN:
        gen_tcp_seg(f, p, 0, TCP_SYN, 0);
        p->syn_opts = 1;
        f->phase = f->n == 2 ? TP_REFUSE : TP_SYNACK;
        break;
    case TP_REFUSE:     /* nothing listens: RST|ACK acknowledging the SYN */
        gen_tcp_seg(f, p, 1, TCP_RST | TCP_ACK, 0);
        p->seq = 0;
        break;
    case TP_SYNACK:
        gen_tcp_seg(f, p, 1, TCP_SYN | TCP_ACK, 0);
        p->syn_opts = 1;
        f->phase = f->n == 3 ? TP_SCANRST : TP_ACK;
        break;
    case TP_SCANRST:    /* half-open scan: the client resets the SYN|ACK */
        gen_tcp_seg(f, p, 0, TCP_RST, 0);
        break;
    case TP_ACK:
        gen_tcp_seg(f, p, 0, TCP_ACK, 0);
        f->phase = f->left - 1 > gen_tcp_tail(f) ? TP_DATA : end;
        p->gap = GEN_GAP_BURST;
        break;
    case TP_DATA:
        gen_tcp_data(g, f, p);
        if (f->left - 1 == gen_tcp_tail(f))   /* left is decremented after the step */
            f->phase = end;
        break;
    case TP_FIN1:
        gen_tcp_seg(f, p, closer, TCP_FIN | TCP_ACK, 0);
        f->phase = TP_FINACK1;
        break;
    case TP_FINACK1:
        gen_tcp_seg(f, p, !closer, TCP_ACK, 0);
        f->phase = TP_FIN2;
        p->gap = GEN_GAP_BURST;
        break;
    case TP_FIN2:
        gen_tcp_seg(f, p, !closer, TCP_FIN | TCP_ACK, 0);
        f->phase = TP_FINACK2;
        p->gap = GEN_GAP_CLOSE;
        break;
    case TP_FINACK2:
        gen_tcp_seg(f, p, closer, TCP_ACK, 0);
        break;
    default:            /* TP_RST: abort from the closing side */
        gen_tcp_seg(f, p, closer, TCP_RST | TCP_ACK, 0);
        break;
    }
}

static void gen_udp_bulk(struct gen *g, struct gen_flow *f, struct gen_pkt *p, uint32_t sent)
{
    struct gen_rng *r = &g->rng;
    p->gap = GEN_GAP_NORMAL;
    p->pre = g->scratch;
    switch (f->aux) {
    case 0:     /* QUIC-like: client first, server data, client ACKs every few */
        if (sent == 0) {
            p->dir = 0;
            p->pay_len = 1252;
            f->burst = (uint16_t)gen_range(r, 3, 8);
            p->gap = GEN_GAP_TURN;
        } else if (f->burst == 0) {
            p->dir = 0;
            p->pay_len = (uint16_t)gen_range(r, 30, 60);
            f->burst = (uint16_t)gen_range(r, 3, 8);
        } else {
            p->dir = 1;
            p->pay_len = (uint16_t)gen_range(r, 1200, 1350);
            f->burst--;
            p->gap = GEN_GAP_BURST;
        }
        /* a short header's first byte (fixed bit set, form bit clear), so
         * nothing takes the datagram for RTCP or a long header */
        g->scratch[0] = (uint8_t)(0x40 | (sent & 0x3f));
        g->scratch[1] = (uint8_t)(sent >> 6);
        p->pre_len = 2;
        break;
    case 1:     /* RTP: 20 ms G.711 frames both ways */
        p->dir = sent & 1;
        p->pay_len = 172;
        p->pre_len = gen_rtp_header(g, f, p->dir, sent / 2);
        break;
    default:    /* IPsec NAT-T: ESP either way, small and large */
        p->dir = (uint8_t)gen_below(r, 2);
        p->pay_len = gen_below(r, 2) ? (uint16_t)gen_range(r, 60, 200)
                                     : (uint16_t)gen_range(r, 1000, 1400);
        p->pre_len = gen_esp_header(g, f, p->dir, f->ipid[p->dir]);
        break;
    }
}

void gen_flow_step(struct gen *g, struct gen_flow *f, struct gen_pkt *p)
{
    uint32_t sent = f->n - f->left;

    *p = (struct gen_pkt){ .gap = GEN_GAP_NORMAL };
    switch (f->kind) {
    case GEN_K_UDP_DNS:
        p->dir = sent ? 1 : 0;
        p->pay_len = gen_dns_payload(g, f, sent != 0);
        p->pay = g->scratch;
        p->gap = GEN_GAP_TURN;
        break;
    case GEN_K_UDP_NTP:
        p->dir = sent ? 1 : 0;
        p->pay_len = gen_ntp_payload(g, f, sent != 0, g->start_ns + g->now);
        p->pay = g->scratch;
        p->gap = GEN_GAP_TURN;
        break;
    case GEN_K_UDP_BULK:
        gen_udp_bulk(g, f, p, sent);
        break;
    case GEN_K_ICMP_ECHO: {
        bool v6 = f->flags & GEN_F_V6;
        p->dir = sent & 1;
        p->icmp_type = p->dir ? (v6 ? 129 : 0) : (v6 ? 128 : 8);
        p->icmp_id = f->aux;
        p->icmp_seq = (uint16_t)(sent / 2 + 1);
        p->pay_len = 56;          /* ping's default: timestamp + pattern */
        p->gap = p->dir ? GEN_GAP_NORMAL : GEN_GAP_TURN;
        break;
    }
    default:
        gen_tcp_step(g, f, p);
        break;
    }
    f->left--;
}
