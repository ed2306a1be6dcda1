/* fl_distinct.c: the distinct counter of fl_sketch.h: exact set of hashes
 * up to a bound, then HyperLogLog with Ertl's improved raw estimator. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fl_sketch.h"

int fl_distinct_conf_init(struct fl_distinct_conf *conf, uint32_t exact_max, unsigned precision)
{
    if (precision == 0)
        precision = 12;
    if (precision < FL_HLL_PMIN || precision > FL_HLL_PMAX || exact_max > FL_DISTINCT_EXACT_MAX)
        return -FL_EINVAL;
    conf->precision = (uint8_t)precision;
    conf->exact_max = exact_max ? exact_max : (1u << precision) / 16;
    if (conf->exact_max < 1)
        conf->exact_max = 1;
    return 0;
}

double fl_distinct_stderr(const struct fl_distinct_conf *conf)
{
    return 1.04 / sqrt((double)(1u << conf->precision));
}

void fl_distinct_reset(struct fl_distinct *d)
{
    if (d->hll)
        free(d->u.regs);
    else if (d->cap_log2)
        free(d->u.slots);
    fl_distinct_init(d);
}

static inline void hll_add(uint8_t *regs, unsigned p, uint64_t h)
{
    uint64_t w = h << p;
    uint8_t rho = w ? (uint8_t)(__builtin_clzll(w) + 1) : (uint8_t)(64 - p + 1);
    uint8_t *r = &regs[h >> (64 - p)];
    if (rho > *r)
        *r = rho;
}

/* Insert a non-zero hash into a set with room (load <= 3/4 after). */
static inline bool set_insert(uint64_t *slots, unsigned cap_log2, uint64_t h)
{
    size_t mask = ((size_t)1 << cap_log2) - 1;
    for (size_t i = (size_t)(h >> (64 - cap_log2)) & mask;; i = (i + 1) & mask) {
        if (slots[i] == h)
            return false;
        if (slots[i] == 0) {
            slots[i] = h;
            return true;
        }
    }
}

static bool set_has(const uint64_t *slots, unsigned cap_log2, uint64_t h)
{
    size_t mask = ((size_t)1 << cap_log2) - 1;
    for (size_t i = (size_t)(h >> (64 - cap_log2)) & mask;; i = (i + 1) & mask) {
        if (slots[i] == h)
            return true;
        if (slots[i] == 0)
            return false;
    }
}

/* The exact set becomes registers (every held hash, and 0 if seen). */
static int to_hll(struct fl_distinct *d, const struct fl_distinct_conf *c)
{
    unsigned p = c->precision;
    uint8_t *regs = calloc((size_t)1 << p, 1);
    if (!regs)
        return -FL_ENOMEM;
    if (d->cap_log2) {
        for (size_t i = 0; i < ((size_t)1 << d->cap_log2); i++)
            if (d->u.slots[i])
                hll_add(regs, p, d->u.slots[i]);
        free(d->u.slots);
    } else if (d->n) {
        hll_add(regs, p, d->u.one);
    }
    if (d->zero)
        hll_add(regs, p, 0);
    d->u.regs = regs;
    d->hll = 1;
    d->n = 0;
    d->cap_log2 = 0;
    d->zero = 0;
    return 0;
}

/* Room for one more non-zero hash in the exact set (from inline, or by
 * doubling). */
static int grow(struct fl_distinct *d)
{
    unsigned lg = d->cap_log2 ? d->cap_log2 : 2;
    size_t need = (size_t)d->n + 1;
    while (need * 4 > ((size_t)3 << lg))
        lg++;
    if (lg < 3)
        lg = 3;
    if (d->cap_log2 && lg == d->cap_log2)
        return 0;
    uint64_t *slots = calloc((size_t)1 << lg, sizeof(*slots));
    if (!slots)
        return -FL_ENOMEM;
    if (d->cap_log2) {
        for (size_t i = 0; i < ((size_t)1 << d->cap_log2); i++)
            if (d->u.slots[i])
                set_insert(slots, lg, d->u.slots[i]);
        free(d->u.slots);
    } else if (d->n) {
        set_insert(slots, lg, d->u.one);
    }
    d->u.slots = slots;
    d->cap_log2 = (uint8_t)lg;
    return 0;
}

