/* test_flowmeter_ref.c: aggregate.flowmeter against a naive reference
 * model on random traffic, and against itself under different batchings
 * and tick schedules. The model is DESIGN.md §6 written as plainly as
 * possible: a linear list of flows, every packet size kept, statistics by
 * the two-pass textbook formula, timeouts checked on every flow. Nothing in
 * it is shared with the plugin, so agreement means the fast table, the
 * lazy wheel, the prefetch hints and the integer statistics are right. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "fm_test.h"

/* ---- the reference model ---------------------------------------------- */
struct ref_opts {
    uint64_t idle, active, linger;
    bool tcp_end, key_vlan, icmp_plain;   /* icmp_plain: icmp_pairs: false */
};

struct ref_flow {
    bool live;
    uint32_t a, b;
    uint16_t pa, pb, key_vlan, vlan;
    uint8_t proto;
    bool v6, fin_a, fin_b, closed, rst;
    uint64_t first, last, close_ts;
    size_t n, cap;
    uint32_t *size, *pay;
    uint64_t fwd_p, rev_p, fwd_b, rev_b;
    uint8_t fwd_f, rev_f;
};

struct ref {
    struct ref_opts o;
    struct ref_flow *f;
    size_t nf, capf;
    struct fm_rec *rec;
    size_t nrec, caprec;
    uint64_t clock;
};

static const char *const ref_reason[] = { "idle", "active", "fin", "rst", "eof" };
enum { R_IDLE, R_ACTIVE, R_FIN, R_RST, R_EOF };

/* Population std, two passes. */
static double ref_std(const uint32_t *x, size_t n, double *avg)
{
    double s = 0, v = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    *avg = s / n;
    for (size_t i = 0; i < n; i++)
        v += (x[i] - *avg) * (x[i] - *avg);
    return sqrt(v / n);
}

static void ref_emit(struct ref *r, struct ref_flow *f, int why)
{
    if (!f->n)
        return;
    if (r->nrec == r->caprec) {
        r->caprec = r->caprec ? 2 * r->caprec : 256;
        r->rec = realloc(r->rec, r->caprec * sizeof(*r->rec));
        assert_non_null(r->rec);
    }
    struct fm_rec *x = &r->rec[r->nrec++];
    memset(x, 0, sizeof(*x));
    x->start = f->first;
    x->end = f->last;
    x->dur = (int64_t)(f->last - f->first);
    x->proto = f->proto;
    x->ipv = f->v6 ? 6 : 4;
    x->sa = f->a;
    x->da = f->b;
    x->sp = f->proto == 1 ? 0 : f->pa;
    x->dp = f->pb;
    x->vlan = f->vlan;
    x->packets = f->n;
    x->ps_min = x->pay_min = UINT32_MAX;
    for (size_t i = 0; i < f->n; i++) {
        x->bytes += f->size[i];
        x->payload += f->pay[i];
        x->nopay += f->pay[i] == 0;
        if (f->size[i] < x->ps_min)
            x->ps_min = f->size[i];
        if (f->size[i] > x->ps_max)
            x->ps_max = f->size[i];
        if (f->pay[i] < x->pay_min)
            x->pay_min = f->pay[i];
        if (f->pay[i] > x->pay_max)
            x->pay_max = f->pay[i];
    }
    x->ps_std = ref_std(f->size, f->n, &x->ps_avg);
    x->pay_std = ref_std(f->pay, f->n, &x->pay_avg);
    x->fwd_p = f->fwd_p;
    x->fwd_b = f->fwd_b;
    x->rev_p = f->rev_p;
    x->rev_b = f->rev_b;
    x->fwd_flags = f->fwd_f;
    x->rev_flags = f->rev_f;
    x->flags = f->fwd_f | f->rev_f;
    strcpy(x->reason, ref_reason[why]);
}

/* Is the flow over at time t, and why? Connection end first, then idle,
 * then active, when they fall on the same instant. */
static bool ref_due(const struct ref *r, const struct ref_flow *f, uint64_t t, int *why)
{
    uint64_t best = UINT64_MAX;
    if (f->closed) {
        best = f->close_ts + r->o.linger;
        *why = f->rst ? R_RST : R_FIN;
    }
    if (f->last + r->o.idle < best) {
        best = f->last + r->o.idle;
        *why = R_IDLE;
    }
    if (f->n && f->first + r->o.active < best) {
        best = f->first + r->o.active;
        *why = R_ACTIVE;
    }
    return best <= t;
}

