/* flowmeter_table.c: where flows live and when they end. The record pool,
 * the hash slots that find a flow from the decoder's symmetric flow hash,
 * and the timing wheel that expires flows (idle, active, FIN/RST linger)
 * and picks victims when the table is full. It never scans the table to
 * expire: a tick visits only the buckets whose time has come. It does not
 * compute features or build output (flowmeter_emit.c), and does not read
 * packet columns (flowmeter.c). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "flowmeter.h"

#define FLOWMETER_MIN_BITS 10u         /* initial slots: 1024 (8 KiB) */
#define FLOWMETER_WHEEL_MAX 65536u
#define FLOWMETER_WHEEL_MIN 64u
#define FLOWMETER_MS 1000000ull
#define FLOWMETER_HUGE (2u << 20)

/* ---- memory ----------------------------------------------------------- */
/* Zeroed memory straight from the kernel: untouched pages cost no resident
 * memory, and big random-access arrays ask for transparent huge pages, since
 * with 4 KiB pages nearly every lookup in a large table is a TLB miss too. */
static void *flowmeter_map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (bytes >= FLOWMETER_HUGE)
        madvise(p, bytes, MADV_HUGEPAGE);   /* a hint: failure changes nothing */
    return p;
}

static void flowmeter_unmap(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes);
}

/* ---- sizes ------------------------------------------------------------ */
static uint32_t flowmeter_log2_ceil(uint64_t v)
{
    uint32_t b = 0;
    while ((1ull << b) < v)
        b++;
    return b;
}

/* The bucket width only trades tick cost against wheel size: correctness
 * never depends on it, because a visited flow is checked against its exact
 * deadline. The runtime ticks after every batch, and a tick re-reads the
 * flows of the bucket it stands in, so buckets are kept narrow: 1/256 of
 * the shortest timeout (1 ms .. 1 s), enough buckets to span the longest
 * one (flows beyond the span are revisited once per turn). */
static void flowmeter_wheel_size(const struct flowmeter *fm, uint64_t *w, uint32_t *n)
{
    uint64_t tmin = fm->idle < fm->active ? fm->idle : fm->active;
    uint64_t tmax = fm->idle > fm->active ? fm->idle : fm->active;
    if (fm->tcp_end && fm->linger) {
        if (fm->linger < tmin)
            tmin = fm->linger;
        if (fm->linger > tmax)
            tmax = fm->linger;
    }
    uint64_t width = tmin / 256;
    if (width < FLOWMETER_MS)
        width = FLOWMETER_MS;
    if (width > 1000 * FLOWMETER_MS)
        width = 1000 * FLOWMETER_MS;
    /* The wheel must span the longest timeout: a deadline that wraps lands
     * in a bucket it is not due in, and every eviction scan would move it
     * round and round (quadratic under table pressure with long timeouts). */
    if (tmax / width + 2 > FLOWMETER_WHEEL_MAX)
        width = tmax / (FLOWMETER_WHEEL_MAX - 2) + 1;
    uint64_t need = tmax / width + 2;
    uint32_t buckets = FLOWMETER_WHEEL_MIN;
    while (buckets < need && buckets < FLOWMETER_WHEEL_MAX)
        buckets <<= 1;
    *w = width;
    *n = buckets;
}

int flowmeter_table_init(struct flowmeter *fm)
{
    uint32_t n;

    /* Slots at most half full at max_flows; the pool holds max_flows. */
    fm->max_bits = flowmeter_log2_ceil(fm->max_flows) + 1;
    fm->bits = fm->max_bits < FLOWMETER_MIN_BITS ? fm->max_bits : FLOWMETER_MIN_BITS;
    if (!(fm->slot = flowmeter_map(sizeof(*fm->slot) << fm->bits)))
        goto fail;

    /* Reserved, not touched: pages become resident only as the high-water
     * mark of concurrent flows rises (MAP_NORESERVE: no commit charge for
     * the untouched part). */
    fm->pool_bytes = (size_t)fm->max_flows * sizeof(struct flowmeter_flow);
    fm->cold_bytes = (size_t)fm->max_flows * sizeof(struct flowmeter_cold);
    if (!(fm->pool = flowmeter_map(fm->pool_bytes)) || !(fm->cold = flowmeter_map(fm->cold_bytes)))
        goto fail;
    fm->pool_hw = 0;
    fm->free_head = FLOWMETER_NIL;

    flowmeter_wheel_size(fm, &fm->wheel_w, &n);
    fm->wheel_mask = n - 1;
    if (!(fm->wheel = malloc(n * sizeof(*fm->wheel))))
        goto fail;
    memset(fm->wheel, 0xff, n * sizeof(*fm->wheel));   /* FLOWMETER_NIL */
    return 0;
fail:
    flowmeter_table_fini(fm);
    return -FL_ENOMEM;
}

