/* groupby_spec.c: the text of `by:` and `aggregates:`, parsed once at
 * check time. A key is a field name ("src_addr": the column is named as
 * written) or "EXPRESSION as NAME"; an aggregate is a call, "sum(bytes)",
 * "count()", "quantile(bytes / packets, 0.95)", whose argument is an
 * expression of the expression language (compiled in groupby_plan.c).
 * Every problem is reported at its byte in the value (fl_diag_at). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "groupby.h"

const char *const gb_fn_names[GB_N_FN] = {
    [GB_SUM] = "sum", [GB_MULT] = "mult", [GB_MIN] = "min", [GB_MAX] = "max",
    [GB_COUNT] = "count", [GB_COUNT_DISTINCT] = "count_distinct", [GB_MEAN] = "mean",
    [GB_STDDEV] = "stddev", [GB_QUANTILE] = "quantile",
};

/* Names users bring from SQL, pandas, Spark and InfluxQL. */
static const struct { const char *from, *to; } gb_hints[] = {
    { "avg", "mean" }, { "average", "mean" }, { "product", "mult" }, { "prod", "mult" },
    { "unique", "count_distinct" }, { "nunique", "count_distinct" },
    { "distinct", "count_distinct" }, { "count_unique", "count_distinct" },
    { "approx_count_distinct", "count_distinct" }, { "std", "stddev" },
    { "stdev", "stddev" }, { "stddev_pop", "stddev" }, { "median", "quantile(x, 0.5)" },
    { "percentile", "quantile(x, q)" }, { "total", "sum" },
};

static bool ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static bool valid_name(const char *s)
{
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!ident_char(*s))
            return false;
    return true;
}

/* Skip a quoted string starting at s[i]; returns the index after it. */
static size_t skip_quoted(const char *s, size_t i)
{
    char q = s[i++];
    while (s[i] && s[i] != q)
        i += s[i] == '\\' && s[i + 1] ? 2 : 1;
    return s[i] ? i + 1 : i;
}

static char *dup_trim(const char *s, size_t from, size_t to, size_t *off)
{
    while (from < to && isspace((unsigned char)s[from]))
        from++;
    while (to > from && isspace((unsigned char)s[to - 1]))
        to--;
    *off = from;
    char *r = malloc(to - from + 1);
    if (r) {
        memcpy(r, s + from, to - from);
        r[to - from] = 0;
    }
    return r;
}

static bool name_taken(const struct groupby *g, const char *name)
{
    static const char *const window_cols[] = { "window_start", "window_end", "window" };
    for (size_t i = 0; i < 3; i++)
        if (!strcmp(name, window_cols[i]))
            return true;
    for (size_t i = 0; i < g->n_keys; i++)
        if (!strcmp(name, g->keys[i].name))
            return true;
    return false;
}

/* "expr" or "expr as name": the last top-level " as " splits them. */
static int parse_key(struct fl_ctx *ctx, struct groupby *g, const char *item)
{
    size_t n = strlen(item), as = 0, depth = 0;
    for (size_t i = 0; i < n;) {
        char c = item[i];
        if (c == '"' || c == '\'') {
            i = skip_quoted(item, i);
            continue;
        }
        depth += c == '(';
        depth -= c == ')' && depth;
        if (depth == 0 && i > 0 && isspace((unsigned char)item[i - 1]) && !strncmp(item + i, "as", 2)
            && i + 2 < n && isspace((unsigned char)item[i + 2]))
            as = i;
        i++;
    }
    struct gb_key *k = &g->keys[g->n_keys];
    size_t name_off = 0;
    memset(k, 0, sizeof(*k));
    k->item = item;
    if (!(k->expr = dup_trim(item, 0, as ? as : n, &k->expr_off)))
        return -FL_ENOMEM;
    if (as) {
        if (!(k->name = dup_trim(item, as + 2, n, &name_off)))
            return -FL_ENOMEM;
    } else if (!(k->name = strdup(k->expr))) {
        return -FL_ENOMEM;
    }
    int rc = 0;
    if (!*k->expr)
        rc = fl_diag_at(ctx, "by", item, 0, "by: \"%s\" has no expression before \"as\"", item);
    else if (!valid_name(k->name))
        rc = as ? fl_diag_at(ctx, "by", item, name_off, "by: \"%s\" is not a column name "
                             "(letters, digits and _, not starting with a digit)", k->name)
                : fl_diag_at(ctx, "by", item, 0, "by: name the key: \"%s as NAME\"", item);
    else if (name_taken(g, k->name))
        rc = fl_diag_at(ctx, "by", item, as ? name_off : 0, "by: the column \"%s\" is "
                        "already taken", k->name);
    if (rc < 0) {
        free(k->expr);
        free(k->name);
        memset(k, 0, sizeof(*k));
        return rc;
    }
    g->n_keys++;
    return 0;
}

