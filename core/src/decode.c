/* core/src/decode.c: the packet decoder's life cycle, its packet schema, its
 * counters and its fragment table. The per-frame work (link layer to L4,
 * writing the row) is in decode_pkt.c; this file holds what runs once per
 * decoder, once per batch, or only for fragments. */
#include <stdlib.h>
#include <flowline/plugin.h>
#include "decode_int.h"

/* Counter names, indexed by enum fl_decode_reason / enum fl_decode_note.
 * They are the stage counters users see (-v, metrics), so they are stable. */
static const char *const decode_drop_names[FL_DROP_COUNT] = {
    [FL_DROP_TRUNCATED] = "drop_truncated",
    [FL_DROP_NOT_IP] = "drop_not_ip",
    [FL_DROP_LINKTYPE] = "unsupported_linktype",
    [FL_DROP_BAD_IP] = "drop_bad_ip",
    [FL_DROP_BAD_L4] = "drop_bad_l4",
    [FL_DROP_BAD_EXTHDR] = "drop_bad_exthdr",
    [FL_DROP_ENCRYPTED] = "drop_encrypted",
    [FL_DROP_NOT_DATA] = "drop_not_data",
    [FL_DROP_BAD_LINK] = "drop_bad_link",
};
static const char *const decode_note_names[FL_NOTE_COUNT] = {
    [FL_NOTE_FRAGMENTS] = "fragments",
    [FL_NOTE_FRAG_UNJOINED] = "frag_unjoined",
    [FL_NOTE_IP_TRUNCATED] = "ip_truncated",
    [FL_NOTE_DECAP_FALLBACK] = "decap_fallback",
};
static const char *const decode_tunnel_counters[FL_TUN_COUNT] = {
    [FL_TUN_GRE] = "decap_gre", [FL_TUN_VXLAN] = "decap_vxlan",
    [FL_TUN_GENEVE] = "decap_geneve", [FL_TUN_GTP] = "decap_gtp",
    [FL_TUN_ERSPAN] = "decap_erspan", [FL_TUN_TEREDO] = "decap_teredo",
    [FL_TUN_AYIYA] = "decap_ayiya", [FL_TUN_IPIP] = "decap_ipip",
    [FL_TUN_GRE_UDP] = "decap_gre_udp",
};

/* The packet schema, in enum fl_pkt_col order. */
static const struct fl_col_def decode_cols[FL_PKT_NCOLS] = {
    [FL_PKT_TS] = { "ts", FL_T_TS },
    [FL_PKT_SRC_ADDR] = { "src_addr", FL_T_ADDR },
    [FL_PKT_DST_ADDR] = { "dst_addr", FL_T_ADDR },
    [FL_PKT_SRC_PORT] = { "src_port", FL_T_U16 },
    [FL_PKT_DST_PORT] = { "dst_port", FL_T_U16 },
    [FL_PKT_PROTO] = { "proto", FL_T_U8 },
    [FL_PKT_IP_VERSION] = { "ip_version", FL_T_U8 },
    [FL_PKT_TTL] = { "ttl", FL_T_U8 },
    [FL_PKT_TCP_FLAGS] = { "tcp_flags", FL_T_U8 },
    [FL_PKT_IP_LEN] = { "ip_len", FL_T_U32 },
    [FL_PKT_FRAME_LEN] = { "frame_len", FL_T_U32 },
    [FL_PKT_PAYLOAD_LEN] = { "payload_len", FL_T_U32 },
    [FL_PKT_VLAN] = { "vlan", FL_T_U16 },
    [FL_PKT_FLOW_HASH] = { "flow_hash", FL_T_U64 },
    [FL_PKT_ICMP_ID] = { "icmp_id", FL_T_U16 },
};

int fl_packet_schema(struct fl_ctx *ctx, const struct fl_schema **out)
{
    return fl_schema_intern(ctx, decode_cols, FL_PKT_NCOLS, sizeof(decode_cols[0]), out);
}

static void decode_opts_copy(struct fl_decoder_opts *o, const struct fl_decoder_opts *in,
                             size_t size)
{
    memset(o, 0, sizeof *o);
    if (in)
        memcpy(o, in, size < sizeof *o ? size : sizeof *o);
}

