/* test_gen.c: input.gen loaded as a plugin through the harness, as a
 * pipeline runs it. It checks that the generator is a trustworthy ground
 * truth: the same seed gives the same bytes (whatever batch_size and emit);
 * the truth file equals what the core's decoder sees in the emitted
 * batches (packets, bytes, flows per protocol and IP version, the largest
 * gap, the most sessions open at once); nothing is dropped as malformed;
 * option fractions, time and snaplen do what they say; bad options fail
 * with a diagnostic; and, where tshark is installed, an independent
 * dissector agrees on frames, conversations and checksums. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <flowline/decode.h>
#include <flowline/plugin.h>
#include "fl_harness.h"

static char dir[64];

static int setup(void **state)
{
    assert_int_equal(fl_test_tmpdir("gen", dir, sizeof(dir)), 0);
    return 0;
}

static int teardown(void **state)
{
    assert_int_equal(fl_test_rmdir(dir), 0);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static struct fl_harness *run_gen(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct fl_harness *run_gen(const char *fmt, ...)
{
    char yaml[1024];
    struct fl_harness *h = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(yaml, sizeof(yaml), fmt, ap);
    va_end(ap);
    assert_int_equal(fl_harness_new("input.gen", yaml, NULL, &h), 0);
    assert_int_equal(fl_harness_run(h), 0);
    return h;
}

/* "key": number, first occurrence after `from` (or the start). */
static uint64_t jnum(const char *json, const char *from, const char *key)
{
    char pat[64];
    const char *p = from ? strstr(json, from) : json;
    assert_non_null(p);
    snprintf(pat, sizeof(pat), "\"%s\": ", key);
    p = strstr(p, pat);
    assert_non_null(p);
    return strtoull(p + strlen(pat), NULL, 10);
}

/* A top-level key of the truth (two-space indent at a line start). */
static uint64_t jtop(const char *json, const char *key)
{
    char at[64];
    snprintf(at, sizeof(at), "\n  \"%s\": ", key);
    const char *p = strstr(json, at);
    assert_non_null(p);
    return strtoull(p + strlen(at), NULL, 10);
}

struct tally { uint64_t packets, bytes, flows; };

static struct tally jtally(const char *json, const char *section, const char *name)
{
    char from[64];
    snprintf(from, sizeof(from), "\"%s\": {\"packets\"", name);
    const char *s = strstr(json, section);
    assert_non_null(s);
    s = strstr(s, from);
    assert_non_null(s);
    return (struct tally){ jnum(s, NULL, "packets"), jnum(s, NULL, "bytes"), jnum(s, NULL, "flows") };
}

/* A flow-meter key: proto and the two endpoints in a canonical order, so
 * both directions of a flow give one key (ICMP: type/code is the port). */
struct key { uint8_t a[16], b[16]; uint16_t pa, pb; uint8_t proto, ver, pad[2]; };

struct ent {
    struct key k;
    bool used;
    uint64_t last_ts, packets, bytes;
    uint64_t last_row;    /* global row index of its last packet */
};

struct table { struct ent *v; size_t cap, n; };

static uint64_t key_hash(const struct key *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof(*k); i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static struct ent *table_get(struct table *t, const struct key *k, bool *fresh)
{
    if (2 * (t->n + 1) > t->cap) {
        struct table nt = { calloc(t->cap ? 2 * t->cap : 1024, sizeof(struct ent)), t->cap ? 2 * t->cap : 1024, 0 };
        assert_non_null(nt.v);
        for (size_t i = 0; i < t->cap; i++)
            if (t->v[i].used) {
                bool f;
                *table_get(&nt, &t->v[i].k, &f) = t->v[i];
            }
        free(t->v);
        *t = nt;
    }
    for (size_t i = key_hash(k) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!t->v[i].used) {
            t->v[i].used = true;
            t->v[i].k = *k;
            t->n++;
            *fresh = true;
            return &t->v[i];
        }
        if (memcmp(&t->v[i].k, k, sizeof(*k)) == 0) {
            *fresh = false;
            return &t->v[i];
        }
    }
}

