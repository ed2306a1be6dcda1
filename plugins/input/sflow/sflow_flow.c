/* sflow_flow.c: a flow sample (standard, format 1, or expanded, format 3)
 * into one row of port "out".
 *
 * The records are framed and checked first (each within the sample, each
 * at least as long as its fixed part, each opaque within its record);
 * then the packet columns come from the core packet decoder: the sampled
 * raw header (record 1) when its protocol is one the decoder reads, else a
 * sampled IPv4 or IPv6 record (3, 4) rebuilt as an IP header so that the
 * same decoder fills the same columns, flow_hash included (a flow seen
 * once as a raw header and once as a sampled IPv4 record hashes alike).
 * A sample with neither (only a non-IP header, or only record 2) adds no
 * row and is counted (flow_samples_without_ip), as input.pcap drops
 * non-IP frames. The sFlow columns follow the packet columns. */
#include <stdio.h>
#include <string.h>
#include "sflow_int.h"

#define AS_PATH_MAX 2048        /* characters of as_path / bgp_communities kept */

static const struct fl_col_def flow_cols[SF_NCOLS] = {
    [SF_SAMPLING_RATE] = { "sampling_rate", FL_T_U32 },
    [SF_SAMPLE_POOL] = { "sample_pool", FL_T_U32 },
    [SF_DROPS] = { "drops", FL_T_U32 },
    [SF_INPUT_IF] = { "input_if", FL_T_U32 },
    [SF_OUTPUT_IF] = { "output_if", FL_T_U32 },
    [SF_OUTPUT_IF_COUNT] = { "output_if_count", FL_T_U32 },
    [SF_DISCARD_REASON] = { "discard_reason", FL_T_U32 },
    [SF_AGENT] = { "agent", FL_T_ADDR },
    [SF_SUB_AGENT] = { "sub_agent", FL_T_U32 },
    [SF_SEQUENCE] = { "sequence", FL_T_U32 },
    [SF_SOURCE_ID_TYPE] = { "source_id_type", FL_T_U8 },
    [SF_SOURCE_ID_INDEX] = { "source_id_index", FL_T_U32 },
    [SF_SRC_MAC] = { "src_mac", FL_T_MAC },
    [SF_DST_MAC] = { "dst_mac", FL_T_MAC },
    [SF_IN_VLAN] = { "in_vlan", FL_T_U16 },
    [SF_IN_PRIORITY] = { "in_priority", FL_T_U8 },
    [SF_OUT_VLAN] = { "out_vlan", FL_T_U16 },
    [SF_OUT_PRIORITY] = { "out_priority", FL_T_U8 },
    [SF_NEXT_HOP] = { "next_hop", FL_T_ADDR },
    [SF_SRC_MASK] = { "src_mask", FL_T_U8 },
    [SF_DST_MASK] = { "dst_mask", FL_T_U8 },
    [SF_BGP_NEXT_HOP] = { "bgp_next_hop", FL_T_ADDR },
    [SF_ROUTER_AS] = { "router_as", FL_T_U32 },
    [SF_SRC_AS] = { "src_as", FL_T_U32 },
    [SF_SRC_PEER_AS] = { "src_peer_as", FL_T_U32 },
    [SF_DST_AS] = { "dst_as", FL_T_U32 },
    [SF_DST_PEER_AS] = { "dst_peer_as", FL_T_U32 },
    [SF_AS_PATH] = { "as_path", FL_T_STR },
    [SF_BGP_COMMUNITIES] = { "bgp_communities", FL_T_STR },
    [SF_LOCAL_PREF] = { "local_pref", FL_T_U32 },
};

int sflow_flow_schema_of(struct fl_ctx *ctx, const struct fl_schema **out)
{
    const struct fl_schema *pk;
    struct fl_col_def cols[FL_PKT_NCOLS + SF_NCOLS];
    int rc;

    if ((rc = fl_packet_schema(ctx, &pk)) < 0)
        return rc;
    for (uint32_t i = 0; i < pk->ncols; i++)
        cols[i] = (struct fl_col_def){ pk->cols[i]->name, pk->cols[i]->type };
    for (uint32_t i = 0; i < SF_NCOLS; i++)
        cols[pk->ncols + i] = flow_cols[i];
    return fl_schema_intern(ctx, cols, pk->ncols + SF_NCOLS, sizeof cols[0], out);
}

int sflow_flow_schema(struct sflow_dec *d)
{
    const struct fl_schema *pk;
    int rc = fl_packet_schema(d->ctx, &pk);
    if (rc < 0)
        return rc;
    d->npkt = pk->ncols;
    return sflow_flow_schema_of(d->ctx, &d->fschema);
}

