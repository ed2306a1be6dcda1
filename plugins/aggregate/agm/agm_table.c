/* agm_table.c: the sources of one window and their value counters.
 *
 * A window holds its sources in an array, found by address through an
 * open-addressing table of slot numbers. Each source has one small
 * open-addressing map of value -> packets per counted field; the maps live
 * in two slabs of the window (8-byte entries for the 32-bit fields,
 * 20-byte ones for dst_addr). A map starts as a plain array of 4 entries
 * inside the source record, searched in order (most sources have few
 * values per field, and those share the source's cache lines), then
 * becomes a hash table of 16 slots in the slab that doubles at 3/4 load.
 * A grown map's old block, and an evicted source's blocks, go on a free
 * list per size so the memory is reused. Everything of a window is freed
 * at once when it closes. When the stage holds max_sources, the oldest
 * window gives up a source the eviction clock finds idle: its row goes
 * out early (counted sources_evicted). */
#include <stdlib.h>
#include <string.h>
#include "agm.h"

#define AGM_SRC_LG0 6u

uint32_t agm_addr_hash(const struct fl_addr *a)
{
    uint64_t x, y;
    memcpy(&x, a->b, 8);
    memcpy(&y, a->b + 8, 8);
    uint64_t h = (x * 0xff51afd7ed558ccdull ^ y) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32) ^ (uint32_t)(h >> 7);
}

static void agm_slab_init(struct agm_slab *s, uint32_t esize)
{
    memset(s, 0, sizeof(*s));
    s->esize = esize;
    for (int i = 0; i < 32; i++)
        s->free[i] = AGM_NONE;
}

/* A zeroed block of 2^lg entries; AGM_NONE when out of memory. The free
 * list links through the block's first 4 bytes. */
static uint32_t agm_slab_alloc(struct agm_slab *s, uint32_t lg)
{
    uint32_t n = 1u << lg, off = s->free[lg];
    char *base;
    if (off != AGM_NONE) {
        base = (char *)s->e + (size_t)off * s->esize;
        memcpy(&s->free[lg], base, sizeof(uint32_t));
        memset(base, 0, (size_t)n * s->esize);
        return off;
    }
    if ((uint64_t)s->len + n > UINT32_MAX - 1)
        return AGM_NONE;
    if (s->len + n > s->cap) {
        uint64_t cap = s->cap ? (uint64_t)s->cap * 2 : 1024;
        while (cap < (uint64_t)s->len + n)
            cap *= 2;
        if (cap > UINT32_MAX - 1)
            cap = UINT32_MAX - 1;
        void *p = realloc(s->e, (size_t)cap * s->esize);
        if (!p)
            return AGM_NONE;
        s->e = p;
        s->cap = (uint32_t)cap;
    }
    off = s->len;
    s->len += n;
    memset((char *)s->e + (size_t)off * s->esize, 0, (size_t)n * s->esize);
    return off;
}

static void agm_slab_free(struct agm_slab *s, uint32_t off, uint32_t lg)
{
    memcpy((char *)s->e + (size_t)off * s->esize, &s->free[lg], sizeof(uint32_t));
    s->free[lg] = off;
}

static inline uint32_t agm_slot(uint32_t key, uint32_t lg)
{
    return (key * 0x9e3779b1u) >> (32 - lg);
}

/* Move map m's entries into a new hashed block of 2^lg slots. The first
 * block (AGM_LIN_LG) is a plain array searched in order; hashed blocks
 * come after it. */
