/* test_text_parse.c: fl_text_parse (plugins/lib/text), the text forms read
 * back. Every formatter's output over random values parses to the same
 * cell (timestamps in all three time formats); RFC 3339 with offsets and
 * short fractions against timegm(); and values that are not of the type
 * (overflow, junk, bad dates, odd hex) are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <flowline/plugin.h>
#include "fl_harness.h"
#include "fl_text.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static int parse(enum fl_type t, const char *s, void *cell)
{
    return fl_text_parse(t, s, strlen(s), NULL, cell);
}

static void test_round_trip(void **st)
{
    (void)st;
    char buf[FL_TEXT_CELL_MAX];
    for (int i = 0; i < 200000; i++) {
        uint64_t u = rnd() >> (rnd() % 64), u2;
        int64_t v = (int64_t)rnd() >> (rnd() % 64), v2;
        char *e = fl_text_u64(buf, u);
        assert_int_equal(fl_text_parse(FL_T_U64, buf, (size_t)(e - buf), NULL, &u2), 0);
        assert_true(u == u2);
        e = fl_text_i64(buf, v);
        assert_int_equal(fl_text_parse(FL_T_I64, buf, (size_t)(e - buf), NULL, &v2), 0);
        assert_true(v == v2);
        e = fl_text_dur(buf, v);
        assert_int_equal(fl_text_parse(FL_T_DUR, buf, (size_t)(e - buf), NULL, &v2), 0);
        assert_true(v == v2);
        uint64_t bits = rnd();
        double d, d2;
        memcpy(&d, &bits, sizeof(d));
        if (isfinite(d)) {
            e = fl_text_f64(buf, d);
            assert_int_equal(fl_text_parse(FL_T_F64, buf, (size_t)(e - buf), NULL, &d2), 0);
            assert_memory_equal(&d, &d2, sizeof(d));
        }
        uint64_t ts = rnd() % 4102444800000000000ull, ts2;   /* before 2100 */
        for (int tf = FL_TEXT_TIME_RFC3339; tf <= FL_TEXT_TIME_EPOCH_S; tf++) {
            e = fl_text_ts(buf, tf == FL_TEXT_TIME_RFC3339 || ts >= 1000000000000u ? ts
                                : ts + 1000000000000u, (enum fl_text_time)tf);
            assert_int_equal(fl_text_parse(FL_T_TS, buf, (size_t)(e - buf), NULL, &ts2), 0);
            assert_true(ts2 == (tf == FL_TEXT_TIME_RFC3339 || ts >= 1000000000000u ? ts
                                : ts + 1000000000000u));
        }
        struct fl_addr a, a2;
        for (int k = 0; k < 16; k++)
            a.b[k] = (uint8_t)(rnd() % 3 ? 0 : rnd());
        if (i % 2) {
            memset(a.b, 0, 10);
            a.b[10] = a.b[11] = 0xff;
        }
        e = fl_text_addr(buf, &a);
        assert_int_equal(fl_text_parse(FL_T_ADDR, buf, (size_t)(e - buf), NULL, &a2), 0);
        assert_memory_equal(&a, &a2, sizeof(a));
        uint8_t mac[6], mac2[6];
        for (int k = 0; k < 6; k++)
            mac[k] = (uint8_t)rnd();
        e = fl_text_mac(buf, mac);
        assert_int_equal(fl_text_parse(FL_T_MAC, buf, (size_t)(e - buf), NULL, mac2), 0);
        assert_memory_equal(mac, mac2, 6);
    }
}

static uint64_t tgm(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi, .tm_sec = s };
    return (uint64_t)timegm(&tm) * 1000000000u;
}

