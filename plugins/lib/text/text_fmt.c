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
#include "text_int.h"

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

/* ---- Integers ---------------------------------------------------------- */

/* Two digits at a time halves the divisions. */
static const char text_digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static const uint64_t text_pow10[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
    1000000000000ull, 10000000000000ull, 100000000000000ull,
    1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
    1000000000000000000ull, 10000000000000000000ull
};

/* Decimal digits of v: floor(log10) estimated from the bit length
 * (1233 / 4096 ~ log10(2)), then corrected by one comparison. */
static inline unsigned text_ndigits(uint64_t v)
{
    v |= 1;   /* 0 has one digit; no power of ten above 1 is odd */
    unsigned t = ((64 - (unsigned)__builtin_clzll(v)) * 1233) >> 12;
    return t + 1 - (v < text_pow10[t]);
}

/* 8 ASCII digits of x < 10^8, zero-padded, as a little-endian word (the
 * first digit in the lowest byte), computed in parallel lanes (SWAR): x
 * splits into two 4-digit halves in the 32-bit lanes, each of those into
 * 2-digit pairs in 16-bit lanes, each pair into digits in bytes. x * 10486
 * >> 20 is x / 100 for x < 10^4, x * 103 >> 10 is x / 10 for x < 100, and
 * no lane's product reaches the next lane. About two instructions a digit
 * where dividing by 100 in a loop takes six. */
static inline uint64_t text_swar8(uint32_t x)
{
    uint64_t v = (uint64_t)(x / 10000) | (uint64_t)(x % 10000) << 32;
    uint64_t h = (v * 10486 >> 20) & 0x0000007f0000007full;
    v = h | (v - h * 100) << 16;
    uint64_t t = (v * 103 >> 10) & 0x000f000f000f000full;
    v = t | (v - t * 10) << 8;
    return v + 0x3030303030303030ull;
}

static inline void text_store8(char *p, uint64_t w)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    memcpy(p, &w, 8);
}

/* Exactly n digits of v (v < 10^n, n <= 20), zero-padded, at p; returns
 * the end. May write up to 7 bytes past the end (whole 8-byte stores),
 * which FL_TEXT_CELL_MAX leaves room for. */
static char *text_digits_n(char *p, uint64_t v, unsigned n)
{
    if (n <= 8) {
        if (n)
            text_store8(p, text_swar8((uint32_t)v) >> (8 * (8 - n)));
        return p + n;
    }
    uint64_t lo = v % 100000000u;
    v /= 100000000u;
    if (n <= 16) {
        p = text_digits_n(p, v, n - 8);
    } else {
        uint64_t mid = v % 100000000u;
        p = text_digits_n(p, v / 100000000u, n - 16);
        text_store8(p, text_swar8((uint32_t)mid));
        p += 8;
    }
    text_store8(p, text_swar8((uint32_t)lo));
    return p + 8;
}

char *fl_text_u64(char *p, uint64_t v)
{
    return text_digits_n(p, v, text_ndigits(v));
}

char *fl_text_i64(char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    if (v < 0) {
        *p++ = '-';
        u = 0 - u;   /* well defined for INT64_MIN too */
    }
    return fl_text_u64(p, u);
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
         * then the point slid in. */
        char tmp[32];
        text_digits_n(tmp, v, n);
        memcpy(p, tmp, n - fd);
        p += n - fd;
        if (!fd)
            return p;
        *p++ = '.';
        memcpy(p, tmp + n - fd, fd);
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

static char *text_f64_fast(char *p, uint64_t bits)
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
    /* Drop as many trailing digits as the interval allows. "Can drop k" is
     * monotone in k and at most 18, so try 16, 8, 4, 2, 1 in turn; constant
     * divisors compile to multiplications. */
    unsigned cut = 0;
#define TEXT_DROP(k, pw)                                      \
    do {                                                      \
        uint64_t a_ = (lo + (pw) - 1) / (pw), b_ = hi / (pw); \
        if (a_ <= b_) {                                       \
            lo = a_;                                          \
            hi = b_;                                          \
            cut += (k);                                       \
        }                                                     \
    } while (0)
    TEXT_DROP(16, 10000000000000000ull);
    TEXT_DROP(8, 100000000u);
    TEXT_DROP(4, 10000u);
    TEXT_DROP(2, 100u);
    TEXT_DROP(1, 10u);
#undef TEXT_DROP
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
    return text_fixed(p, t, (unsigned)(d - (int)cut));
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
        bits &= ~(1ull << 63);
        v = -v;
    }
    if (v == 0) {
        *p++ = '0';
        return p;
    }
    if (v < 1e17 && v == (double)(uint64_t)v)
        return fl_text_u64(p, (uint64_t)v);   /* integral: exact digits */
    if (v >= 1e-4 && v < 1e17)
        return text_f64_fast(p, bits);        /* non-integral, so < 2^52 */
    return text_f64_slow(p, v);
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

