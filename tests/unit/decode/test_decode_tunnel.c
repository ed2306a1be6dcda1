/* test_decode_tunnel.c: decapsulation (decode_tunnel.c and decode_pkt.c's
 * decode_decap) on hand-built frames of every tunnel kind: the inner flow,
 * the tunnel and tunnel_id columns and the per-kind counters with decap on,
 * the outer flow with decap off; the decap options (kind list, ports,
 * nesting bound); header sanity on the UDP ports; every cut of every frame
 * from a buffer of exactly that size (a counted fallback to the outer flow,
 * never a read past caplen under ASan); and the same frames read by tshark,
 * whose innermost IP layer must be the row's. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <flowline/decode.h>
#include "fl_harness.h"
#include "frame.h"

/* Where a built frame's tunnel header starts, and where the inner packet's
 * transport header is complete (ports, TCP flags). */
struct mark {
    size_t th, il4;
    size_t gtp_len;     /* GTP-U: where its length field is (0 = none) */
};

/* The outer packet: Ethernet, IPv4 10.0.0.1 -> 10.0.0.2. */
static void outer_udp(struct fr *f, struct mark *m, unsigned sp, unsigned dp)
{
    memset(f, 0, sizeof *f);
    memset(m, 0, sizeof *m);
    eth(f, 0x0800);
    ip4(f, 17, "10.0.0.1", "10.0.0.2");
    udp(f, sp, dp);
    m->th = f->n;
}
static void outer_ip(struct fr *f, struct mark *m, unsigned proto)
{
    memset(f, 0, sizeof *f);
    memset(m, 0, sizeof *m);
    eth(f, 0x0800);
    ip4(f, proto, "10.0.0.1", "10.0.0.2");
    m->th = f->n;
}
/* Inner packets: IPv4 TCP 192.168.1.1:1111 -> 192.168.1.2:2222, or IPv6
 * UDP 2001:db8::1:3333 -> 2001:db8::2:4444. */
static void inner4(struct fr *f, struct mark *m)
{
    ip4(f, 6, "192.168.1.1", "192.168.1.2");
    tcp(f, 1111, 2222, 0x18, 0);
    m->il4 = f->n - 6;
    payload(f, 10);
}
static void inner6(struct fr *f, struct mark *m)
{
    ip6(f, 17, "2001:db8::1", "2001:db8::2");
    udp(f, 3333, 4444);
    m->il4 = f->n;
    payload(f, 12);
}
static void put24(struct fr *f, uint32_t v) { put8(f, v >> 16); put16(f, v & 0xffff); }
static void done(struct fr *f, struct mark *m)
{
    fin(f);
    if (m->gtp_len) {
        size_t n = f->n - (m->gtp_len - 2) - 8;
        f->b[m->gtp_len] = (uint8_t)(n >> 8);
        f->b[m->gtp_len + 1] = (uint8_t)n;
    }
}

