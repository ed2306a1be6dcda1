/* stats_topk.c: top-N keys of a window by one quantity, with the
 * Space-Saving algorithm (Metwally, Agrawal, El Abbadi, "Efficient
 * computation of frequent and top-k elements in data streams", ICDT 2005),
 * weighted form. At most `cap` keys are held; a new key arriving when the
 * table is full takes the place of the key with the least count m, and
 * starts at m + its weight with error m. The counts in the table always
 * sum to the total weight seen, so m <= total / cap: every count is an
 * overestimate by at most its error <= total / cap, and every key whose
 * true count exceeds total / cap is in the table. While the window has at
 * most `cap` distinct keys nothing is replaced and the counts are exact.
 * cap = 0: exact, the table grows with the keys.
 *
 * Keys are found by open addressing (linear probing, backward-shift
 * deletion); the least count by a 4-ary min-heap, which an increment
 * moves down (counts only grow). */
#include <stdlib.h>
#include <string.h>
#include "stats.h"

void stats_topk_init(struct stats_topk *t, uint32_t key_len, uint32_t by, uint64_t cap)
{
    memset(t, 0, sizeof(*t));
    t->key_len = key_len;
    t->by = by;
    t->cap = cap;
}

void stats_topk_free(struct stats_topk *t)
{
    free(t->e);
    free(t->heap);
    free(t->pos);
    free(t->slot);
    stats_topk_init(t, t->key_len, t->by, t->cap);
}

static void topk_place(struct stats_topk *t, uint32_t idx)
{
    uint32_t h = (uint32_t)t->e[idx].hash, i = h & t->mask;
    while (t->slot[i])
        i = (i + 1) & t->mask;
    t->slot[i] = (uint64_t)h << 32 | (idx + 1);
}

static inline uint32_t topk_idx(uint64_t slot)
{
    return (uint32_t)slot - 1;
}

/* Room for one more entry. */
static int topk_grow(struct stats_topk *t)
{
    if (t->n < t->alloc)
        return 0;
    uint64_t na = t->alloc ? (uint64_t)t->alloc * 2 : 16;
    if (t->cap && na > t->cap)
        na = t->cap;
    if (na > UINT32_MAX / 4)
        return -FL_ENOMEM;
    struct stats_hh *e = realloc(t->e, na * sizeof(*e));
    if (!e)
        return -FL_ENOMEM;
    t->e = e;
    if (t->cap) {
        struct stats_heap *h = realloc(t->heap, na * sizeof(*h));
        if (!h)
            return -FL_ENOMEM;
        t->heap = h;
        uint32_t *p = realloc(t->pos, na * sizeof(*p));
        if (!p)
            return -FL_ENOMEM;
        t->pos = p;
    }
    uint32_t slots = 1;
    while (slots < na * 2)
        slots <<= 1;
    uint64_t *s = calloc(slots, sizeof(*s));
    if (!s)
        return -FL_ENOMEM;
    free(t->slot);
    t->slot = s;
    t->mask = slots - 1;
    t->alloc = (uint32_t)na;
    for (uint32_t i = 0; i < t->n; i++)
        topk_place(t, i);
    return 0;
}

/* The heap is 4-ary: half the depth of a binary one, and a slot's four
 * children (16 bytes each) share one cache line. */
#define TOPK_D 4u

/* Heap slot i's count grew to v: move it down past smaller children. The
 * moving slot is held aside and written once, where it stops. */
static void topk_down(struct stats_topk *t, uint32_t i, uint64_t v)
{
    struct stats_heap *hp = t->heap, x = { v, hp[i].idx };
    for (;;) {
        uint32_t c = TOPK_D * i + 1, m;
        if (c >= t->n)
            break;
        uint32_t end = c + TOPK_D < t->n ? c + TOPK_D : t->n;
        m = c;
        for (uint32_t k = c + 1; k < end; k++)
            if (hp[k].v < hp[m].v)
                m = k;
        if (hp[m].v >= x.v)
            break;
        hp[i] = hp[m];
        t->pos[hp[i].idx] = i;
        i = m;
    }
    hp[i] = x;
    t->pos[x.idx] = i;
}

static void topk_up(struct stats_topk *t, uint32_t i)
{
    struct stats_heap *hp = t->heap, x = hp[i];
    while (i > 0 && hp[(i - 1) / TOPK_D].v > x.v) {
        hp[i] = hp[(i - 1) / TOPK_D];
        t->pos[hp[i].idx] = i;
        i = (i - 1) / TOPK_D;
    }
    hp[i] = x;
    t->pos[x.idx] = i;
}

