/* groupby.c: aggregate.groupby (seed 003): per time window, group the
 * records by key expressions (or not at all: the whole window) and compute
 * sum, mult, min, max, count, count_distinct, mean, stddev and quantiles
 * of expressions. This file is the plugin: options, describe, and the
 * per-batch flow: evaluate every expression a column at a time into a
 * scratch batch, assign rows to windows (flowline/window.h), find each
 * row's group, then fold each aggregate column-wise (groupby_table.c). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "groupby.h"

static const struct fl_opt groupby_opts[] = {
    { .name = "by", .type = FL_OPT_LIST, .offset = offsetof(struct groupby, by),
      .doc = "key expressions: a field name (the column is named as written) or "
             "\"EXPRESSION as NAME\"; none: one group per window" },
    { .name = "aggregates", .type = FL_OPT_MAP, .offset = offsetof(struct groupby, aggregates),
      .flags = FL_OPT_REQUIRED,
      .doc = "output column -> sum(x), mult(x), min(x), max(x), count(), count(x), "
             "count_distinct(x), mean(x), stddev(x) or quantile(x, q), x an expression" },
    FL_WINDOW_OPTS(struct groupby, win, "[1m]"),
    { .name = "max_groups", .type = FL_OPT_UINT, .offset = offsetof(struct groupby, max_groups),
      .def = "1000000", .min = "1", .max = "100000000", .unit = "groups",
      .doc = "groups per window; records of further groups are not aggregated and are "
             "counted (records_over_max_groups)" },
    { .name = "quantile_accuracy", .type = FL_OPT_FLOAT,
      .offset = offsetof(struct groupby, quantile_accuracy), .def = "0.01", .min = "0.0001",
      .max = "0.5", .doc = "quantile(): relative error of the DDSketch (0.01: within 1 % of the "
                           "exact value)" },
    { .name = "quantile_bins", .type = FL_OPT_UINT, .offset = offsetof(struct groupby, quantile_bins),
      .def = "2048", .min = "16", .max = "65536", .unit = "buckets",
      .doc = "quantile(): buckets per sign and group; beyond, the smallest magnitudes merge" },
    { .name = "distinct_exact", .type = FL_OPT_UINT,
      .offset = offsetof(struct groupby, distinct_exact_max), .def = "256", .min = "1",
      .max = "1048576", .unit = "values",
      .doc = "count_distinct(): exact up to this many distinct values per group, then "
             "HyperLogLog" },
    { .name = "distinct_precision", .type = FL_OPT_UINT,
      .offset = offsetof(struct groupby, distinct_precision), .def = "12", .min = "4",
      .max = "18", .doc = "count_distinct(): HyperLogLog with 2^p registers (12: 4 KiB, "
                          "1.6 % standard error)" },
    { 0 }
};

/* ---- windows ------------------------------------------------------------ */

static int gb_open(void *ud, struct fl_window *w)
{
    return (w->state = gb_table_new(ud)) ? 0 : -FL_ENOMEM;
}

static int gb_close(void *ud, struct fl_window *w)
{
    struct groupby *g = ud;
    int rc = gb_emit(g, w, w->state);
    gb_table_free(g, w->state);
    w->state = NULL;
    return rc;
}

static void gb_discard(void *ud, struct fl_window *w)
{
    gb_table_free(ud, w->state);
    w->state = NULL;
}

static const struct fl_window_ops gb_window_ops = { gb_open, gb_close, gb_discard };

/* ---- lifecycle -------------------------------------------------------- */

static int groupby_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                            size_t n_in, struct fl_schema_decl *const *out)
{
    struct groupby *g = state;
    struct fl_distinct_conf dc;
    bool open = false;
    int rc = gb_spec_parse(ctx, g);
    if (fl_windows_check(ctx, &g->win, in, n_in) < 0)
        rc = -FL_EINVAL;
    if (fl_distinct_conf_init(&dc, (uint32_t)g->distinct_exact_max,
                              (unsigned)g->distinct_precision) < 0)
        rc = fl_diag(ctx, "distinct_exact", "distinct_exact and distinct_precision are out of "
                     "range");
    if (rc < 0 && rc != -FL_EINVAL)
        goto out;
    /* The expressions that parsed are compiled also after an error: every
     * problem is reported in one check. */
    for (size_t i = 0; i < n_in; i++) {
        struct gb_plan p;
        if (!in[i]) {
            open = true;
            continue;
        }
        int r = gb_plan_build(ctx, g, in[i], true, &p);
        if (r == 0) {
            r = gb_layout(ctx, g, &p, true);
            gb_plan_free(&p);
        }
        if (r < 0) {
            rc = r;
            goto out;
        }
    }
    if (rc == 0)
        out[0]->schema = open ? NULL : g->out_schema;
out:
    /* describe() may run without init() or fini() (flowline check): it
     * keeps nothing allocated; init() parses again. */
    gb_spec_free(g);
    return rc;
}

static int groupby_init(struct fl_ctx *ctx, void *state)
{
    struct groupby *g = state;
    int rc;
    g->ctx = ctx;
    if ((rc = gb_spec_parse(ctx, g)) < 0
        || (rc = fl_distinct_conf_init(&g->dconf, (uint32_t)g->distinct_exact_max,
                                       (unsigned)g->distinct_precision)) < 0)
        return rc;
    gb_qconf_init(&g->qconf, g->quantile_accuracy, (uint32_t)g->quantile_bins);
    return fl_windows_new(ctx, &g->win, &gb_window_ops, sizeof(gb_window_ops), g, &g->ws);
}