static int unknown_fn(struct fl_ctx *ctx, const char *key, const char *fn, size_t at)
{
    for (size_t i = 0; i < sizeof(gb_hints) / sizeof(gb_hints[0]); i++)
        if (!strcmp(fn, gb_hints[i].from))
            return fl_diag_at(ctx, "aggregates", key, at, "aggregates \"%s\": unknown function "
                              "\"%s\"; did you mean %s?", key, fn, gb_hints[i].to);
    const char *best = fl_name_suggest(fn, gb_fn_names, GB_N_FN);
    if (best)
        return fl_diag_at(ctx, "aggregates", key, at, "aggregates \"%s\": unknown function "
                          "\"%s\"; did you mean %s?", key, fn, best);
    return fl_diag_at(ctx, "aggregates", key, at, "aggregates \"%s\": unknown function \"%s\" "
                      "(sum, mult, min, max, count, count_distinct, mean, stddev, quantile)",
                      key, fn);
}

/* "fn(arg)" or "quantile(arg, q)" into a. */
static int parse_agg(struct fl_ctx *ctx, struct gb_agg *a, const char *key, const char *v)
{
    size_t i = 0, n = strlen(v);
    memset(a, 0, sizeof(*a));
    a->name = key;
    a->arg_slot = -1;
    while (isspace((unsigned char)v[i]))
        i++;
    size_t fn_at = i;
    while (ident_char(v[i]))
        i++;
    if (i == fn_at)
        return fl_diag_at(ctx, "aggregates", key, fn_at, "aggregates \"%s\": expected a call "
                          "such as sum(bytes) or count()", key);
    char fn[64];
    snprintf(fn, sizeof(fn), "%.*s", (int)(i - fn_at), v + fn_at);
    while (isspace((unsigned char)v[i]))
        i++;
    if (v[i] != '(')
        return fl_diag_at(ctx, "aggregates", key, i, "aggregates \"%s\": expected a call such "
                          "as sum(%s) or count()", key, fn);
    size_t k = 0;
    while (k < GB_N_FN && strcmp(fn, gb_fn_names[k]))
        k++;
    if (k == GB_N_FN)
        return unknown_fn(ctx, key, fn, fn_at);
    a->fn = (enum gb_fn)k;
    /* the arguments: top-level commas, up to the matching ")" */
    size_t open = i++, depth = 1, commas[4], nc = 0, close = 0;
    while (i < n && depth) {
        char c = v[i];
        if (c == '"' || c == '\'') {
            i = skip_quoted(v, i);
            continue;
        }
        if (c == '(')
            depth++;
        else if (c == ')' && --depth == 0)
            close = i;
        else if (c == ',' && depth == 1 && nc < 4)
            commas[nc++] = i;
        i++;
    }
    if (depth)
        return fl_diag_at(ctx, "aggregates", key, open, "aggregates \"%s\": this \"(\" is not "
                          "closed", key);
    for (size_t j = close + 1; j < n; j++)
        if (!isspace((unsigned char)v[j]))
            return fl_diag_at(ctx, "aggregates", key, j, "aggregates \"%s\": unexpected text "
                              "after the call", key);
    size_t want = a->fn == GB_QUANTILE ? 1 : 0;
    if (nc != want)
        return fl_diag_at(ctx, "aggregates", key, nc > want ? commas[want] : open,
                          "aggregates \"%s\": %s() takes %s", key, fn,
                          a->fn == GB_QUANTILE ? "two arguments: quantile(x, q)"
                          : a->fn == GB_COUNT ? "one argument or none" : "one argument");
    size_t arg_end = nc ? commas[0] : close;
    if (!(a->arg = dup_trim(v, open + 1, arg_end, &a->arg_off)))
        return -FL_ENOMEM;
    if (!*a->arg) {
        free(a->arg);
        a->arg = NULL;
        if (a->fn != GB_COUNT)
            return fl_diag_at(ctx, "aggregates", key, open + 1, "aggregates \"%s\": %s() "
                              "takes one argument", key, fn);
    }
    if (a->fn == GB_QUANTILE) {
        size_t q_off;
        char *qs = dup_trim(v, commas[0] + 1, close, &q_off), *end = NULL;
        if (!qs)
            return -FL_ENOMEM;
        a->q = strtod(qs, &end);
        bool ok = *qs && end && !*end && a->q >= 0 && a->q <= 1;
        free(qs);
        if (!ok)
            return fl_diag_at(ctx, "aggregates", key, q_off, "aggregates \"%s\": the quantile "
                              "must be a number from 0 to 1 (0.5: the median)", key);
    }
    return 0;
}

