/*
 * rep_gate.h - the statistical regression gate (bin/cmk-gate).
 *
 * Compares a new bench.json with a baseline metric by metric. Metrics are
 * ratios measured in one run (per-round ratios of two cells of one group,
 * see rep_pairs_build), which travel between machines, and - only when both
 * files come from the same machine - the absolute figures of every cell.
 * A metric regresses when the one-sided Mann-Whitney test says the new
 * values are worse (p <= alpha after a Holm-Bonferroni correction over all
 * compared metrics, so that the whole gate raises a false alarm with
 * probability <= alpha) AND the change of the median is larger than the
 * minimum effect. A seeded bootstrap interval of the ratio of medians is
 * reported beside it.
 */
#ifndef REP_GATE_H
#define REP_GATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rep_bench.h"

#define REP_GATE_SCHEMA "cmk-harness/gate"
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

struct rep_gate_opts {
    double alpha;        /* family-wise significance level of the gate (default 0.01) */
    double min_effect;   /* smallest relative change that counts (default 0.05) */
    enum rep_absolute absolute;
    enum rep_correction correction;
    size_t boot_reps;    /* bootstrap resamples (default 2000) */
    uint64_t seed;       /* bootstrap seed, mixed with each metric's key */
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
    char type[24];     /* "engine/raw", "cmk/smk", "absolute" */
    char unit[16];     /* "ratio", "GB/s", "ms", ... */
    int higher_better;
    size_t n_base, n_new;
    double base_median, new_median;
    double change;     /* new_median / base_median - 1 */
    double ci_lo, ci_hi; /* bootstrap interval of new/base medians, minus 1 (NAN if none) */
    double p_worse;    /* one-sided p-value for "new is worse" */
    double p_better;
    double p_worse_adj;  /* p_worse after the multiplicity correction */
    double p_better_adj;
    int exact;
    enum rep_verdict verdict;
};

struct rep_gate_result {
    struct rep_gate_opts opts;
    int absolute_used;
    char mode_reason[512];
    char notes[1024];  /* warnings about the inputs, "; "-separated */
    char baseline_path[1024], new_path[1024];
    char baseline_commit[64], new_commit[64];
    struct rep_gate_metric *m;
    size_t n;
    size_t compared, regressions, improvements, not_compared;
};

/* rep_gate_opts_default fills |o| with alpha 0.01, min effect 0.05, auto, Holm, 2000 resamples. */
void rep_gate_opts_default(struct rep_gate_opts *o);

/*
 * rep_gate_same_machine returns 1 when env.cpu_model, cpu_flags, cores and
 * kernel of both files are present and equal; otherwise 0 with the first
 * difference described in |why|.
 */
int rep_gate_same_machine(const struct rep_bench *a, const struct rep_bench *b, char *why, size_t why_len);

/*
 * rep_gate_compare compares |cur| with |base| into |r| (zeroed first; free
 * with rep_gate_result_free). Returns 0, or -1 with |err| set when nothing
 * could be compared or memory ran out.
 */
int rep_gate_compare(const struct rep_bench *base, const struct rep_bench *cur,
                     const struct rep_gate_opts *o, struct rep_gate_result *r, char *err, size_t err_len);

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
