/*
 * rep_gate.c - compare a new bench.json with a baseline, metric by metric,
 * and write the verdicts as Markdown, gate.json and JUnit XML.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rep_gate.h"
#include "rep_stats.h"

void rep_gate_opts_default(struct rep_gate_opts *o)
{
    o->alpha = 0.01;
    o->min_effect = 0.05;
    o->absolute = REP_ABS_AUTO;
    o->correction = REP_CORR_HOLM;
    o->boot_reps = 2000;
    o->seed = 0x636d6b2d67617465ULL; /* "cmk-gate" */
}

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

static void append_note(struct rep_gate_result *r, const char *text)
{
    size_t len = strlen(r->notes);
    if (len > 0 && len + 2 < sizeof(r->notes)) {
        snprintf(r->notes + len, sizeof(r->notes) - len, "; ");
        len += 2;
    }
    if (len < sizeof(r->notes)) {
        snprintf(r->notes + len, sizeof(r->notes) - len, "%s", text);
    }
}

int rep_gate_same_machine(const struct rep_bench *a, const struct rep_bench *b, char *why, size_t why_len)
{
    static const char *const fields[] = {"cpu_model", "cpu_flags", "kernel"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *x = rep_env_str(a, fields[i]), *y = rep_env_str(b, fields[i]);
        if (x[0] == '\0' || y[0] == '\0') {
            snprintf(why, why_len, "env.%s is missing", fields[i]);
            return 0;
        }
        if (strcmp(x, y) != 0) {
            snprintf(why, why_len, "env.%s differs: '%s' vs '%s'", fields[i], x, y);
            return 0;
        }
    }
    double ca = rep_env_num(a, "cores"), cb = rep_env_num(b, "cores");
    if (isnan(ca) || isnan(cb)) {
        snprintf(why, why_len, "env.cores is missing");
        return 0;
    }
    if (ca != cb) {
        snprintf(why, why_len, "env.cores differs: %.0f vs %.0f", ca, cb);
        return 0;
    }
    snprintf(why, why_len, "env.cpu_model, cpu_flags, cores and kernel match");
    return 1;
}

/* Direction of an absolute unit: 1 higher is better, -1 lower is better, 0 unknown. */
static int unit_direction(const char *unit)
{
    static const char *const up[] = {"GB/s", "MB/s", "GiB/s", "MiB/s", "ops/s", "op/s"};
    static const char *const down[] = {"ns", "us", "\xc2\xb5s", "ms", "s"};
    for (size_t i = 0; i < sizeof(up) / sizeof(up[0]); i++) {
        if (strcmp(unit, up[i]) == 0) {
            return 1;
        }
    }
    for (size_t i = 0; i < sizeof(down) / sizeof(down[0]); i++) {
        if (strcmp(unit, down[i]) == 0) {
            return -1;
        }
    }
    return 0;
}

static struct rep_gate_metric *add_metric(struct rep_gate_result *r)
{
    struct rep_gate_metric *nm = realloc(r->m, (r->n + 1) * sizeof(*nm));
    if (nm == NULL) {
        return NULL;
    }
    r->m = nm;
    struct rep_gate_metric *m = &r->m[r->n++];
    memset(m, 0, sizeof(*m));
    m->base_median = m->new_median = m->change = NAN;
    m->ci_lo = m->ci_hi = m->p_worse = m->p_better = m->p_worse_adj = m->p_better_adj = NAN;
    return m;
}

/* The statistics and the verdict of one compared metric. */
static int judge(struct rep_gate_metric *m, const double *base, size_t nb, const double *cur,
                 size_t nn, const struct rep_gate_opts *o)
{
    m->n_base = nb;
    m->n_new = nn;
    m->base_median = rep_median(base, nb);
    m->new_median = rep_median(cur, nn);
    m->change = m->new_median / m->base_median - 1;
    struct rep_mwu t;
    if (rep_mann_whitney(cur, nn, base, nb, &t) != 0) {
        return -1;
    }
    m->exact = t.exact;
    m->p_worse = m->higher_better ? t.p_less : t.p_greater;
    m->p_better = m->higher_better ? t.p_greater : t.p_less;
    m->verdict = REP_V_PASS; /* compared; decide() sets the final verdict */
    double lo, hi;
    if (rep_bootstrap_ratio(cur, nn, base, nb, o->boot_reps, 1 - o->alpha, o->seed ^ rep_hash64(m->key),
                            &lo, &hi) == 0) {
        m->ci_lo = lo - 1;
        m->ci_hi = hi - 1;
    }
    return 0;
}

