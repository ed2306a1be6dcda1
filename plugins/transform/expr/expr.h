/* expr.h: transform.expr's state and its per-input-schema plans, shared by
 * expr.c (the plugin: options, describe, process) and expr_plan.c (what a
 * stage does to one input schema). */
#ifndef FL_TRANSFORM_EXPR_H
#define FL_TRANSFORM_EXPR_H

#include <flowline/expr.h>
#include <flowline/plugin.h>

#define EXPR_MAX_PLANS 16

/* What the stage does to batches of one input schema: filter with `where`,
 * then build the output as `map` (output column -> input column shared by
 * refcount, or -1: computed) and fill the computed columns. */
struct expr_plan {
    const struct fl_schema *in, *out;
    int *map;                       /* out->ncols entries */
    struct fl_expr *where;          /* NULL: keep every row */
    struct fl_expr **compute;       /* one per compute: entry, NULL if dropped */
    uint32_t *compute_col;          /* its output column */
    size_t n_compute;
};

struct expr {
    struct fl_strlist select, drop;
    struct fl_strmap rename, compute;
    char *where;
    struct expr_plan plans[EXPR_MAX_PLANS];
    size_t n_plans;
    uint64_t *keep;                 /* row mask for `where` */
    size_t keep_words;
};

/* Build the plan for `in` into *plan. report: problems go to fl_diag() at
 * their option (describe); else they are logged (a schema first seen at
 * run time). 0 or a negative code. */
int expr_plan_build(struct fl_ctx *ctx, const struct expr *x, const struct fl_schema *in,
                    struct expr_plan *plan);
void expr_plan_free(struct expr_plan *plan);

#endif
