/* test_agm.c: aggregate.agm through the plugin harness: hand-worked edge
 * cases (ties in the mode, a packet exactly on a window boundary,
 * tcp_only and the fields a packet lacks, NAGM column names with fewer
 * values than K and ties in the top K, eviction at max_sources, a window
 * closed on the record clock) and random traffic against a naive
 * reference computed in the test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <flowline/decode.h>
#include "fl_harness.h"

/* Packets are written as positional initializers; v6 is mostly left out. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define S 1000000000ull
#define T0 (1700000000ull * S)   /* a multiple of 10 s */

struct pkt {
    uint64_t ts;
    uint32_t sa, da;             /* IPv4 unless v6 */
    uint16_t sp, dp;
    uint8_t proto, ttl, flags;
    uint32_t len;
    bool v6;                     /* da is ::da (dst only) */
};

static struct fl_ctx *tctx;
static const struct fl_schema *pschema;

static struct fl_addr v4(uint32_t a)
{
    struct fl_addr x = { { [10] = 0xff, [11] = 0xff, [12] = (uint8_t)(a >> 24),
                           [13] = (uint8_t)(a >> 16), [14] = (uint8_t)(a >> 8), [15] = (uint8_t)a } };
    return x;
}

static struct fl_addr v6(uint32_t a)
{
    struct fl_addr x = { { [12] = (uint8_t)(a >> 24), [13] = (uint8_t)(a >> 16),
                           [14] = (uint8_t)(a >> 8), [15] = (uint8_t)a } };
    return x;
}

static struct fl_harness *agm_new(const char *yaml)
{
    struct fl_harness *h = NULL;
    if (!tctx) {
        tctx = fl_test_ctx_new();
        assert_int_equal(fl_packet_schema(tctx, &pschema), 0);
    }
    assert_int_equal(fl_harness_new("aggregate.agm", yaml, pschema, &h), 0);
    return h;
}

static void push(struct fl_harness *h, const struct pkt *p, size_t n)
{
    struct fl_batch *b = NULL;
    assert_int_equal(fl_batch_new(fl_harness_ctx(h), pschema, (uint32_t)n, &b), 0);
    for (uint32_t r = 0; r < n; r++) {
        memset(&FL_COL(b, FL_PKT_FLOW_HASH, uint64_t)[r], 0, 8);
        FL_COL(b, FL_PKT_TS, uint64_t)[r] = p[r].ts;
        FL_COL(b, FL_PKT_SRC_ADDR, struct fl_addr)[r] = v4(p[r].sa);
        FL_COL(b, FL_PKT_DST_ADDR, struct fl_addr)[r] = p[r].v6 ? v6(p[r].da) : v4(p[r].da);
        FL_COL(b, FL_PKT_SRC_PORT, uint16_t)[r] = p[r].sp;
        FL_COL(b, FL_PKT_DST_PORT, uint16_t)[r] = p[r].dp;
        FL_COL(b, FL_PKT_PROTO, uint8_t)[r] = p[r].proto ? p[r].proto : 6;
        FL_COL(b, FL_PKT_IP_VERSION, uint8_t)[r] = 4;
        FL_COL(b, FL_PKT_TTL, uint8_t)[r] = p[r].ttl;
        FL_COL(b, FL_PKT_TCP_FLAGS, uint8_t)[r] = p[r].flags;
        FL_COL(b, FL_PKT_IP_LEN, uint32_t)[r] = p[r].len;
        FL_COL(b, FL_PKT_FRAME_LEN, uint32_t)[r] = p[r].len + 14;
        FL_COL(b, FL_PKT_PAYLOAD_LEN, uint32_t)[r] = 0;
        FL_COL(b, FL_PKT_VLAN, uint16_t)[r] = 0;
        FL_COL(b, FL_PKT_ICMP_ID, uint16_t)[r] = 0;
    }
    b->rows = (uint32_t)n;
    assert_int_equal(fl_harness_push(h, b), 0);
    fl_batch_release(&b);
}

/* Cell (row, name) of the emitted rows, as u64 (addresses: the low 32
 * bits); the row counted over every emitted batch. */
