/* wire.c: flowline's binary batch encoding (flowline/wire.h,
 * docs/wire-format.md). The layout is little-endian throughout; cells are
 * copied as they lie in the columns, so the hot path is a memcpy per column
 * on the little-endian hosts flowline runs on. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/wire.h>
#include "rt.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
/* Cells are copied as the host stores them; a big-endian host would need a
 * byte swap per cell, which nobody has asked for yet. */
#error "wire.c assumes a little-endian host"
#endif

#define WIRE_MAGIC "FLWB"
#define WF_SCHEMA 0x1u          /* header flag: the schema block follows */
#define CF_VALIDITY 0x1u        /* column flag: a validity bitmap precedes the cells */
#define SCHEMA_ENTRY 8u         /* type, name length, ie, pen before each name */
#define COL_HEAD 8u             /* section length, flags, type, reserved */

/* Wire type codes: fixed by docs/wire-format.md, independent of enum
 * fl_type's values (which happen to be equal today). */
static const uint8_t type_to_wire[FL_T_COUNT] = {
    [FL_T_U8] = 1, [FL_T_U16] = 2, [FL_T_U32] = 3, [FL_T_U64] = 4, [FL_T_I64] = 5,
    [FL_T_F64] = 6, [FL_T_BOOL] = 7, [FL_T_TS] = 8, [FL_T_DUR] = 9, [FL_T_ADDR] = 10,
    [FL_T_MAC] = 11, [FL_T_STR] = 12, [FL_T_BYTES] = 13,
};

static enum fl_type type_from_wire(uint8_t w)
{
    for (int t = 1; t < FL_T_COUNT; t++)
        if (type_to_wire[t] == w)
            return (enum fl_type)t;
    return FL_T_NONE;
}

static bool is_var(enum fl_type t) { return t == FL_T_STR || t == FL_T_BYTES; }

/* ---- little-endian scalars -------------------------------------------- */
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

