/* hoststats_table.c: the host table of each open window (open addressing
 * over 8-byte slots, hosts in an array), eviction when a window holds
 * max_hosts, and the rows a window gives when it closes or a host is
 * evicted. */
#include <stdlib.h>
#include <string.h>
#include "hoststats.h"

enum {
    C_WSTART, C_WEND, C_WIN, C_HOST,
    C_SRC_FLOWS, C_SRC_PACKETS, C_SRC_BYTES, C_DST_FLOWS, C_DST_PACKETS, C_DST_BYTES,
    C_AVG_DUR, C_PEERS, C_SRC_PORTS, C_DST_PORTS,
    C_FLAG0,
    C_ESTIMATED = C_FLAG0 + HS_NFLAGS, C_EVICTED, C_NCOLS
};

int hs_out_schema(struct fl_ctx *ctx, const struct fl_schema **out)
{
    static const struct fl_col_def cols[C_NCOLS] = {
        FL_WINDOW_COLS,
        { .name = "host", .type = FL_T_ADDR },
        { .name = "src_flows", .type = FL_T_U64 },
        { .name = "src_packets", .type = FL_T_U64 },
        { .name = "src_bytes", .type = FL_T_U64 },
        { .name = "dst_flows", .type = FL_T_U64 },
        { .name = "dst_packets", .type = FL_T_U64 },
        { .name = "dst_bytes", .type = FL_T_U64 },
        { .name = "avg_duration", .type = FL_T_DUR },
        { .name = "peers", .type = FL_T_U64 },
        { .name = "src_ports", .type = FL_T_U64 },
        { .name = "dst_ports", .type = FL_T_U64 },
        { .name = "tcp_fin", .type = FL_T_U64 },
        { .name = "tcp_syn", .type = FL_T_U64 },
        { .name = "tcp_rst", .type = FL_T_U64 },
        { .name = "tcp_psh", .type = FL_T_U64 },
        { .name = "tcp_ack", .type = FL_T_U64 },
        { .name = "tcp_urg", .type = FL_T_U64 },
        { .name = "tcp_ece", .type = FL_T_U64 },
        { .name = "tcp_cwr", .type = FL_T_U64 },
        { .name = "estimated", .type = FL_T_BOOL },
        { .name = "evicted", .type = FL_T_BOOL },
    };
    return fl_schema_intern(ctx, cols, C_NCOLS, sizeof(cols[0]), out);
}

/* ---- rows ---- */

int hs_flush(struct hoststats *st)
{
    if (!st->out || st->out->rows == 0)
        return 0;
    return fl_emit(st->ctx, &st->out);
}

static int hs_row(struct hoststats *st, const struct fl_window *w, struct hs_host *h, bool evicted)
{
    int rc;
    if (!st->out && (rc = fl_batch_new(st->ctx, st->out_schema, (uint32_t)st->batch_size,
                                       &st->out)) < 0)
        return rc;
    struct fl_batch *b = st->out;
    uint32_t r = b->rows;
    const struct fl_distinct_conf *dc = &st->dc;
    FL_COL(b, C_WSTART, uint64_t)[r] = w->start;
    FL_COL(b, C_WEND, uint64_t)[r] = w->end;
    FL_COL(b, C_WIN, int64_t)[r] = (int64_t)w->length;
    FL_COL(b, C_HOST, struct fl_addr)[r] = h->addr;
    FL_COL(b, C_SRC_FLOWS, uint64_t)[r] = h->src_flows;
    FL_COL(b, C_SRC_PACKETS, uint64_t)[r] = h->src_packets;
    FL_COL(b, C_SRC_BYTES, uint64_t)[r] = h->src_bytes;
    FL_COL(b, C_DST_FLOWS, uint64_t)[r] = h->dst_flows;
    FL_COL(b, C_DST_PACKETS, uint64_t)[r] = h->dst_packets;
    FL_COL(b, C_DST_BYTES, uint64_t)[r] = h->dst_bytes;
    FL_COL(b, C_AVG_DUR, int64_t)[r] = h->dur_n ? (int64_t)(h->dur_sum / h->dur_n) : 0;
    FL_COL(b, C_PEERS, uint64_t)[r] = fl_distinct_count(&h->peers, dc);
    FL_COL(b, C_SRC_PORTS, uint64_t)[r] = fl_distinct_count(&h->src_ports, dc);
    FL_COL(b, C_DST_PORTS, uint64_t)[r] = fl_distinct_count(&h->dst_ports, dc);
    for (int f = 0; f < HS_NFLAGS; f++)
        FL_COL(b, C_FLAG0 + f, uint64_t)[r] = h->flags[f];
    FL_COL(b, C_ESTIMATED, bool)[r] = fl_distinct_is_estimate(&h->peers)
                                      || fl_distinct_is_estimate(&h->src_ports)
                                      || fl_distinct_is_estimate(&h->dst_ports);
    FL_COL(b, C_EVICTED, bool)[r] = evicted;
    /* Packet records carry no flows: flow counts and duration are missing,
     * not 0, for a host no flow record touched. */
    if (h->src_flows + h->dst_flows == 0
        && ((rc = fl_batch_set_missing(b, C_SRC_FLOWS, r)) < 0
            || (rc = fl_batch_set_missing(b, C_DST_FLOWS, r)) < 0))
        return rc;
    if (h->dur_n == 0 && (rc = fl_batch_set_missing(b, C_AVG_DUR, r)) < 0)
        return rc;
    if (!b->t_min || w->start < b->t_min)
        b->t_min = w->start;
    if (w->end - 1 > b->t_max)
        b->t_max = w->end - 1;
    b->rows = r + 1;
    return b->rows == b->cap ? hs_flush(st) : 0;
}

