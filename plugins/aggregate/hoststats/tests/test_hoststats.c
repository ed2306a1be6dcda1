/* test_hoststats.c: aggregate.hoststats through the harness. Pane mode
 * (one stage, windows [10s, 30s, 1m, 5m]) gives exactly the rows of four
 * stages with one window each (every record applied directly), sketches
 * included; eviction emits flagged partial rows, counts them, and the
 * longer windows still get everything; a record late for the shortest
 * window only still counts in the longer ones; a record on a boundary,
 * hopping windows, and `hosts:` parsing and filtering. */
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
#define T0 (1767225600ull * S)   /* 2026-01-01T00:00:00Z, a multiple of 5m */

struct pkt { uint64_t t; uint32_t src, dst; uint16_t sp, dp; uint8_t proto, flags; uint32_t len; };

static const struct fl_col_def pcols[] = {
    { "ts", FL_T_TS }, { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR },
    { "src_port", FL_T_U16 }, { "dst_port", FL_T_U16 }, { "proto", FL_T_U8 },
    { "ip_len", FL_T_U32 }, { "tcp_flags", FL_T_U8 },
};

static struct fl_addr v4(uint32_t ip)
{
    struct fl_addr a = { { 0 } };
    a.b[10] = a.b[11] = 0xff;
    a.b[12] = ip >> 24;
    a.b[13] = ip >> 16;
    a.b[14] = ip >> 8;
    a.b[15] = ip;
    return a;
}

static struct fl_harness *start(const char *with)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    struct fl_harness *h = NULL;
    assert_int_equal(fl_schema_intern(ctx, pcols, 8, sizeof(pcols[0]), &s), 0);
    int rc = fl_harness_new("aggregate.hoststats", with, s, &h);
    fl_test_ctx_destroy(&ctx);
    return rc < 0 ? NULL : h;
}

static void push(struct fl_harness *h, const struct pkt *p, uint32_t n)
{
    const struct fl_schema *s;
    struct fl_batch *b;
    struct fl_ctx *ctx = fl_harness_ctx(h);
    assert_int_equal(fl_schema_intern(ctx, pcols, 8, sizeof(pcols[0]), &s), 0);
    assert_int_equal(fl_batch_new(ctx, s, n, &b), 0);
    for (uint32_t r = 0; r < n; r++) {
        FL_COL(b, 0, uint64_t)[r] = p[r].t;
        FL_COL(b, 1, struct fl_addr)[r] = v4(p[r].src);
        FL_COL(b, 2, struct fl_addr)[r] = v4(p[r].dst);
        FL_COL(b, 3, uint16_t)[r] = p[r].sp;
        FL_COL(b, 4, uint16_t)[r] = p[r].dp;
        FL_COL(b, 5, uint8_t)[r] = p[r].proto;
        FL_COL(b, 6, uint32_t)[r] = p[r].len;
        FL_COL(b, 7, uint8_t)[r] = p[r].flags;
        if (!b->t_min || p[r].t < b->t_min)
            b->t_min = p[r].t;
        if (p[r].t > b->t_max)
            b->t_max = p[r].t;
    }
    b->rows = n;
    assert_int_equal(fl_harness_push(h, b), 0);
    fl_batch_release(&b);
}

/* A row as text of every column, for comparing row sets. */
struct row { char text[1536]; uint64_t window, start, src_packets, dst_packets; bool evicted; };

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct row *)a)->text, ((const struct row *)b)->text);
}