static void b_vxlan(struct fr *f, struct mark *m)
{
    outer_udp(f, m, 40000, 4789);
    put8(f, 0x08);
    zeros(f, 3);
    put24(f, 5000);
    put8(f, 0);
    eth(f, 0x0800);
    inner4(f, m);
}
static void b_geneve(struct fr *f, struct mark *m)
{
    outer_udp(f, m, 40001, 6081);
    put8(f, 2);             /* version 0, 2 option words */
    put8(f, 0);
    put16(f, 0x6558);
    put24(f, 77);
    put8(f, 0);
    put16(f, 0x0104);       /* option class, type, length 1 word, data */
    put8(f, 0x01);
    put8(f, 0x01);
    put32(f, 0xdeadbeef);
    eth(f, 0x86dd);
    inner6(f, m);
}
static void b_geneve_ip(struct fr *f, struct mark *m)
{
    outer_udp(f, m, 40002, 6081);
    put8(f, 0);
    put8(f, 0);
    put16(f, 0x0800);
    put24(f, 78);
    put8(f, 0);
    inner4(f, m);
}
static void b_gtp(struct fr *f, struct mark *m)
{
    /* E flag, two extension headers (PDU session container, then one of
     * two words), inner IPv6. */
    outer_udp(f, m, 2152, 2152);
    put8(f, 0x34);
    put8(f, 255);
    m->gtp_len = f->n;
    put16(f, 0);
    put32(f, 0x1234abcd);
    put16(f, 7);            /* sequence number */
    put8(f, 0);             /* N-PDU number */
    put8(f, 0x85);          /* next extension header */
    put8(f, 1);
    put8(f, 0x10);
    put8(f, 0x09);
    put8(f, 0x40);
    put8(f, 2);
    zeros(f, 6);
    put8(f, 0);
    inner6(f, m);
}
static void b_gtp4(struct fr *f, struct mark *m)
{
    outer_udp(f, m, 2152, 2152);
    put8(f, 0x30);
    put8(f, 255);
    m->gtp_len = f->n;
    put16(f, 0);
    put32(f, 42);
    inner4(f, m);
}
static void b_gre(struct fr *f, struct mark *m)
{
    outer_ip(f, m, 47);
    put16(f, 0x2000);
    put16(f, 0x0800);
    put32(f, 4242);
    inner4(f, m);
}
static void b_erspan1(struct fr *f, struct mark *m)
{
    outer_ip(f, m, 47);
    put16(f, 0);
    put16(f, 0x88be);
    eth(f, 0x0800);
    inner4(f, m);
}
static void b_erspan2(struct fr *f, struct mark *m)
{
    outer_ip(f, m, 47);
    put16(f, 0x1000);
    put16(f, 0x88be);
    put32(f, 9);            /* sequence */
    put16(f, 0x1000 | 100); /* version 1, vlan 100 */
    put16(f, 0x0123);       /* cos, en, t, session 0x123 */
    put32(f, 5);            /* reserved, index */
    eth(f, 0x0800);
    inner4(f, m);
}
static void b_erspan3(struct fr *f, struct mark *m)
{
    outer_ip(f, m, 47);
    put16(f, 0x1000);
    put16(f, 0x22eb);
    put32(f, 10);
    put16(f, 0x2000 | 100); /* version 2, vlan 100 */
    put16(f, 0x02a5);       /* session 0x2a5 */
    put32(f, 123456);       /* timestamp */
    put16(f, 0);            /* SGT */
    put16(f, 0x0001);       /* P, FT, HW id, D, Gra, O = 1 */
    put32(f, 0x08000000);   /* platform-specific sub-header */
    put32(f, 0);
    eth(f, 0x86dd);
    inner6(f, m);
}
static void b_gre_udp(struct fr *f, struct mark *m)
{
    outer_udp(f, m, 40003, 4754);
    put16(f, 0x2000);
    put16(f, 0x86dd);
    put32(f, 99);
    inner6(f, m);
}
static void b_teredo(struct fr *f, struct mark *m)
{
    /* authentication indicator (client id 3, auth value 2), origin */
    outer_udp(f, m, 3544, 50000);
    put16(f, 0x0001);
    put8(f, 3);
    put8(f, 2);
    put(f, "abcde", 5);
    zeros(f, 8);            /* nonce */
    put8(f, 0);             /* confirmation */
    put16(f, 0x0000);
    put16(f, 0xffff ^ 50000);
    put32(f, 0xffffffff ^ 0x0a000001);
    inner6(f, m);
}
static void b_teredo_plain(struct fr *f, struct mark *m)
{
    outer_udp(f, m, 50001, 3544);
    inner6(f, m);
}
static void b_ayiya(struct fr *f, struct mark *m)
{
    outer_udp(f, m, 5072, 5072);
    put8(f, 0x41);          /* identity 2^4 = 16 bytes, type 1 */
    put8(f, 0x52);          /* signature 5 words, SHA-1 */
    put8(f, 0x21);          /* auth method 2, opcode 1 forward */
    put8(f, 41);
    put32(f, 1700000000);
    zeros(f, 16 + 20);
    inner6(f, m);
}
static void b_ipip(struct fr *f, struct mark *m)
{
    outer_ip(f, m, 4);
    inner4(f, m);
}
static void b_6in4(struct fr *f, struct mark *m)
{
    outer_ip(f, m, 41);
    inner6(f, m);
}

struct tcase {
    const char *name;
    void (*build)(struct fr *, struct mark *);
    int kind;
    bool has_id;
    uint32_t id;
    unsigned outer_proto;
    bool v6;                /* inner6 (else inner4) */
};

