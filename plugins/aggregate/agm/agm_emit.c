/* agm_emit.c: what aggregate.agm writes. A source's value counters become
 * its features (distinct count, mode with ties to the smallest value,
 * packets at the mode); AGM rows go into batches of one fixed schema; NAGM
 * rows are written per closing window, with the one-hot columns of the K
 * most frequent modes of that window (README.md, NAGM). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agm.h"

static const char *const agm_names[AGM_NF] = {
    [AGM_DST] = "dst_addr", [AGM_SPORT] = "src_port", [AGM_DPORT] = "dst_port",
    [AGM_TTL] = "ttl", [AGM_PROTO] = "proto", [AGM_FLAGS] = "tcp_flags", [AGM_IPLEN] = "ip_len",
};
static const enum fl_type agm_types[AGM_NF] = {
    [AGM_DST] = FL_T_ADDR, [AGM_SPORT] = FL_T_U16, [AGM_DPORT] = FL_T_U16, [AGM_TTL] = FL_T_U8,
    [AGM_PROTO] = FL_T_U8, [AGM_FLAGS] = FL_T_U8, [AGM_IPLEN] = FL_T_U32,
};
/* The field each NAGM one-hot group encodes. */
static const enum agm_field agm_hot_field[AGM_NHOT] = { AGM_SPORT, AGM_DPORT, AGM_FLAGS };

#define AGM_KEYCOLS 4   /* window_start, window_end, window, src_addr */
#define AGM_NCOLS (AGM_KEYCOLS + 1 + 3 * AGM_NF)

int agm_schema(struct fl_ctx *ctx, const struct fl_schema **out)
{
    static const struct fl_col_def head[] = { FL_WINDOW_COLS, { "src_addr", FL_T_ADDR },
                                              { "packets", FL_T_U64 } };
    struct fl_col_def cols[AGM_NCOLS];
    char names[AGM_NF * 2][32];
    size_t n = 0;
    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
        cols[n++] = head[i];
    for (int f = 0; f < AGM_NF; f++) {
        snprintf(names[2 * f], sizeof(names[0]), "%s_distinct", agm_names[f]);
        snprintf(names[2 * f + 1], sizeof(names[0]), "%s_mode_packets", agm_names[f]);
        cols[n++] = (struct fl_col_def){ names[2 * f], FL_T_U64 };
        /* the mode keeps the field's own name and type family */
        cols[n++] = (struct fl_col_def){ NULL, agm_types[f] };
        cols[n++] = (struct fl_col_def){ names[2 * f + 1], FL_T_U64 };
    }
    char modes[AGM_NF][32];
    for (int f = 0; f < AGM_NF; f++) {
        snprintf(modes[f], sizeof(modes[0]), "%s_mode", agm_names[f]);
        cols[AGM_KEYCOLS + 1 + 3 * f + 1].name = modes[f];
    }
    return fl_schema_intern(ctx, cols, n, sizeof(cols[0]), out);
}

void agm_row_of(const struct agm_win *aw, const struct agm_src *s, struct agm_row *r)
{
    memset(r, 0, sizeof(*r));
    r->src = s->addr;
    r->packets = s->packets;
    const struct agm_map *m = &s->m[AGM_DST];
    const struct agm_aent *a =
        m->lg == AGM_LIN_LG ? s->ainl : (const struct agm_aent *)aw->sa.e + m->off;
    uint32_t best = 0;
    for (uint32_t i = 0; i < 1u << m->lg; i++)
        if (a[i].count > best ||
            (a[i].count && a[i].count == best && memcmp(&a[i].key, &r->dst_mode, 16) < 0)) {
            best = a[i].count;
            r->dst_mode = a[i].key;
        }
    r->distinct[AGM_DST] = m->n;
    r->mode_packets[AGM_DST] = best;
    for (int f = AGM_SPORT; f < AGM_NF; f++) {
        m = &s->m[f];
        const struct agm_ent *e =
            m->lg == AGM_LIN_LG ? s->inl[f - 1] : (const struct agm_ent *)aw->s32.e + m->off;
        uint32_t mode = 0;
        best = 0;
        for (uint32_t i = 0; i < 1u << m->lg; i++)
            if (e[i].count > best || (e[i].count && e[i].count == best && e[i].key < mode)) {
                best = e[i].count;
                mode = e[i].key;
            }
        r->distinct[f] = m->n;
        r->mode[f] = mode;
        r->mode_packets[f] = best;
    }
}

