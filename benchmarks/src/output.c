/*
 * output.c - the environment record, bench.json (schema in
 * benchmarks/SCHEMA.md), the CSV beside it, the summary table and the bars.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "rep_bench.h"
#include "rep_stats.h"
#include "eng_cpu.h"
#include "eng_secure.h"
#include "eng_store.h"

#define BENCH_SCHEMA "cmk-harness/bench"
#define BENCH_SCHEMA_VERSION 1
#define BENCH_CI_METHOD \
    "order statistics: [x(k), x(n+1-k)], the largest k with 1 - 2 P(Bin(n, 1/2) <= k-1) >= 0.95"

static void copy_str(char *dst, size_t max, const char *src)
{
    snprintf(dst, max, "%s", src != NULL ? src : "");
}

/* The 1, 5 and 15 minute load averages as "0.12 0.30 0.25" ("" when unreadable). */
static void read_loadavg(char *out, size_t out_len)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/loadavg", "r");
    if (f == NULL) {
        return;
    }
    double a, b, c;
    if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3) {
        snprintf(out, out_len, "%.2f %.2f %.2f", a, b, c);
    }
    fclose(f);
}

void bench_env_capture(struct bench_env *e, const char *profile, const char *commit)
{
    memset(e, 0, sizeof(*e));
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[512];
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "model name", 10) == 0) {
                char *v = strchr(line, ':');
                if (v != NULL) {
                    v += 2;
                    v[strcspn(v, "\n")] = '\0';
                    copy_str(e->cpu_model, sizeof(e->cpu_model), v);
                }
                break;
            }
        }
        fclose(f);
    }
    eng_cpu_flags_string(e->cpu_flags, sizeof(e->cpu_flags));
    e->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(e->kernel, sizeof(e->kernel), "%s %s %s", u.sysname, u.release, u.machine);
    }
    copy_str(e->compiler, sizeof(e->compiler), "gcc " __VERSION__);
    copy_str(e->openssl, sizeof(e->openssl), eng_openssl_version());
    copy_str(e->ipsecmb, sizeof(e->ipsecmb), eng_ipsecmb_version());
    copy_str(e->commit, sizeof(e->commit), commit != NULL ? commit : "unknown");
    copy_str(e->profile, sizeof(e->profile), profile);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(e->started, sizeof(e->started), "%Y-%m-%dT%H:%M:%SZ", &tm);
    e->tsc_hz = bench_tsc_hz();
    read_loadavg(e->loadavg_start, sizeof(e->loadavg_start));
    e->sched_autogroup = -1;
    f = fopen("/proc/sys/kernel/sched_autogroup_enabled", "r");
    if (f != NULL) {
        if (fscanf(f, "%d", &e->sched_autogroup) != 1) {
            e->sched_autogroup = -1;
        }
        fclose(f);
    }
    struct eng_secure_stats ss;
    void *probe = eng_secure_alloc(32);
    eng_secure_stats(&ss);
    e->mlock_ok = probe != NULL && ss.lock_failures == 0 && ss.mlock_policy != 2;
    eng_secure_free(probe);
    copy_str(e->eng_arch_env, sizeof(e->eng_arch_env), getenv("ENG_ARCH"));
    copy_str(e->eng_backend_env, sizeof(e->eng_backend_env), getenv("ENG_BACKEND"));
}

/*
 * JSON kind of a cell: cipher cells "engine" / "raw" (an A/A twin
 * "engine-aa", so its key differs from its original's); store cells in
 * memory "engine" with keys smk / cmk (what cmk-report and cmk-gate pair as
 * CMK against SMK), folder store cells "store-file".
 */
static const char *cell_kind(const struct bench_cell *c)
{
    switch (c->kind) {
        case BENCH_KIND_RAW:
            return "raw";
        case BENCH_KIND_STORE:
            return c->medium == BENCH_MEDIUM_FILE ? "store-file" : "engine";
        case BENCH_KIND_CEILING:
            return "ceiling";
        case BENCH_KIND_ENGINE:
        default:
            return c->twin ? "engine-aa" : "engine";
    }
}

static const char *dir_name(enum eng_dir d)
{
    return d == ENG_ENCRYPT ? "encrypt" : "decrypt";
}

/* JSON backend and arch of a cell: a ceiling cell is "ceiling" at "xmm" | "ymm" | "zmm". */
static const char *cell_backend(const struct bench_cell *c)
{
    return c->kind == BENCH_KIND_CEILING ? "ceiling" : eng_backend_name(c->ran_backend);
}

static const char *cell_arch(const struct bench_cell *c)
{
    return c->kind == BENCH_KIND_CEILING ? bench_ceiling_width_name(c->width_bits)
                                         : eng_arch_name(c->ran_arch);
}

/*
 * The engine cell's throughput over each ceiling cell of its group, as
 * median of the per-round ratios with its order-statistic CI (the same
 * estimator as the bars), e.g. [{"width": "zmm", "widest": true, ...}].
 */