static size_t rows_of(struct fl_harness *h, struct row **out, uint64_t only_window)
{
    size_t n = 0, cap = 0;
    struct row *v = NULL;
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        struct fl_batch *b = fl_harness_out(h, i);
        for (uint32_t r = 0; r < b->rows; r++) {
            uint64_t win = (uint64_t)FL_COL(b, 2, int64_t)[r];
            if (only_window && win != only_window)
                continue;
            if (n == cap)
                assert_non_null(v = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v)));
            struct row *x = &v[n++];
            int len = 0;
            for (uint32_t c = 0; c < b->schema->ncols; c++) {
                size_t sz = fl_type_size(b->schema->cols[c]->type);
                const unsigned char *p = (const unsigned char *)b->data[c] + sz * r;
                len += snprintf(x->text + len, sizeof(x->text) - len, "%s=",
                                b->schema->cols[c]->name);
                if (!fl_batch_is_valid(b, c, r))
                    len += snprintf(x->text + len, sizeof(x->text) - len, "NA ");
                else
                    for (size_t k = 0; k < sz && len < (int)sizeof(x->text) - 8; k++)
                        len += snprintf(x->text + len, sizeof(x->text) - len, "%02x%s", p[k],
                                        k + 1 == sz ? " " : "");
            }
            assert_true(len < (int)sizeof(x->text) - 8);
            x->window = win;
            x->start = FL_COL(b, 0, uint64_t)[r];
            x->src_packets = FL_COL(b, 5, uint64_t)[r];
            x->dst_packets = FL_COL(b, 8, uint64_t)[r];
            x->evicted = FL_COL(b, b->schema->ncols - 1, bool)[r];
        }
    }
    qsort(v, n, sizeof(*v), row_cmp);
    *out = v;
    return n;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random traffic over 12 minutes: 40 clients, 5 servers, one of which
 * gets thousands of peers and ports (HLL in both modes). */
static struct pkt *traffic(uint32_t n)
{
    struct pkt *p = calloc(n, sizeof(*p));
    uint64_t x = 12345;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t r = rnd(&x);
        bool wide = r % 4 == 0;
        p[i].t = T0 + 7 * S + (uint64_t)i * (720 * S / n);
        p[i].src = wide ? 0x0b000000u + (uint32_t)(r >> 8) % 5000 : 0x0a000000u + (r >> 8) % 40;
        p[i].dst = 0xc6120000u + (wide ? 0 : (r >> 20) % 5);
        p[i].sp = (uint16_t)(1024 + (r >> 24) % 3000);
        p[i].dp = wide ? (uint16_t)((r >> 36) % 2000) : 443;
        p[i].proto = r % 5 ? 6 : 17;
        p[i].flags = p[i].proto == 6 ? (uint8_t)(r >> 50) : 0;
        p[i].len = 40 + (uint32_t)(r >> 40) % 1400;
        if (r % 3 == 0) {   /* replies */
            uint32_t a = p[i].src;
            uint16_t q = p[i].sp;
            p[i].src = p[i].dst;
            p[i].dst = a;
            p[i].sp = p[i].dp;
            p[i].dp = q;
        }
    }
    return p;
}

static void test_panes_equal_direct(void **st)
{
    const uint32_t n = 60000;
    struct pkt *p = traffic(n);
    struct fl_harness *panes = start("{windows: [5m, 10s, 1m, 30s], allowed_lateness: 0s}");
    assert_non_null(panes);
    for (uint32_t i = 0; i < n; i += 1000)
        push(panes, p + i, 1000);
    assert_int_equal(fl_harness_drain(panes), 0);
    static const char *const one[] = { "10s", "30s", "1m", "5m" };
    static const uint64_t len[] = { 10, 30, 60, 300 };
    for (int k = 0; k < 4; k++) {
        char with[80];
        snprintf(with, sizeof(with), "{windows: [%s], allowed_lateness: 0s}", one[k]);
        struct fl_harness *d = start(with);
        assert_non_null(d);
        for (uint32_t i = 0; i < n; i += 1000)
            push(d, p + i, 1000);
        assert_int_equal(fl_harness_drain(d), 0);
        struct row *a, *b;
        size_t na = rows_of(panes, &a, len[k] * S), nb = rows_of(d, &b, 0);
        assert_true(na > 0);
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++)
            assert_string_equal(a[i].text, b[i].text);
        free(a);
        free(b);
        fl_harness_destroy(&d);
    }
    assert_int_equal(fl_harness_counter(panes, "late"), 0);
    fl_harness_destroy(&panes);
    free(p);
}

/* max_hosts 3 with 8 hosts in one 10s window: partial rows go out early,
 * flagged and counted, and every window length still adds up. */
