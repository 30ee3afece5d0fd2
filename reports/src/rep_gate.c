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
    o->state_coef = REP_GATE_STATE_COEF;
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
    m->sd_runs = m->se_base = m->se_new = m->sd_pred = m->df = m->state_shift = m->sd_state = NAN;
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

static double mean_of(const double *x, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += x[i];
    }
    return sum / (double)n;
}

/* Sample variance (n - 1 in the denominator); n >= 2. */
static double var_of(const double *x, size_t n)
{
    double mean = mean_of(x, n), ss = 0;
    for (size_t i = 0; i < n; i++) {
        ss += (x[i] - mean) * (x[i] - mean);
    }
    return ss / (double)(n - 1);
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
    double mean = mean_of(y, R), s2 = var_of(y, R);
    m->runs = R;
    m->sd_runs = sqrt(s2);
    m->se_base = nw > 0 ? sqrt(mean_of(w2, nw)) : NAN;
    m->se_new = cur->w;
    /*
     * The baseline runs' spread already holds their own within-run error:
     * only what the new run's exceeds it by is added.
     */
    double excess_w = 0;
    if (!isnan(cur->w)) {
        excess_w = cur->w * cur->w - (nw > 0 ? mean_of(w2, nw) : 0);
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
        m->state_shift = exp(cur->x - mean_of(x, nx)) - 1;
        double d = cur->x - mean_of(x, nx);
        excess_x = d * d - var_of(x, nx) * (1 + 1 / (double)R);
        excess_x = excess_x > 0 ? excess_x : 0;
    }
    m->sd_state = state_coef * sqrt(excess_x);
    double var = s2 * (1 + 1 / (double)R) + excess_w + m->sd_state * m->sd_state;
    m->sd_pred = sqrt(var);
    m->df = (double)(R - 1);
    double d = cur->y - mean;
    m->base_median = exp(mean);
    m->new_median = exp(cur->y);
    m->change = exp(d) - 1;
    double p_lower, p_higher; /* P(a draw this low or lower), P(this high or higher) under no change */
    if (m->sd_pred > 0) {
        p_lower = rep_t_sf(-d / m->sd_pred, m->df);
        p_higher = rep_t_sf(d / m->sd_pred, m->df);
        double q = rep_t_quantile(1 - alpha / 2, m->df);
        m->ci_lo = exp(d - q * m->sd_pred) - 1;
        m->ci_hi = exp(d + q * m->sd_pred) - 1;
    } else {
        /* identical baseline runs and no within-run spread: only the direction counts */
        p_lower = d < 0 ? 0 : 1;
        p_higher = d > 0 ? 0 : 1;
        m->ci_lo = m->ci_hi = m->change;
    }
    m->p_worse = m->higher_better ? p_lower : p_higher;
    m->p_better = m->higher_better ? p_higher : p_lower;
    m->exact = 1;
    m->verdict = REP_V_PASS; /* compared; decide() sets the final verdict */
}

/* Log median of the positive values of |x|, and the within-run standard error of it (NULL: skip). */
static int run_stats(const double *x, size_t n, double *y, double *w)
{
    double *l = malloc((n > 0 ? n : 1) * sizeof(double));
    if (l == NULL) {
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i] > 0 && isfinite(x[i])) {
            l[k++] = log(x[i]);
        }
    }
    *y = k > 0 ? rep_median(l, k) : NAN;
    if (w != NULL) {
        *w = rep_median_se(l, k);
    }
    free(l);
    return 0;
}

/* A metric's samples in one run, and those of its reference cell (the machine's state). */
struct series {
    const double *x; /* NULL: the run does not have the metric */
    size_t n;
    const double *ref; /* NULL: no reference cell */
    size_t nref;
};

static int observe(const struct series *s, struct rep_run_obs *o)
{
    o->y = o->w = o->x = NAN;
    if (s->x == NULL || s->n == 0) {
        return 0;
    }
    if (run_stats(s->x, s->n, &o->y, &o->w) != 0) {
        return -1;
    }
    if (s->ref != NULL && s->nref > 0 && run_stats(s->ref, s->nref, &o->x, NULL) != 0) {
        return -1;
    }
    return 0;
}

/*
 * One metric of the run-level model from its series in every baseline run
 * and in the new run. Fewer than 2 baseline runs with values, or none new:
 * not compared.
 */