static void add_ceiling_ratios(cJSON *r, const struct bench_cell *c, const struct bench_cell *cells,
                               size_t n)
{
    cJSON *arr = NULL;
    for (size_t j = 0; j < n; j++) {
        const struct bench_cell *y = &cells[j];
        double med, lo, hi, level;
        if (y->kind != BENCH_KIND_CEILING || y->group != c->group || y->threads != c->threads ||
            bench_paired_ratio(c, y, &med, &lo, &hi, &level) != 0) {
            continue;
        }
        if (arr == NULL) {
            arr = cJSON_AddArrayToObject(r, "ceiling_ratios");
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "width", bench_ceiling_width_name(y->width_bits));
        cJSON_AddBoolToObject(o, "widest", y->width_bits == bench_ceiling_widest());
        cJSON_AddNumberToObject(o, "median", med);
        cJSON_AddNumberToObject(o, "ci_low", lo);
        cJSON_AddNumberToObject(o, "ci_high", hi);
        cJSON_AddNumberToObject(o, "ci_level", level);
        cJSON_AddItemToArray(arr, o);
    }
}

/*
 * An extra as a result row. The key fields the gate reads carry its
 * identity: mode "xts" (the store's) or "rsa-oaep-256", backend the KEK
 * side ("smk", "vault-mock" plus its condition, "openssl"), arch "RSA-NNNN"
 * or "AES-KWP", direction the operation, batch the DEK count (rotation).
 */
