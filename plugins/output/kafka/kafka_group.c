/* kafka_group.c: for output.kafka's batch format, the rows of a batch
 * grouped by the partition their key goes to (one message per partition
 * per batch, so a host's records stay in one partition, as its json
 * messages would), and the copy of a group's rows into a batch of their
 * own. Choosing partitions, encoding and producing are kafka.c's. */
#include <stdlib.h>
#include <string.h>
#include "kafka_int.h"

static int groups_reserve(struct kafka_groups *g, uint32_t rows, uint32_t nparts)
{
    if (rows > g->cap) {
        uint32_t *r = realloc(g->rows, rows * sizeof(*r));
        if (r)
            g->rows = r;
        int32_t *rp = realloc(g->row_part, rows * sizeof(*rp));
        if (rp)
            g->row_part = rp;
        if (!r || !rp)
            return -FL_ENOMEM;
        g->cap = rows;
    }
    if (nparts + 1 > g->pcap) {
        uint32_t *f = realloc(g->first, (nparts + 2) * sizeof(*f));
        if (f)
            g->first = f;
        int32_t *p = realloc(g->part, (nparts + 1) * sizeof(*p));
        if (p)
            g->part = p;
        if (!f || !p)
            return -FL_ENOMEM;
        g->pcap = nparts + 1;
    }
    return 0;
}

/* A stable counting sort by partition: O(rows + partitions). */
int kafka_groups_build(struct kafka_groups *g, const struct fl_batch *b, int32_t nparts,
                       kafka_part_fn part_fn, void *arg)
{
    uint32_t np = part_fn && nparts > 0 ? (uint32_t)nparts : 1;
    int rc = groups_reserve(g, b->rows ? b->rows : 1, np);
    if (rc < 0)
        return rc;
    if (!part_fn || nparts <= 0) {
        for (uint32_t r = 0; r < b->rows; r++)
            g->rows[r] = r;
        g->first[0] = 0;
        g->first[1] = b->rows;
        g->part[0] = -1;
        g->n = 1;
        return 0;
    }
    uint32_t *count = g->first;              /* count[p + 1], then starts */
    memset(count, 0, (np + 1) * sizeof(*count));
    for (uint32_t r = 0; r < b->rows; r++) {
        int32_t p = part_fn(arg, b, r, nparts);
        if (p < 0 || p >= nparts)
            p = 0;
        g->row_part[r] = p;
        count[p + 1]++;
    }
    for (uint32_t p = 0; p < np; p++)
        count[p + 1] += count[p];
    /* count[p] is now group p's start; place rows, then shift back */
    for (uint32_t r = 0; r < b->rows; r++)
        g->rows[count[g->row_part[r]]++] = r;
    for (uint32_t p = np; p > 0; p--)
        count[p] = count[p - 1];
    count[0] = 0;
    /* drop empty partitions */
    g->n = 0;
    for (uint32_t p = 0; p < np; p++)
        if (count[p + 1] > count[p]) {
            g->part[g->n] = (int32_t)p;
            g->first[g->n] = count[p];
            g->n++;
        }
    g->first[g->n] = b->rows;
    return 0;
}

void kafka_groups_free(struct kafka_groups *g)
{
    free(g->rows);
    free(g->first);
    free(g->part);
    free(g->row_part);
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
