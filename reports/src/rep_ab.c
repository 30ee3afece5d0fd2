/*
 * rep_ab.c - the same-job A/B gate (see rep_ab.h): per-round paired
 * differences of the reference and new builds' runs, the rename/retire
 * list, the fail-loudly coverage rule and the CPU class of a run.
 */
#include "rep_ab.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rep_gate_int.h"

void rep_retire_free(struct rep_retire *l)
{
    if (l != NULL) {
        free(l->e);
        memset(l, 0, sizeof(*l));
    }
}

/* Splits |line| at tabs into at most |max| fields (in place); returns their number. */
static size_t split_tabs(char *line, char **f, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (t == NULL) {
            break;
        }
        *t = '\0';
        p = t + 1;
    }
    return n;
}

static int retire_add(struct rep_retire *l, enum rep_retire_kind kind, const char *old_key,
                      const char *new_key)
{
    struct rep_retire_entry *e = realloc(l->e, (l->n + 1) * sizeof(*e));
    if (e == NULL) {
        return -1;
    }
    l->e = e;
    e = &l->e[l->n++];
    e->kind = kind;
    snprintf(e->old_key, sizeof(e->old_key), "%s", old_key);
    snprintf(e->new_key, sizeof(e->new_key), "%s", new_key);
    return 0;
}

