/* test_flowmeter_conn.c: aggregate.flowmeter's connection semantics on
 * crafted packet sequences: every conn_state code (Zeek's conn.log), the
 * state of records cut by the active timeout and of late packets, which
 * side is src when the first packet is an answer (TCP SYN-ACK, ICMP
 * reply), and ICMP query/reply pairing with and without icmp_pairs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "fm_test.h"

#define A 0x0a000001u   /* 10.0.0.1: the client */
#define B 0x0a000002u   /* 10.0.0.2: the server */
#define MS (FM_S / 1000)

#define SYN 0x02
#define FIN 0x01
#define RST 0x04
#define ACK 0x10
#define PSH 0x08

/* A TCP packet of connection `port` (A:port <-> B:80) at ms, from the
 * client (c = 1) or the server (c = 0). */
static struct fm_pkt tp(uint64_t ms, uint16_t port, int c, uint8_t flags, uint32_t pay)
{
    return (struct fm_pkt){ .ts = FM_T0 + ms * MS, .sa = c ? A : B, .sp = c ? port : 80,
                            .da = c ? B : A, .dp = c ? 80 : port, .proto = 6, .flags = flags,
                            .iplen = 40 + pay, .paylen = pay };
}

/* An ICMP message (ICMPv6 if v6) of type from x to y with identifier id. */
static struct fm_pkt ip(uint64_t ms, uint32_t x, uint32_t y, int v6, unsigned type, uint16_t id)
{
    return (struct fm_pkt){ .ts = FM_T0 + ms * MS, .sa = x, .da = y, .dp = (uint16_t)(type << 8),
                            .proto = v6 ? 58 : 1, .icmp_id = id, .iplen = 84, .paylen = 56,
                            .v6 = v6 };
}

static struct fm_rec *run(const char *yaml, const struct fm_pkt *p, size_t n, size_t *nrec)
{
    struct fl_harness *h = fm_new(yaml);
    fm_push(h, p, n);
    assert_int_equal(fl_harness_drain(h), 0);
    struct fm_rec *r = fm_records(h, nrec);
    fm_sort(r, *nrec);
    fl_harness_destroy(&h);
    return r;
}

/* The record of TCP connection `port` (src A:port, as every scenario's
 * client is the initiator) starting at start_ms. */
static const struct fm_rec *conn(const struct fm_rec *r, size_t n, uint16_t port,
                                 uint64_t start_ms)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].proto == 6 && r[i].start == FM_T0 + start_ms * MS
            && ((r[i].sa == A && r[i].sp == port) || (r[i].da == A && r[i].dp == port)))
            return &r[i];
    fail_msg("no record of connection %u at %llu ms", port, (unsigned long long)start_ms);
    return NULL;
}

/* One connection per code; each starts at port * 10 ms past t0 (ports
 * 1..13), so the sequences are in time order and never overlap. */
