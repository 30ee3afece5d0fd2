/*
 * rep_pair.h - per-round ratio pairing: the one implementation of the
 * statistics behind every paired ratio (cmk-bench's bars and ceiling ratios,
 * cmk-report's and cmk-gate's ratio pairs).
 *
 * Two cells sampled in the same interleaved rounds (benchmarks/SCHEMA.md)
 * give paired samples of their ratio: round i of the numerator over round i
 * of the denominator, so drift of a shared machine, which hits both cells of
 * a round alike, cancels out of each ratio. A pair is summarised by the
 * median of its per-round ratios and the median's distribution-free
 * order-statistic interval (rep_median_ci_ranks in rep_stats.h).
 *
 * No engine, no JSON: plain arrays of doubles, so both the bench (its cells)
 * and the report (its rep_cell samples) call it.
 */
#ifndef REP_PAIR_H
#define REP_PAIR_H

#include <stddef.h>

/* Fewest per-round ratios a summary is computed from (rep_pair_summary). */
#define REP_PAIR_MIN_ROUNDS 3

/* A summary of per-round ratios: median, its order-statistic CI [lo, hi] and the CI's coverage. */
struct rep_pair_stats {
    double median, lo, hi, level;
};

/*
 * rep_pair_ratios writes the per-round ratios num[i] / den[i] for the rounds
 * i < min(nnum, nden) into |out| (room for min(nnum, nden) values), leaving
 * out rounds whose denominator is not positive, in round order, and returns
 * how many it wrote. |out| may be NULL only when that minimum is 0.
 */
size_t rep_pair_ratios(const double *num, size_t nnum, const double *den, size_t nden, double *out);

/*
 * rep_pair_summary sorts the |n| ratios |r| in place and fills |s|: the
 * median (linear interpolation, as rep_quantile_sorted at 0.5), the
 * order-statistic CI of the median [r(lo), r(hi)] with the ranks and
 * coverage of rep_median_ci_ranks. Returns 0, or -1 with |s| zeroed when
 * n < REP_PAIR_MIN_ROUNDS.
 */
int rep_pair_summary(double *r, size_t n, struct rep_pair_stats *s);

/*
 * rep_pair_paired computes rep_pair_ratios of |num| over |den| into a
 * caller's array |scratch| (room for min(nnum, nden) values) and summarises
 * them with rep_pair_summary. Returns 0, or -1 (|s| zeroed) when fewer than
 * REP_PAIR_MIN_ROUNDS rounds have a positive denominator.
 */
int rep_pair_paired(const double *num, size_t nnum, const double *den, size_t nden, double *scratch,
                    struct rep_pair_stats *s);

#endif
