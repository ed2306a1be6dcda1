/* test_stats.c: aggregate.stats through the plugin harness on hand-made
 * records: the class of a record (service port, else the other port;
 * protocol-specific entries before any-protocol ones), the service port
 * of flows (dst) and of packets (the lower), packets of sampled input,
 * hopping windows, closing on the clock, top_n: 0, and the diagnostics of
 * the classes: option. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <flowline/plugin.h>
#include "fl_harness.h"

#define S 1000000000ull
#define T0 (1700000040ull * S)   /* a whole minute */

struct rec {
    uint64_t t;
    uint8_t proto;
    uint32_t src, dst;           /* IPv4 */
    uint16_t sport, dport;
    uint64_t packets, bytes;     /* flows; packets: bytes = ip_len */
    uint32_t rate;               /* packets: sampling_rate */
};

static struct fl_addr v4(uint32_t a)
{
    struct fl_addr x = { { 0 } };
    x.b[10] = x.b[11] = 0xff;
    x.b[12] = (uint8_t)(a >> 24);
    x.b[13] = (uint8_t)(a >> 16);
    x.b[14] = (uint8_t)(a >> 8);
    x.b[15] = (uint8_t)a;
    return x;
}

static const struct fl_col_def flow_cols[] = {
    { "flow_end", FL_T_TS }, { "proto", FL_T_U8 }, { "src_addr", FL_T_ADDR },
    { "dst_addr", FL_T_ADDR }, { "src_port", FL_T_U16 }, { "dst_port", FL_T_U16 },
    { "packets", FL_T_U64 }, { "bytes", FL_T_U64 } };
static const struct fl_col_def pkt_cols[] = {
    { "ts", FL_T_TS }, { "proto", FL_T_U8 }, { "src_addr", FL_T_ADDR },
    { "dst_addr", FL_T_ADDR }, { "src_port", FL_T_U16 }, { "dst_port", FL_T_U16 },
    { "ip_len", FL_T_U32 }, { "sampling_rate", FL_T_U32 } };

static struct fl_ctx *g_ctx;

static const struct fl_schema *schema(bool flows)
{
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(g_ctx, flows ? flow_cols : pkt_cols, 8,
                                      sizeof(flow_cols[0]), &s), 0);
    return s;
}

static struct fl_harness *stage(const char *yaml, bool flows)
{
    struct fl_harness *h = NULL;
    assert_int_equal(fl_harness_new("aggregate.stats", yaml, schema(flows), &h), 0);
    return h;
}

static void push(struct fl_harness *h, bool flows, const struct rec *r, uint32_t n)
{
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(fl_harness_ctx(h), schema(flows), n, &b), 0);
    for (uint32_t i = 0; i < n; i++) {
        FL_COL(b, 0, uint64_t)[i] = r[i].t;
        FL_COL(b, 1, uint8_t)[i] = r[i].proto;
        FL_COL(b, 2, struct fl_addr)[i] = v4(r[i].src);
        FL_COL(b, 3, struct fl_addr)[i] = v4(r[i].dst);
        FL_COL(b, 4, uint16_t)[i] = r[i].sport;
        FL_COL(b, 5, uint16_t)[i] = r[i].dport;
        if (flows) {
            FL_COL(b, 6, uint64_t)[i] = r[i].packets;
            FL_COL(b, 7, uint64_t)[i] = r[i].bytes;
        } else {
            FL_COL(b, 6, uint32_t)[i] = (uint32_t)r[i].bytes;
            FL_COL(b, 7, uint32_t)[i] = r[i].rate;
        }
    }
    b->rows = n;
    assert_int_equal(fl_harness_push(h, b), 0);
    fl_batch_release(&b);
}

/* The row of port `port` whose column `col` (a str, or a number) is key,
 * in the window starting at start: its flows, packets, bytes. */