/* Row r of a packet batch as a flow key; `session` merges an ICMP echo
 * request flow with its reply flow (the generator gives each ping session
 * its own address pair). */
static struct key row_key(const struct fl_batch *b, uint32_t r, bool session)
{
    struct key k;
    memset(&k, 0, sizeof(k));
    const struct fl_addr *s = &FL_COL(b, FL_PKT_SRC_ADDR, struct fl_addr)[r];
    const struct fl_addr *d = &FL_COL(b, FL_PKT_DST_ADDR, struct fl_addr)[r];
    uint16_t sp = FL_COL(b, FL_PKT_SRC_PORT, uint16_t)[r], dp = FL_COL(b, FL_PKT_DST_PORT, uint16_t)[r];
    k.proto = FL_COL(b, FL_PKT_PROTO, uint8_t)[r];
    k.ver = FL_COL(b, FL_PKT_IP_VERSION, uint8_t)[r];
    int reply, q;
    if (session && (k.proto == 1 || k.proto == 58)) {
        sp = dp = 0;
    } else if ((q = fl_icmp_query(k.proto, (uint8_t)(dp >> 8), &reply)) >= 0) {
        /* a query/reply pair is one flow (aggregate.flowmeter's
         * icmp_pairs): by identifier and request type, from the requester */
        sp = FL_COL(b, FL_PKT_ICMP_ID, uint16_t)[r];
        dp = (uint16_t)(q << 8 | (dp & 0xff));
        if (reply) {
            const struct fl_addr *t = s;
            s = d;
            d = t;
        }
    }
    int c = memcmp(s->b, d->b, 16);
    if (c < 0 || (c == 0 && sp <= dp)) {
        memcpy(k.a, s->b, 16); memcpy(k.b, d->b, 16); k.pa = sp; k.pb = dp;
    } else {
        memcpy(k.a, d->b, 16); memcpy(k.b, s->b, 16); k.pa = dp; k.pb = sp;
    }
    return k;
}

static int proto_idx(uint8_t proto)
{
    return proto == 6 ? 0 : proto == 17 ? 1 : proto == 1 ? 2 : proto == 58 ? 3 : -1;
}

/* What the emitted batches say, computed independently of the generator. */
struct seen {
    uint64_t rows, bytes, frames, flows, max_gap, max_open, first_ts, last_ts, vlan_rows;
    struct tally proto[4], ver[2];
    bool ts_sorted;
};

static void observe(struct fl_harness *h, struct seen *o)
{
    struct table flows = { 0 }, sess = { 0 };
    uint64_t row = 0, prev_ts = 0;
    memset(o, 0, sizeof(*o));
    o->ts_sorted = true;
    /* pass 1: flows, gaps, totals, and each session's last row */
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        const struct fl_batch *b = fl_harness_out(h, i);
        for (uint32_t r = 0; r < b->rows; r++, row++) {
            uint64_t ts = FL_COL(b, FL_PKT_TS, uint64_t)[r];
            uint32_t ip_len = FL_COL(b, FL_PKT_IP_LEN, uint32_t)[r];
            struct key k = row_key(b, r, false);
            bool fresh;
            struct ent *e = table_get(&flows, &k, &fresh);
            int pi = proto_idx(k.proto), vi = k.ver == 6;
            assert_true(pi >= 0);
            if (!fresh && ts - e->last_ts > o->max_gap)
                o->max_gap = ts - e->last_ts;
            e->last_ts = ts;
            if (fresh) {
                o->flows++;
                o->proto[pi].flows++;
                o->ver[vi].flows++;
            }
            o->proto[pi].packets++;
            o->proto[pi].bytes += ip_len;
            o->ver[vi].packets++;
            o->ver[vi].bytes += ip_len;
            o->rows++;
            o->bytes += ip_len;
            o->frames += FL_COL(b, FL_PKT_FRAME_LEN, uint32_t)[r];
            o->vlan_rows += FL_COL(b, FL_PKT_VLAN, uint16_t)[r] != 0;
            if (ts < prev_ts)
                o->ts_sorted = false;
            if (row == 0)
                o->first_ts = ts;
            o->last_ts = prev_ts = ts;
            k = row_key(b, r, true);
            table_get(&sess, &k, &fresh)->last_row = row;
        }
    }
    /* pass 2: sessions open at once (first packet to last packet) */
    uint64_t open = 0;
    struct table seen = { 0 };
    row = 0;
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        const struct fl_batch *b = fl_harness_out(h, i);
        for (uint32_t r = 0; r < b->rows; r++, row++) {
            struct key k = row_key(b, r, true);
            bool fresh, f2;
            table_get(&seen, &k, &fresh);
            if (fresh && ++open > o->max_open)
                o->max_open = open;
            if (table_get(&sess, &k, &f2)->last_row == row)
                open--;
        }
    }
    free(flows.v);
    free(sess.v);
    free(seen.v);
}

