/* ipx_plan.c: which IPFIX element each column of a schema is written as,
 * how its cells are encoded (RFC 7011 §6), and the templates of a schema:
 * one per combination of address families seen in its rows.
 *
 * The element comes from the field registry (record.h): a short-named
 * field's `ie` (pen 0) or its id under FL_PEN; an address field has an
 * IPv4 element (`ie`) and an IPv6 one (`ie_alt`), chosen per row, so every
 * row keeps its family (a collector sees sourceIPv4Address for IPv4 flows,
 * as a router would send). A column named "pen:id" (what input.ipfix names
 * elements the registry does not know) is written as that element. A
 * column with no element is left out (the plugin says so once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ipx.h"

const struct ipx_type *ipx_type_find(uint16_t id)
{
    size_t lo = 0, hi = ipx_ntypes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ipx_types[mid].id == id)
            return &ipx_types[mid];
        if (ipx_types[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The element type a flowline type is written as when nothing else says:
 * flowline's own fields (FL_PEN) and "pen:id" columns of unknown elements. */
static enum ipx_atype native_atype(enum fl_type t)
{
    switch (t) {
    case FL_T_U8: return IPX_AT_UNSIGNED8;
    case FL_T_U16: return IPX_AT_UNSIGNED16;
    case FL_T_U32: return IPX_AT_UNSIGNED32;
    case FL_T_U64: return IPX_AT_UNSIGNED64;
    case FL_T_I64: case FL_T_DUR: return IPX_AT_SIGNED64;
    case FL_T_F64: return IPX_AT_FLOAT64;
    case FL_T_BOOL: return IPX_AT_BOOLEAN;
    case FL_T_TS: return IPX_AT_DATETIMENANOSECONDS;
    case FL_T_ADDR: return IPX_AT_IPV6ADDRESS;
    case FL_T_MAC: return IPX_AT_MACADDRESS;
    case FL_T_STR: return IPX_AT_STRING;
    case FL_T_BYTES: return IPX_AT_OCTETARRAY;
    default: return IPX_AT_NONE;
    }
}

static uint16_t atype_len(enum ipx_atype at)
{
    switch (at) {
    case IPX_AT_UNSIGNED8: case IPX_AT_SIGNED8: case IPX_AT_BOOLEAN: return 1;
    case IPX_AT_UNSIGNED16: case IPX_AT_SIGNED16: return 2;
    case IPX_AT_UNSIGNED32: case IPX_AT_SIGNED32: case IPX_AT_FLOAT32:
    case IPX_AT_DATETIMESECONDS: case IPX_AT_IPV4ADDRESS: return 4;
    case IPX_AT_UNSIGNED64: case IPX_AT_SIGNED64: case IPX_AT_FLOAT64:
    case IPX_AT_DATETIMEMILLISECONDS: case IPX_AT_DATETIMEMICROSECONDS:
    case IPX_AT_DATETIMENANOSECONDS: return 8;
    case IPX_AT_MACADDRESS: return 6;
    case IPX_AT_IPV6ADDRESS: return 16;
    default: return IPX_VARLEN;
    }
}

static bool is_int_type(enum fl_type t)
{
    return t == FL_T_U8 || t == FL_T_U16 || t == FL_T_U32 || t == FL_T_U64 || t == FL_T_I64
        || t == FL_T_BOOL;
}

static uint64_t unit_ns(enum ipx_unit u)
{
    switch (u) {
    case IPX_UNIT_SECONDS: return 1000000000u;
    case IPX_UNIT_MILLISECONDS: return 1000000u;
    case IPX_UNIT_MICROSECONDS: return 1000u;
    default: return 1;
    }
}

