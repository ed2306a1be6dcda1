/* expr_plan.c: what transform.expr does to one input schema, worked out
 * once: `where` and each `compute` compiled against it (type errors point
 * inside the expression), then the output columns in the documented order
 * where -> compute -> rename -> select/drop, interned as the output schema
 * with the map of which input column each output column shares. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr.h"

struct expr_col { const char *name; enum fl_type type; int src; int compute; };

/* Names a failed compute or rename would have made: later steps do not
 * report them again as unknown. */
struct expr_failed { const char *v[64]; size_t n; };

static void failed_add(struct expr_failed *f, const char *name)
{
    if (f->n < 64)
        f->v[f->n++] = name;
}

static bool failed_has(const struct expr_failed *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i], name) == 0)
            return true;
    return false;
}

void expr_plan_free(struct expr_plan *p)
{
    fl_expr_free(&p->where);
    for (size_t i = 0; i < p->n_compute; i++)
        fl_expr_free(&p->compute[i]);
    free(p->compute);
    free(p->compute_col);
    free(p->map);
    memset(p, 0, sizeof(*p));
}

/* Column index of name among cols: exact, else through the field registry
 * (an alias or IANA name of a canonical column). -1 if none. */
static int col_find(const struct expr_col *cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(cols[i].name, name) == 0)
            return (int)i;
    const struct fl_field *f = fl_field_find(name);
    for (size_t i = 0; f && i < n; i++)
        if (strcmp(cols[i].name, f->name) == 0)
            return (int)i;
    return -1;
}

/* "unknown field X; did you mean Y?" at option opt (item or map key). */
static int unknown_col(struct fl_ctx *ctx, const char *opt, const char *key,
                       const struct expr_col *cols, size_t n, const char *name, const char *stage_of)
{
    const char *cands[256];
    size_t nc = 0;
    for (size_t i = 0; i < n && nc < 256; i++)
        cands[nc++] = cols[i].name;
    const char *best = fl_name_suggest(name, cands, nc);
    if (best)
        return fl_diag_at(ctx, opt, key, 0, "%s: unknown field \"%s\"; did you mean \"%s\"?",
                          opt, name, best);
    return fl_diag_at(ctx, opt, key, 0, "%s: field \"%s\" is not in %s", opt, name, stage_of);
}