/* The decoder's drop counters (its stage counters) are all zero. */
static void assert_no_drops(struct fl_harness *h)
{
    for (int r = 0; r < FL_DROP_COUNT; r++) {
        const char *name = fl_decode_reason_name((enum fl_decode_reason)r);
        if (fl_harness_counter(h, name) != 0)
            fail_msg("decoder dropped %" PRIu64 " frames: %s", fl_harness_counter(h, name), name);
    }
    assert_int_equal(fl_harness_counter(h, "fragments"), 0);
}

/* ---- tests ------------------------------------------------------------- */

static void test_same_seed_same_bytes(void **state)
{
    char a[128], b[128], c[128], ta[160], tb[160];
    size_t la, lb, lc;
    snprintf(a, sizeof(a), "%s/a.pcap", dir);
    snprintf(b, sizeof(b), "%s/b.pcap", dir);
    snprintf(c, sizeof(c), "%s/c.pcap", dir);
    struct fl_harness *h = run_gen("{packets: 20000, seed: 7, path: %s}", a);
    fl_harness_destroy(&h);
    /* batches and decoding must not change a single byte */
    h = run_gen("{packets: 20000, seed: 7, batch_size: 77, emit: false, path: %s}", b);
    assert_int_equal(fl_harness_n_out(h), 0);
    fl_harness_destroy(&h);
    h = run_gen("{packets: 20000, seed: 8, path: %s}", c);
    fl_harness_destroy(&h);
    char *pa = fl_test_slurp(a, &la), *pb = fl_test_slurp(b, &lb), *pc = fl_test_slurp(c, &lc);
    assert_non_null(pa);
    assert_non_null(pb);
    assert_non_null(pc);
    assert_int_equal(la, lb);
    assert_memory_equal(pa, pb, la);
    assert_true(la != lc || memcmp(pa, pc, la) != 0);
    free(pa); free(pb); free(pc);
    snprintf(ta, sizeof(ta), "%s.truth.json", a);
    snprintf(tb, sizeof(tb), "%s.truth.json", b);
    pa = fl_test_slurp(ta, &la);
    pb = fl_test_slurp(tb, &lb);
    assert_non_null(pa);
    assert_non_null(pb);
    assert_string_equal(pa, pb);
    free(pa); free(pb);
}

/* TCP conversations look like TCP: each starts with a bare SYN, then a
 * SYN/ACK from the other side; a complete one ends FIN/ACK, ACK, FIN/ACK,
 * ACK; the ends add up to the truth's tcp_end counts. */
struct tcp_seen { uint64_t n; uint8_t f[4]; uint8_t first, second; bool rst, dir_ok; uint8_t first_src[16]; };