void fl_wire_buf_free(struct fl_wire_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* ---- encoding --------------------------------------------------------- */
static size_t schema_block_size(const struct fl_schema *s)
{
    size_t n = 0;
    for (uint32_t i = 0; i < s->ncols; i++)
        n += SCHEMA_ENTRY + strlen(s->cols[i]->name);
    return n;
}

static void schema_block_write(const struct fl_schema *s, uint8_t *p)
{
    for (uint32_t i = 0; i < s->ncols; i++) {
        const struct fl_col_def *c = s->cols[i];
        size_t len = strlen(c->name);
        const struct fl_field *f = fl_field_find(c->name);
        p[0] = type_to_wire[c->type];
        p[1] = (uint8_t)len;
        put16(p + 2, f ? f->ie : 0);
        put32(p + 4, f ? f->pen : 0);
        memcpy(p + SCHEMA_ENTRY, c->name, len);
        p += SCHEMA_ENTRY + len;
    }
}

static int schema_check(const struct fl_schema *s)
{
    if (s->ncols > FL_WIRE_MAX_COLS)
        return -FL_ERANGE;
    for (uint32_t i = 0; i < s->ncols; i++) {
        size_t len = strlen(s->cols[i]->name);
        if (!len || len > FL_WIRE_MAX_NAME || (unsigned)s->cols[i]->type >= FL_T_COUNT
            || !type_to_wire[s->cols[i]->type])
            return -FL_ERANGE;
    }
    return 0;
}

uint64_t fl_wire_schema_fp(const struct fl_schema *s)
{
    if (schema_check(s) < 0)
        return 0;
    size_t n = schema_block_size(s);
    uint8_t stack[2048], *p = n <= sizeof(stack) ? stack : malloc(n);
    if (!p)
        return 0;
    schema_block_write(s, p);
    uint64_t fp = fnv1a(p, n);
    if (p != stack)
        free(p);
    return fp;
}

static size_t words_of(uint32_t rows) { return ((size_t)rows + 63) / 64; }

/* The bytes of column i's section after its 8-byte head. */
static size_t col_body_size(const struct fl_batch *b, uint32_t i)
{
    enum fl_type t = b->schema->cols[i]->type;
    size_t n = b->valid[i] ? words_of(b->rows) * 8 : 0;
    if (!is_var(t))
        return n + (size_t)b->rows * fl_type_size(t);
    n += (size_t)b->rows * 4;
    const struct fl_span *sp = b->data[i];
    for (uint32_t r = 0; r < b->rows; r++)
        if (fl_batch_is_valid(b, i, r))
            n += sp[r].len;
    return n;
}

static uint8_t *col_write(const struct fl_batch *b, uint32_t i, uint8_t *p)
{
    enum fl_type t = b->schema->cols[i]->type;
    const uint64_t *valid = b->valid[i];
    p[0] = valid ? CF_VALIDITY : 0;
    p[1] = type_to_wire[t];
    put16(p + 2, 0);
    p += 4;
    if (valid) {
        size_t w = words_of(b->rows);
        memcpy(p, valid, w * 8);
        if (b->rows & 63) {     /* bits past the last row are zero on the wire */
            uint64_t last = valid[w - 1] & ((1ull << (b->rows & 63)) - 1);
            put64(p + (w - 1) * 8, last);
        }
        p += w * 8;
    }
    if (!is_var(t)) {
        size_t cell = fl_type_size(t);
        memcpy(p, b->data[i], (size_t)b->rows * cell);
        if (valid)   /* a missing cell's memory is whatever was there: send zeros */
            for (uint32_t r = 0; r < b->rows; r++)
                if (!fl_batch_is_valid(b, i, r))
                    memset(p + (size_t)r * cell, 0, cell);
        return p + (size_t)b->rows * cell;
    }
    const struct fl_span *sp = b->data[i];
    uint8_t *blob = p + (size_t)b->rows * 4;
    for (uint32_t r = 0; r < b->rows; r++) {
        uint32_t len = fl_batch_is_valid(b, i, r) ? sp[r].len : 0;
        put32(p + (size_t)r * 4, len);
        if (len)
            memcpy(blob, fl_batch_bytes(b, sp[r]), len);
        blob += len;
    }
    return blob;
}

int fl_wire_encode(const struct fl_batch *b, unsigned flags, struct fl_wire_buf *out)
{
    const struct fl_schema *s = b->schema;
    int rc;

    if (b->rows > FL_WIRE_MAX_ROWS || (rc = schema_check(s)) < 0)
        return -FL_ERANGE;
    size_t sblock = schema_block_size(s);
    size_t total = FL_WIRE_HEADER_SIZE + (flags & FL_WIRE_NO_SCHEMA ? 0 : sblock);
    for (uint32_t i = 0; i < s->ncols; i++) {
        size_t body = col_body_size(b, i);
        if (body > FL_WIRE_MAX_MESSAGE)
            return -FL_ERANGE;
        total += COL_HEAD + body;
    }
    if (total > FL_WIRE_MAX_MESSAGE)
        return -FL_ERANGE;
    /* the schema block is written in place: room for it even when left out,
     * so the fingerprint is computed from the same bytes */
    if ((rc = fl_bytes_reserve(&out->p, &out->cap, out->len, total + sblock)) < 0)
        return rc;
    uint8_t *h = out->p + out->len, *p = h + FL_WIRE_HEADER_SIZE;
    schema_block_write(s, p);
    uint64_t fp = fnv1a(p, sblock);
    if (!(flags & FL_WIRE_NO_SCHEMA))
        p += sblock;
    memcpy(h, WIRE_MAGIC, 4);
    h[4] = FL_WIRE_VERSION;
    h[5] = flags & FL_WIRE_NO_SCHEMA ? 0 : WF_SCHEMA;
    put16(h + 6, FL_WIRE_HEADER_SIZE);
    put32(h + 8, (uint32_t)total);
    put32(h + 12, b->rows);
    put32(h + 16, s->ncols);
    put32(h + 20, flags & FL_WIRE_NO_SCHEMA ? 0 : (uint32_t)sblock);
    put64(h + 24, fp);
    put64(h + 32, b->seq);
    put64(h + 40, b->t_min);
    put64(h + 48, b->t_max);
    for (uint32_t i = 0; i < s->ncols; i++) {
        uint8_t *start = p;
        p = col_write(b, i, p + 4);
        put32(start, (uint32_t)(p - start - 4));
    }
    out->len += total;
    return 0;
}

/* ---- decoding --------------------------------------------------------- */
struct schema_ent {
    uint64_t fp;
    uint8_t *block;             /* the schema block's bytes, to rule out collisions */
    size_t len;
    const struct fl_schema *s;
};

struct fl_wire_dec {
    struct fl_ctx *ctx;
    uint32_t max, n, next;      /* cache size, entries, slot replaced next */
    uint32_t last;              /* the entry that hit last */
    uint64_t built;
    struct schema_ent *ents;
    char err[160];
};

int fl_wire_dec_new(struct fl_ctx *ctx, uint32_t max_schemas, struct fl_wire_dec **out)
{
    struct fl_wire_dec *d = calloc(1, sizeof(*d));
    if (!d)
        return -FL_ENOMEM;
    d->ctx = ctx;
    d->max = max_schemas ? max_schemas : 64;
    if (!(d->ents = calloc(d->max, sizeof(d->ents[0])))) {
        free(d);
        return -FL_ENOMEM;
    }
    *out = d;
    return 0;
}

void fl_wire_dec_free(struct fl_wire_dec **dp)
{
    struct fl_wire_dec *d = *dp;
    if (!d)
        return;
    for (uint32_t i = 0; i < d->n; i++)
        free(d->ents[i].block);
    free(d->ents);
    free(d);
    *dp = NULL;
}

const char *fl_wire_dec_error(const struct fl_wire_dec *d) { return d->err; }
uint64_t fl_wire_dec_schemas_built(const struct fl_wire_dec *d) { return d->built; }

__attribute__((format(printf, 3, 4)))
static int fail(struct fl_wire_dec *d, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof(d->err), fmt, ap);
    va_end(ap);
    return rc;
}

