/* expr.c: transform.expr (also built as transform.select, transform.rename
 * and transform.filter, EXPR_NAME): keep the rows where a condition holds,
 * add computed fields, rename, select and drop fields, in that fixed order.
 * Columns that pass through are shared with the input batch by refcount;
 * only `where` copies (the kept rows, when some are dropped) and `compute`
 * fills new columns. This file is the plugin; expr_plan.c works out what
 * to do for each input schema. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "expr.h"

#ifndef EXPR_NAME
#define EXPR_NAME "expr"
#endif

static const struct fl_opt expr_opts[] = {
    { .name = "where", .type = FL_OPT_STRING, .offset = offsetof(struct expr, where),
      .doc = "keep only the records where this condition is true (false or missing: dropped); "
             "applied first" },
    { .name = "compute", .type = FL_OPT_MAP, .offset = offsetof(struct expr, compute),
      .doc = "new fields: name -> expression over the input fields (after where); a name "
             "that is already a field replaces it" },
    { .name = "rename", .type = FL_OPT_MAP, .offset = offsetof(struct expr, rename),
      .doc = "fields to rename: old name -> new name (after compute)" },
    { .name = "select", .type = FL_OPT_LIST, .offset = offsetof(struct expr, select),
      .doc = "keep only these fields, in this order (names after rename)" },
    { .name = "drop", .type = FL_OPT_LIST, .offset = offsetof(struct expr, drop),
      .doc = "remove these fields (names after rename; after select)" },
    { 0 }
};

static int expr_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                         size_t n_in, struct fl_schema_decl *const *out)
{
    struct expr *x = state;
    const struct fl_schema *decl = NULL;
    bool open = false;
    int rc = 0;
    for (size_t i = 0; i < n_in; i++) {
        struct expr_plan p;
        if (!in[i]) {
            open = true;
            continue;
        }
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen |= in[j] == in[i];
        if (seen)
            continue;
        int r = expr_plan_build(ctx, x, in[i], &p);
        if (r < 0) {
            rc = rc ? rc : r;
            continue;
        }
        /* One output schema when every input gives the same one; fan-in of
         * different schemas is declared open. */
        if (decl && decl != p.out)
            open = true;
        decl = p.out;
        expr_plan_free(&p);
    }
    out[0]->schema = open ? NULL : decl;
    return rc;
}

static int expr_init(struct fl_ctx *ctx, void *state)
{
    (void)ctx;
    (void)state;
    return 0;
}

static struct expr_plan *expr_plan_for(struct fl_ctx *ctx, struct expr *x,
                                       const struct fl_schema *in)
{
    for (size_t i = 0; i < x->n_plans; i++)
        if (x->plans[i].in == in)
            return &x->plans[i];
    if (x->n_plans == EXPR_MAX_PLANS) {   /* schemas churn: start over */
        for (size_t i = 0; i < x->n_plans; i++)
            expr_plan_free(&x->plans[i]);
        x->n_plans = 0;
    }
    struct expr_plan *p = &x->plans[x->n_plans];
    if (expr_plan_build(ctx, x, in, p) < 0)
        return NULL;
    x->n_plans++;
    return p;
}

/* where is evaluated on the input, compute on every input row, and the
 * rows are dropped last, from the output batch: that copies only the
 * fields the stage keeps (select/drop), and the vectorised compute costs
 * less than copying the columns it would spare. */
static int expr_process(struct fl_ctx *ctx, void *state, struct fl_batch *in)
{
    struct expr *x = state;
    struct fl_batch *out = NULL, *kept_batch = NULL;
    struct expr_plan *p = expr_plan_for(ctx, x, in->schema);
    uint32_t kept = in->rows;
    int rc = 0;
    if (!p)
        return -FL_EINVAL;
    if (p->where && in->rows) {
        size_t words = ((size_t)in->rows + 63) / 64;
        if (words > x->keep_words) {
            uint64_t *k = realloc(x->keep, words * sizeof(*k));
            if (!k)
                return -FL_ENOMEM;
            x->keep = k;
            x->keep_words = words;
        }
        if ((rc = fl_expr_eval_mask(p->where, in, x->keep, &kept)) < 0)
            return rc;
        fl_counter_add(ctx, "filtered_out", in->rows - kept);
        if (kept == 0)
            return 0;
    }
    if (p->out == in->schema) {
        out = fl_batch_retain(in);   /* nothing but a filter: no new columns */
    } else {
        if ((rc = fl_batch_derive(ctx, in, p->out, p->map, &out)) < 0)
            goto done;
        for (size_t k = 0; k < p->n_compute; k++)
            if (p->compute[k] && (rc = fl_expr_eval(p->compute[k], in, out, p->compute_col[k])) < 0)
                goto done;
    }
    if (kept < in->rows) {
        if ((rc = fl_batch_filter(ctx, out, x->keep, &kept_batch)) < 0)
            goto done;
        fl_batch_release(&out);
        out = kept_batch;
        kept_batch = NULL;
    }
    rc = fl_emit(ctx, &out);
done:
    fl_batch_release(&out);
    return rc;
}

static void expr_fini(struct fl_ctx *ctx, void *state)
{
    struct expr *x = state;
    (void)ctx;
    for (size_t i = 0; i < x->n_plans; i++)
        expr_plan_free(&x->plans[i]);
    free(x->keep);
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_TRANSFORM, .name = EXPR_NAME, .version = "1.0",
                 .summary = "filter (where), compute, rename, select and drop fields",
                 .opts = expr_opts, .state_size = sizeof(struct expr),
                 .describe = expr_describe, .init = expr_init, .process = expr_process,
                 .fini = expr_fini);