int fl_decoder_schema(struct fl_ctx *ctx, const struct fl_decoder_opts *opts_in,
                      size_t opts_size, const struct fl_schema **out)
{
    struct fl_col_def cols[FL_PKT_NCOLS + 2];
    struct fl_decoder_opts o;

    decode_opts_copy(&o, opts_in, opts_size);
    if (!o.tunnel_columns)
        return fl_packet_schema(ctx, out);
    memcpy(cols, decode_cols, sizeof decode_cols);
    cols[FL_PKT_TUNNEL] = (struct fl_col_def){ "tunnel", FL_T_STR };
    cols[FL_PKT_TUNNEL_ID] = (struct fl_col_def){ "tunnel_id", FL_T_U32 };
    return fl_schema_intern(ctx, cols, FL_PKT_NCOLS + 2, sizeof(cols[0]), out);
}

/* The decap options into d: which kinds, how deep, and the UDP ports
 * (given ones per kind, the standard port for a kind without any). */
static int decode_decap_setup(struct fl_decoder *d, const struct fl_decoder_opts *o)
{
    const uint32_t udp_kinds = 1u << FL_TUN_VXLAN | 1u << FL_TUN_GENEVE | 1u << FL_TUN_GTP |
                               1u << FL_TUN_TEREDO | 1u << FL_TUN_AYIYA | 1u << FL_TUN_GRE_UDP;
    uint32_t given = 0;

    d->tunnel_cols = o->tunnel_columns;
    if (!o->decap)
        return 0;
    d->decap_kinds = o->decap_kinds ? o->decap_kinds : ((1u << FL_TUN_COUNT) - 2);
    d->decap_kinds &= (1u << FL_TUN_COUNT) - 2;
    if (o->decap_depth > DECODE_DECAP_MAX)
        return -FL_ERANGE;
    d->decap_depth = o->decap_depth ? o->decap_depth : DECODE_DECAP_DEFAULT;
    for (size_t i = 0; i < o->n_decap_ports; i++) {
        const struct fl_decap_port *pp = &o->decap_ports[i];
        if (pp->kind >= FL_TUN_COUNT || !((udp_kinds >> pp->kind) & 1))
            return -FL_EINVAL;
        given |= 1u << pp->kind;
        if (!((d->decap_kinds >> pp->kind) & 1))
            continue;
        if (d->n_ports >= DECODE_MAX_PORTS)
            return -FL_ERANGE;
        d->ports[d->n_ports++] = *pp;
    }
    for (int k = 1; k < FL_TUN_COUNT; k++)
        if ((udp_kinds >> k & 1) && (d->decap_kinds >> k & 1) && !(given >> k & 1)) {
            if (d->n_ports >= DECODE_MAX_PORTS)
                return -FL_ERANGE;
            d->ports[d->n_ports++] = (struct fl_decap_port){ fl_tunnel_default_port(k), (uint8_t)k };
        }
    if (!d->n_ports)
        return 0;
    if (!(d->port_bits = calloc(65536 / 64, sizeof(uint64_t))))
        return -FL_ENOMEM;
    for (uint32_t i = 0; i < d->n_ports; i++)
        d->port_bits[d->ports[i].port >> 6] |= 1ull << (d->ports[i].port & 63);
    return 0;
}

const char *fl_decode_reason_name(enum fl_decode_reason r)
{
    if ((unsigned)r >= FL_DROP_COUNT)
        return "unknown";
    return decode_drop_names[r];
}

int fl_decoder_new(const struct fl_decoder_opts *opts_in, size_t opts_size,
                   struct fl_decoder **out)
{
    struct fl_decoder_opts o, *opts = &o;
    struct fl_decoder *d = NULL;
    uint32_t nsets = 1;
    int rc = -FL_ENOMEM;

    decode_opts_copy(&o, opts_in, opts_size);
    uint32_t slots = opts->frag_slots ? opts->frag_slots : DECODE_FRAG_DEFAULT;
    *out = NULL;
    if (slots > DECODE_FRAG_MAX)
        return -FL_ERANGE;
    /* Round up to a power-of-two number of sets so a set is a mask away. */
    while (nsets * DECODE_FRAG_WAYS < slots)
        nsets <<= 1;
    d = calloc(1, sizeof *d);
    if (!d)
        goto fail;
    d->frag = calloc((size_t)nsets * DECODE_FRAG_WAYS, sizeof *d->frag);
    if (!d->frag)
        goto fail;
    d->frag_set_mask = nsets - 1;
    if ((rc = decode_decap_setup(d, opts)) < 0)
        goto fail;
    *out = d;
    return 0;
fail:
    if (d) {
        free(d->port_bits);
        free(d->frag);
    }
    free(d);
    return rc;
}

