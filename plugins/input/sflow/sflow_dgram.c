/* sflow_dgram.c: one sFlow v5 datagram (sflow_version_5.txt, "sample_datagram_v5").
 *
 * The header (version, agent address, sub-agent, sequence number, uptime,
 * sample count) is checked first; then each sample is framed by its
 * length, which must fit the datagram, before its content is read. A
 * sample whose length runs past the datagram ends the datagram (the next
 * cannot be found); a sample whose content contradicts its length is
 * dropped and the next one is read. A sample count larger than what the
 * datagram holds is bounded by the bytes, never trusted.
 *
 * Sequence numbers: datagrams per agent and sub-agent, flow samples and
 * counter samples per source of a sub-agent. A forward gap is loss; a
 * number going back is a restart of the agent (counted, no loss). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/log.h>
#include "sflow_int.h"

static const char *const drop_names[SFLOW_DROP_COUNT] = {
    [SFLOW_DROP_SHORT] = "drop_short",
    [SFLOW_DROP_VERSION] = "drop_version",
    [SFLOW_DROP_AGENT_TYPE] = "drop_agent_type",
    [SFLOW_DROP_SAMPLE_LEN] = "drop_sample_length",
    [SFLOW_DROP_SAMPLE] = "drop_bad_sample",
    [SFLOW_DROP_RECORD_LEN] = "drop_record_length",
    [SFLOW_DROP_RECORD] = "drop_bad_record",
};

static const char *const count_names[SFLOW_N_COUNT] = {
    [SFLOW_N_DATAGRAMS] = "sflow_datagrams",
    [SFLOW_N_FLOW_SAMPLES] = "flow_samples",
    [SFLOW_N_COUNTER_SAMPLES] = "counter_samples",
    [SFLOW_N_FLOW_ROWS] = "flow_rows",
    [SFLOW_N_COUNTER_ROWS] = "counter_rows",
    [SFLOW_N_FLOW_NO_ROW] = "flow_samples_without_ip",
    [SFLOW_N_UNKNOWN_SAMPLE] = "unknown_sample_type",
    [SFLOW_N_UNKNOWN_FLOW_REC] = "unknown_flow_record",
    [SFLOW_N_UNKNOWN_CTR_REC] = "unknown_counter_record",
    [SFLOW_N_HEADER_PROTO] = "unsupported_header_protocol",
    [SFLOW_N_DGRAM_LOST] = "datagrams_lost",
    [SFLOW_N_FLOW_LOST] = "flow_samples_lost",
    [SFLOW_N_CTR_LOST] = "counter_samples_lost",
    [SFLOW_N_AGENT_DROPS] = "agent_drops",
    [SFLOW_N_AGENT_RESTARTS] = "sequence_restarts",
    [SFLOW_N_UNTRACKED] = "sources_untracked",
};

int sflow_dec_init(struct sflow_dec *d, struct fl_ctx *ctx, uint32_t batch_rows, bool rates,
                   size_t max_sources)
{
    static const struct fl_decoder_opts o = { 0 };
    int rc;

    memset(d, 0, sizeof *d);
    d->ctx = ctx;
    d->batch_rows = batch_rows;
    d->rates = rates;
    d->max_sources = max_sources;
    if ((rc = fl_decoder_new(&o, sizeof o, &d->pdec)) < 0)
        return rc;
    if ((rc = sflow_flow_schema(d)) < 0)
        return rc;
    if ((rc = sflow_counter_schema(ctx, rates, &d->cschema)) < 0)
        return rc;
    d->synth = calloc(1, 65536);
    return d->synth ? 0 : -FL_ENOMEM;
}

void sflow_dec_fini(struct sflow_dec *d)
{
    fl_batch_release(&d->flows);
    fl_batch_release(&d->ctrs);
    fl_decoder_destroy(&d->pdec);
    for (size_t i = 0; i < d->tab_cap; i++)
        free(d->tab[i].last);
    free(d->tab);
    free(d->synth);
    d->tab = NULL;
    d->synth = NULL;
}

/* ---- sequence scopes --------------------------------------------------- */

