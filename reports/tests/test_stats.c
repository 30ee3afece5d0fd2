/*
 * test_stats.c - medians, the Mann-Whitney U test and the bootstrap.
 *
 * Expected values are derived by hand in the comments (counting rank
 * arrangements from first principles, or the normal table), or checked
 * against a second implementation (brute-force enumeration of subsets).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rep_stats.h"
#include "rep_testutil.h"

Test(stats, median_odd_even_and_empty)
{
    const double odd[] = {3, 1, 2};
    const double even[] = {4, 1, 3, 2};
    cr_assert_float_eq(rep_median(odd, 3), 2.0, 1e-12);
    cr_assert_float_eq(rep_median(even, 4), 2.5, 1e-12);
    cr_assert(isnan(rep_median(odd, 0)));
    /* the input is not modified */
    cr_assert_float_eq(odd[0], 3.0, 0);
}

Test(stats, quantile_type7)
{
    /* type 7: h = (n-1) q; x = [10, 20, 30, 40], q = 0.25 -> h = 0.75 -> 10 + 0.75 * 10 = 17.5 */
    const double x[] = {10, 20, 30, 40};
    cr_assert_float_eq(rep_quantile_sorted(x, 4, 0.25), 17.5, 1e-12);
    cr_assert_float_eq(rep_quantile_sorted(x, 4, 0), 10.0, 0);
    cr_assert_float_eq(rep_quantile_sorted(x, 4, 1), 40.0, 0);
}

Test(stats, mwu_3_vs_3_complete_separation)
{
    /*
     * x = {1,2,3} all below y = {4,5,6}: U_x = 0. Under H0 every one of the
     * C(6,3) = 20 rank sets of x is equally likely and only {1,2,3} gives U = 0,
     * so P(U <= 0) = 1/20 = 0.05 and P(U >= 0) = 1.
     */
    const double x[] = {1, 2, 3}, y[] = {4, 5, 6};
    struct rep_mwu t;
    cr_assert_eq(rep_mann_whitney(x, 3, y, 3, &t), 0);
    cr_assert_float_eq(t.u, 0.0, 0);
    cr_assert(t.exact);
    cr_assert_float_eq(t.p_less, 1.0 / 20, 1e-12);
    cr_assert_float_eq(t.p_greater, 1.0, 1e-12);
}

Test(stats, mwu_5_vs_5_u1)
{
    /*
     * x = {1,2,3,4,6}, y = {5,7,8,9,10}: only the pair (6 > 5) counts, U_x = 1.
     * Of the C(10,5) = 252 rank sets, U = 0 arises once ({1..5}) and U = 1 once
     * ({1,2,3,4,6}), so P(U <= 1) = 2/252. By symmetry U = 25 - U_y, and
     * P(U >= 1) = 1 - P(U = 0) = 251/252.
     */
    const double x[] = {1, 2, 3, 4, 6}, y[] = {5, 7, 8, 9, 10};
    struct rep_mwu t;
    cr_assert_eq(rep_mann_whitney(x, 5, y, 5, &t), 0);
    cr_assert_float_eq(t.u, 1.0, 0);
    cr_assert_float_eq(t.p_less, 2.0 / 252, 1e-12);
    cr_assert_float_eq(t.p_greater, 251.0 / 252, 1e-12);
}

Test(stats, mwu_ties_exact_midranks)
{
    /*
     * x = {1,2,2}, y = {2,3,4}. Pooled: 1 | 2 2 2 | 3 | 4 with mid-ranks
     * 1 | 3 3 3 | 5 | 6. Rank sum of x = 1 + 3 + 3 = 7, U_x = 7 - 3*4/2 = 1
     * (pairs: 2 vs 2 counts 0.5 twice). Subsets of 3 of the scores
     * {1,3,3,3,5,6} with sum <= 7: only {1,3,3}, chosen 3 ways out of
     * C(6,3) = 20, so P(W <= 7) = 3/20 = 0.15.
     */
    const double x[] = {1, 2, 2}, y[] = {2, 3, 4};
    struct rep_mwu t;
    cr_assert_eq(rep_mann_whitney(x, 3, y, 3, &t), 0);
    cr_assert_float_eq(t.u, 1.0, 1e-12);
    cr_assert_float_eq(t.p_less, 3.0 / 20, 1e-12);
}

