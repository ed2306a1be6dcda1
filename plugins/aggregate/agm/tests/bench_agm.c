/* bench_agm.c: throughput and memory of aggregate.agm alone, through the
 * in-memory harness (no links, no pcap reading, no decoding): what the
 * stage costs on one core. Not a test; bench/agm.sh runs it.
 *
 *   bench_agm rate [packets] [sources] [window] [nagm]
 *       TCP packets from `sources` sources (uniformly at random) in
 *       1024-row batches 200 ns apart (5 Mpps of traffic time), a tick
 *       after each batch as the runtime does; each source talks to 4
 *       of 4096 hosts from 8 ports to 4 ports, with 2 TTLs and 4 flag
 *       combinations; ip_len is 52 (45 %), 1500 (35 %), 40 (10 %) or any
 *       of 40..1500 (10 %), so a busy source's ip_len map is the big one
 *   bench_agm mem [sources]
 *       resident memory growth from 0 to `sources` sources of one window,
 *       4 packets each (4 distinct values in every field) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <flowline/decode.h>
#include "fl_harness.h"

#define BENCH_ROWS 1024u
#define BENCH_BATCHES 64u

static double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long bench_rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static struct fl_addr bench_v4(uint32_t a)
{
    struct fl_addr x = { { [10] = 0xff, [11] = 0xff, [12] = (uint8_t)(a >> 24),
                           [13] = (uint8_t)(a >> 16), [14] = (uint8_t)(a >> 8), [15] = (uint8_t)a } };
    return x;
}

/* Source k's i-th packet (x: random bits). */
static void bench_row(struct fl_batch *b, uint32_t r, uint64_t ts, uint32_t k, uint64_t x)
{
    static const uint8_t flags[4] = { 0x10, 0x18, 0x02, 0x11 };
    static const uint16_t ports[4] = { 443, 80, 22, 8080 };
    FL_COL(b, FL_PKT_TS, uint64_t)[r] = ts;
    FL_COL(b, FL_PKT_SRC_ADDR, struct fl_addr)[r] = bench_v4(0x0a000000u + k);
    FL_COL(b, FL_PKT_DST_ADDR, struct fl_addr)[r] = bench_v4(0xc0a80000u + ((k * 7 + (x & 3)) & 4095));
    FL_COL(b, FL_PKT_SRC_PORT, uint16_t)[r] = (uint16_t)(1024 + (k * 13 + (x >> 2 & 7)) % 60000);
    FL_COL(b, FL_PKT_DST_PORT, uint16_t)[r] = ports[x >> 5 & 3];
    FL_COL(b, FL_PKT_PROTO, uint8_t)[r] = 6;
    FL_COL(b, FL_PKT_IP_VERSION, uint8_t)[r] = 4;
    FL_COL(b, FL_PKT_TTL, uint8_t)[r] = (uint8_t)(64 - (x >> 7 & 1));
    FL_COL(b, FL_PKT_TCP_FLAGS, uint8_t)[r] = flags[x >> 8 & 3];
    /* ip_len as TCP has it: ACKs, full segments, SYNs, and some spread */
    uint32_t q = (uint32_t)(x >> 10) % 100, len = q < 45 ? 52 : q < 80 ? 1500 : q < 90 ? 40
                                                 : 40 + (uint32_t)(x >> 20) % 1461;
    FL_COL(b, FL_PKT_IP_LEN, uint32_t)[r] = len;
    FL_COL(b, FL_PKT_FRAME_LEN, uint32_t)[r] = len + 14;
    FL_COL(b, FL_PKT_PAYLOAD_LEN, uint32_t)[r] = len - 40;
    FL_COL(b, FL_PKT_VLAN, uint16_t)[r] = 0;
    FL_COL(b, FL_PKT_FLOW_HASH, uint64_t)[r] = x;
    FL_COL(b, FL_PKT_ICMP_ID, uint16_t)[r] = 0;
}