static int judge_runs(struct rep_gate_metric *m, const struct series *base, size_t nruns, const struct series *cur,
                      const struct rep_gate_opts *o)
{
    struct rep_run_obs ob[REP_BASELINE_MAX_RUNS], on;
    size_t R = 0, nb = 0;
    for (size_t i = 0; i < nruns; i++) {
        if (observe(&base[i], &ob[R]) != 0) {
            return -1;
        }
        if (!isnan(ob[R].y)) {
            nb += base[i].n;
            R++;
        }
    }
    if (observe(cur, &on) != 0) {
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

/* A new ratio metric named after |p| (NULL when memory ran out). */
static struct rep_gate_metric *pair_metric(struct rep_gate_result *r, const struct rep_pair *p)
{
    struct rep_gate_metric *m = add_metric(r);
    if (m != NULL) {
        snprintf(m->name, sizeof(m->name), "%s", p->name);
        snprintf(m->key, sizeof(m->key), "%s", p->key);
        snprintf(m->type, sizeof(m->type), "%s", p->type);
        snprintf(m->unit, sizeof(m->unit), "ratio");
        m->higher_better = 1;
    }
    return m;
}

/* A new absolute metric named after |c| (NULL when memory ran out). */
static struct rep_gate_metric *cell_metric(struct rep_gate_result *r, const struct rep_cell *c)
{
    struct rep_gate_metric *m = add_metric(r);
    if (m != NULL) {
        cell_name(c, m->name, sizeof(m->name));
        snprintf(m->key, sizeof(m->key), "%s", c->key);
        snprintf(m->type, sizeof(m->type), "absolute");
        snprintf(m->unit, sizeof(m->unit), "%s", c->unit);
        m->higher_better = unit_direction(c->unit) > 0;
    }
    return m;
}

/* 1 when |r| has a metric with |key| (pair keys hold " / ", cell keys do not: they never collide). */
static int has_metric(const struct rep_gate_result *r, const char *key)
{
    for (size_t k = 0; k < r->n; k++) {
        if (strcmp(r->m[k].key, key) == 0) {
            return 1;
        }
    }
    return 0;
}

static const struct rep_pair *find_pair(const struct rep_pair *p, long n, const char *key)
{
    for (long i = 0; i < n; i++) {
        if (strcmp(p[i].key, key) == 0) {
            return &p[i];
        }
    }
    return NULL;
}

/* The measured cell of |b| with the key and unit of |like|, or NULL. */
static const struct rep_cell *find_cell(const struct rep_bench *b, const struct rep_cell *like)
{
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *c = &b->cells[i];
        if (strcmp(c->key, like->key) == 0 && rep_cell_measured(c) && strcmp(c->unit, like->unit) == 0) {
            return c;
        }
    }
    return NULL;
}

/* 1 when |c| is an absolute metric: measured, with a unit whose direction is known. */
static int absolute_cell(const struct rep_cell *c)
{
    return rep_cell_measured(c) && unit_direction(c->unit) != 0;
}

/* The new run's ratio metrics that no baseline has: listed, not compared. */
static int only_new_pairs(struct rep_gate_result *r, const struct rep_pair *pn, long nn)
{
    for (long j = 0; j < nn; j++) {
        if (has_metric(r, pn[j].key)) {
            continue;
        }
        struct rep_gate_metric *m = pair_metric(r, &pn[j]);
        if (m == NULL) {
            return -1;
        }
        m->n_new = pn[j].n;
        m->new_median = rep_median(pn[j].ratios, pn[j].n);
        m->verdict = REP_V_ONLY_NEW;
    }
    return 0;
}

/* The new run's absolute metrics that no baseline has: listed, not compared. */
static int only_new_cells(struct rep_gate_result *r, const struct rep_bench *cur)
{
    for (size_t j = 0; j < cur->ncells; j++) {
        const struct rep_cell *c = &cur->cells[j];
        if (!absolute_cell(c) || has_metric(r, c->key)) {
            continue;
        }
        struct rep_gate_metric *m = cell_metric(r, c);
        if (m == NULL) {
            return -1;
        }
        m->n_new = c->nsamples;
        m->new_median = rep_median(c->samples, c->nsamples);
        m->verdict = REP_V_ONLY_NEW;
    }
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
        struct rep_gate_metric *m = pair_metric(r, &pb[i]);
        if (m == NULL) {
            rc = -1;
            break;
        }
        m->verdict = REP_V_ONLY_BASELINE;
        const struct rep_pair *c = find_pair(pn, nn, pb[i].key);
        if (c != NULL && c->n > 0 && pb[i].n > 0) {
            rc = judge(m, pb[i].ratios, pb[i].n, c->ratios, c->n, o);
        }
        if (m->verdict == REP_V_ONLY_BASELINE) {
            m->n_base = pb[i].n;
            m->base_median = rep_median(pb[i].ratios, pb[i].n);
        }
    }
    rc = rc == 0 ? only_new_pairs(r, pn, nn) : rc;
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
        if (!absolute_cell(b)) {
            continue;
        }
        struct rep_gate_metric *m = cell_metric(r, b);
        if (m == NULL) {
            return -1;
        }
        m->verdict = REP_V_ONLY_BASELINE;
        m->n_base = b->nsamples;
        m->base_median = rep_median(b->samples, b->nsamples);
        const struct rep_cell *c = find_cell(cur, b);
        if (c != NULL && judge(m, b->samples, b->nsamples, c->samples, c->nsamples, o) != 0) {
            return -1;
        }
    }
    return only_new_cells(r, cur);
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
            if (has_metric(r, p->key)) {
                continue; /* judged with an earlier run */
            }
            struct series ser[REP_BASELINE_MAX_RUNS] = {{0}}, sc = {0};
            for (size_t k = i; k < R; k++) {
                const struct rep_pair *pk = find_pair(pb[k], nb[k], p->key);
                if (pk != NULL) {
                    ser[k] = (struct series){pk->ratios, pk->n, pk->den->samples, pk->den->nsamples};
                }
            }
            const struct rep_pair *c = find_pair(pn, nn, p->key);
            if (c != NULL) {
                sc = (struct series){c->ratios, c->n, c->den->samples, c->den->nsamples};
            }
            struct rep_gate_metric *m = pair_metric(r, p);
            rc = m == NULL ? -1 : judge_runs(m, ser, R, &sc, o);
        }
    }
    rc = rc == 0 ? only_new_pairs(r, pn, nn) : rc;
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
            if (!absolute_cell(b) || has_metric(r, b->key)) {
                continue;
            }
            struct series ser[REP_BASELINE_MAX_RUNS] = {{0}}, sc = {0};
            for (size_t k = i; k < R; k++) {
                const struct rep_cell *ck = find_cell(&base->runs[k], b);
                if (ck != NULL) {
                    ser[k] = (struct series){ck->samples, ck->nsamples, NULL, 0};
                }
            }
            const struct rep_cell *c = find_cell(cur, b);
            if (c != NULL) {
                sc = (struct series){c->samples, c->nsamples, NULL, 0};
            }
            struct rep_gate_metric *m = cell_metric(r, b);
            if (m == NULL || judge_runs(m, ser, R, &sc, o) != 0) {
                return -1;
            }
        }
    }
    return only_new_cells(r, cur);
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
                 "the reference (raw library) cells ran %+.0f%% against the baseline runs (median over groups): "
                 "the machine was in another state than when the baseline was recorded, and ratios were judged "
                 "with intervals widened for it (column machine shift)",
                 med * 100);
        append_note(r, what);
    }
    return 0;
}

