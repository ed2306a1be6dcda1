/* cql_value.c: CQL type names and ids, and one flowline cell written as
 * the [value] of a column of a given CQL type (spec §6: the serialization
 * of each type). The column's type decides the conversion, as DESIGN.md §6
 * asks ("the Cassandra output converts by the column type it finds"):
 *
 *  - text, varchar, ascii: the text form of output.csv (plugins/lib/text:
 *    addresses dotted or RFC 5952, timestamps RFC 3339, durations in
 *    seconds); str cells as they are, invalid UTF-8 replaced by U+FFFD
 *    (Cassandra refuses a request with invalid UTF-8), non-ASCII bytes by
 *    '?' for ascii;
 *  - tinyint, smallint, int, bigint, counter, varint: integers as they are
 *    (a value outside the column's range becomes null, -FL_ERANGE); f64
 *    rounded to the nearest; bool 0/1; ts and dur in the time unit asked;
 *  - double, float, decimal: numbers; ts as epoch seconds, dur as seconds;
 *  - boolean: bool; timestamp (ms), date, time: ts; time also dur;
 *  - inet: addr, 4 bytes for IPv4-mapped addresses, else 16;
 *  - blob: the bytes of addr (16), mac (6), str and bytes cells.
 * Any other pairing is refused when the pipeline is checked (see
 * cql_conv_why_not). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cql.h"
#include "fl_text.h"

static const struct {
    const char *name;
    uint16_t code;
} type_names[] = {
    { "text", CQL_T_VARCHAR }, { "varchar", CQL_T_VARCHAR }, { "ascii", CQL_T_ASCII },
    { "bigint", CQL_T_BIGINT }, { "int", CQL_T_INT }, { "smallint", CQL_T_SMALLINT },
    { "tinyint", CQL_T_TINYINT }, { "varint", CQL_T_VARINT }, { "counter", CQL_T_COUNTER },
    { "double", CQL_T_DOUBLE }, { "float", CQL_T_FLOAT }, { "decimal", CQL_T_DECIMAL },
    { "boolean", CQL_T_BOOLEAN }, { "timestamp", CQL_T_TIMESTAMP }, { "date", CQL_T_DATE },
    { "time", CQL_T_TIME }, { "inet", CQL_T_INET }, { "blob", CQL_T_BLOB },
    { "uuid", CQL_T_UUID }, { "timeuuid", CQL_T_TIMEUUID },
};
#define N_TYPE_NAMES (sizeof type_names / sizeof type_names[0])

int cql_type_from_name(const char *name, uint16_t *code)
{
    for (size_t i = 0; i < N_TYPE_NAMES; i++)
        if (strcasecmp(name, type_names[i].name) == 0) {
            *code = type_names[i].code;
            return 0;
        }
    return -FL_EINVAL;
}

const char *cql_type_name(uint16_t code)
{
    /* varchar's first name is "text", which is what CREATE TABLE shows */
    for (size_t i = 0; i < N_TYPE_NAMES; i++)
        if (type_names[i].code == code)
            return type_names[i].name;
    switch (code) {
    case CQL_T_LIST: return "list";
    case CQL_T_MAP: return "map";
    case CQL_T_SET: return "set";
    case CQL_T_UDT: return "user type";
    case CQL_T_TUPLE: return "tuple";
    case CQL_T_CUSTOM: return "custom";
    default: return "?";
    }
}

uint16_t cql_type_default(enum fl_type t)
{
    switch (t) {
    case FL_T_U8: return CQL_T_SMALLINT;    /* CQL integers are signed */
    case FL_T_U16: return CQL_T_INT;
    case FL_T_U32: case FL_T_U64: case FL_T_I64: case FL_T_DUR: return CQL_T_BIGINT;
    case FL_T_F64: return CQL_T_DOUBLE;
    case FL_T_BOOL: return CQL_T_BOOLEAN;
    case FL_T_TS: return CQL_T_TIMESTAMP;
    case FL_T_ADDR: return CQL_T_INET;
    case FL_T_BYTES: return CQL_T_BLOB;
    default: return CQL_T_VARCHAR;          /* mac, str */
    }
}

static bool is_int(enum fl_type t)
{
    return t == FL_T_U8 || t == FL_T_U16 || t == FL_T_U32 || t == FL_T_U64 || t == FL_T_I64;
}

static bool is_intcol(uint16_t c)
{
    return c == CQL_T_TINYINT || c == CQL_T_SMALLINT || c == CQL_T_INT || c == CQL_T_BIGINT ||
           c == CQL_T_COUNTER || c == CQL_T_VARINT;
}