static int bench_rate(struct fl_ctx *ctx, const struct fl_schema *ps, uint64_t packets,
                      uint32_t sources, const char *window, int nagm)
{
    struct fl_harness *h = NULL;
    struct fl_batch *b[BENCH_BATCHES];
    uint64_t ts = 1700000000ull * 1000000000ull, done = 0, rng = 88172645463325252ull;
    double busy = 0;
    char yaml[160];
    snprintf(yaml, sizeof(yaml), "{windows: [%s], nagm: %s}", window, nagm ? "true" : "false");
    if (fl_harness_new("aggregate.agm", yaml, ps, &h) < 0)
        return 1;
    for (uint32_t i = 0; i < BENCH_BATCHES; i++)
        if (fl_batch_new(ctx, ps, BENCH_ROWS, &b[i]) < 0)
            return 1;
    while (done < packets) {
        for (uint32_t i = 0; i < BENCH_BATCHES && done < packets; i++) {
            struct fl_batch *x = b[i];
            for (uint32_t r = 0; r < BENCH_ROWS; r++) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                uint32_t k = (uint32_t)((rng >> 32) * sources >> 32);
                bench_row(x, r, ts, k, rng);
                ts += 200;
            }
            x->rows = BENCH_ROWS;
            x->t_min = ts - BENCH_ROWS * 200;
            x->t_max = ts - 200;
            double t0 = bench_now();
            if (fl_harness_push(h, x) < 0 || fl_harness_tick(h, x->t_max) < 0)
                return 1;
            busy += bench_now() - t0;
            done += BENCH_ROWS;
        }
    }
    double t0 = bench_now();
    fl_harness_drain(h);
    busy += bench_now() - t0;
    printf("rate: %llu packets, %u sources, windows [%s]%s: %.3f s CPU in the stage, %.2f M "
           "packets/s, %llu rows, evicted %llu\n", (unsigned long long)done, sources, window,
           nagm ? " nagm" : "", busy, (double)done / busy / 1e6,
           (unsigned long long)fl_harness_out_rows(h),
           (unsigned long long)fl_harness_counter(h, "sources_evicted"));
    for (uint32_t i = 0; i < BENCH_BATCHES; i++)
        fl_batch_release(&b[i]);
    fl_harness_destroy(&h);
    return 0;
}

static int bench_mem(struct fl_ctx *ctx, const struct fl_schema *ps, uint32_t sources)
{
    struct fl_harness *h = NULL;
    struct fl_batch *b = NULL;
    uint64_t ts = 1700000000ull * 1000000000ull;
    if (fl_harness_new("aggregate.agm", "{windows: [1h], max_sources: 4000000}", ps, &h) < 0 ||
        fl_batch_new(ctx, ps, BENCH_ROWS, &b) < 0)
        return 1;
    bench_row(b, 0, ts, 0xffffff, 0);
    b->rows = 1;
    fl_harness_push(h, b);
    long before = bench_rss_kib();
    for (uint32_t pass = 0; pass < 4; pass++)
        for (uint32_t k = 0; k < sources; k += BENCH_ROWS) {
            uint32_t n = sources - k < BENCH_ROWS ? sources - k : BENCH_ROWS;
            for (uint32_t r = 0; r < n; r++)
                bench_row(b, r, ts++, k + r, (uint64_t)pass * 0x40000425ull);
            b->rows = n;
            if (fl_harness_push(h, b) < 0)
                return 1;
        }
    long after = bench_rss_kib();
    printf("mem: %u sources in one window, 4 packets each: RSS %ld -> %ld KiB, %.1f bytes per "
           "source\n", sources, before, after, (double)(after - before) * 1024 / sources);
    fl_batch_release(&b);
    fl_harness_destroy(&h);
    return 0;
}

int main(int argc, char **argv)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *ps;
    int rc = 2;
    if (!ctx || fl_packet_schema(ctx, &ps) < 0)
        return 1;
    if (argc >= 2 && strcmp(argv[1], "rate") == 0)
        rc = bench_rate(ctx, ps, argc > 2 ? strtoull(argv[2], NULL, 0) : 20000000ull,
                        argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 10000u,
                        argc > 4 ? argv[4] : "10s", argc > 5 && !strcmp(argv[5], "nagm"));
    else if (argc >= 2 && strcmp(argv[1], "mem") == 0)
        rc = bench_mem(ctx, ps, argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 1000000u);
    else
        fprintf(stderr, "usage: %s rate [packets] [sources] [window] [nagm] | mem [sources]\n",
                argv[0]);
    fl_test_ctx_destroy(&ctx);
    return rc;
}
