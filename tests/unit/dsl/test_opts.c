/* test_opts.c: option values and tables (dsl/opts_value.c, opts_parse.c):
 * every type good and bad with the exact error phrase, bounds in the
 * option's units, durations and sizes at their edges and past overflow,
 * and whole with: maps (unknown names, required, aliases, defaults). */
#include <stddef.h>
#include "dsl_test.h"
#include "rt.h"

struct st {
    bool b;
    int64_t i;
    uint64_t u, dur, size;
    double f;
    char *s, *path, *ep;
    struct fl_addr addr;
    int e;
    struct fl_strlist list;
    struct fl_strmap map;
    uint64_t req;
};

static const char *const formats[] = { "rfc3339", "epoch_ns", "epoch_s", NULL };

static const struct fl_opt table[] = {
    { .name = "flag", .type = FL_OPT_BOOL, .offset = offsetof(struct st, b), .def = "true" },
    { .name = "delta", .type = FL_OPT_INT, .offset = offsetof(struct st, i), .def = "-1",
      .min = "-100", .max = "100" },
    { .name = "count", .type = FL_OPT_UINT, .offset = offsetof(struct st, u), .def = "10k",
      .min = "1", .max = "1M", .alias = "cnt" },
    { .name = "timeout", .type = FL_OPT_DURATION, .offset = offsetof(struct st, dur), .def = "30s",
      .min = "1ms", .max = "7d" },
    { .name = "buffer", .type = FL_OPT_SIZE, .offset = offsetof(struct st, size), .def = "64KiB",
      .min = "4KiB", .max = "1GiB" },
    { .name = "ratio", .type = FL_OPT_FLOAT, .offset = offsetof(struct st, f), .def = "0.5",
      .min = "0", .max = "1" },
    { .name = "name", .type = FL_OPT_STRING, .offset = offsetof(struct st, s), .def = "x" },
    { .name = "path", .type = FL_OPT_PATH, .offset = offsetof(struct st, path), .def = "out.csv" },
    { .name = "listen", .type = FL_OPT_ENDPOINT, .offset = offsetof(struct st, ep) },
    { .name = "addr", .type = FL_OPT_ADDR, .offset = offsetof(struct st, addr), .def = "127.0.0.1" },
    { .name = "time_format", .type = FL_OPT_ENUM, .offset = offsetof(struct st, e), .def = "epoch_s",
      .choices = formats },
    { .name = "fields", .type = FL_OPT_LIST, .offset = offsetof(struct st, list), .def = "[a, b]" },
    { .name = "rename", .type = FL_OPT_MAP, .offset = offsetof(struct st, map) },
    { .name = "required", .type = FL_OPT_UINT, .offset = offsetof(struct st, req), .flags = FL_OPT_REQUIRED },
    { 0 }
};

static const struct fl_opt *opt(const char *name)
{
    for (const struct fl_opt *o = table; o->name; o++)
        if (!strcmp(o->name, name))
            return o;
    fail_msg("no option %s", name);
    return NULL;
}

/* One value: parse ok, and give back the raw bytes. */
static void good(const char *name, const char *text, void *out)
{
    char err[512] = "";
    int rc = fl_opt_parse_value(opt(name), text, out, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s: \"%s\": %s", name, text, err);
}

static void bad(const char *name, const char *text, const char *want)
{
    char err[512] = "";
    union { uint64_t u; char *s; struct fl_strlist l; struct fl_addr a; } out;
    int rc = fl_opt_parse_value(opt(name), text, &out, err, sizeof(err));
    if (rc != -FL_EINVAL)
        fail_msg("%s: \"%s\" parsed (rc %d)", name, text, rc);
    assert_string_equal(err, want);
}

static uint64_t u64(const char *name, const char *text)
{
    uint64_t v = 0;
    good(name, text, &v);
    return v;
}

static void test_bool(void **state)
{
    bool b;
    (void)state;
    const char *yes[] = { "true", "True", "TRUE", "yes", "on", "On" };
    const char *no[] = { "false", "no", "off", "OFF", "No" };
    for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
        b = false;
        good("flag", yes[i], &b);
        assert_true(b);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++) {
        b = true;
        good("flag", no[i], &b);
        assert_false(b);
    }
    bad("flag", "1", "expected true or false, got \"1\"");
    bad("flag", "maybe", "expected true or false, got \"maybe\"");
    bad("flag", "", "expected true or false, got \"\"");
}