static bool find(struct fl_harness *h, const char *port, uint64_t start, const char *col,
                 const char *key, uint64_t q[3])
{
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        struct fl_batch *b = fl_harness_out(h, i);
        if (strcmp(fl_harness_out_port(h, i), port))
            continue;
        int c = col ? fl_schema_find(b->schema, col) : -1;
        int f = fl_schema_find(b->schema, "flows");
        assert_true(f > 0);
        for (uint32_t r = 0; r < b->rows; r++) {
            if (FL_COL(b, 0, uint64_t)[r] != start)
                continue;
            if (c >= 0) {
                char buf[64];
                enum fl_type t = b->schema->cols[c]->type;
                if (t == FL_T_STR) {
                    struct fl_span s = FL_COL(b, c, struct fl_span)[r];
                    snprintf(buf, sizeof(buf), "%.*s", (int)s.len, fl_batch_bytes(b, s));
                } else if (t == FL_T_U8) {
                    snprintf(buf, sizeof(buf), "%u", FL_COL(b, c, uint8_t)[r]);
                } else {
                    snprintf(buf, sizeof(buf), "%u", FL_COL(b, c, uint16_t)[r]);
                }
                if (strcmp(buf, key))
                    continue;
            }
            for (int k = 0; k < 3; k++)
                q[k] = FL_COL(b, f + k, uint64_t)[r];
            return true;
        }
    }
    return false;
}

static void expect(struct fl_harness *h, const char *port, uint64_t start, const char *col,
                   const char *key, uint64_t flows, uint64_t packets, uint64_t bytes)
{
    uint64_t q[3];
    if (!find(h, port, start, col, key, q))
        fail_msg("no %s row %s=%s", port, col ? col : "", key ? key : "");
    assert_int_equal(q[0], flows);
    assert_int_equal(q[1], packets);
    assert_int_equal(q[2], bytes);
}

/* Flow records: the service port is dst_port, else the other port when
 * only that one is in a class (a flow first seen at the server). */
static void test_flow_classes(void **st)
{
    (void)st;
    struct fl_harness *h = stage("{windows: [1m], top_n: 10}", true);
    const struct rec r[] = {
        { T0 + 1, 6, 0x0a000001, 0x0a000002, 50000, 80, 10, 1000, 0 },    /* http */
        { T0 + 2, 6, 0x0a000002, 0x0a000001, 443, 50001, 4, 400, 0 },     /* https, by src */
        { T0 + 3, 17, 0x0a000001, 0x0a000003, 40000, 53, 2, 150, 0 },    /* dns, any proto */
        { T0 + 4, 17, 0x0a000001, 0x0a000004, 40001, 443, 6, 600, 0 },   /* https over QUIC */
        { T0 + 5, 1, 0x0a000001, 0x0a000004, 0, 0x0800, 2, 168, 0 },     /* ICMP: other */
        { T0 + 6, 6, 0x0a000001, 0x0a000005, 1234, 5678, 3, 300, 0 },    /* other, port 5678 */
        { T0 + 7, 6, 0x0a000001, 0x0a000002, 50002, 8080, 1, 60, 0 },    /* http */
    };
    push(h, true, r, 7);
    assert_int_equal(fl_harness_drain(h), 0);
    expect(h, "totals", T0, NULL, NULL, 7, 28, 2678);
    expect(h, "classes", T0, "class", "http", 2, 11, 1060);
    expect(h, "classes", T0, "class", "https", 2, 10, 1000);
    expect(h, "classes", T0, "class", "dns", 1, 2, 150);
    expect(h, "classes", T0, "class", "ssh", 0, 0, 0);
    expect(h, "classes", T0, "class", "other", 2, 5, 468);
    expect(h, "protocols", T0, "proto", "6", 4, 18, 1760);
    expect(h, "protocols", T0, "proto", "1", 1, 2, 168);
    expect(h, "top_ports", T0, "port", "80", 1, 10, 1000);
    expect(h, "top_ports", T0, "port", "53", 1, 2, 150);
    expect(h, "top_ports", T0, "port", "5678", 1, 3, 300);
    uint64_t q[3];
    assert_false(find(h, "top_ports", T0, "port", "50001", q));
    assert_false(find(h, "top_ports", T0, "port", "2048", q));   /* ICMP has no port */
    fl_harness_destroy(&h);
}

