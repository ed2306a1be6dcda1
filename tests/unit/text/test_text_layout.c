/* test_text_layout.c: whole rows through plugins/lib/text/fl_text.h layouts: a batch
 * with a column of every type, missing values, strings that need quoting
 * or escaping, fields chosen by canonical, alias and IANA names, fields
 * the schema lacks, and the row limit. Expected text is written out in
 * full, so any change of format shows here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fl_text.h"
#include "fl_harness.h"

static const struct fl_col_def cols[] = {
    { "ts", FL_T_TS }, { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR },
    { "src_port", FL_T_U16 }, { "proto", FL_T_U8 }, { "packets", FL_T_U64 },
    { "n32", FL_T_U32 }, { "delta", FL_T_I64 }, { "avg", FL_T_F64 }, { "ok", FL_T_BOOL },
    { "duration", FL_T_DUR }, { "mac", FL_T_MAC }, { "name", FL_T_STR },
    { "blob", FL_T_BYTES },
};
#define NCOLS (sizeof cols / sizeof *cols)

struct fx {
    struct fl_ctx *ctx;
    const struct fl_schema *s;
    struct fl_batch *b;
    struct fl_text_buf out;
};

static void put_addr(struct fl_batch *b, uint32_t col, uint32_t row, const char *text)
{
    struct fl_addr *a = &FL_COL(b, col, struct fl_addr)[row];
    if (strchr(text, ':')) {
        assert_int_equal(inet_pton(AF_INET6, text, a->b), 1);
    } else {
        memset(a->b, 0, 10);
        a->b[10] = a->b[11] = 0xff;
        assert_int_equal(inet_pton(AF_INET, text, a->b + 12), 1);
    }
}

static void put_str(struct fl_batch *b, uint32_t col, uint32_t row, const char *s, size_t n)
{
    assert_int_equal(fl_batch_put_bytes(b, s, (uint32_t)n, &FL_COL(b, col, struct fl_span)[row]), 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->ctx = fl_test_ctx_new();
    assert_non_null(f->ctx);
    assert_int_equal(fl_schema_intern(f->ctx, cols, NCOLS, sizeof(cols[0]), &f->s), 0);
    assert_int_equal(fl_batch_new(f->ctx, f->s, 3, &f->b), 0);
    struct fl_batch *b = f->b;
    b->rows = 3;
    uint64_t ts[] = { 1767225600123456789ull, 1767225601000000000ull, 0 };
    memcpy(b->data[0], ts, sizeof ts);
    put_addr(b, 1, 0, "192.0.2.1");
    put_addr(b, 1, 1, "2001:db8::1");
    put_addr(b, 1, 2, "::");
    put_addr(b, 2, 0, "198.51.100.7");
    put_addr(b, 2, 1, "2001:db8:0:0:1::2");
    put_addr(b, 2, 2, "10.0.0.1");
    uint16_t sp[] = { 443, 65535, 0 };
    uint8_t pr[] = { 6, 17, 1 };
    uint64_t pk[] = { 10, UINT64_MAX, 0 };
    uint32_t n32[] = { 4000000000u, 1, 2 };
    int64_t dl[] = { -5, INT64_MIN, 7 };
    double avg[] = { 523.3333333333334, 0.1, 1e-7 };
    uint8_t ok[] = { 1, 0, 1 };
    int64_t dur[] = { 1250000000, 0, -1000 };
    uint8_t mac[] = { 0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                      1, 2, 3, 4, 5, 6 };
    memcpy(b->data[3], sp, sizeof sp);
    memcpy(b->data[4], pr, sizeof pr);
    memcpy(b->data[5], pk, sizeof pk);
    memcpy(b->data[6], n32, sizeof n32);
    memcpy(b->data[7], dl, sizeof dl);
    memcpy(b->data[8], avg, sizeof avg);
    memcpy(b->data[9], ok, sizeof ok);
    memcpy(b->data[10], dur, sizeof dur);
    memcpy(b->data[11], mac, sizeof mac);
    put_str(b, 12, 0, "plain", 5);
    put_str(b, 12, 1, "say \"hi\", \x01\n", 12);
    put_str(b, 12, 2, "", 0);
    put_str(b, 13, 0, "\x00\xff", 2);
    put_str(b, 13, 1, "", 0);
    put_str(b, 13, 2, "A", 1);
    /* Row 2: ts, src_port, avg, name missing. */
    assert_int_equal(fl_batch_set_missing(b, 0, 2), 0);
    assert_int_equal(fl_batch_set_missing(b, 3, 2), 0);
    assert_int_equal(fl_batch_set_missing(b, 8, 2), 0);
    assert_int_equal(fl_batch_set_missing(b, 12, 2), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fl_batch_release(&f->b);
    fl_text_buf_free(&f->out);
    fl_test_ctx_destroy(&f->ctx);
    free(f);
    return 0;
}