static void test_int(void **state)
{
    (void)state;
    struct fl_opt wide = { .name = "w", .type = FL_OPT_INT };
    int64_t v;
    char err[256];
    assert_int_equal(fl_opt_parse_value(&wide, "-9223372036854775808", &v, err, sizeof(err)), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(fl_opt_parse_value(&wide, "9223372036854775807", &v, err, sizeof(err)), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(fl_opt_parse_value(&wide, "-10k", &v, err, sizeof(err)), 0);
    assert_true(v == -10000);
    assert_int_equal(fl_opt_parse_value(&wide, "0x7fffffffffffffff", &v, err, sizeof(err)), 0);
    assert_int_equal(fl_opt_parse_value(&wide, "9223372036854775808", &v, err, sizeof(err)), -FL_EINVAL);
    assert_string_equal(err, "\"9223372036854775808\" is out of range for a 64-bit integer");
    assert_int_equal(fl_opt_parse_value(&wide, "-9223372036854775809", &v, err, sizeof(err)), -FL_EINVAL);
    assert_int_equal(fl_opt_parse_value(&wide, "10G", &v, err, sizeof(err)), 0);
    assert_true(v == 10000000000LL);

    good("delta", "-100", &v);
    assert_true(v == -100);
    good("delta", "0x10", &v);
    assert_true(v == 16);
    bad("delta", "-101", "-101 is below the minimum -100");
    bad("delta", "1k", "1k is above the maximum 100");
    bad("delta", "1.5", "expected an integer (e.g. 42, -1, 0x2a, 10k), got \"1.5\"");
    bad("delta", "12abc", "expected an integer (e.g. 42, -1, 0x2a, 10k), got \"12abc\"");
    bad("delta", "0x", "expected an integer (e.g. 42, -1, 0x2a, 10k), got \"0x\"");
    bad("delta", "", "expected an integer (e.g. 42, -1, 0x2a, 10k), got \"\"");
    bad("delta", "+5", "expected an integer (e.g. 42, -1, 0x2a, 10k), got \"+5\"");
    bad("delta", " 5", "expected an integer (e.g. 42, -1, 0x2a, 10k), got \" 5\"");
    bad("delta", "5K", "expected an integer (e.g. 42, -1, 0x2a, 10k), got \"5K\"");
}

static void test_uint(void **state)
{
    (void)state;
    struct fl_opt wide = { .name = "w", .type = FL_OPT_UINT };
    uint64_t v;
    char err[256];
    assert_int_equal(fl_opt_parse_value(&wide, "18446744073709551615", &v, err, sizeof(err)), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(fl_opt_parse_value(&wide, "0xFFFFFFFFFFFFFFFF", &v, err, sizeof(err)), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(fl_opt_parse_value(&wide, "18446744073709551616", &v, err, sizeof(err)), -FL_EINVAL);
    assert_string_equal(err, "\"18446744073709551616\" is out of range for a 64-bit integer");
    assert_int_equal(fl_opt_parse_value(&wide, "0x10000000000000000", &v, err, sizeof(err)), -FL_EINVAL);
    assert_string_equal(err, "\"0x10000000000000000\" is out of range for a 64-bit integer");
    assert_int_equal(fl_opt_parse_value(&wide, "18446744073709552k", &v, err, sizeof(err)), -FL_EINVAL);
    assert_string_equal(err, "\"18446744073709552k\" is out of range for a 64-bit integer");

    assert_int_equal(u64("count", "1"), 1);
    assert_int_equal(u64("count", "1M"), 1000000);
    assert_int_equal(u64("count", "250k"), 250000);
    assert_int_equal(u64("count", "0x2a"), 42);
    assert_int_equal(u64("count", "007"), 7);
    bad("count", "0", "0 is below the minimum 1");
    bad("count", "1000001", "1000001 is above the maximum 1M");
    bad("count", "-1", "expected a non-negative integer (e.g. 42, 0x2a, 10k), got \"-1\"");
    bad("count", "1e3", "expected a non-negative integer (e.g. 42, 0x2a, 10k), got \"1e3\"");
}

static void test_float(void **state)
{
    double f;
    (void)state;
    good("ratio", "0.25", &f);
    assert_true(f == 0.25);
    good("ratio", "1e-3", &f);
    assert_true(f == 0.001);
    good("ratio", ".5", &f);
    assert_true(f == 0.5);
    good("ratio", "1", &f);
    bad("ratio", "1.5", "1.5 is above the maximum 1");
    bad("ratio", "-0.1", "-0.1 is below the minimum 0");
    bad("ratio", "nan", "expected a number (e.g. 0.5, 2, 1e-3), got \"nan\"");
    bad("ratio", "inf", "expected a number (e.g. 0.5, 2, 1e-3), got \"inf\"");
    bad("ratio", "0.5x", "expected a number (e.g. 0.5, 2, 1e-3), got \"0.5x\"");
    bad("ratio", "", "expected a number (e.g. 0.5, 2, 1e-3), got \"\"");
}

static void test_duration(void **state)
{
    (void)state;
    struct fl_opt d = { .name = "d", .type = FL_OPT_DURATION };
    uint64_t v;
    char err[256];
#define DUR(text, want) do {                                                    \
        assert_int_equal(fl_opt_parse_value(&d, text, &v, err, sizeof(err)), 0); \
        assert_true(v == (uint64_t)(want));                                     \
    } while (0)
#define DUR_BAD(text, msg) do {                                                             \
        assert_int_equal(fl_opt_parse_value(&d, text, &v, err, sizeof(err)), -FL_EINVAL);   \
        assert_string_equal(err, msg);                                                      \
    } while (0)
    DUR("0", 0);
    DUR("100ns", 100);
    DUR("2us", 2000);
    DUR("2\xc2\xb5s", 2000);
    DUR("250ms", 250000000);
    DUR("30s", 30000000000ull);
    DUR("5m", 300000000000ull);
    DUR("1h30m", 5400000000000ull);
    DUR("1d", 86400000000000ull);
    DUR("1.5s", 1500000000ull);
    DUR(".5s", 500000000ull);
    DUR("0.000000001s", 1);
    DUR("0.0000000019s", 1);              /* below a nanosecond: floored */
    DUR("1.5ns", 1);
    DUR("1m1m", 120000000000ull);
    DUR("0.5d", 43200000000000ull);
    DUR("18446744073s", 18446744073000000000ull);
    DUR("18446744073709551615ns", UINT64_MAX);
    DUR_BAD("18446744074s", "\"18446744074s\" is out of range");
    DUR_BAD("213504d", "\"213504d\" is out of range");
    DUR_BAD("18446744073709551615ns1ns", "\"18446744073709551615ns1ns\" is out of range");
    DUR_BAD("99999999999999999999ns", "\"99999999999999999999ns\" is out of range");
    DUR_BAD("30", "missing unit in \"30\" (write 30s, 30ms, 30m, ...)");
    DUR_BAD("1.5", "missing unit in \"1.5\" (write 1.5s, 1.5ms, 1.5m, ...)");
    DUR_BAD("5sec", "unknown unit \"sec\" in \"5sec\" (units: ns, us, ms, s, m, h, d)");
    DUR_BAD("1y", "unknown unit \"y\" in \"1y\" (units: ns, us, ms, s, m, h, d)");
    DUR_BAD("1h 30m", "unknown unit \"h \" in \"1h 30m\" (units: ns, us, ms, s, m, h, d)");
    DUR_BAD("1h30", "expected a duration (e.g. 30s, 250ms, 1h30m), got \"1h30\"");
    DUR_BAD("s", "expected a duration (e.g. 30s, 250ms, 1h30m), got \"s\"");
    DUR_BAD("-5s", "expected a duration (e.g. 30s, 250ms, 1h30m), got \"-5s\"");
    DUR_BAD("1.s", "expected a duration (e.g. 30s, 250ms, 1h30m), got \"1.s\"");
    DUR_BAD("1..5", "expected a duration (e.g. 30s, 250ms, 1h30m), got \"1..5\"");
    DUR_BAD("", "expected a duration (e.g. 30s, 250ms, 1h30m), got \"\"");
    DUR_BAD("soon", "expected a duration (e.g. 30s, 250ms, 1h30m), got \"soon\"");
#undef DUR
#undef DUR_BAD
    /* bounds in the option's own units */
    assert_int_equal(u64("timeout", "1ms"), 1000000);
    assert_int_equal(u64("timeout", "7d"), 604800000000000ull);
    bad("timeout", "999us", "999us is below the minimum 1ms");
    bad("timeout", "0", "0 is below the minimum 1ms");
    bad("timeout", "7d1ns", "7d1ns is above the maximum 7d");
}

static void test_size(void **state)
{
    (void)state;
    struct fl_opt s = { .name = "s", .type = FL_OPT_SIZE };
    uint64_t v;
    char err[256];
#define SZ(text, want) do {                                                     \
        assert_int_equal(fl_opt_parse_value(&s, text, &v, err, sizeof(err)), 0); \
        assert_true(v == (uint64_t)(want));                                     \
    } while (0)
#define SZ_BAD(text, msg) do {                                                              \
        assert_int_equal(fl_opt_parse_value(&s, text, &v, err, sizeof(err)), -FL_EINVAL);   \
        assert_string_equal(err, msg);                                                      \
    } while (0)
    SZ("0", 0);
    SZ("4096", 4096);
    SZ("4096B", 4096);
    SZ("64k", 65536);
    SZ("64K", 65536);
    SZ("64KiB", 65536);
    SZ("64MiB", 64ull << 20);
    SZ("16m", 16ull << 20);
    SZ("2G", 2ull << 30);
    SZ("1TiB", 1ull << 40);
    SZ("1kB", 1000);
    SZ("1KB", 1000);
    SZ("1MB", 1000000);
    SZ("1GB", 1000000000);
    SZ("2TB", 2000000000000ull);
    SZ("1.5KiB", 1536);
    SZ("0.5GB", 500000000);
    SZ("18446744073709551615", UINT64_MAX);
    SZ("16777215TiB", 16777215ull << 40);
    SZ_BAD("18446744073709551616", "\"18446744073709551616\" is out of range");
    SZ_BAD("16777216TiB", "\"16777216TiB\" is out of range");
    SZ_BAD("0.3B", "\"0.3B\" is not a whole number of bytes");
    SZ_BAD("1.0001KiB", "\"1.0001KiB\" is not a whole number of bytes");
    SZ_BAD("64XB", "unknown unit \"XB\" in \"64XB\" (units: B, KiB, MiB, GiB, TiB, k, M, G, T, kB, MB, GB, TB)");
    SZ_BAD("64mib", "unknown unit \"mib\" in \"64mib\" (units: B, KiB, MiB, GiB, TiB, k, M, G, T, kB, MB, GB, TB)");
    SZ_BAD("64 MiB", "unknown unit \" MiB\" in \"64 MiB\" (units: B, KiB, MiB, GiB, TiB, k, M, G, T, kB, MB, GB, TB)");
    SZ_BAD("1k1k", "expected a size (e.g. 4096, 64KiB, 16MiB, 1GB), got \"1k1k\"");
    SZ_BAD("-1", "expected a size (e.g. 4096, 64KiB, 16MiB, 1GB), got \"-1\"");
    SZ_BAD("MiB", "expected a size (e.g. 4096, 64KiB, 16MiB, 1GB), got \"MiB\"");
#undef SZ
#undef SZ_BAD
    assert_int_equal(u64("buffer", "4KiB"), 4096);
    bad("buffer", "4095", "4095 is below the minimum 4KiB");
    bad("buffer", "2GB", "2GB is above the maximum 1GiB");
}

