/* test_flowmeter.c: aggregate.flowmeter on small hand-made traffic whose
 * flow records are worked out by hand: direction merge, every feature,
 * each way a flow ends, table pressure, options, odd inputs. The randomized
 * comparison with a reference model is test_flowmeter_ref.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <flowline/decode.h>
#include "fm_test.h"

#define A 0x0a000001u   /* 10.0.0.1 */
#define B 0x0a000002u   /* 10.0.0.2 */
#define MS (FM_S / 1000)

/* A packet from x:xp to y:yp at t0 + ms milliseconds. */
static struct fm_pkt pk(uint64_t ms, uint32_t x, uint16_t xp, uint32_t y, uint16_t yp,
                        uint8_t proto, uint8_t flags, uint32_t iplen, uint32_t paylen)
{
    return (struct fm_pkt){ .ts = FM_T0 + ms * MS, .sa = x, .sp = xp, .da = y, .dp = yp,
                            .proto = proto, .flags = flags, .iplen = iplen, .paylen = paylen };
}

static struct fm_rec *run_drain(struct fl_harness *h, size_t *n)
{
    assert_int_equal(fl_harness_drain(h), 0);
    struct fm_rec *r = fm_records(h, n);
    fm_sort(r, *n);
    return r;
}

/* Both directions are one flow; src is whoever sent first. */
static void test_bidirectional(void **st)
{
    struct fl_harness *h = fm_new("{}");
    struct fm_pkt p[] = {
        pk(0, A, 1000, B, 53, 17, 0, 60, 32),     /* A asks */
        pk(1, B, 53, A, 1000, 17, 0, 100, 72),    /* B answers */
        pk(2, A, 1000, B, 53, 17, 0, 60, 32),
        pk(3, B, 2000, A, 80, 6, 0x02, 60, 0),    /* B opens a TCP flow to A */
        pk(4, A, 80, B, 2000, 6, 0x12, 60, 0),
        pk(5, A, 1000, B, 53, 6, 0x02, 60, 0),    /* same ports, other proto */
    };
    fm_push(h, p, 6);
    size_t n;
    struct fm_rec *r = run_drain(h, &n);
    assert_int_equal(n, 3);
    /* sorted by start */
    assert_int_equal(r[0].sa, A);
    assert_int_equal(r[0].sp, 1000);
    assert_int_equal(r[0].da, B);
    assert_int_equal(r[0].dp, 53);
    assert_int_equal(r[0].proto, 17);
    assert_int_equal(r[0].fwd_p, 2);
    assert_int_equal(r[0].rev_p, 1);
    assert_int_equal(r[0].fwd_b, 120);
    assert_int_equal(r[0].rev_b, 100);
    assert_int_equal(r[1].sa, B);
    assert_int_equal(r[1].sp, 2000);
    assert_int_equal(r[1].da, A);
    assert_int_equal(r[1].dp, 80);
    assert_int_equal(r[1].fwd_p, 1);
    assert_int_equal(r[1].rev_p, 1);
    assert_int_equal(r[2].proto, 6);
    assert_int_equal(r[2].packets, 1);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(r[i].reason, "eof");
    free(r);
    fl_harness_destroy(&h);
}

/* Every feature of one TCP exchange, worked out by hand:
 * sizes 60 60 52 152 552 52: sum 928, sum of squares 340416,
 *   n*sumsq - sum^2 = 6*340416 - 928^2 = 1181312, std = sqrt(1181312)/6;
 * payloads 0 0 0 100 500 0: sum 600, nopay 4, sumsq 260000,
 *   6*260000 - 600^2 = 1200000, std = sqrt(1200000)/6. */
