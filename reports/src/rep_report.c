/*
 * rep_report.c - the sections of the report (see rep_report.h).
 */
#include "rep_report.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rep_bench.h"
#include "rep_doc.h"
#include "rep_stats.h"

#define BOOT_REPS  2000
#define BOOT_LEVEL 0.95
#define BOOT_SEED  0x636d6b2d7265706fULL /* "cmk-repo" */

/* What the report was made from; any of the three may be absent. */
struct inputs {
    struct rep_bench bench;
    int have_bench;
    cJSON *compliance;
    cJSON *gate;
    const struct rep_report_opts *o;
};

/* Number styles for tables (literal formats, so the compiler checks them). */
enum nstyle { N_F0, N_F2, N_F3, N_G3, N_G4, N_PCT };

static void fmt(char *out, size_t out_len, enum nstyle st, double v)
{
    if (isnan(v)) {
        snprintf(out, out_len, "-");
        return;
    }
    switch (st) {
        case N_F0:
            snprintf(out, out_len, "%.0f", v);
            break;
        case N_F2:
            snprintf(out, out_len, "%.2f", v);
            break;
        case N_F3:
            snprintf(out, out_len, "%.3f", v);
            break;
        case N_G3:
            snprintf(out, out_len, "%.3g", v);
            break;
        case N_G4:
            snprintf(out, out_len, "%.4g", v);
            break;
        case N_PCT:
        default:
            snprintf(out, out_len, "%+.1f%%", v * 100);
            break;
    }
}

static void fmt_ci(char *out, size_t out_len, enum nstyle st, double lo, double hi)
{
    char a[40], b[40];
    if (isnan(lo) || isnan(hi)) {
        snprintf(out, out_len, "-");
        return;
    }
    fmt(a, sizeof(a), st, lo);
    fmt(b, sizeof(b), st, hi);
    snprintf(out, out_len, "[%s, %s]", a, b);
}

/* Distinct values of a string field, in order of first appearance. */
static size_t distinct_modes(const struct rep_bench *b, const char **out, size_t max_out,
                             int (*want)(const struct rep_cell *))
{
    size_t n = 0;
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *c = &b->cells[i];
        if (!want(c) || c->mode[0] == '\0') {
            continue;
        }
        int seen = 0;
        for (size_t j = 0; j < n; j++) {
            seen |= strcmp(out[j], c->mode) == 0;
        }
        if (!seen && n < max_out) {
            out[n++] = c->mode;
        }
    }
    return n;
}

static int is_throughput(const struct rep_cell *c)
{
    return rep_cell_measured(c) && strcmp(c->unit, "GB/s") == 0 &&
           (strcmp(c->kind, "engine") == 0 || strcmp(c->kind, "raw") == 0);
}

static int is_single_thread_throughput(const struct rep_cell *c)
{
    return is_throughput(c) && c->threads == 1;
}

static void series_title(const struct rep_cell *c, char *out, size_t out_len, int with_dir)
{
    char extra[64] = "";
    size_t off = 0;
    if (strcmp(c->keys, "none") != 0) {
        off += (size_t)snprintf(extra + off, sizeof(extra) - off, " keys %s", c->keys);
    }
    if (c->batch != 64 && off < sizeof(extra)) {
        snprintf(extra + off, sizeof(extra) - off, " batch %ld", c->batch);
    }
    if (strcmp(c->kind, "raw") == 0) {
        snprintf(out, out_len, "raw %s%s%s%s",
                 strcmp(c->backend, "openssl") == 0 ? "openssl-evp" : c->backend, extra,
                 with_dir ? " " : "", with_dir ? c->direction : "");
    } else {
        snprintf(out, out_len, "%s %s/%s%s%s%s", c->kind, c->backend, c->arch, extra,
                 with_dir ? " " : "", with_dir ? c->direction : "");
    }
}

static void section_env(struct rep_doc *d, const struct inputs *in)
{
    rep_doc_h2(d, REP_H_ENV);
    if (!in->have_bench) {
        char t[1200];
        snprintf(t, sizeof(t),
                 "bench.json not found at %s: run make bench (environment " REP_NOT_MEASURED ").",
                 in->o->bench_path);
        rep_doc_missing(d, t);
        return;
    }
    const struct rep_bench *b = &in->bench;
    char t[1400];
    size_t measured = 0, skipped = 0;
    for (size_t i = 0; i < b->ncells; i++) {
        measured += rep_cell_measured(&b->cells[i]);
        skipped += b->cells[i].skipped != NULL;
    }
    snprintf(t, sizeof(t), "From %s (schema version %d): %zu cells, %zu measured, %zu skipped.",
             b->path, b->schema_version, b->ncells, measured, skipped);
    rep_doc_p(d, t);
    if (b->env == NULL) {
        rep_doc_missing(d, "bench.json has no env record.");
    } else {
        static const char *const head[] = {"field", "value"};
        rep_doc_table_begin(d, 2, head, "ll");
        const cJSON *it;
        cJSON_ArrayForEach(it, b->env)
        {
            char v[512];
            if (cJSON_IsString(it)) {
                snprintf(v, sizeof(v), "%s", it->valuestring[0] ? it->valuestring : "(unset)");
            } else if (cJSON_IsNumber(it)) {
                snprintf(v, sizeof(v), "%.10g", it->valuedouble);
            } else if (cJSON_IsBool(it)) {
                snprintf(v, sizeof(v), "%s", cJSON_IsTrue(it) ? "true" : "false");
            } else {
                continue;
            }
            const char *row[] = {it->string, v};
            rep_doc_table_row(d, 2, row, NULL);
        }
        rep_doc_table_end(d);
    }
    const char *slow = rep_env_str(b, "ENG_TEST_SLOWDOWN");
    if (slow[0] != '\0') {
        snprintf(t, sizeof(t),
                 "Warning: measured with the test-only slowdown ENG_TEST_SLOWDOWN=%s.", slow);
        rep_doc_missing(d, t);
    }
    if (skipped > 0) {
        rep_doc_h3(d, "Cells not measured");
        static const char *const head[] = {"cell", "direction", "unit", "reason"};
        rep_doc_table_begin(d, 4, head, "llrl");
        for (size_t i = 0; i < b->ncells; i++) {
            const struct rep_cell *c = &b->cells[i];
            if (c->skipped == NULL) {
                continue;
            }
            char u[24];
            rep_unit_str(u, sizeof(u), c->unit_bytes);
            const char *row[] = {c->label[0] ? c->label : c->kind, c->direction, u, c->skipped};
            rep_doc_table_row(d, 4, row, NULL);
        }
        rep_doc_table_end(d);
    }
    /* kinds this report does not draw */
    size_t other = 0;
    char kinds[256] = "";
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *c = &b->cells[i];
        if (strcmp(c->kind, "engine") == 0 || strcmp(c->kind, "raw") == 0 ||
            strcmp(c->kind, "vault") == 0 || strcmp(c->kind, "rotation") == 0 ||
            strcmp(c->kind, "engine-aa") == 0 || strcmp(c->kind, "store-file") == 0 ||
            strcmp(c->unit, "ops/s") == 0 ||
            cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c->json, "p50"))) {
            continue;
        }
        other++;
        if (strstr(kinds, c->kind) == NULL && strlen(kinds) + strlen(c->kind) + 3 < sizeof(kinds)) {
            size_t l = strlen(kinds);
            snprintf(kinds + l, sizeof(kinds) - l, "%s'%s'", l ? ", " : "", c->kind);
        }
    }
    if (other > 0) {
        snprintf(t, sizeof(t), "%zu cells of kinds this report does not know (%s) are left out.",
                 other, kinds);
        rep_doc_missing(d, t);
    }
}

