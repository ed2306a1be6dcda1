/* flowmeter.c: aggregate.flowmeter, bidirectional flow features from packet
 * batches (DESIGN.md §6, seed 000 Table 2). This file is the plugin: its
 * option table, describe (input check, output schema), binding the packet
 * columns once per input schema, the per-batch packet loop that finds each
 * packet's flow and updates it, and the tick/drain entry points. Where flows
 * are kept and when they end is flowmeter_table.c; the records it emits are
 * flowmeter_emit.c. */
#include <stddef.h>
#include <stdio.h>
#include "flowmeter.h"

#define FLOWMETER_TCP_FIN 0x01
#define FLOWMETER_TCP_SYN 0x02
#define FLOWMETER_TCP_RST 0x04
#define FLOWMETER_TCP_ACK 0x10
/* How many packets ahead of its update a packet's slot is prefetched (its
 * record: half as many). Long enough to cover a DRAM miss with the work of
 * the packets in between, short enough not to overrun the line fill
 * buffers (4 lines per packet). */
#define FLOWMETER_AHEAD 16u
#define FLOWMETER_RING 32u   /* power of two > FLOWMETER_AHEAD */

/* Defaults follow nfdump's nfpcapd (-e 300,60: active 300 s, inactive
 * 60 s), the common ground of NetFlow/IPFIX meters; see README.md. */
static const struct fl_opt flowmeter_opts[] = {
    { .name = "idle_timeout", .type = FL_OPT_DURATION, .offset = offsetof(struct flowmeter, idle),
      .def = "60s", .min = "1ms", .max = "7d",
      .doc = "a flow ends when neither side sent a packet for this long (nfpcapd: 60s)" },
    { .name = "active_timeout", .type = FL_OPT_DURATION,
      .offset = offsetof(struct flowmeter, active), .def = "300s", .min = "1ms", .max = "7d",
      .doc = "a longer flow is cut into records this long; the next one keeps its src (nfpcapd: 300s)" },
    { .name = "tcp_end", .type = FL_OPT_BOOL, .offset = offsetof(struct flowmeter, tcp_end),
      .def = "true", .doc = "end a TCP flow after a FIN in both directions or a RST" },
    { .name = "linger", .type = FL_OPT_DURATION, .offset = offsetof(struct flowmeter, linger),
      .def = "2s", .min = "0s", .max = "1h",
      .doc = "after FIN both ways or RST, keep the flow this long so the last ACKs stay in it" },
    { .name = "max_flows", .type = FL_OPT_UINT, .offset = offsetof(struct flowmeter, max_flows),
      .def = "1048576", .min = "1", .max = "268435456", .unit = "flows",
      .doc = "flows held at once (about 210 bytes each when used); beyond it the nearest to "
             "expiry end early as \"evicted\"" },
    { .name = "key_vlan", .type = FL_OPT_BOOL, .offset = offsetof(struct flowmeter, key_vlan),
      .def = "false", .doc = "the outer VLAN id is part of the flow key" },
    { .name = "key_tunnel", .type = FL_OPT_BOOL, .offset = offsetof(struct flowmeter, key_tunnel),
      .def = "false",
      .doc = "the outermost tunnel (kind and id: VNI, TEID, ...) is part of the flow key, "
             "and records get tunnel and tunnel_id columns; needs the input's tunnel "
             "columns (input.pcap: decap and tunnel_columns)" },
    { .name = "sampling_scale", .type = FL_OPT_BOOL,
      .offset = offsetof(struct flowmeter, sampling_scale), .def = "true",
      .doc = "packets with a sampling_rate (sFlow, sampled IPFIX) stand for that many: "
             "packets, bytes and the other counts are scaled by it, and records get "
             "sampled_packets, sampled_bytes and sampling_rate; false: counted as seen" },
    { .name = "icmp_pairs", .type = FL_OPT_BOOL,
      .offset = offsetof(struct flowmeter, icmp_pairs), .def = "true",
      .doc = "an ICMP query and its reply (echo, timestamp, information, address mask; ICMPv6 "
             "echo) are one flow, keyed by addresses and identifier; false: one flow per "
             "type/code and direction (nfdump)" },
    { .name = "batch_size", .type = FL_OPT_UINT, .offset = offsetof(struct flowmeter, batch_size),
      .def = "4096", .min = "1", .max = "1048576", .unit = "rows",
      .doc = "flow records per output batch" },
    { .name = "flush_interval", .type = FL_OPT_DURATION,
      .offset = offsetof(struct flowmeter, flush_interval), .def = "1s", .min = "0s", .max = "1h",
      .doc = "emit a partial output batch once its first record waited this long (stage clock)" },
    { 0 }
};