static void test_conn_states(void **st)
{
    (void)st;
#define T(port, k) ((uint64_t)(port) * 10 + (k))
    struct fm_pkt p[] = {
        /* 1 S0: a SYN, no answer */
        tp(T(1, 0), 1, 1, SYN, 0),
        /* 2 S1: handshake and data, never closed */
        tp(T(2, 0), 2, 1, SYN, 0), tp(T(2, 1), 2, 0, SYN | ACK, 0), tp(T(2, 2), 2, 1, ACK, 0),
        tp(T(2, 3), 2, 1, PSH | ACK, 100),
        /* 3 SF: handshake, data, FIN both ways, last ACK */
        tp(T(3, 0), 3, 1, SYN, 0), tp(T(3, 1), 3, 0, SYN | ACK, 0), tp(T(3, 2), 3, 1, ACK, 0),
        tp(T(3, 3), 3, 0, PSH | ACK, 500), tp(T(3, 4), 3, 1, FIN | ACK, 0),
        tp(T(3, 5), 3, 0, FIN | ACK, 0), tp(T(3, 6), 3, 1, ACK, 0),
        /* 4 REJ: SYN answered by RST-ACK */
        tp(T(4, 0), 4, 1, SYN, 0), tp(T(4, 1), 4, 0, RST | ACK, 0),
        /* 5 S2: established, the client's FIN unanswered */
        tp(T(5, 0), 5, 1, SYN, 0), tp(T(5, 1), 5, 0, SYN | ACK, 0), tp(T(5, 2), 5, 1, ACK, 0),
        tp(T(5, 3), 5, 1, FIN | ACK, 0),
        /* 6 S3: established, the server's FIN unanswered */
        tp(T(6, 0), 6, 1, SYN, 0), tp(T(6, 1), 6, 0, SYN | ACK, 0), tp(T(6, 2), 6, 1, ACK, 0),
        tp(T(6, 3), 6, 0, FIN | ACK, 0), tp(T(6, 4), 6, 1, ACK, 0),
        /* 7 RSTO: established, the client aborts */
        tp(T(7, 0), 7, 1, SYN, 0), tp(T(7, 1), 7, 0, SYN | ACK, 0), tp(T(7, 2), 7, 1, ACK, 0),
        tp(T(7, 3), 7, 1, RST | ACK, 0),
        /* 8 RSTR: established, data, the server aborts */
        tp(T(8, 0), 8, 1, SYN, 0), tp(T(8, 1), 8, 0, SYN | ACK, 0), tp(T(8, 2), 8, 1, ACK, 0),
        tp(T(8, 3), 8, 1, PSH | ACK, 20), tp(T(8, 4), 8, 0, RST, 0),
        /* 9 RSTOS0: SYN, then the client's RST, no SYN-ACK */
        tp(T(9, 0), 9, 1, SYN, 0), tp(T(9, 1), 9, 1, RST, 0),
        /* 10 RSTRH: a SYN-ACK (its SYN missed), then the server's RST */
        tp(T(10, 0), 10, 0, SYN | ACK, 0), tp(T(10, 1), 10, 0, RST, 0),
        /* 11 SH: SYN, then the client's FIN, no SYN-ACK */
        tp(T(11, 0), 11, 1, SYN, 0), tp(T(11, 1), 11, 1, FIN, 0),
        /* 12 SHR: a SYN-ACK (its SYN missed), then the server's FIN */
        tp(T(12, 0), 12, 0, SYN | ACK, 0), tp(T(12, 1), 12, 0, FIN | ACK, 0),
        /* 13 OTH: begins mid-stream, even though it then closes cleanly */
        tp(T(13, 0), 13, 1, PSH | ACK, 50), tp(T(13, 1), 13, 0, ACK, 0),
        tp(T(13, 2), 13, 1, FIN | ACK, 0), tp(T(13, 3), 13, 0, FIN | ACK, 0),
        tp(T(13, 4), 13, 1, ACK, 0),
        /* 14 S1 as well: the third ACK lost; a SYN-ACK establishes both */
        tp(T(14, 0), 14, 1, SYN, 0), tp(T(14, 1), 14, 0, SYN | ACK, 0),
        tp(T(14, 2), 14, 0, PSH | ACK, 10),
        /* 15 SF after FIN, RST, FIN: Zeek undoes the RST of a side that had
         * closed once the other side closes too */
        tp(T(15, 0), 15, 1, SYN, 0), tp(T(15, 1), 15, 0, SYN | ACK, 0), tp(T(15, 2), 15, 1, ACK, 0),
        tp(T(15, 3), 15, 1, FIN | ACK, 0), tp(T(15, 4), 15, 1, RST, 0),
        tp(T(15, 5), 15, 0, FIN | ACK, 0),
        /* 16 SF with a RST after both FINs: changes nothing */
        tp(T(16, 0), 16, 1, SYN, 0), tp(T(16, 1), 16, 0, SYN | ACK, 0), tp(T(16, 2), 16, 1, ACK, 0),
        tp(T(16, 3), 16, 1, FIN | ACK, 0), tp(T(16, 4), 16, 0, FIN | ACK, 0),
        tp(T(16, 5), 16, 1, RST, 0),
    };
    static const struct { uint16_t port; const char *state; } want[] = {
        { 1, "S0" }, { 2, "S1" }, { 3, "SF" }, { 4, "REJ" }, { 5, "S2" }, { 6, "S3" },
        { 7, "RSTO" }, { 8, "RSTR" }, { 9, "RSTOS0" }, { 10, "RSTRH" }, { 11, "SH" },
        { 12, "SHR" }, { 13, "OTH" }, { 14, "S1" }, { 15, "SF" }, { 16, "SF" },
    };
    /* With and without tcp_end (which only decides when records end). */
    for (int te = 0; te < 2; te++) {
        size_t n;
        struct fm_rec *r = run(te ? "{tcp_end: false}" : "{}", p, sizeof p / sizeof p[0], &n);
        assert_int_equal(n, sizeof want / sizeof want[0]);
        for (size_t i = 0; i < n; i++) {
            const struct fm_rec *x = conn(r, n, want[i].port, T(want[i].port, 0));
            if (strcmp(x->conn, want[i].state) != 0)
                fail_msg("connection %u: conn_state %s, want %s", want[i].port, x->conn,
                         want[i].state);
            /* the client is src in every one, also where it sent nothing */
            assert_int_equal(x->sa, A);
            assert_int_equal(x->sp, want[i].port);
            assert_int_equal(x->da, B);
            assert_int_equal(x->dp, 80);
        }
        /* the SYN-ACK-first flows count the server's packets as reverse */
        const struct fm_rec *x = conn(r, n, 12, T(12, 0));
        assert_int_equal(x->fwd_p, 0);
        assert_int_equal(x->rev_p, 2);
        free(r);
    }
#undef T
}