static void throughput_table(struct rep_doc *d, const struct rep_bench *b);

static void section_throughput(struct rep_doc *d, const struct inputs *in)
{
    rep_doc_h2(d, REP_H_THROUGHPUT);
    const struct rep_bench *b = &in->bench;
    const char *modes[16];
    size_t nm = in->have_bench ? distinct_modes(b, modes, 16, is_single_thread_throughput) : 0;
    if (nm == 0) {
        rep_doc_missing(d, in->have_bench ? "Throughput " REP_NOT_MEASURED
                                            ": bench.json has no measured GB/s cells."
                                          : "Throughput " REP_NOT_MEASURED
                                            ": bench.json not found (run make bench).");
        return;
    }
    rep_doc_p(
        d,
        "Single thread, median GB/s (10^9 bytes/s) of the samples per cell; error bars and "
        "brackets: "
        "the confidence interval of the median recorded by the benchmark (ci_level in bench.json). "
        "x axis: data unit size, log scale.");
    static const char *const dirs[] = {"encrypt", "decrypt"};
    rep_doc_figures_begin(d);
    for (size_t m = 0; m < nm; m++) {
        for (size_t k = 0; k < 2; k++) {
            struct rep_plot *p = calloc(1, sizeof(*p));
            if (p == NULL) {
                continue;
            }
            snprintf(p->name, sizeof(p->name), "throughput-%s-%s", modes[m], dirs[k]);
            snprintf(p->title, sizeof(p->title), "AES-256-%s %s: throughput", modes[m], dirs[k]);
            for (char *s = p->title + 8; *s != '\0' && *s != ' '; s++) {
                *s = (char)(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s);
            }
            snprintf(p->xlabel, sizeof(p->xlabel), "data unit size (bytes, log scale)");
            snprintf(p->ylabel, sizeof(p->ylabel), "throughput (GB/s)");
            p->logx = 1;
            p->bytes_tics = 1;
            p->ymin_zero = 1;
            for (size_t i = 0; i < b->ncells; i++) {
                const struct rep_cell *c = &b->cells[i];
                if (!is_single_thread_throughput(c) || strcmp(c->mode, modes[m]) != 0 ||
                    strcmp(c->direction, dirs[k]) != 0) {
                    continue;
                }
                char title[160];
                series_title(c, title, sizeof(title), 0);
                rep_series_add(p, title, c->unit_bytes, c->median, c->ci_low, c->ci_high);
            }
            if (p->ns > 0) {
                rep_doc_plot(d, p);
            }
            free(p);
        }
    }
    rep_doc_figures_end(d);
    throughput_table(d, b);
}

static int same_row(const struct rep_cell *a, const struct rep_cell *c)
{
    return strcmp(a->mode, c->mode) == 0 && strcmp(a->kind, c->kind) == 0 &&
           strcmp(a->backend, c->backend) == 0 && strcmp(a->arch, c->arch) == 0 &&
           strcmp(a->direction, c->direction) == 0 && strcmp(a->keys, c->keys) == 0 &&
           a->batch == c->batch;
}

/* One row per cell, one column per data unit size: median GB/s [CI]. */
static void throughput_table(struct rep_doc *d, const struct rep_bench *b)
{
    double units[8];
    size_t nu = 0;
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *c = &b->cells[i];
        int seen = 0;
        for (size_t j = 0; j < nu; j++) {
            seen |= units[j] == c->unit_bytes;
        }
        if (is_single_thread_throughput(c) && !seen && nu < 8) {
            size_t k = nu++;
            while (k > 0 && units[k - 1] > c->unit_bytes) {
                units[k] = units[k - 1];
                k--;
            }
            units[k] = c->unit_bytes;
        }
    }
    const char *head[11] = {"mode", "cell", "direction"};
    char hbuf[8][48];
    for (size_t j = 0; j < nu; j++) {
        char u[24];
        rep_unit_str(u, sizeof(u), units[j]);
        snprintf(hbuf[j], sizeof(hbuf[j]), "%s: GB/s [CI]", u);
        head[3 + j] = hbuf[j];
    }
    rep_doc_table_begin(d, 3 + nu, head, "lllrrrrrrrr");
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *c = &b->cells[i];
        if (!is_single_thread_throughput(c)) {
            continue;
        }
        int first = 1;
        for (size_t k = 0; k < i && first; k++) {
            first = !(is_single_thread_throughput(&b->cells[k]) && same_row(&b->cells[k], c));
        }
        if (!first) {
            continue;
        }
        char title[160], vals[8][96];
        const char *row[11] = {c->mode, title, c->direction};
        series_title(c, title, sizeof(title), 0);
        for (size_t j = 0; j < nu; j++) {
            snprintf(vals[j], sizeof(vals[j]), "-");
            for (size_t k = i; k < b->ncells; k++) {
                const struct rep_cell *e = &b->cells[k];
                if (is_single_thread_throughput(e) && same_row(e, c) && e->unit_bytes == units[j]) {
                    char med[32], ci[64];
                    fmt(med, sizeof(med), N_F2, e->median);
                    fmt_ci(ci, sizeof(ci), N_F2, e->ci_low, e->ci_high);
                    snprintf(vals[j], sizeof(vals[j]), "%s%s%s", med,
                             strcmp(ci, "-") != 0 ? " " : "", strcmp(ci, "-") != 0 ? ci : "");
                    break;
                }
            }
            row[3 + j] = vals[j];
        }
        rep_doc_table_row(d, 3 + nu, row, NULL);
    }
    rep_doc_table_end(d);
}

/* Median of a pair's per-round ratios with a bootstrap interval. */
static void pair_stats(const struct rep_pair *p, double *med, double *lo, double *hi)
{
    *med = rep_median(p->ratios, p->n);
    *lo = *hi = NAN;
    if (p->n > 1) {
        rep_bootstrap_ratio(p->ratios, p->n, NULL, 0, BOOT_REPS, BOOT_LEVEL,
                            BOOT_SEED ^ rep_hash64(p->key), lo, hi);
    }
}