/* ---- input binding ---------------------------------------------------- */
/* The packet fields read, in the order of enum flowmeter_field. */
static const struct fl_want flowmeter_wants[FLOWMETER_NFIELDS] = {
    [FLOWMETER_F_TS] = { "ts", FL_T_TS, FL_WANT_REQUIRED },
    [FLOWMETER_F_SRC] = { "src_addr", FL_T_ADDR, FL_WANT_REQUIRED },
    [FLOWMETER_F_DST] = { "dst_addr", FL_T_ADDR, FL_WANT_REQUIRED },
    [FLOWMETER_F_SPORT] = { "src_port", FL_T_U16, FL_WANT_REQUIRED },
    [FLOWMETER_F_DPORT] = { "dst_port", FL_T_U16, FL_WANT_REQUIRED },
    [FLOWMETER_F_PROTO] = { "proto", FL_T_U8, FL_WANT_REQUIRED },
    [FLOWMETER_F_IPLEN] = { "ip_len", FL_T_U32, FL_WANT_REQUIRED },
    [FLOWMETER_F_PAYLEN] = { "payload_len", FL_T_U32, FL_WANT_REQUIRED },
    [FLOWMETER_F_IPV] = { "ip_version", FL_T_U8, 0 },
    [FLOWMETER_F_FLAGS] = { "tcp_flags", FL_T_U8, 0 },
    [FLOWMETER_F_VLAN] = { "vlan", FL_T_U16, 0 },
    [FLOWMETER_F_HASH] = { "flow_hash", FL_T_U64, 0 },
    [FLOWMETER_F_ICMP_ID] = { "icmp_id", FL_T_U16, 0 },
    [FLOWMETER_F_TUNNEL] = { "tunnel", FL_T_STR, 0 },
    [FLOWMETER_F_TUNNEL_ID] = { "tunnel_id", FL_T_U32, 0 },
    [FLOWMETER_F_SAMPLING] = { "sampling_rate", FL_T_U32, 0 },
};

static int flowmeter_bind_new(struct fl_ctx *ctx, struct flowmeter *fm)
{
    if (fm->bind)
        return 0;
    return fl_bind_new(ctx, flowmeter_wants, FLOWMETER_NFIELDS, sizeof(flowmeter_wants[0]),
                       &fm->bind);
}

/* Field f of the bound batch, or NULL when the input lacks it. */
static const void *flowmeter_field(const struct flowmeter *fm, enum flowmeter_field f)
{
    return fl_bind_col(fm->bind, f) >= 0 ? fl_bind_data(fm->bind, f) : NULL;
}

/* ---- per packet ------------------------------------------------------- */
/* The bucket and tag come from the top bits of one multiply of the
 * decoder's flow hash: no rehash of the key, but a hash that is weak in its
 * high bits still spreads. The VLAN is mixed in only when it is keyed. */
static inline uint64_t flowmeter_mix(uint64_t h, uint16_t vlan, bool key_vlan)
{
    if (key_vlan)
        h ^= (uint64_t)vlan * 0xff51afd7ed558ccdull;
    return h * 0x9e3779b97f4a7c15ull;
}

static inline uint64_t flowmeter_mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

/* key_tunnel: row i's outermost tunnel into p (kind, id), read from the
 * tunnel/tunnel_id columns. The decoder writes one span per kind and batch,
 * so the last span seen names the kind without a string compare. */