static void test_features(void **st)
{
    struct fl_harness *h = fm_new("{idle_timeout: 10s}");
    struct fm_pkt p[] = {
        pk(1000, A, 40000, B, 443, 6, 0x02, 60, 0),
        pk(1100, B, 443, A, 40000, 6, 0x12, 60, 0),
        pk(1200, A, 40000, B, 443, 6, 0x10, 52, 0),
        pk(1300, A, 40000, B, 443, 6, 0x18, 152, 100),
        pk(1500, B, 443, A, 40000, 6, 0x18, 552, 500),
        pk(2000, B, 443, A, 40000, 6, 0x10, 52, 0),
    };
    for (int i = 0; i < 6; i++)
        p[i].vlan = 7;
    fm_push(h, p, 6);
    size_t n;
    struct fm_rec *r = run_drain(h, &n);
    assert_int_equal(n, 1);
    assert_int_equal(r->start, FM_T0 + FM_S);
    assert_int_equal(r->end, FM_T0 + 2 * FM_S);
    assert_int_equal(r->dur, FM_S);
    assert_int_equal(r->proto, 6);
    assert_int_equal(r->ipv, 4);
    assert_int_equal(r->vlan, 7);
    assert_int_equal(r->sa, A);
    assert_int_equal(r->sp, 40000);
    assert_int_equal(r->da, B);
    assert_int_equal(r->dp, 443);
    assert_int_equal(r->packets, 6);
    assert_int_equal(r->bytes, 928);
    assert_int_equal(r->payload, 600);
    assert_int_equal(r->nopay, 4);
    assert_true(r->ps_avg == 928.0 / 6);
    assert_int_equal(r->ps_min, 52);
    assert_int_equal(r->ps_max, 552);
    assert_true(fabs(r->ps_std - sqrt(1181312.0) / 6) < 1e-9);
    assert_true(fabs(r->ps_std - 181.1469) < 1e-4);
    assert_true(r->pay_avg == 100.0);
    assert_int_equal(r->pay_min, 0);
    assert_int_equal(r->pay_max, 500);
    assert_true(fabs(r->pay_std - sqrt(1200000.0) / 6) < 1e-9);
    assert_int_equal(r->fwd_p, 3);
    assert_int_equal(r->fwd_b, 264);
    assert_int_equal(r->rev_p, 3);
    assert_int_equal(r->rev_b, 664);
    assert_int_equal(r->fwd_flags, 0x1a);
    assert_int_equal(r->rev_flags, 0x1a);
    assert_int_equal(r->flags, 0x1a);
    assert_string_equal(r->reason, "eof");
    free(r);

    /* a one-packet flow: std 0, min = max */
    fl_harness_destroy(&h);
    h = fm_new("{}");
    struct fm_pkt one = pk(0, A, 1, B, 2, 17, 0, 1500, 1472);
    fm_push(h, &one, 1);
    r = run_drain(h, &n);
    assert_int_equal(n, 1);
    assert_true(r->ps_std == 0.0 && r->pay_std == 0.0);
    assert_int_equal(r->ps_min, 1500);
    assert_int_equal(r->ps_max, 1500);
    assert_int_equal(r->pay_min, 1472);
    assert_int_equal(r->dur, 0);
    free(r);
    fl_harness_destroy(&h);
}

/* Idle: a tick at last + idle ends the flow; a later packet starts a new
 * one; a gap > idle inside the packet stream splits without any tick. */
static void test_idle(void **st)
{
    struct fl_harness *h = fm_new("{idle_timeout: 10s, flush_interval: 0s}");
    struct fm_pkt p1[] = { pk(0, A, 1, B, 2, 17, 0, 100, 72), pk(5000, B, 2, A, 1, 17, 0, 100, 72) };
    fm_push(h, p1, 2);
    assert_int_equal(fl_harness_tick(h, FM_T0 + 14999 * MS), 0);
    assert_int_equal(fl_harness_out_rows(h), 0);
    assert_int_equal(fl_harness_tick(h, FM_T0 + 15000 * MS), 0);
    assert_int_equal(fl_harness_out_rows(h), 1);
    struct fm_pkt p2[] = { pk(16000, A, 1, B, 2, 17, 0, 100, 72), pk(30000, B, 2, A, 1, 17, 0, 90, 62) };
    fm_push(h, p2, 2);
    size_t n;
    struct fm_rec *r = run_drain(h, &n);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].reason, "idle");
    assert_int_equal(r[0].packets, 2);
    assert_int_equal(r[0].dur, 5 * FM_S);
    assert_string_equal(r[1].reason, "idle");   /* split by the 14 s gap */
    assert_int_equal(r[1].packets, 1);
    assert_int_equal(r[1].sa, A);
    assert_int_equal(r[2].sa, B);                /* the new flow's first sender */
    assert_int_equal(r[2].sp, 2);
    assert_string_equal(r[2].reason, "eof");
    assert_int_equal(fl_harness_counter(h, "flows_idle"), 2);
    assert_int_equal(fl_harness_counter(h, "flows_eof"), 1);
    free(r);
    fl_harness_destroy(&h);
}

/* Active: a long flow is cut every 30 s; the continuation keeps the
 * initiator as src even when the responder sends its first packet. */
