/* text_num.h: the cell formatters that a layout calls once per cell,
 * inline so that text_layout.c's row loop does not pay a call (and the
 * value's range checks) per integer: integers, RFC 3339 times with a
 * per-minute prefix cache, IPv4 dotted quads. text_fmt.c's public
 * fl_text_u64() & co. are these same functions, so the forms cannot
 * differ between a cell and a whole row. Floats, IPv6 and strings stay out
 * of line in text_fmt.c (longer code, rarer or costlier anyway).
 *
 * Every writer may store up to 8 bytes past the end it returns (whole-word
 * stores); FL_TEXT_CELL_MAX leaves room for that. */
#ifndef FL_TEXT_NUM_H
#define FL_TEXT_NUM_H

#include <string.h>
#include "fl_text.h"

#define FL_TEXT_LE (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)

/* Two digits at a time: "00".."99". */
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

/* Exactly n digits of v (v < 10^n, 1 <= n), zero-padded, at p;
 * returns the end; n <= 24 when v < 10^20 (leading zeros). Whole 8-byte
 * stores: up to 7 bytes past the end. */
static inline char *text_digits_n(char *p, uint64_t v, unsigned n)
{
    if (n <= 8) {
        text_store8(p, text_swar8((uint32_t)v) >> (8 * (8 - n)));
        return p + n;
    }
    if (n <= 16) {
        uint64_t hi = v / 100000000u;
        text_store8(p, text_swar8((uint32_t)hi) >> (8 * (16 - n)));
        p += n - 8;
        text_store8(p, text_swar8((uint32_t)(v - hi * 100000000u)));
        return p + 8;
    }
    uint64_t top = v / 10000000000000000ull, rest = v - top * 10000000000000000ull;
    uint64_t hi = rest / 100000000u;
    text_store8(p, text_swar8((uint32_t)top) >> (8 * (24 - n)));
    p += n - 16;
    text_store8(p, text_swar8((uint32_t)hi));
    text_store8(p + 8, text_swar8((uint32_t)(rest - hi * 100000000u)));
    return p + 16;
}

/* Decimal v. Most counters in flow records are small: up to four digits
 * take a branch or two and table copies, longer numbers the SWAR path. */
static inline char *text_u64(char *p, uint64_t v)
{
    if (v < 100) {
        if (v < 10) {
            *p = (char)('0' + v);
            return p + 1;
        }
        memcpy(p, text_digits2 + 2 * v, 2);
        return p + 2;
    }
    if (v < 10000) {
        unsigned hi = (unsigned)v / 100, lo = (unsigned)v - hi * 100;
        if (hi < 10) {
            *p = (char)('0' + hi);
            memcpy(p + 1, text_digits2 + 2 * lo, 2);
            return p + 3;
        }
        memcpy(p, text_digits2 + 2 * hi, 2);
        memcpy(p + 2, text_digits2 + 2 * lo, 2);
        return p + 4;
    }
    return text_digits_n(p, v, text_ndigits(v));
}

static inline char *text_i64(char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    if (v < 0) {
        *p++ = '-';
        u = 0 - u;   /* well defined for INT64_MIN too */
    }
    return text_u64(p, u);
}

/* Out of line (text_fmt.c): fl_text_f64() for v > 0, finite and not an
 * integer below 1e17 (the checks text_f64() made already). */
char *fl_text_f64_frac(char *p, double v);

/* fl_text_f64() with its commonest cases inline: 0 and integral values
 * (packet-size minima, maxima, averages over equal sizes). */
static inline char *text_f64(char *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (bits == 0) {
        *p = '0';
        return p + 1;
    }
    if (v > 0 && v < 1e17) {
        int64_t i = (int64_t)v;
        if ((double)i == v)
            return text_u64(p, (uint64_t)i);
        return fl_text_f64_frac(p, v);
    }
    return fl_text_f64(p, v);
}

/* The digits of 0 < f < 10^n (n <= 8) as a fraction: n digits, zero-padded
 * in front, trailing zeros dropped (counted as the zero bytes at the top of
 * the digits' SWAR word). */
static inline char *text_frac_digits(char *p, uint32_t f, unsigned n)
{
    uint64_t w = text_swar8(f) >> (8 * (8 - n));
    uint64_t dv = w - (0x3030303030303030ull >> (8 * (8 - n)));
    text_store8(p, w);
    return p + n - (((unsigned)__builtin_clzll(dv) - 8 * (8 - n)) >> 3);
}

/* ".ddddddddd" of a nanosecond fraction, trailing zeros trimmed; nothing
 * for 0. */
static inline char *text_frac9(char *p, uint32_t frac)
{
    if (!frac)
        return p;
    uint32_t f1 = frac / 100000000u, rest = frac - f1 * 100000000u;
    p[0] = '.';
    p[1] = (char)('0' + f1);
    if (!rest)
        return p + 2;
    return text_frac_digits(p + 2, rest, 8);
}

