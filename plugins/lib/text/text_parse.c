/* text_parse.c: the text forms of fl_text.h read back into cells, for
 * inputs that receive records as text (input.kafka's json and csv). Each
 * form the formatters write is accepted, plus the obvious variants a
 * foreign producer writes (see fl_text_parse in fl_text.h). Quoting and
 * escaping are the caller's: these functions see one unquoted value. */
#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fl_text.h"

static bool parse_digit(char c) { return c >= '0' && c <= '9'; }

/* Decimal digits s[0..n) into *v, refusing overflow and empty input. */
static int parse_u64(const char *s, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    if (n == 0)
        return -FL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!parse_digit(s[i]))
            return -FL_EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -FL_EINVAL;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* Up to 9 fraction digits as nanoseconds; more digits are cut (not
 * rounded), as the formatters never write more. */
static int parse_frac9(const char *s, size_t n, uint64_t *ns)
{
    uint64_t x = 0;
    if (n == 0)
        return -FL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!parse_digit(s[i]))
            return -FL_EINVAL;
        if (i < 9)
            x = x * 10 + (uint64_t)(s[i] - '0');
    }
    for (size_t i = n; i < 9; i++)
        x *= 10;
    *ns = x;
    return 0;
}

/* "S[.F]" seconds (no sign) as ns. */
static int parse_secs(const char *s, size_t n, uint64_t *ns)
{
    const char *dot = memchr(s, '.', n);
    size_t wn = dot ? (size_t)(dot - s) : n;
    uint64_t whole, frac = 0;
    if (parse_u64(s, wn, &whole) < 0 || whole > UINT64_MAX / 1000000000u)
        return -FL_EINVAL;
    if (dot && parse_frac9(dot + 1, n - wn - 1, &frac) < 0)
        return -FL_EINVAL;
    if (whole * 1000000000u > UINT64_MAX - frac)
        return -FL_EINVAL;
    *ns = whole * 1000000000u + frac;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the civil
 * calendar's 400-year cycle, counted from March so leap days come last). */
static int64_t parse_days(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int parse_num(const char *s, size_t n, unsigned *v)
{
    uint64_t x;
    if (parse_u64(s, n, &x) < 0)
        return -FL_EINVAL;
    *v = (unsigned)x;
    return 0;
}

/* RFC 3339: YYYY-MM-DD(T|t| )hh:mm:ss[.frac](Z|z|+hh:mm|-hh:mm). */
static int parse_rfc3339(const char *s, size_t n, uint64_t *out)
{
    unsigned mo, d, h, mi, se, oh = 0, om = 0;
    uint64_t y, frac = 0;
    if (n < 20 || s[4] != '-' || s[7] != '-' || !strchr("Tt ", s[10]) || s[13] != ':'
        || s[16] != ':' || parse_u64(s, 4, &y) < 0 || parse_num(s + 5, 2, &mo) < 0
        || parse_num(s + 8, 2, &d) < 0 || parse_num(s + 11, 2, &h) < 0
        || parse_num(s + 14, 2, &mi) < 0 || parse_num(s + 17, 2, &se) < 0)
        return -FL_EINVAL;
    size_t i = 19;
    if (s[i] == '.') {
        size_t j = ++i;
        while (j < n && parse_digit(s[j]))
            j++;
        if (parse_frac9(s + i, j - i, &frac) < 0)
            return -FL_EINVAL;
        i = j;
    }
    int sign = 0;
    if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z'))
        sign = 0;
    else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':'
             && parse_num(s + i + 1, 2, &oh) == 0 && parse_num(s + i + 4, 2, &om) == 0
             && oh < 24 && om < 60)
        sign = s[i] == '+' ? 1 : -1;
    else
        return -FL_EINVAL;
    static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)
        || h > 23 || mi > 59 || se > 60)
        return -FL_EINVAL;
    int64_t secs = parse_days((int64_t)y, mo, d) * 86400 + h * 3600 + mi * 60 + se
                   - sign * (int64_t)(oh * 3600 + om * 60);
    /* every time the formatter writes reads back, up to UINT64_MAX ns */
    if (secs < 0 || (uint64_t)secs > UINT64_MAX / 1000000000u
        || (uint64_t)secs * 1000000000u > UINT64_MAX - frac)
        return -FL_EINVAL;
    *out = (uint64_t)secs * 1000000000u + frac;
    return 0;
}

/* Epoch numbers: with a fraction, or below 1e12 (before year 33658 in
 * seconds, before 1970-01-01T00:16:40Z in ns), seconds; otherwise ns. */
static int parse_ts(const char *s, size_t n, uint64_t *out)
{
    if (n >= 20 && s[4] == '-')
        return parse_rfc3339(s, n, out);
    uint64_t v;
    if (!memchr(s, '.', n) && parse_u64(s, n, &v) == 0 && v >= 1000000000000u) {
        *out = v;
        return 0;
    }
    return parse_secs(s, n, out);
}