static cJSON *extra_json(const struct bench_extra *x)
{
    cJSON *r = cJSON_CreateObject();
    char backend[64], arch[16];
    int cmk = strcmp(x->keys, "cmk") == 0;
    snprintf(backend, sizeof(backend), "%s%s%s",
             x->type == BENCH_X_RSA_RATE ? "openssl" : (cmk ? "vault-mock" : "smk"),
             x->condition[0] ? " " : "", x->condition);
    if (x->rsa_bits > 0) {
        snprintf(arch, sizeof(arch), "RSA-%d", x->rsa_bits);
    } else {
        snprintf(arch, sizeof(arch), "AES-KWP");
    }
    int store = x->type == BENCH_X_COLD_OPEN || x->type == BENCH_X_ROTATION || x->type == BENCH_X_ROTATION_SIZE;
    cJSON_AddStringToObject(r, "kind", x->kind);
    cJSON_AddStringToObject(r, "mode", store ? "xts" : "rsa-oaep-256");
    cJSON_AddStringToObject(r, "backend", backend);
    cJSON_AddStringToObject(r, "arch", arch);
    cJSON_AddStringToObject(r, "direction", x->op);
    char operation[96];
    if (x->type == BENCH_X_COLD_OPEN) { /* what cmk-report names the row by */
        snprintf(operation, sizeof(operation), "%s %s%s%s", x->op, x->keys, x->condition[0] ? " " : "",
                 x->condition);
    } else {
        snprintf(operation, sizeof(operation), "%s", x->op);
    }
    cJSON_AddStringToObject(r, "operation", operation);
    cJSON_AddNumberToObject(r, "unit_bytes", store ? 8192 : 0);
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
    if (x->type == BENCH_X_ROTATION || x->type == BENCH_X_ROTATION_SIZE) {
        cJSON_AddNumberToObject(r, "dek_count", x->dek_count);
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
    if (x->type == BENCH_X_COLD_OPEN || x->type == BENCH_X_VAULT_OP) {
        cJSON_AddNumberToObject(r, "p50", x->p50);
        cJSON_AddNumberToObject(r, "p90", x->p90);
        cJSON_AddNumberToObject(r, "p99", x->p99);
    }
    if (x->type == BENCH_X_ROTATION_SIZE) {
        cJSON_AddNumberToObject(r, "store_bytes", (double)x->store_bytes);
        cJSON_AddNumberToObject(r, "large_store_bytes", (double)(x->store_bytes * 4));
        cJSON_AddNumberToObject(r, "large_median", x->extra_value);
        cJSON_AddNumberToObject(r, "large_over_small", x->p50 > 0 ? x->extra_value / x->p50 : 0);
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
    read_loadavg(load_end, sizeof(load_end));
    cJSON_AddStringToObject(env, "loadavg_start", e->loadavg_start);
    cJSON_AddStringToObject(env, "loadavg_end", load_end);
    cJSON_AddNumberToObject(env, "sched_autogroup", e->sched_autogroup);
    cJSON *res = cJSON_AddArrayToObject(root, "results");
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "kind", cell_kind(c));
        cJSON_AddStringToObject(r, "mode", eng_mode_name(c->mode));
        cJSON_AddStringToObject(r, "backend", cell_backend(c));
        cJSON_AddStringToObject(r, "arch", cell_arch(c));
        cJSON_AddStringToObject(r, "direction", dir_name(c->dir));
        cJSON_AddNumberToObject(r, "unit_bytes", (double)c->unit_bytes);
        cJSON_AddNumberToObject(r, "batch", (double)c->batch);
        cJSON_AddNumberToObject(r, "threads", c->threads);
        cJSON_AddStringToObject(r, "keys", c->keys);
        cJSON_AddStringToObject(r, "label", c->label);
        if (c->kind == BENCH_KIND_STORE) {
            cJSON_AddStringToObject(r, "store", c->medium == BENCH_MEDIUM_FILE ? "file" : "memory");
            cJSON_AddNumberToObject(r, "revalidate_s", c->revalidate_s);
            if (strncmp(c->keys, "cmk", 3) == 0) {
                cJSON_AddNumberToObject(r, "rsa_bits", 3072);
                cJSON_AddNumberToObject(r, "vault_calls_measured", (double)c->vault_calls);
            }
        }
        if (c->twin) {
            cJSON_AddBoolToObject(r, "aa_twin", 1);
        }
        if (c->kind == BENCH_KIND_CEILING) {
            cJSON_AddNumberToObject(r, "width_bits", c->width_bits);
            cJSON_AddNumberToObject(r, "streams", BENCH_CEILING_STREAMS);
            cJSON_AddBoolToObject(r, "widest", c->width_bits == bench_ceiling_widest());
        }
        if (c->skip_reason != NULL) {
            cJSON_AddStringToObject(r, "skipped", c->skip_reason);
            cJSON_AddItemToArray(res, r);
            continue;
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
        if (c->kind == BENCH_KIND_ENGINE) {
            add_ceiling_ratios(r, c, cells, n);
        }
        cJSON_AddItemToArray(res, r);
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
    fprintf(f, "kind,mode,backend,arch,direction,unit_bytes,batch,threads,keys,samples,median_gbps,"
               "min_gbps,max_gbps,q1,q3,ci_low,ci_high,outliers,cycles_per_byte,skipped\n");
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        fprintf(f, "%s,%s,%s,%s,%s,%zu,%zu,%d,%s,%zu,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%zu,%.4f,%s\n",
                cell_kind(c), eng_mode_name(c->mode), cell_backend(c), cell_arch(c),
                dir_name(c->dir), c->unit_bytes, c->batch, c->threads,
                c->keys, c->nsamples, c->median, c->min, c->max, c->q1, c->q3, c->ci_lo, c->ci_hi,
                c->outliers, c->cpb_median, c->skip_reason != NULL ? c->skip_reason : "");
    }
    return fclose(f) == 0 ? 0 : -1;
}

void bench_print_table(FILE *f, struct bench_cell *cells, size_t n)
{
    fprintf(f, "\n%-38s %-8s %8s %9s %-19s %7s %4s\n", "cell", "dir", "unit", "GB/s", "95% CI",
            "cyc/B", "out");
    int last_group = -1;
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        if (c->group != last_group) {
            fprintf(f, "%s\n", "-----------------------------------------------------------------"
                               "------------------------");
            last_group = c->group;
        }
        char unit[24];
        if (c->unit_bytes >= 1024 * 1024) {
            snprintf(unit, sizeof(unit), "%zuMiB", c->unit_bytes >> 20);
        } else if (c->unit_bytes >= 1024) {
            snprintf(unit, sizeof(unit), "%zuKiB", c->unit_bytes >> 10);
        } else {
            snprintf(unit, sizeof(unit), "%zuB", c->unit_bytes);
        }
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

/* A cell pattern for the bars: NULL-ish fields (-1) match anything. */
struct pat {
    int kind, mode, backend, arch, dir;
    size_t unit;
    int threads; /* 0 = all cores */
};

static struct bench_cell *find(struct bench_cell *cells, size_t n, struct pat p)
{
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        if (c->skip_reason == NULL && c->nsamples > 0 && (int)c->kind == p.kind &&
            (int)c->mode == p.mode && (int)c->ran_backend == p.backend &&
            (p.arch < 0 || (int)c->ran_arch == p.arch) && (int)c->dir == p.dir &&
            c->unit_bytes == p.unit &&
            (p.threads > 0 ? c->threads == p.threads : c->threads > 1)) {
            return c;
        }
    }
    return NULL;
}

struct bar {
    const char *name;
    struct pat num, den;
    double min_ratio;
};

#define ENGINE_(m, b, a, d, u) {BENCH_KIND_ENGINE, m, b, a, d, u, 1}
#define ENGINE_ALL_CORES_(m, b, d, u) {BENCH_KIND_ENGINE, m, b, -1, d, u, 0}
#define RAW_(m, b, d, u) {BENCH_KIND_RAW, m, b, -1, d, u, 1}
#define KIB8 8192

/* The cipher cell a store cell runs on: engine, same group, back end and path, one thread. */
static struct bench_cell *find_cipher_of(struct bench_cell *cells, size_t n, const struct bench_cell *s)
{
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        if (c->kind == BENCH_KIND_ENGINE && !c->twin && c->skip_reason == NULL && c->nsamples > 0 &&
            c->group == s->group && c->ran_backend == s->ran_backend && c->ran_arch == s->ran_arch &&
            c->threads == 1) {
            return c;
        }
    }
    return NULL;
}

static const char *medium_name(enum bench_medium m)
{
    return m == BENCH_MEDIUM_FILE ? "file" : "memory";
}

/* Prints one paired ratio line of verdict |v| (bench_ratio_verdict's) and returns |v|. */
static int print_ratio(FILE *f, const char *name, int v, const struct bench_ratio *r, double bar)
{
    if (v < 0) {
        fprintf(f, "  %-50s    n/a  not measured in this run\n", name);
        return -1;
    }
    char ci[48];
    snprintf(ci, sizeof(ci), "[%.3f, %.3f] (%.0f%%)", r->lo, r->hi, r->level * 100);
    if (bar > 0) {
        fprintf(f, "  %-50s %6.3fx %-24s (>= %.2fx)  %s\n", name, r->median, ci, bar,
                v == 0 ? "PASS" : "FAIL");
    } else {
        fprintf(f, "  %-50s %6.3fx %-24s\n", name, r->median, ci);
    }
    return v;
}