static void test_tcp_shapes(void **state)
{
    char path[128], tpath[160];
    snprintf(path, sizeof(path), "%s/tcp.pcap", dir);
    snprintf(tpath, sizeof(tpath), "%s.truth.json", path);
    struct fl_harness *h = run_gen("{packets: 40000, seed: 21, path: %s}", path);
    struct table t = { 0 };
    struct tcp_seen *v = calloc(40000, sizeof(*v));
    assert_non_null(v);
    size_t nv = 0;
    /* UDP exchanges: answered (both sides sent) or not; an entry's
     * last_row holds the sides seen (bit 0: the first sender, bit 1: the
     * other) */
    struct table udp = { 0 };
    uint64_t udp_answered = 0;
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        const struct fl_batch *b = fl_harness_out(h, i);
        for (uint32_t r = 0; r < b->rows; r++) {
            if (FL_COL(b, FL_PKT_PROTO, uint8_t)[r] == 17) {
                struct key k = row_key(b, r, false);
                bool fresh;
                struct ent *e = table_get(&udp, &k, &fresh);
                const uint8_t *src = FL_COL(b, FL_PKT_SRC_ADDR, struct fl_addr)[r].b;
                if (fresh)
                    e->last_row = 1 | (uint64_t)(memcmp(src, k.a, 16) == 0) << 2;
                else if (((e->last_row >> 2) & 1) != (memcmp(src, k.a, 16) == 0)
                         && !(e->last_row & 2)) {
                    e->last_row |= 2;
                    udp_answered++;
                }
                continue;
            }
            if (FL_COL(b, FL_PKT_PROTO, uint8_t)[r] != 6)
                continue;
            struct key k = row_key(b, r, false);
            bool fresh;
            struct ent *e = table_get(&t, &k, &fresh);
            if (fresh)
                e->packets = nv++;      /* index into v */
            struct tcp_seen *s = &v[e->packets];
            uint8_t fl = FL_COL(b, FL_PKT_TCP_FLAGS, uint8_t)[r];
            const uint8_t *src = FL_COL(b, FL_PKT_SRC_ADDR, struct fl_addr)[r].b;
            if (s->n == 0) {
                s->first = fl;
                memcpy(s->first_src, src, 16);
            } else if (s->n == 1) {
                s->second = fl;
                s->dir_ok = memcmp(s->first_src, src, 16) != 0;
            }
            s->rst |= (fl & 0x04) != 0;
            s->f[s->n % 4] = fl;
            s->n++;
        }
    }
    uint64_t fin = 0, rst = 0, shorts = 0, open = 0, refused = 0, scans = 0;
    for (size_t i = 0; i < nv; i++) {
        struct tcp_seen *s = &v[i];
        assert_int_equal(s->first, 0x02);                    /* SYN */
        if (s->n <= 3) {
            shorts++;
            refused += s->n == 2;   /* SYN, RST|ACK */
            scans += s->n == 3;     /* SYN, SYN|ACK, RST */
            continue;
        }
        assert_int_equal(s->second, 0x12);                   /* SYN|ACK */
        assert_true(s->dir_ok);
        uint8_t last = s->f[(s->n - 1) % 4];
        if (s->rst) {
            assert_int_equal(last, 0x14);                    /* RST|ACK ends it */
            rst++;
        } else if ((s->f[(s->n - 2) % 4] & 0x01) || (s->f[(s->n - 1) % 4] & 0x01)) {
            const uint8_t want[4] = { 0x11, 0x10, 0x11, 0x10 };
            for (int j = 0; j < 4; j++)
                assert_int_equal(s->f[(s->n - 4 + j) % 4], want[j]);
            fin++;
        } else {
            /* left open: no FIN anywhere near the end */
            for (int j = 0; j < 4; j++)
                assert_int_equal(s->f[(s->n - 4 + j) % 4] & 0x05, 0);
            open++;
        }
    }
    char *js = fl_test_slurp(tpath, NULL);
    assert_non_null(js);
    assert_int_equal(jnum(js, "\"tcp_end\"", "fin"), fin);
    assert_int_equal(jnum(js, "\"tcp_end\"", "rst"), rst);
    assert_int_equal(jnum(js, "\"tcp_end\"", "short"), shorts);
    assert_int_equal(jnum(js, "\"tcp_end\"", "open"), open);
    assert_true(fin > 10 * rst / 2 && rst > 0 && shorts > 0 && open > 0);
    /* the connection states a flow meter reports for them */
    assert_true(udp_answered > 0);
    assert_int_equal(jnum(js, "\"conn_state\"", "SF"), fin + udp_answered);
    assert_int_equal(jnum(js, "\"conn_state\"", "S1"), open);
    assert_int_equal(jnum(js, "\"conn_state\"", "REJ"), refused);
    assert_int_equal(jnum(js, "\"conn_state\"", "RSTO") + jnum(js, "\"conn_state\"", "RSTR"),
                     rst + scans);
    assert_true(jnum(js, "\"conn_state\"", "RSTR") > 0);
    free(js);
    free(v);
    free(t.v);
    free(udp.v);
    fl_harness_destroy(&h);
}