static size_t src_hash(const struct fl_addr *a, uint32_t sub, uint8_t kind, uint64_t source)
{
    uint64_t w[2], h = ((uint64_t)sub << 32 | kind) ^ source * 0xff51afd7ed558ccdull;
    memcpy(w, a->b, 16);
    h ^= w[0] * 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ull;
    h ^= w[1] * 0xc2b2ae3d27d4eb4full;
    h = (h ^ (h >> 31)) * 0x94d049bb133111ebull;
    return (size_t)(h ^ (h >> 32));
}

static struct sflow_src *src_slot(struct sflow_src *tab, size_t cap, const struct fl_addr *a,
                                  uint32_t sub, uint8_t kind, uint64_t source)
{
    size_t i = src_hash(a, sub, kind, source) & (cap - 1);
    for (;; i = (i + 1) & (cap - 1)) {
        struct sflow_src *s = &tab[i];
        if (!s->kind || (s->kind == kind && s->sub_agent == sub && s->source == source &&
                         memcmp(s->agent.b, a->b, 16) == 0))
            return s;
    }
}

static int src_grow(struct sflow_dec *d)
{
    size_t cap = d->tab_cap ? d->tab_cap * 2 : 64;
    struct sflow_src *t = calloc(cap, sizeof *t);
    if (!t)
        return -FL_ENOMEM;
    for (size_t i = 0; i < d->tab_cap; i++) {
        struct sflow_src *s = &d->tab[i];
        if (s->kind)
            *src_slot(t, cap, &s->agent, s->sub_agent, s->kind, s->source) = *s;
    }
    free(d->tab);
    d->tab = t;
    d->tab_cap = cap;
    return 0;
}

struct sflow_src *sflow_src_get(struct sflow_dec *d, const struct fl_addr *agent,
                                uint32_t sub_agent, uint8_t kind, uint64_t source)
{
    struct sflow_src *s;
    if (d->tab_cap) {
        s = src_slot(d->tab, d->tab_cap, agent, sub_agent, kind, source);
        if (s->kind)
            return s;
    }
    if (d->tab_n >= d->max_sources) {
        d->n[SFLOW_N_UNTRACKED]++;
        return NULL;
    }
    if ((d->tab_n + 1) * 2 > d->tab_cap && src_grow(d) < 0)
        return NULL;
    s = src_slot(d->tab, d->tab_cap, agent, sub_agent, kind, source);
    s->agent = *agent;
    s->sub_agent = sub_agent;
    s->kind = kind;
    s->source = source;
    d->tab_n++;
    return s;
}

/* ---- batches ------------------------------------------------------------- */

static int emit(struct sflow_dec *d, int port)
{
    struct fl_batch **b = port ? &d->ctrs : &d->flows;
    if (!*b)
        return 0;
    if (!(*b)->rows) {
        fl_batch_release(b);
        return 0;
    }
    return fl_emit_port(d->ctx, port ? "counters" : "out", b);
}

int sflow_room(struct sflow_dec *d, int port)
{
    struct fl_batch **b = port ? &d->ctrs : &d->flows;
    int rc;
    if (*b && (*b)->rows < (*b)->cap)
        return 0;
    if ((rc = emit(d, port)) < 0)
        return rc;
    return fl_batch_new(d->ctx, port ? d->cschema : d->fschema, d->batch_rows, b);
}

int sflow_dec_flush(struct sflow_dec *d)
{
    int rc = emit(d, 0);
    return rc < 0 ? rc : emit(d, 1);
}

void sflow_dec_report(struct sflow_dec *d)
{
    for (int i = 0; i < SFLOW_N_COUNT; i++) {
        if (d->n[i])
            fl_counter_add(d->ctx, count_names[i], d->n[i]);
        d->n[i] = 0;
    }
    for (int i = 0; i < SFLOW_DROP_COUNT; i++) {
        if (d->drops[i])
            fl_counter_add(d->ctx, drop_names[i], d->drops[i]);
        d->drops[i] = 0;
    }
    fl_decoder_flush(d->pdec, d->ctx);
    d->reported = 0;
}

