/* bind.c: typed field binding (flowline/bind.h): resolving a stage's wanted
 * fields against input schemas, caching that per schema, and handing out
 * per-batch column pointers of the wanted types (widening where needed).
 * It does not decide what a stage does with a batch it cannot bind; it
 * counts and logs it, and the stage skips it. */
#include <stdlib.h>
#include <string.h>
#include "rt.h"

#define BIND_CACHE 16   /* schemas resolved at once (an IPFIX input has a few) */

enum conv { CONV_NONE, CONV_COPY, CONV_MISSING };

struct bind_res {               /* one field in one schema */
    int col;                    /* -1: absent */
    enum fl_type from;          /* the column's type */
    enum conv conv;
};

struct bind_entry {
    const struct fl_schema *schema;
    bool usable;                /* every required field resolved */
    struct bind_res *res;       /* n */
};

struct fl_bind {
    struct fl_bind *next;       /* the ctx's list */
    size_t n;
    struct fl_want *wants;      /* n, names owned */
    struct bind_entry cache[BIND_CACHE];
    unsigned cache_next;
    const struct bind_entry *cur;
    /* per batch */
    const void **data;
    const uint64_t **valid;
    void **buf;                 /* conversion buffers, n */
    uint32_t *buf_cap;          /* rows each holds */
    void *zeros;                /* missing fields: zero cells, zero bitmap */
    size_t zeros_size;
};

/* Can a column of type `from` be read as `to`? */
static bool bind_widens(enum fl_type from, enum fl_type to)
{
    if (from == to || to == FL_T_NONE)
        return true;
    switch (to) {
    case FL_T_U16: return from == FL_T_U8;
    case FL_T_U32: return from == FL_T_U8 || from == FL_T_U16;
    case FL_T_U64:
    case FL_T_I64: return from == FL_T_U8 || from == FL_T_U16 || from == FL_T_U32;
    case FL_T_F64:
        return from == FL_T_U8 || from == FL_T_U16 || from == FL_T_U32 || from == FL_T_U64
               || from == FL_T_I64;
    case FL_T_ADDR: return from == FL_T_U32;
    default: return false;
    }
}

static uint64_t bind_uint(const void *col, enum fl_type t, uint32_t r)
{
    switch (t) {
    case FL_T_U8: return ((const uint8_t *)col)[r];
    case FL_T_U16: return ((const uint16_t *)col)[r];
    case FL_T_U32: return ((const uint32_t *)col)[r];
    default: return ((const uint64_t *)col)[r];
    }
}

/* rows cells of column src (type from) into dst as type to. */
static void bind_convert(void *dst, enum fl_type to, const void *src, enum fl_type from,
                         uint32_t rows)
{
    for (uint32_t r = 0; r < rows; r++) {
        switch (to) {
        case FL_T_U16: ((uint16_t *)dst)[r] = (uint16_t)bind_uint(src, from, r); break;
        case FL_T_U32: ((uint32_t *)dst)[r] = (uint32_t)bind_uint(src, from, r); break;
        case FL_T_U64: ((uint64_t *)dst)[r] = bind_uint(src, from, r); break;
        case FL_T_I64: ((int64_t *)dst)[r] = (int64_t)bind_uint(src, from, r); break;
        case FL_T_F64:
            ((double *)dst)[r] = from == FL_T_I64 ? (double)((const int64_t *)src)[r]
                                                  : (double)bind_uint(src, from, r);
            break;
        case FL_T_ADDR: {
            uint32_t v = ((const uint32_t *)src)[r];
            struct fl_addr *a = &((struct fl_addr *)dst)[r];
            memset(a->b, 0, 10);
            a->b[10] = a->b[11] = 0xff;
            a->b[12] = (uint8_t)(v >> 24);
            a->b[13] = (uint8_t)(v >> 16);
            a->b[14] = (uint8_t)(v >> 8);
            a->b[15] = (uint8_t)v;
            break;
        }
        default: break;   /* bind_widens() allows nothing else */
        }
    }
}

int fl_bind_new(struct fl_ctx *ctx, const struct fl_want *wants, size_t n, size_t want_size,
                struct fl_bind **out)
{
    struct fl_bind *bd = calloc(1, sizeof(*bd));
    size_t size = want_size < sizeof(struct fl_want) ? want_size : sizeof(struct fl_want);

