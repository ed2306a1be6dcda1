/* test_flowmeter_sampling.c: sampling_scale. Packets of the packet schema
 * plus a sampling_rate column (as input.sflow emits them) go through
 * aggregate.flowmeter: counts and sums are scaled by the flow's rate, the
 * records carry sampled_packets, sampled_bytes and sampling_rate; a flow
 * whose rate changed is scaled by its last one; packets without a rate
 * (0) are counted as seen. With sampling_scale: false, and on input
 * without the column, the records are the unscaled ones and the schema is
 * the usual one. */
#include <stdio.h>
#include <stdlib.h>
#include <flowline/decode.h>
#include "fl_harness.h"
#include "frame.h"

static struct fl_ctx *ctx;

/* One TCP packet of flow `port` (10.0.0.1:port -> 10.0.0.2:80), 100 bytes of IP. */
static void frame(struct fr *f, uint16_t port)
{
    memset(f, 0, sizeof *f);
    eth(f, 0x0800);
    ip4(f, 6, "10.0.0.1", "10.0.0.2");
    tcp(f, port, 80, 0x10, 0);
    payload(f, 60);
    fin(f);
}

/* The packet schema plus sampling_rate, and a batch of: flow 1000 at rate
 * 100 (3 packets), flow 2000 at rate 10 then 50 (2 packets), flow 3000
 * without a rate (1 packet). */
static struct fl_batch *packets(const struct fl_schema **schema)
{
    static const struct { uint16_t port; uint32_t rate; } seq[] = {
        { 1000, 100 }, { 2000, 10 }, { 1000, 100 }, { 3000, 0 }, { 2000, 50 }, { 1000, 100 },
    };
    const struct fl_schema *ps;
    struct fl_col_def cols[32];
    struct fl_decoder *d;
    struct fl_batch *b;

    assert_int_equal(fl_packet_schema(ctx, &ps), 0);
    for (uint32_t i = 0; i < ps->ncols; i++)
        cols[i] = (struct fl_col_def){ ps->cols[i]->name, ps->cols[i]->type };
    cols[ps->ncols] = (struct fl_col_def){ "sampling_rate", FL_T_U32 };
    assert_int_equal(fl_schema_intern(ctx, cols, ps->ncols + 1, sizeof cols[0], schema), 0);
    assert_int_equal(fl_decoder_new(NULL, 0, &d), 0);
    assert_int_equal(fl_batch_new(ctx, *schema, 64, &b), 0);
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        struct fr f;
        frame(&f, seq[i].port);
        assert_int_equal(fl_decode(d, FL_DLT_EN10MB, 1700000000000000000ull + i * 1000000ull,
                                   f.b, (uint32_t)f.n, (uint32_t)f.n, b), 1);
        FL_COL(b, ps->ncols, uint32_t)[b->rows - 1] = seq[i].rate;
    }
    fl_decoder_destroy(&d);
    return b;
}

static uint64_t u64(const struct fl_batch *b, const char *name, uint32_t r)
{
    int c = fl_schema_find(b->schema, name);
    assert_true(c >= 0);
    return FL_COL(b, c, uint64_t)[r];
}

static void test_scaled(void **state)
{
    const struct fl_schema *s;
    struct fl_batch *b = packets(&s);
    struct fl_harness *h = NULL;
    int seen = 0;
    (void)state;

    assert_int_equal(fl_harness_new("aggregate.flowmeter", "{}", s, &h), 0);
    assert_int_equal(fl_schema_find(fl_harness_out_schema(h), "sampling_rate"),
                     (int)fl_harness_out_schema(h)->ncols - 1);
    assert_int_equal(fl_harness_push(h, b), 0);
    assert_int_equal(fl_harness_drain(h), 0);
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        struct fl_batch *o = fl_harness_out(h, i);
        int cs = fl_schema_find(o->schema, "src_port"), cr = fl_schema_find(o->schema, "sampling_rate");
        for (uint32_t r = 0; r < o->rows; r++) {
            uint16_t port = FL_COL(o, cs, uint16_t)[r];
            uint64_t sp = u64(o, "sampled_packets", r), sb = u64(o, "sampled_bytes", r);
            uint64_t k = port == 1000 ? 100 : port == 2000 ? 50 : 1;   /* 2000: its last rate */
            assert_int_equal(sp, port == 1000 ? 3 : port == 2000 ? 2 : 1);
            assert_int_equal(sb, sp * 100);
            assert_int_equal(u64(o, "packets", r), sp * k);
            assert_int_equal(u64(o, "bytes", r), sb * k);
            assert_int_equal(u64(o, "fwd_packets", r), sp * k);
            assert_int_equal(u64(o, "payload_bytes", r), sp * 60 * k);
            if (port == 3000) {
                assert_false(fl_batch_is_valid(o, (uint32_t)cr, r));   /* no rate: missing */
            } else {
                assert_int_equal(FL_COL(o, cr, uint32_t)[r], k);
            }
            seen++;
        }
    }
    assert_int_equal(seen, 3);
    fl_harness_destroy(&h);

    /* sampling_scale: false: as seen, the usual columns */
    assert_int_equal(fl_harness_new("aggregate.flowmeter", "{sampling_scale: false}", s, &h), 0);
    assert_int_equal(fl_schema_find(fl_harness_out_schema(h), "sampled_packets"), -1);
    assert_int_equal(fl_harness_push(h, b), 0);
    assert_int_equal(fl_harness_drain(h), 0);
    uint64_t total = 0;
    for (size_t i = 0; i < fl_harness_n_out(h); i++)
        for (uint32_t r = 0; r < fl_harness_out(h, i)->rows; r++)
            total += u64(fl_harness_out(h, i), "packets", r);
    assert_int_equal(total, 6);
    fl_harness_destroy(&h);
    fl_batch_release(&b);

    /* packets without the column (pcap): the usual schema */
    assert_int_equal(fl_packet_schema(ctx, &s), 0);
    assert_int_equal(fl_harness_new("aggregate.flowmeter", "{}", s, &h), 0);
    assert_int_equal(fl_schema_find(fl_harness_out_schema(h), "sampled_packets"), -1);
    fl_harness_destroy(&h);
}

static int setup(void **state)
{
    (void)state;
    ctx = fl_test_ctx_new();
    return ctx ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fl_test_ctx_destroy(&ctx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scaled),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
