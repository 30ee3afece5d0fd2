/*
 * rep_gate_int.h - what the gate's comparison (rep_gate.c) takes from its
 * metric set-up (rep_gate_metrics.c); private to reports/src.
 */
#ifndef REP_GATE_INT_H
#define REP_GATE_INT_H

#include <stddef.h>

#include "rep_bench.h"
#include "rep_gate.h"

/* A metric's samples in one run, and those of its reference cell (the machine's state). */
struct rg_series {
    const double *x; /* NULL: the run does not have the metric */
    size_t n;
    const double *ref; /* NULL: no reference cell */
    size_t nref;
};

/*
 * rg_observe fills |o| from |s|: y and w from the metric's samples, x from
 * the reference cell's (each NAN when absent). Returns 0, or -1 when memory
 * ran out.
 */
int rg_observe(const struct rg_series *s, struct rep_run_obs *o);

/* A new metric in |r| named after pair |p| (ratio) or cell |c| (absolute); NULL: out of memory. */
struct rep_gate_metric *rg_pair_metric(struct rep_gate_result *r, const struct rep_pair *p);
struct rep_gate_metric *rg_cell_metric(struct rep_gate_result *r, const struct rep_cell *c);

/* 1 when |r| already has a metric with |key|. */
int rg_has_metric(const struct rep_gate_result *r, const char *key);

/* The pair with |key| among the |n| pairs |p|, or NULL. */
const struct rep_pair *rg_find_pair(const struct rep_pair *p, long n, const char *key);

/* The measured cell of |b| with the key and unit of |like|, or NULL. */
const struct rep_cell *rg_find_cell(const struct rep_bench *b, const struct rep_cell *like);

/* 1 when |c| is an absolute metric: measured, with a unit whose direction is known. */
int rg_absolute_cell(const struct rep_cell *c);

/*
 * The new run's ratio metrics (pairs |pn|) and absolute metrics (cells of
 * |cur|) that |r| does not have yet: added, not compared (only in new).
 * Return 0, or -1 when memory ran out.
 */
int rg_only_new_pairs(struct rep_gate_result *r, const struct rep_pair *pn, long nn);
int rg_only_new_cells(struct rep_gate_result *r, const struct rep_bench *cur);

/* Mean of |x| (n >= 1), and sample variance (n - 1 in the denominator; n >= 2). */
double rg_mean(const double *x, size_t n);
double rg_var(const double *x, size_t n);

/*
 * rg_t_judge sets m->change = exp(d) - 1, the one-sided p-values of a
 * log shift |d| with standard error |sd| under Student's t with |df| degrees
 * of freedom (only the direction when sd is 0), the (1 - alpha) t interval
 * of the change, and verdict REP_V_PASS (compared). m->higher_better must be set.
 */
void rg_t_judge(struct rep_gate_metric *m, double d, double sd, double df, double alpha);

/*
 * rg_decide applies the multiplicity correction (r->opts.correction) over the
 * metrics with verdict REP_V_PASS (compared), then sets REGRESSION or IMPROVED
 * where the adjusted p <= alpha and the change exceeds the minimum effect.
 * Returns 0, or -1 when memory ran out.
 */
int rg_decide(struct rep_gate_result *r, const struct rep_gate_opts *o);

/* rg_tally counts r's compared, regressions, improvements and not-compared metrics. */
void rg_tally(struct rep_gate_result *r);

#endif
