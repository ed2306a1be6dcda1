/* test_text_ref.c: the text sinks' fast paths (plugins/lib/text: inline
 * integer, time and IPv4 formatters, the per-minute RFC 3339 prefix cache,
 * the float short-decimal path, the layout's per-schema cell plan and its
 * plain-string copy) against straightforward references built on
 * snprintf, gmtime_r and inet_ntop, on edge values and many random ones,
 * so that no fast path can drift from the documented forms (fl_text.h).
 *
 * The float reference: the shortest precision p at which "%.*e" (the
 * correctly rounded p-digit decimal M) or one of its p-digit neighbours
 * M - 1, M + 1 reads back as v (strtod); the formatter must write one of
 * those that read back, and exactly M when it is the only one, in fixed
 * notation for 1e-4 <= |v| < 1e17, otherwise in %g's exponent form with
 * %.Ng's digits (see ref_f64). Integers below 1e17 print all their digits
 * ("%.0f"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "fl_text.h"
#include "fl_harness.h"

static uint64_t rng_state = 0x6a09e667f3bcc909ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static const uint64_t pow10u[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
    10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
    100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull
};

/* What a formatter wrote, NUL-terminated; the room a cell is promised. */
static char out[FL_TEXT_CELL_MAX + 8];
#define FMT(call) (*(call) = 0, out)

/* ---- references ------------------------------------------------------- */

static void ref_u64(char *s, uint64_t v)
{
    snprintf(s, 32, "%" PRIu64, v);
}

/* M * 10^x (M > 0) in fl_text.h's float form, for a positive value. */
static void ref_dec(char *s, uint64_t m, int x)
{
    char d[24];
    while (m % 10 == 0) {
        m /= 10;
        x++;
    }
    int n = snprintf(d, sizeof d, "%" PRIu64, m);
    int e = x + n - 1;            /* d[0] is the 10^e digit */
    if (e >= -4 && e < 17) {      /* 1e-4 <= value < 1e17: fixed */
        if (e < 0) {
            s += sprintf(s, "0.");
            for (int i = 0; i < -e - 1; i++)
                *s++ = '0';
            strcpy(s, d);
        } else if (n <= e + 1) {
            s += sprintf(s, "%s", d);
            for (int i = 0; i < e + 1 - n; i++)
                *s++ = '0';
            *s = 0;
        } else {
            sprintf(s, "%.*s.%s", e + 1, d, d + e + 1);
        }
    } else if (n == 1) {
        sprintf(s, "%se%c%02d", d, e < 0 ? '-' : '+', abs(e));
    } else {
        sprintf(s, "%c.%se%c%02d", d[0], d + 1, e < 0 ? '-' : '+', abs(e));
    }
}

static bool reads_back(uint64_t m, int x, double v)
{
    char s[48];
    snprintf(s, sizeof s, "%" PRIu64 "e%d", m, x);
    return strtod(s, NULL) == v;
}

/* The correctly rounded p-digit decimal of a > 0 as M * 10^x. */
static void round_p(double a, int p, uint64_t *m, int *x)
{
    char e[48];
    snprintf(e, sizeof e, "%.*e", p - 1, a);
    const char *c = e;
    for (*m = 0; *c != 'e'; c++)
        if (*c >= '0' && *c <= '9')
            *m = *m * 10 + (uint64_t)(*c - '0');
    *x = atoi(c + 1) - (p - 1);
}

/* The p-digit decimals next to a (M - 1, M, M + 1) that read back as a,
 * written into cand with sign; how many. */
static int cands_at(double a, int p, const char *sign, char cand[3][64])
{
    uint64_t m;
    int x, n = 0;
    round_p(a, p, &m, &x);
    uint64_t try[3] = { m, m - 1, m + 1 };
    for (int i = 0; i < 3; i++) {
        if (try[i] == 0 || !reads_back(try[i], x, a))
            continue;
        char body[48];
        ref_dec(body, try[i], x);
        snprintf(cand[n++], 64, "%s%s", sign, body);
    }
    return n;
}