/* Writing a file or not, the emitted packets are the same. */
static void test_emit_same_with_file(void **state)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/w.pcap", dir);
    struct fl_harness *a = run_gen("{packets: 20000, seed: 12, ipv6: 0.5, vlan: 0.5}");
    struct fl_harness *b = run_gen("{packets: 20000, seed: 12, ipv6: 0.5, vlan: 0.5, path: %s}", path);
    assert_int_equal(fl_harness_n_out(a), fl_harness_n_out(b));
    for (size_t i = 0; i < fl_harness_n_out(a); i++) {
        const struct fl_batch *x = fl_harness_out(a, i), *y = fl_harness_out(b, i);
        assert_int_equal(x->rows, y->rows);
        assert_int_equal(x->schema->ncols, y->schema->ncols);   /* each harness has its own runtime */
        for (uint32_t c = 0; c < x->schema->ncols; c++)
            assert_memory_equal(x->data[c], y->data[c], x->rows * fl_type_size(x->schema->cols[c]->type));
    }
    fl_harness_destroy(&a);
    fl_harness_destroy(&b);
}

/* The truth equals what the decoder saw, and the pcap holds what was emitted. */
static void check_truth(const char *opts, uint64_t packets)
{
    char path[128], tpath[160];
    struct seen o;
    snprintf(path, sizeof(path), "%s/t.pcap", dir);
    snprintf(tpath, sizeof(tpath), "%s.truth.json", path);
    struct fl_harness *h = run_gen("{packets: %" PRIu64 ", %s, path: %s}", packets, opts, path);
    assert_no_drops(h);
    observe(h, &o);
    char *t = fl_test_slurp(tpath, NULL);
    assert_non_null(t);
    assert_int_equal(jtop(t, "packets"), packets);
    assert_int_equal(o.rows, packets);
    assert_int_equal(jtop(t, "bytes"), o.bytes);
    assert_int_equal(jtop(t, "frames_bytes"), o.frames);
    assert_int_equal(jtop(t, "biflows"), o.flows);
    assert_int_equal(jtop(t, "max_gap_ns"), o.max_gap);
    assert_true(o.max_gap < jnum(t, "\"options\"", "max_gap_ns"));
    assert_int_equal(jtop(t, "max_open_sessions"), o.max_open);
    assert_true(o.max_open <= jnum(t, "\"options\"", "concurrency"));
    assert_int_equal(jtop(t, "first_ts_ns"), o.first_ts);
    assert_int_equal(jtop(t, "last_ts_ns"), o.last_ts);
    assert_int_equal(jnum(t, "\"vlan\": {", "packets"), o.vlan_rows);
    assert_true(o.ts_sorted);
    static const char *const pn[4] = { "tcp", "udp", "icmp", "icmpv6" };
    for (int i = 0; i < 4; i++) {
        struct tally w = jtally(t, "\"by_proto\"", pn[i]);
        assert_int_equal(w.packets, o.proto[i].packets);
        assert_int_equal(w.bytes, o.proto[i].bytes);
        assert_int_equal(w.flows, o.proto[i].flows);
    }
    for (int i = 0; i < 2; i++) {
        struct tally w = jtally(t, "\"by_ip_version\"", i ? "6" : "4");
        assert_int_equal(w.packets, o.ver[i].packets);
        assert_int_equal(w.bytes, o.ver[i].bytes);
        assert_int_equal(w.flows, o.ver[i].flows);
    }
    /* sessions: TCP, UDP and ping sessions are one flow each */
    uint64_t sessions = jtop(t, "sessions");
    assert_int_equal(sessions, jnum(t, "\"options\"", "flows"));
    assert_int_equal(sessions, o.flows);
    free(t);

    /* the file: a nanosecond pcap with exactly the emitted frames */
    size_t len;
    uint8_t *p = (uint8_t *)fl_test_slurp(path, &len);
    assert_non_null(p);
    uint32_t magic, link, hdr[4];
    memcpy(&magic, p, 4);
    memcpy(&link, p + 20, 4);
    assert_int_equal(magic, 0xa1b23c4du);
    assert_int_equal(link, 1);
    size_t off = 24, n = 0;
    uint64_t frames = 0;
    while (off + 16 <= len) {
        memcpy(hdr, p + off, 16);
        assert_true(hdr[2] <= hdr[3]);
        frames += hdr[3];
        off += 16 + hdr[2];
        n++;
    }
    assert_int_equal(off, len);
    assert_int_equal(n, packets);
    assert_int_equal(frames, o.frames);
    free(p);
    fl_harness_destroy(&h);
}