void fl_decoder_destroy(struct fl_decoder **dp)
{
    if (!dp || !*dp)
        return;
    free((*dp)->frag);
    free((*dp)->port_bits);
    free(*dp);
    *dp = NULL;
}

void fl_decoder_flush(struct fl_decoder *d, struct fl_ctx *ctx)
{
    for (unsigned i = 0; i < FL_DROP_COUNT; i++) {
        uint64_t n = d->drops[i] - d->drops_flushed[i];
        if (n)
            fl_counter_add(ctx, decode_drop_names[i], n);
        d->drops_flushed[i] = d->drops[i];
    }
    for (unsigned i = 0; i < FL_NOTE_COUNT; i++) {
        uint64_t n = d->notes[i] - d->notes_flushed[i];
        if (n)
            fl_counter_add(ctx, decode_note_names[i], n);
        d->notes_flushed[i] = d->notes[i];
    }
    for (unsigned i = 1; i < FL_TUN_COUNT; i++) {
        uint64_t n = d->tunnels[i] - d->tunnels_flushed[i];
        if (n)
            fl_counter_add(ctx, decode_tunnel_counters[i], n);
        d->tunnels_flushed[i] = d->tunnels[i];
    }
}

void fl_decoder_totals(const struct fl_decoder *d, uint64_t *drops, uint64_t *notes)
{
    if (drops)
        memcpy(drops, d->drops, sizeof d->drops);
    if (notes)
        memcpy(notes, d->notes, sizeof d->notes);
}

void fl_decoder_tunnel_totals(const struct fl_decoder *d, uint64_t *tunnels)
{
    memcpy(tunnels, d->tunnels, sizeof d->tunnels);
}

/* ---- Fragment table ----------------------------------------------------- */

static struct decode_frag *decode_frag_set(const struct fl_decoder *d,
                                           const struct decode_frag_key *k)
{
    uint64_t s[2], t[2], h;

    decode_addr_words(k->src, s);
    decode_addr_words(k->dst, t);
    h = decode_flow_hash(s, 0, t, 0, k->kproto) ^ decode_mix64(k->id + 0x9e3779b97f4a7c15ull);
    return d->frag + (size_t)(decode_mix64(h) & d->frag_set_mask) * DECODE_FRAG_WAYS;
}

static bool decode_frag_match(const struct decode_frag *s, const struct decode_frag_key *k)
{
    return s->stamp && s->id == k->id && s->kproto == k->kproto &&
           memcmp(&s->src, k->src, sizeof s->src) == 0 &&
           memcmp(&s->dst, k->dst, sizeof s->dst) == 0;
}

void decode_frag_put(struct fl_decoder *d, const struct decode_frag_key *k,
                     uint8_t proto, uint16_t sport, uint16_t dport)
{
    struct decode_frag *set = decode_frag_set(d, k), *victim = set;

    for (unsigned i = 0; i < DECODE_FRAG_WAYS; i++) {
        /* The same datagram again (a retransmitted first fragment, or an
         * IP id reused after wrapping) takes over its own slot. */
        if (decode_frag_match(&set[i], k)) {
            victim = &set[i];
            break;
        }
        if (set[i].stamp < victim->stamp)
            victim = &set[i];
    }
    victim->src = *k->src;
    victim->dst = *k->dst;
    victim->id = k->id;
    victim->kproto = k->kproto;
    victim->proto = proto;
    victim->sport = sport;
    victim->dport = dport;
    victim->stamp = ++d->frag_stamp;
}

const struct decode_frag *decode_frag_get(const struct fl_decoder *d,
                                          const struct decode_frag_key *k)
{
    const struct decode_frag *set = decode_frag_set(d, k);

    for (unsigned i = 0; i < DECODE_FRAG_WAYS; i++)
        if (decode_frag_match(&set[i], k))
            return &set[i];
    return NULL;
}