static void pairs_section(struct rep_doc *d, const struct inputs *in, const char *type,
                          const char *plot_prefix)
{
    struct rep_pair *pairs = NULL;
    long np = rep_pairs_build(&in->bench, &pairs);
    size_t count = 0;
    for (long i = 0; i < np; i++) {
        count += strcmp(pairs[i].type, type) == 0 && pairs[i].n > 0;
    }
    int cmk = strcmp(type, "cmk/smk") == 0;
    if (count == 0) {
        rep_doc_missing(d, cmk ? "CMK against SMK " REP_NOT_MEASURED
                                 ": bench.json has no engine cells with "
                                 "keys 'cmk' next to the same cells with keys 'smk'."
                               : "Engine/raw ratios " REP_NOT_MEASURED
                                 ": bench.json has no engine cell with "
                                 "a raw-library cell of the same group.");
        rep_pairs_free(pairs, np > 0 ? (size_t)np : 0);
        return;
    }
    rep_doc_p(
        d,
        cmk ? "Ratio CMK / SMK of the same engine cell: per-round ratios (sample i of CMK / sample "
              "i of "
              "SMK, measured in the same interleaved round), their median and a 95% bootstrap "
              "interval "
              "(2000 resamples, fixed seed). 1.0 means CMK costs nothing."
            : "Per-round ratios: sample i of the engine cell divided by sample i of the raw "
              "library "
              "cell (OpenSSL EVP for the openssl and native back ends, ipsec-mb for ipsec-mb) "
              "measured "
              "in the same interleaved round, so machine drift cancels; median and 95% bootstrap "
              "interval (2000 resamples, fixed seed). Above 1.0 the engine is faster than the "
              "library "
              "it wraps.");
    const char *modes[16];
    size_t nm = 0;
    for (long i = 0; i < np; i++) {
        if (strcmp(pairs[i].type, type) != 0) {
            continue;
        }
        int seen = 0;
        for (size_t j = 0; j < nm; j++) {
            seen |= strcmp(modes[j], pairs[i].num->mode) == 0;
        }
        if (!seen && nm < 16) {
            modes[nm++] = pairs[i].num->mode;
        }
    }
    rep_doc_figures_begin(d);
    for (size_t m = 0; m < nm; m++) {
        struct rep_plot *p = calloc(1, sizeof(*p));
        if (p == NULL) {
            continue;
        }
        snprintf(p->name, sizeof(p->name), "%s-%s", plot_prefix, modes[m]);
        snprintf(p->title, sizeof(p->title), "%s: %s", modes[m],
                 cmk ? "CMK / SMK throughput" : "engine / raw library");
        snprintf(p->xlabel, sizeof(p->xlabel), "data unit size (bytes, log scale)");
        snprintf(p->ylabel, sizeof(p->ylabel),
                 cmk ? "throughput ratio CMK / SMK" : "throughput ratio engine / raw");
        p->logx = 1;
        p->bytes_tics = 1;
        p->hline_one = 1;
        for (long i = 0; i < np; i++) {
            const struct rep_pair *q = &pairs[i];
            if (strcmp(q->type, type) != 0 || q->n == 0 || strcmp(q->num->mode, modes[m]) != 0) {
                continue;
            }
            char title[200];
            if (cmk) {
                snprintf(title, sizeof(title), "%s%s/%s %s",
                         strcmp(q->num->kind, "store-file") == 0 ? "file store " : "",
                         q->num->backend, q->num->arch, q->num->direction);
            } else {
                snprintf(title, sizeof(title), "%s/%s / raw %s %s", q->num->backend, q->num->arch,
                         q->den->backend, q->num->direction);
            }
            if (q->num->threads != 1 || q->num->batch != 64) {
                size_t l = strlen(title);
                snprintf(title + l, sizeof(title) - l, " (t%ld b%ld)", q->num->threads,
                         q->num->batch);
            }
            double med, lo, hi;
            pair_stats(q, &med, &lo, &hi);
            rep_series_add(p, title, q->num->unit_bytes, med, lo, hi);
        }
        rep_doc_plot(d, p);
        free(p);
    }
    rep_doc_figures_end(d);
    if (cmk) {
        static const char *const head[] = {"cell",   "SMK GB/s",  "SMK CI", "CMK GB/s",
                                           "CMK CI", "CMK / SMK", "95% CI", "rounds"};
        rep_doc_table_begin(d, 8, head, "lrrrrrrr");
    } else {
        static const char *const head[] = {"ratio",  "median",      "95% CI",
                                           "rounds", "engine GB/s", "raw GB/s"};
        rep_doc_table_begin(d, 6, head, "lrrrrr");
    }
    for (long i = 0; i < np; i++) {
        const struct rep_pair *q = &pairs[i];
        if (strcmp(q->type, type) != 0 || q->n == 0) {
            continue;
        }
        double med, lo, hi;
        pair_stats(q, &med, &lo, &hi);
        char m[32], ci[64], n[16], a[32], b[32], aci[64], bci[64];
        fmt(m, sizeof(m), N_F3, med);
        fmt_ci(ci, sizeof(ci), N_F3, lo, hi);
        snprintf(n, sizeof(n), "%zu", q->n);
        fmt(a, sizeof(a), N_F2, q->num->median);
        fmt(b, sizeof(b), N_F2, q->den->median);
        if (cmk) {
            fmt_ci(aci, sizeof(aci), N_F2, q->num->ci_low, q->num->ci_high);
            fmt_ci(bci, sizeof(bci), N_F2, q->den->ci_low, q->den->ci_high);
            const char *row[] = {q->name, b, bci, a, aci, m, ci, n};
            rep_doc_table_row(d, 8, row, NULL);
        } else {
            const char *row[] = {q->name, m, ci, n, a, b};
            rep_doc_table_row(d, 6, row, NULL);
        }
    }
    rep_doc_table_end(d);
    rep_pairs_free(pairs, np > 0 ? (size_t)np : 0);
}

/* The engine cell an A/A twin repeats (same key apart from the kind), or NULL. */
static const struct rep_cell *aa_original(const struct rep_bench *b, const struct rep_cell *t)
{
    for (size_t j = 0; j < b->ncells; j++) {
        const struct rep_cell *c = &b->cells[j];
        if (rep_cell_measured(c) && strcmp(c->kind, "engine") == 0 &&
            strcmp(c->mode, t->mode) == 0 && strcmp(c->backend, t->backend) == 0 &&
            strcmp(c->arch, t->arch) == 0 && strcmp(c->direction, t->direction) == 0 &&
            c->unit_bytes == t->unit_bytes && c->batch == t->batch && c->threads == t->threads &&
            strcmp(c->keys, t->keys) == 0) {
            return c;
        }
    }
    return NULL;
}

/* A/A: a cell measured twice in one run (kind engine-aa); the medians should differ by under 2%. */
static void aa_table(struct rep_doc *d, const struct rep_bench *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->ncells; i++) {
        n += strcmp(b->cells[i].kind, "engine-aa") == 0 && rep_cell_measured(&b->cells[i]);
    }
    if (n == 0) {
        return;
    }
    rep_doc_h3(d, "A/A: the same cell measured twice");
    rep_doc_p(
        d,
        "A twin of an engine cell measured in the same interleaved rounds; twin / cell per round, "
        "median and 95% bootstrap interval. The bar: medians within 2%.");
    static const char *const head[] = {"cell",   "cell GB/s", "twin GB/s", "twin / cell",
                                       "95% CI", "rounds",    "within 2%"};
    rep_doc_table_begin(d, 7, head, "lrrrrrl");
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *t = &b->cells[i];
        const struct rep_cell *c =
            strcmp(t->kind, "engine-aa") == 0 && rep_cell_measured(t) ? aa_original(b, t) : NULL;
        if (c == NULL) {
            continue;
        }
        struct rep_pair q = {.num = t, .den = c};
        snprintf(q.key, sizeof(q.key), "%s", t->key); /* the bootstrap's seed */
        q.ratios = rep_round_ratios(t, c, &q.n);
        if (q.ratios == NULL) {
            continue;
        }
        size_t k = q.n;
        double med = NAN, lo = NAN, hi = NAN;
        if (k > 0) {
            pair_stats(&q, &med, &lo, &hi);
        }
        free(q.ratios);
        char name[200], a[32], tw[32], rm[32], ci[64], rounds[16];
        series_title(c, name, sizeof(name), 0);
        size_t l = strlen(name);
        rep_unit_str(a, sizeof(a), c->unit_bytes);
        snprintf(name + l, sizeof(name) - l, " %s %s %s", c->mode, a, c->direction);
        fmt(a, sizeof(a), N_F2, c->median);
        fmt(tw, sizeof(tw), N_F2, t->median);
        fmt(rm, sizeof(rm), N_F3, med);
        fmt_ci(ci, sizeof(ci), N_F3, lo, hi);
        snprintf(rounds, sizeof(rounds), "%zu", k);
        int ok = !isnan(med) && fabs(med - 1) < 0.02;
        const char *row[] = {name, a, tw, rm, ci, rounds, isnan(med) ? "-" : ok ? "pass" : "FAIL"};
        const enum rep_cls cls[] = {
            0, 0, 0, 0, 0, 0, isnan(med) ? REP_CLS_NA : ok ? REP_CLS_PASS : REP_CLS_FAIL};
        rep_doc_table_row(d, 7, row, cls);
    }
    rep_doc_table_end(d);
}

