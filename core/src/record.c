/* record.c: schemas (interned per runtime) and batches (refcounted,
 * columnar, shared by derivation). See flowline/record.h for the contract.
 *
 * A batch owns references to its columns and its arena; a derived batch
 * takes references to the columns it shares, so untouched columns are never
 * copied. Columns and arenas are immutable once the batch is emitted, except
 * that fl_batch_put_bytes() copies a shared arena before appending and
 * fl_batch_set_missing() copies a shared column before touching its bitmap
 * (copy-on-write), so a derived batch never writes into its source. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "rt.h"

#if defined(__SANITIZE_ADDRESS__)
#define FL_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FL_POOL_ASAN 1
#endif
#endif
#ifdef FL_POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define BATCH_MAGIC 0xF1BA7C40u
#define COL_ALIGN 64

struct fl_column {
    atomic_int refs;
    uint32_t cap;
    size_t cell;               /* bytes per row */
    uint64_t *valid;           /* NULL = all valid */
    void *data;                /* cap * cell bytes, COL_ALIGN-aligned */
};

/* Batches freed by their last holder (usually the consumer's thread) go back
 * to the pool of the ctx that made them, and fl_batch_new() on that ctx
 * takes one of the same schema and capacity from it: no malloc/free of the
 * ~60 blocks of a batch per batch, no fresh pages, and no glibc heap
 * trimming when one thread frees what another allocated (seen to cost
 * +0.8 s CPU per 10 M packets, docs/performance.md). A mutex suffices: it is
 * taken twice per batch of ~1000 rows. The pool is refcounted by its ctx and
 * by every batch it made, so it outlives whichever goes last. */
#define POOL_MAX 8

struct fl_batch_pool {
    pthread_mutex_t lock;
    atomic_int refs;           /* the ctx + each batch whose head points here */
    bool dead;                 /* ctx gone: free instead of keeping */
    uint32_t n;
    struct fl_batch *free[POOL_MAX];   /* oldest first */
};

/* Hidden in front of every batch. */
struct batch_head {
    struct fl_batch_pool *pool;        /* NULL: not from fl_batch_new() with a pool */
    size_t bytes;                      /* the batch's allocation after the head */
};

#define HEAD(b) ((struct batch_head *)(b) - 1)

struct fl_arena {
    atomic_int refs;
    uint32_t len, cap;
    char *buf;
};

/* ---- types ------------------------------------------------------------ */
static const struct { const char *name; size_t size; } type_info[FL_T_COUNT] = {
    [FL_T_NONE] = {"none", 0},  [FL_T_U8] = {"u8", 1},    [FL_T_U16] = {"u16", 2},
    [FL_T_U32] = {"u32", 4},    [FL_T_U64] = {"u64", 8},  [FL_T_I64] = {"i64", 8},
    [FL_T_F64] = {"f64", 8},    [FL_T_BOOL] = {"bool", 1}, [FL_T_TS] = {"ts", 8},
    [FL_T_DUR] = {"dur", 8},    [FL_T_ADDR] = {"addr", 16}, [FL_T_MAC] = {"mac", 6},
    [FL_T_STR] = {"str", sizeof(struct fl_span)},
    [FL_T_BYTES] = {"bytes", sizeof(struct fl_span)},
};

size_t fl_type_size(enum fl_type t)
{
    return (unsigned)t < FL_T_COUNT ? type_info[t].size : 0;
}

const char *fl_type_name(enum fl_type t)
{
    return (unsigned)t < FL_T_COUNT ? type_info[t].name : "?";
}

enum fl_type fl_type_from_name(const char *name)
{
    for (int t = 1; t < FL_T_COUNT; t++)
        if (strcmp(type_info[t].name, name) == 0)
            return (enum fl_type)t;
    return FL_T_NONE;
}

/* ---- schemas ----------------------------------------------------------
 * A plugin's column definitions are read with its stride (col_size) and
 * copied into full-size ones the core owns; fl_schema.cols points at them. */
struct fl_schema_node {
    struct fl_schema s;
    uint64_t hash;
    struct fl_col_def *defs;                /* ncols, names in the same allocation */
    const struct fl_col_def *ptrs[];        /* s.cols: &defs[i] */
};

static const struct fl_col_def *col_at(const struct fl_col_def *cols, size_t size, size_t i)
{
    return (const struct fl_col_def *)((const char *)cols + i * size);
}