static void test_eviction(void **st)
{
    struct fl_harness *h = start("{windows: [10s, 1m], max_hosts: 3}");
    assert_non_null(h);
    struct pkt p[64];
    for (uint32_t i = 0; i < 64; i++)
        p[i] = (struct pkt){ .t = T0 + S + i * (S / 10), .src = 0x0a000001u + i % 8,
                             .dst = 0x0a000100u + i % 5, .sp = 1000, .dp = 80, .proto = 6,
                             .len = 100 };
    push(h, p, 64);
    assert_int_equal(fl_harness_drain(h), 0);
    struct row *v;
    size_t n = rows_of(h, &v, 0);
    uint64_t flagged = 0, src[2] = { 0, 0 }, dst[2] = { 0, 0 };
    for (size_t i = 0; i < n; i++) {
        int k = v[i].window == 10 * S ? 0 : 1;
        flagged += v[i].evicted;
        src[k] += v[i].src_packets;
        dst[k] += v[i].dst_packets;
    }
    assert_true(flagged > 0);
    assert_int_equal(fl_harness_counter(h, "hosts_evicted"), flagged);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(src[k], 64);
        assert_int_equal(dst[k], 64);
    }
    free(v);
    fl_harness_destroy(&h);
}

/* Lateness 0: a record for [0,10s) after the 10s window closed is late
 * there (counted) but still counts in the open 1m window; a record exactly
 * on 10 s opens [10s, 20s). */
static void test_late_for_shortest_only(void **st)
{
    struct fl_harness *h = start("{windows: [10s, 1m], allowed_lateness: 0s}");
    assert_non_null(h);
    const struct pkt a[] = { { .t = T0 + 5 * S, .src = 0x0a000001, .dst = 0x0a000002, .proto = 17,
                               .len = 10 },
                             { .t = T0 + 10 * S, .src = 0x0a000001, .dst = 0x0a000002, .proto = 17,
                               .len = 10 },
                             { .t = T0 + 25 * S, .src = 0x0a000001, .dst = 0x0a000002, .proto = 17,
                               .len = 10 } };
    push(h, a, 3);
    const struct pkt late = { .t = T0 + 7 * S, .src = 0x0a000001, .dst = 0x0a000002,
                              .proto = 17, .len = 10 };
    push(h, &late, 1);
    assert_int_equal(fl_harness_counter(h, "late"), 1);
    assert_int_equal(fl_harness_drain(h), 0);
    struct row *v;
    size_t n = rows_of(h, &v, 0);
    uint64_t in10[3] = { 0, 0, 0 }, in60 = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].window == 60 * S)
            in60 += v[i].src_packets;
        else if (v[i].src_packets)
            in10[(v[i].start - T0) / (10 * S)] += v[i].src_packets;
    }
    assert_int_equal(in10[0], 1);   /* 5 s; the late 7 s is not merged */
    assert_int_equal(in10[1], 1);   /* exactly 10 s */
    assert_int_equal(in10[2], 1);
    assert_int_equal(in60, 4);      /* the 1m window took the late one too */
    free(v);
    fl_harness_destroy(&h);
}

/* Hopping windows (no panes): 20s every 10s, a record at 15 s is in
 * [0, 20) and [10, 30). */
static void test_hopping(void **st)
{
    struct fl_harness *h = start("{windows: [20s/10s]}");
    assert_non_null(h);
    const struct pkt a = { .t = T0 + 15 * S, .src = 0x0a000001, .dst = 0x0a000002, .proto = 6,
                           .sp = 1, .dp = 2, .len = 60, .flags = 0x12 };
    push(h, &a, 1);
    assert_int_equal(fl_harness_drain(h), 0);
    struct row *v;
    size_t n = rows_of(h, &v, 0);
    assert_int_equal(n, 4);   /* two hosts in two windows */
    int starts[2] = { 0, 0 };
    for (size_t i = 0; i < n; i++)
        starts[(v[i].start - T0) / (10 * S)]++;
    assert_int_equal(starts[0], 2);
    assert_int_equal(starts[1], 2);
    free(v);
    fl_harness_destroy(&h);
}