/* Prints one paired ratio line; returns 1 if a bar was failed, 0 if met, -1 if not measured. */
static int ratio_line(FILE *f, const char *name, const struct bench_cell *a, const struct bench_cell *b,
                      double bar)
{
    struct bench_ratio r;
    return print_ratio(f, name, bench_ratio_verdict(a, b, bar, &r), &r, bar);
}

void bench_print_store(FILE *f, struct bench_cell *cells, size_t n)
{
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        any |= cells[i].kind == BENCH_KIND_STORE;
    }
    if (!any) {
        return;
    }
    fprintf(f, "\nstore: CMK/SMK and store/cipher, median of the per-round ratios (cells sampled in the\n"
               "same interleaved rounds), 95%% order-statistic CI; 8 KiB units, batches of 64.\n"
               "CMK = vault provider on the bench's vault-mock (RSA-3072, identity dbservice, revalidation\n"
               "every 60 s unless said), SMK = key file; smk-hmac = SMK, XTS with --integrity hmac-sha256\n"
               "(a per-unit HMAC-SHA-256). mean-batch GB/s counts every slow batch (e.g. a\n"
               "revalidation call), the median estimator does not.\n");
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        if (c->kind != BENCH_KIND_STORE || strcmp(c->keys, "smk") == 0 || c->nsamples == 0) {
            continue;
        }
        struct bench_cell *smk = bench_find_store(cells, n, c->mode, c->dir, c->medium, "smk", c->threads);
        char name[96];
        snprintf(name, sizeof(name), "%s/smk %s %s %s%s", c->keys, eng_mode_name(c->mode),
                 c->dir == ENG_ENCRYPT ? "write" : "read", medium_name(c->medium),
                 c->threads > 1 ? " 2T" : "");
        ratio_line(f, name, c, smk, 0);
        if (strncmp(c->keys, "cmk", 3) == 0) {
            fprintf(f, "    vault requests by the CMK cell while measured: %ld\n", c->vault_calls);
        }
        if (strcmp(c->keys, "cmk-reval1s") == 0 && smk != NULL) {
            double mc[BENCH_MAX_SAMPLES], ms[BENCH_MAX_SAMPLES];
            memcpy(mc, c->mean_gbps, c->nsamples * sizeof(double));
            memcpy(ms, smk->mean_gbps, smk->nsamples * sizeof(double));
            qsort(mc, c->nsamples, sizeof(double), bench_cmp_double);
            qsort(ms, smk->nsamples, sizeof(double), bench_cmp_double);
            fprintf(f, "    mean-batch GB/s: cmk-reval1s %.2f, smk %.2f (%.3fx)\n",
                    rep_quantile_sorted(mc, c->nsamples, 0.5), rep_quantile_sorted(ms, smk->nsamples, 0.5),
                    rep_quantile_sorted(mc, c->nsamples, 0.5) / rep_quantile_sorted(ms, smk->nsamples, 0.5));
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        if (c->kind != BENCH_KIND_STORE || c->threads != 1 || strcmp(c->keys, "reval") == 0 ||
            strcmp(c->keys, "cmk-reval1s") == 0 || c->nsamples == 0) {
            continue;
        }
        char name[96];
        snprintf(name, sizeof(name), "store %s/cipher %s %s %s", c->keys, eng_mode_name(c->mode),
                 c->dir == ENG_ENCRYPT ? "write" : "read", medium_name(c->medium));
        ratio_line(f, name, c, find_cipher_of(cells, n, c), 0);
    }
}

void bench_print_extras(FILE *f, struct bench_extra *xs, size_t nx)
{
    if (nx == 0) {
        return;
    }
    fprintf(f, "\nlatency (ms) and rates (ops/s); the vault-mock runs on this machine and shares its cores\n"
               "with the client; cold open = eng_store_open + reading one unit (get, unwraps, MAC)\n");
    fprintf(f, "%-52s %5s %9s %9s %9s %9s %9s %9s\n", "cell", "n", "p50", "p90", "p99", "mean", "min", "max");
    for (size_t i = 0; i < nx; i++) {
        struct bench_extra *x = &xs[i];
        if (x->skip_reason != NULL) {
            fprintf(f, "%-52s   skipped: %s\n", x->label, x->skip_reason);
            continue;
        }
        char unit[16];
        snprintf(unit, sizeof(unit), "%s", x->unit);
        fprintf(f, "%-52s %5zu %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %s\n", x->label, x->nsamples, x->p50,
                x->p90, x->p99, x->mean, x->min, x->max, unit);
        if (x->note[0] != '\0') {
            fprintf(f, "  ^ %s\n", x->note);
        }
        if (x->type == BENCH_X_ROTATION_SIZE) {
            fprintf(f, "  4 GiB store median %.3f ms = %.3fx the 1 GiB store's (bar: within 10%%)\n",
                    x->extra_value, x->p50 > 0 ? x->extra_value / x->p50 : 0);
        }
    }
}