static const struct tcase cases[] = {
    { "vxlan", b_vxlan, FL_TUN_VXLAN, true, 5000, 17, false },
    { "geneve", b_geneve, FL_TUN_GENEVE, true, 77, 17, true },
    { "geneve-ip", b_geneve_ip, FL_TUN_GENEVE, true, 78, 17, false },
    { "gtp", b_gtp, FL_TUN_GTP, true, 0x1234abcd, 17, true },
    { "gtp4", b_gtp4, FL_TUN_GTP, true, 42, 17, false },
    { "gre", b_gre, FL_TUN_GRE, true, 4242, 47, false },
    { "erspan1", b_erspan1, FL_TUN_ERSPAN, false, 0, 47, false },
    { "erspan2", b_erspan2, FL_TUN_ERSPAN, true, 0x123, 47, false },
    { "erspan3", b_erspan3, FL_TUN_ERSPAN, true, 0x2a5, 47, true },
    { "gre_udp", b_gre_udp, FL_TUN_GRE_UDP, true, 99, 17, true },
    { "teredo", b_teredo, FL_TUN_TEREDO, false, 0, 17, true },
    { "teredo-plain", b_teredo_plain, FL_TUN_TEREDO, false, 0, 17, true },
    { "ayiya", b_ayiya, FL_TUN_AYIYA, false, 0, 17, true },
    { "ipip", b_ipip, FL_TUN_IPIP, false, 0, 4, false },
    { "6in4", b_6in4, FL_TUN_IPIP, false, 0, 41, true },
};
#define NCASES (sizeof cases / sizeof cases[0])

/* ---- fixture --------------------------------------------------------------- */

static struct fl_ctx *ctx;

struct t {
    struct fl_decoder *d;
    struct fl_batch *b;
};

static struct t *t_open(const struct fl_decoder_opts *o)
{
    struct t *t = calloc(1, sizeof *t);
    const struct fl_schema *s;
    assert_non_null(t);
    assert_int_equal(fl_decoder_new(o, sizeof *o, &t->d), 0);
    assert_int_equal(fl_decoder_schema(ctx, o, sizeof *o, &s), 0);
    assert_int_equal(s->ncols, FL_PKT_NCOLS + (o->tunnel_columns ? 2 : 0));
    assert_int_equal(fl_batch_new(ctx, s, 4096, &t->b), 0);
    return t;
}
static struct t *t_decap(void)
{
    struct fl_decoder_opts o = { .decap = 1, .tunnel_columns = true };
    return t_open(&o);
}
static void t_close(struct t **tp)
{
    fl_decoder_destroy(&(*tp)->d);
    fl_batch_release(&(*tp)->b);
    free(*tp);
    *tp = NULL;
}

static int setup_group(void **state)
{
    (void)state;
    ctx = fl_test_ctx_new();
    return ctx ? 0 : -1;
}
static int teardown_group(void **state)
{
    (void)state;
    fl_test_ctx_destroy(&ctx);
    return 0;
}

/* Decode the first caplen bytes of f from a buffer of exactly that size. */
static int dec_cut(struct t *t, const struct fr *f, size_t caplen)
{
    uint8_t *buf = malloc(caplen ? caplen : 1);
    int rc;
    assert_non_null(buf);
    memcpy(buf, f->b, caplen);
    rc = fl_decode(t->d, FL_DLT_EN10MB, 1000, buf, (uint32_t)caplen, (uint32_t)f->n, t->b);
    free(buf);
    return rc;
}
static int dec(struct t *t, const struct fr *f) { return dec_cut(t, f, f->n); }

static uint64_t note(const struct t *t, enum fl_decode_note n)
{
    uint64_t v[FL_NOTE_COUNT];
    fl_decoder_totals(t->d, NULL, v);
    return v[n];
}
static uint64_t tunnels(const struct t *t, int kind)
{
    uint64_t v[FL_TUN_COUNT];
    fl_decoder_tunnel_totals(t->d, v);
    return v[kind];
}

#define LAST(t, col, T) (FL_COL((t)->b, col, T)[(t)->b->rows - 1])

static void addr_is(const struct fl_addr *a, const char *text)
{
    struct fl_addr want;
    memset(&want, 0, sizeof want);
    if (strchr(text, ':')) {
        assert_int_equal(inet_pton(AF_INET6, text, want.b), 1);
    } else {
        want.b[10] = want.b[11] = 0xff;
        assert_int_equal(inet_pton(AF_INET, text, want.b + 12), 1);
    }
    if (memcmp(a, &want, sizeof want) != 0)
        fail_msg("address is not %s", text);
}