/* Format all rows (and the header) of f->b with names, as a C string. */
static const char *run(struct fx *f, enum fl_text_format fmt, enum fl_text_time tf,
                       char sep, const char *const *names, size_t n)
{
    struct fl_text_style st = { .format = fmt, .time = tf, .sep = sep };
    struct fl_text_layout *l;
    assert_int_equal(fl_text_layout_new(&st, f->s, names, NULL, n, &l), 0);
    f->out.len = 0;
    assert_int_equal(fl_text_layout_header(l, &f->out), 0);
    uint32_t row = 0;
    assert_int_equal(fl_text_layout_rows(l, f->b, &row, &f->out, SIZE_MAX), 0);
    assert_int_equal(row, 3);
    fl_text_layout_destroy(&l);
    assert_null(l);
    assert_int_equal(fl_text_buf_put(&f->out, "", 1), 0);
    return f->out.p;
}

static void test_csv_all(void **state)
{
    struct fx *f = *state;
    assert_string_equal(run(f, FL_TEXT_CSV, FL_TEXT_TIME_RFC3339, 0, NULL, 0),
        "ts,src_addr,dst_addr,src_port,proto,packets,n32,delta,avg,ok,duration,mac,name,blob\n"
        "2026-01-01T00:00:00.123456789Z,192.0.2.1,198.51.100.7,443,6,10,4000000000,-5,"
        "523.3333333333334,true,1.25,00:1a:2b:3c:4d:5e,plain,00ff\n"
        "2026-01-01T00:00:01.000000000Z,2001:db8::1,2001:db8::1:0:0:2,65535,17,"
        "18446744073709551615,1,-9223372036854775808,0.1,false,0,ff:ff:ff:ff:ff:ff,"
        "\"say \"\"hi\"\", \x01\n\",\"\"\n"
        ",::,10.0.0.1,,1,0,2,7,,true,-0.000001,01:02:03:04:05:06,,41\n");
}

static void test_json_all(void **state)
{
    struct fx *f = *state;
    assert_string_equal(run(f, FL_TEXT_JSON, FL_TEXT_TIME_RFC3339, 0, NULL, 0),
        "{\"ts\":\"2026-01-01T00:00:00.123456789Z\",\"src_addr\":\"192.0.2.1\","
        "\"dst_addr\":\"198.51.100.7\",\"src_port\":443,\"proto\":6,\"packets\":10,"
        "\"n32\":4000000000,\"delta\":-5,\"avg\":523.3333333333334,\"ok\":true,"
        "\"duration\":1.25,\"mac\":\"00:1a:2b:3c:4d:5e\",\"name\":\"plain\",\"blob\":\"00ff\"}\n"
        "{\"ts\":\"2026-01-01T00:00:01.000000000Z\",\"src_addr\":\"2001:db8::1\","
        "\"dst_addr\":\"2001:db8::1:0:0:2\",\"src_port\":65535,\"proto\":17,"
        "\"packets\":18446744073709551615,\"n32\":1,\"delta\":-9223372036854775808,"
        "\"avg\":0.1,\"ok\":false,\"duration\":0,\"mac\":\"ff:ff:ff:ff:ff:ff\","
        "\"name\":\"say \\\"hi\\\", \\u0001\\n\",\"blob\":\"\"}\n"
        "{\"ts\":null,\"src_addr\":\"::\",\"dst_addr\":\"10.0.0.1\",\"src_port\":null,"
        "\"proto\":1,\"packets\":0,\"n32\":2,\"delta\":7,\"avg\":null,\"ok\":true,"
        "\"duration\":-0.000001,\"mac\":\"01:02:03:04:05:06\",\"name\":null,\"blob\":\"41\"}\n");
}

/* Names as the user wrote them: alias and IANA name resolve to the column
 * and are printed as written; an unknown one is always missing. */