/* A connection cut by the active timeout: every record reports the state
 * of the connection when that record ended (S1, then SF), not OTH for the
 * record that begins without a SYN. A packet arriving after a closed
 * connection's linger is a new flow, and begins without a SYN: OTH. */
static void test_conn_cut_and_late(void **st)
{
    (void)st;
    struct fm_pkt p[] = {
        tp(0, 7000, 1, SYN, 0), tp(1, 7000, 0, SYN | ACK, 0), tp(2, 7000, 1, ACK, 0),
        tp(500, 7000, 1, PSH | ACK, 100),
        tp(1500, 7000, 0, PSH | ACK, 100),              /* after the cut at 1000 ms */
        tp(1600, 7000, 1, FIN | ACK, 0), tp(1601, 7000, 0, FIN | ACK, 0),
        tp(1602, 7000, 1, ACK, 0),
        tp(9000, 7000, 0, ACK, 0),                      /* late: linger was 300 ms */
    };
    size_t n;
    struct fm_rec *r = run("{active_timeout: 1s, idle_timeout: 60s, linger: 300ms}", p,
                           sizeof p / sizeof p[0], &n);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].reason, "active");
    assert_string_equal(r[0].conn, "S1");
    assert_string_equal(r[1].reason, "fin");
    assert_string_equal(r[1].conn, "SF");
    assert_int_equal(r[1].sa, A);              /* the continuation keeps src */
    assert_string_equal(r[2].conn, "OTH");
    assert_int_equal(r[2].sa, B);              /* the late packet's sender */
    assert_int_equal(r[2].packets, 1);
    free(r);
}

/* UDP: answered SF, one-way S0 (the initiator sent first by definition),
 * also for a continuation record after an active cut in which only the
 * initiator sends. ICMP and other protocols: OTH, as Zeek. */
static void test_conn_other_protocols(void **st)
{
    (void)st;
    struct fm_pkt p[] = {
        { .ts = FM_T0, .sa = A, .sp = 5353, .da = B, .dp = 53, .proto = 17, .iplen = 60 },
        { .ts = FM_T0 + MS, .sa = B, .sp = 53, .da = A, .dp = 5353, .proto = 17, .iplen = 90 },
        { .ts = FM_T0 + 2 * MS, .sa = A, .sp = 5354, .da = B, .dp = 53, .proto = 17, .iplen = 60 },
        ip(3, A, B, 0, 8, 1), ip(4, B, A, 0, 0, 1),
        { .ts = FM_T0 + 5 * MS, .sa = A, .da = B, .proto = 47, .iplen = 100 },
        /* answered, then cut at 1 s, then only the initiator */
        { .ts = FM_T0 + 6 * MS, .sa = A, .sp = 9000, .da = B, .dp = 9001, .proto = 17, .iplen = 60 },
        { .ts = FM_T0 + 7 * MS, .sa = B, .sp = 9001, .da = A, .dp = 9000, .proto = 17, .iplen = 60 },
        { .ts = FM_T0 + 1500 * MS, .sa = A, .sp = 9000, .da = B, .dp = 9001, .proto = 17,
          .iplen = 60 },
    };
    size_t n;
    struct fm_rec *r = run("{active_timeout: 1s}", p, sizeof p / sizeof p[0], &n);
    assert_int_equal(n, 6);
    assert_string_equal(r[4].conn, "SF");
    assert_int_equal(r[4].sp, 9000);
    assert_string_equal(r[4].reason, "active");
    assert_string_equal(r[5].conn, "SF");
    assert_int_equal(r[5].packets, 1);
    assert_string_equal(r[0].conn, "SF");
    assert_int_equal(r[0].sp, 5353);
    assert_string_equal(r[1].conn, "S0");
    assert_string_equal(r[2].conn, "OTH");
    assert_int_equal(r[2].proto, 1);
    assert_string_equal(r[3].conn, "OTH");
    assert_int_equal(r[3].proto, 47);
    free(r);
}