void flowmeter_table_fini(struct flowmeter *fm)
{
    flowmeter_unmap(fm->slot, sizeof(*fm->slot) << fm->bits);
    fm->slot = NULL;
    flowmeter_unmap(fm->pool, fm->pool_bytes);
    fm->pool = NULL;
    flowmeter_unmap(fm->cold, fm->cold_bytes);
    fm->cold = NULL;
    free(fm->wheel);
    fm->wheel = NULL;
}

void flowmeter_table_reset(struct flowmeter *fm)
{
    memset(fm->slot, 0, (sizeof(*fm->slot)) << fm->bits);
    memset(fm->wheel, 0xff, ((size_t)fm->wheel_mask + 1) * sizeof(*fm->wheel));
    fm->used = 0;
    fm->n_flows = 0;
    fm->pool_hw = 0;
    fm->free_head = FLOWMETER_NIL;
}

void flowmeter_table_start(struct flowmeter *fm, uint64_t t)
{
    fm->started = true;
    fm->wheel_now = t;
    fm->evict_floor = t / fm->wheel_w;
    if (t > fm->clock)
        fm->clock = t;
}

/* ---- slots ------------------------------------------------------------ */
static inline uint32_t flowmeter_home(const struct flowmeter *fm, uint64_t tagged)
{
    return (uint32_t)(tagged >> 32) >> (32 - fm->bits);
}

uint32_t flowmeter_lookup(const struct flowmeter *fm, const struct flowmeter_pkt *p, int *dir)
{
    uint32_t mask = (1u << fm->bits) - 1, tag = (uint32_t)(p->h >> 32);
    for (uint32_t i = tag >> (32 - fm->bits);; i = (i + 1) & mask) {
        uint64_t s = fm->slot[i];
        if (!s)
            return FLOWMETER_NIL;
        if ((uint32_t)(s >> 32) == tag) {
            uint32_t idx = (uint32_t)s - 1;
            int d = flowmeter_match(fm, &fm->pool[idx], p);
            if (d) {
                *dir = d;
                return idx;
            }
        }
    }
}

static void flowmeter_slot_put(uint64_t *slot, uint32_t bits, uint64_t s)
{
    uint32_t mask = (1u << bits) - 1;
    uint32_t i = (uint32_t)(s >> 32) >> (32 - bits);
    while (slot[i])
        i = (i + 1) & mask;
    slot[i] = s;
}

/* Doubling needs no record: the home bucket is in the tag. */
static int flowmeter_slots_grow(struct flowmeter *fm)
{
    uint32_t nb = fm->bits + 1;
    uint64_t *ns = flowmeter_map(sizeof(*ns) << nb);
    if (!ns)
        return -FL_ENOMEM;
    for (size_t i = 0; i < (1ull << fm->bits); i++)
        if (fm->slot[i])
            flowmeter_slot_put(ns, nb, fm->slot[i]);
    flowmeter_unmap(fm->slot, sizeof(*fm->slot) << fm->bits);
    fm->slot = ns;
    fm->bits = nb;
    return 0;
}

/* Linear probing with backward-shift deletion: no tombstones, so probe
 * lengths stay those of the live load. */