Test(stats, mwu_normal_approximation_21_vs_21)
{
    /*
     * 21 per side exceeds REP_MWU_EXACT_MAX, so the normal approximation runs.
     * y = 1..21; twenty x values in (7, 8) each exceed 7 values of y, and one
     * x in (10, 11) exceeds 10: U = 20*7 + 10 = 150, no ties.
     * mean = 21*21/2 = 220.5, var = 21*21*43/12 = 1580.25, sd = 39.7524.
     * z = (150 - 220.5 + 0.5) / 39.7524 = -1.76090; from the normal table
     * Phi(-1.76) = 0.03920, Phi(-1.77) = 0.03836, interpolated: 0.03912.
     */
    double x[21], y[21];
    for (int i = 0; i < 21; i++) {
        y[i] = i + 1;
        x[i] = 7.5 + 0.001 * i;
    }
    x[20] = 10.5;
    struct rep_mwu t;
    cr_assert_eq(rep_mann_whitney(x, 21, y, 21, &t), 0);
    cr_assert(!t.exact);
    cr_assert_float_eq(t.u, 150.0, 1e-9);
    cr_assert_float_eq(t.p_less, 0.03912, 2e-4);
}

Test(stats, mwu_all_tied_gives_no_evidence)
{
    double x[25], y[25];
    for (int i = 0; i < 25; i++) {
        x[i] = y[i] = 1.0;
    }
    struct rep_mwu t;
    cr_assert_eq(rep_mann_whitney(x, 25, y, 25, &t), 0);
    cr_assert_float_eq(t.p_less, 1.0, 0);
    cr_assert_float_eq(t.p_greater, 1.0, 0);
    /* the exact path too: every arrangement has the same sum */
    cr_assert_eq(rep_mann_whitney(x, 5, y, 5, &t), 0);
    cr_assert_float_eq(t.p_less, 1.0, 1e-12);
}

Test(stats, mwu_empty_side_is_an_error)
{
    const double x[] = {1};
    struct rep_mwu t;
    cr_assert_eq(rep_mann_whitney(x, 1, x, 0, &t), -1);
    cr_assert_eq(rep_mann_whitney(x, 0, x, 1, &t), -1);
}

/* Brute force: all C(n, nx) subsets of the pooled values as "x", counting rank sums <= / >=
 * observed. */
static void brute(const double *x, size_t nx, const double *y, size_t ny, double *ple, double *pge)
{
    double all[16];
    size_t n = nx + ny;
    memcpy(all, x, nx * sizeof(double));
    memcpy(all + nx, y, ny * sizeof(double));
    double rank[16];
    for (size_t i = 0; i < n; i++) {
        double less = 0, eq = 0;
        for (size_t j = 0; j < n; j++) {
            less += all[j] < all[i];
            eq += all[j] == all[i];
        }
        rank[i] = less + (eq + 1) / 2; /* mid-rank */
    }
    double obs = 0;
    for (size_t i = 0; i < nx; i++) {
        obs += rank[i];
    }
    double total = 0, le = 0, ge = 0;
    for (unsigned mask = 0; mask < (1u << n); mask++) {
        if ((size_t)__builtin_popcount(mask) != nx) {
            continue;
        }
        double s = 0;
        for (size_t i = 0; i < n; i++) {
            if (mask & (1u << i)) {
                s += rank[i];
            }
        }
        total++;
        le += s <= obs + 1e-9;
        ge += s >= obs - 1e-9;
    }
    *ple = le / total;
    *pge = ge / total;
}