int fl_wire_peek(const void *buf, size_t len, size_t *msg_len)
{
    const uint8_t *p = buf;
    *msg_len = 0;
    if (len < FL_WIRE_HEADER_SIZE)
        return -FL_EAGAIN;
    if (memcmp(p, WIRE_MAGIC, 4) != 0 || p[4] != FL_WIRE_VERSION)
        return -FL_EPROTO;
    uint32_t hlen = get16(p + 6), total = get32(p + 8);
    if (hlen < FL_WIRE_HEADER_SIZE || total < hlen || total > FL_WIRE_MAX_MESSAGE)
        return -FL_EPROTO;
    *msg_len = total;
    return 0;
}

static struct schema_ent *cache_find(struct fl_wire_dec *d, uint64_t fp, const uint8_t *block,
                                     size_t len)
{
    for (uint32_t k = 0; k < d->n; k++) {
        uint32_t i = (d->last + k) % d->n;      /* the last hit first */
        struct schema_ent *e = &d->ents[i];
        if (e->fp == fp && (!block || (e->len == len && memcmp(e->block, block, len) == 0))) {
            d->last = i;
            return e;
        }
    }
    return NULL;
}

/* Parse a schema block of ncols entries and intern it. */
static int schema_parse(struct fl_wire_dec *d, const uint8_t *p, size_t len, uint32_t ncols,
                        const struct fl_schema **out)
{
    struct fl_col_def *defs = calloc(ncols ? ncols : 1, sizeof(*defs));
    char *names = malloc(len + 1);      /* each name NUL-terminated: fewer bytes than entries */
    size_t off = 0, noff = 0;
    int rc = -FL_ENOMEM;

    if (!defs || !names)
        goto out;
    rc = -FL_EPROTO;
    for (uint32_t i = 0; i < ncols; i++) {
        if (len - off < SCHEMA_ENTRY) {
            fail(d, rc, "schema block: column %u of %u cut short", i, ncols);
            goto out;
        }
        enum fl_type t = type_from_wire(p[off]);
        uint8_t nlen = p[off + 1];
        if (t == FL_T_NONE) {
            fail(d, rc, "schema block: column %u has unknown type code %u", i, p[off]);
            goto out;
        }
        if (!nlen || len - off - SCHEMA_ENTRY < nlen) {
            fail(d, rc, "schema block: column %u name length %u does not fit", i, nlen);
            goto out;
        }
        const uint8_t *name = p + off + SCHEMA_ENTRY;
        if (memchr(name, 0, nlen)) {
            fail(d, rc, "schema block: column %u name holds a NUL byte", i);
            goto out;
        }
        memcpy(names + noff, name, nlen);
        names[noff + nlen] = 0;
        defs[i].name = names + noff;
        defs[i].type = t;
        noff += nlen + 1u;
        off += SCHEMA_ENTRY + nlen;
    }
    if (off != len) {
        fail(d, rc, "schema block: %zu bytes after the last of %u columns", len - off, ncols);
        goto out;
    }
    if ((rc = fl_schema_intern(d->ctx, defs, ncols, sizeof(defs[0]), out)) < 0)
        fail(d, rc, "schema block: cannot intern the schema");
out:
    free(defs);
    free(names);
    return rc;
}

