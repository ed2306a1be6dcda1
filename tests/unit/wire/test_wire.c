/* test_wire.c: the binary batch encoding (core/src/wire.c,
 * docs/wire-format.md): a round trip of every column type with missing
 * values and strings, the schema cache, streams of messages, and
 * truncated or corrupted messages refused with a reason, never a crash
 * (ASan build: never a read past the buffer). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <flowline/wire.h>
#include "fl_harness.h"

static const struct fl_col_def all_cols[] = {
    { "proto", FL_T_U8 }, { "src_port", FL_T_U16 }, { "vlan_outer", FL_T_U32 },
    { "bytes", FL_T_U64 }, { "delta", FL_T_I64 }, { "score", FL_T_F64 },
    { "is_ok", FL_T_BOOL }, { "flow_start", FL_T_TS }, { "duration", FL_T_DUR },
    { "src_addr", FL_T_ADDR }, { "src_mac", FL_T_MAC }, { "end_reason", FL_T_STR },
    { "payload", FL_T_BYTES },
};
#define NCOLS (sizeof(all_cols) / sizeof(all_cols[0]))

/* Row r of every column; every 7th row of column (r % NCOLS) missing, and
 * the strings of varying length (empty ones too). */
static struct fl_batch *make_batch(struct fl_ctx *ctx, const struct fl_schema *s, uint32_t rows)
{
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(ctx, s, rows ? rows : 1, &b), 0);
    for (uint32_t r = 0; r < rows; r++) {
        FL_COL(b, 0, uint8_t)[r] = (uint8_t)(r * 3);
        FL_COL(b, 1, uint16_t)[r] = (uint16_t)(r * 257);
        FL_COL(b, 2, uint32_t)[r] = r * 65537u;
        FL_COL(b, 3, uint64_t)[r] = (uint64_t)r << 40 | 5;
        FL_COL(b, 4, int64_t)[r] = -(int64_t)r * 1000003;
        FL_COL(b, 5, double)[r] = r * 0.25 - 3.5;
        FL_COL(b, 6, uint8_t)[r] = r & 1;
        FL_COL(b, 7, uint64_t)[r] = 1767225600000000000ull + r;
        FL_COL(b, 8, int64_t)[r] = (int64_t)r * 1000 - 50;
        struct fl_addr a = { .b = { [10] = 0xff, [11] = 0xff, 192, 0, 2, (uint8_t)r } };
        if (r % 3 == 0)
            a = (struct fl_addr){ .b = { 0x20, 0x01, 0x0d, 0xb8, [15] = (uint8_t)r } };
        FL_COL(b, 9, struct fl_addr)[r] = a;
        uint8_t mac[6] = { 0, 0x1a, 0x2b, 0x3c, 0x4d, (uint8_t)r };
        memcpy(FL_COL(b, 10, uint8_t) + (size_t)r * 6, mac, 6);
        char text[32];
        int n = snprintf(text, sizeof text, "%.*s", (int)(r % 9), "reason-xyz");
        assert_int_equal(fl_batch_put_bytes(b, text, (uint32_t)n, &FL_COL(b, 11, struct fl_span)[r]), 0);
        uint8_t bin[4] = { 0, 0xff, (uint8_t)r, 0 };
        assert_int_equal(fl_batch_put_bytes(b, bin, r % 5, &FL_COL(b, 12, struct fl_span)[r]), 0);
        if (r % 7 == 0)
            assert_int_equal(fl_batch_set_missing(b, r % NCOLS, r), 0);
    }
    b->rows = rows;
    b->seq = 77;
    b->t_min = 1767225600000000000ull;
    b->t_max = 1767225600000000000ull + rows;
    return b;
}