/* ---- the datagram ---------------------------------------------------------- */

static void agent_text(const struct fl_addr *a, char *buf, size_t len)
{
    if (fl_addr_is_v4(a))
        snprintf(buf, len, "%u.%u.%u.%u", a->b[12], a->b[13], a->b[14], a->b[15]);
    else
        inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
}

static void dgram_sequence(struct sflow_dec *d, const struct sflow_dgram *g)
{
    struct sflow_src *s = sflow_src_get(d, &g->agent, g->sub_agent, 1, 0);
    if (!s)
        return;
    if (s->known && g->seq != s->seq_next) {
        uint32_t gap = g->seq - s->seq_next;
        if (gap < 0x80000000u) {
            char a[64];
            d->n[SFLOW_N_DGRAM_LOST] += gap;
            agent_text(&g->agent, a, sizeof a);
            FL_LOG_WARN_RL(d->ctx, "agent %s, sub-agent %u: %u datagrams missing by sequence "
                           "numbers", a, g->sub_agent, gap);
        } else {
            d->n[SFLOW_N_AGENT_RESTARTS]++;
        }
    }
    s->known = true;
    s->seq_next = g->seq + 1;
}

int sflow_dec_datagram(struct sflow_dec *d, const uint8_t *p, size_t len,
                       const struct fl_addr *from, uint64_t ts_ns)
{
    struct sflow_dgram g = { .p = p, .len = len, .ts_ns = ts_ns };
    uint32_t nsamples, atype;
    size_t off;
    int rc;

    (void)from;
    if (d->reported >= 256)     /* files: counters move during long reads */
        sflow_dec_report(d);
    d->reported++;
    if (len < 8) {
        d->drops[SFLOW_DROP_SHORT]++;
        return 0;
    }
    if (sf_rd32(p) != 5) {
        d->drops[SFLOW_DROP_VERSION]++;
        return 0;
    }
    atype = sf_rd32(p + 4);
    if (atype == 1 && len >= 12) {
        sf_v4(&g.agent, p + 8);
        off = 12;
    } else if (atype == 2 && len >= 24) {
        memcpy(g.agent.b, p + 8, 16);
        off = 24;
    } else if (atype == 1 || atype == 2) {
        d->drops[SFLOW_DROP_SHORT]++;
        return 0;
    } else {
        d->drops[SFLOW_DROP_AGENT_TYPE]++;
        return 0;
    }
    if (len - off < 16) {
        d->drops[SFLOW_DROP_SHORT]++;
        return 0;
    }
    g.sub_agent = sf_rd32(p + off);
    g.seq = sf_rd32(p + off + 4);
    g.uptime_ms = sf_rd32(p + off + 8);
    nsamples = sf_rd32(p + off + 12);
    off += 16;
    d->n[SFLOW_N_DATAGRAMS]++;
    dgram_sequence(d, &g);

    for (uint32_t i = 0; i < nsamples; i++) {
        uint32_t fmt, slen;
        if (len - off < 8) {
            d->drops[SFLOW_DROP_SAMPLE_LEN]++;  /* fewer samples than it says */
            break;
        }
        fmt = sf_rd32(p + off);
        slen = sf_rd32(p + off + 4);
        off += 8;
        if (slen > len - off) {
            d->drops[SFLOW_DROP_SAMPLE_LEN]++;
            break;
        }
        const uint8_t *s = p + off;
        off += slen;
        switch (fmt) {     /* enterprise 0 (the top 20 bits), format */
        case 1:
        case 3:
            d->n[SFLOW_N_FLOW_SAMPLES]++;
            rc = sflow_flow_sample(d, &g, s, slen, fmt == 3);
            break;
        case 2:
        case 4:
            d->n[SFLOW_N_COUNTER_SAMPLES]++;
            rc = sflow_counter_sample(d, &g, s, slen, fmt == 4);
            break;
        default:
            d->n[SFLOW_N_UNKNOWN_SAMPLE]++;
            rc = 0;
            break;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}
