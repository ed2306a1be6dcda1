/* fm_test.c: helpers of the flowmeter tests (see fm_test.h): packet
 * batches in, flow records out, sorting and comparing record sets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <flowline/decode.h>
#include "fm_test.h"

enum fm_hash_mode fm_hash_mode = FM_HASH_SYM;

static struct fl_ctx *fm_tctx;
static const struct fl_schema *fm_pschema;

static void fm_cleanup(void)
{
    fl_test_ctx_destroy(&fm_tctx);
}

struct fl_ctx *fm_ctx(void)
{
    if (!fm_tctx) {
        fm_tctx = fl_test_ctx_new();
        assert_non_null(fm_tctx);
        atexit(fm_cleanup);
    }
    return fm_tctx;
}

const struct fl_schema *fm_packet_schema(void)
{
    if (!fm_pschema)
        assert_int_equal(fl_packet_schema(fm_ctx(), &fm_pschema), 0);
    return fm_pschema;
}

struct fl_harness *fm_new(const char *yaml)
{
    struct fl_harness *h = NULL;
    assert_int_equal(fl_harness_new("aggregate.flowmeter", yaml, fm_packet_schema(), &h), 0);
    assert_non_null(h);
    return h;
}

static struct fl_addr fm_addr(uint32_t v4, bool v6)
{
    struct fl_addr a = { { 0 } };
    if (!v6) {
        a.b[10] = a.b[11] = 0xff;
    } else {
        a.b[0] = 0x20;
        a.b[1] = 0x01;
        a.b[2] = 0x0d;
        a.b[3] = 0xb8;
    }
    a.b[12] = (uint8_t)(v4 >> 24);
    a.b[13] = (uint8_t)(v4 >> 16);
    a.b[14] = (uint8_t)(v4 >> 8);
    a.b[15] = (uint8_t)v4;
    return a;
}

static uint64_t fm_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* Symmetric: the same for both directions, as the decoder's. */
static uint64_t fm_hash(const struct fm_pkt *p)
{
    if (fm_hash_mode == FM_HASH_CONST)
        return 0x1234;
    uint64_t e1 = (uint64_t)p->sa << 16 | p->sp, e2 = (uint64_t)p->da << 16 | p->dp;
    return fm_mix(e1) + fm_mix(e2) + p->proto * 0x9e3779b97f4a7c15ull + p->v6;
}

void fm_push(struct fl_harness *h, const struct fm_pkt *p, size_t n)
{
    struct fl_batch *b = NULL;
    if (!n)
        return;
    assert_int_equal(fl_batch_new(fm_ctx(), fm_packet_schema(), (uint32_t)n, &b), 0);
    for (size_t i = 0; i < n; i++) {
        FL_COL(b, FL_PKT_TS, uint64_t)[i] = p[i].ts;
        FL_COL(b, FL_PKT_SRC_ADDR, struct fl_addr)[i] = fm_addr(p[i].sa, p[i].v6);
        FL_COL(b, FL_PKT_DST_ADDR, struct fl_addr)[i] = fm_addr(p[i].da, p[i].v6);
        FL_COL(b, FL_PKT_SRC_PORT, uint16_t)[i] = p[i].sp;
        FL_COL(b, FL_PKT_DST_PORT, uint16_t)[i] = p[i].dp;
        FL_COL(b, FL_PKT_PROTO, uint8_t)[i] = p[i].proto;
        FL_COL(b, FL_PKT_IP_VERSION, uint8_t)[i] = p[i].v6 ? 6 : 4;
        FL_COL(b, FL_PKT_TTL, uint8_t)[i] = 64;
        FL_COL(b, FL_PKT_TCP_FLAGS, uint8_t)[i] = p[i].flags;
        FL_COL(b, FL_PKT_IP_LEN, uint32_t)[i] = p[i].iplen;
        FL_COL(b, FL_PKT_FRAME_LEN, uint32_t)[i] = p[i].iplen + 14;
        FL_COL(b, FL_PKT_PAYLOAD_LEN, uint32_t)[i] = p[i].paylen;
        FL_COL(b, FL_PKT_VLAN, uint16_t)[i] = p[i].vlan;
        FL_COL(b, FL_PKT_FLOW_HASH, uint64_t)[i] = fm_hash(&p[i]);
        FL_COL(b, FL_PKT_ICMP_ID, uint16_t)[i] = p[i].icmp_id;
        if (!i || p[i].ts < b->t_min)
            b->t_min = p[i].ts;
        if (!i || p[i].ts > b->t_max)
            b->t_max = p[i].ts;
    }
    b->rows = (uint32_t)n;
    assert_int_equal(fl_harness_push(h, b), 0);
    fl_batch_release(&b);
}

