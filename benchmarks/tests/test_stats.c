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
#include "rep_stats.h"

Test(bench_stats, quantile_interpolates_linearly)
{
    const double s[] = {1, 2, 3, 4, 5};
    cr_assert_float_eq(rep_quantile_sorted(s, 5, 0.5), 3.0, 1e-12);
    cr_assert_float_eq(rep_quantile_sorted(s, 5, 0.9), 4.6, 1e-12);
    cr_assert_float_eq(rep_quantile_sorted(s, 5, 0.0), 1.0, 1e-12);
    cr_assert_float_eq(rep_quantile_sorted(s, 5, 1.0), 5.0, 1e-12);
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

/*
 * Ten samples: the 95% interval of the median is [x(2), x(9)], coverage
 * 1 - 2 P(B <= 1) = 1 - 22/1024. (Until 2026-12 the bench took [x(3), x(8)]
 * and labelled it with that coverage; its true coverage is 1 - 112/1024.)
 */
Test(bench_stats, ten_samples_ci_is_second_to_ninth)
{
    const double v[] = {9, 3, 7, 1, 10, 5, 2, 8, 4, 6};
    struct bench_cell c;
    fill(&c, 1, v, 10);
    bench_stats(&c);
    cr_assert_float_eq(c.median, 5.5, 1e-12);
    cr_assert_float_eq(c.ci_lo, 2.0, 1e-12);
    cr_assert_float_eq(c.ci_hi, 9.0, 1e-12);
    /* per-round ratios 0.1 .. 1.0 against a constant denominator */
    const double one[] = {10, 10, 10, 10, 10, 10, 10, 10, 10, 10};
    struct bench_cell d;
    fill(&d, 1, one, 10);
    double med, lo, hi, level;
    cr_assert_eq(bench_paired_ratio(&c, &d, &med, &lo, &hi, &level), 0);
    cr_assert_float_eq(med, 0.55, 1e-12);
    cr_assert_float_eq(lo, 0.2, 1e-12);
    cr_assert_float_eq(hi, 0.9, 1e-12);
    cr_assert_float_eq(level, 1 - 22.0 / 1024, 1e-12);
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