/* The forms of v a correct formatter may write: n of them in cand. */
static int ref_f64(double v, char cand[3][64])
{
    if (isnan(v))
        return strcpy(cand[0], "nan"), 1;
    if (isinf(v))
        return strcpy(cand[0], v < 0 ? "-inf" : "inf"), 1;
    const char *sign = signbit(v) ? "-" : "";
    double a = fabs(v);
    if (a == 0 || (a < 1e17 && a == floor(a))) {
        snprintf(cand[0], 64, "%s%.0f", sign, a);
        return 1;
    }
    if (a >= 1e-4 && a < 1e17) {
        /* Some p-digit decimal reads back => some (p+1)-digit one does (a
         * zero appended): the least such p by bisection. */
        int lo = 1, hi = 17;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (cands_at(a, mid, sign, cand))
                hi = mid;
            else
                lo = mid + 1;
        }
        return cands_at(a, lo, sign, cand);
    }
    /* Outside the fixed range the rule is printf's: the first of %.15g,
     * %.16g, %.17g (from %.1g for subnormals) that reads back, which at
     * times is a digit longer than a neighbour would be (kept as it is). */
    for (int p = a >= 2.2250738585072014e-308 ? 15 : 1; p <= 17; p++) {
        uint64_t m;
        int x;
        round_p(a, p, &m, &x);
        if (p < 17 && !reads_back(m, x, a))
            continue;
        char body[48];
        ref_dec(body, m, x);
        snprintf(cand[0], 64, "%s%s", sign, body);
        return 1;
    }
    return 0;
}

static void ref_rfc3339(char *s, uint64_t ns)
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    size_t n = strftime(s, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(s + n, 40 - n, ".%09uZ", (unsigned)(ns % 1000000000u));
}

/* Seconds and a fraction with its trailing zeros (and then the point) cut. */
static void ref_secs(char *s, const char *sign, uint64_t sec, uint32_t frac)
{
    int n = sprintf(s, "%s%" PRIu64 ".%09u", sign, sec, frac);
    while (s[n - 1] == '0')
        s[--n] = 0;
    if (s[n - 1] == '.')
        s[--n] = 0;
}

static void ref_dur(char *s, int64_t ns)
{
    uint64_t u = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
    ref_secs(s, ns < 0 ? "-" : "", u / 1000000000u, (uint32_t)(u % 1000000000u));
}

static void ref_ts(char *s, uint64_t ns, enum fl_text_time tf)
{
    if (tf == FL_TEXT_TIME_RFC3339)
        ref_rfc3339(s, ns);
    else if (tf == FL_TEXT_TIME_EPOCH_NS)
        ref_u64(s, ns);
    else
        ref_secs(s, "", ns / 1000000000u, (uint32_t)(ns % 1000000000u));
}