int agm_flush(struct agm *st)
{
    if (!st->out)
        return 0;
    if (!st->out->rows) {
        fl_batch_release(&st->out);
        return 0;
    }
    return fl_emit(st->ctx, &st->out);
}

static void agm_put_mode(struct fl_batch *b, uint32_t col, enum fl_type t, uint32_t row,
                         uint32_t v)
{
    switch (t) {
    case FL_T_U8: FL_COL(b, col, uint8_t)[row] = (uint8_t)v; break;
    case FL_T_U16: FL_COL(b, col, uint16_t)[row] = (uint16_t)v; break;
    default: FL_COL(b, col, uint32_t)[row] = v; break;
    }
}

int agm_put(struct agm *st, const struct fl_window *w, const struct agm_row *r)
{
    int rc;
    if (!st->out && (rc = fl_batch_new(st->ctx, st->agm_schema, (uint32_t)st->batch_size,
                                       &st->out)) < 0)
        return rc;
    struct fl_batch *b = st->out;
    uint32_t row = b->rows, c = 0;
    FL_COL(b, c++, uint64_t)[row] = w->start;
    FL_COL(b, c++, uint64_t)[row] = w->end;
    FL_COL(b, c++, int64_t)[row] = (int64_t)w->length;
    FL_COL(b, c++, struct fl_addr)[row] = r->src;
    FL_COL(b, c++, uint64_t)[row] = r->packets;
    for (int f = 0; f < AGM_NF; f++) {
        FL_COL(b, c++, uint64_t)[row] = r->distinct[f];
        if (f == AGM_DST)
            FL_COL(b, c, struct fl_addr)[row] = r->dst_mode;
        else
            agm_put_mode(b, c, agm_types[f], row, r->mode[f]);
        c++;
        FL_COL(b, c++, uint64_t)[row] = r->mode_packets[f];
    }
    if (!row || w->start < b->t_min)
        b->t_min = w->start;
    if (!row || w->end - 1 > b->t_max)
        b->t_max = w->end - 1;
    b->rows = row + 1;
    return b->rows == b->cap ? agm_flush(st) : 0;
}

/* ---- NAGM ------------------------------------------------------------ */
struct agm_vc { uint32_t v, n; };

static int agm_vc_rank(const void *a, const void *b)
{
    const struct agm_vc *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return (x->v > y->v) - (x->v < y->v);
}

static int agm_vc_value(const void *a, const void *b)
{
    const struct agm_vc *x = a, *y = b;
    return (x->v > y->v) - (x->v < y->v);
}

static int agm_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The top k modes of field f over rows (by how many sources have that
 * mode, ties to the smaller value), into top[] in ascending value order;
 * returns how many (fewer than k when the window has fewer). */
static uint32_t agm_top(const struct agm_row *rows, size_t n, enum agm_field f, uint32_t k,
                        uint32_t *top, uint32_t *scratch, struct agm_vc *vc)
{
    for (size_t i = 0; i < n; i++)
        scratch[i] = rows[i].mode[f];
    qsort(scratch, n, sizeof(*scratch), agm_u32_cmp);
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        if (nv && vc[nv - 1].v == scratch[i])
            vc[nv - 1].n++;
        else
            vc[nv++] = (struct agm_vc){ scratch[i], 1 };
    }
    qsort(vc, nv, sizeof(*vc), agm_vc_rank);
    if (nv > k)
        nv = k;
    qsort(vc, nv, sizeof(*vc), agm_vc_value);
    for (size_t i = 0; i < nv; i++)
        top[i] = vc[i].v;
    return (uint32_t)nv;
}

static int agm_row_cmp(const void *a, const void *b)
{
    return memcmp(&((const struct agm_row *)a)->src, &((const struct agm_row *)b)->src, 16);
}

/* Column layout of one NAGM window: the AGM order, without dst_addr_mode
 * and the proto features, each encoded mode replaced by its group. */