static bool valid_name(const char *s)
{
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

static int compile(struct fl_ctx *ctx, const char *opt, const char *key, const char *text,
                   const struct fl_schema *in, struct fl_expr **out)
{
    char msg[256];
    size_t off = 0;
    int rc = fl_expr_compile(text, in, out, &off, msg, sizeof(msg));
    if (rc == -FL_EINVAL)
    {
        if (key)
            return fl_diag_at(ctx, opt, key, off, "%s \"%s\": %s", opt, key, msg);
        return fl_diag_at(ctx, opt, key, off, "%s: %s", opt, msg);
    }
    return rc;
}

int expr_plan_build(struct fl_ctx *ctx, const struct expr *x, const struct fl_schema *in,
                    struct expr_plan *p)
{
    size_t cap = in->ncols + x->compute.n, n = in->ncols, errors = 0;
    struct expr_failed failed = { .n = 0 };
    struct expr_col *cols = calloc(cap ? cap : 1, sizeof(*cols));
    struct fl_col_def *defs = NULL;
    int rc = 0;
    memset(p, 0, sizeof(*p));
    p->in = in;
    if (!cols)
        return -FL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        cols[i] = (struct expr_col){ in->cols[i]->name, in->cols[i]->type, (int)i, -1 };

    if (x->where) {
        if ((rc = compile(ctx, "where", NULL, x->where, in, &p->where)) < 0) {
            if (rc != -FL_EINVAL)
                goto fail;
            errors++;
        } else if (fl_expr_type(p->where) != FL_T_BOOL) {
            fl_diag_at(ctx, "where", NULL, 0, "where: the expression is %s, not a condition "
                       "(compare it: ... > 0)", fl_type_name(fl_expr_type(p->where)));
            errors++;
        }
    }

    p->n_compute = x->compute.n;
    if (x->compute.n && (!(p->compute = calloc(x->compute.n, sizeof(*p->compute)))
                         || !(p->compute_col = calloc(x->compute.n, sizeof(*p->compute_col))))) {
        rc = -FL_ENOMEM;
        goto fail;
    }
    for (size_t k = 0; k < x->compute.n; k++) {
        const char *name = x->compute.key[k];
        if (!valid_name(name)) {
            fl_diag_at(ctx, "compute", name, 0, "compute: \"%s\" is not a field name (letters, "
                       "digits and _, not starting with a digit)", name);
            errors++;
            continue;
        }
        if ((rc = compile(ctx, "compute", name, x->compute.val[k], in, &p->compute[k])) < 0) {
            if (rc != -FL_EINVAL)
                goto fail;
            failed_add(&failed, name);
            errors++;
            continue;
        }
        /* A computed field named like an input field replaces it in place. */
        int at = -1;
        for (size_t i = 0; i < n; i++)
            if (strcmp(cols[i].name, name) == 0)
                at = (int)i;
        if (at < 0)
            at = (int)n++;
        cols[at] = (struct expr_col){ name, fl_expr_type(p->compute[k]), -1, (int)k };
    }

    for (size_t k = 0; k < x->rename.n; k++) {
        int at = col_find(cols, n, x->rename.key[k]);
        const char *to = x->rename.val[k];
        if (at < 0) {
            if (!failed_has(&failed, x->rename.key[k]))
                unknown_col(ctx, "rename", x->rename.key[k], cols, n, x->rename.key[k], "the input");
            failed_add(&failed, to);
            errors++;
        } else if (!valid_name(to)) {
            fl_diag_at(ctx, "rename", x->rename.key[k], 0, "rename: \"%s\" is not a field name", to);
            errors++;
        } else if (col_find(cols, n, to) >= 0 && col_find(cols, n, to) != at) {
            fl_diag_at(ctx, "rename", x->rename.key[k], 0,
                       "rename: \"%s\" is already a field (drop it first)", to);
            errors++;
        } else {
            cols[at].name = to;
        }
    }

    if (x->select.n) {
        struct expr_col *sel = calloc(x->select.n, sizeof(*sel));
        size_t ns = 0;
        if (!sel) {
            rc = -FL_ENOMEM;
            goto fail;
        }
        for (size_t k = 0; k < x->select.n; k++) {
            int at = col_find(cols, n, x->select.v[k]);
            if (at < 0) {
                if (!failed_has(&failed, x->select.v[k]))
                    unknown_col(ctx, "select", x->select.v[k], cols, n, x->select.v[k],
                                "the input (after compute and rename)");
                errors++;
                continue;
            }
            bool dup = false;
            for (size_t j = 0; j < ns; j++)
                dup |= strcmp(sel[j].name, cols[at].name) == 0;
            if (dup) {
                fl_diag_at(ctx, "select", x->select.v[k], 0, "select: \"%s\" is listed twice",
                           x->select.v[k]);
                errors++;
                continue;
            }
            sel[ns++] = cols[at];
        }
        free(cols);
        cols = sel;
        n = ns;
    }
    for (size_t k = 0; k < x->drop.n; k++) {
        int at = col_find(cols, n, x->drop.v[k]);
        if (at < 0) {
            if (!failed_has(&failed, x->drop.v[k]))
                unknown_col(ctx, "drop", x->drop.v[k], cols, n, x->drop.v[k],
                            "the input (after compute, rename and select)");
            errors++;
            continue;
        }
        memmove(&cols[at], &cols[at + 1], (n - (size_t)at - 1) * sizeof(*cols));
        n--;
    }
    if (errors) {
        rc = -FL_EINVAL;
        goto fail;
    }
    if (n == 0) {
        rc = fl_diag(ctx, x->drop.n ? "drop" : "select", "no field is left");
        goto fail;
    }

    if (!(defs = calloc(n, sizeof(*defs))) || !(p->map = calloc(n, sizeof(*p->map)))) {
        rc = -FL_ENOMEM;
        goto fail;
    }
    for (size_t k = 0; k < p->n_compute; k++)
        p->compute_col[k] = UINT32_MAX;
    for (size_t i = 0; i < n; i++) {
        defs[i] = (struct fl_col_def){ .name = cols[i].name, .type = cols[i].type };
        p->map[i] = cols[i].src;
        if (cols[i].compute >= 0)
            p->compute_col[cols[i].compute] = (uint32_t)i;
    }
    /* Every input column, in order, none computed: the output is the input
     * (a pure filter passes batches on as they are). */
    bool same = n == in->ncols;
    for (size_t i = 0; same && i < n; i++)
        same = p->map[i] == (int)i && strcmp(cols[i].name, in->cols[i]->name) == 0;
    if (same)
        p->out = in;
    else if ((rc = fl_schema_intern(ctx, defs, n, sizeof(defs[0]), &p->out)) < 0)
        goto fail;
    /* A computed field that select/drop removed is not evaluated. */
    for (size_t k = 0; k < p->n_compute; k++)
        if (p->compute_col[k] == UINT32_MAX)
            fl_expr_free(&p->compute[k]);
    free(defs);
    free(cols);
    return 0;
fail:
    free(defs);
    free(cols);
    expr_plan_free(p);
    return rc;
}
