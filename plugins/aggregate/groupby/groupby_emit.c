/* groupby_emit.c: a closed window's groups as rows (window columns, keys,
 * aggregates), in the order the groups first appeared, in batches of at
 * most GB_EMIT_ROWS. An aggregate over no value (every argument missing)
 * is missing, except the counts, which are 0. */
#include <math.h>
#include <string.h>
#include "groupby.h"
#include "groupby_quant.h"

static int put_key(struct fl_batch *b, uint32_t col, uint32_t row, enum fl_type t,
                   const char *kv)
{
    switch (t) {
    case FL_T_BOOL:
        FL_COL(b, col, uint8_t)[row] = (uint8_t)kv[0];
        return 0;
    case FL_T_ADDR:
        memcpy(&FL_COL(b, col, struct fl_addr)[row], kv, 16);
        return 0;
    case FL_T_STR: {
        const char *p;
        uint32_t len;
        memcpy(&p, kv, sizeof(p));
        memcpy(&len, kv + 8, 4);
        return fl_batch_put_bytes(b, p, len, &FL_COL(b, col, struct fl_span)[row]);
    }
    default:
        memcpy(&FL_COL(b, col, uint64_t)[row], kv, 8);
        return 0;
    }
}

/* A float result into an f64 column, or rounded into a dur column. */
static void put_real(struct fl_batch *b, uint32_t col, uint32_t row, enum fl_type t, double x)
{
    if (t == FL_T_DUR)
        FL_COL(b, col, int64_t)[row] = (int64_t)llround(x);
    else
        FL_COL(b, col, double)[row] = x;
}

static int put_agg(const struct groupby *g, struct fl_batch *b, uint32_t col, uint32_t row,
                   size_t a, const char *rec)
{
    const struct gb_slot *s = &g->slot[a];
    const char *p = rec + s->off;
    uint64_t n;
    switch (g->aggs[a].fn) {
    case GB_COUNT:
        memcpy(&FL_COL(b, col, uint64_t)[row], p, 8);
        return 0;
    case GB_COUNT_DISTINCT:
        FL_COL(b, col, uint64_t)[row] = fl_distinct_count((const struct fl_distinct *)p, &g->dconf);
        return 0;
    case GB_SUM:
    case GB_MULT:
    case GB_MEAN:
        memcpy(&n, p + 8, 8);
        if (!n)
            return fl_batch_set_missing(b, col, row);
        if (g->aggs[a].fn == GB_MEAN) {
            double sum;
            memcpy(&sum, p, 8);
            put_real(b, col, row, s->out, sum / (double)n);
        } else {
            memcpy(&FL_COL(b, col, uint64_t)[row], p, 8);   /* i64, f64 or dur as summed */
        }
        return 0;
    case GB_MIN:
    case GB_MAX: {
        size_t w = s->in == FL_T_ADDR ? 16 : s->in == FL_T_BOOL ? 1 : 8;
        memcpy(&n, p + (s->in == FL_T_ADDR ? 16 : 8), 8);
        if (!n)
            return fl_batch_set_missing(b, col, row);
        memcpy((char *)b->data[col] + (size_t)row * w, p, w);
        return 0;
    }
    case GB_STDDEV: {
        double m2;
        memcpy(&n, p, 8);
        memcpy(&m2, p + 16, 8);
        if (!n)
            return fl_batch_set_missing(b, col, row);
        put_real(b, col, row, s->out, sqrt(m2 / (double)n));
        return 0;
    }
    case GB_QUANTILE: {
        const struct gb_quant *q;
        memcpy(&q, p, sizeof(q));
        if (!q || !q->n)
            return fl_batch_set_missing(b, col, row);
        put_real(b, col, row, s->out, gb_quant_value(q, &g->qconf, g->aggs[a].q));
        return 0;
    }
    default:
        return fl_batch_set_missing(b, col, row);
    }
}

int gb_emit(struct groupby *g, const struct fl_window *w, struct gb_table *t)
{
    uint32_t n = gb_table_groups(t);
    int rc = 0;
    for (uint32_t first = 0; first < n && rc == 0; first += GB_EMIT_ROWS) {
        uint32_t rows = n - first < GB_EMIT_ROWS ? n - first : GB_EMIT_ROWS;
        struct fl_batch *b = NULL;
        if ((rc = fl_batch_new(g->ctx, g->out_schema, rows, &b)) < 0)
            return rc;
        for (uint32_t r = 0; r < rows && rc == 0; r++) {
            const char *rec = gb_table_record(g, t, first + r);
            uint32_t missing, col = 3;
            FL_COL(b, 0, uint64_t)[r] = w->start;
            FL_COL(b, 1, uint64_t)[r] = w->end;
            FL_COL(b, 2, int64_t)[r] = (int64_t)w->length;
            memcpy(&missing, rec + 8, 4);
            for (size_t k = 0; k < g->n_keys && rc == 0; k++, col++)
                rc = missing >> k & 1 ? fl_batch_set_missing(b, col, r)
                                      : put_key(b, col, r, g->key_type[k], rec + 16 + 16 * k);
            for (size_t a = 0; a < g->n_aggs && rc == 0; a++, col++)
                rc = put_agg(g, b, col, r, a, rec);
        }
        b->rows = rows;
        b->t_min = w->start;
        b->t_max = w->end - 1;
        if (rc == 0)
            rc = fl_emit(g->ctx, &b);
        fl_batch_release(&b);
    }
    return rc;
}
