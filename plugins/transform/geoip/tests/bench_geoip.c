/* bench_geoip.c: transform.geoip alone through the harness: lookups/s of
 * one address field with the given attributes, without the cache (every
 * address distinct) and with it (addresses drawn from POOL distinct ones,
 * as flows repeat their ends). Addresses are inside the database's
 * networks (81.2.69.128/26, 89.160.20.112/28, 216.160.83.56/29,
 * 175.16.199.0/24, 2001:218::/32, 2a02:cf40::/29), so every lookup walks
 * the tree to a record and decodes it. Best of 3 runs. Not part of ctest.
 *
 * Also without the record cache: every lookup decodes its record, as when
 * traffic spreads over more records than the cache holds.
 *
 *   build/bench_geoip DB [ATTRIBUTES] [POOL]
 *   build/bench_geoip ../shared/data/mmdb/GeoIP2-City-Test.mmdb "[country, city, lat, lon]" */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fl_harness.h"

#define ROWS 4096u
#define BATCHES 256u

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void addr_in_nets(struct fl_addr *a, uint64_t r)
{
    static const uint8_t v4[][4] = { { 81, 2, 69, 128 }, { 89, 160, 20, 112 },
                                     { 216, 160, 83, 56 }, { 175, 16, 199, 0 } };
    static const uint8_t v4_host_bits[] = { 6, 4, 3, 8 };
    memset(a, 0, sizeof(*a));
    unsigned k = (unsigned)(r % 6);
    r /= 6;
    if (k < 4) {
        a->b[10] = a->b[11] = 0xff;
        memcpy(a->b + 12, v4[k], 4);
        uint32_t host = (uint32_t)(r & ((1u << v4_host_bits[k]) - 1));
        a->b[15] |= (uint8_t)host;
        a->b[14] |= (uint8_t)(host >> 8);
    } else if (k == 4) {
        a->b[0] = 0x20; a->b[1] = 0x01; a->b[2] = 0x02; a->b[3] = 0x18;
        memcpy(a->b + 8, &r, 8);
    } else {
        a->b[0] = 0x2a; a->b[1] = 0x02; a->b[2] = 0xcf; a->b[3] = 0x40 | (uint8_t)(r & 7);
        r >>= 3;
        memcpy(a->b + 8, &r, 8);
    }
}

static double run(const char *db, const char *attrs, uint64_t cache, uint64_t recs, uint64_t pool,
                  const struct fl_schema **in_s, uint64_t *hits)
{
    char yaml[2048];
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml, "{databases: [%s], lookup: [src_addr], attributes: %s, "
             "cache_size: %llu, record_cache_size: %llu}", db, attrs, (unsigned long long)cache,
             (unsigned long long)recs);
    if (fl_harness_new("transform.geoip", yaml, *in_s, &h) < 0)
        exit(1);
    struct fl_batch **bs = calloc(BATCHES, sizeof(*bs));
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (unsigned i = 0; i < BATCHES; i++) {
        if (fl_batch_new(fl_harness_ctx(h), *in_s, ROWS, &bs[i]) < 0)
            exit(1);
        for (unsigned r = 0; r < ROWS; r++) {
            uint64_t x = pool ? rng(&s) % pool * 0x2545f4914f6cdd1dull : rng(&s);
            addr_in_nets(&FL_COL(bs[i], 0, struct fl_addr)[r], x);
        }
        bs[i]->rows = ROWS;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < BATCHES; i++)
        if (fl_harness_push(h, bs[i]) < 0)
            exit(1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    *hits = fl_harness_counter(h, "cache_hits");
    if (fl_harness_counter(h, "not_found"))
        fprintf(stderr, "warning: %llu addresses not found\n",
                (unsigned long long)fl_harness_counter(h, "not_found"));
    for (unsigned i = 0; i < BATCHES; i++)
        fl_batch_release(&bs[i]);
    free(bs);
    fl_harness_destroy(&h);
    return (double)BATCHES * ROWS / sec;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DB [ATTRIBUTES] [POOL]\n", argv[0]);
        return 2;
    }
    const char *attrs = argc > 2 ? argv[2] : "[country, city, lat, lon]";
    uint64_t pool = argc > 3 ? strtoull(argv[3], NULL, 0) : 10000;
    static const struct fl_col_def cols[] = { { "src_addr", FL_T_ADDR } };
    const struct fl_schema *in_s = NULL;
    struct fl_ctx *tctx = fl_test_ctx_new();   /* the schema lives here */
    if (!tctx || fl_schema_intern(tctx, cols, 1, sizeof(cols[0]), &in_s) < 0)
        return 1;
    static const struct { const char *name; uint64_t cache, recs; bool pool; } conf[] = {
        { "no cache, no record cache (every record decoded)", 0, 0, false },
        { "no cache, record cache 4096 (default)", 0, 4096, false },
        { "cache 65536 (default), record cache 4096", 65536, 4096, true },
    };
    for (int c = 0; c < 3; c++) {
        double best = 0;
        uint64_t hits = 0;
        for (int i = 0; i < 3; i++) {
            double r = run(argv[1], attrs, conf[c].cache, conf[c].recs, conf[c].pool ? pool : 0,
                           &in_s, &hits);
            if (r > best)
                best = r;
        }
        printf("%-50s %s: %5.2f M lookups/s (%u lookups, %llu cache hits)\n", conf[c].name,
               attrs, best / 1e6, BATCHES * ROWS, (unsigned long long)hits);
    }
    fl_test_ctx_destroy(&tctx);
    return 0;
}