/* Seconds with the fraction trimmed ("1.25", "3", "-0.5"). */
static inline char *text_dur(char *p, int64_t ns)
{
    uint64_t u = (uint64_t)ns;
    if (ns < 0) {
        *p++ = '-';
        u = 0 - u;
    }
    uint64_t s = u / 1000000000u;
    p = text_u64(p, s);
    return text_frac9(p, (uint32_t)(u - s * 1000000000u));
}

/* ---- RFC 3339 ------------------------------------------------------------
 * "YYYY-MM-DDTHH:MM:" is the same for every timestamp of one minute, and a
 * batch of flow records nearly always spans few minutes: the prefix is
 * cached with the minute it belongs to, so a timestamp of the cached minute
 * costs a subtraction, a compare and its 13 last characters. */
struct text_ts_cache {
    uint64_t min_ns;     /* start of the cached minute (ns since the epoch) */
    uint64_t day;        /* day of ymd; UINT64_MAX: nothing cached */
    char pre[17];        /* YYYY-MM-DDTHH:MM: of min_ns */
};

#define TEXT_TS_CACHE_INIT { .min_ns = 0, .day = UINT64_MAX }

/* Out of line (text_fmt.c): fill c for the minute of ns. */
void fl_text_ts_fill(struct text_ts_cache *c, uint64_t ns);
/* fl_text_ts() with a cache (owned by the caller, e.g. per batch). */
char *fl_text_ts_cached(char *p, uint64_t ns, enum fl_text_time tf,
                        struct text_ts_cache *c);

static inline char *text_rfc3339(char *p, uint64_t ns, struct text_ts_cache *c)
{
    uint64_t in = ns - c->min_ns;   /* wraps to huge before the minute */
    if (c->day == UINT64_MAX || in >= 60000000000ull) {
        fl_text_ts_fill(c, ns);
        in = ns - c->min_ns;
    }
    memcpy(p, c->pre, 16);
    p[16] = ':';
    uint32_t sec = (uint32_t)(in / 1000000000u);
    uint32_t frac = (uint32_t)(in - (uint64_t)sec * 1000000000u);
    uint32_t f1 = frac / 100000000u;                 /* first digit */
    memcpy(p + 17, text_digits2 + 2 * sec, 2);
    p[19] = '.';
    p[20] = (char)('0' + f1);
    text_store8(p + 21, text_swar8(frac - f1 * 100000000u));
    p[29] = 'Z';
    return p + 30;
}

/* ---- IPv4 ------------------------------------------------------------------
 * A byte in decimal: its digits and their count in one 4-byte entry, so an
 * octet is a load, a store and an add. Built by the compiler. */
struct text_dec3 {
    char c[3];
    uint8_t n;
};
#define TEXT_D3(v)                                                                      \
    { { (char)((v) >= 100 ? '0' + (v) / 100 : (v) >= 10 ? '0' + (v) / 10 : '0' + (v)),  \
        (char)((v) >= 100 ? '0' + (v) / 10 % 10 : (v) >= 10 ? '0' + (v) % 10 : 0),     \
        (char)((v) >= 100 ? '0' + (v) % 10 : 0) },                                      \
      (uint8_t)((v) >= 100 ? 3 : (v) >= 10 ? 2 : 1) }
#define TEXT_D3x4(v) TEXT_D3(v), TEXT_D3((v) + 1), TEXT_D3((v) + 2), TEXT_D3((v) + 3)
#define TEXT_D3x16(v) TEXT_D3x4(v), TEXT_D3x4((v) + 4), TEXT_D3x4((v) + 8), TEXT_D3x4((v) + 12)
#define TEXT_D3x64(v) TEXT_D3x16(v), TEXT_D3x16((v) + 16), TEXT_D3x16((v) + 32), TEXT_D3x16((v) + 48)
static const struct text_dec3 text_dec3[256] = {
    TEXT_D3x64(0), TEXT_D3x64(64), TEXT_D3x64(128), TEXT_D3x64(192)
};
#undef TEXT_D3
#undef TEXT_D3x4
#undef TEXT_D3x16
#undef TEXT_D3x64

/* Dotted quad of the 4 bytes at b. */
static inline char *text_ipv4(char *p, const uint8_t *b)
{
    for (int i = 0; i < 4; i++) {
        memcpy(p, &text_dec3[b[i]], 4);
        p += text_dec3[b[i]].n;
        *p++ = '.';
    }
    return p - 1;
}

static inline bool text_addr_is_v4(const struct fl_addr *a)
{
    uint64_t w0;
    uint32_t w1;
    memcpy(&w0, a->b, 8);
    memcpy(&w1, a->b + 8, 4);
    return w0 == 0 && w1 == (FL_TEXT_LE ? 0xffff0000u : 0x0000ffffu);
}

#endif
