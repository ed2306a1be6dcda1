/* sflow_ctr.c: a counter sample (standard, format 2, or expanded, format 4)
 * into one row of port "counters": every field of its records as a column
 * (missing when the sample lacks that record), and optionally the rate of
 * every counter since the source's previous sample.
 *
 * The records read are described by one table (offset, width, kind per
 * field), so reading and bounds-checking are the same code for all: a
 * record shorter than its fixed layout is dropped and counted, longer ones
 * (a newer agent adding fields at the end) are read for what is known.
 *
 * Rates: per source (agent, sub-agent, source id), the delta of each
 * counter over the delta of the agent's uptime. Counters are free-running
 * (sflow_version_5.txt): a value below the previous one wrapped at its
 * width (32 or 64 bits), so the delta is taken modulo 2^width. The uptime
 * going back, or the sample sequence number going back, is an agent
 * restart: the baseline starts again and that sample has no rates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sflow_int.h"

enum ck {
    K_C32, K_C64,       /* counters (rates); column u64 */
    K_G32, K_G64,       /* gauges: u32 / u64 column */
    K_W8, K_W16,        /* a word into a u8 / u16 column */
    K_BIT0, K_BIT1,     /* bit 0 / bit 1 of a word: bool */
    K_TRUE,             /* a word == 1: bool */
    K_MAC,              /* 6 bytes */
    K_BYTE,             /* one byte: u8 */
    K_PCT,              /* int hundredths of a percent: f64 percent, -1 = missing */
};

struct cfield {
    const char *name;
    uint16_t rec, off;
    uint8_t kind;
};

/* The counter records read, their fixed lengths, and their fields. */
static const struct { uint16_t rec, len; } ctr_recs[] = {
    { 1, 88 }, { 2, 52 }, { 5, 28 }, { 7, 56 }, { 1001, 28 },
};
#define N_RECS (sizeof ctr_recs / sizeof ctr_recs[0])

static const struct cfield cfields[] = {
    /* generic interface counters (if_counters, format 1) */
    { "if_index", 1, 0, K_G32 },
    { "if_type", 1, 4, K_G32 },
    { "if_speed", 1, 8, K_G64 },
    { "if_direction", 1, 16, K_W8 },
    { "if_admin_up", 1, 20, K_BIT0 },
    { "if_oper_up", 1, 20, K_BIT1 },
    { "if_in_octets", 1, 24, K_C64 },
    { "if_in_ucast_pkts", 1, 32, K_C32 },
    { "if_in_mcast_pkts", 1, 36, K_C32 },
    { "if_in_bcast_pkts", 1, 40, K_C32 },
    { "if_in_discards", 1, 44, K_C32 },
    { "if_in_errors", 1, 48, K_C32 },
    { "if_in_unknown_protos", 1, 52, K_C32 },
    { "if_out_octets", 1, 56, K_C64 },
    { "if_out_ucast_pkts", 1, 64, K_C32 },
    { "if_out_mcast_pkts", 1, 68, K_C32 },
    { "if_out_bcast_pkts", 1, 72, K_C32 },
    { "if_out_discards", 1, 76, K_C32 },
    { "if_out_errors", 1, 80, K_C32 },
    { "if_promisc", 1, 84, K_TRUE },
    /* Ethernet interface counters (ethernet_counters, format 2: dot3Stats) */
    { "eth_alignment_errors", 2, 0, K_C32 },
    { "eth_fcs_errors", 2, 4, K_C32 },
    { "eth_single_collisions", 2, 8, K_C32 },
    { "eth_multiple_collisions", 2, 12, K_C32 },
    { "eth_sqe_test_errors", 2, 16, K_C32 },
    { "eth_deferred_tx", 2, 20, K_C32 },
    { "eth_late_collisions", 2, 24, K_C32 },
    { "eth_excessive_collisions", 2, 28, K_C32 },
    { "eth_mac_tx_errors", 2, 32, K_C32 },
    { "eth_carrier_sense_errors", 2, 36, K_C32 },
    { "eth_frame_too_longs", 2, 40, K_C32 },
    { "eth_mac_rx_errors", 2, 44, K_C32 },
    { "eth_symbol_errors", 2, 48, K_C32 },
    /* VLAN counters (vlan_counters, format 5) */
    { "vlan", 5, 0, K_W16 },
    { "vlan_octets", 5, 4, K_C64 },
    { "vlan_ucast_pkts", 5, 12, K_C32 },
    { "vlan_mcast_pkts", 5, 16, K_C32 },
    { "vlan_bcast_pkts", 5, 20, K_C32 },
    { "vlan_discards", 5, 24, K_C32 },
    /* IEEE 802.3ad LAG port counters (lag_port_stats, format 7) */
    { "lag_actor_system_id", 7, 0, K_MAC },
    { "lag_partner_system_id", 7, 8, K_MAC },
    { "lag_attached_agg_id", 7, 16, K_G32 },
    { "lag_actor_admin_state", 7, 20, K_BYTE },
    { "lag_actor_oper_state", 7, 21, K_BYTE },
    { "lag_partner_admin_state", 7, 22, K_BYTE },
    { "lag_partner_oper_state", 7, 23, K_BYTE },
    { "lag_lacpdus_rx", 7, 24, K_C32 },
    { "lag_marker_pdus_rx", 7, 28, K_C32 },
    { "lag_marker_response_pdus_rx", 7, 32, K_C32 },
    { "lag_unknown_rx", 7, 36, K_C32 },
    { "lag_illegal_rx", 7, 40, K_C32 },
    { "lag_lacpdus_tx", 7, 44, K_C32 },
    { "lag_marker_pdus_tx", 7, 48, K_C32 },
    { "lag_marker_response_pdus_tx", 7, 52, K_C32 },
    /* processor (format 1001) */
    { "cpu_5s", 1001, 0, K_PCT },
    { "cpu_1m", 1001, 4, K_PCT },
    { "cpu_5m", 1001, 8, K_PCT },
    { "mem_total", 1001, 12, K_G64 },
    { "mem_free", 1001, 20, K_G64 },
};
#define N_FIELDS (sizeof cfields / sizeof cfields[0])

