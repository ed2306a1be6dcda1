/* frame.h: the frame builder of the decoder tests (the same as
 * test_decode.c's, shared by the tunnel tests). Functions are static and
 * marked unused so a test includes what it needs. */
#ifndef FL_TEST_DECODE_FRAME_H
#define FL_TEST_DECODE_FRAME_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

/* ---- a frame builder ------------------------------------------------------
 * Layers are appended in wire order; fin() then writes every IP total
 * length / payload length and UDP length from where its header started to
 * the end of the frame (so nested tunnels get theirs right). */
struct fr {
    uint8_t b[4096];
    size_t n;
    size_t ip4[16], ip6[16], udp[16];
    int n4, n6, nu;
};

static void put(struct fr *f, const void *p, size_t n)
{
    assert_true(f->n + n <= sizeof f->b);
    memcpy(f->b + f->n, p, n);
    f->n += n;
}
static void put8(struct fr *f, unsigned v) { uint8_t x = (uint8_t)v; put(f, &x, 1); }
static void put16(struct fr *f, unsigned v) { put8(f, v >> 8); put8(f, v); }
static void put32(struct fr *f, uint32_t v) { put16(f, v >> 16); put16(f, v & 0xffff); }
static void zeros(struct fr *f, size_t n) { while (n--) put8(f, 0); }

static void eth(struct fr *f, unsigned et)
{
    static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
    put(f, macs, sizeof macs);
    put16(f, et);
}
static void vlan(struct fr *f, unsigned vid, unsigned et) { put16(f, 0x2000 | vid); put16(f, et); }
static void mpls(struct fr *f, unsigned label, int bos)
{
    put32(f, (uint32_t)label << 12 | (bos ? 0x100 : 0) | 64);
}

/* IPv4 with `optwords` 4-byte option words, fragment field `fo` (flags and
 * offset), id. */
static void ip4x(struct fr *f, unsigned proto, const char *src, const char *dst,
                 unsigned optwords, unsigned fo, unsigned id)
{
    uint8_t a[4];
    assert_true(f->n4 < 16);
    f->ip4[f->n4++] = f->n;
    put8(f, 0x40 | (5 + optwords));
    put8(f, 0);
    put16(f, 0);            /* total length: fin() */
    put16(f, id);
    put16(f, fo);
    put8(f, 64);
    put8(f, proto);
    put16(f, 0);
    assert_int_equal(inet_pton(AF_INET, src, a), 1);
    put(f, a, 4);
    assert_int_equal(inet_pton(AF_INET, dst, a), 1);
    put(f, a, 4);
    for (unsigned i = 0; i < optwords; i++)
        put32(f, 0x01010101);   /* NOPs */
}
static void ip4(struct fr *f, unsigned proto, const char *src, const char *dst)
{
    ip4x(f, proto, src, dst, 0, 0x4000, 1);
}
static void ip6(struct fr *f, unsigned nh, const char *src, const char *dst)
{
    uint8_t a[16];
    assert_true(f->n6 < 16);
    f->ip6[f->n6++] = f->n;
    put32(f, 0x60000000);
    put16(f, 0);            /* payload length: fin() */
    put8(f, nh);
    put8(f, 63);
    assert_int_equal(inet_pton(AF_INET6, src, a), 1);
    put(f, a, 16);
    assert_int_equal(inet_pton(AF_INET6, dst, a), 1);
    put(f, a, 16);
}
/* A generic IPv6 extension header of 8 * (1 + len8) bytes. */
static void ext6(struct fr *f, unsigned nh, unsigned len8)
{
    put8(f, nh);
    put8(f, len8);
    zeros(f, 6 + 8 * len8);
}
static void frag6(struct fr *f, unsigned nh, unsigned off, int more, uint32_t id)
{
    put8(f, nh);
    put8(f, 0);
    put16(f, off | (more ? 1 : 0));
    put32(f, id);
}
static void tcp(struct fr *f, unsigned sp, unsigned dp, unsigned flags, unsigned optwords)
{
    put16(f, sp);
    put16(f, dp);
    put32(f, 1000);
    put32(f, 2000);
    put8(f, (5 + optwords) << 4);
    put8(f, flags);
    put16(f, 65535);
    put32(f, 0);
    for (unsigned i = 0; i < optwords; i++)
        put32(f, 0x01010101);
}
static void udp(struct fr *f, unsigned sp, unsigned dp)
{
    assert_true(f->nu < 16);
    f->udp[f->nu++] = f->n;
    put16(f, sp);
    put16(f, dp);
    put16(f, 0);            /* length: fin() */
    put16(f, 0);
}
static void icmpq(struct fr *f, unsigned type, unsigned code, unsigned id, unsigned seq)
{
    put8(f, type);
    put8(f, code);
    put16(f, 0);
    put16(f, id);
    put16(f, seq);
}
static void icmp(struct fr *f, unsigned type, unsigned code)
{
    icmpq(f, type, code, 1, 2);
}
static void payload(struct fr *f, size_t n)
{
    while (n--)
        put8(f, 'x');
}
static void fin(struct fr *f)
{
    for (int i = 0; i < f->n4; i++) {
        size_t o = f->ip4[i], len = f->n - o;
        f->b[o + 2] = (uint8_t)(len >> 8);
        f->b[o + 3] = (uint8_t)len;
    }
    for (int i = 0; i < f->n6; i++) {
        size_t o = f->ip6[i], len = f->n - o - 40;
        f->b[o + 4] = (uint8_t)(len >> 8);
        f->b[o + 5] = (uint8_t)len;
    }
    for (int i = 0; i < f->nu; i++) {
        size_t o = f->udp[i], len = f->n - o;
        f->b[o + 4] = (uint8_t)(len >> 8);
        f->b[o + 5] = (uint8_t)len;
    }
}

#pragma GCC diagnostic pop

#endif