static void test_vectors(void **st)
{
    (void)st;
    uint64_t ts;
    assert_int_equal(parse(FL_T_TS, "2026-01-01T00:00:00Z", &ts), 0);
    assert_true(ts == tgm(2026, 1, 1, 0, 0, 0));
    assert_int_equal(parse(FL_T_TS, "2026-01-01T00:00:00.5+01:00", &ts), 0);
    assert_true(ts == tgm(2025, 12, 31, 23, 0, 0) + 500000000u);
    assert_int_equal(parse(FL_T_TS, "2024-02-29 23:59:59.123456789123-00:30", &ts), 0);
    assert_true(ts == tgm(2024, 3, 1, 0, 29, 59) + 123456789u);
    assert_int_equal(parse(FL_T_TS, "1767225600", &ts), 0);           /* seconds */
    assert_true(ts == 1767225600000000000ull);
    assert_int_equal(parse(FL_T_TS, "1767225600.25", &ts), 0);
    assert_true(ts == 1767225600250000000ull);
    assert_int_equal(parse(FL_T_TS, "1767225600123456789", &ts), 0);  /* ns */
    assert_true(ts == 1767225600123456789ull);
    /* the latest time a ts holds, as the formatter writes it (fuzz_kafka_msg) */
    assert_int_equal(parse(FL_T_TS, "2554-07-21T23:34:33.709551615Z", &ts), 0);
    assert_true(ts == UINT64_MAX);
    assert_int_equal(parse(FL_T_TS, "2554-07-21T23:34:33.709551616Z", &ts), -FL_EINVAL);
    for (int y = 1970; y < 2400; y += 7)
        for (int mo = 1; mo <= 12; mo++) {
            char s[40];
            snprintf(s, sizeof(s), "%04d-%02d-28T12:34:56Z", y, mo);
            assert_int_equal(parse(FL_T_TS, s, &ts), 0);
            assert_true(ts == tgm(y, mo, 28, 12, 34, 56));
        }
    static const char *const bad_ts[] = {
        "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z",
        "2026-01-01T00:00:00", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+0100", "x",
        "", "1.2.3", "-5",
    };
    for (size_t i = 0; i < sizeof(bad_ts) / sizeof(bad_ts[0]); i++)
        assert_int_equal(parse(FL_T_TS, bad_ts[i], &ts), -FL_EINVAL);

    uint8_t u8;
    uint16_t u16;
    uint64_t u64;
    int64_t i64;
    double d;
    bool b;
    assert_int_equal(parse(FL_T_U8, "255", &u8), 0);
    assert_int_equal(parse(FL_T_U8, "256", &u8), -FL_EINVAL);
    assert_int_equal(parse(FL_T_U16, "65536", &u16), -FL_EINVAL);
    assert_int_equal(parse(FL_T_U64, "18446744073709551615", &u64), 0);
    assert_true(u64 == UINT64_MAX);
    assert_int_equal(parse(FL_T_U64, "18446744073709551616", &u64), -FL_EINVAL);
    assert_int_equal(parse(FL_T_U64, "-1", &u64), -FL_EINVAL);
    assert_int_equal(parse(FL_T_U64, " 1", &u64), -FL_EINVAL);
    assert_int_equal(parse(FL_T_I64, "-9223372036854775808", &i64), 0);
    assert_true(i64 == INT64_MIN);
    assert_int_equal(parse(FL_T_I64, "9223372036854775808", &i64), -FL_EINVAL);
    assert_int_equal(parse(FL_T_F64, "1.5e3", &d), 0);
    assert_true(d == 1500);
    assert_int_equal(parse(FL_T_F64, "-inf", &d), 0);
    assert_true(isinf(d) && d < 0);
    assert_int_equal(parse(FL_T_F64, "0x10", &d), -FL_EINVAL);
    assert_int_equal(parse(FL_T_F64, "1e", &d), -FL_EINVAL);
    assert_int_equal(parse(FL_T_BOOL, "true", &b), 0);
    assert_true(b);
    assert_int_equal(parse(FL_T_BOOL, "0", &b), 0);
    assert_false(b);
    assert_int_equal(parse(FL_T_BOOL, "yes", &b), -FL_EINVAL);
    assert_int_equal(parse(FL_T_DUR, "-0.5", &i64), 0);
    assert_true(i64 == -500000000);
    struct fl_addr a;
    assert_int_equal(parse(FL_T_ADDR, "192.0.2.1", &a), 0);
    assert_true(fl_addr_is_v4(&a) && a.b[12] == 192 && a.b[15] == 1);
    assert_int_equal(parse(FL_T_ADDR, "::ffff:192.0.2.1", &a), 0);
    assert_true(fl_addr_is_v4(&a));
    assert_int_equal(parse(FL_T_ADDR, "192.0.2.256", &a), -FL_EINVAL);
    assert_int_equal(parse(FL_T_ADDR, "2001:db8::1::1", &a), -FL_EINVAL);
    uint8_t mac[6];
    assert_int_equal(parse(FL_T_MAC, "00-1A-2b-3c-4d-5e", mac), 0);
    assert_true(mac[1] == 0x1a && mac[5] == 0x5e);
    assert_int_equal(parse(FL_T_MAC, "00:1a:2b:3c:4d", mac), -FL_EINVAL);
}

static void test_str_bytes(void **st)
{
    (void)st;
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_col_def cols[] = { { "s", FL_T_STR }, { "b", FL_T_BYTES } };
    const struct fl_schema *s;
    struct fl_batch *bt;
    assert_int_equal(fl_schema_intern(ctx, cols, 2, sizeof(cols[0]), &s), 0);
    assert_int_equal(fl_batch_new(ctx, s, 4, &bt), 0);
    struct fl_span sp;
    assert_int_equal(fl_text_parse(FL_T_STR, "a,\"b\"", 5, bt, &sp), 0);
    assert_memory_equal(fl_batch_bytes(bt, sp), "a,\"b\"", 5);
    assert_int_equal(fl_text_parse(FL_T_BYTES, "0aFF", 4, bt, &sp), 0);
    assert_int_equal(sp.len, 2);
    assert_memory_equal(fl_batch_bytes(bt, sp), "\x0a\xff", 2);
    assert_int_equal(fl_text_parse(FL_T_BYTES, "0a0", 3, bt, &sp), -FL_EINVAL);
    assert_int_equal(fl_text_parse(FL_T_BYTES, "0g", 2, bt, &sp), -FL_EINVAL);
    fl_batch_release(&bt);
    fl_test_ctx_destroy(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_str_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
