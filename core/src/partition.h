/* partition.h: `workers: N` (DESIGN.md §4): how a stage's input is split
 * among its N instances (partition.c).
 *
 * `flowline check` decides a stage's partitioning once (fl_part_check); at
 * run time every producer instance holds one outlet per consumer stage, and
 * a consumer with N workers gets an outlet with N PUSH sockets: the producer
 * thread splits each batch by a hash of the key, so every row of one key
 * reaches the same worker, in the order the producer sent it. */
#ifndef FL_PARTITION_H
#define FL_PARTITION_H

#include "internal.h"

#define FL_PART_MAX_KEYS 16

enum fl_part_mode {
    FL_PART_ONE = 0,          /* workers: 1: nothing to split */
    FL_PART_HASH,             /* rows by a hash of the key fields */
    FL_PART_ROUND_ROBIN,      /* whole batches in turn (stateless transforms) */
    FL_PART_SOURCE,           /* an input of N instances, each its own share */
};

struct fl_part {
    enum fl_part_mode mode;
    size_t n_keys;
    const char *keys[FL_PART_MAX_KEYS];   /* the conf's names, or "flow_hash" */
};

/* One producer instance's link to one consumer stage. Only the producer's
 * thread touches it. */
struct fl_inst;

struct fl_outlet {
    uint32_t n;                           /* consumer instances: one PUSH each */
    void **push;
    struct fl_inst *to;                   /* those instances (queue depth) */
    const struct fl_part *part;
    uint64_t rr;                          /* round robin: batches sent */
    const struct fl_schema *schema;       /* cols[] resolved for this schema */
    int cols[FL_PART_MAX_KEYS];           /* -1: not in the schema (missing) */
    int pair[FL_PART_MAX_KEYS];           /* its src_x/dst_x partner in the key, else -1 */
    bool arena;                           /* the schema has str/bytes columns */
    uint32_t *dest, *idx, dest_cap;       /* scratch: worker per row; rows by worker */
    uint32_t *count, *off;                /* scratch: rows per worker, where in idx */
    int *map;                             /* scratch: all -1, for fl_batch_derive */
    uint32_t map_cap;
};

struct fl_pipeline;
struct fl_stage;

/* Decide st->part from its workers:, partition_by: and the input schemas
 * (when describe() declared them): refuse workers on inputs and outputs,
 * unknown key fields, and a stateful stage with no key. Errors go to d. */
void fl_part_check(struct fl_pipeline *p, struct fl_stage *st, struct fl_diags *d);

/* Split b for the outlet's workers: sub[w] is a new batch with the rows of
 * worker w (NULL when it has none). Round robin hands the whole batch (one
 * more reference) to the next worker. Returns 0 or a negative code (no
 * sub-batch is left then). */
int fl_outlet_split(struct fl_ctx *ctx, struct fl_outlet *o, struct fl_batch *b,
                    struct fl_batch **sub);
/* The scratch memory (not the sockets, which the runtime closes). */
void fl_outlet_fini(struct fl_outlet *o);

/* "hash of flow_hash" or "round robin", for graph and logs. */
void fl_part_describe(const struct fl_part *part, char *buf, size_t len);

#endif
