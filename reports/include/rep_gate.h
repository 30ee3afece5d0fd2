/*
 * rep_gate.h - the statistical regression gate (bin/cmk-gate).
 *
 * Compares a new bench.json with a baseline metric by metric. Metrics are
 * ratios measured in one run (per-round ratios of two cells of one group,
 * see rep_pairs_build), which travel between machines, and - only when both
 * files come from the same machine - the absolute figures of every cell.
 *
 * With a multi-run baseline (rep_baseline.h) the noise model has a run-level
 * component: a metric's value in a run is the median of its samples, and
 * the new run's log median is compared with the baseline runs' log medians
 * as one more draw from their distribution: a prediction interval from the
 * t distribution with R - 1 degrees of freedom (R baseline runs), widened
 * by the new run's own within-run standard error where it exceeds the
 * baseline runs'. With a single-run baseline (the old format) the test is
 * the one-sided Mann-Whitney U of new against baseline samples, which sees
 * within-run noise only.
 *
 * Either way a metric regresses when the one-sided p-value, after a
 * Holm-Bonferroni correction over all compared metrics (so that the whole
 * gate raises a false alarm with probability <= alpha), is <= alpha AND
 * the change is larger than the minimum effect.
 */
#ifndef REP_GATE_H
#define REP_GATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base_err.h"
#include "rep_baseline.h"
#include "rep_bench.h"

#define REP_GATE_SCHEMA         "cmk-harness/gate"
#define REP_GATE_SCHEMA_VERSION 1

enum rep_absolute {
    REP_ABS_AUTO = 0, /* absolute figures only when both files come from the same machine */
    REP_ABS_ON,
    REP_ABS_OFF,
};

enum rep_correction {
    REP_CORR_HOLM = 0, /* Holm-Bonferroni over the compared metrics: family-wise error <= alpha */
    REP_CORR_NONE,     /* every metric tested at alpha on its own */
};

/*
 * Default sensitivity of a ratio metric to the machine's state (see
 * rep_gate_runs_p): on the shared development machine a co-runner moved
 * raw library speeds by 20-60% and some engine/raw ratios of small units
 * by up to half as much (log scale), others not at all.
 */
#define REP_GATE_STATE_COEF 0.3

struct rep_gate_opts {
    double alpha;      /* family-wise significance level of the gate (default 0.01) */
    double min_effect; /* smallest relative change that counts (default 0.05) */
    enum rep_absolute absolute;
    enum rep_correction correction;
    size_t boot_reps;  /* bootstrap resamples (default 2000) */
    double state_coef; /* run-level model: assumed sensitivity of a ratio to the machine's state
                          (default REP_GATE_STATE_COEF; 0: ignore the state) */
    uint64_t seed;     /* bootstrap seed, mixed with each metric's key */
};

enum rep_model {
    REP_MODEL_WITHIN = 0, /* single-run baseline: Mann-Whitney on within-run samples */
    REP_MODEL_RUNS,       /* multi-run baseline: prediction interval over run medians */
    REP_MODEL_AB,         /* same-job A/B: paired t over per-round differences (rep_ab.h) */
};

enum rep_verdict {
    REP_V_PASS = 0,
    REP_V_REGRESSION,
    REP_V_IMPROVED,
    REP_V_ONLY_BASELINE, /* not compared: absent (or not measured) in the new file */
    REP_V_ONLY_NEW,      /* not compared: absent in the baseline */
};

struct rep_gate_metric {
    char name[256];
    char key[520];
    char type[24]; /* "engine/raw", "cmk/smk", "absolute" */
    char unit[16]; /* "ratio", "GB/s", "ms", ... */
    int higher_better;
    size_t n_base, n_new;
    double base_median, new_median;
    double change;       /* new_median / base_median - 1 */
    double ci_lo, ci_hi; /* interval of the change (level 1 - alpha; NAN if none): bootstrap of
                            new/base medians (within), or t interval of the shift (runs) */
    /* run-level model only (NAN otherwise); logs are natural logs of the run medians */
    size_t runs;    /* baseline runs that have the metric */
    double sd_runs; /* standard deviation of the baseline runs' log medians */
    double
        se_base; /* root mean square within-run standard error of the baseline runs' log medians */
    double se_new;      /* within-run standard error of the new run's log median */
    double state_shift; /* speed change of the reference (denominator) cell against the baseline
                           runs */
    double sd_state;    /* the machine-state part of the prediction's standard deviation */
    double sd_pred;     /* standard deviation of the prediction (log scale) */
    double df;          /* degrees of freedom of the t distribution */
    double p_worse;     /* one-sided p-value for "new is worse" */
    double p_better;
    double p_worse_adj; /* p_worse after the multiplicity correction */
    double p_better_adj;
    int exact;
    enum rep_verdict verdict;
    double *rounds; /* A/B model: per-round paired ratios new/reference (owned; NULL otherwise) */
    size_t nrounds;
};