int rep_retire_load(const char *path, int missing_ok, struct rep_retire *l, struct base_err *e)
{
    memset(l, 0, sizeof(*l));
    snprintf(l->path, sizeof(l->path), "%s", path);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT && missing_ok) {
            return 0;
        }
        base_err_set_sys(e, errno == ENOENT ? BASE_ERR_NOT_FOUND : BASE_ERR_IO, errno, BASE_HERE,
                         "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[1200];
    int rc = 0;
    for (size_t no = 1; rc == 0 && fgets(line, sizeof(line), f) != NULL; no++) {
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            BASE_FAIL(e, BASE_ERR_FORMAT, "%s:%zu: line longer than %zu characters", path, no,
                      sizeof(line) - 2);
            rc = -1;
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (len == 0 || line[0] == '#') {
            continue;
        }
        char *fld[4];
        size_t nf = split_tabs(line, fld, 4);
        int bad_len = 0;
        for (size_t i = 1; i < nf && i < 3; i++) {
            bad_len |= strlen(fld[i]) >= sizeof(l->e[0].old_key) || fld[i][0] == '\0';
        }
        if (strcmp(fld[0], "rename") == 0 && nf >= 3 && !bad_len) {
            rc = retire_add(l, REP_RETIRE_RENAME, fld[1], fld[2]);
        } else if (strcmp(fld[0], "retire") == 0 && nf >= 2 && !bad_len) {
            rc = retire_add(l, REP_RETIRE_REMOVE, fld[1], "");
        } else if (strcmp(fld[0], "add") == 0 && nf >= 2 && !bad_len) {
            rc = retire_add(l, REP_RETIRE_ADD, "", fld[1]);
        } else {
            BASE_FAIL(e, BASE_ERR_FORMAT,
                      "%s:%zu: expected 'rename<TAB>OLD_KEY<TAB>NEW_KEY', 'retire<TAB>OLD_KEY' or "
                      "'add<TAB>NEW_KEY' (keys non-empty, under %zu characters), got '%s'",
                      path, no, sizeof(l->e[0].old_key), fld[0]);
            rc = -1;
            break;
        }
        if (rc != 0 && e->code == BASE_OK) {
            BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        }
    }
    if (rc == 0 && ferror(f)) {
        BASE_FAIL(e, BASE_ERR_IO, "%s: read error", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}

int rep_key_covers(const char *entry, const char *key)
{
    static const char sep[] = " / ";
    size_t le = strlen(entry), lk = strlen(key), ls = sizeof(sep) - 1;
    if (le == 0) {
        return 0;
    }
    if (strcmp(entry, key) == 0) {
        return 1;
    }
    if (lk > le + ls && strncmp(key, entry, le) == 0 && strncmp(key + le, sep, ls) == 0) {
        return 1;
    }
    return lk > le + ls && strcmp(key + lk - le, entry) == 0 &&
           strncmp(key + lk - le - ls, sep, ls) == 0;
}

/*
 * The reference's key of new metric |key|: a rename whose new key is the
 * metric key or one cell of the pair is replaced by its old key.
 */
static void ref_key(const struct rep_retire *l, const char *key, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s", key);
    if (l == NULL) {
        return;
    }
    const char *slash = strstr(key, " / ");
    char num[256], den[256]; /* cell keys are under 256 characters (rep_cell.key) */
    snprintf(num, sizeof(num), "%.*s", slash != NULL ? (int)(slash - key) : (int)strlen(key), key);
    snprintf(den, sizeof(den), "%s", slash != NULL ? slash + 3 : "");
    for (size_t i = 0; i < l->n; i++) {
        const struct rep_retire_entry *e = &l->e[i];
        if (e->kind != REP_RETIRE_RENAME) {
            continue;
        }
        if (strcmp(e->new_key, key) == 0) {
            snprintf(out, out_len, "%s", e->old_key);
            return;
        }
        if (strcmp(e->new_key, num) == 0) {
            snprintf(num, sizeof(num), "%s", e->old_key);
        }
        if (slash != NULL && strcmp(e->new_key, den) == 0) {
            snprintf(den, sizeof(den), "%s", e->old_key);
        }
    }
    if (slash != NULL) {
        snprintf(out, out_len, "%s / %s", num, den);
    } else {
        snprintf(out, out_len, "%s", num);
    }
}

/* 1 when |l| has an entry of |kind| whose old (|old_side|) or new key covers |key|. */
static int listed(const struct rep_retire *l, enum rep_retire_kind kind, int old_side,
                  const char *key)
{
    for (size_t i = 0; l != NULL && i < l->n; i++) {
        if (l->e[i].kind == kind &&
            rep_key_covers(old_side ? l->e[i].old_key : l->e[i].new_key, key)) {
            return 1;
        }
    }
    return 0;
}

/* One side of the A/B comparison: the ratio pairs of every round. */
struct ab_side {
    const struct rep_bench *runs;
    struct rep_pair *pairs[REP_AB_MAX_ROUNDS];
    long npairs[REP_AB_MAX_ROUNDS];
};

/* The measured absolute cell of |b| with |key| and |unit|, or NULL. */
static const struct rep_cell *find_cell_key(const struct rep_bench *b, const char *key,
                                            const char *unit)
{
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *c = &b->cells[i];
        if (strcmp(c->key, key) == 0 && rg_absolute_cell(c) && strcmp(c->unit, unit) == 0) {
            return c;
        }
    }
    return NULL;
}

/* The log median of metric |key| in round |i| of |s| (NAN: absent); -1 when memory ran out. */
static int round_value(const struct ab_side *s, size_t i, const char *key, const char *unit,
                       int ratio, double *y)
{
    struct rg_series ser = {0};
    if (ratio) {
        const struct rep_pair *p = rg_find_pair(s->pairs[i], s->npairs[i], key);
        if (p != NULL) {
            ser.x = p->ratios;
            ser.n = p->n;
        }
    } else {
        const struct rep_cell *c = find_cell_key(&s->runs[i], key, unit);
        if (c != NULL) {
            ser.x = c->samples;
            ser.n = c->nsamples;
        }
    }
    struct rep_run_obs o;
    if (rg_observe(&ser, &o) != 0) {
        return -1;
    }
    *y = o.y;
    return 0;
}

/* Judges metric |m| (key in the new runs) on its per-round paired differences. */
static int judge_ab(struct rep_gate_metric *m, const struct ab_side *ref, const struct ab_side *cur,
                    size_t n, const struct rep_retire *l, const struct rep_gate_opts *o)
{
    int ratio = strcmp(m->type, "absolute") != 0;
    char rkey[520];
    ref_key(l, m->key, rkey, sizeof(rkey));
    double a[REP_AB_MAX_ROUNDS], b[REP_AB_MAX_ROUNDS], d[REP_AB_MAX_ROUNDS];
    size_t na = 0, nb = 0, nd = 0;
    m->rounds = malloc(n * sizeof(double));
    if (m->rounds == NULL) {
        return -1;
    }
    m->nrounds = n;
    for (size_t i = 0; i < n; i++) {
        double ya, yb;
        if (round_value(ref, i, rkey, m->unit, ratio, &ya) != 0 ||
            round_value(cur, i, m->key, m->unit, ratio, &yb) != 0) {
            return -1;
        }
        na += !isnan(ya);
        nb += !isnan(yb);
        m->rounds[i] = NAN;
        if (!isnan(ya) && !isnan(yb)) {
            a[nd] = ya;
            b[nd] = yb;
            d[nd] = yb - ya;
            m->rounds[i] = exp(d[nd]);
            nd++;
        }
    }
    if (nd < 2) {
        m->verdict = na == 0 ? REP_V_ONLY_NEW : REP_V_ONLY_BASELINE;
        return 0;
    }
    m->n_base = m->n_new = m->runs = nd;
    m->base_median = exp(rg_mean(a, nd));
    m->new_median = exp(rg_mean(b, nd));
    m->sd_runs = sqrt(rg_var(d, nd));
    m->sd_pred = m->sd_runs / sqrt((double)nd);
    m->df = (double)(nd - 1);
    rg_t_judge(m, rg_mean(d, nd), m->sd_pred, m->df, o->alpha);
    return 0;
}

/* 1 when |r| has a metric whose reference key (through the renames) is |key|. */
static int has_ref_metric(const struct rep_gate_result *r, const struct rep_retire *l,
                          const char *key)
{
    char rk[520];
    for (size_t k = 0; k < r->n; k++) {
        ref_key(l, r->m[k].key, rk, sizeof(rk));
        if (strcmp(rk, key) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The metrics of the new runs, judged; then the reference's metrics that have no counterpart. */
static int ab_metrics(const struct ab_side *ref, const struct ab_side *cur, size_t n,
                      const struct rep_retire *l, const struct rep_gate_opts *o,
                      struct rep_gate_result *r)
{
    for (size_t i = 0; i < n; i++) {
        for (long j = 0; j < cur->npairs[i]; j++) {
            if (rg_has_metric(r, cur->pairs[i][j].key)) {
                continue;
            }
            struct rep_gate_metric *m = rg_pair_metric(r, &cur->pairs[i][j]);
            if (m == NULL || judge_ab(m, ref, cur, n, l, o) != 0) {
                return -1;
            }
        }
        for (size_t j = 0; j < cur->runs[i].ncells; j++) {
            const struct rep_cell *c = &cur->runs[i].cells[j];
            if (!r->absolute_used || !rg_absolute_cell(c) || rg_has_metric(r, c->key)) {
                continue;
            }
            struct rep_gate_metric *m = rg_cell_metric(r, c);
            if (m == NULL || judge_ab(m, ref, cur, n, l, o) != 0) {
                return -1;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (long j = 0; j < ref->npairs[i]; j++) {
            const struct rep_pair *p = &ref->pairs[i][j];
            if (!has_ref_metric(r, l, p->key)) {
                struct rep_gate_metric *m = rg_pair_metric(r, p);
                if (m == NULL) {
                    return -1;
                }
                m->verdict = REP_V_ONLY_BASELINE;
            }
        }
        for (size_t j = 0; j < ref->runs[i].ncells; j++) {
            const struct rep_cell *c = &ref->runs[i].cells[j];
            if (r->absolute_used && rg_absolute_cell(c) && !has_ref_metric(r, l, c->key)) {
                struct rep_gate_metric *m = rg_cell_metric(r, c);
                if (m == NULL) {
                    return -1;
                }
                m->verdict = REP_V_ONLY_BASELINE;
            }
        }
    }
    return 0;
}

static void ab_note(struct rep_gate_result *r, const char *text)
{
    size_t len = strlen(r->notes);
    snprintf(r->notes + len, sizeof(r->notes) - len, "%s%s", len > 0 ? "; " : "", text);
}

/* Notes on the runs' environments: a test slowdown, or rounds whose settings differ. */
static void ab_env_notes(const struct rep_bench *ref, const struct rep_bench *cur,
                         struct rep_gate_result *r)
{
    char what[400];
    const char *sr = rep_env_str(&ref[0], "ENG_TEST_SLOWDOWN"),
               *sn = rep_env_str(&cur[0], "ENG_TEST_SLOWDOWN");
    if (sr[0] != '\0') {
        snprintf(what, sizeof(what), "the reference runs were measured with ENG_TEST_SLOWDOWN=%s",
                 sr);
        ab_note(r, what);
    }
    if (sn[0] != '\0') {
        snprintf(what, sizeof(what),
                 "the new runs were measured with ENG_TEST_SLOWDOWN=%s (a test-only slowdown)", sn);
        ab_note(r, what);
    }
    static const char *const same[] = {"profile", "ENG_ARCH", "ENG_BACKEND", "cpu_model"};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        const char *x = rep_env_str(&ref[0], same[i]), *y = rep_env_str(&cur[0], same[i]);
        if (strcmp(x, y) != 0) {
            snprintf(what, sizeof(what), "env.%s differs: reference '%s', new '%s'", same[i], x, y);
            ab_note(r, what);
        }
    }
}

int rep_ab_compare(const struct rep_bench *ref, const struct rep_bench *cur, size_t n,
                   const struct rep_retire *l, const struct rep_gate_opts *o,
                   struct rep_gate_result *r, struct base_err *e)
{
    memset(r, 0, sizeof(*r));
    r->opts = *o;
    if (n < 2 || n > REP_AB_MAX_ROUNDS) {
        BASE_FAIL(e, BASE_ERR_ARG, "the A/B gate needs 2 to %d rounds, got %zu", REP_AB_MAX_ROUNDS,
                  n);
        return -1;
    }
    r->model = REP_MODEL_AB;
    r->baseline_runs = n;
    r->absolute_used = o->absolute != REP_ABS_OFF;
    snprintf(r->baseline_path, sizeof(r->baseline_path), "%s", ref[0].path);
    snprintf(r->new_path, sizeof(r->new_path), "%s", cur[0].path);
    snprintf(r->baseline_commit, sizeof(r->baseline_commit), "%s",
             rep_env_str(&ref[0], "git_commit"));
    snprintf(r->new_commit, sizeof(r->new_commit), "%s", rep_env_str(&cur[0], "git_commit"));
    snprintf(
        r->mode_reason, sizeof(r->mode_reason),
        "%s: the reference and the new build were measured in the same job on this machine, in "
        "%zu interleaved rounds (one run of each build a round, the order alternating)",
        r->absolute_used ? "ratios + absolute figures" : "ratios only (forced by --absolute off)",
        n);
    ab_env_notes(ref, cur, r);
    struct ab_side sr = {.runs = ref}, sc = {.runs = cur};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sr.npairs[i] = rep_pairs_build(&ref[i], &sr.pairs[i]);
        sc.npairs[i] = rep_pairs_build(&cur[i], &sc.pairs[i]);
        rc = sr.npairs[i] < 0 || sc.npairs[i] < 0 ? -1 : 0;
    }
    rc = rc == 0 ? ab_metrics(&sr, &sc, n, l, o, r) : rc;
    rc = rc == 0 ? rg_decide(r, o) : rc;
    for (size_t i = 0; i < n; i++) {
        rep_pairs_free(sr.pairs[i], sr.npairs[i] > 0 ? (size_t)sr.npairs[i] : 0);
        rep_pairs_free(sc.pairs[i], sc.npairs[i] > 0 ? (size_t)sc.npairs[i] : 0);
    }
    if (rc != 0) {
        BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        rep_gate_result_free(r);
        return -1;
    }
    rg_tally(r);
    return 0;
}

int rep_gate_coverage(const struct rep_gate_result *r, const struct rep_retire *l, char **msg)
{
    *msg = NULL;
    size_t matched = 0, missing = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct rep_gate_metric *m = &r->m[i];
        if (m->verdict == REP_V_ONLY_NEW) {
            int intended =
                listed(l, REP_RETIRE_ADD, 0, m->key) || listed(l, REP_RETIRE_RENAME, 0, m->key);
            matched += intended;
            missing += !intended;
        } else if (m->verdict == REP_V_ONLY_BASELINE) {
            missing += !listed(l, REP_RETIRE_REMOVE, 1, m->key) &&
                       !listed(l, REP_RETIRE_RENAME, 1, m->key);
        } else {
            matched++;
        }
    }
    size_t total = matched + missing;
    if (total > 0 && (double)matched >= REP_AB_MIN_COVERAGE * (double)total) {
        return 0;
    }
    size_t len = 0;
    FILE *f = open_memstream(msg, &len);
    if (f == NULL) {
        return -1;
    }
    fprintf(f,
            "%zu of %zu metrics have a counterpart in the reference (%.0f%%); at least %.0f%% are "
            "needed, "
            "or the gate would pass without comparing them. Missing (%zu):\n",
            matched, total, total > 0 ? 100.0 * (double)matched / (double)total : 0.0,
            REP_AB_MIN_COVERAGE * 100, missing);
    for (int side = 0; side < 2; side++) {
        for (size_t i = 0; i < r->n; i++) {
            const struct rep_gate_metric *m = &r->m[i];
            int is_new = m->verdict == REP_V_ONLY_NEW && !listed(l, REP_RETIRE_ADD, 0, m->key) &&
                         !listed(l, REP_RETIRE_RENAME, 0, m->key);
            int is_old = m->verdict == REP_V_ONLY_BASELINE &&
                         !listed(l, REP_RETIRE_REMOVE, 1, m->key) &&
                         !listed(l, REP_RETIRE_RENAME, 1, m->key);
            if ((side == 0 && is_new) || (side == 1 && is_old)) {
                fprintf(f, "  %s: %s [%s]\n", side == 0 ? "only in new" : "only in reference",
                        m->name, m->key);
            }
        }
    }
    fprintf(f,
            "A metric renamed or removed on purpose needs a line in the rename/retire list (%s).",
            l != NULL && l->path[0] != '\0' ? l->path : REP_RETIRED_DEFAULT);
    if (fclose(f) != 0) {
        free(*msg);
        *msg = NULL;
        return -1;
    }
    return 1;
}

int rep_cpu_class(const struct rep_bench *b, char *out, size_t out_len)
{
    const char *path = rep_env_str(b, "best_path");
    if (path[0] == '\0') {
        path = rep_env_str(b, "cpu_best_arch");
    }
    const char *width = rep_env_str(b, "ceiling_width");
    if (path[0] == '\0') {
        snprintf(out, out_len, "unknown");
        return -1;
    }
    snprintf(out, out_len, "%s-%s", path, width[0] != '\0' ? width : "unknown");
    for (char *p = out; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
            *p = '_'; /* a file name part */
        }
    }
    return 0;
}

void rep_ab_rounds_free(struct rep_bench *ref, struct rep_bench *cur, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ref != NULL) {
            rep_bench_free(&ref[i]);
        }
        if (cur != NULL) {
            rep_bench_free(&cur[i]);
        }
    }
    free(ref);
    free(cur);
}

