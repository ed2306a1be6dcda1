/* groupby_table.c: the groups of one window, and folding a batch into
 * them.
 *
 * A group is a fixed-size record (groupby.h, gb_layout): its key hash, a
 * bit per missing key, the key values (16 bytes each; strings point into
 * the table's own arena) and each aggregate's state. Records live in
 * chunks that never move, so a batch can hold pointers to them; an
 * open-addressing index of record numbers finds them by hash. Records are
 * numbered in order of creation, which is the order of the rows out.
 *
 * A batch is folded in two passes: every row finds (or makes) its group
 * (gb_table_find, per row), then each aggregate runs over the rows as one
 * typed loop over its argument column (gb_update). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "groupby.h"
#include "groupby_quant.h"

#define CHUNK_BITS 10u
#define CHUNK (1u << CHUNK_BITS)
#define ARENA_BLOCK 65536u

struct gb_arena_block { struct gb_arena_block *next; uint32_t used, cap; char data[]; };

struct gb_table {
    uint64_t *index;          /* hash's high half << 32 | record number + 1; 0 = empty:
                               * a probe reads a record only when the halves match */
    uint32_t mask;
    uint32_t n;
    char **chunks;
    uint32_t n_chunks;
    struct gb_arena_block *arena;
};

struct gb_table *gb_table_new(const struct groupby *g)
{
    (void)g;
    struct gb_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->mask = 63;
    if (!(t->index = calloc(t->mask + 1, sizeof(*t->index)))) {
        free(t);
        return NULL;
    }
    return t;
}

uint32_t gb_table_groups(const struct gb_table *t)
{
    return t->n;
}

static inline char *rec_at(const struct groupby *g, const struct gb_table *t, uint32_t i)
{
    return t->chunks[i >> CHUNK_BITS] + (size_t)(i & (CHUNK - 1)) * g->rec_size;
}

char *gb_table_record(const struct groupby *g, const struct gb_table *t, uint32_t i)
{
    return rec_at(g, t, i);
}

void gb_table_free(const struct groupby *g, struct gb_table *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->n; i++) {
        char *rec = rec_at(g, t, i);
        for (size_t a = 0; a < g->n_aggs; a++) {
            const struct gb_slot *s = &g->slot[a];
            if (g->aggs[a].fn == GB_COUNT_DISTINCT)
                fl_distinct_reset((struct fl_distinct *)(rec + s->off));
            else if (g->aggs[a].fn == GB_QUANTILE && s->shared_with < 0) {
                struct gb_quant *q;
                memcpy(&q, rec + s->off, sizeof(q));
                if (q) {
                    gb_quant_free(q);
                    free(q);
                }
            }
        }
    }
    for (uint32_t c = 0; c < t->n_chunks; c++)
        free(t->chunks[c]);
    free(t->chunks);
    for (struct gb_arena_block *b = t->arena, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(t->index);
    free(t);
}

/* ---- keys ---------------------------------------------------------------- */

static inline uint64_t mix_in(uint64_t h, uint64_t v)
{
    return fl_hash_mix64(h + 0x9e3779b97f4a7c15ull + fl_hash64(v));
}

/* The hash of key k's value in row r (present). */
static inline uint64_t key_hash(const struct groupby *g, const struct fl_batch *sc, size_t k,
                                uint32_t r)
{
    const void *d = sc->data[k];
    switch (g->key_type[k]) {
    case FL_T_BOOL:
        return ((const uint8_t *)d)[r];
    case FL_T_ADDR:
        return fl_hash_addr(&((const struct fl_addr *)d)[r]);
    case FL_T_STR: {
        struct fl_span s = ((const struct fl_span *)d)[r];
        return fl_hash_bytes(fl_batch_bytes(sc, s), s.len);
    }
    default:   /* 8-byte values */
        return ((const uint64_t *)d)[r];
    }
}

void gb_hash_keys(const struct groupby *g, const struct fl_batch *sc)
{
    uint32_t rows = sc->rows;
    uint64_t *h = g->hash;
    memset(h, 0, rows * sizeof(*h));
    for (size_t k = 0; k < g->n_keys; k++) {
        const uint64_t *valid = sc->valid[k];
        if (!valid && g->key_type[k] != FL_T_STR && g->key_type[k] != FL_T_ADDR
            && g->key_type[k] != FL_T_BOOL) {
            const uint64_t *d = sc->data[k];   /* the common case, one tight loop */
            for (uint32_t r = 0; r < rows; r++)
                h[r] = mix_in(h[r], d[r]);
            continue;
        }
        /* A missing key hashes as one value of its own, whatever its cell
         * holds. */
        for (uint32_t r = 0; r < rows; r++)
            h[r] = fl_batch_is_valid(sc, (uint32_t)k, r) ? mix_in(h[r], key_hash(g, sc, k, r))
                                                        : mix_in(h[r] ^ 0x5bd1e995ull, k);
    }
}

