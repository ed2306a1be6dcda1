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

/* Make room for index i; when the range would pass max_bins, the lowest
 * buckets fold into the new lowest one (their values are the smallest
 * magnitudes: the low quantiles of positives, the high ones of negatives). */
static int store_add(struct gb_qstore *st, const struct gb_qconf *c, int32_t i)
{
    if (st->len == 0) {
        if (!(st->bins = calloc(8, sizeof(*st->bins))))
            return -FL_ENOMEM;
        st->lo = i - 4;
        st->len = 8;
    }
    if (i < st->lo) {
        uint32_t need = (uint32_t)(st->lo + (int32_t)st->len - i);
        if (need > c->max_bins) {
            st->collapsed = true;
            st->bins[0]++;
            return 0;
        }
        uint32_t grow = st->lo - i + st->len / 2;   /* amortised */
        if (st->len + grow > c->max_bins)
            grow = c->max_bins - st->len;
        uint64_t *b = calloc(st->len + grow, sizeof(*b));
        if (!b)
            return -FL_ENOMEM;
        memcpy(b + grow, st->bins, st->len * sizeof(*b));
        free(st->bins);
        st->bins = b;
        st->lo -= (int32_t)grow;
        st->len += grow;
    } else if (i >= st->lo + (int32_t)st->len) {
        uint32_t need = (uint32_t)(i - st->lo + 1);
        if (need > c->max_bins) {
            /* fold the lowest buckets so the new one fits */
            uint32_t shift = need - c->max_bins;
            uint64_t folded = 0;
            for (uint32_t k = 0; k <= shift && k < st->len; k++)
                folded += st->bins[k];
            uint32_t keep = st->len > shift + 1 ? st->len - shift - 1 : 0;
            uint64_t *b = calloc(c->max_bins, sizeof(*b));
            if (!b)
                return -FL_ENOMEM;
            memcpy(b + 1, st->bins + shift + 1, keep * sizeof(*b));
            b[0] = folded;
            free(st->bins);
            st->bins = b;
            st->lo += (int32_t)shift;
            st->len = c->max_bins;
            st->collapsed = true;
        } else {
            uint32_t len = need + st->len / 2;
            if (len > c->max_bins)
                len = c->max_bins;
            uint64_t *b = realloc(st->bins, len * sizeof(*b));
            if (!b)
                return -FL_ENOMEM;
            memset(b + st->len, 0, (len - st->len) * sizeof(*b));
            st->bins = b;
            st->len = len;
        }
    }
    st->bins[i - st->lo]++;
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