/* icmp_pairs (default): request and reply are one flow per (addresses,
 * identifier, query type), src the requester even when the reply comes
 * first, dst_port the request's type << 8 | code, src_port 0. Errors stay
 * keyed by type/code. */
static void test_icmp_pairs(void **st)
{
    (void)st;
    struct fm_pkt p[] = {
        ip(0, A, B, 0, 8, 7), ip(1, B, A, 0, 0, 7),      /* ping id 7 */
        ip(2, A, B, 0, 8, 7), ip(3, B, A, 0, 0, 7),
        ip(10, A, B, 0, 8, 8), ip(11, B, A, 0, 0, 8),    /* id 8: another flow */
        ip(20, B, A, 0, 0, 9), ip(21, A, B, 0, 8, 9),    /* reply seen first */
        ip(30, A, B, 0, 13, 7), ip(31, B, A, 0, 14, 7),  /* timestamp, same id as the ping */
        ip(40, A, B, 1, 128, 7), ip(41, B, A, 1, 129, 7),  /* ICMPv6 echo */
        ip(50, B, A, 0, 3, 0),                           /* unreachable */
        ip(60, A, B, 0, 17, 3), ip(61, B, A, 0, 18, 3),  /* address mask */
        ip(70, A, B, 0, 15, 3), ip(71, B, A, 0, 16, 4),  /* information, ids differ: two */
    };
    size_t n;
    struct fm_rec *r = run("{}", p, sizeof p / sizeof p[0], &n);
    static const struct { uint64_t ms; uint32_t sa; uint16_t dp; uint64_t fwd, rev; } want[] = {
        { 0, A, 0x0800, 2, 2 }, { 10, A, 0x0800, 1, 1 }, { 20, A, 0x0800, 1, 1 },
        { 30, A, 13 << 8, 1, 1 }, { 40, A, 128 << 8, 1, 1 }, { 50, B, 0x0300, 1, 0 },
        { 60, A, 17 << 8, 1, 1 }, { 70, A, 15 << 8, 1, 0 }, { 71, A, 15 << 8, 0, 1 },
    };
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r[i].start, FM_T0 + want[i].ms * MS);
        assert_int_equal(r[i].sa, want[i].sa);
        assert_int_equal(r[i].da, want[i].sa == A ? B : A);
        assert_int_equal(r[i].sp, 0);
        assert_int_equal(r[i].dp, want[i].dp);
        assert_int_equal(r[i].fwd_p, want[i].fwd);
        assert_int_equal(r[i].rev_p, want[i].rev);
    }
    free(r);
}

/* icmp_pairs: false keeps nfdump's key: one flow per direction and
 * type/code, whatever the identifier. */
static void test_icmp_plain(void **st)
{
    (void)st;
    struct fm_pkt p[] = {
        ip(0, A, B, 0, 8, 7), ip(1, B, A, 0, 0, 7),
        ip(2, A, B, 0, 8, 8), ip(3, B, A, 0, 0, 8),
        ip(4, A, B, 1, 128, 7), ip(5, B, A, 1, 129, 7),
    };
    size_t n;
    struct fm_rec *r = run("{icmp_pairs: false}", p, sizeof p / sizeof p[0], &n);
    assert_int_equal(n, 4);
    assert_int_equal(r[0].sa, A);
    assert_int_equal(r[0].dp, 0x0800);
    assert_int_equal(r[0].packets, 2);
    assert_int_equal(r[1].sa, B);
    assert_int_equal(r[1].dp, 0x0000);
    assert_int_equal(r[1].packets, 2);
    assert_int_equal(r[2].dp, 128 << 8);
    assert_int_equal(r[3].dp, 129 << 8);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r[i].sp, 0);
        assert_int_equal(r[i].rev_p, 0);
    }
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conn_states),
        cmocka_unit_test(test_conn_cut_and_late),
        cmocka_unit_test(test_conn_other_protocols),
        cmocka_unit_test(test_icmp_pairs),
        cmocka_unit_test(test_icmp_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