static int agm_map_rehash(struct agm_slab *s, struct agm_map *m, uint32_t lg, bool addr,
                          void *inl)
{
    uint32_t off = lg > 30 ? AGM_NONE : agm_slab_alloc(s, lg);
    if (off == AGM_NONE)
        return -FL_ENOMEM;
    uint32_t mask = (1u << lg) - 1;
    if (addr) {
        struct agm_aent *e = s->e, *nw = e + off;
        const struct agm_aent *old = m->lg == AGM_LIN_LG ? inl : e + m->off;
        for (uint32_t i = 0; i < 1u << m->lg; i++) {
            if (!old[i].count)
                continue;
            uint32_t j = agm_addr_hash(&old[i].key) >> (32 - lg);
            while (nw[j].count)
                j = (j + 1) & mask;
            nw[j] = old[i];
        }
    } else {
        struct agm_ent *e = s->e, *nw = e + off;
        const struct agm_ent *old = m->lg == AGM_LIN_LG ? inl : e + m->off;
        for (uint32_t i = 0; i < 1u << m->lg; i++) {
            if (!old[i].count)
                continue;
            uint32_t j = agm_slot(old[i].key, lg);
            while (nw[j].count)
                j = (j + 1) & mask;
            nw[j] = old[i];
        }
    }
    if (m->lg != AGM_LIN_LG)
        agm_slab_free(s, m->off, m->lg);
    m->off = off;
    m->lg = lg;
    return 0;
}

static inline int agm_map_inc(struct agm_slab *s, struct agm_map *m, struct agm_ent *inl,
                              uint32_t key)
{
    struct agm_ent *e = inl;
    if (m->lg == AGM_LIN_LG) {
        for (uint32_t i = 0; i < m->n; i++)
            if (e[i].key == key) {
                e[i].count++;
                return 0;
            }
        if (m->n < 1u << AGM_LIN_LG) {
            e[m->n].key = key;
            e[m->n++].count = 1;
            return 0;
        }
        int rc = agm_map_rehash(s, m, AGM_LIN_LG + 2, false, inl);
        if (rc < 0)
            return rc;
    }
    for (;;) {
        e = (struct agm_ent *)s->e + m->off;
        uint32_t mask = (1u << m->lg) - 1, i = agm_slot(key, m->lg);
        while (e[i].count) {
            if (e[i].key == key) {
                e[i].count++;
                return 0;
            }
            i = (i + 1) & mask;
        }
        if ((m->n + 1) * 4 <= (mask + 1) * 3) {
            e[i].key = key;
            e[i].count = 1;
            m->n++;
            return 0;
        }
        int rc = agm_map_rehash(s, m, m->lg + 1, false, NULL);
        if (rc < 0)
            return rc;
    }
}

static inline int agm_amap_inc(struct agm_slab *s, struct agm_map *m, struct agm_aent *inl,
                               const struct fl_addr *key)
{
    struct agm_aent *e = inl;
    if (m->lg == AGM_LIN_LG) {
        for (uint32_t i = 0; i < m->n; i++)
            if (!memcmp(&e[i].key, key, sizeof(*key))) {
                e[i].count++;
                return 0;
            }
        if (m->n < 1u << AGM_LIN_LG) {
            e[m->n].key = *key;
            e[m->n++].count = 1;
            return 0;
        }
        int rc = agm_map_rehash(s, m, AGM_LIN_LG + 2, true, inl);
        if (rc < 0)
            return rc;
    }
    uint32_t h = agm_addr_hash(key);
    for (;;) {
        e = (struct agm_aent *)s->e + m->off;
        uint32_t mask = (1u << m->lg) - 1, i = h >> (32 - m->lg);
        while (e[i].count) {
            if (!memcmp(&e[i].key, key, sizeof(*key))) {
                e[i].count++;
                return 0;
            }
            i = (i + 1) & mask;
        }
        if ((m->n + 1) * 4 <= (mask + 1) * 3) {
            e[i].key = *key;
            e[i].count = 1;
            m->n++;
            return 0;
        }
        int rc = agm_map_rehash(s, m, m->lg + 1, true, NULL);
        if (rc < 0)
            return rc;
    }
}

void agm_prefetch_maps(const struct agm_win *aw, const struct agm_src *s,
                       const struct fl_addr *dst, const uint32_t v[AGM_NF])
{
    const struct agm_map *m = &s->m[AGM_DST];
    if (m->lg != AGM_LIN_LG)
        __builtin_prefetch((const struct agm_aent *)aw->sa.e + m->off +
                           (agm_addr_hash(dst) >> (32 - m->lg)), 1);
    for (int f = AGM_SPORT; f < AGM_NF; f++) {
        m = &s->m[f];
        if (m->lg != AGM_LIN_LG)
            __builtin_prefetch((const struct agm_ent *)aw->s32.e + m->off + agm_slot(v[f], m->lg),
                               1);
    }
}

