/* groupby.h: aggregate.groupby's state, shared by its files:
 *   groupby.c        the plugin: options, describe, process, tick, drain
 *   groupby_spec.c   parse `by:` items and `aggregates:` calls (check time)
 *   groupby_plan.c   compile them against one input schema
 *   groupby_table.c  the groups of one window, and the per-column updates
 *   groupby_emit.c   a closed window's rows
 *   groupby_quant.c  the quantile sketch (DDSketch)
 * README.md says what it computes and with what error. */
#ifndef FL_AGGREGATE_GROUPBY_H
#define FL_AGGREGATE_GROUPBY_H

#include <stdbool.h>
#include <stdint.h>
#include <flowline/expr.h>
#include <flowline/plugin.h>
#include <flowline/window.h>
#include "fl_sketch.h"
#include "groupby_quant.h"

#define GB_MAX_KEYS 16
#define GB_MAX_AGGS 64
#define GB_MAX_PLANS 8
#define GB_EMIT_ROWS 4096u

enum gb_fn {
    GB_SUM, GB_MULT, GB_MIN, GB_MAX, GB_COUNT, GB_COUNT_DISTINCT, GB_MEAN, GB_STDDEV,
    GB_QUANTILE, GB_N_FN
};

/* One `by:` item or `aggregates:` entry, as parsed at check time. */
struct gb_key {
    char *name;          /* output column */
    char *expr;          /* expression text */
    const char *item;    /* the list item as written (diagnostics) */
    size_t expr_off;     /* offset of expr in item */
};

struct gb_agg {
    const char *name;    /* output column (the map key) */
    enum gb_fn fn;
    char *arg;           /* expression text; NULL: count() */
    size_t arg_off;      /* its offset in the value */
    double q;            /* quantile */
    int arg_slot;        /* index into the distinct argument texts */
};

/* The compiled form for one input schema. Expressions are compiled once
 * per distinct text: keys first, then aggregate arguments. */
struct gb_plan {
    const struct fl_schema *in;
    const struct fl_schema *scratch;   /* one column per distinct expression */
    struct fl_expr *expr[GB_MAX_KEYS + GB_MAX_AGGS];
    enum fl_type type[GB_MAX_KEYS + GB_MAX_AGGS];
    size_t n_expr;
};

struct gb_table;

/* Where an aggregate keeps its state inside a group record. */
struct gb_slot {
    uint32_t off;        /* bytes from the record start */
    enum fl_type in;     /* argument type (FL_T_NONE: count()) */
    enum fl_type out;    /* output column type */
    int shared_with;     /* quantile: the aggregate whose sketch it reads, or -1 */
};

struct groupby {
    /* options */
    struct fl_strlist by;
    struct fl_strmap aggregates;
    struct fl_window_conf win;
    uint64_t max_groups;
    double quantile_accuracy;
    uint64_t quantile_bins;
    uint64_t distinct_exact_max;
    uint64_t distinct_precision;

    /* parsed */
    struct gb_key keys[GB_MAX_KEYS];
    size_t n_keys;
    struct gb_agg aggs[GB_MAX_AGGS];
    size_t n_aggs;
    char *texts[GB_MAX_KEYS + GB_MAX_AGGS];   /* distinct expression texts */
    size_t n_texts;
    bool parsed;
    int parse_rc;                     /* 0 or -FL_EINVAL */

    /* layout of a group record */
    enum fl_type key_type[GB_MAX_KEYS];
    struct gb_slot slot[GB_MAX_AGGS];
    uint32_t rec_size;
    bool typed;                        /* key_type/slot known */
    const struct fl_schema *out_schema;

    /* run time */
    struct fl_ctx *ctx;
    struct fl_windows *ws;
    struct fl_distinct_conf dconf;
    struct gb_qconf qconf;
    struct gb_plan plans[GB_MAX_PLANS];
    size_t n_plans;
    struct fl_window **wins;
    uint64_t *times, *hash;
    char **grp;                        /* per row: its group record in one window */
    uint32_t cap;
    uint64_t overflow;                 /* records not aggregated: max_groups */
};

/* groupby_spec.c: parse every `by:` item and `aggregates:` value, reporting
 * problems with fl_diag_at. 0 or -FL_EINVAL. */
int gb_spec_parse(struct fl_ctx *ctx, struct groupby *g);
void gb_spec_free(struct groupby *g);
extern const char *const gb_fn_names[GB_N_FN];

/* groupby_plan.c: compile for `in` (diagnostics when report). */
int gb_plan_build(struct fl_ctx *ctx, struct groupby *g, const struct fl_schema *in,
                  bool report, struct gb_plan *p);
void gb_plan_free(struct gb_plan *p);
/* The record layout and output schema from a plan's types; -FL_EINVAL
 * when they differ from the ones set already (another input). */
int gb_layout(struct fl_ctx *ctx, struct groupby *g, const struct gb_plan *p, bool report);

/* groupby_table.c */
struct gb_table *gb_table_new(const struct groupby *g);
void gb_table_free(const struct groupby *g, struct gb_table *t);
uint32_t gb_table_groups(const struct gb_table *t);
char *gb_table_record(const struct groupby *g, const struct gb_table *t, uint32_t i);
/* Row hashes of the key columns of scratch into g->hash. */
void gb_hash_keys(const struct groupby *g, const struct fl_batch *scratch);
/* The group record of row r in t, created when new; NULL when t is full
 * (max_groups) or out of memory (*rc). */
char *gb_table_find(const struct groupby *g, struct gb_table *t, const struct fl_batch *scratch,
                    uint32_t r, int *rc);
/* Start loading the index slot of row r (rows ahead of the one looked up). */
void gb_table_prefetch(const struct groupby *g, const struct gb_table *t, uint32_t r);
/* Fold every row r with g->grp[r] != NULL into its group. */
int gb_update(struct groupby *g, const struct fl_batch *scratch);

/* groupby_emit.c: a window's rows, downstream. */
int gb_emit(struct groupby *g, const struct fl_window *w, struct gb_table *t);

#endif