/* Protocol-specific ports come before ports of any protocol. */
static void test_class_precedence(void **st)
{
    (void)st;
    struct fl_harness *h = stage("{windows: [1m], classes: {dnsish: [53], alt: [udp/53, "
                                 "udp/1000-1010], web: 80}}", true);
    const struct rec r[] = {
        { T0, 17, 1, 2, 40000, 53, 1, 100, 0 },   /* alt */
        { T0, 6, 1, 2, 40000, 53, 1, 100, 0 },    /* dnsish */
        { T0, 17, 1, 2, 40000, 1005, 1, 100, 0 }, /* alt, range */
        { T0, 132, 1, 2, 40000, 80, 1, 100, 0 },  /* web (SCTP has ports) */
    };
    push(h, true, r, 4);
    assert_int_equal(fl_harness_drain(h), 0);
    expect(h, "classes", T0, "class", "alt", 2, 2, 200);
    expect(h, "classes", T0, "class", "dnsish", 1, 1, 100);
    expect(h, "classes", T0, "class", "web", 1, 1, 100);
    expect(h, "classes", T0, "class", "other", 0, 0, 0);
    fl_harness_destroy(&h);
}

/* Packet records: packets = 1 (times the sampling rate), bytes = ip_len,
 * flows = 0; the service port is the lower one, either direction. */
static void test_packets(void **st)
{
    (void)st;
    struct fl_harness *h = stage("{windows: [1m]}", false);
    const struct rec r[] = {
        { T0 + 1, 6, 0x0a000001, 0x0a000002, 50000, 443, 0, 60, 0 },
        { T0 + 2, 6, 0x0a000002, 0x0a000001, 443, 50000, 0, 1500, 0 },
        { T0 + 3, 17, 0x0a000001, 0x0a000003, 40000, 4000, 0, 100, 10 },   /* sampled 1:10 */
    };
    push(h, false, r, 3);
    assert_int_equal(fl_harness_drain(h), 0);
    expect(h, "totals", T0, NULL, NULL, 0, 12, 2560);
    expect(h, "classes", T0, "class", "https", 0, 2, 1560);
    expect(h, "top_ports", T0, "port", "443", 0, 2, 1560);
    expect(h, "top_ports", T0, "port", "4000", 0, 10, 1000);
    fl_harness_destroy(&h);
    h = stage("{windows: [1m], sampling_scale: false}", false);
    push(h, false, r + 2, 1);
    assert_int_equal(fl_harness_drain(h), 0);
    expect(h, "totals", T0, NULL, NULL, 0, 1, 100);
    fl_harness_destroy(&h);
}

/* A hopping window counts a record in every window holding it; windows
 * close on the clock (watermark past end + lateness), before the drain. */
static void test_hopping_and_clock(void **st)
{
    (void)st;
    struct fl_harness *h = stage("{windows: [2m/1m], allowed_lateness: 10s}", true);
    const struct rec r[] = { { T0 + 90 * S, 6, 1, 2, 3, 4, 5, 500, 0 } };
    push(h, true, r, 1);
    assert_int_equal(fl_harness_tick(h, T0 + 120 * S + 10 * S), 0);
    expect(h, "totals", T0, NULL, NULL, 1, 5, 500);           /* [T0, T0+2m): closed */
    uint64_t q[3];
    assert_false(find(h, "totals", T0 + 60 * S, NULL, NULL, q));
    assert_int_equal(fl_harness_drain(h), 0);
    expect(h, "totals", T0 + 60 * S, NULL, NULL, 1, 5, 500);
    assert_int_equal(fl_harness_counter(h, "windows_closed"), 2);
    fl_harness_destroy(&h);
}

static void test_top_n_zero(void **st)
{
    (void)st;
    struct fl_harness *h = stage("{windows: [1m], top_n: 0}", true);
    const struct rec r[] = { { T0, 6, 1, 2, 3, 80, 1, 40, 0 } };
    push(h, true, r, 1);
    assert_int_equal(fl_harness_drain(h), 0);
    for (size_t i = 0; i < fl_harness_n_out(h); i++)
        assert_null(strstr(fl_harness_out_port(h, i), "top_"));
    expect(h, "classes", T0, "class", "http", 1, 1, 40);
    fl_harness_destroy(&h);
}