static void test_fields_by_name(void **state)
{
    struct fx *f = *state;
    const char *names[] = { "sport", "sourceIPv4Address", "nope", "proto", "ts" };
    struct fl_text_style st = { .format = FL_TEXT_CSV };
    struct fl_text_layout *l;
    assert_int_equal(fl_text_layout_new(&st, f->s, names, NULL, 5, &l), 0);
    assert_int_equal(fl_text_layout_nfields(l), 5);
    assert_int_equal(fl_text_layout_col(l, 0), 3);
    assert_int_equal(fl_text_layout_col(l, 1), 1);
    assert_int_equal(fl_text_layout_col(l, 2), -1);
    assert_ptr_equal(fl_text_layout_schema(l), f->s);
    fl_text_layout_destroy(&l);

    assert_string_equal(run(f, FL_TEXT_CSV, FL_TEXT_TIME_EPOCH_S, ';', names, 5),
        "sport;sourceIPv4Address;nope;proto;ts\n"
        "443;192.0.2.1;;6;1767225600.123456789\n"
        "65535;2001:db8::1;;17;1767225601\n"
        ";::;;1;\n");
    assert_string_equal(run(f, FL_TEXT_JSON, FL_TEXT_TIME_EPOCH_NS, 0, names, 5),
        "{\"sport\":443,\"sourceIPv4Address\":\"192.0.2.1\",\"nope\":null,\"proto\":6,"
        "\"ts\":1767225600123456789}\n"
        "{\"sport\":65535,\"sourceIPv4Address\":\"2001:db8::1\",\"nope\":null,\"proto\":17,"
        "\"ts\":1767225601000000000}\n"
        "{\"sport\":null,\"sourceIPv4Address\":\"::\",\"nope\":null,\"proto\":1,\"ts\":null}\n");
    /* Header cells and JSON keys are quoted/escaped like values. */
    const char *odd[] = { "a,b", "q\"k" };
    assert_string_equal(run(f, FL_TEXT_CSV, FL_TEXT_TIME_RFC3339, 0, odd, 2),
                        "\"a,b\",\"q\"\"k\"\n,\n,\n,\n");
    assert_string_equal(run(f, FL_TEXT_JSON, FL_TEXT_TIME_RFC3339, 0, odd, 2),
                        "{\"a,b\":null,\"q\\\"k\":null}\n{\"a,b\":null,\"q\\\"k\":null}\n"
                        "{\"a,b\":null,\"q\\\"k\":null}\n");
    assert_string_equal(run(f, FL_TEXT_JSON, FL_TEXT_TIME_RFC3339, 0, odd, 0), "{}\n{}\n{}\n");
}

/* Non-finite floats: CSV spells them, JSON has no such numbers. */
static void test_nonfinite(void **state)
{
    struct fx *f = *state;
    static const struct fl_col_def fc[] = { { "avg", FL_T_F64 } };
    const struct fl_schema *s;
    struct fl_batch *b;
    assert_int_equal(fl_schema_intern(f->ctx, fc, 1, sizeof(fc[0]), &s), 0);
    assert_int_equal(fl_batch_new(f->ctx, s, 3, &b), 0);
    double v[] = { 1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0 };
    memcpy(b->data[0], v, sizeof v);
    b->rows = 3;
    struct fl_batch *keep = f->b;
    const struct fl_schema *keep_s = f->s;
    f->b = b;
    f->s = s;
    assert_string_equal(run(f, FL_TEXT_CSV, 0, 0, NULL, 0), "avg\ninf\n-inf\nnan\n");
    assert_string_equal(run(f, FL_TEXT_JSON, 0, 0, NULL, 0),
                        "{\"avg\":null}\n{\"avg\":null}\n{\"avg\":null}\n");
    f->b = keep;
    f->s = keep_s;
    fl_batch_release(&b);
}

/* The limit stops at a row boundary, after at least one row. */
static void test_limit(void **state)
{
    struct fx *f = *state;
    struct fl_text_style st = { .format = FL_TEXT_CSV };
    struct fl_text_layout *l;
    const char *names[] = { "proto" };
    assert_int_equal(fl_text_layout_new(&st, f->s, names, NULL, 1, &l), 0);
    f->out.len = 0;
    uint32_t row = 0;
    assert_int_equal(fl_text_layout_rows(l, f->b, &row, &f->out, 1), 0);
    assert_int_equal(row, 1);
    assert_int_equal(fl_text_layout_rows(l, f->b, &row, &f->out, 3), 0);
    assert_int_equal(row, 2);
    assert_int_equal(fl_text_layout_rows(l, f->b, &row, &f->out, 0), 0);
    assert_int_equal(row, 3);
    assert_int_equal(fl_text_layout_rows(l, f->b, &row, &f->out, 0), 0);
    assert_int_equal(row, 3);
    assert_int_equal(f->out.len, 7);
    assert_memory_equal(f->out.p, "6\n17\n1\n", 7);
    /* A batch of another schema is refused. */
    const struct fl_schema *other;
    static const struct fl_col_def oc[] = { { "proto", FL_T_U8 } };
    assert_int_equal(fl_schema_intern(f->ctx, oc, 1, sizeof(oc[0]), &other), 0);
    struct fl_batch *ob;
    assert_int_equal(fl_batch_new(f->ctx, other, 1, &ob), 0);
    row = 0;
    assert_int_equal(fl_text_layout_rows(l, ob, &row, &f->out, 0), -FL_EINVAL);
    fl_batch_release(&ob);
    fl_text_layout_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_csv_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonfinite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
