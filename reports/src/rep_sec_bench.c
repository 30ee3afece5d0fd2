/*
 * rep_sec_bench.c - the report's sections drawn from bench.json about the
 * cipher and store figures: environment, throughput, engine/raw and CMK/SMK
 * ratios (with A/A twins); the cell classifiers the other bench sections
 * share (rep_sec_scale.c: threads, vault, rotation).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rep_report_int.h"
#include "rep_stats.h"

#define BOOT_REPS  2000
#define BOOT_LEVEL 0.95
#define BOOT_SEED  0x636d6b2d7265706fULL /* "cmk-repo" */

/* Distinct values of a string field, in order of first appearance. */
size_t rr_distinct_modes(const struct rep_bench *b, const char **out, size_t max_out,
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

int rr_is_throughput(const struct rep_cell *c)
{
    return rep_cell_measured(c) && strcmp(c->unit, "GB/s") == 0 &&
           (strcmp(c->kind, "engine") == 0 || strcmp(c->kind, "raw") == 0 ||
            strcmp(c->kind, "ceiling") == 0);
}

static int is_single_thread_throughput(const struct rep_cell *c)
{
    return rr_is_throughput(c) && c->threads == 1;
}

void rr_series_title(const struct rep_cell *c, char *out, size_t out_len, int with_dir)
{
    char extra[64] = "";
    size_t off = 0;
    if (strcmp(c->keys, "none") != 0) {
        off += (size_t)snprintf(extra + off, sizeof(extra) - off, " keys %s", c->keys);
    }
    if (c->batch != 64 && off < sizeof(extra)) {
        snprintf(extra + off, sizeof(extra) - off, " batch %ld", c->batch);
    }
    if (strcmp(c->kind, "ceiling") == 0) {
        snprintf(out, out_len, "AES ceiling %s%s%s%s", c->arch, extra, with_dir ? " " : "",
                 with_dir ? c->direction : "");
    } else if (strcmp(c->kind, "raw") == 0) {
        snprintf(out, out_len, "raw %s%s%s%s",
                 strcmp(c->backend, "openssl") == 0 ? "openssl-evp" : c->backend, extra,
                 with_dir ? " " : "", with_dir ? c->direction : "");
    } else {
        snprintf(out, out_len, "%s %s/%s%s%s%s", c->kind, c->backend, c->arch, extra,
                 with_dir ? " " : "", with_dir ? c->direction : "");
    }
}

void rr_section_env(struct rep_doc *d, const struct rr_inputs *in)
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
    if (rep_json_str(b->root, "ci_method") == NULL) {
        rep_doc_missing(d,
                        "This bench.json has no ci_method: it was written before 2026-12-02, "
                        "when the benchmark took each median's order-statistic interval one "
                        "rank too narrow on each side (10 samples: [x(3), x(8)], true coverage "
                        "0.89, recorded as 0.98). Its ci_low/ci_high and ci_level overstate "
                        "the precision; the medians are unaffected.");
    }
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
            strcmp(c->kind, "ceiling") == 0 || strcmp(c->kind, "db") == 0 ||
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

void rr_section_throughput(struct rep_doc *d, const struct rr_inputs *in)
{
    rep_doc_h2(d, REP_H_THROUGHPUT);
    const struct rep_bench *b = &in->bench;
    const char *modes[16];
    size_t nm = in->have_bench ? rr_distinct_modes(b, modes, 16, is_single_thread_throughput) : 0;
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
                rr_series_title(c, title, sizeof(title), 0);
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
        rr_series_title(c, title, sizeof(title), 0);
        for (size_t j = 0; j < nu; j++) {
            snprintf(vals[j], sizeof(vals[j]), "-");
            for (size_t k = i; k < b->ncells; k++) {
                const struct rep_cell *e = &b->cells[k];
                if (is_single_thread_throughput(e) && same_row(e, c) && e->unit_bytes == units[j]) {
                    char med[32], ci[64];
                    rr_fmt(med, sizeof(med), RR_F2, e->median);
                    rr_fmt_ci(ci, sizeof(ci), RR_F2, e->ci_low, e->ci_high);
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

static void pairs_section(struct rep_doc *d, const struct rr_inputs *in, const char *type,
                          const char *plot_prefix)
{
    struct rep_pair *pairs = NULL;
    long np = rep_pairs_build(&in->bench, &pairs);
    size_t count = 0;
    for (long i = 0; i < np; i++) {
        count += strcmp(pairs[i].type, type) == 0 && pairs[i].n > 0;
    }
    int cmk = strcmp(type, "cmk/smk") == 0;
    int ceil = strcmp(type, "engine/ceiling") == 0;
    if (count == 0 && ceil) {
        rep_doc_missing(d, "Engine against the AES ceiling " REP_NOT_MEASURED
                           ": bench.json has no ceiling cell (a run from before the ceiling "
                           "cells, or a filter that left them out).");
        rep_pairs_free(pairs, np > 0 ? (size_t)np : 0);
        return;
    }
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
    static const char *const ceil_intro =
        "Per-round ratios of each engine cell to the AES ceiling of its group: plain AES-256 over "
        "8 independent streams at the widest vector width this CPU has (within ENG_ARCH), "
        "reading and writing the same buffers, no mode around it (ceiling cells, see "
        "benchmarks/SCHEMA.md). 1.0 is the physical limit of the AES units; median and 95% "
        "bootstrap interval (2000 resamples, fixed seed).";
    rep_doc_p(
        d, ceil ? ceil_intro
           : cmk
               ? "Ratio CMK / SMK of the same engine cell: per-round ratios (sample i of CMK / "
                 "sample i of SMK, measured in the same interleaved round), their median and a 95% "
                 "bootstrap interval (2000 resamples, fixed seed). 1.0 means CMK costs nothing."
               : "Per-round ratios: sample i of the engine cell divided by sample i of the raw "
                 "library cell (OpenSSL EVP for the openssl and native back ends, ipsec-mb for "
                 "ipsec-mb) measured in the same interleaved round, so machine drift cancels; "
                 "median and 95% bootstrap interval (2000 resamples, fixed seed). Above 1.0 the "
                 "engine is faster than the library it wraps.");
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
                 cmk    ? "CMK / SMK throughput"
                 : ceil ? "engine / AES ceiling"
                        : "engine / raw library");
        snprintf(p->xlabel, sizeof(p->xlabel), "data unit size (bytes, log scale)");
        snprintf(p->ylabel, sizeof(p->ylabel),
                 cmk    ? "throughput ratio CMK / SMK"
                 : ceil ? "throughput ratio engine / ceiling"
                        : "throughput ratio engine / raw");
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
            } else if (ceil) {
                snprintf(title, sizeof(title), "%s/%s / ceiling %s %s", q->num->backend,
                         q->num->arch, q->den->arch, q->num->direction);
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
        static const char *const head_ceil[] = {"ratio",  "median",      "95% CI",
                                                "rounds", "engine GB/s", "ceiling GB/s"};
        rep_doc_table_begin(d, 6, ceil ? head_ceil : head, "lrrrrr");
    }
    for (long i = 0; i < np; i++) {
        const struct rep_pair *q = &pairs[i];
        if (strcmp(q->type, type) != 0 || q->n == 0) {
            continue;
        }
        double med, lo, hi;
        pair_stats(q, &med, &lo, &hi);
        char m[32], ci[64], n[16], a[32], b[32], aci[64], bci[64];
        rr_fmt(m, sizeof(m), RR_F3, med);
        rr_fmt_ci(ci, sizeof(ci), RR_F3, lo, hi);
        snprintf(n, sizeof(n), "%zu", q->n);
        rr_fmt(a, sizeof(a), RR_F2, q->num->median);
        rr_fmt(b, sizeof(b), RR_F2, q->den->median);
        if (cmk) {
            rr_fmt_ci(aci, sizeof(aci), RR_F2, q->num->ci_low, q->num->ci_high);
            rr_fmt_ci(bci, sizeof(bci), RR_F2, q->den->ci_low, q->den->ci_high);
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
        rr_series_title(c, name, sizeof(name), 0);
        size_t l = strlen(name);
        rep_unit_str(a, sizeof(a), c->unit_bytes);
        snprintf(name + l, sizeof(name) - l, " %s %s %s", c->mode, a, c->direction);
        rr_fmt(a, sizeof(a), RR_F2, c->median);
        rr_fmt(tw, sizeof(tw), RR_F2, t->median);
        rr_fmt(rm, sizeof(rm), RR_F3, med);
        rr_fmt_ci(ci, sizeof(ci), RR_F3, lo, hi);
        snprintf(rounds, sizeof(rounds), "%zu", k);
        int ok = !isnan(med) && fabs(med - 1) < 0.02;
        const char *row[] = {name, a, tw, rm, ci, rounds, isnan(med) ? "-" : ok ? "pass" : "FAIL"};
        const enum rep_cls cls[] = {
            0, 0, 0, 0, 0, 0, isnan(med) ? REP_CLS_NA : ok ? REP_CLS_PASS : REP_CLS_FAIL};
        rep_doc_table_row(d, 7, row, cls);
    }
    rep_doc_table_end(d);
}

void rr_section_ratios(struct rep_doc *d, const struct rr_inputs *in)
{
    rep_doc_h2(d, REP_H_RATIOS);
    if (!in->have_bench) {
        rep_doc_missing(
            d, "Engine/raw ratios " REP_NOT_MEASURED ": bench.json not found (run make bench).");
        return;
    }
    pairs_section(d, in, "engine/raw", "ratio");
    aa_table(d, &in->bench);
    rep_doc_h3(d, "Engine against the AES ceiling");
    pairs_section(d, in, "engine/ceiling", "ceiling");
}

void rr_section_cmk(struct rep_doc *d, const struct rr_inputs *in)
{
    rep_doc_h2(d, REP_H_CMK);
    if (!in->have_bench) {
        rep_doc_missing(
            d, "CMK against SMK " REP_NOT_MEASURED ": bench.json not found (run make bench).");
        return;
    }
    pairs_section(d, in, "cmk/smk", "cmk-smk");
}