static int cache_add(struct fl_wire_dec *d, uint64_t fp, const uint8_t *block, size_t len,
                     const struct fl_schema *s)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -FL_ENOMEM;
    memcpy(copy, block, len);
    uint32_t i = d->n < d->max ? d->n++ : d->next;
    if (i == d->next)
        d->next = (d->next + 1) % d->max;
    if (d->ents[i].block)
        free(d->ents[i].block);
    d->ents[i] = (struct schema_ent){ .fp = fp, .block = copy, .len = len, .s = s };
    d->last = i;
    return 0;
}

/* Column i's section body p[0..len) into batch b. */
static int col_read(struct fl_wire_dec *d, struct fl_batch *b, uint32_t i, const uint8_t *p,
                    size_t len)
{
    enum fl_type t = b->schema->cols[i]->type;
    uint32_t rows = b->rows;
    int rc;

    if (len < 4)
        return fail(d, -FL_EPROTO, "column %u (%s): section of %zu bytes, no head", i,
                    b->schema->cols[i]->name, len);
    uint8_t flags = p[0];
    if (p[1] != type_to_wire[t] || (flags & ~CF_VALIDITY) || get16(p + 2))
        return fail(d, -FL_EPROTO, "column %u (%s): type code %u or flags 0x%x do not match "
                    "the schema (%s)", i, b->schema->cols[i]->name, p[1], flags, fl_type_name(t));
    p += 4;
    len -= 4;
    const uint8_t *valid = NULL;
    if (flags & CF_VALIDITY) {
        size_t vb = words_of(rows) * 8;
        if (len < vb)
            return fail(d, -FL_EPROTO, "column %u (%s): validity bitmap cut short", i,
                        b->schema->cols[i]->name);
        valid = p;
        p += vb;
        len -= vb;
    }
    if (!is_var(t)) {
        size_t cell = fl_type_size(t), n = (size_t)rows * cell;
        if (len != n)
            return fail(d, -FL_EPROTO, "column %u (%s): %zu bytes of cells, %u rows need %zu",
                        i, b->schema->cols[i]->name, len, rows, n);
        memcpy(b->data[i], p, n);
        if (t == FL_T_BOOL)         /* anything but 0 is true; store 1 */
            for (uint32_t r = 0; r < rows; r++)
                ((uint8_t *)b->data[i])[r] = ((uint8_t *)b->data[i])[r] != 0;
    } else {
        size_t nl = (size_t)rows * 4;
        if (len < nl)
            return fail(d, -FL_EPROTO, "column %u (%s): lengths cut short", i,
                        b->schema->cols[i]->name);
        uint64_t sum = 0;
        for (uint32_t r = 0; r < rows; r++)
            sum += get32(p + (size_t)r * 4);
        if (sum != len - nl)
            return fail(d, -FL_EPROTO, "column %u (%s): lengths sum to %llu bytes, the section "
                        "holds %zu", i, b->schema->cols[i]->name, (unsigned long long)sum,
                        len - nl);
        struct fl_span base = { 0, 0 };
        if (sum && (rc = fl_batch_put_bytes(b, p + nl, (uint32_t)sum, &base)) < 0)
            return fail(d, rc, "column %u: no memory for %llu bytes", i,
                        (unsigned long long)sum);
        struct fl_span *sp = b->data[i];
        uint32_t off = base.off;
        for (uint32_t r = 0; r < rows; r++) {
            uint32_t l = get32(p + (size_t)r * 4);
            sp[r] = (struct fl_span){ .off = off, .len = l };
            off += l;
        }
    }
    if (valid)
        for (uint32_t r = 0; r < rows; r++)
            if (!(valid[r >> 3] >> (r & 7) & 1) && (rc = fl_batch_set_missing(b, i, r)) < 0)
                return fail(d, rc, "column %u: no memory for its bitmap", i);
    return 0;
}

