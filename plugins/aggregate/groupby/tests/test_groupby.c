/* test_groupby.c: aggregate.groupby loaded as a plugin (the harness), for
 * what real captures do not hold: quantiles over values spanning signs,
 * zero and 12 decades against the exact order statistic (also with the
 * buckets collapsing), groups whose argument is always missing, duration
 * and string columns, hopping windows and late records. The aggregates
 * over real traffic are checked by tests/integration/115-groupby. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "fl_harness.h"

#define S 1000000000ull
#define T0 (1700000040ull * S)   /* a whole minute */

static const struct fl_col_def cols[] = {
    { "ts", FL_T_TS }, { "x", FL_T_F64 }, { "d", FL_T_DUR }, { "name", FL_T_STR },
    { "n", FL_T_U32 },
};

struct fx {
    struct fl_ctx *tctx;
    struct fl_harness *h;
    const struct fl_schema *in;
};

static void start(struct fx *f, const char *with)
{
    const struct fl_schema *s;
    f->tctx = fl_test_ctx_new();
    assert_int_equal(fl_schema_intern(f->tctx, cols, 5, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_harness_new("aggregate.groupby", with, s, &f->h), 0);
    assert_int_equal(fl_schema_intern(fl_harness_ctx(f->h), cols, 5, sizeof(cols[0]), &f->in), 0);
}

static void stop(struct fx *f)
{
    fl_harness_destroy(&f->h);
    fl_test_ctx_destroy(&f->tctx);
}

static struct fl_batch *new_batch(struct fx *f, uint32_t n)
{
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(fl_harness_ctx(f->h), f->in, n, &b), 0);
    b->rows = n;
    return b;
}

static int col_of(const struct fl_batch *b, const char *name)
{
    int c = fl_schema_find(b->schema, name);
    assert_true(c >= 0);
    return c;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Values over both signs, zeros and 1e-6 .. 1e6: every quantile is within
 * alpha of the exact value of rank floor(q (n - 1)). */
static void quantiles_within(const char *with, double alpha, bool collapsed)
{
    enum { N = 20000 };
    static const double qs[] = { 0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1 };
    static const char *const names[] = { "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8",
                                         "q9", "q10" };
    struct fx f;
    start(&f, with);
    struct fl_batch *b = new_batch(&f, N);
    double *v = malloc(N * sizeof(*v));
    uint64_t x = 88172645463325252ull;
    for (uint32_t r = 0; r < N; r++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        double mag = pow(10, (double)(x % 1200000) / 100000.0 - 6);
        v[r] = x % 50 == 0 ? 0 : x % 5 == 0 ? -mag : mag;
        FL_COL(b, 0, uint64_t)[r] = T0 + r;
        FL_COL(b, 1, double)[r] = v[r];
    }
    assert_int_equal(fl_harness_push(f.h, b), 0);
    assert_int_equal(fl_harness_drain(f.h), 0);
    assert_int_equal(fl_harness_out_rows(f.h), 1);
    struct fl_batch *o = fl_harness_out(f.h, 0);
    qsort(v, N, sizeof(*v), cmp_double);
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        double want = v[(size_t)floor(qs[i] * (N - 1))];
        double got = FL_COL(o, col_of(o, names[i]), double)[0];
        if (collapsed && fabs(want) < 3000)
            continue;   /* in the collapsed bucket: no bound */
        if (fabs(got - want) > alpha * fabs(want) + 1e-12)
            fail_msg("q=%g: got %.17g, exact %.17g", qs[i], got, want);
    }
    free(v);
    fl_batch_release(&b);
    stop(&f);
}

#define QUANTILES                                                                         \
    "aggregates: {q0: 'quantile(x, 0)', q1: 'quantile(x, 0.001)', q2: 'quantile(x, 0.01)', " \
    "q3: 'quantile(x, 0.1)', q4: 'quantile(x, 0.25)', q5: 'quantile(x, 0.5)', "            \
    "q6: 'quantile(x, 0.75)', q7: 'quantile(x, 0.9)', q8: 'quantile(x, 0.99)', "           \
    "q9: 'quantile(x, 0.999)', q10: 'quantile(x, 1)'}"