static void last_inner(struct t *t, const struct tcase *c)
{
    addr_is(&LAST(t, FL_PKT_SRC_ADDR, struct fl_addr), c->v6 ? "2001:db8::1" : "192.168.1.1");
    addr_is(&LAST(t, FL_PKT_DST_ADDR, struct fl_addr), c->v6 ? "2001:db8::2" : "192.168.1.2");
    assert_int_equal(LAST(t, FL_PKT_PROTO, uint8_t), c->v6 ? 17 : 6);
    assert_int_equal(LAST(t, FL_PKT_SRC_PORT, uint16_t), c->v6 ? 3333 : 1111);
    assert_int_equal(LAST(t, FL_PKT_DST_PORT, uint16_t), c->v6 ? 4444 : 2222);
    assert_int_equal(LAST(t, FL_PKT_IP_VERSION, uint8_t), c->v6 ? 6 : 4);
}
static void last_outer(struct t *t, const struct tcase *c)
{
    addr_is(&LAST(t, FL_PKT_SRC_ADDR, struct fl_addr), "10.0.0.1");
    addr_is(&LAST(t, FL_PKT_DST_ADDR, struct fl_addr), "10.0.0.2");
    assert_int_equal(LAST(t, FL_PKT_PROTO, uint8_t), c->outer_proto);
}
static void last_tunnel(struct t *t, const char *name, bool has_id, uint32_t id)
{
    uint32_t r = t->b->rows - 1;
    if (!name) {
        assert_false(fl_batch_is_valid(t->b, FL_PKT_TUNNEL, r));
        assert_false(fl_batch_is_valid(t->b, FL_PKT_TUNNEL_ID, r));
        return;
    }
    struct fl_span s = FL_COL(t->b, FL_PKT_TUNNEL, struct fl_span)[r];
    assert_true(fl_batch_is_valid(t->b, FL_PKT_TUNNEL, r));
    assert_int_equal(s.len, strlen(name));
    assert_memory_equal(fl_batch_bytes(t->b, s), name, s.len);
    assert_int_equal(fl_batch_is_valid(t->b, FL_PKT_TUNNEL_ID, r), has_id);
    if (has_id)
        assert_int_equal(FL_COL(t->b, FL_PKT_TUNNEL_ID, uint32_t)[r], id);
}

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

/* ---- against tshark ------------------------------------------------------------ */

static void put_le32(FILE *fp, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    fwrite(b, 1, 4, fp);
}

/* Every case into one capture; tshark's last IP addresses and ports of
 * each frame (-E occurrence=l: the innermost) must be the row's. */