    *out = NULL;
    if (n && want_size < offsetof(struct fl_want, flags) + sizeof(uint32_t)) {
        free(bd);
        return -FL_EINVAL;
    }
    if (!bd || !(bd->wants = calloc(n ? n : 1, sizeof(*bd->wants)))
        || !(bd->data = calloc(n ? n : 1, sizeof(*bd->data)))
        || !(bd->valid = calloc(n ? n : 1, sizeof(*bd->valid)))
        || !(bd->buf = calloc(n ? n : 1, sizeof(*bd->buf)))
        || !(bd->buf_cap = calloc(n ? n : 1, sizeof(*bd->buf_cap))))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        memcpy(&bd->wants[i], (const char *)wants + i * want_size, size);
        bd->n = i + 1;
        if (!bd->wants[i].name || !(bd->wants[i].name = strdup(bd->wants[i].name)))
            goto fail;
    }
    bd->n = n;
    bd->next = ctx->binds;
    ctx->binds = bd;
    *out = bd;
    return 0;
fail:
    fl_bind_free(bd);
    return -FL_ENOMEM;
}

struct fl_bind *fl_bind_free(struct fl_bind *bd)
{
    if (!bd)
        return NULL;
    struct fl_bind *next = bd->next;
    for (size_t i = 0; bd->wants && i < bd->n; i++) {
        free((char *)bd->wants[i].name);
        free(bd->buf[i]);
    }
    for (unsigned i = 0; i < BIND_CACHE; i++)
        free(bd->cache[i].res);
    free(bd->wants);
    free(bd->data);
    free(bd->valid);
    free(bd->buf);
    free(bd->buf_cap);
    free(bd->zeros);
    free(bd);
    return next;
}

void fl_bind_destroy(struct fl_ctx *ctx, struct fl_bind **bdp)
{
    struct fl_bind *bd = *bdp;
    *bdp = NULL;
    for (struct fl_bind **p = &ctx->binds; bd && *p; p = &(*p)->next)
        if (*p == bd) {
            *p = bd->next;
            break;
        }
    fl_bind_free(bd);
}

/* ---- checking (describe) ---------------------------------------------- */
/* "did you mean" among s's columns, or the list of what s has. */
static int bind_diag_missing(struct fl_ctx *ctx, const char *opt, const char *name,
                             const char *from, const struct fl_schema *s)
{
    const char **cands = calloc(s->ncols ? s->ncols : 1, sizeof(*cands));
    if (!cands)
        return -FL_ENOMEM;
    for (uint32_t i = 0; i < s->ncols; i++)
        cands[i] = s->cols[i]->name;
    const char *near = fl_suggest(name, cands, s->ncols);
    if (near) {
        fl_diag(ctx, opt, "field \"%s\" is not in %s; did you mean \"%s\"?", name, from, near);
    } else {
        char list[256] = "(no fields)";
        size_t len = 0;
        for (uint32_t j = 0; j < s->ncols; j++) {
            if (len + strlen(cands[j]) + 8 > sizeof(list)) {
                memcpy(list + len, ", ...", 6);
                break;
            }
            len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", j ? ", " : "",
                                    cands[j]);
        }
        fl_diag(ctx, opt, "field \"%s\" is not in %s, which has: %s", name, from, list);
    }
    free(cands);
    return -FL_EINVAL;
}

int fl_bind_check(struct fl_ctx *ctx, const struct fl_bind *bd, const char *opt,
                  const struct fl_schema *const *in, size_t n_in)
{
    int rc = 0;
    for (size_t k = 0; k < n_in; k++) {
        const struct fl_schema *s = in[k];
        char from[160] = "the input";
        if (!s)
            continue;
        if (ctx->conf && k < ctx->conf->n_from)
            snprintf(from, sizeof(from), "the output of stage \"%s\"", ctx->conf->from[k]);
        for (size_t i = 0; i < bd->n; i++) {
            const struct fl_want *w = &bd->wants[i];
            if (!(w->flags & (FL_WANT_REQUIRED | FL_WANT_NAMED)))
                continue;
            int c = fl_schema_find(s, w->name);
            if (c < 0) {
                int r = bind_diag_missing(ctx, opt, w->name, from, s);
                if (r == -FL_ENOMEM)
                    return r;
                rc = r;
            } else if (!bind_widens(s->cols[c]->type, w->type)) {
                rc = fl_diag(ctx, opt, "field \"%s\" in %s is %s; this stage reads it as %s",
                             w->name, from, fl_type_name(s->cols[c]->type),
                             fl_type_name(w->type));
            }
        }
    }
    return rc;
}

