/*
 * rep_gate_write.c - the gate's verdicts as Markdown, gate.json and JUnit XML
 * (see rep_gate.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rep_gate.h"
#include "rep_junit.h"
#include "rep_stats.h"

const char *rep_verdict_name(enum rep_verdict v)
{
    switch (v) {
        case REP_V_PASS:
            return "pass";
        case REP_V_REGRESSION:
            return "REGRESSION";
        case REP_V_IMPROVED:
            return "improved";
        case REP_V_ONLY_BASELINE:
            return "only in baseline";
        case REP_V_ONLY_NEW:
            return "only in new";
        default:
            return "?";
    }
}

static void fmt_value(char *out, size_t out_len, double v, const char *unit)
{
    if (isnan(v)) {
        snprintf(out, out_len, "-");
    } else if (strcmp(unit, "ratio") == 0) {
        snprintf(out, out_len, "%.3f", v);
    } else {
        snprintf(out, out_len, "%.3g %s", v, unit);
    }
}

static void fmt_pct(char *out, size_t out_len, double v)
{
    if (isnan(v)) {
        snprintf(out, out_len, "-");
    } else {
        snprintf(out, out_len, "%+.1f%%", v * 100);
    }
}

static void fmt_p(char *out, size_t out_len, double p, int exact)
{
    if (isnan(p)) {
        snprintf(out, out_len, "-");
    } else {
        snprintf(out, out_len, "%.2g%s", p, exact ? "" : " (normal)");
    }
}

/* Markdown-safe copy: '|' escaped, newlines flattened. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '|') {
            fputs("\\|", f);
        } else if (*s == '\n' || *s == '\r') {
            fputc(' ', f);
        } else {
            fputc(*s, f);
        }
    }
}

/* One line that says how the gate decided (Markdown and gate.json). */
static void test_text(char *out, size_t out_len, const struct rep_gate_result *r)
{
    const struct rep_gate_opts *o = &r->opts;
    const char *corr = o->correction == REP_CORR_HOLM
                           ? "p adjusted with Holm-Bonferroni over the compared metrics"
                           : "p not adjusted for the number of metrics";
    if (r->model == REP_MODEL_AB) {
        snprintf(
            out, out_len,
            "same-job A/B: the reference and the new build measured in %zu interleaved rounds; a "
            "metric's "
            "value in a run is the log median of its samples (per-round ratios for ratio metrics), "
            "and "
            "the new run's minus the reference run's of the same round is one paired difference; "
            "one-sided paired t test of their mean, t distribution with rounds - 1 degrees of "
            "freedom; "
            "%s, alpha %g; a regression needs p <= alpha AND a change larger than %g%%; interval: "
            "%g%% t "
            "interval of the change",
            r->baseline_runs, corr, o->alpha, o->min_effect * 100, (1 - o->alpha) * 100);
    } else if (r->model == REP_MODEL_RUNS) {
        snprintf(
            out, out_len,
            "run-level prediction interval: a metric's value in a run is the median of its samples "
            "(per-round ratios for ratio metrics); the new run's log median is compared with the "
            "mean "
            "of the %zu baseline runs' log medians, one-sided, t distribution with R - 1 degrees "
            "of "
            "freedom, variance sd_runs^2 (1 + 1/R) plus what the new run's within-run variance "
            "exceeds "
            "the baseline runs' by, plus (%g x the reference cell's speed shift beyond the "
            "baseline "
            "runs' spread)^2 for the machine's state; %s, alpha %g; a regression needs p <= alpha "
            "AND a "
            "change larger than %g%%; interval: %g%% t interval of the change",
            r->baseline_runs, o->state_coef, corr, o->alpha, o->min_effect * 100,
            (1 - o->alpha) * 100);
    } else {
        snprintf(
            out, out_len,
            "one-sided Mann-Whitney U on the samples (per-round ratios for ratio metrics; exact up "
            "to %d "
            "per side), %s, alpha %g; a regression needs p <= alpha AND a change larger than %g%%; "
            "interval: %g%% percentile bootstrap of new/base medians (%zu resamples, fixed seed)",
            REP_MWU_EXACT_MAX, corr, o->alpha, o->min_effect * 100, (1 - o->alpha) * 100,
            o->boot_reps);
    }
}