static struct bench_extra *find_extra(struct bench_extra *xs, size_t nx, const char *label)
{
    for (size_t i = 0; i < nx; i++) {
        if (strcmp(xs[i].label, label) == 0 && xs[i].skip_reason == NULL && xs[i].nsamples > 0) {
            return &xs[i];
        }
    }
    return NULL;
}

/* Bars on the store, the vault and the run itself; returns the number failed. */
static int store_bars(FILE *f, struct bench_cell *cells, size_t n, struct bench_extra *xs, size_t nx,
                      double wall, const char *profile)
{
    int failed = 0;
    static const enum eng_mode modes[] = {ENG_MODE_XTS, ENG_MODE_GCM};
    int ncores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    for (size_t m = 0; m < 2; m++) {
        for (int d = 0; d < 2; d++) {
            for (int med = BENCH_MEDIUM_MEMORY; med <= BENCH_MEDIUM_FILE; med++) {
                for (int th = 1; th <= 2; th++) {
                    int threads = th == 1 ? 1 : ncores;
                    if (th == 2 && (ncores < 2 || med == BENCH_MEDIUM_FILE)) {
                        continue;
                    }
                    struct bench_cell *c;
                    struct bench_ratio rt;
                    int v = bench_cmk_smk_bar(cells, n, modes[m], (enum eng_dir)d,
                                              (enum bench_medium)med, threads, &rt, &c);
                    if (c == NULL && med == BENCH_MEDIUM_FILE) {
                        continue;
                    }
                    char name[96];
                    snprintf(name, sizeof(name), "CMK/SMK store %s %s %s%s", eng_mode_name(modes[m]),
                             d == ENG_ENCRYPT ? "write" : "read", medium_name((enum bench_medium)med),
                             th == 2 ? " all cores" : "");
                    int r = print_ratio(f, name, v, &rt, BENCH_CMK_SMK_MIN_RATIO);
                    if (r == 1) {
                        fprintf(f, "    ^ CMK/SMK below 0.98 (%s). The CMK cell made %ld vault requests "
                                   "while measured, so %s\n",
                                rt.hi >= BENCH_CMK_SMK_MIN_RATIO
                                    ? "its CI reaches 0.98: within this run's noise"
                                    : "its whole CI is below 0.98",
                                c->vault_calls,
                                c->vault_calls == 0
                                    ? "the gap is not vault work: both stores run the same cipher code; "
                                      "the difference is in where each store's buffers and DEK ciphers "
                                      "sit in memory and cache, and the load of the shared machine"
                                    : "part of the gap may be those vault calls (revalidation)");
                    }
                    failed += r == 1;
                }
            }
            struct bench_cell *sm = bench_find_store(cells, n, modes[m], (enum eng_dir)d, BENCH_MEDIUM_MEMORY, "smk", 1);
            char name[96];
            snprintf(name, sizeof(name), "store/cipher %s %s memory (smk)", eng_mode_name(modes[m]),
                     d == ENG_ENCRYPT ? "write" : "read");
            failed += ratio_line(f, name, sm, sm != NULL ? find_cipher_of(cells, n, sm) : NULL, 0.9) == 1;
        }
    }
    /* A/A: twin against its original */
    for (size_t i = 1; i < n; i++) {
        struct bench_cell *t = &cells[i], *o = &cells[i - 1];
        if (!t->twin || t->nsamples == 0 || o->nsamples == 0 || o->median <= 0) {
            continue;
        }
        double diff = t->median / o->median - 1;
        int ok = diff > -0.02 && diff < 0.02;
        failed += !ok;
        char name[96];
        snprintf(name, sizeof(name), "A/A %s %s", o->label, o->dir == ENG_ENCRYPT ? "enc" : "dec");
        fprintf(f, "  %-50s %+5.1f%%  (|diff| < 2%%)   %s   [%.2f / %.2f GB/s]\n", name, diff * 100,
                ok ? "PASS" : "FAIL", t->median, o->median);
    }
    struct bench_extra *co = find_extra(xs, nx, "cold-open cmk RSA-3072");
    if (co != NULL) {
        int ok = co->p50 < 5.0;
        failed += !ok;
        fprintf(f, "  %-50s %6.2f ms (< 5 ms)   %s   [p90 %.2f, p99 %.2f ms]\n", "CMK cold open RSA-3072 p50",
                co->p50, ok ? "PASS" : "FAIL", co->p90, co->p99);
    } else {
        fprintf(f, "  %-50s    n/a  not measured in this run\n", "CMK cold open RSA-3072 p50");
    }
    struct bench_extra *vu = find_extra(xs, nx, "vault-rate unwrapkey RSA-2048 2 clients");
    struct bench_extra *os = find_extra(xs, nx, "openssl-rsa decrypt RSA-2048 2 threads");
    if (vu != NULL && os != NULL && os->p50 > 0) {
        double r = vu->p50 / os->p50;
        int ok = r >= 0.6;
        failed += !ok;
        fprintf(f, "  %-50s %6.2fx (>= 0.60x)  %s   [%.0f / %.0f ops/s]\n",
                "unwrapkey RSA-2048 2 clients / OpenSSL 2 threads", r, ok ? "PASS" : "FAIL", vu->p50, os->p50);
    } else {
        fprintf(f, "  %-50s    n/a  not measured in this run\n", "unwrapkey RSA-2048 2 clients / OpenSSL 2 threads");
    }
    static const char *const ops[] = {"get", "wrapkey", "unwrapkey"};
    for (size_t o = 0; o < 3; o++) {
        char label[96], name[96];
        snprintf(label, sizeof(label), "vault %s RSA-2048 1 client", ops[o]);
        snprintf(name, sizeof(name), "vault %s RSA-2048 p50, 1 client", ops[o]);
        struct bench_extra *v = find_extra(xs, nx, label);
        if (v == NULL) {
            fprintf(f, "  %-50s    n/a  not measured in this run\n", name);
            continue;
        }
        int ok = v->p50 < 1.0;
        failed += !ok;
        fprintf(f, "  %-50s %6.3f ms (< 1 ms)  %s\n", name, v->p50, ok ? "PASS" : "FAIL");
    }
    struct bench_extra *rs = find_extra(xs, nx, "rotation-size smk 16 DEKs 1 GiB vs 4 GiB");
    if (rs != NULL && rs->p50 > 0) {
        double r = rs->extra_value / rs->p50;
        int ok = r > 0.9 && r < 1.1;
        failed += !ok;
        fprintf(f, "  %-50s %6.2fx (0.90..1.10x) %s   [%.2f / %.2f ms; 1 GiB CI %.2f..%.2f ms]\n",
                "KEK rotation 16 DEKs: 4 GiB / 1 GiB store", r, ok ? "PASS" : "FAIL", rs->extra_value,
                rs->p50, rs->ci_lo, rs->ci_hi);
    }
    double limit = strcmp(profile, "quick") == 0 ? 60 : (strcmp(profile, "standard") == 0 ? 600 : 0);
    if (limit > 0) {
        int ok = wall < limit;
        failed += !ok;
        fprintf(f, "  %-50s %6.0f s  (< %.0f s)   %s\n", "wall time of this run (measuring)", wall, limit,
                ok ? "PASS" : "FAIL");
    } else {
        fprintf(f, "  %-50s %6.0f s  (no bar for this profile)\n", "wall time of this run (measuring)", wall);
    }
    return failed;
}