static void test_strings(void **state)
{
    char *s = NULL;
    (void)state;
    good("name", "hello world", &s);
    assert_string_equal(s, "hello world");
    free(s);
    good("name", "", &s);
    assert_string_equal(s, "");
    free(s);
    good("path", "rel/x.csv", &s);       /* no base directory here: as written */
    assert_string_equal(s, "rel/x.csv");
    free(s);
    bad("path", "", "expected a file path, got \"\"");

    const char *eps[] = { "udp://0.0.0.0:4739", "tcp://127.0.0.1:9000", "tcp://[::1]:9000",
                          "tcp://collector.example.org:4739", "tcp://*:5555", "inproc://flows",
                          "ipc:///tmp/fl.sock", "udp://h:0", "tcp://h:65535" };
    for (size_t i = 0; i < sizeof(eps) / sizeof(*eps); i++) {
        good("listen", eps[i], &s);
        assert_string_equal(s, eps[i]);
        free(s);
    }
#define EP "expected an endpoint (e.g. udp://0.0.0.0:4739, tcp://host:port, inproc://name), got "
    bad("listen", "udp://host", EP "\"udp://host\"");
    bad("listen", "http://h:1", EP "\"http://h:1\"");
    bad("listen", "0.0.0.0:4739", EP "\"0.0.0.0:4739\"");
    bad("listen", "inproc://", EP "\"inproc://\"");
    bad("listen", "tcp://:80", EP "\"tcp://:80\"");
    bad("listen", "tcp://a b:80", EP "\"tcp://a b:80\"");
    bad("listen", "tcp://[::1:80", EP "\"tcp://[::1:80\"");
    bad("listen", "tcp://[zz]:80", "bad IPv6 address \"zz\" in \"tcp://[zz]:80\"");
    bad("listen", "tcp://h:65536", "bad port \"65536\" in \"tcp://h:65536\" (0 to 65535)");
    bad("listen", "tcp://h:", "bad port \"\" in \"tcp://h:\" (0 to 65535)");
    bad("listen", "tcp://h:80x", "bad port \"80x\" in \"tcp://h:80x\" (0 to 65535)");
#undef EP
}