static bool v4_mapped(const uint8_t *b)
{
    static const uint8_t pre[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return memcmp(b, pre, 12) == 0;
}

/* inet_ntop, which writes IPv4-compatible ::a.b.c.d in mixed notation where
 * flowline keeps hex: such addresses are left out of the random ones. */
static bool v4_compat(const uint8_t *b)
{
    static const uint8_t z[12];
    return memcmp(b, z, 12) == 0 && (b[12] | b[13]) != 0;
}

static void ref_addr(char *s, const uint8_t *b)
{
    if (v4_mapped(b))
        inet_ntop(AF_INET, b + 12, s, INET6_ADDRSTRLEN);
    else
        inet_ntop(AF_INET6, b, s, INET6_ADDRSTRLEN);
}

/* An address of one of the shapes flow records hold. */
static void rnd_addr(uint8_t *b)
{
    uint64_t r1 = rnd(), r2 = rnd();
    memcpy(b, &r1, 8);
    memcpy(b + 8, &r2, 8);
    switch (rnd() % 4) {
    case 0:
    case 1:   /* IPv4-mapped, octets of every width */
        memset(b, 0, 10);
        b[10] = b[11] = 0xff;
        for (int i = 12; i < 16; i++)
            b[i] = (uint8_t)(rnd() % 3 == 0 ? rnd() % 10 : rnd() % 3 == 0 ? rnd() % 100 : rnd());
        break;
    case 2:   /* runs of zero groups */
        for (int i = 0; i < 8; i++)
            if (rnd() % 2) {
                b[2 * i] = 0;
                b[2 * i + 1] = (uint8_t)(rnd() % 3 ? 0 : rnd() % 256);
            }
        break;
    default:
        break;
    }
    if (v4_compat(b))
        b[0] = 0x20;
}

/* ---- cells --------------------------------------------------------------- */

static void check_u64(uint64_t v)
{
    char ref[32];
    ref_u64(ref, v);
    if (strcmp(FMT(fl_text_u64(out, v)), ref) != 0)
        fail_msg("u64 %s: got \"%s\"", ref, out);
    snprintf(ref, sizeof ref, "%" PRId64, (int64_t)v);
    if (strcmp(FMT(fl_text_i64(out, (int64_t)v)), ref) != 0)
        fail_msg("i64 %s: got \"%s\"", ref, out);
}

static void test_integers_every_width(void **st)
{
    (void)st;
    check_u64(0);
    check_u64(UINT64_MAX);
    check_u64((uint64_t)INT64_MAX);
    check_u64((uint64_t)INT64_MIN);
    for (int k = 1; k < 20; k++) {
        uint64_t p = pow10u[k];
        check_u64(p - 1);
        check_u64(p);
        check_u64(p + 1);
        check_u64(0 - p);   /* negative as i64 */
        for (int i = 0; i < 2000; i++)
            check_u64(p / 10 + rnd() % (p - p / 10));   /* exactly k digits */
    }
    for (int i = 0; i < 200000; i++)
        check_u64(rnd() >> (rnd() % 64));
}

static void check_f64(double v)
{
    char cand[3][64];
    int n = ref_f64(v, cand);
    FMT(fl_text_f64(out, v));
    for (int i = 0; i < n; i++)
        if (strcmp(out, cand[i]) == 0)
            return;
    fail_msg("%.17g: got \"%s\", reference \"%s\"%s%s%s%s", v, out, cand[0],
             n > 1 ? " or \"" : "", n > 1 ? cand[1] : "", n > 1 ? "\"" : "",
             n > 2 ? " (or a third)" : "");
}

static void test_f64_reference(void **st)
{
    (void)st;
    double edge[] = {
        0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1e-4, 9.999999999999999e-5, 1e-5, 1e16, 1e17,
        nextafter(1e17, 0), 99999999999999984.0, 1e22, 1e23, 5e-324, -5e-324, 2.2250738585072014e-308,
        2.2250738585072009e-308, 1.7976931348623157e308, -1.7976931348623157e308,
        4503599627370495.5, 4503599627370496.0, 9007199254740993.0, 67108863.5, 67108864.5,
        67108863.999999, 0.000123, 0.015625, 316.1, 89.6, 53.333333333333336,
        9.428090415820634, 1460.5, 0.30000000000000004, 123456.789012, 1234567.8901234,
        INFINITY, -INFINITY, NAN,
    };
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
        check_f64(edge[i]);
        if (isfinite(edge[i])) {
            check_f64(nextafter(edge[i], INFINITY));
            check_f64(nextafter(edge[i], -INFINITY));
        }
    }
    /* Every power of ten and two in range, and their neighbours. */
    for (int e = -323; e <= 308; e++) {
        double p = pow(10, e);
        check_f64(p);
        check_f64(nextafter(p, 0));
        check_f64(nextafter(p, INFINITY));
    }
    for (int e = -1074; e <= 1023; e++) {
        double p = ldexp(1.0, e);
        check_f64(p);
        check_f64(nextafter(p, 0));
        check_f64(-nextafter(p, INFINITY));
    }
    /* Any bit pattern: every exponent, subnormals included. */
    for (int i = 0; i < 50000; i++) {
        uint64_t bits = rnd();
        double v;
        memcpy(&v, &bits, sizeof v);
        check_f64(v);
    }
    /* The values flow statistics make, around the short-decimal path's
     * bounds (10^-4, 2^26, six decimals): means of a few sizes, k-decimal
     * numbers for every k, their neighbours, square roots. */
    for (int i = 0; i < 40000; i++) {
        double a = (double)(rnd() % 100000000), b = (double)(rnd() % 64 + 1);
        check_f64(a / b);
        check_f64(sqrt(a));
        int k = (int)(rnd() % 9);
        double d = (double)(rnd() % 100000000000ull) / (double)pow10u[k];
        check_f64(d);
        check_f64(nextafter(d, 0));
        check_f64(nextafter(d, INFINITY));
        check_f64(-d);
        check_f64(ldexp((double)(rnd() % (1u << 20)), -(int)(rnd() % 40)));
    }
}

