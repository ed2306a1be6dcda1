/* geoip_cache.c: the per-stage cache of recent lookups. Direct-mapped by a
 * hash of the address: one probe, no chains, no eviction bookkeeping; a
 * collision simply replaces the slot. Flows repeat their addresses, so a
 * few thousand slots catch most lookups. Emptied in O(1) by bumping the
 * generation (on reload). */
#include <stdlib.h>
#include <string.h>

#include "geoip.h"

struct slot {
    struct fl_addr a;
    uint32_t gen;
    uint32_t found;
    /* struct geoip_val v[ncols] follows */
};

int geoip_cache_init(struct geoip_cache *c, uint64_t n, size_t ncols)
{
    memset(c, 0, sizeof(*c));
    if (!(c->scratch = calloc(ncols ? ncols : 1, sizeof(struct geoip_val)))
        || !(c->scratch2 = calloc(ncols ? ncols : 1, sizeof(struct geoip_val))))
        return -FL_ENOMEM;
    if (n == 0)
        return 0;
    uint64_t p = 1;
    while (p < n)
        p <<= 1;
    c->stride = sizeof(struct slot) + ncols * sizeof(struct geoip_val);
    c->stride = (c->stride + 15) & ~(size_t)15;
    if (!(c->slots = calloc(p, c->stride)))
        return -FL_ENOMEM;
    c->n = (uint32_t)p;
    c->mask = (uint32_t)p - 1;
    c->gen = 1;   /* zeroed slots (gen 0) never match */
    return 0;
}

void geoip_cache_free(struct geoip_cache *c)
{
    free(c->slots);
    free(c->scratch);
    free(c->scratch2);
    memset(c, 0, sizeof(*c));
}

void geoip_cache_clear(struct geoip_cache *c)
{
    if (!c->n)
        return;
    if (++c->gen == 0) {   /* wrapped: old slots could match again */
        memset(c->slots, 0, (size_t)c->n * c->stride);
        c->gen = 1;
    }
}

static inline uint32_t addr_hash(const struct fl_addr *a)
{
    uint64_t x, y;
    memcpy(&x, a->b, 8);
    memcpy(&y, a->b + 8, 8);
    x ^= y * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(x >> 32);
}

const struct geoip_val *geoip_cache_get(struct geoip *g, const struct fl_addr *a)
{
    struct geoip_cache *c = &g->cache;
    g->cnt.lookups++;
    if (!c->n) {
        if (!geoip_lookup(g, a, c->scratch))
            g->cnt.not_found++;
        return c->scratch;
    }
    struct slot *s = (struct slot *)(c->slots + (size_t)(addr_hash(a) & c->mask) * c->stride);
    struct geoip_val *v = (struct geoip_val *)(s + 1);
    if (s->gen == c->gen && memcmp(&s->a, a, sizeof(*a)) == 0) {
        g->cnt.hits++;
    } else {
        g->cnt.misses++;
        s->a = *a;
        s->gen = c->gen;
        s->found = geoip_lookup(g, a, v);
    }
    if (!s->found)
        g->cnt.not_found++;
    return v;
}
