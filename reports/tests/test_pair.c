/*
 * test_pair.c - per-round ratio pairing (rep_pair.c), the one implementation
 * behind cmk-bench's bars and ceiling ratios and the report's ratio pairs.
 *
 * Expected values by hand: the ratio of each round, then the order-statistic
 * ranks of rep_median_ci_ranks (n = 8: P(B <= 0) = 1/256 <= 0.025 <
 * P(B <= 1) = 9/256, so k = 1, [x(1), x(8)], coverage 1 - 2/256; n = 9:
 * P(B <= 1) = 10/512 <= 0.025 < P(B <= 2) = 46/512, so k = 2, [x(2), x(8)],
 * coverage 1 - 20/512).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "rep_bench.h"
#include "rep_pair.h"

Test(pair, ratios_are_round_by_round_and_skip_bad_denominators)
{
    /* 10 numerator rounds, 9 denominator rounds: the 10th is unpaired; round 4 (den 0) and
     * round 8 (den -1) are left out */
    const double num[] = {3, 1, 8, 2, 5, 7, 4, 6, 9, 100};
    const double den[] = {1, 1, 2, 1, 0, 1, 1, 2, -1};
    double r[9];
    size_t m = rep_pair_ratios(num, 10, den, 9, r);
    const double want[] = {3, 1, 4, 2, 7, 4, 3};
    cr_assert_eq(m, 7, "rounds paired: %zu", m);
    for (size_t i = 0; i < m; i++) {
        cr_assert_float_eq(r[i], want[i], 0, "round ratio %zu: %f", i, r[i]);
    }
    cr_assert_eq(rep_pair_ratios(num, 0, den, 9, NULL), 0);
}

Test(pair, summary_median_and_order_statistic_interval)
{
    double r[] = {3, 1, 4, 2, 7, 4, 3, 9}; /* sorted: 1 2 3 3 4 4 7 9 */
    struct rep_pair_stats s;
    cr_assert_eq(rep_pair_summary(r, 8, &s), 0);
    cr_assert_float_eq(s.median, 3.5, 1e-12, "median %f", s.median);
    cr_assert_float_eq(s.lo, 1, 0);
    cr_assert_float_eq(s.hi, 9, 0);
    cr_assert_float_eq(s.level, 1 - 2.0 / 256, 1e-12, "level %f", s.level);

    double q[] = {5, 9, 1, 8, 2, 7, 3, 6, 4};
    cr_assert_eq(rep_pair_summary(q, 9, &s), 0);
    cr_assert_float_eq(s.median, 5, 0);
    cr_assert_float_eq(s.lo, 2, 0, "lo %f", s.lo);
    cr_assert_float_eq(s.hi, 8, 0, "hi %f", s.hi);
    cr_assert_float_eq(s.level, 1 - 20.0 / 512, 1e-12);
}

Test(pair, too_few_rounds_is_refused)
{
    double r[] = {1.5, 0.5};
    struct rep_pair_stats s = {.median = 7, .lo = 7, .hi = 7, .level = 7};
    cr_assert_eq(rep_pair_summary(r, 2, &s), -1);
    cr_assert_float_eq(s.median, 0, 0, "zeroed on refusal");
    cr_assert_float_eq(s.level, 0, 0);
    /* three rounds, but one has a zero denominator: two ratios, refused */
    const double num[] = {1, 2, 3}, den[] = {1, 0, 1};
    double scratch[3];
    cr_assert_eq(rep_pair_paired(num, 3, den, 3, scratch, &s), -1);
    /* the same with three good rounds is summarised */
    const double den3[] = {1, 1, 1};
    cr_assert_eq(rep_pair_paired(num, 3, den3, 3, scratch, &s), 0);
    cr_assert_float_eq(s.median, 2, 0);
    cr_assert_float_eq(s.lo, 1, 0);
    cr_assert_float_eq(s.hi, 3, 0);
    cr_assert_float_eq(s.level, 0.75, 1e-12); /* n = 3: [min, max], 1 - 2^(1-3) */
}

Test(pair, report_round_ratios_are_the_same_pairing)
{
    /* cmk-report's rep_round_ratios (rep_bench.c) pairs rep_cell samples the same way */
    double num[] = {3, 1, 8, 2, 5, 7, 4, 6, 9, 100};
    double den[] = {1, 1, 2, 1, 0, 1, 1, 2, -1};
    struct rep_cell a = {.samples = num, .nsamples = 10}, b = {.samples = den, .nsamples = 9};
    size_t n = 0;
    double *r = rep_round_ratios(&a, &b, &n);
    double want[9];
    size_t m = rep_pair_ratios(num, 10, den, 9, want);
    cr_assert_not_null(r);
    cr_assert_eq(n, m);
    cr_assert_eq(n, 7);
    for (size_t i = 0; i < n; i++) {
        cr_assert_float_eq(r[i], want[i], 0);
    }
    free(r);
}