void fm_push_split(struct fl_harness *h, const struct fm_pkt *p, size_t n, unsigned max_batch,
                   unsigned tick_pct, unsigned seed)
{
    uint64_t last_tick = 0;
    for (size_t i = 0; i < n;) {
        size_t k = 1 + (size_t)rand_r(&seed) % max_batch;
        if (k > n - i)
            k = n - i;
        fm_push(h, p + i, k);
        i += k;
        if ((unsigned)rand_r(&seed) % 100 < tick_pct) {
            /* The runtime's clock never passes the records it has seen. */
            uint64_t t = p[i - 1].ts;
            if (rand_r(&seed) % 2 && t > last_tick)
                t = last_tick + (uint64_t)rand_r(&seed) % (t - last_tick);
            if (t > last_tick) {
                assert_int_equal(fl_harness_tick(h, t), 0);
                last_tick = t;
            }
        }
    }
}

static uint32_t fm_v4(const struct fl_addr *a)
{
    return (uint32_t)a->b[12] << 24 | (uint32_t)a->b[13] << 16 | (uint32_t)a->b[14] << 8 | a->b[15];
}

/* Column of `name` in the output schema, looked up once per name. */
static int fm_col(const struct fl_schema *s, const char *name)
{
    static const struct fl_schema *cached;
    static const char *names[40];
    static int cols[40];
    static size_t n;
    if (s != cached) {
        cached = s;
        n = 0;
    }
    for (size_t i = 0; i < n; i++)
        if (names[i] == name)
            return cols[i];
    int c = fl_schema_find(s, name);
    assert_true(c >= 0);
    if (n < 40) {
        names[n] = name;
        cols[n++] = c;
    }
    return c;
}

#define FM_GET(b, name, T, row) (FL_COL(b, fm_col((b)->schema, name), T)[row])

struct fm_rec *fm_records(struct fl_harness *h, size_t *n)
{
    size_t total = fl_harness_out_rows(h), k = 0;
    struct fm_rec *v = calloc(total ? total : 1, sizeof(*v));
    assert_non_null(v);
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        struct fl_batch *b = fl_harness_out(h, i);
        assert_ptr_equal(b->schema, fl_harness_out_schema(h));
        for (uint32_t r = 0; r < b->rows; r++, k++) {
            struct fm_rec *x = &v[k];
            x->start = FM_GET(b, "flow_start", uint64_t, r);
            x->end = FM_GET(b, "flow_end", uint64_t, r);
            x->dur = FM_GET(b, "duration", int64_t, r);
            x->proto = FM_GET(b, "proto", uint8_t, r);
            x->ipv = FM_GET(b, "ip_version", uint8_t, r);
            x->sa = fm_v4(&FM_GET(b, "src_addr", struct fl_addr, r));
            x->da = fm_v4(&FM_GET(b, "dst_addr", struct fl_addr, r));
            x->sp = FM_GET(b, "src_port", uint16_t, r);
            x->dp = FM_GET(b, "dst_port", uint16_t, r);
            x->vlan = FM_GET(b, "vlan", uint16_t, r);
            x->packets = FM_GET(b, "packets", uint64_t, r);
            x->bytes = FM_GET(b, "bytes", uint64_t, r);
            x->payload = FM_GET(b, "payload_bytes", uint64_t, r);
            x->nopay = FM_GET(b, "nopay", uint64_t, r);
            x->ps_avg = FM_GET(b, "ps_avg", double, r);
            x->ps_std = FM_GET(b, "ps_std", double, r);
            x->pay_avg = FM_GET(b, "pay_avg", double, r);
            x->pay_std = FM_GET(b, "pay_std", double, r);
            x->ps_min = FM_GET(b, "ps_min", uint32_t, r);
            x->ps_max = FM_GET(b, "ps_max", uint32_t, r);
            x->pay_min = FM_GET(b, "pay_min", uint32_t, r);
            x->pay_max = FM_GET(b, "pay_max", uint32_t, r);
            x->fwd_p = FM_GET(b, "fwd_packets", uint64_t, r);
            x->fwd_b = FM_GET(b, "fwd_bytes", uint64_t, r);
            x->rev_p = FM_GET(b, "rev_packets", uint64_t, r);
            x->rev_b = FM_GET(b, "rev_bytes", uint64_t, r);
            x->flags = FM_GET(b, "tcp_flags", uint8_t, r);
            x->fwd_flags = FM_GET(b, "fwd_tcp_flags", uint8_t, r);
            x->rev_flags = FM_GET(b, "rev_tcp_flags", uint8_t, r);
            struct fl_span s = FM_GET(b, "end_reason", struct fl_span, r);
            assert_true(s.len < sizeof(x->reason));
            memcpy(x->reason, fl_batch_bytes(b, s), s.len);
            s = FM_GET(b, "conn_state", struct fl_span, r);
            assert_true(s.len > 0 && s.len < sizeof(x->conn));
            memcpy(x->conn, fl_batch_bytes(b, s), s.len);
            /* every row lies inside the batch's time range */
            assert_true(b->t_min <= x->start && x->end <= b->t_max);
        }
    }
    assert_int_equal(k, total);
    *n = total;
    return v;
}

