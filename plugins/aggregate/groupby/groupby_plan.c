/* groupby_plan.c: the keys and aggregate arguments compiled against one
 * input schema (each distinct expression text once), the types they give,
 * and from those the layout of a group record and the output schema. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "groupby.h"
#include "groupby_quant.h"

void gb_plan_free(struct gb_plan *p)
{
    for (size_t i = 0; i < p->n_expr; i++)
        fl_expr_free(&p->expr[i]);
    memset(p, 0, sizeof(*p));
}

/* Report a compile error of text t at its first user. */
static int text_error(struct fl_ctx *ctx, const struct groupby *g, size_t t, size_t off,
                      const char *msg, bool report)
{
    if (!report) {
        FL_LOG_ERROR(ctx, "expression \"%s\": %s", g->texts[t], msg);
        return -FL_EINVAL;
    }
    if (t < g->n_keys)
        return fl_diag_at(ctx, "by", g->keys[t].item, g->keys[t].expr_off + off, "by \"%s\": %s",
                          g->keys[t].name, msg);
    for (size_t i = 0; i < g->n_aggs; i++)
        if (g->aggs[i].arg_slot == (int)t)
            return fl_diag_at(ctx, "aggregates", g->aggs[i].name, g->aggs[i].arg_off + off,
                              "aggregates \"%s\": %s", g->aggs[i].name, msg);
    return -FL_EINVAL;
}

/* The output type of aggregate a over an argument of type t, or FL_T_NONE. */
static enum fl_type out_type(enum gb_fn fn, enum fl_type t)
{
    bool num = t == FL_T_I64 || t == FL_T_F64 || t == FL_T_BOOL;
    switch (fn) {
    case GB_SUM:
        return t == FL_T_F64 ? FL_T_F64 : t == FL_T_DUR ? FL_T_DUR : num ? FL_T_I64 : FL_T_NONE;
    case GB_MULT:
        return num ? FL_T_F64 : FL_T_NONE;
    case GB_MIN:
    case GB_MAX:
        return t == FL_T_STR ? FL_T_NONE : t;
    case GB_COUNT:
    case GB_COUNT_DISTINCT:
        return FL_T_U64;
    case GB_MEAN:
    case GB_STDDEV:
    case GB_QUANTILE:
        return t == FL_T_DUR ? FL_T_DUR : num ? FL_T_F64 : FL_T_NONE;
    default:
        return FL_T_NONE;
    }
}

/* Aggregates whose argument compiled but has a type they cannot take. */
static int check_types(struct fl_ctx *ctx, const struct groupby *g, const struct gb_plan *p)
{
    int rc = 0;
    for (size_t i = 0; i < g->n_aggs; i++) {
        const struct gb_agg *a = &g->aggs[i];
        if (!a->arg || !p->expr[a->arg_slot])
            continue;
        if (out_type(a->fn, p->type[a->arg_slot]) == FL_T_NONE)
            rc = fl_diag_at(ctx, "aggregates", a->name, a->arg_off, "aggregates \"%s\": %s() "
                            "cannot take %s", a->name, gb_fn_names[a->fn],
                            fl_type_name(p->type[a->arg_slot]));
    }
    return rc;
}

int gb_plan_build(struct fl_ctx *ctx, struct groupby *g, const struct fl_schema *in, bool report,
                  struct gb_plan *p)
{
    struct fl_col_def defs[GB_MAX_KEYS + GB_MAX_AGGS];
    char names[GB_MAX_KEYS + GB_MAX_AGGS][8];
    int rc = 0;
    memset(p, 0, sizeof(*p));
    p->in = in;
    for (size_t t = 0; t < g->n_texts; t++) {
        char msg[256];
        size_t off = 0;
        int r = fl_expr_compile(g->texts[t], in, &p->expr[t], &off, msg, sizeof(msg));
        p->n_expr = t + 1;
        if (r == -FL_EINVAL) {
            rc = text_error(ctx, g, t, off, msg, report);
            continue;
        }
        if (r < 0) {
            rc = r;
            goto fail;
        }
        p->type[t] = fl_expr_type(p->expr[t]);
        snprintf(names[t], sizeof(names[t]), "e%zu", t);
        defs[t] = (struct fl_col_def){ .name = names[t], .type = p->type[t] };
    }
    if (report && check_types(ctx, g, p) < 0)
        rc = -FL_EINVAL;
    if (rc < 0)
        goto fail;
    if (g->n_texts && (rc = fl_schema_intern(ctx, defs, g->n_texts, sizeof(defs[0]),
                                             &p->scratch)) < 0)
        goto fail;
    return 0;
fail:
    gb_plan_free(p);
    return rc;
}

