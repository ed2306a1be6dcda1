/* test_decode_fast.c: the decoder's one-pass path for common Ethernet
 * frames (decode_fast in core/src/decode_pkt.c) must give exactly what the
 * general path gives. The same IP packet is decoded as an Ethernet frame
 * with or without a VLAN tag (fast path when it qualifies) and under link type IPV4 or IPV6 (always
 * the general path); rows (every column but frame_len), drop counts and notes must
 * agree for every mutation of a set of well-formed frames: random bytes in
 * the headers, every capture length, odd wire lengths. Each frame is decoded
 * from a heap buffer of exactly caplen bytes, so ASan sees any over-read. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <flowline/decode.h>
#include "fl_harness.h"

static struct fl_ctx *ctx;
static const struct fl_schema *schema;

/* xorshift64*: a fixed sequence, so a failure reproduces. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

/* Ethernet (with an 802.1Q tag of id `vid` when vid != 0) + IPv4 or IPv6 +
 * TCP or UDP + payload, lengths consistent. Returns the frame length; *l2
 * is the length of the Ethernet header and tag. */
static size_t base_frame(uint8_t *f, int v6, int udp, size_t pay, unsigned vid, size_t *l2)
{
    size_t n = 12, ip, l4;
    memset(f, 0, 256);
    memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
    if (vid) {
        f[n++] = 0x81;
        f[n++] = 0x00;
        f[n++] = (uint8_t)(0xb0 | vid >> 8);    /* priority 5, DEI set */
        f[n++] = (uint8_t)vid;
    }
    f[n++] = v6 ? 0x86 : 0x08;
    f[n++] = v6 ? 0xdd : 0x00;
    *l2 = ip = n;
    if (v6) {
        f[n] = 0x60;
        f[n + 6] = udp ? 17 : 6;
        f[n + 7] = 64;
        for (int i = 0; i < 32; i++)
            f[n + 8 + i] = (uint8_t)(0x20 + i);
        n += 40;
    } else {
        f[n] = 0x45;
        f[n + 6] = 0x40;    /* DF */
        f[n + 8] = 64;
        f[n + 9] = udp ? 17 : 6;
        memcpy(f + n + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
        n += 20;
    }
    l4 = n;
    f[n] = 0x30; f[n + 1] = 0x39;       /* 12345 */
    f[n + 2] = 0x01; f[n + 3] = 0xbb;   /* 443 */
    if (udp) {
        n += 8;
    } else {
        f[n + 12] = 0x50;
        f[n + 13] = 0x18;
        n += 20;
    }
    n += pay;
    if (v6) {
        f[ip + 4] = (uint8_t)((n - ip - 40) >> 8);
        f[ip + 5] = (uint8_t)(n - ip - 40);
    } else {
        f[ip + 2] = (uint8_t)((n - ip) >> 8);
        f[ip + 3] = (uint8_t)(n - ip);
    }
    if (udp) {
        f[l4 + 4] = (uint8_t)((n - l4) >> 8);
        f[l4 + 5] = (uint8_t)(n - l4);
    }
    return n;
}

struct side {
    struct fl_decoder *d;
    struct fl_batch *b;
};

static void side_new(struct side *s, int decap)
{
    /* decap: every tunnel kind (the one-pass path then refuses only UDP on
     * a tunnel port) */
    struct fl_decoder_opts o = { .decap = decap };
    assert_int_equal(fl_decoder_new(&o, sizeof o, &s->d), 0);
    assert_int_equal(fl_batch_new(ctx, schema, 1, &s->b), 0);
}

static void side_free(struct side *s)
{
    fl_decoder_destroy(&s->d);
    fl_batch_release(&s->b);
}

/* Decode from a copy of exactly len bytes; returns fl_decode's result. */
static int decode_copy(struct side *s, int lt, const uint8_t *frame, uint32_t len,
                       uint32_t wire)
{
    uint8_t *copy = malloc(len ? len : 1);
    int rc;
    assert_non_null(copy);
    memcpy(copy, frame, len);
    s->b->rows = 0;
    rc = fl_decode(s->d, lt, 7, copy, len, wire, s->b);
    free(copy);
    return rc;
}

static void assert_same(struct side *eth, struct side *raw, int rc_eth, int rc_raw,
                        unsigned vid, unsigned iter)
{
    uint64_t de[FL_DROP_COUNT], dr[FL_DROP_COUNT], ne[FL_NOTE_COUNT], nr[FL_NOTE_COUNT];

    if (rc_eth != rc_raw)
        fail_msg("iteration %u: ethernet gives %d, raw %d", iter, rc_eth, rc_raw);
    fl_decoder_totals(eth->d, de, ne);
    fl_decoder_totals(raw->d, dr, nr);
    if (memcmp(de, dr, sizeof de) != 0 || memcmp(ne, nr, sizeof ne) != 0)
        fail_msg("iteration %u: drop or note counts differ", iter);
    if (rc_eth != 1)
        return;
    for (uint32_t c = 0; c < schema->ncols; c++) {
        size_t sz = fl_type_size(schema->cols[c]->type);
        if (c == FL_PKT_FRAME_LEN)
            continue;
        if (c == FL_PKT_VLAN) {
            if (((uint16_t *)eth->b->data[c])[0] != vid)
                fail_msg("iteration %u: vlan %u, want %u", iter,
                         ((uint16_t *)eth->b->data[c])[0], vid);
            continue;
        }
        if (memcmp(eth->b->data[c], raw->b->data[c], sz) != 0)
            fail_msg("iteration %u: column %s differs", iter, schema->cols[c]->name);
    }
}

static void fast_vs_general(int decap)
{
    struct side eth, raw;
    uint8_t base[256], f[256];
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    unsigned rows = 0;

    side_new(&eth, decap);
    side_new(&raw, decap);
    for (unsigned iter = 0; iter < 200000; iter++) {
        int v6 = iter & 1, udp = (iter >> 1) & 1;
        unsigned vid = (iter >> 2) % 3 == 0 ? (unsigned)(rnd(&seed) % 4095) + 1 : 0;
        size_t l2, n = base_frame(base, v6, udp, rnd(&seed) % 64, vid, &l2);
        uint32_t cap, wire;
        memcpy(f, base, n);
        /* decap: some UDP packets go to a tunnel port (both sides then take
         * the general path, which must agree with itself) */
        if (decap && udp && (iter >> 2) % 4 == 0) {
            static const uint16_t tp[] = { 4789, 6081, 2152, 3544, 5072, 4754 };
            size_t l4 = l2 + (v6 ? 40 : 20);
            f[l4 + 2] = (uint8_t)(tp[iter % 6] >> 8);
            f[l4 + 3] = (uint8_t)tp[iter % 6];
        }
        /* Mutate up to 3 header bytes (a quarter of the frames stay clean);
         * the Ethernet header and tag are kept so the same packet is
         * compared. */
        unsigned k = (unsigned)(rnd(&seed) % 4);
        for (unsigned i = 0; i < k; i++) {
            size_t at = l2 + rnd(&seed) % (n - l2 < 80 ? n - l2 : 80);
            uint64_t r = rnd(&seed);
            /* half the time a small field change, half a random byte */
            f[at] = (r & 1) ? (uint8_t)(r >> 8) : (uint8_t)(f[at] + (int)((r >> 8) % 5) - 2);
        }
        cap = (rnd(&seed) % 3) ? (uint32_t)n : (uint32_t)(l2 + rnd(&seed) % (n - l2 + 1));
        wire = (rnd(&seed) % 5) ? (uint32_t)n : (uint32_t)(n + rnd(&seed) % 70000);
        int re = decode_copy(&eth, FL_DLT_EN10MB, f, cap, wire);
        int rr = decode_copy(&raw, v6 ? FL_DLT_IPV6 : FL_DLT_IPV4, f + l2, cap - (uint32_t)l2,
                             wire - (uint32_t)l2);
        assert_same(&eth, &raw, re, rr, vid, iter);
        rows += re == 1;
    }
    /* The mutations leave most frames decodable, and break some. */
    assert_true(rows > 100000);
    assert_true(rows < 200000);
    side_free(&eth);
    side_free(&raw);
}

static void test_fast_path_matches_general(void **state)
{
    (void)state;
    fast_vs_general(0);
}

/* With decap on, frames that are no tunnel keep the one-pass path. */
static void test_fast_path_matches_general_decap(void **state)
{
    (void)state;
    fast_vs_general(1);
}

static int setup_group(void **state)
{
    (void)state;
    ctx = fl_test_ctx_new();
    if (!ctx || fl_packet_schema(ctx, &schema) < 0)
        return -1;
    return 0;
}

static int teardown_group(void **state)
{
    (void)state;
    fl_test_ctx_destroy(&ctx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_path_matches_general),
        cmocka_unit_test(test_fast_path_matches_general_decap),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