static uint64_t schema_hash(const struct fl_col_def *cols, size_t size, size_t n)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        const struct fl_col_def *c = col_at(cols, size, i);
        for (const char *p = c->name; *p; p++)
            h = (h ^ (uint8_t)*p) * 1099511628211ull;
        h = (h ^ (0x100u | c->type)) * 1099511628211ull;
    }
    return h ^ n;
}

static bool schema_equal(const struct fl_schema_node *a, const struct fl_col_def *cols,
                         size_t size, size_t n)
{
    if (a->s.ncols != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const struct fl_col_def *c = col_at(cols, size, i);
        if (a->defs[i].type != c->type || strcmp(a->defs[i].name, c->name) != 0)
            return false;
    }
    return true;
}

static int schema_tab_grow(struct fl_rt *rt)
{
    size_t cap = rt->schema_cap ? rt->schema_cap * 2 : 64;
    struct fl_schema_node **tab = calloc(cap, sizeof(*tab));
    if (!tab)
        return -FL_ENOMEM;
    for (size_t i = 0; i < rt->schema_cap; i++) {
        struct fl_schema_node *sn = rt->schema_tab[i];
        if (!sn)
            continue;
        size_t j = sn->hash & (cap - 1);
        while (tab[j])
            j = (j + 1) & (cap - 1);
        tab[j] = sn;
    }
    free(rt->schema_tab);
    rt->schema_tab = tab;
    rt->schema_cap = cap;
    return 0;
}

/* One allocation: the node, its pointer array, the definitions, the names. */
static struct fl_schema_node *schema_node_new(const struct fl_col_def *cols, size_t size,
                                              size_t n)
{
    size_t names = 0;
    for (size_t i = 0; i < n; i++)
        names += strlen(col_at(cols, size, i)->name) + 1;
    struct fl_schema_node *sn = calloc(1, sizeof(*sn) + n * (sizeof(sn->ptrs[0])
                                                             + sizeof(sn->defs[0])) + names);
    if (!sn)
        return NULL;
    sn->defs = (struct fl_col_def *)&sn->ptrs[n];
    char *p = (char *)&sn->defs[n];
    for (size_t i = 0; i < n; i++) {
        const struct fl_col_def *c = col_at(cols, size, i);
        size_t len = strlen(c->name) + 1;
        memcpy(p, c->name, len);
        sn->defs[i].name = p;
        sn->defs[i].type = c->type;
        sn->ptrs[i] = &sn->defs[i];
        p += len;
    }
    sn->s.ncols = (uint32_t)n;
    sn->s.cols = sn->ptrs;
    return sn;
}

int fl_schema_intern(struct fl_ctx *ctx, const struct fl_col_def *cols, size_t n,
                     size_t col_size, const struct fl_schema **out)
{
    struct fl_rt *rt = ctx->rt;
    int rc = 0;

    if (n && col_size < offsetof(struct fl_col_def, type) + sizeof(enum fl_type))
        return -FL_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!col_at(cols, col_size, i)->name || !fl_type_size(col_at(cols, col_size, i)->type))
            return -FL_EINVAL;
    uint64_t h = schema_hash(cols, col_size, n);
    pthread_mutex_lock(&rt->schema_lock);
    if ((rt->schema_n + 1) * 2 > rt->schema_cap && (rc = schema_tab_grow(rt)) < 0)
        goto out;
    size_t j = h & (rt->schema_cap - 1);
    for (; rt->schema_tab[j]; j = (j + 1) & (rt->schema_cap - 1)) {
        struct fl_schema_node *sn = rt->schema_tab[j];
        if (sn->hash == h && schema_equal(sn, cols, col_size, n)) {
            *out = &sn->s;
            goto out;
        }
    }
    struct fl_schema_node *sn = schema_node_new(cols, col_size, n);
    if (!sn) {
        rc = -FL_ENOMEM;
        goto out;
    }
    sn->hash = h;
    sn->s.id = ++rt->schema_next_id;
    rt->schema_tab[j] = sn;
    rt->schema_n++;
    *out = &sn->s;
out:
    pthread_mutex_unlock(&rt->schema_lock);
    return rc;
}

