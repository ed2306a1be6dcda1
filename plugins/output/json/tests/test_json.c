/* test_json.c: output.json loaded as a plugin through the harness: exact
 * lines for chosen fields (keys as the user wrote them), every field of
 * each batch's own schema when none are chosen, null for missing values,
 * time formats, rotation, counters, option errors, and every line parsed
 * back by Python's json module (strings with quotes, control characters
 * and invalid UTF-8 included). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <flowline/plugin.h>
#include "fl_harness.h"

static struct fl_ctx *tctx;
static const struct fl_schema *flow_s, *small_s, *str_s;
static char dir[64], path[128], yaml[512];

static const struct fl_col_def flow_cols[] = {
    { "flow_start", FL_T_TS }, { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR },
    { "src_port", FL_T_U16 }, { "proto", FL_T_U8 }, { "packets", FL_T_U64 },
    { "duration", FL_T_DUR }, { "ps_avg", FL_T_F64 }, { "src_mac", FL_T_MAC },
};
static const struct fl_col_def small_cols[] = { { "proto", FL_T_U8 }, { "bytes", FL_T_U64 } };
static const struct fl_col_def str_cols[] = { { "application", FL_T_STR } };

static int group_setup(void **state)
{
    tctx = fl_test_ctx_new();
    assert_non_null(tctx);
    assert_int_equal(fl_schema_intern(tctx, flow_cols, 9, sizeof(flow_cols[0]), &flow_s), 0);
    assert_int_equal(fl_schema_intern(tctx, small_cols, 2, sizeof(small_cols[0]), &small_s), 0);
    assert_int_equal(fl_schema_intern(tctx, str_cols, 1, sizeof(str_cols[0]), &str_s), 0);
    return 0;
}

static int group_teardown(void **state)
{
    fl_test_ctx_destroy(&tctx);
    return 0;
}

static int setup(void **state)
{
    assert_int_equal(fl_test_tmpdir("out_json", dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/flows.json", dir);
    return 0;
}

static int teardown(void **state)
{
    fl_test_rmdir(dir);
    return 0;
}

static struct fl_batch *flows(struct fl_harness *h, uint32_t n)
{
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(fl_harness_ctx(h), flow_s, n, &b), 0);
    for (uint32_t i = 0; i < n; i++) {
        FL_COL(b, 0, uint64_t)[i] = 1767225600000000000ull + i * 1500000000ull;
        struct fl_addr *a = &FL_COL(b, 1, struct fl_addr)[i];
        memset(a, 0, sizeof *a);
        a->b[10] = a->b[11] = 0xff;
        a->b[12] = 10;
        a->b[15] = (uint8_t)(1 + i);
        a = &FL_COL(b, 2, struct fl_addr)[i];
        memset(a, 0, sizeof *a);
        a->b[0] = 0x20; a->b[1] = 0x01; a->b[2] = 0x0d; a->b[3] = 0xb8;
        a->b[15] = (uint8_t)i;
        FL_COL(b, 3, uint16_t)[i] = (uint16_t)(1000 + i);
        FL_COL(b, 4, uint8_t)[i] = 17;
        FL_COL(b, 5, uint64_t)[i] = i;
        FL_COL(b, 6, int64_t)[i] = 250000000ll * i;
        FL_COL(b, 7, double)[i] = i / 3.0;
        uint8_t mac[6] = { 0x02, 0, 0, 0, 0, (uint8_t)i };
        memcpy((uint8_t *)b->data[8] + 6 * i, mac, 6);
    }
    if (n > 1)
        assert_int_equal(fl_batch_set_missing(b, 7, 1), 0);
    b->rows = n;
    return b;
}

static void push(struct fl_harness *h, struct fl_batch *b)
{
    assert_int_equal(fl_harness_push(h, b), 0);
    fl_batch_release(&b);
}

static void finish(struct fl_harness **h)
{
    assert_int_equal(fl_harness_drain(*h), 0);
    fl_harness_destroy(h);
}

static void test_all_fields(void **state)
{
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml, "{path: %s}", path);
    assert_int_equal(fl_harness_new("output.json", yaml, flow_s, &h), 0);
    push(h, flows(h, 2));
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(fl_harness_ctx(h), small_s, 1, &b), 0);
    FL_COL(b, 0, uint8_t)[0] = 6;
    FL_COL(b, 1, uint64_t)[0] = 1500;
    b->rows = 1;
    push(h, b);   /* another schema: its own keys */
    assert_int_equal(fl_harness_counter(h, "rows_written"), 3);
    assert_int_equal(fl_harness_drain(h), 0);
    uint64_t bytes = fl_harness_counter(h, "bytes_written");
    fl_harness_destroy(&h);
    char *s = fl_test_slurp(path, NULL);
    assert_non_null(s);
    assert_string_equal(s,
        "{\"flow_start\":\"2026-01-01T00:00:00.000000000Z\",\"src_addr\":\"10.0.0.1\","
        "\"dst_addr\":\"2001:db8::\",\"src_port\":1000,\"proto\":17,\"packets\":0,"
        "\"duration\":0,\"ps_avg\":0,\"src_mac\":\"02:00:00:00:00:00\"}\n"
        "{\"flow_start\":\"2026-01-01T00:00:01.500000000Z\",\"src_addr\":\"10.0.0.2\","
        "\"dst_addr\":\"2001:db8::1\",\"src_port\":1001,\"proto\":17,\"packets\":1,"
        "\"duration\":0.25,\"ps_avg\":null,\"src_mac\":\"02:00:00:00:00:01\"}\n"
        "{\"proto\":6,\"bytes\":1500}\n");
    assert_int_equal(strlen(s), bytes);
    free(s);
}