static void test_truth_default_mix(void **state) { check_truth("seed: 7", 10000); }
static void test_truth_many_open(void **state) { check_truth("seed: 3, concurrency: 2000, flows: 3000", 30000); }
static void test_truth_all_v6_vlan(void **state) { check_truth("seed: 4, ipv6: 1, vlan: 1, concurrency: 10", 5000); }
/* every flow one packet; and one flow for everything */
static void test_truth_tiny_flows(void **state) { check_truth("seed: 5, flows: 3000, concurrency: 50", 3000); }
static void test_truth_one_flow(void **state) { check_truth("seed: 6, flows: 1", 500); }
static void test_truth_short_gap(void **state) { check_truth("seed: 9, max_gap: 1ms, rate: 1000, concurrency: 500", 20000); }

/* Fractions and counts: ipv6 0 and 1, vlan 0 and 1, rate sets the clock. */
static void test_fractions_and_time(void **state)
{
    struct seen o;
    struct fl_harness *h = run_gen("{packets: 5000, ipv6: 0, vlan: 0, start: \"2020-02-29T12:00:00.5+01:00\"}");
    observe(h, &o);
    assert_int_equal(o.ver[1].packets, 0);
    assert_int_equal(o.vlan_rows, 0);
    assert_true(o.first_ts >= 1582974000500000000ull);           /* 11:00:00.5 UTC */
    assert_true(o.first_ts < 1582974000500000000ull + 100000000ull);
    fl_harness_destroy(&h);

    h = run_gen("{packets: 5000, ipv6: 1, vlan: 1}");
    observe(h, &o);
    assert_int_equal(o.ver[0].packets, 0);
    assert_int_equal(o.vlan_rows, 5000);
    fl_harness_destroy(&h);

    /* 200000 packets at 50000/s: about 4 s of simulated time */
    h = run_gen("{packets: 200000, rate: 50000, concurrency: 1000}");
    observe(h, &o);
    double secs = (double)(o.last_ts - o.first_ts) / 1e9;
    assert_true(secs > 3.4 && secs < 4.6);
    uint64_t v6 = o.ver[1].flows, all = o.flows;
    assert_true(v6 * 100 > all * 15 && v6 * 100 < all * 25);   /* default 0.2 */
    fl_harness_destroy(&h);
}

/* A short snaplen keeps every header: no drops, same truth bytes. */
static void test_snaplen(void **state)
{
    char a[128], b[128];
    snprintf(a, sizeof(a), "%s/full.pcap", dir);
    snprintf(b, sizeof(b), "%s/snap.pcap", dir);
    struct fl_harness *h = run_gen("{packets: 5000, seed: 2, emit: false, path: %s}", a);
    fl_harness_destroy(&h);
    h = run_gen("{packets: 5000, seed: 2, snaplen: 128, path: %s}", b);
    assert_no_drops(h);
    /* the counters are live: a cut frame is a note, not a drop */
    assert_true(fl_harness_counter(h, "ip_truncated") > 0);
    assert_int_equal(fl_harness_out_rows(h), 5000);
    fl_harness_destroy(&h);
    char ta[160], tb[160];
    snprintf(ta, sizeof(ta), "%s.truth.json", a);
    snprintf(tb, sizeof(tb), "%s.truth.json", b);
    char *x = fl_test_slurp(ta, NULL), *y = fl_test_slurp(tb, NULL);
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(jtop(x, "bytes"), jtop(y, "bytes"));
    assert_int_equal(jtop(x, "biflows"), jtop(y, "biflows"));
    assert_true(jtop(y, "captured_bytes") <= 5000 * 128);
    free(x);
    free(y);
}