static void test_time_reference(void **st)
{
    (void)st;
    char ref[48];
    static const enum fl_text_time tfs[] = { FL_TEXT_TIME_RFC3339, FL_TEXT_TIME_EPOCH_NS,
                                             FL_TEXT_TIME_EPOCH_S };
    uint64_t edge[] = { 0, 1, 999999999, 1000000000, 59999999999ull, 60000000000ull,
                        86399999999999ull, 86400000000000ull, 951782399999999999ull,
                        951782400000000000ull, 1767225599999999999ull, 1767225600000000000ull,
                        4102444800000000000ull, UINT64_MAX - 1, UINT64_MAX };
    for (size_t t = 0; t < 3; t++) {
        for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
            ref_ts(ref, edge[i], tfs[t]);
            assert_string_equal(FMT(fl_text_ts(out, edge[i], tfs[t])), ref);
        }
        for (int i = 0; i < 100000; i++) {
            uint64_t ns = rnd() >> (rnd() % 8);
            if (rnd() % 2)   /* fractions with trailing zeros */
                ns -= ns % pow10u[rnd() % 10];
            ref_ts(ref, ns, tfs[t]);
            if (strcmp(FMT(fl_text_ts(out, ns, tfs[t])), ref) != 0)
                fail_msg("ts %" PRIu64 ": got \"%s\", want \"%s\"", ns, out, ref);
        }
    }
    int64_t dedge[] = { 0, 1, -1, 999999999, 1000000000, -1000000000, 1500000000,
                        INT64_MAX, INT64_MIN, INT64_MIN + 1 };
    for (size_t i = 0; i < sizeof dedge / sizeof *dedge; i++) {
        ref_dur(ref, dedge[i]);
        assert_string_equal(FMT(fl_text_dur(out, dedge[i])), ref);
    }
    for (int i = 0; i < 200000; i++) {
        int64_t ns = (int64_t)rnd() >> (rnd() % 63);
        if (rnd() % 2)
            ns -= ns % (int64_t)pow10u[rnd() % 10];
        ref_dur(ref, ns);
        if (strcmp(FMT(fl_text_dur(out, ns)), ref) != 0)
            fail_msg("dur %" PRId64 ": got \"%s\", want \"%s\"", ns, out, ref);
    }
}

static void test_addr_reference(void **st)
{
    (void)st;
    char ref[INET6_ADDRSTRLEN];
    struct fl_addr a;
    /* Every octet value in every position of a dotted quad. */
    for (int pos = 12; pos < 16; pos++)
        for (int v = 0; v < 256; v++) {
            memset(a.b, 0, 16);
            a.b[10] = a.b[11] = 0xff;
            a.b[12] = 1;
            a.b[13] = 22;
            a.b[14] = 133;
            a.b[15] = 4;
            a.b[pos] = (uint8_t)v;
            ref_addr(ref, a.b);
            assert_string_equal(FMT(fl_text_addr(out, &a)), ref);
        }
    /* Nearly IPv4-mapped: IPv6 text. */
    memset(a.b, 0, 16);
    a.b[10] = 0xff;
    a.b[11] = 0xfe;
    ref_addr(ref, a.b);
    assert_string_equal(FMT(fl_text_addr(out, &a)), ref);
    for (int i = 0; i < 300000; i++) {
        rnd_addr(a.b);
        ref_addr(ref, a.b);
        if (strcmp(FMT(fl_text_addr(out, &a)), ref) != 0)
            fail_msg("got \"%s\", inet_ntop \"%s\"", out, ref);
    }
}

/* ---- whole rows -------------------------------------------------------- */

static const struct fl_col_def row_cols[] = {
    { "start", FL_T_TS }, { "end", FL_T_TS }, { "a_third_timestamp", FL_T_TS },
    { "src", FL_T_ADDR }, { "dst", FL_T_ADDR }, { "sport", FL_T_U16 }, { "proto", FL_T_U8 },
    { "n32", FL_T_U32 }, { "bytes", FL_T_U64 }, { "delta", FL_T_I64 }, { "avg", FL_T_F64 },
    { "ok", FL_T_BOOL }, { "dur", FL_T_DUR }, { "mac", FL_T_MAC }, { "state", FL_T_STR },
    { "blob", FL_T_BYTES },
    { "a_field_name_longer_than_sixteen_and_then_thirty_two_bytes", FL_T_U64 },
};
#define NROW_COLS (sizeof row_cols / sizeof *row_cols)
#define ROWS 5000

