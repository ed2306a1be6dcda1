/* test_decode.c: the packet decoder (core/src/decode*.c) on hand-built
 * frames: every link type and encapsulation it claims, every drop reason,
 * the column conventions of decode.h, fragments, decapsulation, the
 * symmetric hash, and every prefix of a set of frames decoded from a buffer
 * of exactly that size (so ASan sees any read past caplen). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include <flowline/decode.h>
#include "fl_harness.h"
#include "rt.h"

#include "frame.h"   /* the frame builder the decoder tests share */

/* ---- fixture ----------------------------------------------------------- */
static struct fl_ctx *ctx;
static const struct fl_schema *schema;

struct t {
    struct fl_decoder *d;
    struct fl_batch *b;
};

static int setup_group(void **state)
{
    (void)state;
    ctx = fl_test_ctx_new();
    if (!ctx || fl_packet_schema(ctx, &schema) < 0)
        return -1;
    return 0;
}
static int teardown_group(void **state)
{
    (void)state;
    fl_test_ctx_destroy(&ctx);
    return 0;
}
static struct t *t_new(int decap, uint32_t frag_slots)
{
    struct t *t = calloc(1, sizeof *t);
    struct fl_decoder_opts o = {.frag_slots = frag_slots, .decap = decap};
    assert_non_null(t);
    assert_int_equal(fl_decoder_new(&o, sizeof(o), &t->d), 0);
    assert_int_equal(fl_batch_new(ctx, schema, 1 << 16, &t->b), 0);
    return t;
}
static void t_free(struct t **tp)
{
    fl_decoder_destroy(&(*tp)->d);
    assert_null((*tp)->d);
    fl_batch_release(&(*tp)->b);
    free(*tp);
    *tp = NULL;
}
static int setup(void **state)
{
    *state = t_new(0, 0);
    return 0;
}
static int setup_decap(void **state)
{
    *state = t_new(1, 0);
    return 0;
}
static int teardown(void **state)
{
    struct t *t = *state;
    t_free(&t);
    return 0;
}

/* Decode f with caplen = wirelen = f->n at ts 1000 + row. */
static int dec_lt(struct t *t, int lt, const struct fr *f)
{
    return fl_decode(t->d, lt, 1000 + t->b->rows, f->b, (uint32_t)f->n, (uint32_t)f->n, t->b);
}
static int dec(struct t *t, const struct fr *f) { return dec_lt(t, FL_DLT_EN10MB, f); }

static uint64_t drops(struct t *t, enum fl_decode_reason r)
{
    uint64_t d[FL_DROP_COUNT];
    fl_decoder_totals(t->d, d, NULL);
    return d[r];
}
static uint64_t notes(struct t *t, enum fl_decode_note r)
{
    uint64_t n[FL_NOTE_COUNT];
    fl_decoder_totals(t->d, NULL, n);
    return n[r];
}
static void expect_drop(struct t *t, int lt, const struct fr *f, enum fl_decode_reason r)
{
    uint64_t before = drops(t, r);
    uint32_t rows = t->b->rows;
    assert_int_equal(dec_lt(t, lt, f), 0);
    assert_int_equal(t->b->rows, rows);
    if (drops(t, r) != before + 1)
        fail_msg("expected a drop for %s", fl_decode_reason_name(r));
}

/* Cells of the last row. */
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
    assert_memory_equal(a->b, want.b, 16);
}
static void last_is(struct t *t, unsigned ver, unsigned proto, const char *src, unsigned sp,
                    const char *dst, unsigned dp)
{
    assert_true(t->b->rows > 0);
    assert_int_equal(LAST(t, FL_PKT_IP_VERSION, uint8_t), ver);
    assert_int_equal(LAST(t, FL_PKT_PROTO, uint8_t), proto);
    addr_is(&LAST(t, FL_PKT_SRC_ADDR, struct fl_addr), src);
    addr_is(&LAST(t, FL_PKT_DST_ADDR, struct fl_addr), dst);
    assert_int_equal(LAST(t, FL_PKT_SRC_PORT, uint16_t), sp);
    assert_int_equal(LAST(t, FL_PKT_DST_PORT, uint16_t), dp);
}

/* A standard Ethernet/IPv4/TCP frame with n payload bytes. */
static void tcp4(struct fr *f, const char *s, unsigned sp, const char *d, unsigned dp, size_t n)
{
    memset(f, 0, sizeof *f);
    eth(f, 0x0800);
    ip4(f, 6, s, d);
    tcp(f, sp, dp, 0x18, 0);
    payload(f, n);
    fin(f);
}

/* ---- columns ----------------------------------------------------------- */

static void test_schema(void **state)
{
    static const char *const names[FL_PKT_NCOLS] = {
        "ts", "src_addr", "dst_addr", "src_port", "dst_port", "proto", "ip_version", "ttl",
        "tcp_flags", "ip_len", "frame_len", "payload_len", "vlan", "flow_hash", "icmp_id"};
    static const enum fl_type types[FL_PKT_NCOLS] = {
        FL_T_TS, FL_T_ADDR, FL_T_ADDR, FL_T_U16, FL_T_U16, FL_T_U8, FL_T_U8, FL_T_U8,
        FL_T_U8, FL_T_U32, FL_T_U32, FL_T_U32, FL_T_U16, FL_T_U64, FL_T_U16};
    const struct fl_schema *again;
    (void)state;
    assert_int_equal(schema->ncols, FL_PKT_NCOLS);
    for (unsigned i = 0; i < FL_PKT_NCOLS; i++) {
        assert_string_equal(schema->cols[i]->name, names[i]);
        assert_int_equal(schema->cols[i]->type, types[i]);
    }
    assert_int_equal(fl_packet_schema(ctx, &again), 0);
    assert_ptr_equal(again, schema);
}

static void test_eth_ip4_tcp(void **state)
{
    struct t *t = *state;
    struct fr f;
    tcp4(&f, "10.0.0.1", 40000, "192.0.2.7", 443, 100);
    assert_int_equal(fl_decode(t->d, FL_DLT_EN10MB, 123456789012345ull, f.b, (uint32_t)f.n,
                               (uint32_t)f.n + 4, t->b), 1);
    assert_int_equal(t->b->rows, 1);
    last_is(t, 4, 6, "10.0.0.1", 40000, "192.0.2.7", 443);
    assert_int_equal(LAST(t, FL_PKT_TS, uint64_t), 123456789012345ull);
    assert_int_equal(LAST(t, FL_PKT_TTL, uint8_t), 64);
    assert_int_equal(LAST(t, FL_PKT_TCP_FLAGS, uint8_t), 0x18);
    assert_int_equal(LAST(t, FL_PKT_IP_LEN, uint32_t), 20 + 20 + 100);
    assert_int_equal(LAST(t, FL_PKT_FRAME_LEN, uint32_t), f.n + 4);   /* wire, FCS included */
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 100);
    assert_int_equal(LAST(t, FL_PKT_VLAN, uint16_t), 0);
    assert_int_equal(t->b->t_min, 123456789012345ull);
    assert_int_equal(t->b->t_max, 123456789012345ull);
    assert_true(fl_addr_is_v4(&LAST(t, FL_PKT_SRC_ADDR, struct fl_addr)));
}

static void test_time_range(void **state)
{
    struct t *t = *state;
    struct fr f;
    static const uint64_t ts[] = {500, 200, 900, 300};
    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 0);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(fl_decode(t->d, 1, ts[i], f.b, (uint32_t)f.n, (uint32_t)f.n, t->b), 1);
    assert_int_equal(t->b->t_min, 200);
    assert_int_equal(t->b->t_max, 900);
}