static void assert_same(const struct fl_batch *a, const struct fl_batch *b)
{
    assert_ptr_equal(a->schema, b->schema);
    assert_int_equal(a->rows, b->rows);
    assert_int_equal(a->t_min, b->t_min);
    assert_int_equal(a->t_max, b->t_max);
    for (uint32_t i = 0; i < a->schema->ncols; i++) {
        enum fl_type t = a->schema->cols[i]->type;
        size_t cell = fl_type_size(t);
        for (uint32_t r = 0; r < a->rows; r++) {
            bool va = fl_batch_is_valid(a, i, r);
            assert_int_equal(va, fl_batch_is_valid(b, i, r));
            if (!va)
                continue;
            if (t == FL_T_STR || t == FL_T_BYTES) {
                struct fl_span sa = FL_COL(a, i, struct fl_span)[r];
                struct fl_span sb = FL_COL(b, i, struct fl_span)[r];
                assert_int_equal(sa.len, sb.len);
                if (sa.len)
                    assert_memory_equal(fl_batch_bytes(a, sa), fl_batch_bytes(b, sb), sa.len);
            } else {
                assert_memory_equal((const uint8_t *)a->data[i] + r * cell,
                                    (const uint8_t *)b->data[i] + r * cell, cell);
            }
        }
    }
}

struct fixture {
    struct fl_ctx *ctx;
    const struct fl_schema *s;
    struct fl_wire_dec *dec;
    struct fl_wire_buf buf;
};

static int setup(void **st)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->ctx = fl_test_ctx_new();
    assert_int_equal(fl_schema_intern(f->ctx, all_cols, NCOLS, sizeof(all_cols[0]), &f->s), 0);
    assert_int_equal(fl_wire_dec_new(f->ctx, 0, &f->dec), 0);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fixture *f = *st;
    fl_wire_buf_free(&f->buf);
    fl_wire_dec_free(&f->dec);
    assert_null(f->dec);
    fl_test_ctx_destroy(&f->ctx);
    free(f);
    return 0;
}

static void test_round_trip(void **st)
{
    struct fixture *f = *st;
    static const uint32_t sizes[] = { 0, 1, 63, 64, 65, 130, 4096 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        struct fl_batch *b = make_batch(f->ctx, f->s, sizes[k]), *d;
        size_t used;
        f->buf.len = 0;
        assert_int_equal(fl_wire_encode(b, 0, &f->buf), 0);
        assert_int_equal(fl_wire_decode(f->dec, f->buf.p, f->buf.len, &d, &used), 0);
        assert_int_equal(used, f->buf.len);
        assert_int_equal(d->seq, 77);
        assert_same(b, d);
        fl_batch_release(&b);
        fl_batch_release(&d);
    }
    /* one schema, many messages: interned once */
    assert_int_equal(fl_wire_dec_schemas_built(f->dec), 1);
}

static void test_missing_cells_are_zero(void **st)
{
    struct fixture *f = *st;
    struct fl_batch *b, *d;
    assert_int_equal(fl_batch_new(f->ctx, f->s, 3, &b), 0);
    memset(b->data[3], 0xab, 3 * 8);          /* whatever was in the column */
    for (uint32_t i = 0; i < NCOLS; i++)
        if (all_cols[i].type == FL_T_STR || all_cols[i].type == FL_T_BYTES)
            for (uint32_t r = 0; r < 3; r++)
                FL_COL(b, i, struct fl_span)[r] = (struct fl_span){ 0, 0 };
    b->rows = 3;
    assert_int_equal(fl_batch_set_missing(b, 3, 1), 0);
    assert_int_equal(fl_wire_encode(b, 0, &f->buf), 0);
    assert_int_equal(fl_wire_decode(f->dec, f->buf.p, f->buf.len, &d, NULL), 0);
    assert_false(fl_batch_is_valid(d, 3, 1));
    assert_true(fl_batch_is_valid(d, 3, 2));
    assert_int_equal(FL_COL(d, 3, uint64_t)[1], 0);   /* not 0xabab...: no memory leaks out */
    assert_int_equal(FL_COL(d, 3, uint64_t)[2], 0xababababababababull);
    fl_batch_release(&b);
    fl_batch_release(&d);
}