struct pidx {
    double p;
    size_t i;
};

static int cmp_pidx(const void *a, const void *b)
{
    double x = ((const struct pidx *)a)->p, y = ((const struct pidx *)b)->p;
    return (x > y) - (x < y);
}

int rep_holm(double *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    struct pidx *v = malloc(n * sizeof(*v));
    if (v == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = (struct pidx){p[i], i};
    }
    qsort(v, n, sizeof(*v), cmp_pidx);
    double run = 0;
    for (size_t k = 0; k < n; k++) {
        double adj = (double)(n - k) * v[k].p;
        run = adj > run ? adj : run; /* monotone step-down */
        p[v[k].i] = run < 1 ? run : 1;
    }
    free(v);
    return 0;
}

/* Multiplicity correction over the compared metrics, then the verdicts. */
static int decide(struct rep_gate_result *r, const struct rep_gate_opts *o)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        n += r->m[i].verdict == REP_V_PASS;
    }
    double *pw = malloc((n + 1) * sizeof(double)), *pb = malloc((n + 1) * sizeof(double));
    if (pw == NULL || pb == NULL) {
        free(pw);
        free(pb);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->m[i].verdict == REP_V_PASS) {
            pw[k] = r->m[i].p_worse;
            pb[k++] = r->m[i].p_better;
        }
    }
    if (o->correction == REP_CORR_HOLM && (rep_holm(pw, n) != 0 || rep_holm(pb, n) != 0)) {
        free(pw);
        free(pb);
        return -1;
    }
    k = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct rep_gate_metric *m = &r->m[i];
        if (m->verdict != REP_V_PASS) {
            continue;
        }
        m->p_worse_adj = pw[k];
        m->p_better_adj = pb[k++];
        double worse = m->higher_better ? -m->change : m->change;
        if (m->p_worse_adj <= o->alpha && worse > o->min_effect) {
            m->verdict = REP_V_REGRESSION;
        } else if (m->p_better_adj <= o->alpha && -worse > o->min_effect) {
            m->verdict = REP_V_IMPROVED;
        }
    }
    free(pw);
    free(pb);
    return 0;
}

static int compare_ratios(const struct rep_bench *base, const struct rep_bench *cur,
                          const struct rep_gate_opts *o, struct rep_gate_result *r)
{
    struct rep_pair *pb = NULL, *pn = NULL;
    long nb = rep_pairs_build(base, &pb);
    long nn = rep_pairs_build(cur, &pn);
    int rc = -1;
    if (nb < 0 || nn < 0) {
        goto out;
    }
    for (long i = 0; i < nb; i++) {
        struct rep_gate_metric *m = add_metric(r);
        if (m == NULL) {
            goto out;
        }
        snprintf(m->name, sizeof(m->name), "%s", pb[i].name);
        snprintf(m->key, sizeof(m->key), "%s", pb[i].key);
        snprintf(m->type, sizeof(m->type), "%s", pb[i].type);
        snprintf(m->unit, sizeof(m->unit), "ratio");
        m->higher_better = 1;
        m->verdict = REP_V_ONLY_BASELINE;
        for (long j = 0; j < nn; j++) {
            if (strcmp(pn[j].key, pb[i].key) == 0 && pn[j].n > 0 && pb[i].n > 0) {
                if (judge(m, pb[i].ratios, pb[i].n, pn[j].ratios, pn[j].n, o) != 0) {
                    goto out;
                }
                break;
            }
        }
        if (m->verdict == REP_V_ONLY_BASELINE) {
            m->n_base = pb[i].n;
            m->base_median = rep_median(pb[i].ratios, pb[i].n);
        }
    }
    for (long j = 0; j < nn; j++) {
        int found = 0;
        for (long i = 0; i < nb && !found; i++) {
            found = strcmp(pn[j].key, pb[i].key) == 0;
        }
        if (found) {
            continue;
        }
        struct rep_gate_metric *m = add_metric(r);
        if (m == NULL) {
            goto out;
        }
        snprintf(m->name, sizeof(m->name), "%s", pn[j].name);
        snprintf(m->key, sizeof(m->key), "%s", pn[j].key);
        snprintf(m->type, sizeof(m->type), "%s", pn[j].type);
        snprintf(m->unit, sizeof(m->unit), "ratio");
        m->higher_better = 1;
        m->n_new = pn[j].n;
        m->new_median = rep_median(pn[j].ratios, pn[j].n);
        m->verdict = REP_V_ONLY_NEW;
    }
    rc = 0;
out:
    rep_pairs_free(pb, nb > 0 ? (size_t)nb : 0);
    rep_pairs_free(pn, nn > 0 ? (size_t)nn : 0);
    return rc;
}