static void test_ip4_options_tcp_options(void **state)
{
    struct t *t = *state;
    struct fr f = {0};
    eth(&f, 0x0800);
    ip4x(&f, 6, "10.1.1.1", "10.2.2.2", 3, 0, 7);
    tcp(&f, 1234, 80, 0x02, 5);
    payload(&f, 33);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 6, "10.1.1.1", 1234, "10.2.2.2", 80);
    assert_int_equal(LAST(t, FL_PKT_IP_LEN, uint32_t), 32 + 40 + 33);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 33);
    assert_int_equal(LAST(t, FL_PKT_TCP_FLAGS, uint8_t), 0x02);
}

static void test_ethernet_padding(void **state)
{
    /* A 60-byte minimum frame carries a 40-byte IPv4/TCP packet: the
     * padding is not payload. */
    struct t *t = *state;
    struct fr f;
    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 0);
    zeros(&f, 6);
    assert_int_equal(dec(t, &f), 1);
    assert_int_equal(LAST(t, FL_PKT_IP_LEN, uint32_t), 40);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 0);
    assert_int_equal(LAST(t, FL_PKT_FRAME_LEN, uint32_t), 60);
    assert_int_equal(notes(t, FL_NOTE_IP_TRUNCATED), 0);
}

static void test_ip6_udp(void **state)
{
    struct t *t = *state;
    struct fr f = {0};
    eth(&f, 0x86dd);
    ip6(&f, 17, "2001:db8::1", "2001:db8::2");
    udp(&f, 5353, 53);
    payload(&f, 21);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 6, 17, "2001:db8::1", 5353, "2001:db8::2", 53);
    assert_int_equal(LAST(t, FL_PKT_TTL, uint8_t), 63);
    assert_int_equal(LAST(t, FL_PKT_IP_LEN, uint32_t), 40 + 8 + 21);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 21);
    assert_false(fl_addr_is_v4(&LAST(t, FL_PKT_SRC_ADDR, struct fl_addr)));
}

static void test_ip6_ext_chain(void **state)
{
    struct t *t = *state;
    struct fr f = {0};
    eth(&f, 0x86dd);
    ip6(&f, 0, "2001:db8::1", "2001:db8::2");
    ext6(&f, 60, 0);            /* hop-by-hop, then */
    ext6(&f, 43, 2);            /* destination options (24 bytes), then */
    ext6(&f, 51, 1);            /* routing (16 bytes), then */
    put8(&f, 6);                /* AH: 4 * (len + 2) = 16 bytes, then TCP */
    put8(&f, 2);
    zeros(&f, 14);
    tcp(&f, 22, 50000, 0x10, 0);
    payload(&f, 7);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 6, 6, "2001:db8::1", 22, "2001:db8::2", 50000);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 7);
    assert_int_equal(LAST(t, FL_PKT_IP_LEN, uint32_t), f.n - 14);
}

static void test_ip6_no_next_header_and_esp(void **state)
{
    struct t *t = *state;
    struct fr f = {0};
    eth(&f, 0x86dd);
    ip6(&f, 59, "::1", "::2");
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 6, 59, "::1", 0, "::2", 0);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 0);

    memset(&f, 0, sizeof f);
    eth(&f, 0x86dd);
    ip6(&f, 50, "::1", "::2");
    put32(&f, 0x1234);          /* SPI */
    payload(&f, 40);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 6, 50, "::1", 0, "::2", 0);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 44);
}

static void test_ip6_bad_ext(void **state)
{
    struct t *t = *state;
    struct fr f = {0};

    /* hop-by-hop anywhere but first */
    eth(&f, 0x86dd);
    ip6(&f, 60, "::1", "::2");
    ext6(&f, 0, 0);
    ext6(&f, 6, 0);
    tcp(&f, 1, 2, 0, 0);
    fin(&f);
    expect_drop(t, 1, &f, FL_DROP_BAD_EXTHDR);

    /* a chain longer than the bound */
    memset(&f, 0, sizeof f);
    eth(&f, 0x86dd);
    ip6(&f, 60, "::1", "::2");
    for (int i = 0; i < 12; i++)
        ext6(&f, 60, 0);
    fin(&f);
    expect_drop(t, 1, &f, FL_DROP_BAD_EXTHDR);

    /* a header claiming more than the payload length */
    memset(&f, 0, sizeof f);
    eth(&f, 0x86dd);
    ip6(&f, 60, "::1", "::2");
    put8(&f, 6);
    put8(&f, 20);
    zeros(&f, 30);
    fin(&f);
    expect_drop(t, 1, &f, FL_DROP_BAD_EXTHDR);

    /* two fragment headers */
    memset(&f, 0, sizeof f);
    eth(&f, 0x86dd);
    ip6(&f, 44, "::1", "::2");
    frag6(&f, 44, 0, 1, 5);
    frag6(&f, 17, 0, 1, 6);
    udp(&f, 1, 2);
    fin(&f);
    expect_drop(t, 1, &f, FL_DROP_BAD_EXTHDR);
}

static void test_vlan_qinq(void **state)
{
    struct t *t = *state;
    struct fr f = {0};
    eth(&f, 0x88a8);
    vlan(&f, 100, 0x8100);
    vlan(&f, 200, 0x0800);
    ip4(&f, 17, "10.0.0.1", "10.0.0.2");
    udp(&f, 1000, 2000);
    payload(&f, 10);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 17, "10.0.0.1", 1000, "10.0.0.2", 2000);
    assert_int_equal(LAST(t, FL_PKT_VLAN, uint16_t), 100);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 10);

    memset(&f, 0, sizeof f);
    eth(&f, 0x8100);
    vlan(&f, 4094, 0x86dd);
    ip6(&f, 17, "::1", "::2");
    udp(&f, 1, 2);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    assert_int_equal(LAST(t, FL_PKT_VLAN, uint16_t), 4094);

    /* bounded depth */
    memset(&f, 0, sizeof f);
    eth(&f, 0x8100);
    for (int i = 0; i < 20; i++)
        vlan(&f, 1, 0x8100);
    vlan(&f, 1, 0x0800);
    ip4(&f, 17, "10.0.0.1", "10.0.0.2");
    udp(&f, 1, 2);
    fin(&f);
    expect_drop(t, 1, &f, FL_DROP_NOT_IP);
}

static void test_mpls(void **state)
{
    struct t *t = *state;
    struct fr f = {0};
    eth(&f, 0x8847);
    mpls(&f, 100, 0);
    mpls(&f, 200, 1);
    ip4(&f, 6, "10.9.9.9", "10.8.8.8");
    tcp(&f, 179, 33333, 0x10, 0);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 6, "10.9.9.9", 179, "10.8.8.8", 33333);

    memset(&f, 0, sizeof f);
    eth(&f, 0x8847);
    mpls(&f, 2, 1);
    ip6(&f, 17, "2001:db8::9", "2001:db8::8");
    udp(&f, 1, 2);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 6, 17, "2001:db8::9", 1, "2001:db8::8", 2);

    /* Ethernet pseudowire with a control word, then a VLAN inside */
    memset(&f, 0, sizeof f);
    eth(&f, 0x8847);
    mpls(&f, 300, 1);
    put32(&f, 0);
    eth(&f, 0x8100);
    vlan(&f, 42, 0x0800);
    ip4(&f, 17, "10.0.0.1", "10.0.0.2");
    udp(&f, 7, 9);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 17, "10.0.0.1", 7, "10.0.0.2", 9);
    assert_int_equal(LAST(t, FL_PKT_VLAN, uint16_t), 42);

    /* an unknown payload after the stack */
    memset(&f, 0, sizeof f);
    eth(&f, 0x8847);
    mpls(&f, 300, 1);
    put32(&f, 0x51000000);
    zeros(&f, 40);
    expect_drop(t, 1, &f, FL_DROP_NOT_IP);

    /* a stack that never ends */
    memset(&f, 0, sizeof f);
    eth(&f, 0x8847);
    for (int i = 0; i < 40; i++)
        mpls(&f, 1, 0);
    expect_drop(t, 1, &f, FL_DROP_NOT_IP);
}

