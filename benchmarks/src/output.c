/*
 * output.c - bench.json (schema in benchmarks/SCHEMA.md), the CSV beside
 * it, the summary table, each kind's own section and the extras table.
 * The common fields are written here; each kind adds its own through its
 * ops (kinds.h). The bars are in barsprint.c.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "eng_cpu.h"
#include "rep_bench.h"
#include "rep_stats.h"

#define BENCH_SCHEMA         "cmk-harness/bench"
#define BENCH_SCHEMA_VERSION 1
#define BENCH_CI_METHOD \
    "order statistics: [x(k), x(n+1-k)], the largest k with 1 - 2 P(Bin(n, 1/2) <= k-1) >= 0.95"

static const char *dir_name(enum eng_dir d)
{
    return d == ENG_ENCRYPT ? "encrypt" : "decrypt";
}

void bench_extra_write_percentiles(cJSON *r, const struct bench_extra *x)
{
    cJSON_AddNumberToObject(r, "p50", x->p50);
    cJSON_AddNumberToObject(r, "p90", x->p90);
    cJSON_AddNumberToObject(r, "p99", x->p99);
}

/*
 * An extra as a result row. The key fields the gate reads carry its
 * identity: mode "xts" (the store's) or "rsa-oaep-256", backend the KEK
 * side ("smk", "vault-mock" plus its condition, "openssl"), arch "RSA-NNNN"
 * or "AES-KWP", direction the operation, batch the DEK count (rotation).
 */
static cJSON *extra_json(const struct bench_extra *x)
{
    const struct bench_extra_ops *ops = x->ops;
    cJSON *r = cJSON_CreateObject();
    char backend[64], arch[16];
    int cmk = strcmp(x->keys, "cmk") == 0;
    snprintf(backend, sizeof(backend), "%s%s%s",
             ops->side != NULL ? ops->side : (cmk ? "vault-mock" : "smk"),
             x->condition[0] ? " " : "", x->condition);
    if (x->rsa_bits > 0) {
        snprintf(arch, sizeof(arch), "RSA-%d", x->rsa_bits);
    } else {
        snprintf(arch, sizeof(arch), "AES-KWP");
    }
    cJSON_AddStringToObject(r, "kind", x->kind);
    cJSON_AddStringToObject(r, "mode", x->json_mode != NULL ? x->json_mode : ops->mode);
    cJSON_AddStringToObject(r, "backend", x->json_backend != NULL ? x->json_backend : backend);
    cJSON_AddStringToObject(r, "arch", x->json_arch != NULL ? x->json_arch : arch);
    cJSON_AddStringToObject(r, "direction", x->op);
    char operation[96];
    if (ops->operation != NULL) {
        ops->operation(x, operation, sizeof(operation));
    } else {
        snprintf(operation, sizeof(operation), "%s", x->op);
    }
    cJSON_AddStringToObject(r, "operation", operation);
    cJSON_AddNumberToObject(r, "unit_bytes", x->unit_bytes > 0 ? x->unit_bytes : ops->unit_bytes);
    cJSON_AddNumberToObject(r, "batch", x->dek_count);
    cJSON_AddNumberToObject(r, "threads", x->threads);
    cJSON_AddStringToObject(r, "keys", x->keys);
    cJSON_AddStringToObject(r, "label", x->label);
    if (x->rsa_bits > 0) {
        cJSON_AddNumberToObject(r, "rsa_bits", x->rsa_bits);
    }
    cJSON_AddStringToObject(r, "condition", x->condition);
    if (x->note[0] != '\0') {
        cJSON_AddStringToObject(r, "note", x->note);
    }
    if (x->fault_ms > 0) {
        cJSON_AddNumberToObject(r, "fault_latency_ms", x->fault_ms);
    }
    if (ops->write_json != NULL) {
        ops->write_json(r, x);
    }
    if (x->skip_reason != NULL) {
        cJSON_AddStringToObject(r, "skipped", x->skip_reason);
        return r;
    }
    cJSON_AddStringToObject(r, "unit", x->unit);
    cJSON_AddItemToObject(r, "samples", cJSON_CreateDoubleArray(x->samples, (int)x->nsamples));
    cJSON_AddNumberToObject(r, "median", x->p50);
    cJSON_AddNumberToObject(r, "mean", x->mean);
    cJSON_AddNumberToObject(r, "min", x->min);
    cJSON_AddNumberToObject(r, "max", x->max);
    size_t lo = 0, hi = 0;
    cJSON_AddNumberToObject(r, "ci_level", rep_median_ci_ranks(x->nsamples, &lo, &hi));
    cJSON_AddNumberToObject(r, "ci_low", x->ci_lo);
    cJSON_AddNumberToObject(r, "ci_high", x->ci_hi);
    if (ops->write_results != NULL) {
        ops->write_results(r, x);
    }
    return r;
}