int fl_distinct_add_slow_(struct fl_distinct *d, uint64_t h, const struct fl_distinct_conf *c)
{
    if (d->hll) {
        hll_add(d->u.regs, c->precision, h);
        return 0;
    }
    if (h == 0) {
        if (d->zero)
            return 0;
        if (d->n + 1u > c->exact_max) {
            int rc = to_hll(d, c);
            if (rc < 0)
                return rc;
            hll_add(d->u.regs, c->precision, 0);
            return 0;
        }
        d->zero = 1;
        return 0;
    }
    if (d->cap_log2 && set_has(d->u.slots, d->cap_log2, h))
        return 0;
    if (!d->cap_log2 && d->n == 1 && d->u.one == h)
        return 0;
    /* A new value: would it pass the bound? */
    if ((uint64_t)d->n + d->zero + 1 > c->exact_max) {
        int rc = to_hll(d, c);
        if (rc < 0)
            return rc;
        hll_add(d->u.regs, c->precision, h);
        return 0;
    }
    if (!d->cap_log2 && d->n == 0) {
        d->u.one = h;
        d->n = 1;
        return 0;
    }
    int rc = grow(d);
    if (rc < 0)
        return rc;
    set_insert(d->u.slots, d->cap_log2, h);
    d->n++;
    return 0;
}

int fl_distinct_merge(struct fl_distinct *dst, const struct fl_distinct *src,
                      const struct fl_distinct_conf *c)
{
    int rc = 0;
    if (src->hll) {
        if (!dst->hll && (rc = to_hll(dst, c)) < 0)
            return rc;
        size_t m = (size_t)1 << c->precision;
        for (size_t i = 0; i < m; i++)
            if (src->u.regs[i] > dst->u.regs[i])
                dst->u.regs[i] = src->u.regs[i];
        return 0;
    }
    if (src->zero && (rc = fl_distinct_add(dst, 0, c)) < 0)
        return rc;
    if (src->cap_log2) {
        for (size_t i = 0; i < ((size_t)1 << src->cap_log2); i++)
            if (src->u.slots[i] && (rc = fl_distinct_add(dst, src->u.slots[i], c)) < 0)
                return rc;
    } else if (src->n) {
        rc = fl_distinct_add(dst, src->u.one, c);
    }
    return rc;
}

/* Ertl (2017), algorithm 6: sigma and tau series. */
static double ertl_sigma(double x)
{
    if (x == 1.0)
        return INFINITY;
    double y = 1.0, z = x, zp;
    do {
        x *= x;
        zp = z;
        z += x * y;
        y += y;
    } while (z != zp);
    return z;
}

static double ertl_tau(double x)
{
    if (x == 0.0 || x == 1.0)
        return 0.0;
    double y = 1.0, z = 1.0 - x, zp;
    do {
        x = sqrt(x);
        zp = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != zp);
    return z / 3.0;
}

static double hll_estimate(const uint8_t *regs, unsigned p)
{
    unsigned q = 64 - p;
    uint32_t hist[66] = { 0 };
    size_t m = (size_t)1 << p;
    for (size_t i = 0; i < m; i++)
        hist[regs[i]]++;
    double dm = (double)m;
    double z = dm * ertl_tau(1.0 - hist[q + 1] / dm);
    for (unsigned k = q; k >= 1; k--)
        z = 0.5 * (z + hist[k]);
    z += dm * ertl_sigma(hist[0] / dm);
    return dm * dm / (2.0 * log(2.0)) / z;   /* alpha_inf = 1 / (2 ln 2) */
}

uint64_t fl_distinct_count(const struct fl_distinct *d, const struct fl_distinct_conf *c)
{
    if (!d->hll)
        return (uint64_t)d->n + d->zero;
    double e = hll_estimate(d->u.regs, c->precision);
    return (uint64_t)llround(e);
}

size_t fl_distinct_heap_bytes(const struct fl_distinct *d, const struct fl_distinct_conf *c)
{
    if (d->hll)
        return (size_t)1 << c->precision;
    return d->cap_log2 ? ((size_t)8 << d->cap_log2) : 0;
}
