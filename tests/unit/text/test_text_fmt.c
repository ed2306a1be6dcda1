/* test_text_fmt.c: the cell formatters of plugins/lib/text/fl_text.h, each checked
 * against an independent reference: snprintf for integers, strtod for
 * floats (round trip, and no longer than the shortest %.Ng that reads
 * back), gmtime_r for dates, inet_ntop for addresses (a million random
 * ones, biased towards zero runs), and hand-written vectors for CSV
 * quoting, JSON escaping and invalid UTF-8. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "fl_text.h"

/* xorshift64*: reproducible, no libc rand state. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static char out[FL_TEXT_CELL_MAX + 1];
#define FMT(call) (*(call) = 0, out)   /* NUL-terminate what a formatter wrote */

/* ---- integers ---------------------------------------------------------- */
static void test_integers(void **st)
{
    char ref[32];
    uint64_t edge[] = { 0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 12345,
                        4294967295u, 4294967296u, 999999999999999999ull,
                        1000000000000000000ull, 9999999999999999999ull,
                        10000000000000000000ull, UINT64_MAX };
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
        snprintf(ref, sizeof ref, "%llu", (unsigned long long)edge[i]);
        assert_string_equal(FMT(fl_text_u64(out, edge[i])), ref);
    }
    assert_string_equal(FMT(fl_text_i64(out, INT64_MIN)), "-9223372036854775808");
    assert_string_equal(FMT(fl_text_i64(out, INT64_MAX)), "9223372036854775807");
    assert_string_equal(FMT(fl_text_i64(out, -1)), "-1");
    assert_string_equal(FMT(fl_text_i64(out, 0)), "0");
    for (int i = 0; i < 200000; i++) {
        uint64_t v = rnd() >> (rnd() % 64);
        snprintf(ref, sizeof ref, "%llu", (unsigned long long)v);
        assert_string_equal(FMT(fl_text_u64(out, v)), ref);
        snprintf(ref, sizeof ref, "%lld", (long long)(int64_t)v);
        assert_string_equal(FMT(fl_text_i64(out, (int64_t)v)), ref);
    }
    assert_string_equal(FMT(fl_text_bool(out, true)), "true");
    assert_string_equal(FMT(fl_text_bool(out, false)), "false");
}

/* ---- floats ------------------------------------------------------------ */

/* Significant digits of a decimal text (leading zeros and exponent aside). */
static int sig_digits(const char *s)
{
    int n = 0, lead = 1;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9')
            continue;
        if (lead && *s == '0')
            continue;
        lead = 0;
        n++;
    }
    /* trailing zeros of an integer part are not significant either */
    return n;
}

static int shortest_digits(double v)
{
    char ref[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(ref, sizeof ref, "%.*e", p - 1, v);
        if (strtod(ref, NULL) == v)
            return p;
    }
    return 17;
}

static void check_f64(double v)
{
    char *end = fl_text_f64(out, v);
    *end = 0;
    assert_true(end - out < FL_TEXT_CELL_MAX);
    char *e;
    double back = strtod(out, &e);
    if (*e || back != v || signbit(back) != signbit(v))
        fail_msg("%.17g -> \"%s\" -> %.17g", v, out, back);
    /* JSON number grammar: -? int frac? exp? (no leading '+', no ".5"). */
    const char *s = out + (out[0] == '-');
    assert_true(s[0] >= '0' && s[0] <= '9');
    assert_true(!(s[0] == '0' && s[1] >= '0' && s[1] <= '9'));
    /* Shortest: integers are printed in full, so only check non-integers. */
    if (v != floor(v) || fabs(v) >= 1e17) {
        int got = sig_digits(out), best = shortest_digits(v);
        if (got > best)
            fail_msg("%.17g -> \"%s\": %d digits, %d would do", v, out, got, best);
    }
}

