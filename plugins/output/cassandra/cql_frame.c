/* cql_frame.c: CQL v4 frame headers and the primitive notations of the
 * spec (§3): written into a growable buffer, read from a bounded one. All
 * integers are big-endian. A reader never moves past its length: each
 * read checks the bytes left first, including the length prefix of
 * strings and bytes, and fails without moving. */
#include <stdlib.h>
#include <string.h>
#include "cql.h"

int cql_hdr_decode(const uint8_t *p, size_t n, struct cql_hdr *h)
{
    if (n < CQL_HDR_LEN)
        return -FL_EAGAIN;
    h->version = p[0];
    h->flags = p[1];
    h->stream = (int16_t)(uint16_t)((unsigned)p[2] << 8 | p[3]);
    h->opcode = p[4];
    h->length = (uint32_t)p[5] << 24 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8];
    if (h->version != CQL_VERSION_RESP || h->length > CQL_MAX_BODY)
        return -FL_EPROTO;
    return 0;
}

/* ---- writing ------------------------------------------------------------ */

void cql_wr_free(struct cql_wr *w)
{
    free(w->p);
    *w = (struct cql_wr){ 0 };
}

int cql_wr_grow(struct cql_wr *w, size_t n)
{
    if (w->err)
        return w->err;
    if (w->cap - w->len >= n)
        return 0;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap - w->len < n) {
        if (cap > SIZE_MAX / 2)
            return w->err = -FL_ENOMEM;
        cap *= 2;
    }
    uint8_t *p = realloc(w->p, cap);
    if (!p)
        return w->err = -FL_ENOMEM;
    w->p = p;
    w->cap = cap;
    return 0;
}

void cql_wr_u8(struct cql_wr *w, uint8_t v)
{
    cql_wr_raw(w, &v, 1);
}

void cql_wr_u16(struct cql_wr *w, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    cql_wr_raw(w, b, 2);
}

void cql_wr_i64(struct cql_wr *w, int64_t v)
{
    uint64_t u = (uint64_t)v;
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(u >> (56 - 8 * i));
    cql_wr_raw(w, b, 8);
}

/* Lengths beyond what the prefix can say are a programming error upstream
 * (names and statements are ours, values are bounded by the caller); cut
 * them rather than write a frame the server would misread. */
void cql_wr_string(struct cql_wr *w, const char *s, size_t n)
{
    if (n > 0xffff)
        n = 0xffff;
    cql_wr_u16(w, (uint16_t)n);
    cql_wr_raw(w, s, n);
}

void cql_wr_long_string(struct cql_wr *w, const char *s, size_t n)
{
    if (n > INT32_MAX)
        n = INT32_MAX;
    cql_wr_i32(w, (int32_t)n);
    cql_wr_raw(w, s, n);
}

void cql_wr_short_bytes(struct cql_wr *w, const void *s, size_t n)
{
    cql_wr_string(w, s, n);
}

void cql_wr_bytes(struct cql_wr *w, const void *s, size_t n)
{
    cql_wr_long_string(w, s, n);
}

void cql_wr_null(struct cql_wr *w)
{
    cql_wr_i32(w, -1);
}

size_t cql_wr_frame_begin(struct cql_wr *w, uint8_t opcode, int16_t stream)
{
    size_t off = w->len;
    uint8_t h[CQL_HDR_LEN] = { CQL_VERSION_REQ, 0, (uint8_t)((uint16_t)stream >> 8),
                               (uint8_t)stream, opcode, 0, 0, 0, 0 };
    cql_wr_raw(w, h, sizeof h);
    return off;
}

void cql_wr_frame_end(struct cql_wr *w, size_t off)
{
    if (w->err)
        return;
    uint32_t n = (uint32_t)(w->len - off - CQL_HDR_LEN);
    uint8_t *p = w->p + off + 5;
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
}

/* ---- reading ------------------------------------------------------------- */