static void test_stream_and_schema_cache(void **st)
{
    struct fixture *f = *st;
    struct fl_batch *b = make_batch(f->ctx, f->s, 100), *d;
    struct fl_wire_dec *fresh;
    size_t used, first, mlen;

    assert_int_equal(fl_wire_encode(b, 0, &f->buf), 0);
    first = f->buf.len;
    assert_int_equal(fl_wire_encode(b, FL_WIRE_NO_SCHEMA, &f->buf), 0);
    assert_true(f->buf.len - first < first);          /* no schema block: shorter */
    assert_int_equal(fl_wire_peek(f->buf.p, f->buf.len, &mlen), 0);
    assert_int_equal(mlen, first);
    assert_int_equal(fl_wire_peek(f->buf.p, 10, &mlen), -FL_EAGAIN);

    /* a decoder that has not seen the schema refuses the short form */
    assert_int_equal(fl_wire_dec_new(f->ctx, 2, &fresh), 0);
    assert_int_equal(fl_wire_decode(fresh, f->buf.p + first, f->buf.len - first, &d, NULL),
                     -FL_ENOENT);
    assert_non_null(strstr(fl_wire_dec_error(fresh), "not seen"));
    /* the stream in order: the first message brings the schema */
    assert_int_equal(fl_wire_decode(fresh, f->buf.p, f->buf.len, &d, &used), 0);
    assert_int_equal(used, first);
    assert_same(b, d);
    fl_batch_release(&d);
    assert_int_equal(fl_wire_decode(fresh, f->buf.p + used, f->buf.len - used, &d, &used), 0);
    assert_same(b, d);
    fl_batch_release(&d);
    uint64_t fp;
    memcpy(&fp, f->buf.p + 24, 8);                    /* the header's fingerprint */
    assert_true(fp != 0);
    assert_int_equal(fl_wire_schema_fp(f->s), fp);

    /* a bounded cache: three schemas through two slots */
    const struct fl_schema *other[3];
    for (int k = 0; k < 3; k++) {
        struct fl_col_def c[] = { { "bytes", FL_T_U64 }, { k == 0 ? "a" : k == 1 ? "b" : "c", FL_T_U32 } };
        struct fl_batch *x;
        assert_int_equal(fl_schema_intern(f->ctx, c, 2, sizeof(c[0]), &other[k]), 0);
        assert_int_equal(fl_batch_new(f->ctx, other[k], 1, &x), 0);
        x->rows = 0;
        f->buf.len = 0;
        assert_int_equal(fl_wire_encode(x, 0, &f->buf), 0);
        assert_int_equal(fl_wire_decode(fresh, f->buf.p, f->buf.len, &d, NULL), 0);
        assert_ptr_equal(d->schema, other[k]);
        fl_batch_release(&d);
        fl_batch_release(&x);
    }
    assert_int_equal(fl_wire_dec_schemas_built(fresh), 4);
    fl_wire_dec_free(&fresh);
    fl_batch_release(&b);
}

static void test_truncated(void **st)
{
    struct fixture *f = *st;
    struct fl_batch *b = make_batch(f->ctx, f->s, 70), *d;
    assert_int_equal(fl_wire_encode(b, 0, &f->buf), 0);
    /* every prefix is refused: each a fresh copy of exactly that length */
    for (size_t n = 0; n < f->buf.len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, f->buf.p, n);
        assert_int_equal(fl_wire_decode(f->dec, cut, n, &d, NULL), -FL_EPROTO);
        assert_null(d);
        assert_true(fl_wire_dec_error(f->dec)[0] != 0);
        free(cut);
    }
    fl_batch_release(&b);
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void expect_refused(struct fixture *f, const uint8_t *msg, size_t len, const char *why)
{
    struct fl_batch *d;
    assert_int_equal(fl_wire_decode(f->dec, msg, len, &d, NULL), -FL_EPROTO);
    assert_null(d);
    if (!strstr(fl_wire_dec_error(f->dec), why))
        fail_msg("error \"%s\" lacks \"%s\"", fl_wire_dec_error(f->dec), why);
}