struct flowmeter_tunc {
    const struct fl_batch *b;
    int ck, cid;                 /* column indexes, -1 = absent */
    struct fl_span last;
    int last_kind;
};

static void flowmeter_tunnel_of(struct flowmeter_tunc *tc, uint32_t i, struct flowmeter_pkt *p)
{
    p->tunnel = 0;
    p->tunnel_has_id = false;
    p->tunnel_id = 0;
    if (tc->ck >= 0 && fl_batch_is_valid(tc->b, (uint32_t)tc->ck, i)) {
        struct fl_span s = FL_COL(tc->b, tc->ck, struct fl_span)[i];
        if (s.off != tc->last.off || s.len != tc->last.len || tc->last_kind < 0) {
            tc->last = s;
            tc->last_kind = fl_tunnel_kind_from_name(fl_batch_bytes(tc->b, s), s.len);
        }
        p->tunnel = (uint8_t)tc->last_kind;
    }
    if (tc->cid >= 0 && fl_batch_is_valid(tc->b, (uint32_t)tc->cid, i)) {
        p->tunnel_has_id = true;
        p->tunnel_id = FL_COL(tc->b, tc->cid, uint32_t)[i];
    }
}

static inline uint64_t flowmeter_mix_tunnel(uint64_t fh, const struct flowmeter_pkt *p)
{
    return fh ^ flowmeter_mix64((uint64_t)p->tunnel << 33 | (uint64_t)p->tunnel_has_id << 32 |
                                p->tunnel_id);
}

/* Only for inputs without the decoder's flow_hash column: a symmetric hash
 * of (proto, endpoints in canonical order). */
