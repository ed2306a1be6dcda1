/* test_cql.c: output.cassandra's CQL v4 codec in memory: every kind of
 * response a server sends (cql_build.h) decoded field by field, every
 * truncation and a trailing byte refused, requests byte for byte as the
 * spec lays them out, and each value conversion's exact bytes (integers of
 * every width and their range, varint and decimal, float/double, text
 * forms, UTF-8 and ASCII repair, inet, timestamp, date, blob, nulls). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cql.h"
#include "cql_build.h"
#include "fl_harness.h"

static struct cql_col bcols[CQL_MAX_COLS], rcols[CQL_MAX_COLS];

/* The frames of w, in order. */
static size_t frames(const struct cql_wr *w, size_t *off, size_t max)
{
    size_t n = 0, o = 0;
    while (o + CQL_HDR_LEN <= w->len && n < max) {
        struct cql_hdr h;
        assert_int_equal(cql_hdr_decode(w->p + o, w->len - o, &h), 0);
        off[n++] = o;
        o += CQL_HDR_LEN + h.length;
    }
    assert_int_equal(o, w->len);
    return n;
}

static int decode_at(const struct cql_wr *w, size_t off, struct cql_resp *r)
{
    struct cql_hdr h;
    assert_int_equal(cql_hdr_decode(w->p + off, w->len - off, &h), 0);
    return cql_resp_decode(&h, w->p + off + CQL_HDR_LEN, bcols, rcols, r);
}

static bool eq(struct cql_slice s, const char *t)
{
    return !s.null && s.len == strlen(t) && memcmp(s.p, t, s.len) == 0;
}