/* End the record; an active cut keeps the flow (key, TCP state, last). */
static void ref_end(struct ref *r, struct ref_flow *f, int why)
{
    ref_emit(r, f, why);
    f->n = 0;
    f->fwd_p = f->rev_p = f->fwd_b = f->rev_b = 0;
    f->fwd_f = f->rev_f = 0;
    if (why != R_ACTIVE) {
        f->live = false;
        free(f->size);
        free(f->pay);
        f->size = f->pay = NULL;
        f->cap = 0;
    }
}

static int ref_match(const struct ref *r, const struct ref_flow *f, const struct fm_pkt *p)
{
    if (!f->live || f->proto != p->proto || f->v6 != p->v6
        || (r->o.key_vlan && f->key_vlan != p->vlan))
        return 0;
    if (f->a == p->sa && f->pa == p->sp && f->b == p->da && f->pb == p->dp)
        return 1;
    if (f->a == p->da && f->pa == p->dp && f->b == p->sa && f->pb == p->sp)
        return 2;
    return 0;
}

/* Drop ended flows from the list (their order does not matter). */
static void ref_compact(struct ref *r)
{
    size_t k = 0;
    for (size_t i = 0; i < r->nf; i++)
        if (r->f[i].live)
            r->f[k++] = r->f[i];
    r->nf = k;
}

/* The key of an ICMP echo (the only ICMP the traffic has): request and
 * reply as one flow from the requester, by identifier; *p is rewritten to
 * the request's direction. Returns whether p is a reply. */
static bool ref_icmp(const struct ref *r, struct fm_pkt *p)
{
    if (p->proto != 1 || r->o.icmp_plain)
        return false;
    bool reply = p->dp >> 8 == 0;
    if (reply) {
        uint32_t t = p->sa;
        p->sa = p->da;
        p->da = t;
    }
    p->sp = p->icmp_id;
    p->dp = 8 << 8 | (p->dp & 0xff);
    return reply;
}

static void ref_packet(struct ref *r, const struct fm_pkt *pkt)
{
    struct ref_flow *f = NULL;
    int dir = 0, why = R_EOF;
    struct fm_pkt key = *pkt;
    const struct fm_pkt *p = &key;
    bool reply = ref_icmp(r, &key);
    if (p->ts > r->clock)
        r->clock = p->ts;
    if (r->nf && r->nf == r->capf) {
        ref_compact(r);
        if (r->nf * 2 > r->capf) {   /* mostly live: grow instead */
            r->capf *= 2;
            r->f = realloc(r->f, r->capf * sizeof(*r->f));
            assert_non_null(r->f);
        }
    }
    for (size_t i = 0; i < r->nf && !f; i++)
        if ((dir = ref_match(r, &r->f[i], p)))
            f = &r->f[i];
    while (f && f->live && ref_due(r, f, p->ts, &why))
        ref_end(r, f, why);
    if (!f || !f->live) {
        if (r->nf == r->capf) {
            r->capf = r->capf ? 2 * r->capf : 64;
            r->f = realloc(r->f, r->capf * sizeof(*r->f));
            assert_non_null(r->f);
        }
        f = &r->f[r->nf++];
        /* a TCP flow first seen at a SYN-ACK belongs to the SYN's sender */
        bool flip = p->proto == 6 && (p->flags & 0x12) == 0x12;
        *f = (struct ref_flow){ .live = true, .a = flip ? p->da : p->sa, .b = flip ? p->sa : p->da,
                                .pa = flip ? p->dp : p->sp, .pb = flip ? p->sp : p->dp,
                                .proto = p->proto, .v6 = p->v6, .key_vlan = p->vlan };
        dir = flip ? 2 : 1;
    }
    if (reply)
        dir = 3 - dir;
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 8;
        f->size = realloc(f->size, f->cap * sizeof(*f->size));
        f->pay = realloc(f->pay, f->cap * sizeof(*f->pay));
        assert_true(f->size && f->pay);
    }
    if (!f->n) {
        f->first = f->last = p->ts;
        f->vlan = p->vlan;
    }
    if (p->ts > f->last)
        f->last = p->ts;
    if (p->ts < f->first)
        f->first = p->ts;
    f->size[f->n] = p->iplen;
    f->pay[f->n++] = p->paylen;
    if (dir == 1) {
        f->fwd_p++;
        f->fwd_b += p->iplen;
        f->fwd_f |= p->flags;
    } else {
        f->rev_p++;
        f->rev_b += p->iplen;
        f->rev_f |= p->flags;
    }
    if (r->o.tcp_end && p->proto == 6 && !f->closed) {
        if (p->flags & 0x04) {
            f->closed = f->rst = true;
            f->close_ts = p->ts;
        } else if (p->flags & 0x01) {
            if (dir == 1)
                f->fin_a = true;
            else
                f->fin_b = true;
            if (f->fin_a && f->fin_b) {
                f->closed = true;
                f->close_ts = p->ts;
            }
        }
    }
}