static void test_active(void **st)
{
    struct fm_pkt p[15];
    for (int i = 0; i < 15; i++)
        p[i] = (i == 0 || i % 2) ? pk(5000 * i, A, 1, B, 2, 17, 0, 100 + i, 72)
                                 : pk(5000 * i, B, 2, A, 1, 17, 0, 100 + i, 72);
    for (int ticks = 0; ticks < 2; ticks++) {
        struct fl_harness *h = fm_new("{idle_timeout: 10s, active_timeout: 30s}");
        if (ticks) {
            for (int i = 0; i < 15; i++) {
                fm_push(h, &p[i], 1);
                assert_int_equal(fl_harness_tick(h, p[i].ts + 2500 * MS), 0);
            }
        } else {
            fm_push(h, p, 15);
        }
        size_t n;
        struct fm_rec *r = run_drain(h, &n);
        assert_int_equal(n, 3);
        for (int k = 0; k < 3; k++) {
            assert_int_equal(r[k].sa, A);
            assert_int_equal(r[k].sp, 1);
            assert_int_equal(r[k].start, FM_T0 + 30 * FM_S * k);
            assert_string_equal(r[k].reason, k < 2 ? "active" : "eof");
        }
        assert_int_equal(r[0].packets, 6);
        assert_int_equal(r[1].packets, 6);
        assert_int_equal(r[2].packets, 3);
        assert_int_equal(r[1].fwd_p, 3);   /* 35 45 55 from A; 30 40 50 from B */
        assert_int_equal(r[1].rev_p, 3);
        assert_int_equal(r[0].end, FM_T0 + 25 * FM_S);
        free(r);
        fl_harness_destroy(&h);
    }

    /* A cut flow whose continuation never comes idles out silently; the
     * next packet, here from B, starts a new flow with B as src. */
    struct fl_harness *h = fm_new("{idle_timeout: 10s, active_timeout: 30s, flush_interval: 0s}");
    struct fm_pkt q[] = { pk(0, A, 1, B, 2, 17, 0, 100, 72), pk(9000, B, 2, A, 1, 17, 0, 100, 72),
                          pk(18000, A, 1, B, 2, 17, 0, 100, 72), pk(27000, B, 2, A, 1, 17, 0, 100, 72) };
    fm_push(h, q, 4);
    assert_int_equal(fl_harness_tick(h, FM_T0 + 31 * FM_S), 0);
    assert_int_equal(fl_harness_out_rows(h), 1);
    struct fm_pkt q2 = pk(45000, B, 2, A, 1, 17, 0, 100, 72);
    fm_push(h, &q2, 1);
    size_t n;
    struct fm_rec *r = run_drain(h, &n);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].reason, "active");
    assert_int_equal(r[0].packets, 4);
    assert_int_equal(r[1].sa, B);
    assert_string_equal(r[1].reason, "eof");
    free(r);
    fl_harness_destroy(&h);
}

/* With active < idle, a continuation is due (active) before the slot its
 * stub had in the wheel (idle): a tick must still end it on time. */
static void test_active_short(void **st)
{
    struct fl_harness *h = fm_new("{idle_timeout: 10s, active_timeout: 2s, flush_interval: 0s}");
    struct fm_pkt p[] = { pk(0, A, 1, B, 2, 17, 0, 100, 72), pk(1000, B, 2, A, 1, 17, 0, 100, 72),
                          pk(2500, B, 2, A, 1, 17, 0, 100, 72), pk(6000, A, 7, B, 8, 17, 0, 60, 32) };
    fm_push(h, p, 3);
    assert_int_equal(fl_harness_tick(h, FM_T0 + 4499 * MS), 0);
    assert_int_equal(fl_harness_out_rows(h), 1);
    fm_push(h, p + 3, 1);
    assert_int_equal(fl_harness_tick(h, FM_T0 + 6000 * MS), 0);
    assert_int_equal(fl_harness_out_rows(h), 2);
    size_t n;
    struct fm_rec *r = run_drain(h, &n);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].reason, "active");
    assert_string_equal(r[1].reason, "active");
    assert_int_equal(r[1].sa, A);   /* continuation keeps the initiator */
    assert_int_equal(r[1].rev_p, 1);
    free(r);
    fl_harness_destroy(&h);
}

/* A batch that spans more than the idle timeout ends the flows that went
 * idle inside it as its packets pass their deadlines, without waiting for a
 * tick after the batch: how many packets a batch holds must not change
 * when records leave (windows after the meter would find them late). */
static void test_idle_inside_batch(void **st)
{
    struct fl_harness *h = fm_new("{idle_timeout: 10s, flush_interval: 0s}");
    struct fm_pkt p[] = { pk(0, A, 1, B, 2, 17, 0, 100, 72), pk(5000, A, 3, B, 4, 17, 0, 100, 72),
                          pk(50000, A, 5, B, 6, 17, 0, 100, 72) };
    fm_push(h, p, 3);
    /* ended at 10 s and 15 s, inside the batch (rows wait for a flush) */
    assert_int_equal(fl_harness_counter(h, "flows_idle"), 2);
    size_t n;
    struct fm_rec *r = run_drain(h, &n);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].reason, "idle");
    assert_int_equal(r[0].sp, 1);
    assert_string_equal(r[1].reason, "idle");
    assert_int_equal(r[1].sp, 3);
    assert_string_equal(r[2].reason, "eof");
    free(r);
    fl_harness_destroy(&h);
}

