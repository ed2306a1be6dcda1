/* kafka_int.h: input.kafka's parts: the message parsers (kafka_parse.c)
 * and the consumer (kafka.c). */
#ifndef KAFKA_INT_H
#define KAFKA_INT_H

#include <stdbool.h>
#include <flowline/plugin.h>
#include "fl_text.h"

/* Per-instance scratch of the parsers. */
struct kafka_parser {
    const char *const *names;   /* column names as the messages write them */
    bool *seen;                 /* per column: a value arrived (json) */
    struct fl_text_buf buf, key;
    char sep;                   /* csv */
};

/* Message p[0..n) into row r of b (b->rows is not touched). 0, or
 * -FL_EINVAL for a message that is not a record of the schema (the row is
 * left half-filled: the caller reuses it), or -FL_ENOMEM. */
int kafka_parse_json(struct kafka_parser *ps, const char *p, size_t n, struct fl_batch *b,
                     uint32_t r);
int kafka_parse_csv(struct kafka_parser *ps, const char *p, size_t n, struct fl_batch *b,
                    uint32_t r);

#endif