static void flowmeter_slot_del(struct flowmeter *fm, uint32_t idx)
{
    uint32_t mask = (1u << fm->bits) - 1;
    uint64_t want = fm->cold[idx].tag;
    uint32_t i = (uint32_t)want >> (32 - fm->bits);
    want = want << 32 | (idx + 1);
    while (fm->slot[i] != want)
        i = (i + 1) & mask;
    for (uint32_t j = i;;) {
        j = (j + 1) & mask;
        uint64_t s = fm->slot[j];
        if (!s)
            break;
        uint32_t k = flowmeter_home(fm, s);
        /* s may fill the hole at i unless its home lies in (i, j]. */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        fm->slot[i] = s;
        i = j;
    }
    fm->slot[i] = 0;
    fm->used--;
}

/* ---- wheel ------------------------------------------------------------ */
static inline uint32_t flowmeter_bucket(const struct flowmeter *fm, uint64_t t)
{
    return (uint32_t)(t / fm->wheel_w) & fm->wheel_mask;
}

static void flowmeter_wheel_unlink(struct flowmeter *fm, uint32_t idx)
{
    struct flowmeter_cold *f = &fm->cold[idx];
    if (f->wprev != FLOWMETER_NIL)
        fm->cold[f->wprev].wnext = f->wnext;
    else
        fm->wheel[flowmeter_bucket(fm, f->sched)] = f->wnext;
    if (f->wnext != FLOWMETER_NIL)
        fm->cold[f->wnext].wprev = f->wprev;
}

static void flowmeter_wheel_link(struct flowmeter *fm, uint32_t idx, uint64_t t)
{
    struct flowmeter_cold *f = &fm->cold[idx];
    if (t < fm->wheel_now)
        t = fm->wheel_now;
    uint32_t b = flowmeter_bucket(fm, t);
    f->sched = t;
    f->wprev = FLOWMETER_NIL;
    f->wnext = fm->wheel[b];
    if (f->wnext != FLOWMETER_NIL)
        fm->cold[f->wnext].wprev = idx;
    fm->wheel[b] = idx;
    /* Keep "buckets before evict_floor are empty" true. */
    uint64_t base = fm->wheel_now / fm->wheel_w;
    uint64_t pos = base + ((b - (uint32_t)base) & fm->wheel_mask);
    if (pos < fm->evict_floor)
        fm->evict_floor = pos;
}

void flowmeter_wheel_move(struct flowmeter *fm, uint32_t idx, uint64_t t)
{
    flowmeter_wheel_unlink(fm, idx);
    flowmeter_wheel_link(fm, idx, t);
}

/* ---- flows ------------------------------------------------------------ */
static void flowmeter_remove(struct flowmeter *fm, uint32_t idx)
{
    flowmeter_slot_del(fm, idx);
    flowmeter_wheel_unlink(fm, idx);
    fm->pool[idx].state = 0;
    fm->cold[idx].wnext = fm->free_head;
    fm->free_head = idx;
    fm->n_flows--;
}

static void flowmeter_reset_stats(struct flowmeter_flow *f, struct flowmeter_cold *c)
{
    f->fwd_pkts_lo = f->rev_pkts_lo = f->nopay_lo = 0;
    c->fwd_pkts_hi = c->rev_pkts_hi = c->nopay_hi = 0;
    f->fwd_bytes = f->rev_bytes = f->pay_sum = 0;
    f->ps_sq_lo = f->pay_sq_lo = c->ps_sq_hi = c->pay_sq_hi = 0;
    f->fwd_flags = f->rev_flags = 0;
    f->state &= (uint8_t)~(FLOWMETER_PKTS | FLOWMETER_REV);
}

int flowmeter_expire(struct flowmeter *fm, struct fl_ctx *ctx, uint32_t idx,
                     enum flowmeter_reason why)
{
    struct flowmeter_flow *f = &fm->pool[idx];
    int rc = 0;

    if (f->state & FLOWMETER_PKTS) {
        fm->n_end[why]++;
        if ((rc = flowmeter_emit_row(fm, ctx, idx, why)) < 0)
            return rc;
    }
    if (why == FLOWMETER_EVICTED)
        fm->n_evicted++;
    if (why != FLOWMETER_ACTIVE) {
        flowmeter_remove(fm, idx);
        return 0;
    }
    /* Cut and continue: the next packet of this key starts a new record
     * with the same initiator. The stub keeps last_ts (it idles out from
     * the last packet) and the TCP state (a FIN seen before the cut still
     * counts towards closing). */
    enum flowmeter_reason r;
    flowmeter_conn_cut(f);
    flowmeter_reset_stats(f, &fm->cold[idx]);
    flowmeter_wheel_move(fm, idx, flowmeter_deadline(fm, idx, &r));
    return 0;
}

