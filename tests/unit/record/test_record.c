/* test_record.c: schemas and batches (record.c): interning, name lookup
 * through aliases, derived batches sharing columns, filtering with
 * validity, copy-on-write of the string arena, reference counting,
 * recycling of released batches through their ctx's pool, taking a
 * batch's rows into a copy (fl_emit_keep). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "fl_harness.h"
#include "internal.h"

static const struct fl_col_def flow_cols[] = {
    { "src_port", FL_T_U16 }, { "bytes", FL_T_U64 }, { "end_reason", FL_T_STR },
};

static void test_intern(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *a, *b, *c;
    struct fl_col_def other[] = { { "src_port", FL_T_U32 }, { "bytes", FL_T_U64 }, { "end_reason", FL_T_STR } };
    assert_int_equal(fl_schema_intern(ctx, flow_cols, 3, sizeof(flow_cols[0]), &a), 0);
    assert_int_equal(fl_schema_intern(ctx, flow_cols, 3, sizeof(flow_cols[0]), &b), 0);
    assert_ptr_equal(a, b);                          /* equal lists: one object */
    assert_int_equal(fl_schema_intern(ctx, other, 3, sizeof(other[0]), &c), 0);
    assert_ptr_not_equal(a, c);                      /* a type differs */
    assert_int_equal(fl_schema_intern(ctx, flow_cols, 2, sizeof(flow_cols[0]), &c), 0);
    assert_ptr_not_equal(a, c);                      /* a prefix is another schema */
    /* Canonical, seed-alias and IANA names find the same column. */
    assert_int_equal(fl_schema_find(a, "bytes"), 1);
    assert_int_equal(fl_schema_find(a, "size"), 1);
    assert_int_equal(fl_schema_find(a, "octetDeltaCount"), 1);
    assert_int_equal(fl_schema_find(a, "srcp"), 0);
    assert_int_equal(fl_schema_find(a, "packets"), -1);
    struct fl_col_def bad = { "x", FL_T_NONE };
    assert_int_equal(fl_schema_intern(ctx, &bad, 1, sizeof(bad), &c), -FL_EINVAL);
    fl_test_ctx_destroy(&ctx);
}

static struct fl_batch *filled(struct fl_ctx *ctx, const struct fl_schema *s, uint32_t n)
{
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(ctx, s, n, &b), 0);
    for (uint32_t r = 0; r < n; r++) {
        FL_COL(b, 0, uint16_t)[r] = (uint16_t)r;
        FL_COL(b, 1, uint64_t)[r] = 1000u + r;
        char text[16];
        int len = snprintf(text, sizeof(text), "row%u", r);
        assert_int_equal(fl_batch_put_bytes(b, text, (uint32_t)len, &FL_COL(b, 2, struct fl_span)[r]), 0);
    }
    b->rows = n;
    b->t_min = 5;
    b->t_max = 9;
    return b;
}

static void test_derive_shares(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s, *d;
    struct fl_col_def dcols[] = { { "bytes", FL_T_U64 }, { "packets", FL_T_U64 }, { "end_reason", FL_T_STR } };
    assert_int_equal(fl_schema_intern(ctx, flow_cols, 3, sizeof(flow_cols[0]), &s), 0);
    assert_int_equal(fl_schema_intern(ctx, dcols, 3, sizeof(dcols[0]), &d), 0);
    struct fl_batch *b = filled(ctx, s, 100), *x;
    int map[] = { 1, -1, 2 };
    assert_int_equal(fl_batch_derive(ctx, b, d, map, &x), 0);
    assert_ptr_equal(x->data[0], b->data[1]);        /* shared, not copied */
    assert_ptr_equal(x->data[2], b->data[2]);
    assert_ptr_not_equal(x->data[1], b->data[0]);
    assert_int_equal(x->rows, 100);
    assert_int_equal(x->t_max, 9);
    /* The source may go first: shared columns stay alive. */
    fl_batch_release(&b);
    assert_null(b);
    assert_int_equal(FL_COL(x, 0, uint64_t)[42], 1042);
    struct fl_span sp = FL_COL(x, 2, struct fl_span)[42];
    assert_memory_equal(fl_batch_bytes(x, sp), "row42", 5);
    int bad_map[] = { 0, -1, 2 };                    /* x's u64 bytes as s's u16 src_port */
    struct fl_batch *y = NULL;
    assert_int_equal(fl_batch_derive(ctx, x, s, bad_map, &y), -FL_EINVAL);
    assert_null(y);
    fl_batch_release(&x);
    fl_test_ctx_destroy(&ctx);
}