static void ref_drain(struct ref *r)
{
    int why = R_EOF;
    for (size_t i = 0; i < r->nf; i++) {
        struct ref_flow *f = &r->f[i];
        while (f->live && ref_due(r, f, r->clock, &why))
            ref_end(r, f, why);
        if (f->live)
            ref_end(r, f, f->closed ? (f->rst ? R_RST : R_FIN) : R_EOF);
    }
}

static struct fm_rec *ref_run(const struct ref_opts *o, const struct fm_pkt *p, size_t n,
                              size_t *nrec)
{
    struct ref r = { .o = *o };
    for (size_t i = 0; i < n; i++)
        ref_packet(&r, &p[i]);
    ref_drain(&r);
    free(r.f);
    fm_sort(r.rec, r.nrec);
    *nrec = r.nrec;
    return r.rec;
}

/* ---- traffic ------------------------------------------------------------ */
/* n packets over `convs` conversations between a few hosts: both
 * directions, TCP with SYN/SYN-ACK/FIN/RST now and then, UDP, ICMP echo
 * (request one way, reply the other, a few identifiers per host pair),
 * zero payloads, equal timestamps, and gaps longer than the timeouts.
 * Sorted by time, as a capture is. */
static struct fm_pkt *gen(size_t n, unsigned convs, bool v6_too, bool vlans, unsigned seed)
{
    struct fm_pkt *p = calloc(n, sizeof(*p));
    struct fm_pkt *c = calloc(convs, sizeof(*c));
    uint64_t t = FM_T0;
    assert_true(p && c);
    for (unsigned i = 0; i < convs; i++) {
        static const uint8_t protos[] = { 6, 6, 6, 17, 17, 1 };
        c[i].proto = protos[rand_r(&seed) % 6];
        c[i].sa = 0x0a000000u + (uint32_t)rand_r(&seed) % (convs / 8 + 2);
        c[i].da = 0x0a000000u + (uint32_t)rand_r(&seed) % (convs / 8 + 2);
        c[i].sp = c[i].proto == 1 ? 0 : (uint16_t)(1024 + rand_r(&seed) % 40);
        c[i].dp = c[i].proto == 1 ? 0x0800 : (uint16_t)(rand_r(&seed) % 2 ? 80 : 53);
        c[i].icmp_id = c[i].proto == 1 ? (uint16_t)(rand_r(&seed) % 3) : 0;
        c[i].v6 = v6_too && rand_r(&seed) % 4 == 0;
    }
    for (size_t i = 0; i < n; i++) {
        const struct fm_pkt *k = &c[rand_r(&seed) % convs];
        unsigned gap = (unsigned)rand_r(&seed) % 1000;
        if (gap < 5)
            t += (uint64_t)(5 + rand_r(&seed) % 40) * FM_S;   /* a long silence */
        else if (gap > 100)
            t += (uint64_t)(rand_r(&seed) % 20000) * 1000;   /* 0..20 ms */
        p[i] = *k;
        p[i].ts = t;
        if (rand_r(&seed) % 5 < 2) {
            p[i].sa = k->da;
            p[i].da = k->sa;
            p[i].sp = k->dp;
            p[i].dp = k->sp;
            if (k->proto == 1) {   /* the echo reply */
                p[i].sp = 0;
                p[i].dp = 0;
            }
        }
        p[i].iplen = 40 + (uint32_t)rand_r(&seed) % 1461;
        p[i].paylen = rand_r(&seed) % 3 ? p[i].iplen - 40 : 0;
        if (p[i].proto == 6) {
            unsigned f = (unsigned)rand_r(&seed) % 100;
            p[i].flags = f < 4 ? 0x02 : f < 6 ? 0x12 : f < 11 ? 0x11 : f < 12 ? 0x04
                       : f < 60 ? 0x10 : 0x18;
        }
        if (vlans)
            p[i].vlan = (uint16_t)(rand_r(&seed) % 2 ? 100 : 200);
    }
    free(c);
    return p;
}