static void section_ratios(struct rep_doc *d, const struct inputs *in)
{
    rep_doc_h2(d, REP_H_RATIOS);
    if (!in->have_bench) {
        rep_doc_missing(
            d, "Engine/raw ratios " REP_NOT_MEASURED ": bench.json not found (run make bench).");
        return;
    }
    pairs_section(d, in, "engine/raw", "ratio");
    aa_table(d, &in->bench);
}

static void section_cmk(struct rep_doc *d, const struct inputs *in)
{
    rep_doc_h2(d, REP_H_CMK);
    if (!in->have_bench) {
        rep_doc_missing(
            d, "CMK against SMK " REP_NOT_MEASURED ": bench.json not found (run make bench).");
        return;
    }
    pairs_section(d, in, "cmk/smk", "cmk-smk");
}

static int has_threads(const struct rep_cell *c)
{
    return is_throughput(c) && c->threads > 1;
}

/* The cell of |c|'s key (threads aside) with |threads| threads, or NULL. */
static const struct rep_cell *with_threads(const struct rep_bench *b, const struct rep_cell *c,
                                           long threads)
{
    for (size_t j = 0; j < b->ncells; j++) {
        const struct rep_cell *e = &b->cells[j];
        if (is_throughput(e) && e->threads == threads && strcmp(e->kind, c->kind) == 0 &&
            strcmp(e->mode, c->mode) == 0 && strcmp(e->backend, c->backend) == 0 &&
            strcmp(e->arch, c->arch) == 0 && strcmp(e->direction, c->direction) == 0 &&
            e->unit_bytes == c->unit_bytes && strcmp(e->keys, c->keys) == 0 &&
            e->batch == c->batch) {
            return e;
        }
    }
    return NULL;
}

static void section_threads(struct rep_doc *d, const struct inputs *in)
{
    rep_doc_h2(d, REP_H_THREADS);
    const struct rep_bench *b = &in->bench;
    const char *modes[16];
    size_t nm = in->have_bench ? distinct_modes(b, modes, 16, has_threads) : 0;
    if (nm == 0) {
        rep_doc_missing(d, in->have_bench ? "Thread scaling " REP_NOT_MEASURED
                                            ": bench.json has no cell with threads > 1."
                                          : "Thread scaling " REP_NOT_MEASURED
                                            ": bench.json not found (run make bench).");
        return;
    }
    rep_doc_p(
        d,
        "Aggregate GB/s against the number of threads, per cell and data unit size; error bars: "
        "the "
        "benchmark's confidence interval of the median. Speed-up: the median at N threads over the "
        "median of the same cell at 1 thread.");
    rep_doc_figures_begin(d);
    for (size_t m = 0; m < nm; m++) {
        struct rep_plot *p = calloc(1, sizeof(*p));
        if (p == NULL) {
            continue;
        }
        snprintf(p->name, sizeof(p->name), "threads-%s", modes[m]);
        snprintf(p->title, sizeof(p->title), "%s: thread scaling", modes[m]);
        snprintf(p->xlabel, sizeof(p->xlabel), "threads");
        snprintf(p->ylabel, sizeof(p->ylabel), "throughput (GB/s, all threads)");
        p->ymin_zero = 1;
        p->data_tics = 1;
        for (size_t i = 0; i < b->ncells; i++) {
            const struct rep_cell *c = &b->cells[i];
            if (!is_throughput(c) || strcmp(c->mode, modes[m]) != 0) {
                continue;
            }
            /* only cells whose key (threads aside) exists at 1 thread and with threads > 1 */
            const struct rep_cell *one = with_threads(b, c, 1);
            int scaled = 0;
            for (size_t j = 0; j < b->ncells && !scaled && one != NULL; j++) {
                scaled = has_threads(&b->cells[j]) && with_threads(b, &b->cells[j], 1) == one;
            }
            if (!scaled) {
                continue;
            }
            char title[160], u[24], full[200];
            series_title(c, title, sizeof(title), 1);
            rep_unit_str(u, sizeof(u), c->unit_bytes);
            snprintf(full, sizeof(full), "%s %s", title, u);
            rep_series_add(p, full, (double)c->threads, c->median, c->ci_low, c->ci_high);
        }
        if (p->ns > 0) {
            rep_doc_plot(d, p);
        }
        free(p);
    }
    rep_doc_figures_end(d);
    static const char *const head[] = {"mode", "cell", "direction",     "unit",    "threads",
                                       "GB/s", "CI",   "1 thread GB/s", "speed-up"};
    rep_doc_table_begin(d, 9, head, "lllrrrrrr");
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *c = &b->cells[i];
        if (!has_threads(c)) {
            continue;
        }
        const struct rep_cell *one = with_threads(b, c, 1);
        char title[160], u[24], t[24], med[32], ci[96], m1[32], sp[32];
        series_title(c, title, sizeof(title), 0);
        rep_unit_str(u, sizeof(u), c->unit_bytes);
        snprintf(t, sizeof(t), "%ld", c->threads);
        fmt(med, sizeof(med), N_F2, c->median);
        fmt_ci(ci, sizeof(ci), N_F2, c->ci_low, c->ci_high);
        fmt(m1, sizeof(m1), N_F2, one != NULL ? one->median : NAN);
        if (one != NULL && one->median > 0) {
            snprintf(sp, sizeof(sp), "%.2fx", c->median / one->median);
        } else {
            snprintf(sp, sizeof(sp), "-");
        }
        const char *row[] = {c->mode, title, c->direction, u, t, med, ci, m1, sp};
        rep_doc_table_row(d, 9, row, NULL);
    }
    rep_doc_table_end(d);
}

static int is_latency(const struct rep_cell *c)
{
    return c->skipped == NULL && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c->json, "p50"));
}

/* RSA size of a latency cell: rsa_bits, key_size, else digits after "RSA"/"rsa" in the label. */
static long rsa_bits(const struct rep_cell *c)
{
    double v = rep_json_num(c->json, "rsa_bits");
    if (isnan(v)) {
        v = rep_json_num(c->json, "key_size");
    }
    if (!isnan(v)) {
        return (long)v;
    }
    const char *s = strstr(c->label, "RSA");
    if (s == NULL) {
        s = strstr(c->label, "rsa");
    }
    if (s != NULL) {
        s += 3;
        while (*s == '-' || *s == ' ') {
            s++;
        }
        char *end;
        long bits = strtol(s, &end, 10);
        if (end != s && bits > 0) {
            return bits;
        }
    }
    return 0;
}

static const char *latency_op(const struct rep_cell *c)
{
    const char *op = rep_json_str(c->json, "operation");
    if (op == NULL) {
        op = rep_json_str(c->json, "op");
    }
    return op != NULL ? op : (c->label[0] ? c->label : c->kind);
}

static int is_rate(const struct rep_cell *c)
{
    return c->skipped == NULL && !isnan(c->median) && strcmp(c->unit, "ops/s") == 0;
}

