/* test_decode_tunnel.c: decapsulation (decode_tunnel.c and decode_pkt.c's
 * decode_decap) on hand-built frames of every tunnel kind: the inner flow,
 * the tunnel and tunnel_id columns and the per-kind counters with decap on,
 * the outer flow with decap off; the decap options (kind list, ports,
 * nesting bound); header sanity on the UDP ports; every cut of every frame
 * from a buffer of exactly that size (a counted fallback to the outer flow,
 * never a read past caplen under ASan). Against tshark:
 * test_decode_tunnel_tshark.c. */
#include "tunnel_test.h"

/* ---- every kind ------------------------------------------------------------ */

static void test_kinds(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        const struct tcase *c = &cases[i];
        struct fl_decoder_opts off = { .tunnel_columns = true };
        struct t *t = t_decap(), *o = t_open(&off);
        struct fr f;
        struct mark m;
        c->build(&f, &m);
        done(&f, &m);
        print_message("%s\n", c->name);
        assert_int_equal(dec(t, &f), 1);
        last_inner(t, c);
        last_tunnel(t, fl_tunnel_kind_name(c->kind), c->has_id, c->id);
        assert_int_equal(tunnels(t, c->kind), 1);
        assert_int_equal(note(t, FL_NOTE_DECAP_FALLBACK), 0);
        /* the frame's wire length stays the outer frame's */
        assert_int_equal(LAST(t, FL_PKT_FRAME_LEN, uint32_t), f.n);
        /* decap off: the outer flow, no tunnel */
        assert_int_equal(dec(o, &f), 1);
        last_outer(o, c);
        last_tunnel(o, NULL, false, 0);
        assert_int_equal(tunnels(o, c->kind), 0);
        t_close(&t);
        t_close(&o);
    }
}

/* Every cut of every frame: before the tunnel header nothing new is
 * counted; inside the tunnel header or the inner packet up to its ports,
 * the outer flow with one decap_fallback; from there on, the inner flow. */
static void test_truncation(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        const struct tcase *c = &cases[i];
        struct t *t = t_decap();
        struct fr f;
        struct mark m;
        c->build(&f, &m);
        done(&f, &m);
        for (size_t cut = 0; cut <= f.n; cut++) {
            uint64_t fb = note(t, FL_NOTE_DECAP_FALLBACK), tn = tunnels(t, c->kind);
            uint32_t rows = t->b->rows;
            int rc = dec_cut(t, &f, cut);
            if (cut < m.th) {
                assert_int_equal(note(t, FL_NOTE_DECAP_FALLBACK), fb);
                assert_int_equal(tunnels(t, c->kind), tn);
                continue;
            }
            if (rc != 1)
                fail_msg("%s cut at %zu: no row", c->name, cut);
            assert_int_equal(t->b->rows, rows + 1);
            if (cut < m.il4) {
                last_outer(t, c);
                last_tunnel(t, NULL, false, 0);
                if (note(t, FL_NOTE_DECAP_FALLBACK) != fb + 1)
                    fail_msg("%s cut at %zu: fallback not counted", c->name, cut);
            } else {
                last_inner(t, c);
                last_tunnel(t, fl_tunnel_kind_name(c->kind), c->has_id, c->id);
                assert_int_equal(note(t, FL_NOTE_DECAP_FALLBACK), fb);
                assert_int_equal(tunnels(t, c->kind), tn + 1);
            }
        }
        t_close(&t);
    }
}

/* ---- options ----------------------------------------------------------------- */

static void test_kind_list(void **state)
{
    (void)state;
    struct fl_decoder_opts o = { .decap = 1, .tunnel_columns = true,
                                 .decap_kinds = 1u << FL_TUN_VXLAN | 1u << FL_TUN_GRE };
    struct t *t = t_open(&o);
    for (size_t i = 0; i < NCASES; i++) {
        const struct tcase *c = &cases[i];
        struct fr f;
        struct mark m;
        c->build(&f, &m);
        done(&f, &m);
        assert_int_equal(dec(t, &f), 1);
        /* ERSPAN rides in GRE but is its own kind */
        if (c->kind == FL_TUN_VXLAN || c->kind == FL_TUN_GRE)
            last_inner(t, c);
        else
            last_outer(t, c);
    }
    assert_int_equal(note(t, FL_NOTE_DECAP_FALLBACK), 0);
    t_close(&t);
}

