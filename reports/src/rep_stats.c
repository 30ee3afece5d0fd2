/*
 * rep_stats.c - medians, quantiles, Mann-Whitney U and the bootstrap.
 */
#include "rep_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double rep_quantile_sorted(const double *x, size_t n, double q)
{
    if (n == 0) {
        return NAN;
    }
    if (q <= 0) {
        return x[0];
    }
    if (q >= 1) {
        return x[n - 1];
    }
    double h = (double)(n - 1) * q;
    size_t i = (size_t)floor(h);
    if (i + 1 >= n) {
        return x[n - 1];
    }
    return x[i] + (h - (double)i) * (x[i + 1] - x[i]);
}

/* P(B = k), B ~ Binomial(n, 1/2), from log-gamma: 0.5^n alone underflows from n = 1075 on. */
static double binom_half_pmf(size_t n, size_t k)
{
    return exp(lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1) -
               (double)n * M_LN2);
}

double rep_median_ci_ranks(size_t n, size_t *lo, size_t *hi)
{
    if (n == 0) {
        *lo = *hi = 0;
        return 0;
    }
    double p_le = binom_half_pmf(n, 0); /* P(B <= k-1), k = 1 */
    size_t k = 1;
    for (;;) {
        double next = binom_half_pmf(n, k); /* P(B = k) */
        if (2 * (k + 1) > n + 1 || p_le + next > 0.025) {
            break;
        }
        p_le += next;
        k++;
    }
    *lo = k - 1;
    *hi = n - k;
    return 1 - 2 * p_le;
}

/* Median of |x| sorted in place. */
static double median_inplace(double *x, size_t n)
{
    qsort(x, n, sizeof(double), cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

double rep_median(const double *x, size_t n)
{
    if (n == 0) {
        return NAN;
    }
    double stackbuf[64];
    double *t = n <= 64 ? stackbuf : malloc(n * sizeof(double));
    if (t == NULL) {
        return NAN;
    }
    memcpy(t, x, n * sizeof(double));
    double m = median_inplace(t, n);
    if (t != stackbuf) {
        free(t);
    }
    return m;
}

struct ranked {
    double v;
    int from_x;
};

static int cmp_ranked(const void *a, const void *b)
{
    return cmp_double(&((const struct ranked *)a)->v, &((const struct ranked *)b)->v);
}

static double norm_cdf(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

/*
 * Exact permutation distribution of the sum of doubled mid-ranks |score| of
 * nx items chosen out of n: P(sum <= obs) and P(sum >= obs). Counts are kept
 * in doubles; C(40, 20) ~ 1.4e11 is far below 2^53, so they are exact.
 */
static int exact_tails(const int *score, size_t n, size_t nx, long obs, double *p_le, double *p_ge)
{
    long maxsum = 0;
    for (size_t i = 0; i < n; i++) {
        maxsum += score[i];
    }
    size_t width = (size_t)maxsum + 1;
    /* dp[k][s]: number of k-subsets of the items seen so far with score sum s */
    double *dp = calloc((nx + 1) * width, sizeof(double));
    if (dp == NULL) {
        return -1;
    }
    dp[0] = 1;
    for (size_t i = 0; i < n; i++) {
        size_t kmax = i + 1 < nx ? i + 1 : nx;
        for (size_t k = kmax; k >= 1; k--) {
            double *row = dp + k * width, *prev = dp + (k - 1) * width;
            for (long s = maxsum; s >= score[i]; s--) {
                row[s] += prev[s - score[i]];
            }
        }
    }
    double total = 0, le = 0, ge = 0;
    const double *row = dp + nx * width;
    for (long s = 0; s <= maxsum; s++) {
        total += row[s];
        if (s <= obs) {
            le += row[s];
        }
        if (s >= obs) {
            ge += row[s];
        }
    }
    free(dp);
    *p_le = le / total;
    *p_ge = ge / total;
    return 0;
}

int rep_mann_whitney(const double *x, size_t nx, const double *y, size_t ny, struct rep_mwu *out)
{
    memset(out, 0, sizeof(*out));
    if (nx == 0 || ny == 0) {
        return -1;
    }
    size_t n = nx + ny;
    struct ranked *all = malloc(n * sizeof(*all));
    int *score = malloc(n * sizeof(int));
    if (all == NULL || score == NULL) {
        free(all);
        free(score);
        return -1;
    }
    for (size_t i = 0; i < nx; i++) {
        all[i] = (struct ranked){x[i], 1};
    }
    for (size_t j = 0; j < ny; j++) {
        all[nx + j] = (struct ranked){y[j], 0};
    }
    qsort(all, n, sizeof(*all), cmp_ranked);
    /* doubled mid-ranks: a tie block over ranks a..b gets a + b for every member */
    long wx2 = 0;        /* doubled rank sum of x */
    double tie_term = 0; /* sum of t^3 - t over tie blocks */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && all[j + 1].v == all[i].v) {
            j++;
        }
        int s = (int)(i + 1 + j + 1);
        for (size_t k = i; k <= j; k++) {
            score[k] = s;
            if (all[k].from_x) {
                wx2 += s;
            }
        }
        double t = (double)(j - i + 1);
        tie_term += t * t * t - t;
        i = j + 1;
    }
    double u = (double)wx2 / 2.0 - (double)nx * (double)(nx + 1) / 2.0;
    out->u = u;
    int rc = 0;
    if (nx <= REP_MWU_EXACT_MAX && ny <= REP_MWU_EXACT_MAX) {
        double le = 1, ge = 1;
        rc = exact_tails(score, n, nx, wx2, &le, &ge);
        out->p_less = le;
        out->p_greater = ge;
        out->exact = 1;
    } else {
        double mean = (double)nx * (double)ny / 2.0;
        double nn = (double)n;
        double var = (double)nx * (double)ny / 12.0 * ((nn + 1) - tie_term / (nn * (nn - 1)));
        if (var <= 0) {
            out->p_less = 1;
            out->p_greater = 1;
        } else {
            double sd = sqrt(var);
            out->p_less = norm_cdf((u - mean + 0.5) / sd);
            out->p_greater = 1 - norm_cdf((u - mean - 0.5) / sd);
        }
    }
    if (out->p_less > 1) {
        out->p_less = 1;
    }
    if (out->p_greater > 1) {
        out->p_greater = 1;
    }
    free(all);
    free(score);
    return rc;
}

uint64_t rep_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rep_hash64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static double resample_median(const double *x, size_t n, double *tmp, uint64_t *st)
{
    for (size_t i = 0; i < n; i++) {
        tmp[i] = x[rep_rng_next(st) % n];
    }
    return median_inplace(tmp, n);
}

int rep_bootstrap_ratio(const double *a, size_t na, const double *b, size_t nb, size_t reps,
                        double level, uint64_t seed, double *lo, double *hi)
{
    if (na == 0 || (b != NULL && nb == 0) || reps < 10 || !(level > 0 && level < 1)) {
        return -1;
    }
    size_t nmax = na > nb ? na : nb;
    double *tmp = malloc(nmax * sizeof(double));
    double *stat = malloc(reps * sizeof(double));
    if (tmp == NULL || stat == NULL) {
        free(tmp);
        free(stat);
        return -1;
    }
    uint64_t st = seed;
    size_t m = 0;
    for (size_t r = 0; r < reps; r++) {
        double ma = resample_median(a, na, tmp, &st);
        if (b == NULL) {
            stat[m++] = ma;
            continue;
        }
        double mb = resample_median(b, nb, tmp, &st);
        if (mb != 0) {
            stat[m++] = ma / mb;
        }
    }
    int rc = -1;
    if (m > 0) {
        qsort(stat, m, sizeof(double), cmp_double);
        *lo = rep_quantile_sorted(stat, m, (1 - level) / 2);
        *hi = rep_quantile_sorted(stat, m, 1 - (1 - level) / 2);
        rc = 0;
    }
    free(tmp);
    free(stat);
    return rc;
}

double rep_median_se(const double *x, size_t n)
{
    if (n < 2) {
        return NAN;
    }
    double *t = malloc(n * sizeof(double));
    if (t == NULL) {
        return NAN;
    }
    memcpy(t, x, n * sizeof(double));
    qsort(t, n, sizeof(double), cmp_double);
    const double z = 1.959963984540054; /* the normal 0.975 quantile */
    double c = floor(((double)n + 1) / 2 - z * sqrt((double)n / 4) + 0.5);
    size_t lo = c < 1 ? 1 : (size_t)c; /* 1-based rank of the lower order statistic */
    double se = (t[n - lo] - t[lo - 1]) / (2 * z);
    free(t);
    return se;
}

/*
 * Continued fraction of the regularized incomplete beta function I_x(a, b)
 * (DLMF 8.17.22), evaluated with the modified Lentz method; converges fast
 * for x < (a + 1) / (a + b + 2).
 */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = 1 / (fabs(d) < tiny ? tiny : d);
    double f = d;
    for (int m = 1; m <= 500; m++) {
        double k = m;
        /* even term d_2m, then odd term d_2m+1 */
        double num = k * (b - k) * x / ((a + 2 * k - 1) * (a + 2 * k));
        for (int step = 0; step < 2; step++) {
            d = 1 + num * d;
            d = 1 / (fabs(d) < tiny ? tiny : d);
            c = 1 + num / c;
            c = fabs(c) < tiny ? tiny : c;
            f *= c * d;
            num = -(a + k) * (a + b + k) * x / ((a + 2 * k) * (a + 2 * k + 1));
        }
        if (fabs(c * d - 1) < 1e-15) {
            break;
        }
    }
    return f;
}

