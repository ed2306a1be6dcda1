/* bench_stats.c: records/s of aggregate.stats alone, through the
 * in-memory harness (no reading, no decoding, no output), on packet or
 * flow records. Not a test: bench/stats.sh runs it.
 *
 *   bench_stats packets|flows RECORDS HOSTS ["{stage options}"]
 *       RECORDS records over HOSTS client hosts (each talking to one of
 *       256 servers on one of 64 service ports, from ephemeral ports),
 *       1024-row batches 10 us of event time apart per record, a tick after
 *       each batch as the runtime does. Prints records/s (thread CPU time)
 *       and the growth of the peak resident memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include "fl_harness.h"

#define ROWS 1024u
#define BATCHES 64u

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Peak resident memory so far (the windows' tables are freed when they
 * close, so the present size says little). */
static long peak_kib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static const uint16_t service[64] = {
    80, 443, 53, 22, 25, 110, 143, 993, 995, 123, 161, 389, 445, 636, 853, 1194, 1433, 1521,
    1883, 2049, 3306, 3389, 5060, 5222, 5432, 5900, 6379, 8000, 8080, 8443, 9000, 9200,
    20, 21, 23, 69, 88, 111, 135, 137, 138, 139, 179, 514, 515, 548, 554, 587, 631, 873, 902,
    1080, 1723, 1812, 2181, 3128, 4500, 5353, 5671, 5683, 6443, 7000, 8888, 27017 };

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_stats packets|flows RECORDS HOSTS [\"{options}\"]\n");
        return 2;
    }
    const bool flows = !strcmp(argv[1], "flows");
    const uint64_t records = strtoull(argv[2], NULL, 10);
    const uint32_t hosts = (uint32_t)strtoul(argv[3], NULL, 10);
    const char *opts = argc > 4 ? argv[4] : NULL;
    const struct fl_col_def cols[] = {
        { flows ? "flow_end" : "ts", FL_T_TS }, { "proto", FL_T_U8 },
        { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR }, { "src_port", FL_T_U16 },
        { "dst_port", FL_T_U16 }, { flows ? "packets" : "ip_len", flows ? FL_T_U64 : FL_T_U32 },
        { "bytes", FL_T_U64 } };
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    struct fl_harness *h = NULL;
    if (fl_schema_intern(ctx, cols, flows ? 8 : 7, sizeof(cols[0]), &s) < 0
        || fl_harness_new("aggregate.stats", opts, s, &h) < 0)
        return 1;
    /* a ring of prepared batches, refilled with new times */
    struct fl_batch *b[BATCHES];
    uint64_t n = 0, t = 1767225600ull * 1000000000ull;   /* 2026-01-01 */
    for (uint32_t i = 0; i < BATCHES; i++) {
        if (fl_batch_new(ctx, s, ROWS, &b[i]) < 0)
            return 1;
        for (uint32_t r = 0; r < ROWS; r++, n++) {
            uint64_t x = mix(n * 0x9e3779b97f4a7c15ull + 1);
            uint32_t c = (uint32_t)(x % hosts), srv = (uint32_t)(x >> 40) & 255;
            struct fl_addr ca = { .b = { [10] = 0xff, [11] = 0xff, [12] = 10,
                                         [13] = (uint8_t)(c >> 16), [14] = (uint8_t)(c >> 8),
                                         [15] = (uint8_t)c } };
            struct fl_addr sa = { .b = { [10] = 0xff, [11] = 0xff, [12] = 192, [13] = 0,
                                         [14] = 2, [15] = (uint8_t)srv } };
            bool rev = !flows && (x >> 20 & 1);
            uint16_t cp = (uint16_t)(32768 + (x >> 24) % 28000), sp = service[(x >> 32) & 63];
            uint32_t len = 40 + (uint32_t)((x >> 8) % 1461);
            FL_COL(b[i], 1, uint8_t)[r] = (x >> 50 & 7) == 0 ? 17 : 6;
            FL_COL(b[i], 2, struct fl_addr)[r] = rev ? sa : ca;
            FL_COL(b[i], 3, struct fl_addr)[r] = rev ? ca : sa;
            FL_COL(b[i], 4, uint16_t)[r] = rev ? sp : cp;
            FL_COL(b[i], 5, uint16_t)[r] = rev ? cp : sp;
            if (flows) {
                FL_COL(b[i], 6, uint64_t)[r] = 1 + (x >> 4) % 40;
                FL_COL(b[i], 7, uint64_t)[r] = (1 + (x >> 4) % 40) * len;
            } else {
                FL_COL(b[i], 6, uint32_t)[r] = len;
            }
        }
        b[i]->rows = ROWS;
    }
    long rss0 = peak_kib();
    double t0 = cpu_now();
    uint64_t done = 0;
    for (uint64_t k = 0; done < records; k++) {
        struct fl_batch *x = b[k % BATCHES];
        for (uint32_t r = 0; r < ROWS; r++, t += 10000)
            FL_COL(x, 0, uint64_t)[r] = t;
        x->t_min = FL_COL(x, 0, uint64_t)[0];
        x->t_max = t - 10000;
        if (fl_harness_push(h, x) < 0 || fl_harness_tick(h, x->t_max) < 0)
            return 1;
        done += ROWS;
    }
    if (fl_harness_drain(h) < 0)
        return 1;
    double dt = cpu_now() - t0;
    printf("%s records: %.2f M/s (%llu records, %u hosts, %.1f s of event time, %s); "
           "peak RSS +%ld MiB\n", flows ? "flow" : "packet", (double)done / dt / 1e6,
           (unsigned long long)done, hosts, (double)done * 1e-5, opts ? opts : "defaults",
           (peak_kib() - rss0) / 1024);
    for (uint32_t i = 0; i < BATCHES; i++)
        fl_batch_release(&b[i]);
    fl_harness_destroy(&h);
    fl_test_ctx_destroy(&ctx);
    return 0;
}
