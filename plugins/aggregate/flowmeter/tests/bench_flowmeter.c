/* bench_flowmeter.c: throughput and memory of aggregate.flowmeter alone,
 * through the in-memory harness (no links, no pcap reading, no decoding),
 * to see what the flow stage costs by itself. Not a test (not in ctest):
 * the pipeline benchmark against nfpcapd belongs to bench/.
 *
 *   bench_flowmeter rate [packets] [flows] [churn]
 *       packets over `flows` concurrent flows in 1024-row batches, a tick
 *       after each batch as the runtime does; churn = percent of the flows
 *       replaced by new ones every 1M packets (old ones idle out)
 *   bench_flowmeter mem [flows]
 *       resident memory growth from 0 to `flows` concurrent flows */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <flowline/decode.h>
#include "fl_harness.h"

#define BENCH_ROWS 1024u
#define BENCH_BATCHES 64u

/* Thread CPU time: the machine may be shared, and time spent descheduled
 * is not the flowmeter's. */
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

static uint64_t bench_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* Flow k, generation g, direction rev: IPv4 10.x.y.z:port <-> 192.168.0.1:443. */
static void bench_row(struct fl_batch *b, uint32_t r, uint64_t ts, uint32_t k, uint32_t g, bool rev)
{
    struct fl_addr c = { .b = { [10] = 0xff, [11] = 0xff, [12] = 10, [13] = (uint8_t)(k >> 16),
                                [14] = (uint8_t)(k >> 8), [15] = (uint8_t)k } };
    struct fl_addr s = { .b = { [10] = 0xff, [11] = 0xff, [12] = 192, [13] = 168, [15] = 1 } };
    uint16_t cp = (uint16_t)(1024 + (k * 7 + g) % 60000), sp = 443;
    uint32_t len = 40 + (uint32_t)(bench_mix(ts) % 1461);
    FL_COL(b, FL_PKT_TS, uint64_t)[r] = ts;
    FL_COL(b, FL_PKT_SRC_ADDR, struct fl_addr)[r] = rev ? s : c;
    FL_COL(b, FL_PKT_DST_ADDR, struct fl_addr)[r] = rev ? c : s;
    FL_COL(b, FL_PKT_SRC_PORT, uint16_t)[r] = rev ? sp : cp;
    FL_COL(b, FL_PKT_DST_PORT, uint16_t)[r] = rev ? cp : sp;
    FL_COL(b, FL_PKT_PROTO, uint8_t)[r] = 6;
    FL_COL(b, FL_PKT_IP_VERSION, uint8_t)[r] = 4;
    FL_COL(b, FL_PKT_TTL, uint8_t)[r] = 64;
    FL_COL(b, FL_PKT_TCP_FLAGS, uint8_t)[r] = 0x10;
    FL_COL(b, FL_PKT_IP_LEN, uint32_t)[r] = len;
    FL_COL(b, FL_PKT_FRAME_LEN, uint32_t)[r] = len + 14;
    FL_COL(b, FL_PKT_PAYLOAD_LEN, uint32_t)[r] = len - 40;
    FL_COL(b, FL_PKT_VLAN, uint16_t)[r] = 0;
    uint64_t e1 = bench_mix((uint64_t)k << 16 | cp), e2 = bench_mix(0xc0a80001ull << 16 | sp);
    FL_COL(b, FL_PKT_FLOW_HASH, uint64_t)[r] = e1 + e2;
}

