/* suggest.c: "did you mean" for unknown names (options, plugins, stages,
 * fields): the closest candidate by edit distance, if close enough. */
#include <string.h>
#include <flowline/expr.h>
#include "internal.h"

/* Optimal string alignment distance (Levenshtein plus transpositions),
 * bounded to names of 63 characters; longer names never match. */
static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned d[64][64];
    if (la > 63 || lb > 63)
        return ~0u;
    for (size_t i = 0; i <= la; i++) d[i][0] = (unsigned)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            unsigned cost = a[i - 1] != b[j - 1];
            unsigned v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]
                && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

const char *fl_suggest(const char *name, const char *const *cands, size_t n)
{
    size_t len = strlen(name);
    unsigned limit = len / 3 > 1 ? (unsigned)(len / 3) : 1;
    const char *best = NULL;
    unsigned best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        unsigned dist = edit_distance(name, cands[i]);
        if (dist < best_d) {
            best_d = dist;
            best = cands[i];
        }
    }
    return best;
}

const char *fl_name_suggest(const char *name, const char *const *cands, size_t n)
{
    return fl_suggest(name, cands, n);
}