static uint64_t cell(struct fl_harness *h, size_t row, const char *name)
{
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        struct fl_batch *b = fl_harness_out(h, i);
        if (row >= b->rows) {
            row -= b->rows;
            continue;
        }
        int c = fl_schema_find(b->schema, name);
        if (c < 0)
            fail_msg("no column %s", name);
        switch (b->schema->cols[c]->type) {
        case FL_T_U8: return FL_COL(b, c, uint8_t)[row];
        case FL_T_U16: return FL_COL(b, c, uint16_t)[row];
        case FL_T_U32: return FL_COL(b, c, uint32_t)[row];
        case FL_T_ADDR: {
            const uint8_t *a = FL_COL(b, c, struct fl_addr)[row].b;
            return (uint64_t)a[12] << 24 | (uint64_t)a[13] << 16 | a[14] << 8 | a[15];
        }
        default: return FL_COL(b, c, uint64_t)[row];
        }
    }
    fail_msg("no row");
    return 0;
}

static const struct fl_batch *batch_of(struct fl_harness *h, size_t row)
{
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        struct fl_batch *b = fl_harness_out(h, i);
        if (row < b->rows)
            return b;
        row -= b->rows;
    }
    return NULL;
}

/* Ties go to the smallest value; dst_addr compares as 16 bytes (IPv6 ::x
 * sorts before every IPv4-mapped address). */
static void test_mode_ties(void **state)
{
    (void)state;
    struct fl_harness *h = agm_new("{windows: [10s]}");
    const struct pkt p[] = {
        { T0 + 1, 1, 0x0a000009, 5000, 80, 6, 64, 0x10, 60 },
        { T0 + 2, 1, 0x0a000002, 5001, 22, 6, 128, 0x18, 40 },
        { T0 + 3, 1, 0x0a000009, 5001, 80, 6, 128, 0x10, 1500 },
        { T0 + 4, 1, 0x0a000002, 5000, 22, 6, 64, 0x18, 1500 },
        { T0 + 5, 1, 0x00000005, 5002, 443, 6, 32, 0x02, 40, true },
    };
    push(h, p, 5);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_int_equal(fl_harness_out_rows(h), 1);
    assert_int_equal(cell(h, 0, "packets"), 5);
    assert_int_equal(cell(h, 0, "dst_addr_distinct"), 3);
    assert_int_equal(cell(h, 0, "dst_addr_mode"), 0x0a000002);
    assert_int_equal(cell(h, 0, "dst_addr_mode_packets"), 2);
    assert_int_equal(cell(h, 0, "src_port_mode"), 5000);
    assert_int_equal(cell(h, 0, "src_port_distinct"), 3);
    assert_int_equal(cell(h, 0, "dst_port_mode"), 22);
    assert_int_equal(cell(h, 0, "dst_port_mode_packets"), 2);
    assert_int_equal(cell(h, 0, "ttl_mode"), 64);
    assert_int_equal(cell(h, 0, "ttl_distinct"), 3);
    assert_int_equal(cell(h, 0, "tcp_flags_mode"), 0x10);
    assert_int_equal(cell(h, 0, "ip_len_mode"), 40);
    assert_int_equal(cell(h, 0, "ip_len_mode_packets"), 2);
    assert_int_equal(cell(h, 0, "proto_distinct"), 1);
    assert_int_equal(cell(h, 0, "proto_mode_packets"), 5);
    fl_harness_destroy(&h);

    /* a tie between an IPv6 and an IPv4 destination: ::5 is smaller */
    h = agm_new("{windows: [10s]}");
    const struct pkt q[] = { { T0, 1, 0x0a000001, 1, 2, 6, 1, 0, 40 },
                             { T0, 1, 5, 1, 2, 6, 1, 0, 40, true } };
    push(h, q, 2);
    assert_int_equal(fl_harness_drain(h), 0);
    const struct fl_batch *b = batch_of(h, 0);
    int c = fl_schema_find(b->schema, "dst_addr_mode");
    struct fl_addr want = v6(5);
    assert_memory_equal(&FL_COL(b, c, struct fl_addr)[0], &want, 16);
    fl_harness_destroy(&h);
}

/* A packet exactly on a boundary starts the next window; the last
 * nanosecond before it stays in the earlier one; window columns. */