static void test_ports(void **state)
{
    (void)state;
    const struct fl_decap_port ports[] = { { 8472, FL_TUN_VXLAN }, { 2153, FL_TUN_GTP } };
    struct fl_decoder_opts o = { .decap = 1, .decap_ports = ports, .n_decap_ports = 2 };
    struct t *t = t_open(&o);
    struct fr f;
    struct mark m;
    const struct tcase *vx = &cases[0], *gtp = &cases[4];

    /* VXLAN on 8472 (Linux's old default) is opened, on 4789 no longer */
    b_vxlan(&f, &m);
    done(&f, &m);
    assert_int_equal(dec(t, &f), 1);
    last_outer(t, vx);
    f.b[m.th - 6] = 8472 >> 8;
    f.b[m.th - 5] = 8472 & 0xff;
    assert_int_equal(dec(t, &f), 1);
    last_inner(t, vx);
    /* GTP-U on 2153 as the source port only: replies come from it */
    b_gtp4(&f, &m);
    done(&f, &m);
    f.b[m.th - 8] = 2153 >> 8;
    f.b[m.th - 7] = 2153 & 0xff;
    f.b[m.th - 6] = 0x30;
    f.b[m.th - 5] = 0x39;
    assert_int_equal(dec(t, &f), 1);
    last_inner(t, gtp);
    /* a port for a kind carried in GRE or IP is refused */
    const struct fl_decap_port bad[] = { { 99, FL_TUN_GRE } };
    struct fl_decoder_opts ob = { .decap = 1, .decap_ports = bad, .n_decap_ports = 1 };
    struct fl_decoder *d;
    assert_int_equal(fl_decoder_new(&ob, sizeof ob, &d), -FL_EINVAL);
    /* 64 ports in all: 63 given ones and 5 standard ones are too many */
    struct fl_decap_port many[63];
    for (int i = 0; i < 63; i++)
        many[i] = (struct fl_decap_port){ (uint16_t)(10000 + i), FL_TUN_VXLAN };
    ob.decap_ports = many;
    ob.n_decap_ports = 63;
    assert_int_equal(fl_decoder_new(&ob, sizeof ob, &d), -FL_ERANGE);
    ob.n_decap_ports = 59;
    assert_int_equal(fl_decoder_new(&ob, sizeof ob, &d), 0);
    fl_decoder_destroy(&d);
    ob.decap_depth = 17;
    ob.n_decap_ports = 0;
    assert_int_equal(fl_decoder_new(&ob, sizeof ob, &d), -FL_ERANGE);
    t_close(&t);
}

/* VXLAN in GRE in VXLAN: depth 3 reaches the innermost; depth 2 stops at
 * the GRE's inner packet (the third tunnel counted as a fallback). */
static void nested(struct fr *f, struct mark *m)
{
    outer_udp(f, m, 40000, 4789);
    put8(f, 0x08);
    zeros(f, 3);
    put24(f, 1);
    put8(f, 0);
    eth(f, 0x0800);
    ip4(f, 47, "172.16.0.1", "172.16.0.2");
    put16(f, 0x2000);
    put16(f, 0x0800);
    put32(f, 2);
    ip4(f, 17, "172.17.0.1", "172.17.0.2");
    udp(f, 40000, 4789);
    put8(f, 0x08);
    zeros(f, 3);
    put24(f, 3);
    put8(f, 0);
    eth(f, 0x0800);
    inner4(f, m);
}