int fl_schema_find(const struct fl_schema *s, const char *name)
{
    for (uint32_t i = 0; i < s->ncols; i++)
        if (strcmp(s->cols[i]->name, name) == 0)
            return (int)i;
    const char *canon = fl_field_canonical(name);
    if (canon && strcmp(canon, name) != 0)
        for (uint32_t i = 0; i < s->ncols; i++)
            if (strcmp(s->cols[i]->name, canon) == 0)
                return (int)i;
    return -1;
}

int fl_rt_init(struct fl_rt *rt)
{
    memset(rt, 0, sizeof(*rt));
    pthread_mutex_init(&rt->schema_lock, NULL);
    return schema_tab_grow(rt);
}

void fl_rt_fini(struct fl_rt *rt)
{
    for (size_t i = 0; i < rt->schema_cap; i++)
        free(rt->schema_tab[i]);
    free(rt->schema_tab);
    fl_paths_free(rt);
    pthread_mutex_destroy(&rt->schema_lock);
    memset(rt, 0, sizeof(*rt));
}

/* ---- columns and arenas ------------------------------------------------ */
static struct fl_column *column_new(enum fl_type t, uint32_t cap)
{
    struct fl_column *c = malloc(sizeof(*c));
    if (!c)
        return NULL;
    c->cell = fl_type_size(t);
    size_t bytes = ((size_t)cap * c->cell + COL_ALIGN - 1) & ~(size_t)(COL_ALIGN - 1);
    c->data = aligned_alloc(COL_ALIGN, bytes ? bytes : COL_ALIGN);
    if (!c->data) {
        free(c);
        return NULL;
    }
    atomic_init(&c->refs, 1);
    c->cap = cap;
    c->valid = NULL;
    return c;
}

static void column_release(struct fl_column *c)
{
    if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        free(c->valid);
        free(c->data);
        free(c);
    }
}

static void arena_release(struct fl_arena *a)
{
    if (a && atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1) {
        free(a->buf);
        free(a);
    }
}

/* ---- batches ---------------------------------------------------------- */
static struct fl_batch *batch_alloc(const struct fl_schema *schema, uint32_t cap)
{
    size_t n = schema->ncols;
    size_t bytes = sizeof(struct fl_batch) + n * (2 * sizeof(void *) + sizeof(struct fl_column *));
    struct batch_head *h = calloc(1, sizeof(*h) + bytes);
    if (!h)
        return NULL;
    h->bytes = bytes;
    struct fl_batch *b = (struct fl_batch *)(h + 1);
    b->data = (void **)(b + 1);
    b->valid = (uint64_t **)(b->data + n);
    b->col_ = (struct fl_column **)(b->valid + n);
    b->schema = schema;
    b->cap = cap;
    b->refs_ = 1;
    b->magic_ = BATCH_MAGIC;
    return b;
}

/* ---- the batch pool ---------------------------------------------------- */
struct fl_batch_pool *fl_batch_pool_new(void)
{
    struct fl_batch_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    atomic_init(&p->refs, 1);
    return p;
}

static void pool_unref(struct fl_batch_pool *p)
{
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_destroy(&p->lock);
        free(p);
    }
}

/* Frees a batch for good: its columns, arena and block; drops its pool ref. */
static void batch_free(struct fl_batch *b)
{
    struct batch_head *h = HEAD(b);
    for (uint32_t i = 0; i < b->schema->ncols; i++)
        column_release(b->col_[i]);
    arena_release(b->arena_);
    b->magic_ = 0;
    if (h->pool)
        pool_unref(h->pool);
    free(h);
}

static void batch_poison(struct fl_batch *b, bool poison)
{
#ifdef FL_POOL_ASAN
    /* A pooled batch is free memory as far as its users know: make a use
     * after release fail under ASan like it would without the pool. */
    for (uint32_t i = 0; i < b->schema->ncols; i++) {
        struct fl_column *c = b->col_[i];
        size_t bytes = (size_t)c->cap * c->cell;
        if (poison)
            POISON(c->data, bytes);
        else
            UNPOISON(c->data, bytes);
    }
#else
    (void)b;
    (void)poison;
#endif
}

/* Keeps the last reference's batch in its pool if every column is its
 * own (none shared with a derived batch); true if kept. */