static uint32_t row_missing(const struct groupby *g, const struct fl_batch *sc, uint32_t r)
{
    uint32_t m = 0;
    for (size_t k = 0; k < g->n_keys; k++)
        if (!fl_batch_is_valid(sc, (uint32_t)k, r))
            m |= 1u << k;
    return m;
}

static bool keys_equal(const struct groupby *g, const char *rec, const struct fl_batch *sc,
                       uint32_t r, uint32_t missing)
{
    uint32_t rm;
    memcpy(&rm, rec + 8, 4);
    if (rm != missing)
        return false;
    for (size_t k = 0; k < g->n_keys; k++) {
        if (missing >> k & 1)
            continue;
        const char *kv = rec + 16 + 16 * k;
        switch (g->key_type[k]) {
        case FL_T_BOOL:
            if ((uint8_t)kv[0] != ((const uint8_t *)sc->data[k])[r])
                return false;
            break;
        case FL_T_ADDR:
            if (memcmp(kv, &((const struct fl_addr *)sc->data[k])[r], 16))
                return false;
            break;
        case FL_T_STR: {
            struct fl_span s = ((const struct fl_span *)sc->data[k])[r];
            const char *p;
            uint32_t len;
            memcpy(&p, kv, sizeof(p));
            memcpy(&len, kv + 8, 4);
            if (len != s.len || memcmp(p, fl_batch_bytes(sc, s), len))
                return false;
            break;
        }
        default:
            if (memcmp(kv, &((const uint64_t *)sc->data[k])[r], 8))
                return false;
        }
    }
    return true;
}

static char *arena_put(struct gb_table *t, const char *p, uint32_t len)
{
    struct gb_arena_block *b = t->arena;
    if (!b || b->cap - b->used < len) {
        uint32_t cap = len > ARENA_BLOCK ? len : ARENA_BLOCK;
        if (!(b = malloc(sizeof(*b) + cap)))
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = t->arena;
        t->arena = b;
    }
    char *dst = b->data + b->used;
    memcpy(dst, p, len);
    b->used += len;
    return dst;
}

static inline uint64_t index_entry(uint64_t h, uint32_t i)
{
    return (h & 0xffffffff00000000ull) | (i + 1);
}

static int grow_index(const struct groupby *g, struct gb_table *t)
{
    uint32_t mask = t->mask * 2 + 1;
    uint64_t *ix = calloc((size_t)mask + 1, sizeof(*ix));
    if (!ix)
        return -FL_ENOMEM;
    for (uint32_t i = 0; i < t->n; i++) {
        uint64_t h;
        memcpy(&h, rec_at(g, t, i), 8);
        uint32_t s = (uint32_t)h & mask;
        while (ix[s])
            s = (s + 1) & mask;
        ix[s] = index_entry(h, i);
    }
    free(t->index);
    t->index = ix;
    t->mask = mask;
    return 0;
}

static char *new_record(const struct groupby *g, struct gb_table *t, const struct fl_batch *sc,
                        uint32_t r, uint64_t h, uint32_t missing, int *rc)
{
    uint32_t i = t->n;
    if ((i >> CHUNK_BITS) >= t->n_chunks) {
        char **c = realloc(t->chunks, (t->n_chunks + 1) * sizeof(*c));
        if (!c)
            goto nomem;
        t->chunks = c;
        if (!(c[t->n_chunks] = calloc(CHUNK, g->rec_size)))
            goto nomem;
        t->n_chunks++;
    }
    char *rec = rec_at(g, t, i);
    memset(rec, 0, g->rec_size);
    memcpy(rec, &h, 8);
    memcpy(rec + 8, &missing, 4);
    for (size_t k = 0; k < g->n_keys; k++) {
        if (missing >> k & 1)
            continue;
        char *kv = rec + 16 + 16 * k;
        switch (g->key_type[k]) {
        case FL_T_BOOL:
            kv[0] = (char)((const uint8_t *)sc->data[k])[r];
            break;
        case FL_T_ADDR:
            memcpy(kv, &((const struct fl_addr *)sc->data[k])[r], 16);
            break;
        case FL_T_STR: {
            struct fl_span s = ((const struct fl_span *)sc->data[k])[r];
            const char *p = arena_put(t, fl_batch_bytes(sc, s), s.len);
            if (!p && s.len)
                goto nomem;
            memcpy(kv, &p, sizeof(p));
            memcpy(kv + 8, &s.len, 4);
            break;
        }
        default:
            memcpy(kv, &((const uint64_t *)sc->data[k])[r], 8);
        }
    }
    t->n++;
    return rec;
nomem:
    *rc = -FL_ENOMEM;
    return NULL;
}