Test(stats, mwu_exact_matches_brute_force_with_ties)
{
    uint64_t st = 12345;
    for (int round = 0; round < 40; round++) {
        size_t nx = 2 + rep_rng_next(&st) % 6, ny = 2 + rep_rng_next(&st) % 6;
        double x[8], y[8];
        for (size_t i = 0; i < nx; i++) {
            x[i] = (double)(rep_rng_next(&st) % 5); /* few distinct values: many ties */
        }
        for (size_t i = 0; i < ny; i++) {
            y[i] = (double)(rep_rng_next(&st) % 5);
        }
        struct rep_mwu t;
        double le, ge;
        cr_assert_eq(rep_mann_whitney(x, nx, y, ny, &t), 0);
        brute(x, nx, y, ny, &le, &ge);
        cr_assert_float_eq(t.p_less, le, 1e-12, "round %d: exact %g brute %g", round, t.p_less, le);
        cr_assert_float_eq(t.p_greater, ge, 1e-12, "round %d", round);
    }
}

Test(stats, mwu_exact_and_normal_agree_at_20)
{
    /* two independent computations of the same tail: exact (20 vs 20) and normal (21 vs 20) */
    double x[21], y[20];
    for (int i = 0; i < 20; i++) {
        y[i] = i + 0.25;
        x[i] = i * 0.9 + 0.1 + 0.0001 * i;
    }
    struct rep_mwu e, n;
    cr_assert_eq(rep_mann_whitney(x, 20, y, 20, &e), 0);
    x[20] = 9.05;
    cr_assert_eq(rep_mann_whitney(x, 21, y, 20, &n), 0);
    cr_assert(e.exact);
    cr_assert(!n.exact);
    cr_assert(fabs(e.p_less - n.p_less) < 0.05, "exact %g normal %g", e.p_less, n.p_less);
}

Test(stats, bootstrap_is_deterministic_with_a_seed)
{
    const double a[] = {1.0, 1.1, 0.9, 1.05, 0.95, 1.02};
    const double b[] = {2.0, 2.1, 1.9, 2.05, 1.95};
    double lo1, hi1, lo2, hi2, lo3, hi3;
    cr_assert_eq(rep_bootstrap_ratio(a, 6, b, 5, 2000, 0.99, 42, &lo1, &hi1), 0);
    cr_assert_eq(rep_bootstrap_ratio(a, 6, b, 5, 2000, 0.99, 42, &lo2, &hi2), 0);
    cr_assert_eq(lo1, lo2);
    cr_assert_eq(hi1, hi2);
    cr_assert_eq(rep_bootstrap_ratio(a, 6, b, 5, 2000, 0.99, 43, &lo3, &hi3), 0);
    cr_assert(lo3 != lo1 || hi3 != hi1, "another seed gives another interval");
    /* the point estimate median(a)/median(b) = 1.01/2.0 lies inside; bounds come from the data
     * range */
    cr_assert(lo1 <= 1.01 / 2.0 && 1.01 / 2.0 <= hi1);
    cr_assert(lo1 >= 0.9 / 2.1 && hi1 <= 1.1 / 1.9);
}

Test(stats, bootstrap_of_constant_data_is_a_point)
{
    const double a[] = {3, 3, 3, 3};
    const double b[] = {2, 2, 2};
    double lo, hi;
    cr_assert_eq(rep_bootstrap_ratio(a, 4, b, 3, 500, 0.95, 1, &lo, &hi), 0);
    cr_assert_float_eq(lo, 1.5, 1e-15);
    cr_assert_float_eq(hi, 1.5, 1e-15);
    cr_assert_eq(rep_bootstrap_ratio(a, 4, NULL, 0, 500, 0.95, 1, &lo, &hi), 0);
    cr_assert_float_eq(lo, 3.0, 0);
    cr_assert_eq(rep_bootstrap_ratio(a, 0, b, 3, 500, 0.95, 1, &lo, &hi), -1);
    cr_assert_eq(rep_bootstrap_ratio(a, 4, b, 3, 5, 0.95, 1, &lo, &hi), -1);
}

/*
 * Closed forms of the t distribution's upper tail for small degrees of
 * freedom (integrating the density by hand):
 *   df 1 (Cauchy): 1/2 - atan(t) / pi
 *   df 2:          1/2 - t / (2 sqrt(t^2 + 2))
 *   df 3:          1/2 - (atan(t / sqrt 3) + (t / sqrt 3) / (1 + t^2 / 3)) / pi
 *   df 4:          1/2 - (3/8) u (1 - u^2 / 12), u = t / sqrt(1 + t^2 / 4)
 * rep_t_sf computes them through the incomplete beta function instead.
 */