static bool pool_put(struct fl_batch *b)
{
    struct fl_batch_pool *p = HEAD(b)->pool;
    for (uint32_t i = 0; i < b->schema->ncols; i++)
        if (!b->col_[i] || atomic_load_explicit(&b->col_[i]->refs, memory_order_acquire) != 1)
            return false;
    for (uint32_t i = 0; i < b->schema->ncols; i++) {
        struct fl_column *c = b->col_[i];
        free(c->valid);                /* fl_batch_new() promises all valid */
        c->valid = NULL;
        b->valid[i] = NULL;
    }
    arena_release(b->arena_);
    b->arena_ = NULL;
    struct fl_batch *evict = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->dead) {
        pthread_mutex_unlock(&p->lock);
        return false;
    }
    if (p->n == POOL_MAX) {            /* keep the newest: they match the current demand */
        evict = p->free[0];
        memmove(&p->free[0], &p->free[1], (POOL_MAX - 1) * sizeof(p->free[0]));
        p->n--;
    }
    batch_poison(b, true);
    p->free[p->n++] = b;
    pthread_mutex_unlock(&p->lock);
    if (evict) {
        batch_poison(evict, false);
        batch_free(evict);
    }
    return true;
}

static struct fl_batch *pool_get(struct fl_batch_pool *p, const struct fl_schema *schema,
                                 uint32_t cap)
{
    struct fl_batch *b = NULL;
    pthread_mutex_lock(&p->lock);
    /* Oldest first: a batch the consumer has just read is still in that
     * core's cache, and rewriting it here would wait on that core. */
    for (uint32_t i = 0; i < p->n; i++)
        if (p->free[i]->schema == schema && p->free[i]->cap == cap) {
            b = p->free[i];
            memmove(&p->free[i], &p->free[i + 1], (p->n - i - 1) * sizeof(p->free[0]));
            p->n--;
            break;
        }
    pthread_mutex_unlock(&p->lock);
    if (b) {
        batch_poison(b, false);
        b->rows = 0;
        b->seq = 0;
        b->t_min = b->t_max = 0;
        b->refs_ = 1;
        b->magic_ = BATCH_MAGIC;
    }
    return b;
}

/* The ctx goes: free what the pool holds; batches still out free
 * themselves on release, the last one frees the pool. */
void fl_batch_pool_drop(struct fl_batch_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->dead = true;
    uint32_t n = p->n;
    struct fl_batch *held[POOL_MAX];
    memcpy(held, p->free, n * sizeof(held[0]));
    p->n = 0;
    pthread_mutex_unlock(&p->lock);
    for (uint32_t i = 0; i < n; i++) {
        batch_poison(held[i], false);
        batch_free(held[i]);
    }
    pool_unref(p);
}

int fl_batch_new(struct fl_ctx *ctx, const struct fl_schema *schema, uint32_t cap,
                 struct fl_batch **out)
{
    struct fl_batch_pool *pool = ctx ? ctx->pool : NULL;
    struct fl_batch *b = pool ? pool_get(pool, schema, cap) : NULL;
    if (b) {
        *out = b;
        return 0;
    }
    if (!(b = batch_alloc(schema, cap)))
        return -FL_ENOMEM;
    if (pool) {
        atomic_fetch_add_explicit(&pool->refs, 1, memory_order_relaxed);
        HEAD(b)->pool = pool;
    }
    for (uint32_t i = 0; i < schema->ncols; i++) {
        b->col_[i] = column_new(schema->cols[i]->type, cap);
        if (!b->col_[i]) {
            fl_batch_release(&b);
            return -FL_ENOMEM;
        }
        b->data[i] = b->col_[i]->data;
    }
    *out = b;
    return 0;
}

int fl_batch_take_rows(struct fl_ctx *ctx, struct fl_batch *b, struct fl_batch **out)
{
    struct fl_batch *c;
    int rc;

    if (__atomic_load_n(&b->refs_, __ATOMIC_RELAXED) != 1)
        return -FL_EINVAL;
    for (uint32_t i = 0; i < b->schema->ncols; i++)
        if (atomic_load(&b->col_[i]->refs) > 1)
            return -FL_EINVAL;
    if ((rc = fl_batch_new(ctx, b->schema, b->cap, &c)) < 0)
        return rc;
    for (uint32_t i = 0; i < b->schema->ncols; i++) {
        struct fl_column *from = b->col_[i], *to = c->col_[i];
        memcpy(to->data, from->data, (size_t)b->rows * from->cell);
        /* The bitmap moves with the rows; b's column is all valid again. */
        to->valid = c->valid[i] = from->valid;
        from->valid = b->valid[i] = NULL;
    }
    c->rows = b->rows;
    c->t_min = b->t_min;
    c->t_max = b->t_max;
    c->arena_ = b->arena_;   /* a fresh batch has none */
    b->arena_ = NULL;
    b->rows = 0;
    b->t_min = b->t_max = 0;
    *out = c;
    return 0;
}

