/* test_bind.c: typed field binding (bind.c): names through aliases, the
 * widening conversions, missing optional fields, required fields missing at
 * check time and at run time, validity passed through, the per-schema
 * cache, and wants read at the caller's stride. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "fl_harness.h"
#include "rt.h"

/* A batch of schema s with `rows` rows whose cells are all zero. */
static struct fl_batch *batch(struct fl_ctx *ctx, const struct fl_schema *s, uint32_t rows)
{
    struct fl_batch *b = NULL;
    assert_int_equal(fl_batch_new(ctx, s, rows, &b), 0);
    for (uint32_t c = 0; c < s->ncols; c++)
        memset(b->data[c], 0, rows * fl_type_size(s->cols[c]->type));
    b->rows = rows;
    return b;
}

static void test_widening(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    static const struct fl_col_def cols[] = {
        { "packets", FL_T_U8 }, { "bytes", FL_T_U16 }, { "src_addr", FL_T_U32 },
        { "duration", FL_T_I64 }, { "proto", FL_T_U8 },
    };
    static const struct fl_want wants[] = {
        { "packets", FL_T_U64, FL_WANT_REQUIRED },
        { "octetDeltaCount", FL_T_F64, FL_WANT_REQUIRED },   /* IANA name of bytes */
        { "srcaddr", FL_T_ADDR, FL_WANT_REQUIRED },           /* seed alias of src_addr */
        { "duration", FL_T_F64, 0 },
        { "proto", FL_T_U8, 0 },                             /* same type: no copy */
    };
    const struct fl_schema *s;
    struct fl_bind *bd;
    assert_int_equal(fl_schema_intern(ctx, cols, 5, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_bind_new(ctx, wants, 5, sizeof(wants[0]), &bd), 0);
    struct fl_batch *b = batch(ctx, s, 3);
    for (uint32_t r = 0; r < 3; r++) {
        FL_COL(b, 0, uint8_t)[r] = (uint8_t)(250 + r);
        FL_COL(b, 1, uint16_t)[r] = (uint16_t)(60000 + r);
        FL_COL(b, 2, uint32_t)[r] = 0xC0000201u + r;       /* 192.0.2.1 + r */
        FL_COL(b, 3, int64_t)[r] = -5 - (int64_t)r;
        FL_COL(b, 4, uint8_t)[r] = 17;
    }
    assert_int_equal(fl_bind_batch(ctx, bd, b), 0);
    const uint64_t *pk = fl_bind_data(bd, 0);
    const double *by = fl_bind_data(bd, 1), *du = fl_bind_data(bd, 3);
    const struct fl_addr *a = fl_bind_data(bd, 2);
    for (uint32_t r = 0; r < 3; r++) {
        assert_int_equal(pk[r], 250 + r);
        assert_true(by[r] == 60000.0 + r);
        assert_true(du[r] == -5.0 - r);
        assert_true(fl_addr_is_v4(&a[r]));
        assert_int_equal(a[r].b[12], 192);
        assert_int_equal(a[r].b[15], 1 + r);
    }
    assert_ptr_equal(fl_bind_data(bd, 4), b->data[4]);
    assert_int_equal(fl_bind_col(bd, 2), 2);
    assert_int_equal(fl_bind_type(bd, 1), FL_T_F64);
    fl_batch_release(&b);
    fl_test_ctx_destroy(&ctx);
}

/* Optional fields a batch lacks read as zeros, every row missing; present
 * ones keep their validity bitmap. */
static void test_missing_and_validity(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    static const struct fl_col_def cols[] = { { "bytes", FL_T_U64 } };
    static const struct fl_want wants[] = {
        { "bytes", FL_T_U64, FL_WANT_REQUIRED }, { "vlan", FL_T_U16, 0 }, { "src_addr", FL_T_ADDR, 0 },
    };
    const struct fl_schema *s;
    struct fl_bind *bd;
    assert_int_equal(fl_schema_intern(ctx, cols, 1, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_bind_new(ctx, wants, 3, sizeof(wants[0]), &bd), 0);
    struct fl_batch *b = batch(ctx, s, 100);
    assert_int_equal(fl_batch_set_missing(b, 0, 70), 0);
    assert_int_equal(fl_bind_batch(ctx, bd, b), 0);
    assert_false(fl_bind_row_valid(fl_bind_valid(bd, 0), 70));
    assert_true(fl_bind_row_valid(fl_bind_valid(bd, 0), 69));
    assert_int_equal(fl_bind_col(bd, 1), -1);
    assert_int_equal(fl_bind_type(bd, 2), FL_T_ADDR);
    const uint16_t *vlan = fl_bind_data(bd, 1);
    const struct fl_addr *a = fl_bind_data(bd, 2);
    static const struct fl_addr zero;
    for (uint32_t r = 0; r < 100; r++) {
        assert_false(fl_bind_row_valid(fl_bind_valid(bd, 1), r));
        assert_false(fl_bind_row_valid(fl_bind_valid(bd, 2), r));
        assert_int_equal(vlan[r], 0);
        assert_memory_equal(&a[r], &zero, sizeof(zero));
    }
    fl_batch_release(&b);
    fl_test_ctx_destroy(&ctx);
}

/* At run time a batch without a required field, or with one of a type that
 * does not widen, is refused and its rows counted; the binding follows
 * schema changes both ways. */
static void test_required_at_run_time(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    static const struct fl_col_def good[] = { { "bytes", FL_T_U32 } }, narrow[] = { { "bytes", FL_T_STR } },
                                   none[] = { { "packets", FL_T_U64 } };
    static const struct fl_want wants[] = { { "bytes", FL_T_U64, FL_WANT_REQUIRED } };
    const struct fl_schema *sg, *sn, *s0;
    struct fl_bind *bd;
    assert_int_equal(fl_schema_intern(ctx, good, 1, sizeof(good[0]), &sg), 0);
    assert_int_equal(fl_schema_intern(ctx, narrow, 1, sizeof(narrow[0]), &sn), 0);
    assert_int_equal(fl_schema_intern(ctx, none, 1, sizeof(none[0]), &s0), 0);
    assert_int_equal(fl_bind_new(ctx, wants, 1, sizeof(wants[0]), &bd), 0);
    struct fl_batch *bg = batch(ctx, sg, 5), *bn = batch(ctx, sn, 6), *b0 = batch(ctx, s0, 7);
    FL_COL(bg, 0, uint32_t)[4] = 99;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(fl_bind_batch(ctx, bd, bg), 0);
        assert_int_equal(((const uint64_t *)fl_bind_data(bd, 0))[4], 99);
        assert_int_equal(fl_bind_batch(ctx, bd, bn), -FL_ENOENT);
        assert_int_equal(fl_bind_batch(ctx, bd, b0), -FL_ENOENT);
    }
    assert_int_equal(fl_counter_get(ctx, "records_missing_field"), 2 * (6 + 7));
    fl_batch_release(&bg);
    fl_batch_release(&bn);
    fl_batch_release(&b0);
    fl_test_ctx_destroy(&ctx);
}

/* flowline check: required and named fields a declared input lacks are
 * diagnostics with a suggestion; optional ones and open inputs pass. */
static void test_check(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct fl_diags d = { 0 };
    static const struct fl_col_def cols[] = { { "src_port", FL_T_U16 }, { "end_reason", FL_T_STR } };
    static const struct fl_want wants[] = {
        { "src_prot", FL_T_U16, FL_WANT_REQUIRED }, { "end_reason", FL_T_U64, FL_WANT_NAMED },
        { "vlan", FL_T_U16, 0 }, { "src_port", FL_T_U32, FL_WANT_REQUIRED },
    };
    const struct fl_schema *s;
    struct fl_bind *bd;
    assert_int_equal(fl_schema_intern(ctx, cols, 2, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_bind_new(ctx, wants, 4, sizeof(wants[0]), &bd), 0);
    ctx->rt->diags = &d;
    const struct fl_schema *open[] = { NULL };
    assert_int_equal(fl_bind_check(ctx, bd, NULL, open, 1), 0);
    assert_int_equal(fl_bind_check(ctx, bd, NULL, &s, 1), -FL_EINVAL);
    ctx->rt->diags = NULL;
    assert_int_equal(d.errors, 2);
    assert_string_equal(d.v[0].msg, "stage \"test\": field \"src_prot\" is not in the input; "
                                    "did you mean \"src_port\"?");
    assert_string_equal(d.v[1].msg, "stage \"test\": field \"end_reason\" in the input is str; "
                                    "this stage reads it as u64");
    fl_diags_free(&d);
    fl_test_ctx_destroy(&ctx);
}

/* Wants are read at the caller's stride: a plugin may keep them in a
 * larger struct of its own (or one built against a smaller fl_want). */
static void test_stride(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct mine { struct fl_want w; size_t offset; } wants[] = {
        { { "packets", FL_T_U64, FL_WANT_REQUIRED }, 1 }, { { "bytes", FL_T_U64, 0 }, 2 },
    };
    static const struct fl_col_def cols[] = { { "bytes", FL_T_U64 }, { "packets", FL_T_U64 } };
    const struct fl_schema *s;
    struct fl_bind *bd;
    assert_int_equal(fl_schema_intern(ctx, cols, 2, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_bind_new(ctx, &wants[0].w, 2, sizeof(wants[0]), &bd), 0);
    struct fl_batch *b = batch(ctx, s, 1);
    assert_int_equal(fl_bind_batch(ctx, bd, b), 0);
    assert_int_equal(fl_bind_col(bd, 0), 1);
    assert_int_equal(fl_bind_col(bd, 1), 0);
    assert_int_equal(fl_bind_new(ctx, &wants[0].w, 2, 4, &bd), -FL_EINVAL);
    fl_bind_destroy(ctx, &bd);   /* NULL after the failure: a no-op */
    fl_batch_release(&b);
    fl_test_ctx_destroy(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widening),
        cmocka_unit_test(test_missing_and_validity),
        cmocka_unit_test(test_required_at_run_time),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_stride),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