void agm_prefetch_src(const struct agm_win *aw, uint32_t hash)
{
    uint32_t x = aw->tab[hash >> (32 - aw->tab_lg)];
    if (x) {
        const char *p = (const char *)&aw->src[x - 1];
        for (size_t o = 0; o < sizeof(struct agm_src); o += 64)
            __builtin_prefetch(p + o, 1);
    }
}

int agm_count(struct agm_win *aw, struct agm_src *s, const struct fl_addr *dst,
              const uint32_t v[AGM_NF])
{
    int rc = agm_amap_inc(&aw->sa, &s->m[AGM_DST], s->ainl, dst);
    for (int f = AGM_SPORT; f < AGM_NF && rc == 0; f++)
        rc = agm_map_inc(&aw->s32, &s->m[f], s->inl[f - 1], v[f]);
    s->packets++;
    s->touched = 1;
    return rc;
}

int agm_win_new(struct agm *st, struct fl_window *w, struct agm_win **out)
{
    struct agm_win *aw = calloc(1, sizeof(*aw));
    if (!aw)
        return -FL_ENOMEM;
    aw->w = w;
    aw->free_src = AGM_NONE;
    aw->tab_lg = AGM_SRC_LG0;
    aw->tab = calloc((size_t)1 << aw->tab_lg, sizeof(*aw->tab));
    if (!aw->tab) {
        free(aw);
        return -FL_ENOMEM;
    }
    agm_slab_init(&aw->s32, sizeof(struct agm_ent));
    agm_slab_init(&aw->sa, sizeof(struct agm_aent));
    aw->next = st->open;
    if (st->open)
        st->open->prev = aw;
    st->open = aw;
    *out = aw;
    return 0;
}

void agm_win_free(struct agm *st, struct agm_win *aw)
{
    if (!aw)
        return;
    st->live -= aw->live;
    if (aw->prev)
        aw->prev->next = aw->next;
    else if (st->open == aw)
        st->open = aw->next;
    if (aw->next)
        aw->next->prev = aw->prev;
    free(aw->src);
    free(aw->tab);
    free(aw->s32.e);
    free(aw->sa.e);
    free(aw->kept);
    free(aw);
}

static int agm_tab_grow(struct agm_win *aw)
{
    uint32_t lg = aw->tab_lg + 1, mask = (1u << lg) - 1;
    uint32_t *t = calloc((size_t)1 << lg, sizeof(*t));
    if (!t)
        return -FL_ENOMEM;
    for (uint32_t i = 0; i < 1u << aw->tab_lg; i++) {
        if (!aw->tab[i])
            continue;
        uint32_t j = aw->src[aw->tab[i] - 1].hash >> (32 - lg);
        while (t[j])
            j = (j + 1) & mask;
        t[j] = aw->tab[i];
    }
    free(aw->tab);
    aw->tab = t;
    aw->tab_lg = lg;
    return 0;
}

/* Delete table entry i by shifting back the entries after it (linear
 * probing needs no tombstones then). */
static void agm_tab_del(struct agm_win *aw, uint32_t i)
{
    uint32_t mask = (1u << aw->tab_lg) - 1, j = i;
    for (;;) {
        aw->tab[i] = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!aw->tab[j])
                return;
            uint32_t home = aw->src[aw->tab[j] - 1].hash >> (32 - aw->tab_lg);
            /* j stays unless its home is cyclically outside (i, j] */
            if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
                continue;
            break;
        }
        aw->tab[i] = aw->tab[j];
        i = j;
    }
}

