/* test_sketch.c: plugins/lib/sketch. The hash never collides on values
 * that fit 64 bits and on IPv4 addresses, and its bits are balanced on
 * sequential input; the distinct counter is exact up to its bound, with
 * repeats and the hash 0; above the bound the HyperLogLog estimate stays
 * within 3 standard errors (1.04 / sqrt(m)) on many generated sets, with
 * RMS error close to the stated one and no bias; merging equals counting
 * the union; memory stays as stated. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "fl_sketch.h"

/* splitmix64: an independent generator for test values (not our hash). */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static struct fl_addr v4(uint32_t ip)
{
    struct fl_addr a = { { 0 } };
    a.b[10] = a.b[11] = 0xff;
    a.b[12] = ip >> 24;
    a.b[13] = ip >> 16;
    a.b[14] = ip >> 8;
    a.b[15] = ip;
    return a;
}

static void test_hash_no_collisions(void **s)
{
    (void)s;
    size_t n = 1u << 20;
    uint64_t *h = malloc(n * sizeof(*h));
    assert_non_null(h);
    /* 10.0.0.0/12 as addresses, then small integers: no two equal. */
    for (size_t i = 0; i < n; i++) {
        struct fl_addr a = v4(0x0a000000u + (uint32_t)i);
        h[i] = fl_hash_addr(&a);
    }
    qsort(h, n, sizeof(*h), cmp_u64);
    for (size_t i = 1; i < n; i++)
        assert_true(h[i] != h[i - 1]);
    for (size_t i = 0; i < n; i++)
        h[i] = fl_hash64(i);
    qsort(h, n, sizeof(*h), cmp_u64);
    for (size_t i = 1; i < n; i++)
        assert_true(h[i] != h[i - 1]);
    free(h);
    /* IPv6 addresses differing in one byte hash apart. */
    struct fl_addr a = { { 0x20, 0x01, 0x0d, 0xb8 } }, b = a;
    b.b[7] = 1;
    assert_true(fl_hash_addr(&a) != fl_hash_addr(&b));
    assert_true(fl_hash_bytes("a", 1) != fl_hash_bytes("a\0", 2));
}

/* Sequential inputs (ports, an address block) set each output bit about
 * half the time: within 5 binomial sigmas. */
static void test_hash_bit_balance(void **s)
{
    (void)s;
    size_t n = 1u << 16;
    unsigned ones[3][64] = { { 0 } };
    for (size_t i = 0; i < n; i++) {
        struct fl_addr a = v4(0xc0a80000u + (uint32_t)i);
        uint64_t h[3] = { fl_hash64(i), fl_hash_addr(&a), fl_hash_bytes(&i, sizeof(i)) };
        for (int k = 0; k < 3; k++)
            for (int b = 0; b < 64; b++)
                ones[k][b] += h[k] >> b & 1;
    }
    double sigma = sqrt(n * 0.25);
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < 64; b++)
            assert_true(fabs(ones[k][b] - n / 2.0) < 5 * sigma);
}

static void test_conf(void **s)
{
    (void)s;
    struct fl_distinct_conf c;
    assert_int_equal(fl_distinct_conf_init(&c, 0, 0), 0);
    assert_int_equal(c.precision, 12);
    assert_int_equal(c.exact_max, 256);
    assert_true(fabs(fl_distinct_stderr(&c) - 0.01625) < 1e-5);
    assert_int_equal(fl_distinct_conf_init(&c, 0, 3), -FL_EINVAL);
    assert_int_equal(fl_distinct_conf_init(&c, 0, 19), -FL_EINVAL);
    assert_int_equal(fl_distinct_conf_init(&c, FL_DISTINCT_EXACT_MAX + 1, 12), -FL_EINVAL);
    assert_int_equal(fl_distinct_conf_init(&c, 1000, 10), 0);
    assert_int_equal(c.exact_max, 1000);
}

/* Exact for every n up to the bound, values added three times in a
 * shuffled order, the hash 0 among them half the time. */