const char *cql_conv_why_not(enum fl_type t, uint16_t c)
{
    bool num = is_int(t) || t == FL_T_F64 || t == FL_T_BOOL || t == FL_T_TS || t == FL_T_DUR;
    switch (c) {
    case CQL_T_VARCHAR:
    case CQL_T_ASCII:
        return NULL;
    case CQL_T_TINYINT: case CQL_T_SMALLINT: case CQL_T_INT: case CQL_T_BIGINT:
    case CQL_T_COUNTER: case CQL_T_VARINT: case CQL_T_DOUBLE: case CQL_T_FLOAT:
    case CQL_T_DECIMAL:
        return num ? NULL : "not a number";
    case CQL_T_BOOLEAN:
        return t == FL_T_BOOL ? NULL : "only a bool field goes into a boolean column";
    case CQL_T_TIMESTAMP:
    case CQL_T_DATE:
        return t == FL_T_TS ? NULL : "only a ts field goes into a timestamp or date column";
    case CQL_T_TIME:
        return t == FL_T_TS || t == FL_T_DUR ? NULL : "only ts and dur fields go into a time column";
    case CQL_T_INET:
        return t == FL_T_ADDR ? NULL : "only an addr field goes into an inet column";
    case CQL_T_BLOB:
        return t == FL_T_ADDR || t == FL_T_MAC || t == FL_T_STR || t == FL_T_BYTES
               ? NULL : "only addr, mac, str and bytes fields go into a blob column";
    default:
        return "flowline does not write columns of this CQL type";
    }
}

/* ---- numbers --------------------------------------------------------------- */

static const uint64_t unit_ns[] = { [CQL_UNIT_S] = 1000000000u, [CQL_UNIT_MS] = 1000000u,
                                    [CQL_UNIT_US] = 1000u, [CQL_UNIT_NS] = 1u };

/* The cell as an integer for an integer column; false when there is none
 * (NaN, or a double beyond any integer column). */
static bool cell_int(enum fl_type t, const void *cell, enum cql_time_unit unit, __int128 *v)
{
    switch (t) {
    case FL_T_U8: *v = *(const uint8_t *)cell; return true;
    case FL_T_U16: *v = *(const uint16_t *)cell; return true;
    case FL_T_U32: *v = *(const uint32_t *)cell; return true;
    case FL_T_U64: *v = *(const uint64_t *)cell; return true;
    case FL_T_I64: *v = *(const int64_t *)cell; return true;
    case FL_T_BOOL: *v = *(const bool *)cell; return true;
    case FL_T_TS: *v = *(const uint64_t *)cell / unit_ns[unit]; return true;
    case FL_T_DUR: *v = *(const int64_t *)cell / (int64_t)unit_ns[unit]; return true;
    case FL_T_F64: {
        double d = *(const double *)cell;
        if (!(fabs(d) < 1.7e38))     /* NaN, inf: no integer; beyond: past varint's use */
            return false;
        *v = fabs(d) < 0x1p62 ? (__int128)llround(d) : (__int128)d;  /* large: exact */
        return true;
    }
    default:
        return false;
    }
}

static double cell_f64(enum fl_type t, const void *cell)
{
    switch (t) {
    case FL_T_F64: return *(const double *)cell;
    case FL_T_TS: return (double)*(const uint64_t *)cell / 1e9;   /* epoch seconds */
    case FL_T_DUR: return (double)*(const int64_t *)cell / 1e9;   /* seconds */
    case FL_T_U64: return (double)*(const uint64_t *)cell;
    default: {
        __int128 v = 0;
        cell_int(t, cell, CQL_UNIT_NS, &v);
        return (double)v;
    }
    }
}