static void test_pppoe(void **state)
{
    struct t *t = *state;
    struct fr f = {0};
    eth(&f, 0x8864);
    put8(&f, 0x11);
    put8(&f, 0);
    put16(&f, 0x1234);
    put16(&f, 0);               /* length: not checked */
    put16(&f, 0x0021);
    ip4(&f, 17, "100.64.0.1", "8.8.8.8");
    udp(&f, 5000, 53);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 17, "100.64.0.1", 5000, "8.8.8.8", 53);

    memset(&f, 0, sizeof f);
    eth(&f, 0x8864);
    put8(&f, 0x11);
    put8(&f, 0);
    put16(&f, 0x1234);
    put16(&f, 0);
    put16(&f, 0x0057);
    ip6(&f, 58, "2001:db8::1", "2001:db8::2");
    icmp(&f, 128, 0);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 6, 58, "2001:db8::1", 0, "2001:db8::2", 128 << 8);

    /* LCP inside a session, and discovery, are not IP */
    memset(&f, 0, sizeof f);
    eth(&f, 0x8864);
    put8(&f, 0x11);
    put8(&f, 0);
    put16(&f, 0x1234);
    put16(&f, 10);
    put16(&f, 0xc021);
    zeros(&f, 10);
    expect_drop(t, 1, &f, FL_DROP_NOT_IP);
    memset(&f, 0, sizeof f);
    eth(&f, 0x8863);
    zeros(&f, 30);
    expect_drop(t, 1, &f, FL_DROP_NOT_IP);
}

static void test_llc_snap(void **state)
{
    struct t *t = *state;
    struct fr f = {0};
    eth(&f, 0);
    put8(&f, 0xaa);
    put8(&f, 0xaa);
    put8(&f, 0x03);
    put8(&f, 0);
    put16(&f, 0);
    put16(&f, 0x0800);
    ip4(&f, 17, "10.0.0.1", "10.0.0.2");
    udp(&f, 1, 2);
    fin(&f);
    f.b[12] = 0;
    f.b[13] = (uint8_t)(f.n - 14);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 17, "10.0.0.1", 1, "10.0.0.2", 2);

    /* spanning tree: 802.3 with LLC 42 42 03 */
    memset(&f, 0, sizeof f);
    eth(&f, 38);
    put8(&f, 0x42);
    put8(&f, 0x42);
    put8(&f, 0x03);
    zeros(&f, 35);
    expect_drop(t, 1, &f, FL_DROP_NOT_IP);
}

/* The same IPv4/UDP packet behind each link-layer header. */
static void ip4_udp(struct fr *f)
{
    ip4(f, 17, "172.16.0.1", "172.16.0.2");
    udp(f, 111, 222);
    payload(f, 5);
    fin(f);
}
static void ip6_udp(struct fr *f)
{
    ip6(f, 17, "fe80::1", "fe80::2");
    udp(f, 111, 222);
    payload(f, 5);
    fin(f);
}

static void test_linktypes(void **state)
{
    struct t *t = *state;
    struct fr f;

    /* Linux SLL: 16 bytes, protocol last */
    memset(&f, 0, sizeof f);
    put16(&f, 0);
    put16(&f, 1);
    put16(&f, 6);
    zeros(&f, 8);
    put16(&f, 0x0800);
    ip4_udp(&f);
    assert_int_equal(dec_lt(t, FL_DLT_LINUX_SLL, &f), 1);
    last_is(t, 4, 17, "172.16.0.1", 111, "172.16.0.2", 222);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 5);

    /* SLL with a VLAN tag kept in the payload */
    memset(&f, 0, sizeof f);
    put16(&f, 4);
    put16(&f, 1);
    put16(&f, 6);
    zeros(&f, 8);
    put16(&f, 0x8100);
    vlan(&f, 7, 0x86dd);
    ip6_udp(&f);
    assert_int_equal(dec_lt(t, FL_DLT_LINUX_SLL, &f), 1);
    last_is(t, 6, 17, "fe80::1", 111, "fe80::2", 222);
    assert_int_equal(LAST(t, FL_PKT_VLAN, uint16_t), 7);

    /* Linux SLL2: 20 bytes, protocol first */
    memset(&f, 0, sizeof f);
    put16(&f, 0x86dd);
    put16(&f, 0);
    put32(&f, 3);
    put16(&f, 1);
    put8(&f, 0);
    put8(&f, 6);
    zeros(&f, 8);
    ip6_udp(&f);
    assert_int_equal(dec_lt(t, FL_DLT_LINUX_SLL2, &f), 1);
    last_is(t, 6, 17, "fe80::1", 111, "fe80::2", 222);

    /* BSD loopback: family in either byte order, AF_INET6 of several OSes */
    static const uint8_t fam_le4[4] = {2, 0, 0, 0}, fam_be4[4] = {0, 0, 0, 2};
    static const uint8_t fam6[][4] = {{24, 0, 0, 0}, {0, 0, 0, 28}, {30, 0, 0, 0}, {0, 0, 0, 10}};
    for (int lt = 0; lt < 2; lt++) {
        int dlt = lt ? FL_DLT_LOOP : FL_DLT_NULL;
        memset(&f, 0, sizeof f);
        put(&f, fam_le4, 4);
        ip4_udp(&f);
        assert_int_equal(dec_lt(t, dlt, &f), 1);
        last_is(t, 4, 17, "172.16.0.1", 111, "172.16.0.2", 222);
        memset(&f, 0, sizeof f);
        put(&f, fam_be4, 4);
        ip4_udp(&f);
        assert_int_equal(dec_lt(t, dlt, &f), 1);
        for (int i = 0; i < 4; i++) {
            memset(&f, 0, sizeof f);
            put(&f, fam6[i], 4);
            ip6_udp(&f);
            assert_int_equal(dec_lt(t, dlt, &f), 1);
            last_is(t, 6, 17, "fe80::1", 111, "fe80::2", 222);
        }
    }
    memset(&f, 0, sizeof f);
    put32(&f, 7);               /* AF_ISO-ish: not IP */
    zeros(&f, 40);
    expect_drop(t, FL_DLT_NULL, &f, FL_DROP_NOT_IP);

    /* raw IP: 101 and the DLT_RAW values libpcap reports; 228/229 */
    static const int raw[] = {FL_DLT_RAW, 12, 14};
    for (unsigned i = 0; i < 3; i++) {
        memset(&f, 0, sizeof f);
        ip4_udp(&f);
        assert_int_equal(dec_lt(t, raw[i], &f), 1);
        last_is(t, 4, 17, "172.16.0.1", 111, "172.16.0.2", 222);
        memset(&f, 0, sizeof f);
        ip6_udp(&f);
        assert_int_equal(dec_lt(t, raw[i], &f), 1);
        last_is(t, 6, 17, "fe80::1", 111, "fe80::2", 222);
    }
    memset(&f, 0, sizeof f);
    ip4_udp(&f);
    assert_int_equal(dec_lt(t, FL_DLT_IPV4, &f), 1);
    expect_drop(t, FL_DLT_IPV6, &f, FL_DROP_BAD_IP);
    memset(&f, 0, sizeof f);
    ip6_udp(&f);
    assert_int_equal(dec_lt(t, FL_DLT_IPV6, &f), 1);
    expect_drop(t, FL_DLT_IPV4, &f, FL_DROP_BAD_IP);
    f.b[0] = 0x50;
    expect_drop(t, FL_DLT_RAW, &f, FL_DROP_BAD_IP);

    /* PPP: with and without HDLC-like framing, compressed protocol */
    memset(&f, 0, sizeof f);
    put8(&f, 0xff);
    put8(&f, 0x03);
    put16(&f, 0x0021);
    ip4_udp(&f);
    assert_int_equal(dec_lt(t, FL_DLT_PPP, &f), 1);
    assert_int_equal(dec_lt(t, FL_DLT_PPP_SERIAL, &f), 1);
    memset(&f, 0, sizeof f);
    put16(&f, 0x0057);
    ip6_udp(&f);
    assert_int_equal(dec_lt(t, FL_DLT_PPP, &f), 1);
    last_is(t, 6, 17, "fe80::1", 111, "fe80::2", 222);
    memset(&f, 0, sizeof f);
    put8(&f, 0x21);
    ip4_udp(&f);
    assert_int_equal(dec_lt(t, FL_DLT_PPP, &f), 1);
    last_is(t, 4, 17, "172.16.0.1", 111, "172.16.0.2", 222);
    /* Cisco HDLC framing inside a PPP-labelled capture */
    memset(&f, 0, sizeof f);
    put8(&f, 0x0f);
    put8(&f, 0x00);
    put16(&f, 0x0800);
    ip4_udp(&f);
    assert_int_equal(dec_lt(t, FL_DLT_PPP_SERIAL, &f), 1);
    assert_int_equal(dec_lt(t, FL_DLT_PPP, &f), 1);
    /* LCP */
    memset(&f, 0, sizeof f);
    put8(&f, 0xff);
    put8(&f, 0x03);
    put16(&f, 0xc021);
    zeros(&f, 20);
    expect_drop(t, FL_DLT_PPP, &f, FL_DROP_NOT_IP);

    /* everything else: USER0, token ring, ERF, Juniper Ethernet, nonsense
     * (the link types of decode_link.c: test_decode_link.c) */
    static const int other[] = {147, 6, 197, 178, -1, 1000000};
    memset(&f, 0, sizeof f);
    ip4_udp(&f);
    for (unsigned i = 0; i < sizeof other / sizeof other[0]; i++)
        expect_drop(t, other[i], &f, FL_DROP_LINKTYPE);
}