static void host_free(struct hs_host *h)
{
    fl_distinct_reset(&h->peers);
    fl_distinct_reset(&h->src_ports);
    fl_distinct_reset(&h->dst_ports);
}

/* ---- the table ---- */

#define HS_MIN_BITS 6

static int win_open(void *ud, struct fl_window *w)
{
    struct hs_win *t = calloc(1, sizeof(*t));
    if (!t)
        return -FL_ENOMEM;
    t->bits = HS_MIN_BITS;
    if (!(t->slot = calloc((size_t)1 << t->bits, sizeof(*t->slot)))) {
        free(t);
        return -FL_ENOMEM;
    }
    w->state = t;
    return 0;
}

static void win_free(struct hs_win *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        host_free(&t->h[i]);
    free(t->h);
    free(t->slot);
    free(t);
}

static int host_get(struct hoststats *st, struct fl_window *w, const struct fl_addr *a, uint64_t h,
                    struct hs_host **out);

/* Pane mode: host h of a closing (or evicting) shortest window into the
 * longer windows that hold it. */
static int merge_up(struct hoststats *st, struct hs_win *pane, const struct hs_host *h)
{
    if (!st->panes || !pane->targets_set)
        return 0;
    uint64_t hash = fl_hash_addr(&h->addr);
    for (uint32_t k = 1; k < st->nspec; k++) {
        struct hs_host *x;
        int rc;
        if (!pane->target[k])
            continue;
        if ((rc = host_get(st, pane->target[k], &h->addr, hash, &x)) < 0)
            return rc;
        x->ref = 1;
        x->src_flows += h->src_flows;
        x->src_packets += h->src_packets;
        x->src_bytes += h->src_bytes;
        x->dst_flows += h->dst_flows;
        x->dst_packets += h->dst_packets;
        x->dst_bytes += h->dst_bytes;
        x->dur_sum += h->dur_sum;
        x->dur_n += h->dur_n;
        for (int f = 0; f < HS_NFLAGS; f++)
            x->flags[f] += h->flags[f];
        if (fl_distinct_merge(&x->peers, &h->peers, &st->dc) < 0
            || fl_distinct_merge(&x->src_ports, &h->src_ports, &st->dc) < 0
            || fl_distinct_merge(&x->dst_ports, &h->dst_ports, &st->dc) < 0)
            st->n_nomem++;
    }
    return 0;
}

void hs_set_targets(struct hoststats *st, struct fl_window *pane, struct fl_window *const *wins,
                    uint32_t rows, uint32_t r)
{
    struct hs_win *t = pane->state;
    for (uint32_t k = 1; k < st->nspec; k++)
        t->target[k] = wins[(size_t)k * rows + r];
    t->targets_set = true;
}