static double sf_closed(double t, int df)
{
    switch (df) {
        case 1:
            return 0.5 - atan(t) / M_PI;
        case 2:
            return 0.5 - t / (2 * sqrt(t * t + 2));
        case 3:
            return 0.5 - (atan(t / sqrt(3)) + (t / sqrt(3)) / (1 + t * t / 3)) / M_PI;
        default: {
            double u = t / sqrt(1 + t * t / 4);
            return 0.5 - 0.375 * u * (1 - u * u / 12);
        }
    }
}

Test(stats, t_sf_matches_closed_forms)
{
    const double ts[] = {-6, -2.5, -1, -0.3, 0, 0.4, 1, 2, 3.7469, 6, 10, 25};
    for (int df = 1; df <= 4; df++) {
        for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
            double want = sf_closed(ts[i], df);
            double got = rep_t_sf(ts[i], df);
            cr_assert(fabs(got - want) <= 1e-12 + 1e-9 * want, "df %d t %g: %.15g vs %.15g", df,
                      ts[i], got, want);
        }
    }
}

Test(stats, t_sf_normal_limit_and_bad_input)
{
    /* df infinite is the normal: Phi(-1.96) = 0.0249979 (normal table) */
    cr_assert_float_eq(rep_t_sf(1.959963984540054, INFINITY), 0.025, 1e-12);
    /* a large df approaches the normal */
    cr_assert(fabs(rep_t_sf(2.0, 1e7) - rep_t_sf(2.0, INFINITY)) < 1e-7);
    cr_assert_float_eq(rep_t_sf(INFINITY, 4), 0.0, 0);
    cr_assert_float_eq(rep_t_sf(-INFINITY, 4), 1.0, 0);
    cr_assert(isnan(rep_t_sf(1, 0)));
    cr_assert(isnan(rep_t_sf(NAN, 3)));
}

Test(stats, t_quantile_inverts_the_tail)
{
    /* the quantile is the inverse of the distribution function */
    const double ps[] = {0.001, 0.01, 0.05, 0.5, 0.9, 0.995};
    for (int df = 1; df <= 9; df += 2) {
        for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
            double q = rep_t_quantile(ps[i], df);
            cr_assert_float_eq(1 - rep_t_sf(q, df), ps[i], 1e-10, "df %d p %g", df, ps[i]);
        }
    }
    /* df 1: the Cauchy quantile is tan(pi (p - 1/2)) */
    cr_assert_float_eq(rep_t_quantile(0.99, 1), tan(M_PI * 0.49), 1e-8);
    /* df 2: solving 1/2 + t / (2 sqrt(t^2 + 2)) = p gives t = (2p - 1) sqrt(2 / (1 - (2p - 1)^2))
     */
    double a = 2 * 0.975 - 1;
    cr_assert_float_eq(rep_t_quantile(0.975, 2), a * sqrt(2 / (1 - a * a)), 1e-9);
    cr_assert(isnan(rep_t_quantile(0, 3)));
    cr_assert(isnan(rep_t_quantile(1, 3)));
}

Test(stats, median_se_order_statistics)
{
    /*
     * n = 15: c = round(8 - 1.96 * sqrt(15 / 4)) = round(4.20) = 4, so the
     * interval is [x_(4), x_(12)]; for 1..15 (any order) that is 12 - 4 = 8,
     * and the standard error 8 / (2 * 1.96) = 2.0409.
     */
    double x[15];
    for (int i = 0; i < 15; i++) {
        x[i] = 15 - i;
    }
    cr_assert_float_eq(rep_median_se(x, 15), 8 / (2 * 1.959963984540054), 1e-12);
    cr_assert_float_eq(x[0], 15.0, 0); /* not modified */
    /* n = 5: c = round(3 - 2.19) = 1: the whole range, 4 / 3.92 */
    cr_assert_float_eq(rep_median_se(x + 10, 5), 4 / (2 * 1.959963984540054), 1e-12);
    cr_assert(isnan(rep_median_se(x, 1)));
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* P(B <= j), B ~ Binomial(n, 1/2), from log-gamma (independent of the code under test) */
static double binom_le(size_t n, size_t j)
{
    double p = 0;
    for (size_t i = 0; i <= j; i++) {
        p += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) -
                 (double)n * log(2.0));
    }
    return p;
}

