/*
 * rep_pair.c - per-round ratio pairing (contracts in rep_pair.h).
 */
#include "rep_pair.h"

#include <stdlib.h>
#include <string.h>

#include "rep_stats.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

size_t rep_pair_ratios(const double *num, size_t nnum, const double *den, size_t nden, double *out)
{
    size_t rounds = nnum < nden ? nnum : nden;
    size_t m = 0;
    for (size_t i = 0; i < rounds; i++) {
        if (den[i] > 0) {
            out[m++] = num[i] / den[i];
        }
    }
    return m;
}

int rep_pair_summary(double *r, size_t n, struct rep_pair_stats *s)
{
    memset(s, 0, sizeof(*s));
    if (n < REP_PAIR_MIN_ROUNDS) {
        return -1;
    }
    qsort(r, n, sizeof(double), cmp_double);
    size_t lo, hi;
    s->level = rep_median_ci_ranks(n, &lo, &hi);
    s->median = rep_quantile_sorted(r, n, 0.5);
    s->lo = r[lo];
    s->hi = r[hi];
    return 0;
}

int rep_pair_paired(const double *num, size_t nnum, const double *den, size_t nden, double *scratch,
                    struct rep_pair_stats *s)
{
    return rep_pair_summary(scratch, rep_pair_ratios(num, nnum, den, nden, scratch), s);
}