static void test_not_ip(void **state)
{
    struct t *t = *state;
    struct fr f = {0};
    eth(&f, 0x0806);            /* ARP */
    zeros(&f, 28);
    expect_drop(t, 1, &f, FL_DROP_NOT_IP);
    memset(&f, 0, sizeof f);
    eth(&f, 0x88cc);            /* LLDP */
    zeros(&f, 40);
    expect_drop(t, 1, &f, FL_DROP_NOT_IP);
}

static void test_icmp(void **state)
{
    struct t *t = *state;
    struct fr f = {0};
    eth(&f, 0x0800);
    ip4(&f, 1, "10.0.0.1", "10.0.0.2");
    icmp(&f, 3, 3);             /* port unreachable */
    payload(&f, 28);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 1, "10.0.0.1", 0, "10.0.0.2", 3 << 8 | 3);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 28);

    memset(&f, 0, sizeof f);
    eth(&f, 0x86dd);
    ip6(&f, 58, "fe80::1", "ff02::1");
    icmp(&f, 135, 0);
    payload(&f, 16);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 6, 58, "fe80::1", 0, "ff02::1", 135 << 8);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 16);

    /* an ICMP message shorter than its 4-byte minimum */
    memset(&f, 0, sizeof f);
    eth(&f, 0x0800);
    ip4(&f, 1, "10.0.0.1", "10.0.0.2");
    put8(&f, 8);
    put8(&f, 0);
    fin(&f);
    expect_drop(t, 1, &f, FL_DROP_BAD_L4);
}

/* One ICMP message of `type` from src to dst with identifier id: its
 * flow_hash; checks the row's ports and icmp_id (want_id). */
static uint64_t icmp_row(struct t *t, int v6, const char *src, const char *dst, unsigned type,
                         unsigned id, unsigned want_id)
{
    struct fr f = {0};
    eth(&f, v6 ? 0x86dd : 0x0800);
    if (v6)
        ip6(&f, 58, src, dst);
    else
        ip4(&f, 1, src, dst);
    icmpq(&f, type, 0, id, 7);
    payload(&f, 56);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, v6 ? 6 : 4, v6 ? 58 : 1, src, 0, dst, type << 8);
    assert_int_equal(LAST(t, FL_PKT_ICMP_ID, uint16_t), want_id);
    return LAST(t, FL_PKT_FLOW_HASH, uint64_t);
}

/* Query/reply messages carry their identifier in icmp_id and hash by
 * (addresses, identifier): request and reply alike, another identifier
 * differently. Other messages keep icmp_id 0 and hash by type/code. */
static void test_icmp_pairs(void **state)
{
    struct t *t = *state;
    static const unsigned pairs[][2] = { { 8, 0 }, { 13, 14 }, { 15, 16 }, { 17, 18 } };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        uint64_t rq = icmp_row(t, 0, "10.0.0.1", "10.0.0.2", pairs[i][0], 0x1234, 0x1234);
        uint64_t rp = icmp_row(t, 0, "10.0.0.2", "10.0.0.1", pairs[i][1], 0x1234, 0x1234);
        assert_true(rq == rp);
        assert_true(rq != icmp_row(t, 0, "10.0.0.1", "10.0.0.2", pairs[i][0], 0x1235, 0x1235));
    }
    /* identifier 0 still pairs */
    assert_true(icmp_row(t, 0, "10.0.0.1", "10.0.0.2", 8, 0, 0)
                == icmp_row(t, 0, "10.0.0.2", "10.0.0.1", 0, 0, 0));
    uint64_t rq6 = icmp_row(t, 1, "2001:db8::1", "2001:db8::2", 128, 99, 99);
    assert_true(rq6 == icmp_row(t, 1, "2001:db8::2", "2001:db8::1", 129, 99, 99));
    /* not query/reply: no identifier, hashed by type/code (so an ICMPv4
     * type 128 or an ICMPv6 type 8 is not a pair) */
    uint64_t u1 = icmp_row(t, 0, "10.0.0.1", "10.0.0.2", 3, 0x1234, 0);
    uint64_t u2 = icmp_row(t, 0, "10.0.0.1", "10.0.0.2", 3, 0x9999, 0);
    assert_true(u1 == u2);
    icmp_row(t, 0, "10.0.0.1", "10.0.0.2", 128, 5, 0);
    icmp_row(t, 1, "2001:db8::1", "2001:db8::2", 8, 5, 0);
    icmp_row(t, 1, "2001:db8::1", "2001:db8::2", 130, 5, 0);
    /* TCP and UDP rows have icmp_id 0 */
    struct fr f;
    tcp4(&f, "10.0.0.1", 40000, "10.0.0.2", 80, 0);
    assert_int_equal(dec(t, &f), 1);
    assert_int_equal(LAST(t, FL_PKT_ICMP_ID, uint16_t), 0);

    /* A request cut off before its identifier (4 bytes captured) reads 0
     * and still counts as a pair. */
    memset(&f, 0, sizeof f);
    eth(&f, 0x0800);
    ip4(&f, 1, "10.0.0.1", "10.0.0.2");
    icmpq(&f, 8, 0, 0x4242, 1);
    payload(&f, 56);
    fin(&f);
    f.n = 14 + 20 + 4;
    assert_int_equal(dec(t, &f), 1);
    assert_int_equal(LAST(t, FL_PKT_ICMP_ID, uint16_t), 0);
    assert_int_equal(LAST(t, FL_PKT_DST_PORT, uint16_t), 8 << 8);
}