static void test_vs_tshark(void **state)
{
    (void)state;
    char path[] = "/tmp/fl-tunnel-XXXXXX", cmd[512], line[512];
    int fd = mkstemp(path);
    FILE *fp, *p;
    struct t *t = t_decap();
    size_t row = 0;

    if (system("tshark -v >/dev/null 2>&1") != 0) {
        print_message("tshark not found: skipped\n");
        t_close(&t);
        return;
    }
    assert_true(fd >= 0);
    fp = fdopen(fd, "wb");
    assert_non_null(fp);
    put_le32(fp, 0xa1b2c3d4);
    put_le32(fp, 0x00040002);
    put_le32(fp, 0);
    put_le32(fp, 0);
    put_le32(fp, 65535);
    put_le32(fp, 1);
    for (size_t i = 0; i < NCASES; i++) {
        struct fr f;
        struct mark m;
        cases[i].build(&f, &m);
        done(&f, &m);
        put_le32(fp, (uint32_t)i + 1);
        put_le32(fp, 0);
        put_le32(fp, (uint32_t)f.n);
        put_le32(fp, (uint32_t)f.n);
        fwrite(f.b, 1, f.n, fp);
        assert_int_equal(dec(t, &f), 1);
    }
    fclose(fp);
    snprintf(cmd, sizeof cmd, "tshark -n -r %s -E occurrence=l -T fields -e ip.src -e ip.dst "
             "-e ipv6.src -e ipv6.dst -e tcp.srcport -e tcp.dstport -e udp.srcport "
             "-e udp.dstport 2>/dev/null", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p)) {
        char *fld[8] = { 0 }, *s = line;
        char want[64];
        line[strcspn(line, "\n")] = 0;
        for (int k = 0; k < 8; k++) {
            fld[k] = s;
            s = strchr(s, '\t');
            if (!s)
                break;
            *s++ = 0;
        }
        assert_true(row < t->b->rows);
        uint8_t ver = FL_COL(t->b, FL_PKT_IP_VERSION, uint8_t)[row];
        uint8_t proto = FL_COL(t->b, FL_PKT_PROTO, uint8_t)[row];
        print_message("%s: tshark %s %s %s %s\n", cases[row].name, fld[ver == 4 ? 0 : 2],
                      fld[ver == 4 ? 1 : 3], fld[proto == 6 ? 4 : 6] ? fld[proto == 6 ? 4 : 6] : "",
                      fld[proto == 6 ? 5 : 7] ? fld[proto == 6 ? 5 : 7] : "");
        assert_non_null(fld[7]);
        addr_is(&FL_COL(t->b, FL_PKT_SRC_ADDR, struct fl_addr)[row], fld[ver == 4 ? 0 : 2]);
        addr_is(&FL_COL(t->b, FL_PKT_DST_ADDR, struct fl_addr)[row], fld[ver == 4 ? 1 : 3]);
        snprintf(want, sizeof want, "%u", FL_COL(t->b, FL_PKT_SRC_PORT, uint16_t)[row]);
        assert_string_equal(fld[proto == 6 ? 4 : 6], want);
        snprintf(want, sizeof want, "%u", FL_COL(t->b, FL_PKT_DST_PORT, uint16_t)[row]);
        assert_string_equal(fld[proto == 6 ? 5 : 7], want);
        row++;
    }
    pclose(p);
    unlink(path);
    assert_int_equal(row, NCASES);
    t_close(&t);
}

/* Real captures with tunnels (../shared/data/pcap), frame by frame: each
 * row's addresses and ports must be tshark's innermost (occurrence=l), its
 * tunnel_id tshark's TEID / VNI / ERSPAN span id. Frames whose last IP
 * header is quoted in an ICMP error are left out (the decoder reports the
 * packet, not the quote). */
static const char *const real_captures[] = {
    "ndpi_ipv6_in_gtp.pcap", "ndpi_dtls.pcap", "ndpi_zoom.pcap", "ndpi_tls_change_cipher.pcap",
    "ndpi_ja3_lots_of_cipher_suites_2_anon.pcap", "ndpi_gtp_false_positive.pcap",
    "ndpi_teredo.pcap", "tcpdump_geneve.pcap", "tcpdump_erspan-type-iii-pb-1.pcap",
    "tcpdump_erspan-type-ii-1.pcap", "ndpi_vxlan.pcap", "tcpdump_vxlan.pcap", "ndpi_gre.pcap",
    "ndpi_6in4tunnel.pcap", "ndpi_4in6tunnel.pcap", "ndpi_false_positives.pcap",
};

