/* ngw.h: a small pcapng writer for the tests and the fuzz target's seeds:
 * section headers, interfaces, enhanced/simple/obsolete packet blocks and
 * arbitrary blocks, in either byte order, into a caller's buffer (written
 * independently of the reader, from the pcapng specification). */
#ifndef NGW_H
#define NGW_H

#include <stdint.h>
#include <string.h>

struct ngw {
    uint8_t *buf;
    size_t n;
    int be;             /* byte order of the current section */
};

static inline void ngw_u16(struct ngw *w, uint16_t v)
{
    w->buf[w->n + (w->be ? 0 : 1)] = (uint8_t)(v >> 8);
    w->buf[w->n + (w->be ? 1 : 0)] = (uint8_t)v;
    w->n += 2;
}

static inline void ngw_u32(struct ngw *w, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        w->buf[w->n + i] = (uint8_t)(w->be ? v >> (24 - 8 * i) : v >> (8 * i));
    w->n += 4;
}

static inline void ngw_u64(struct ngw *w, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        w->buf[w->n + i] = (uint8_t)(w->be ? v >> (56 - 8 * i) : v >> (8 * i));
    w->n += 8;
}

static inline void ngw_bytes(struct ngw *w, const void *p, size_t len)
{
    memcpy(w->buf + w->n, p, len);
    w->n += len;
    while (w->n % 4)
        w->buf[w->n++] = 0;
}

/* Start a block (type, length patched by ngw_end); returns its offset. */
static inline size_t ngw_begin(struct ngw *w, uint32_t type)
{
    size_t at = w->n;
    ngw_u32(w, type);
    ngw_u32(w, 0);
    return at;
}

static inline void ngw_end(struct ngw *w, size_t at)
{
    uint32_t len = (uint32_t)(w->n + 4 - at);
    size_t save = w->n;
    w->n = at + 4;
    ngw_u32(w, len);
    w->n = save;
    ngw_u32(w, len);
}

/* A section header in byte order be (big-endian when 1). */
static inline void ngw_shb(struct ngw *w, int be)
{
    size_t at;
    w->be = be;
    at = ngw_begin(w, 0x0A0D0D0Au);
    ngw_u32(w, 0x1A2B3C4Du);
    ngw_u16(w, 1);
    ngw_u16(w, 0);
    ngw_u64(w, UINT64_MAX);     /* section length: unknown */
    ngw_end(w, at);
}

/* An interface: tsresol < 0 leaves the option out (10^-6); offset != 0
 * adds if_tsoffset (seconds). */
static inline void ngw_idb(struct ngw *w, uint16_t linktype, uint32_t snap, int tsresol,
                           int64_t offset)
{
    size_t at = ngw_begin(w, 1);
    ngw_u16(w, linktype);
    ngw_u16(w, 0);
    ngw_u32(w, snap);
    if (tsresol >= 0) {
        uint8_t r = (uint8_t)tsresol;
        ngw_u16(w, 9);
        ngw_u16(w, 1);
        ngw_bytes(w, &r, 1);
    }
    if (offset) {
        ngw_u16(w, 14);
        ngw_u16(w, 8);
        ngw_u64(w, (uint64_t)offset);
    }
    ngw_u16(w, 0);
    ngw_u16(w, 0);
    ngw_end(w, at);
}

/* An enhanced packet block (type 6), or the obsolete packet block (type 2). */
static inline void ngw_epb(struct ngw *w, uint32_t type, uint32_t ifc, uint64_t units,
                           const void *data, uint32_t caplen, uint32_t len)
{
    size_t at = ngw_begin(w, type);
    if (type == 2) {
        ngw_u16(w, (uint16_t)ifc);
        ngw_u16(w, 0);      /* drops count */
    } else {
        ngw_u32(w, ifc);
    }
    ngw_u32(w, (uint32_t)(units >> 32));
    ngw_u32(w, (uint32_t)units);
    ngw_u32(w, caplen);
    ngw_u32(w, len);
    ngw_bytes(w, data, caplen);
    ngw_end(w, at);
}

static inline void ngw_spb(struct ngw *w, const void *data, uint32_t len)
{
    size_t at = ngw_begin(w, 3);
    ngw_u32(w, len);
    ngw_bytes(w, data, len);
    ngw_end(w, at);
}

/* Any block with a body of len bytes. */
static inline void ngw_block(struct ngw *w, uint32_t type, const void *body, size_t len)
{
    size_t at = ngw_begin(w, type);
    ngw_bytes(w, body, len);
    ngw_end(w, at);
}

/* An Ethernet/IPv4/UDP frame from 10.0.0.<src> (60 bytes); the IP packet
 * (raw IP link type) starts at byte 14. */
static inline size_t ngw_frame(uint8_t *p, uint8_t src)
{
    static const uint8_t hdr[] = {
        0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00,
        0x45, 0, 0, 46, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 99,
        0x03, 0xe8, 0, 53, 0, 26, 0, 0};
    memcpy(p, hdr, sizeof hdr);
    memset(p + sizeof hdr, 'x', 60 - sizeof hdr);
    p[29] = src;
    return 60;
}

#endif