static void test_hosts_option(void **st)
{
    assert_null(start("{hosts: [10.0.0.1/8]}"));          /* host bits set */
    assert_null(start("{hosts: [not-a-network]}"));
    assert_null(start("{hosts: [10.0.0.0/33]}"));
    assert_null(start("{hosts: [\" , \"]}"));
    /* one string holding two blocks (an environment variable) */
    struct fl_harness *h = start("{hosts: \"192.168.0.0/16, 2001:db8::/32\", windows: [1m]}");
    assert_non_null(h);
    const struct pkt a[] = {
        { .t = T0 + S, .src = 0xc0a80001, .dst = 0x08080808, .proto = 17, .len = 1 },
        { .t = T0 + S, .src = 0x08080808, .dst = 0x01010101, .proto = 17, .len = 1 },
        { .t = T0 + S, .src = 0xc0a80002, .dst = 0xc0a80001, .proto = 17, .len = 1 },
    };
    push(h, a, 3);
    assert_int_equal(fl_harness_counter(h, "records_not_host"), 1);
    assert_int_equal(fl_harness_drain(h), 0);
    struct row *v;
    size_t n = rows_of(h, &v, 0);
    assert_int_equal(n, 2);   /* 192.168.0.1 and .2; 8.8.8.8 is no host */
    uint64_t src = 0, dst = 0;
    for (size_t i = 0; i < n; i++) {
        src += v[i].src_packets;
        dst += v[i].dst_packets;
    }
    assert_int_equal(src, 2);
    assert_int_equal(dst, 1);
    free(v);
    fl_harness_destroy(&h);
}

/* A sampled packet (sampling_rate 100, as input.sflow's) stands for 100:
 * packets, bytes and flag counts scaled; an unsampled one (0) counts 1. */
static void test_sampling_rate(void **st)
{
    static const struct fl_col_def cols[] = {
        { "ts", FL_T_TS }, { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR },
        { "proto", FL_T_U8 }, { "ip_len", FL_T_U32 }, { "tcp_flags", FL_T_U8 },
        { "sampling_rate", FL_T_U32 },
    };
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    struct fl_harness *h;
    struct fl_batch *b;
    assert_int_equal(fl_schema_intern(ctx, cols, 7, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_harness_new("aggregate.hoststats", "{windows: [1m]}", s, &h), 0);
    assert_int_equal(fl_schema_intern(fl_harness_ctx(h), cols, 7, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_batch_new(fl_harness_ctx(h), s, 2, &b), 0);
    for (uint32_t r = 0; r < 2; r++) {
        FL_COL(b, 0, uint64_t)[r] = T0 + S;
        FL_COL(b, 1, struct fl_addr)[r] = v4(0x0a000001);
        FL_COL(b, 2, struct fl_addr)[r] = v4(0x0a000002);
        FL_COL(b, 3, uint8_t)[r] = 6;
        FL_COL(b, 4, uint32_t)[r] = 60;
        FL_COL(b, 5, uint8_t)[r] = 0x02;
        FL_COL(b, 6, uint32_t)[r] = r ? 0 : 100;
    }
    b->rows = 2;
    b->t_min = b->t_max = T0 + S;
    assert_int_equal(fl_harness_push(h, b), 0);
    fl_batch_release(&b);
    assert_int_equal(fl_harness_drain(h), 0);
    struct row *v;
    size_t n = rows_of(h, &v, 0);
    assert_int_equal(n, 2);
    struct fl_batch *o = fl_harness_out(h, 0);
    for (uint32_t r = 0; r < o->rows; r++) {
        bool sender = FL_COL(o, 3, struct fl_addr)[r].b[15] == 1;
        assert_int_equal(FL_COL(o, 5, uint64_t)[r], sender ? 101 : 0);        /* src_packets */
        assert_int_equal(FL_COL(o, 6, uint64_t)[r], sender ? 6060 : 0);       /* src_bytes */
        assert_int_equal(FL_COL(o, 8, uint64_t)[r], sender ? 0 : 101);        /* dst_packets */
        assert_int_equal(FL_COL(o, 15, uint64_t)[r], sender ? 101 : 0);       /* tcp_syn */
    }
    free(v);
    fl_harness_destroy(&h);
    fl_test_ctx_destroy(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_panes_equal_direct), cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_late_for_shortest_only), cmocka_unit_test(test_hopping),
        cmocka_unit_test(test_hosts_option), cmocka_unit_test(test_sampling_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