static void exact_upto(const struct fl_distinct_conf *c, uint64_t seed)
{
    uint32_t max = c->exact_max;
    uint64_t *v = malloc(3 * (size_t)max * sizeof(*v));
    assert_non_null(v);
    for (uint32_t n = 0; n <= max; n++) {
        for (uint32_t i = 0; i < n; i++)
            v[i] = v[n + i] = v[2 * n + i] = rnd(&seed);
        if (n && n % 2)
            v[0] = v[n] = v[2 * n] = 0;   /* the hash 0 is a value too */
        for (uint32_t i = 3 * n; i > 1; i--) {
            uint32_t j = (uint32_t)(rnd(&seed) % i);
            uint64_t t = v[i - 1];
            v[i - 1] = v[j];
            v[j] = t;
        }
        struct fl_distinct d;
        fl_distinct_init(&d);
        for (uint32_t i = 0; i < 3 * n; i++)
            assert_int_equal(fl_distinct_add(&d, v[i], c), 0);
        assert_false(fl_distinct_is_estimate(&d));
        assert_int_equal(fl_distinct_count(&d, c), n);
        assert_true(fl_distinct_heap_bytes(&d, c) <= (size_t)8 * 2 * (max + 1) * 4 / 3 + 64);
        fl_distinct_reset(&d);
    }
    free(v);
}

static void test_exact_below_bound(void **s)
{
    (void)s;
    struct fl_distinct_conf c;
    assert_int_equal(fl_distinct_conf_init(&c, 0, 12), 0);
    exact_upto(&c, 1);
    assert_int_equal(fl_distinct_conf_init(&c, 1, 12), 0);
    exact_upto(&c, 2);
    assert_int_equal(fl_distinct_conf_init(&c, 2000, 10), 0);
    exact_upto(&c, 3);
    /* Real values: all 65536 ports counted exactly with a bound of 65536. */
    assert_int_equal(fl_distinct_conf_init(&c, 65536, 12), 0);
    struct fl_distinct d;
    fl_distinct_init(&d);
    for (int rep = 0; rep < 2; rep++)
        for (uint32_t p = 0; p < 65536; p++)
            assert_int_equal(fl_distinct_add(&d, fl_hash64(p), &c), 0);
    assert_false(fl_distinct_is_estimate(&d));
    assert_int_equal(fl_distinct_count(&d, &c), 65536);
    fl_distinct_reset(&d);
    /* The default bound keeps the exact set within the registers' size. */
    assert_int_equal(fl_distinct_conf_init(&c, 0, 12), 0);
    for (uint32_t i = 0; i < c.exact_max; i++)
        fl_distinct_add(&d, fl_hash64(i), &c);
    assert_true(fl_distinct_heap_bytes(&d, &c) <= ((size_t)1 << c.precision));
    fl_distinct_add(&d, fl_hash64(c.exact_max), &c);
    assert_true(fl_distinct_is_estimate(&d));
    assert_int_equal(fl_distinct_heap_bytes(&d, &c), (size_t)1 << c.precision);
    fl_distinct_reset(&d);
}

/* Above the bound: T trials of n random distinct-ish values each (64-bit
 * values from splitmix, repeats of each added too), and sequential values
 * through the hash. Every estimate within 3 sigma would fail 0.3 % of
 * trials by chance; the seeds are fixed, and the checks are: at most 1 %
 * of trials beyond 3 sigma, none beyond 4, RMS error within 3 standard
 * deviations of its sampling error (sigma / sqrt(2T)) of sigma, mean error
 * within 3 sigma / sqrt(T). */
