/* text_fmt.c: cell formatters of plugins/lib/text/fl_text.h: integers, floats, times,
 * durations, addresses, MACs, CSV/JSON strings and hex, plus the growable
 * buffer. Hand-rolled because printf per field is an order of magnitude
 * slower (DESIGN.md §8) and depends on the locale. Layouts (whole rows) are
 * in text_layout.c, the file writer in text_file.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fl_text.h"
#include "text_num.h"

/* ---- Buffer ------------------------------------------------------------ */

int fl_text_buf_reserve(struct fl_text_buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    if (n > SIZE_MAX / 4 - b->len)
        return -FL_ENOMEM;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -FL_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

void fl_text_buf_free(struct fl_text_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- Integers (text_num.h) --------------------------------------------- */

char *fl_text_u64(char *p, uint64_t v)
{
    return text_u64(p, v);
}

char *fl_text_i64(char *p, int64_t v)
{
    return text_i64(p, v);
}

char *fl_text_bool(char *p, bool v)
{
    if (v) {
        memcpy(p, "true", 4);
        return p + 4;
    }
    memcpy(p, "false", 5);
    return p + 5;
}

/* "int.frac" for v / 10^fd, fd digits after the point before trimming
 * trailing zeros (the point goes too when nothing is left). */
static char *text_fixed(char *p, uint64_t v, unsigned fd)
{
    while (fd && v % 10 == 0) {
        v /= 10;
        fd--;
    }
    unsigned n = text_ndigits(v);
    if (n > fd) {
        /* All digits at once (no division by a variable power of ten),
         * then the point slid in; fixed-size copies (n <= 20, the cell
         * has room) compile to a few moves where memcpy(n) is a call. */
        char tmp[48];
        text_digits_n(tmp, v, n);
        memcpy(p, tmp, 24);
        if (!fd)
            return p + n;
        p += n - fd;
        *p++ = '.';
        memcpy(p, tmp + n - fd, 24);
        return p + fd;
    }
    *p++ = '0';
    *p++ = '.';
    return text_digits_n(p, v, fd);   /* leading zeros come from the padding */
}

/* ---- Floating point ----------------------------------------------------
 * Fast path: the shortest decimal inside the rounding interval of v,
 * computed exactly with 128-bit integers. v = M * 2^e; the doubles next to
 * it are v -/+ one ulp, so any decimal strictly between the midpoints
 * (v_lo, v_hi) reads back as v. Scaled by 10^d so that the interval spans
 * more than two integers, the candidates are integers in (L, H); dropping
 * trailing digits while the interval still holds a multiple of ten gives
 * the shortest, and the one nearest v is kept. Exact because every value
 * involved fits 128 bits for 1e-4 <= |v| < 2^52 (checked below); anything
 * else goes through snprintf with a round-trip check. */
typedef unsigned __int128 text_u128;

static char *text_f64_fast(char *p, double v, uint64_t bits)
{
    int bexp = (int)(bits >> 52 & 0x7ff);
    uint64_t fr = bits & ((1ull << 52) - 1);
    uint64_t m = fr | 1ull << 52;
    int k = bexp - 1023;                 /* floor(log2 v): -14 ... 51 */
    int e = bexp - 1075;                 /* v = m * 2^e, e < 0 here */
    /* q = floor(k * log10(2)) (78913 / 2^18 is log10(2) to 6 digits,
     * exact for |k| < 1000); v * 10^d is then in [10^16, 10^18). */
    int q = k >= 0 ? (k * 78913) >> 18 : -((-k * 78913 + (1 << 18) - 1) >> 18);
    int d = 16 - q;                      /* 1 ... 21 */
    unsigned s = (unsigned)(2 - e);      /* 3 ... 68 */
    /* Scaled by 4 so that both midpoints are integers; the lower gap is half
     * as wide at a power of two. Largest product: (2^55 + 2) * 10^21 < 2^126.
     * Up to 10^19 the factors are 64-bit: one multiply instruction each. */
    uint64_t lm = 4 * m - (fr == 0 && bexp > 1 ? 1 : 2), hm = 4 * m + 2, vm = 4 * m;
    text_u128 lnum, hnum, vnum;
    if (d <= 19) {
        uint64_t p10 = text_pow10[d];
        lnum = (text_u128)lm * p10;
        hnum = (text_u128)hm * p10;
        vnum = (text_u128)vm * p10;
    } else {
        uint64_t p10 = text_pow10[d - 19];
        lnum = (text_u128)(lm * p10) * text_pow10[19];   /* lm * 100 < 2^62 */
        hnum = (text_u128)(hm * p10) * text_pow10[19];
        vnum = (text_u128)(vm * p10) * text_pow10[19];
    }
    text_u128 mask = ((text_u128)1 << s) - 1;
    uint64_t lo = (uint64_t)(lnum >> s) + 1;                    /* > L */
    uint64_t hi = (uint64_t)(hnum >> s) - ((hnum & mask) == 0); /* < H */
    uint64_t r = (uint64_t)((vnum + ((text_u128)1 << (s - 1))) >> s);
    /* Drop trailing digits while the interval still holds a multiple of
     * ten. Values that get here mostly need 16 or 17 digits: one or two
     * steps, each two divisions by a constant (multiplications). */
    unsigned cut = 0;
    for (;;) {
        uint64_t a = (lo + 9) / 10, b = hi / 10;
        if (a > b)
            break;
        lo = a;
        hi = b;
        cut++;
    }
    /* Several candidates left (fewer than ten): the one nearest v. */
    uint64_t t = lo;
    if (lo != hi) {
        t = cut ? (r + text_pow10[cut] / 2) / text_pow10[cut] : r;
        if (t < lo) t = lo;
        if (t > hi) t = hi;
    }
    if ((int)cut >= d) {   /* an integer: cannot happen for non-integral v */
        p = fl_text_u64(p, t);
        for (int i = 0; i < (int)cut - d; i++)
            *p++ = '0';
        return p;
    }
    /* t has no trailing zero (the interval holds no multiple of ten), and
     * its integer part is v's (a decimal reading back as a non-integer v
     * cannot lie across an integer, which would then read back as itself):
     * the integer part from v, the fraction digits from t. */
    unsigned fd = (unsigned)(d - (int)cut);
    uint64_t ip = (uint64_t)v;
    if (ip && fd < 20 && ip * text_pow10[fd] <= t) {
        p = text_u64(p, ip);
        *p++ = '.';
        return text_digits_n(p, t - ip * text_pow10[fd], fd);
    }
    return text_fixed(p, t, fd);
}

/* Slow path (|v| < 1e-4 or >= 1e17): the fewest significant digits that
 * read back. With 53 bits of precision, 15 digits give the shortest when
 * it has 15 or fewer, so normal numbers try 15..17; subnormals have fewer
 * bits and try from 1. snprintf and strtod use the same locale, so the
 * check holds whatever LC_NUMERIC is; the radix is then rewritten as '.'. */
static char *text_f64_slow(char *p, double v)
{
    char tmp[48];
    for (int prec = v < 2.2250738585072014e-308 ? 1 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (prec == 17 || strtod(tmp, NULL) == v)
            break;
    }
    bool radix = false;
    for (const char *s = tmp; *s; s++) {
        char c = *s;
        if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e')
            *p++ = c;
        else if (!radix) {
            *p++ = '.';
            radix = true;
        }
    }
    return p;
}

char *fl_text_f64_frac(char *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (v >= 1e-4 && v < 67108864.0) {
        /* Averages of a few integers (316.1, 89.25, 0.015625) have a short
         * decimal, found by scaling by 10^6 and checking that the quotient
         * reads back as v. Exact, and what the general path gives: below
         * 2^26 an ulp of v is under 2^-27, so at most one 6-decimal number
         * lies within half an ulp of v (and none on a midpoint); when one
         * does, v * 10^6 (at most 2^-21 off in floating point) rounds to its
         * digits, and the correctly rounded t / 10^6 is what strtod reads.
         * A shorter decimal is the same number with trailing zeros, which
         * are trimmed; v is not an integer, so the fraction is not 0. */
        int64_t t = (int64_t)(v * 1e6 + 0.5);
        if ((double)t / 1e6 == v) {
            uint64_t ip = (uint64_t)t / 1000000u;
            uint32_t f = (uint32_t)((uint64_t)t - ip * 1000000u);
            p = text_u64(p, ip);
            if (!f)
                return p;
            *p++ = '.';
            return text_frac_digits(p, f, 6);
        }
    }
    if (v >= 1e-4 && v < 1e17)
        return text_f64_fast(p, v, bits);        /* non-integral, so < 2^52 */
    return text_f64_slow(p, v);
}

char *fl_text_f64(char *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if ((bits >> 52 & 0x7ff) == 0x7ff) {
        const char *s = (bits << 12) ? "nan" : (bits >> 63) ? "-inf" : "inf";
        size_t n = strlen(s);
        memcpy(p, s, n);
        return p + n;
    }
    if (bits >> 63) {
        *p++ = '-';
        v = -v;
    }
    if (v == 0) {
        *p++ = '0';
        return p;
    }
    if (v < 1e17 && v == (double)(uint64_t)v)
        return text_u64(p, (uint64_t)v);      /* integral: exact digits */
    return fl_text_f64_frac(p, v);
}

/* ---- Time -------------------------------------------------------------- */

/* Civil date of a day count since 1970-01-01 (proleptic Gregorian). Shifts
 * the year to start in March so the leap day is last, then splits into
 * 400-year eras of 146097 days. */
static void text_civil(uint64_t days, unsigned *y, unsigned *mo, unsigned *d)
{
    uint64_t z = days + 719468;                     /* days since 0000-03-01 */
    uint64_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);    /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;              /* March = 0 */
    *d = doy - (153 * mp + 2) / 5 + 1;
    *mo = mp < 10 ? mp + 3 : mp - 9;
    *y = (unsigned)(era * 400 + yoe) + (*mo <= 2);
}

void fl_text_ts_fill(struct text_ts_cache *c, uint64_t ns)
{
    uint64_t secs = ns / 1000000000u;
    uint64_t day = secs / 86400;
    uint32_t sod = (uint32_t)(secs - day * 86400);
    char *q = c->pre;
    if (day != c->day) {
        unsigned y, mo, d;
        char tmp[16];   /* room for text_digits_n's wide store */
        text_civil(day, &y, &mo, &d);
        text_digits_n(tmp, y, 4);
        memcpy(q, tmp, 4);
        q[4] = '-';
        memcpy(q + 5, text_digits2 + 2 * mo, 2);
        q[7] = '-';
        memcpy(q + 8, text_digits2 + 2 * d, 2);
        q[10] = 'T';
        c->day = day;
    }
    memcpy(q + 11, text_digits2 + 2 * (sod / 3600), 2);
    q[13] = ':';
    memcpy(q + 14, text_digits2 + 2 * (sod / 60 % 60), 2);
    q[16] = ':';
    c->min_ns = (secs - sod % 60) * 1000000000u;
}

char *fl_text_ts_cached(char *p, uint64_t ns, enum fl_text_time tf,
                        struct text_ts_cache *c)
{
    switch (tf) {
    case FL_TEXT_TIME_EPOCH_NS:
        return text_u64(p, ns);
    case FL_TEXT_TIME_EPOCH_S: {
        uint64_t s = ns / 1000000000u;
        p = text_u64(p, s);
        return text_frac9(p, (uint32_t)(ns - s * 1000000000u));
    }
    case FL_TEXT_TIME_RFC3339:
    default:
        return text_rfc3339(p, ns, c);
    }
}

char *fl_text_ts(char *p, uint64_t ns, enum fl_text_time tf)
{
    struct text_ts_cache c = TEXT_TS_CACHE_INIT;
    return fl_text_ts_cached(p, ns, tf, &c);
}

char *fl_text_dur(char *p, int64_t ns)
{
    return text_dur(p, ns);
}

/* ---- Addresses --------------------------------------------------------- */

static const char text_hexdig[16] = "0123456789abcdef";

/* A 16-bit group in lowercase hex without leading zeros (RFC 5952 §4.1). */
static char *text_hex16(char *p, unsigned w)
{
    if (w >= 0x1000) *p++ = text_hexdig[w >> 12];
    if (w >= 0x100)  *p++ = text_hexdig[w >> 8 & 15];
    if (w >= 0x10)   *p++ = text_hexdig[w >> 4 & 15];
    *p++ = text_hexdig[w & 15];
    return p;
}

char *fl_text_addr(char *p, const struct fl_addr *a)
{
    const uint8_t *b = a->b;
    if (text_addr_is_v4(a))
        return text_ipv4(p, b + 12);
    unsigned w[8];
    for (int i = 0; i < 8; i++)
        w[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
    /* RFC 5952 §4.2: "::" replaces the longest run of zero groups, the
     * first one on a tie, and never a single group. */
    int best = -1, blen = 1;
    for (int i = 0; i < 8;) {
        if (w[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && !w[j])
            j++;
        if (j - i > blen) {
            best = i;
            blen = j - i;
        }
        i = j;
    }
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *p++ = ':';
            *p++ = ':';
            i += blen - 1;
            continue;
        }
        if (i > 0 && i != best + blen)
            *p++ = ':';
        p = text_hex16(p, w[i]);
    }
    return p;
}

char *fl_text_mac(char *p, const uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        if (i)
            *p++ = ':';
        *p++ = text_hexdig[mac[i] >> 4];
        *p++ = text_hexdig[mac[i] & 15];
    }
    return p;
}