/* Take entry idx out of the hash (backward shift: no tombstones). */
static void topk_unhash(struct stats_topk *t, uint32_t idx)
{
    uint32_t i = (uint32_t)t->e[idx].hash & t->mask;
    while (topk_idx(t->slot[i]) != idx)
        i = (i + 1) & t->mask;
    t->slot[i] = 0;
    for (uint32_t j = (i + 1) & t->mask; t->slot[j]; j = (j + 1) & t->mask) {
        uint32_t home = (uint32_t)(t->slot[j] >> 32) & t->mask;
        /* the entry at j may move to the hole at i unless its home lies
         * cyclically in (i, j] */
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slot[i] = t->slot[j];
            t->slot[j] = 0;
            i = j;
        }
    }
}

int stats_topk_add(struct stats_topk *t, const void *key, uint64_t h, const uint64_t *d)
{
    if (t->slot) {
        const uint32_t tag = (uint32_t)h;
        for (uint32_t i = tag & t->mask; t->slot[i]; i = (i + 1) & t->mask) {
            if ((uint32_t)(t->slot[i] >> 32) != tag)
                continue;
            struct stats_hh *e = &t->e[topk_idx(t->slot[i])];
            if (e->hash == h && !memcmp(e->key, key, t->key_len)) {
                e->v[0] += d[0];
                e->v[1] += d[1];
                e->v[2] += d[2];
                if (t->cap)
                    topk_down(t, t->pos[topk_idx(t->slot[i])], e->v[t->by]);
                return 0;
            }
        }
    }
    if (!t->cap || t->n < t->cap) {
        int rc = topk_grow(t);
        if (rc < 0)
            return rc;
        uint32_t idx = t->n++;
        struct stats_hh *e = &t->e[idx];
        memset(e, 0, sizeof(*e));
        memcpy(e->key, key, t->key_len);
        e->hash = h;
        e->v[0] = d[0];
        e->v[1] = d[1];
        e->v[2] = d[2];
        topk_place(t, idx);
        if (t->cap) {
            t->heap[idx] = (struct stats_heap){ e->v[t->by], idx };
            topk_up(t, idx);
        }
        return 0;
    }
    /* Full: the least counted key makes room (Space-Saving). */
    uint32_t idx = t->heap[0].idx;
    struct stats_hh *e = &t->e[idx];
    uint64_t least = e->v[t->by];
    topk_unhash(t, idx);
    memcpy(e->key, key, t->key_len);
    e->hash = h;
    e->v[0] = d[0];
    e->v[1] = d[1];
    e->v[2] = d[2];
    e->v[t->by] += least;
    e->err = least;
    topk_place(t, idx);
    topk_down(t, 0, e->v[t->by]);
    t->replaced++;
    return 0;
}

static int topk_before(const struct stats_topk *t, uint32_t a, uint32_t b)
{
    const struct stats_hh *x = &t->e[a], *y = &t->e[b];
    if (x->v[t->by] != y->v[t->by])
        return x->v[t->by] > y->v[t->by];
    return memcmp(x->key, y->key, t->key_len) < 0;
}

/* A min-heap of the best n seen so far (root: the worst of them), then
 * sorted: O(entries log n). */
static void topk_sift(const struct stats_topk *t, uint32_t *h, uint32_t n, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        if (l < n && topk_before(t, h[m], h[l]))
            m = l;
        if (l + 1 < n && topk_before(t, h[m], h[l + 1]))
            m = l + 1;
        if (m == i)
            return;
        uint32_t x = h[i];
        h[i] = h[m];
        h[m] = x;
        i = m;
    }
}

uint32_t stats_topk_top(const struct stats_topk *t, uint32_t n, uint32_t *idx)
{
    uint32_t k = 0;
    if (n == 0)
        return 0;
    for (uint32_t i = 0; i < t->n; i++) {
        if (k < n) {
            idx[k++] = i;
            if (k == n)
                for (uint32_t j = n / 2 + 1; j-- > 0;)
                    topk_sift(t, idx, k, j);
        } else if (topk_before(t, i, idx[0])) {
            idx[0] = i;
            topk_sift(t, idx, k, 0);
        }
    }
    /* insertion sort: k is small (top_n) */
    for (uint32_t i = 1; i < k; i++)
        for (uint32_t j = i; j > 0 && topk_before(t, idx[j], idx[j - 1]); j--) {
            uint32_t x = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = x;
        }
    return k;
}