/*
 * Regularized incomplete beta function I_x(a, b) for a, b > 0, with both x
 * and y = 1 - x given (0 <= x <= 1), so that neither loses precision by a
 * subtraction near 0 or 1.
 */
static double beta_reg(double a, double b, double x, double y)
{
    if (x <= 0) {
        return 0;
    }
    if (y <= 0) {
        return 1;
    }
    double lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(y);
    if (x < (a + 1) / (a + b + 2)) {
        return exp(lfront) * beta_cf(a, b, x) / a;
    }
    return 1 - exp(lfront) * beta_cf(b, a, y) / b;
}

double rep_t_sf(double t, double df)
{
    if (isnan(t) || isnan(df) || df <= 0) {
        return NAN;
    }
    if (isinf(df)) {
        return 0.5 * erfc(t / sqrt(2.0));
    }
    if (isinf(t)) {
        return t > 0 ? 0 : 1;
    }
    /* P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2) */
    double tail = 0.5 * beta_reg(df / 2, 0.5, df / (df + t * t), t * t / (df + t * t));
    return t >= 0 ? tail : 1 - tail;
}

double rep_t_quantile(double p, double df)
{
    if (!(p > 0 && p < 1) || isnan(df) || df <= 0) {
        return NAN;
    }
    /* bisection on the survival function: monotone, and exact enough after 200 halvings */
    double lo = -1, hi = 1;
    while (rep_t_sf(lo, df) < 1 - p) {
        lo *= 2;
    }
    while (rep_t_sf(hi, df) > 1 - p) {
        hi *= 2;
    }
    for (int i = 0; i < 200 && hi - lo > 1e-13 * (1 + fabs(lo)); i++) {
        double mid = 0.5 * (lo + hi);
        if (rep_t_sf(mid, df) > 1 - p) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return 0.5 * (lo + hi);
}
