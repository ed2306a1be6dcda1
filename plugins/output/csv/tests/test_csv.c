/* test_csv.c: output.csv loaded as a plugin through the harness, as a
 * pipeline would run it: exact file text for chosen fields (names as the
 * user wrote them), the default columns of a declared and of an open
 * input, schema changes under one header, separators, time formats,
 * rotation with a header per file, counters, option errors with their
 * messages, and a read-back of tricky cells by Python's csv module. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <flowline/plugin.h>
#include "fl_harness.h"

static struct fl_ctx *tctx;        /* schemas live here for the whole run */
static const struct fl_schema *flow_s, *other_s, *str_s;
static char dir[64], path[128], yaml[512];

static const struct fl_col_def flow_cols[] = {
    { "flow_start", FL_T_TS }, { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR },
    { "src_port", FL_T_U16 }, { "dst_port", FL_T_U16 }, { "proto", FL_T_U8 },
    { "packets", FL_T_U64 }, { "bytes", FL_T_U64 }, { "duration", FL_T_DUR },
    { "ps_avg", FL_T_F64 },
};
/* Same fields in another order, one missing (bytes), one extra (ttl). */
static const struct fl_col_def other_cols[] = {
    { "proto", FL_T_U8 }, { "ttl", FL_T_U8 }, { "src_addr", FL_T_ADDR },
    { "flow_start", FL_T_TS }, { "src_port", FL_T_U16 }, { "dst_port", FL_T_U16 },
    { "dst_addr", FL_T_ADDR }, { "packets", FL_T_U64 }, { "duration", FL_T_DUR },
    { "ps_avg", FL_T_F64 },
};
static const struct fl_col_def str_cols[] = { { "application", FL_T_STR } };

static int group_setup(void **state)
{
    tctx = fl_test_ctx_new();
    assert_non_null(tctx);
    assert_int_equal(fl_schema_intern(tctx, flow_cols, 10, sizeof(flow_cols[0]), &flow_s), 0);
    assert_int_equal(fl_schema_intern(tctx, other_cols, 10, sizeof(other_cols[0]), &other_s), 0);
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
    assert_int_equal(fl_test_tmpdir("out_csv", dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/flows.csv", dir);
    return 0;
}

static int teardown(void **state)
{
    fl_test_rmdir(dir);
    return 0;
}

static void set_v4(struct fl_addr *a, uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
    memset(a->b, 0, 10);
    a->b[10] = a->b[11] = 0xff;
    a->b[12] = x; a->b[13] = y; a->b[14] = z; a->b[15] = w;
}

/* n flow rows of schema s (flow_s or other_s): row i has src_port 1000+i,
 * packets i, ... Row 1's ps_avg is missing. */
static struct fl_batch *flows(struct fl_harness *h, const struct fl_schema *s, uint32_t n)
{
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(fl_harness_ctx(h), s, n, &b), 0);
    for (uint32_t c = 0; c < s->ncols; c++) {
        const char *name = s->cols[c]->name;
        for (uint32_t i = 0; i < n; i++) {
            if (!strcmp(name, "flow_start"))
                FL_COL(b, c, uint64_t)[i] = 1767225600000000000ull + i * 1500000000ull;
            else if (!strcmp(name, "src_addr"))
                set_v4(&FL_COL(b, c, struct fl_addr)[i], 10, 0, 0, (uint8_t)(1 + i));
            else if (!strcmp(name, "dst_addr"))
                set_v4(&FL_COL(b, c, struct fl_addr)[i], 192, 0, 2, 1);
            else if (!strcmp(name, "src_port"))
                FL_COL(b, c, uint16_t)[i] = (uint16_t)(1000 + i);
            else if (!strcmp(name, "dst_port"))
                FL_COL(b, c, uint16_t)[i] = 443;
            else if (!strcmp(name, "proto"))
                FL_COL(b, c, uint8_t)[i] = 6;
            else if (!strcmp(name, "ttl"))
                FL_COL(b, c, uint8_t)[i] = 64;
            else if (!strcmp(name, "packets"))
                FL_COL(b, c, uint64_t)[i] = i;
            else if (!strcmp(name, "bytes"))
                FL_COL(b, c, uint64_t)[i] = 100 * i;
            else if (!strcmp(name, "duration"))
                FL_COL(b, c, int64_t)[i] = 250000000ll * i;
            else if (!strcmp(name, "ps_avg"))
                FL_COL(b, c, double)[i] = i / 3.0;
        }
        if (!strcmp(name, "ps_avg") && n > 1)
            assert_int_equal(fl_batch_set_missing(b, c, 1), 0);
    }
    b->rows = n;
    return b;
}

static char *harness_error(const char *y, const struct fl_schema *in);

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

/* Fields by alias and IANA name, printed as written; exact text. */
static void test_fields(void **state)
{
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml,
             "{path: %s, fields: [srcaddr, sport, destinationTransportPort, pkts, "
             "duration, avgps, flow_start]}", path);
    assert_int_equal(fl_harness_new("output.csv", yaml, flow_s, &h), 0);
    push(h, flows(h, flow_s, 3));
    assert_int_equal(fl_harness_counter(h, "rows_written"), 3);
    finish(&h);
    char *s = fl_test_slurp(path, NULL);
    assert_non_null(s);
    assert_string_equal(s,
        "srcaddr,sport,destinationTransportPort,pkts,duration,avgps,flow_start\n"
        "10.0.0.1,1000,443,0,0,0,2026-01-01T00:00:00.000000000Z\n"
        "10.0.0.2,1001,443,1,0.25,,2026-01-01T00:00:01.500000000Z\n"
        "10.0.0.3,1002,443,2,0.5,0.6666666666666666,2026-01-01T00:00:03.000000000Z\n");
    free(s);
}