static void test_f64_vectors(void **st)
{
    struct { double v; const char *s; } vec[] = {
        { 0.0, "0" }, { -0.0, "-0" }, { 1.0, "1" }, { -1.0, "-1" }, { 0.1, "0.1" },
        { 0.5, "0.5" }, { 1.25, "1.25" }, { 100.0, "100" }, { 123.456, "123.456" },
        { 1.0 / 3, "0.3333333333333333" }, { 2.0 / 3, "0.6666666666666666" },
        { 0.0001, "0.0001" }, { 0.00012, "0.00012" }, { 1e-5, "1e-05" },
        { 1.5e-7, "1.5e-07" }, { 1e16, "10000000000000000" }, { 1e17, "1e+17" },
        { 1e20, "1e+20" }, { 4503599627370495.5, "4503599627370495.5" },
        { 0.30000000000000004, "0.30000000000000004" }, { 5e-324, "5e-324" }, { 2.5e-320, "2.5e-320" },
        { 1.7976931348623157e308, "1.7976931348623157e+308" },
        { 1460.5, "1460.5" }, { 523.3333333333334, "523.3333333333334" },
        { INFINITY, "inf" }, { -INFINITY, "-inf" }, { NAN, "nan" },
    };
    for (size_t i = 0; i < sizeof vec / sizeof *vec; i++) {
        *fl_text_f64(out, vec[i].v) = 0;
        if (strcmp(out, vec[i].s) != 0)
            fail_msg("%.17g: got \"%s\", want \"%s\"", vec[i].v, out, vec[i].s);
    }
}

static void test_f64_random(void **st)
{
    /* Any bit pattern (every exponent, subnormals included). */
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = rnd();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (isfinite(v))
            check_f64(v);
    }
    /* Values flow statistics produce: ratios, means, short decimals. */
    for (int i = 0; i < 50000; i++) {
        double a = (double)(rnd() % 100000000), b = (double)(rnd() % 10000 + 1);
        check_f64(a / b);
        check_f64((double)(rnd() % 1000000) / 1000.0);
        check_f64((double)(int64_t)(rnd() % 2000000 - 1000000) * 1e-6);
        check_f64(sqrt(a));
    }
    /* Neighbours of powers of two and ten (the narrow-gap boundaries). */
    for (int e = -20; e <= 60; e++) {
        double p2 = ldexp(1.0, e), p10 = pow(10, e > 30 ? e - 40 : e);
        double v[] = { p2, nextafter(p2, 0), nextafter(p2, INFINITY), p10,
                       nextafter(p10, 0), nextafter(p10, INFINITY) };
        for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
            check_f64(v[i]);
            check_f64(-v[i]);
        }
    }
}

/* ---- time -------------------------------------------------------------- */
static void test_time(void **st)
{
    assert_string_equal(FMT(fl_text_ts(out, 0, FL_TEXT_TIME_RFC3339)),
                        "1970-01-01T00:00:00.000000000Z");
    assert_string_equal(FMT(fl_text_ts(out, 1767225600123456789ull, FL_TEXT_TIME_RFC3339)),
                        "2026-01-01T00:00:00.123456789Z");
    assert_string_equal(FMT(fl_text_ts(out, 951782400000000001ull, FL_TEXT_TIME_RFC3339)),
                        "2000-02-29T00:00:00.000000001Z");
    assert_string_equal(FMT(fl_text_ts(out, UINT64_MAX, FL_TEXT_TIME_RFC3339)),
                        "2554-07-21T23:34:33.709551615Z");
    assert_string_equal(FMT(fl_text_ts(out, 1767225600123456789ull, FL_TEXT_TIME_EPOCH_NS)),
                        "1767225600123456789");
    assert_string_equal(FMT(fl_text_ts(out, 1767225600123456789ull, FL_TEXT_TIME_EPOCH_S)),
                        "1767225600.123456789");
    assert_string_equal(FMT(fl_text_ts(out, 1767225600500000000ull, FL_TEXT_TIME_EPOCH_S)),
                        "1767225600.5");
    assert_string_equal(FMT(fl_text_ts(out, 1767225600000000000ull, FL_TEXT_TIME_EPOCH_S)),
                        "1767225600");
    /* Every date against gmtime_r: random instants over the whole range. */
    char ref[64];
    for (int i = 0; i < 200000; i++) {
        uint64_t ns = rnd();
        time_t t = (time_t)(ns / 1000000000u);
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        size_t n = strftime(ref, sizeof ref, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ref + n, sizeof ref - n, ".%09uZ", (unsigned)(ns % 1000000000u));
        assert_string_equal(FMT(fl_text_ts(out, ns, FL_TEXT_TIME_RFC3339)), ref);
    }

    assert_string_equal(FMT(fl_text_dur(out, 1250000000)), "1.25");
    assert_string_equal(FMT(fl_text_dur(out, 3000000000)), "3");
    assert_string_equal(FMT(fl_text_dur(out, 0)), "0");
    assert_string_equal(FMT(fl_text_dur(out, 1000)), "0.000001");
    assert_string_equal(FMT(fl_text_dur(out, 1)), "0.000000001");
    assert_string_equal(FMT(fl_text_dur(out, -500000000)), "-0.5");
    assert_string_equal(FMT(fl_text_dur(out, INT64_MIN)), "-9223372036.854775808");
    for (int i = 0; i < 100000; i++) {
        int64_t ns = (int64_t)rnd() >> (rnd() % 63);
        *fl_text_dur(out, ns) = 0;
        /* exact: parse back as integer seconds and nanoseconds */
        const char *s = out;
        int neg = *s == '-';
        s += neg;
        char *e;
        uint64_t sec = strtoull(s, &e, 10), frac = 0;
        if (*e == '.') {
            int digits = 0;
            for (e++; *e; e++, digits++)
                frac = frac * 10 + (uint64_t)(*e - '0');
            assert_true(digits >= 1 && digits <= 9 && frac % 10 != 0);
            while (digits++ < 9)
                frac *= 10;
        }
        uint64_t mag = sec * 1000000000u + frac;
        assert_true(mag == (neg ? 0 - (uint64_t)ns : (uint64_t)ns));
    }
}