Test(stats, median_ci_ranks_known_values)
{
    size_t lo, hi;
    /* n = 5: no interval reaches 95%; [min, max] covers 1 - 2/32 */
    cr_assert_float_eq(rep_median_ci_ranks(5, &lo, &hi), 0.9375, 1e-12);
    cr_assert_eq(lo, 0);
    cr_assert_eq(hi, 4);
    /* n = 10: [x(2), x(9)] covers 1 - 2 P(B <= 1) = 1 - 22/1024; [x(3), x(8)] only 1 - 112/1024 */
    cr_assert_float_eq(rep_median_ci_ranks(10, &lo, &hi), 1 - 22.0 / 1024, 1e-12);
    cr_assert_eq(lo, 1);
    cr_assert_eq(hi, 8);
    /* n = 200 (cold opens of the standard profile): x(86) .. x(115) */
    cr_assert_float_eq(rep_median_ci_ranks(200, &lo, &hi), 0.9599628083866005, 1e-9);
    cr_assert_eq(lo, 85);
    cr_assert_eq(hi, 114);
    /* large n, where 0.5^n underflows (exact ranks from integer binomials, Python math.comb) */
    cr_assert_float_eq(rep_median_ci_ranks(1075, &lo, &hi), 0.9559335206201514, 1e-9);
    cr_assert_eq(lo, 504);
    cr_assert_eq(hi, 570);
    cr_assert_float_eq(rep_median_ci_ranks(5000, &lo, &hi), 0.9506841418958282, 1e-9);
    cr_assert_eq(lo, 2430);
    cr_assert_eq(hi, 2569);
    cr_assert_float_eq(rep_median_ci_ranks(1, &lo, &hi), 0.0, 1e-12);
    cr_assert_eq(lo, 0);
    cr_assert_eq(hi, 0);
}

/* For every n: the coverage is 1 - 2 P(B <= lo), at least 95% from n = 6 on,
 * and one rank narrower would fall below 95% (the interval is the tightest). */
Test(stats, median_ci_ranks_are_the_tightest_95_percent_interval)
{
    for (size_t n = 2; n <= 1200; n++) {
        size_t lo, hi;
        double cov = rep_median_ci_ranks(n, &lo, &hi);
        cr_assert_eq(lo + hi, n - 1, "n=%zu: symmetric ranks", n);
        cr_assert_float_eq(cov, 1 - 2 * binom_le(n, lo), 1e-9, "n=%zu", n);
        if (n >= 6) {
            cr_assert_geq(cov, 0.95, "n=%zu: coverage %.4f", n, cov);
        }
        if (lo + 1 < hi - 1) {
            cr_assert_lt(1 - 2 * binom_le(n, lo + 1), 0.95,
                         "n=%zu: ranks %zu..%zu are not tightest", n, lo, hi);
        }
    }
}

/* Simulated coverage: uniform samples, true median 0.5, seeded generator. */
Test(stats, median_ci_ranks_coverage_matches_simulation)
{
    static const size_t ns[] = {5, 10, 15, 20, 31};
    uint64_t st = 42;
    for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
        size_t n = ns[t], lo, hi, hit = 0, reps = 40000;
        double cov = rep_median_ci_ranks(n, &lo, &hi), x[31];
        for (size_t r = 0; r < reps; r++) {
            for (size_t i = 0; i < n; i++) {
                x[i] = (double)(rep_rng_next(&st) >> 11) * 0x1.0p-53;
            }
            qsort(x, n, sizeof(double), cmp_d);
            hit += x[lo] <= 0.5 && 0.5 <= x[hi];
        }
        double sim = (double)hit / (double)reps;
        /* 40000 draws: standard error <= 0.0025; allow 4 of them */
        cr_assert(fabs(sim - cov) < 0.01, "n=%zu: simulated %.4f, computed %.4f", n, sim, cov);
    }
}
