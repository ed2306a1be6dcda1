/* fuzz_expr.c: libFuzzer target for the expression language: any bytes
 * (cut at the first NUL) through fl_expr_compile against a flow-record
 * schema, and whatever compiles is evaluated over a small batch with
 * missing values, both as a column and as a row mask. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/expr.h>
#include "fl_harness.h"

static const struct fl_col_def fuzz_cols[] = {
    { "bytes", FL_T_U64 }, { "packets", FL_T_U64 }, { "proto", FL_T_U8 },
    { "dst_port", FL_T_U16 }, { "ps_avg", FL_T_F64 }, { "duration", FL_T_DUR },
    { "flow_start", FL_T_TS }, { "flow_end", FL_T_TS }, { "src_addr", FL_T_ADDR },
    { "dst_addr", FL_T_ADDR }, { "end_reason", FL_T_STR }, { "ip_len", FL_T_U32 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fl_ctx *ctx;   /* one ctx for the whole run: schemas live in it */
    static const struct fl_schema *s;
    struct fl_expr *e = NULL;
    struct fl_batch *b = NULL, *out = NULL;
    char *text = malloc(size + 1);
    char msg[256];
    size_t off;
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (!ctx) {
        ctx = fl_test_ctx_new();
        if (fl_schema_intern(ctx, fuzz_cols, 12, sizeof(fuzz_cols[0]), &s) < 0)
            abort();
    }
    if (fl_expr_compile(text, s, &e, &off, msg, sizeof(msg)) == 0) {
        const uint32_t rows = 70;
        if (fl_batch_new(ctx, s, rows, &b) < 0)
            abort();
        for (uint32_t c = 0; c < s->ncols; c++)
            memset(b->data[c], 0, rows * fl_type_size(s->cols[c]->type));
        for (uint32_t r = 0; r < rows; r++) {
            FL_COL(b, 0, uint64_t)[r] = r * 1000003u;
            FL_COL(b, 1, uint64_t)[r] = r % 5;
            FL_COL(b, 2, uint8_t)[r] = (uint8_t)(r % 3 ? 6 : 17);
            FL_COL(b, 4, double)[r] = r / 3.0;
            FL_COL(b, 5, int64_t)[r] = (int64_t)r * 1000000000 - 5;
            FL_COL(b, 8, struct fl_addr)[r].b[15] = (uint8_t)r;
            if (fl_batch_put_bytes(b, "idle", r % 4, &FL_COL(b, 10, struct fl_span)[r]) < 0)
                abort();
            if (r % 7 == 0)
                fl_batch_set_missing(b, r % s->ncols, r);
        }
        b->rows = rows;
        struct fl_col_def one = { "x", fl_expr_type(e) };
        const struct fl_schema *os;
        if (fl_schema_intern(ctx, &one, 1, sizeof(one), &os) < 0 || fl_batch_new(ctx, os, rows, &out) < 0)
            abort();
        out->rows = rows;
        if (fl_expr_eval(e, b, out, 0) < 0)
            abort();
        if (fl_expr_type(e) == FL_T_BOOL) {
            uint64_t keep[2];
            if (fl_expr_eval_mask(e, b, keep, NULL) < 0)
                abort();
        }
    }
    fl_batch_release(&out);
    fl_batch_release(&b);
    fl_expr_free(&e);
    free(text);
    return 0;
}
