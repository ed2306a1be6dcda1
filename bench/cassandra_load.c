/* cassandra_load.c: output.cassandra's own throughput, without a pipeline
 * in front: the plugin loaded through the tests' harness, fed batches of
 * 4096 synthetic flow records (the fields of seed 000's table) as fast as
 * it takes them, into a CQL server at 127.0.0.1:PORT (bench/cassandra.py
 * runs tests/integration/130-cassandra/cql_server.py --sink for it).
 * Prints rows, wall seconds and this process's CPU seconds (user+sys).
 *   build/cassandra_load PORT [million rows] [batch_rows] [in_flight]
 * Built with the tests (it uses their harness). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "fl_harness.h"

#define ROWS 4096u

static const struct fl_col_def cols[] = {
    { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR }, { "src_port", FL_T_U16 },
    { "dst_port", FL_T_U16 }, { "proto", FL_T_U8 }, { "bytes", FL_T_U64 },
    { "ps_avg", FL_T_F64 }, { "ps_min", FL_T_U32 }, { "ps_max", FL_T_U32 },
    { "packets", FL_T_U64 }, { "payload_bytes", FL_T_U64 }, { "pay_avg", FL_T_F64 },
    { "pay_min", FL_T_U32 }, { "pay_max", FL_T_U32 }, { "ps_std", FL_T_F64 },
    { "pay_std", FL_T_F64 }, { "duration", FL_T_DUR }, { "nopay", FL_T_U64 },
};
#define NCOLS (sizeof cols / sizeof cols[0])

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           u.ru_stime.tv_usec / 1e6;
}

static void fill(struct fl_batch *b, uint64_t base)
{
    uint64_t x = base * 2654435761u + 1;
    for (uint32_t r = 0; r < ROWS; r++) {
        uint64_t k = base + r;
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        struct fl_addr *s = &FL_COL(b, 0, struct fl_addr)[r], *d = &FL_COL(b, 1, struct fl_addr)[r];
        memset(s, 0, sizeof *s);
        memset(d, 0, sizeof *d);
        s->b[10] = s->b[11] = d->b[10] = d->b[11] = 0xff;
        s->b[12] = 10; s->b[13] = (uint8_t)(k >> 16); s->b[14] = (uint8_t)(k >> 8); s->b[15] = (uint8_t)k;
        d->b[12] = 192; d->b[13] = 0; d->b[14] = 2; d->b[15] = (uint8_t)(x % 250);
        FL_COL(b, 2, uint16_t)[r] = (uint16_t)(1024 + k % 60000);
        FL_COL(b, 3, uint16_t)[r] = (uint16_t)(x % 3 ? 443 : 53);
        FL_COL(b, 4, uint8_t)[r] = x % 3 ? 6 : 17;
        uint64_t pk = 1 + x % 40;
        FL_COL(b, 5, uint64_t)[r] = pk * 700;
        FL_COL(b, 6, double)[r] = 700.0 + (double)(x % 1000) / 7;
        FL_COL(b, 7, uint32_t)[r] = 40;
        FL_COL(b, 8, uint32_t)[r] = 1500;
        FL_COL(b, 9, uint64_t)[r] = pk;
        FL_COL(b, 10, uint64_t)[r] = pk * 600;
        FL_COL(b, 11, double)[r] = 600.5;
        FL_COL(b, 12, uint32_t)[r] = 0;
        FL_COL(b, 13, uint32_t)[r] = 1460;
        FL_COL(b, 14, double)[r] = (double)(x % 100000) / 99;
        FL_COL(b, 15, double)[r] = 12.25;
        FL_COL(b, 16, int64_t)[r] = (int64_t)(x % 60000) * 1000000;
        FL_COL(b, 17, uint64_t)[r] = pk / 3;
    }
    b->rows = ROWS;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: cassandra_load PORT [million rows] [batch_rows] [in_flight]\n");
        return 2;
    }
    double millions = argc > 2 ? atof(argv[2]) : 2;
    const char *br = argc > 3 ? argv[3] : "100", *inf = argc > 4 ? argv[4] : "8";
    uint64_t total = (uint64_t)(millions * 1e6);
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "{ hosts: [\"127.0.0.1:%s\"], keyspace: bench, table: flowfeaturess, create: true,"
             "  columns: { srcaddr: varchar, dstaddr: varchar, srcp: int, dstp: int, proto: varchar,"
             "    size: double, avgps: float, minps: int, maxps: int, packets: int, paysize: double,"
             "    avgpays: float, minpays: int, maxpays: int, stddps: float, stddpays: float,"
             "    duration: int, nopayloadcnt: int },"
             "  primary_key: \"(srcaddr, dstaddr), srcp, dstp, proto\","
             "  batch_rows: %s, in_flight: %s, batch_size: 20000 }", argv[1], br, inf);
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    struct fl_harness *h;
    if (!ctx || fl_schema_intern(ctx, cols, NCOLS, sizeof cols[0], &s) < 0)
        return 1;
    if (fl_harness_new("output.cassandra", yaml, s, &h) < 0)
        return 1;
    struct fl_ctx *hc = fl_harness_ctx(h);
    struct fl_batch *b[8];
    for (int i = 0; i < 8; i++) {
        if (fl_batch_new(hc, s, ROWS, &b[i]) < 0)
            return 1;
        fill(b[i], (uint64_t)i * ROWS);
    }
    double t0 = now(), c0 = cpu();
    uint64_t done = 0;
    for (uint64_t i = 0; done < total; i++) {
        int rc;
        while ((rc = fl_harness_push(h, b[i % 8])) == -FL_EAGAIN)
            ;
        if (rc < 0) {
            fprintf(stderr, "push: %s\n", fl_strerror(rc));
            return 1;
        }
        done += ROWS;
    }
    if (fl_harness_drain(h) < 0)
        return 1;
    double wall = now() - t0, used = cpu() - c0;
    uint64_t written = fl_harness_counter(h, "rows_written");
    printf("rows %llu written %llu wall %.3f cpu %.3f\n", (unsigned long long)done,
           (unsigned long long)written, wall, used);
    for (int i = 0; i < 8; i++)
        fl_batch_release(&b[i]);
    fl_harness_destroy(&h);
    fl_test_ctx_destroy(&ctx);
    return written == done ? 0 : 1;
}