/* A fixed-size big-endian [value] of n bytes (per value: one reserve). */
static inline void put_be(struct cql_wr *w, uint64_t v, unsigned n)
{
    if (cql_wr_reserve(w, 4 + n) < 0)
        return;
    uint8_t *p = w->p + w->len;
    p[0] = p[1] = p[2] = 0;
    p[3] = (uint8_t)n;
    for (unsigned i = 0; i < n; i++)
        p[4 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    w->len += 4 + n;
}

/* varint: two's complement, big-endian, in the fewest bytes (spec §6.23). */
static void varint_raw(uint8_t *b, unsigned *n, __int128 v)
{
    uint8_t tmp[16];
    unsigned k = 16;
    for (int i = 15; i >= 0; i--) {
        tmp[i] = (uint8_t)v;
        v >>= 8;   /* arithmetic shift (GNU C) */
    }
    unsigned s = 0;
    while (s < 15 && ((tmp[s] == 0 && !(tmp[s + 1] & 0x80)) ||
                      (tmp[s] == 0xff && (tmp[s + 1] & 0x80))))
        s++;
    k = 16 - s;
    memcpy(b, tmp + s, k);
    *n = k;
}

static int put_int(struct cql_wr *w, uint16_t c, __int128 v)
{
    uint8_t b[16];
    unsigned n;
    switch (c) {
    case CQL_T_TINYINT:
        if (v < -128 || v > 127)
            break;
        put_be(w, (uint64_t)(int64_t)v, 1);
        return 0;
    case CQL_T_SMALLINT:
        if (v < INT16_MIN || v > INT16_MAX)
            break;
        put_be(w, (uint64_t)(int64_t)v, 2);
        return 0;
    case CQL_T_INT:
        if (v < INT32_MIN || v > INT32_MAX)
            break;
        put_be(w, (uint64_t)(int64_t)v, 4);
        return 0;
    case CQL_T_BIGINT:
    case CQL_T_COUNTER:
        if (v < INT64_MIN || v > INT64_MAX)
            break;
        put_be(w, (uint64_t)(int64_t)v, 8);
        return 0;
    case CQL_T_VARINT:
        varint_raw(b, &n, v);
        cql_wr_bytes(w, b, n);
        return 0;
    }
    cql_wr_null(w);
    return -FL_ERANGE;
}

/* decimal (§6.9): [int] scale, then the unscaled value as a varint, so
 * value = unscaled * 10^-scale. From the shortest text of the double, so
 * 0.1 is 1 scale 1 and not the binary fraction's 55 digits. */
static int put_decimal(struct cql_wr *w, enum fl_type t, const void *cell)
{
    char txt[FL_TEXT_CELL_MAX];
    __int128 v;
    int32_t scale = 0;
    uint8_t b[16];
    unsigned n;
    if (t != FL_T_F64 && t != FL_T_TS && t != FL_T_DUR) {
        if (!cell_int(t, cell, CQL_UNIT_NS, &v))
            goto null;
    } else {
        double d = cell_f64(t, cell);
        if (!isfinite(d))
            goto null;
        char *e = fl_text_f64(txt, d);
        *e = 0;
        bool neg = txt[0] == '-', frac = false;
        v = 0;
        for (const char *p = txt + neg; *p && *p != 'e'; p++) {
            if (*p == '.') {
                frac = true;
                continue;
            }
            v = v * 10 + (*p - '0');
            scale += frac;
        }
        const char *x = strchr(txt, 'e');
        if (x)
            scale -= (int32_t)strtol(x + 1, NULL, 10);
        if (neg)
            v = -v;
    }
    varint_raw(b, &n, v);
    cql_wr_i32(w, (int32_t)(4 + n));
    cql_wr_i32(w, scale);
    cql_wr_raw(w, b, n);
    return 0;
null:
    cql_wr_null(w);
    return -FL_ERANGE;
}

/* ---- text ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid
 * (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF). */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t k;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        k = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        k = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < k || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return k;
}

static void put_text(struct cql_wr *w, uint16_t c, const uint8_t *s, size_t n)
{
    size_t at = w->len;
    cql_wr_i32(w, 0);
    if (cql_wr_reserve(w, n) < 0)
        return;
    for (size_t i = 0; i < n;) {
        size_t k = c == CQL_T_ASCII ? (s[i] < 0x80) : utf8_seq(s + i, n - i);
        if (k) {
            cql_wr_raw(w, s + i, k);
            i += k;
        } else if (c == CQL_T_ASCII) {
            cql_wr_u8(w, '?');
            i++;
        } else {
            /* one U+FFFD per maximal invalid subsequence: skip its
             * continuation bytes too */
            cql_wr_raw(w, "\xef\xbf\xbd", 3);
            i++;
            while (i < n && (s[i] & 0xc0) == 0x80)
                i++;
        }
    }
    if (w->err)
        return;
    uint32_t len = (uint32_t)(w->len - at - 4);
    w->p[at] = (uint8_t)(len >> 24);
    w->p[at + 1] = (uint8_t)(len >> 16);
    w->p[at + 2] = (uint8_t)(len >> 8);
    w->p[at + 3] = (uint8_t)len;
}