/* A cell as a result row: the common fields, and the kind's own through its ops. */
static cJSON *cell_json(const struct bench_cell *c, const struct bench_cell *cells, size_t n)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "kind", bench_cell_json_kind(c));
    cJSON_AddStringToObject(r, "mode", eng_mode_name(c->mode));
    cJSON_AddStringToObject(r, "backend", bench_cell_json_backend(c));
    cJSON_AddStringToObject(r, "arch", bench_cell_json_arch(c));
    cJSON_AddStringToObject(r, "direction", dir_name(c->dir));
    cJSON_AddNumberToObject(r, "unit_bytes", (double)c->unit_bytes);
    cJSON_AddNumberToObject(r, "batch", (double)c->batch);
    cJSON_AddNumberToObject(r, "threads", c->threads);
    cJSON_AddStringToObject(r, "keys", c->keys);
    cJSON_AddStringToObject(r, "label", c->label);
    if (c->ops->write_json != NULL) {
        c->ops->write_json(r, c);
    }
    if (c->skip_reason != NULL) {
        cJSON_AddStringToObject(r, "skipped", c->skip_reason);
        return r;
    }
    cJSON_AddStringToObject(r, "unit", "GB/s");
    cJSON_AddItemToObject(r, "samples", cJSON_CreateDoubleArray(c->gbps, (int)c->nsamples));
    cJSON_AddNumberToObject(r, "median", c->median);
    cJSON_AddNumberToObject(r, "min", c->min);
    cJSON_AddNumberToObject(r, "max", c->max);
    cJSON_AddNumberToObject(r, "q1", c->q1);
    cJSON_AddNumberToObject(r, "q3", c->q3);
    size_t lo, hi;
    cJSON_AddNumberToObject(r, "ci_level", rep_median_ci_ranks(c->nsamples, &lo, &hi));
    cJSON_AddNumberToObject(r, "ci_low", c->ci_lo);
    cJSON_AddNumberToObject(r, "ci_high", c->ci_hi);
    cJSON_AddNumberToObject(r, "outliers", (double)c->outliers);
    cJSON_AddNumberToObject(r, "cycles_per_byte", c->cpb_median);
    double mg[BENCH_MAX_SAMPLES];
    memcpy(mg, c->mean_gbps, c->nsamples * sizeof(double));
    qsort(mg, c->nsamples, sizeof(double), bench_cmp_double);
    cJSON_AddNumberToObject(r, "mean_batch_gbps", rep_quantile_sorted(mg, c->nsamples, 0.5));
    if (c->ops->write_results != NULL) {
        c->ops->write_results(r, c, cells, n);
    }
    return r;
}

int bench_write_json(const char *path, const struct bench_env *e, struct bench_cell *cells,
                     size_t n, struct bench_extra *xs, size_t nx, double wall_seconds)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", BENCH_SCHEMA);
    cJSON_AddNumberToObject(root, "schema_version", BENCH_SCHEMA_VERSION);
    /* files without it (before 2026-12-02) hold intervals one rank too narrow per side */
    cJSON_AddStringToObject(root, "ci_method", BENCH_CI_METHOD);
    cJSON *env = cJSON_AddObjectToObject(root, "env");
    cJSON_AddStringToObject(env, "cpu_model", e->cpu_model);
    cJSON_AddStringToObject(env, "cpu_flags", e->cpu_flags);
    cJSON_AddStringToObject(env, "cpu_best_arch", eng_arch_name(eng_cpu_best_arch()));
    enum eng_arch eff = eng_cpu_best_arch();
    (void)eng_arch_effective(ENG_ARCH_AUTO, &eff);
    cJSON_AddStringToObject(env, "best_path", eng_arch_name(eff));
    cJSON_AddStringToObject(env, "ceiling_width", bench_ceiling_width_name(bench_ceiling_widest()));
    cJSON_AddNumberToObject(env, "cores", e->cores);
    cJSON_AddStringToObject(env, "kernel", e->kernel);
    cJSON_AddStringToObject(env, "compiler", e->compiler);
    cJSON_AddStringToObject(env, "openssl", e->openssl);
    cJSON_AddStringToObject(env, "ipsec_mb", e->ipsecmb);
    cJSON_AddStringToObject(env, "git_commit", e->commit);
    cJSON_AddStringToObject(env, "profile", e->profile);
    cJSON_AddStringToObject(env, "started", e->started);
    cJSON_AddNumberToObject(env, "tsc_hz", e->tsc_hz);
    cJSON_AddBoolToObject(env, "key_memory_locked", e->mlock_ok);
    cJSON_AddStringToObject(env, "ENG_ARCH", e->eng_arch_env);
    cJSON_AddStringToObject(env, "ENG_BACKEND", e->eng_backend_env);
    const char *slow = getenv("ENG_TEST_SLOWDOWN");
    cJSON_AddStringToObject(env, "ENG_TEST_SLOWDOWN", slow != NULL ? slow : "");
    cJSON_AddNumberToObject(env, "wall_seconds", wall_seconds);
    /* what else ran: the load when the run began and ended, and whether the
     * scheduler groups processes by session (then a co-runner's nice value
     * does not yield the CPU to this run) */
    char load_end[64];
    bench_loadavg(load_end, sizeof(load_end));
    cJSON_AddStringToObject(env, "loadavg_start", e->loadavg_start);
    cJSON_AddStringToObject(env, "loadavg_end", load_end);
    cJSON_AddNumberToObject(env, "sched_autogroup", e->sched_autogroup);
    cJSON *res = cJSON_AddArrayToObject(root, "results");
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(res, cell_json(&cells[i], cells, n));
    }
    for (size_t i = 0; i < nx; i++) {
        cJSON_AddItemToArray(res, extra_json(&xs[i]));
    }
    return rep_json_save(path, root);
}