/* Default columns: every field of the declared input. The file is created
 * with the first record: a run without records leaves none, and a run
 * that has records replaces an existing file only with overwrite: true
 * (appends with append: true). */
static void test_default_columns(void **state)
{
    struct fl_harness *h;
    struct stat st;
    snprintf(yaml, sizeof yaml, "{path: %s, time_format: epoch_s, separator: \";\"}", path);
    assert_int_equal(fl_harness_new("output.csv", yaml, flow_s, &h), 0);
    finish(&h);
    assert_int_equal(stat(path, &st), -1);

    FILE *o = fopen(path, "w");
    fputs("precious\n", o);
    fclose(o);
    assert_int_equal(fl_harness_new("output.csv", yaml, flow_s, &h), 0);
    struct fl_batch *b = flows(h, flow_s, 2);
    assert_int_equal(fl_harness_push(h, b), -FL_EIO);
    fl_batch_release(&b);
    finish(&h);
    char *s = fl_test_slurp(path, NULL);
    assert_string_equal(s, "precious\n");
    free(s);

    snprintf(yaml, sizeof yaml, "{path: %s, time_format: epoch_s, separator: \";\", "
             "overwrite: true}", path);
    assert_int_equal(fl_harness_new("output.csv", yaml, flow_s, &h), 0);
    push(h, flows(h, flow_s, 2));
    finish(&h);
    s = fl_test_slurp(path, NULL);
    assert_non_null(s);
    assert_string_equal(s, "flow_start;src_addr;dst_addr;src_port;dst_port;proto;packets;"
                           "bytes;duration;ps_avg\n"
                           "1767225600;10.0.0.1;192.0.2.1;1000;443;6;0;0;0;0\n"
                           "1767225601.5;10.0.0.2;192.0.2.1;1001;443;6;1;100;0.25;\n");
    free(s);

    snprintf(yaml, sizeof yaml, "{path: %s, header: false, fields: [src_port], append: true}",
             path);
    assert_int_equal(fl_harness_new("output.csv", yaml, flow_s, &h), 0);
    push(h, flows(h, flow_s, 1));
    finish(&h);
    s = fl_test_slurp(path, NULL);
    assert_non_null(strstr(s, "0.25;\n1000\n"));
    free(s);
    s = harness_error("{overwrite: true, append: true}", flow_s);
    assert_non_null(strstr(s, "append and overwrite exclude each other"));
    free(s);
}

