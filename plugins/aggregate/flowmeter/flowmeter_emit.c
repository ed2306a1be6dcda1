/* flowmeter_emit.c: the flow records aggregate.flowmeter emits. The output
 * schema (canonical field names of core/ie/fields.tsv; the seed's names are
 * registry aliases), one row per ended flow, the final statistics, batching
 * of rows and the stage counters. It decides nothing about when a flow ends
 * (flowmeter_table.c). */
#include <math.h>
#include <string.h>
#include "flowmeter.h"

enum {
    FLOWMETER_C_START, FLOWMETER_C_END, FLOWMETER_C_DURATION, FLOWMETER_C_PROTO,
    FLOWMETER_C_SRC_ADDR, FLOWMETER_C_DST_ADDR, FLOWMETER_C_SRC_PORT, FLOWMETER_C_DST_PORT,
    FLOWMETER_C_PACKETS, FLOWMETER_C_BYTES, FLOWMETER_C_PAYLOAD_BYTES, FLOWMETER_C_NOPAY,
    FLOWMETER_C_PS_AVG, FLOWMETER_C_PS_MIN, FLOWMETER_C_PS_MAX, FLOWMETER_C_PS_STD,
    FLOWMETER_C_PAY_AVG, FLOWMETER_C_PAY_MIN, FLOWMETER_C_PAY_MAX, FLOWMETER_C_PAY_STD,
    FLOWMETER_C_IP_VERSION, FLOWMETER_C_VLAN,
    FLOWMETER_C_FWD_PACKETS, FLOWMETER_C_FWD_BYTES, FLOWMETER_C_REV_PACKETS,
    FLOWMETER_C_REV_BYTES, FLOWMETER_C_TCP_FLAGS, FLOWMETER_C_FWD_TCP_FLAGS,
    FLOWMETER_C_REV_TCP_FLAGS, FLOWMETER_C_END_REASON, FLOWMETER_C_CONN_STATE, FLOWMETER_NCOLS,
    /* with key_tunnel only, after the others */
    FLOWMETER_C_TUNNEL = FLOWMETER_NCOLS, FLOWMETER_C_TUNNEL_ID
};

/* Times first (as nfdump prints them), then the seed's Table 2 features in
 * its order, then what flowline adds. Order is part of the output contract:
 * CSV headers follow it. */
static const struct fl_col_def flowmeter_cols[FLOWMETER_NCOLS] = {
    [FLOWMETER_C_START] = { "flow_start", FL_T_TS },
    [FLOWMETER_C_END] = { "flow_end", FL_T_TS },
    [FLOWMETER_C_DURATION] = { "duration", FL_T_DUR },
    [FLOWMETER_C_PROTO] = { "proto", FL_T_U8 },
    [FLOWMETER_C_SRC_ADDR] = { "src_addr", FL_T_ADDR },
    [FLOWMETER_C_DST_ADDR] = { "dst_addr", FL_T_ADDR },
    [FLOWMETER_C_SRC_PORT] = { "src_port", FL_T_U16 },
    [FLOWMETER_C_DST_PORT] = { "dst_port", FL_T_U16 },
    [FLOWMETER_C_PACKETS] = { "packets", FL_T_U64 },
    [FLOWMETER_C_BYTES] = { "bytes", FL_T_U64 },
    [FLOWMETER_C_PAYLOAD_BYTES] = { "payload_bytes", FL_T_U64 },
    [FLOWMETER_C_NOPAY] = { "nopay", FL_T_U64 },
    [FLOWMETER_C_PS_AVG] = { "ps_avg", FL_T_F64 },
    [FLOWMETER_C_PS_MIN] = { "ps_min", FL_T_U32 },
    [FLOWMETER_C_PS_MAX] = { "ps_max", FL_T_U32 },
    [FLOWMETER_C_PS_STD] = { "ps_std", FL_T_F64 },
    [FLOWMETER_C_PAY_AVG] = { "pay_avg", FL_T_F64 },
    [FLOWMETER_C_PAY_MIN] = { "pay_min", FL_T_U32 },
    [FLOWMETER_C_PAY_MAX] = { "pay_max", FL_T_U32 },
    [FLOWMETER_C_PAY_STD] = { "pay_std", FL_T_F64 },
    [FLOWMETER_C_IP_VERSION] = { "ip_version", FL_T_U8 },
    [FLOWMETER_C_VLAN] = { "vlan", FL_T_U16 },
    [FLOWMETER_C_FWD_PACKETS] = { "fwd_packets", FL_T_U64 },
    [FLOWMETER_C_FWD_BYTES] = { "fwd_bytes", FL_T_U64 },
    [FLOWMETER_C_REV_PACKETS] = { "rev_packets", FL_T_U64 },
    [FLOWMETER_C_REV_BYTES] = { "rev_bytes", FL_T_U64 },
    [FLOWMETER_C_TCP_FLAGS] = { "tcp_flags", FL_T_U8 },
    [FLOWMETER_C_FWD_TCP_FLAGS] = { "fwd_tcp_flags", FL_T_U8 },
    [FLOWMETER_C_REV_TCP_FLAGS] = { "rev_tcp_flags", FL_T_U8 },
    [FLOWMETER_C_END_REASON] = { "end_reason", FL_T_STR },
    [FLOWMETER_C_CONN_STATE] = { "conn_state", FL_T_STR },
};