/* A fragmented echo request (ping -s 3000): the later fragments take the
 * identifier and the hash of the first, as they take ports for UDP. */
static void test_icmp_fragments(void **state)
{
    struct t *t = *state;
    struct fr f = {0};
    eth(&f, 0x0800);
    ip4x(&f, 1, "10.0.0.1", "10.0.0.2", 0, 0x2000, 91);
    icmpq(&f, 8, 0, 0x0abc, 1);
    payload(&f, 1472);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    assert_int_equal(LAST(t, FL_PKT_ICMP_ID, uint16_t), 0x0abc);
    uint64_t h = LAST(t, FL_PKT_FLOW_HASH, uint64_t);
    memset(&f, 0, sizeof f);
    eth(&f, 0x0800);
    ip4x(&f, 1, "10.0.0.1", "10.0.0.2", 0, 185, 91);
    payload(&f, 1000);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 1, "10.0.0.1", 0, "10.0.0.2", 8 << 8);
    assert_int_equal(LAST(t, FL_PKT_ICMP_ID, uint16_t), 0x0abc);
    assert_true(LAST(t, FL_PKT_FLOW_HASH, uint64_t) == h);
    /* and the (unfragmented) reply pairs with them */
    assert_true(icmp_row(t, 0, "10.0.0.2", "10.0.0.1", 0, 0x0abc, 0x0abc) == h);
}

static void test_other_protocols(void **state)
{
    struct t *t = *state;
    struct fr f = {0};
    /* GRE without decap: the outer flow, ports 0, the whole payload */
    eth(&f, 0x0800);
    ip4(&f, 47, "10.0.0.1", "10.0.0.2");
    put16(&f, 0);
    put16(&f, 0x0800);
    ip4(&f, 6, "192.168.0.1", "192.168.0.2");
    tcp(&f, 1, 2, 0x02, 0);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 47, "10.0.0.1", 0, "10.0.0.2", 0);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 4 + 40);

    /* SCTP keeps its ports */
    memset(&f, 0, sizeof f);
    eth(&f, 0x0800);
    ip4(&f, 132, "10.0.0.1", "10.0.0.2");
    put16(&f, 2905);
    put16(&f, 2906);
    put32(&f, 1);
    put32(&f, 0);
    payload(&f, 16);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 132, "10.0.0.1", 2905, "10.0.0.2", 2906);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 16);
}

/* ---- drop reasons ------------------------------------------------------ */

static void test_bad_ip(void **state)
{
    struct t *t = *state;
    struct fr f;

    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 10);
    f.b[14] = 0x55;             /* version 5 */
    expect_drop(t, 1, &f, FL_DROP_BAD_IP);
    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 10);
    f.b[14] = 0x44;             /* IHL 4 */
    expect_drop(t, 1, &f, FL_DROP_BAD_IP);
    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 10);
    f.b[16] = 0;
    f.b[17] = 19;               /* total length below the header */
    expect_drop(t, 1, &f, FL_DROP_BAD_IP);
    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 10);
    f.b[14] = 0x4f;             /* 60-byte header, total length 50 */
    expect_drop(t, 1, &f, FL_DROP_BAD_IP);

    memset(&f, 0, sizeof f);
    eth(&f, 0x86dd);
    ip6(&f, 17, "::1", "::2");
    udp(&f, 1, 2);
    fin(&f);
    f.b[14] = 0x40;
    expect_drop(t, 1, &f, FL_DROP_BAD_IP);
}

static void test_bad_l4(void **state)
{
    struct t *t = *state;
    struct fr f;

    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 10);
    f.b[14 + 20 + 12] = 0x40;   /* data offset 4 */
    expect_drop(t, 1, &f, FL_DROP_BAD_L4);
    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 10);
    f.b[14 + 20 + 12] = 0xf0;   /* data offset 60 > 30 bytes of TCP */
    expect_drop(t, 1, &f, FL_DROP_BAD_L4);

    /* IP says 10 bytes of TCP */
    memset(&f, 0, sizeof f);
    eth(&f, 0x0800);
    ip4(&f, 6, "10.0.0.1", "10.0.0.2");
    zeros(&f, 10);
    fin(&f);
    expect_drop(t, 1, &f, FL_DROP_BAD_L4);

    /* UDP length below 8 and beyond the IP payload */
    memset(&f, 0, sizeof f);
    eth(&f, 0x0800);
    ip4(&f, 17, "10.0.0.1", "10.0.0.2");
    udp(&f, 1, 2);
    payload(&f, 4);
    fin(&f);
    f.b[14 + 20 + 4] = 0;
    f.b[14 + 20 + 5] = 7;
    expect_drop(t, 1, &f, FL_DROP_BAD_L4);
    f.b[14 + 20 + 5] = 13;
    expect_drop(t, 1, &f, FL_DROP_BAD_L4);
    f.b[14 + 20 + 5] = 12;
    assert_int_equal(dec(t, &f), 1);
    f.b[14 + 20 + 5] = 9;       /* shorter than the IP payload: IP decides */
    assert_int_equal(dec(t, &f), 1);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 4);
}

static void test_truncated(void **state)
{
    struct t *t = *state;
    struct fr f;

    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 10);
    f.n = 10;
    expect_drop(t, 1, &f, FL_DROP_TRUNCATED);
    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 10);
    f.n = 14 + 19;
    expect_drop(t, 1, &f, FL_DROP_TRUNCATED);
    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 10);
    f.n = 14 + 20 + 13;         /* the flags byte is missing */
    expect_drop(t, 1, &f, FL_DROP_TRUNCATED);
}

/* A snaplen-cut frame still counts lengths from the IP headers. */
static void test_snaplen(void **state)
{
    struct t *t = *state;
    struct fr f;
    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 1400);
    assert_int_equal(fl_decode(t->d, 1, 5, f.b, 68, (uint32_t)f.n, t->b), 1);
    assert_int_equal(LAST(t, FL_PKT_IP_LEN, uint32_t), 1440);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 1400);
    assert_int_equal(LAST(t, FL_PKT_FRAME_LEN, uint32_t), f.n);
    assert_int_equal(notes(t, FL_NOTE_IP_TRUNCATED), 1);

    /* IPv6 with an extension header, cut right after the TCP flags */
    memset(&f, 0, sizeof f);
    eth(&f, 0x86dd);
    ip6(&f, 60, "::1", "::2");
    ext6(&f, 6, 0);
    tcp(&f, 80, 1025, 0x11, 3);
    payload(&f, 500);
    fin(&f);
    assert_int_equal(fl_decode(t->d, 1, 5, f.b, 14 + 40 + 8 + 14, (uint32_t)f.n, t->b), 1);
    last_is(t, 6, 6, "::1", 80, "::2", 1025);
    assert_int_equal(LAST(t, FL_PKT_TCP_FLAGS, uint8_t), 0x11);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 500);
    assert_int_equal(notes(t, FL_NOTE_IP_TRUNCATED), 2);
}

/* Total length 0: a TSO/GSO super-packet seen on the sending host. */
static void test_tso_zero_length(void **state)
{
    struct t *t = *state;
    struct fr f;
    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 1000);
    f.b[16] = f.b[17] = 0;
    assert_int_equal(fl_decode(t->d, 1, 5, f.b, 200, 60000, t->b), 1);
    assert_int_equal(LAST(t, FL_PKT_IP_LEN, uint32_t), 60000 - 14);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 60000 - 14 - 40);

    /* and an IPv6 jumbogram, hop-by-hop first */
    memset(&f, 0, sizeof f);
    eth(&f, 0x86dd);
    ip6(&f, 0, "::1", "::2");
    ext6(&f, 6, 0);
    tcp(&f, 1, 2, 0x10, 0);
    fin(&f);
    f.b[18] = f.b[19] = 0;
    assert_int_equal(fl_decode(t->d, 1, 5, f.b, (uint32_t)f.n, 100000, t->b), 1);
    assert_int_equal(LAST(t, FL_PKT_IP_LEN, uint32_t), 100000 - 14);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 100000 - 14 - 40 - 8 - 20);
}