/* The measured ceiling cell of |width_bits| in the XTS group of (dir, unit), or NULL. */
static struct bench_cell *find_ceiling(struct bench_cell *cells, size_t n, enum eng_dir dir,
                                       size_t unit, int width_bits)
{
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        if (c->kind == BENCH_KIND_CEILING && c->skip_reason == NULL && c->nsamples > 0 &&
            c->mode == ENG_MODE_XTS && c->dir == dir && c->unit_bytes == unit &&
            c->width_bits == width_bits) {
            return c;
        }
    }
    return NULL;
}

/* One ratio-of-medians bar line; returns 1 if failed, 0 if met or informational, -1 if n/a. */
static int bar_line(FILE *f, const char *name, const struct bench_cell *x,
                    const struct bench_cell *y, double min_ratio)
{
    if (x == NULL || y == NULL || y->median <= 0) {
        if (min_ratio > 0) {
            fprintf(f, "  %-58s    n/a  (>= %.2fx)  not measured in this run\n", name, min_ratio);
        } else {
            fprintf(f, "  %-58s    n/a  not measured in this run\n", name);
        }
        return -1;
    }
    double r = x->median / y->median;
    if (min_ratio <= 0) {
        fprintf(f, "  %-58s %6.2fx                   [%.2f / %.2f GB/s]\n", name, r, x->median,
                y->median);
        return 0;
    }
    int ok = r >= min_ratio;
    fprintf(f, "  %-58s %6.2fx (>= %.2fx)  %s   [%.2f / %.2f GB/s]\n", name, r, min_ratio,
            ok ? "PASS" : "FAIL", x->median, y->median);
    return !ok;
}

/*
 * The native XTS bars, named by the path that ran: the best path of this
 * CPU within ENG_ARCH ("best path (vaes-avx2)" on a Zen 3, "(avx512)" on a
 * Zen 4) against the AES ceiling at the widest width and against OpenSSL;
 * the forced AES-NI path against OpenSSL; then, without bars, every native
 * path measured against the ceiling of its own width and the widest.
 */
