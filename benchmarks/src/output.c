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
#include "eng_cpu.h"
#include "eng_secure.h"

#define BENCH_SCHEMA "cmk-harness/bench"
#define BENCH_SCHEMA_VERSION 1

double bench_ci_level(size_t n, size_t *lo_rank, size_t *hi_rank);

static void copy_str(char *dst, size_t max, const char *src)
{
    snprintf(dst, max, "%s", src != NULL ? src : "");
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
    struct eng_secure_stats ss;
    void *probe = eng_secure_alloc(32);
    eng_secure_stats(&ss);
    e->mlock_ok = probe != NULL && ss.lock_failures == 0 && ss.mlock_policy != 2;
    eng_secure_free(probe);
    copy_str(e->eng_arch_env, sizeof(e->eng_arch_env), getenv("ENG_ARCH"));
    copy_str(e->eng_backend_env, sizeof(e->eng_backend_env), getenv("ENG_BACKEND"));
}

static const char *kind_name(enum bench_kind k)
{
    return k == BENCH_KIND_ENGINE ? "engine" : "raw";
}

static const char *dir_name(enum eng_dir d)
{
    return d == ENG_ENCRYPT ? "encrypt" : "decrypt";
}

int bench_write_json(const char *path, const struct bench_env *e, struct bench_cell *cells,
                     size_t n, double wall_seconds)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", BENCH_SCHEMA);
    cJSON_AddNumberToObject(root, "schema_version", BENCH_SCHEMA_VERSION);
    cJSON *env = cJSON_AddObjectToObject(root, "env");
    cJSON_AddStringToObject(env, "cpu_model", e->cpu_model);
    cJSON_AddStringToObject(env, "cpu_flags", e->cpu_flags);
    cJSON_AddStringToObject(env, "cpu_best_arch", eng_arch_name(eng_cpu_best_arch()));
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
    cJSON *res = cJSON_AddArrayToObject(root, "results");
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "kind", kind_name(c->kind));
        cJSON_AddStringToObject(r, "mode", eng_mode_name(c->mode));
        cJSON_AddStringToObject(r, "backend", eng_backend_name(c->ran_backend));
        cJSON_AddStringToObject(r, "arch", eng_arch_name(c->ran_arch));
        cJSON_AddStringToObject(r, "direction", dir_name(c->dir));
        cJSON_AddNumberToObject(r, "unit_bytes", (double)c->unit_bytes);
        cJSON_AddNumberToObject(r, "batch", (double)c->batch);
        cJSON_AddNumberToObject(r, "threads", c->threads);
        cJSON_AddStringToObject(r, "keys", c->keys);
        cJSON_AddStringToObject(r, "label", c->label);
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
        cJSON_AddNumberToObject(r, "ci_level", bench_ci_level(c->nsamples, &lo, &hi));
        cJSON_AddNumberToObject(r, "ci_low", c->ci_lo);
        cJSON_AddNumberToObject(r, "ci_high", c->ci_hi);
        cJSON_AddNumberToObject(r, "outliers", (double)c->outliers);
        cJSON_AddNumberToObject(r, "cycles_per_byte", c->cpb_median);
        cJSON_AddItemToArray(res, r);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL) {
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
                kind_name(c->kind), eng_mode_name(c->mode), eng_backend_name(c->ran_backend),
                eng_arch_name(c->ran_arch), dir_name(c->dir), c->unit_bytes, c->batch, c->threads,
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

int bench_print_bars(FILE *f, struct bench_cell *cells, size_t n)
{
    static const struct bar bars[] = {
        {"engine GCM enc (ipsec-mb) / OpenSSL GCM", ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, KIB8), RAW_(ENG_MODE_GCM, ENG_BACKEND_OPENSSL, ENG_ENCRYPT, KIB8), 2.5},
        {"engine GCM dec (ipsec-mb) / OpenSSL GCM", ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_DECRYPT, KIB8), RAW_(ENG_MODE_GCM, ENG_BACKEND_OPENSSL, ENG_DECRYPT, KIB8), 2.5},
        {"engine GCM enc (ipsec-mb) / raw ipsec-mb GCM", ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, KIB8), RAW_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, ENG_ENCRYPT, KIB8), 0.95},
        {"engine GCM dec (ipsec-mb) / raw ipsec-mb GCM", ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_DECRYPT, KIB8), RAW_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, ENG_DECRYPT, KIB8), 0.95},
        {"engine CBC enc (ipsec-mb burst) / OpenSSL CBC enc", ENGINE_(ENG_MODE_CBC, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, KIB8), RAW_(ENG_MODE_CBC, ENG_BACKEND_OPENSSL, ENG_ENCRYPT, KIB8), 6.0},
        {"engine CTR (ipsec-mb) / OpenSSL CTR", ENGINE_(ENG_MODE_CTR, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, KIB8), RAW_(ENG_MODE_CTR, ENG_BACKEND_OPENSSL, ENG_ENCRYPT, KIB8), 1.6},
        {"native XTS enc (VAES) / OpenSSL XTS", ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ARCH_AVX512, ENG_ENCRYPT, KIB8), RAW_(ENG_MODE_XTS, ENG_BACKEND_OPENSSL, ENG_ENCRYPT, KIB8), 2.0},
        {"native XTS dec (VAES) / OpenSSL XTS", ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ARCH_AVX512, ENG_DECRYPT, KIB8), RAW_(ENG_MODE_XTS, ENG_BACKEND_OPENSSL, ENG_DECRYPT, KIB8), 2.0},
        {"native XTS enc (VAES) / raw ipsec-mb CTR", ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ARCH_AVX512, ENG_ENCRYPT, KIB8), RAW_(ENG_MODE_CTR, ENG_BACKEND_IPSECMB, ENG_ENCRYPT, KIB8), 0.85},
        {"native XTS enc (AES-NI, forced) / OpenSSL XTS", ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ARCH_AVX2, ENG_ENCRYPT, KIB8), RAW_(ENG_MODE_XTS, ENG_BACKEND_OPENSSL, ENG_ENCRYPT, KIB8), 1.0},
        {"native XTS enc 512 B (VAES) / OpenSSL XTS 512 B", ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ARCH_AVX512, ENG_ENCRYPT, 512), RAW_(ENG_MODE_XTS, ENG_BACKEND_OPENSSL, ENG_ENCRYPT, 512), 1.5},
        {"XTS 64 KiB enc: all cores / 1 thread (native)", ENGINE_ALL_CORES_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ENCRYPT, 65536), ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, -1, ENG_ENCRYPT, 65536), 1.8},
        {"GCM 64 KiB enc: all cores / 1 thread (ipsec-mb)", ENGINE_ALL_CORES_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, ENG_ENCRYPT, 65536), ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, 65536), 1.8},
    };
    int failed = 0;
    fprintf(f, "\nbars (batches of 64, single thread unless said, ratios of medians measured in this run):\n");
    for (size_t i = 0; i < sizeof(bars) / sizeof(bars[0]); i++) {
        const struct bar *b = &bars[i];
        struct bench_cell *x = find(cells, n, b->num);
        struct bench_cell *y = find(cells, n, b->den);
        if (x == NULL || y == NULL || y->median <= 0) {
            fprintf(f, "  %-50s    n/a  (>= %.2fx)  not measured in this run\n", b->name, b->min_ratio);
            continue;
        }
        double r = x->median / y->median;
        int ok = r >= b->min_ratio;
        failed += !ok;
        fprintf(f, "  %-50s %6.2fx (>= %.2fx)  %s   [%.2f / %.2f GB/s]\n", b->name, r, b->min_ratio,
                ok ? "PASS" : "FAIL", x->median, y->median);
    }
    return failed;
}