/* Keys as written (alias, IANA name), epoch times, an unknown-at-run-time
 * field of an open input as null. */
static void test_fields(void **state)
{
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml,
             "{path: %s, fields: [sport, sourceIPv4Address, first_seen, avgps, nothere], "
             "time_format: epoch_s}", path);
    assert_int_equal(fl_harness_new("output.json", yaml, NULL, &h), 0);
    push(h, flows(h, 2));
    finish(&h);
    char *s = fl_test_slurp(path, NULL);
    assert_non_null(s);
    assert_string_equal(s,
        "{\"sport\":1000,\"sourceIPv4Address\":\"10.0.0.1\",\"first_seen\":1767225600,"
        "\"avgps\":0,\"nothere\":null}\n"
        "{\"sport\":1001,\"sourceIPv4Address\":\"10.0.0.2\",\"first_seen\":1767225601.5,"
        "\"avgps\":null,\"nothere\":null}\n");
    free(s);
}

/* Many rows in rotated files, all parsed back by Python: every line an
 * object, every row once. */
static void test_rotation_python(void **state)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        skip();
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml, "{path: %s, rotate_size: 64KiB, time_format: epoch_ns}", path);
    assert_int_equal(fl_harness_new("output.json", yaml, flow_s, &h), 0);
    for (int k = 0; k < 20; k++)
        push(h, flows(h, 200));
    finish(&h);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import json,glob,sys\n"
             "rows = [json.loads(l) for f in glob.glob(sys.argv[1] + \"/*\") for l in open(f)]\n"
             "files = len(glob.glob(sys.argv[1] + \"/*\"))\n"
             "ok = all(r[\"src_port\"] - 1000 == r[\"packets\"] for r in rows)\n"
             "print(len(rows), files > 4, ok, sum(r[\"packets\"] for r in rows))' %s", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char got[256];
    size_t len = fread(got, 1, sizeof got - 1, p);
    got[len] = 0;
    assert_int_equal(pclose(p), 0);
    assert_string_equal(got, "4000 True True 398000\n");
}

static void test_strings_python(void **state)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        skip();
    static const struct { const char *s; size_t n; } vals[] = {
        { "plain", 5 }, { "q\"b\\s/", 6 }, { "\b\f\n\r\t", 5 }, { "\x01\x1f\x7f", 3 },
        { "a\0b", 3 }, { "caf\xc3\xa9 \xf0\x9f\x98\x80", 10 }, { "bad\xff\xc0\xaf|", 7 },
        { "\xed\xa0\x80", 3 }, { "", 0 },
    };
    size_t n = sizeof vals / sizeof *vals;
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml, "{path: %s}", path);
    assert_int_equal(fl_harness_new("output.json", yaml, str_s, &h), 0);
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(fl_harness_ctx(h), str_s, (uint32_t)n, &b), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(fl_batch_put_bytes(b, vals[i].s, (uint32_t)vals[i].n,
                                            &FL_COL(b, 0, struct fl_span)[i]), 0);
    b->rows = (uint32_t)n;
    push(h, b);
    finish(&h);
    /* What Python decodes must equal the input decoded with "replace". */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import json,sys\n"
             "want = [b\"plain\", b\"q\\\"b\\\\s/\", b\"\\b\\f\\n\\r\\t\", b\"\\x01\\x1f\\x7f\","
             " b\"a\\x00b\", b\"caf\\xc3\\xa9 \\xf0\\x9f\\x98\\x80\", b\"bad\\xff\\xc0\\xaf|\","
             " b\"\\xed\\xa0\\x80\", b\"\"]\n"
             "got = [json.loads(l)[\"application\"] for l in open(sys.argv[1], encoding=\"utf-8\")]\n"
             "exp = [w.decode(\"utf-8\", \"replace\") for w in want]\n"
             "print(\"same\" if got == exp else ascii(got))' %s", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char got[1024];
    size_t len = fread(got, 1, sizeof got - 1, p);
    got[len] = 0;
    assert_int_equal(pclose(p), 0);
    assert_string_equal(got, "same\n");
}

static char *harness_error(const char *y, const struct fl_schema *in)
{
    char tmp[] = "/tmp/fl_out_json_err_XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    struct fl_harness *h = NULL;
    int rc = fl_harness_new("output.json", y, in, &h);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    assert_int_equal(rc, -FL_EINVAL);
    assert_null(h);
    char *s = fl_test_slurp(tmp, NULL);
    assert_non_null(s);
    unlink(tmp);
    return s;
}

static void test_errors(void **state)
{
    char *s = harness_error("{fields: [proto, packet]}", flow_s);
    assert_non_null(strstr(s, "field \"packet\" is not in the input; did you mean \"packets\"?"));
    free(s);
    s = harness_error("{rotate_interval: 1h}", flow_s);
    assert_non_null(strstr(s, "standard output cannot be rotated"));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_all_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_python, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strings_python, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