static int win_close(void *ud, struct fl_window *w)
{
    struct hoststats *st = ud;
    struct hs_win *t = w->state;
    int rc = 0;
    for (uint32_t i = 0; i < t->n && rc == 0; i++)
        if ((rc = hs_row(st, w, &t->h[i], false)) == 0 && w->spec == 0)
            rc = merge_up(st, t, &t->h[i]);
    win_free(t);
    w->state = NULL;
    return rc;
}

static void win_discard(void *ud, struct fl_window *w)
{
    win_free(w->state);
    w->state = NULL;
}

const struct fl_window_ops hs_window_ops = { win_open, win_close, win_discard };

#define home hs_home

static int grow_slots(struct hs_win *t)
{
    uint32_t bits = t->bits + 1;
    uint64_t *s = calloc((size_t)1 << bits, sizeof(*s));
    if (!s)
        return -FL_ENOMEM;
    size_t mask = ((size_t)1 << bits) - 1;
    for (size_t i = 0; i < ((size_t)1 << t->bits); i++) {
        uint64_t v = t->slot[i];
        if (!v)
            continue;
        size_t j = home((uint32_t)(v >> 32), bits);
        while (s[j])
            j = (j + 1) & mask;
        s[j] = v;
    }
    free(t->slot);
    t->slot = s;
    t->bits = bits;
    return 0;
}

/* Remove slot i, shifting back the entries after it that may move
 * (linear probing without tombstones). */
static void slot_delete(struct hs_win *t, size_t i)
{
    size_t mask = ((size_t)1 << t->bits) - 1;
    size_t j = i;
    for (;;) {
        t->slot[i] = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!t->slot[j])
                return;
            size_t k = home((uint32_t)(t->slot[j] >> 32), t->bits);
            /* j's entry may fill hole i unless its home lies cyclically in (i, j] */
            if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                continue;
            break;
        }
        t->slot[i] = t->slot[j];
        i = j;
    }
}

static size_t slot_find(const struct hs_win *t, uint64_t hash, const struct fl_addr *a, bool *found)
{
    size_t mask = ((size_t)1 << t->bits) - 1;
    uint32_t tag = (uint32_t)(hash >> 32);
    for (size_t i = home(tag, t->bits);; i = (i + 1) & mask) {
        uint64_t v = t->slot[i];
        if (!v) {
            *found = false;
            return i;
        }
        if ((uint32_t)(v >> 32) == tag && !memcmp(&t->h[(uint32_t)v - 1].addr, a, sizeof(*a))) {
            *found = true;
            return i;
        }
    }
}

/* The window is full: the clock hand passes hosts used since it last came
 * by (clearing their bit) and evicts the first one that was not: its
 * partial row goes out now, flagged evicted. Returns its index, now free. */
static int evict(struct hoststats *st, struct fl_window *w, struct hs_win *t, uint32_t *idx)
{
    for (;;) {
        if (t->hand >= t->n)
            t->hand = 0;
        struct hs_host *h = &t->h[t->hand];
        if (h->ref) {
            h->ref = 0;
            t->hand++;
            continue;
        }
        int rc = hs_row(st, w, h, true);
        if (rc == 0 && w->spec == 0)
            rc = merge_up(st, t, h);   /* the longer windows keep it all */
        if (rc < 0)
            return rc;
        st->n_evicted++;
        bool found;
        size_t s = slot_find(t, fl_hash_addr(&h->addr), &h->addr, &found);
        if (found)
            slot_delete(t, s);
        host_free(h);
        *idx = t->hand++;
        return 0;
    }
}

/* The host entry of address a (hash h) in window w, created when new. */
static int host_get(struct hoststats *st, struct fl_window *w, const struct fl_addr *a, uint64_t h,
                    struct hs_host **out)
{
    struct hs_win *t = w->state;
    bool found;
    size_t s = slot_find(t, h, a, &found);
    if (found) {
        *out = &t->h[(uint32_t)t->slot[s] - 1];
        return 0;
    }
    uint32_t idx;
    int rc;
    if (t->n >= st->max_hosts) {
        if ((rc = evict(st, w, t, &idx)) < 0)
            return rc;
        s = slot_find(t, h, a, &found);   /* the deletion may have moved slots */
    } else {
        if (t->n == t->cap) {
            uint32_t cap = t->cap ? t->cap * 2 : 16;
            if (cap > st->max_hosts)
                cap = (uint32_t)st->max_hosts;
            struct hs_host *p = realloc(t->h, (size_t)cap * sizeof(*p));
            if (!p)
                return -FL_ENOMEM;
            t->h = p;
            t->cap = cap;
        }
        if (((size_t)t->n + 1) * 2 > ((size_t)1 << t->bits)) {
            if ((rc = grow_slots(t)) < 0)
                return rc;
            s = slot_find(t, h, a, &found);
        }
        idx = t->n++;
    }
    t->slot[s] = (uint64_t)(uint32_t)(h >> 32) << 32 | (idx + 1u);
    struct hs_host *x = &t->h[idx];
    memset(x, 0, sizeof(*x));
    x->addr = *a;
    x->gen = ++st->gen;
    *out = x;
    return 0;
}