void gb_table_prefetch(const struct groupby *g, const struct gb_table *t, uint32_t r)
{
    __builtin_prefetch(&t->index[(uint32_t)g->hash[r] & t->mask]);
}

char *gb_table_find(const struct groupby *g, struct gb_table *t, const struct fl_batch *sc,
                    uint32_t r, int *rc)
{
    uint64_t h = g->n_keys ? g->hash[r] : 0;
    uint32_t missing = g->n_keys ? row_missing(g, sc, r) : 0;
    uint32_t s = (uint32_t)h & t->mask;
    for (uint64_t e; (e = t->index[s]) != 0; s = (s + 1) & t->mask) {
        if ((e ^ h) >> 32)
            continue;
        char *rec = rec_at(g, t, (uint32_t)e - 1);
        uint64_t rh;
        memcpy(&rh, rec, 8);
        if (rh == h && keys_equal(g, rec, sc, r, missing))
            return rec;
    }
    if (t->n >= g->max_groups)
        return NULL;
    char *rec = new_record(g, t, sc, r, h, missing, rc);
    if (!rec)
        return NULL;
    t->index[s] = index_entry(h, t->n - 1);
    if ((uint64_t)t->n * 10 > (uint64_t)(t->mask + 1) * 7 && (*rc = grow_index(g, t)) < 0)
        return NULL;
    return rec;
}

/* ---- aggregates ------------------------------------------------------- */

/* The value of row r of a numeric column as a double / an integer. */
static inline double get_f(const void *d, enum fl_type t, uint32_t r)
{
    switch (t) {
    case FL_T_F64: return ((const double *)d)[r];
    case FL_T_BOOL: return ((const uint8_t *)d)[r];
    case FL_T_TS: return (double)((const uint64_t *)d)[r];
    default: return (double)((const int64_t *)d)[r];
    }
}

static inline int64_t get_i(const void *d, enum fl_type t, uint32_t r)
{
    return t == FL_T_BOOL ? ((const uint8_t *)d)[r] : ((const int64_t *)d)[r];
}

static uint64_t value_hash(const struct fl_batch *sc, uint32_t c, enum fl_type t, uint32_t r)
{
    const void *d = sc->data[c];
    switch (t) {
    case FL_T_BOOL: return fl_hash64(((const uint8_t *)d)[r]);
    case FL_T_ADDR: return fl_hash_addr(&((const struct fl_addr *)d)[r]);
    case FL_T_STR: {
        struct fl_span s = ((const struct fl_span *)d)[r];
        return fl_hash_bytes(fl_batch_bytes(sc, s), s.len);
    }
    case FL_T_F64: {
        double x = ((const double *)d)[r];
        uint64_t u;
        x = x == 0 ? 0 : x;   /* -0.0 and 0.0 are one value */
        memcpy(&u, &x, 8);
        return fl_hash64(u);
    }
    default: return fl_hash64(((const uint64_t *)d)[r]);
    }
}

/* Compare two cells of type t (min/max): <0, 0, >0. */
static inline int cmp_cell(enum fl_type t, const void *a, const void *b)
{
    switch (t) {
    case FL_T_F64: {
        double x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return (x > y) - (x < y);
    }
    case FL_T_TS: {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return (x > y) - (x < y);
    }
    case FL_T_ADDR: return memcmp(a, b, 16);
    case FL_T_BOOL: return (int)*(const uint8_t *)a - (int)*(const uint8_t *)b;
    default: {
        int64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return (x > y) - (x < y);
    }
    }
}

#define ROWS_WITH_VALUE(body)                                                   \
    for (uint32_t r = 0; r < rows; r++) {                                       \
        char *rec = grp[r];                                                     \
        if (!rec || (valid && !(valid[r >> 6] >> (r & 63) & 1)))                \
            continue;                                                           \
        body                                                                    \
    }