static inline bool left(const struct cql_rd *r, size_t n)
{
    return r->len - r->off >= n;
}

int cql_rd_skip(struct cql_rd *r, size_t n)
{
    if (!left(r, n))
        return -FL_EPROTO;
    r->off += n;
    return 0;
}

int cql_rd_u8(struct cql_rd *r, uint8_t *v)
{
    if (!left(r, 1))
        return -FL_EPROTO;
    *v = r->p[r->off++];
    return 0;
}

int cql_rd_u16(struct cql_rd *r, uint16_t *v)
{
    if (!left(r, 2))
        return -FL_EPROTO;
    const uint8_t *p = r->p + r->off;
    *v = (uint16_t)((unsigned)p[0] << 8 | p[1]);
    r->off += 2;
    return 0;
}

int cql_rd_i32(struct cql_rd *r, int32_t *v)
{
    if (!left(r, 4))
        return -FL_EPROTO;
    const uint8_t *p = r->p + r->off;
    *v = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    r->off += 4;
    return 0;
}

int cql_rd_i64(struct cql_rd *r, int64_t *v)
{
    if (!left(r, 8))
        return -FL_EPROTO;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | r->p[r->off + (size_t)i];
    *v = (int64_t)u;
    r->off += 8;
    return 0;
}

static int take(struct cql_rd *r, size_t prefix, size_t n, struct cql_slice *s)
{
    if (!left(r, prefix + n))
        return -FL_EPROTO;
    s->p = r->p + r->off + prefix;
    s->len = (uint32_t)n;
    s->null = false;
    r->off += prefix + n;
    return 0;
}

int cql_rd_string(struct cql_rd *r, struct cql_slice *s)
{
    if (!left(r, 2))
        return -FL_EPROTO;
    size_t n = (size_t)r->p[r->off] << 8 | r->p[r->off + 1];
    return take(r, 2, n, s);
}

int cql_rd_short_bytes(struct cql_rd *r, struct cql_slice *s)
{
    return cql_rd_string(r, s);
}

/* [long string] is never null; [bytes] may be (any negative length). */
static int rd_int_len(struct cql_rd *r, struct cql_slice *s, bool may_be_null)
{
    if (!left(r, 4))
        return -FL_EPROTO;
    const uint8_t *p = r->p + r->off;
    int32_t n = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    if (n < 0) {
        if (!may_be_null)
            return -FL_EPROTO;
        r->off += 4;
        *s = (struct cql_slice){ .p = NULL, .len = 0, .null = true };
        return 0;
    }
    return take(r, 4, (size_t)n, s);
}

int cql_rd_long_string(struct cql_rd *r, struct cql_slice *s)
{
    return rd_int_len(r, s, false);
}

int cql_rd_bytes(struct cql_rd *r, struct cql_slice *s)
{
    return rd_int_len(r, s, true);
}

/* [inet]: a byte n (4 or 16), n address bytes, an [int] port. */
int cql_rd_inet(struct cql_rd *r, uint8_t addr[16], uint8_t *addr_len, int32_t *port)
{
    size_t at = r->off;
    uint8_t n;
    if (cql_rd_u8(r, &n) < 0)
        return -FL_EPROTO;
    if ((n != 4 && n != 16) || !left(r, (size_t)n + 4)) {
        r->off = at;
        return -FL_EPROTO;
    }
    memcpy(addr, r->p + r->off, n);
    r->off += n;
    *addr_len = n;
    return cql_rd_i32(r, port);
}

int cql_rd_string_list(struct cql_rd *r, uint16_t *n)
{
    size_t at = r->off;
    struct cql_slice s;
    if (cql_rd_u16(r, n) < 0)
        return -FL_EPROTO;
    for (uint16_t i = 0; i < *n; i++)
        if (cql_rd_string(r, &s) < 0) {
            r->off = at;
            return -FL_EPROTO;
        }
    return 0;
}
