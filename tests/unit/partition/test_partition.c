/* test_partition.c: how workers: N splits a batch (partition.c): every row
 * reaches exactly one worker, a key's rows all the same one and in the
 * producer's order, values, missing cells and strings survive the copy, a
 * src_x/dst_x pair hashes the same both ways, and the cheap cases (all rows
 * to one worker, round robin) hand the batch on without copying. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "fl_harness.h"
#include "partition.h"

static const struct fl_col_def cols[] = {
    { "flow_hash", FL_T_U64 }, { "src_port", FL_T_U16 }, { "dst_port", FL_T_U16 },
    { "bytes", FL_T_U64 }, { "end_reason", FL_T_STR }, { "proto", FL_T_U8 },
};
enum { C_HASH, C_SPORT, C_DPORT, C_BYTES, C_STR, C_PROTO, NCOLS };
#define ROWS 1000u

/* Row r: key r % 37 (flow_hash and the ports), bytes = r (missing when
 * r % 10 == 3), end_reason "row<r>", proto 6. */
static struct fl_batch *filled(struct fl_ctx *ctx, const struct fl_schema *s, bool swap_odd)
{
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(ctx, s, ROWS + 24, &b), 0);
    for (uint32_t r = 0; r < ROWS; r++) {
        uint16_t a = (uint16_t)(1000 + r % 37), z = (uint16_t)(80 + r % 5);
        FL_COL(b, C_HASH, uint64_t)[r] = 0x1234567ull * (r % 37);
        FL_COL(b, C_SPORT, uint16_t)[r] = swap_odd && r % 2 ? z : a;
        FL_COL(b, C_DPORT, uint16_t)[r] = swap_odd && r % 2 ? a : z;
        FL_COL(b, C_BYTES, uint64_t)[r] = r;
        if (r % 10 == 3)
            assert_int_equal(fl_batch_set_missing(b, C_BYTES, r), 0);
        char text[16];
        int len = snprintf(text, sizeof(text), "row%u", r);
        assert_int_equal(fl_batch_put_bytes(b, text, (uint32_t)len, &FL_COL(b, C_STR, struct fl_span)[r]), 0);
        FL_COL(b, C_PROTO, uint8_t)[r] = 6;
    }
    b->rows = ROWS;
    b->seq = 77;
    b->t_min = 5;
    b->t_max = 9;
    return b;
}

static const struct fl_schema *schema(struct fl_ctx *ctx)
{
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(ctx, cols, NCOLS, sizeof(cols[0]), &s), 0);
    return s;
}

/* Every row in exactly one sub-batch, intact, in order; worker_of[key]. */
static void check_split(struct fl_batch **sub, uint32_t n, int *worker_of, bool by_port_pair)
{
    uint32_t total = 0;
    for (uint32_t w = 0; w < n; w++) {
        struct fl_batch *x = sub[w];
        if (!x)
            continue;
        assert_int_equal(x->seq, 77);
        assert_int_equal(x->t_min, 5);
        assert_int_equal(x->t_max, 9);
        int64_t last = -1;
        for (uint32_t k = 0; k < x->rows; k++) {
            struct fl_span sp = FL_COL(x, C_STR, struct fl_span)[k];
            uint32_t r;
            char text[16];
            assert_int_equal(sscanf(fl_batch_bytes(x, sp), "row%u", &r), 1);
            assert_true((int64_t)r > last);                   /* producer's order */
            last = r;
            snprintf(text, sizeof(text), "row%u", r);
            assert_int_equal(sp.len, strlen(text));
            assert_int_equal(fl_batch_is_valid(x, C_BYTES, k), r % 10 != 3);
            if (r % 10 != 3)
                assert_int_equal(FL_COL(x, C_BYTES, uint64_t)[k], r);
            assert_int_equal(FL_COL(x, C_HASH, uint64_t)[k], 0x1234567ull * (r % 37));
            uint16_t sport = FL_COL(x, C_SPORT, uint16_t)[k], dport = FL_COL(x, C_DPORT, uint16_t)[k];
            int key = by_port_pair ? (sport > dport ? sport : dport) * 100 + (sport > dport ? dport : sport)
                                   : (int)(r % 37);
            assert_true(key < 200000);
            if (worker_of[key] < 0)
                worker_of[key] = (int)w;
            assert_int_equal(worker_of[key], (int)w);         /* a key meets one worker */
        }
        total += x->rows;
    }
    assert_int_equal(total, ROWS);
}

