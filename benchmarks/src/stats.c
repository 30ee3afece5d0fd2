/*
 * stats.c - timing sources and per-cell statistics.
 *
 * The 95% confidence interval of the median uses order statistics
 * (rep_median_ci_ranks in reports/src/rep_stats.c, shared with compliance
 * and the report). With n = 5 the widest interval [min, max] covers only
 * 93.75%, which the JSON records as ci_level.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "bench.h"
#include "rep_pair.h"
#include "rep_stats.h"

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t bench_rdtsc(void)
{
    unsigned aux;
    return __rdtscp(&aux);
}

double bench_tsc_hz(void)
{
    static double hz;
    if (hz == 0) {
        /* three 50 ms windows; keep the median */
        double r[3];
        for (int i = 0; i < 3; i++) {
            double t0 = bench_now();
            uint64_t c0 = bench_rdtsc();
            while (bench_now() - t0 < 0.05) {
            }
            uint64_t c1 = bench_rdtsc();
            double t1 = bench_now();
            r[i] = (double)(c1 - c0) / (t1 - t0);
        }
        double a = fmin(r[0], r[1]), b = fmax(r[0], r[1]);
        hz = r[2] < a ? a : (r[2] > b ? b : r[2]);
    }
    return hz;
}

int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_stats(struct bench_cell *c)
{
    size_t n = c->nsamples;
    if (n == 0) {
        return;
    }
    double s[BENCH_MAX_SAMPLES], p[BENCH_MAX_SAMPLES];
    memcpy(s, c->gbps, n * sizeof(double));
    memcpy(p, c->cpb, n * sizeof(double));
    qsort(s, n, sizeof(double), bench_cmp_double);
    qsort(p, n, sizeof(double), bench_cmp_double);
    c->min = s[0];
    c->max = s[n - 1];
    c->median = rep_quantile_sorted(s, n, 0.5);
    c->q1 = rep_quantile_sorted(s, n, 0.25);
    c->q3 = rep_quantile_sorted(s, n, 0.75);
    c->cpb_median = rep_quantile_sorted(p, n, 0.5);
    size_t lo, hi;
    rep_median_ci_ranks(n, &lo, &hi);
    c->ci_lo = s[lo];
    c->ci_hi = s[hi];
    double iqr = c->q3 - c->q1;
    c->outliers = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < c->q1 - 1.5 * iqr || s[i] > c->q3 + 1.5 * iqr) {
            c->outliers++;
        }
    }
}

int bench_paired_ratio(const struct bench_cell *a, const struct bench_cell *b, double *median,
                       double *lo, double *hi, double *level)
{
    double r[BENCH_MAX_SAMPLES];
    struct rep_pair_stats s;
    if (a->group != b->group ||
        rep_pair_paired(a->gbps, a->nsamples, b->gbps, b->nsamples, r, &s) != 0) {
        return -1;
    }
    *median = s.median;
    *lo = s.lo;
    *hi = s.hi;
    *level = s.level;
    return 0;
}

void bench_extra_stats(struct bench_extra *x)
{
    size_t n = x->nsamples;
    if (n == 0) {
        return;
    }
    double *s = malloc(n * sizeof(double));
    if (s == NULL) {
        return;
    }
    memcpy(s, x->samples, n * sizeof(double));
    qsort(s, n, sizeof(double), bench_cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += s[i];
    }
    x->mean = sum / (double)n;
    x->min = s[0];
    x->max = s[n - 1];
    x->p50 = rep_quantile_sorted(s, n, 0.5);
    x->p90 = rep_quantile_sorted(s, n, 0.9);
    x->p99 = rep_quantile_sorted(s, n, 0.99);
    size_t lo, hi;
    rep_median_ci_ranks(n, &lo, &hi); /* [min, max] below 6 samples */
    x->ci_lo = s[lo];
    x->ci_hi = s[hi];
    free(s);
}