static void test_every_response(void **state)
{
    (void)state;
    struct cql_wr w = { 0 };
    size_t off[64];
    struct cql_resp *r = malloc(sizeof *r);
    cql_build_all(&w);
    assert_int_equal(w.err, 0);
    size_t n = frames(&w, off, 64);
    assert_int_equal(n, 33);
    for (size_t i = 0; i < n; i++)
        if (decode_at(&w, off[i], r) != 0)
            fail_msg("frame %zu (opcode 0x%02x) does not decode", i, w.p[off[i] + 4]);

    assert_int_equal(decode_at(&w, off[1], r), 0);
    assert_true(eq(r->authenticator, "org.apache.cassandra.auth.PasswordAuthenticator"));
    assert_int_equal(decode_at(&w, off[2], r), 0);
    assert_true(r->token.null);
    assert_int_equal(decode_at(&w, off[3], r), 0);
    assert_true(eq(r->token, "tok"));
    assert_int_equal(decode_at(&w, off[4], r), 0);
    assert_int_equal(r->n_options, 2);
    assert_true(eq(r->cql_version, "3.4.5"));

    /* errors: 5 + index in cql_build_all's list */
    assert_int_equal(decode_at(&w, off[5 + 3], r), 0);       /* Unavailable */
    assert_int_equal(r->error.code, CQL_E_UNAVAILABLE);
    assert_true(eq(r->error.message, "message"));
    assert_int_equal(r->error.consistency, CQL_QUORUM);
    assert_int_equal(r->error.required, 2);
    assert_int_equal(r->error.alive, 1);
    assert_true(cql_error_retryable(r->error.code));
    assert_int_equal(decode_at(&w, off[5 + 7], r), 0);       /* Write_timeout */
    assert_int_equal(r->error.code, CQL_E_WRITE_TIMEOUT);
    assert_int_equal(r->error.received, 0);
    assert_int_equal(r->error.blockfor, 1);
    assert_true(eq(r->error.write_type, "BATCH_LOG"));
    assert_int_equal(decode_at(&w, off[5 + 9], r), 0);       /* Read_failure */
    assert_int_equal(r->error.numfailures, 2);
    assert_int_equal(decode_at(&w, off[5 + 10], r), 0);      /* Function_failure */
    assert_true(eq(r->error.function, "fn"));
    assert_int_equal(r->error.n_arg_types, 2);
    assert_int_equal(decode_at(&w, off[5 + 11], r), 0);      /* Write_failure */
    assert_true(eq(r->error.write_type, "SIMPLE"));
    assert_int_equal(decode_at(&w, off[5 + 12], r), 0);      /* Syntax */
    assert_false(cql_error_retryable(r->error.code));
    assert_string_equal(cql_error_name(r->error.code), "Syntax_error");
    assert_int_equal(decode_at(&w, off[5 + 16], r), 0);      /* Already_exists */
    assert_true(eq(r->error.keyspace, "flows") && eq(r->error.table, "t"));
    assert_int_equal(decode_at(&w, off[5 + 17], r), 0);      /* Unprepared */
    assert_int_equal(r->error.unprepared_id.len, 16);

    assert_int_equal(decode_at(&w, off[24], r), 0);          /* Void with every flag */
    assert_int_equal(r->kind, CQL_RESULT_VOID);
    assert_int_equal(r->tracing_id.len, 16);
    assert_int_equal(r->n_warnings, 1);
    assert_int_equal(memcmp(r->warning0.p, "Batch for", 9), 0);
    assert_int_equal(decode_at(&w, off[25], r), 0);
    assert_true(eq(r->keyspace, "flows"));
    assert_int_equal(decode_at(&w, off[27], r), 0);
    assert_true(eq(r->target, "TABLE") && eq(r->sc_name, "flowfeaturess"));
    assert_int_equal(decode_at(&w, off[28], r), 0);
    assert_int_equal(r->n_sc_args, 1);

    assert_int_equal(decode_at(&w, off[29], r), 0);          /* Prepared */
    assert_int_equal(r->kind, CQL_RESULT_PREPARED);
    assert_int_equal(r->prepared_id.len, 16);
    assert_int_equal(r->prepared_id.p[0], 0x8f);
    assert_int_equal(r->bind.ncols, 4);
    assert_int_equal(r->n_pk, 2);
    assert_int_equal(r->pk[1], 1);
    assert_true(eq(r->bind.cols[2].name, "srcp") && eq(r->bind.cols[2].table, "flowfeaturess"));
    assert_int_equal(r->bind.cols[0].type, CQL_T_VARCHAR);
    assert_int_equal(r->bind.cols[3].type, CQL_T_DOUBLE);
    assert_true(r->result.no_metadata);

    assert_int_equal(decode_at(&w, off[30], r), 0);          /* Rows */
    assert_int_equal(r->result.ncols, 5);
    assert_int_equal(r->nrows, 2);
    assert_true(eq(r->result.paging_state, "page"));
    assert_int_equal(r->result.cols[1].type, CQL_T_MAP);
    assert_int_equal(r->result.cols[2].type, CQL_T_UDT);
    assert_int_equal(r->result.cols[3].type, CQL_T_TUPLE);
    assert_int_equal(r->result.cols[4].type, CQL_T_CUSTOM);
    assert_true(eq(r->result.cols[4].ks, "ks") && eq(r->result.cols[4].name, "c"));
    assert_int_equal(r->rows.len, 2 * (8 + 4 + 7 + 4 + 7));

    assert_int_equal(decode_at(&w, off[31], r), 0);          /* EVENT */
    assert_true(eq(r->event_type, "STATUS_CHANGE") && eq(r->change_type, "DOWN"));
    assert_int_equal(r->h.stream, -1);
    free(r);
    cql_wr_free(&w);
}