/* An open input: the first batch fixes the columns; a batch of another
 * schema is matched by name under the same header (missing = empty,
 * extra dropped). No header when header: false. */
static void test_open_input(void **state)
{
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml, "{path: %s, time_format: epoch_ns}", path);
    assert_int_equal(fl_harness_new("output.csv", yaml, NULL, &h), 0);
    push(h, flows(h, flow_s, 1));
    push(h, flows(h, other_s, 1));
    push(h, flows(h, flow_s, 1));
    assert_int_equal(fl_harness_counter(h, "rows_written"), 3);
    finish(&h);
    char *s = fl_test_slurp(path, NULL);
    assert_non_null(s);
    assert_string_equal(s,
        "flow_start,src_addr,dst_addr,src_port,dst_port,proto,packets,bytes,duration,ps_avg\n"
        "1767225600000000000,10.0.0.1,192.0.2.1,1000,443,6,0,0,0,0\n"
        "1767225600000000000,10.0.0.1,192.0.2.1,1000,443,6,0,,0,0\n"
        "1767225600000000000,10.0.0.1,192.0.2.1,1000,443,6,0,0,0,0\n");
    free(s);

    snprintf(yaml, sizeof yaml, "{path: %s, header: false, fields: [proto, ttl], overwrite: true}", path);
    assert_int_equal(fl_harness_new("output.csv", yaml, NULL, &h), 0);
    push(h, flows(h, flow_s, 1));
    push(h, flows(h, other_s, 1));
    finish(&h);
    s = fl_test_slurp(path, NULL);
    assert_non_null(s);
    assert_string_equal(s, "6,\n6,64\n");
    free(s);
}

/* Rotation: every file starts with the header, no row is lost or doubled,
 * and bytes_written counts every byte of every file. */
static void test_rotation(void **state)
{
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml, "{path: %s, fields: [src_port, packets], rotate_size: 1KiB}",
             path);
    assert_int_equal(fl_harness_new("output.csv", yaml, flow_s, &h), 0);
    for (int k = 0; k < 10; k++)
        push(h, flows(h, flow_s, 100));
    assert_int_equal(fl_harness_drain(h), 0);
    uint64_t bytes = fl_harness_counter(h, "bytes_written");
    assert_int_equal(fl_harness_counter(h, "rows_written"), 1000);
    fl_harness_destroy(&h);

    DIR *d = opendir(dir);
    struct dirent *e;
    size_t files = 0, rows = 0, total = 0;
    unsigned long sum_ports = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        char *s = fl_test_slurp(p, NULL);
        assert_non_null(s);
        size_t len = strlen(s);
        total += len;
        files++;
        assert_int_equal(strncmp(s, "src_port,packets\n", 17), 0);
        if (strcmp(e->d_name, "flows.csv") != 0)
            assert_true(len >= 1024 && len < 1024 + 16);
        for (char *line = strchr(s, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
            unsigned port, pk;
            assert_int_equal(sscanf(line, "%u,%u", &port, &pk), 2);
            assert_int_equal(port - 1000, pk);
            sum_ports += pk;
            rows++;
        }
        free(s);
    }
    closedir(d);
    assert_int_equal(rows, 1000);
    assert_int_equal(sum_ports, 10 * (99 * 100 / 2));
    assert_true(files >= 7);   /* ~8 KB of rows in 1 KiB files */
    assert_int_equal(total, bytes);
}