/* Throughput of vault operations next to OpenSSL's RSA private-operation rate in the same run. */
static void rate_table(struct rep_doc *d, const struct rep_bench *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->ncells; i++) {
        n += is_rate(&b->cells[i]);
    }
    if (n == 0) {
        rep_doc_missing(d,
                        "Vault throughput " REP_NOT_MEASURED ": bench.json has no cells in ops/s.");
        return;
    }
    rep_doc_h3(d, "Vault throughput and OpenSSL's RSA rate");
    rep_doc_p(
        d,
        "Operations per second of the vault (clients in parallel over loopback HTTPS) next to the "
        "RSA private-key operations OpenSSL does on the same machine in the same run: the vault "
        "cannot unwrap faster than the RSA it runs on.");
    static const char *const head[] = {"cell", "RSA bits", "threads / clients", "ops/s", "CI"};
    rep_doc_table_begin(d, 5, head, "lrrrr");
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *c = &b->cells[i];
        if (!is_rate(c)) {
            continue;
        }
        char bits[24], t[24], med[32], ci[64];
        long rb = rsa_bits(c);
        snprintf(bits, sizeof(bits), rb > 0 ? "%ld" : "-", rb);
        snprintf(t, sizeof(t), "%ld", c->threads);
        fmt(med, sizeof(med), N_F0, c->median);
        fmt_ci(ci, sizeof(ci), N_F0, c->ci_low, c->ci_high);
        const char *row[] = {c->label[0] ? c->label : c->kind, bits, t, med, ci};
        rep_doc_table_row(d, 5, row, NULL);
    }
    rep_doc_table_end(d);
}

static void section_vault(struct rep_doc *d, const struct inputs *in)
{
    rep_doc_h2(d, REP_H_VAULT);
    const struct rep_bench *b = &in->bench;
    size_t n = 0;
    for (size_t i = 0; in->have_bench && i < b->ncells; i++) {
        n += is_latency(&b->cells[i]);
    }
    if (n == 0) {
        rep_doc_missing(d, in->have_bench ? "Vault latency " REP_NOT_MEASURED
                                            ": bench.json has no latency cells "
                                            "(results with p50/p90/p99)."
                                          : "Vault latency " REP_NOT_MEASURED
                                            ": bench.json not found (run make bench).");
        return;
    }
    rep_doc_p(d,
              "Latency percentiles of vault operations per RSA key size (p50, p90, p99 as recorded "
              "by the "
              "benchmark).");
    const char **cats = calloc(n, sizeof(char *));
    char(*catbuf)[160] = calloc(n, sizeof(*catbuf));
    double *v = calloc(n * 3, sizeof(double));
    char unit[16] = "";
    if (cats == NULL || catbuf == NULL || v == NULL) {
        free(cats);
        free(catbuf);
        free(v);
        return;
    }
    /* two plots, so that the labels stay readable: cold opens (the store's view) and single vault
     * calls */
    static const char *const vals[] = {"p50", "p90", "p99"};
    rep_doc_figures_begin(d);
    for (int cold = 1; cold >= 0; cold--) {
        size_t k = 0;
        for (size_t i = 0; i < b->ncells; i++) {
            const struct rep_cell *c = &b->cells[i];
            if (!is_latency(c) || (strncmp(latency_op(c), "cold-open", 9) == 0) != cold) {
                continue;
            }
            long bits = rsa_bits(c);
            const char *op = latency_op(c);
            if (cold && strlen(op) > 10) {
                op += 10; /* "cold-open cmk ..." -> "cmk ..." */
            }
            if (bits > 0 && strstr(op, "RSA") == NULL) {
                snprintf(catbuf[k], sizeof(catbuf[k]), "%s RSA-%ld", op, bits);
            } else {
                snprintf(catbuf[k], sizeof(catbuf[k]), "%s", op);
            }
            cats[k] = catbuf[k];
            v[k * 3] = rep_json_num(c->json, "p50");
            v[k * 3 + 1] = rep_json_num(c->json, "p90");
            v[k * 3 + 2] = rep_json_num(c->json, "p99");
            if (unit[0] == '\0') {
                snprintf(unit, sizeof(unit), "%s", c->unit[0] ? c->unit : "ms");
            }
            k++;
        }
        if (k == 0) {
            continue;
        }
        char ylabel[64];
        snprintf(ylabel, sizeof(ylabel), "latency (%s)", unit);
        rep_doc_plot_bars(d, cold ? "cold-open-latency" : "vault-latency",
                          cold ? "cold open of a store (time to first byte)"
                               : "vault operation latency per RSA key size",
                          ylabel, k, cats, 3, vals, v);
    }
    rep_doc_figures_end(d);
    static const char *const head[] = {"operation", "RSA bits", "p50",    "p90",
                                       "p99",       "unit",     "samples"};
    rep_doc_table_begin(d, 7, head, "lrrrrlr");
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *c = &b->cells[i];
        if (!is_latency(c)) {
            continue;
        }
        char bits[24], a[32], p9[32], p99[32], ns[24];
        long rb = rsa_bits(c);
        if (rb > 0) {
            snprintf(bits, sizeof(bits), "%ld", rb);
        } else {
            snprintf(bits, sizeof(bits), "-");
        }
        fmt(a, sizeof(a), N_G3, rep_json_num(c->json, "p50"));
        fmt(p9, sizeof(p9), N_G3, rep_json_num(c->json, "p90"));
        fmt(p99, sizeof(p99), N_G3, rep_json_num(c->json, "p99"));
        snprintf(ns, sizeof(ns), "%zu", c->nsamples);
        const char *row[] = {latency_op(c), bits, a, p9, p99, c->unit, ns};
        rep_doc_table_row(d, 7, row, NULL);
    }
    rep_doc_table_end(d);
    free(cats);
    free(catbuf);
    free(v);
    rate_table(d, b);
}

static int is_rotation(const struct rep_cell *c)
{
    return c->skipped == NULL && !isnan(rep_json_num(c->json, "dek_count")) && !isnan(c->median);
}

/* A rotation cell's series: its label without a trailing "N DEKs", so one line joins the DEK
 * counts. */
static void rotation_series(const struct rep_cell *c, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s", c->label[0] ? c->label : c->kind);
    size_t l = strlen(out);
    if (l > 5 && strcmp(out + l - 5, " DEKs") == 0) {
        size_t e = l - 5;
        while (e > 0 && out[e - 1] >= '0' && out[e - 1] <= '9') {
            e--;
        }
        if (e > 0 && e < l - 5 && out[e - 1] == ' ') {
            out[e - 1] = '\0';
        }
    }
}