static void test_addr(void **state)
{
    struct fl_addr a;
    (void)state;
    const uint8_t v4[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3 };
    const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    good("addr", "10.1.2.3", &a);
    assert_memory_equal(a.b, v4, 16);
    assert_true(fl_addr_is_v4(&a));
    good("addr", "2001:db8::1", &a);
    assert_memory_equal(a.b, v6, 16);
    good("addr", "::ffff:10.1.2.3", &a);
    assert_memory_equal(a.b, v4, 16);
    bad("addr", "10.0.0.256", "expected an IPv4 or IPv6 address, got \"10.0.0.256\"");
    bad("addr", "10.0.0.0/8", "expected an IPv4 or IPv6 address, got \"10.0.0.0/8\"");
    bad("addr", "localhost", "expected an IPv4 or IPv6 address, got \"localhost\"");
}

static void test_enum(void **state)
{
    int e = -1;
    (void)state;
    good("time_format", "epoch_ns", &e);
    assert_int_equal(e, 1);
    bad("time_format", "epoch_sec",
        "expected one of rfc3339, epoch_ns, epoch_s, got \"epoch_sec\"; did you mean \"epoch_s\"?");
    bad("time_format", "RFC3339",
        "expected one of rfc3339, epoch_ns, epoch_s, got \"RFC3339\"");
    bad("time_format", "iso", "expected one of rfc3339, epoch_ns, epoch_s, got \"iso\"");
}