static void cell_name(const struct rep_cell *c, char *out, size_t out_len)
{
    char u[24], extra[64] = "";
    rep_unit_str(u, sizeof(u), c->unit_bytes);
    if (c->threads != 1) {
        snprintf(extra, sizeof(extra), ", %ld threads", c->threads);
    }
    if (c->label[0] != '\0') {
        snprintf(out, out_len, "%s, %s %s%s%s%s", c->label, u, c->direction, extra,
                 strcmp(c->keys, "none") != 0 ? ", keys " : "", strcmp(c->keys, "none") != 0 ? c->keys : "");
    } else {
        snprintf(out, out_len, "%s %s %s/%s, %s %s%s", c->kind, c->mode, c->backend, c->arch, u,
                 c->direction, extra);
    }
}

static int compare_absolute(const struct rep_bench *base, const struct rep_bench *cur,
                            const struct rep_gate_opts *o, struct rep_gate_result *r)
{
    for (size_t i = 0; i < base->ncells; i++) {
        const struct rep_cell *b = &base->cells[i];
        int dir = unit_direction(b->unit);
        if (!rep_cell_measured(b) || dir == 0) {
            continue;
        }
        struct rep_gate_metric *m = add_metric(r);
        if (m == NULL) {
            return -1;
        }
        cell_name(b, m->name, sizeof(m->name));
        snprintf(m->key, sizeof(m->key), "%s", b->key);
        snprintf(m->type, sizeof(m->type), "absolute");
        snprintf(m->unit, sizeof(m->unit), "%s", b->unit);
        m->higher_better = dir > 0;
        m->verdict = REP_V_ONLY_BASELINE;
        m->n_base = b->nsamples;
        m->base_median = rep_median(b->samples, b->nsamples);
        for (size_t j = 0; j < cur->ncells; j++) {
            const struct rep_cell *c = &cur->cells[j];
            if (strcmp(c->key, b->key) == 0 && rep_cell_measured(c) && strcmp(c->unit, b->unit) == 0) {
                if (judge(m, b->samples, b->nsamples, c->samples, c->nsamples, o) != 0) {
                    return -1;
                }
                break;
            }
        }
    }
    for (size_t j = 0; j < cur->ncells; j++) {
        const struct rep_cell *c = &cur->cells[j];
        if (!rep_cell_measured(c) || unit_direction(c->unit) == 0) {
            continue;
        }
        int found = 0;
        for (size_t i = 0; i < base->ncells && !found; i++) {
            found = strcmp(c->key, base->cells[i].key) == 0 && rep_cell_measured(&base->cells[i]);
        }
        if (found) {
            continue;
        }
        struct rep_gate_metric *m = add_metric(r);
        if (m == NULL) {
            return -1;
        }
        cell_name(c, m->name, sizeof(m->name));
        snprintf(m->key, sizeof(m->key), "%s", c->key);
        snprintf(m->type, sizeof(m->type), "absolute");
        snprintf(m->unit, sizeof(m->unit), "%s", c->unit);
        m->higher_better = unit_direction(c->unit) > 0;
        m->n_new = c->nsamples;
        m->new_median = rep_median(c->samples, c->nsamples);
        m->verdict = REP_V_ONLY_NEW;
    }
    return 0;
}

