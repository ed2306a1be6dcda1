/* fl_hash.c: hashes of addresses and byte strings (fl_sketch.h). */
#include <string.h>
#include "fl_sketch.h"

uint64_t fl_hash_addr(const struct fl_addr *a)
{
    uint64_t hi, lo;
    memcpy(&hi, a->b, 8);
    memcpy(&lo, a->b + 8, 8);
    return fl_hash128(hi, lo);
}

/* Each 8-byte word goes through the bijective mix with the state so far;
 * the length is mixed in first, so "a" and "a\0" differ. */
uint64_t fl_hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = fl_hash64((uint64_t)n * 0xd6e8feb86659fd93ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = fl_hash_mix64(h ^ fl_hash64(w));
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, s, n);
        h = fl_hash_mix64(h ^ fl_hash64(w));
    }
    return h;
}
