/*
 * rep_gate.c - compare a new bench.json with a baseline, metric by metric:
 * the within-run test (Mann-Whitney U on the samples), the run-level model
 * (a new run's median against the baseline runs' medians), the multiplicity
 * correction and the verdicts. The metrics themselves: rep_gate_metrics.c;
 * the writers: rep_gate_write.c; the cmk-gate program: rep_gate_cli.c.
 */
#include "rep_gate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rep_gate_int.h"
#include "rep_stats.h"

void rep_gate_opts_default(struct rep_gate_opts *o)
{
    o->alpha = 0.01;
    o->min_effect = 0.05;
    o->absolute = REP_ABS_AUTO;
    o->correction = REP_CORR_HOLM;
    o->boot_reps = 2000;
    o->state_coef = REP_GATE_STATE_COEF;
    o->seed = 0x636d6b2d67617465ULL; /* "cmk-gate" */
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

int rep_gate_same_machine(const struct rep_bench *a, const struct rep_bench *b, char *why,
                          size_t why_len)
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
    m->verdict = REP_V_PASS; /* compared; rg_decide() sets the final verdict */
    double lo, hi;
    if (rep_bootstrap_ratio(cur, nn, base, nb, o->boot_reps, 1 - o->alpha,
                            o->seed ^ rep_hash64(m->key), &lo, &hi) == 0) {
        m->ci_lo = lo - 1;
        m->ci_hi = hi - 1;
    }
    return 0;
}

double rg_mean(const double *x, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += x[i];
    }
    return sum / (double)n;
}

double rg_var(const double *x, size_t n)
{
    double mean = rg_mean(x, n), ss = 0;
    for (size_t i = 0; i < n; i++) {
        ss += (x[i] - mean) * (x[i] - mean);
    }
    return ss / (double)(n - 1);
}

void rg_t_judge(struct rep_gate_metric *m, double d, double sd, double df, double alpha)
{
    m->change = exp(d) - 1;
    double p_lower,
        p_higher; /* P(a draw this low or lower), P(this high or higher) under no change */
    if (sd > 0) {
        p_lower = rep_t_sf(-d / sd, df);
        p_higher = rep_t_sf(d / sd, df);
        double q = rep_t_quantile(1 - alpha / 2, df);
        m->ci_lo = exp(d - q * sd) - 1;
        m->ci_hi = exp(d + q * sd) - 1;
    } else {
        /* no spread at all: only the direction counts */
        p_lower = d < 0 ? 0 : 1;
        p_higher = d > 0 ? 0 : 1;
        m->ci_lo = m->ci_hi = m->change;
    }
    m->p_worse = m->higher_better ? p_lower : p_higher;
    m->p_better = m->higher_better ? p_higher : p_lower;
    m->exact = 1;
    m->verdict = REP_V_PASS; /* compared; rg_decide() sets the final verdict */
}

void rep_gate_runs_p(struct rep_gate_metric *m, const struct rep_run_obs *base, size_t R,
                     const struct rep_run_obs *cur, double alpha, double state_coef)
{
    double y[REP_BASELINE_MAX_RUNS], w2[REP_BASELINE_MAX_RUNS], x[REP_BASELINE_MAX_RUNS];
    size_t nw = 0, nx = 0;
    for (size_t i = 0; i < R; i++) {
        y[i] = base[i].y;
        if (!isnan(base[i].w)) {
            w2[nw++] = base[i].w * base[i].w;
        }
        if (!isnan(base[i].x)) {
            x[nx++] = base[i].x;
        }
    }
    double mean = rg_mean(y, R), s2 = rg_var(y, R);
    m->runs = R;
    m->sd_runs = sqrt(s2);
    m->se_base = nw > 0 ? sqrt(rg_mean(w2, nw)) : NAN;
    m->se_new = cur->w;
    /*
     * The baseline runs' spread already holds their own within-run error:
     * only what the new run's exceeds it by is added.
     */
    double excess_w = 0;
    if (!isnan(cur->w)) {
        excess_w = cur->w * cur->w - (nw > 0 ? rg_mean(w2, nw) : 0);
        excess_w = excess_w > 0 ? excess_w : 0;
    }
    /*
     * The machine's state: how far the reference cell's speed moved from the
     * baseline runs' mean, beyond what it moved between the baseline runs
     * (whose effect on the metric is already in s2), times the assumed
     * sensitivity of the metric to it.
     */
    double excess_x = 0;
    if (!isnan(cur->x) && nx == R) {
        m->state_shift = exp(cur->x - rg_mean(x, nx)) - 1;
        double d = cur->x - rg_mean(x, nx);
        excess_x = d * d - rg_var(x, nx) * (1 + 1 / (double)R);
        excess_x = excess_x > 0 ? excess_x : 0;
    }
    m->sd_state = state_coef * sqrt(excess_x);
    double var = s2 * (1 + 1 / (double)R) + excess_w + m->sd_state * m->sd_state;
    m->sd_pred = sqrt(var);
    m->df = (double)(R - 1);
    m->base_median = exp(mean);
    m->new_median = exp(cur->y);
    rg_t_judge(m, cur->y - mean, m->sd_pred, m->df, alpha);
}