static void test_bad_options(void **state)
{
    struct fl_harness *h = NULL;
    assert_true(fl_harness_new("input.gen", "{packets: 10, flows: 11}", NULL, &h) < 0);
    assert_true(fl_harness_new("input.gen", "{start: \"2026-02-30T00:00:00Z\"}", NULL, &h) < 0);
    assert_true(fl_harness_new("input.gen", "{start: yesterday}", NULL, &h) < 0);
    assert_true(fl_harness_new("input.gen", "{packets: 100000, flows: 100000, hosts: 3}", NULL, &h) < 0);
    assert_true(fl_harness_new("input.gen", "{ipv6: 1.5}", NULL, &h) < 0);
    assert_true(fl_harness_new("input.gen", "{packts: 10}", NULL, &h) < 0);
    /* a pcap cannot hold times past 2106 */
    unlink("/tmp/fl_gen_never.pcap");
    assert_true(fl_harness_new("input.gen", "{packets: 100000, rate: 1, start: \"2106-02-07T00:00:00Z\", "
                               "path: /tmp/fl_gen_never.pcap}", NULL, &h) < 0);
    assert_int_equal(access("/tmp/fl_gen_never.pcap", F_OK), -1);
    assert_null(h);
}

/* ---- tshark, an independent dissector ------------------------------------ */

static uint64_t count_lines(const char *cmd, const char *needle)
{
    char line[4096];
    uint64_t n = 0;
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        n += !needle || strstr(line, needle) != NULL;
    assert_int_equal(pclose(f), 0);
    return n;
}

static void test_tshark(void **state)
{
    char path[128], tpath[160], cmd[640];
    if (system("command -v tshark >/dev/null 2>&1") != 0)
        skip();
    snprintf(path, sizeof(path), "%s/ts.pcap", dir);
    snprintf(tpath, sizeof(tpath), "%s.truth.json", path);
    struct fl_harness *h = run_gen("{packets: 10000, seed: 7, ipv6: 0.3, vlan: 0.2, emit: false, path: %s}", path);
    fl_harness_destroy(&h);
    char *t = fl_test_slurp(tpath, NULL);
    assert_non_null(t);

    snprintf(cmd, sizeof(cmd), "tshark -r %s -T fields -e frame.number 2>/dev/null", path);
    assert_int_equal(count_lines(cmd, NULL), 10000);
    snprintf(cmd, sizeof(cmd), "tshark -r %s -q -z conv,tcp 2>/dev/null", path);
    assert_int_equal(count_lines(cmd, "<->"), jtally(t, "\"by_proto\"", "tcp").flows);
    snprintf(cmd, sizeof(cmd), "tshark -r %s -q -z conv,udp 2>/dev/null", path);
    assert_int_equal(count_lines(cmd, "<->"), jtally(t, "\"by_proto\"", "udp").flows);
    /* no malformed frame, no expert warning (but "connection reset" on a
     * RST), no bad checksum, no TCP sequence anomaly */
    snprintf(cmd, sizeof(cmd), "tshark -r %s -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE "
             "-o udp.check_checksum:TRUE -Y '_ws.malformed || (_ws.expert.severity >= 0x00600000 && "
             "!(tcp.flags.reset == 1)) || ip.checksum.status == 0 || "
             "tcp.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0 || "
             "icmpv6.checksum.status == 0 || tcp.analysis.flags' 2>/dev/null", path);
    assert_int_equal(count_lines(cmd, NULL), 0);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_seed_same_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emit_same_with_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truth_default_mix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truth_many_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truth_all_v6_vlan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truth_tiny_flows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truth_one_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truth_short_gap, setup, teardown),
        cmocka_unit_test(test_fractions_and_time),
        cmocka_unit_test_setup_teardown(test_snaplen, setup, teardown),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test_setup_teardown(test_tshark, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
