/* bench_text.c: how fast flow records become text (DESIGN.md §8). Not a
 * test (timings do not belong in ctest): run build/bench_text [seconds],
 * or build/bench_text 0 N for exactly N batches per case (for instruction
 * counts under callgrind, which a loaded machine does not skew).
 *
 * A 4096-row batch of 24 flow-feature columns (times, mixed IPv4/IPv6
 * addresses, ports, counters, float statistics, a duration, a string) is
 * formatted repeatedly:
 *   - layout: fl_text_layout_rows() into a buffer (formatting alone);
 *   - output.csv / output.json through the plugin harness to /dev/null
 *     (formatting + one write() per 1 MiB, as in a pipeline);
 *   - printf: the same CSV rows with snprintf per cell, for scale. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <flowline/plugin.h>
#include "fl_text.h"
#include "fl_harness.h"

#define ROWS 4096

static const struct fl_col_def bench_cols[] = {
    { "flow_start", FL_T_TS }, { "flow_end", FL_T_TS }, { "src_addr", FL_T_ADDR },
    { "dst_addr", FL_T_ADDR }, { "src_port", FL_T_U16 }, { "dst_port", FL_T_U16 },
    { "proto", FL_T_U8 }, { "packets", FL_T_U64 }, { "bytes", FL_T_U64 },
    { "payload_bytes", FL_T_U64 }, { "duration", FL_T_DUR }, { "nopay", FL_T_U64 },
    { "ps_avg", FL_T_F64 }, { "ps_min", FL_T_U32 }, { "ps_max", FL_T_U32 },
    { "ps_std", FL_T_F64 }, { "pay_avg", FL_T_F64 }, { "pay_min", FL_T_U32 },
    { "pay_max", FL_T_U32 }, { "pay_std", FL_T_F64 }, { "fwd_packets", FL_T_U64 },
    { "rev_packets", FL_T_U64 }, { "fwd_tcp_flags", FL_T_U8 }, { "end_reason", FL_T_STR },
};
#define NCOLS (sizeof bench_cols / sizeof *bench_cols)

static uint64_t rng = 0x243f6a8885a308d3ull;
static long fixed_batches;   /* > 0: run this many batches instead of timing */

static int more(double t, double secs, uint64_t rows)
{
    return fixed_batches ? rows < (uint64_t)fixed_batches * ROWS : t < secs;
}
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fill(struct fl_batch *b)
{
    static const char *const reasons[] = { "idle", "active", "fin", "rst", "eof" };
    for (uint32_t i = 0; i < ROWS; i++) {
        uint64_t start = 1767225600000000000ull + rnd() % 3600000000000ull;
        uint64_t dur = rnd() % 120000000000ull;
        uint64_t pk = 1 + rnd() % 5000, by = pk * (40 + rnd() % 1460);
        FL_COL(b, 0, uint64_t)[i] = start;
        FL_COL(b, 1, uint64_t)[i] = start + dur;
        for (int a = 2; a <= 3; a++) {
            struct fl_addr *ad = &FL_COL(b, a, struct fl_addr)[i];
            uint64_t r1 = rnd(), r2 = rnd();
            memcpy(ad->b, &r1, 8);
            memcpy(ad->b + 8, &r2, 8);
            if (rnd() % 5) {   /* 80% IPv4 */
                memset(ad->b, 0, 10);
                ad->b[10] = ad->b[11] = 0xff;
            } else {
                ad->b[0] = 0x20; ad->b[1] = 0x01; ad->b[2] = 0x0d; ad->b[3] = 0xb8;
                memset(ad->b + 4, 0, 6);
            }
        }
        FL_COL(b, 4, uint16_t)[i] = (uint16_t)(1024 + rnd() % 64000);
        FL_COL(b, 5, uint16_t)[i] = (uint16_t[]){ 80, 443, 53, 22, 8080 }[rnd() % 5];
        FL_COL(b, 6, uint8_t)[i] = (uint8_t[]){ 6, 17, 1 }[rnd() % 3];
        FL_COL(b, 7, uint64_t)[i] = pk;
        FL_COL(b, 8, uint64_t)[i] = by;
        FL_COL(b, 9, uint64_t)[i] = by - pk * 40;
        FL_COL(b, 10, int64_t)[i] = (int64_t)dur;
        FL_COL(b, 11, uint64_t)[i] = pk / 3;
        FL_COL(b, 12, double)[i] = (double)by / (double)pk;
        FL_COL(b, 13, uint32_t)[i] = 40;
        FL_COL(b, 14, uint32_t)[i] = 1500;
        FL_COL(b, 15, double)[i] = sqrt((double)(rnd() % 400000));
        FL_COL(b, 16, double)[i] = (double)(by - pk * 40) / (double)pk;
        FL_COL(b, 17, uint32_t)[i] = 0;
        FL_COL(b, 18, uint32_t)[i] = 1460;
        FL_COL(b, 19, double)[i] = sqrt((double)(rnd() % 300000));
        FL_COL(b, 20, uint64_t)[i] = pk / 2 + pk % 2;
        FL_COL(b, 21, uint64_t)[i] = pk / 2;
        FL_COL(b, 22, uint8_t)[i] = (uint8_t)rnd();
        const char *r = reasons[rnd() % 5];
        fl_batch_put_bytes(b, r, (uint32_t)strlen(r), &FL_COL(b, 23, struct fl_span)[i]);
    }
    b->rows = ROWS;
}