static enum fl_type kind_type(uint8_t k)
{
    switch (k) {
    case K_C32: case K_C64: case K_G64: return FL_T_U64;
    case K_G32: return FL_T_U32;
    case K_W8: case K_BYTE: return FL_T_U8;
    case K_W16: return FL_T_U16;
    case K_BIT0: case K_BIT1: case K_TRUE: return FL_T_BOOL;
    case K_MAC: return FL_T_MAC;
    default: return FL_T_F64;
    }
}

static bool is_counter(uint8_t k) { return k == K_C32 || k == K_C64; }

static size_t n_counters(void)
{
    size_t n = 0;
    for (size_t i = 0; i < N_FIELDS; i++)
        n += is_counter(cfields[i].kind);
    return n;
}

int sflow_counter_schema(struct fl_ctx *ctx, bool rates, const struct fl_schema **out)
{
    static const struct fl_col_def head[SC_NHEAD] = {
        [SC_TS] = { "ts", FL_T_TS },
        [SC_AGENT] = { "agent", FL_T_ADDR },
        [SC_SUB_AGENT] = { "sub_agent", FL_T_U32 },
        [SC_SEQUENCE] = { "sequence", FL_T_U32 },
        [SC_SOURCE_ID_TYPE] = { "source_id_type", FL_T_U8 },
        [SC_SOURCE_ID_INDEX] = { "source_id_index", FL_T_U32 },
        [SC_AGENT_UPTIME] = { "agent_uptime", FL_T_DUR },
    };
    struct fl_col_def cols[SC_NHEAD + 2 * N_FIELDS];
    char names[N_FIELDS][48];
    size_t n = 0;

    for (size_t i = 0; i < SC_NHEAD; i++)
        cols[n++] = head[i];
    for (size_t i = 0; i < N_FIELDS; i++)
        cols[n++] = (struct fl_col_def){ cfields[i].name, kind_type(cfields[i].kind) };
    for (size_t i = 0; rates && i < N_FIELDS; i++) {
        if (!is_counter(cfields[i].kind))
            continue;
        snprintf(names[i], sizeof names[i], "%s_rate", cfields[i].name);
        cols[n++] = (struct fl_col_def){ names[i], FL_T_F64 };
    }
    return fl_schema_intern(ctx, cols, n, sizeof cols[0], out);
}

/* One field of record q into row `row`. */
static int put_field(struct fl_batch *b, uint32_t col, uint32_t row, const struct cfield *f,
                     const uint8_t *q)
{
    const uint8_t *p = q + f->off;
    switch (f->kind) {
    case K_C32: FL_COL(b, col, uint64_t)[row] = sf_rd32(p); break;
    case K_C64: case K_G64: FL_COL(b, col, uint64_t)[row] = sf_rd64(p); break;
    case K_G32: FL_COL(b, col, uint32_t)[row] = sf_rd32(p); break;
    case K_W8: FL_COL(b, col, uint8_t)[row] = (uint8_t)sf_rd32(p); break;
    case K_W16: FL_COL(b, col, uint16_t)[row] = (uint16_t)sf_rd32(p); break;
    case K_BIT0: FL_COL(b, col, bool)[row] = sf_rd32(p) & 1; break;
    case K_BIT1: FL_COL(b, col, bool)[row] = sf_rd32(p) >> 1 & 1; break;
    case K_TRUE: FL_COL(b, col, bool)[row] = sf_rd32(p) == 1; break;
    case K_MAC: memcpy((uint8_t *)b->data[col] + 6 * (size_t)row, p, 6); break;
    case K_BYTE: FL_COL(b, col, uint8_t)[row] = *p; break;
    default: {
        int32_t v = (int32_t)sf_rd32(p);
        if (v < 0)
            return fl_batch_set_missing(b, col, row);
        FL_COL(b, col, double)[row] = v / 100.0;
    }
    }
    return 0;
}

/* The rate state of a source; NULL when untracked or out of memory. */
static struct sflow_src *rate_state(struct sflow_dec *d, const struct sflow_dgram *g,
                                    uint64_t source)
{
    struct sflow_src *s = sflow_src_get(d, &g->agent, g->sub_agent, 3, source);
    if (s && d->rates && !s->last)
        s->last = calloc(n_counters(), sizeof *s->last);
    return s;
}