static uint64_t flowmeter_hash_sym(const struct flowmeter_pkt *p)
{
    const struct fl_addr *x = p->src, *y = p->dst;
    uint16_t px = p->sport, py = p->dport;
    int c = memcmp(x, y, 16);
    if (c > 0 || (c == 0 && px > py)) {
        x = p->dst;
        y = p->src;
        px = p->dport;
        py = p->sport;
    }
    uint64_t w[5], h = 0x243f6a8885a308d3ull;
    memcpy(&w[0], x, 16);
    memcpy(&w[2], y, 16);
    w[4] = (uint64_t)px << 32 | (uint64_t)py << 16 | p->proto;
    for (int i = 0; i < 5; i++) {
        h = (h ^ w[i]) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    return h;
}

/* An ICMP query/reply message (icmp_pairs) gets the key of its pair: port
 * pair (identifier, request type << 8 | code), and a reply is turned
 * round to the request's direction, so request and reply find one flow
 * whose src is the request's sender. By value, so the packet being built
 * stays in registers. */
struct flowmeter_icmpk {
    uint16_t sport, dport;
    bool qr, reply;
};

static inline struct flowmeter_icmpk flowmeter_icmp_key(uint8_t proto, uint16_t dport, uint16_t id)
{
    struct flowmeter_icmpk k = { 0 };
    int reply, q = fl_icmp_query(proto, (uint8_t)(dport >> 8), &reply);
    if (q >= 0) {
        k.qr = true;
        k.reply = reply;
        k.sport = id;
        k.dport = (uint16_t)(q << 8 | (dport & 0xff));
    }
    return k;
}

/* The hash of a packet when the decoder's (dflt, 0 without flow_hash)
 * is not the key's: inputs without flow_hash, and ICMP query/reply
 * messages, which the decoder hashes by identifier, not by the key used
 * here with icmp_pairs: false. */
static __attribute__((noinline)) uint64_t flowmeter_hash_own(const struct flowmeter *fm,
                                                             struct flowmeter_pkt q, uint16_t id,
                                                             bool has_hash, uint64_t dflt)
{
    struct flowmeter_icmpk k = { 0 };
    if (q.proto == 1 || q.proto == 58)
        k = flowmeter_icmp_key(q.proto, q.dport, id);
    if (has_hash && !k.qr)
        return dflt;
    if (k.qr && fm->icmp_pairs) {
        const struct fl_addr *t = q.src;
        q.sport = k.sport;
        q.dport = k.dport;
        if (k.reply) {
            q.src = q.dst;
            q.dst = t;
        }
    }
    return flowmeter_hash_sym(&q);
}

/* FIN from both sides or a RST closes the connection: the flow lingers
 * until close + linger (so the last ACK joins it), then ends as fin/rst. */
static void flowmeter_tcp_end(struct flowmeter *fm, uint32_t idx, const struct flowmeter_pkt *p,
                              int dir)
{
    struct flowmeter_flow *f = &fm->pool[idx];
    enum flowmeter_reason r;

    if (p->flags & FLOWMETER_TCP_RST) {
        f->state |= FLOWMETER_CLOSED | FLOWMETER_CLOSED_RST;
    } else {
        f->state |= dir == 1 ? FLOWMETER_FIN_FWD : FLOWMETER_FIN_REV;
        if ((f->state & (FLOWMETER_FIN_FWD | FLOWMETER_FIN_REV))
            != (FLOWMETER_FIN_FWD | FLOWMETER_FIN_REV))
            return;
        f->state |= FLOWMETER_CLOSED;
    }
    fm->cold[idx].close_ts = p->ts;
    uint64_t d = flowmeter_deadline(fm, idx, &r);
    if (d < fm->cold[idx].sched)
        flowmeter_wheel_move(fm, idx, d);   /* the wheel must not see it late */
}

/* What every packet adds to its record, besides the packet count and the
 * times: bytes, flags, payload, sums of squares, extremes, TCP state.
 * Forced inline: with two callers GCC kept it out of line, a call per
 * packet. */
static inline __attribute__((always_inline)) void
flowmeter_add(struct flowmeter *fm, uint32_t idx, uint32_t iplen, uint32_t paylen, uint8_t flags,
              uint8_t proto, int dir)
{
    struct flowmeter_flow *f = &fm->pool[idx];
    struct flowmeter_cold *c = &fm->cold[idx];   /* touched only on a carry */

    if (dir == 1) {
        f->fwd_bytes += iplen;
        f->fwd_flags |= flags;
    } else {
        f->rev_bytes += iplen;
        f->rev_flags |= flags;
        f->state |= FLOWMETER_REV;
    }
    f->pay_sum += paylen;
    f->nopay_lo += !paylen;
    if (__builtin_expect(!f->nopay_lo && !paylen, 0))
        c->nopay_hi++;
    uint64_t sq = (uint64_t)iplen * iplen;
    if (__builtin_expect((f->ps_sq_lo += sq) < sq, 0))
        c->ps_sq_hi++;
    sq = (uint64_t)paylen * paylen;
    if (__builtin_expect((f->pay_sq_lo += sq) < sq, 0))
        c->pay_sq_hi++;
    if (iplen < f->ps_min)
        f->ps_min = iplen;
    if (iplen > f->ps_max)
        f->ps_max = iplen;
    if (paylen < f->pay_min)
        f->pay_min = paylen;
    if (paylen > f->pay_max)
        f->pay_max = paylen;
    if (proto == 6)
        flowmeter_conn_update(fm, f, flags, paylen, dir);
}

/* A packet after the first of its record: its count and the times. */
static inline __attribute__((always_inline)) void
flowmeter_more(struct flowmeter *fm, uint32_t idx, uint64_t ts, int dir)
{
    struct flowmeter_flow *f = &fm->pool[idx];

    if (dir == 1) {
        if (__builtin_expect(!++f->fwd_pkts_lo, 0))
            fm->cold[idx].fwd_pkts_hi++;
    } else if (__builtin_expect(!++f->rev_pkts_lo, 0)) {
        fm->cold[idx].rev_pkts_hi++;
    }
    if (ts > f->last_ts)
        f->last_ts = ts;
    else if (ts < f->first_ts)
        f->first_ts = ts;
}

static inline void flowmeter_update(struct flowmeter *fm, uint32_t idx,
                                    const struct flowmeter_pkt *p, int dir)
{
    struct flowmeter_flow *f = &fm->pool[idx];
    struct flowmeter_cold *c = &fm->cold[idx];

    if (!(f->state & FLOWMETER_PKTS)) {
        /* First packet of a record: a new flow or a continuation. */
        enum flowmeter_reason r;
        f->first_ts = f->last_ts = p->ts;
        f->ps_min = f->pay_min = UINT32_MAX;
        f->ps_max = f->pay_max = 0;
        f->ipv = p->ipv;
        f->vlan = p->vlan;
        f->fwd_pkts_lo = dir == 1;
        f->rev_pkts_lo = dir != 1;
        f->state |= FLOWMETER_PKTS;
        uint64_t d = flowmeter_deadline(fm, idx, &r);
        if (d < c->sched)
            flowmeter_wheel_move(fm, idx, d);
    } else {
        flowmeter_more(fm, idx, p->ts, dir);
    }
    if (__builtin_expect(p->rate != 0, 0)) {     /* sampled: the packet's rate */
        uint32_t v = p->rate < FLOWMETER_RATE_MAX ? p->rate : FLOWMETER_RATE_MAX;
        c->rate[0] = (uint8_t)(v >> 16);
        c->rate[1] = (uint8_t)(v >> 8);
        c->rate[2] = (uint8_t)v;
    }
    flowmeter_add(fm, idx, p->iplen, p->paylen, p->flags, p->proto, dir);
    if (p->proto == 6 && fm->tcp_end && (p->flags & (FLOWMETER_TCP_FIN | FLOWMETER_TCP_RST))
        && !(f->state & FLOWMETER_CLOSED))
        flowmeter_tcp_end(fm, idx, p, dir);
}

/* hint: the flow the prefetch stage guessed, verified here, because the
 * packets before this one may have ended, moved or created flows. A flow
 * found past one of its deadlines ends right here, exactly as a tick at the
 * packet's time would have ended it, so the records do not depend on how
 * often ticks come. */
static int flowmeter_packet(struct flowmeter *fm, struct fl_ctx *ctx,
                            const struct flowmeter_pkt *p, uint32_t idx)
{
    enum flowmeter_reason r;
    int dir = 0, rc;

    if (idx != FLOWMETER_NIL && (!(fm->pool[idx].state & FLOWMETER_LIVE)
                                 || !(dir = flowmeter_match(fm, &fm->pool[idx], p))))
        idx = FLOWMETER_NIL;
    if (idx == FLOWMETER_NIL)
        idx = flowmeter_lookup(fm, p, &dir);
    while (idx != FLOWMETER_NIL && flowmeter_deadline(fm, idx, &r) <= p->ts) {
        if ((rc = flowmeter_expire(fm, ctx, idx, r)) < 0)
            return rc;
        if (!(fm->pool[idx].state & FLOWMETER_LIVE))
            idx = FLOWMETER_NIL;
    }
    if (idx == FLOWMETER_NIL) {
        /* A flow first seen at a SYN-ACK: its receiver sent the SYN, so
         * it is the initiator (Zeek flips such connections too). */
        bool flip = p->proto == 6 && (p->flags & (FLOWMETER_TCP_SYN | FLOWMETER_TCP_ACK))
                                         == (FLOWMETER_TCP_SYN | FLOWMETER_TCP_ACK);
        if ((rc = flowmeter_insert(fm, ctx, p, flip, &idx)) < 0)
            return rc;
        dir = flip ? 2 : 1;
    }
    if (p->reply)
        dir = 3 - dir;   /* matched as the request it answers */
    flowmeter_update(fm, idx, p, dir);
    return 0;
}

static int flowmeter_process(struct fl_ctx *ctx, void *state, struct fl_batch *b)
{
    struct flowmeter *fm = state;
    int rc;

    if (!b->rows)
        return 0;
    if ((rc = fl_bind_batch(ctx, fm->bind, b)) < 0)
        return rc == -FL_ENOENT ? 0 : rc;   /* counted by the core */

    const uint64_t *ts = fl_bind_data(fm->bind, FLOWMETER_F_TS);
    const struct fl_addr *src = fl_bind_data(fm->bind, FLOWMETER_F_SRC);
    const struct fl_addr *dst = fl_bind_data(fm->bind, FLOWMETER_F_DST);
    const uint16_t *sport = fl_bind_data(fm->bind, FLOWMETER_F_SPORT);
    const uint16_t *dport = fl_bind_data(fm->bind, FLOWMETER_F_DPORT);
    const uint8_t *proto = fl_bind_data(fm->bind, FLOWMETER_F_PROTO);
    const uint32_t *iplen = fl_bind_data(fm->bind, FLOWMETER_F_IPLEN);
    const uint32_t *paylen = fl_bind_data(fm->bind, FLOWMETER_F_PAYLEN);
    const uint8_t *ipv = flowmeter_field(fm, FLOWMETER_F_IPV);
    const uint8_t *flags = flowmeter_field(fm, FLOWMETER_F_FLAGS);
    const uint16_t *vlan = flowmeter_field(fm, FLOWMETER_F_VLAN);
    const uint64_t *hash = flowmeter_field(fm, FLOWMETER_F_HASH);
    const uint16_t *icmp_id = flowmeter_field(fm, FLOWMETER_F_ICMP_ID);
    const uint32_t *rate = fm->sampled ? flowmeter_field(fm, FLOWMETER_F_SAMPLING) : NULL;
    const bool pairs = fm->icmp_pairs;
    const bool fast = !fm->key_tunnel && !rate;   /* the loop's fast path may run */
    struct flowmeter_tunc tc = { .b = b, .ck = -1, .cid = -1, .last_kind = -1 };
    struct flowmeter_pkt tun[FLOWMETER_RING];

    if (fm->key_tunnel) {
        tc.ck = fl_bind_col(fm->bind, FLOWMETER_F_TUNNEL);
        tc.cid = fl_bind_col(fm->bind, FLOWMETER_F_TUNNEL_ID);
    }

    if (!fm->started)
        flowmeter_table_start(fm, b->t_min && b->t_min < ts[0] ? b->t_min : ts[0]);

    /* A software pipeline over the batch: packet i's slot line is
     * prefetched FLOWMETER_AHEAD packets before its update, its record's
     * lines FLOWMETER_AHEAD / 2 before, so both arrive while earlier packets
     * are being updated. */
    uint64_t h[FLOWMETER_RING];
    uint32_t hint[FLOWMETER_RING];
    const uint32_t rows = b->rows, probe_at = FLOWMETER_AHEAD / 2;
    for (uint32_t i = 0; i < rows + FLOWMETER_AHEAD; i++) {
        if (i < rows) {
            uint64_t fh = hash ? hash[i] : 0;
            if (__builtin_expect(!hash || proto[i] == 1 || proto[i] == 58, 0))
                fh = flowmeter_hash_own(fm, (struct flowmeter_pkt){ .src = &src[i], .dst = &dst[i],
                                            .sport = sport[i], .dport = dport[i], .proto = proto[i] },
                                        icmp_id ? icmp_id[i] : 0, hash != NULL, fh);
            if (__builtin_expect(fm->key_tunnel, 0)) {
                flowmeter_tunnel_of(&tc, i, &tun[i % FLOWMETER_RING]);
                fh = flowmeter_mix_tunnel(fh, &tun[i % FLOWMETER_RING]);
            }
            uint64_t m = flowmeter_mix(fh, vlan ? vlan[i] : 0, fm->key_vlan);
            h[i % FLOWMETER_RING] = m;
            __builtin_prefetch(&fm->slot[(uint32_t)(m >> 32) >> (32 - fm->bits)]);
        }
        uint32_t j = i - probe_at;
        if (i >= probe_at && j < rows) {
            uint32_t x = flowmeter_hint(fm, h[j % FLOWMETER_RING]);
            hint[j % FLOWMETER_RING] = x;
            if (x != FLOWMETER_NIL) {
                const char *r = (const char *)&fm->pool[x];
                __builtin_prefetch(r, 1);
                __builtin_prefetch(r + 64, 1);
                /* FIN and RST write the cold part (close time, wheel). */
                if (flags && (flags[j] & (FLOWMETER_TCP_FIN | FLOWMETER_TCP_RST)))
                    __builtin_prefetch(&fm->cold[x], 1);
            } else if (fm->free_head != FLOWMETER_NIL) {
                /* Likely a new flow: the record flowmeter_insert will
                 * take (a guess; other inserts may take it first). */
                const char *r = (const char *)&fm->pool[fm->free_head];
                __builtin_prefetch(r, 1);
                __builtin_prefetch(r + 64, 1);
                __builtin_prefetch(&fm->cold[fm->free_head], 1);
            }
        }
        if (i < FLOWMETER_AHEAD)
            continue;
        uint32_t k = i - FLOWMETER_AHEAD;
        uint64_t t = ts[k];
        if (t > fm->clock)
            fm->clock = t;
        /* Flows that went idle end as the batch's time passes their
         * deadline, as a tick there would end them: how many packets a
         * batch holds then changes nothing downstream (a batch spanning
         * minutes would otherwise hold them back until its end, and
         * windows after the meter would find them late). */
        if (t >= fm->wheel_now + fm->wheel_w && (rc = flowmeter_expire_due(fm, ctx, t)) < 0)
            goto out;
        /* Most packets: the guessed flow is theirs, has packets, is open
         * and not due, and the packet neither ends nor samples it nor
         * needs an ICMP key. They skip building a flowmeter_pkt. */
        uint32_t x = hint[k % FLOWMETER_RING];
        uint8_t pr = proto[k], fl = flags ? flags[k] : 0;
        if (x != FLOWMETER_NIL && fast && pr != 1 && pr != 58
            && !(fl & (FLOWMETER_TCP_FIN | FLOWMETER_TCP_RST))) {
            const struct flowmeter_flow *f = &fm->pool[x];
            int dir;
            if ((f->state & (FLOWMETER_LIVE | FLOWMETER_PKTS | FLOWMETER_CLOSED))
                    == (FLOWMETER_LIVE | FLOWMETER_PKTS)
                && t < f->last_ts + fm->idle && t < f->first_ts + fm->active
                && f->proto == pr && (!fm->key_vlan || f->vlan == (vlan ? vlan[k] : 0))
                && (dir = flowmeter_match_ends(f, &src[k], &dst[k], sport[k], dport[k]))) {
                flowmeter_more(fm, x, t, dir);
                flowmeter_add(fm, x, iplen[k], paylen[k], fl, pr, dir);
                continue;
            }
        }
        struct flowmeter_pkt p = {
            .ts = t, .h = h[k % FLOWMETER_RING], .src = &src[k], .dst = &dst[k],
            .sport = sport[k], .dport = dport[k], .vlan = vlan ? vlan[k] : 0,
            .proto = proto[k], .flags = flags ? flags[k] : 0,
            .iplen = iplen[k], .paylen = paylen[k],
        };
        p.ipv = ipv ? ipv[k] : fl_addr_is_v4(&src[k]) ? 4 : 6;
        if (rate)
            p.rate = rate[k];
        if (__builtin_expect(fm->key_tunnel, 0)) {
            p.tunnel = tun[k % FLOWMETER_RING].tunnel;
            p.tunnel_has_id = tun[k % FLOWMETER_RING].tunnel_has_id;
            p.tunnel_id = tun[k % FLOWMETER_RING].tunnel_id;
        }
        if (__builtin_expect(p.proto == 1 || p.proto == 58, 0) && pairs) {
            struct flowmeter_icmpk q = flowmeter_icmp_key(p.proto, p.dport,
                                                          icmp_id ? icmp_id[k] : 0);
            if (q.qr) {
                p.sport = q.sport;
                p.dport = q.dport;
                if (q.reply) {
                    p.src = &dst[k];
                    p.dst = &src[k];
                    p.reply = true;
                }
            }
        }
        if ((rc = flowmeter_packet(fm, ctx, &p, x)) < 0)
            goto out;
    }
out:
    flowmeter_count(fm, ctx);
    return rc;
}

/* ---- lifecycle -------------------------------------------------------- */
static int flowmeter_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                              size_t n_in, struct fl_schema_decl *const *out)
{
    struct flowmeter *fm = state;
    int rc;

    if ((rc = flowmeter_bind_new(ctx, fm)) < 0 || (rc = fl_bind_check(ctx, fm->bind, NULL, in, n_in)) < 0)
        return rc;
    for (size_t i = 0; fm->key_tunnel && i < n_in; i++)
        if (in[i] && (fl_schema_find(in[i], "tunnel") < 0 || fl_schema_find(in[i], "tunnel_id") < 0))
            return fl_diag(ctx, "key_tunnel", "key_tunnel needs the tunnel and tunnel_id columns "
                           "in the packets (input.pcap: decap and tunnel_columns: true)");
    /* Sampled input is known from the schemas (an open one: not sampled). */
    for (size_t i = 0; i < n_in; i++)
        fm->sampled |= fm->sampling_scale && in[i] && fl_schema_find(in[i], "sampling_rate") >= 0;
    if ((rc = flowmeter_out_schema(ctx, fm, &fm->out_schema)) < 0)
        return rc;
    out[0]->schema = fm->out_schema;
    return 0;
}