static const char *const flowmeter_reasons[FLOWMETER_NREASONS] = {
    [FLOWMETER_FIN] = "fin", [FLOWMETER_RST] = "rst", [FLOWMETER_IDLE] = "idle",
    [FLOWMETER_ACTIVE] = "active", [FLOWMETER_EOF] = "eof", [FLOWMETER_EVICTED] = "evicted",
};

/* Stage counter per reason: how many records ended that way. */
static const char *const flowmeter_reason_counters[FLOWMETER_NREASONS] = {
    [FLOWMETER_FIN] = "flows_fin", [FLOWMETER_RST] = "flows_rst",
    [FLOWMETER_IDLE] = "flows_idle", [FLOWMETER_ACTIVE] = "flows_active",
    [FLOWMETER_EOF] = "flows_eof", [FLOWMETER_EVICTED] = "flows_evicted",
};

const char *flowmeter_reason_name(enum flowmeter_reason r)
{
    return r < FLOWMETER_NREASONS ? flowmeter_reasons[r] : "?";
}

int flowmeter_out_schema(struct fl_ctx *ctx, const struct flowmeter *fm,
                         const struct fl_schema **out)
{
    struct fl_col_def cols[FLOWMETER_NCOLS + 5];
    size_t n = FLOWMETER_NCOLS;

    memcpy(cols, flowmeter_cols, sizeof flowmeter_cols);
    if (fm->key_tunnel) {
        cols[n++] = (struct fl_col_def){ "tunnel", FL_T_STR };
        cols[n++] = (struct fl_col_def){ "tunnel_id", FL_T_U32 };
    }
    if (fm->sampled) {      /* last: what was sampled, and the rate it was scaled by */
        cols[n++] = (struct fl_col_def){ "sampled_packets", FL_T_U64 };
        cols[n++] = (struct fl_col_def){ "sampled_bytes", FL_T_U64 };
        cols[n++] = (struct fl_col_def){ "sampling_rate", FL_T_U32 };
    }
    return fl_schema_intern(ctx, cols, n, sizeof(cols[0]), out);
}

/* sampling_scale: a flow's rate (0 when its packets carried none). */
static uint32_t flowmeter_rate(const struct flowmeter_cold *c)
{
    return (uint32_t)c->rate[0] << 16 | (uint32_t)c->rate[1] << 8 | c->rate[2];
}

/* key_tunnel's cells: the kind's name and the id, missing when none. */
static int flowmeter_emit_tunnel(struct fl_batch *b, uint32_t r, const struct flowmeter_cold *c)
{
    const char *name = fl_tunnel_kind_name(c->tunnel & ~FLOWMETER_TUNNEL_HAS_ID);
    struct fl_span span = { 0, 0 };
    int rc;

    FL_COL(b, FLOWMETER_C_TUNNEL_ID, uint32_t)[r] = c->tunnel_id;
    if (!(c->tunnel & FLOWMETER_TUNNEL_HAS_ID) && (rc = fl_batch_set_missing(b, FLOWMETER_C_TUNNEL_ID, r)) < 0)
        return rc;
    if (name && (rc = fl_batch_put_bytes(b, name, (uint32_t)strlen(name), &span)) < 0)
        return rc;
    FL_COL(b, FLOWMETER_C_TUNNEL, struct fl_span)[r] = span;
    if (!name)
        return fl_batch_set_missing(b, FLOWMETER_C_TUNNEL, r);
    return 0;
}