int agm_nagm_emit(struct agm *st, const struct fl_window *w, struct agm_row *rows, size_t n)
{
    uint32_t k[AGM_NHOT], nt[AGM_NHOT], *top[AGM_NHOT] = { 0 };
    uint32_t ktot = 0;
    for (int h = 0; h < AGM_NHOT; h++)
        ktot += k[h] = (uint32_t)st->top[h];
    size_t ncols = AGM_KEYCOLS + 15 + ktot + AGM_NHOT;
    struct fl_col_def *cols = calloc(ncols, sizeof(*cols));
    char (*names)[40] = calloc(ncols, sizeof(*names));
    uint32_t *scratch = malloc((n ? n : 1) * sizeof(*scratch));
    struct agm_vc *vc = malloc((n ? n : 1) * sizeof(*vc));
    uint32_t *all = malloc((ktot ? ktot : 1) * sizeof(*all));
    struct fl_batch *b = NULL;
    int rc = -FL_ENOMEM;
    if (!cols || !names || !scratch || !vc || !all)
        goto out;
    qsort(rows, n, sizeof(*rows), agm_row_cmp);
    uint32_t *p = all;
    for (int h = 0; h < AGM_NHOT; h++) {
        top[h] = p;
        nt[h] = agm_top(rows, n, agm_hot_field[h], k[h], top[h], scratch, vc);
        p += k[h];
    }
    /* the schema */
    size_t c = 0;
    static const struct fl_col_def head[] = { FL_WINDOW_COLS, { "src_addr", FL_T_ADDR },
                                              { "packets", FL_T_U64 } };
    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
        cols[c++] = head[i];
#define AGM_COL(type, ...)                                                  \
    do {                                                                    \
        snprintf(names[c], sizeof(names[0]), __VA_ARGS__);                  \
        cols[c] = (struct fl_col_def){ names[c], type };                    \
        c++;                                                                \
    } while (0)
    for (int f = 0; f < AGM_NF; f++) {
        if (f == AGM_PROTO)
            continue;
        int h = f == AGM_SPORT ? 0 : f == AGM_DPORT ? 1 : f == AGM_FLAGS ? 2 : -1;
        AGM_COL(FL_T_U64, "%s_distinct", agm_names[f]);
        if (h >= 0) {
            for (uint32_t i = 0; i < k[h]; i++) {
                if (i < nt[h])
                    AGM_COL(FL_T_U8, "%s_mode_%u", agm_names[f], top[h][i]);
                else
                    AGM_COL(FL_T_U8, "%s_mode_unused%u", agm_names[f], i - nt[h] + 1);
            }
            AGM_COL(FL_T_U8, "%s_mode_other", agm_names[f]);
        } else if (f != AGM_DST) {
            AGM_COL(agm_types[f], "%s_mode", agm_names[f]);
        }
        AGM_COL(FL_T_U64, "%s_mode_packets", agm_names[f]);
    }
#undef AGM_COL
    const struct fl_schema *s;
    if ((rc = fl_schema_intern(st->ctx, cols, c, sizeof(cols[0]), &s)) < 0)
        goto out;
    /* the rows */
    for (size_t r0 = 0; r0 < n; r0 += st->batch_size) {
        uint32_t nr = (uint32_t)(n - r0 < st->batch_size ? n - r0 : st->batch_size);
        if ((rc = fl_batch_new(st->ctx, s, nr, &b)) < 0)
            goto out;
        for (uint32_t row = 0; row < nr; row++) {
            const struct agm_row *r = &rows[r0 + row];
            uint32_t x = 0;
            FL_COL(b, x++, uint64_t)[row] = w->start;
            FL_COL(b, x++, uint64_t)[row] = w->end;
            FL_COL(b, x++, int64_t)[row] = (int64_t)w->length;
            FL_COL(b, x++, struct fl_addr)[row] = r->src;
            FL_COL(b, x++, uint64_t)[row] = r->packets;
            for (int f = 0; f < AGM_NF; f++) {
                if (f == AGM_PROTO)
                    continue;
                int h = f == AGM_SPORT ? 0 : f == AGM_DPORT ? 1 : f == AGM_FLAGS ? 2 : -1;
                FL_COL(b, x++, uint64_t)[row] = r->distinct[f];
                if (h >= 0) {
                    bool hit = false;
                    for (uint32_t i = 0; i < k[h]; i++) {
                        bool is = i < nt[h] && top[h][i] == r->mode[f];
                        FL_COL(b, x++, uint8_t)[row] = is;
                        hit |= is;
                    }
                    FL_COL(b, x++, uint8_t)[row] = !hit;
                } else if (f != AGM_DST) {
                    agm_put_mode(b, x++, agm_types[f], row, r->mode[f]);
                }
                FL_COL(b, x++, uint64_t)[row] = r->mode_packets[f];
            }
        }
        b->rows = nr;
        b->t_min = w->start;
        b->t_max = w->end - 1;
        if ((rc = fl_emit(st->ctx, &b)) < 0)
            goto out;
    }
    rc = 0;
out:
    fl_batch_release(&b);
    free(cols);
    free(names);
    free(scratch);
    free(vc);
    free(all);
    return rc;
}