int rep_gate_write_md(FILE *f, const struct rep_gate_result *r)
{
    const struct rep_gate_opts *o = &r->opts;
    int runs = r->model == REP_MODEL_RUNS, ab = r->model == REP_MODEL_AB;
    char test[1200];
    test_text(test, sizeof(test), r);
    fprintf(f, "## Regression gate\n\n");
    if (r->model == REP_MODEL_AB) {
        fprintf(f, "- reference: commit %s (%zu rounds, first `%s`)\n",
                r->baseline_commit[0] ? r->baseline_commit : "unknown", r->baseline_runs,
                r->baseline_path);
    } else if (runs) {
        fprintf(f, "- baseline: `%s` (%zu runs; first run's commit %s)\n", r->baseline_path,
                r->baseline_runs, r->baseline_commit[0] ? r->baseline_commit : "unknown");
    } else {
        fprintf(f, "- baseline: `%s` (commit %s)\n", r->baseline_path,
                r->baseline_commit[0] ? r->baseline_commit : "unknown");
    }
    fprintf(f, "- new: `%s` (commit %s)\n", r->new_path,
            r->new_commit[0] ? r->new_commit : "unknown");
    fprintf(f, "- mode: %s\n", r->mode_reason);
    fprintf(f, "- test: %s\n", test);
    if (r->notes[0] != '\0') {
        fprintf(f, "- notes: ");
        md_cell(f, r->notes);
        fprintf(f, "\n");
    }
    if (ab) {
        fprintf(f,
                "\n| metric | kind | reference (geometric mean of rounds) | new | change | %g%% CI "
                "of change "
                "| sd of paired differences | p (worse) | %s | verdict |\n",
                (1 - o->alpha) * 100,
                o->correction == REP_CORR_HOLM ? "p (Holm)" : "p (unadjusted)");
        fprintf(f, "|---|---|---:|---:|---:|---|---:|---:|---:|---|\n");
    } else if (runs) {
        fprintf(f,
                "\n| metric | kind | baseline (mean of runs) | new | change | %g%% CI of change | "
                "sd between runs "
                "| machine shift | p (worse) | %s | verdict |\n",
                (1 - o->alpha) * 100,
                o->correction == REP_CORR_HOLM ? "p (Holm)" : "p (unadjusted)");
        fprintf(f, "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|\n");
    } else {
        fprintf(f,
                "\n| metric | kind | baseline | new | change | %g%% CI of change | p (worse) | %s "
                "| verdict |\n",
                (1 - o->alpha) * 100,
                o->correction == REP_CORR_HOLM ? "p (Holm)" : "p (unadjusted)");
        fprintf(f, "|---|---|---:|---:|---:|---|---:|---:|---|\n");
    }
    for (size_t i = 0; i < r->n; i++) {
        const struct rep_gate_metric *m = &r->m[i];
        char b[48], n[48], c[24], lo[24], hi[24], p[32], pa[32], ci[64], sd[48];
        fmt_value(b, sizeof(b), m->base_median, m->unit);
        fmt_value(n, sizeof(n), m->new_median, m->unit);
        fmt_pct(c, sizeof(c), m->change);
        fmt_pct(lo, sizeof(lo), m->ci_lo);
        fmt_pct(hi, sizeof(hi), m->ci_hi);
        fmt_p(p, sizeof(p), m->p_worse, m->exact);
        fmt_p(pa, sizeof(pa), m->p_worse_adj, 1);
        if (isnan(m->ci_lo)) {
            snprintf(ci, sizeof(ci), "-");
        } else {
            snprintf(ci, sizeof(ci), "[%s, %s]", lo, hi);
        }
        fprintf(f, "| ");
        md_cell(f, m->name);
        fprintf(f, " | %s | %s | %s | %s | %s | ", m->type, b, n, c, ci);
        if (ab) {
            if (isnan(m->sd_runs)) {
                fprintf(f, "- | ");
            } else {
                fprintf(f, "%.1f%% (%zu rounds) | ", m->sd_runs * 100, m->runs);
            }
        } else if (runs) {
            if (isnan(m->sd_runs)) {
                snprintf(sd, sizeof(sd), "-");
            } else {
                snprintf(sd, sizeof(sd), "%.1f%% (%zu runs)", m->sd_runs * 100, m->runs);
            }
            char sh[24];
            fmt_pct(sh, sizeof(sh), m->state_shift);
            fprintf(f, "%s | %s | ", sd, sh);
        }
        fprintf(f, "%s | %s | %s%s%s |\n", p, pa, m->verdict == REP_V_REGRESSION ? "**" : "",
                rep_verdict_name(m->verdict), m->verdict == REP_V_REGRESSION ? "**" : "");
    }
    fprintf(f,
            "\n**Verdict: %s** - %zu metrics compared, %zu regressions, %zu improved, %zu not "
            "compared\n",
            r->regressions > 0 ? "REGRESSION" : "PASS", r->compared, r->regressions,
            r->improvements, r->not_compared);
    if (r->regressions > 0) {
        fprintf(f, "\nRegressions:\n");
        for (size_t i = 0; i < r->n; i++) {
            const struct rep_gate_metric *m = &r->m[i];
            if (m->verdict == REP_V_REGRESSION) {
                fprintf(f, "- ");
                md_cell(f, m->name);
                fprintf(f, ": %+.1f%% (p %.2g, adjusted %.2g", m->change * 100, m->p_worse,
                        m->p_worse_adj);
                if (ab) {
                    fprintf(f, "; sd of paired differences %.1f%% over %zu rounds",
                            m->sd_runs * 100, m->runs);
                } else if (runs) {
                    fprintf(f,
                            "; sd between runs %.1f%%, within-run se %.1f%% new, %.1f%% baseline",
                            m->sd_runs * 100, m->se_new * 100, m->se_base * 100);
                }
                fprintf(f, ")\n");
            }
        }
    }
    return ferror(f) ? -1 : 0;
}