void rep_gate_result_free(struct rep_gate_result *r)
{
    if (r != NULL) {
        free(r->m);
        memset(r, 0, sizeof(*r));
    }
}

static void env_notes(const struct rep_bench *base, const struct rep_bench *cur, struct rep_gate_result *r)
{
    const char *sb = rep_env_str(base, "ENG_TEST_SLOWDOWN"), *sn = rep_env_str(cur, "ENG_TEST_SLOWDOWN");
    char what[400];
    if (sb[0] != '\0') {
        snprintf(what, sizeof(what), "the baseline was measured with ENG_TEST_SLOWDOWN=%s: it is not a valid baseline", sb);
        append_note(r, what);
    }
    if (sn[0] != '\0') {
        snprintf(what, sizeof(what), "the new run was measured with ENG_TEST_SLOWDOWN=%s (a test-only slowdown)", sn);
        append_note(r, what);
    }
    static const char *const same[] = {"profile", "ENG_ARCH", "ENG_BACKEND"};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        const char *x = rep_env_str(base, same[i]), *y = rep_env_str(cur, same[i]);
        if (strcmp(x, y) != 0) {
            snprintf(what, sizeof(what), "env.%s differs: baseline '%s', new '%s'", same[i], x, y);
            append_note(r, what);
        }
    }
}

