/* partition.c: `workers: N`: which instance of a stage gets each row.
 *
 * Check time: a stage's partitioning (hash of partition_by:, hash of the
 * decoder's flow_hash by default, round robin for transforms without a key)
 * and its refusals. Run time: the producer thread splits a batch into one
 * dense sub-batch per worker: the row numbers are sorted by worker once,
 * then each column is gathered (a bitmap per worker and fl_batch_filter
 * would read the whole batch N times). Sub-batches
 * of a schema with str/bytes columns share the source's arena, so spans
 * stay valid without a copy.
 *
 * The worker of a row is a function of its key's values only, so a key's
 * rows all meet in one instance, in the order the producer sent them: what
 * that instance computes for the key is what one instance would. */
#include <stdlib.h>
#include <string.h>
#include "partition.h"
#include "pipeline.h"

/* ---- check -------------------------------------------------------------- */
static void part_key_missing(struct fl_diags *d, const struct fl_stage_conf *sc, size_t k,
                             const struct fl_schema *s, const char *src)
{
    const char *names[256];
    size_t n = s->ncols < 256 ? s->ncols : 256;
    for (size_t i = 0; i < n; i++)
        names[i] = s->cols[i]->name;
    const char *best = fl_suggest(sc->partition_by[k], names, n);
    fl_diags_add(d, sc->partition_by_pos[k], "stage \"%s\": partition_by: no field \"%s\" in the"
                 " records from \"%s\"%s%s%s", sc->id, sc->partition_by[k], src,
                 best ? "; did you mean \"" : "", best ? best : "", best ? "\"?" : "");
}

void fl_part_check(struct fl_pipeline *p, struct fl_stage *st, struct fl_diags *d)
{
    const struct fl_stage_conf *sc = st->conf;
    struct fl_part *part = &st->part;

    memset(part, 0, sizeof(*part));
    if (sc->workers <= 1 || !st->plugin)
        return;                        /* partition_by: with one worker: nothing to split */
    if (st->plugin->kind == FL_KIND_INPUT) {
        if (st->plugin->flags & FL_PLUGIN_INSTANCES) {
            part->mode = FL_PART_SOURCE;    /* the kernel or the broker splits */
            return;
        }
        fl_diags_add(d, sc->workers_pos, "stage \"%s\" (%s): an input runs as one instance;"
                     " workers: %u is for the stages it feeds", sc->id, sc->use, sc->workers);
        return;
    }
    if (st->plugin->kind == FL_KIND_OUTPUT && !(st->plugin->flags & FL_PLUGIN_INSTANCES)) {
        fl_diags_add(d, sc->workers_pos, "stage \"%s\" (%s): an output writes one destination and"
                     " runs as one instance; set workers: on the stage before it", sc->id, sc->use);
        return;
    }
    if (sc->n_partition_by > FL_PART_MAX_KEYS) {
        fl_diags_add(d, sc->partition_pos, "stage \"%s\": partition_by: at most %d fields",
                     sc->id, FL_PART_MAX_KEYS);
        return;
    }
    part->mode = FL_PART_HASH;
    part->n_keys = sc->n_partition_by;
    for (size_t k = 0; k < sc->n_partition_by; k++)
        part->keys[k] = sc->partition_by[k];
    if (!sc->n_partition_by) {
        /* A transform, or an output whose instances each keep their own
         * connection (FL_PLUGIN_INSTANCES): row by row, any will do. */
        if (st->plugin->kind == FL_KIND_TRANSFORM || st->plugin->kind == FL_KIND_OUTPUT) {
            part->mode = FL_PART_ROUND_ROBIN;   /* row by row: any worker will do */
            return;
        }
        part->n_keys = 1;
        part->keys[0] = "flow_hash";
    }
    /* Against every source whose schema is declared; an open schema is
     * only known at run time, where a missing key field hashes as missing. */
    for (size_t i = 0; i < st->n_up; i++) {
        const struct fl_stage *src = &p->stages[st->up[i].stage];
        const struct fl_schema *s = src->described ? src->out[st->up[i].port].schema : NULL;
        if (!s)
            continue;
        for (size_t k = 0; k < part->n_keys; k++) {
            if (fl_schema_find(s, part->keys[k]) >= 0)
                continue;
            if (sc->n_partition_by)
                part_key_missing(d, sc, k, s, src->conf->id);
            else
                fl_diags_add(d, sc->workers_pos, "stage \"%s\" (%s): workers: %u needs partition_by:"
                             " (the records from \"%s\" have no flow_hash to split them by)",
                             sc->id, sc->use, sc->workers, src->conf->id);
        }
    }
}