/* Sizes are integers, so the sums are exact and the variance numerator
 * n * sum(x^2) - sum(x)^2 = n^2 * var is an exact 128-bit integer: there is
 * no cancellation to guard against (the reason Welford exists for floating
 * point), and only the final sqrt and division round. Far past any real
 * flow (the products overflow 128 bits) it falls back to long double. */
double flowmeter_std(uint64_t n, uint64_t sum, flowmeter_u128 sumsq)
{
    flowmeter_u128 a, b;

    if (n < 2)
        return 0.0;
    if (!__builtin_mul_overflow((flowmeter_u128)n, sumsq, &a)
        && !__builtin_mul_overflow((flowmeter_u128)sum, (flowmeter_u128)sum, &b))
        return sqrt((double)(a - b)) / (double)n;
    long double mean = (long double)sum / n;
    long double var = (long double)sumsq / n - mean * mean;
    return var > 0 ? (double)sqrtl(var) : 0.0;
}

int flowmeter_emit_row(struct flowmeter *fm, struct fl_ctx *ctx, uint32_t idx,
                       enum flowmeter_reason why)
{
    const struct flowmeter_flow *f = &fm->pool[idx];
    const struct flowmeter_cold *c = &fm->cold[idx];
    int rc;

    if (!fm->out) {
        if ((rc = fl_batch_new(ctx, fm->out_schema, (uint32_t)fm->batch_size, &fm->out)) < 0)
            return rc;
        fm->out_since = fm->clock;
    }
    struct fl_batch *b = fm->out;
    uint32_t r = b->rows;
    uint64_t fwd = flowmeter_fwd_pkts(f, c), rev = flowmeter_rev_pkts(f, c);
    uint64_t n = fwd + rev, bytes = f->fwd_bytes + f->rev_bytes;
    /* sampled input: each packet stands for `rate` packets on the wire, so
     * counts and sums are scaled (sizes, their spread and times are not) */
    uint32_t rate = fm->sampled ? flowmeter_rate(c) : 0;
    uint64_t k = rate ? rate : 1;
    const char *reason = flowmeter_reason_name(why), *conn = flowmeter_conn_state(f);
    struct fl_span span, cspan;

