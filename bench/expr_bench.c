/* expr_bench.c: rows per second of the expression language on flow
 * records (issue 19, "Performance"): each expression alone (fl_expr_eval /
 * fl_expr_eval_mask), then transform.expr with compute + where through
 * the plugin harness (filter copy, derived batch, computed columns), over
 * 10 M records in batches of 8192 on one core.
 *   build/expr_bench [million rows, default 10]
 * Built with the tests (it uses their harness for a ctx). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <flowline/expr.h>
#include "fl_harness.h"

#define ROWS 8192u
#define NB 16u

static const struct fl_col_def cols[] = {
    { "flow_start", FL_T_TS }, { "duration", FL_T_DUR }, { "proto", FL_T_U8 },
    { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR }, { "src_port", FL_T_U16 },
    { "dst_port", FL_T_U16 }, { "packets", FL_T_U64 }, { "bytes", FL_T_U64 },
    { "ps_avg", FL_T_F64 },
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void fill(struct fl_batch *b, uint32_t seed)
{
    static const uint16_t ports[] = { 443, 80, 53, 22, 8080, 123 };
    uint64_t x = seed * 2654435761u + 1;
    for (uint32_t r = 0; r < ROWS; r++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        FL_COL(b, 0, uint64_t)[r] = 1700000000000000000ull + r;
        FL_COL(b, 1, int64_t)[r] = (int64_t)(x % 600) * 1000000000;
        FL_COL(b, 2, uint8_t)[r] = x % 10 < 7 ? 6 : 17;
        memset(&FL_COL(b, 3, struct fl_addr)[r], 0, 16);
        FL_COL(b, 3, struct fl_addr)[r].b[10] = 0xff;
        FL_COL(b, 3, struct fl_addr)[r].b[11] = 0xff;
        FL_COL(b, 3, struct fl_addr)[r].b[12] = x % 3 ? 10 : 192;
        FL_COL(b, 4, struct fl_addr)[r] = FL_COL(b, 3, struct fl_addr)[r];
        FL_COL(b, 5, uint16_t)[r] = (uint16_t)(1024 + x % 60000);
        FL_COL(b, 6, uint16_t)[r] = ports[x % 6];
        FL_COL(b, 7, uint64_t)[r] = 1 + x % 100;
        FL_COL(b, 8, uint64_t)[r] = 40 + x % 150000;
        FL_COL(b, 9, double)[r] = (double)(x % 1500);
    }
    b->rows = ROWS;
}

static void one(struct fl_ctx *ctx, const struct fl_schema *s, struct fl_batch **in,
                uint64_t total, const char *text)
{
    struct fl_expr *e;
    char msg[200];
    if (fl_expr_compile(text, s, &e, NULL, msg, sizeof(msg)) < 0) {
        fprintf(stderr, "%s: %s\n", text, msg);
        exit(1);
    }
    bool mask = fl_expr_type(e) == FL_T_BOOL;
    struct fl_col_def od = { "x", fl_expr_type(e) };
    const struct fl_schema *os;
    struct fl_batch *out;
    uint64_t keep[ROWS / 64];
    uint32_t kept;
    if (fl_schema_intern(ctx, &od, 1, sizeof(od), &os) < 0 || fl_batch_new(ctx, os, ROWS, &out) < 0)
        exit(1);
    out->rows = ROWS;
    double t0 = now();
    uint64_t done = 0, sum = 0;
    for (uint32_t i = 0; done < total; i++, done += ROWS) {
        int rc = mask ? fl_expr_eval_mask(e, in[i % NB], keep, &kept) : fl_expr_eval(e, in[i % NB], out, 0);
        if (rc < 0)
            exit(1);
        sum += mask ? kept : 0;
    }
    double t = now() - t0;
    printf("%-58s %7.1f M rows/s%s\n", text, done / t / 1e6, mask ? " (mask)" : "");
    (void)sum;
    fl_batch_release(&out);
    fl_expr_free(&e);
}

int main(int argc, char **argv)
{
    /* A running stage recycles its batches through its ctx's pool; the
     * bare test ctx has none, so keep freed blocks in the heap instead of
     * unmapping them (else fresh pages fault in on every batch). */
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    uint64_t total = (argc > 1 ? strtoull(argv[1], NULL, 10) : 10) * 1000000ull;
    struct fl_harness *h;
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    struct fl_batch *in[NB];
    if (fl_schema_intern(ctx, cols, sizeof(cols) / sizeof(cols[0]), sizeof(cols[0]), &s) < 0)
        return 1;
    for (uint32_t i = 0; i < NB; i++) {
        if (fl_batch_new(ctx, s, ROWS, &in[i]) < 0)
            return 1;
        fill(in[i], i);
    }
    printf("%llu M rows, batches of %u\n", (unsigned long long)(total / 1000000), ROWS);
    one(ctx, s, in, total, "bytes + packets");
    one(ctx, s, in, total, "bytes * 8 + packets");
    one(ctx, s, in, total, "bytes / packets");
    one(ctx, s, in, total, "duration > 30s");
    one(ctx, s, in, total, "bytes > 1000");
    one(ctx, s, in, total, "proto == 6 and dst_port in (80, 443)");
    one(ctx, s, in, total, "src_addr in 10.0.0.0/8");
    one(ctx, s, in, total, "coalesce(bytes / packets, 0) * 2 + log(bytes)");

    /* The whole stage's work per batch, as transform.expr's process() does
     * it (where mask, derived batch sharing the kept fields, two computed
     * columns, then the kept rows copied), each output released at once
     * as a downstream stage would, so batches are recycled through the
     * ctx's pool as in a running pipeline. (Through the test harness, which
     * keeps every emitted batch, page faults on fresh memory dominate.) */
    {
        static const struct fl_col_def ocols[] = {
            { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR }, { "dst_port", FL_T_U16 },
            { "bytes", FL_T_U64 }, { "bpp", FL_T_F64 }, { "bits", FL_T_I64 },
        };
        const int map[] = { 3, 4, 6, 8, -1, -1 };
        const struct fl_schema *os;
        struct fl_expr *w, *c1, *c2;
        uint64_t keep[ROWS / 64];
        uint32_t kept;
        if (fl_schema_intern(ctx, ocols, 6, sizeof(ocols[0]), &os) < 0
            || fl_expr_compile("proto == 6 and bytes > 1000", s, &w, NULL, NULL, 0) < 0
            || fl_expr_compile("bytes / packets", s, &c1, NULL, NULL, 0) < 0
            || fl_expr_compile("bytes * 8", s, &c2, NULL, NULL, 0) < 0)
            return 1;
        double t0 = now();
        uint64_t done = 0, rows_out = 0;
        for (uint32_t i = 0; done < total; i++, done += ROWS) {
            struct fl_batch *b = in[i % NB], *out, *f;
            if (fl_expr_eval_mask(w, b, keep, &kept) < 0 || fl_batch_derive(ctx, b, os, map, &out) < 0
                || fl_expr_eval(c1, b, out, 4) < 0 || fl_expr_eval(c2, b, out, 5) < 0
                || fl_batch_filter(ctx, out, keep, &f) < 0)
                return 1;
            rows_out += f->rows;
            fl_batch_release(&out);
            fl_batch_release(&f);
        }
        double t = now() - t0;
        printf("%-58s %7.1f M rows/s (%.0f%% kept)\n",
               "stage: where + compute 2 + select (transform.expr's work)", done / t / 1e6,
               100.0 * rows_out / done);
        fl_expr_free(&w);
        fl_expr_free(&c1);
        fl_expr_free(&c2);
    }
    /* The same through the plugin and the harness, for reference. */
    const char *with = "{where: \"proto == 6 and bytes > 1000\", "
                       "compute: {bpp: bytes / packets, bits: bytes * 8}, "
                       "select: [src_addr, dst_addr, dst_port, bytes, bpp, bits]}";
    if (fl_harness_new("transform.expr", with, s, &h) < 0)
        return 1;
    double t0 = now();
    uint64_t done = 0, rows_out = 0;
    for (uint32_t i = 0; done < total; i++, done += ROWS) {
        if (fl_harness_push(h, in[i % NB]) < 0)
            return 1;
        if (fl_harness_n_out(h) >= 16) {   /* the harness keeps what is emitted */
            rows_out += fl_harness_out_rows(h);
            fl_harness_destroy(&h);
            if (fl_harness_new("transform.expr", with, s, &h) < 0)
                return 1;
        }
    }
    double t = now() - t0;
    rows_out += fl_harness_out_rows(h);
    printf("%-58s %7.1f M rows/s (%.0f%% kept)\n", "transform.expr through the test harness",
           done / t / 1e6, 100.0 * rows_out / done);
    fl_harness_destroy(&h);
    for (uint32_t i = 0; i < NB; i++)
        fl_batch_release(&in[i]);
    fl_test_ctx_destroy(&ctx);
    return 0;
}