static void section_rotation(struct rep_doc *d, const struct inputs *in)
{
    rep_doc_h2(d, REP_H_ROTATION);
    const struct rep_bench *b = &in->bench;
    size_t n = 0;
    for (size_t i = 0; in->have_bench && i < b->ncells; i++) {
        n += is_rotation(&b->cells[i]);
    }
    if (n == 0) {
        rep_doc_missing(d, in->have_bench ? "Rotation cost " REP_NOT_MEASURED
                                            ": bench.json has no rotation cells "
                                            "(results with dek_count)."
                                          : "Rotation cost " REP_NOT_MEASURED
                                            ": bench.json not found (run make bench).");
        return;
    }
    rep_doc_p(d,
              "Time of a key rotation against the number of DEKs it re-wraps; error bars: the "
              "benchmark's "
              "confidence interval of the median.");
    struct rep_plot *p = calloc(1, sizeof(*p));
    if (p != NULL) {
        snprintf(p->name, sizeof(p->name), "rotation");
        snprintf(p->title, sizeof(p->title), "rotation cost against DEK count");
        p->data_tics = 1;
        double lo = INFINITY, hi = 0;
        char unit[16] = "";
        for (size_t i = 0; i < b->ncells; i++) {
            const struct rep_cell *c = &b->cells[i];
            if (!is_rotation(c)) {
                continue;
            }
            double x = rep_json_num(c->json, "dek_count");
            lo = fmin(lo, x);
            hi = fmax(hi, x);
            if (unit[0] == '\0') {
                snprintf(unit, sizeof(unit), "%s", c->unit);
            }
            char series[160];
            rotation_series(c, series, sizeof(series));
            rep_series_add(p, series, x, c->median, c->ci_low, c->ci_high);
        }
        p->logx = lo > 0 && hi / lo >= 8;
        snprintf(p->xlabel, sizeof(p->xlabel), "DEKs re-wrapped%s", p->logx ? " (log scale)" : "");
        p->ymin_zero = 1;
        snprintf(p->ylabel, sizeof(p->ylabel), "rotation time (%s)", unit[0] ? unit : "?");
        rep_doc_figures_begin(d);
        rep_doc_plot(d, p);
        rep_doc_figures_end(d);
        free(p);
    }
    static const char *const head[] = {"cell", "DEKs", "median", "CI", "unit"};
    rep_doc_table_begin(d, 5, head, "lrrrl");
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *c = &b->cells[i];
        if (!is_rotation(c)) {
            continue;
        }
        char dk[32], med[32], ci[64];
        fmt(dk, sizeof(dk), N_F0, rep_json_num(c->json, "dek_count"));
        fmt(med, sizeof(med), N_G4, c->median);
        fmt_ci(ci, sizeof(ci), N_G4, c->ci_low, c->ci_high);
        const char *row[] = {c->label[0] ? c->label : c->kind, dk, med, ci, c->unit};
        rep_doc_table_row(d, 5, row, NULL);
    }
    rep_doc_table_end(d);
}

/* Any JSON value as display text: strings as is, arrays joined with "; ", objects as compact JSON.
 */
