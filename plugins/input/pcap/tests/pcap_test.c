/* pcap_test.c: the helpers of pcap_test.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <flowline/decode.h>
#include "pcap_test.h"

int open_run(const char *path, const char *extra, struct fl_harness **h)
{
    char yaml[2048];
    int rc;
    snprintf(yaml, sizeof yaml, "{path: \"%s\"%s%s}", path, extra ? ", " : "", extra ? extra : "");
    rc = fl_harness_new("input.pcap", yaml, NULL, h);
    if (rc < 0)
        return rc;
    return fl_harness_run(*h);
}

void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

const struct fl_batch *cur_next(struct cur *c, uint32_t *row)
{
    while (c->batch < fl_harness_n_out(c->h)) {
        const struct fl_batch *b = fl_harness_out(c->h, c->batch);
        if (c->row < b->rows) {
            *row = c->row++;
            return b;
        }
        c->batch++;
        c->row = 0;
    }
    return NULL;
}

static const char *const counters[] = {   /* compared by same_output */
    "packets_read", "records_out", "drop_truncated", "drop_not_ip", "unsupported_linktype",
    "drop_bad_ip", "drop_bad_l4", "drop_bad_exthdr", "drop_encrypted", "drop_not_data",
    "drop_bad_link", "fragments", "frag_unjoined",
    "ip_truncated", "truncated_record", "bad_record", "bpf_rejected", "drop_bad_block", NULL};

const char *same_output(struct fl_harness *a, struct fl_harness *b)
{
    static char why[256];
    struct cur ca = {a, 0, 0}, cb = {b, 0, 0};
    uint64_t n = 0;

    for (int i = 0; counters[i]; i++)
        if (fl_harness_counter(a, counters[i]) != fl_harness_counter(b, counters[i])) {
            snprintf(why, sizeof why, "counter %s: %llu vs %llu", counters[i],
                     (unsigned long long)fl_harness_counter(a, counters[i]),
                     (unsigned long long)fl_harness_counter(b, counters[i]));
            return why;
        }
    for (;;) {
        uint32_t ra, rb;
        const struct fl_batch *ba = cur_next(&ca, &ra), *bb = cur_next(&cb, &rb);
        if (!ba || !bb)
            return ba || bb ? "different row counts" : NULL;
        for (unsigned col = 0; col < FL_PKT_NCOLS; col++) {
            size_t sz = fl_type_size(ba->schema->cols[col]->type);
            if (memcmp((const uint8_t *)ba->data[col] + ra * sz,
                       (const uint8_t *)bb->data[col] + rb * sz, sz) != 0) {
                snprintf(why, sizeof why, "row %llu column %s differs",
                         (unsigned long long)n, ba->schema->cols[col]->name);
                return why;
            }
        }
        n++;
    }
}
