/* kafka_group.c: for output.kafka's batch format with a key, the rows of a
 * batch grouped by key text (one message per key, so a host's records stay
 * in one partition), and the copy of a group's rows into a batch of their
 * own. Encoding and producing are kafka.c's. */
#include <stdlib.h>
#include <string.h>
#include "kafka_int.h"

struct kafka_keyrow {
    uint64_t hash;
    uint32_t off, len, row;
    const char *base;            /* the key arena while sorting */
};

static int keyrow_cmp(const void *a, const void *b)
{
    const struct kafka_keyrow *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = memcmp(x->base + x->off, y->base + y->off, x->len);
    if (c)
        return c;
    return x->row < y->row ? -1 : x->row > y->row;   /* keeps batch order in a group */
}

static bool keyrow_same(const struct kafka_keyrow *x, const struct kafka_keyrow *y)
{
    return x->hash == y->hash && x->len == y->len
           && memcmp(x->base + x->off, y->base + y->off, x->len) == 0;
}

/* FNV-1a: only to bring equal keys together, not for partitioning. */
static uint64_t key_hash(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 0x100000001b3u;
    return h;
}

static int groups_reserve(struct kafka_groups *g, uint32_t rows)
{
    if (rows <= g->cap)
        return 0;
    uint32_t *r = realloc(g->rows, rows * sizeof(*r));
    if (r)
        g->rows = r;
    uint32_t *f = realloc(g->first, (rows + 1) * sizeof(*f));
    if (f)
        g->first = f;
    uint32_t *ko = realloc(g->koff, rows * sizeof(*ko));
    if (ko)
        g->koff = ko;
    uint32_t *kl = realloc(g->klen, rows * sizeof(*kl));
    if (kl)
        g->klen = kl;
    struct kafka_keyrow *t = realloc(g->tmp, rows * sizeof(*t));
    if (t)
        g->tmp = t;
    if (!r || !f || !ko || !kl || !t)
        return -FL_ENOMEM;
    g->cap = rows;
    return 0;
}

int kafka_groups_build(struct kafka_groups *g, const struct fl_batch *b, kafka_key_fn key_fn,
                       void *arg)
{
    int rc = groups_reserve(g, b->rows);
    if (rc < 0)
        return rc;
    g->keys.len = 0;
    g->n = 0;
    if (!key_fn) {               /* no key: one group, the batch as it is */
        for (uint32_t r = 0; r < b->rows; r++)
            g->rows[r] = r;
        g->first[0] = 0;
        g->first[1] = b->rows;
        g->koff[0] = g->klen[0] = 0;
        g->n = 1;
        return 0;
    }
    for (uint32_t r = 0; r < b->rows; r++) {
        size_t off = g->keys.len;
        if ((rc = key_fn(arg, b, r, &g->keys)) < 0)
            return rc;
        if (g->keys.len > UINT32_MAX)
            return -FL_ERANGE;
        g->tmp[r] = (struct kafka_keyrow){ .off = (uint32_t)off,
                                           .len = (uint32_t)(g->keys.len - off), .row = r };
    }
    for (uint32_t r = 0; r < b->rows; r++) {
        g->tmp[r].base = g->keys.p;
        g->tmp[r].hash = key_hash(g->keys.p + g->tmp[r].off, g->tmp[r].len);
    }
    qsort(g->tmp, b->rows, sizeof(g->tmp[0]), keyrow_cmp);
    for (uint32_t i = 0; i < b->rows; i++) {
        const struct kafka_keyrow *k = &g->tmp[i];
        if (i == 0 || !keyrow_same(k, &g->tmp[i - 1])) {
            g->first[g->n] = i;
            g->koff[g->n] = k->off;
            g->klen[g->n] = k->len;
            g->n++;
        }
        g->rows[i] = k->row;
    }
    g->first[g->n] = b->rows;
    return 0;
}

void kafka_groups_free(struct kafka_groups *g)
{
    free(g->rows);
    free(g->first);
    free(g->koff);
    free(g->klen);
    free(g->tmp);
    fl_text_buf_free(&g->keys);
    memset(g, 0, sizeof(*g));
}

int kafka_gather(struct fl_ctx *ctx, const struct fl_batch *b, const uint32_t *rows, uint32_t n,
                 struct fl_batch **out)
{
    const struct fl_schema *s = b->schema;
    struct fl_batch *o;
    int rc = fl_batch_new(ctx, s, n, &o);
    if (rc < 0)
        return rc;
    for (uint32_t c = 0; c < s->ncols; c++) {
        enum fl_type t = s->cols[c]->type;
        size_t sz = fl_type_size(t);
        const char *src = b->data[c];
        char *dst = o->data[c];
        for (uint32_t j = 0; j < n; j++) {
            uint32_t r = rows[j];
            if (!fl_batch_is_valid(b, c, r)) {
                memset(dst + j * sz, 0, sz);
                if ((rc = fl_batch_set_missing(o, c, j)) < 0)
                    goto fail;
            } else if (t == FL_T_STR || t == FL_T_BYTES) {
                struct fl_span sp = ((const struct fl_span *)(const void *)src)[r];
                if ((rc = fl_batch_put_bytes(o, fl_batch_bytes(b, sp), sp.len,
                                             (struct fl_span *)(void *)(dst + j * sz))) < 0)
                    goto fail;
            } else {
                memcpy(dst + j * sz, src + (size_t)r * sz, sz);
            }
        }
    }
    o->rows = n;
    o->t_min = b->t_min;
    o->t_max = b->t_max;
    *out = o;
    return 0;
fail:
    fl_batch_release(&o);
    return rc;
}