static void json_text(const cJSON *v, char *out, size_t out_len)
{
    out[0] = '\0';
    if (v == NULL || cJSON_IsNull(v)) {
        return;
    }
    if (cJSON_IsString(v)) {
        snprintf(out, out_len, "%s", v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        snprintf(out, out_len, "%.10g", v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        snprintf(out, out_len, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsArray(v)) {
        size_t off = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, v)
        {
            char part[1024];
            json_text(it, part, sizeof(part));
            if (off < out_len) {
                off += (size_t)snprintf(out + off, out_len - off, "%s%s", off ? "; " : "", part);
            }
        }
    } else {
        char *s = cJSON_PrintUnformatted(v);
        if (s != NULL) {
            snprintf(out, out_len, "%s", s);
            free(s);
        }
    }
}

static enum rep_cls verdict_cls(const char *v)
{
    if (v == NULL) {
        return REP_CLS_NONE;
    }
    if (strcmp(v, "pass") == 0) {
        return REP_CLS_PASS;
    }
    if (strcmp(v, "fail") == 0 || strcmp(v, "regression") == 0 || strcmp(v, "REGRESSION") == 0) {
        return REP_CLS_FAIL;
    }
    return REP_CLS_NA;
}

static void section_controls(struct rep_doc *d, const struct inputs *in)
{
    rep_doc_h2(d, REP_H_CONTROLS);
    char t[1400];
    if (in->compliance == NULL) {
        snprintf(t, sizeof(t),
                 "compliance.json not found at %s: controls " REP_NOT_MEASURED
                 " (run make compliance).",
                 in->o->compliance_path);
        rep_doc_missing(d, t);
        return;
    }
    const cJSON *controls = cJSON_GetObjectItemCaseSensitive(in->compliance, "controls");
    if (!cJSON_IsArray(controls) || cJSON_GetArraySize(controls) == 0) {
        rep_doc_missing(d,
                        "compliance.json has no 'controls' array: controls " REP_NOT_MEASURED ".");
        return;
    }
    size_t pass = 0, fail = 0, na = 0, other = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, controls)
    {
        const char *v = rep_json_str(c, "verdict");
        if (v != NULL && strcmp(v, "pass") == 0) {
            pass++;
        } else if (v != NULL && strcmp(v, "fail") == 0) {
            fail++;
        } else if (v != NULL && strcmp(v, "not_applicable") == 0) {
            na++;
        } else {
            other++;
        }
    }
    snprintf(t, sizeof(t), "%d controls: %zu pass, %zu fail, %zu not applicable%s.",
             cJSON_GetArraySize(controls), pass, fail, na,
             other ? ", some without a valid verdict" : "");
    rep_doc_p(d, t);
    static const char *const head[] = {"id",       "control",  "statement", "method",
                                       "evidence", "measured", "verdict",   "reason"};
    rep_doc_table_begin(d, 8, head, "llllllll");
    cJSON_ArrayForEach(c, controls)
    {
        static const char *const fields[] = {"id",       "title",    "statement", "method",
                                             "evidence", "measured", "verdict",   "reason"};
        char buf[8][1024];
        const char *row[8];
        enum rep_cls cls[8] = {0};
        for (size_t i = 0; i < 8; i++) {
            json_text(cJSON_GetObjectItemCaseSensitive(c, fields[i]), buf[i], sizeof(buf[i]));
            row[i] = buf[i];
        }
        if (buf[6][0] == '\0') {
            snprintf(buf[6], sizeof(buf[6]), "(none)");
        }
        cls[6] = verdict_cls(rep_json_str(c, "verdict"));
        rep_doc_table_row(d, 8, row, cls);
    }
    rep_doc_table_end(d);
}

static void section_kats(struct rep_doc *d, const struct inputs *in)
{
    rep_doc_h2(d, REP_H_KATS);
    char t[1400];
    if (in->compliance == NULL) {
        snprintf(t, sizeof(t),
                 "compliance.json not found at %s: KAT counts " REP_NOT_MEASURED
                 " (run make compliance).",
                 in->o->compliance_path);
        rep_doc_missing(d, t);
        return;
    }
    const cJSON *kats = cJSON_GetObjectItemCaseSensitive(in->compliance, "kats");
    if (!cJSON_IsArray(kats) || cJSON_GetArraySize(kats) == 0) {
        rep_doc_missing(d, "compliance.json has no 'kats' array: KAT counts " REP_NOT_MEASURED ".");
        return;
    }
    static const char *const head[] = {"file",   "back end", "arch",       "passed",
                                       "failed", "skipped",  "skip reason"};
    rep_doc_table_begin(d, 7, head, "lllrrrl");
    double tp = 0, tf = 0, ts = 0;
    const cJSON *k;
    cJSON_ArrayForEach(k, kats)
    {
        char buf[7][1024];
        const char *row[7];
        enum rep_cls cls[7] = {0};
        static const char *const fields[] = {"file",   "backend", "arch",       "passed",
                                             "failed", "skipped", "skip_reason"};
        for (size_t i = 0; i < 7; i++) {
            json_text(cJSON_GetObjectItemCaseSensitive(k, fields[i]), buf[i], sizeof(buf[i]));
            row[i] = buf[i];
        }
        double p = rep_json_num(k, "passed"), f = rep_json_num(k, "failed"),
               s = rep_json_num(k, "skipped");
        tp += isnan(p) ? 0 : p;
        tf += isnan(f) ? 0 : f;
        ts += isnan(s) ? 0 : s;
        cls[4] = f > 0 ? REP_CLS_FAIL : REP_CLS_NONE;
        rep_doc_table_row(d, 7, row, cls);
    }
    char a[32], b[32], c[32];
    snprintf(a, sizeof(a), "%.0f", tp);
    snprintf(b, sizeof(b), "%.0f", tf);
    snprintf(c, sizeof(c), "%.0f", ts);
    const char *row[] = {"total", "", "", a, b, c, ""};
    enum rep_cls cls[7] = {0, 0, 0, 0, tf > 0 ? REP_CLS_FAIL : REP_CLS_PASS, 0, 0};
    rep_doc_table_row(d, 7, row, cls);
    rep_doc_table_end(d);
}

static void section_gate(struct rep_doc *d, const struct inputs *in)
{
    rep_doc_h2(d, REP_H_GATE);
    char t[2400];
    if (in->gate == NULL) {
        snprintf(t, sizeof(t), "gate.json not found at %s: no gate verdicts yet (run make gate).",
                 in->o->gate_path);
        rep_doc_missing(d, t);
        return;
    }
    const cJSON *g = in->gate;
    const char *verdict = rep_json_str(g, "verdict");
    snprintf(
        t, sizeof(t),
        "Verdict: %s. %.0f metrics compared, %.0f regressions, %.0f improved, %.0f not compared. "
        "Baseline %s (commit %s), new %s (commit %s).",
        verdict != NULL ? (strcmp(verdict, "pass") == 0 ? "PASS" : "REGRESSION") : "?",
        rep_json_num(g, "compared"), rep_json_num(g, "regressions"),
        rep_json_num(g, "improvements"), rep_json_num(g, "not_compared"),
        rep_json_str(g, "baseline") ? rep_json_str(g, "baseline") : "?",
        rep_json_str(g, "baseline_commit") ? rep_json_str(g, "baseline_commit") : "?",
        rep_json_str(g, "new") ? rep_json_str(g, "new") : "?",
        rep_json_str(g, "new_commit") ? rep_json_str(g, "new_commit") : "?");
    rep_doc_p(d, t);
    const char *corr = rep_json_str(g, "correction");
    const char *test = rep_json_str(g, "test");
    if (test != NULL && test[0] != '\0') {
        /* gate.json says how it decided (Mann-Whitney on samples, or the run-level model) */
        snprintf(t, sizeof(t), "Mode: %s. Test: %s.",
                 rep_json_str(g, "mode") ? rep_json_str(g, "mode") : "?", test);
    } else {
        snprintf(
            t, sizeof(t),
            "Mode: %s. Test: one-sided Mann-Whitney U at alpha %g (%s); a regression also needs a "
            "change larger than %g%%; interval: bootstrap of the ratio of medians.",
            rep_json_str(g, "mode") ? rep_json_str(g, "mode") : "?", rep_json_num(g, "alpha"),
            corr != NULL && strcmp(corr, "holm") == 0 ? "Holm-Bonferroni over the compared metrics"
                                                      : "p not adjusted for the number of metrics",
            rep_json_num(g, "min_effect") * 100);
    }
    rep_doc_p(d, t);
    const char *notes = rep_json_str(g, "notes");
    if (notes != NULL && notes[0] != '\0') {
        snprintf(t, sizeof(t), "Notes: %s.", notes);
        rep_doc_missing(d, t);
    }
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(g, "metrics");
    if (!cJSON_IsArray(ms)) {
        return;
    }
    static const char *const head[] = {"metric",    "kind",       "baseline",
                                       "new",       "change",     "CI of change",
                                       "p (worse)", "p adjusted", "verdict"};
    rep_doc_table_begin(d, 9, head, "llrrrrrrl");
    /* regressions first, then improvements, passes, and what was not compared */
    static const char *const order[] = {"REGRESSION", "improved", "pass", NULL};
    for (size_t pass = 0; pass < 4; pass++) {
        const cJSON *m;
        cJSON_ArrayForEach(m, ms)
        {
            const char *vv = rep_json_str(m, "verdict");
            int known = 0;
            for (size_t k = 0; k < 3; k++) {
                known |= vv != NULL && strcmp(vv, order[k]) == 0;
            }
            if (pass < 3 ? (vv == NULL || strcmp(vv, order[pass]) != 0) : known) {
                continue;
            }
            char b[32], n[32], c[32], ci[64], p[32], pa[32];
            const char *unit = rep_json_str(m, "unit");
            enum nstyle f = unit != NULL && strcmp(unit, "ratio") == 0 ? N_F3 : N_G3;
            fmt(b, sizeof(b), f, rep_json_num(m, "baseline_median"));
            fmt(n, sizeof(n), f, rep_json_num(m, "new_median"));
            fmt(c, sizeof(c), N_PCT, rep_json_num(m, "change"));
            double lo = rep_json_num(m, "ci_low"), hi = rep_json_num(m, "ci_high");
            fmt_ci(ci, sizeof(ci), N_PCT, lo, hi);
            fmt(p, sizeof(p), N_G3, rep_json_num(m, "p_worse"));
            fmt(pa, sizeof(pa), N_G3, rep_json_num(m, "p_worse_adjusted"));
            const char *v = rep_json_str(m, "verdict");
            const char *row[] = {rep_json_str(m, "name") ? rep_json_str(m, "name") : "?",
                                 rep_json_str(m, "type") ? rep_json_str(m, "type") : "",
                                 b,
                                 n,
                                 c,
                                 ci,
                                 p,
                                 pa,
                                 v ? v : "?"};
            enum rep_cls cls[9] = {0};
            cls[8] = v == NULL                                              ? REP_CLS_NONE
                     : strcmp(v, "REGRESSION") == 0                         ? REP_CLS_FAIL
                     : strcmp(v, "pass") == 0 || strcmp(v, "improved") == 0 ? REP_CLS_PASS
                                                                            : REP_CLS_NA;
            rep_doc_table_row(d, 9, row, cls);
        }
    }
    rep_doc_table_end(d);
}

static void toc(struct rep_doc *d)
{
    static const char *const h[] = {REP_H_ENV,     REP_H_THROUGHPUT, REP_H_RATIOS,   REP_H_CMK,
                                    REP_H_THREADS, REP_H_VAULT,      REP_H_ROTATION, REP_H_CONTROLS,
                                    REP_H_KATS,    REP_H_GATE};
    fprintf(d->html, "<nav><ol>\n");
    for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
        char id[96];
        rep_doc_slug(id, sizeof(id), h[i]);
        fprintf(d->html, "<li><a href=\"#%s\">%s</a></li>\n", id, h[i]);
        fprintf(d->md, "%zu. [%s](#%s)\n", i + 1, h[i], id);
    }
    fprintf(d->html, "</ol></nav>\n");
}