static int put_as_text(struct cql_wr *w, uint16_t c, enum fl_type t, const void *cell,
                       const struct fl_batch *b)
{
    char buf[FL_TEXT_CELL_MAX];
    char *e = buf;
    switch (t) {
    case FL_T_U8: e = fl_text_u64(buf, *(const uint8_t *)cell); break;
    case FL_T_U16: e = fl_text_u64(buf, *(const uint16_t *)cell); break;
    case FL_T_U32: e = fl_text_u64(buf, *(const uint32_t *)cell); break;
    case FL_T_U64: e = fl_text_u64(buf, *(const uint64_t *)cell); break;
    case FL_T_I64: e = fl_text_i64(buf, *(const int64_t *)cell); break;
    case FL_T_F64: e = fl_text_f64(buf, *(const double *)cell); break;
    case FL_T_BOOL: e = fl_text_bool(buf, *(const bool *)cell); break;
    case FL_T_TS: e = fl_text_ts(buf, *(const uint64_t *)cell, FL_TEXT_TIME_RFC3339); break;
    case FL_T_DUR: e = fl_text_dur(buf, *(const int64_t *)cell); break;
    case FL_T_ADDR: e = fl_text_addr(buf, cell); break;
    case FL_T_MAC: e = fl_text_mac(buf, cell); break;
    case FL_T_STR: {
        const struct fl_span *sp = cell;
        put_text(w, c, (const uint8_t *)fl_batch_bytes(b, *sp), sp->len);
        return 0;
    }
    case FL_T_BYTES: {
        const struct fl_span *sp = cell;
        struct fl_text_buf hex = { 0 };
        if (fl_text_hex(&hex, fl_batch_bytes(b, *sp), sp->len) < 0) {
            w->err = -FL_ENOMEM;
            return -FL_ENOMEM;
        }
        cql_wr_bytes(w, hex.p, hex.len);
        fl_text_buf_free(&hex);
        return 0;
    }
    default:
        cql_wr_null(w);
        return -FL_ETYPE;
    }
    cql_wr_bytes(w, buf, (size_t)(e - buf));
    return 0;
}

int cql_value_put(struct cql_wr *w, uint16_t c, enum fl_type t, const void *cell,
                  const struct fl_batch *b, enum cql_time_unit unit)
{
    if (cql_conv_why_not(t, c)) {
        cql_wr_null(w);
        return -FL_ETYPE;
    }
    return cql_value_enc(w, c, t, cell, b, unit);
}

int cql_value_enc(struct cql_wr *w, uint16_t c, enum fl_type t, const void *cell,
                  const struct fl_batch *b, enum cql_time_unit unit)
{
    __int128 v;
    if (c == CQL_T_VARCHAR || c == CQL_T_ASCII)
        return put_as_text(w, c, t, cell, b);
    if (is_intcol(c)) {
        if (!cell_int(t, cell, unit, &v)) {
            cql_wr_null(w);
            return -FL_ERANGE;
        }
        return put_int(w, c, v);
    }
    switch (c) {
    case CQL_T_DOUBLE: {
        double d = cell_f64(t, cell);
        uint64_t u;
        memcpy(&u, &d, 8);
        put_be(w, u, 8);
        return 0;
    }
    case CQL_T_FLOAT: {
        float f = (float)cell_f64(t, cell);
        uint32_t u;
        memcpy(&u, &f, 4);
        put_be(w, u, 4);
        return 0;
    }
    case CQL_T_DECIMAL:
        return put_decimal(w, t, cell);
    case CQL_T_BOOLEAN:
        put_be(w, *(const bool *)cell ? 1 : 0, 1);
        return 0;
    case CQL_T_TIMESTAMP:   /* ms since the epoch; a u64 of ns always fits */
        put_be(w, *(const uint64_t *)cell / 1000000u, 8);
        return 0;
    case CQL_T_DATE:        /* days since the epoch, centred on 2^31 */
        put_be(w, (uint32_t)(*(const uint64_t *)cell / 86400000000000ull) + 0x80000000u, 4);
        return 0;
    case CQL_T_TIME: {      /* ns since midnight, 0 .. 86399999999999 */
        int64_t ns = t == FL_T_TS ? (int64_t)(*(const uint64_t *)cell % 86400000000000ull)
                                  : *(const int64_t *)cell;
        if (ns < 0 || ns >= 86400000000000ll) {
            cql_wr_null(w);
            return -FL_ERANGE;
        }
        put_be(w, (uint64_t)ns, 8);
        return 0;
    }
    case CQL_T_INET: {
        const struct fl_addr *a = cell;
        if (fl_addr_is_v4(a))
            cql_wr_bytes(w, a->b + 12, 4);
        else
            cql_wr_bytes(w, a->b, 16);
        return 0;
    }
    case CQL_T_BLOB:
        if (t == FL_T_ADDR)
            cql_wr_bytes(w, cell, 16);
        else if (t == FL_T_MAC)
            cql_wr_bytes(w, cell, 6);
        else {
            const struct fl_span *sp = cell;
            cql_wr_bytes(w, fl_batch_bytes(b, *sp), sp->len);
        }
        return 0;
    }
    cql_wr_null(w);
    return -FL_ETYPE;
}