static void test_arena_copy_on_write(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(ctx, flow_cols, 3, sizeof(flow_cols[0]), &s), 0);
    struct fl_batch *b = filled(ctx, s, 3), *x;
    int map[] = { 0, 1, -1 };
    assert_int_equal(fl_batch_derive(ctx, b, s, map, &x), 0);
    const char *before = fl_batch_bytes(b, FL_COL(b, 2, struct fl_span)[1]);
    for (int i = 0; i < 1000; i++) {                 /* grow the derived arena a lot */
        struct fl_span sp;
        assert_int_equal(fl_batch_put_bytes(x, "0123456789", 10, &sp), 0);
    }
    /* The source's bytes did not move or change. */
    assert_ptr_equal(fl_batch_bytes(b, FL_COL(b, 2, struct fl_span)[1]), before);
    assert_memory_equal(before, "row1", 4);
    assert_memory_equal(fl_batch_bytes(x, FL_COL(b, 2, struct fl_span)[1]), "row1", 4);
    fl_batch_release(&b);
    fl_batch_release(&x);
    fl_test_ctx_destroy(&ctx);
}

static void test_filter_and_missing(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(ctx, flow_cols, 3, sizeof(flow_cols[0]), &s), 0);
    struct fl_batch *b = filled(ctx, s, 130), *f;
    assert_true(fl_batch_is_valid(b, 1, 64));
    assert_int_equal(fl_batch_set_missing(b, 1, 64), 0);
    assert_false(fl_batch_is_valid(b, 1, 64));
    assert_true(fl_batch_is_valid(b, 1, 63));
    assert_true(fl_batch_is_valid(b, 0, 64));        /* per column */
    uint64_t keep[3] = { 0 };
    for (uint32_t r = 0; r < 130; r += 2)            /* every even row: 65 */
        keep[r / 64] |= 1ull << (r % 64);
    assert_int_equal(fl_batch_filter(ctx, b, keep, &f), 0);
    assert_int_equal(f->rows, 65);
    for (uint32_t r = 0; r < 65; r++) {
        assert_int_equal(FL_COL(f, 0, uint16_t)[r], 2 * r);
        assert_int_equal(fl_batch_is_valid(f, 1, r), 2 * r != 64);
        struct fl_span sp = FL_COL(f, 2, struct fl_span)[r];
        char want[16];
        snprintf(want, sizeof(want), "row%u", 2 * r);
        assert_int_equal(sp.len, strlen(want));
        assert_memory_equal(fl_batch_bytes(f, sp), want, sp.len);
    }
    assert_int_equal(fl_batch_set_missing(b, 1, 130), -FL_ERANGE);
    fl_batch_release(&b);
    fl_batch_release(&f);
    fl_test_ctx_destroy(&ctx);
}

/* Marking a row missing in a derived batch must not touch the source, both
 * when the shared column has no bitmap yet and when it already has one; the
 * private copy keeps the cells and the source's earlier missing rows. */
static void test_missing_copy_on_write(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(ctx, flow_cols, 3, sizeof(flow_cols[0]), &s), 0);
    struct fl_batch *b = filled(ctx, s, 100), *x;
    assert_int_equal(fl_batch_set_missing(b, 1, 7), 0);   /* source has a bitmap in column 1 */
    int map[] = { 0, 1, 2 };
    assert_int_equal(fl_batch_derive(ctx, b, s, map, &x), 0);

    assert_int_equal(fl_batch_set_missing(x, 0, 3), 0);   /* no bitmap yet */
    assert_int_equal(fl_batch_set_missing(x, 1, 70), 0);  /* existing bitmap */
    assert_false(fl_batch_is_valid(x, 0, 3));
    assert_false(fl_batch_is_valid(x, 1, 70));
    assert_false(fl_batch_is_valid(x, 1, 7));             /* copied with the column */
    assert_true(fl_batch_is_valid(b, 0, 3));              /* the source is unchanged */
    assert_true(fl_batch_is_valid(b, 1, 70));
    assert_false(fl_batch_is_valid(b, 1, 7));
    assert_null(b->valid[0]);
    assert_ptr_not_equal(x->data[1], b->data[1]);         /* now private */
    assert_ptr_equal(x->data[2], b->data[2]);             /* untouched: still shared */
    for (uint32_t r = 0; r < 100; r++) {
        assert_int_equal(FL_COL(x, 0, uint16_t)[r], r);
        assert_int_equal(FL_COL(x, 1, uint64_t)[r], 1000u + r);
    }
    /* A second write to the now-private column does not copy again. */
    void *own = x->data[1];
    assert_int_equal(fl_batch_set_missing(x, 1, 71), 0);
    assert_ptr_equal(x->data[1], own);
    /* The source may now write its own (still shared with nobody) column. */
    fl_batch_release(&x);
    assert_int_equal(fl_batch_set_missing(b, 1, 70), 0);
    assert_false(fl_batch_is_valid(b, 1, 70));
    fl_batch_release(&b);
    fl_test_ctx_destroy(&ctx);
}