int agm_src_close(struct agm *st, struct agm_win *aw, uint32_t i)
{
    struct agm_src *s = &aw->src[i];
    struct agm_row r;
    int rc;
    agm_row_of(aw, s, &r);
    if (!s->packets) {
        /* made for a packet of this batch, not counted yet: no row (the
         * packet finds it gone and makes it again) */
    } else if (st->nagm) {
        if (aw->nkept == aw->capkept) {
            size_t cap = aw->capkept ? aw->capkept * 2 : 64;
            struct agm_row *p = realloc(aw->kept, cap * sizeof(*p));
            if (!p)
                return -FL_ENOMEM;
            aw->kept = p;
            aw->capkept = cap;
        }
        aw->kept[aw->nkept++] = r;
    } else if ((rc = agm_put(st, aw->w, &r)) < 0) {
        return rc;
    }
    uint32_t mask = (1u << aw->tab_lg) - 1, t = s->hash >> (32 - aw->tab_lg);
    while (aw->tab[t] != i + 1)
        t = (t + 1) & mask;
    agm_tab_del(aw, t);
    if (s->m[AGM_DST].lg != AGM_LIN_LG)
        agm_slab_free(&aw->sa, s->m[AGM_DST].off, s->m[AGM_DST].lg);
    for (int f = AGM_SPORT; f < AGM_NF; f++)
        if (s->m[f].lg != AGM_LIN_LG)
            agm_slab_free(&aw->s32, s->m[f].off, s->m[f].lg);
    s->used = 0;
    st->gen++;
    s->m[0].off = aw->free_src;
    aw->free_src = i;
    aw->live--;
    st->live--;
    return 0;
}

/* Make room for one source: the window ending first gives up the first
 * source the clock hand finds untouched since its last pass. */
static int agm_evict(struct agm *st)
{
    struct agm_win *v = NULL;
    for (struct agm_win *aw = st->open; aw; aw = aw->next)
        if (aw->live && (!v || aw->w->end < v->w->end ||
                         (aw->w->end == v->w->end && aw->w->start > v->w->start)))
            v = aw;
    if (!v)
        return 0;
    for (;;) {
        if (v->hand >= v->nsrc)
            v->hand = 0;
        struct agm_src *s = &v->src[v->hand];
        if (s->used && !s->touched)
            break;
        s->touched = 0;
        v->hand++;
    }
    st->evicted++;
    return agm_src_close(st, v, v->hand++);
}

uint32_t agm_src_get(struct agm *st, struct agm_win *aw, const struct fl_addr *addr,
                     uint32_t hash)
{
    uint32_t mask = (1u << aw->tab_lg) - 1, t = hash >> (32 - aw->tab_lg);
    for (uint32_t x; (x = aw->tab[t]); t = (t + 1) & mask) {
        struct agm_src *s = &aw->src[x - 1];
        if (s->hash == hash && !memcmp(&s->addr, addr, sizeof(*addr)))
            return x - 1;
    }
    /* new */
    if (st->live >= st->max_sources && agm_evict(st) < 0)
        return AGM_NONE;
    if ((aw->live + 1) * 2 > 1u << aw->tab_lg) {
        if (agm_tab_grow(aw) < 0)
            return AGM_NONE;
        mask = (1u << aw->tab_lg) - 1;
    }
    t = hash >> (32 - aw->tab_lg);   /* the table may have changed: eviction, growth */
    while (aw->tab[t])
        t = (t + 1) & mask;
    uint32_t i = aw->free_src;
    if (i != AGM_NONE) {
        aw->free_src = aw->src[i].m[0].off;
    } else {
        if (aw->nsrc == aw->capsrc) {
            uint32_t cap = aw->capsrc ? aw->capsrc * 2 : 64;
            struct agm_src *p = realloc(aw->src, (size_t)cap * sizeof(*p));
            if (!p)
                return AGM_NONE;
            aw->src = p;
            aw->capsrc = cap;
        }
        i = aw->nsrc++;
    }
    struct agm_src *s = &aw->src[i];
    memset(s, 0, sizeof(*s));
    s->addr = *addr;
    s->hash = hash;
    s->used = 1;
    s->touched = 1;   /* not the next victim before its first packet counts */
    for (int f = 0; f < AGM_NF; f++)
        s->m[f].lg = AGM_LIN_LG;
    aw->tab[t] = i + 1;
    aw->live++;
    st->live++;
    return i;
}