/* Every prefix of each frame, from a buffer of exactly that many bytes:
 * decoded or counted, never read beyond (ASan) and never a crash. */
static void test_every_prefix(void **state)
{
    struct t *t = *state;
    struct fr frames[6];
    int lts[6];
    memset(frames, 0, sizeof frames);

    tcp4(&frames[0], "10.0.0.1", 1, "10.0.0.2", 2, 3);
    lts[0] = 1;
    eth(&frames[1], 0x8100);
    vlan(&frames[1], 5, 0x8847);
    mpls(&frames[1], 9, 1);
    ip6(&frames[1], 0, "::1", "::2");
    ext6(&frames[1], 44, 0);
    frag6(&frames[1], 17, 0, 1, 77);
    udp(&frames[1], 3, 4);
    fin(&frames[1]);
    lts[1] = 1;
    eth(&frames[2], 0x8864);
    put8(&frames[2], 0x11);
    put8(&frames[2], 0);
    put16(&frames[2], 1);
    put16(&frames[2], 0);
    put16(&frames[2], 0x0021);
    ip4x(&frames[2], 1, "1.1.1.1", "2.2.2.2", 2, 0, 3);
    icmp(&frames[2], 8, 0);
    fin(&frames[2]);
    lts[2] = 1;
    put16(&frames[3], 0x0800);
    zeros(&frames[3], 18);
    ip4(&frames[3], 47, "1.1.1.1", "2.2.2.2");
    put16(&frames[3], 0x2000);
    put16(&frames[3], 0x6558);
    put32(&frames[3], 99);
    eth(&frames[3], 0x0800);
    ip4(&frames[3], 6, "3.3.3.3", "4.4.4.4");
    tcp(&frames[3], 5, 6, 2, 1);
    fin(&frames[3]);
    lts[3] = FL_DLT_LINUX_SLL2;
    put32(&frames[4], 0x02000000);
    ip4(&frames[4], 17, "1.1.1.1", "2.2.2.2");
    udp(&frames[4], 1, 4789);
    put32(&frames[4], 0x08000000);
    put32(&frames[4], 0x00010000);
    eth(&frames[4], 0x86dd);
    ip6(&frames[4], 132, "::5", "::6");
    zeros(&frames[4], 12);
    fin(&frames[4]);
    lts[4] = FL_DLT_LOOP;
    put8(&frames[5], 0xff);
    put8(&frames[5], 0x03);
    put16(&frames[5], 0x0281);
    mpls(&frames[5], 1, 1);
    ip4(&frames[5], 41, "1.1.1.1", "2.2.2.2");
    ip6(&frames[5], 58, "::7", "::8");
    icmp(&frames[5], 1, 4);
    fin(&frames[5]);
    lts[5] = FL_DLT_PPP;

    for (int decap = 0; decap < 2; decap++) {
        struct t *u = t_new(decap, 0);
        for (unsigned i = 0; i < 6; i++) {
            uint64_t before[FL_DROP_COUNT], after[FL_DROP_COUNT];
            fl_decoder_totals(u->d, before, NULL);
            uint32_t rows0 = u->b->rows;
            for (size_t len = 0; len <= frames[i].n; len++) {
                uint8_t *buf = malloc(len ? len : 1);
                assert_non_null(buf);
                memcpy(buf, frames[i].b, len);
                int rc = fl_decode(u->d, lts[i], 1, buf, (uint32_t)len, (uint32_t)frames[i].n, u->b);
                assert_true(rc == 0 || rc == 1);
                free(buf);
            }
            fl_decoder_totals(u->d, after, NULL);
            uint64_t dropped = 0;
            for (int r = 0; r < FL_DROP_COUNT; r++)
                dropped += after[r] - before[r];
            /* every prefix is accounted for, and the whole frame decodes */
            assert_int_equal(dropped + (u->b->rows - rows0), frames[i].n + 1);
            assert_true(u->b->rows > rows0);
        }
        t_free(&u);
    }
    (void)t;
}

/* ---- fragments --------------------------------------------------------- */

static void frag4(struct fr *f, unsigned id, unsigned fo, int with_udp, size_t n)
{
    memset(f, 0, sizeof *f);
    eth(f, 0x0800);
    ip4x(f, 17, "10.0.0.1", "10.0.0.2", 0, fo, id);
    if (with_udp) {
        udp(f, 4444, 5555);
        payload(f, n);
        fin(f);
        /* the UDP length covers the whole datagram, beyond this fragment */
        size_t o = f->udp[0];
        f->b[o + 4] = 0x10;
        f->b[o + 5] = 0;
    } else {
        payload(f, n);
        fin(f);
    }
}

static void test_fragments_ip4(void **state)
{
    struct t *t = *state;
    struct fr f;

    frag4(&f, 77, 0x2000, 1, 1472);         /* first, MF */
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 17, "10.0.0.1", 4444, "10.0.0.2", 5555);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 1472);
    uint64_t h = LAST(t, FL_PKT_FLOW_HASH, uint64_t);
    frag4(&f, 77, 0x2000 | 185, 0, 1480);   /* middle */
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 17, "10.0.0.1", 4444, "10.0.0.2", 5555);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 1480);
    assert_int_equal(LAST(t, FL_PKT_FLOW_HASH, uint64_t), h);
    frag4(&f, 77, 370, 0, 100);             /* last */
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 17, "10.0.0.1", 4444, "10.0.0.2", 5555);
    assert_int_equal(LAST(t, FL_PKT_TCP_FLAGS, uint8_t), 0);
    frag4(&f, 78, 370, 0, 100);             /* another datagram, first never seen */
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 17, "10.0.0.1", 0, "10.0.0.2", 0);
    assert_int_equal(notes(t, FL_NOTE_FRAGMENTS), 4);
    assert_int_equal(notes(t, FL_NOTE_FRAG_UNJOINED), 1);

    /* DF alone is not a fragment */
    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 0);
    assert_int_equal(dec(t, &f), 1);
    assert_int_equal(notes(t, FL_NOTE_FRAGMENTS), 4);
}

static void test_fragments_ip6(void **state)
{
    struct t *t = *state;
    struct fr f = {0};

    eth(&f, 0x86dd);
    ip6(&f, 44, "2001:db8::1", "2001:db8::2");
    frag6(&f, 60, 0, 1, 0xdeadbeef);
    ext6(&f, 6, 0);             /* destination options inside the fragmentable part */
    tcp(&f, 8080, 443, 0x10, 0);
    payload(&f, 100);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 6, 6, "2001:db8::1", 8080, "2001:db8::2", 443);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 100);

    memset(&f, 0, sizeof f);
    eth(&f, 0x86dd);
    ip6(&f, 44, "2001:db8::1", "2001:db8::2");
    frag6(&f, 60, 136, 0, 0xdeadbeef);
    payload(&f, 50);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 6, 6, "2001:db8::1", 8080, "2001:db8::2", 443);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 50);

    f.b[14 + 40 + 4] ^= 1;      /* another id */
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 6, 60, "2001:db8::1", 0, "2001:db8::2", 0);
    assert_int_equal(notes(t, FL_NOTE_FRAGMENTS), 3);
    assert_int_equal(notes(t, FL_NOTE_FRAG_UNJOINED), 1);

    /* an atomic fragment (offset 0, no M) is a whole packet */
    memset(&f, 0, sizeof f);
    eth(&f, 0x86dd);
    ip6(&f, 44, "2001:db8::1", "2001:db8::2");
    frag6(&f, 17, 0, 0, 1);
    udp(&f, 1, 2);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 6, 17, "2001:db8::1", 1, "2001:db8::2", 2);
    assert_int_equal(notes(t, FL_NOTE_FRAGMENTS), 3);
}