static void test_depth(void **state)
{
    (void)state;
    struct fr f;
    struct mark m;
    nested(&f, &m);
    done(&f, &m);
    for (uint32_t depth = 0; depth <= 3; depth++) {
        struct fl_decoder_opts o = { .decap = 1, .decap_depth = depth, .tunnel_columns = true };
        struct t *t = t_open(&o);
        assert_int_equal(dec(t, &f), 1);
        /* the outermost tunnel is the column, whatever the depth */
        last_tunnel(t, "vxlan", true, 1);
        if (depth == 0 || depth == 3) {     /* 0: the default, 4 */
            last_inner(t, &cases[0]);
            assert_int_equal(note(t, FL_NOTE_DECAP_FALLBACK), 0);
            assert_int_equal(tunnels(t, FL_TUN_VXLAN), 1);
            assert_int_equal(tunnels(t, FL_TUN_GRE), 1);
        } else {
            addr_is(&LAST(t, FL_PKT_SRC_ADDR, struct fl_addr),
                    depth == 1 ? "172.16.0.1" : "172.17.0.1");
            assert_int_equal(note(t, FL_NOTE_DECAP_FALLBACK), 1);
            assert_int_equal(tunnels(t, FL_TUN_GRE), depth == 2);
        }
        t_close(&t);
    }
}

/* A UDP packet on a tunnel's port whose header is not that tunnel's is the
 * outer flow, not a fallback; so is a GTP-U message that carries no packet. */
static void test_sanity(void **state)
{
    (void)state;
    struct t *t = t_decap();
    struct fr f;
    struct mark m;
    const struct tcase *c = &cases[0];

    b_gtp4(&f, &m);
    done(&f, &m);
    f.b[m.th] = 0x50;           /* version 2 (GTPv2-C) */
    assert_int_equal(dec(t, &f), 1);
    last_outer(t, c);
    f.b[m.th] = 0x20;           /* GTP' (protocol type 0) */
    assert_int_equal(dec(t, &f), 1);
    last_outer(t, c);
    f.b[m.th] = 0x30;
    f.b[m.th + 1] = 1;          /* echo request */
    assert_int_equal(dec(t, &f), 1);
    last_outer(t, c);
    f.b[m.th + 1] = 255;
    f.b[m.th + 2] = 0x7f;       /* a length past the datagram */
    assert_int_equal(dec(t, &f), 1);
    last_outer(t, c);
    b_vxlan(&f, &m);
    done(&f, &m);
    f.b[m.th] = 0;              /* no I flag */
    assert_int_equal(dec(t, &f), 1);
    last_outer(t, c);
    b_teredo_plain(&f, &m);
    done(&f, &m);
    f.b[m.th] = 0x45;           /* not IPv6 */
    assert_int_equal(dec(t, &f), 1);
    last_outer(t, c);
    b_teredo_plain(&f, &m);
    fin(&f);
    f.b[m.th + 5]++;            /* IPv6 length not the datagram's */
    assert_int_equal(dec(t, &f), 1);
    last_outer(t, c);
    b_ayiya(&f, &m);
    done(&f, &m);
    f.b[m.th + 2] = 0x22;       /* opcode 2: echo request */
    assert_int_equal(dec(t, &f), 1);
    last_outer(t, c);
    b_geneve_ip(&f, &m);
    done(&f, &m);
    f.b[m.th] = 0x40;           /* version 1 */
    assert_int_equal(dec(t, &f), 1);
    last_outer(t, c);
    assert_int_equal(note(t, FL_NOTE_DECAP_FALLBACK), 0);
    /* a GTP-U packet that is there but not IP: a fallback */
    b_gtp4(&f, &m);
    done(&f, &m);
    f.b[m.th + 8] = 0x15;
    assert_int_equal(dec(t, &f), 1);
    last_outer(t, c);
    assert_int_equal(note(t, FL_NOTE_DECAP_FALLBACK), 1);
    t_close(&t);
}

/* The tunnel column: one arena copy of each kind's name per batch; rows
 * without a tunnel are missing in both columns; the counters reach the
 * stage counters as decap_<kind>. */