/* Strings that need quoting, read back by an independent CSV reader. */
static void test_python_roundtrip(void **state)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        skip();
    static const char *const vals[] = {
        "plain", "a,b", "say \"hi\"", "two\nlines", "cr\r\nlf", "", " lead", "tab\tx",
        "caf\xc3\xa9 \xe2\x82\xac",
    };
    size_t n = sizeof vals / sizeof *vals;
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml, "{path: %s}", path);
    assert_int_equal(fl_harness_new("output.csv", yaml, str_s, &h), 0);
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(fl_harness_ctx(h), str_s, (uint32_t)n + 1, &b), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(fl_batch_put_bytes(b, vals[i], (uint32_t)strlen(vals[i]),
                                            &FL_COL(b, 0, struct fl_span)[i]), 0);
    assert_int_equal(fl_batch_set_missing(b, 0, (uint32_t)n), 0);
    b->rows = (uint32_t)n + 1;
    push(h, b);
    finish(&h);
    /* Python prints each cell's repr; a missing value reads as ''. */
    char cmd[1024], expect[1024] = "", line[256];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import csv,sys\n"
             "rows = list(csv.reader(open(sys.argv[1], newline=\"\", encoding=\"utf-8\")))\n"
             "print(rows[0]); [print(ascii(r[0])) for r in rows[1:]]' %s", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char got[2048];
    size_t len = fread(got, 1, sizeof got - 1, p);
    got[len] = 0;
    assert_int_equal(pclose(p), 0);
    strcat(expect, "['application']\n");
    static const char *const reprs[] = {
        "'plain'", "'a,b'", "'say \"hi\"'", "'two\\nlines'", "'cr\\r\\nlf'", "''", "' lead'",
        "'tab\\tx'", "'caf\\xe9 \\u20ac'", "''" /* missing, one column: "" */,
    };
    for (size_t i = 0; i <= n; i++) {
        snprintf(line, sizeof line, "%s\n", reprs[i]);
        strcat(expect, line);
    }
    assert_string_equal(got, expect);
}

/* Capture what describe reports (the harness prints diagnostics). */
static char *harness_error(const char *y, const struct fl_schema *in)
{
    char tmp[] = "/tmp/fl_out_csv_err_XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    struct fl_harness *h = NULL;
    int rc = fl_harness_new("output.csv", y, in, &h);
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
    char *s = harness_error("{fields: [src_addr, srcport, bogus_thing]}", flow_s);
    assert_non_null(strstr(s, "field \"srcport\" is not in the input; did you mean \"src_port\"?"));
    assert_non_null(strstr(s, "field \"bogus_thing\" is not in the input, which has: flow_start, "
                              "src_addr, dst_addr"));
    free(s);
    s = harness_error("{separator: \"ab\"}", flow_s);
    assert_non_null(strstr(s, "separator must be one character"));
    free(s);
    s = harness_error("{rotate_size: 1MiB}", flow_s);
    assert_non_null(strstr(s, "standard output cannot be rotated"));
    free(s);
    s = harness_error("{time_format: iso}", flow_s);
    assert_non_null(strstr(s, "time_format"));
    free(s);
    /* A file that cannot be opened fails the first batch, with errno's text
     * logged (flowline check reports the missing folder before: cli test). */
    struct fl_harness *h;
    assert_int_equal(fl_harness_new("output.csv", "{path: /nonexistent-dir/x.csv}", flow_s, &h), 0);
    struct fl_batch *b = flows(h, flow_s, 1);
    assert_int_equal(fl_harness_push(h, b), -FL_EIO);
    fl_batch_release(&b);
    fl_harness_destroy(&h);
    /* An open input cannot be checked before it runs. */
    snprintf(yaml, sizeof yaml, "{path: %s, fields: [whatever]}", path);
    assert_int_equal(fl_harness_new("output.csv", yaml, NULL, &h), 0);
    push(h, flows(h, flow_s, 1));
    finish(&h);
    s = fl_test_slurp(path, NULL);
    assert_non_null(s);
    assert_string_equal(s, "whatever\n\"\"\n");   /* one column: never a blank line */
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_python_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