/* Every frame cut short at every length, and with one byte too many. */
static void test_truncated_and_trailing(void **state)
{
    (void)state;
    struct cql_wr w = { 0 };
    size_t off[64];
    struct cql_resp *r = malloc(sizeof *r);
    cql_build_all(&w);
    size_t n = frames(&w, off, 64);
    for (size_t i = 0; i < n; i++) {
        struct cql_hdr h;
        assert_int_equal(cql_hdr_decode(w.p + off[i], w.len - off[i], &h), 0);
        uint32_t full = h.length;
        for (uint32_t len = 0; len <= full + 1; len++) {
            uint8_t *b = malloc(len + 1);
            memcpy(b, w.p + off[i] + CQL_HDR_LEN, len < full ? len : full);
            if (len > full)
                b[full] = 0;   /* one byte the message does not account for */
            h.length = len;
            int rc = cql_resp_decode(&h, b, bcols, rcols, r);
            if (len == full)
                assert_int_equal(rc, 0);
            else if (!(len == 0 && full == 0))
                assert_int_equal(rc, -FL_EPROTO);
            free(b);
        }
    }
    /* headers: short, request direction, oversized body */
    struct cql_hdr h;
    uint8_t hb[9] = { 0x84, 0, 0, 1, 8, 0, 0, 0, 4 };
    assert_int_equal(cql_hdr_decode(hb, 8, &h), -FL_EAGAIN);
    assert_int_equal(cql_hdr_decode(hb, 9, &h), 0);
    assert_int_equal(h.stream, 1);
    hb[0] = 0x04;
    assert_int_equal(cql_hdr_decode(hb, 9, &h), -FL_EPROTO);
    hb[0] = 0x84;
    hb[5] = 0x20;
    assert_int_equal(cql_hdr_decode(hb, 9, &h), -FL_EPROTO);
    /* a compressed frame: never negotiated */
    h = (struct cql_hdr){ .version = 0x84, .flags = CQL_FLAG_COMPRESSION, .opcode = CQL_OP_READY };
    assert_int_equal(cql_resp_decode(&h, hb, bcols, rcols, r), -FL_EPROTO);
    /* a request opcode from the server */
    h = (struct cql_hdr){ .version = 0x84, .opcode = CQL_OP_QUERY };
    assert_int_equal(cql_resp_decode(&h, hb, bcols, rcols, r), -FL_EPROTO);
    free(r);
    cql_wr_free(&w);
}

static void test_too_many_columns(void **state)
{
    (void)state;
    struct cql_wr w = { 0 };
    struct cql_resp *r = malloc(sizeof *r);
    size_t f = cqlb_begin(&w, CQL_OP_RESULT, 0, 0);
    cql_wr_i32(&w, CQL_RESULT_ROWS);
    cql_wr_i32(&w, 0x0004);
    cql_wr_i32(&w, CQL_MAX_COLS + 1);
    cql_wr_i32(&w, 0);
    cql_wr_frame_end(&w, f);
    assert_int_equal(decode_at(&w, 0, r), -FL_ERANGE);
    free(r);
    cql_wr_free(&w);
}

static void test_requests(void **state)
{
    (void)state;
    struct cql_wr w = { 0 };
    cql_req_startup(&w, 0);
    static const uint8_t startup[] = { 4, 0, 0, 0, 1, 0, 0, 0, 22, 0, 1, 0, 11, 'C', 'Q', 'L', '_',
                                       'V', 'E', 'R', 'S', 'I', 'O', 'N', 0, 5, '3', '.', '0', '.',
                                       '0' };
    assert_int_equal(w.len, sizeof startup);
    assert_memory_equal(w.p, startup, sizeof startup);

    w.len = 0;
    cql_req_auth_plain(&w, 3, "u", "pw");
    static const uint8_t auth[] = { 4, 0, 0, 3, 0x0f, 0, 0, 0, 9, 0, 0, 0, 5, 0, 'u', 0, 'p', 'w' };
    assert_int_equal(w.len, sizeof auth);
    assert_memory_equal(w.p, auth, sizeof auth);

    w.len = 0;
    struct cql_slice id = { .p = (const uint8_t *)"ID", .len = 2 };
    size_t f = cql_req_execute_begin(&w, 0x1234, id, CQL_LOCAL_ONE, 1);
    cql_wr_bytes(&w, "\x01", 1);
    cql_req_execute_end(&w, f);
    static const uint8_t exec[] = { 4, 0, 0x12, 0x34, 0x0a, 0, 0, 0, 14, 0, 2, 'I', 'D', 0, 0x0a,
                                    0x01, 0, 1, 0, 0, 0, 1, 1 };
    assert_int_equal(w.len, sizeof exec);
    assert_memory_equal(w.p, exec, sizeof exec);

    w.len = 0;
    f = cql_req_batch_begin(&w, 7, CQL_BATCH_UNLOGGED, 2);
    for (int i = 0; i < 2; i++) {
        cql_req_batch_stmt(&w, id, 1);
        cql_wr_null(&w);
    }
    cql_req_batch_end(&w, f, CQL_QUORUM);
    static const uint8_t batch[] = { 4, 0, 0, 7, 0x0d, 0, 0, 0, 28, 1, 0, 2,
                                     1, 0, 2, 'I', 'D', 0, 1, 0xff, 0xff, 0xff, 0xff,
                                     1, 0, 2, 'I', 'D', 0, 1, 0xff, 0xff, 0xff, 0xff,
                                     0, 4, 0 };
    assert_int_equal(w.len, sizeof batch);
    assert_memory_equal(w.p, batch, sizeof batch);
    cql_wr_free(&w);
}