static void hll_accuracy(unsigned p, uint64_t n, int trials, bool sequential)
{
    struct fl_distinct_conf c;
    assert_int_equal(fl_distinct_conf_init(&c, 0, p), 0);
    double sigma = fl_distinct_stderr(&c);
    double sum = 0, sum2 = 0;
    int out3 = 0;
    uint64_t seed = p * 1000003ull + n;
    for (int t = 0; t < trials; t++) {
        struct fl_distinct d;
        fl_distinct_init(&d);
        uint64_t base = rnd(&seed);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t h = sequential ? fl_hash64(base + i) : rnd(&seed);
            assert_int_equal(fl_distinct_add(&d, h, &c), 0);
            if (i % 4 == 0)
                assert_int_equal(fl_distinct_add(&d, h, &c), 0);
        }
        assert_true(n <= c.exact_max || fl_distinct_is_estimate(&d));
        double err = ((double)fl_distinct_count(&d, &c) - (double)n) / (double)n;
        sum += err;
        sum2 += err * err;
        if (fabs(err) > 3 * sigma)
            out3++;
        assert_true(fabs(err) <= 4 * sigma);
        fl_distinct_reset(&d);
    }
    double mean = sum / trials, rms = sqrt(sum2 / trials);
    printf("p=%u n=%llu%s trials=%d: mean %.5f rms %.5f sigma %.5f beyond3 %d\n", p,
           (unsigned long long)n, sequential ? " seq" : "", trials, mean, rms, sigma, out3);
    assert_true(out3 <= trials / 100);
    assert_true(rms <= sigma * (1 + 3 / sqrt(2.0 * trials)));   /* 3 sd of the sample RMS */
    assert_true(fabs(mean) <= 3 * sigma / sqrt(trials) + 0.002);
}

static void test_hll_within_error(void **s)
{
    (void)s;
    hll_accuracy(12, 257, 200, false);
    hll_accuracy(12, 3000, 200, false);
    hll_accuracy(12, 10000, 200, false);   /* 2.5 m: the old estimator's bias */
    hll_accuracy(12, 20000, 200, false);
    hll_accuracy(12, 100000, 100, false);
    hll_accuracy(12, 1000000, 100, false);
    hll_accuracy(10, 5000, 300, false);
    hll_accuracy(14, 100000, 50, false);
    hll_accuracy(12, 65536, 50, true);      /* ports, addresses: sequential */
    hll_accuracy(10, 200000, 50, true);
}

/* Union: merging equals counting everything in one counter, exactly below
 * the bound and register for register above it. */
static void test_merge(void **s)
{
    (void)s;
    struct fl_distinct_conf c;
    assert_int_equal(fl_distinct_conf_init(&c, 0, 10), 0);   /* exact_max 64 */
    const uint64_t sizes[][2] = { { 0, 0 }, { 1, 0 }, { 0, 1 }, { 10, 20 }, { 40, 40 },
                                  { 5, 3000 }, { 3000, 5 }, { 3000, 4000 } };
    uint64_t seed = 42;
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        struct fl_distinct a, b, all;
        fl_distinct_init(&a);
        fl_distinct_init(&b);
        fl_distinct_init(&all);
        uint64_t shared = rnd(&seed);   /* one value in both */
        for (uint64_t i = 0; i < sizes[k][0]; i++) {
            uint64_t h = i ? rnd(&seed) : shared;
            fl_distinct_add(&a, h, &c);
            fl_distinct_add(&all, h, &c);
        }
        for (uint64_t i = 0; i < sizes[k][1]; i++) {
            uint64_t h = i ? rnd(&seed) : shared;
            fl_distinct_add(&b, h, &c);
            fl_distinct_add(&all, h, &c);
        }
        assert_int_equal(fl_distinct_merge(&a, &b, &c), 0);
        assert_int_equal(fl_distinct_is_estimate(&a), fl_distinct_is_estimate(&all));
        assert_int_equal(fl_distinct_count(&a, &c), fl_distinct_count(&all, &c));
        if (fl_distinct_is_estimate(&a))
            assert_memory_equal(a.u.regs, all.u.regs, (size_t)1 << c.precision);
        fl_distinct_reset(&a);
        fl_distinct_reset(&b);
        fl_distinct_reset(&all);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_no_collisions), cmocka_unit_test(test_hash_bit_balance),
        cmocka_unit_test(test_conf),           cmocka_unit_test(test_exact_below_bound),
        cmocka_unit_test(test_hll_within_error), cmocka_unit_test(test_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