/* Can a cell of type t be written as element type at? NULL if so, else why not. */
static const char *compatible(enum fl_type t, enum ipx_atype at)
{
    switch (at) {
    case IPX_AT_UNSIGNED8: case IPX_AT_UNSIGNED16: case IPX_AT_UNSIGNED32:
    case IPX_AT_UNSIGNED64: case IPX_AT_SIGNED8: case IPX_AT_SIGNED16:
    case IPX_AT_SIGNED32: case IPX_AT_SIGNED64:
        return is_int_type(t) || t == FL_T_F64 || t == FL_T_TS || t == FL_T_DUR ? NULL
                                                                                : "not a number";
    case IPX_AT_FLOAT32: case IPX_AT_FLOAT64:
        return is_int_type(t) || t == FL_T_F64 ? NULL : "not a number";
    case IPX_AT_BOOLEAN:
        return is_int_type(t) ? NULL : "not a boolean";
    case IPX_AT_MACADDRESS:
        return t == FL_T_MAC ? NULL : "not a MAC address";
    case IPX_AT_DATETIMESECONDS: case IPX_AT_DATETIMEMILLISECONDS:
    case IPX_AT_DATETIMEMICROSECONDS: case IPX_AT_DATETIMENANOSECONDS:
        return t == FL_T_TS ? NULL : "not a timestamp";
    case IPX_AT_IPV4ADDRESS: case IPX_AT_IPV6ADDRESS:
        return t == FL_T_ADDR ? NULL : "not an address";
    case IPX_AT_STRING: case IPX_AT_OCTETARRAY: case IPX_AT_BASICLIST:
    case IPX_AT_SUBTEMPLATELIST: case IPX_AT_SUBTEMPLATEMULTILIST:
        return t == FL_T_STR || t == FL_T_BYTES ? NULL : "not a string or bytes";
    default:
        return "of an unknown element type";
    }
}

/* "pen:id" (decimal, both): an element by number. */
static bool parse_pen_id(const char *name, uint32_t *pen, uint16_t *id)
{
    char *end;
    if (name[0] < '0' || name[0] > '9')
        return false;
    unsigned long p = strtoul(name, &end, 10);
    if (*end != ':' || end[1] < '0' || end[1] > '9' || p > 0xffffffffUL)
        return false;
    unsigned long i = strtoul(end + 1, &end, 10);
    if (*end || i == 0 || i > 0x7fff)
        return false;
    *pen = (uint32_t)p;
    *id = (uint16_t)i;
    return true;
}

/* The element of column j, or a reason to leave it out. */
static const char *col_element(const struct fl_col_def *c, bool time_ms, struct ipx_col *out)
{
    const struct fl_field *f = fl_field_find(c->name);
    const struct ipx_type *ty = NULL, *alt = NULL;
    *out = (struct ipx_col){ .t = c->type, .dual = -1, .div = 1 };
    if (f && f->ie && f->pen == 0) {
        if (!(ty = ipx_type_find(f->ie)))
            return "its element is not in the registry";
        alt = f->ie_alt ? ipx_type_find(f->ie_alt) : NULL;
        out->id = f->ie;
        out->at = ty->atype;
        if (alt && ty->atype == IPX_AT_IPV4ADDRESS && alt->atype == IPX_AT_IPV6ADDRESS) {
            out->id6 = alt->id;
        } else if (alt && time_ms && (c->type == FL_T_TS || c->type == FL_T_DUR)
                   && (alt->atype == IPX_AT_DATETIMEMILLISECONDS
                       || alt->unit == IPX_UNIT_MILLISECONDS)) {
            ty = alt;
            out->id = alt->id;
            out->at = alt->atype;
        }
        if ((c->type == FL_T_TS || c->type == FL_T_DUR) && atype_len(out->at) != IPX_VARLEN
            && out->at < IPX_AT_DATETIMESECONDS)
            out->div = unit_ns(ty->unit);
    } else if (f && f->ie && f->pen == FL_PEN) {
        out->pen = FL_PEN;
        out->id = f->ie;
        out->at = native_atype(c->type);
    } else if (parse_pen_id(c->name, &out->pen, &out->id)) {
        ty = out->pen == 0 ? ipx_type_find(out->id) : NULL;
        out->at = ty ? ty->atype : native_atype(c->type);
    } else {
        return f ? "the registry gives it no IPFIX element" : "no IPFIX element has this name";
    }
    const char *why = compatible(c->type, out->at);
    if (why)
        return why;
    out->len = atype_len(out->at);
    return NULL;
}

