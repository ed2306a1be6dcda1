/* fm_test.h: what the flowmeter tests share: packets written as plain
 * structs and pushed as real packet batches through the harness, and the
 * emitted flow records read back (by column name) into plain structs that
 * can be sorted and compared. */
#ifndef FM_TEST_H
#define FM_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fl_harness.h"

#define FM_S 1000000000ull   /* one second in ns */
#define FM_T0 (1700000000ull * FM_S)

/* One packet. Addresses are IPv4 unless v6 is set (then ::N). */
struct fm_pkt {
    uint64_t ts;
    uint32_t sa, da;
    uint16_t sp, dp;
    uint8_t proto, flags;
    uint32_t iplen, paylen;
    uint16_t vlan;
    uint16_t icmp_id;   /* the decoder's icmp_id column */
    bool v6;
};

/* One flow record as emitted. */
struct fm_rec {
    uint64_t start, end;
    int64_t dur;
    uint8_t proto, ipv;
    uint32_t sa, da;
    uint16_t sp, dp, vlan;
    uint64_t packets, bytes, payload, nopay;
    double ps_avg, ps_std, pay_avg, pay_std;
    uint32_t ps_min, ps_max, pay_min, pay_max;
    uint64_t fwd_p, fwd_b, rev_p, rev_b;
    uint8_t flags, fwd_flags, rev_flags;
    char reason[16];
    char conn[8];       /* conn_state */
};

/* How fm_push fills flow_hash: a symmetric hash, or one constant value for
 * every packet (every flow collides: probing and key compare must cope). */
enum fm_hash_mode { FM_HASH_SYM, FM_HASH_CONST };
extern enum fm_hash_mode fm_hash_mode;

/* The packet schema of the decoder (fl_packet_schema) from a test ctx that
 * lives for the whole test program. */
const struct fl_schema *fm_packet_schema(void);
struct fl_ctx *fm_ctx(void);

/* A harness running aggregate.flowmeter with options `yaml`; fails the test
 * if it cannot be made. */
struct fl_harness *fm_new(const char *yaml);
/* Push n packets as one batch (n may be 0: nothing pushed). */
void fm_push(struct fl_harness *h, const struct fm_pkt *p, size_t n);
/* Push packets split into batches of random sizes 1..max_batch, with a
 * tick between batches with probability tick_pct % (at the last packet's
 * time, or a random earlier time past the previous tick). seed: rand_r. */
void fm_push_split(struct fl_harness *h, const struct fm_pkt *p, size_t n, unsigned max_batch,
                   unsigned tick_pct, unsigned seed);
/* Every record emitted so far, in emission order; *n its count. free(). */
struct fm_rec *fm_records(struct fl_harness *h, size_t *n);
/* Sort records into a canonical order (start, key, ...). */
void fm_sort(struct fm_rec *r, size_t n);
/* Compare two sorted record sets field by field; on a difference print
 * both records and return false. std/avg compared to 1e-9 relative;
 * conn_state only where both sets have it (the reference model leaves it
 * empty: test_flowmeter.c covers it). */
bool fm_same(const struct fm_rec *a, size_t na, const struct fm_rec *b, size_t nb);
void fm_print(const char *tag, const struct fm_rec *r);

#endif