static int xts_bars(FILE *f, struct bench_cell *cells, size_t n)
{
    enum eng_arch best = eng_cpu_best_arch();
    (void)eng_arch_effective(ENG_ARCH_AUTO, &best);
    int wide = bench_ceiling_widest();
    const char *wn = bench_ceiling_width_name(wide);
    const char *bn = eng_arch_name(best);
    int failed = 0;
    char name[128];
    for (int d = 0; d < 2; d++) {
        enum eng_dir dir = (enum eng_dir)d;
        const char *dn = d == 0 ? "enc" : "dec";
        struct bench_cell *nat = find(cells, n, (struct pat)ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE,
                                                                     (int)best, (int)dir, KIB8));
        snprintf(name, sizeof(name), "native XTS %s, best path (%s) / ceiling (%s)", dn, bn, wn);
        failed += bar_line(f, name, nat, find_ceiling(cells, n, dir, KIB8, wide), 0.85) == 1;
        snprintf(name, sizeof(name), "native XTS %s, best path (%s) / OpenSSL XTS", dn, bn);
        failed += bar_line(f, name, nat,
                           find(cells, n, (struct pat)RAW_(ENG_MODE_XTS, ENG_BACKEND_OPENSSL, (int)dir,
                                                          KIB8)),
                           2.0) == 1;
        snprintf(name, sizeof(name), "native XTS %s 512 B, best path (%s) / OpenSSL 512 B", dn,
                 bn);
        failed += bar_line(f, name,
                           find(cells, n, (struct pat)ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE,
                                                               (int)best, (int)dir, 512)),
                           find(cells, n, (struct pat)RAW_(ENG_MODE_XTS, ENG_BACKEND_OPENSSL, (int)dir,
                                                          512)),
                           1.5) == 1;
    }
    snprintf(name, sizeof(name), "native XTS enc, best path (%s) / raw ipsec-mb CTR", bn);
    failed += bar_line(f, name,
                       find(cells, n, (struct pat)ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, (int)best,
                                                           ENG_ENCRYPT, KIB8)),
                       find(cells, n, (struct pat)RAW_(ENG_MODE_CTR, ENG_BACKEND_IPSECMB, ENG_ENCRYPT,
                                                      KIB8)),
                       0.85) == 1;
    if (best > ENG_ARCH_AVX2) {
        failed += bar_line(f, "native XTS enc (AES-NI, forced avx2) / OpenSSL XTS",
                           find(cells, n, (struct pat)ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE,
                                                               ENG_ARCH_AVX2, ENG_ENCRYPT, KIB8)),
                           find(cells, n, (struct pat)RAW_(ENG_MODE_XTS, ENG_BACKEND_OPENSSL,
                                                          ENG_ENCRYPT, KIB8)),
                           1.0) == 1;
    }
    /* every native path against the ceilings (no bars: what each width reaches) */
    static const enum eng_arch paths[] = {ENG_ARCH_AVX2, ENG_ARCH_VAES_AVX2, ENG_ARCH_AVX512};
    static const int own[] = {128, 256, 512};
    static const size_t units[] = {512, KIB8};
    int head = 0;
    for (size_t p = 0; p < 3; p++) {
        for (size_t u = 0; u < 2; u++) {
            for (int d = 0; d < 2; d++) {
                struct bench_cell *x = find(cells, n, (struct pat)ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE,
                                                                           (int)paths[p], d, units[u]));
                if (x == NULL) {
                    continue;
                }
                if (!head) {
                    fprintf(f, "  native XTS per path (no bars), ceiling of the path's own width and of the widest:\n");
                    head = 1;
                }
                snprintf(name, sizeof(name), "  %s %s %zu B / ceiling %s", eng_arch_name(paths[p]),
                         d == 0 ? "enc" : "dec", units[u], bench_ceiling_width_name(own[p]));
                bar_line(f, name, x, find_ceiling(cells, n, (enum eng_dir)d, units[u], own[p]), 0);
                if (own[p] != wide) {
                    snprintf(name, sizeof(name), "  %s %s %zu B / ceiling %s", eng_arch_name(paths[p]),
                             d == 0 ? "enc" : "dec", units[u], wn);
                    bar_line(f, name, x, find_ceiling(cells, n, (enum eng_dir)d, units[u], wide), 0);
                }
                snprintf(name, sizeof(name), "  %s %s %zu B / OpenSSL XTS", eng_arch_name(paths[p]),
                         d == 0 ? "enc" : "dec", units[u]);
                bar_line(f, name, x,
                         find(cells, n, (struct pat)RAW_(ENG_MODE_XTS, ENG_BACKEND_OPENSSL, d, units[u])),
                         0);
            }
        }
    }
    return failed;
}

/*
 * The native GCM bars, named by the path that ran (the widest native GCM
 * path within ENG_ARCH: vaes-avx2 or avx512, which today both run the ymm
 * kernel), against the AES ceiling at the widest width, OpenSSL GCM and raw
 * ipsec-mb GCM (8 KiB units); then, without bars, each native GCM path at
 * 512 B and 8 KiB against the same three.
 */