static void test_window_boundary(void **state)
{
    (void)state;
    struct fl_harness *h = agm_new("{windows: [10s]}");
    const struct pkt p[] = { { T0 + 10 * S - 1, 1, 2, 1, 2, 6, 64, 0, 40 },
                             { T0 + 10 * S, 1, 2, 1, 2, 6, 64, 0, 40 },
                             { T0 + 10 * S + 1, 1, 3, 1, 2, 6, 64, 0, 40 } };
    push(h, p, 3);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_int_equal(fl_harness_out_rows(h), 2);
    assert_int_equal(cell(h, 0, "window_start"), T0);
    assert_int_equal(cell(h, 0, "window_end"), T0 + 10 * S);
    assert_int_equal(cell(h, 0, "window"), 10 * S);
    assert_int_equal(cell(h, 0, "packets"), 1);
    assert_int_equal(cell(h, 1, "window_start"), T0 + 10 * S);
    assert_int_equal(cell(h, 1, "packets"), 2);
    assert_int_equal(cell(h, 1, "dst_addr_distinct"), 2);
    assert_int_equal(cell(h, 1, "dst_addr_mode"), 2);
    fl_harness_destroy(&h);
}

/* A window closes on the records' own time once the lateness has passed,
 * without a tick and before end of input; a record for it after that is
 * late, counted, and merged nowhere. */
static void test_close_on_time(void **state)
{
    (void)state;
    struct fl_harness *h = agm_new("{windows: [10s], allowed_lateness: 1s}");
    const struct pkt a[] = { { T0 + 1, 1, 2, 1, 2, 6, 64, 0, 40 } };
    const struct pkt b[] = { { T0 + 11 * S + 1, 1, 2, 1, 2, 6, 64, 0, 40 } };
    const struct pkt late[] = { { T0 + 5 * S, 1, 2, 1, 2, 6, 64, 0, 40 } };
    push(h, a, 1);
    assert_int_equal(fl_harness_out_rows(h), 0);
    push(h, b, 1);
    assert_int_equal(fl_harness_out_rows(h), 1);
    push(h, late, 1);
    assert_int_equal(fl_harness_counter(h, "late"), 1);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_int_equal(fl_harness_out_rows(h), 2);
    assert_int_equal(cell(h, 0, "packets"), 1);
    assert_int_equal(cell(h, 1, "packets"), 1);
    fl_harness_destroy(&h);
}

/* tcp_only (default) counts TCP only; tcp_only: false takes UDP and ICMP,
 * whose ports (ICMP's type/code in dst_port) and flags read 0. */
static void test_tcp_only(void **state)
{
    (void)state;
    const struct pkt p[] = {
        { T0, 1, 2, 1000, 80, 6, 64, 0x12, 40 },
        { T0, 1, 2, 53, 53, 17, 64, 0x12, 80 },        /* UDP: flags column ignored */
        { T0, 1, 2, 0, 0x0800, 1, 64, 0, 84 },         /* ICMP echo: type 8 code 0 */
        { T0, 1, 2, 0, 0x0800, 1, 64, 0, 84 },
    };
    struct fl_harness *h = agm_new("{windows: [10s]}");
    push(h, p, 4);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_int_equal(fl_harness_counter(h, "packets_not_tcp"), 3);
    assert_int_equal(cell(h, 0, "packets"), 1);
    assert_int_equal(cell(h, 0, "proto_mode"), 6);
    fl_harness_destroy(&h);

    h = agm_new("{windows: [10s], tcp_only: false}");
    push(h, p, 4);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_int_equal(cell(h, 0, "packets"), 4);
    assert_int_equal(cell(h, 0, "proto_distinct"), 3);
    assert_int_equal(cell(h, 0, "proto_mode"), 1);
    assert_int_equal(cell(h, 0, "dst_port_distinct"), 3);   /* 80, 53, 0 */
    assert_int_equal(cell(h, 0, "dst_port_mode"), 0);
    assert_int_equal(cell(h, 0, "dst_port_mode_packets"), 2);
    assert_int_equal(cell(h, 0, "tcp_flags_distinct"), 2);  /* 0x12, 0 */
    assert_int_equal(cell(h, 0, "tcp_flags_mode"), 0);
    assert_int_equal(cell(h, 0, "tcp_flags_mode_packets"), 3);
    fl_harness_destroy(&h);

    /* a window with no TCP packet at all: no rows, AGM or NAGM */
    for (int nagm = 0; nagm < 2; nagm++) {
        h = agm_new(nagm ? "{windows: [10s], nagm: true}" : "{windows: [10s]}");
        push(h, p + 1, 3);
        assert_int_equal(fl_harness_drain(h), 0);
        assert_int_equal(fl_harness_out_rows(h), 0);
        assert_int_equal(fl_harness_counter(h, "windows_closed"), 1);
        fl_harness_destroy(&h);
    }
}

/* NAGM: 51 features with the defaults; the one-hot columns name the
 * window's most frequent modes (by sources, ties to the smaller value) in
 * value order, then unusedN fillers, then other. */