/* A flow's place for the eviction scan: buckets after the wheel's time. */
static uint64_t flowmeter_rel(const struct flowmeter *fm, uint64_t t, uint64_t base)
{
    if (t < fm->wheel_now)
        t = fm->wheel_now;
    return t / fm->wheel_w - base;
}

/* Pick the flow nearest to its own end: walk buckets from the wheel's time;
 * a flow that had traffic since it was scheduled is first moved to where
 * its deadline is now (that is the lazy part of the wheel), and the first
 * flow found in the bucket of its true deadline is the victim. If it is
 * already due at the current clock it ends naturally ("idle", ...), else it
 * is cut short as "evicted". */
static int flowmeter_evict(struct flowmeter *fm, struct fl_ctx *ctx)
{
    uint64_t base = fm->wheel_now / fm->wheel_w, best_rel = UINT64_MAX;
    uint32_t n = fm->wheel_mask + 1, victim = FLOWMETER_NIL, best = FLOWMETER_NIL;
    enum flowmeter_reason r;

    if (fm->evict_floor < base)
        fm->evict_floor = base;
    for (uint64_t p = fm->evict_floor - base; p < n && victim == FLOWMETER_NIL; p++) {
        uint32_t b = (uint32_t)(base + p) & fm->wheel_mask;
        fm->n_evict_scanned++;
        for (uint32_t idx = fm->wheel[b], next; idx != FLOWMETER_NIL; idx = next) {
            next = fm->cold[idx].wnext;
            uint64_t d = flowmeter_deadline(fm, idx, &r);
            uint64_t rel = flowmeter_rel(fm, d, base);
            if (rel <= p) {
                victim = idx;
                break;
            }
            if (rel < best_rel) {
                best_rel = rel;
                best = idx;
            }
            flowmeter_wheel_move(fm, idx, d);
        }
        if (fm->wheel[b] == FLOWMETER_NIL && fm->evict_floor == base + p)
            fm->evict_floor++;
    }
    if (victim == FLOWMETER_NIL)
        victim = best;   /* every deadline is beyond the wheel's span */
    if (victim == FLOWMETER_NIL)
        return -FL_EFULL;   /* not reached: called only with live flows */
    if (flowmeter_deadline(fm, victim, &r) <= fm->clock)
        return flowmeter_expire(fm, ctx, victim, r);
    return flowmeter_expire(fm, ctx, victim, FLOWMETER_EVICTED);
}

int flowmeter_insert(struct flowmeter *fm, struct fl_ctx *ctx, const struct flowmeter_pkt *p,
                     bool flip, uint32_t *out)
{
    int rc;

    /* Full: first end what is due anyway at the packet clock (a tick there
     * would have), which also brings the wheel's time up to date for the
     * victim search; then evict. */
    if (fm->n_flows >= fm->max_flows && fm->clock > fm->wheel_now
        && (rc = flowmeter_expire_due(fm, ctx, fm->clock)) < 0)
        return rc;
    while (fm->n_flows >= fm->max_flows)
        if ((rc = flowmeter_evict(fm, ctx)) < 0)
            return rc;
    if ((fm->used + 1) * 2 > (1u << fm->bits) && fm->bits < fm->max_bits
        && (rc = flowmeter_slots_grow(fm)) < 0)
        return rc;

    uint32_t idx;
    if (fm->free_head != FLOWMETER_NIL) {
        idx = fm->free_head;
        fm->free_head = fm->cold[idx].wnext;
    } else {
        idx = fm->pool_hw++;
    }
    struct flowmeter_flow *f = &fm->pool[idx];
    memset(f, 0, sizeof(*f));
    memset(&fm->cold[idx], 0, sizeof(fm->cold[idx]));
    fm->cold[idx].tag = (uint32_t)(p->h >> 32);
    fm->cold[idx].tunnel = p->tunnel | (p->tunnel_has_id ? FLOWMETER_TUNNEL_HAS_ID : 0);
    fm->cold[idx].tunnel_id = p->tunnel_id;
    f->a = flip ? *p->dst : *p->src;
    f->b = flip ? *p->src : *p->dst;
    f->pa = flip ? p->dport : p->sport;
    f->pb = flip ? p->sport : p->dport;
    f->proto = p->proto;
    f->vlan = p->vlan;
    f->ipv = p->ipv;
    f->first_ts = f->last_ts = p->ts;
    f->state = FLOWMETER_LIVE;
    flowmeter_slot_put(fm->slot, fm->bits, (p->h >> 32) << 32 | (idx + 1));
    fm->used++;
    fm->n_flows++;
    /* Scheduled at its earliest possible end; packets only push it later. */
    uint64_t d = fm->idle < fm->active ? fm->idle : fm->active;
    flowmeter_wheel_link(fm, idx, p->ts + d);
    *out = idx;
    return 0;
}

