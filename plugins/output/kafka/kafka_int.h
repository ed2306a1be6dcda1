/* kafka_int.h: output.kafka's parts: the producer stage (kafka.c) and the
 * grouping of a batch's rows by key for the batch format (kafka_group.c). */
#ifndef KAFKA_OUT_INT_H
#define KAFKA_OUT_INT_H

#include <stdint.h>
#include <flowline/plugin.h>
#include "fl_text.h"

/* Rows of one batch ordered by key: rows[first[g] .. first[g + 1]) are the
 * rows of group g (in their batch order), whose key text is
 * keys.p[koff[g] .. koff[g] + klen[g]) (klen 0: no key). Reused across
 * batches; kafka_groups_free() releases. */
struct kafka_groups {
    uint32_t n;                  /* groups */
    uint32_t *rows;              /* batch rows, grouped */
    uint32_t *first;             /* n + 1 entries */
    uint32_t *koff, *klen;       /* per group */
    struct fl_text_buf keys;     /* every row's key text */
    struct kafka_keyrow *tmp;    /* per row: for sorting */
    uint32_t cap;
};

/* The key text of row r of b (kafka.c): appended to kb. */
typedef int (*kafka_key_fn)(void *arg, const struct fl_batch *b, uint32_t r,
                            struct fl_text_buf *kb);

/* Group the rows of b by their key text (key_fn per row; NULL: one
 * group without a key). */
int kafka_groups_build(struct kafka_groups *g, const struct fl_batch *b, kafka_key_fn key_fn,
                       void *arg);
void kafka_groups_free(struct kafka_groups *g);

/* A new batch of b's schema holding rows[0..n) of b, in that order
 * (cells, validity, strings and bytes copied). */
int kafka_gather(struct fl_ctx *ctx, const struct fl_batch *b, const uint32_t *rows, uint32_t n,
                 struct fl_batch **out);

#endif