static void test_list_map_text(void **state)
{
    struct fl_strlist l = { 0 };
    struct fl_strmap m = { 0 };
    (void)state;
    good("fields", "[a, \"b c\", 3]", &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[1], "b c");
    assert_string_equal(l.v[2], "3");
    struct fl_opt lo = *opt("fields");
    fl_opts_free(&(struct fl_opt[]){ { .name = "l", .type = FL_OPT_LIST, .offset = 0 }, { 0 } }[0], &l);
    assert_int_equal(l.n, 0);
    (void)lo;
    good("fields", "single", &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0], "single");
    fl_opts_free(&(struct fl_opt[]){ { .name = "l", .type = FL_OPT_LIST, .offset = 0 }, { 0 } }[0], &l);
    bad("fields", "[a, [b]]", "expected a list of values, got a list in it");
    bad("fields", "{a: b}", "expected a list of values, got a mapping");
    bad("fields", "[a", "did not find expected ',' or ']' (while parsing a flow sequence at line 1)");

    good("rename", "{dst_port: service, a: 1}", &m);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.key[0], "dst_port");
    assert_string_equal(m.val[0], "service");
    fl_opts_free(&(struct fl_opt[]){ { .name = "m", .type = FL_OPT_MAP, .offset = 0 }, { 0 } }[0], &m);
    assert_null(m.key);
    bad("rename", "[a]", "expected a mapping of names to values, got a list");
    /* a list as a value is kept as its items joined with commas */
    good("rename", "{a: [1, 2], b: 3}", &m);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.val[0], "1,2");
    assert_string_equal(m.val[1], "3");
    fl_opts_free(&(struct fl_opt[]){ { .name = "m", .type = FL_OPT_MAP, .offset = 0 }, { 0 } }[0], &m);
    bad("rename", "{a: [[1]]}", "expected a mapping of names to values (or lists of values), got a"
        " nested list as the value of \"a\"");
    bad("rename", "{a: {b: 1}}", "expected a mapping of names to values (or lists of values), got a"
        " mapping as the value of \"a\"");
}

/* Lists and maps with choices: items and keys must be among them;
 * FL_OPT_ALL_NONE makes a lone true/false every choice or none. */