static void test_quantiles(void **st)
{
    (void)st;
    quantiles_within("{" QUANTILES "}", 0.01, false);
    /* 0.1 %: 12 decades take 13 800 buckets */
    quantiles_within("{quantile_accuracy: 0.001, quantile_bins: 16384, " QUANTILES "}", 0.001,
                     false);
    /* 300 buckets of 2 % cover a ratio of e^6 = 403 below the largest
     * magnitude (1e6): the smaller ones collapse into one bucket, and only
     * quantiles in it lose the bound */
    quantiles_within("{quantile_bins: 300, " QUANTILES "}", 0.01, true);
}

/* A group whose argument is always missing: sums, min, mean, quantile
 * empty; counts 0. Durations stay durations; strings are keys. */
static void test_missing_duration_string(void **st)
{
    (void)st;
    struct fx f;
    start(&f, "{by: [name], aggregates: {n: count(), nx: count(x), sx: sum(x), mx: min(x), "
              "ax: mean(x), qx: 'quantile(x, 0.5)', dx: count_distinct(x), sd: sum(d), "
              "md: mean(d), sdd: stddev(d), mind: min(d), sn: sum(n), pn: mult(n)}}");
    const struct fl_schema *o = fl_harness_out_schema(f.h);
    assert_non_null(o);
    assert_int_equal(o->cols[fl_schema_find(o, "name")]->type, FL_T_STR);
    assert_int_equal(o->cols[fl_schema_find(o, "sd")]->type, FL_T_DUR);
    assert_int_equal(o->cols[fl_schema_find(o, "md")]->type, FL_T_DUR);
    assert_int_equal(o->cols[fl_schema_find(o, "sx")]->type, FL_T_F64);
    assert_int_equal(o->cols[fl_schema_find(o, "sn")]->type, FL_T_I64);
    assert_int_equal(o->cols[fl_schema_find(o, "pn")]->type, FL_T_F64);
    assert_int_equal(o->cols[fl_schema_find(o, "n")]->type, FL_T_U64);
    struct fl_batch *b = new_batch(&f, 7);
    static const char *const nm[] = { "alpha", "beta", "alpha", "beta", "alpha", "gamma-long-name",
                                      "delta" };
    for (uint32_t r = 0; r < 7; r++) {
        FL_COL(b, 0, uint64_t)[r] = T0 + r * S;
        FL_COL(b, 1, double)[r] = 1.5 * r;
        FL_COL(b, 2, int64_t)[r] = (int64_t)(r + 1) * 1000000000;
        FL_COL(b, 4, uint32_t)[r] = r + 2;
        assert_int_equal(fl_batch_put_bytes(b, nm[r], (uint32_t)strlen(nm[r]),
                                            &FL_COL(b, 3, struct fl_span)[r]), 0);
        if (r % 2)   /* beta: x always missing */
            assert_int_equal(fl_batch_set_missing(b, 1, r), 0);
    }
    /* missing keys, whatever their cells hold: one group */
    assert_int_equal(fl_batch_set_missing(b, 3, 5), 0);
    assert_int_equal(fl_batch_set_missing(b, 3, 6), 0);
    assert_int_equal(fl_harness_push(f.h, b), 0);
    assert_int_equal(fl_harness_drain(f.h), 0);
    assert_int_equal(fl_harness_out_rows(f.h), 3);
    struct fl_batch *out = fl_harness_out(f.h, 0);
    int cn = col_of(out, "name");
    /* alpha: rows 0, 2, 4 */
    assert_int_equal(FL_COL(out, cn, struct fl_span)[0].len, 5);
    assert_memory_equal(fl_batch_bytes(out, FL_COL(out, cn, struct fl_span)[0]), "alpha", 5);
    assert_int_equal(FL_COL(out, col_of(out, "n"), uint64_t)[0], 3);
    assert_true(FL_COL(out, col_of(out, "sx"), double)[0] == 9.0);
    assert_int_equal(FL_COL(out, col_of(out, "sd"), int64_t)[0], 9 * (int64_t)S);
    assert_int_equal(FL_COL(out, col_of(out, "md"), int64_t)[0], 3 * (int64_t)S);
    assert_int_equal(FL_COL(out, col_of(out, "mind"), int64_t)[0], 1 * (int64_t)S);
    /* population stddev of 1, 3, 5 s: sqrt(8/3) s */
    assert_int_equal(FL_COL(out, col_of(out, "sdd"), int64_t)[0], (int64_t)llround(sqrt(8.0 / 3) * 1e9));
    assert_int_equal(FL_COL(out, col_of(out, "sn"), int64_t)[0], 2 + 4 + 6);
    assert_true(FL_COL(out, col_of(out, "pn"), double)[0] == 48.0);
    assert_int_equal(FL_COL(out, col_of(out, "dx"), uint64_t)[0], 3);
    /* beta: x never there */
    assert_int_equal(FL_COL(out, col_of(out, "n"), uint64_t)[1], 2);
    assert_int_equal(FL_COL(out, col_of(out, "nx"), uint64_t)[1], 0);
    assert_int_equal(FL_COL(out, col_of(out, "dx"), uint64_t)[1], 0);
    static const char *const empty[] = { "sx", "mx", "ax", "qx" };
    for (size_t i = 0; i < 4; i++)
        assert_false(fl_batch_is_valid(out, (uint32_t)col_of(out, empty[i]), 1));
    /* the rows with no name: a group of their own, key missing */
    assert_false(fl_batch_is_valid(out, (uint32_t)cn, 2));
    assert_int_equal(FL_COL(out, col_of(out, "n"), uint64_t)[2], 2);
    fl_batch_release(&b);
    stop(&f);
}

