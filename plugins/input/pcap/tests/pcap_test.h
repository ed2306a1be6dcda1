/* pcap_test.h: what the input.pcap tests share: running the plugin on a
 * file through the harness, a cursor over every row it emitted, and
 * comparing two runs row by row and counter by counter. */
#ifndef PCAP_TEST_H
#define PCAP_TEST_H

#include <stddef.h>
#include <stdint.h>
#include "fl_harness.h"

/* input.pcap on `path`, with more options in `extra` ("reader: own"), run
 * to its end; *h is set (fl_harness_destroy) unless creating it failed. */
int open_run(const char *path, const char *extra, struct fl_harness **h);
/* Write n bytes to path (asserts on failure). */
void write_file(const char *path, const void *p, size_t n);

/* A cursor over every row a harness emitted. */
struct cur {
    struct fl_harness *h;
    size_t batch;
    uint32_t row;
};
/* The batch holding the next row (*row: its index), or NULL at the end. */
const struct fl_batch *cur_next(struct cur *c, uint32_t *row);

#define CELL(b, col, T, r) (FL_COL((b), (col), T)[(r)])

/* NULL when both runs have the same counters and the same rows, else why. */
const char *same_output(struct fl_harness *a, struct fl_harness *b);

#endif