/* FIN both ways, then the final ACK within linger: one flow, ended "fin"
 * once linger has passed; the same ports afterwards are a new flow. */
static void test_fin(void **st)
{
    struct fm_pkt p[] = {
        pk(0, A, 5000, B, 80, 6, 0x02, 60, 0),
        pk(100, B, 80, A, 5000, 6, 0x12, 60, 0),
        pk(200, A, 5000, B, 80, 6, 0x10, 52, 0),
        pk(1000, A, 5000, B, 80, 6, 0x11, 52, 0),   /* FIN from A */
        pk(1100, B, 80, A, 5000, 6, 0x10, 52, 0),
        pk(1200, B, 80, A, 5000, 6, 0x11, 52, 0),   /* FIN from B: closed */
        pk(1300, A, 5000, B, 80, 6, 0x10, 52, 0),   /* final ACK, in linger */
        pk(10000, A, 5000, B, 80, 6, 0x02, 60, 0),  /* port reuse */
    };
    for (int ticks = 0; ticks < 2; ticks++) {
        struct fl_harness *h = fm_new("{idle_timeout: 60s, linger: 2s, flush_interval: 0s}");
        fm_push(h, p, 7);
        if (ticks) {
            assert_int_equal(fl_harness_tick(h, FM_T0 + 3199 * MS), 0);
            assert_int_equal(fl_harness_out_rows(h), 0);
            assert_int_equal(fl_harness_tick(h, FM_T0 + 3200 * MS), 0);
            assert_int_equal(fl_harness_out_rows(h), 1);
        }
        fm_push(h, &p[7], 1);
        size_t n;
        struct fm_rec *r = run_drain(h, &n);
        assert_int_equal(n, 2);
        assert_string_equal(r[0].reason, "fin");
        assert_int_equal(r[0].packets, 7);
        assert_int_equal(r[0].fwd_p, 4);
        assert_int_equal(r[0].end, FM_T0 + 1300 * MS);
        assert_int_equal(r[0].flags, 0x13);
        assert_int_equal(r[1].packets, 1);
        assert_string_equal(r[1].reason, "eof");
        assert_int_equal(fl_harness_counter(h, "flows_fin"), 1);
        free(r);
        fl_harness_destroy(&h);
    }

    /* A FIN from one side only does not end the flow. A closed flow still
     * lingering at the end of input says how it ended. */
    struct fl_harness *h = fm_new("{idle_timeout: 60s}");
    fm_push(h, p, 5);
    size_t n;
    struct fm_rec *r = run_drain(h, &n);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].reason, "eof");
    free(r);
    fl_harness_destroy(&h);
    h = fm_new("{idle_timeout: 60s}");
    fm_push(h, p, 6);
    r = run_drain(h, &n);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].reason, "fin");
    free(r);
    fl_harness_destroy(&h);

    /* When linger and idle end a flow at the same instant, the connection
     * end is the reason. */
    h = fm_new("{idle_timeout: 2s, linger: 2s}");
    fm_push(h, p, 6);
    struct fm_pkt late = p[6];
    late.ts = FM_T0 + 3200 * MS;
    fm_push(h, &late, 1);
    r = run_drain(h, &n);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].reason, "fin");
    assert_int_equal(r[0].packets, 6);
    free(r);
    fl_harness_destroy(&h);

    /* tcp_end: false ignores FIN: the port reuse joins the flow. */
    h = fm_new("{idle_timeout: 60s, tcp_end: false}");
    fm_push(h, p, 8);
    r = run_drain(h, &n);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].packets, 8);
    assert_string_equal(r[0].reason, "eof");
    free(r);
    fl_harness_destroy(&h);
}

