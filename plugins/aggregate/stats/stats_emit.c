/* stats_emit.c: the output ports of aggregate.stats and the rows a closed
 * window gives on each. Every schema starts with the window columns
 * (window_start, window_end, window) and ends with flows, packets, bytes,
 * so each port is one tidy table (one CSV file, one InfluxDB measurement). */
#include <stdlib.h>
#include <string.h>
#include "stats.h"

const char *const stats_ports[] = { "totals", "protocols", "classes", "top_ports", "top_hosts",
                                    "top_conversations", NULL };

#define STATS_QCOLS \
    { .name = "flows", .type = FL_T_U64 }, { .name = "packets", .type = FL_T_U64 }, \
    { .name = "bytes", .type = FL_T_U64 }

int stats_out_schemas(struct fl_ctx *ctx, struct stats *st)
{
    static const struct fl_col_def totals[] = { FL_WINDOW_COLS, STATS_QCOLS };
    static const struct fl_col_def protocols[] = { FL_WINDOW_COLS, { .name = "proto", .type = FL_T_U8 },
                                                   STATS_QCOLS };
    static const struct fl_col_def classes[] = { FL_WINDOW_COLS, { .name = "class", .type = FL_T_STR },
                                                 STATS_QCOLS };
    static const struct fl_col_def ports[] = {
        FL_WINDOW_COLS, { .name = "rank", .type = FL_T_U32 }, { .name = "proto", .type = FL_T_U8 },
        { .name = "port", .type = FL_T_U16 }, STATS_QCOLS, { .name = "error", .type = FL_T_U64 } };
    static const struct fl_col_def hosts[] = {
        FL_WINDOW_COLS, { .name = "rank", .type = FL_T_U32 }, { .name = "host", .type = FL_T_ADDR },
        STATS_QCOLS, { .name = "error", .type = FL_T_U64 } };
    static const struct fl_col_def convs[] = {
        FL_WINDOW_COLS, { .name = "rank", .type = FL_T_U32 }, { .name = "host_a", .type = FL_T_ADDR },
        { .name = "host_b", .type = FL_T_ADDR }, STATS_QCOLS, { .name = "error", .type = FL_T_U64 } };
    static const struct { const struct fl_col_def *c; size_t n; } defs[STATS_NOUT] = {
        { totals, sizeof(totals) / sizeof(totals[0]) },
        { protocols, sizeof(protocols) / sizeof(protocols[0]) },
        { classes, sizeof(classes) / sizeof(classes[0]) },
        { ports, sizeof(ports) / sizeof(ports[0]) },
        { hosts, sizeof(hosts) / sizeof(hosts[0]) },
        { convs, sizeof(convs) / sizeof(convs[0]) },
    };
    for (int p = 0; p < STATS_NOUT; p++) {
        int rc = fl_schema_intern(ctx, defs[p].c, defs[p].n, sizeof(defs[p].c[0]), &st->out[p]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* A batch for port p with room for n rows, its window columns filled. */
static int stats_batch(struct stats *st, int p, uint32_t n, const struct fl_window *w,
                       struct fl_batch **out)
{
    struct fl_batch *b;
    int rc = fl_batch_new(st->ctx, st->out[p], n ? n : 1, &b);
    if (rc < 0)
        return rc;
    for (uint32_t r = 0; r < n; r++) {
        FL_COL(b, 0, uint64_t)[r] = w->start;
        FL_COL(b, 1, uint64_t)[r] = w->end;
        FL_COL(b, 2, int64_t)[r] = (int64_t)w->length;
    }
    b->rows = n;
    b->t_min = w->start;
    b->t_max = w->end - 1;
    *out = b;
    return 0;
}

static void stats_q(struct fl_batch *b, uint32_t col, uint32_t r, const uint64_t *v)
{
    for (int q = 0; q < STATS_NQ; q++)
        FL_COL(b, col + (uint32_t)q, uint64_t)[r] = v[q];
}

static int stats_send(struct stats *st, int p, struct fl_batch **b)
{
    return fl_emit_port(st->ctx, stats_ports[p], b);
}

/* One top-N port: rank, the key's columns (filled by put), the counts and
 * the error. */
static int stats_emit_top(struct stats *st, int p, const struct fl_window *w,
                          const struct stats_topk *t, uint32_t key_cols)
{
    uint32_t *idx = malloc((st->top_n ? st->top_n : 1) * sizeof(*idx));
    struct fl_batch *b = NULL;
    int rc;
    if (!idx)
        return -FL_ENOMEM;
    uint32_t n = stats_topk_top(t, (uint32_t)st->top_n, idx);
    if ((rc = stats_batch(st, p, n, w, &b)) < 0)
        goto out;
    for (uint32_t r = 0; r < n; r++) {
        const struct stats_hh *e = &t->e[idx[r]];
        FL_COL(b, 3, uint32_t)[r] = r + 1;
        if (p == STATS_OUT_TOP_PORTS) {
            FL_COL(b, 4, uint8_t)[r] = e->key[1];
            FL_COL(b, 5, uint16_t)[r] = (uint16_t)(e->key[2] << 8 | e->key[3]);
        } else {
            memcpy(&FL_COL(b, 4, struct fl_addr)[r], e->key, 16);
            if (p == STATS_OUT_TOP_CONVS)
                memcpy(&FL_COL(b, 5, struct fl_addr)[r], e->key + 16, 16);
        }
        stats_q(b, 4 + key_cols, r, e->v);
        FL_COL(b, 4 + key_cols + STATS_NQ, uint64_t)[r] = e->err;
    }
    rc = stats_send(st, p, &b);
out:
    fl_batch_release(&b);
    free(idx);
    return rc;
}

int stats_emit_window(struct stats *st, const struct fl_window *w)
{
    const struct stats_win *sw = w->state;
    struct fl_batch *b = NULL;
    int rc;

    if ((rc = stats_batch(st, STATS_OUT_TOTALS, 1, w, &b)) < 0)
        return rc;
    stats_q(b, 3, 0, sw->total);
    if ((rc = stats_send(st, STATS_OUT_TOTALS, &b)) < 0)
        return rc;

    /* protocols seen, in number order */
    uint32_t n = 0;
    for (int p = 0; p < 256; p++)
        n += sw->proto[p][STATS_FLOWS] || sw->proto[p][STATS_PACKETS];
    if ((rc = stats_batch(st, STATS_OUT_PROTOCOLS, n, w, &b)) < 0)
        return rc;
    for (uint32_t p = 0, r = 0; p < 256; p++)
        if (sw->proto[p][STATS_FLOWS] || sw->proto[p][STATS_PACKETS]) {
            FL_COL(b, 3, uint8_t)[r] = (uint8_t)p;
            stats_q(b, 4, r++, sw->proto[p]);
        }
    if ((rc = stats_send(st, STATS_OUT_PROTOCOLS, &b)) < 0)
        return rc;

    /* every class, zeros too (the window saw traffic: a zero is a fact),
     * then other */
    n = (uint32_t)st->cls.n + 1;
    if ((rc = stats_batch(st, STATS_OUT_CLASSES, n, w, &b)) < 0)
        return rc;
    for (uint32_t k = 0; k < n; k++) {
        const char *name = k < st->cls.n ? st->cls.name[k] : "other";
        if ((rc = fl_batch_put_bytes(b, name, (uint32_t)strlen(name),
                                     &FL_COL(b, 3, struct fl_span)[k])) < 0) {
            fl_batch_release(&b);
            return rc;
        }
        stats_q(b, 4, k, &sw->cls[(size_t)k * STATS_NQ]);
    }
    if ((rc = stats_send(st, STATS_OUT_CLASSES, &b)) < 0)
        return rc;

    if (!st->top_n)
        return 0;
    if ((rc = stats_emit_top(st, STATS_OUT_TOP_PORTS, w, &sw->ports, 2)) < 0
        || (rc = stats_emit_top(st, STATS_OUT_TOP_HOSTS, w, &sw->hosts, 1)) < 0)
        return rc;
    return stats_emit_top(st, STATS_OUT_TOP_CONVS, w, &sw->convs, 2);
}