int rep_gate_compare(const struct rep_bench *base, const struct rep_bench *cur,
                     const struct rep_gate_opts *o, struct rep_gate_result *r, char *err, size_t err_len)
{
    memset(r, 0, sizeof(*r));
    r->opts = *o;
    snprintf(r->baseline_path, sizeof(r->baseline_path), "%s", base->path);
    snprintf(r->new_path, sizeof(r->new_path), "%s", cur->path);
    snprintf(r->baseline_commit, sizeof(r->baseline_commit), "%s", rep_env_str(base, "git_commit"));
    snprintf(r->new_commit, sizeof(r->new_commit), "%s", rep_env_str(cur, "git_commit"));
    char why[400];
    int same = rep_gate_same_machine(base, cur, why, sizeof(why));
    switch (o->absolute) {
        case REP_ABS_ON:
            r->absolute_used = 1;
            snprintf(r->mode_reason, sizeof(r->mode_reason),
                     "ratios + absolute figures: forced by --absolute on (%s %s)",
                     same ? "same machine:" : "not the same machine:", why);
            break;
        case REP_ABS_OFF:
            r->absolute_used = 0;
            snprintf(r->mode_reason, sizeof(r->mode_reason), "ratios only: forced by --absolute off (%s %s)",
                     same ? "same machine:" : "not the same machine:", why);
            break;
        case REP_ABS_AUTO:
        default:
            r->absolute_used = same;
            snprintf(r->mode_reason, sizeof(r->mode_reason), "%s: %s",
                     same ? "ratios + absolute figures, same machine" : "ratios only, not the same machine",
                     why);
            break;
    }
    env_notes(base, cur, r);
    if (compare_ratios(base, cur, o, r) != 0 || (r->absolute_used && compare_absolute(base, cur, o, r) != 0) ||
        decide(r, o) != 0) {
        snprintf(err, err_len, "out of memory");
        rep_gate_result_free(r);
        return -1;
    }
    for (size_t i = 0; i < r->n; i++) {
        switch (r->m[i].verdict) {
            case REP_V_REGRESSION:
                r->regressions++;
                r->compared++;
                break;
            case REP_V_IMPROVED:
                r->improvements++;
                r->compared++;
                break;
            case REP_V_PASS:
                r->compared++;
                break;
            default:
                r->not_compared++;
                break;
        }
    }
    if (r->compared == 0) {
        snprintf(err, err_len, "no metric in common between %s and %s (%zu metrics not comparable)",
                 base->path, cur->path, r->not_compared);
        rep_gate_result_free(r);
        return -1;
    }
    return 0;
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

int rep_gate_write_md(FILE *f, const struct rep_gate_result *r)
{
    const struct rep_gate_opts *o = &r->opts;
    fprintf(f, "## Regression gate\n\n");
    fprintf(f, "- baseline: `%s` (commit %s)\n", r->baseline_path, r->baseline_commit[0] ? r->baseline_commit : "unknown");
    fprintf(f, "- new: `%s` (commit %s)\n", r->new_path, r->new_commit[0] ? r->new_commit : "unknown");
    fprintf(f, "- mode: %s\n", r->mode_reason);
    fprintf(f,
            "- test: one-sided Mann-Whitney U on the samples (per-round ratios for ratio metrics; exact "
            "up to %d per side), %s, alpha %g; a regression needs p <= alpha AND a change larger than %g%%; "
            "interval: %g%% percentile bootstrap of new/base medians (%zu resamples, fixed seed)\n",
            REP_MWU_EXACT_MAX,
            o->correction == REP_CORR_HOLM ? "p adjusted with Holm-Bonferroni over the compared metrics"
                                           : "p not adjusted for the number of metrics",
            o->alpha, o->min_effect * 100, (1 - o->alpha) * 100, o->boot_reps);
    if (r->notes[0] != '\0') {
        fprintf(f, "- notes: ");
        md_cell(f, r->notes);
        fprintf(f, "\n");
    }
    fprintf(f, "\n| metric | kind | baseline | new | change | %g%% CI of change | p (worse) | %s | verdict |\n",
            (1 - o->alpha) * 100, o->correction == REP_CORR_HOLM ? "p (Holm)" : "p (unadjusted)");
    fprintf(f, "|---|---|---:|---:|---:|---|---:|---:|---|\n");
    for (size_t i = 0; i < r->n; i++) {
        const struct rep_gate_metric *m = &r->m[i];
        char b[48], n[48], c[24], lo[24], hi[24], p[32], pa[32], ci[64];
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
        fprintf(f, " | %s | %s | %s | %s | %s | %s | %s | %s%s%s |\n", m->type, b, n, c, ci, p, pa,
                m->verdict == REP_V_REGRESSION ? "**" : "", rep_verdict_name(m->verdict),
                m->verdict == REP_V_REGRESSION ? "**" : "");
    }
    fprintf(f, "\n**Verdict: %s** - %zu metrics compared, %zu regressions, %zu improved, %zu not compared\n",
            r->regressions > 0 ? "REGRESSION" : "PASS", r->compared, r->regressions, r->improvements,
            r->not_compared);
    if (r->regressions > 0) {
        fprintf(f, "\nRegressions:\n");
        for (size_t i = 0; i < r->n; i++) {
            const struct rep_gate_metric *m = &r->m[i];
            if (m->verdict == REP_V_REGRESSION) {
                fprintf(f, "- ");
                md_cell(f, m->name);
                fprintf(f, ": %+.1f%% (p %.2g, adjusted %.2g)\n", m->change * 100, m->p_worse, m->p_worse_adj);
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
    cJSON_AddStringToObject(root, "test", "one-sided Mann-Whitney U; percentile bootstrap of new/base medians");
    cJSON_AddStringToObject(root, "correction", r->opts.correction == REP_CORR_HOLM ? "holm" : "none");
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
        cJSON_AddStringToObject(o, "verdict", rep_verdict_name(m->verdict));
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL) {
        errno = ENOMEM;
        return -1;
    }
    FILE *f = fopen(path, "w");
    int rc = -1;
    if (f != NULL) {
        rc = (fputs(text, f) >= 0 && fputc('\n', f) != EOF) ? 0 : -1;
        if (fclose(f) != 0) {
            rc = -1;
        }
    }
    free(text);
    return rc;
}

int rep_gate_write_junit(const char *path, const struct rep_gate_result *r)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    size_t tests = r->n;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"cmk-gate\" tests=\"%zu\" failures=\"%zu\">\n", tests, r->regressions);
    fprintf(f, "  <testsuite name=\"cmk-gate\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\">\n",
            tests, r->regressions, r->not_compared);
    fprintf(f, "    <properties>\n      <property name=\"mode\" value=\"");
    rep_fput_xml(f, r->mode_reason);
    fprintf(f, "\"/>\n      <property name=\"alpha\" value=\"%g\"/>\n", r->opts.alpha);
    fprintf(f, "      <property name=\"min_effect\" value=\"%g\"/>\n    </properties>\n", r->opts.min_effect);
    for (size_t i = 0; i < r->n; i++) {
        const struct rep_gate_metric *m = &r->m[i];
        fprintf(f, "    <testcase classname=\"gate.%s\" name=\"", strcmp(m->type, "absolute") == 0 ? "absolute" : "ratio");
        rep_fput_xml(f, m->name);
        fprintf(f, "\" time=\"0\">");
        if (m->verdict == REP_V_REGRESSION) {
            fprintf(f, "\n      <failure type=\"regression\" message=\"change %+.1f%%, p %.2g, adjusted %.2g (alpha %g, minimum effect %g%%)\">",
                    m->change * 100, m->p_worse, m->p_worse_adj, r->opts.alpha, r->opts.min_effect * 100);
            fprintf(f, "baseline median %.6g, new median %.6g, %g%% CI of change [%+.1f%%, %+.1f%%], %zu vs %zu samples",
                    m->base_median, m->new_median, (1 - r->opts.alpha) * 100, m->ci_lo * 100, m->ci_hi * 100,
                    m->n_base, m->n_new);
            fprintf(f, "</failure>\n    ");
        } else if (m->verdict == REP_V_ONLY_BASELINE || m->verdict == REP_V_ONLY_NEW) {
            fprintf(f, "<skipped message=\"%s\"/>", rep_verdict_name(m->verdict));
        } else {
            fprintf(f, "<system-out>change %+.1f%%, p %.2g, %s</system-out>", m->change * 100, m->p_worse,
                    rep_verdict_name(m->verdict));
        }
        fprintf(f, "</testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0) {
        rc = -1;
    }
    return rc;
}

static void gate_usage(FILE *f)
{
    fprintf(f,
            "usage: cmk-gate --baseline FILE --new FILE [--alpha A] [--min-effect E] [--out DIR]\n"
            "                [--absolute auto|on|off]\n"
            "Compares a new bench.json with a baseline metric by metric and fails on a\n"
            "statistically significant regression larger than the minimum effect.\n\n"
            "  --baseline FILE   the reference bench.json (make gate: reports/baseline/bench-quick.json)\n"
            "  --new FILE        the bench.json to judge (make gate: reports/out/bench.json)\n"
            "  --alpha A         significance level of the one-sided test, 0 < A <= 0.5 (default 0.01)\n"
            "  --min-effect E    smallest relative change that counts, 0 <= E < 1 (default 0.05)\n"
            "  --out DIR         where gate.md, gate.json, gate-junit.xml go (default reports/out)\n"
            "  --absolute MODE   gate absolute figures: auto (only when both files come from the\n"
            "                    same machine, the default), on, off\n"
            "  --correction C    holm (default: Holm-Bonferroni over the compared metrics, so the\n"
            "                    whole gate false-alarms with probability <= alpha) or none\n"
            "  --help            this text\n\n"
            "Metrics: ratios measured in one run (engine / raw library, CMK / SMK) from per-round\n"
            "paired samples; absolute figures only on the same machine.\n"
            "Exit: 0 no significant regression, 1 a significant regression, 2 usage or input error.\n");
}

static int parse_double(const char *s, double lo, double hi, int lo_open, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || isnan(v) || v > hi || v < lo || (lo_open && v == lo)) {
        return -1;
    }
    *out = v;
    return 0;
}

static int write_outputs(const char *dir, const struct rep_gate_result *r, FILE *err)
{
    if (rep_mkdir_p(dir) != 0) {
        fprintf(err, "cmk-gate: cannot create output folder '%s': %s\n", dir, strerror(errno));
        return -1;
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/gate.md", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL || rep_gate_write_md(f, r) != 0) {
        fprintf(err, "cmk-gate: cannot write %s: %s\n", path, strerror(errno));
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    if (fclose(f) != 0) {
        fprintf(err, "cmk-gate: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/gate.json", dir);
    if (rep_gate_write_json(path, r) != 0) {
        fprintf(err, "cmk-gate: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/gate-junit.xml", dir);
    if (rep_gate_write_junit(path, r) != 0) {
        fprintf(err, "cmk-gate: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int load_input(const char *path, const char *hint, struct rep_bench *b, FILE *err)
{
    char msg[1400];
    enum rep_status st = rep_bench_load(path, b, msg, sizeof(msg));
    if (st == REP_OK) {
        return 0;
    }
    fprintf(err, "cmk-gate: %s%s\n", msg, st == REP_MISSING ? hint : "");
    return -1;
}

int rep_gate_main(int argc, char **argv, FILE *out, FILE *err)
{
    struct rep_gate_opts o;
    rep_gate_opts_default(&o);
    const char *base_path = NULL, *new_path = NULL, *out_dir = "reports/out";
    static const struct option opts[] = {
        {"baseline", required_argument, 0, 'b'}, {"new", required_argument, 0, 'n'},
        {"alpha", required_argument, 0, 'a'},    {"min-effect", required_argument, 0, 'm'},
        {"out", required_argument, 0, 'o'},      {"absolute", required_argument, 0, 'A'},
        {"correction", required_argument, 0, 'C'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    optind = 0; /* GNU: full re-initialisation, so the function can run more than once */
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":b:n:a:m:o:A:C:h", opts, NULL)) != -1) {
        switch (ch) {
            case 'b':
                base_path = optarg;
                break;
            case 'n':
                new_path = optarg;
                break;
            case 'a':
                if (parse_double(optarg, 0, 0.5, 1, &o.alpha) != 0) {
                    fprintf(err, "cmk-gate: --alpha must be a number in (0, 0.5], got '%s'\n", optarg);
                    return 2;
                }
                break;
            case 'm':
                if (parse_double(optarg, 0, 0.999, 0, &o.min_effect) != 0) {
                    fprintf(err, "cmk-gate: --min-effect must be a number in [0, 1), got '%s'\n", optarg);
                    return 2;
                }
                break;
            case 'o':
                out_dir = optarg;
                break;
            case 'A':
                if (strcmp(optarg, "auto") == 0) {
                    o.absolute = REP_ABS_AUTO;
                } else if (strcmp(optarg, "on") == 0) {
                    o.absolute = REP_ABS_ON;
                } else if (strcmp(optarg, "off") == 0) {
                    o.absolute = REP_ABS_OFF;
                } else {
                    fprintf(err, "cmk-gate: --absolute must be auto, on or off, got '%s'\n", optarg);
                    return 2;
                }
                break;
            case 'C':
                if (strcmp(optarg, "holm") == 0) {
                    o.correction = REP_CORR_HOLM;
                } else if (strcmp(optarg, "none") == 0) {
                    o.correction = REP_CORR_NONE;
                } else {
                    fprintf(err, "cmk-gate: --correction must be holm or none, got '%s'\n", optarg);
                    return 2;
                }
                break;
            case 'h':
                gate_usage(out);
                return 0;
            case ':':
                fprintf(err, "cmk-gate: option '%s' needs a value (see --help)\n", argv[optind - 1]);
                return 2;
            default:
                fprintf(err, "cmk-gate: unknown option '%s' (see --help)\n", argv[optind - 1]);
                return 2;
        }
    }
    if (optind < argc) {
        fprintf(err, "cmk-gate: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (base_path == NULL || new_path == NULL) {
        fprintf(err, "cmk-gate: --baseline FILE and --new FILE are required (see --help)\n");
        return 2;
    }
    struct rep_bench base, cur;
    memset(&cur, 0, sizeof(cur));
    int rc = 2;
    if (load_input(base_path, " (record one with 'make baseline')", &base, err) != 0 ||
        load_input(new_path, " (run 'make bench PROFILE=quick' first)", &cur, err) != 0) {
        goto done;
    }
    struct rep_gate_result r;
    char msg[2600];
    if (rep_gate_compare(&base, &cur, &o, &r, msg, sizeof(msg)) != 0) {
        fprintf(err, "cmk-gate: %s\n", msg);
        goto done;
    }
    rep_gate_write_md(out, &r);
    fflush(out);
    if (write_outputs(out_dir, &r, err) != 0) {
        rep_gate_result_free(&r);
        goto done;
    }
    rc = r.regressions > 0 ? 1 : 0;
    rep_gate_result_free(&r);
done:
    rep_bench_free(&base);
    rep_bench_free(&cur);
    return rc;
}