static cJSON *num_or_null(double v)
{
    return isnan(v) || isinf(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

int rep_gate_write_json(const char *path, const struct rep_gate_result *r)
{
    cJSON *root = cJSON_CreateObject();
    if (root == NULL) {
        errno = ENOMEM;
        return -1;
    }
    cJSON_AddStringToObject(root, "schema", REP_GATE_SCHEMA);
    cJSON_AddNumberToObject(root, "schema_version", REP_GATE_SCHEMA_VERSION);
    cJSON_AddStringToObject(root, "verdict", r->regressions > 0 ? "regression" : "pass");
    cJSON_AddStringToObject(root, "baseline", r->baseline_path);
    cJSON_AddStringToObject(root, "new", r->new_path);
    cJSON_AddStringToObject(root, "baseline_commit", r->baseline_commit);
    cJSON_AddStringToObject(root, "new_commit", r->new_commit);
    cJSON_AddNumberToObject(root, "alpha", r->opts.alpha);
    cJSON_AddNumberToObject(root, "min_effect", r->opts.min_effect);
    cJSON_AddNumberToObject(root, "bootstrap_resamples", (double)r->opts.boot_reps);
    char test[1200];
    test_text(test, sizeof(test), r);
    cJSON_AddStringToObject(root, "test", test);
    cJSON_AddStringToObject(root, "model",
                            r->model == REP_MODEL_AB     ? "ab"
                            : r->model == REP_MODEL_RUNS ? "runs"
                                                         : "within");
    cJSON_AddNumberToObject(root, "baseline_runs", (double)r->baseline_runs);
    if (r->model == REP_MODEL_RUNS) {
        cJSON_AddNumberToObject(root, "state_coef", r->opts.state_coef);
    }
    cJSON_AddStringToObject(root, "correction",
                            r->opts.correction == REP_CORR_HOLM ? "holm" : "none");
    cJSON_AddBoolToObject(root, "absolute_gated", r->absolute_used);
    cJSON_AddStringToObject(root, "mode", r->mode_reason);
    cJSON_AddStringToObject(root, "notes", r->notes);
    cJSON_AddNumberToObject(root, "compared", (double)r->compared);
    cJSON_AddNumberToObject(root, "regressions", (double)r->regressions);
    cJSON_AddNumberToObject(root, "improvements", (double)r->improvements);
    cJSON_AddNumberToObject(root, "not_compared", (double)r->not_compared);
    cJSON *arr = cJSON_AddArrayToObject(root, "metrics");
    for (size_t i = 0; i < r->n; i++) {
        const struct rep_gate_metric *m = &r->m[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", m->name);
        cJSON_AddStringToObject(o, "key", m->key);
        cJSON_AddStringToObject(o, "type", m->type);
        cJSON_AddStringToObject(o, "unit", m->unit);
        cJSON_AddBoolToObject(o, "higher_is_better", m->higher_better);
        cJSON_AddNumberToObject(o, "n_baseline", (double)m->n_base);
        cJSON_AddNumberToObject(o, "n_new", (double)m->n_new);
        cJSON_AddItemToObject(o, "baseline_median", num_or_null(m->base_median));
        cJSON_AddItemToObject(o, "new_median", num_or_null(m->new_median));
        cJSON_AddItemToObject(o, "change", num_or_null(m->change));
        cJSON_AddItemToObject(o, "ci_low", num_or_null(m->ci_lo));
        cJSON_AddItemToObject(o, "ci_high", num_or_null(m->ci_hi));
        cJSON_AddItemToObject(o, "p_worse", num_or_null(m->p_worse));
        cJSON_AddItemToObject(o, "p_better", num_or_null(m->p_better));
        cJSON_AddItemToObject(o, "p_worse_adjusted", num_or_null(m->p_worse_adj));
        cJSON_AddBoolToObject(o, "exact", m->exact);
        if (r->model == REP_MODEL_RUNS) {
            cJSON_AddNumberToObject(o, "baseline_runs", (double)m->runs);
            cJSON_AddItemToObject(o, "sd_between_runs", num_or_null(m->sd_runs));
            cJSON_AddItemToObject(o, "se_within_baseline", num_or_null(m->se_base));
            cJSON_AddItemToObject(o, "se_within_new", num_or_null(m->se_new));
            cJSON_AddItemToObject(o, "machine_shift", num_or_null(m->state_shift));
            cJSON_AddItemToObject(o, "sd_machine_state", num_or_null(m->sd_state));
            cJSON_AddItemToObject(o, "sd_prediction", num_or_null(m->sd_pred));
            cJSON_AddItemToObject(o, "df", num_or_null(m->df));
        }
        if (r->model == REP_MODEL_AB) {
            cJSON_AddNumberToObject(o, "rounds", (double)m->runs);
            cJSON_AddItemToObject(o, "sd_paired_differences", num_or_null(m->sd_runs));
            cJSON *rr = cJSON_AddArrayToObject(o, "round_ratios");
            for (size_t k = 0; rr != NULL && k < m->nrounds; k++) {
                cJSON_AddItemToArray(rr, num_or_null(m->rounds[k]));
            }
        }
        cJSON_AddStringToObject(o, "verdict", rep_verdict_name(m->verdict));
        cJSON_AddItemToArray(arr, o);
    }
    return rep_json_save(path, root);
}

int rep_gate_write_junit(const char *path, const struct rep_gate_result *r)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    /* the per-metric lines go to the suite's system-out: the schema has no per-case output */
    char *text = NULL;
    size_t text_len = 0;
    FILE *out = open_memstream(&text, &text_len);
    if (out == NULL) {
        fclose(f);
        return -1;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    if (r->n > 0) {
        struct rep_junit_suite suite = {"cmk-gate", "cmk-harness.gate", 0, r->n, r->regressions,
                                        0,          r->not_compared,    0};
        rep_junit_suite_open(f, 2, &suite);
        fprintf(f, "    <properties>\n      <property name=\"mode\" value=\"");
        rep_fput_xml(f, r->mode_reason);
        fprintf(f, "\"/>\n      <property name=\"alpha\" value=\"%g\"/>\n", r->opts.alpha);
        fprintf(f, "      <property name=\"min_effect\" value=\"%g\"/>\n    </properties>\n",
                r->opts.min_effect);
    }
    for (size_t i = 0; i < r->n; i++) {
        const struct rep_gate_metric *m = &r->m[i];
        fprintf(f, "    <testcase classname=\"gate.%s\" name=\"",
                strcmp(m->type, "absolute") == 0 ? "absolute" : "ratio");
        rep_fput_xml(f, m->name);
        fprintf(f, "\" time=\"0\">");
        if (m->verdict == REP_V_REGRESSION) {
            fprintf(
                f,
                "\n      <failure type=\"regression\" message=\"change %+.1f%%, p %.2g, adjusted "
                "%.2g (alpha %g, minimum effect %g%%)\">",
                m->change * 100, m->p_worse, m->p_worse_adj, r->opts.alpha,
                r->opts.min_effect * 100);
            if (r->model == REP_MODEL_AB) {
                fprintf(f, "reference %.6g, new %.6g (geometric means of %zu paired rounds), ",
                        m->base_median, m->new_median, m->runs);
            } else if (r->model == REP_MODEL_RUNS) {
                fprintf(f,
                        "baseline %.6g (mean of %zu run medians, sd between runs %.1f%%), new "
                        "median %.6g, ",
                        m->base_median, m->runs, m->sd_runs * 100, m->new_median);
            } else {
                fprintf(f, "baseline median %.6g, new median %.6g, ", m->base_median,
                        m->new_median);
            }
            fprintf(f, "%g%% CI of change [%+.1f%%, %+.1f%%], %zu vs %zu samples",
                    (1 - r->opts.alpha) * 100, m->ci_lo * 100, m->ci_hi * 100, m->n_base, m->n_new);
            fprintf(f, "</failure>\n    ");
        } else if (m->verdict == REP_V_ONLY_BASELINE || m->verdict == REP_V_ONLY_NEW) {
            fprintf(f, "<skipped message=\"%s\"/>", rep_verdict_name(m->verdict));
        }
        fprintf(f, "</testcase>\n");
        if (m->verdict != REP_V_ONLY_BASELINE && m->verdict != REP_V_ONLY_NEW) {
            fprintf(out, "%s: change %+.1f%%, p %.2g, %s\n", m->name, m->change * 100, m->p_worse,
                    rep_verdict_name(m->verdict));
        }
    }
    fclose(out);
    if (r->n > 0) {
        rep_junit_suite_close(f, 2, text);
    }
    free(text);
    fprintf(f, "</testsuites>\n");
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0) {
        rc = -1;
    }
    return rc;
}