static int parse_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_mac(const char *s, size_t n, uint8_t *mac)
{
    if (n != 17)
        return -FL_EINVAL;
    for (int i = 0; i < 6; i++) {
        int hi = parse_hexval(s[3 * i]), lo = parse_hexval(s[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':' && s[3 * i + 2] != '-'))
            return -FL_EINVAL;
        mac[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int parse_addr(const char *s, size_t n, struct fl_addr *a)
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return -FL_EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    uint8_t v4[4];
    if (inet_pton(AF_INET, buf, v4) == 1) {
        memset(a->b, 0, 10);
        a->b[10] = a->b[11] = 0xff;
        memcpy(a->b + 12, v4, 4);
        return 0;
    }
    return inet_pton(AF_INET6, buf, a->b) == 1 ? 0 : -FL_EINVAL;
}

static int parse_f64(const char *s, size_t n, double *v)
{
    char buf[128];
    if (n == 0 || n >= sizeof(buf))
        return -FL_EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* strtod alone would also take hex floats and leading spaces */
    if (!(parse_digit(buf[0]) || strchr("+-.", buf[0]) || !strcmp(buf, "nan")
          || !strcmp(buf, "inf")))
        return -FL_EINVAL;
    char *end;
    *v = strtod(buf, &end);
    return *end || end == buf || memchr(buf, 'x', n) || memchr(buf, 'X', n) ? -FL_EINVAL : 0;
}

int fl_text_parse(enum fl_type t, const char *s, size_t n, struct fl_batch *b, void *cell)
{
    uint64_t u;
    int rc;
    switch (t) {
    case FL_T_U8: case FL_T_U16: case FL_T_U32: case FL_T_U64: {
        static const uint64_t max[] = { [FL_T_U8] = UINT8_MAX, [FL_T_U16] = UINT16_MAX,
                                        [FL_T_U32] = UINT32_MAX, [FL_T_U64] = UINT64_MAX };
        if (parse_u64(s, n, &u) < 0 || u > max[t])
            return -FL_EINVAL;
        if (t == FL_T_U8) *(uint8_t *)cell = (uint8_t)u;
        else if (t == FL_T_U16) *(uint16_t *)cell = (uint16_t)u;
        else if (t == FL_T_U32) *(uint32_t *)cell = (uint32_t)u;
        else *(uint64_t *)cell = u;
        return 0;
    }
    case FL_T_I64: {
        bool neg = n && s[0] == '-';
        if (parse_u64(s + neg, n - neg, &u) < 0 || u > (uint64_t)INT64_MAX + neg)
            return -FL_EINVAL;
        *(int64_t *)cell = neg ? (int64_t)(0 - u) : (int64_t)u;
        return 0;
    }
    case FL_T_F64:
        return parse_f64(s, n, cell);
    case FL_T_BOOL:
        if ((n == 4 && !memcmp(s, "true", 4)) || (n == 1 && s[0] == '1'))
            *(bool *)cell = true;
        else if ((n == 5 && !memcmp(s, "false", 5)) || (n == 1 && s[0] == '0'))
            *(bool *)cell = false;
        else
            return -FL_EINVAL;
        return 0;
    case FL_T_TS:
        return parse_ts(s, n, cell);
    case FL_T_DUR: {
        bool neg = n && s[0] == '-';
        if ((rc = parse_secs(s + neg, n - neg, &u)) < 0 || u > (uint64_t)INT64_MAX)
            return -FL_EINVAL;
        *(int64_t *)cell = neg ? -(int64_t)u : (int64_t)u;
        return 0;
    }
    case FL_T_ADDR:
        return parse_addr(s, n, cell);
    case FL_T_MAC:
        return parse_mac(s, n, cell);
    case FL_T_STR:
        if (n > UINT32_MAX)
            return -FL_EINVAL;
        return fl_batch_put_bytes(b, s, (uint32_t)n, cell);
    case FL_T_BYTES: {
        if (n % 2 || n / 2 > UINT32_MAX)
            return -FL_EINVAL;
        uint8_t tmp[256], *p = n / 2 <= sizeof(tmp) ? tmp : malloc(n / 2 + 1);
        if (!p)
            return -FL_ENOMEM;
        rc = 0;
        for (size_t i = 0; i < n / 2 && rc == 0; i++) {
            int hi = parse_hexval(s[2 * i]), lo = parse_hexval(s[2 * i + 1]);
            if (hi < 0 || lo < 0)
                rc = -FL_EINVAL;
            else
                p[i] = (uint8_t)(hi << 4 | lo);
        }
        if (rc == 0)
            rc = fl_batch_put_bytes(b, p, (uint32_t)(n / 2), cell);
        if (p != tmp)
            free(p);
        return rc;
    }
    default:
        return -FL_EINVAL;
    }
}
