/* test_flowmeter_tunnel.c: key_tunnel. Frames of two VXLAN tenants whose
 * inner packets have the same 5-tuple, and the same packet untunnelled,
 * go through the real decoder (decap, tunnel columns) into
 * aggregate.flowmeter: with key_tunnel they are three flows carrying their
 * tunnel and tunnel_id, without it one. An input without the tunnel columns
 * is refused at describe time. */
#include <stdio.h>
#include <stdlib.h>
#include <flowline/decode.h>
#include "fl_harness.h"
#include "frame.h"

static struct fl_ctx *ctx;

/* Inner TCP 192.168.1.1:1111 <-> 192.168.1.2:2222 (rev: the reply), in
 * VXLAN with vni (0: no tunnel). */
static void frame(struct fr *f, uint32_t vni, bool rev)
{
    memset(f, 0, sizeof *f);
    eth(f, 0x0800);
    if (vni) {
        ip4(f, 17, "10.0.0.1", "10.0.0.2");
        udp(f, 40000 + vni, 4789);
        put8(f, 0x08);
        zeros(f, 3);
        put8(f, vni >> 16);
        put16(f, vni & 0xffff);
        put8(f, 0);
        eth(f, 0x0800);
    }
    ip4(f, 6, rev ? "192.168.1.2" : "192.168.1.1", rev ? "192.168.1.1" : "192.168.1.2");
    tcp(f, rev ? 2222 : 1111, rev ? 1111 : 2222, 0x10, 0);
    payload(f, 20);
    fin(f);
}

/* The packets through the decoder into one batch. */
static struct fl_batch *packets(const struct fl_schema **schema)
{
    struct fl_decoder_opts o = { .decap = 1, .tunnel_columns = true };
    static const struct { uint32_t vni; bool rev; } seq[] = {
        { 100, false }, { 200, false }, { 100, true }, { 0, false }, { 200, false },
        { 100, false }, { 200, true }, { 100, true },
    };
    struct fl_decoder *d;
    struct fl_batch *b;
    assert_int_equal(fl_decoder_new(&o, sizeof o, &d), 0);
    assert_int_equal(fl_decoder_schema(ctx, &o, sizeof o, schema), 0);
    assert_int_equal(fl_batch_new(ctx, *schema, 64, &b), 0);
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        struct fr f;
        frame(&f, seq[i].vni, seq[i].rev);
        assert_int_equal(fl_decode(d, FL_DLT_EN10MB, 1700000000000000000ull + i * 1000000ull,
                                   f.b, (uint32_t)f.n, (uint32_t)f.n, b), 1);
    }
    fl_decoder_destroy(&d);
    return b;
}

struct rec { char tunnel[16]; bool has_id; uint32_t id; uint64_t packets, fwd, rev; };

static size_t records(struct fl_harness *h, struct rec *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        struct fl_batch *b = fl_harness_out(h, i);
        int ct = fl_schema_find(b->schema, "tunnel"), ci = fl_schema_find(b->schema, "tunnel_id");
        int cp = fl_schema_find(b->schema, "packets"), cf = fl_schema_find(b->schema, "fwd_packets");
        int cr = fl_schema_find(b->schema, "rev_packets");
        for (uint32_t r = 0; r < b->rows && n < max; r++, n++) {
            struct rec *x = &out[n];
            memset(x, 0, sizeof *x);
            if (ct >= 0 && fl_batch_is_valid(b, (uint32_t)ct, r)) {
                struct fl_span s = FL_COL(b, ct, struct fl_span)[r];
                snprintf(x->tunnel, sizeof x->tunnel, "%.*s", (int)s.len, fl_batch_bytes(b, s));
            }
            if (ci >= 0 && fl_batch_is_valid(b, (uint32_t)ci, r)) {
                x->has_id = true;
                x->id = FL_COL(b, ci, uint32_t)[r];
            }
            x->packets = FL_COL(b, cp, uint64_t)[r];
            x->fwd = FL_COL(b, cf, uint64_t)[r];
            x->rev = FL_COL(b, cr, uint64_t)[r];
        }
    }
    return n;
}

static void test_key_tunnel(void **state)
{
    const struct fl_schema *s;
    struct fl_batch *b;
    struct fl_harness *h = NULL;
    struct rec r[8];
    bool seen100 = false, seen200 = false, seen_none = false;
    (void)state;

    b = packets(&s);
    assert_int_equal(fl_harness_new("aggregate.flowmeter", "{key_tunnel: true}", s, &h), 0);
    assert_int_equal(fl_schema_find(fl_harness_out_schema(h), "tunnel_id"),
                     (int)fl_harness_out_schema(h)->ncols - 1);
    assert_int_equal(fl_harness_push(h, b), 0);
    assert_int_equal(fl_harness_drain(h), 0);
    size_t n = records(h, r, 8);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        if (r[i].has_id && r[i].id == 100) {
            assert_string_equal(r[i].tunnel, "vxlan");
            assert_int_equal(r[i].fwd, 2);
            assert_int_equal(r[i].rev, 2);
            seen100 = true;
        } else if (r[i].has_id && r[i].id == 200) {
            assert_string_equal(r[i].tunnel, "vxlan");
            assert_int_equal(r[i].fwd, 2);
            assert_int_equal(r[i].rev, 1);
            seen200 = true;
        } else {
            assert_false(r[i].has_id);
            assert_string_equal(r[i].tunnel, "");
            assert_int_equal(r[i].packets, 1);
            seen_none = true;
        }
    }
    assert_true(seen100 && seen200 && seen_none);
    fl_harness_destroy(&h);

    /* without key_tunnel: one flow, and no tunnel columns */
    assert_int_equal(fl_harness_new("aggregate.flowmeter", "{key_tunnel: false}", s, &h), 0);
    assert_int_equal(fl_schema_find(fl_harness_out_schema(h), "tunnel"), -1);
    assert_int_equal(fl_harness_push(h, b), 0);
    assert_int_equal(fl_harness_drain(h), 0);
    n = records(h, r, 8);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].packets, 8);
    fl_harness_destroy(&h);
    fl_batch_release(&b);

    /* packets without the tunnel columns: refused */
    assert_int_equal(fl_packet_schema(ctx, &s), 0);
    assert_true(fl_harness_new("aggregate.flowmeter", "{key_tunnel: true}", s, &h) < 0);
    assert_null(h);
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
        cmocka_unit_test(test_key_tunnel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
