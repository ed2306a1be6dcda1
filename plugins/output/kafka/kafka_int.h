/* kafka_int.h: output.kafka's parts: the producer stage (kafka.c) and, for
 * the batch format, the rows of a batch grouped by the partition their key
 * goes to (kafka_group.c). */
#ifndef KAFKA_OUT_INT_H
#define KAFKA_OUT_INT_H

#include <stdint.h>
#include <flowline/plugin.h>

/* Rows of one batch by partition: rows[first[g] .. first[g + 1]) are the
 * rows (in batch order) of group g, which goes to partition part[g] (-1:
 * any, librdkafka chooses). Reused across batches; kafka_groups_free()
 * releases. */
struct kafka_groups {
    uint32_t n;                  /* groups */
    uint32_t *rows;              /* batch rows, grouped */
    uint32_t *first;             /* n + 1 entries */
    int32_t *part;               /* per group */
    int32_t *row_part;           /* per row, while grouping */
    uint32_t cap, pcap;
};

/* The partition (0 .. nparts - 1) of row r of b. */
typedef int32_t (*kafka_part_fn)(void *arg, const struct fl_batch *b, uint32_t r,
                                 int32_t nparts);

/* Group b's rows by partition (part_fn per row); part_fn NULL: one group
 * of every row for partition -1. */
int kafka_groups_build(struct kafka_groups *g, const struct fl_batch *b, int32_t nparts,
                       kafka_part_fn part_fn, void *arg);
void kafka_groups_free(struct kafka_groups *g);

/* A new batch of b's schema holding rows[0..n) of b, in that order
 * (cells, validity, strings and bytes copied). */
int kafka_gather(struct fl_ctx *ctx, const struct fl_batch *b, const uint32_t *rows, uint32_t n,
                 struct fl_batch **out);

#endif
