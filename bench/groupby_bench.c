/* groupby_bench.c: records per second of aggregate.groupby alone, through
 * the plugin harness on one core, for a few typical specs, over packet
 * records in batches of 8192 (as input.pcap emits them): 1 M records a
 * minute of record time, so 1m windows close as they would on a live link.
 * Timed in process CPU time (one thread), so other load on the machine
 * does not count.
 * Run by bench/groupby.sh:
 *   build/groupby_bench [million rows, default 20] [spec index, default all]
 * Built with the tests (it uses their harness). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fl_harness.h"

#define ROWS 8192u
#define NB 32u

static const struct fl_col_def cols[] = {
    { "ts", FL_T_TS }, { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR },
    { "src_port", FL_T_U16 }, { "dst_port", FL_T_U16 }, { "proto", FL_T_U8 },
    { "ip_len", FL_T_U16 },
};

static const struct { const char *name, *with; } specs[] = {
    { "whole window: count, sum",
      "{aggregates: {n: count(), bytes: sum(ip_len)}}" },
    { "by src_addr (1k hosts): count, sum, max",
      "{by: [src_addr], aggregates: {n: count(), bytes: sum(ip_len), big: max(ip_len)}}" },
    { "by src_addr, dst_port (~20k groups): count, sum, min, max, mean",
      "{by: [src_addr, dst_port], aggregates: {n: count(), bytes: sum(ip_len), "
      "lo: min(ip_len), hi: max(ip_len), avg: mean(ip_len)}}" },
    { "by src_addr: quantile p50, p99, stddev, count_distinct(dst_addr)",
      "{by: [src_addr], aggregates: {p50: 'quantile(ip_len, 0.5)', p99: 'quantile(ip_len, 0.99)', "
      "sd: stddev(ip_len), peers: count_distinct(dst_addr)}}" },
    { "computed key: by dst_port % 64, proto: count, sum",
      "{by: ['dst_port % 64 as bucket', proto], aggregates: {n: count(), bytes: sum(ip_len)}}" },
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);   /* CPU time: the machine is shared */
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void fill(struct fl_batch *b, uint32_t seed)
{
    static const uint16_t ports[] = { 443, 80, 53, 22, 8080, 123 };
    uint64_t x = seed * 2654435761u + 1;
    for (uint32_t r = 0; r < ROWS; r++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        struct fl_addr a = { { 0 } };
        a.b[10] = a.b[11] = 0xff;
        a.b[12] = 10;
        uint32_t host = (uint32_t)(x % 1000);
        a.b[14] = (uint8_t)(host >> 8);
        a.b[15] = (uint8_t)host;
        FL_COL(b, 1, struct fl_addr)[r] = a;
        a.b[12] = 192;
        a.b[15] = (uint8_t)(x >> 20);
        FL_COL(b, 2, struct fl_addr)[r] = a;
        FL_COL(b, 3, uint16_t)[r] = (uint16_t)(1024 + (x >> 32) % 60000);
        FL_COL(b, 4, uint16_t)[r] = x % 4 ? ports[(x >> 8) % 6] : (uint16_t)((x >> 40) % 60);
        FL_COL(b, 5, uint8_t)[r] = x % 10 < 7 ? 6 : 17;
        FL_COL(b, 6, uint16_t)[r] = (uint16_t)(40 + (x >> 24) % 1460);
    }
    b->rows = ROWS;
}

int main(int argc, char **argv)
{
    uint64_t total = (argc > 1 ? strtoull(argv[1], NULL, 10) : 20) * 1000000ull;
    int only = argc > 2 ? atoi(argv[2]) : -1;
    for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
        if (only >= 0 && (size_t)only != s)
            continue;
        struct fl_harness *h;
        struct fl_ctx *tctx = fl_test_ctx_new();
        const struct fl_schema *sc;
        if (fl_schema_intern(tctx, cols, sizeof(cols) / sizeof(cols[0]), sizeof(cols[0]), &sc) < 0
            || fl_harness_new("aggregate.groupby", specs[s].with, sc, &h) < 0)
            return 1;
        struct fl_ctx *ctx = fl_harness_ctx(h);
        const struct fl_schema *in;
        if (fl_schema_intern(ctx, cols, sizeof(cols) / sizeof(cols[0]), sizeof(cols[0]), &in) < 0)
            return 1;
        struct fl_batch *b[NB];
        for (uint32_t i = 0; i < NB; i++)
            if (fl_batch_new(ctx, in, ROWS, &b[i]) < 0)
                return 1;
            else
                fill(b[i], i + 1);
        uint64_t t0 = 1700000000ull * 1000000000ull, step = 60000;   /* ns: 1 M records a minute */
        double start = now();
        uint64_t done = 0;
        for (uint32_t i = 0; done < total; i++, done += ROWS) {
            struct fl_batch *x = b[i % NB];
            uint64_t *ts = FL_COL(x, 0, uint64_t);
            for (uint32_t r = 0; r < ROWS; r++)
                ts[r] = t0 + (done + r) * step;
            if (fl_harness_push(h, x) < 0 || fl_harness_tick(h, t0 + (done + ROWS) * step) < 0)
                return 1;
        }
        if (fl_harness_drain(h) < 0)
            return 1;
        double secs = now() - start;
        printf("%-66s %6.2f M records/s  (%llu rows out)\n", specs[s].name, done / secs / 1e6,
               (unsigned long long)fl_harness_out_rows(h));
        for (uint32_t i = 0; i < NB; i++)
            fl_batch_release(&b[i]);
        fl_harness_destroy(&h);
        fl_test_ctx_destroy(&tctx);
    }
    return 0;
}