/* ---- tests ------------------------------------------------------------- */
struct variant {
    const char *yaml;
    struct ref_opts o;
};

static const struct variant variants[] = {
    { "{idle_timeout: 10s, active_timeout: 30s, linger: 2s}",
      { 10 * FM_S, 30 * FM_S, 2 * FM_S, true, false, false } },
    { "{idle_timeout: 5s, active_timeout: 12s, linger: 0s}",
      { 5 * FM_S, 12 * FM_S, 0, true, false, false } },
    { "{idle_timeout: 10s, active_timeout: 30s, tcp_end: false}",
      { 10 * FM_S, 30 * FM_S, 2 * FM_S, false, false, false } },
    { "{idle_timeout: 3s, active_timeout: 100s, linger: 1s, key_vlan: true}",
      { 3 * FM_S, 100 * FM_S, FM_S, true, true, false } },
    { "{idle_timeout: 10s, active_timeout: 2s, linger: 500ms}",   /* active < idle */
      { 10 * FM_S, 2 * FM_S, FM_S / 2, true, false, false } },
    { "{idle_timeout: 10s, active_timeout: 30s, icmp_pairs: false}",
      { 10 * FM_S, 30 * FM_S, 2 * FM_S, true, false, true } },
};

/* One plugin run over p; sorted records. */
static struct fm_rec *plugin_run(const char *yaml, const struct fm_pkt *p, size_t n,
                                 unsigned max_batch, unsigned tick_pct, unsigned seed,
                                 size_t *nrec)
{
    struct fl_harness *h = fm_new(yaml);
    if (max_batch)
        fm_push_split(h, p, n, max_batch, tick_pct, seed);
    else
        fm_push(h, p, n);
    assert_int_equal(fl_harness_drain(h), 0);
    struct fm_rec *r = fm_records(h, nrec);
    assert_int_equal(fl_harness_counter(h, "evicted"), 0);
    fl_harness_destroy(&h);
    fm_sort(r, *nrec);
    return r;
}

static void check_all(const struct variant *v, const struct fm_pkt *p, size_t n, unsigned seed)
{
    size_t nref, nrec;
    struct fm_rec *ref = ref_run(&v->o, p, n, &nref);
    /* one batch, no tick; small batches, ticks half the time; big batches,
     * a tick after each; single packets, no ticks */
    static const unsigned split[][2] = { { 0, 0 }, { 64, 50 }, { 1000, 100 }, { 1, 0 } };
    for (size_t k = 0; k < 4; k++) {
        struct fm_rec *r = plugin_run(v->yaml, p, n, split[k][0], split[k][1], seed + (unsigned)k,
                                      &nrec);
        if (!fm_same(ref, nref, r, nrec)) {
            fprintf(stderr, "variant %s, seed %u, batching %u/%u%%: plugin differs from the "
                    "reference\n", v->yaml, seed, split[k][0], split[k][1]);
            fail();
        }
        free(r);
    }
    free(ref);
}

static void test_reference_small(void **st)
{
    for (size_t vi = 0; vi < sizeof(variants) / sizeof(variants[0]); vi++)
        for (unsigned seed = 1; seed <= 4; seed++) {
            struct fm_pkt *p = gen(5000, 24, true, variants[vi].o.key_vlan, seed * 7919 + (unsigned)vi);
            check_all(&variants[vi], p, 5000, seed);
            free(p);
        }
}

/* Thousands of concurrent flows: the slot array grows several times and
 * the wheel holds many flows per bucket. */
static void test_reference_many(void **st)
{
    for (size_t vi = 0; vi < 2; vi++) {
        struct fm_pkt *p = gen(30000, 2000, true, false, 4242 + (unsigned)vi);
        check_all(&variants[vi], p, 30000, 99);
        free(p);
    }
}

/* Every packet has the same flow_hash: every flow collides in one probe
 * chain, and only the key compare tells them apart. */
static void test_reference_collisions(void **st)
{
    fm_hash_mode = FM_HASH_CONST;
    struct fm_pkt *p = gen(4000, 60, true, false, 31337);
    check_all(&variants[0], p, 4000, 5);
    free(p);
    fm_hash_mode = FM_HASH_SYM;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_small),
        cmocka_unit_test(test_reference_many),
        cmocka_unit_test(test_reference_collisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