void fl_part_describe(const struct fl_part *part, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    if (part->mode == FL_PART_ROUND_ROBIN)
        snprintf(buf, len, "round robin");
    if (part->mode == FL_PART_SOURCE)
        snprintf(buf, len, "sharing the source");
    if (part->mode != FL_PART_HASH)
        return;
    at = (size_t)snprintf(buf, len, "by ");
    for (size_t k = 0; k < part->n_keys && at < len; k++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", k ? "," : "", part->keys[k]);
}

/* ---- run ---------------------------------------------------------------- */
static inline uint64_t part_mix(uint64_t h)   /* murmur3's finalizer */
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/* Worker of a hash: the high word of h * n (no division). The hash is
 * mixed first because flowmeter indexes its table by the high bits of the
 * same flow_hash: without it each worker's table would use half its buckets. */
static inline uint32_t part_pick(uint64_t h, uint32_t n)
{
    return (uint32_t)(((unsigned __int128)part_mix(h) * n) >> 64);
}

static uint64_t part_cell(const struct fl_batch *b, int col, uint32_t r)
{
    if (col < 0 || !fl_batch_is_valid(b, (uint32_t)col, r))
        return 0x6d697373696e67ull;            /* "missing": one worker for all */
    enum fl_type t = b->schema->cols[col]->type;
    const uint8_t *c = (const uint8_t *)b->data[col] + (size_t)r * fl_type_size(t);
    uint64_t h = 0, w;
    const uint8_t *bytes = c;
    size_t len = fl_type_size(t);
    if (t == FL_T_STR || t == FL_T_BYTES) {
        struct fl_span s;
        memcpy(&s, c, sizeof(s));
        bytes = (const uint8_t *)fl_batch_bytes(b, s);
        len = s.len;
    }
    for (size_t i = 0; i < len; i += 8) {
        w = 0;
        memcpy(&w, bytes + i, len - i < 8 ? len - i : 8);
        h = part_mix(h ^ w) + len;
    }
    return h;
}

static bool part_has_arena(const struct fl_schema *s)
{
    for (uint32_t i = 0; i < s->ncols; i++)
        if (s->cols[i]->type == FL_T_STR || s->cols[i]->type == FL_T_BYTES)
            return true;
    return false;
}

static int part_resolve(struct fl_outlet *o, const struct fl_batch *b)
{
    if (o->schema == b->schema)
        return 0;
    for (size_t k = 0; k < o->part->n_keys; k++) {
        o->cols[k] = fl_schema_find(b->schema, o->part->keys[k]);
        o->pair[k] = -1;
    }
    /* dst_x after src_x hashes with it in either order: the two directions
     * of a biflow meet in one worker (see part_assign). */
    for (size_t k = 0; k < o->part->n_keys; k++) {
        if (o->cols[k] < 0 || strncmp(b->schema->cols[o->cols[k]]->name, "dst_", 4))
            continue;
        const struct fl_col_def *d = b->schema->cols[o->cols[k]];
        for (size_t j = 0; j < o->part->n_keys; j++) {
            const struct fl_col_def *c = o->cols[j] >= 0 ? b->schema->cols[o->cols[j]] : NULL;
            if (c && !strncmp(c->name, "src_", 4) && !strcmp(c->name + 4, d->name + 4) && c->type == d->type)
                o->pair[k] = (int)j;
        }
    }
    for (size_t k = 0; k < o->part->n_keys; k++)
        if (o->pair[k] >= 0)
            o->pair[o->pair[k]] = (int)k;
    if (b->schema->ncols > o->map_cap) {
        int *m = realloc(o->map, b->schema->ncols * sizeof(*m));
        if (!m)
            return -FL_ENOMEM;
        o->map = m;
        o->map_cap = b->schema->ncols;
        for (uint32_t i = 0; i < o->map_cap; i++)
            o->map[i] = -1;
    }
    o->arena = part_has_arena(b->schema);
    o->schema = b->schema;
    return 0;
}

/* dest[r] for every row, count[w] per worker. */
static void part_assign(struct fl_outlet *o, const struct fl_batch *b)
{
    uint32_t n = o->n;
    memset(o->count, 0, n * sizeof(*o->count));
    int c0 = o->cols[0];
    if (o->part->n_keys == 1 && c0 >= 0 && b->schema->cols[c0]->type == FL_T_U64) {
        /* The common case, flow_hash: every batch of a u64 key takes this
         * path, with or without missing cells, so a key always meets the
         * same worker. */
        const uint64_t *h = b->data[c0];
        for (uint32_t r = 0; r < b->rows; r++)
            o->count[o->dest[r] = part_pick(fl_batch_is_valid(b, (uint32_t)c0, r) ? h[r]
                                            : 0x6d697373696e67ull, n)]++;
        return;
    }
    /* A src_x, dst_x pair adds its two cell hashes (same sum both ways):
     * partitioning only needs equal keys to meet, and a coarser split in
     * which a biflow's two directions meet too is still exact for a
     * one-way consumer. */
    for (uint32_t r = 0; r < b->rows; r++) {
        uint64_t h = 0;
        for (size_t k = 0; k < o->part->n_keys; k++) {
            int j = o->pair[k];
            if (j >= 0 && (size_t)j < k)
                continue;                  /* hashed with its partner */
            uint64_t c = part_cell(b, o->cols[k], r);
            if (j >= 0)
                c += part_cell(b, o->cols[j], r);
            h = part_mix(h ^ c) + k;
        }
        o->count[o->dest[r] = part_pick(h, n)]++;
    }
}

/* Copy column i of b into the sub-batches: worker w's rows are
 * idx[off[w] .. off[w] + count[w]), in order, gathered into sub[w]. */
#define PART_GATHER(T)                                                    \
    do {                                                                  \
        const T *from = b->data[i];                                       \
        T *to = sub[w]->data[i];                                          \
        for (uint32_t k = 0; k < o->count[w]; k++)                        \
            to[k] = from[idx[k]];                                         \
    } while (0)

struct part_b16 { uint8_t b[16]; };
struct part_b6 { uint8_t b[6]; };

static int part_gather(struct fl_outlet *o, const struct fl_batch *b, uint32_t i,
                       struct fl_batch **sub)
{
    size_t cell = fl_type_size(b->schema->cols[i]->type);
    int rc;
    for (uint32_t w = 0; w < o->n; w++) {
        const uint32_t *idx = o->idx + o->off[w];
        if (!sub[w])
            continue;
        switch (cell) {
        case 1: PART_GATHER(uint8_t); break;
        case 2: PART_GATHER(uint16_t); break;
        case 4: PART_GATHER(uint32_t); break;
        case 8: PART_GATHER(uint64_t); break;
        case 16: PART_GATHER(struct part_b16); break;
        case 6: PART_GATHER(struct part_b6); break;
        default: return -FL_EINVAL;
        }
        for (uint32_t k = 0; b->valid[i] && k < o->count[w]; k++)
            if (!fl_batch_is_valid(b, i, idx[k]) && (rc = fl_batch_set_missing(sub[w], i, k)) < 0)
                return rc;
    }
    return 0;
}

static int part_scratch(struct fl_outlet *o, uint32_t rows)
{
    if (!o->count && (!(o->count = calloc(o->n, sizeof(*o->count)))
                      || !(o->off = calloc(o->n + 1, sizeof(*o->off)))))
        return -FL_ENOMEM;
    if (rows > o->dest_cap) {
        uint32_t *d = realloc(o->dest, rows * sizeof(*d)), *x;
        if (!d)
            return -FL_ENOMEM;
        o->dest = d;
        if (!(x = realloc(o->idx, rows * sizeof(*x))))
            return -FL_ENOMEM;
        o->idx = x;
        o->dest_cap = rows;
    }
    return 0;
}

/* A counting sort of the row numbers by worker: idx holds worker 0's rows,
 * then worker 1's, each in the producer's order. */
static void part_index(struct fl_outlet *o, uint32_t rows)
{
    o->off[0] = 0;
    for (uint32_t w = 0; w < o->n; w++)
        o->off[w + 1] = o->off[w] + o->count[w];
    for (uint32_t r = 0; r < rows; r++)
        o->idx[o->off[o->dest[r]]++] = r;
    for (uint32_t w = o->n; w > 0; w--)       /* back to the starts */
        o->off[w] = o->off[w - 1];
    o->off[0] = 0;
}

int fl_outlet_split(struct fl_ctx *ctx, struct fl_outlet *o, struct fl_batch *b,
                    struct fl_batch **sub)
{
    int rc;
    memset(sub, 0, o->n * sizeof(*sub));
    if (o->part->mode == FL_PART_ROUND_ROBIN || o->n == 1) {
        sub[o->rr++ % o->n] = fl_batch_retain(b);
        return 0;
    }
    if ((rc = part_resolve(o, b)) < 0 || (rc = part_scratch(o, b->rows)) < 0)
        return rc;
    part_assign(o, b);
    for (uint32_t w = 0; w < o->n; w++) {
        if (o->count[w] == b->rows) {      /* all rows to one worker: no copy */
            sub[w] = fl_batch_retain(b);
            return 0;
        }
    }
    part_index(o, b->rows);
    for (uint32_t w = 0; w < o->n; w++) {
        if (!o->count[w])
            continue;
        /* With str/bytes columns, a derived batch (every column new) shares
         * b's arena, so the spans stay valid; else a batch just big enough. */
        if (o->arena)
            rc = fl_batch_derive(ctx, b, b->schema, o->map, &sub[w]);
        else
            rc = fl_batch_new(ctx, b->schema, o->count[w], &sub[w]);
        if (rc < 0)
            goto fail;
        sub[w]->seq = b->seq;
        sub[w]->t_min = b->t_min;
        sub[w]->t_max = b->t_max;
    }
    for (uint32_t i = 0; i < b->schema->ncols; i++)
        if ((rc = part_gather(o, b, i, sub)) < 0)
            goto fail;
    for (uint32_t w = 0; w < o->n; w++)
        if (sub[w])
            sub[w]->rows = o->count[w];
    return 0;
fail:
    for (uint32_t w = 0; w < o->n; w++)
        fl_batch_release(&sub[w]);
    return rc;
}

void fl_outlet_fini(struct fl_outlet *o)
{
    free(o->dest);
    free(o->count);
    free(o->off);
    free(o->idx);
    free(o->map);
    memset(o, 0, sizeof(*o));
}