static int update_one(struct groupby *g, size_t a, const struct fl_batch *sc)
{
    const struct gb_agg *ag = &g->aggs[a];
    const struct gb_slot *s = &g->slot[a];
    uint32_t rows = sc->rows, off = s->off;
    char **grp = g->grp;
    int c = ag->arg_slot;
    const void *d = c >= 0 ? sc->data[c] : NULL;
    const uint64_t *valid = c >= 0 ? sc->valid[c] : NULL;
    enum fl_type t = s->in;
    int rc = 0;

    switch (ag->fn) {
    case GB_COUNT:
        ROWS_WITH_VALUE(++*(uint64_t *)(rec + off);)
        break;
    case GB_SUM:
        if (t == FL_T_F64) {
            const double *v = d;
            ROWS_WITH_VALUE(*(double *)(rec + off) += v[r]; ++*(uint64_t *)(rec + off + 8);)
        } else if (t == FL_T_I64 || t == FL_T_DUR) {
            const int64_t *v = d;   /* wraps like the expression language */
            ROWS_WITH_VALUE(*(uint64_t *)(rec + off) += (uint64_t)v[r];
                            ++*(uint64_t *)(rec + off + 8);)
        } else {
            ROWS_WITH_VALUE(*(uint64_t *)(rec + off) += (uint64_t)get_i(d, t, r);
                            ++*(uint64_t *)(rec + off + 8);)
        }
        break;
    case GB_MULT:
        ROWS_WITH_VALUE(double *p = (double *)(rec + off); uint64_t *n = (uint64_t *)(rec + off + 8);
                        *p = (*n)++ ? *p * get_f(d, t, r) : get_f(d, t, r);)
        break;
    case GB_MIN:
    case GB_MAX: {
        size_t w = t == FL_T_ADDR ? 16 : t == FL_T_BOOL ? 1 : 8;
        uint32_t noff = off + (t == FL_T_ADDR ? 16 : 8);
        int sign = ag->fn == GB_MIN ? -1 : 1;
        if (t == FL_T_I64 || t == FL_T_DUR) {
            const int64_t *v = d;
            ROWS_WITH_VALUE(int64_t *p = (int64_t *)(rec + off); uint64_t *n = (uint64_t *)(rec + noff);
                            if (!(*n)++ || (sign < 0 ? v[r] < *p : v[r] > *p)) *p = v[r];)
        } else {
            ROWS_WITH_VALUE(const char *cell = (const char *)d + (size_t)r * w;
                            uint64_t *n = (uint64_t *)(rec + noff);
                            if (!(*n)++ || cmp_cell(t, cell, rec + off) * sign > 0)
                                memcpy(rec + off, cell, w);)
        }
        break;
    }
    case GB_MEAN:
        ROWS_WITH_VALUE(*(double *)(rec + off) += get_f(d, t, r); ++*(uint64_t *)(rec + off + 8);)
        break;
    case GB_STDDEV:   /* Welford: n, mean, sum of squared deviations */
        ROWS_WITH_VALUE(uint64_t *n = (uint64_t *)(rec + off); double *m = (double *)(rec + off + 8);
                        double *m2 = (double *)(rec + off + 16); double x = get_f(d, t, r);
                        double dx = x - *m; *m += dx / (double)++*n; *m2 += dx * (x - *m);)
        break;
    case GB_COUNT_DISTINCT:
        ROWS_WITH_VALUE(int e = fl_distinct_add((struct fl_distinct *)(rec + off),
                                                value_hash(sc, (uint32_t)c, t, r), &g->dconf);
                        if (e < 0) rc = e;)
        break;
    case GB_QUANTILE:
        if (s->shared_with >= 0)
            break;   /* the first quantile of this argument fills the sketch */
        ROWS_WITH_VALUE(struct gb_quant *q; memcpy(&q, rec + off, sizeof(q));
                        if (!q) {
                            if (!(q = calloc(1, sizeof(*q)))) { rc = -FL_ENOMEM; break; }
                            memcpy(rec + off, &q, sizeof(q));
                        }
                        double x = get_f(d, t, r);
                        if (isfinite(x)) { int e = gb_quant_add(q, &g->qconf, x); if (e < 0) rc = e; })
        break;
    default:
        break;
    }
    return rc;
}

int gb_update(struct groupby *g, const struct fl_batch *sc)
{
    int rc = 0;
    for (size_t a = 0; a < g->n_aggs; a++) {
        int r = update_one(g, a, sc);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}