struct fl_batch *fl_batch_retain(struct fl_batch *b)
{
    __atomic_fetch_add(&b->refs_, 1, __ATOMIC_RELAXED);
    return b;
}

void fl_batch_release(struct fl_batch **bp)
{
    struct fl_batch *b = *bp;
    *bp = NULL;
    if (!b || __atomic_fetch_sub(&b->refs_, 1, __ATOMIC_ACQ_REL) != 1)
        return;
    if (HEAD(b)->pool && pool_put(b))
        return;
    batch_free(b);
}

/* A private copy of column `col` (data and bitmap) for batch b, replacing
 * the reference it shares with the batch it was derived from. */
static int column_unshare(struct fl_batch *b, uint32_t col)
{
    struct fl_column *c = b->col_[col];
    struct fl_column *copy = column_new(b->schema->cols[col]->type, c->cap);
    if (!copy)
        return -FL_ENOMEM;
    memcpy(copy->data, c->data, (size_t)c->cap * c->cell);
    if (c->valid) {
        size_t bytes = (c->cap + 63) / 64 * sizeof(uint64_t);
        if (!(copy->valid = malloc(bytes))) {
            column_release(copy);
            return -FL_ENOMEM;
        }
        memcpy(copy->valid, c->valid, bytes);
    }
    column_release(c);
    b->col_[col] = copy;
    b->data[col] = copy->data;
    b->valid[col] = copy->valid;
    return 0;
}

int fl_batch_set_missing(struct fl_batch *b, uint32_t col, uint32_t row)
{
    int rc;
    if (row >= b->cap)
        return -FL_ERANGE;
    /* Shared with the batch this one derives from (or a batch derived from
     * it): the bitmap is the source's too, so copy before writing. */
    if (atomic_load(&b->col_[col]->refs) > 1 && (rc = column_unshare(b, col)) < 0)
        return rc;
    struct fl_column *c = b->col_[col];
    if (!c->valid) {
        size_t words = (b->cap + 63) / 64;
        c->valid = malloc(words * sizeof(uint64_t));
        if (!c->valid)
            return -FL_ENOMEM;
        memset(c->valid, 0xff, words * sizeof(uint64_t));
        b->valid[col] = c->valid;
    }
    c->valid[row >> 6] &= ~(1ull << (row & 63));
    return 0;
}

int fl_batch_put_bytes(struct fl_batch *b, const void *p, uint32_t len, struct fl_span *out)
{
    struct fl_arena *a = b->arena_;
    if (a && atomic_load(&a->refs) > 1) {
        /* Shared with the batch this one derives from: copy before writing. */
        struct fl_arena *copy = calloc(1, sizeof(*copy));
        if (!copy || !(copy->buf = malloc(a->cap))) {
            free(copy);
            return -FL_ENOMEM;
        }
        memcpy(copy->buf, a->buf, a->len);
        copy->len = a->len;
        copy->cap = a->cap;
        atomic_init(&copy->refs, 1);
        arena_release(a);
        b->arena_ = a = copy;
    }
    if (!a) {
        if (!(a = calloc(1, sizeof(*a))))
            return -FL_ENOMEM;
        atomic_init(&a->refs, 1);
        b->arena_ = a;
    }
    if ((uint64_t)a->len + len > UINT32_MAX)
        return -FL_ERANGE;
    if (a->len + len > a->cap) {
        uint64_t cap = a->cap ? a->cap : 4096;
        while (cap < (uint64_t)a->len + len)
            cap *= 2;
        if (cap > UINT32_MAX)
            cap = UINT32_MAX;
        char *buf = realloc(a->buf, cap);
        if (!buf)
            return -FL_ENOMEM;
        a->buf = buf;
        a->cap = (uint32_t)cap;
    }
    if (len)
        memcpy(a->buf + a->len, p, len);
    *out = (struct fl_span){ .off = a->len, .len = len };
    a->len += len;
    return 0;
}

bool fl_batch_span_holds(const struct fl_batch *b, struct fl_span s, const void *p,
                         uint32_t len)
{
    const struct fl_arena *a = b->arena_;
    return a && s.len == len && s.off <= a->len && len <= a->len - s.off &&
           memcmp(a->buf + s.off, p, len) == 0;
}