static void test_rst(void **st)
{
    struct fl_harness *h = fm_new("{linger: 2s, flush_interval: 0s}");
    struct fm_pkt p[] = {
        pk(0, A, 5001, B, 81, 6, 0x02, 60, 0),
        pk(100, B, 81, A, 5001, 6, 0x14, 40, 0),   /* RST|ACK */
        pk(150, A, 5001, B, 81, 6, 0x02, 60, 0),   /* retry within linger joins */
    };
    fm_push(h, p, 3);
    assert_int_equal(fl_harness_tick(h, FM_T0 + 2099 * MS), 0);
    assert_int_equal(fl_harness_out_rows(h), 0);
    assert_int_equal(fl_harness_tick(h, FM_T0 + 2100 * MS), 0);
    size_t n;
    struct fm_rec *r = run_drain(h, &n);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].reason, "rst");
    assert_int_equal(r[0].packets, 3);
    assert_int_equal(r[0].rev_flags, 0x14);
    assert_int_equal(fl_harness_counter(h, "flows_rst"), 1);
    free(r);
    fl_harness_destroy(&h);
}

/* max_flows 4: the fifth and sixth flows push out the flows nearest to
 * their idle end, i.e. least recently active (F0 had a packet at 3.5 s, so
 * F1 and F2 go), counted in "evicted". */
static void test_max_flows(void **st)
{
    struct fl_harness *h = fm_new("{max_flows: 4, idle_timeout: 60s}");
    struct fm_pkt p[7];
    for (int i = 0; i < 4; i++)
        p[i] = pk(1000 * i, A, (uint16_t)(100 + i), B, 53, 17, 0, 80, 52);
    p[4] = pk(3500, B, 53, A, 100, 17, 0, 80, 52);
    p[5] = pk(4000, A, 104, B, 53, 17, 0, 80, 52);
    p[6] = pk(5000, A, 105, B, 53, 17, 0, 80, 52);
    fm_push(h, p, 7);
    assert_int_equal(fl_harness_counter(h, "evicted"), 2);
    size_t n;
    struct fm_rec *r = run_drain(h, &n);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        bool ev = r[i].sp == 101 || r[i].sp == 102;
        assert_string_equal(r[i].reason, ev ? "evicted" : "eof");
    }
    assert_int_equal(r[0].packets, 2);   /* F0 kept both its packets */
    assert_int_equal(fl_harness_counter(h, "flows_evicted"), 2);
    free(r);
    fl_harness_destroy(&h);

    /* A full table first ends flows that are due anyway, as what they are. */
    h = fm_new("{max_flows: 2, idle_timeout: 10s}");
    struct fm_pkt q[] = { pk(0, A, 1, B, 2, 17, 0, 80, 52), pk(1000, A, 3, B, 4, 17, 0, 80, 52),
                          pk(20000, A, 5, B, 6, 17, 0, 80, 52) };
    fm_push(h, q, 3);
    r = run_drain(h, &n);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].reason, "idle");
    assert_string_equal(r[1].reason, "idle");
    assert_string_equal(r[2].reason, "eof");
    assert_int_equal(fl_harness_counter(h, "evicted"), 0);
    free(r);
    fl_harness_destroy(&h);

    /* max_flows 1 under a stream of new flows: always exactly one held. */
    h = fm_new("{max_flows: 1}");
    struct fm_pkt s[100];
    for (int i = 0; i < 100; i++)
        s[i] = pk((uint64_t)i, A, (uint16_t)(1 + i % 7), B, 2, 17, 0, 80, 52);
    fm_push(h, s, 100);
    r = run_drain(h, &n);
    uint64_t pk_total = 0;
    for (size_t i = 0; i < n; i++)
        pk_total += r[i].packets;
    assert_int_equal(pk_total, 100);
    assert_int_equal(fl_harness_counter(h, "evicted"), n - 1);
    free(r);
    fl_harness_destroy(&h);
}

/* A long stream over many more flows than max_flows and no ticks at all:
 * nothing is lost (packets and bytes add up), every eviction is counted,
 * and the table never holds more than max_flows. */
static void test_pressure_no_ticks(void **st)
{
    enum { N = 50000 };
    struct fl_harness *h = fm_new("{max_flows: 100, idle_timeout: 30s}");
    struct fm_pkt *p = calloc(N, sizeof(*p));
    unsigned seed = 7;
    uint64_t bytes = 0;
    assert_non_null(p);
    for (int i = 0; i < N; i++) {
        uint16_t f = (uint16_t)(rand_r(&seed) % 5000);
        p[i] = rand_r(&seed) % 2 ? pk((uint64_t)i, A, f, B, 80, 6, 0x10, 40 + f % 1000, f % 1000)
                                 : pk((uint64_t)i, B, 80, A, f, 6, 0x10, 40 + f % 1000, f % 1000);
        bytes += p[i].iplen;
    }
    fm_push_split(h, p, N, 512, 0, 3);
    size_t n;
    struct fm_rec *r = run_drain(h, &n);
    uint64_t pk_total = 0, b_total = 0, ev = 0, eof = 0;
    for (size_t i = 0; i < n; i++) {
        pk_total += r[i].packets;
        b_total += r[i].bytes;
        ev += strcmp(r[i].reason, "evicted") == 0;
        eof += strcmp(r[i].reason, "eof") == 0;
    }
    assert_int_equal(pk_total, N);
    assert_int_equal(b_total, bytes);
    assert_int_equal(fl_harness_counter(h, "evicted"), ev);
    assert_true(ev > 10000);
    assert_int_equal(eof, 100);   /* a full table at the end */
    free(r);
    free(p);
    fl_harness_destroy(&h);
}