#define FM_CMP(x, y) do { if ((x) != (y)) return (x) < (y) ? -1 : 1; } while (0)

static int fm_cmp(const void *pa, const void *pb)
{
    const struct fm_rec *a = pa, *b = pb;
    FM_CMP(a->start, b->start);
    FM_CMP(a->sa, b->sa);
    FM_CMP(a->da, b->da);
    FM_CMP(a->sp, b->sp);
    FM_CMP(a->dp, b->dp);
    FM_CMP(a->proto, b->proto);
    FM_CMP(a->vlan, b->vlan);
    FM_CMP(a->end, b->end);
    FM_CMP(a->packets, b->packets);
    return strcmp(a->reason, b->reason);
}

void fm_sort(struct fm_rec *r, size_t n)
{
    qsort(r, n, sizeof(*r), fm_cmp);
}

void fm_print(const char *tag, const struct fm_rec *r)
{
    fprintf(stderr, "%s: start %.9f end %.9f dur %lld proto %u %08x:%u -> %08x:%u vlan %u ipv %u "
            "pkts %llu bytes %llu pay %llu nopay %llu ps %.6f/%u/%u/%.6f pay %.6f/%u/%u/%.6f "
            "fwd %llu/%llu rev %llu/%llu flags %02x/%02x/%02x %s %s\n", tag,
            (double)(r->start % (1000 * FM_S)) / FM_S, (double)(r->end % (1000 * FM_S)) / FM_S,
            (long long)r->dur, r->proto, r->sa, r->sp, r->da, r->dp, r->vlan, r->ipv,
            (unsigned long long)r->packets, (unsigned long long)r->bytes,
            (unsigned long long)r->payload, (unsigned long long)r->nopay, r->ps_avg, r->ps_min,
            r->ps_max, r->ps_std, r->pay_avg, r->pay_min, r->pay_max, r->pay_std,
            (unsigned long long)r->fwd_p, (unsigned long long)r->fwd_b,
            (unsigned long long)r->rev_p, (unsigned long long)r->rev_b, r->flags, r->fwd_flags,
            r->rev_flags, r->reason, r->conn);
}

static bool fm_close(double x, double y)
{
    return fabs(x - y) <= 1e-9 * (fabs(x) > fabs(y) ? fabs(x) : fabs(y)) + 1e-12;
}

static bool fm_rec_same(const struct fm_rec *a, const struct fm_rec *b)
{
    return a->start == b->start && a->end == b->end && a->dur == b->dur && a->proto == b->proto
        && a->ipv == b->ipv && a->sa == b->sa && a->da == b->da && a->sp == b->sp
        && a->dp == b->dp && a->vlan == b->vlan && a->packets == b->packets
        && a->bytes == b->bytes && a->payload == b->payload && a->nopay == b->nopay
        && fm_close(a->ps_avg, b->ps_avg) && fm_close(a->ps_std, b->ps_std)
        && fm_close(a->pay_avg, b->pay_avg) && fm_close(a->pay_std, b->pay_std)
        && a->ps_min == b->ps_min && a->ps_max == b->ps_max && a->pay_min == b->pay_min
        && a->pay_max == b->pay_max && a->fwd_p == b->fwd_p && a->fwd_b == b->fwd_b
        && a->rev_p == b->rev_p && a->rev_b == b->rev_b && a->flags == b->flags
        && a->fwd_flags == b->fwd_flags && a->rev_flags == b->rev_flags
        && strcmp(a->reason, b->reason) == 0
        && (!a->conn[0] || !b->conn[0] || strcmp(a->conn, b->conn) == 0);
}

bool fm_same(const struct fm_rec *a, size_t na, const struct fm_rec *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++)
        if (!fm_rec_same(&a[i], &b[i])) {
            fprintf(stderr, "record %zu of %zu / %zu differs:\n", i, na, nb);
            fm_print("  a", &a[i]);
            fm_print("  b", &b[i]);
            return false;
        }
    if (na != nb) {
        fprintf(stderr, "record counts differ: %zu vs %zu\n", na, nb);
        if (n < na)
            fm_print("  first extra a", &a[n]);
        if (n < nb)
            fm_print("  first extra b", &b[n]);
        return false;
    }
    return true;
}
