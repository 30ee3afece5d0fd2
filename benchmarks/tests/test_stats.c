/*
 * test_stats.c - the statistics cmk-bench reports: percentiles, the
 * order-statistic CI of the median, paired (per-round) ratios.
 *
 * Expected values: percentiles are the linear-interpolation definition
 * (Python's statistics.quantiles(method='inclusive') gives the same 90.1
 * and 99.01 for 1..100); CI ranks and coverages come from the Binomial(n,
 * 1/2) distribution computed with exact integers (math.comb).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

Test(bench_stats, quantile_interpolates_linearly)
{
    const double s[] = {1, 2, 3, 4, 5};
    cr_assert_float_eq(bench_quantile(s, 5, 0.5), 3.0, 1e-12);
    cr_assert_float_eq(bench_quantile(s, 5, 0.9), 4.6, 1e-12);
    cr_assert_float_eq(bench_quantile(s, 5, 0.0), 1.0, 1e-12);
    cr_assert_float_eq(bench_quantile(s, 5, 1.0), 5.0, 1e-12);
}

Test(bench_stats, ci_ranks_follow_the_binomial)
{
    size_t lo, hi;
    /* n = 5: even [min, max] covers only 1 - 2/32 */
    cr_assert_float_eq(bench_ci_level(5, &lo, &hi), 0.9375, 1e-12);
    cr_assert_eq(lo, 0);
    cr_assert_eq(hi, 4);
    /* n = 10: P(B <= 1) = 11/1024 <= 0.025 < P(B <= 2) = 56/1024 */
    cr_assert_float_eq(bench_ci_level(10, &lo, &hi), 1 - 2 * 11.0 / 1024, 1e-12);
    cr_assert_eq(lo, 2);
    cr_assert_eq(hi, 7);
    /* n = 200 (cold opens of the standard profile): ranks 86 and 113, coverage 0.95996... */
    cr_assert_float_eq(bench_ci_level(200, &lo, &hi), 0.9599628083866005, 1e-9);
    cr_assert_eq(lo, 86);
    cr_assert_eq(hi, 113);
}

static void fill(struct bench_cell *c, int group, const double *v, size_t n)
{
    memset(c, 0, sizeof(*c));
    c->group = group;
    c->nsamples = n;
    memcpy(c->gbps, v, n * sizeof(double));
}

Test(bench_stats, paired_ratio_uses_the_rounds)
{
    /* a drifting machine: both cells slow down together, the ratio stays 0.5 */
    const double b[] = {10, 8, 12, 6, 9};
    const double a[] = {5, 4, 6, 3, 4.5};
    struct bench_cell x, y;
    fill(&x, 1, a, 5);
    fill(&y, 1, b, 5);
    double med, lo, hi, level;
    cr_assert_eq(bench_paired_ratio(&x, &y, &med, &lo, &hi, &level), 0);
    cr_assert_float_eq(med, 0.5, 1e-12);
    cr_assert_float_eq(lo, 0.5, 1e-12);
    cr_assert_float_eq(hi, 0.5, 1e-12);
    cr_assert_float_eq(level, 0.9375, 1e-12);
    /* one round at 0.6: the median of the per-round ratios stays 0.5, the CI's top is 0.6 */
    x.gbps[0] = 6;
    cr_assert_eq(bench_paired_ratio(&x, &y, &med, &lo, &hi, &level), 0);
    cr_assert_float_eq(med, 0.5, 1e-12);
    cr_assert_float_eq(hi, 0.6, 1e-12);
}

Test(bench_stats, paired_ratio_refuses_unpaired_cells)
{
    const double v[] = {1, 2, 3, 4, 5};
    struct bench_cell x, y;
    double med, lo, hi, level;
    fill(&x, 1, v, 5);
    fill(&y, 2, v, 5); /* another group: not sampled in the same rounds */
    cr_assert_eq(bench_paired_ratio(&x, &y, &med, &lo, &hi, &level), -1);
    fill(&y, 1, v, 2); /* too few rounds */
    cr_assert_eq(bench_paired_ratio(&x, &y, &med, &lo, &hi, &level), -1);
}

Test(bench_stats, extra_percentiles)
{
    struct bench_extra x;
    memset(&x, 0, sizeof(x));
    x.count = 100;
    x.samples = calloc(100, sizeof(double));
    cr_assert_not_null(x.samples);
    for (size_t i = 0; i < 100; i++) {
        x.samples[i] = (double)(100 - i); /* unsorted on purpose */
    }
    x.nsamples = 100;
    bench_extra_stats(&x);
    cr_assert_float_eq(x.p50, 50.5, 1e-9);
    cr_assert_float_eq(x.p90, 90.1, 1e-9);
    cr_assert_float_eq(x.p99, 99.01, 1e-9);
    cr_assert_float_eq(x.mean, 50.5, 1e-9);
    cr_assert_float_eq(x.min, 1.0, 1e-12);
    cr_assert_float_eq(x.max, 100.0, 1e-12);
    cr_assert_float_eq(x.samples[0], 100.0, 1e-12, "the samples keep their order");
    free(x.samples);
}
