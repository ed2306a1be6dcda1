/* groupby_quant.c: the DDSketch of groupby_quant.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/error.h>
#include "groupby_quant.h"

void gb_qconf_init(struct gb_qconf *c, double alpha, uint32_t max_bins)
{
    c->gamma = (1 + alpha) / (1 - alpha);
    c->inv_log_gamma = 1 / log(c->gamma);
    c->max_bins = max_bins;
}

/* Count index i. The array covers [lo, lo + len) with some slack on the
 * side it grew; the buckets in use are [imin, imax]. When they would span
 * more than max_bins, the lowest ones fold into the lowest bucket kept
 * (their values are the smallest magnitudes: the low quantiles of the
 * positives, the high ones of the negatives), as DDSketch's collapsing
 * store does. */
static int store_add(struct gb_qstore *st, const struct gb_qconf *c, int32_t i)
{
    if (st->len && i >= st->lo && i < st->lo + (int32_t)st->len) {
        st->bins[i - st->lo]++;
        st->imin = i < st->imin ? i : st->imin;
        st->imax = i > st->imax ? i : st->imax;
        return 0;
    }
    int32_t nmin = st->len && st->imin < i ? st->imin : i;
    int32_t nmax = st->len && st->imax > i ? st->imax : i;
    uint64_t folded = 0;
    if ((int64_t)nmax - nmin + 1 > (int64_t)c->max_bins) {
        nmin = nmax - (int32_t)c->max_bins + 1;
        st->collapsed = true;
        if (i < nmin)
            i = nmin;
        for (int32_t k = st->imin; st->len && k < nmin && k <= st->imax; k++)
            folded += st->bins[k - st->lo];
    }
    uint32_t span = (uint32_t)(nmax - nmin + 1);
    uint32_t cap = span + span / 2 + 8;
    if (cap > c->max_bins)
        cap = c->max_bins > span ? c->max_bins : span;
    uint64_t *b = calloc(cap, sizeof(*b));
    if (!b)
        return -FL_ENOMEM;
    /* slack on the side that grew */
    int32_t lo = st->len && i < st->imin ? nmax - (int32_t)cap + 1 : nmin;
    for (int32_t k = st->len ? (st->imin > nmin ? st->imin : nmin) : 1; st->len && k <= st->imax; k++)
        b[k - lo] += st->bins[k - st->lo];
    b[nmin - lo] += folded;
    b[i - lo]++;
    free(st->bins);
    st->bins = b;
    st->lo = lo;
    st->len = cap;
    st->imin = nmin;
    st->imax = nmax;
    return 0;
}

int gb_quant_add(struct gb_quant *s, const struct gb_qconf *c, double x)
{
    int rc = 0;
    if (x == 0)
        s->zero++;
    else {
        double m = fabs(x);
        /* ceil(log_gamma m), clamped: the extremes of double stay in range */
        double li = ceil(log(m) * c->inv_log_gamma);
        int32_t i = li > 1e6 ? 1000000 : li < -1e6 ? -1000000 : (int32_t)li;
        if ((rc = store_add(x > 0 ? &s->pos : &s->neg, c, i)) < 0)
            return rc;
    }
    if (s->n == 0 || x < s->min)
        s->min = x;
    if (s->n == 0 || x > s->max)
        s->max = x;
    s->n++;
    return 0;
}

static double bucket_value(const struct gb_qconf *c, int32_t i)
{
    return 2 * pow(c->gamma, i) / (c->gamma + 1);
}

double gb_quant_value(const struct gb_quant *s, const struct gb_qconf *c, double q)
{
    double rank = floor(q * (double)(s->n - 1));
    double v = s->max;
    uint64_t cum = 0;
    bool found = false;
    /* ascending values: negatives from the largest magnitude, zero, positives */
    for (uint32_t k = s->neg.len; !found && k-- > 0;)
        if ((cum += s->neg.bins[k]) > rank) {
            v = -bucket_value(c, s->neg.lo + (int32_t)k);
            found = true;
        }
    if (!found && (cum += s->zero) > rank) {
        v = 0;
        found = true;
    }
    for (uint32_t k = 0; !found && k < s->pos.len; k++)
        if ((cum += s->pos.bins[k]) > rank) {
            v = bucket_value(c, s->pos.lo + (int32_t)k);
            found = true;
        }
    /* The extremes are known exactly. */
    if (v < s->min || q == 0)
        v = s->min;
    if (v > s->max || q == 1)
        v = s->max;
    return v;
}

void gb_quant_free(struct gb_quant *s)
{
    free(s->pos.bins);
    free(s->neg.bins);
    memset(s, 0, sizeof(*s));
}