static void test_nagm_columns(void **state)
{
    (void)state;
    /* sources 1..4: src_port modes 443, 443, 80, 8080 (80 and 8080 tie at
     * one source each) */
    const struct pkt p[] = {
        { T0, 1, 9, 443, 1000, 6, 64, 0x10, 40 }, { T0, 2, 9, 443, 1001, 6, 64, 0x10, 40 },
        { T0, 3, 9, 80, 1002, 6, 64, 0x18, 40 },  { T0, 4, 9, 8080, 1003, 6, 64, 0x10, 40 },
    };
    struct fl_harness *h = agm_new("{windows: [10s], nagm: true}");
    assert_null(fl_harness_out_schema(h));   /* one schema per window */
    push(h, p, 4);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_int_equal(fl_harness_out_rows(h), 4);
    const struct fl_schema *s = batch_of(h, 0)->schema;
    assert_int_equal(s->ncols, 4 + 51);
    static const char *const head[] = {
        "window_start", "window_end", "window", "src_addr", "packets", "dst_addr_distinct",
        "dst_addr_mode_packets", "src_port_distinct", "src_port_mode_80", "src_port_mode_443",
        "src_port_mode_8080", "src_port_mode_unused1",
    };
    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
        assert_string_equal(s->cols[i]->name, head[i]);
    assert_string_equal(s->cols[16]->name, "src_port_mode_unused6");
    assert_string_equal(s->cols[17]->name, "src_port_mode_other");
    assert_string_equal(s->cols[18]->name, "src_port_mode_packets");
    assert_true(fl_schema_find(s, "proto_mode") < 0);
    assert_true(fl_schema_find(s, "proto_distinct") < 0);
    assert_true(fl_schema_find(s, "dst_addr_mode") < 0);
    assert_true(fl_schema_find(s, "tcp_flags_mode_16") >= 0);
    assert_true(fl_schema_find(s, "tcp_flags_mode_24") >= 0);
    assert_string_equal(s->cols[s->ncols - 1]->name, "ip_len_mode_packets");
    assert_int_equal(cell(h, 0, "src_port_mode_443"), 1);   /* rows by src_addr */
    assert_int_equal(cell(h, 0, "src_port_mode_80"), 0);
    assert_int_equal(cell(h, 2, "src_port_mode_80"), 1);
    assert_int_equal(cell(h, 3, "src_port_mode_8080"), 1);
    assert_int_equal(cell(h, 3, "src_port_mode_other"), 0);
    assert_int_equal(cell(h, 3, "tcp_flags_mode_16"), 1);
    fl_harness_destroy(&h);

    /* K = 2: 443 (two sources) and 80 (tie with 8080, smaller); 8080 is
     * other */
    h = agm_new("{windows: [10s], nagm: true, top_src_port: 2, top_dst_port: 1, "
                "top_tcp_flags: 1}");
    push(h, p, 4);
    assert_int_equal(fl_harness_drain(h), 0);
    s = batch_of(h, 0)->schema;
    assert_int_equal(s->ncols, 4 + 15 + 2 + 1 + 1 + 3);
    assert_string_equal(s->cols[8]->name, "src_port_mode_80");
    assert_string_equal(s->cols[9]->name, "src_port_mode_443");
    assert_string_equal(s->cols[10]->name, "src_port_mode_other");
    assert_int_equal(cell(h, 3, "src_port_mode_other"), 1);
    assert_int_equal(cell(h, 3, "src_port_mode_80"), 0);
    assert_int_equal(cell(h, 3, "src_port_mode_443"), 0);
    /* dst_port modes 1000..1003, one source each: the smallest wins */
    assert_true(fl_schema_find(s, "dst_port_mode_1000") >= 0);
    assert_int_equal(cell(h, 1, "dst_port_mode_other"), 1);
    fl_harness_destroy(&h);
}

/* max_sources: a new source beyond it closes an idle one early (its row
 * goes out, counted); every packet is in exactly one row. */
static void test_eviction(void **state)
{
    (void)state;
    struct fl_harness *h = agm_new("{windows: [10s], max_sources: 2}");
    struct pkt p[40];
    for (uint32_t i = 0; i < 40; i++)
        p[i] = (struct pkt){ T0 + i, 1 + i % 5, 9, 1, 2, 6, 64, 0, 40 };
    push(h, p, 40);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_true(fl_harness_counter(h, "sources_evicted") > 0);
    uint64_t n = fl_harness_out_rows(h), sum = 0;
    assert_int_equal(n, 40 - 2 + 2);   /* round robin over 5: every packet evicts */
    for (size_t r = 0; r < n; r++)
        sum += cell(h, r, "packets");
    assert_int_equal(sum, 40);
    fl_harness_destroy(&h);
}