static uint8_t plain_op(const struct ipx_col *c)
{
    if (c->div != 1 || c->dual >= 0)
        return IPX_OP_CONVERT;
    switch (c->at) {
    case IPX_AT_UNSIGNED8: return c->t == FL_T_U8 ? IPX_OP_COPY1 : IPX_OP_CONVERT;
    case IPX_AT_UNSIGNED16: return c->t == FL_T_U16 ? IPX_OP_SWAP2 : IPX_OP_CONVERT;
    case IPX_AT_UNSIGNED32: return c->t == FL_T_U32 ? IPX_OP_SWAP4 : IPX_OP_CONVERT;
    case IPX_AT_UNSIGNED64: return c->t == FL_T_U64 ? IPX_OP_SWAP8 : IPX_OP_CONVERT;
    case IPX_AT_SIGNED64:
        return c->t == FL_T_I64 || c->t == FL_T_DUR ? IPX_OP_SWAP8 : IPX_OP_CONVERT;
    case IPX_AT_FLOAT64: return c->t == FL_T_F64 ? IPX_OP_SWAP8 : IPX_OP_CONVERT;
    default: return IPX_OP_CONVERT;
    }
}

int ipx_plan_new(const struct fl_schema *s, bool time_ms, ipx_skip_fn skip, void *arg,
                 struct ipx_plan **out)
{
    struct ipx_plan *p = calloc(1, sizeof *p);
    if (!p || !(p->cols = calloc(s->ncols ? s->ncols : 1, sizeof *p->cols))) {
        free(p);
        return -FL_ENOMEM;
    }
    p->schema = s;
    for (uint32_t j = 0; j < s->ncols; j++) {
        struct ipx_col c;
        /* 4000 fields of at most 8 bytes in the template and 16 in the
         * record keep both within a 65535-byte message. */
        const char *why = p->n >= 4000 ? "a template holds at most 4000 fields"
                                       : col_element(s->cols[j], time_ms, &c);
        if (why) {
            if (skip)
                skip(arg, s->cols[j]->name, why);
            continue;
        }
        c.col = j;
        if (c.id6 && p->ndual < IPX_MAX_DUAL)
            c.dual = (int)p->ndual++;
        else if (c.id6) {
            /* Beyond the mask's bits: always the IPv6 element (IPv4 mapped). */
            c.id = c.id6;
            c.id6 = 0;
            c.at = IPX_AT_IPV6ADDRESS;
            c.len = 16;
        }
        c.op = plain_op(&c);
        p->varlen |= c.len == IPX_VARLEN;
        p->cols[p->n++] = c;
    }
    *out = p;
    return 0;
}

void ipx_plan_free(struct ipx_plan **pp)
{
    struct ipx_plan *p = *pp;
    if (!p)
        return;
    free(p->cols);
    free(p->tmpl);
    free(p);
    *pp = NULL;
}

uint32_t ipx_plan_mask(const struct ipx_plan *p, const struct fl_batch *b, uint32_t r)
{
    uint32_t m = 0;
    if (!p->ndual)
        return 0;
    for (size_t i = 0; i < p->n; i++) {
        const struct ipx_col *c = &p->cols[i];
        if (c->dual >= 0 && fl_batch_is_valid(b, c->col, r)
            && !fl_addr_is_v4(&FL_COL(b, c->col, struct fl_addr)[r]))
            m |= 1u << c->dual;
    }
    return m;
}

static bool col_is_v6(const struct ipx_col *c, uint32_t mask)
{
    return c->dual >= 0 && (mask >> c->dual & 1);
}