static inline void distinct_add(struct hoststats *st, struct fl_distinct *d, uint64_t h)
{
    if (__builtin_expect(fl_distinct_add(d, h, &st->dc) < 0, 0))
        st->n_nomem++;
}

static inline void flags_add(struct hs_host *x, uint8_t f, uint32_t weight)
{
    while (f) {
        x->flags[__builtin_ctz(f)] += weight;
        f &= (uint8_t)(f - 1);
    }
}

/* True when the distinct values `key` stands for were added lately (then
 * adding them again changes nothing); else remembers them. */
static inline bool seen(struct hoststats *st, uint64_t key)
{
    uint64_t *s = &st->seen[key & ((1u << HS_SEEN_BITS) - 1)];
    if (*s == key)
        return true;
    *s = key;
    return false;
}

/* One record into window w, for each side that is a host. */
int hs_apply(struct hoststats *st, struct fl_window *w, const struct hs_rec *r)
{
    struct hs_host *x;
    int rc;
    if (r->src_host) {
        if ((rc = host_get(st, w, r->src, r->hsrc, &x)) < 0)
            return rc;
        x->ref = 1;
        x->src_flows += r->flow;
        x->src_packets += r->fwd_packets;
        x->src_bytes += r->fwd_bytes;
        x->dst_packets += r->rev_packets;
        x->dst_bytes += r->rev_bytes;
        if (r->has_dur) {
            x->dur_sum += r->dur;
            x->dur_n++;
        }
        bool ports = r->ports && r->fwd_packets;
        uint64_t key = fl_hash_mix64(x->gen * 0x9e3779b97f4a7c15ull ^ r->hdst
                                     ^ (ports ? r->hports : 1));
        if (!seen(st, key)) {
            distinct_add(st, &x->peers, r->hdst);
            if (ports) {
                distinct_add(st, &x->src_ports, r->hsport);
                distinct_add(st, &x->dst_ports, r->hdport);
            }
        }
        flags_add(x, r->fwd_flags, r->flag_weight);
    }
    if (r->dst_host) {
        if ((rc = host_get(st, w, r->dst, r->hdst, &x)) < 0)
            return rc;
        x->ref = 1;
        x->dst_flows += r->flow;
        x->dst_packets += r->fwd_packets;
        x->dst_bytes += r->fwd_bytes;
        x->src_packets += r->rev_packets;
        x->src_bytes += r->rev_bytes;
        if (r->has_dur) {
            x->dur_sum += r->dur;
            x->dur_n++;
        }
        /* the responder sends from the flow's dst_port to its src_port */
        bool ports = r->ports && r->rev_packets;
        uint64_t key = fl_hash_mix64(x->gen * 0x9e3779b97f4a7c15ull ^ r->hsrc
                                     ^ (ports ? r->hports_rev : 2));
        if (!seen(st, key)) {
            distinct_add(st, &x->peers, r->hsrc);
            if (ports) {
                distinct_add(st, &x->src_ports, r->hdport);
                distinct_add(st, &x->dst_ports, r->hsport);
            }
        }
        flags_add(x, r->rev_flags, r->flag_weight);
    }
    return 0;
}

void hs_count(struct hoststats *st)
{
    if (st->n_evicted) {
        fl_counter_add(st->ctx, "hosts_evicted", st->n_evicted);
        st->n_evicted = 0;
    }
    if (st->n_nomem) {
        fl_counter_add(st->ctx, "distinct_nomem", st->n_nomem);
        st->n_nomem = 0;
    }
}