/* The table is bounded: far more open datagrams than slots push the oldest
 * out, the newest stay joinable. */
static void test_fragment_table_bounded(void **state)
{
    struct t *t = t_new(0, 64);
    struct fr f;
    (void)state;
    for (unsigned id = 0; id < 1000; id++) {
        frag4(&f, id, 0x2000, 1, 8);
        assert_int_equal(dec(t, &f), 1);
    }
    frag4(&f, 999, 1, 0, 8);
    assert_int_equal(dec(t, &f), 1);
    assert_int_equal(LAST(t, FL_PKT_SRC_PORT, uint16_t), 4444);
    frag4(&f, 0, 1, 0, 8);
    assert_int_equal(dec(t, &f), 1);
    assert_int_equal(LAST(t, FL_PKT_SRC_PORT, uint16_t), 0);
    assert_int_equal(notes(t, FL_NOTE_FRAG_UNJOINED), 1);
    t_free(&t);

    struct fl_decoder *d = NULL;
    struct fl_decoder_opts o = {.frag_slots = 0xffffffffu};
    assert_int_equal(fl_decoder_new(&o, sizeof(o), &d), -FL_ERANGE);
    assert_null(d);
}

/* ---- the hash ---------------------------------------------------------- */

static void test_flow_hash_symmetric(void **state)
{
    struct t *t = *state;
    struct fr f;
    uint64_t h[6];
    tcp4(&f, "10.0.0.1", 40000, "10.0.0.2", 80, 0);
    assert_int_equal(dec(t, &f), 1);
    h[0] = LAST(t, FL_PKT_FLOW_HASH, uint64_t);
    tcp4(&f, "10.0.0.2", 80, "10.0.0.1", 40000, 0);
    assert_int_equal(dec(t, &f), 1);
    h[1] = LAST(t, FL_PKT_FLOW_HASH, uint64_t);
    tcp4(&f, "10.0.0.1", 40001, "10.0.0.2", 80, 0);
    assert_int_equal(dec(t, &f), 1);
    h[2] = LAST(t, FL_PKT_FLOW_HASH, uint64_t);
    tcp4(&f, "10.0.0.1", 80, "10.0.0.2", 40000, 0);    /* ports crossed */
    assert_int_equal(dec(t, &f), 1);
    h[3] = LAST(t, FL_PKT_FLOW_HASH, uint64_t);
    memset(&f, 0, sizeof f);
    eth(&f, 0x0800);
    ip4(&f, 17, "10.0.0.1", "10.0.0.2");
    udp(&f, 40000, 80);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    h[4] = LAST(t, FL_PKT_FLOW_HASH, uint64_t);
    memset(&f, 0, sizeof f);
    eth(&f, 0x86dd);
    ip6(&f, 6, "2001:db8::2", "2001:db8::1");
    tcp(&f, 80, 40000, 0x10, 0);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    h[5] = LAST(t, FL_PKT_FLOW_HASH, uint64_t);
    assert_true(h[0] == h[1]);
    assert_true(h[0] != h[2]);
    assert_true(h[0] != h[3]);
    assert_true(h[0] != h[4]);
    assert_true(h[0] != h[5]);
}

/* Over many random tuples: symmetric, and spread over the low bits a
 * power-of-two table uses. */
static void test_flow_hash_spread(void **state)
{
    struct t *t = t_new(0, 0);
    struct fr f;
    unsigned buckets[256] = {0};
    uint32_t x = 12345;
    (void)state;
    for (int i = 0; i < 4096; i++) {
        char a[32], b[32];
        x = x * 1103515245 + 12345;
        snprintf(a, sizeof a, "10.%u.%u.%u", x >> 24, (x >> 16) & 255, (x >> 8) & 255);
        x = x * 1103515245 + 12345;
        snprintf(b, sizeof b, "192.168.%u.%u", x >> 24, (x >> 16) & 255);
        tcp4(&f, a, 1024 + (x & 0x7fff), b, 443, 0);
        assert_int_equal(dec(t, &f), 1);
        uint64_t h1 = LAST(t, FL_PKT_FLOW_HASH, uint64_t);
        tcp4(&f, b, 443, a, 1024 + (x & 0x7fff), 0);
        assert_int_equal(dec(t, &f), 1);
        assert_true(h1 == LAST(t, FL_PKT_FLOW_HASH, uint64_t));
        buckets[h1 & 255]++;
    }
    for (int i = 0; i < 256; i++)
        assert_true(buckets[i] > 2 && buckets[i] < 40);   /* mean 16 */
    t_free(&t);
}

/* ---- decapsulation ----------------------------------------------------- */

static void gre_frame(struct fr *f, unsigned flags, unsigned ptype, int inner_eth)
{
    memset(f, 0, sizeof *f);
    eth(f, 0x8100);
    vlan(f, 10, 0x0800);
    ip4(f, 47, "10.0.0.1", "10.0.0.2");
    put16(f, flags);
    put16(f, ptype);
    if (flags & 0x8000)
        put32(f, 0);
    if (flags & 0x2000)
        put32(f, 42);
    if (flags & 0x1000)
        put32(f, 7);
    if (inner_eth)
        eth(f, 0x0800);
    ip4(f, 6, "192.168.0.1", "192.168.0.2");
    tcp(f, 1111, 2222, 0x02, 0);
    payload(f, 9);
    fin(f);
}

static void test_decap_gre(void **state)
{
    struct t *t = *state;
    struct fr f;
    gre_frame(&f, 0, 0x0800, 0);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 6, "192.168.0.1", 1111, "192.168.0.2", 2222);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 9);
    assert_int_equal(LAST(t, FL_PKT_IP_LEN, uint32_t), 49);
    assert_int_equal(LAST(t, FL_PKT_VLAN, uint16_t), 10);
    assert_int_equal(LAST(t, FL_PKT_FRAME_LEN, uint32_t), f.n);
    gre_frame(&f, 0xb000, 0x0800, 0);           /* checksum, key, sequence */
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 6, "192.168.0.1", 1111, "192.168.0.2", 2222);
    gre_frame(&f, 0x2000, 0x6558, 1);           /* bridged Ethernet */
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 6, "192.168.0.1", 1111, "192.168.0.2", 2222);
    /* ERSPAN type II: sequence number, then its own 8-byte header */
    memset(&f, 0, sizeof f);
    eth(&f, 0x0800);
    ip4(&f, 47, "10.0.0.1", "10.0.0.2");
    put16(&f, 0x1000);
    put16(&f, 0x88be);
    put32(&f, 1);
    zeros(&f, 8);
    eth(&f, 0x0800);
    ip4(&f, 17, "192.168.0.1", "192.168.0.2");
    udp(&f, 53, 53);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 17, "192.168.0.1", 53, "192.168.0.2", 53);

    /* what the tunnel carries is not IP, or is cut: the outer flow stays */
    memset(&f, 0, sizeof f);
    eth(&f, 0x0800);
    ip4(&f, 47, "10.0.0.1", "10.0.0.2");
    put16(&f, 0);
    put16(&f, 0x6558);
    eth(&f, 0x0806);
    zeros(&f, 28);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 47, "10.0.0.1", 0, "10.0.0.2", 0);
    gre_frame(&f, 0, 0x0800, 0);
    assert_int_equal(fl_decode(t->d, 1, 1, f.b, 18 + 20 + 4 + 30, (uint32_t)f.n, t->b), 1);
    last_is(t, 4, 47, "10.0.0.1", 0, "10.0.0.2", 0);
    gre_frame(&f, 0x0001, 0x880b, 0);            /* version 1 without its key */
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 47, "10.0.0.1", 0, "10.0.0.2", 0);

    /* PPTP: enhanced GRE with key, sequence and acknowledgment, then PPP */
    memset(&f, 0, sizeof f);
    eth(&f, 0x0800);
    ip4(&f, 47, "10.0.0.1", "10.0.0.2");
    put16(&f, 0x3081);
    put16(&f, 0x880b);
    put32(&f, 0x00200001);
    put32(&f, 5);
    put32(&f, 4);
    put8(&f, 0xff);
    put8(&f, 0x03);
    put16(&f, 0x0021);
    ip4(&f, 17, "192.168.10.1", "192.168.103.40");
    udp(&f, 5060, 5060);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 17, "192.168.10.1", 5060, "192.168.103.40", 5060);
    uint64_t d[FL_DROP_COUNT];
    fl_decoder_totals(t->d, d, NULL);
    for (int r = 0; r < FL_DROP_COUNT; r++)
        assert_int_equal(d[r], 0);
}