static void test_list_map_choices(void **state)
{
    static const char *const kinds[] = { "gre", "vxlan", "geneve", NULL };
    const struct fl_opt lo = { .name = "decap", .type = FL_OPT_LIST, .choices = kinds,
                               .flags = FL_OPT_ALL_NONE };
    const struct fl_opt plain = { .name = "decap", .type = FL_OPT_LIST, .choices = kinds };
    const struct fl_opt mo = { .name = "ports", .type = FL_OPT_MAP, .choices = kinds };
    const struct fl_opt free_l[] = { { .name = "l", .type = FL_OPT_LIST }, { 0 } };
    const struct fl_opt free_m[] = { { .name = "m", .type = FL_OPT_MAP }, { 0 } };
    struct fl_strlist l = { 0 };
    struct fl_strmap m = { 0 };
    char err[512];
    (void)state;

    assert_int_equal(fl_opt_parse_value(&lo, "true", &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[2], "geneve");
    fl_opts_free(free_l, &l);
    assert_int_equal(fl_opt_parse_value(&lo, "false", &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 0);
    fl_opts_free(free_l, &l);
    /* a bool's other words, as the option took when it was a bool */
    assert_int_equal(fl_opt_parse_value(&lo, "on", &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 3);
    fl_opts_free(free_l, &l);
    assert_int_equal(fl_opt_parse_value(&lo, "No", &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 0);
    fl_opts_free(free_l, &l);
    assert_int_equal(fl_opt_parse_value(&lo, "[vxlan, gre]", &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0], "vxlan");
    fl_opts_free(free_l, &l);
    assert_int_equal(fl_opt_parse_value(&lo, "[vxlan, genev]", &l, err, sizeof(err)), -FL_EINVAL);
    assert_string_equal(err, "unknown value \"genev\"; did you mean \"geneve\"?");
    assert_int_equal(fl_opt_parse_value(&lo, "[true]", &l, err, sizeof(err)), -FL_EINVAL);
    /* without the flag, true is just an unknown value */
    assert_int_equal(fl_opt_parse_value(&plain, "true", &l, err, sizeof(err)), -FL_EINVAL);
    assert_int_equal(fl_opt_parse_value(&mo, "{vxlan: [4789, 8472]}", &m, err, sizeof(err)), 0);
    assert_string_equal(m.val[0], "4789,8472");
    fl_opts_free(free_m, &m);
    assert_int_equal(fl_opt_parse_value(&mo, "{vxlan: 1, gtp: 2}", &m, err, sizeof(err)), -FL_EINVAL);
    assert_string_equal(err, "unknown key \"gtp\" (one of gre, vxlan, geneve)");
}

/* ---- whole with: maps ----------------------------------------------------- */

struct wt {
    struct fl_diags d;
    struct fl_ynode *with;
    struct st st;
    int rc;
};

static void wt_run(struct wt *t, const char *yaml, const char *base_dir)
{
    memset(t, 0, sizeof(*t));
    if (yaml)
        assert_int_equal(fl_ynode_parse("w.yaml", yaml, strlen(yaml), &t->d, &t->with), 0);
    t->rc = fl_opts_parse(table, t->with, base_dir, "stage \"s\" (test.opts)", &t->st, &t->d);
}

static void wt_free(struct wt *t)
{
    fl_opts_free(table, &t->st);
    assert_null(t->st.s);
    assert_null(t->st.path);
    assert_null(t->st.list.v);
    assert_int_equal(t->st.list.n, 0);
    fl_ynode_free(&t->with);
    fl_diags_free(&t->d);
}

static void test_defaults(void **state)
{
    struct wt t;
    (void)state;
    wt_run(&t, "required: 5\n", "conf");
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.d.n, 0);
    assert_true(t.st.b);
    assert_true(t.st.i == -1);
    assert_int_equal(t.st.u, 10000);
    assert_true(t.st.dur == 30000000000ull);
    assert_int_equal(t.st.size, 65536);
    assert_true(t.st.f == 0.5);
    assert_string_equal(t.st.s, "x");
    assert_string_equal(t.st.path, "conf/out.csv");   /* defaults are relative to the file too */
    assert_null(t.st.ep);
    assert_int_equal(t.st.addr.b[15], 1);
    assert_int_equal(t.st.e, 2);
    assert_int_equal(t.st.list.n, 2);
    assert_string_equal(t.st.list.v[1], "b");
    assert_int_equal(t.st.map.n, 0);
    assert_int_equal(t.st.req, 5);
    wt_free(&t);
}

static void test_given(void **state)
{
    struct wt t;
    (void)state;
    wt_run(&t, "flag: off\ndelta: -7\ncount: 2k\ntimeout: 1h30m\nbuffer: 1MiB\nratio: 0.75\n"
               "name: \"\"\npath: /abs/x.csv\nlisten: udp://0.0.0.0:4739\naddr: \"::1\"\n"
               "time_format: rfc3339\nfields: [src_addr, dst_addr, proto]\nrename: {dst_port: service}\n"
               "required: 0x10\n", "conf");
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.d.n, 0);
    assert_false(t.st.b);
    assert_true(t.st.i == -7);
    assert_int_equal(t.st.u, 2000);
    assert_true(t.st.dur == 5400000000000ull);
    assert_int_equal(t.st.size, 1 << 20);
    assert_string_equal(t.st.s, "");
    assert_string_equal(t.st.path, "/abs/x.csv");
    assert_string_equal(t.st.ep, "udp://0.0.0.0:4739");
    assert_int_equal(t.st.e, 0);
    assert_int_equal(t.st.list.n, 3);
    assert_string_equal(t.st.map.val[0], "service");
    assert_int_equal(t.st.req, 16);
    wt_free(&t);

    wt_run(&t, "path: data/x.csv\nrequired: 1\n", "conf/");
    assert_string_equal(t.st.path, "conf/data/x.csv");
    wt_free(&t);
    wt_run(&t, "path: \"-\"\nrequired: 1\n", "conf");
    assert_string_equal(t.st.path, "-");
    wt_free(&t);
    wt_run(&t, "path: x.csv\nrequired: 1\n", ".");
    assert_string_equal(t.st.path, "x.csv");
    wt_free(&t);
    wt_run(&t, "fields: one\nrequired: 1\nrename:\n", NULL);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.st.list.n, 1);
    assert_string_equal(t.st.path, "out.csv");
    wt_free(&t);
    wt_run(&t, "fields: ~\nrequired: 1\n", NULL);
    assert_int_equal(t.st.list.n, 0);
    wt_free(&t);
}

static void test_errors(void **state)
{
    struct wt t;
    (void)state;
    wt_run(&t, "timeout: soon\ncont: 5\nfields: [a, {b: c}]\nflag:\nbuffer: [1]\n"
               "time_format: epoch_sec\nzzzzzz: 1\nratio: 2\n", "conf");
    assert_int_equal(t.rc, -FL_EINVAL);
    dt_assert_diags(&t.d,
        "w.yaml:1:10: option \"timeout\" for stage \"s\" (test.opts): expected a duration (e.g. 30s, 250ms, 1h30m), got \"soon\"\n"
        "w.yaml:2:1: unknown option \"cont\" for stage \"s\" (test.opts); did you mean \"count\"?\n"
        "w.yaml:3:13: option \"fields\" for stage \"s\" (test.opts): expected a list of values, got a mapping in it\n"
        "w.yaml:4:6: option \"flag\" for stage \"s\" (test.opts): expected true or false, got nothing\n"
        "w.yaml:5:9: option \"buffer\" for stage \"s\" (test.opts): expected a size (e.g. 4096, 64KiB, 16MiB, 1GB), got a list\n"
        "w.yaml:6:14: option \"time_format\" for stage \"s\" (test.opts): expected one of rfc3339, epoch_ns, epoch_s, got \"epoch_sec\"; did you mean \"epoch_s\"?\n"
        "w.yaml:7:1: unknown option \"zzzzzz\" for stage \"s\" (test.opts) (options: flag, delta, count, timeout, buffer, ratio, name, path, listen, addr, time_format, fields, rename, required)\n"
        "w.yaml:8:8: option \"ratio\" for stage \"s\" (test.opts): 2 is above the maximum 1\n"
        "w.yaml:1:1: missing required option \"required\" for stage \"s\" (test.opts)\n");
    /* a bad value leaves the default in place */
    assert_true(t.st.dur == 30000000000ull);
    assert_int_equal(t.st.list.n, 2);
    wt_free(&t);

    /* no with: at all: missing options have no position but still a stage */
    wt_run(&t, NULL, NULL);
    dt_assert_diags(&t.d, "missing required option \"required\" for stage \"s\" (test.opts)\n");
    wt_free(&t);

    wt_run(&t, "[1, 2]\n", NULL);
    dt_assert_diags(&t.d, "w.yaml:1:1: with: expected a mapping of options for stage \"s\" (test.opts)\n"
                          "w.yaml:1:1: missing required option \"required\" for stage \"s\" (test.opts)\n");
    wt_free(&t);
}

static void test_alias(void **state)
{
    struct wt t;
    (void)state;
    wt_run(&t, "cnt: 5\nrequired: 1\n", NULL);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.d.errors, 0);
    assert_int_equal(t.st.u, 5);
    dt_assert_diags(&t.d, "w.yaml:1:1: warning: option \"cnt\" for stage \"s\" (test.opts) is deprecated; use \"count\"\n");
    wt_free(&t);

    wt_run(&t, "count: 6\ncnt: 5\nrequired: 1\n", NULL);
    assert_int_equal(t.rc, -FL_EINVAL);
    dt_assert_diags(&t.d, "w.yaml:2:1: warning: option \"cnt\" for stage \"s\" (test.opts) is deprecated; use \"count\"\n"
                          "w.yaml:2:1: option \"count\" for stage \"s\" (test.opts) is given twice (as \"count\" and \"cnt\")\n");
    assert_int_equal(t.st.u, 6);
    wt_free(&t);
}