/* An XDR address (type 1 IPv4, 2 IPv6): its length in bytes, 0 if bad. */
static uint32_t xdr_addr(const uint8_t *p, uint32_t len, struct fl_addr *a)
{
    if (len < 4)
        return 0;
    uint32_t t = sf_rd32(p);
    if (t == 1 && len >= 8) {
        sf_v4(a, p + 4);
        return 8;
    }
    if (t == 2 && len >= 20) {
        memcpy(a->b, p + 4, 16);
        return 20;
    }
    return 0;
}

/* What the records of one sample say. */
struct sf_recs {
    const uint8_t *hdr;
    uint32_t hdr_len, hdr_proto, frame_len, stripped;
    const uint8_t *eth, *ip4, *ip6, *sw;
    bool router;
    struct fl_addr next_hop;
    uint32_t src_mask, dst_mask;
    bool gw;
    struct fl_addr bgp_next_hop;
    uint32_t router_as, src_as, src_peer_as, dst_as, dst_peer_as, local_pref;
    bool have_dst_as;
    const uint8_t *path, *comm;     /* segments, communities (validated) */
    uint32_t n_seg, n_comm;
};

/* Record 1003, extended gateway: next hop, AS numbers, AS path segments,
 * communities, local preference; false when it does not fit its length. */
static bool gateway(struct sf_recs *r, const uint8_t *p, uint32_t len)
{
    uint32_t off = xdr_addr(p, len, &r->bgp_next_hop), n;
    if (!off || len - off < 16)
        return false;
    r->router_as = sf_rd32(p + off);
    r->src_as = sf_rd32(p + off + 4);
    r->src_peer_as = sf_rd32(p + off + 8);
    r->n_seg = sf_rd32(p + off + 12);
    off += 16;
    r->path = p + off;
    r->have_dst_as = false;
    for (uint32_t i = 0; i < r->n_seg; i++) {
        if (len - off < 8)
            return false;
        n = sf_rd32(p + off + 4);
        off += 8;
        if (n > (len - off) / 4)
            return false;
        if (n) {
            if (!r->have_dst_as)
                r->dst_peer_as = sf_rd32(p + off);
            r->dst_as = sf_rd32(p + off + 4 * (n - 1));
            r->have_dst_as = true;
        }
        off += 4 * n;
    }
    if (len - off < 4)
        return false;
    r->n_comm = sf_rd32(p + off);
    off += 4;
    if (r->n_comm > (len - off) / 4 || len - off - 4 * r->n_comm < 4)
        return false;
    r->comm = p + off;
    off += 4 * r->n_comm;
    r->local_pref = sf_rd32(p + off);
    r->gw = true;
    return true;
}

/* Frame and check the records; false: the sample is dropped (counted). */
static bool records(struct sflow_dec *d, struct sf_recs *r, const uint8_t *p, uint32_t len)
{
    uint32_t n, off = 4;
    if (len < 4)
        return false;
    n = sf_rd32(p);
    for (uint32_t i = 0; i < n; i++) {
        if (len - off < 8 || sf_rd32(p + off + 4) > len - off - 8) {
            d->drops[SFLOW_DROP_RECORD_LEN]++;
            return false;
        }
        uint32_t fmt = sf_rd32(p + off), rl = sf_rd32(p + off + 4);
        const uint8_t *q = p + off + 8;
        bool ok = true;
        off += 8 + rl;
        switch (fmt) {
        case 1:     /* sampled header: protocol, frame length, stripped, opaque header */
            if ((ok = rl >= 16 && sf_rd32(q + 12) <= rl - 16) && !r->hdr) {
                r->hdr_proto = sf_rd32(q);
                r->frame_len = sf_rd32(q + 4);
                r->stripped = sf_rd32(q + 8);
                r->hdr_len = sf_rd32(q + 12);
                r->hdr = q + 16;
            }
            break;
        case 2:     /* sampled Ethernet: length, src mac[6] (pad 2), dst mac, type */
            if ((ok = rl >= 24))
                r->eth = q;
            break;
        case 3:
            if ((ok = rl >= 32))
                r->ip4 = q;
            break;
        case 4:
            if ((ok = rl >= 56))
                r->ip6 = q;
            break;
        case 1001:  /* extended switch: in vlan, in priority, out vlan, out priority */
            if ((ok = rl >= 16))
                r->sw = q;
            break;
        case 1002: {    /* extended router: next hop, src mask, dst mask */
            uint32_t a = xdr_addr(q, rl, &r->next_hop);
            if ((ok = a && rl - a >= 8)) {
                r->router = true;
                r->src_mask = sf_rd32(q + a);
                r->dst_mask = sf_rd32(q + a + 4);
            }
            break;
        }
        case 1003:
            ok = gateway(r, q, rl);
            break;
        default:
            d->n[SFLOW_N_UNKNOWN_FLOW_REC]++;
            break;
        }
        if (!ok) {
            d->drops[SFLOW_DROP_RECORD]++;
            return false;
        }
    }
    return true;
}