int rep_gate_compare(const struct rep_baseline *baseline, const struct rep_bench *cur,
                     const struct rep_gate_opts *o, struct rep_gate_result *r, char *err, size_t err_len)
{
    memset(r, 0, sizeof(*r));
    r->opts = *o;
    if (baseline->nruns == 0 || baseline->nruns > REP_BASELINE_MAX_RUNS) {
        snprintf(err, err_len, "the baseline has %zu runs (1 to %d)", baseline->nruns, REP_BASELINE_MAX_RUNS);
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
    if (rc != 0 || decide(r, o) != 0) {
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
                 baseline->path, cur->path, r->not_compared);
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

/* One line that says how the gate decided (Markdown and gate.json). */
static void test_text(char *out, size_t out_len, const struct rep_gate_result *r)
{
    const struct rep_gate_opts *o = &r->opts;
    const char *corr = o->correction == REP_CORR_HOLM ? "p adjusted with Holm-Bonferroni over the compared metrics"
                                                      : "p not adjusted for the number of metrics";
    if (r->model == REP_MODEL_RUNS) {
        snprintf(out, out_len,
                 "run-level prediction interval: a metric's value in a run is the median of its samples "
                 "(per-round ratios for ratio metrics); the new run's log median is compared with the mean "
                 "of the %zu baseline runs' log medians, one-sided, t distribution with R - 1 degrees of "
                 "freedom, variance sd_runs^2 (1 + 1/R) plus what the new run's within-run variance exceeds "
                 "the baseline runs' by, plus (%g x the reference cell's speed shift beyond the baseline "
                 "runs' spread)^2 for the machine's state; %s, alpha %g; a regression needs p <= alpha AND a "
                 "change larger than %g%%; interval: %g%% t interval of the change",
                 r->baseline_runs, o->state_coef, corr, o->alpha, o->min_effect * 100, (1 - o->alpha) * 100);
    } else {
        snprintf(out, out_len,
                 "one-sided Mann-Whitney U on the samples (per-round ratios for ratio metrics; exact up to %d "
                 "per side), %s, alpha %g; a regression needs p <= alpha AND a change larger than %g%%; "
                 "interval: %g%% percentile bootstrap of new/base medians (%zu resamples, fixed seed)",
                 REP_MWU_EXACT_MAX, corr, o->alpha, o->min_effect * 100, (1 - o->alpha) * 100, o->boot_reps);
    }
}

int rep_gate_write_md(FILE *f, const struct rep_gate_result *r)
{
    const struct rep_gate_opts *o = &r->opts;
    int runs = r->model == REP_MODEL_RUNS;
    char test[1200];
    test_text(test, sizeof(test), r);
    fprintf(f, "## Regression gate\n\n");
    if (runs) {
        fprintf(f, "- baseline: `%s` (%zu runs; first run's commit %s)\n", r->baseline_path, r->baseline_runs,
                r->baseline_commit[0] ? r->baseline_commit : "unknown");
    } else {
        fprintf(f, "- baseline: `%s` (commit %s)\n", r->baseline_path,
                r->baseline_commit[0] ? r->baseline_commit : "unknown");
    }
    fprintf(f, "- new: `%s` (commit %s)\n", r->new_path, r->new_commit[0] ? r->new_commit : "unknown");
    fprintf(f, "- mode: %s\n", r->mode_reason);
    fprintf(f, "- test: %s\n", test);
    if (r->notes[0] != '\0') {
        fprintf(f, "- notes: ");
        md_cell(f, r->notes);
        fprintf(f, "\n");
    }
    if (runs) {
        fprintf(f, "\n| metric | kind | baseline (mean of runs) | new | change | %g%% CI of change | sd between runs "
                   "| machine shift | p (worse) | %s | verdict |\n",
                (1 - o->alpha) * 100, o->correction == REP_CORR_HOLM ? "p (Holm)" : "p (unadjusted)");
        fprintf(f, "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|\n");
    } else {
        fprintf(f, "\n| metric | kind | baseline | new | change | %g%% CI of change | p (worse) | %s | verdict |\n",
                (1 - o->alpha) * 100, o->correction == REP_CORR_HOLM ? "p (Holm)" : "p (unadjusted)");
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
        if (runs) {
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
                fprintf(f, ": %+.1f%% (p %.2g, adjusted %.2g", m->change * 100, m->p_worse, m->p_worse_adj);
                if (runs) {
                    fprintf(f, "; sd between runs %.1f%%, within-run se %.1f%% new, %.1f%% baseline", m->sd_runs * 100,
                            m->se_new * 100, m->se_base * 100);
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
    cJSON_AddStringToObject(root, "model", r->model == REP_MODEL_RUNS ? "runs" : "within");
    cJSON_AddNumberToObject(root, "baseline_runs", (double)r->baseline_runs);
    if (r->model == REP_MODEL_RUNS) {
        cJSON_AddNumberToObject(root, "state_coef", r->opts.state_coef);
    }
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
            if (r->model == REP_MODEL_RUNS) {
                fprintf(f, "baseline %.6g (mean of %zu run medians, sd between runs %.1f%%), new median %.6g, ",
                        m->base_median, m->runs, m->sd_runs * 100, m->new_median);
            } else {
                fprintf(f, "baseline median %.6g, new median %.6g, ", m->base_median, m->new_median);
            }
            fprintf(f, "%g%% CI of change [%+.1f%%, %+.1f%%], %zu vs %zu samples", (1 - r->opts.alpha) * 100,
                    m->ci_lo * 100, m->ci_hi * 100, m->n_base, m->n_new);
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
            "                [--absolute auto|on|off] [--correction holm|none]\n"
            "       cmk-gate --make-baseline FILE RUN.json RUN.json...\n"
            "Compares a new bench.json with a baseline metric by metric and fails on a\n"
            "statistically significant regression larger than the minimum effect.\n\n"
            "  --baseline FILE   the reference (make gate: reports/baseline/bench-quick.json): a multi-run\n"
            "                    baseline (cmk-harness/baseline, made by --make-baseline) or one bench.json\n"
            "  --new FILE        the bench.json to judge (make gate: reports/out/bench.json)\n"
            "  --alpha A         significance level of the one-sided test, 0 < A <= 0.5 (default 0.01)\n"
            "  --min-effect E    smallest relative change that counts, 0 <= E < 1 (default 0.05)\n"
            "  --out DIR         where gate.md, gate.json, gate-junit.xml go (default reports/out)\n"
            "  --absolute MODE   gate absolute figures: auto (only when both files come from the\n"
            "                    same machine, the default), on, off\n"
            "  --correction C    holm (default: Holm-Bonferroni over the compared metrics, so the\n"
            "                    whole gate false-alarms with probability <= alpha) or none\n"
            "  --state-coef K    run-level model: assumed sensitivity of a ratio to the machine's state,\n"
            "                    measured by the speed of its reference cell (default %g; 0: ignore)\n"
            "  --make-baseline FILE  combine the bench.json runs given after it into one multi-run\n"
            "                    baseline FILE (2 to %d runs, one machine and profile, no test slowdown)\n"
            "  --help            this text\n\n"
            "Metrics: ratios measured in one run (engine / raw library, CMK / SMK) from per-round\n"
            "paired samples; absolute figures only on the same machine.\n"
            "Test: with a multi-run baseline, the new run's median of each metric against the baseline\n"
            "runs' medians (t prediction interval with R - 1 degrees of freedom: run-to-run noise);\n"
            "with a single-run baseline, Mann-Whitney U on the samples (within-run noise only).\n"
            "Exit: 0 no significant regression (or baseline written), 1 a significant regression,\n"
            "2 usage or input error.\n",
            REP_GATE_STATE_COEF, REP_BASELINE_MAX_RUNS);
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

static int load_baseline(const char *path, struct rep_baseline *b, FILE *err)
{
    char msg[2400];
    enum rep_status st = rep_baseline_load(path, b, msg, sizeof(msg));
    if (st == REP_OK) {
        return 0;
    }
    fprintf(err, "cmk-gate: %s%s\n", msg, st == REP_MISSING ? " (record one with 'make baseline')" : "");
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
        {"make-baseline", required_argument, 0, 'M'}, {"state-coef", required_argument, 0, 'S'},
        {0, 0, 0, 0}};
    const char *make_baseline = NULL;
    optind = 0; /* GNU: full re-initialisation, so the function can run more than once */
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":b:n:a:m:o:A:C:M:S:h", opts, NULL)) != -1) {
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
            case 'M':
                make_baseline = optarg;
                break;
            case 'S':
                if (parse_double(optarg, 0, 10, 0, &o.state_coef) != 0) {
                    fprintf(err, "cmk-gate: --state-coef must be a number in [0, 10], got '%s'\n", optarg);
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
    if (make_baseline != NULL) {
        if (base_path != NULL || new_path != NULL) {
            fprintf(err, "cmk-gate: --make-baseline does not go with --baseline or --new (see --help)\n");
            return 2;
        }
        char msg[2400];
        size_t n = (size_t)(argc - optind);
        if (rep_baseline_write(make_baseline, (const char *const *)(argv + optind), n, msg, sizeof(msg)) != 0) {
            fprintf(err, "cmk-gate: %s\n", msg);
            return 2;
        }
        fprintf(out, "cmk-gate: wrote %s (%zu runs)\n", make_baseline, n);
        return 0;
    }
    if (optind < argc) {
        fprintf(err, "cmk-gate: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (base_path == NULL || new_path == NULL) {
        fprintf(err, "cmk-gate: --baseline FILE and --new FILE are required (see --help)\n");
        return 2;
    }
    struct rep_baseline base;
    struct rep_bench cur;
    memset(&cur, 0, sizeof(cur));
    int rc = 2;
    if (load_baseline(base_path, &base, err) != 0 ||
        load_input(new_path, " (run 'make bench PROFILE=quick' first)", &cur, err) != 0) {
        goto done;
    }
    if (!base.multi) {
        fprintf(err, "cmk-gate: warning: %s\n", REP_GATE_SINGLE_RUN_WARNING);
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
    rep_baseline_free(&base);
    rep_bench_free(&cur);
    return rc;
}
