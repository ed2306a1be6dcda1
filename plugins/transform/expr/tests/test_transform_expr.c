/* test_transform_expr.c: transform.expr loaded as a plugin (the harness):
 * select/rename/drop share the input's columns (same data pointers, no
 * copy), where keeps the true rows only (missing: dropped), a filter that
 * keeps every row passes the batch on as it is, computed columns are
 * typed, and an input schema first seen at run time gets its own plan. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "fl_harness.h"

static const struct fl_col_def cols[] = {
    { "bytes", FL_T_U64 }, { "packets", FL_T_U64 }, { "dst_port", FL_T_U16 },
    { "end_reason", FL_T_STR },
};

static struct fl_batch *batch(struct fl_ctx *ctx, const struct fl_schema *s, uint32_t n)
{
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(ctx, s, n, &b), 0);
    for (uint32_t r = 0; r < n; r++) {
        FL_COL(b, 0, uint64_t)[r] = 100 * r;
        FL_COL(b, 1, uint64_t)[r] = r % 4;        /* 0 packets: bytes / packets missing */
        FL_COL(b, 2, uint16_t)[r] = r % 2 ? 443 : 53;
        assert_int_equal(fl_batch_put_bytes(b, "idle", 4, &FL_COL(b, 3, struct fl_span)[r]), 0);
    }
    b->rows = n;
    return b;
}

static void test_shares_columns(void **st)
{
    (void)st;
    struct fl_harness *h;
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(ctx, cols, 4, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_harness_new("transform.expr",
        "{rename: {dst_port: service}, select: [service, bytes], compute: {bpp: bytes / packets}}",
        s, &h), 0);
    const struct fl_schema *o = fl_harness_out_schema(h);
    assert_non_null(o);
    assert_int_equal(o->ncols, 2);              /* bpp computed, then not selected */
    assert_string_equal(o->cols[0]->name, "service");
    assert_int_equal(o->cols[0]->type, FL_T_U16);
    struct fl_batch *in = batch(fl_harness_ctx(h), s, 10);
    assert_int_equal(fl_harness_push(h, in), 0);
    assert_int_equal(fl_harness_n_out(h), 1);
    struct fl_batch *out = fl_harness_out(h, 0);
    assert_ptr_equal(out->schema, o);
    assert_ptr_equal(out->data[0], in->data[2]);    /* shared, not copied */
    assert_ptr_equal(out->data[1], in->data[0]);
    fl_batch_release(&in);
    fl_harness_destroy(&h);
    fl_test_ctx_destroy(&ctx);
}

static void test_where_compute(void **st)
{
    (void)st;
    struct fl_harness *h;
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(ctx, cols, 4, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_harness_new("transform.filter",
        "{where: \"dst_port == 443 and bytes / packets > 100\", compute: {bpp: bytes / packets, "
        "big: bytes > 500}, drop: [end_reason]}", s, &h), 0);
    const struct fl_schema *o = fl_harness_out_schema(h);
    assert_int_equal(o->ncols, 5);
    assert_string_equal(o->cols[3]->name, "bpp");
    assert_int_equal(o->cols[3]->type, FL_T_F64);
    assert_int_equal(o->cols[4]->type, FL_T_BOOL);
    struct fl_batch *in = batch(fl_harness_ctx(h), s, 12);
    assert_int_equal(fl_harness_push(h, in), 0);
    /* Odd rows are 443; packets = r % 4 is 1 or 3 there: bpp = 100r or 100r/3. */
    struct fl_batch *out = fl_harness_out(h, 0);
    uint32_t want[] = { 5, 7, 9, 11 };   /* rows 1 and 3: bpp 100, not > 100 */
    assert_int_equal(out->rows, 4);
    for (uint32_t i = 0; i < 4; i++) {
        uint32_t r = want[i];
        assert_int_equal(FL_COL(out, 0, uint64_t)[i], 100 * r);
        assert_true(FL_COL(out, 3, double)[i] == 100.0 * r / (r % 4));
        assert_int_equal(FL_COL(out, 4, bool)[i], 100 * r > 500);
    }
    assert_int_equal(fl_harness_counter(h, "filtered_out"), 8);
    fl_batch_release(&in);
    fl_harness_destroy(&h);
    fl_test_ctx_destroy(&ctx);
}

static void test_filter_passes_batch(void **st)
{
    (void)st;
    struct fl_harness *h;
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(ctx, cols, 4, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_harness_new("transform.filter", "{where: \"bytes >= 0\"}", s, &h), 0);
    struct fl_batch *in = batch(fl_harness_ctx(h), s, 8);
    assert_int_equal(fl_harness_push(h, in), 0);
    assert_ptr_equal(fl_harness_out(h, 0), in);     /* every row kept: the same batch */
    fl_batch_release(&in);
    in = batch(fl_harness_ctx(h), s, 8);
    fl_harness_destroy(&h);
    assert_int_equal(fl_harness_new("transform.filter", "{where: \"bytes < 0\"}", s, &h), 0);
    assert_int_equal(fl_harness_push(h, in), 0);
    assert_int_equal(fl_harness_n_out(h), 0);       /* nothing kept: nothing emitted */
    assert_int_equal(fl_harness_counter(h, "filtered_out"), 8);
    fl_batch_release(&in);
    fl_harness_destroy(&h);
    fl_test_ctx_destroy(&ctx);
}

/* Declared open (NULL input schema): the plan is made for the first batch. */
static void test_open_input(void **st)
{
    (void)st;
    struct fl_harness *h;
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(ctx, cols, 4, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_harness_new("transform.expr", "{compute: {kb: bytes / 1000}, select: [kb]}",
                                     NULL, &h), 0);
    assert_null(fl_harness_out_schema(h));
    struct fl_batch *in = batch(fl_harness_ctx(h), s, 3);
    assert_int_equal(fl_harness_push(h, in), 0);
    struct fl_batch *out = fl_harness_out(h, 0);
    assert_int_equal(out->schema->ncols, 1);
    assert_true(FL_COL(out, 0, double)[2] == 0.2);
    fl_batch_release(&in);
    /* A schema without the field: the stage fails (logged), no crash. */
    static const struct fl_col_def other[] = { { "packets", FL_T_U64 } };
    const struct fl_schema *s2;
    assert_int_equal(fl_schema_intern(fl_harness_ctx(h), other, 1, sizeof(other[0]), &s2), 0);
    assert_int_equal(fl_batch_new(fl_harness_ctx(h), s2, 1, &in), 0);
    in->rows = 1;
    FL_COL(in, 0, uint64_t)[0] = 1;
    assert_int_equal(fl_harness_push(h, in), -FL_EINVAL);
    fl_batch_release(&in);
    fl_harness_destroy(&h);
    fl_test_ctx_destroy(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shares_columns),
        cmocka_unit_test(test_where_compute),
        cmocka_unit_test(test_filter_passes_batch),
        cmocka_unit_test(test_open_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
