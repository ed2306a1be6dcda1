/* fuzz_wire.c: libFuzzer target for the binary batch decoder
 * (core/src/wire.c). An input is a stream of messages cut by each header's
 * length (fl_wire_peek), decoded in turn by one fresh decoder, so a schema
 * block in one message serves the short form of the next. Checks: no crash,
 * no read past the input (each message is decoded from an exact-size
 * copy), and every batch that decodes re-encodes into a message that
 * decodes and re-encodes to the same bytes (the encoding is canonical).
 *
 * Seeds: `fuzz_wire --write-seeds CORPUS` writes encoded batches of every
 * column type, with missing values and strings, as single messages and as
 * streams with the short (schema-less) form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/wire.h>
#include "fl_harness.h"

static struct fl_ctx *fuzz_ctx;

static void check_canonical(struct fl_wire_dec *d, const struct fl_batch *b)
{
    struct fl_wire_buf one = { 0 }, two = { 0 };
    struct fl_batch *again;
    if (fl_wire_encode(b, 0, &one) < 0)
        abort();                    /* a decoded batch is within the limits */
    if (fl_wire_decode(d, one.p, one.len, &again, NULL) < 0)
        abort();
    if (fl_wire_encode(again, 0, &two) < 0 || two.len != one.len ||
        memcmp(one.p, two.p, one.len) != 0)
        abort();
    fl_batch_release(&again);
    fl_wire_buf_free(&one);
    fl_wire_buf_free(&two);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fl_wire_dec *d;
    size_t off = 0;

    if (!fuzz_ctx && !(fuzz_ctx = fl_test_ctx_new()))
        abort();
    if (fl_wire_dec_new(fuzz_ctx, 4, &d) < 0)
        abort();
    while (off < size) {
        size_t len = size - off, mlen;
        /* a message as long as its header says, or the rest */
        if (fl_wire_peek(data + off, len, &mlen) == 0 && mlen && mlen < len)
            len = mlen;
        uint8_t *msg = malloc(len);
        if (!msg)
            abort();
        memcpy(msg, data + off, len);
        struct fl_batch *b;
        size_t used;
        int rc = fl_wire_decode(d, msg, len, &b, &used);
        if (rc == 0) {
            if (used != len)
                abort();
            check_canonical(d, b);
            fl_batch_release(&b);
        } else if (rc != -FL_EPROTO && rc != -FL_ENOENT) {
            abort();                /* only allocation could fail otherwise */
        } else if (!fl_wire_dec_error(d)[0]) {
            abort();                /* a failure always says why */
        }
        free(msg);
        off += len;
    }
    fl_wire_dec_free(&d);
    return 0;
}

/* ---- seeds --------------------------------------------------------------- */

static const struct fl_col_def seed_cols[] = {
    { "proto", FL_T_U8 }, { "src_port", FL_T_U16 }, { "in_if", FL_T_U32 },
    { "bytes", FL_T_U64 }, { "delta", FL_T_I64 }, { "score", FL_T_F64 },
    { "ok", FL_T_BOOL }, { "flow_start", FL_T_TS }, { "duration", FL_T_DUR },
    { "src_addr", FL_T_ADDR }, { "src_mac", FL_T_MAC }, { "end_reason", FL_T_STR },
    { "payload", FL_T_BYTES },
};

static struct fl_batch *seed_batch(const struct fl_schema *s, uint32_t rows, uint32_t ncols)
{
    struct fl_batch *b;
    if (fl_batch_new(fuzz_ctx, s, rows ? rows : 1, &b) < 0)
        exit(1);
    for (uint32_t i = 0; i < ncols; i++) {
        enum fl_type t = s->cols[i]->type;
        for (uint32_t r = 0; r < rows; r++) {
            if (t == FL_T_STR || t == FL_T_BYTES) {
                if (fl_batch_put_bytes(b, "idle-timeout", r % 13,
                                       &FL_COL(b, i, struct fl_span)[r]) < 0)
                    exit(1);
            } else {
                memset((uint8_t *)b->data[i] + r * fl_type_size(t), (int)(r + i),
                       fl_type_size(t));
            }
            if ((r + i) % 5 == 0 && fl_batch_set_missing(b, i, r) < 0)
                exit(1);
        }
    }
    b->rows = rows;
    b->t_min = 1000;
    b->t_max = 2000 + rows;
    return b;
}

static void seed_write(const char *dir, const char *name, const struct fl_wire_buf *w)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(w->p, 1, w->len, f) != w->len || fclose(f) != 0)
        exit(1);
}

static void fuzz_write_seeds(const char *dir)
{
    static const uint32_t rows[] = { 0, 1, 3, 64, 65, 200 };
    unsigned n = 0;
    if (!(fuzz_ctx = fl_test_ctx_new()))
        exit(1);
    for (uint32_t ncols = 1; ncols <= 13; ncols += 3) {
        const struct fl_schema *s;
        if (fl_schema_intern(fuzz_ctx, seed_cols, ncols, sizeof(seed_cols[0]), &s) < 0)
            exit(1);
        for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
            struct fl_wire_buf w = { 0 };
            struct fl_batch *b = seed_batch(s, rows[k], ncols);
            char name[64];
            if (fl_wire_encode(b, 0, &w) < 0)
                exit(1);
            snprintf(name, sizeof name, "batch_%u_%u", ncols, rows[k]);
            seed_write(dir, name, &w);
            /* a stream: the full form, then the short one */
            if (fl_wire_encode(b, FL_WIRE_NO_SCHEMA, &w) < 0)
                exit(1);
            snprintf(name, sizeof name, "stream_%u_%u", ncols, rows[k]);
            seed_write(dir, name, &w);
            n += 2;
            fl_wire_buf_free(&w);
            fl_batch_release(&b);
        }
    }
    printf("%u batch seeds in %s\n", n, dir);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (*argc == 3 && strcmp((*argv)[1], "--write-seeds") == 0)
        fuzz_write_seeds((*argv)[2]);
    return 0;
}