/*
 * One metric of the run-level model from its series in every baseline run
 * and in the new run. Fewer than 2 baseline runs with values, or none new:
 * not compared.
 */
static int judge_runs(struct rep_gate_metric *m, const struct rg_series *base, size_t nruns,
                      const struct rg_series *cur, const struct rep_gate_opts *o)
{
    struct rep_run_obs ob[REP_BASELINE_MAX_RUNS], on;
    size_t R = 0, nb = 0;
    for (size_t i = 0; i < nruns; i++) {
        if (rg_observe(&base[i], &ob[R]) != 0) {
            return -1;
        }
        if (!isnan(ob[R].y)) {
            nb += base[i].n;
            R++;
        }
    }
    if (rg_observe(cur, &on) != 0) {
        return -1;
    }
    m->runs = R;
    m->n_base = nb;
    if (R > 0) {
        double mean = 0;
        for (size_t i = 0; i < R; i++) {
            mean += ob[i].y;
        }
        m->base_median = exp(mean / (double)R);
    }
    if (!isnan(on.y)) {
        m->n_new = cur->n;
        m->new_median = exp(on.y);
    }
    if (R < 2 || isnan(on.y)) {
        m->verdict = R == 0 ? REP_V_ONLY_NEW : REP_V_ONLY_BASELINE;
        return 0;
    }
    rep_gate_runs_p(m, ob, R, &on, o->alpha, o->state_coef);
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

int rg_decide(struct rep_gate_result *r, const struct rep_gate_opts *o)
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

/* Ratio metrics against a single-run baseline: within-run samples. */
static int compare_ratios(const struct rep_bench *base, const struct rep_bench *cur,
                          const struct rep_gate_opts *o, struct rep_gate_result *r)
{
    struct rep_pair *pb = NULL, *pn = NULL;
    long nb = rep_pairs_build(base, &pb);
    long nn = rep_pairs_build(cur, &pn);
    int rc = nb < 0 || nn < 0 ? -1 : 0;
    for (long i = 0; i < nb && rc == 0; i++) {
        struct rep_gate_metric *m = rg_pair_metric(r, &pb[i]);
        if (m == NULL) {
            rc = -1;
            break;
        }
        m->verdict = REP_V_ONLY_BASELINE;
        const struct rep_pair *c = rg_find_pair(pn, nn, pb[i].key);
        if (c != NULL && c->n > 0 && pb[i].n > 0) {
            rc = judge(m, pb[i].ratios, pb[i].n, c->ratios, c->n, o);
        }
        if (m->verdict == REP_V_ONLY_BASELINE) {
            m->n_base = pb[i].n;
            m->base_median = rep_median(pb[i].ratios, pb[i].n);
        }
    }
    rc = rc == 0 ? rg_only_new_pairs(r, pn, nn) : rc;
    rep_pairs_free(pb, nb > 0 ? (size_t)nb : 0);
    rep_pairs_free(pn, nn > 0 ? (size_t)nn : 0);
    return rc;
}

/* Absolute metrics against a single-run baseline: within-run samples. */
static int compare_absolute(const struct rep_bench *base, const struct rep_bench *cur,
                            const struct rep_gate_opts *o, struct rep_gate_result *r)
{
    for (size_t i = 0; i < base->ncells; i++) {
        const struct rep_cell *b = &base->cells[i];
        if (!rg_absolute_cell(b)) {
            continue;
        }
        struct rep_gate_metric *m = rg_cell_metric(r, b);
        if (m == NULL) {
            return -1;
        }
        m->verdict = REP_V_ONLY_BASELINE;
        m->n_base = b->nsamples;
        m->base_median = rep_median(b->samples, b->nsamples);
        const struct rep_cell *c = rg_find_cell(cur, b);
        if (c != NULL && judge(m, b->samples, b->nsamples, c->samples, c->nsamples, o) != 0) {
            return -1;
        }
    }
    return rg_only_new_cells(r, cur);
}

/* Ratio metrics of the run-level model: every pair key of any baseline run. */
static int compare_ratios_runs(const struct rep_baseline *base, const struct rep_bench *cur,
                               const struct rep_gate_opts *o, struct rep_gate_result *r)
{
    size_t R = base->nruns;
    struct rep_pair *pb[REP_BASELINE_MAX_RUNS] = {0}, *pn = NULL;
    long nb[REP_BASELINE_MAX_RUNS] = {0};
    long nn = rep_pairs_build(cur, &pn);
    int rc = nn < 0 ? -1 : 0;
    for (size_t i = 0; i < R && rc == 0; i++) {
        nb[i] = rep_pairs_build(&base->runs[i], &pb[i]);
        rc = nb[i] < 0 ? -1 : 0;
    }
    for (size_t i = 0; i < R && rc == 0; i++) {
        for (long j = 0; j < nb[i] && rc == 0; j++) {
            const struct rep_pair *p = &pb[i][j];
            if (rg_has_metric(r, p->key)) {
                continue; /* judged with an earlier run */
            }
            struct rg_series ser[REP_BASELINE_MAX_RUNS] = {{0}}, sc = {0};
            for (size_t k = i; k < R; k++) {
                const struct rep_pair *pk = rg_find_pair(pb[k], nb[k], p->key);
                if (pk != NULL) {
                    ser[k] =
                        (struct rg_series){pk->ratios, pk->n, pk->den->samples, pk->den->nsamples};
                }
            }
            const struct rep_pair *c = rg_find_pair(pn, nn, p->key);
            if (c != NULL) {
                sc = (struct rg_series){c->ratios, c->n, c->den->samples, c->den->nsamples};
            }
            struct rep_gate_metric *m = rg_pair_metric(r, p);
            rc = m == NULL ? -1 : judge_runs(m, ser, R, &sc, o);
        }
    }
    rc = rc == 0 ? rg_only_new_pairs(r, pn, nn) : rc;
    for (size_t i = 0; i < R; i++) {
        rep_pairs_free(pb[i], nb[i] > 0 ? (size_t)nb[i] : 0);
    }
    rep_pairs_free(pn, nn > 0 ? (size_t)nn : 0);
    return rc;
}

/* Absolute metrics of the run-level model: every absolute cell of any baseline run. */
static int compare_absolute_runs(const struct rep_baseline *base, const struct rep_bench *cur,
                                 const struct rep_gate_opts *o, struct rep_gate_result *r)
{
    size_t R = base->nruns;
    for (size_t i = 0; i < R; i++) {
        const struct rep_bench *bi = &base->runs[i];
        for (size_t j = 0; j < bi->ncells; j++) {
            const struct rep_cell *b = &bi->cells[j];
            if (!rg_absolute_cell(b) || rg_has_metric(r, b->key)) {
                continue;
            }
            struct rg_series ser[REP_BASELINE_MAX_RUNS] = {{0}}, sc = {0};
            for (size_t k = i; k < R; k++) {
                const struct rep_cell *ck = rg_find_cell(&base->runs[k], b);
                if (ck != NULL) {
                    ser[k] = (struct rg_series){ck->samples, ck->nsamples, NULL, 0};
                }
            }
            const struct rep_cell *c = rg_find_cell(cur, b);
            if (c != NULL) {
                sc = (struct rg_series){c->samples, c->nsamples, NULL, 0};
            }
            struct rep_gate_metric *m = rg_cell_metric(r, b);
            if (m == NULL || judge_runs(m, ser, R, &sc, o) != 0) {
                return -1;
            }
        }
    }
    return rg_only_new_cells(r, cur);
}

void rep_gate_result_free(struct rep_gate_result *r)
{
    if (r != NULL) {
        for (size_t i = 0; i < r->n; i++) {
            free(r->m[i].rounds);
        }
        free(r->m);
        memset(r, 0, sizeof(*r));
    }
}

static void env_notes(const struct rep_bench *base, const struct rep_bench *cur,
                      struct rep_gate_result *r)
{
    const char *sb = rep_env_str(base, "ENG_TEST_SLOWDOWN"),
               *sn = rep_env_str(cur, "ENG_TEST_SLOWDOWN");
    char what[400];
    if (sb[0] != '\0') {
        snprintf(what, sizeof(what),
                 "the baseline was measured with ENG_TEST_SLOWDOWN=%s: it is not a valid baseline",
                 sb);
        append_note(r, what);
    }
    if (sn[0] != '\0') {
        snprintf(what, sizeof(what),
                 "the new run was measured with ENG_TEST_SLOWDOWN=%s (a test-only slowdown)", sn);
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

/*
 * A note when the reference cells ran much faster or slower than in the
 * baseline runs (median over the compared ratio metrics): the machine was
 * in another state, and the model widened its intervals for it.
 */
static int state_note(struct rep_gate_result *r)
{
    double *d = malloc((r->n + 1) * sizeof(double));
    if (d == NULL) {
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->m[i].verdict == REP_V_PASS && !isnan(r->m[i].state_shift)) {
            d[k++] = r->m[i].state_shift;
        }
    }
    double med = k > 0 ? rep_median(d, k) : NAN;
    free(d);
    if (!isnan(med) && fabs(med) > 0.10) {
        char what[400];
        snprintf(what, sizeof(what),
                 "the reference (raw library) cells ran %+.0f%% against the baseline runs (median "
                 "over groups): "
                 "the machine was in another state than when the baseline was recorded, and ratios "
                 "were judged "
                 "with intervals widened for it (column machine shift)",
                 med * 100);
        append_note(r, what);
    }
    return 0;
}

void rg_tally(struct rep_gate_result *r)
{
    r->compared = r->regressions = r->improvements = r->not_compared = 0;
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
}

int rep_gate_compare(const struct rep_baseline *baseline, const struct rep_bench *cur,
                     const struct rep_gate_opts *o, struct rep_gate_result *r, struct base_err *e)
{
    memset(r, 0, sizeof(*r));
    r->opts = *o;
    if (baseline->nruns == 0 || baseline->nruns > REP_BASELINE_MAX_RUNS) {
        BASE_FAIL(e, BASE_ERR_ARG, "the baseline has %zu runs (1 to %d)", baseline->nruns,
                  REP_BASELINE_MAX_RUNS);
        return -1;
    }
    const struct rep_bench *base = &baseline->runs[0];
    int multi = baseline->nruns > 1;
    r->model = multi ? REP_MODEL_RUNS : REP_MODEL_WITHIN;
    r->baseline_runs = baseline->nruns;
    snprintf(r->baseline_path, sizeof(r->baseline_path), "%s", baseline->path);
    snprintf(r->new_path, sizeof(r->new_path), "%s", cur->path);
    snprintf(r->baseline_commit, sizeof(r->baseline_commit), "%s", rep_env_str(base, "git_commit"));
    snprintf(r->new_commit, sizeof(r->new_commit), "%s", rep_env_str(cur, "git_commit"));
    if (!multi) {
        append_note(r, REP_GATE_SINGLE_RUN_WARNING);
    }
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
            snprintf(r->mode_reason, sizeof(r->mode_reason),
                     "ratios only: forced by --absolute off (%s %s)",
                     same ? "same machine:" : "not the same machine:", why);
            break;
        case REP_ABS_AUTO:
        default:
            r->absolute_used = same;
            snprintf(r->mode_reason, sizeof(r->mode_reason), "%s: %s",
                     same ? "ratios + absolute figures, same machine"
                          : "ratios only, not the same machine",
                     why);
            break;
    }
    env_notes(base, cur, r);
    int rc;
    if (multi) {
        rc = compare_ratios_runs(baseline, cur, o, r);
        rc = rc == 0 && r->absolute_used ? compare_absolute_runs(baseline, cur, o, r) : rc;
    } else {
        rc = compare_ratios(base, cur, o, r);
        rc = rc == 0 && r->absolute_used ? compare_absolute(base, cur, o, r) : rc;
    }
    if (rc == 0 && multi) {
        rc = state_note(r);
    }
    if (rc != 0 || rg_decide(r, o) != 0) {
        BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        rep_gate_result_free(r);
        return -1;
    }
    rg_tally(r);
    if (r->compared == 0) {
        BASE_FAIL(e, BASE_ERR_ARG,
                  "no metric in common between %s and %s (%zu metrics not comparable)",
                  baseline->path, cur->path, r->not_compared);
        rep_gate_result_free(r);
        return -1;
    }
    return 0;
}