/* Loads an optional JSON input: absent is fine (NULL), malformed is an error. */
static int load_optional(const char *path, const char *schema_word, cJSON **out, char *err,
                         size_t err_len)
{
    *out = NULL;
    enum rep_status st = rep_json_load(path, out, err, err_len);
    if (st == REP_MISSING) {
        return 0;
    }
    if (st != REP_OK) {
        return -1;
    }
    if (!cJSON_IsObject(*out)) {
        snprintf(err, err_len, "%s: the top level is not a JSON object", path);
        cJSON_Delete(*out);
        *out = NULL;
        return -1;
    }
    const char *schema = rep_json_str(*out, "schema");
    if (schema != NULL && strstr(schema, schema_word) == NULL) {
        snprintf(err, err_len, "%s: schema is '%s', expected a %s file", path, schema, schema_word);
        cJSON_Delete(*out);
        *out = NULL;
        return -1;
    }
    double ver = rep_json_num(*out, "schema_version");
    if (!isnan(ver) && ver > REP_COMPLIANCE_SCHEMA_VERSION) {
        snprintf(err, err_len,
                 "%s: schema_version %.0f is newer than this reader (1); update reports/", path,
                 ver);
        cJSON_Delete(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static int finish_file(FILE *f, const char *tmp, const char *final, char *err, size_t err_len)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, err_len, "cannot write %s", tmp);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, final) != 0) {
        snprintf(err, err_len, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int rep_report_write(const struct rep_report_opts *o, char *err, size_t err_len, FILE *warn)
{
    struct inputs in;
    memset(&in, 0, sizeof(in));
    in.o = o;
    int rc = -1;
    FILE *html = NULL, *md = NULL;
    char html_tmp[4200], md_tmp[4200], html_path[4200], md_path[4200];
    enum rep_status st = rep_bench_load(o->bench_path, &in.bench, err, err_len);
    if (st == REP_BAD_FILE) {
        goto out;
    }
    in.have_bench = st == REP_OK;
    if (load_optional(o->compliance_path, "compliance", &in.compliance, err, err_len) != 0 ||
        load_optional(o->gate_path, "gate", &in.gate, err, err_len) != 0) {
        goto out;
    }
    struct rep_doc d;
    memset(&d, 0, sizeof(d));
    snprintf(d.plot_dir, sizeof(d.plot_dir), "%s/plots", o->out_dir);
    snprintf(d.plot_rel, sizeof(d.plot_rel), "plots");
    d.plots = o->plots;
    d.warn = warn;
    if (rep_mkdir_p(o->out_dir) != 0 || (d.plots && rep_mkdir_p(d.plot_dir) != 0)) {
        snprintf(err, err_len, "cannot create %s: %s", d.plots ? d.plot_dir : o->out_dir,
                 strerror(errno));
        goto out;
    }
    snprintf(html_path, sizeof(html_path), "%s/index.html", o->out_dir);
    snprintf(md_path, sizeof(md_path), "%s/report.md", o->out_dir);
    snprintf(html_tmp, sizeof(html_tmp), "%s/.index.html.tmp", o->out_dir);
    snprintf(md_tmp, sizeof(md_tmp), "%s/.report.md.tmp", o->out_dir);
    html = fopen(html_tmp, "w");
    md = fopen(md_tmp, "w");
    if (html == NULL || md == NULL) {
        snprintf(err, err_len, "cannot write in %s: %s", o->out_dir, strerror(errno));
        goto out;
    }
    d.html = html;
    d.md = md;
    char sub[2000], when[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
    if (in.have_bench) {
        const char *started = rep_env_str(&in.bench, "started");
        snprintf(sub, sizeof(sub), "Generated %s from %s (commit %s, profile %s%s%s).", when,
                 o->bench_path, rep_env_str(&in.bench, "git_commit"),
                 rep_env_str(&in.bench, "profile"), started[0] ? ", measured " : "", started);
    } else {
        snprintf(sub, sizeof(sub), "Generated %s; no benchmark results (%s not found).", when,
                 o->bench_path);
    }
    rep_doc_begin(&d, "cmk-harness report", sub);
    toc(&d);
    section_env(&d, &in);
    section_throughput(&d, &in);
    section_ratios(&d, &in);
    section_cmk(&d, &in);
    section_threads(&d, &in);
    section_vault(&d, &in);
    section_rotation(&d, &in);
    section_controls(&d, &in);
    section_kats(&d, &in);
    section_gate(&d, &in);
    rep_doc_end(&d);
    FILE *h = html, *m = md;
    html = md = NULL;
    if (finish_file(h, html_tmp, html_path, err, err_len) != 0) {
        fclose(m);
        unlink(md_tmp);
        goto out;
    }
    if (finish_file(m, md_tmp, md_path, err, err_len) != 0) {
        goto out;
    }
    rc = 0;
out:
    if (html != NULL) {
        fclose(html);
        unlink(html_tmp);
    }
    if (md != NULL) {
        fclose(md);
        unlink(md_tmp);
    }
    rep_bench_free(&in.bench);
    cJSON_Delete(in.compliance);
    cJSON_Delete(in.gate);
    return rc;
}

static void report_usage(FILE *f)
{
    fprintf(f,
            "usage: cmk-report [--in DIR] [--out DIR] [--bench FILE] [--compliance FILE] [--gate "
            "FILE]\n"
            "                  [--no-plots]\n"
            "Writes DIR/index.html (self-contained, plots inline) and DIR/report.md (plots in "
            "DIR/plots/)\n"
            "from bench.json, compliance.json and gate.json; a missing input is reported, not "
            "fatal.\n\n"
            "  --in DIR           where the inputs are (default reports/out)\n"
            "  --out DIR          where the report goes (default: the --in folder)\n"
            "  --bench FILE       bench.json (default DIR/bench.json)\n"
            "  --compliance FILE  compliance.json (default DIR/compliance.json)\n"
            "  --gate FILE        gate.json (default DIR/gate.json)\n"
            "  --no-plots         tables only, without gnuplot\n"
            "  --help             this text\n\n"
            "Exit: 0 written, 1 malformed input or output error, 2 usage error.\n");
}

int rep_report_main(int argc, char **argv, FILE *out, FILE *err)
{
    const char *in_dir = "reports/out", *out_dir = NULL, *bench = NULL, *comp = NULL, *gate = NULL;
    int plots = 1;
    static const struct option opts[] = {
        {"in", required_argument, 0, 'i'},    {"out", required_argument, 0, 'o'},
        {"bench", required_argument, 0, 'b'}, {"compliance", required_argument, 0, 'c'},
        {"gate", required_argument, 0, 'g'},  {"no-plots", no_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    optind = 0;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":i:o:b:c:g:nh", opts, NULL)) != -1) {
        switch (ch) {
            case 'i':
                in_dir = optarg;
                break;
            case 'o':
                out_dir = optarg;
                break;
            case 'b':
                bench = optarg;
                break;
            case 'c':
                comp = optarg;
                break;
            case 'g':
                gate = optarg;
                break;
            case 'n':
                plots = 0;
                break;
            case 'h':
                report_usage(out);
                return 0;
            case ':':
                fprintf(err, "cmk-report: option '%s' needs a value (see --help)\n",
                        argv[optind - 1]);
                return 2;
            default:
                fprintf(err, "cmk-report: unknown option '%s' (see --help)\n", argv[optind - 1]);
                return 2;
        }
    }
    if (optind < argc) {
        fprintf(err, "cmk-report: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    char bp[4200], cp[4200], gp[4200];
    snprintf(bp, sizeof(bp), "%s/bench.json", in_dir);
    snprintf(cp, sizeof(cp), "%s/compliance.json", in_dir);
    snprintf(gp, sizeof(gp), "%s/gate.json", in_dir);
    struct rep_report_opts o = {
        .bench_path = bench != NULL ? bench : bp,
        .compliance_path = comp != NULL ? comp : cp,
        .gate_path = gate != NULL ? gate : gp,
        .out_dir = out_dir != NULL ? out_dir : in_dir,
        .plots = plots,
    };
    char msg[2400];
    if (rep_report_write(&o, msg, sizeof(msg), err) != 0) {
        fprintf(err, "cmk-report: %s\n", msg);
        return 1;
    }
    fprintf(out, "cmk-report: wrote %s/index.html and %s/report.md\n", o.out_dir, o.out_dir);
    return 0;
}