int ipx_plan_tmpl(struct ipx_plan *p, uint32_t mask, uint32_t *next_id, struct ipx_tmpl **out)
{
    if (p->last < p->ntmpl && p->tmpl[p->last].mask == mask) {
        *out = &p->tmpl[p->last];
        return 0;
    }
    for (size_t i = 0; i < p->ntmpl; i++)
        if (p->tmpl[i].mask == mask) {
            p->last = i;
            *out = &p->tmpl[i];
            return 0;
        }
    if (*next_id > 0xffff)
        return -FL_EFULL;
    if (p->ntmpl == p->captmpl) {
        size_t cap = p->captmpl ? p->captmpl * 2 : 2;
        struct ipx_tmpl *t = realloc(p->tmpl, cap * sizeof *t);
        if (!t)
            return -FL_ENOMEM;
        p->tmpl = t;
        p->captmpl = cap;
    }
    struct ipx_tmpl *t = &p->tmpl[p->ntmpl];
    *t = (struct ipx_tmpl){ .mask = mask, .id = (uint16_t)(*next_id)++, .rec_len = 4 };
    uint32_t fixed = 0;
    for (size_t i = 0; i < p->n; i++) {
        const struct ipx_col *c = &p->cols[i];
        t->rec_len += c->pen ? 8 : 4;
        if (c->len != IPX_VARLEN)
            fixed += col_is_v6(c, mask) ? 16 : c->len;
    }
    t->fixed = (uint16_t)(fixed > 0xffff ? 0xffff : fixed);
    p->last = p->ntmpl++;
    *out = t;
    return 0;
}

/* Host to network order for the byte-swap paths. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define IPX_BE16(v) __builtin_bswap16(v)
#define IPX_BE32(v) __builtin_bswap32(v)
#define IPX_BE64(v) __builtin_bswap64(v)
#else
#define IPX_BE16(v) (v)
#define IPX_BE32(v) (v)
#define IPX_BE64(v) (v)
#endif

static inline void put16(uint8_t *w, uint16_t v)
{
    w[0] = (uint8_t)(v >> 8);
    w[1] = (uint8_t)v;
}

static inline void put32(uint8_t *w, uint32_t v)
{
    w[0] = (uint8_t)(v >> 24);
    w[1] = (uint8_t)(v >> 16);
    w[2] = (uint8_t)(v >> 8);
    w[3] = (uint8_t)v;
}

/* Big-endian, the low n bytes of v. */
static inline void put_be(uint8_t *w, uint64_t v, unsigned n)
{
    for (unsigned i = n; i-- > 0; v >>= 8)
        w[i] = (uint8_t)v;
}

void ipx_tmpl_write(const struct ipx_plan *p, const struct ipx_tmpl *t, uint8_t *w)
{
    put16(w, t->id);
    put16(w + 2, (uint16_t)p->n);
    w += 4;
    for (size_t i = 0; i < p->n; i++) {
        const struct ipx_col *c = &p->cols[i];
        bool v6 = col_is_v6(c, t->mask);
        put16(w, (uint16_t)((v6 ? c->id6 : c->id) | (c->pen ? 0x8000u : 0)));
        put16(w + 2, v6 ? 16 : c->len);
        if (c->pen) {
            put32(w + 4, c->pen);
            w += 8;
        } else {
            w += 4;
        }
    }
}

static struct fl_span cell_span(const struct fl_batch *b, const struct ipx_col *c, uint32_t r)
{
    if (!fl_batch_is_valid(b, c->col, r))
        return (struct fl_span){ 0, 0 };
    return FL_COL(b, c->col, struct fl_span)[r];
}

size_t ipx_rec_len(const struct ipx_plan *p, const struct ipx_tmpl *t, const struct fl_batch *b,
                   uint32_t r)
{
    size_t n = t->fixed;
    if (!p->varlen)
        return n;
    for (size_t i = 0; i < p->n; i++) {
        const struct ipx_col *c = &p->cols[i];
        if (c->len != IPX_VARLEN)
            continue;
        uint32_t l = cell_span(b, c, r).len;
        if (l > 0xffff)
            return 0;
        n += (l < 255 ? 1 : 3) + l;
    }
    return n;
}