/* fl_batch_take_rows: the copy holds the rows, missing cells, time range
 * and strings; the source is empty and all valid, and refilling it
 * (strings included) leaves the copy as it was. Shared sources are
 * refused. */
static void test_take_rows(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    struct fl_batch *c, *d;
    assert_int_equal(fl_schema_intern(ctx, flow_cols, 3, sizeof(flow_cols[0]), &s), 0);
    struct fl_batch *b = filled(ctx, s, 100);
    assert_int_equal(fl_batch_set_missing(b, 1, 42), 0);
    assert_int_equal(fl_batch_take_rows(ctx, b, &c), 0);
    assert_ptr_not_equal(c, b);
    assert_int_equal(c->rows, 100);
    assert_int_equal(c->t_min, 5);
    assert_int_equal(c->t_max, 9);
    assert_int_equal(b->rows, 0);
    assert_int_equal(b->t_min, 0);
    assert_null(b->valid[1]);
    assert_false(fl_batch_is_valid(c, 1, 42));
    assert_true(fl_batch_is_valid(c, 1, 41));
    /* b is filled again: new strings, other values, all valid. */
    for (uint32_t r = 0; r < 100; r++) {
        FL_COL(b, 0, uint16_t)[r] = 7;
        FL_COL(b, 1, uint64_t)[r] = 0;
        assert_int_equal(fl_batch_put_bytes(b, "x-long-enough-to-grow-the-arena", 31,
                                            &FL_COL(b, 2, struct fl_span)[r]), 0);
    }
    b->rows = 100;
    assert_true(fl_batch_is_valid(b, 1, 42));
    for (uint32_t r = 0; r < 100; r++) {
        char text[16];
        int len = snprintf(text, sizeof(text), "row%u", r);
        struct fl_span sp = FL_COL(c, 2, struct fl_span)[r];
        assert_int_equal(FL_COL(c, 0, uint16_t)[r], r);
        if (r != 42)
            assert_int_equal(FL_COL(c, 1, uint64_t)[r], 1000u + r);
        assert_int_equal(sp.len, len);
        assert_memory_equal(fl_batch_bytes(c, sp), text, (size_t)len);
    }
    /* Shared: another reference, or a batch derived from it. */
    struct fl_batch *r = fl_batch_retain(b);
    assert_int_equal(fl_batch_take_rows(ctx, b, &d), -FL_EINVAL);
    fl_batch_release(&r);
    int map[3] = { 0, 1, 2 };
    assert_int_equal(fl_batch_derive(ctx, b, s, map, &d), 0);
    assert_int_equal(fl_batch_take_rows(ctx, b, &r), -FL_EINVAL);
    assert_int_equal(b->rows, 100);
    fl_batch_release(&d);
    fl_batch_release(&c);
    fl_batch_release(&b);
    fl_test_ctx_destroy(&ctx);
}

static void test_refcount(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(ctx, flow_cols, 3, sizeof(flow_cols[0]), &s), 0);
    struct fl_batch *b = filled(ctx, s, 4);
    struct fl_batch *r = fl_batch_retain(b);
    assert_ptr_equal(r, b);
    fl_batch_release(&r);                            /* one reference left */
    assert_int_equal(FL_COL(b, 1, uint64_t)[3], 1003);
    fl_batch_release(&b);                            /* ASan reports a leak or double free */
    fl_batch_release(&b);                            /* NULL: no-op */
    fl_test_ctx_destroy(&ctx);
}