static char *text_rfc3339(char *p, uint64_t ns, struct text_day_cache *c)
{
    uint64_t secs = ns / 1000000000u;
    uint32_t frac = (uint32_t)(ns % 1000000000u);
    uint64_t day = secs / 86400;
    uint32_t sod = (uint32_t)(secs % 86400);
    if (day != c->day) {
        unsigned y, mo, d;
        char tmp[24], *q = tmp;   /* room for text_digits_n's wide stores */
        text_civil(day, &y, &mo, &d);
        q = text_digits_n(q, y, 4);
        *q++ = '-';
        memcpy(q, text_digits2 + 2 * mo, 2);
        q[2] = '-';
        memcpy(q + 3, text_digits2 + 2 * d, 2);
        memcpy(c->ymd, tmp, 10);
        c->day = day;
    }
    memcpy(p, c->ymd, 10);
    p += 10;
    *p++ = 'T';
    memcpy(p, text_digits2 + 2 * (sod / 3600), 2);
    p[2] = ':';
    memcpy(p + 3, text_digits2 + 2 * (sod / 60 % 60), 2);
    p[5] = ':';
    memcpy(p + 6, text_digits2 + 2 * (sod % 60), 2);
    p[8] = '.';
    p = text_digits_n(p + 9, frac, 9);
    *p++ = 'Z';
    return p;
}

/* ".ddddddddd" of a nanosecond fraction, trailing zeros trimmed; nothing
 * for 0. */
static char *text_frac9(char *p, unsigned frac)
{
    if (!frac)
        return p;
    unsigned fd = 9;
    while (frac % 10 == 0) {
        frac /= 10;
        fd--;
    }
    *p++ = '.';
    return text_digits_n(p, frac, fd);
}

char *fl_text_ts_cached(char *p, uint64_t ns, enum fl_text_time tf,
                        struct text_day_cache *c)
{
    switch (tf) {
    case FL_TEXT_TIME_EPOCH_NS:
        return fl_text_u64(p, ns);
    case FL_TEXT_TIME_EPOCH_S:
        p = fl_text_u64(p, ns / 1000000000u);
        return text_frac9(p, (unsigned)(ns % 1000000000u));
    case FL_TEXT_TIME_RFC3339:
    default:
        return text_rfc3339(p, ns, c);
    }
}

char *fl_text_ts(char *p, uint64_t ns, enum fl_text_time tf)
{
    struct text_day_cache c = { .day = UINT64_MAX };
    return fl_text_ts_cached(p, ns, tf, &c);
}

char *fl_text_dur(char *p, int64_t ns)
{
    uint64_t u = (uint64_t)ns;
    if (ns < 0) {
        *p++ = '-';
        u = 0 - u;
    }
    p = fl_text_u64(p, u / 1000000000u);
    return text_frac9(p, (unsigned)(u % 1000000000u));
}

/* ---- Addresses --------------------------------------------------------- */

static const char text_hexdig[16] = "0123456789abcdef";

/* A byte in decimal: 1 to 3 digits. */
static inline char *text_dec8(char *p, unsigned v)
{
    if (v >= 100) {
        *p++ = (char)('0' + v / 100);
        memcpy(p, text_digits2 + 2 * (v % 100), 2);
        return p + 2;
    }
    if (v >= 10) {
        memcpy(p, text_digits2 + 2 * v, 2);
        return p + 2;
    }
    *p++ = (char)('0' + v);
    return p;
}

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
    if (fl_addr_is_v4(a)) {
        for (int i = 12; i < 16; i++) {
            if (i > 12)
                *p++ = '.';
            p = text_dec8(p, b[i]);
        }
        return p;
    }
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