/* fl_opt_given and fl_diag's position see an option given under its
 * deprecated alias as given (they used to look for the new name only). */
static void test_given_alias(void **state)
{
    struct wt t;
    struct fl_rt rt;
    struct fl_ctx ctx;
    const struct fl_plugin plugin = { .name = "opts", .kind = FL_KIND_INPUT, .opts = table };
    struct fl_stage_conf sc = { .id = "s" };
    (void)state;
    assert_int_equal(fl_rt_init(&rt), 0);
    wt_run(&t, "required: 1\ncnt: 5\n", NULL);
    assert_int_equal(t.rc, 0);
    sc.with = t.with;
    fl_ctx_init(&ctx, &rt, "s", "test.opts", &plugin);
    ctx.conf = &sc;
    assert_true(fl_opt_given(&ctx, "count"));       /* given as "cnt" */
    assert_true(fl_opt_given(&ctx, "cnt"));         /* asked by the old name */
    assert_true(fl_opt_given(&ctx, "required"));
    assert_false(fl_opt_given(&ctx, "timeout"));
    assert_false(fl_opt_given(&ctx, "nonesuch"));
    /* A plugin's diagnostic about "count" points at the value given as cnt. */
    struct fl_diags d = { 0 };
    rt.diags = &d;
    assert_int_equal(fl_diag(&ctx, "count", "too many"), -FL_EINVAL);
    dt_assert_diags(&d, "w.yaml:2:6: stage \"s\": too many\n");
    rt.diags = NULL;
    fl_diags_free(&d);
    fl_ctx_fini(&ctx);
    wt_free(&t);

    /* Given under the new name: the old name asks the same question. */
    wt_run(&t, "required: 1\ncount: 5\n", NULL);
    sc.with = t.with;
    fl_ctx_init(&ctx, &rt, "s", "test.opts", &plugin);
    ctx.conf = &sc;
    assert_true(fl_opt_given(&ctx, "count"));
    assert_true(fl_opt_given(&ctx, "cnt"));
    fl_ctx_fini(&ctx);
    wt_free(&t);
    fl_rt_fini(&rt);
}