static int bench_rate(struct fl_ctx *ctx, const struct fl_schema *ps, uint64_t packets,
                      uint32_t flows, uint32_t churn)
{
    struct fl_harness *h = NULL;
    struct fl_batch *b[BENCH_BATCHES];
    uint32_t *gen = calloc(flows, sizeof(*gen));
    uint64_t ts = 1700000000ull * 1000000000ull, done = 0;
    unsigned seed = 1;
    double busy = 0;

    if (!gen || fl_harness_new("aggregate.flowmeter", "{}", ps, &h) < 0)
        return 1;
    for (uint32_t i = 0; i < BENCH_BATCHES; i++)
        if (fl_batch_new(ctx, ps, BENCH_ROWS, &b[i]) < 0)
            return 1;
    /* Each row's flow uniformly at random, rows 1 us apart (10k flows: a
     * packet per flow every ~10 ms). */
    uint64_t rng = 88172645463325252ull;
    while (done < packets) {
        for (uint32_t i = 0; i < BENCH_BATCHES && done < packets; i++) {
            struct fl_batch *x = b[i];
            for (uint32_t r = 0; r < BENCH_ROWS; r++) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                uint32_t k = (uint32_t)((rng >> 32) * flows >> 32);
                bench_row(x, r, ts, k, gen[k], (r ^ k) & 1);
                ts += 1000;
            }
            x->rows = BENCH_ROWS;
            x->t_min = ts - BENCH_ROWS * 1000;
            x->t_max = ts - 1000;
            double t0 = bench_now();
            if (fl_harness_push(h, x) < 0 || fl_harness_tick(h, x->t_max) < 0)
                return 1;
            busy += bench_now() - t0;
            done += BENCH_ROWS;
            if (churn && done % (1024 * 1024) == 0)
                for (uint32_t k = 0; k < flows; k++)
                    if ((uint32_t)rand_r(&seed) % 100 < churn)
                        gen[k]++;
        }
    }
    double t0 = bench_now();
    fl_harness_drain(h);
    busy += bench_now() - t0;
    printf("rate: %llu packets, %u flows, churn %u%%/1M packets: %.3f s CPU in the flowmeter, "
           "%.1f Mpps, %llu records, evicted %llu\n", (unsigned long long)done, flows, churn,
           busy, (double)done / busy / 1e6, (unsigned long long)fl_harness_out_rows(h),
           (unsigned long long)fl_harness_counter(h, "evicted"));
    for (uint32_t i = 0; i < BENCH_BATCHES; i++)
        fl_batch_release(&b[i]);
    fl_harness_destroy(&h);
    free(gen);
    return 0;
}

static int bench_mem(struct fl_ctx *ctx, const struct fl_schema *ps, uint32_t flows)
{
    struct fl_harness *h = NULL;
    struct fl_batch *b = NULL;
    uint64_t ts = 1700000000ull * 1000000000ull;

    if (fl_harness_new("aggregate.flowmeter", "{max_flows: 2000000}", ps, &h) < 0
        || fl_batch_new(ctx, ps, BENCH_ROWS, &b) < 0)
        return 1;
    /* warm the batch and the harness with one flow, then measure */
    bench_row(b, 0, ts, 0xffffff, 0, false);
    b->rows = 1;
    fl_harness_push(h, b);
    long before = bench_rss_kib();
    for (uint32_t k = 0; k < flows; k += BENCH_ROWS) {
        uint32_t n = flows - k < BENCH_ROWS ? flows - k : BENCH_ROWS;
        for (uint32_t r = 0; r < n; r++)
            bench_row(b, r, ts += 10, k + r, 0, false);
        b->rows = n;
        if (fl_harness_push(h, b) < 0)
            return 1;
    }
    long after = bench_rss_kib();
    printf("mem: %u concurrent flows: RSS %ld -> %ld KiB, %.1f bytes per flow (records %llu)\n",
           flows, before, after, (double)(after - before) * 1024 / flows,
           (unsigned long long)fl_harness_out_rows(h));
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
        rc = bench_rate(ctx, ps, argc > 2 ? strtoull(argv[2], NULL, 0) : 10000000ull,
                        argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 10000u,
                        argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 0) : 0u);
    else if (argc >= 2 && strcmp(argv[1], "mem") == 0)
        rc = bench_mem(ctx, ps, argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 1000000u);
    else
        fprintf(stderr, "usage: %s rate [packets] [flows] [churn%%] | mem [flows]\n", argv[0]);
    fl_test_ctx_destroy(&ctx);
    return rc;
}
