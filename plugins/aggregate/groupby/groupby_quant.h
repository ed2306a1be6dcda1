/* groupby_quant.h: a DDSketch (Masson, Rim, Lee: "DDSketch: a fast and
 * fully-mergeable quantile sketch with relative-error guarantees", VLDB
 * 2019) for quantile(x, q).
 *
 * Values go to logarithmic buckets: bucket i holds (gamma^(i-1), gamma^i]
 * with gamma = (1 + alpha) / (1 - alpha), and stands for the value
 * 2 gamma^i / (gamma + 1), which is within relative error alpha of every
 * value in the bucket. Negative values have their own buckets (by |x|),
 * zero its own count. A quantile is the bucket holding the value of rank
 * floor(q (n - 1)) of the sorted values, so it is within alpha (relative)
 * of that exact value, as long as the bins of a sign span the values' range:
 * beyond max_bins buckets the lowest ones collapse into one, and only the
 * quantiles that fall into it lose the guarantee.
 * Memory: 8 bytes per bucket between the smallest and largest index seen. */
#ifndef FL_GROUPBY_QUANT_H
#define FL_GROUPBY_QUANT_H

#include <stdbool.h>
#include <stdint.h>

struct gb_qconf {
    double gamma, inv_log_gamma;
    uint32_t max_bins;
};

struct gb_qstore {
    uint64_t *bins;
    int32_t lo;           /* index of bins[0] */
    uint32_t len;
    int32_t imin, imax;   /* the buckets in use (len > 0) */
    bool collapsed;
};

struct gb_quant {
    uint64_t n, zero;
    double min, max;
    struct gb_qstore pos, neg;
};

void gb_qconf_init(struct gb_qconf *c, double alpha, uint32_t max_bins);
/* Add x (finite). 0 or -FL_ENOMEM. */
int gb_quant_add(struct gb_quant *s, const struct gb_qconf *c, double x);
/* The q-quantile (0 <= q <= 1) of what was added; s->n must be > 0. */
double gb_quant_value(const struct gb_quant *s, const struct gb_qconf *c, double q);
void gb_quant_free(struct gb_quant *s);

#endif
