/* test_flowmeter_carry.c: white box. The hot flow record keeps the low
 * 32 bits of the packet counters and the low 64 bits of the sums of
 * squares; a wrap carries into the cold record. Reaching a wrap through
 * real traffic takes 2^32 packets, so this test starts a flow's counters
 * just below the wrap and checks the full values after it (the emitted
 * row and the 128-bit sums). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>
#include "fl_harness.h"
#include "../flowmeter.c"

#define SEC 1000000000ull

static uint64_t col_u64(const struct flowmeter *fm, const char *name, uint32_t row)
{
    int c = fl_schema_find(fm->out_schema, name);
    assert_true(c >= 0);
    return FL_COL(fm->out, (uint32_t)c, uint64_t)[row];
}

static void test_carry(void **st)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct flowmeter *fm = calloc(1, sizeof(*fm));
    assert_non_null(fm);
    fm->idle = 60 * SEC;
    fm->active = 300 * SEC;
    fm->linger = SEC;
    fm->max_flows = 64;
    fm->batch_size = 64;
    fm->flush_interval = 60 * SEC;
    assert_int_equal(flowmeter_out_schema(ctx, fm, &fm->out_schema), 0);
    flowmeter_conn_init(fm);
    assert_int_equal(flowmeter_table_init(fm), 0);
    flowmeter_table_start(fm, SEC);

    struct fl_addr a = { .b = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 } };
    struct fl_addr b = { .b = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 2 } };
    struct flowmeter_pkt fwd = { .ts = SEC, .h = 0x123456789abcdef1ull, .src = &a, .dst = &b,
                                 .sport = 1000, .dport = 53, .proto = 17, .ipv = 4,
                                 .iplen = 60000, .paylen = 0 };
    struct flowmeter_pkt rev = fwd;
    rev.src = &b;
    rev.dst = &a;
    rev.sport = 53;
    rev.dport = 1000;
    rev.paylen = 59000;
    assert_int_equal(flowmeter_packet(fm, ctx, &fwd, FLOWMETER_NIL), 0);
    assert_int_equal(fm->n_flows, 1);
    uint32_t idx = 0;
    struct flowmeter_flow *f = &fm->pool[idx];
    struct flowmeter_cold *c = &fm->cold[idx];
    /* As if 2^32 - 2 packets each way had been counted, 2^32 - 2 without
     * payload, and the sums of squares were 2^64 - 1000. */
    f->fwd_pkts_lo = f->rev_pkts_lo = f->nopay_lo = UINT32_MAX - 1;
    f->ps_sq_lo = f->pay_sq_lo = UINT64_MAX - 999;
    f->state |= FLOWMETER_REV;
    for (int i = 0; i < 3; i++) {
        fwd.ts = rev.ts = SEC + (uint64_t)i + 1;
        assert_int_equal(flowmeter_packet(fm, ctx, &fwd, FLOWMETER_NIL), 0);
        assert_int_equal(flowmeter_packet(fm, ctx, &rev, FLOWMETER_NIL), 0);
    }
    assert_int_equal(fm->n_flows, 1);
    uint64_t four_g = 1ull << 32;
    assert_int_equal(flowmeter_fwd_pkts(f, c), four_g + 1);
    assert_int_equal(flowmeter_rev_pkts(f, c), four_g + 1);
    /* sums of squares: 2^64 - 1000 + 6 * 60000^2 and + 3 * 59000^2 */
    flowmeter_u128 ps = (flowmeter_u128)c->ps_sq_hi << 64 | f->ps_sq_lo;
    flowmeter_u128 pay = (flowmeter_u128)c->pay_sq_hi << 64 | f->pay_sq_lo;
    flowmeter_u128 base = (flowmeter_u128)UINT64_MAX - 999;
    assert_true(ps == base + 6ull * 60000 * 60000);
    assert_true(pay == base + 3ull * 59000 * 59000);
    assert_int_equal(c->ps_sq_hi, 1);

    assert_int_equal(flowmeter_expire_all(fm, ctx), 0);
    assert_non_null(fm->out);
    assert_int_equal(fm->out->rows, 1);
    assert_int_equal(col_u64(fm, "fwd_packets", 0), four_g + 1);
    assert_int_equal(col_u64(fm, "rev_packets", 0), four_g + 1);
    assert_int_equal(col_u64(fm, "packets", 0), 2 * four_g + 2);
    assert_int_equal(col_u64(fm, "nopay", 0), four_g + 1);   /* the 3 forward ones */

    fl_batch_release(&fm->out);
    flowmeter_table_fini(fm);
    free(fm);
    fl_test_ctx_destroy(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_carry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
