/* test_stats_topk.c: the Space-Saving table (stats_topk.c) white box,
 * against exact counts kept here: below the capacity it is exact; above,
 * every held key's count is within [true, true + err], err <= total / cap,
 * the held counts sum to the total, every key heavier than total / cap is
 * held, and after many replacements every held key is still found by its
 * hash (backward-shift deletion) and the heap's root is the least count. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "../stats.h"

#define KEYS 5000

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A skewed key: key i with weight about 1 / (i + 1). */
static uint32_t skewed(uint64_t *s)
{
    double u = (double)(rng(s) >> 11) / (double)(1ull << 53);
    uint32_t k = (uint32_t)(KEYS * u * u * u);
    return k < KEYS ? k : KEYS - 1;
}

static void key_of(uint32_t k, uint8_t *key)
{
    memset(key, 0, 16);
    memcpy(key + 12, &k, 4);
}

static int find(const struct stats_topk *t, uint32_t k)
{
    uint8_t key[16];
    key_of(k, key);
    uint64_t h = stats_hash(key, 16);
    for (uint32_t i = (uint32_t)h & t->mask; t->slot[i]; i = (i + 1) & t->mask)
        if (!memcmp(t->e[(uint32_t)t->slot[i] - 1].key, key, 16))
            return (int)((uint32_t)t->slot[i] - 1);
    return -1;
}

static void run(uint64_t cap, uint32_t by, uint64_t seed, int records)
{
    struct stats_topk t;
    uint64_t *exact = calloc(KEYS, sizeof(*exact)), total = 0;
    uint32_t distinct = 0;
    stats_topk_init(&t, 16, by, cap);
    for (int i = 0; i < records; i++) {
        uint32_t k = skewed(&seed);
        uint64_t d[STATS_NQ] = { 1, 1 + rng(&seed) % 3, 40 + rng(&seed) % 1460 };
        uint8_t key[16];
        key_of(k, key);
        assert_int_equal(stats_topk_add(&t, key, stats_hash(key, 16), d), 0);
        distinct += exact[k] == 0;
        exact[k] += d[by];
        total += d[by];
    }
    uint64_t sum = 0;
    for (uint32_t i = 0; i < t.n; i++) {
        const struct stats_hh *e = &t.e[i];
        uint32_t k;
        memcpy(&k, e->key + 12, 4);
        assert_true(k < KEYS);
        assert_int_equal(find(&t, k), (int)i);   /* still reachable by its hash */
        assert_true(e->v[by] >= exact[k]);
        assert_true(e->v[by] <= exact[k] + e->err);
        assert_true(cap == 0 || e->err * cap <= total);
        if (distinct <= cap || cap == 0)
            assert_int_equal(e->v[by], exact[k]);
        if (cap) {
            assert_int_equal(t.heap[t.pos[i]].idx, i);
            assert_int_equal(t.heap[t.pos[i]].v, e->v[by]);
            assert_true(t.heap[0].v <= e->v[by]);
        }
        sum += e->v[by];
    }
    assert_int_equal(sum, total);                /* counts always sum to the total */
    assert_int_equal(t.n, cap && distinct > cap ? cap : distinct);
    for (uint32_t k = 0; k < KEYS; k++)
        if (cap && exact[k] * cap > total)
            assert_true(find(&t, k) >= 0);       /* every heavy key is held */
    /* the top list: descending, ties by key */
    uint32_t idx[20];
    uint32_t n = stats_topk_top(&t, 20, idx);
    assert_int_equal(n, t.n < 20 ? t.n : 20);
    for (uint32_t i = 1; i < n; i++) {
        const struct stats_hh *a = &t.e[idx[i - 1]], *b = &t.e[idx[i]];
        assert_true(a->v[by] > b->v[by]
                    || (a->v[by] == b->v[by] && memcmp(a->key, b->key, 16) < 0));
    }
    for (uint32_t i = 0; i < t.n; i++) {         /* nothing left out ranks higher */
        bool listed = false;
        for (uint32_t j = 0; j < n; j++)
            listed |= idx[j] == i;
        if (!listed && n)
            assert_true(t.e[i].v[by] <= t.e[idx[n - 1]].v[by]);
    }
    stats_topk_free(&t);
    free(exact);
}

static void test_exact_below_capacity(void **st)
{
    (void)st;
    run(8192, STATS_BYTES, 1, 50000);   /* fewer than 5000 keys: exact */
    run(0, STATS_PACKETS, 2, 50000);    /* exact mode */
}

static void test_bounded(void **st)
{
    (void)st;
    run(64, STATS_BYTES, 3, 200000);
    run(100, STATS_PACKETS, 4, 200000);
    run(10, STATS_FLOWS, 5, 100000);
    run(1, STATS_BYTES, 6, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_below_capacity),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