/* A numeric cell as the three forms elements take. */
static uint64_t cell_u64(const struct fl_batch *b, const struct ipx_col *c, uint32_t r)
{
    const void *d = b->data[c->col];
    switch (c->t) {
    case FL_T_U8: return ((const uint8_t *)d)[r];
    case FL_T_BOOL: return ((const bool *)d)[r];
    case FL_T_U16: return ((const uint16_t *)d)[r];
    case FL_T_U32: return ((const uint32_t *)d)[r];
    case FL_T_U64: return ((const uint64_t *)d)[r] / c->div;
    case FL_T_TS: return ((const uint64_t *)d)[r] / c->div;
    case FL_T_I64: case FL_T_DUR: {
        int64_t v = ((const int64_t *)d)[r];
        return v < 0 ? 0 : (uint64_t)v / c->div;
    }
    case FL_T_F64: {
        double v = ((const double *)d)[r];
        return !(v > 0) ? 0 : v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)(v + 0.5);
    }
    default: return 0;
    }
}

static int64_t cell_i64(const struct fl_batch *b, const struct ipx_col *c, uint32_t r)
{
    const void *d = b->data[c->col];
    switch (c->t) {
    case FL_T_I64: case FL_T_DUR: return ((const int64_t *)d)[r] / (int64_t)c->div;
    case FL_T_F64: {
        double v = ((const double *)d)[r];
        return v != v ? 0 : v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v;
    }
    default: {
        uint64_t v = cell_u64(b, c, r);
        return v > INT64_MAX ? INT64_MAX : (int64_t)v;
    }
    }
}

static double cell_f64(const struct fl_batch *b, const struct ipx_col *c, uint32_t r)
{
    const void *d = b->data[c->col];
    if (c->t == FL_T_F64)
        return ((const double *)d)[r];
    if (c->t == FL_T_I64 || c->t == FL_T_DUR)
        return (double)((const int64_t *)d)[r];
    return (double)cell_u64(b, c, r);
}

/* NTP-format timestamp (RFC 7011 §6.1.9/10): seconds since 1900 in the
 * high half (mod 2^32), binary fraction in the low half. The fraction is
 * rounded up, so that a reader who rounds down (ns = frac * 1e9 >> 32)
 * gets back the very nanosecond (or microsecond) written: the error is
 * below 0.24 ns (0.48 µs), never below the value. Microseconds keep the
 * 11 low bits of the fraction zero ("SHOULD"), rounding up to them. */
static uint64_t ntp_time(uint64_t ns, bool micro)
{
    uint64_t sec = ns / 1000000000u + 2208988800u, sub = ns % 1000000000u, frac;
    if (micro)
        frac = ((sub / 1000u << 21) + 999999u) / 1000000u << 11;
    else
        frac = ((sub << 32) + 999999999u) / 1000000000u;
    if (frac >> 32) {   /* rounded up to a whole second */
        frac = 0;
        sec++;
    }
    return (sec & 0xffffffffu) << 32 | frac;
}