/* Pressure with timeouts longer than the wheel's default span (a day):
 * eviction must not rescan the wheel for every new flow. Regression: the
 * wheel once wrapped such deadlines and reset its scan floor on every clock
 * step, which made each eviction walk ~65k buckets. */
static void test_pressure_long_timeouts(void **st)
{
    enum { N = 20000 };
    struct fl_harness *h = fm_new("{max_flows: 100, idle_timeout: 1d, active_timeout: 1d}");
    struct fm_pkt *p = calloc(N, sizeof(*p));
    assert_non_null(p);
    for (int i = 0; i < N; i++)   /* a new flow every millisecond */
        p[i] = pk((uint64_t)i, A, (uint16_t)(1024 + i % 60000), B, 80, 17, 0, 60, 32);
    fm_push_split(h, p, N, 512, 0, 3);
    size_t n;
    struct fm_rec *r = run_drain(h, &n);
    assert_int_equal(n, N);
    assert_int_equal(fl_harness_counter(h, "evicted"), N - 100);
    uint64_t scanned = fl_harness_counter(h, "evict_scanned");
    /* The first eviction walks up to one turn of the wheel (65536 buckets)
     * to the first deadline; after that a few buckets each. Before the fix
     * every eviction walked a turn: about 1.3e9 here. */
    assert_true(scanned <= 65536 + 2 * (uint64_t)N);
    free(r);
    free(p);
    fl_harness_destroy(&h);
}

/* key_vlan: the same 5-tuple on two VLANs is one flow or two. */
static void test_vlan_key(void **st)
{
    struct fm_pkt p[] = { pk(0, A, 1, B, 2, 17, 0, 80, 52), pk(1, B, 2, A, 1, 17, 0, 80, 52) };
    p[0].vlan = 10;
    p[1].vlan = 20;
    for (int keyed = 0; keyed < 2; keyed++) {
        struct fl_harness *h = fm_new(keyed ? "{key_vlan: true}" : "{key_vlan: false}");
        fm_push(h, p, 2);
        size_t n;
        struct fm_rec *r = run_drain(h, &n);
        assert_int_equal(n, keyed ? 2 : 1);
        assert_int_equal(r[0].vlan, 10);
        if (keyed) {
            assert_int_equal(r[1].vlan, 20);
            assert_int_equal(r[1].sa, B);
        }
        free(r);
        fl_harness_destroy(&h);
    }
}

/* IPv6 flows keep their addresses and ip_version; v4 and v6 flows with the
 * same low bits stay apart. */
static void test_ipv6(void **st)
{
    struct fl_harness *h = fm_new("{}");
    struct fm_pkt p[] = { pk(0, A, 1, B, 2, 17, 0, 80, 52), pk(1, B, 2, A, 1, 17, 0, 80, 52),
                          pk(2, A, 1, B, 2, 17, 0, 80, 52) };
    p[0].v6 = p[1].v6 = true;
    fm_push(h, p, 3);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_int_equal(fl_harness_out_rows(h), 2);
    struct fl_batch *b = fl_harness_out(h, 0);
    int cv = fl_schema_find(b->schema, "ip_version"), cs = fl_schema_find(b->schema, "src_addr");
    int c6 = FL_COL(b, cv, uint8_t)[0] == 6 ? 0 : 1;
    assert_int_equal(FL_COL(b, cv, uint8_t)[c6], 6);
    assert_int_equal(FL_COL(b, cv, uint8_t)[1 - c6], 4);
    const struct fl_addr *a6 = &FL_COL(b, cs, struct fl_addr)[c6];
    assert_int_equal(a6->b[0], 0x20);
    assert_int_equal(a6->b[15], 1);
    assert_int_equal(FL_COL(b, fl_schema_find(b->schema, "packets"), uint64_t)[c6], 2);
    fl_harness_destroy(&h);
}

/* The output schema has the canonical names and types of the registry,
 * and the seed's names resolve to them as aliases. */