int gb_spec_parse(struct fl_ctx *ctx, struct groupby *g)
{
    int rc = 0, r;
    if (g->parsed)
        return g->parse_rc;
    if (g->by.n > GB_MAX_KEYS)
        return fl_diag(ctx, "by", "at most %d keys", GB_MAX_KEYS);
    if (g->aggregates.n > GB_MAX_AGGS)
        return fl_diag(ctx, "aggregates", "at most %d aggregates", GB_MAX_AGGS);
    for (size_t i = 0; i < g->by.n; i++)
        if ((r = parse_key(ctx, g, g->by.v[i])) < 0) {
            if (r != -FL_EINVAL)
                return r;
            rc = r;
        }
    if (g->aggregates.n == 0)
        rc = fl_diag(ctx, "aggregates", "give at least one aggregate, e.g. "
                     "{bytes: sum(bytes), records: count()}");
    for (size_t i = 0; i < g->aggregates.n; i++) {
        const char *key = g->aggregates.key[i];
        struct gb_agg *a = &g->aggs[g->n_aggs];
        if (!valid_name(key)) {
            rc = fl_diag_at(ctx, "aggregates", key, 0, "aggregates: \"%s\" is not a column name "
                            "(letters, digits and _, not starting with a digit)", key);
            continue;
        }
        if (name_taken(g, key)) {
            rc = fl_diag_at(ctx, "aggregates", key, 0, "aggregates: the column \"%s\" is already "
                            "taken", key);
            continue;
        }
        if ((r = parse_agg(ctx, a, key, g->aggregates.val[i])) < 0) {
            free(a->arg);
            a->arg = NULL;
            if (r != -FL_EINVAL)
                return r;
            rc = r;
            continue;
        }
        g->n_aggs++;
    }
    /* The distinct expression texts: keys, then arguments (also after an
     * error, so the expressions that parsed are still checked). */
    for (size_t i = 0; i < g->n_keys; i++)
        g->texts[g->n_texts++] = g->keys[i].expr;
    for (size_t i = 0; i < g->n_aggs; i++) {
        struct gb_agg *a = &g->aggs[i];
        if (!a->arg)
            continue;
        size_t t = 0;
        while (t < g->n_texts && strcmp(g->texts[t], a->arg))
            t++;
        if (t == g->n_texts)
            g->texts[g->n_texts++] = a->arg;
        a->arg_slot = (int)t;
    }
    g->parsed = true;
    g->parse_rc = rc;
    return rc;
}

void gb_spec_free(struct groupby *g)
{
    for (size_t i = 0; i < g->n_keys; i++) {
        free(g->keys[i].name);
        free(g->keys[i].expr);
    }
    for (size_t i = 0; i < g->n_aggs; i++)
        free(g->aggs[i].arg);
    g->n_keys = g->n_aggs = g->n_texts = 0;
    g->parsed = false;
}