static uint8_t *write_cell(const struct ipx_col *c, bool v6, const struct fl_batch *b, uint32_t r,
                           uint8_t *w)
{
    bool valid = fl_batch_is_valid(b, c->col, r);
    if (c->len == IPX_VARLEN) {
        struct fl_span s = cell_span(b, c, r);
        if (s.len < 255) {
            *w++ = (uint8_t)s.len;
        } else {
            *w++ = 255;
            put16(w, (uint16_t)s.len);
            w += 2;
        }
        if (s.len)
            memcpy(w, fl_batch_bytes(b, s), s.len);
        return w + s.len;
    }
    unsigned len = v6 ? 16 : c->len;
    if (!valid) {
        memset(w, 0, len);
        return w + len;
    }
    const void *d = b->data[c->col];
    switch (c->op) {
    case IPX_OP_COPY1:
        *w = ((const uint8_t *)d)[r];
        return w + 1;
    case IPX_OP_SWAP2: {
        uint16_t v = IPX_BE16(((const uint16_t *)d)[r]);
        memcpy(w, &v, 2);
        return w + 2;
    }
    case IPX_OP_SWAP4: {
        uint32_t v = IPX_BE32(((const uint32_t *)d)[r]);
        memcpy(w, &v, 4);
        return w + 4;
    }
    case IPX_OP_SWAP8: {
        uint64_t v;
        memcpy(&v, (const uint8_t *)d + (size_t)r * 8, 8);
        v = IPX_BE64(v);
        memcpy(w, &v, 8);
        return w + 8;
    }
    default:
        break;
    }
    switch (c->at) {
    case IPX_AT_UNSIGNED8: case IPX_AT_UNSIGNED16: case IPX_AT_UNSIGNED32: {
        uint64_t v = cell_u64(b, c, r), max = (1ull << (8 * len)) - 1;
        put_be(w, v > max ? max : v, len);
        break;
    }
    case IPX_AT_UNSIGNED64:
        put_be(w, cell_u64(b, c, r), 8);
        break;
    case IPX_AT_SIGNED8: case IPX_AT_SIGNED16: case IPX_AT_SIGNED32: case IPX_AT_SIGNED64: {
        int64_t v = cell_i64(b, c, r);
        if (len < 8) {
            int64_t hi = (int64_t)((1ull << (8 * len - 1)) - 1), lo = -hi - 1;
            v = v > hi ? hi : v < lo ? lo : v;
        }
        put_be(w, (uint64_t)v, len);
        break;
    }
    case IPX_AT_FLOAT32: {
        float f = (float)cell_f64(b, c, r);
        uint32_t u;
        memcpy(&u, &f, 4);
        put32(w, u);
        break;
    }
    case IPX_AT_FLOAT64: {
        double f = cell_f64(b, c, r);
        uint64_t u;
        memcpy(&u, &f, 8);
        put_be(w, u, 8);
        break;
    }
    case IPX_AT_BOOLEAN:   /* RFC 7011 §6.1.5: 1 true, 2 false */
        *w = cell_u64(b, c, r) ? 1 : 2;
        break;
    case IPX_AT_MACADDRESS:
        memcpy(w, (const uint8_t *)d + (size_t)r * 6, 6);
        break;
    case IPX_AT_DATETIMESECONDS: {
        uint64_t s = ((const uint64_t *)d)[r] / 1000000000u;
        put32(w, s > 0xffffffffu ? 0xffffffffu : (uint32_t)s);
        break;
    }
    case IPX_AT_DATETIMEMILLISECONDS:
        put_be(w, ((const uint64_t *)d)[r] / 1000000u, 8);
        break;
    case IPX_AT_DATETIMEMICROSECONDS: case IPX_AT_DATETIMENANOSECONDS:
        put_be(w, ntp_time(((const uint64_t *)d)[r], c->at == IPX_AT_DATETIMEMICROSECONDS), 8);
        break;
    case IPX_AT_IPV4ADDRESS: case IPX_AT_IPV6ADDRESS: {
        const struct fl_addr *a = &((const struct fl_addr *)d)[r];
        if (len == 16)
            memcpy(w, a->b, 16);
        else if (fl_addr_is_v4(a))
            memcpy(w, a->b + 12, 4);
        else   /* an IPv6 address under an IPv4-only element: unspecified */
            memset(w, 0, 4);
        break;
    }
    default:
        memset(w, 0, len);
    }
    return w + len;
}

void ipx_rec_write(const struct ipx_plan *p, const struct ipx_tmpl *t, const struct fl_batch *b,
                   uint32_t r, uint8_t *w)
{
    for (size_t i = 0; i < p->n; i++)
        w = write_cell(&p->cols[i], col_is_v6(&p->cols[i], t->mask), b, r, w);
}
