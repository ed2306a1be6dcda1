/* fl_sketch.h: hashing and distinct counting for aggregations.
 *
 * A static library (plugins/lib/sketch) linked into the built-in
 * aggregations, not part of the plugin ABI. README.md beside this file
 * states the errors.
 *
 * Hash. fl_hash64() is a bijection of 64-bit values (a keyed finalizer of
 * the MurmurHash3 kind), so values that fit in 64 bits (ports, IPv4
 * addresses, (proto, port) packed into one word) never collide: a distinct
 * counter that stores hashes is then exact, not "exact up to collisions".
 * fl_hash_addr() hashes a struct fl_addr; over IPv4-mapped addresses it is
 * a bijection too. fl_hash_bytes() is for anything else (64-bit output,
 * collisions ~ n^2 / 2^65).
 *
 * Distinct counter (struct fl_distinct, 16 bytes, zero = empty). Exact up
 * to conf->exact_max distinct hashes: the first one lives in the struct
 * itself, then in an open-addressing set of hashes (linear probing, load
 * <= 3/4, doubling from 8 slots). The value after exact_max turns it into
 * a HyperLogLog sketch of 2^precision one-byte registers, estimated with
 * Ertl's improved raw estimator ("New cardinality estimation algorithms
 * for HyperLogLog sketches", 2017), which needs no empirical bias tables and
 * is unbiased from 0 to far above 2^40. Relative standard error
 * 1.04 / sqrt(2^precision). Counters with the same conf merge (union)
 * losslessly: the merge of two sketches equals the sketch of the union.
 *
 * Memory: 16 bytes per counter; + 8 * slots while exact (at most
 * 8 * 2^ceil(log2(exact_max * 4/3)) bytes); 2^precision bytes once HLL.
 * The default exact_max (2^precision / 16) keeps the exact set no larger
 * than the registers that replace it.
 *
 * No globals; a counter is used by one thread at a time. */
#ifndef FL_SKETCH_H
#define FL_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <flowline/error.h>
#include <flowline/record.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- hashing ---- */

/* A bijective 64-bit mix (fixed key). */
static inline uint64_t fl_hash_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* A 64-bit value; the key keeps small values off the mix's fixed point 0. */
static inline uint64_t fl_hash64(uint64_t x)
{
    return fl_hash_mix64(x ^ 0x9e3779b97f4a7c15ull);
}

/* Two words: a bijection in `lo` for a fixed `hi`. */
static inline uint64_t fl_hash128(uint64_t hi, uint64_t lo)
{
    return fl_hash_mix64(fl_hash64(lo) ^ (hi * 0x9fb21c651e98df25ull) ^ (hi >> 29));
}

/* An address (IPv4-mapped or IPv6). */
uint64_t fl_hash_addr(const struct fl_addr *a);
/* Any bytes. */
uint64_t fl_hash_bytes(const void *p, size_t n);

/* ---- distinct counter ---- */

#define FL_HLL_PMIN 4
#define FL_HLL_PMAX 18
#define FL_DISTINCT_EXACT_MAX (1u << 20)

struct fl_distinct_conf {
    uint32_t exact_max;   /* distinct values counted exactly */
    uint8_t precision;    /* HLL: 2^precision registers */
};

struct fl_distinct {
    union {
        uint64_t one;      /* n == 1, no memory: the one hash */
        uint64_t *slots;   /* exact set (0 = empty slot) */
        uint8_t *regs;     /* HLL registers */
    } u;
    uint32_t n;            /* exact: distinct non-zero hashes held */
    uint8_t cap_log2;      /* exact with memory: log2(slots); 0 = none */
    uint8_t hll;           /* 1: u.regs */
    uint8_t zero;          /* exact: the hash 0 was added */
    uint8_t pad_;
};

/* Fill conf: exact_max 0 = the default 2^precision / 16; precision 0 =
 * 12 (4 KiB, 1.63 %). -FL_EINVAL out of range (precision 4..18,
 * exact_max <= 2^20). */
int fl_distinct_conf_init(struct fl_distinct_conf *conf, uint32_t exact_max, unsigned precision);
/* Relative standard error of the HLL estimate: 1.04 / sqrt(2^precision). */
double fl_distinct_stderr(const struct fl_distinct_conf *conf);

static inline void fl_distinct_init(struct fl_distinct *d)
{
    *d = (struct fl_distinct){ .n = 0 };
}
/* Free memory; d is empty again. */
void fl_distinct_reset(struct fl_distinct *d);

int fl_distinct_add_slow_(struct fl_distinct *d, uint64_t h, const struct fl_distinct_conf *c);
/* Add a hash. 0, or -FL_ENOMEM (the value is not counted; d stays valid). */
static inline int fl_distinct_add(struct fl_distinct *d, uint64_t h,
                                  const struct fl_distinct_conf *c)
{
    /* Inline: the first non-zero hash, or the one held again. */
    if (!d->hll && d->cap_log2 == 0 && h != 0 && (d->n ? d->u.one == h : !d->zero)) {
        d->u.one = h;
        d->n = 1;
        return 0;
    }
    return fl_distinct_add_slow_(d, h, c);
}
/* Union src into dst (same conf). 0 or -FL_ENOMEM (dst stays valid, maybe
 * short of some of src). */
int fl_distinct_merge(struct fl_distinct *dst, const struct fl_distinct *src,
                      const struct fl_distinct_conf *c);
/* The count: exact, or the HLL estimate rounded to the nearest integer. */
uint64_t fl_distinct_count(const struct fl_distinct *d, const struct fl_distinct_conf *c);
/* True once the counter estimates (HLL). */
static inline bool fl_distinct_is_estimate(const struct fl_distinct *d)
{
    return d->hll != 0;
}
/* Heap bytes held (beyond the 16-byte struct). */
size_t fl_distinct_heap_bytes(const struct fl_distinct *d, const struct fl_distinct_conf *c);

#ifdef __cplusplus
}
#endif
#endif