/* Rows of the batch per second while `secs` pass. */
static void bench_layout(const char *what, enum fl_text_format fmt, const struct fl_schema *s,
                         struct fl_batch *b, double secs)
{
    struct fl_text_style st = { .format = fmt };
    struct fl_text_layout *l;
    struct fl_text_buf buf = { 0 };
    if (fl_text_layout_new(&st, s, NULL, NULL, 0, &l) < 0)
        exit(1);
    uint64_t rows = 0, bytes = 0;
    double t0 = now_s(), t;
    do {
        buf.len = 0;
        uint32_t r = 0;
        if (fl_text_layout_rows(l, b, &r, &buf, SIZE_MAX) < 0)
            exit(1);
        rows += r;
        bytes += buf.len;
    } while (more(t = now_s() - t0, secs, rows));
    printf("%-28s %8.2f M rows/s  %7.1f MB/s  %5.1f bytes/row\n", what, (double)rows / t / 1e6,
           (double)bytes / t / 1e6, (double)bytes / (double)rows);
    fl_text_layout_destroy(&l);
    fl_text_buf_free(&buf);
}

static void bench_plugin(const char *use, const struct fl_schema *s, double secs)
{
    struct fl_harness *h;
    if (fl_harness_new(use, "{path: /dev/null, flush_interval: 0s}", s, &h) < 0)
        exit(1);
    struct fl_batch *b;
    if (fl_batch_new(fl_harness_ctx(h), s, ROWS, &b) < 0)
        exit(1);
    fill(b);
    uint64_t rows = 0;
    double t0 = now_s(), t;
    do {
        if (fl_harness_push(h, b) < 0)
            exit(1);
        rows += b->rows;
    } while (more(t = now_s() - t0, secs, rows));
    fl_harness_drain(h);
    uint64_t bytes = fl_harness_counter(h, "bytes_written");
    printf("%-28s %8.2f M rows/s  %7.1f MB/s  (%" PRIu64 " rows)\n", use,
           (double)rows / t / 1e6, (double)bytes / t / 1e6, rows);
    fl_batch_release(&b);
    fl_harness_destroy(&h);
}

/* The printf way, for scale: snprintf per cell, inet_ntop-free (v4 only
 * formatting would flatter it, so addresses are hex-dumped like %x). */
static void bench_printf(struct fl_batch *b, double secs)
{
    char *buf = malloc(1 << 22);
    uint64_t rows = 0;
    double t0 = now_s(), t;
    do {
        size_t len = 0;
        for (uint32_t i = 0; i < b->rows; i++) {
            len += (size_t)snprintf(buf + len, 4096, "%" PRIu64 ",%" PRIu64 ",",
                                    FL_COL(b, 0, uint64_t)[i], FL_COL(b, 1, uint64_t)[i]);
            for (int a = 2; a <= 3; a++) {
                const uint8_t *x = FL_COL(b, a, struct fl_addr)[i].b;
                len += (size_t)snprintf(buf + len, 4096, "%u.%u.%u.%u,", x[12], x[13], x[14], x[15]);
            }
            len += (size_t)snprintf(buf + len, 4096,
                "%u,%u,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.9f,%" PRIu64 ",%.17g,%u,%u,%.17g,"
                "%.17g,%u,%u,%.17g,%" PRIu64 ",%" PRIu64 ",%u,%.*s\n",
                FL_COL(b, 4, uint16_t)[i], FL_COL(b, 5, uint16_t)[i], FL_COL(b, 6, uint8_t)[i],
                FL_COL(b, 7, uint64_t)[i], FL_COL(b, 8, uint64_t)[i], FL_COL(b, 9, uint64_t)[i],
                (double)FL_COL(b, 10, int64_t)[i] / 1e9, FL_COL(b, 11, uint64_t)[i],
                FL_COL(b, 12, double)[i], FL_COL(b, 13, uint32_t)[i], FL_COL(b, 14, uint32_t)[i],
                FL_COL(b, 15, double)[i], FL_COL(b, 16, double)[i], FL_COL(b, 17, uint32_t)[i],
                FL_COL(b, 18, uint32_t)[i], FL_COL(b, 19, double)[i], FL_COL(b, 20, uint64_t)[i],
                FL_COL(b, 21, uint64_t)[i], FL_COL(b, 22, uint8_t)[i],
                (int)FL_COL(b, 23, struct fl_span)[i].len,
                fl_batch_bytes(b, FL_COL(b, 23, struct fl_span)[i]));
        }
        rows += b->rows;
    } while (more(t = now_s() - t0, secs, rows));
    printf("%-28s %8.2f M rows/s\n", "snprintf per cell (CSV)", (double)rows / t / 1e6);
    free(buf);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    fixed_batches = argc > 2 ? atol(argv[2]) : 0;
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    struct fl_batch *b;
    if (!ctx || fl_schema_intern(ctx, bench_cols, NCOLS, sizeof(bench_cols[0]), &s) < 0 ||
        fl_batch_new(ctx, s, ROWS, &b) < 0)
        return 1;
    fill(b);
    printf("%u rows x %zu columns per batch, %.1f s per case\n", ROWS, NCOLS, secs);
    bench_layout("layout CSV (format only)", FL_TEXT_CSV, s, b, secs);
    bench_layout("layout JSON (format only)", FL_TEXT_JSON, s, b, secs);
    bench_plugin("output.csv", s, secs);
    bench_plugin("output.json", s, secs);
    bench_printf(b, secs);
    fl_batch_release(&b);
    fl_test_ctx_destroy(&ctx);
    return 0;
}