/* One value's [value] bytes (length prefix included) as hex. */
static int put(uint16_t code, enum fl_type t, const void *cell, const struct fl_batch *b,
               enum cql_time_unit unit, char *hex)
{
    struct cql_wr w = { 0 };
    int rc = cql_value_put(&w, code, t, cell, b, unit);
    assert_int_equal(w.err, 0);
    for (size_t i = 0; i < w.len; i++)
        sprintf(hex + 2 * i, "%02x", w.p[i]);
    hex[2 * w.len] = 0;
    cql_wr_free(&w);
    return rc;
}

static void test_values(void **state)
{
    (void)state;
    char h[256];
    uint8_t u8 = 200;
    uint16_t u16 = 443;
    uint32_t u32 = 70000;
    uint64_t u64 = 0x8000000000000000ull, small = 5;
    int64_t neg = -129;
    double d = 0.1, nan_ = NAN, big = 1e20, half = 2.5;
    bool yes = true;

    /* integers of each width, in range and out of it (null, -FL_ERANGE) */
    assert_int_equal(put(CQL_T_INT, FL_T_U16, &u16, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000004000001bb");
    assert_int_equal(put(CQL_T_SMALLINT, FL_T_U8, &u8, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000000200c8");
    assert_int_equal(put(CQL_T_TINYINT, FL_T_U8, &u8, NULL, CQL_UNIT_MS, h), -FL_ERANGE);
    assert_string_equal(h, "ffffffff");
    assert_int_equal(put(CQL_T_TINYINT, FL_T_I64, &neg, NULL, CQL_UNIT_MS, h), -FL_ERANGE);
    assert_int_equal(put(CQL_T_SMALLINT, FL_T_I64, &neg, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000002ff7f");
    assert_int_equal(put(CQL_T_INT, FL_T_U32, &u32, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000000400011170");
    assert_int_equal(put(CQL_T_BIGINT, FL_T_U64, &u64, NULL, CQL_UNIT_MS, h), -FL_ERANGE);
    assert_int_equal(put(CQL_T_COUNTER, FL_T_U64, &small, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "000000080000000000000005");
    assert_int_equal(put(CQL_T_BIGINT, FL_T_BOOL, &yes, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "000000080000000000000001");
    /* varint: fewest two's complement bytes */
    assert_int_equal(put(CQL_T_VARINT, FL_T_U64, &u64, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000009008000000000000000");
    assert_int_equal(put(CQL_T_VARINT, FL_T_I64, &neg, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000002ff7f");
    assert_int_equal(put(CQL_T_VARINT, FL_T_U8, &u8, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000000200c8");
    assert_int_equal(put(CQL_T_VARINT, FL_T_U64, &small, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000000105");
    /* doubles into integers round to nearest (2.5 -> 3, away from zero) */
    assert_int_equal(put(CQL_T_INT, FL_T_F64, &half, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000000400000003");
    assert_int_equal(put(CQL_T_INT, FL_T_F64, &nan_, NULL, CQL_UNIT_MS, h), -FL_ERANGE);
    assert_int_equal(put(CQL_T_INT, FL_T_F64, &big, NULL, CQL_UNIT_MS, h), -FL_ERANGE);
    /* floating point */
    assert_int_equal(put(CQL_T_DOUBLE, FL_T_F64, &d, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "000000083fb999999999999a");
    assert_int_equal(put(CQL_T_FLOAT, FL_T_F64, &d, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "000000043dcccccd");
    assert_int_equal(put(CQL_T_DOUBLE, FL_T_U16, &u16, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000008407bb00000000000");
    /* decimal from the shortest text: 0.1 is 1 at scale 1; 1e20 is 1 at scale -20 */
    assert_int_equal(put(CQL_T_DECIMAL, FL_T_F64, &d, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "000000050000000101");
    assert_int_equal(put(CQL_T_DECIMAL, FL_T_F64, &big, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000005ffffffec01");
    assert_int_equal(put(CQL_T_DECIMAL, FL_T_U16, &u16, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "000000060000000001bb");
    assert_int_equal(put(CQL_T_BOOLEAN, FL_T_BOOL, &yes, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000000101");

    /* time: ts 2026-01-01T00:00:01.234567891Z, dur 1.5 s */
    uint64_t ts = 1767225601234567891ull;
    int64_t dur = 1500000000;
    assert_int_equal(put(CQL_T_TIMESTAMP, FL_T_TS, &ts, NULL, CQL_UNIT_S, h), 0);
    assert_string_equal(h, "000000080000019b76daacd2");   /* 1767225601234 ms */
    assert_int_equal(put(CQL_T_BIGINT, FL_T_TS, &ts, NULL, CQL_UNIT_S, h), 0);
    assert_string_equal(h, "00000008000000006955b901");   /* 1767225601 s */
    assert_int_equal(put(CQL_T_INT, FL_T_DUR, &dur, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000004000005dc");           /* 1500 ms */
    assert_int_equal(put(CQL_T_BIGINT, FL_T_DUR, &dur, NULL, CQL_UNIT_US, h), 0);
    assert_string_equal(h, "00000008000000000016e360");   /* 1500000 us */
    assert_int_equal(put(CQL_T_DOUBLE, FL_T_DUR, &dur, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "000000083ff8000000000000");   /* 1.5 s */
    assert_int_equal(put(CQL_T_DATE, FL_T_TS, &ts, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000000480004fe6");           /* 2^31 + 20454 days */
    assert_int_equal(put(CQL_T_TIME, FL_T_TS, &ts, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000000800000000499602d3");   /* 1.234567891 s after midnight */
    assert_int_equal(put(CQL_T_VARCHAR, FL_T_TS, &ts, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000001e323032362d30312d30315430303a30303a30312e3233343536373839315a");
    assert_int_equal(put(CQL_T_VARCHAR, FL_T_DUR, &dur, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000003312e35");               /* "1.5" */

    /* addresses: inet by family, text as output.csv, blob of 16 */
    struct fl_addr v4 = { .b = { [10] = 0xff, [11] = 0xff, [12] = 192, [13] = 0, [14] = 2, [15] = 1 } };
    struct fl_addr v6 = { .b = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
    assert_int_equal(put(CQL_T_INET, FL_T_ADDR, &v4, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000004c0000201");
    assert_int_equal(put(CQL_T_INET, FL_T_ADDR, &v6, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000001020010db8000000000000000000000001");
    assert_int_equal(put(CQL_T_VARCHAR, FL_T_ADDR, &v4, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "000000093139322e302e322e31");  /* "192.0.2.1" */
    assert_int_equal(put(CQL_T_ASCII, FL_T_ADDR, &v6, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000000b323030313a6462383a3a31");  /* "2001:db8::1" */
    assert_int_equal(put(CQL_T_VARCHAR, FL_T_U8, &u8, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000003323030");          /* proto as text: "200" */
    assert_int_equal(put(CQL_T_BLOB, FL_T_ADDR, &v4, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000001000000000000000000000ffffc0000201");
    uint8_t mac[6] = { 0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e };
    assert_int_equal(put(CQL_T_VARCHAR, FL_T_MAC, mac, NULL, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000001130303a31613a32623a33633a34643a3565");

    /* refused pairings write a null */
    assert_non_null(cql_conv_why_not(FL_T_ADDR, CQL_T_INT));
    assert_non_null(cql_conv_why_not(FL_T_U32, CQL_T_INET));
    assert_non_null(cql_conv_why_not(FL_T_STR, CQL_T_UUID));
    assert_null(cql_conv_why_not(FL_T_ADDR, CQL_T_VARCHAR));
    assert_int_equal(put(CQL_T_INET, FL_T_U32, &u32, NULL, CQL_UNIT_MS, h), -FL_ETYPE);
    assert_string_equal(h, "ffffffff");
}

/* str cells come from a batch arena: UTF-8 repaired, ASCII '?' */
static void test_strings(void **state)
{
    (void)state;
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    static const struct fl_col_def cols[] = { { "application", FL_T_STR }, { "payload", FL_T_BYTES } };
    assert_int_equal(fl_schema_intern(ctx, cols, 2, sizeof cols[0], &s), 0);
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(ctx, s, 4, &b), 0);
    struct fl_span sp[4];
    assert_int_equal(fl_batch_put_bytes(b, "caf\xc3\xa9", 5, &sp[0]), 0);        /* valid */
    assert_int_equal(fl_batch_put_bytes(b, "a\xff\xc3z\xe2\x82", 6, &sp[1]), 0); /* invalid */
    assert_int_equal(fl_batch_put_bytes(b, "\xed\xa0\x80!", 4, &sp[2]), 0);      /* surrogate */
    assert_int_equal(fl_batch_put_bytes(b, "", 0, &sp[3]), 0);
    char h[256];
    assert_int_equal(put(CQL_T_VARCHAR, FL_T_STR, &sp[0], b, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000005636166c3a9");
    assert_int_equal(put(CQL_T_VARCHAR, FL_T_STR, &sp[1], b, CQL_UNIT_MS, h), 0);
    /* a, U+FFFD (ff), U+FFFD (c3), z, U+FFFD (e2 82 cut short) */
    assert_string_equal(h, "0000000b61efbfbdefbfbd7aefbfbd");
    assert_int_equal(put(CQL_T_VARCHAR, FL_T_STR, &sp[2], b, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000004efbfbd21");
    assert_int_equal(put(CQL_T_ASCII, FL_T_STR, &sp[0], b, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000005636166" "3f3f");
    assert_int_equal(put(CQL_T_VARCHAR, FL_T_STR, &sp[3], b, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "00000000");
    assert_int_equal(put(CQL_T_BLOB, FL_T_BYTES, &sp[1], b, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000000661ffc37ae282");
    assert_int_equal(put(CQL_T_VARCHAR, FL_T_BYTES, &sp[1], b, CQL_UNIT_MS, h), 0);
    assert_string_equal(h, "0000000c363166666333376165323832");  /* hex text */
    fl_batch_release(&b);
    fl_test_ctx_destroy(&ctx);
}

static void test_names(void **state)
{
    (void)state;
    uint16_t c;
    assert_int_equal(cql_type_from_name("TEXT", &c), 0);
    assert_int_equal(c, CQL_T_VARCHAR);
    assert_string_equal(cql_type_name(c), "text");
    assert_int_equal(cql_type_from_name("Inet", &c), 0);
    assert_int_equal(c, CQL_T_INET);
    assert_int_equal(cql_type_from_name("list<int>", &c), -FL_EINVAL);
    assert_int_equal(cql_consistency_from_name("LOCAL_QUORUM"), CQL_LOCAL_QUORUM);
    assert_int_equal(cql_consistency_from_name("most"), -FL_EINVAL);
    assert_int_equal(cql_type_default(FL_T_ADDR), CQL_T_INET);
    assert_int_equal(cql_type_default(FL_T_U8), CQL_T_SMALLINT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_response),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_too_many_columns),
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