    if ((rc = fl_batch_put_bytes(b, reason, (uint32_t)strlen(reason), &span)) < 0
        || (rc = fl_batch_put_bytes(b, conn, (uint32_t)strlen(conn), &cspan)) < 0)
        return rc;
    FL_COL(b, FLOWMETER_C_START, uint64_t)[r] = f->first_ts;
    FL_COL(b, FLOWMETER_C_END, uint64_t)[r] = f->last_ts;
    FL_COL(b, FLOWMETER_C_DURATION, int64_t)[r] = (int64_t)(f->last_ts - f->first_ts);
    FL_COL(b, FLOWMETER_C_PROTO, uint8_t)[r] = f->proto;
    FL_COL(b, FLOWMETER_C_SRC_ADDR, struct fl_addr)[r] = f->a;
    FL_COL(b, FLOWMETER_C_DST_ADDR, struct fl_addr)[r] = f->b;
    /* ICMP has no source port; a query/reply flow keeps its identifier
     * there as part of the key. */
    FL_COL(b, FLOWMETER_C_SRC_PORT, uint16_t)[r] = f->proto == 1 || f->proto == 58 ? 0 : f->pa;
    FL_COL(b, FLOWMETER_C_DST_PORT, uint16_t)[r] = f->pb;
    FL_COL(b, FLOWMETER_C_PACKETS, uint64_t)[r] = n * k;
    FL_COL(b, FLOWMETER_C_BYTES, uint64_t)[r] = bytes * k;
    FL_COL(b, FLOWMETER_C_PAYLOAD_BYTES, uint64_t)[r] = f->pay_sum * k;
    FL_COL(b, FLOWMETER_C_NOPAY, uint64_t)[r] = ((uint64_t)c->nopay_hi << 32 | f->nopay_lo) * k;
    FL_COL(b, FLOWMETER_C_PS_AVG, double)[r] = (double)bytes / (double)n;
    FL_COL(b, FLOWMETER_C_PS_MIN, uint32_t)[r] = f->ps_min;
    FL_COL(b, FLOWMETER_C_PS_MAX, uint32_t)[r] = f->ps_max;
    FL_COL(b, FLOWMETER_C_PS_STD, double)[r] = flowmeter_std(n, bytes, (flowmeter_u128)c->ps_sq_hi << 64 | f->ps_sq_lo);
    FL_COL(b, FLOWMETER_C_PAY_AVG, double)[r] = (double)f->pay_sum / (double)n;
    FL_COL(b, FLOWMETER_C_PAY_MIN, uint32_t)[r] = f->pay_min;
    FL_COL(b, FLOWMETER_C_PAY_MAX, uint32_t)[r] = f->pay_max;
    FL_COL(b, FLOWMETER_C_PAY_STD, double)[r] = flowmeter_std(n, f->pay_sum,
                                                           (flowmeter_u128)c->pay_sq_hi << 64 | f->pay_sq_lo);
    FL_COL(b, FLOWMETER_C_IP_VERSION, uint8_t)[r] = f->ipv;
    FL_COL(b, FLOWMETER_C_VLAN, uint16_t)[r] = f->vlan;
    FL_COL(b, FLOWMETER_C_FWD_PACKETS, uint64_t)[r] = fwd * k;
    FL_COL(b, FLOWMETER_C_FWD_BYTES, uint64_t)[r] = f->fwd_bytes * k;
    FL_COL(b, FLOWMETER_C_REV_PACKETS, uint64_t)[r] = rev * k;
    FL_COL(b, FLOWMETER_C_REV_BYTES, uint64_t)[r] = f->rev_bytes * k;
    FL_COL(b, FLOWMETER_C_TCP_FLAGS, uint8_t)[r] = f->fwd_flags | f->rev_flags;
    FL_COL(b, FLOWMETER_C_FWD_TCP_FLAGS, uint8_t)[r] = f->fwd_flags;
    FL_COL(b, FLOWMETER_C_REV_TCP_FLAGS, uint8_t)[r] = f->rev_flags;
    FL_COL(b, FLOWMETER_C_END_REASON, struct fl_span)[r] = span;
    FL_COL(b, FLOWMETER_C_CONN_STATE, struct fl_span)[r] = cspan;
    if (fm->key_tunnel && (rc = flowmeter_emit_tunnel(b, r, c)) < 0)
        return rc;
    if (fm->sampled) {
        uint32_t at = b->schema->ncols - 3;
        FL_COL(b, at, uint64_t)[r] = n;
        FL_COL(b, at + 1, uint64_t)[r] = bytes;
        FL_COL(b, at + 2, uint32_t)[r] = rate;
        if (!rate && (rc = fl_batch_set_missing(b, at + 2, r)) < 0)
            return rc;
    }
    if (!r || f->first_ts < b->t_min)
        b->t_min = f->first_ts;
    if (!r || f->last_ts > b->t_max)
        b->t_max = f->last_ts;
    b->rows = r + 1;
    if (b->rows == b->cap)
        return flowmeter_flush(fm, ctx);
    return 0;
}

int flowmeter_flush(struct flowmeter *fm, struct fl_ctx *ctx)
{
    if (!fm->out)
        return 0;
    return fl_emit(ctx, &fm->out);   /* sets fm->out = NULL, also on error */
}

void flowmeter_count(struct flowmeter *fm, struct fl_ctx *ctx)
{
    for (int r = 0; r < FLOWMETER_NREASONS; r++)
        if (fm->n_end[r]) {
            fl_counter_add(ctx, flowmeter_reason_counters[r], fm->n_end[r]);
            fm->n_end[r] = 0;
        }
    if (fm->n_evicted) {
        fl_counter_add(ctx, "evicted", fm->n_evicted);
        fm->n_evicted = 0;
    }
    if (fm->n_evict_scanned) {   /* cost of eviction: should stay a few per flow */
        fl_counter_add(ctx, "evict_scanned", fm->n_evict_scanned);
        fm->n_evict_scanned = 0;
    }
}