int bench_write_csv(const char *path, struct bench_cell *cells, size_t n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f,
            "kind,mode,backend,arch,direction,unit_bytes,batch,threads,keys,samples,median_gbps,"
            "min_gbps,max_gbps,q1,q3,ci_low,ci_high,outliers,cycles_per_byte,skipped\n");
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        fprintf(f,
                "%s,%s,%s,%s,%s,%zu,%zu,%d,%s,%zu,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%zu,%.4f,%s\n",
                bench_cell_json_kind(c), eng_mode_name(c->mode), bench_cell_json_backend(c),
                bench_cell_json_arch(c), dir_name(c->dir), c->unit_bytes, c->batch, c->threads,
                c->keys, c->nsamples, c->median, c->min, c->max, c->q1, c->q3, c->ci_lo, c->ci_hi,
                c->outliers, c->cpb_median, c->skip_reason != NULL ? c->skip_reason : "");
    }
    return fclose(f) == 0 ? 0 : -1;
}

void bench_print_table(FILE *f, struct bench_cell *cells, size_t n)
{
    if (n == 0) { /* the db profile has no cells */
        return;
    }
    fprintf(f, "\n%-38s %-8s %8s %9s %-19s %7s %4s\n", "cell", "dir", "unit", "GB/s", "95% CI",
            "cyc/B", "out");
    int last_group = -1;
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        if (c->group != last_group) {
            fprintf(f, "%s\n",
                    "-----------------------------------------------------------------"
                    "------------------------");
            last_group = c->group;
        }
        char unit[24];
        bench_unit_str(unit, sizeof(unit), c->unit_bytes);
        if (c->skip_reason != NULL) {
            fprintf(f, "%-38s %-8s %8s   skipped: %s\n", c->label, dir_name(c->dir), unit,
                    c->skip_reason);
            continue;
        }
        char ci[32];
        snprintf(ci, sizeof(ci), "[%.2f, %.2f]", c->ci_lo, c->ci_hi);
        fprintf(f, "%-38s %-8s %8s %9.2f %-19s %7.3f %4zu\n", c->label, dir_name(c->dir), unit,
                c->median, ci, c->cpb_median, c->outliers);
    }
}

/* Prints the rows of the extras table (those of kinds without a section of their own). */
static void print_extra_rows(FILE *f, struct bench_extra *xs, size_t nx)
{
    fprintf(f,
            "\nlatency (ms) and rates (ops/s); the vault-mock runs on this machine and shares its "
            "cores\n"
            "with the client; cold open = eng_store_open + reading one unit (get, unwraps, MAC)\n");
    fprintf(f, "%-52s %5s %9s %9s %9s %9s %9s %9s\n", "cell", "n", "p50", "p90", "p99", "mean",
            "min", "max");
    for (size_t i = 0; i < nx; i++) {
        struct bench_extra *x = &xs[i];
        if (x->ops->print_section != NULL) {
            continue;
        }
        if (x->skip_reason != NULL) {
            fprintf(f, "%-52s   skipped: %s\n", x->label, x->skip_reason);
            continue;
        }
        char unit[16];
        snprintf(unit, sizeof(unit), "%s", x->unit);
        fprintf(f, "%-52s %5zu %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %s\n", x->label, x->nsamples,
                x->p50, x->p90, x->p99, x->mean, x->min, x->max, unit);
        if (x->note[0] != '\0') {
            fprintf(f, "  ^ %s\n", x->note);
        }
        if (x->ops->print != NULL) {
            x->ops->print(f, x);
        }
    }
}

void bench_print_extras(FILE *f, struct bench_extra *xs, size_t nx)
{
    size_t in_table = 0;
    for (size_t i = 0; i < nx; i++) {
        in_table += xs[i].ops->print_section == NULL;
    }
    if (in_table > 0) {
        print_extra_rows(f, xs, nx);
    }
}