/* ---- expiry ------------------------------------------------------------ */
/* Visit one bucket at time now: end what is due (a cut flow's stub may be
 * due too), move the rest to the bucket of their current deadline. A flow
 * moved into the bucket being walked goes to its head, behind the walk. */
static int flowmeter_visit(struct flowmeter *fm, struct fl_ctx *ctx, uint32_t b, uint64_t now)
{
    enum flowmeter_reason r;
    int rc;

    for (uint32_t idx = fm->wheel[b], next; idx != FLOWMETER_NIL; idx = next) {
        next = fm->cold[idx].wnext;
        if (next != FLOWMETER_NIL) {   /* a list walk: fetch the next while this one is done */
            __builtin_prefetch(&fm->cold[next], 1);
            __builtin_prefetch(&fm->pool[next]);
        }
        for (;;) {
            uint64_t d = flowmeter_deadline(fm, idx, &r);
            if (d > now) {
                flowmeter_wheel_move(fm, idx, d);
                break;
            }
            if ((rc = flowmeter_expire(fm, ctx, idx, r)) < 0)
                return rc;
            if (!(fm->pool[idx].state & FLOWMETER_LIVE))
                break;
        }
    }
    return 0;
}

int flowmeter_expire_due(struct flowmeter *fm, struct fl_ctx *ctx, uint64_t now)
{
    int rc;

    if (!fm->started)
        flowmeter_table_start(fm, now);
    if (now > fm->clock)
        fm->clock = now;
    if (now < fm->wheel_now)
        return 0;
    uint64_t b0 = fm->wheel_now / fm->wheel_w, b1 = now / fm->wheel_w;
    uint64_t n = b1 - b0 + 1;
    if (n > (uint64_t)fm->wheel_mask + 1)
        n = (uint64_t)fm->wheel_mask + 1;   /* a whole turn visits every flow */
    /* Moves made while visiting land at or after now. */
    fm->wheel_now = now;
    /* Buckets before the floor stay empty (a link before it lowers it), so
     * never move it back: eviction scans would restart from now each time. */
    if (fm->evict_floor < b1)
        fm->evict_floor = b1;
    for (uint64_t k = 0; k < n; k++)
        if ((rc = flowmeter_visit(fm, ctx, (uint32_t)(b0 + k) & fm->wheel_mask, now)) < 0)
            return rc;
    return 0;
}

int flowmeter_expire_all(struct flowmeter *fm, struct fl_ctx *ctx)
{
    int rc;

    for (uint32_t idx = 0; idx < fm->pool_hw; idx++) {
        struct flowmeter_flow *f = &fm->pool[idx];
        if (!(f->state & FLOWMETER_LIVE) || !(f->state & FLOWMETER_PKTS))
            continue;
        enum flowmeter_reason r = FLOWMETER_EOF;
        if (f->state & FLOWMETER_CLOSED)
            r = (f->state & FLOWMETER_CLOSED_RST) ? FLOWMETER_RST : FLOWMETER_FIN;
        fm->n_end[r]++;
        if ((rc = flowmeter_emit_row(fm, ctx, idx, r)) < 0)
            return rc;
    }
    flowmeter_table_reset(fm);
    return 0;
}
