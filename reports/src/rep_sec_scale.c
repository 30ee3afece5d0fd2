/*
 * rep_sec_scale.c - the report's sections drawn from bench.json about scale
 * and keys: thread scaling, vault latency and rate, rotation cost (see
 * rep_report_int.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rep_report_int.h"
#include "rep_stats.h"

static int has_threads(const struct rep_cell *c)
{
    return rr_is_throughput(c) && c->threads > 1;
}

/* The cell of |c|'s key (threads aside) with |threads| threads, or NULL. */
static const struct rep_cell *with_threads(const struct rep_bench *b, const struct rep_cell *c,
                                           long threads)
{
    for (size_t j = 0; j < b->ncells; j++) {
        const struct rep_cell *e = &b->cells[j];
        if (rr_is_throughput(e) && e->threads == threads && strcmp(e->kind, c->kind) == 0 &&
            strcmp(e->mode, c->mode) == 0 && strcmp(e->backend, c->backend) == 0 &&
            strcmp(e->arch, c->arch) == 0 && strcmp(e->direction, c->direction) == 0 &&
            e->unit_bytes == c->unit_bytes && strcmp(e->keys, c->keys) == 0 &&
            e->batch == c->batch) {
            return e;
        }
    }
    return NULL;
}

void rr_section_threads(struct rep_doc *d, const struct rr_inputs *in)
{
    rep_doc_h2(d, REP_H_THREADS);
    const struct rep_bench *b = &in->bench;
    const char *modes[16];
    size_t nm = in->have_bench ? rr_distinct_modes(b, modes, 16, has_threads) : 0;
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
            if (!rr_is_throughput(c) || strcmp(c->mode, modes[m]) != 0) {
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
            rr_series_title(c, title, sizeof(title), 1);
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
        rr_series_title(c, title, sizeof(title), 0);
        rep_unit_str(u, sizeof(u), c->unit_bytes);
        snprintf(t, sizeof(t), "%ld", c->threads);
        rr_fmt(med, sizeof(med), RR_F2, c->median);
        rr_fmt_ci(ci, sizeof(ci), RR_F2, c->ci_low, c->ci_high);
        rr_fmt(m1, sizeof(m1), RR_F2, one != NULL ? one->median : NAN);
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
        rr_fmt(med, sizeof(med), RR_F0, c->median);
        rr_fmt_ci(ci, sizeof(ci), RR_F0, c->ci_low, c->ci_high);
        const char *row[] = {c->label[0] ? c->label : c->kind, bits, t, med, ci};
        rep_doc_table_row(d, 5, row, NULL);
    }
    rep_doc_table_end(d);
}

void rr_section_vault(struct rep_doc *d, const struct rr_inputs *in)
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
        rr_fmt(a, sizeof(a), RR_G3, rep_json_num(c->json, "p50"));
        rr_fmt(p9, sizeof(p9), RR_G3, rep_json_num(c->json, "p90"));
        rr_fmt(p99, sizeof(p99), RR_G3, rep_json_num(c->json, "p99"));
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

void rr_section_rotation(struct rep_doc *d, const struct rr_inputs *in)
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
        rr_fmt(dk, sizeof(dk), RR_F0, rep_json_num(c->json, "dek_count"));
        rr_fmt(med, sizeof(med), RR_G4, c->median);
        rr_fmt_ci(ci, sizeof(ci), RR_G4, c->ci_low, c->ci_high);
        const char *row[] = {c->label[0] ? c->label : c->kind, dk, med, ci, c->unit};
        rep_doc_table_row(d, 5, row, NULL);
    }
    rep_doc_table_end(d);
}