static int flowmeter_init(struct fl_ctx *ctx, void *state)
{
    struct flowmeter *fm = state;
    int rc;

    if ((!fm->out_schema && (rc = flowmeter_out_schema(ctx, fm, &fm->out_schema)) < 0)
        || (rc = flowmeter_bind_new(ctx, fm)) < 0)
        return rc;
    flowmeter_conn_init(fm);
    if ((rc = flowmeter_table_init(fm)) < 0) {
        FL_LOG_ERROR(ctx, "cannot reserve memory for max_flows %llu (%llu MiB of address space)",
                     (unsigned long long)fm->max_flows,
                     (unsigned long long)(fm->max_flows * (sizeof(struct flowmeter_flow)
                                                             + sizeof(struct flowmeter_cold)) >> 20));
        return rc;
    }
    return 0;
}

static int flowmeter_tick(struct fl_ctx *ctx, void *state, uint64_t now)
{
    struct flowmeter *fm = state;
    int rc = flowmeter_expire_due(fm, ctx, now);

    if (rc == 0 && fm->out && fm->clock >= fm->out_since + fm->flush_interval)
        rc = flowmeter_flush(fm, ctx);
    flowmeter_count(fm, ctx);
    return rc;
}

/* End of input: first whatever a tick at the last time seen would have
 * ended (so the end reasons do not depend on when ticks came), then every
 * open flow as "eof". */
static int flowmeter_drain(struct fl_ctx *ctx, void *state)
{
    struct flowmeter *fm = state;
    int rc = 0;

    if (fm->started)
        rc = flowmeter_expire_due(fm, ctx, fm->clock);
    if (rc == 0)
        rc = flowmeter_expire_all(fm, ctx);
    if (rc == 0)
        rc = flowmeter_flush(fm, ctx);
    flowmeter_count(fm, ctx);
    return rc;
}

static void flowmeter_fini(struct fl_ctx *ctx, void *state)
{
    struct flowmeter *fm = state;
    fl_batch_release(&fm->out);
    flowmeter_table_fini(fm);
}

FL_PLUGIN_DEFINE(
    .kind = FL_KIND_AGGREGATE,
    .name = "flowmeter",
    .version = "0.1.0",
    .summary = "bidirectional flow features (packets, bytes, sizes, payload, TCP flags) from packets",
    .opts = flowmeter_opts,
    .state_size = sizeof(struct flowmeter),
    .describe = flowmeter_describe,
    .init = flowmeter_init,
    .process = flowmeter_process,
    .tick = flowmeter_tick,
    .drain = flowmeter_drain,
    .fini = flowmeter_fini,
);