int sflow_counter_sample(struct sflow_dec *d, const struct sflow_dgram *g, const uint8_t *p,
                         uint32_t len, bool expanded)
{
    const uint8_t *rec[N_RECS] = { 0 };
    uint32_t seq, type, index, n, off, hl = expanded ? 16 : 12;
    bool restart = false;
    int rc;

    if (len < hl) {
        d->drops[SFLOW_DROP_SAMPLE]++;
        return 0;
    }
    seq = sf_rd32(p);
    type = expanded ? sf_rd32(p + 4) : sf_rd32(p + 4) >> 24;
    index = expanded ? sf_rd32(p + 8) : sf_rd32(p + 4) & 0xffffff;
    n = sf_rd32(p + hl - 4);
    off = hl;
    for (uint32_t i = 0; i < n; i++) {
        if (len - off < 8 || sf_rd32(p + off + 4) > len - off - 8) {
            d->drops[SFLOW_DROP_RECORD_LEN]++;
            return 0;
        }
        uint32_t fmt = sf_rd32(p + off), rl = sf_rd32(p + off + 4);
        const uint8_t *q = p + off + 8;
        size_t k = 0;
        off += 8 + rl;
        while (k < N_RECS && ctr_recs[k].rec != fmt)
            k++;
        if (k == N_RECS) {
            d->n[SFLOW_N_UNKNOWN_CTR_REC]++;
            continue;
        }
        if (rl < ctr_recs[k].len) {
            d->drops[SFLOW_DROP_RECORD]++;
            return 0;
        }
        rec[k] = q;
    }

    uint64_t source = (uint64_t)type << 32 | index;
    struct sflow_src *s = rate_state(d, g, source);
    uint32_t dt_ms = 0;
    if (s) {
        if (s->known && seq != s->seq_next) {
            uint32_t gap = seq - s->seq_next;
            if (gap < 0x80000000u) {
                d->n[SFLOW_N_CTR_LOST] += gap;
            } else {
                d->n[SFLOW_N_AGENT_RESTARTS]++;
                restart = true;
            }
        }
        if (s->known && g->uptime_ms < s->uptime_ms)
            restart = true;
        if (s->known && !restart)
            dt_ms = g->uptime_ms - s->uptime_ms;
        if (restart)
            s->have = 0;
        s->known = true;
        s->seq_next = seq + 1;
    }

    if ((rc = sflow_room(d, 1)) < 0)
        return rc;
    struct fl_batch *b = d->ctrs;
    uint32_t row = b->rows++, col = SC_NHEAD, rcol = SC_NHEAD + (uint32_t)N_FIELDS, ci = 0;
    d->n[SFLOW_N_COUNTER_ROWS]++;
    FL_COL(b, SC_TS, uint64_t)[row] = g->ts_ns;
    FL_COL(b, SC_AGENT, struct fl_addr)[row] = g->agent;
    FL_COL(b, SC_SUB_AGENT, uint32_t)[row] = g->sub_agent;
    FL_COL(b, SC_SEQUENCE, uint32_t)[row] = seq;
    FL_COL(b, SC_SOURCE_ID_TYPE, uint8_t)[row] = (uint8_t)type;
    FL_COL(b, SC_SOURCE_ID_INDEX, uint32_t)[row] = index;
    FL_COL(b, SC_AGENT_UPTIME, int64_t)[row] = (int64_t)g->uptime_ms * 1000000;
    if (!b->t_min || g->ts_ns < b->t_min)
        b->t_min = g->ts_ns;
    if (g->ts_ns > b->t_max)
        b->t_max = g->ts_ns;

    for (size_t i = 0; i < N_FIELDS; i++, col++) {
        const struct cfield *f = &cfields[i];
        size_t k = 0;
        bool ctr = is_counter(f->kind);
        while (ctr_recs[k].rec != f->rec)
            k++;
        const uint8_t *q = rec[k];
        rc = q ? put_field(b, col, row, f, q) : fl_batch_set_missing(b, col, row);
        if (rc < 0)
            return rc;
        if (!ctr)
            continue;
        if (d->rates) {
            bool ok = q && s && s->last && dt_ms && (s->have >> k & 1);
            if (ok) {
                uint64_t v = FL_COL(b, col, uint64_t)[row], delta = v - s->last[ci];
                if (f->kind == K_C32)
                    delta &= 0xffffffffu;
                FL_COL(b, rcol, double)[row] = (double)delta * 1000.0 / dt_ms;
            } else if ((rc = fl_batch_set_missing(b, rcol, row)) < 0) {
                return rc;
            }
            if (q && s && s->last)
                s->last[ci] = FL_COL(b, col, uint64_t)[row];
            rcol++;
        }
        ci++;
    }
    if (s) {
        s->uptime_ms = g->uptime_ms;
        for (size_t k = 0; k < N_RECS; k++)
            if (rec[k])
                s->have |= 1ull << k;
    }
    return 0;
}
