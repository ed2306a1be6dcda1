/* fuzz_kafka_msg.c: libFuzzer target for input.kafka's message parsers
 * (plugins/input/kafka/kafka_parse.c: one json object or csv row into a
 * row of a schema with a column of every type, values through
 * fl_text_parse). The first byte picks json or csv, the rest is the
 * message, parsed from an exact-size copy (a read past it is caught).
 * Checks: no crash; a message that parses, written back as JSON with the
 * text layout, parses again and writes the same text (what flowline writes
 * it reads back unchanged). Seeds: kafka_msg_seeds/. */
#include <stdlib.h>
#include <string.h>
#include "fl_harness.h"
#include "kafka_int.h"

static const struct fl_col_def fuzz_cols[] = {
    { "u8", FL_T_U8 }, { "u16", FL_T_U16 }, { "u32", FL_T_U32 }, { "u64", FL_T_U64 },
    { "i64", FL_T_I64 }, { "f64", FL_T_F64 }, { "bool", FL_T_BOOL }, { "ts", FL_T_TS },
    { "dur", FL_T_DUR }, { "addr", FL_T_ADDR }, { "mac", FL_T_MAC }, { "str", FL_T_STR },
    { "bytes", FL_T_BYTES },
};
#define NCOLS (sizeof(fuzz_cols) / sizeof(fuzz_cols[0]))
static const char *const fuzz_names[NCOLS] = {
    "u8", "u16", "u32", "u64", "i64", "f64", "bool", "ts", "dur", "addr", "mac", "str", "bytes",
};

static struct fl_ctx *ctx;
static const struct fl_schema *schema;
static struct fl_text_layout *lay;

static int parse_json_text(struct kafka_parser *ps, const char *p, size_t n,
                           struct fl_text_buf *out)
{
    struct fl_batch *b;
    if (fl_batch_new(ctx, schema, 1, &b) < 0)
        abort();
    int rc = kafka_parse_json(ps, p, n, b, 0);
    if (rc == 0) {
        uint32_t r = 0;
        b->rows = 1;
        out->len = 0;
        if (fl_text_layout_rows(lay, b, &r, out, 0) < 0)
            abort();
    }
    fl_batch_release(&b);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx) {
        ctx = fl_test_ctx_new();
        struct fl_text_style st = { .format = FL_TEXT_JSON };
        if (fl_schema_intern(ctx, fuzz_cols, NCOLS, sizeof(fuzz_cols[0]), &schema) < 0
            || fl_text_layout_new(&st, schema, NULL, NULL, 0, &lay) < 0)
            abort();
    }
    if (size < 1)
        return 0;
    bool seen[NCOLS];
    struct kafka_parser ps = { .names = fuzz_names, .seen = seen, .sep = ',' };
    size_t n = size - 1;
    char *msg = malloc(n ? n : 1);
    memcpy(msg, data + 1, n);
    struct fl_text_buf one = { 0 }, two = { 0 };
    if (data[0] & 1) {
        struct fl_batch *b;
        if (fl_batch_new(ctx, schema, 1, &b) < 0)
            abort();
        if (kafka_parse_csv(&ps, msg, n, b, 0) == 0) {
            uint32_t r = 0;
            b->rows = 1;
            if (fl_text_layout_rows(lay, b, &r, &one, 0) < 0)
                abort();
        }
        fl_batch_release(&b);
    } else {
        parse_json_text(&ps, msg, n, &one);
    }
    if (one.len) {   /* what parsed, written as JSON, reads back the same */
        char *again = malloc(one.len);
        memcpy(again, one.p, one.len);
        if (parse_json_text(&ps, again, one.len, &two) != 0 || two.len != one.len
            || memcmp(one.p, two.p, one.len) != 0)
            abort();
        free(again);
    }
    fl_text_buf_free(&one);
    fl_text_buf_free(&two);
    fl_text_buf_free(&ps.buf);
    fl_text_buf_free(&ps.key);
    free(msg);
    return 0;
}