static void test_bad_table(void **state)
{
    struct fl_diags d = { 0 };
    struct { uint64_t u; char *s; } st = { 0 };
    const struct fl_opt t[] = {
        { .name = "u", .type = FL_OPT_DURATION, .offset = 0, .def = "10" },
        { .name = "v", .type = FL_OPT_UINT, .offset = 0, .min = "x" },
        { 0 }
    };
    struct fl_ynode *w = NULL;
    (void)state;
    assert_int_equal(fl_ynode_parse("w.yaml", "v: 3\n", 5, &d, &w), 0);
    assert_int_equal(fl_opts_parse(t, w, NULL, "stage \"s\" (x.y)", &st, &d), -FL_EINVAL);
    dt_assert_diags(&d,
        "w.yaml:1:1: option \"u\" for stage \"s\" (x.y): bad default \"10\" in the plugin: missing unit in \"10\" (write 10s, 10ms, 10m, ...)\n"
        "w.yaml:1:4: option \"v\" for stage \"s\" (x.y): bad minimum \"x\" in the option table: expected a non-negative integer (e.g. 42, 0x2a, 10k), got \"x\"\n");
    fl_ynode_free(&w);
    fl_diags_free(&d);

    /* a plugin without options */
    assert_int_equal(fl_ynode_parse("w.yaml", "a: 1\n", 5, &d, &w), 0);
    assert_int_equal(fl_opts_parse(NULL, w, NULL, "stage \"s\" (x.y)", &st, &d), -FL_EINVAL);
    dt_assert_diags(&d, "w.yaml:1:1: unknown option \"a\": stage \"s\" (x.y) takes no options\n");
    fl_ynode_free(&w);
    fl_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_uint),
        cmocka_unit_test(test_float),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_addr),
        cmocka_unit_test(test_enum),
        cmocka_unit_test(test_list_map_text),
        cmocka_unit_test(test_list_map_choices),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_given),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_alias),
        cmocka_unit_test(test_given_alias),
        cmocka_unit_test(test_bad_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