/* ---- Strings ----------------------------------------------------------- */

/* Length of the valid UTF-8 sequence starting at s[0] (a byte >= 0x80), or
 * 0 when it is invalid, with *bad set to the length of its maximal invalid
 * subpart (Unicode §3.9 "U+FFFD substitution of maximal subparts"), which
 * becomes one U+FFFD. Ranges from RFC 3629 §4: no overlongs, surrogates or
 * code points above U+10FFFF. */
static size_t text_utf8_len(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned c = s[0], lo = 0x80, hi = 0xbf;
    size_t need;
    if (c >= 0xc2 && c <= 0xdf)      need = 1;
    else if (c == 0xe0)              { need = 2; lo = 0xa0; }
    else if (c == 0xed)              { need = 2; hi = 0x9f; }
    else if (c >= 0xe1 && c <= 0xef) need = 2;
    else if (c == 0xf0)              { need = 3; lo = 0x90; }
    else if (c >= 0xf1 && c <= 0xf3) need = 3;
    else if (c == 0xf4)              { need = 3; hi = 0x8f; }
    else {
        *bad = 1;
        return 0;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    return need + 1;
}

static const char text_fffd[3] = { (char)0xef, (char)0xbf, (char)0xbd };

/* Bytes a JSON string escapes or checks: controls, '"', '\\', non-ASCII. */
static const uint8_t text_json_special[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

/* Copy the UTF-8 sequence at s[*i] to p, or U+FFFD for an invalid one
 * (skipping its bad bytes); advance *i. Returns the new end of p. */
static char *text_utf8_copy(char *p, const unsigned char *s, size_t n, size_t *i)
{
    size_t bad, len = text_utf8_len(s + *i, n - *i, &bad);
    if (len) {
        memcpy(p, s + *i, len);
        *i += len;
        return p + len;
    }
    memcpy(p, text_fffd, 3);
    *i += bad;
    return p + 3;
}

int fl_text_json_str(struct fl_text_buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    /* Worst case: every byte a control character, "\u00XX" (6 bytes). */
    if (n > (SIZE_MAX - 2) / 6)
        return -FL_ENOMEM;
    int rc = fl_text_buf_reserve(b, 6 * n + 2);
    if (rc < 0)
        return rc;
    char *p = b->p + b->len;
    *p++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && !text_json_special[s[j]])
            j++;
        memcpy(p, s + i, j - i);
        p += j - i;
        i = j;
        if (i == n)
            break;
        unsigned c = s[i];
        if (c >= 0x80) {
            p = text_utf8_copy(p, s, n, &i);
            continue;
        }
        *p++ = '\\';
        switch (c) {
        case '"':  *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
            memcpy(p, "u00", 3);
            p[3] = text_hexdig[c >> 4];
            p[4] = text_hexdig[c & 15];
            p += 5;
        }
        i++;
    }
    *p++ = '"';
    b->len = (size_t)(p - b->p);
    return 0;
}

