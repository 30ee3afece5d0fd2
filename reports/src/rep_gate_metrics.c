/*
 * rep_gate_metrics.c - the gate's metrics: which exist (ratio pairs, and
 * absolute cells whose unit has a known direction), how they are named, and
 * what the run-level model sees of one in one run (see rep_gate_int.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base_buf.h"
#include "rep_gate.h"
#include "rep_gate_int.h"
#include "rep_stats.h"

/* Direction of an absolute unit: 1 higher is better, -1 lower is better, 0 unknown. */
static int unit_direction(const char *unit)
{
    /* tps: pgbench transactions per second (the bench's db rows) */
    static const char *const up[] = {"GB/s", "MB/s", "GiB/s", "MiB/s", "ops/s", "op/s", "tps"};
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
    if (base_grow(&r->m, &r->cap_m, r->n + 1, sizeof(*r->m), SIZE_MAX, NULL) != 0) {
        return NULL;
    }
    struct rep_gate_metric *m = &r->m[r->n++];
    memset(m, 0, sizeof(*m));
    m->base_median = m->new_median = m->change = NAN;
    m->ci_lo = m->ci_hi = m->p_worse = m->p_better = m->p_worse_adj = m->p_better_adj = NAN;
    m->sd_runs = m->se_base = m->se_new = m->sd_pred = m->df = m->state_shift = m->sd_state = NAN;
    return m;
}

/* Log median of the positive values of |x|, and the within-run standard error of it (NULL: skip).
 */
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

int rg_observe(const struct rg_series *s, struct rep_run_obs *o)
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

static void cell_name(const struct rep_cell *c, char *out, size_t out_len)
{
    char u[24], extra[64] = "";
    rep_unit_str(u, sizeof(u), c->unit_bytes);
    if (c->threads != 1) {
        snprintf(extra, sizeof(extra), ", %ld threads", c->threads);
    }
    if (c->label[0] != '\0') {
        snprintf(out, out_len, "%s, %s %s%s%s%s", c->label, u, c->direction, extra,
                 strcmp(c->keys, "none") != 0 ? ", keys " : "",
                 strcmp(c->keys, "none") != 0 ? c->keys : "");
    } else {
        snprintf(out, out_len, "%s %s %s/%s, %s %s%s", c->kind, c->mode, c->backend, c->arch, u,
                 c->direction, extra);
    }
}

/* A new ratio metric named after |p| (NULL when memory ran out). */
struct rep_gate_metric *rg_pair_metric(struct rep_gate_result *r, const struct rep_pair *p)
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
struct rep_gate_metric *rg_cell_metric(struct rep_gate_result *r, const struct rep_cell *c)
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

/* 1 when |r| has a metric with |key| (pair keys hold " / ", cell keys do not: they never collide).
 */
int rg_has_metric(const struct rep_gate_result *r, const char *key)
{
    for (size_t k = 0; k < r->n; k++) {
        if (strcmp(r->m[k].key, key) == 0) {
            return 1;
        }
    }
    return 0;
}

const struct rep_pair *rg_find_pair(const struct rep_pair *p, long n, const char *key)
{
    for (long i = 0; i < n; i++) {
        if (strcmp(p[i].key, key) == 0) {
            return &p[i];
        }
    }
    return NULL;
}

/* The measured cell of |b| with the key and unit of |like|, or NULL. */
const struct rep_cell *rg_find_cell(const struct rep_bench *b, const struct rep_cell *like)
{
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *c = &b->cells[i];
        if (strcmp(c->key, like->key) == 0 && rep_cell_measured(c) &&
            strcmp(c->unit, like->unit) == 0) {
            return c;
        }
    }
    return NULL;
}

/* 1 when |c| is an absolute metric: measured, with a unit whose direction is known. */
int rg_absolute_cell(const struct rep_cell *c)
{
    return rep_cell_measured(c) && unit_direction(c->unit) != 0;
}

/* The new run's ratio metrics that no baseline has: listed, not compared. */
int rg_only_new_pairs(struct rep_gate_result *r, const struct rep_pair *pn, long nn)
{
    for (long j = 0; j < nn; j++) {
        if (rg_has_metric(r, pn[j].key)) {
            continue;
        }
        struct rep_gate_metric *m = rg_pair_metric(r, &pn[j]);
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
int rg_only_new_cells(struct rep_gate_result *r, const struct rep_bench *cur)
{
    for (size_t j = 0; j < cur->ncells; j++) {
        const struct rep_cell *c = &cur->cells[j];
        if (!rg_absolute_cell(c) || rg_has_metric(r, c->key)) {
            continue;
        }
        struct rep_gate_metric *m = rg_cell_metric(r, c);
        if (m == NULL) {
            return -1;
        }
        m->n_new = c->nsamples;
        m->new_median = rep_median(c->samples, c->nsamples);
        m->verdict = REP_V_ONLY_NEW;
    }
    return 0;
}