/* ---- addresses --------------------------------------------------------- */
static void check_addr(const struct fl_addr *a)
{
    char ref[INET6_ADDRSTRLEN];
    *fl_text_addr(out, a) = 0;
    if (fl_addr_is_v4(a)) {
        inet_ntop(AF_INET, a->b + 12, ref, sizeof ref);
    } else {
        inet_ntop(AF_INET6, a->b, ref, sizeof ref);
        /* glibc prints IPv4-compatible ::a.b.c.d in mixed notation; flowline
         * keeps hex there (deprecated form, RFC 5952 §5 recommends mixed
         * notation only for well-known prefixes). Compare by parsing. */
        if (strchr(ref, '.')) {
            struct fl_addr back;
            assert_int_equal(inet_pton(AF_INET6, out, back.b), 1);
            assert_memory_equal(back.b, a->b, 16);
            return;
        }
    }
    if (strcmp(out, ref) != 0)
        fail_msg("got \"%s\", inet_ntop \"%s\"", out, ref);
}

static void test_addr(void **st)
{
    struct fl_addr a;
    static const struct { const char *in, *want; } vec[] = {
        { "::", "::" }, { "::1", "::1" }, { "1::", "1::" }, { "2001:db8::1", "2001:db8::1" },
        { "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },        /* first longest run */
        { "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" },     /* no :: for one group */
        { "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1" },
        { "FE80::ABCD", "fe80::abcd" }, { "::ffff:192.0.2.1", "192.0.2.1" },
        { "::ffff:0.0.0.0", "0.0.0.0" }, { "::ffff:255.255.255.255", "255.255.255.255" },
        { "::1.2.3.4", "::102:304" }, { "1:0:0:2:0:0:0:3", "1:0:0:2::3" },
    };
    for (size_t i = 0; i < sizeof vec / sizeof *vec; i++) {
        assert_int_equal(inet_pton(AF_INET6, vec[i].in, a.b), 1);
        *fl_text_addr(out, &a) = 0;
        assert_string_equal(out, vec[i].want);
    }
    /* A million random addresses: each group zero with probability 1/2 in
     * half of them (to get every run shape), IPv4-mapped in a quarter. */
    for (int i = 0; i < 1000000; i++) {
        uint64_t r1 = rnd(), r2 = rnd(), shape = rnd();
        memcpy(a.b, &r1, 8);
        memcpy(a.b + 8, &r2, 8);
        switch (shape & 3) {
        case 0:
            memset(a.b, 0, 10);
            a.b[10] = a.b[11] = 0xff;
            break;
        case 1:
            for (int g = 0; g < 8; g++)
                if (shape >> (8 + g) & 1)
                    a.b[2 * g] = a.b[2 * g + 1] = 0;
            break;
        case 2:
            for (int g = 0; g < 8; g++)   /* small groups: leading zeros */
                a.b[2 * g] = (shape >> (8 + g) & 1) ? 0 : a.b[2 * g] & 0x0f;
            break;
        default:
            break;
        }
        check_addr(&a);
    }
    uint8_t mac[6] = { 0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0xfe };
    assert_string_equal(FMT(fl_text_mac(out, mac)), "00:1a:2b:3c:4d:fe");
}

/* ---- strings ----------------------------------------------------------- */
static const char *csv(const char *s, size_t n, char sep)
{
    static struct fl_text_buf b;
    b.len = 0;
    assert_int_equal(fl_text_csv_str(&b, s, n, sep), 0);
    assert_int_equal(fl_text_buf_put(&b, "", 1), 0);
    return b.p;
}

static const char *json(const char *s, size_t n)
{
    static struct fl_text_buf b;
    b.len = 0;
    assert_int_equal(fl_text_json_str(&b, s, n), 0);
    assert_int_equal(fl_text_buf_put(&b, "", 1), 0);
    return b.p;
}
#define CSV(lit, sep) csv(lit, sizeof(lit) - 1, sep)
#define JSON(lit) json(lit, sizeof(lit) - 1)

static void test_csv(void **st)
{
    assert_string_equal(CSV("plain", ','), "plain");
    assert_string_equal(CSV("", ','), "\"\"");
    assert_string_equal(CSV("a,b", ','), "\"a,b\"");
    assert_string_equal(CSV("a,b", ';'), "a,b");
    assert_string_equal(CSV("a;b", ';'), "\"a;b\"");
    assert_string_equal(CSV("say \"hi\"", ','), "\"say \"\"hi\"\"\"");
    assert_string_equal(CSV("\"", ','), "\"\"\"\"");
    assert_string_equal(CSV("two\nlines", ','), "\"two\nlines\"");
    assert_string_equal(CSV("cr\r", ','), "\"cr\r\"");
    assert_string_equal(CSV("tab\there", ','), "tab\there");
    assert_string_equal(CSV("tab\there", '\t'), "\"tab\there\"");
    assert_string_equal(CSV(" lead", ','), " lead");
    assert_string_equal(CSV("caf\xc3\xa9", ','), "caf\xc3\xa9");
    assert_string_equal(CSV("bad\xff", ','), "bad\xef\xbf\xbd");
    assert_string_equal(CSV("q\",\xc0", ','), "\"q\"\",\xef\xbf\xbd\"");
    char nul[] = { 'a', 0, 'b' };
    static struct fl_text_buf b;
    assert_int_equal(fl_text_csv_str(&b, nul, 3, ','), 0);
    assert_int_equal(b.len, 3);
    fl_text_buf_free(&b);
}

static void test_json(void **st)
{
    assert_string_equal(JSON("plain"), "\"plain\"");
    assert_string_equal(JSON(""), "\"\"");
    assert_string_equal(JSON("q\"b\\s/"), "\"q\\\"b\\\\s/\"");
    assert_string_equal(JSON("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
    assert_string_equal(JSON("\x01\x1f\x7f"), "\"\\u0001\\u001f\x7f\"");
    char nul[] = { 'a', 0, 'b' };
    assert_string_equal(json(nul, 3), "\"a\\u0000b\"");
    /* Valid UTF-8 passes through, up to U+10FFFF. */
    assert_string_equal(JSON("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"),
                        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"");
#define R "\xef\xbf\xbd"
    /* One U+FFFD per maximal invalid subpart (what Python's
     * bytes.decode("utf-8", "replace") gives too). */
    assert_string_equal(JSON("\x80"), "\"" R "\"");
    assert_string_equal(JSON("\xc0\xaf"), "\"" R R "\"");              /* overlong lead */
    assert_string_equal(JSON("\xe0\x80\xaf"), "\"" R R R "\"");        /* overlong */
    assert_string_equal(JSON("\xed\xa0\x80"), "\"" R R R "\"");        /* surrogate */
    assert_string_equal(JSON("\xf4\x90\x80\x80"), "\"" R R R R "\"");  /* > U+10FFFF */
    assert_string_equal(JSON("\xe2\x82"), "\"" R "\"");                /* truncated */
    assert_string_equal(JSON("\xe2\x82x"), "\"" R "x\"");
    assert_string_equal(JSON("\xf0\x9f\x98"), "\"" R "\"");
    assert_string_equal(JSON("\xf0\x9f\x98\xc3\xa9"), "\"" R "\xc3\xa9\"");
    assert_string_equal(JSON("\xf5\xff\xfe"), "\"" R R R "\"");
    assert_string_equal(JSON("a\xc3"), "\"a" R "\"");
#undef R
}

static void test_hex(void **st)
{
    static struct fl_text_buf b;
    assert_int_equal(fl_text_hex(&b, "\x00\x0a\xff\x10", 4), 0);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.p, "000aff10", 8);
    fl_text_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_f64_vectors),
        cmocka_unit_test(test_f64_random),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_addr),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