static void test_schema(void **st)
{
    struct fl_harness *h = fm_new("{}");
    const struct fl_schema *s = fl_harness_out_schema(h);
    static const struct { const char *name; enum fl_type t; } want[] = {
        { "flow_start", FL_T_TS }, { "flow_end", FL_T_TS }, { "duration", FL_T_DUR },
        { "proto", FL_T_U8 }, { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR },
        { "src_port", FL_T_U16 }, { "dst_port", FL_T_U16 }, { "packets", FL_T_U64 },
        { "bytes", FL_T_U64 }, { "payload_bytes", FL_T_U64 }, { "nopay", FL_T_U64 },
        { "ps_avg", FL_T_F64 }, { "ps_min", FL_T_U32 }, { "ps_max", FL_T_U32 },
        { "ps_std", FL_T_F64 }, { "pay_avg", FL_T_F64 }, { "pay_min", FL_T_U32 },
        { "pay_max", FL_T_U32 }, { "pay_std", FL_T_F64 }, { "ip_version", FL_T_U8 },
        { "vlan", FL_T_U16 }, { "fwd_packets", FL_T_U64 }, { "fwd_bytes", FL_T_U64 },
        { "rev_packets", FL_T_U64 }, { "rev_bytes", FL_T_U64 }, { "tcp_flags", FL_T_U8 },
        { "fwd_tcp_flags", FL_T_U8 }, { "rev_tcp_flags", FL_T_U8 }, { "end_reason", FL_T_STR },
        { "conn_state", FL_T_STR },
    };
    assert_non_null(s);
    assert_int_equal(s->ncols, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < s->ncols; i++) {
        assert_string_equal(s->cols[i]->name, want[i].name);
        assert_int_equal(s->cols[i]->type, want[i].t);
        const struct fl_field *f = fl_field_find(want[i].name);
        if (f)
            assert_int_equal(f->type, want[i].t);   /* agrees with the registry */
    }
    static const char *const seed[] = { "srcp", "dstp", "size", "paysize", "avgps", "minps",
                                         "maxps", "stddps", "avgpays", "minpays", "maxpays",
                                         "stddpays", "srcaddr", "dstaddr", "nopayloadcnt" };
    for (size_t i = 0; i < sizeof(seed) / sizeof(seed[0]); i++)
        if (fl_field_find(seed[i]))   /* aliases come from the registry */
            assert_true(fl_schema_find(s, seed[i]) >= 0);
    fl_harness_destroy(&h);
}

/* Inputs it cannot use are refused by describe (flowline check), bad
 * option values by the option table. */