static void test_split_by_flow_hash(void **state)
{
    (void)state;
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct fl_part part = { .mode = FL_PART_HASH, .n_keys = 1, .keys = { "flow_hash" } };
    struct fl_outlet o = { .n = 3, .part = &part };
    struct fl_batch *b = filled(ctx, schema(ctx), false), *sub[3];
    static int worker_of[200000];
    memset(worker_of, -1, sizeof(worker_of));
    for (int round = 0; round < 2; round++) {       /* the second reuses the resolved schema */
        assert_int_equal(fl_outlet_split(ctx, &o, b, sub), 0);
        uint32_t used = 0;
        for (uint32_t w = 0; w < 3; w++) {
            used += sub[w] != NULL;
            assert_ptr_not_equal(sub[w], b);
        }
        assert_int_equal(used, 3);                     /* 37 keys spread over 3 workers */
        check_split(sub, 3, worker_of, false);
        for (uint32_t w = 0; w < 3; w++)
            fl_batch_release(&sub[w]);
    }
    /* A batch with one missing flow_hash: every other row still meets the
     * worker its key met before (the key decides, not the bitmap). */
    struct fl_batch *m = filled(ctx, schema(ctx), false);
    assert_int_equal(fl_batch_set_missing(m, C_HASH, 998), 0);
    assert_int_equal(fl_outlet_split(ctx, &o, m, sub), 0);
    uint32_t seen = 0;
    for (uint32_t w = 0; w < 3; w++) {
        for (uint32_t k = 0; sub[w] && k < sub[w]->rows; k++) {
            uint32_t r;
            assert_int_equal(sscanf(fl_batch_bytes(sub[w], FL_COL(sub[w], C_STR, struct fl_span)[k]),
                                    "row%u", &r), 1);
            seen++;
            if (r != 998)
                assert_int_equal(worker_of[r % 37], (int)w);
        }
        fl_batch_release(&sub[w]);
    }
    assert_int_equal(seen, ROWS);
    fl_batch_release(&m);
    fl_batch_release(&b);
    fl_outlet_fini(&o);
    fl_test_ctx_destroy(&ctx);
}

/* partition_by: [src_port, dst_port]: both directions of a pair meet. */
static void test_pair_is_symmetric(void **state)
{
    (void)state;
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct fl_part part = { .mode = FL_PART_HASH, .n_keys = 2, .keys = { "src_port", "dst_port" } };
    struct fl_outlet o = { .n = 4, .part = &part };
    struct fl_batch *b = filled(ctx, schema(ctx), true), *sub[4];
    static int worker_of[200000];
    memset(worker_of, -1, sizeof(worker_of));
    assert_int_equal(fl_outlet_split(ctx, &o, b, sub), 0);
    check_split(sub, 4, worker_of, true);
    for (uint32_t w = 0; w < 4; w++)
        fl_batch_release(&sub[w]);
    /* Without the pair (dst_port alone), one direction's key is not the other's. */
    struct fl_part one = { .mode = FL_PART_HASH, .n_keys = 1, .keys = { "dst_port" } };
    struct fl_outlet p = { .n = 4, .part = &one };
    memset(worker_of, -1, sizeof(worker_of));
    assert_int_equal(fl_outlet_split(ctx, &p, b, sub), 0);
    bool split_apart = false;
    for (uint32_t w = 0; w < 4; w++)
        for (uint32_t k = 0; sub[w] && k < sub[w]->rows; k++) {
            uint16_t s = FL_COL(sub[w], C_SPORT, uint16_t)[k], d = FL_COL(sub[w], C_DPORT, uint16_t)[k];
            int key = (s > d ? s : d) * 100 + (s > d ? d : s);
            if (worker_of[key] >= 0 && worker_of[key] != (int)w)
                split_apart = true;
            worker_of[key] = (int)w;
        }
    assert_true(split_apart);
    for (uint32_t w = 0; w < 4; w++)
        fl_batch_release(&sub[w]);
    fl_batch_release(&b);
    fl_outlet_fini(&o);
    fl_outlet_fini(&p);
    fl_test_ctx_destroy(&ctx);
}

/* One key for every row (or a key field the schema lacks): the batch
 * itself goes to one worker, no copy; the others get nothing. */
static void test_one_worker_no_copy(void **state)
{
    (void)state;
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct fl_part part = { .mode = FL_PART_HASH, .n_keys = 1, .keys = { "proto" } };
    struct fl_part absent = { .mode = FL_PART_HASH, .n_keys = 1, .keys = { "vlan" } };
    struct fl_outlet o = { .n = 2, .part = &part }, q = { .n = 2, .part = &absent };
    struct fl_batch *b = filled(ctx, schema(ctx), false), *sub[2];
    struct fl_outlet *os[] = { &o, &q };
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fl_outlet_split(ctx, os[i], b, sub), 0);
        assert_true((sub[0] == b) != (sub[1] == b));
        assert_true(sub[0] == NULL || sub[1] == NULL);
        fl_batch_release(sub[0] ? &sub[0] : &sub[1]);
        fl_outlet_fini(os[i]);
    }
    fl_batch_release(&b);
    fl_test_ctx_destroy(&ctx);
}

static void test_round_robin(void **state)
{
    (void)state;
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct fl_part part = { .mode = FL_PART_ROUND_ROBIN };
    struct fl_outlet o = { .n = 3, .part = &part };
    struct fl_batch *b = filled(ctx, schema(ctx), false), *sub[3];
    for (uint32_t i = 0; i < 7; i++) {
        assert_int_equal(fl_outlet_split(ctx, &o, b, sub), 0);
        for (uint32_t w = 0; w < 3; w++)
            assert_ptr_equal(sub[w], w == i % 3 ? b : NULL);
        fl_batch_release(&sub[i % 3]);
    }
    fl_batch_release(&b);
    fl_outlet_fini(&o);
    fl_test_ctx_destroy(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_by_flow_hash),
        cmocka_unit_test(test_pair_is_symmetric),
        cmocka_unit_test(test_one_worker_no_copy),
        cmocka_unit_test(test_round_robin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