/* Missing cells: a flow without proto counts under protocol 0 and class
 * other, one without packets as 0 packets, one without addresses in no
 * host or conversation row; a flow to itself counts once for its host. */
static void test_missing_and_self(void **st)
{
    (void)st;
    struct fl_harness *h = stage("{windows: [1m]}", true);
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(fl_harness_ctx(h), schema(true), 4, &b), 0);
    for (uint32_t i = 0; i < 4; i++) {
        FL_COL(b, 0, uint64_t)[i] = T0 + i;
        FL_COL(b, 1, uint8_t)[i] = 6;
        FL_COL(b, 2, struct fl_addr)[i] = v4(0x0a000001);
        FL_COL(b, 3, struct fl_addr)[i] = v4(i == 3 ? 0x0a000001 : 0x0a000002);
        FL_COL(b, 4, uint16_t)[i] = 40000;
        FL_COL(b, 5, uint16_t)[i] = 80;
        FL_COL(b, 6, uint64_t)[i] = 2;
        FL_COL(b, 7, uint64_t)[i] = 100;
    }
    b->rows = 4;
    assert_int_equal(fl_batch_set_missing(b, 1, 0), 0);   /* proto */
    assert_int_equal(fl_batch_set_missing(b, 6, 1), 0);   /* packets */
    assert_int_equal(fl_batch_set_missing(b, 2, 2), 0);   /* src_addr */
    assert_int_equal(fl_harness_push(h, b), 0);
    fl_batch_release(&b);
    assert_int_equal(fl_harness_drain(h), 0);
    expect(h, "totals", T0, NULL, NULL, 4, 6, 400);
    expect(h, "protocols", T0, "proto", "0", 1, 2, 100);
    expect(h, "classes", T0, "class", "other", 1, 2, 100);
    expect(h, "classes", T0, "class", "http", 3, 4, 300);
    /* hosts: 10.0.0.1 in rows 0, 1, 3 (once), 10.0.0.2 in rows 0, 1 */
    uint64_t flows = 0;
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        struct fl_batch *o = fl_harness_out(h, i);
        if (!strcmp(fl_harness_out_port(h, i), "top_hosts"))
            for (uint32_t r = 0; r < o->rows; r++)
                flows += FL_COL(o, 5, uint64_t)[r];
    }
    assert_int_equal(flows, 5);
    fl_harness_destroy(&h);
}

static void test_class_diagnostics(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "{classes: {other: [80]}}",                       /* reserved name */
        "{classes: {a: [tcp/80], b: [tcp/70-90]}}",       /* overlap */
        "{classes: {a: [tcp/80x]}}",                      /* not a port */
        "{classes: {a: [icmp/8]}}",                       /* unknown protocol */
        "{classes: {a: [1/8]}}",                          /* ICMP has no ports */
        "{classes: {a: [tcp/90-80]}}",                    /* empty range */
        "{classes: {a: [70000]}}",                        /* out of range */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fl_harness *h = NULL;
        assert_int_equal(fl_harness_new("aggregate.stats", bad[i], schema(true), &h),
                         -FL_EINVAL);
        assert_null(h);
    }
    /* the same port in two classes is fine when one names the protocol */
    struct fl_harness *h = stage("{classes: {a: [53], b: [udp/53]}}", true);
    fl_harness_destroy(&h);
}

int main(void)
{
    g_ctx = fl_test_ctx_new();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_classes),
        cmocka_unit_test(test_class_precedence),
        cmocka_unit_test(test_packets),
        cmocka_unit_test(test_hopping_and_clock),
        cmocka_unit_test(test_top_n_zero),
        cmocka_unit_test(test_missing_and_self),
        cmocka_unit_test(test_class_diagnostics),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fl_test_ctx_destroy(&g_ctx);
    return rc;
}