static void test_bad_input(void **st)
{
    struct fl_harness *h = NULL;
    static const struct fl_col_def cols[] = {
        { "ts", FL_T_TS }, { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR },
        { "src_port", FL_T_U16 }, { "dst_port", FL_T_U16 }, { "proto", FL_T_U8 },
        { "ip_len", FL_T_F64 }, { "payload_len", FL_T_U32 },
    };
    const struct fl_schema *s;
    /* ip_len as f64 does not narrow to u32; six columns lack the lengths */
    assert_int_equal(fl_schema_intern(fm_ctx(), cols, 8, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_harness_new("aggregate.flowmeter", "{}", s, &h), -FL_EINVAL);
    assert_int_equal(fl_schema_intern(fm_ctx(), cols, 6, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_harness_new("aggregate.flowmeter", "{}", s, &h), -FL_EINVAL);
    assert_true(fl_harness_new("aggregate.flowmeter", "{idle_timeout: 0s}", fm_packet_schema(),
                               &h) < 0);
    assert_true(fl_harness_new("aggregate.flowmeter", "{max_flows: 0}", fm_packet_schema(),
                               &h) < 0);
    assert_true(fl_harness_new("aggregate.flowmeter", "{idle_timout: 5s}", fm_packet_schema(),
                               &h) < 0);
    assert_null(h);
}

/* Without the decoder's flow_hash column (or other optional columns) it
 * hashes the key itself and gives the same flows; narrower length columns
 * (u16, as an IPFIX template may send them) are widened by the core. */
static void test_no_hash_column(void **st)
{
    static const struct fl_col_def cols[] = {
        { "ts", FL_T_TS }, { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR },
        { "src_port", FL_T_U16 }, { "dst_port", FL_T_U16 }, { "proto", FL_T_U8 },
        { "ip_len", FL_T_U16 }, { "payload_len", FL_T_U8 },
    };
    const struct fl_schema *s;
    struct fl_harness *h = NULL;
    struct fl_batch *b = NULL;
    assert_int_equal(fl_schema_intern(fm_ctx(), cols, 8, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_harness_new("aggregate.flowmeter", "{}", s, &h), 0);
    assert_int_equal(fl_batch_new(fm_ctx(), s, 40, &b), 0);
    for (uint32_t i = 0; i < 40; i++) {
        struct fl_addr x = { .b = { [10] = 0xff, [11] = 0xff, [12] = 10, [15] = 1 } };
        struct fl_addr y = { .b = { [10] = 0xff, [11] = 0xff, [12] = 10, [15] = 2 } };
        bool rev = i % 2;
        FL_COL(b, 0, uint64_t)[i] = FM_T0 + i;
        FL_COL(b, 1, struct fl_addr)[i] = rev ? y : x;
        FL_COL(b, 2, struct fl_addr)[i] = rev ? x : y;
        FL_COL(b, 3, uint16_t)[i] = rev ? 80 : (uint16_t)(1000 + i / 4);
        FL_COL(b, 4, uint16_t)[i] = rev ? (uint16_t)(1000 + i / 4) : 80;
        FL_COL(b, 5, uint8_t)[i] = 6;
        FL_COL(b, 6, uint16_t)[i] = (uint16_t)(40 + i % 2);
        FL_COL(b, 7, uint8_t)[i] = (uint8_t)(i % 2);
    }
    b->rows = 40;
    assert_int_equal(fl_harness_push(h, b), 0);
    fl_batch_release(&b);
    size_t n;
    struct fm_rec *r = run_drain(h, &n);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r[i].packets, 4);
        assert_int_equal(r[i].fwd_p, 2);
        assert_int_equal(r[i].ipv, 4);
        assert_int_equal(r[i].bytes, 162);
        assert_int_equal(r[i].payload, 2);
    }
    free(r);
    fl_harness_destroy(&h);
}

/* An open input (fields known at run time): a batch without a required
 * field is dropped and counted, and the stage goes on. */
static void test_open_input_missing_field(void **st)
{
    static const struct fl_col_def cols[] = {
        { "ts", FL_T_TS }, { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR },
        { "proto", FL_T_U8 }, { "ip_len", FL_T_U32 }, { "payload_len", FL_T_U32 },
    };
    const struct fl_schema *s;
    struct fl_harness *h = NULL;
    struct fl_batch *b = NULL;
    assert_int_equal(fl_schema_intern(fm_ctx(), cols, 6, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_harness_new("aggregate.flowmeter", "{}", NULL, &h), 0);
    assert_int_equal(fl_batch_new(fm_ctx(), s, 8, &b), 0);
    memset(b->data[0], 0, 8 * sizeof(uint64_t));
    b->rows = 8;
    assert_int_equal(fl_harness_push(h, b), 0);
    fl_batch_release(&b);
    assert_int_equal(fl_harness_counter(h, "records_missing_field"), 8);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_int_equal(fl_harness_out_rows(h), 0);
    fl_harness_destroy(&h);
}

/* Output batches hold batch_size rows; a tick emits a partial batch once
 * flush_interval has passed on the stage clock. */
static void test_batching(void **st)
{
    struct fl_harness *h = fm_new("{batch_size: 3, idle_timeout: 1s, flush_interval: 5s}");
    struct fm_pkt p[8];
    for (int i = 0; i < 8; i++)
        p[i] = pk(10 * i, A, (uint16_t)(1 + i), B, 2, 17, 0, 80, 52);
    fm_push(h, p, 8);
    assert_int_equal(fl_harness_tick(h, FM_T0 + 2 * FM_S), 0);
    assert_int_equal(fl_harness_n_out(h), 2);     /* 3 + 3, 2 waiting */
    assert_int_equal(fl_harness_out_rows(h), 6);
    assert_int_equal(fl_harness_tick(h, FM_T0 + 6 * FM_S), 0);
    assert_int_equal(fl_harness_n_out(h), 2);
    assert_int_equal(fl_harness_tick(h, FM_T0 + 7 * FM_S), 0);
    assert_int_equal(fl_harness_n_out(h), 3);
    assert_int_equal(fl_harness_out_rows(h), 8);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_int_equal(fl_harness_out_rows(h), 8);
    fl_harness_destroy(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bidirectional),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_idle),
        cmocka_unit_test(test_active),
        cmocka_unit_test(test_active_short),
        cmocka_unit_test(test_idle_inside_batch),
        cmocka_unit_test(test_fin),
        cmocka_unit_test(test_rst),
        cmocka_unit_test(test_max_flows),
        cmocka_unit_test(test_pressure_no_ticks),
        cmocka_unit_test(test_pressure_long_timeouts),
        cmocka_unit_test(test_vlan_key),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_no_hash_column),
        cmocka_unit_test(test_open_input_missing_field),
        cmocka_unit_test(test_batching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