/* Strings that take each path: plain, needing CSV quotes or JSON escapes,
 * non-ASCII (valid or not), empty, longer than a cell. */
static const char *const strs[] = {
    "SF", "rst", "REJ", "a,b", "say \"hi\"", "line\nbreak", "tab\there", "caf\xc3\xa9",
    "bad\xff", "", "back\\slash", "0123456789012345678901234567890123456789012345678901234567890123",
    "012345678901234567890123456789012345678901234567890123456789012",
};

/* Row r of the batch as the reference writes it: cell by cell, with the
 * general string paths of text_fmt.c (what the plain copy must match). */
static void ref_row(struct fl_text_buf *rb, const struct fl_batch *b, uint32_t r,
                    const struct fl_text_style *style, const int *map, size_t n)
{
    bool json = style->format == FL_TEXT_JSON;
    char cell[128];
    if (json)
        assert_int_equal(fl_text_buf_put(rb, "{", 1), 0);
    for (size_t i = 0; i < n; i++) {
        int c = map[i];
        const char *name = c >= 0 ? row_cols[c].name : "absent";
        if (json) {
            if (i)
                assert_int_equal(fl_text_buf_put(rb, ",", 1), 0);
            assert_int_equal(fl_text_json_str(rb, name, strlen(name)), 0);
            assert_int_equal(fl_text_buf_put(rb, ":", 1), 0);
        } else if (i) {
            assert_int_equal(fl_text_buf_put(rb, &style->sep, 1), 0);
        }
        if (c < 0 || !fl_batch_is_valid(b, (uint32_t)c, r)) {
            if (json)
                assert_int_equal(fl_text_buf_put(rb, "null", 4), 0);
            else if (n == 1)
                assert_int_equal(fl_text_buf_put(rb, "\"\"", 2), 0);
            continue;
        }
        bool q = false;
        cell[0] = 0;
        switch (row_cols[c].type) {
        case FL_T_TS:
            ref_ts(cell, FL_COL(b, c, uint64_t)[r], style->time);
            q = json && style->time == FL_TEXT_TIME_RFC3339;
            break;
        case FL_T_ADDR:
            ref_addr(cell, FL_COL(b, c, struct fl_addr)[r].b);
            q = json;
            break;
        case FL_T_U16: ref_u64(cell, FL_COL(b, c, uint16_t)[r]); break;
        case FL_T_U8:  ref_u64(cell, FL_COL(b, c, uint8_t)[r]); break;
        case FL_T_U32: ref_u64(cell, FL_COL(b, c, uint32_t)[r]); break;
        case FL_T_U64: ref_u64(cell, FL_COL(b, c, uint64_t)[r]); break;
        case FL_T_I64: snprintf(cell, sizeof cell, "%" PRId64, FL_COL(b, c, int64_t)[r]); break;
        case FL_T_F64: {
            double v = FL_COL(b, c, double)[r];
            if (json && !isfinite(v)) {
                strcpy(cell, "null");
            } else {
                /* fl_text_f64, checked against the reference above: here
                 * the layout's inline path must agree with it. */
                *fl_text_f64(cell, v) = 0;
            }
            break;
        }
        case FL_T_BOOL: strcpy(cell, FL_COL(b, c, uint8_t)[r] ? "true" : "false"); break;
        case FL_T_DUR: ref_dur(cell, FL_COL(b, c, int64_t)[r]); break;
        case FL_T_MAC: {
            const uint8_t *m = FL_COL(b, c, uint8_t) + 6 * (size_t)r;
            snprintf(cell, sizeof cell, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
                     m[3], m[4], m[5]);
            q = json;
            break;
        }
        case FL_T_STR: {
            struct fl_span sp = FL_COL(b, c, struct fl_span)[r];
            const char *s = sp.len ? fl_batch_bytes(b, sp) : "";
            assert_int_equal(json ? fl_text_json_str(rb, s, sp.len)
                                  : fl_text_csv_str(rb, s, sp.len, style->sep), 0);
            continue;
        }
        case FL_T_BYTES: {
            struct fl_span sp = FL_COL(b, c, struct fl_span)[r];
            const uint8_t *s = (const uint8_t *)(sp.len ? fl_batch_bytes(b, sp) : "");
            int k = 0;
            for (uint32_t j = 0; j < sp.len; j++)
                k += snprintf(cell + k, sizeof cell - (size_t)k, "%02x", s[j]);
            q = json || sp.len == 0;
            break;
        }
        default:
            fail();
        }
        if (q)
            assert_int_equal(fl_text_buf_put(rb, "\"", 1), 0);
        assert_int_equal(fl_text_buf_put(rb, cell, strlen(cell)), 0);
        if (q)
            assert_int_equal(fl_text_buf_put(rb, "\"", 1), 0);
    }
    assert_int_equal(fl_text_buf_put(rb, json ? (n ? "}\n" : "{}\n") : "\n",
                                     json ? (n ? 2 : 3) : 1), 0);
}