/* 2m/1m windows: a record is in two; a record behind the watermark is
 * counted late and merged nowhere; rows come out as windows close. */
static void test_hopping_and_late(void **st)
{
    (void)st;
    struct fx f;
    start(&f, "{windows: [2m/1m], allowed_lateness: 1s, aggregates: {n: count(), s: sum(n)}}");
    struct fl_batch *b = new_batch(&f, 3);
    const uint64_t t[] = { T0 + 10 * S, T0 + 70 * S, T0 + 200 * S };
    for (uint32_t r = 0; r < 3; r++) {
        FL_COL(b, 0, uint64_t)[r] = t[r];
        FL_COL(b, 4, uint32_t)[r] = r + 1;
    }
    assert_int_equal(fl_harness_push(f.h, b), 0);
    assert_int_equal(fl_harness_tick(f.h, T0 + 200 * S), 0);
    /* closed: [-60, 60) {1}, [0, 120) {1, 2}, [60, 180) {2} */
    assert_int_equal(fl_harness_out_rows(f.h), 3);
    struct fl_batch *late = new_batch(&f, 1);
    FL_COL(late, 0, uint64_t)[0] = T0 + 20 * S;
    FL_COL(late, 4, uint32_t)[0] = 100;
    assert_int_equal(fl_harness_push(f.h, late), 0);
    assert_int_equal(fl_harness_counter(f.h, "late"), 1);   /* once per window length */
    assert_int_equal(fl_harness_drain(f.h), 0);
    uint64_t sums[8] = { 0 }, n = 0;
    for (size_t i = 0; i < fl_harness_n_out(f.h); i++) {
        struct fl_batch *o = fl_harness_out(f.h, i);
        for (uint32_t r = 0; r < o->rows; r++) {
            assert_int_equal(FL_COL(o, 2, int64_t)[r], 120 * (int64_t)S);
            sums[n++] = (uint64_t)FL_COL(o, col_of(o, "s"), int64_t)[r];
        }
    }
    assert_int_equal(n, 5);   /* + [120, 240) {3}, [180, 300) {3} */
    static const uint64_t want[] = { 1, 3, 2, 3, 3 };
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(sums[i], want[i]);
    fl_batch_release(&b);
    fl_batch_release(&late);
    stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_missing_duration_string),
        cmocka_unit_test(test_hopping_and_late),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
