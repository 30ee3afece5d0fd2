/*
 * rep_stats.h - the statistics behind the regression gate and the report:
 * medians and quantiles, the Mann-Whitney U test (exact permutation
 * distribution for small samples, ties included; normal approximation with
 * tie correction otherwise), a seeded bootstrap of a ratio of medians, and
 * what the multi-run gate needs: the standard error of a median and the
 * Student t distribution.
 */
#ifndef REP_STATS_H
#define REP_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Largest sample size per side for which the exact distribution is used. */
#define REP_MWU_EXACT_MAX 20

/* rep_median returns the median of |x| (n > 0; |x| is not modified), NAN when n == 0. */
double rep_median(const double *x, size_t n);

/*
 * rep_quantile_sorted returns the |q| quantile (0..1) of the sorted array
 * |x| by linear interpolation between order statistics (Hyndman-Fan type 7).
 */
double rep_quantile_sorted(const double *x, size_t n, double q);

/*
 * rep_median_ci_ranks: the 0-based ranks *lo <= *hi of the sorted sample
 * whose order statistics bound a distribution-free ~95% confidence interval
 * of the median, and its exact coverage. [x(k), x(n+1-k)] (1-based) covers
 * the median with probability 1 - 2 P(B <= k-1), B ~ Binomial(n, 1/2); k is
 * the largest with P(B <= k-1) <= 0.025, so *lo = k-1 and *hi = n-k. Below
 * n = 6 no interval reaches 95%: [min, max], coverage 1 - 2^(1-n). The one
 * implementation of this interval: cmk-bench (every ci_low/ci_high of
 * bench.json) and compliance use it; the report's ratio intervals are a
 * bootstrap (rep_bootstrap_ratio).
 */
double rep_median_ci_ranks(size_t n, size_t *lo, size_t *hi);

struct rep_mwu {
    double u;         /* U of the first sample: #(x_i > y_j) + 0.5 * #(x_i == y_j) */
    double p_less;    /* one-sided p-value for "x tends to be smaller than y" */
    double p_greater; /* one-sided p-value for "x tends to be larger than y" */
    int exact;        /* 1: exact permutation distribution; 0: normal approximation */
};

/*
 * rep_mann_whitney tests x against y. Exact (ties handled with mid-ranks and
 * the exact permutation distribution of their sum) when both sides have at
 * most REP_MWU_EXACT_MAX values, else the normal approximation with tie
 * correction and continuity correction. Returns 0, or -1 when a side is empty
 * or an allocation fails.
 */
int rep_mann_whitney(const double *x, size_t nx, const double *y, size_t ny, struct rep_mwu *out);

/* rep_rng_next advances a splitmix64 state and returns the next 64-bit value. */
uint64_t rep_rng_next(uint64_t *state);

/* rep_hash64 returns the FNV-1a hash of a string (for per-metric seeds). */
uint64_t rep_hash64(const char *s);

/*
 * rep_bootstrap_ratio computes a percentile bootstrap interval at |level|
 * (e.g. 0.99) of median(a) / median(b) from |reps| resamples of each side,
 * drawn with a splitmix64 generator seeded with |seed|, so that equal inputs
 * give equal intervals. With b == NULL it bootstraps median(a) alone.
 * Returns 0 with *lo <= *hi, or -1 (empty input, reps < 10, allocation).
 */
int rep_bootstrap_ratio(const double *a, size_t na, const double *b, size_t nb, size_t reps,
                        double level, uint64_t seed, double *lo, double *hi);

/*
 * rep_median_se returns a distribution-free standard error of the median of
 * |x| (McKean and Schrader, 1984): the width of the order-statistic interval
 * [x_(c), x_(n-c+1)] with c = round((n + 1) / 2 - 1.96 * sqrt(n / 4)) (at
 * least 1), divided by 2 * 1.96. NAN when n < 2; |x| is not modified.
 */
double rep_median_se(const double *x, size_t n);

/*
 * rep_t_sf returns P(T > t) for Student's t with |df| > 0 degrees of freedom
 * (df = INFINITY: the standard normal), from the regularized incomplete beta
 * function. NAN when df <= 0 or t is NAN.
 */
double rep_t_sf(double t, double df);

/* rep_t_quantile returns the t with P(T <= t) = p (0 < p < 1) for |df| degrees of freedom; NAN
 * otherwise. */
double rep_t_quantile(double p, double df);

#endif