int fl_wire_decode(struct fl_wire_dec *d, const void *buf, size_t len, struct fl_batch **out,
                   size_t *used)
{
    const uint8_t *p = buf;
    const struct fl_schema *s = NULL;
    struct fl_batch *b = NULL;
    size_t total;
    int rc;

    d->err[0] = 0;
    *out = NULL;
    if (used)
        *used = 0;
    if (len < FL_WIRE_HEADER_SIZE)
        return fail(d, -FL_EPROTO, "truncated: %zu bytes, the header alone has %u", len,
                    FL_WIRE_HEADER_SIZE);
    if (memcmp(p, WIRE_MAGIC, 4) != 0)
        return fail(d, -FL_EPROTO, "not a flowline batch (magic %02x%02x%02x%02x)", p[0], p[1],
                    p[2], p[3]);
    if (p[4] != FL_WIRE_VERSION)
        return fail(d, -FL_EPROTO, "batch format version %u; this flowline reads version %u",
                    p[4], FL_WIRE_VERSION);
    if ((rc = fl_wire_peek(p, len, &total)) < 0)
        return fail(d, rc, "header: bad header length %u or message length %u",
                    get16(p + 6), get32(p + 8));
    if (total > len)
        return fail(d, -FL_EPROTO, "truncated: the header says %zu bytes, %zu are here", total,
                    len);
    uint8_t flags = p[5];
    uint32_t hlen = get16(p + 6), rows = get32(p + 12), ncols = get32(p + 16);
    uint32_t slen = get32(p + 20);
    uint64_t fp = get64(p + 24);
    if (flags & ~WF_SCHEMA)
        return fail(d, -FL_EPROTO, "header: unknown flags 0x%x", flags);
    if (rows > FL_WIRE_MAX_ROWS || ncols > FL_WIRE_MAX_COLS)
        return fail(d, -FL_EPROTO, "header: %u rows, %u columns exceed the limits (%u, %u)",
                    rows, ncols, FL_WIRE_MAX_ROWS, FL_WIRE_MAX_COLS);
    size_t off = hlen;
    if (flags & WF_SCHEMA) {
        if (slen > total - off)
            return fail(d, -FL_EPROTO, "schema block of %u bytes runs past the message", slen);
        const uint8_t *block = p + off;
        if (fnv1a(block, slen) != fp)
            return fail(d, -FL_EPROTO, "schema block does not match its fingerprint");
        struct schema_ent *e = cache_find(d, fp, block, slen);
        if (e) {
            s = e->s;
        } else {
            if ((rc = schema_parse(d, block, slen, ncols, &s)) < 0)
                return rc;
            if ((rc = cache_add(d, fp, block, slen, s)) < 0)
                return fail(d, rc, "no memory for the schema cache");
            d->built++;
        }
        off += slen;
    } else {
        if (slen)
            return fail(d, -FL_EPROTO, "header: schema length %u without a schema block", slen);
        struct schema_ent *e = cache_find(d, fp, NULL, 0);
        if (!e)
            return fail(d, -FL_ENOENT, "schema %016llx not seen yet and not in the message",
                        (unsigned long long)fp);
        s = e->s;
    }
    if (s->ncols != ncols)
        return fail(d, -FL_EPROTO, "header says %u columns, its schema has %u", ncols, s->ncols);
    /* The least the columns can take for these rows: checked before the
     * batch is allocated, so memory follows the message's own size. */
    uint64_t need = 0;
    for (uint32_t i = 0; i < ncols; i++) {
        enum fl_type t = s->cols[i]->type;
        need += COL_HEAD + (uint64_t)rows * (is_var(t) ? 4 : fl_type_size(t));
    }
    if (need > total - off)
        return fail(d, -FL_EPROTO, "%u rows of %u columns need at least %llu bytes, %zu are left",
                    rows, ncols, (unsigned long long)need, total - off);
    if ((rc = fl_batch_new(d->ctx, s, rows ? rows : 1, &b)) < 0)
        return fail(d, rc, "no memory for a batch of %u rows", rows);
    b->rows = rows;
    for (uint32_t i = 0; i < ncols; i++) {
        if (total - off < 4) {
            rc = fail(d, -FL_EPROTO, "column %u of %u missing", i, ncols);
            goto bad;
        }
        uint32_t clen = get32(p + off);
        off += 4;
        if (clen > total - off) {
            rc = fail(d, -FL_EPROTO, "column %u: section of %u bytes runs past the message", i,
                      clen);
            goto bad;
        }
        if ((rc = col_read(d, b, i, p + off, clen)) < 0)
            goto bad;
        off += clen;
    }
    if (off != total) {
        rc = fail(d, -FL_EPROTO, "%zu bytes after the last column", total - off);
        goto bad;
    }
    b->seq = get64(p + 32);
    b->t_min = get64(p + 40);
    b->t_max = get64(p + 48);
    *out = b;
    if (used)
        *used = total;
    return 0;
bad:
    fl_batch_release(&b);
    return rc;
}