static void test_decap_vxlan_ipip(void **state)
{
    struct t *t = *state;
    struct fr f = {0};
    eth(&f, 0x0800);
    ip4(&f, 17, "10.0.0.1", "10.0.0.2");
    udp(&f, 50000, 4789);
    put32(&f, 0x08000000);
    put32(&f, 0x00123400);
    eth(&f, 0x8100);
    vlan(&f, 33, 0x86dd);
    ip6(&f, 17, "2001:db8::a", "2001:db8::b");
    udp(&f, 1000, 2000);
    payload(&f, 3);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 6, 17, "2001:db8::a", 1000, "2001:db8::b", 2000);
    assert_int_equal(LAST(t, FL_PKT_PAYLOAD_LEN, uint32_t), 3);
    assert_int_equal(LAST(t, FL_PKT_VLAN, uint16_t), 33);   /* the only one seen */

    memset(&f, 0, sizeof f);
    eth(&f, 0x86dd);
    ip6(&f, 4, "2001:db8::1", "2001:db8::2");
    ip4(&f, 41, "10.1.0.1", "10.1.0.2");
    ip6(&f, 6, "2001:db8::c", "2001:db8::d");
    tcp(&f, 1, 2, 0x04, 0);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 6, 6, "2001:db8::c", 1, "2001:db8::d", 2);
    assert_int_equal(LAST(t, FL_PKT_TCP_FLAGS, uint8_t), 0x04);

    /* without decap, the same frame is the outer flow */
    struct t *u = t_new(0, 0);
    assert_int_equal(dec(u, &f), 1);
    last_is(u, 6, 4, "2001:db8::1", 0, "2001:db8::2", 0);
    t_free(&u);

    /* nesting beyond the bound stops at the deepest allowed level */
    memset(&f, 0, sizeof f);
    eth(&f, 0x0800);
    for (int i = 0; i < 8; i++)
        ip4(&f, 4, "10.0.0.1", "10.0.0.2");
    ip4(&f, 17, "10.0.0.3", "10.0.0.4");
    udp(&f, 1, 2);
    fin(&f);
    assert_int_equal(dec(t, &f), 1);
    last_is(t, 4, 4, "10.0.0.1", 0, "10.0.0.2", 0);
}

/* ---- counters ---------------------------------------------------------- */

static void test_flush_counters(void **state)
{
    struct t *t = *state;
    struct fl_ctx *c = fl_test_ctx_new();
    struct fr f;
    assert_non_null(c);

    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 10);
    f.n = 20;
    dec(t, &f);
    dec(t, &f);
    memset(&f, 0, sizeof f);
    eth(&f, 0x0806);
    zeros(&f, 28);
    dec(t, &f);
    dec_lt(t, 147, &f);
    frag4(&f, 1, 5, 0, 8);
    dec(t, &f);
    fl_decoder_flush(t->d, c);
    assert_int_equal(fl_counter_get(c, "drop_truncated"), 2);
    assert_int_equal(fl_counter_get(c, "drop_not_ip"), 1);
    assert_int_equal(fl_counter_get(c, "unsupported_linktype"), 1);
    assert_int_equal(fl_counter_get(c, "fragments"), 1);
    assert_int_equal(fl_counter_get(c, "frag_unjoined"), 1);
    assert_int_equal(fl_counter_get(c, "drop_bad_ip"), 0);
    /* a flush adds only what is new */
    dec_lt(t, 147, &f);
    fl_decoder_flush(t->d, c);
    fl_decoder_flush(t->d, c);
    assert_int_equal(fl_counter_get(c, "unsupported_linktype"), 2);
    assert_int_equal(fl_counter_get(c, "drop_truncated"), 2);
    fl_test_ctx_destroy(&c);

    static const char *const names[FL_DROP_COUNT] = {
        "drop_truncated", "drop_not_ip", "unsupported_linktype", "drop_bad_ip",
        "drop_bad_l4", "drop_bad_exthdr", "drop_encrypted", "drop_not_data", "drop_bad_link"};
    for (int r = 0; r < FL_DROP_COUNT; r++)
        assert_string_equal(fl_decode_reason_name(r), names[r]);
}

static void test_full_batch(void **state)
{
    struct fl_batch *b;
    struct fl_decoder *d;
    struct fr f;
    (void)state;
    assert_int_equal(fl_batch_new(ctx, schema, 2, &b), 0);
    assert_int_equal(fl_decoder_new(NULL, 0, &d), 0);
    tcp4(&f, "10.0.0.1", 1, "10.0.0.2", 2, 10);
    assert_int_equal(fl_decode(d, 1, 1, f.b, (uint32_t)f.n, (uint32_t)f.n, b), 1);
    assert_int_equal(fl_decode(d, 1, 1, f.b, (uint32_t)f.n, (uint32_t)f.n, b), 1);
    assert_int_equal(fl_decode(d, 1, 1, f.b, (uint32_t)f.n, (uint32_t)f.n, b), -FL_EFULL);
    assert_int_equal(b->rows, 2);
    fl_decoder_destroy(&d);
    fl_decoder_destroy(&d);
    fl_batch_release(&b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TD(fn) cmocka_unit_test_setup_teardown(fn, setup_decap, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_schema),
        T(test_eth_ip4_tcp),
        T(test_time_range),
        T(test_ip4_options_tcp_options),
        T(test_ethernet_padding),
        T(test_ip6_udp),
        T(test_ip6_ext_chain),
        T(test_ip6_no_next_header_and_esp),
        T(test_ip6_bad_ext),
        T(test_vlan_qinq),
        T(test_mpls),
        T(test_pppoe),
        T(test_llc_snap),
        T(test_linktypes),
        T(test_not_ip),
        T(test_icmp),
        T(test_icmp_pairs),
        T(test_icmp_fragments),
        T(test_other_protocols),
        T(test_bad_ip),
        T(test_bad_l4),
        T(test_truncated),
        T(test_snaplen),
        T(test_tso_zero_length),
        T(test_every_prefix),
        T(test_fragments_ip4),
        T(test_fragments_ip6),
        T(test_fragment_table_bounded),
        T(test_flow_hash_symmetric),
        T(test_flow_hash_spread),
        TD(test_decap_gre),
        TD(test_decap_vxlan_ipip),
        T(test_flush_counters),
        T(test_full_batch),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