static void fill_rows(struct fl_batch *b, bool missing)
{
    /* Timestamps walking forward and back over second, minute, hour, day
     * and year boundaries (the RFC 3339 prefix cache), each column its own
     * way. */
    uint64_t t = 1767225540000000000ull - 3000000000ull;   /* 2025-12-31T23:58:57 */
    for (uint32_t r = 0; r < ROWS; r++) {
        t += rnd() % 4 == 0 ? rnd() % 200000000000ull : rnd() % 700000000ull;
        FL_COL(b, 0, uint64_t)[r] = t;
        uint64_t next_min = (t / 60000000000ull + 1) * 60000000000ull;
        uint64_t ends[] = { t - rnd() % 100000000000ull, t + rnd() % 5000000000ull,
                            next_min, next_min - 1, next_min + 1, next_min - 60000000000ull,
                            next_min + 60000000000ull, t + rnd() % 5000000000ull };
        FL_COL(b, 1, uint64_t)[r] = ends[rnd() % 8];   /* exactly at minute edges too */
        FL_COL(b, 2, uint64_t)[r] = rnd() % 16 == 0 ? rnd() : 951782400000000000ull + rnd() % 200000000000ull - 100000000000ull;
        rnd_addr(FL_COL(b, 3, struct fl_addr)[r].b);
        rnd_addr(FL_COL(b, 4, struct fl_addr)[r].b);
        FL_COL(b, 5, uint16_t)[r] = (uint16_t)(rnd() >> (rnd() % 64));
        FL_COL(b, 6, uint8_t)[r] = (uint8_t)(rnd() >> (rnd() % 64));
        FL_COL(b, 7, uint32_t)[r] = (uint32_t)(rnd() >> (rnd() % 64));
        FL_COL(b, 8, uint64_t)[r] = rnd() >> (rnd() % 64);
        FL_COL(b, 9, int64_t)[r] = (int64_t)rnd() >> (rnd() % 64);
        double pk = (double)(rnd() % 40 + 1), sz = (double)(rnd() % 100000);
        double avgs[] = { sz / pk, sqrt(sz), (double)(rnd() % 1500), -sz / pk, 0.0, -0.0,
                          1e-7 * sz, sz * 1e15, NAN, INFINITY };
        FL_COL(b, 10, double)[r] = avgs[rnd() % (sizeof avgs / sizeof *avgs)];
        FL_COL(b, 11, uint8_t)[r] = (uint8_t)(rnd() % 2);
        FL_COL(b, 12, int64_t)[r] = (int64_t)rnd() >> (rnd() % 63);
        uint64_t m = rnd();
        memcpy(FL_COL(b, 13, uint8_t) + 6 * (size_t)r, &m, 6);
        const char *s = strs[rnd() % (sizeof strs / sizeof *strs)];
        assert_int_equal(fl_batch_put_bytes(b, s, (uint32_t)strlen(s),
                                            &FL_COL(b, 14, struct fl_span)[r]), 0);
        uint8_t blob[8];
        uint64_t bl = rnd();
        memcpy(blob, &bl, 8);
        assert_int_equal(fl_batch_put_bytes(b, blob, (uint32_t)(rnd() % 9),
                                            &FL_COL(b, 15, struct fl_span)[r]), 0);
        FL_COL(b, 16, uint64_t)[r] = rnd() % 1000;
        if (missing)
            for (uint32_t c = 0; c < NROW_COLS; c++)
                if (rnd() % 7 == 0)
                    assert_int_equal(fl_batch_set_missing(b, c, r), 0);
    }
    b->rows = ROWS;
}