/* A released batch comes back from fl_batch_new() (same schema and
 * capacity) as new: no rows, no arena, every column valid, times zero. */
static void test_recycle_resets(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(ctx, flow_cols, 3, sizeof(flow_cols[0]), &s), 0);
    struct fl_batch *b = filled(ctx, s, 100);
    b->seq = 7;
    assert_int_equal(fl_batch_set_missing(b, 1, 3), 0);
    struct fl_batch *old = b;
    fl_batch_release(&b);
    struct fl_batch *n;
    assert_int_equal(fl_batch_new(ctx, s, 100, &n), 0);
    assert_ptr_equal(n, old);                        /* recycled, not reallocated */
    assert_int_equal(n->rows, 0);
    assert_int_equal(n->cap, 100);
    assert_int_equal(n->seq, 0);
    assert_int_equal(n->t_min, 0);
    assert_int_equal(n->t_max, 0);
    for (uint32_t i = 0; i < 3; i++)
        assert_null(n->valid[i]);
    assert_true(fl_batch_is_valid(n, 1, 3));
    assert_string_equal(fl_batch_bytes(n, (struct fl_span){ 0, 0 }), "");
    struct fl_span sp;
    assert_int_equal(fl_batch_put_bytes(n, "x", 1, &sp), 0);
    assert_int_equal(sp.off, 0);                     /* a fresh arena */
    /* Another capacity is another batch. */
    struct fl_batch *m;
    assert_int_equal(fl_batch_new(ctx, s, 50, &m), 0);
    assert_ptr_not_equal(m, n);
    assert_int_equal(m->cap, 50);
    fl_batch_release(&m);
    fl_batch_release(&n);
    fl_test_ctx_destroy(&ctx);
}

/* A batch whose columns a derived batch still shares is not recycled: a
 * new batch written over must not change what the derived one reads. */
static void test_recycle_not_shared(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s, *d;
    struct fl_col_def dcols[] = { { "bytes", FL_T_U64 } };
    assert_int_equal(fl_schema_intern(ctx, flow_cols, 3, sizeof(flow_cols[0]), &s), 0);
    assert_int_equal(fl_schema_intern(ctx, dcols, 1, sizeof(dcols[0]), &d), 0);
    struct fl_batch *b = filled(ctx, s, 64), *db, *n[4];
    int map[] = { 1 };
    assert_int_equal(fl_batch_derive(ctx, b, d, map, &db), 0);
    fl_batch_release(&b);                            /* db keeps column 1 */
    for (int k = 0; k < 4; k++) {
        assert_int_equal(fl_batch_new(ctx, s, 64, &n[k]), 0);
        memset(n[k]->data[1], 0xff, 64 * sizeof(uint64_t));
    }
    for (uint32_t r = 0; r < 64; r++)
        assert_int_equal(FL_COL(db, 0, uint64_t)[r], 1000u + r);
    for (int k = 0; k < 4; k++)
        fl_batch_release(&n[k]);
    fl_batch_release(&db);
    fl_test_ctx_destroy(&ctx);
}

/* Batches may outlive the ctx that made them (a consumer still holds
 * them at teardown); the pool has more batches than it keeps. ASan
 * reports a leak, a double free or a use after free. */
static void test_recycle_outlives_ctx(void **st)
{
    struct fl_ctx *owner = fl_test_ctx_new();         /* holds the schema's runtime */
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(owner, flow_cols, 3, sizeof(flow_cols[0]), &s), 0);
    struct fl_batch *b[20];
    for (int k = 0; k < 20; k++)
        b[k] = filled(ctx, s, 16);
    for (int k = 0; k < 15; k++)                     /* more than the pool keeps */
        fl_batch_release(&b[k]);
    fl_test_ctx_destroy(&ctx);
    for (int k = 15; k < 20; k++) {
        assert_int_equal(FL_COL(b[k], 1, uint64_t)[15], 1015);
        fl_batch_release(&b[k]);
    }
    fl_test_ctx_destroy(&owner);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intern),
        cmocka_unit_test(test_derive_shares),
        cmocka_unit_test(test_arena_copy_on_write),
        cmocka_unit_test(test_filter_and_missing),
        cmocka_unit_test(test_missing_copy_on_write),
        cmocka_unit_test(test_take_rows),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_recycle_resets),
        cmocka_unit_test(test_recycle_not_shared),
        cmocka_unit_test(test_recycle_outlives_ctx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