static void test_columns(void **state)
{
    (void)state;
    struct t *t = t_decap();
    struct fr f, plain;
    struct mark m;
    b_vxlan(&f, &m);
    done(&f, &m);
    memset(&plain, 0, sizeof plain);
    eth(&plain, 0x0800);
    ip4(&plain, 6, "10.1.1.1", "10.1.1.2");
    tcp(&plain, 1, 2, 0x10, 0);
    fin(&plain);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(dec(t, &f), 1);
        assert_int_equal(dec(t, &plain), 1);
        last_tunnel(t, NULL, false, 0);
    }
    const struct fl_span *s = FL_COL(t->b, FL_PKT_TUNNEL, struct fl_span);
    for (int r = 2; r < 20; r += 2)
        assert_int_equal(s[r].off, s[0].off);
    /* a new batch at row 0 gets its own copy */
    struct fl_batch *b2;
    assert_int_equal(fl_batch_new(ctx, t->b->schema, 16, &b2), 0);
    assert_int_equal(fl_decode(t->d, FL_DLT_EN10MB, 1, f.b, (uint32_t)f.n, (uint32_t)f.n, b2), 1);
    assert_memory_equal(fl_batch_bytes(b2, FL_COL(b2, FL_PKT_TUNNEL, struct fl_span)[0]), "vxlan", 5);
    fl_batch_release(&b2);
    /* Regression (found by fuzz_decode): batches are recycled, so a new
     * batch may have the old one's address; when its row 0 came from
     * elsewhere, the spans cached for the old batch must not be reused. */
    for (int round = 0; round < 4; round++) {
        struct fl_decoder_opts po = { .tunnel_columns = true };
        struct fl_decoder *pd;
        const struct fl_schema *sc = t->b->schema;
        assert_int_equal(fl_batch_new(ctx, sc, 16, &b2), 0);
        assert_int_equal(fl_decode(t->d, FL_DLT_EN10MB, 1, f.b, (uint32_t)f.n, (uint32_t)f.n, b2), 1);
        assert_int_equal(fl_decode(t->d, FL_DLT_EN10MB, 1, f.b, (uint32_t)f.n, (uint32_t)f.n, b2), 1);
        fl_batch_release(&b2);
        assert_int_equal(fl_batch_new(ctx, sc, 16, &b2), 0);
        assert_int_equal(fl_decoder_new(&po, sizeof po, &pd), 0);
        assert_int_equal(fl_decode(pd, FL_DLT_EN10MB, 1, plain.b, (uint32_t)plain.n,
                                   (uint32_t)plain.n, b2), 1);
        assert_int_equal(fl_decode(pd, FL_DLT_EN10MB, 1, plain.b, (uint32_t)plain.n,
                                   (uint32_t)plain.n, b2), 1);
        assert_int_equal(fl_decode(t->d, FL_DLT_EN10MB, 1, f.b, (uint32_t)f.n, (uint32_t)f.n, b2), 1);
        struct fl_span sp = FL_COL(b2, FL_PKT_TUNNEL, struct fl_span)[2];
        assert_int_equal(sp.len, 5);
        assert_memory_equal(fl_batch_bytes(b2, sp), "vxlan", 5);
        fl_decoder_destroy(&pd);
        fl_batch_release(&b2);
    }
    assert_int_equal(tunnels(t, FL_TUN_VXLAN), 23);
    assert_int_equal(fl_tunnel_kind_from_name("gre_udp", 7), FL_TUN_GRE_UDP);
    assert_int_equal(fl_tunnel_kind_from_name("gre", 3), FL_TUN_GRE);
    assert_int_equal(fl_tunnel_kind_from_name("gr", 2), FL_TUN_NONE);
    assert_null(fl_tunnel_kind_name(FL_TUN_NONE));
    assert_null(fl_tunnel_kind_name(FL_TUN_COUNT));
    t_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_kind_list),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_sanity),
        cmocka_unit_test(test_columns),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