static struct gb_plan *plan_for(struct fl_ctx *ctx, struct groupby *g, const struct fl_schema *in)
{
    for (size_t i = 0; i < g->n_plans; i++)
        if (g->plans[i].in == in)
            return &g->plans[i];
    if (g->n_plans == GB_MAX_PLANS) {   /* schemas churn: start over */
        for (size_t i = 0; i < g->n_plans; i++)
            gb_plan_free(&g->plans[i]);
        g->n_plans = 0;
    }
    struct gb_plan *p = &g->plans[g->n_plans];
    if (gb_plan_build(ctx, g, in, false, p) < 0)
        return NULL;
    if (gb_layout(ctx, g, p, false) < 0) {
        gb_plan_free(p);
        return NULL;
    }
    g->n_plans++;
    return p;
}

static int reserve(struct groupby *g, uint32_t rows)
{
    if (rows <= g->cap)
        return 0;
    size_t specs = fl_windows_specs(g->ws);
    free(g->wins);
    free(g->times);
    free(g->hash);
    free(g->grp);
    g->wins = malloc(specs * rows * sizeof(*g->wins));
    g->times = malloc(rows * sizeof(*g->times));
    g->hash = malloc(rows * sizeof(*g->hash));
    g->grp = malloc(rows * sizeof(*g->grp));
    g->cap = g->wins && g->times && g->hash && g->grp ? rows : 0;
    return g->cap ? 0 : -FL_ENOMEM;
}

/* Every row's group in its window of spec k that is `depth` hops older than
 * its newest (hopping windows); false when no row has one. */
static bool assign(struct groupby *g, struct fl_batch *sc, uint32_t k, uint32_t depth,
                   uint64_t *over, int *rc)
{
    uint32_t rows = sc->rows;
    struct fl_window **wk = g->wins + (size_t)k * rows;
    bool any = false;
    for (uint32_t r = 0; r < rows; r++) {
        struct fl_window *w = wk[r];
        /* The index is the cache miss: load the slot of a row ahead (its
         * newest window; the same one but at window edges). */
        if (g->n_keys && r + 8 < rows && wk[r + 8] && depth == 0)
            gb_table_prefetch(g, wk[r + 8]->state, r + 8);
        for (uint32_t j = 0; j < depth && w; j++)
            w = w->older;
        if (!w || !fl_window_holds(w, g->times[r])) {
            g->grp[r] = NULL;
            continue;
        }
        any = true;
        if (!(g->grp[r] = gb_table_find(g, w->state, sc, r, rc))) {
            if (*rc < 0)
                return false;
            ++*over;
        }
    }
    return any;
}

static int groupby_process(struct fl_ctx *ctx, void *state, struct fl_batch *in)
{
    struct groupby *g = state;
    struct fl_batch *sc = NULL;
    uint64_t over = 0;
    int rc;
    if (in->rows == 0)
        return 0;
    struct gb_plan *p = plan_for(ctx, g, in->schema);
    if (!p)
        return -FL_EINVAL;
    if ((rc = reserve(g, in->rows)) < 0)
        return rc;
    if (p->scratch) {
        if ((rc = fl_batch_new(ctx, p->scratch, in->rows, &sc)) < 0)
            return rc;
        sc->rows = in->rows;
        for (size_t t = 0; t < p->n_expr; t++)
            if ((rc = fl_expr_eval(p->expr[t], in, sc, (uint32_t)t)) < 0)
                goto done;
    }
    if ((rc = fl_windows_map(ctx, g->ws, in, g->wins, g->times)) < 0)
        goto done;
    if (g->n_keys)
        gb_hash_keys(g, sc);
    /* count() alone needs no scratch: give the row count a batch to carry */
    struct fl_batch *rows = sc ? sc : in;
    for (uint32_t k = 0; k < fl_windows_specs(g->ws) && rc == 0; k++)
        for (uint32_t depth = 0; assign(g, rows, k, depth, &over, &rc) && rc == 0; depth++)
            rc = gb_update(g, rows);
done:
    if (over) {
        if (g->overflow == 0)
            FL_LOG_WARN(ctx, "a window reached max_groups (%llu): records of further groups are "
                        "not aggregated (counter records_over_max_groups)",
                        (unsigned long long)g->max_groups);
        g->overflow += over;
        fl_counter_add(ctx, "records_over_max_groups", over);
    }
    fl_batch_release(&sc);
    return rc;
}

static int groupby_tick(struct fl_ctx *ctx, void *state, uint64_t now)
{
    (void)ctx;
    struct groupby *g = state;
    return fl_windows_advance(g->ws, now);
}

static int groupby_drain(struct fl_ctx *ctx, void *state)
{
    (void)ctx;
    struct groupby *g = state;
    return fl_windows_close_all(g->ws);
}

static void groupby_fini(struct fl_ctx *ctx, void *state)
{
    (void)ctx;
    struct groupby *g = state;
    fl_windows_free(&g->ws);
    for (size_t i = 0; i < g->n_plans; i++)
        gb_plan_free(&g->plans[i]);
    gb_spec_free(g);
    free(g->wins);
    free(g->times);
    free(g->hash);
    free(g->grp);
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_AGGREGATE, .name = "groupby", .version = "1.0",
                 .summary = "sum, mult, min, max, count, count_distinct, mean, stddev and "
                            "quantiles of expressions per time window, by key expressions",
                 .opts = groupby_opts, .state_size = sizeof(struct groupby),
                 .describe = groupby_describe, .init = groupby_init,
                 .process = groupby_process, .tick = groupby_tick, .drain = groupby_drain,
                 .fini = groupby_fini);