/* ---- binding batches -------------------------------------------------- */
static const struct bind_entry *bind_resolve(struct fl_ctx *ctx, struct fl_bind *bd,
                                             const struct fl_schema *s)
{
    for (unsigned i = 0; i < BIND_CACHE; i++)
        if (bd->cache[i].schema == s)
            return &bd->cache[i];
    struct bind_entry *e = &bd->cache[bd->cache_next++ % BIND_CACHE];
    if (!e->res && !(e->res = calloc(bd->n ? bd->n : 1, sizeof(*e->res))))
        return NULL;
    e->schema = s;
    e->usable = true;
    for (size_t i = 0; i < bd->n; i++) {
        const struct fl_want *w = &bd->wants[i];
        struct bind_res *r = &e->res[i];
        r->col = fl_schema_find(s, w->name);
        r->from = r->col >= 0 ? s->cols[r->col]->type : FL_T_NONE;
        if (r->col >= 0 && !bind_widens(r->from, w->type)) {
            FL_LOG_ERROR(ctx, "input field \"%s\" is %s, this stage reads it as %s%s", w->name,
                         fl_type_name(r->from), fl_type_name(w->type),
                         w->flags & FL_WANT_REQUIRED ? "; batches of this schema are dropped"
                                                     : "; read as missing");
            r->col = -1;
        } else if (r->col < 0 && (w->flags & FL_WANT_REQUIRED)) {
            FL_LOG_ERROR(ctx, "input has no field \"%s\"; batches of this schema are dropped",
                         w->name);
        } else if (r->col < 0 && (w->flags & FL_WANT_NAMED)) {
            FL_LOG_WARN(ctx, "input has no field \"%s\" (schema %llu); read as missing",
                        w->name, (unsigned long long)s->id);
        }
        if (r->col < 0) {
            r->conv = CONV_MISSING;
            e->usable &= !(w->flags & FL_WANT_REQUIRED);
        } else {
            r->conv = r->from == w->type || w->type == FL_T_NONE ? CONV_NONE : CONV_COPY;
        }
    }
    return e;
}

/* A zeroed area that reads as `rows` cells of any type (16 bytes at most)
 * and, from its start, as a validity bitmap of rows bits, all missing. */
static int bind_zeros(struct fl_bind *bd, uint32_t rows)
{
    size_t need = ((size_t)rows + 64) * sizeof(struct fl_addr);
    if (need <= bd->zeros_size)
        return 0;
    free(bd->zeros);
    if (!(bd->zeros = calloc(1, need))) {
        bd->zeros_size = 0;
        return -FL_ENOMEM;
    }
    bd->zeros_size = need;
    return 0;
}

int fl_bind_batch(struct fl_ctx *ctx, struct fl_bind *bd, const struct fl_batch *b)
{
    const struct bind_entry *e = bd->cur;
    if (!e || e->schema != b->schema) {
        if (!(e = bind_resolve(ctx, bd, b->schema)))
            return -FL_ENOMEM;
        bd->cur = e;
    }
    if (!e->usable) {
        fl_counter_add(ctx, "records_missing_field", b->rows);
        return -FL_ENOENT;
    }
    for (size_t i = 0; i < bd->n; i++) {
        const struct bind_res *r = &e->res[i];
        enum fl_type to = bd->wants[i].type;
        switch (r->conv) {
        case CONV_NONE:
            bd->data[i] = b->data[r->col];
            bd->valid[i] = b->valid[r->col];
            break;
        case CONV_MISSING:
            if (bind_zeros(bd, b->rows) < 0)
                return -FL_ENOMEM;
            bd->data[i] = bd->zeros;
            bd->valid[i] = (const uint64_t *)bd->zeros;
            break;
        case CONV_COPY:
            if (bd->buf_cap[i] < b->rows) {
                void *p = realloc(bd->buf[i], (size_t)b->cap * fl_type_size(to));
                if (!p)
                    return -FL_ENOMEM;
                bd->buf[i] = p;
                bd->buf_cap[i] = b->cap;
            }
            bind_convert(bd->buf[i], to, b->data[r->col], r->from, b->rows);
            bd->data[i] = bd->buf[i];
            bd->valid[i] = b->valid[r->col];
            break;
        }
    }
    return 0;
}

const void *fl_bind_data(const struct fl_bind *bd, size_t i) { return bd->data[i]; }
const uint64_t *fl_bind_valid(const struct fl_bind *bd, size_t i) { return bd->valid[i]; }
const char *fl_bind_name(const struct fl_bind *bd, size_t i) { return bd->wants[i].name; }
int fl_bind_col(const struct fl_bind *bd, size_t i) { return bd->cur ? bd->cur->res[i].col : -1; }

enum fl_type fl_bind_type(const struct fl_bind *bd, size_t i)
{
    if (bd->wants[i].type != FL_T_NONE)
        return bd->wants[i].type;
    return bd->cur ? bd->cur->res[i].from : FL_T_NONE;
}