struct rep_gate_result {
    struct rep_gate_opts opts;
    enum rep_model model;
    size_t baseline_runs;
    int absolute_used;
    char mode_reason[512];
    char notes[1024]; /* warnings about the inputs, "; "-separated */
    char baseline_path[1024], new_path[1024];
    char baseline_commit[64], new_commit[64];
    struct rep_gate_metric *m;
    size_t n, cap_m; /* metrics in m, and m's capacity */
    size_t compared, regressions, improvements, not_compared;
};

/* rep_gate_opts_default fills |o| with alpha 0.01, min effect 0.05, auto, Holm, 2000 resamples. */
void rep_gate_opts_default(struct rep_gate_opts *o);

/*
 * rep_gate_same_machine returns 1 when env.cpu_model, cpu_flags, cores and
 * kernel of both files are present and equal; otherwise 0 with the first
 * difference described in |why|.
 */
int rep_gate_same_machine(const struct rep_bench *a, const struct rep_bench *b, char *why,
                          size_t why_len);

/*
 * rep_gate_compare compares |cur| with |base| into |r| (zeroed first; free
 * with rep_gate_result_free): the run-level model when |base| has several
 * runs, the within-run test (with a warning in r->notes) when it has one.
 * Returns 0, or -1 with |err| set when nothing could be compared or memory
 * ran out.
 */
int rep_gate_compare(const struct rep_baseline *base, const struct rep_bench *cur,
                     const struct rep_gate_opts *o, struct rep_gate_result *r, struct base_err *e);

/* The note a single-run baseline adds to the result (and cmk-gate prints as a warning). */
#define REP_GATE_SINGLE_RUN_WARNING                                                             \
    "the baseline is a single run: between-run noise is not modelled (within-run Mann-Whitney " \
    "test only); record a multi-run baseline with make baseline"

/* What the run-level model sees of a metric in one run. */
struct rep_run_obs {
    double y; /* log median of the metric's samples */
    double w; /* within-run standard error of y (NAN: unknown) */
    double x; /* log median of its reference cell's samples: the machine's state (NAN: none) */
};

/*
 * rep_gate_runs_p judges |m| (with m->higher_better set) by the run-level
 * model from R >= 2 baseline runs |base| and the new run |cur|. The new
 * run's y is one more draw from the baseline runs' distribution when
 * nothing changed, so (y_new - mean y) / sd_pred follows Student's t with
 * R - 1 degrees of freedom, where
 *   sd_pred^2 = s^2 (1 + 1/R)                      s: sd of the baseline y
 *             + max(0, w_new^2 - mean w_base^2)     within-run excess
 *             + state_coef^2 max(0, dx^2 - s_x^2 (1 + 1/R))
 * dx: the reference cell's shift from the baseline mean, s_x its sd across
 * the baseline runs (only when every run has x). Sets m->change and the
 * run-level fields, p_worse, p_better and the (1 - alpha) t interval of
 * the change.
 */
void rep_gate_runs_p(struct rep_gate_metric *m, const struct rep_run_obs *base, size_t R,
                     const struct rep_run_obs *cur, double alpha, double state_coef);

/* rep_gate_result_free releases |r|'s metrics; safe on a zeroed struct. */
void rep_gate_result_free(struct rep_gate_result *r);

/*
 * rep_holm replaces the |n| p-values in |p| by Holm-Bonferroni adjusted
 * p-values (step-down, monotone, capped at 1). Returns 0 or -1 (allocation).
 */
int rep_holm(double *p, size_t n);

/* rep_verdict_name returns "pass", "REGRESSION", "improved", "only in baseline", "only in new". */
const char *rep_verdict_name(enum rep_verdict v);

/* Writers: Markdown to a stream; gate.json and JUnit XML to files. Return 0 or -1 (errno set). */
int rep_gate_write_md(FILE *f, const struct rep_gate_result *r);
int rep_gate_write_json(const char *path, const struct rep_gate_result *r);
int rep_gate_write_junit(const char *path, const struct rep_gate_result *r);

/*
 * rep_gate_main is the whole cmk-gate program with its streams passed in
 * (so tests can run it in-process). Returns the exit code: 0 no significant
 * regression, 1 a significant regression, 2 usage or input error.
 */
int rep_gate_main(int argc, char **argv, FILE *out, FILE *err);

#endif