int fl_text_csv_str(struct fl_text_buf *b, const char *str, size_t n, char sep)
{
    const unsigned char *s = (const unsigned char *)str;
    bool quote = n == 0, high = false;
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        if (c == (unsigned char)sep || c == '"' || c == '\n' || c == '\r')
            quote = true;
        else if (c >= 0x80)
            high = true;
    }
    if (!quote && !high)
        return fl_text_buf_put(b, s, n);
    /* Worst case: every byte an invalid one becoming U+FFFD (3 bytes). */
    if (n > (SIZE_MAX - 2) / 3)
        return -FL_ENOMEM;
    int rc = fl_text_buf_reserve(b, 3 * n + 2);
    if (rc < 0)
        return rc;
    char *p = b->p + b->len;
    if (quote)
        *p++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c == '"')
                *p++ = '"';   /* RFC 4180 §2.7: a quote is doubled */
            *p++ = (char)c;
            i++;
            continue;
        }
        p = text_utf8_copy(p, s, n, &i);
    }
    if (quote)
        *p++ = '"';
    b->len = (size_t)(p - b->p);
    return 0;
}

int fl_text_hex(struct fl_text_buf *b, const void *src, size_t n)
{
    const uint8_t *s = src;
    if (n > SIZE_MAX / 4)
        return -FL_ENOMEM;
    int rc = fl_text_buf_reserve(b, 2 * n);
    if (rc < 0)
        return rc;
    char *p = b->p + b->len;
    for (size_t i = 0; i < n; i++) {
        *p++ = text_hexdig[s[i] >> 4];
        *p++ = text_hexdig[s[i] & 15];
    }
    b->len += 2 * n;
    return 0;
}