/* The decoder's link type for a header protocol (sFlow header_protocol), -1 if none. */
static int header_linktype(uint32_t proto)
{
    switch (proto) {
    case 1: return FL_DLT_EN10MB;     /* ETHERNET-ISO88023 */
    case 4: return FL_DLT_FDDI;       /* ISO88025-FDDI */
    case 11: return FL_DLT_IPV4;
    case 12: return FL_DLT_IPV6;
    case 13: return FL_DLT_MPLS;
    default: return -1;
    }
}

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* A sampled IPv4 (v6 false) or IPv6 record as an IP header and, for TCP
 * and UDP, a transport header, into d->synth; returns the packet length
 * (the record's), 0 when it cannot be an IP packet. The bytes past the
 * headers are zeros the decoder does not read. */
static uint32_t rebuild(struct sflow_dec *d, const uint8_t *q, bool v6)
{
    uint8_t *s = d->synth;
    uint32_t len = sf_rd32(q), proto = sf_rd32(q + 4), hl = v6 ? 40 : 20;
    const uint8_t *ports = q + (v6 ? 40 : 16);
    uint32_t flags = sf_rd32(ports + 8), prio = sf_rd32(ports + 12);

    if (len < hl || len > 65535 || proto > 255)
        return 0;
    memset(s, 0, 128);
    if (v6) {
        s[0] = (uint8_t)(0x60 | (prio >> 4 & 15));
        s[1] = (uint8_t)(prio << 4);
        put16(s + 4, len - 40);
        s[6] = (uint8_t)proto;
        memcpy(s + 8, q + 8, 32);
    } else {
        s[0] = 0x45;
        s[1] = (uint8_t)prio;
        put16(s + 2, len);
        s[9] = (uint8_t)proto;
        memcpy(s + 12, q + 8, 8);
    }
    if (proto == 6 && len >= hl + 20) {
        put16(s + hl, sf_rd32(ports));
        put16(s + hl + 2, sf_rd32(ports + 4));
        s[hl + 12] = 5 << 4;
        s[hl + 13] = (uint8_t)flags;
    } else if (proto == 17 && len >= hl + 8) {
        put16(s + hl, sf_rd32(ports));
        put16(s + hl + 2, sf_rd32(ports + 4));
        put16(s + hl + 4, len - hl);
    }
    return len;
}

/* The packet columns of the row; 1 when a row was added. */
static int packet(struct sflow_dec *d, const struct sflow_dgram *g, const struct sf_recs *r)
{
    struct fl_batch *b = d->flows;
    int rc, lt;

    if (r->hdr) {
        if ((lt = header_linktype(r->hdr_proto)) >= 0) {
            uint32_t wire = r->stripped <= r->frame_len ? r->frame_len - r->stripped
                                                         : r->frame_len;
            if (wire < r->hdr_len)
                wire = r->hdr_len;
            if ((rc = fl_decode(d->pdec, lt, g->ts_ns, r->hdr, r->hdr_len, wire, b)) != 0)
                return rc;
        } else {
            d->n[SFLOW_N_HEADER_PROTO]++;
        }
    }
    if (r->ip4 || r->ip6) {
        uint32_t len = rebuild(d, r->ip4 ? r->ip4 : r->ip6, !r->ip4);
        if (len && (rc = fl_decode(d->pdec, r->ip4 ? FL_DLT_IPV4 : FL_DLT_IPV6, g->ts_ns,
                                   d->synth, len, len, b)) != 0) {
            if (rc == 1) {      /* the record has no TTL; its length is the frame's when known */
                if ((rc = fl_batch_set_missing(b, FL_PKT_TTL, b->rows - 1)) < 0)
                    return rc;
                if (r->eth)
                    FL_COL(b, FL_PKT_FRAME_LEN, uint32_t)[b->rows - 1] = sf_rd32(r->eth);
                return 1;
            }
            return rc;
        }
    }
    return 0;
}

/* "65001 65002 {65010,65011}": sequences space-separated, sets in braces. */
static int put_path(struct fl_batch *b, uint32_t col, uint32_t row, const struct sf_recs *r,
                    char *buf)
{
    size_t n = 0;
    const uint8_t *q = r->path;
    struct fl_span sp;
    for (uint32_t i = 0; i < r->n_seg && n < AS_PATH_MAX - 24; i++) {
        uint32_t type = sf_rd32(q), cnt = sf_rd32(q + 4);
        q += 8;
        if (n)
            buf[n++] = ' ';
        if (type == 1)
            buf[n++] = '{';
        for (uint32_t j = 0; j < cnt && n < AS_PATH_MAX - 24; j++)
            n += (size_t)snprintf(buf + n, AS_PATH_MAX - n, "%s%u", j ? (type == 1 ? "," : " ")
                                  : "", sf_rd32(q + 4 * j));
        if (type == 1)
            buf[n++] = '}';
        q += 4 * cnt;
    }
    int rc = fl_batch_put_bytes(b, buf, (uint32_t)n, &sp);
    if (rc == 0)
        FL_COL(b, col, struct fl_span)[row] = sp;
    return rc;
}

static int put_comm(struct fl_batch *b, uint32_t col, uint32_t row, const struct sf_recs *r,
                    char *buf)
{
    size_t n = 0;
    struct fl_span sp;
    for (uint32_t i = 0; i < r->n_comm && n < AS_PATH_MAX - 24; i++) {
        uint32_t c = sf_rd32(r->comm + 4 * i);
        n += (size_t)snprintf(buf + n, AS_PATH_MAX - n, "%s%u:%u", i ? " " : "", c >> 16,
                              c & 0xffff);
    }
    int rc = fl_batch_put_bytes(b, buf, (uint32_t)n, &sp);
    if (rc == 0)
        FL_COL(b, col, struct fl_span)[row] = sp;
    return rc;
}

#define C(T, i) FL_COL(b, d->npkt + (i), T)[row]
#define MAC(i) ((uint8_t *)b->data[d->npkt + (i)] + 6 * (size_t)row)

int sflow_flow_sample(struct sflow_dec *d, const struct sflow_dgram *g, const uint8_t *p,
                      uint32_t len, bool expanded)
{
    struct sf_recs r = { 0 };
    uint32_t seq, type, index, rate, pool, drops, in_fmt, in, out_fmt, out, hl = expanded ? 40 : 28;
    struct fl_batch *b;
    char buf[AS_PATH_MAX];
    int rc;

    if (len < hl + 4) {
        d->drops[SFLOW_DROP_SAMPLE]++;
        return 0;
    }
    seq = sf_rd32(p);
    if (expanded) {
        type = sf_rd32(p + 4);
        index = sf_rd32(p + 8);
        p += 4;
    } else {
        type = sf_rd32(p + 4) >> 24;
        index = sf_rd32(p + 4) & 0xffffff;
    }
    rate = sf_rd32(p + 8);
    pool = sf_rd32(p + 12);
    drops = sf_rd32(p + 16);
    if (expanded) {
        in_fmt = sf_rd32(p + 20);
        in = sf_rd32(p + 24);
        out_fmt = sf_rd32(p + 28);
        out = sf_rd32(p + 32);
        p += 36;
    } else {
        in_fmt = sf_rd32(p + 20) >> 30;
        in = sf_rd32(p + 20) & 0x3fffffff;
        out_fmt = sf_rd32(p + 24) >> 30;
        out = sf_rd32(p + 24) & 0x3fffffff;
        p += 28;
    }
    if (!records(d, &r, p, len - hl))
        return 0;

    struct sflow_src *s = sflow_src_get(d, &g->agent, g->sub_agent, 2,
                                        (uint64_t)type << 32 | index);
    if (s) {
        if (s->known && seq != s->seq_next) {
            uint32_t gap = seq - s->seq_next;
            if (gap < 0x80000000u)
                d->n[SFLOW_N_FLOW_LOST] += gap;
            else
                d->n[SFLOW_N_AGENT_RESTARTS]++;
        }
        if (s->known && drops >= s->drops)
            d->n[SFLOW_N_AGENT_DROPS] += drops - s->drops;
        s->known = true;
        s->seq_next = seq + 1;
        s->drops = drops;
    }

    if ((rc = sflow_room(d, 0)) < 0)
        return rc;
    if ((rc = packet(d, g, &r)) <= 0) {
        if (rc == 0)
            d->n[SFLOW_N_FLOW_NO_ROW]++;
        return rc;
    }
    b = d->flows;
    uint32_t row = b->rows - 1;
    d->n[SFLOW_N_FLOW_ROWS]++;
    C(uint32_t, SF_SAMPLING_RATE) = rate;
    C(uint32_t, SF_SAMPLE_POOL) = pool;
    C(uint32_t, SF_DROPS) = drops;
    C(struct fl_addr, SF_AGENT) = g->agent;
    C(uint32_t, SF_SUB_AGENT) = g->sub_agent;
    C(uint32_t, SF_SEQUENCE) = seq;
    C(uint8_t, SF_SOURCE_ID_TYPE) = (uint8_t)type;
    C(uint32_t, SF_SOURCE_ID_INDEX) = index;
    C(uint32_t, SF_INPUT_IF) = in;
    C(uint32_t, SF_OUTPUT_IF) = out;
    C(uint32_t, SF_OUTPUT_IF_COUNT) = out;
    C(uint32_t, SF_DISCARD_REASON) = out;

    /* which columns this row lacks */
    bool miss[SF_NCOLS] = { 0 };
    miss[SF_INPUT_IF] = in_fmt != 0;
    miss[SF_OUTPUT_IF] = out_fmt != 0;
    miss[SF_DISCARD_REASON] = out_fmt != 1;
    miss[SF_OUTPUT_IF_COUNT] = out_fmt != 2;
    if (r.hdr && r.hdr_proto == 1 && r.hdr_len >= 12) {
        memcpy(MAC(SF_DST_MAC), r.hdr, 6);
        memcpy(MAC(SF_SRC_MAC), r.hdr + 6, 6);
    } else if (r.eth) {
        memcpy(MAC(SF_SRC_MAC), r.eth + 4, 6);
        memcpy(MAC(SF_DST_MAC), r.eth + 12, 6);
    } else {
        miss[SF_SRC_MAC] = miss[SF_DST_MAC] = true;
    }
    if (r.sw) {
        C(uint16_t, SF_IN_VLAN) = (uint16_t)sf_rd32(r.sw);
        C(uint8_t, SF_IN_PRIORITY) = (uint8_t)sf_rd32(r.sw + 4);
        C(uint16_t, SF_OUT_VLAN) = (uint16_t)sf_rd32(r.sw + 8);
        C(uint8_t, SF_OUT_PRIORITY) = (uint8_t)sf_rd32(r.sw + 12);
    } else {
        miss[SF_IN_VLAN] = miss[SF_IN_PRIORITY] = miss[SF_OUT_VLAN] = true;
        miss[SF_OUT_PRIORITY] = true;
    }
    if (r.router) {
        C(struct fl_addr, SF_NEXT_HOP) = r.next_hop;
        C(uint8_t, SF_SRC_MASK) = (uint8_t)(r.src_mask > 128 ? 128 : r.src_mask);
        C(uint8_t, SF_DST_MASK) = (uint8_t)(r.dst_mask > 128 ? 128 : r.dst_mask);
    } else {
        miss[SF_NEXT_HOP] = miss[SF_SRC_MASK] = miss[SF_DST_MASK] = true;
    }
    if (r.gw) {
        C(struct fl_addr, SF_BGP_NEXT_HOP) = r.bgp_next_hop;
        C(uint32_t, SF_ROUTER_AS) = r.router_as;
        C(uint32_t, SF_SRC_AS) = r.src_as;
        C(uint32_t, SF_SRC_PEER_AS) = r.src_peer_as;
        C(uint32_t, SF_DST_AS) = r.dst_as;
        C(uint32_t, SF_DST_PEER_AS) = r.dst_peer_as;
        C(uint32_t, SF_LOCAL_PREF) = r.local_pref;
        miss[SF_DST_AS] = miss[SF_DST_PEER_AS] = !r.have_dst_as;
        if ((rc = put_path(b, d->npkt + SF_AS_PATH, row, &r, buf)) < 0 ||
            (rc = put_comm(b, d->npkt + SF_BGP_COMMUNITIES, row, &r, buf)) < 0)
            return rc;
    } else {
        for (int i = SF_BGP_NEXT_HOP; i <= SF_LOCAL_PREF; i++)
            miss[i] = true;
    }
    for (uint32_t i = 0; i < SF_NCOLS; i++)
        if (miss[i] && (rc = fl_batch_set_missing(b, d->npkt + i, row)) < 0)
            return rc;
    return 0;
}