/* Format the batch with a layout, in chunks (limit) as a file writer
 * does, and compare each row with the reference. */
static void check_rows(struct fl_ctx *ctx, const struct fl_schema *s, bool missing)
{
    struct fl_batch *b = NULL;
    assert_int_equal(fl_batch_new(ctx, s, ROWS, &b), 0);
    fill_rows(b, missing);
    /* Every column in order, and a pick with a repeat and an absent field. */
    int all[NROW_COLS], pick[] = { 14, 3, -1, 10, 0, 0, 16, 12 };
    const char *all_names[NROW_COLS], *pick_names[8];
    for (size_t i = 0; i < NROW_COLS; i++) {
        all[i] = (int)i;
        all_names[i] = row_cols[i].name;
    }
    for (size_t i = 0; i < 8; i++)
        pick_names[i] = pick[i] >= 0 ? row_cols[pick[i]].name : "absent";
    struct { const int *map; const char *const *names; size_t n; } sets[] = {
        { all, all_names, NROW_COLS }, { pick, pick_names, 8 }, { pick + 3, pick_names + 3, 1 },
    };
    static const struct fl_text_style styles[] = {
        { FL_TEXT_CSV, FL_TEXT_TIME_RFC3339, ',' }, { FL_TEXT_CSV, FL_TEXT_TIME_EPOCH_S, ';' },
        { FL_TEXT_CSV, FL_TEXT_TIME_EPOCH_NS, '\t' }, { FL_TEXT_JSON, FL_TEXT_TIME_RFC3339, 0 },
        { FL_TEXT_JSON, FL_TEXT_TIME_EPOCH_S, 0 },
    };
    for (size_t si = 0; si < sizeof styles / sizeof *styles; si++) {
        struct fl_text_style style = styles[si];
        for (size_t k = 0; k < sizeof sets / sizeof *sets; k++) {
            struct fl_text_layout *l = NULL;
            assert_int_equal(fl_text_layout_new(&style, s, sets[k].names, sets[k].map,
                                                sets[k].n, &l), 0);
            if (!style.sep)
                style.sep = ',';
            struct fl_text_buf got = { 0 }, want = { 0 };
            uint32_t row = 0;
            while (row < ROWS) {
                size_t limit = got.len + 1 + rnd() % 20000;
                assert_int_equal(fl_text_layout_rows(l, b, &row, &got, limit), 0);
            }
            for (uint32_t r = 0; r < ROWS; r++)
                ref_row(&want, b, r, &style, sets[k].map, sets[k].n);
            if (got.len != want.len || memcmp(got.p, want.p, got.len) != 0) {
                size_t i = 0;
                while (i < got.len && i < want.len && got.p[i] == want.p[i])
                    i++;
                size_t from = i > 60 ? i - 60 : 0;
                fail_msg("style %zu set %zu: differs at byte %zu:\n got  ...%.120s\n want ...%.120s",
                         si, k, i, got.p + from, want.p + from);
            }
            fl_text_buf_free(&got);
            fl_text_buf_free(&want);
            fl_text_layout_destroy(&l);
        }
    }
    fl_batch_release(&b);
}

static void test_rows_reference(void **st)
{
    (void)st;
    struct fl_ctx *ctx = fl_test_ctx_new();
    assert_non_null(ctx);
    const struct fl_schema *s = NULL;
    assert_int_equal(fl_schema_intern(ctx, row_cols, NROW_COLS, sizeof row_cols[0], &s), 0);
    check_rows(ctx, s, false);
    check_rows(ctx, s, true);
    fl_test_ctx_destroy(&ctx);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers_every_width),
        cmocka_unit_test(test_f64_reference),
        cmocka_unit_test(test_time_reference),
        cmocka_unit_test(test_addr_reference),
        cmocka_unit_test(test_rows_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
