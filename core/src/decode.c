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
};
static const char *const decode_note_names[FL_NOTE_COUNT] = {
    [FL_NOTE_FRAGMENTS] = "fragments",
    [FL_NOTE_FRAG_UNJOINED] = "frag_unjoined",
    [FL_NOTE_IP_TRUNCATED] = "ip_truncated",
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

const char *fl_decode_reason_name(enum fl_decode_reason r)
{
    if ((unsigned)r >= FL_DROP_COUNT)
        return "unknown";
    return decode_drop_names[r];
}

int fl_decoder_new(const struct fl_decoder_opts *opts_in, size_t opts_size,
                   struct fl_decoder **out)
{
    struct fl_decoder_opts o = { 0 }, *opts = &o;
    struct fl_decoder *d = NULL;
    uint32_t nsets = 1;

    if (opts_in)
        memcpy(&o, opts_in, opts_size < sizeof(o) ? opts_size : sizeof(o));
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
    d->decap = opts->decap;
    *out = d;
    return 0;
fail:
    free(d);
    return -FL_ENOMEM;
}

void fl_decoder_destroy(struct fl_decoder **dp)
{
    if (!dp || !*dp)
        return;
    free((*dp)->frag);
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
}

void fl_decoder_totals(const struct fl_decoder *d, uint64_t *drops, uint64_t *notes)
{
    if (drops)
        memcpy(drops, d->drops, sizeof d->drops);
    if (notes)
        memcpy(notes, d->notes, sizeof d->notes);
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