static int gcm_bars(FILE *f, struct bench_cell *cells, size_t n)
{
    enum eng_arch best = eng_cpu_best_arch();
    (void)eng_arch_effective(ENG_ARCH_AUTO, &best);
    int wide = bench_ceiling_widest();
    const char *wn = bench_ceiling_width_name(wide);
    int failed = 0;
    char name[128];
    if (best < ENG_ARCH_VAES_AVX2) {
        fprintf(f, "  %-58s    n/a  no native GCM path at %s (it needs VAES)\n",
                "native GCM, best path", eng_arch_name(best));
        return 0;
    }
    const char *bn = eng_arch_name(best);
    for (int d = 0; d < 2; d++) {
        enum eng_dir dir = (enum eng_dir)d;
        const char *dn = d == 0 ? "enc" : "dec";
        struct bench_cell *nat = find(cells, n, (struct pat)ENGINE_(ENG_MODE_GCM, ENG_BACKEND_NATIVE,
                                                                     (int)best, (int)dir, KIB8));
        snprintf(name, sizeof(name), "native GCM %s, best path (%s) / ceiling (%s)", dn, bn, wn);
        failed += bar_line(f, name, nat, find_ceiling(cells, n, dir, KIB8, wide), 0.70) == 1;
        snprintf(name, sizeof(name), "native GCM %s, best path (%s) / OpenSSL GCM", dn, bn);
        failed += bar_line(f, name, nat,
                           find(cells, n, (struct pat)RAW_(ENG_MODE_GCM, ENG_BACKEND_OPENSSL, (int)dir,
                                                          KIB8)),
                           2.0) == 1;
        snprintf(name, sizeof(name), "native GCM %s, best path (%s) / raw ipsec-mb GCM", dn, bn);
        failed += bar_line(f, name, nat,
                           find(cells, n, (struct pat)RAW_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, (int)dir,
                                                          KIB8)),
                           1.0) == 1;
    }
    static const enum eng_arch paths[] = {ENG_ARCH_VAES_AVX2, ENG_ARCH_AVX512};
    static const size_t units[] = {512, KIB8};
    int head = 0;
    for (size_t p = 0; p < 2; p++) {
        for (size_t u = 0; u < 2; u++) {
            for (int d = 0; d < 2; d++) {
                struct bench_cell *x = find(cells, n, (struct pat)ENGINE_(ENG_MODE_GCM, ENG_BACKEND_NATIVE,
                                                                           (int)paths[p], d, units[u]));
                if (x == NULL) {
                    continue;
                }
                if (!head) {
                    fprintf(f, "  native GCM per path (no bars):\n");
                    head = 1;
                }
                const char *pn = eng_arch_name(paths[p]);
                const char *dn = d == 0 ? "enc" : "dec";
                snprintf(name, sizeof(name), "  %s %s %zu B / ceiling %s", pn, dn, units[u], wn);
                bar_line(f, name, x, find_ceiling(cells, n, (enum eng_dir)d, units[u], wide), 0);
                snprintf(name, sizeof(name), "  %s %s %zu B / OpenSSL GCM", pn, dn, units[u]);
                bar_line(f, name, x,
                         find(cells, n, (struct pat)RAW_(ENG_MODE_GCM, ENG_BACKEND_OPENSSL, d, units[u])),
                         0);
                snprintf(name, sizeof(name), "  %s %s %zu B / raw ipsec-mb GCM", pn, dn, units[u]);
                bar_line(f, name, x,
                         find(cells, n, (struct pat)RAW_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, d, units[u])),
                         0);
            }
        }
    }
    return failed;
}

int bench_print_bars(FILE *f, struct bench_cell *cells, size_t n, struct bench_extra *xs, size_t nx,
                     double wall_seconds, const char *profile)
{
    static const struct bar bars[] = {
        {"engine GCM enc (ipsec-mb) / OpenSSL GCM", ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, KIB8), RAW_(ENG_MODE_GCM, ENG_BACKEND_OPENSSL, ENG_ENCRYPT, KIB8), 2.5},
        {"engine GCM dec (ipsec-mb) / OpenSSL GCM", ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_DECRYPT, KIB8), RAW_(ENG_MODE_GCM, ENG_BACKEND_OPENSSL, ENG_DECRYPT, KIB8), 2.5},
        {"engine GCM enc (ipsec-mb) / raw ipsec-mb GCM", ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, KIB8), RAW_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, ENG_ENCRYPT, KIB8), 0.95},
        {"engine GCM dec (ipsec-mb) / raw ipsec-mb GCM", ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_DECRYPT, KIB8), RAW_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, ENG_DECRYPT, KIB8), 0.95},
        {"engine CBC enc (ipsec-mb burst) / OpenSSL CBC enc", ENGINE_(ENG_MODE_CBC, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, KIB8), RAW_(ENG_MODE_CBC, ENG_BACKEND_OPENSSL, ENG_ENCRYPT, KIB8), 6.0},
        {"engine CTR (ipsec-mb) / OpenSSL CTR", ENGINE_(ENG_MODE_CTR, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, KIB8), RAW_(ENG_MODE_CTR, ENG_BACKEND_OPENSSL, ENG_ENCRYPT, KIB8), 1.6},
        {"XTS 64 KiB enc: all cores / 1 thread (native)", ENGINE_ALL_CORES_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ENCRYPT, 65536), ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, -1, ENG_ENCRYPT, 65536), 1.8},
        {"GCM 64 KiB enc: all cores / 1 thread (ipsec-mb)", ENGINE_ALL_CORES_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, ENG_ENCRYPT, 65536), ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, 65536), 1.8},
    };
    int failed = 0;
    fprintf(f, "\nbars (batches of 64, single thread unless said, ratios of medians measured in this run):\n");
    for (size_t i = 0; i < sizeof(bars) / sizeof(bars[0]); i++) {
        const struct bar *b = &bars[i];
        failed += bar_line(f, b->name, find(cells, n, b->num), find(cells, n, b->den), b->min_ratio) == 1;
    }
    failed += xts_bars(f, cells, n);
    failed += gcm_bars(f, cells, n);
    failed += store_bars(f, cells, n, xs, nx, wall_seconds, profile);
    fprintf(f, "%d bar%s failed\n", failed, failed == 1 ? "" : "s");
    return failed;
}