static void compare_capture(const char *path, unsigned *frames_out, unsigned *tunnelled)
{
    char err[PCAP_ERRBUF_SIZE], cmd[2048], line[2048];
    struct pcap_pkthdr *ph;
    const u_char *pkt;
    pcap_t *pc = pcap_open_offline(path, err);
    struct t *t = t_decap();
    int32_t *row_of = calloc(1 << 16, sizeof *row_of);
    unsigned n = 0, compared = 0;
    FILE *p;

    assert_non_null(pc);
    assert_non_null(row_of);
    while (pcap_next_ex(pc, &ph, &pkt) == 1 && n < (1 << 16) - 1) {
        uint32_t rows = t->b->rows;
        n++;
        row_of[n] = -1;
        if (t->b->rows == t->b->cap)
            break;
        if (fl_decode(t->d, pcap_datalink(pc), 1, pkt, ph->caplen, ph->len, t->b) == 1)
            row_of[n] = (int32_t)rows;
    }
    pcap_close(pc);
    snprintf(cmd, sizeof cmd, "tshark -n -r %s -o ip.defragment:FALSE -o ipv6.defragment:FALSE "
             "-E occurrence=l -T fields -e frame.number -e frame.protocols -e ip.src -e ip.dst "
             "-e ipv6.src -e ipv6.dst -e tcp.srcport -e tcp.dstport -e udp.srcport "
             "-e udp.dstport -e gtp.teid -e geneve.vni -e erspan.spanid -e vxlan.vni "
             "2>/dev/null", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p)) {
        char *fld[14] = { 0 }, *s = line, want[64];
        line[strcspn(line, "\n")] = 0;
        for (int k = 0; k < 14 && s; k++) {
            fld[k] = s;
            if ((s = strchr(s, '\t')))
                *s++ = 0;
        }
        if (!fld[13])
            fail_msg("%s: short tshark line", path);
        unsigned fn = (unsigned)atoi(fld[0]);
        if (fn == 0 || fn > n || row_of[fn] < 0)
            continue;
        const char *icmp = strstr(fld[1], ":icmp");
        if (icmp && strstr(icmp, ":ip"))
            continue;   /* an ICMP error's quote */
        uint32_t r = (uint32_t)row_of[fn];
        uint8_t ver = FL_COL(t->b, FL_PKT_IP_VERSION, uint8_t)[r];
        uint8_t proto = FL_COL(t->b, FL_PKT_PROTO, uint8_t)[r];
        addr_is(&FL_COL(t->b, FL_PKT_SRC_ADDR, struct fl_addr)[r], fld[ver == 4 ? 2 : 4]);
        addr_is(&FL_COL(t->b, FL_PKT_DST_ADDR, struct fl_addr)[r], fld[ver == 4 ? 3 : 5]);
        if (proto == 6 || proto == 17) {
            snprintf(want, sizeof want, "%u", FL_COL(t->b, FL_PKT_SRC_PORT, uint16_t)[r]);
            if (strcmp(fld[proto == 6 ? 6 : 8], want) != 0)
                fail_msg("%s frame %u: src port %s, tshark %s", path, fn, want, fld[proto == 6 ? 6 : 8]);
            snprintf(want, sizeof want, "%u", FL_COL(t->b, FL_PKT_DST_PORT, uint16_t)[r]);
            if (strcmp(fld[proto == 6 ? 7 : 9], want) != 0)
                fail_msg("%s frame %u: dst port %s, tshark %s", path, fn, want, fld[proto == 6 ? 7 : 9]);
        }
        if (fl_batch_is_valid(t->b, FL_PKT_TUNNEL, r)) {
            (*tunnelled)++;
            const char *id = NULL;
            struct fl_span sp = FL_COL(t->b, FL_PKT_TUNNEL, struct fl_span)[r];
            int kind = fl_tunnel_kind_from_name(fl_batch_bytes(t->b, sp), sp.len);
            if (kind == FL_TUN_GTP) id = fld[10];
            else if (kind == FL_TUN_GENEVE) id = fld[11];
            else if (kind == FL_TUN_ERSPAN) id = fld[12];
            else if (kind == FL_TUN_VXLAN) id = fld[13];
            if (id && *id) {
                assert_true(fl_batch_is_valid(t->b, FL_PKT_TUNNEL_ID, r));
                snprintf(want, sizeof want, "%u", FL_COL(t->b, FL_PKT_TUNNEL_ID, uint32_t)[r]);
                if (strcmp(id, want) != 0 && !(strncmp(id, "0x", 2) == 0 &&
                                              strtoul(id, NULL, 16) == strtoul(want, NULL, 10)))
                    fail_msg("%s frame %u: tunnel id %s, tshark %s", path, fn, want, id);
            }
        }
        compared++;
    }
    pclose(p);
    *frames_out += compared;
    free(row_of);
    t_close(&t);
}

static void test_real_captures(void **state)
{
    (void)state;
    const char *data = fl_test_data_dir();
    unsigned frames = 0, tunnelled = 0, files = 0;
    char path[1024];
    if (!data || system("tshark -v >/dev/null 2>&1") != 0) {
        print_message("no test data or no tshark: skipped\n");
        return;
    }
    for (size_t i = 0; i < sizeof real_captures / sizeof real_captures[0]; i++) {
        snprintf(path, sizeof path, "%s/pcap/%s", data, real_captures[i]);
        if (access(path, R_OK) != 0)
            continue;
        compare_capture(path, &frames, &tunnelled);
        files++;
    }
    print_message("%u captures, %u frames compared with tshark, %u decapsulated\n", files,
                  frames, tunnelled);
    if (files)
        assert_true(tunnelled > 100);
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
        cmocka_unit_test(test_vs_tshark),
        cmocka_unit_test(test_real_captures),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