const char *fl_batch_bytes(const struct fl_batch *b, struct fl_span s)
{
    /* An arena that only ever got empty strings has no buffer. */
    return b->arena_ && b->arena_->buf ? b->arena_->buf + s.off : "";
}

int fl_batch_derive(struct fl_ctx *ctx, const struct fl_batch *src, const struct fl_schema *schema,
                    const int *map, struct fl_batch **out)
{
    (void)ctx;
    struct fl_batch *b = batch_alloc(schema, src->cap);
    if (!b)
        return -FL_ENOMEM;
    b->rows = src->rows;
    b->seq = src->seq;
    b->t_min = src->t_min;
    b->t_max = src->t_max;
    for (uint32_t i = 0; i < schema->ncols; i++) {
        if (map[i] >= 0) {
            if ((uint32_t)map[i] >= src->schema->ncols
                || src->schema->cols[map[i]]->type != schema->cols[i]->type)
                goto inval;
            b->col_[i] = src->col_[map[i]];
            atomic_fetch_add_explicit(&b->col_[i]->refs, 1, memory_order_relaxed);
        } else if (!(b->col_[i] = column_new(schema->cols[i]->type, src->cap))) {
            fl_batch_release(&b);
            return -FL_ENOMEM;
        }
        b->data[i] = b->col_[i]->data;
        b->valid[i] = b->col_[i]->valid;
    }
    if (src->arena_) {
        b->arena_ = src->arena_;
        atomic_fetch_add_explicit(&b->arena_->refs, 1, memory_order_relaxed);
    }
    *out = b;
    return 0;
inval:
    fl_batch_release(&b);
    return -FL_EINVAL;
}

int fl_batch_filter(struct fl_ctx *ctx, const struct fl_batch *src, const uint64_t *keep,
                    struct fl_batch **out)
{
    struct fl_batch *b;
    uint32_t kept = 0;
    int rc = fl_batch_new(ctx, src->schema, src->cap, &b);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < src->schema->ncols; i++) {
        size_t cell = b->col_[i]->cell;
        const uint8_t *from = src->data[i];
        uint8_t *to = b->data[i];
        kept = 0;
        /* Word by word over the set bits, one loop per cell size (the
         * copy is then a plain load and store): filters run on every batch
         * of a transform. Validity afterwards, only where there is some. */
#define FL_FILTER_COPY(SZ) do {                                                     \
            for (uint32_t w = 0; w < (src->rows + 63) / 64; w++) {                 \
                uint64_t bits = keep[w];                                            \
                if (w == src->rows / 64 && (src->rows & 63))                        \
                    bits &= (1ull << (src->rows & 63)) - 1;                         \
                for (; bits; bits &= bits - 1, kept++)                              \
                    memcpy(to + (size_t)kept * (SZ),                                \
                           from + (size_t)(w * 64 + (uint32_t)__builtin_ctzll(bits)) * (SZ), (SZ)); \
            }                                                                       \
        } while (0)
        switch (cell) {
        case 1: FL_FILTER_COPY(1); break;
        case 2: FL_FILTER_COPY(2); break;
        case 4: FL_FILTER_COPY(4); break;
        case 8: FL_FILTER_COPY(8); break;
        case 16: FL_FILTER_COPY(16); break;
        default: FL_FILTER_COPY(cell);
        }
#undef FL_FILTER_COPY
        if (src->valid[i]) {
            uint32_t k = 0;
            for (uint32_t r = 0; r < src->rows; r++) {
                if (!(keep[r >> 6] >> (r & 63) & 1))
                    continue;
                if (!fl_batch_is_valid(src, i, r) && (rc = fl_batch_set_missing(b, i, k)) < 0)
                    goto fail;
                k++;
            }
        }
    }
    if (src->schema->ncols == 0)
        for (uint32_t r = 0; r < src->rows; r++)
            kept += keep[r >> 6] >> (r & 63) & 1;
    b->rows = kept;
    b->seq = src->seq;
    b->t_min = src->t_min;
    b->t_max = src->t_max;
    if (src->arena_) {
        b->arena_ = src->arena_;
        atomic_fetch_add_explicit(&b->arena_->refs, 1, memory_order_relaxed);
    }
    *out = b;
    return 0;
fail:
    fl_batch_release(&b);
    return rc;
}