static void test_corrupted(void **st)
{
    struct fixture *f = *st;
    struct fl_batch *b = make_batch(f->ctx, f->s, 70), *d;
    assert_int_equal(fl_wire_encode(b, 0, &f->buf), 0);
    size_t len = f->buf.len;
    uint8_t *m = malloc(len);

#define FRESH() memcpy(m, f->buf.p, len)
    FRESH(); m[0] = 'X';
    expect_refused(f, m, len, "not a flowline batch");
    FRESH(); m[4] = 2;
    expect_refused(f, m, len, "version 2; this flowline reads version 1");
    FRESH(); wr32(m + 8, (uint32_t)len + 1);
    expect_refused(f, m, len, "truncated");
    FRESH(); wr32(m + 12, FL_WIRE_MAX_ROWS + 1);
    expect_refused(f, m, len, "exceed the limits");
    FRESH(); wr32(m + 12, 71);                      /* one row more than the cells */
    expect_refused(f, m, len, "column 0");
    /* a million rows claimed by a message of a few KB: refused before any
     * allocation for them (the short form: the decoder knows the schema) */
    {
        struct fl_batch *one = make_batch(f->ctx, f->s, 1);
        struct fl_wire_buf sh = { 0 };
        assert_int_equal(fl_wire_encode(one, FL_WIRE_NO_SCHEMA, &sh), 0);
        wr32(sh.p + 12, FL_WIRE_MAX_ROWS);
        expect_refused(f, sh.p, sh.len, "rows of 13 columns need at least");
        fl_wire_buf_free(&sh);
        fl_batch_release(&one);
    }
    FRESH(); wr32(m + 16, 12);                      /* a schema it knows, one column short */
    expect_refused(f, m, len, "header says 12 columns, its schema has 13");
    struct fl_wire_dec *keep = f->dec;              /* one it has not seen */
    assert_int_equal(fl_wire_dec_new(f->ctx, 0, &f->dec), 0);
    expect_refused(f, m, len, "after the last of 12 columns");
    fl_wire_dec_free(&f->dec);
    f->dec = keep;
    FRESH(); m[FL_WIRE_HEADER_SIZE + 1] ^= 0x40;    /* first name's length: fingerprint */
    expect_refused(f, m, len, "fingerprint");
    FRESH(); m[5] = 0x80;
    expect_refused(f, m, len, "unknown flags");
    /* the last column (bytes): its last length one more than its bytes */
    FRESH();
    size_t off = FL_WIRE_HEADER_SIZE + rd32(m + 20);
    size_t last = off;
    for (uint32_t i = 0; i < NCOLS; i++) {
        last = off;
        off += 4 + rd32(m + off);
    }
    assert_int_equal(off, len);
    size_t lens = last + 4 + 4 + (m[last + 4] & 1 ? 16 : 0);   /* 70 rows: 2 bitmap words */
    wr32(m + lens + 69 * 4, rd32(m + lens + 69 * 4) + 1);
    expect_refused(f, m, len, "lengths sum");
    FRESH(); m[last + 5] = 3;                         /* type code of the bytes column */
    expect_refused(f, m, len, "do not match");
    /* trailing bytes inside the message */
    uint8_t *big = calloc(1, len + 3);
    memcpy(big, f->buf.p, len);
    wr32(big + 8, (uint32_t)len + 3);
    expect_refused(f, big, len + 3, "after the last column");
    free(big);

    /* every single-byte change: refused or decoded, never a crash */
    for (size_t i = 0; i < len; i++) {
        FRESH();
        m[i] ^= 0x5a;
        if (fl_wire_decode(f->dec, m, len, &d, NULL) == 0)
            fl_batch_release(&d);
    }
    free(m);
    fl_batch_release(&b);
#undef FRESH
}

static void test_limits(void **st)
{
    struct fixture *f = *st;
    struct fl_batch *b;
    const struct fl_schema *s;
    char name[300];
    memset(name, 'n', sizeof name);
    name[299] = 0;
    struct fl_col_def c = { name, FL_T_U8 };
    assert_int_equal(fl_schema_intern(f->ctx, &c, 1, sizeof(c), &s), 0);
    assert_int_equal(fl_batch_new(f->ctx, s, 1, &b), 0);
    b->rows = 1;
    assert_int_equal(fl_wire_encode(b, 0, &f->buf), -FL_ERANGE);   /* name over 255 bytes */
    assert_int_equal(f->buf.len, 0);
    fl_batch_release(&b);
    assert_int_equal(fl_batch_new(f->ctx, f->s, FL_WIRE_MAX_ROWS + 1, &b), 0);
    b->rows = FL_WIRE_MAX_ROWS + 1;
    assert_int_equal(fl_wire_encode(b, 0, &f->buf), -FL_ERANGE);
    fl_batch_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_cells_are_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_and_schema_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