/* ---- random traffic against a naive reference ------------------------- */
struct refrow {
    uint64_t start;
    uint32_t src;
    uint64_t packets;
    uint64_t distinct[7], mode[7], mode_packets[7];
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Distinct, mode (ties: smallest) and its count of n values, by sorting. */
static void ref_field(uint64_t *v, size_t n, uint64_t *distinct, uint64_t *mode, uint64_t *mp)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    *distinct = 0;
    *mp = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j] == v[i])
            j++;
        ++*distinct;
        if (j - i > *mp) {
            *mp = j - i;
            *mode = v[i];
        }
        i = j;
    }
}

static void test_random_vs_reference(void **state)
{
    (void)state;
    enum { N = 60000, SRCS = 300, WIN = 4 };
    struct pkt *p = calloc(N, sizeof(*p));
    unsigned seed = 7;
    for (size_t i = 0; i < N; i++) {
        uint32_t s = 1 + (uint32_t)rand_r(&seed) % SRCS;
        /* skewed values so modes and ties both happen; many distinct
         * destinations for a few sources (map growth) */
        p[i] = (struct pkt){ T0 + (uint64_t)i * (WIN * 10 * S / N), s,
                             s % 7 ? (uint32_t)rand_r(&seed) % 5 : (uint32_t)rand_r(&seed),
                             (uint16_t)(rand_r(&seed) % (1 + s % 40)),
                             (uint16_t)(rand_r(&seed) % 3 ? 443 : rand_r(&seed)),
                             6, (uint8_t)(64 << (rand_r(&seed) % 2)),
                             (uint8_t)(rand_r(&seed) % 4 * 8), (uint32_t)(40 + rand_r(&seed) % 200) };
    }
    struct fl_harness *h = agm_new("{windows: [10s]}");
    for (size_t i = 0; i < N; i += 1000)
        push(h, p + i, 1000);
    assert_int_equal(fl_harness_drain(h), 0);
    /* reference: per (window, source) */
    size_t rows = fl_harness_out_rows(h), checked = 0;
    uint64_t *vals[7];
    for (int f = 0; f < 7; f++)
        vals[f] = malloc(N * sizeof(uint64_t));
    static const char *const names[7] = { "dst_addr", "src_port", "dst_port", "ttl", "proto",
                                          "tcp_flags", "ip_len" };
    for (size_t r = 0; r < rows; r++) {
        uint64_t ws = cell(h, r, "window_start");
        uint32_t src = (uint32_t)cell(h, r, "src_addr");
        size_t n = 0;
        for (size_t i = 0; i < N; i++) {
            if (p[i].sa != src || p[i].ts < ws || p[i].ts >= ws + 10 * S)
                continue;
            const uint64_t v[7] = { p[i].da, p[i].sp, p[i].dp, p[i].ttl, p[i].proto, p[i].flags,
                                    p[i].len };
            for (int f = 0; f < 7; f++)
                vals[f][n] = v[f];
            n++;
        }
        assert_int_equal(cell(h, r, "packets"), n);
        for (int f = 0; f < 7; f++) {
            uint64_t d, m = 0, mp;
            char name[64];
            ref_field(vals[f], n, &d, &m, &mp);
            snprintf(name, sizeof(name), "%s_distinct", names[f]);
            assert_int_equal(cell(h, r, name), d);
            snprintf(name, sizeof(name), "%s_mode", names[f]);
            assert_int_equal(cell(h, r, name), m);
            snprintf(name, sizeof(name), "%s_mode_packets", names[f]);
            assert_int_equal(cell(h, r, name), mp);
        }
        checked += n;
    }
    assert_int_equal(checked, N);   /* every packet in exactly one row */
    assert_int_equal(rows, WIN * SRCS);
    for (int f = 0; f < 7; f++)
        free(vals[f]);
    free(p);
    fl_harness_destroy(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_ties),
        cmocka_unit_test(test_window_boundary),
        cmocka_unit_test(test_close_on_time),
        cmocka_unit_test(test_tcp_only),
        cmocka_unit_test(test_nagm_columns),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_random_vs_reference),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fl_test_ctx_destroy(&tctx);
    return rc;
}
