/* tunnel_test.h: what the tunnel tests share (test_decode_tunnel.c: crafted
 * frames; test_decode_tunnel_tshark.c: the same frames and real captures
 * against tshark): a builder per tunnel kind, the table of cases, a decoder
 * with its batch, and checks of the last row. */
#ifndef FL_TEST_TUNNEL_H
#define FL_TEST_TUNNEL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <flowline/decode.h>
#include "fl_harness.h"
#include "frame.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

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

static struct fl_ctx *ctx;   /* setup_group */

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

#pragma GCC diagnostic pop

#endif