static uint32_t slot_size(enum gb_fn fn, enum fl_type in)
{
    switch (fn) {
    case GB_COUNT: return 8;
    case GB_COUNT_DISTINCT: return (uint32_t)sizeof(struct fl_distinct);
    case GB_STDDEV: return 24;
    case GB_QUANTILE: return 8;
    case GB_MIN:
    case GB_MAX: return in == FL_T_ADDR ? 24 : 16;
    default: return 16;
    }
}

int gb_layout(struct fl_ctx *ctx, struct groupby *g, const struct gb_plan *p, bool report)
{
    enum fl_type kt[GB_MAX_KEYS];
    struct gb_slot sl[GB_MAX_AGGS];
    int rc = 0;
    for (size_t i = 0; i < g->n_keys; i++)
        kt[i] = p->type[i];
    for (size_t i = 0; i < g->n_aggs; i++) {
        const struct gb_agg *a = &g->aggs[i];
        enum fl_type t = a->arg ? p->type[a->arg_slot] : FL_T_NONE;
        sl[i] = (struct gb_slot){ .in = t, .out = out_type(a->fn, t), .shared_with = -1 };
        if (sl[i].out == FL_T_NONE) {
            if (report)
                rc = fl_diag_at(ctx, "aggregates", a->name, a->arg_off, "aggregates \"%s\": "
                                "%s() cannot take %s", a->name, gb_fn_names[a->fn],
                                fl_type_name(t));
            else
                rc = -FL_EINVAL;
        }
    }
    if (rc < 0)
        return rc;
    if (g->typed) {
        for (size_t i = 0; i < g->n_keys; i++)
            if (kt[i] != g->key_type[i])
                rc = -FL_EINVAL;
        for (size_t i = 0; i < g->n_aggs; i++)
            if (sl[i].in != g->slot[i].in)
                rc = -FL_EINVAL;
        if (rc < 0) {
            if (report)
                return fl_diag(ctx, NULL, "the inputs give the keys or aggregate arguments "
                               "different types: read them through one stage each");
            FL_LOG_ERROR(ctx, "an input schema gives the keys or aggregate arguments other "
                         "types than the first one");
        }
        return rc;
    }
    /* header: hash, missing-key mask; each key 16 bytes (str: pointer, length) */
    uint32_t off = 16 + 16 * (uint32_t)g->n_keys;
    for (size_t i = 0; i < g->n_aggs; i++) {
        const struct gb_agg *a = &g->aggs[i];
        if (a->fn == GB_QUANTILE)
            for (size_t j = 0; j < i; j++)
                if (g->aggs[j].fn == GB_QUANTILE && g->aggs[j].arg_slot == a->arg_slot
                    && sl[j].shared_with < 0) {
                    sl[i].shared_with = (int)j;   /* one sketch per argument */
                    sl[i].off = sl[j].off;
                    break;
                }
        if (sl[i].shared_with >= 0)
            continue;
        sl[i].off = off;
        off += slot_size(a->fn, sl[i].in);
    }
    struct fl_col_def defs[3 + GB_MAX_KEYS + GB_MAX_AGGS] = { FL_WINDOW_COLS };
    size_t n = 3;
    for (size_t i = 0; i < g->n_keys; i++)
        defs[n++] = (struct fl_col_def){ .name = g->keys[i].name, .type = kt[i] };
    for (size_t i = 0; i < g->n_aggs; i++)
        defs[n++] = (struct fl_col_def){ .name = g->aggs[i].name, .type = sl[i].out };
    if ((rc = fl_schema_intern(ctx, defs, n, sizeof(defs[0]), &g->out_schema)) < 0)
        return rc;
    memcpy(g->key_type, kt, sizeof(kt));
    memcpy(g->slot, sl, sizeof(sl));
    g->rec_size = (off + 7) & ~7u;
    g->typed = true;
    return 0;
}