int rep_ab_load_rounds(const char *dir, struct rep_bench **ref, struct rep_bench **cur, size_t *n,
                       struct base_err *e)
{
    *n = 0;
    *ref = calloc(REP_AB_MAX_ROUNDS, sizeof(**ref));
    *cur = calloc(REP_AB_MAX_ROUNDS, sizeof(**cur));
    if (*ref == NULL || *cur == NULL) {
        BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < REP_AB_MAX_ROUNDS; i++) {
        char pr[4200], pn[4200];
        struct base_err le = BASE_ERR_INIT;
        snprintf(pr, sizeof(pr), "%s/ref-%02zu/bench.json", dir, i + 1);
        snprintf(pn, sizeof(pn), "%s/new-%02zu/bench.json", dir, i + 1);
        enum rep_status st = rep_bench_load(pr, &(*ref)[i], &le);
        if (st == REP_MISSING && i >= 2) {
            rep_bench_free(&(*ref)[i]);
            break;
        }
        *n = i + 1;
        if (st != REP_OK) {
            BASE_FAIL(e, le.code, "%s%s", le.msg,
                      st == REP_MISSING
                          ? " (an A/B folder holds ref-01/, new-01/, ref-02/, new-02/, ... "
                            "with a bench.json each, at least 2 rounds: reports/gate-ab.sh)"
                          : "");
            return -1;
        }
        st = rep_bench_load(pn, &(*cur)[i], &le);
        if (st != REP_OK) {
            BASE_FAIL(e, le.code, "%s%s", le.msg,
                      st == REP_MISSING ? " (round without its new run)" : "");
            return -1;
        }
    }
    return 0;
}
