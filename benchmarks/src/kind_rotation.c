/*
 * kind_rotation.c - the KEK rotation extras: eng_store_rotate_kek of a
 * folder store against its DEK count, under SMK (a new key file version)
 * and CMK (a vault key rotation), and the same DEK count in a 1 GiB and a
 * 4 GiB store (rotation must not depend on the data size).
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base_file.h"
#include "bench.h"
#include "eng_store.h"
#include "rep_stats.h"
#include "vmt_client.h"

/* A new current KEK version: SMK key file, or vault key rotation (keyofficer). */
static int new_kek_version(const char *keys, const char *smk_path, const char *vault_key)
{
    if (strcmp(keys, "smk") == 0) {
        return eng_smk_rotate(smk_path, NULL, 0);
    }
    char path[128];
    snprintf(path, sizeof(path), "/keys/%s/rotate?" VMT_API, vault_key);
    return bench_vault_call("keyofficer", "POST", path, NULL) == 200 ? 0 : -1;
}

/* KEK rotation of a folder store with x->dek_count DEKs (8 units of 8 KiB each). */
static int rotation_run(struct bench_extra *x, struct base_err *e)
{
    char smk_path[512], key[32] = "bench-rot";
    const char *tmp = bench_tmpdir();
    struct eng_kek_provider *kek;
    if (tmp == NULL) {
        return base_err_set(e, BASE_ERR_IO, BASE_HERE, "no temporary folder");
    }
    if (strcmp(x->keys, "smk") == 0) {
        snprintf(smk_path, sizeof(smk_path), "%s/rot-%d.key", tmp, x->dek_count);
        kek = eng_smk_open(smk_path, 1);
    } else {
        snprintf(key, sizeof(key), "bench-rot-%d", x->dek_count);
        if (bench_vault_create_key(key, x->rsa_bits) != 200) {
            return base_err_set(e, BENCH_ERR_VAULT, BASE_HERE,
                                "vault-mock did not create the rotation key");
        }
        kek = bench_vault_provider_named(key, -1);
    }
    if (kek == NULL) {
        return bench_fail_lib(e, "provider");
    }
    char dir[512];
    int rc = 0;
    if (bench_make_store(kek, ENG_MODE_XTS, (uint32_t)x->dek_count, 8, dir, sizeof(dir)) != 0) {
        rc = bench_fail_lib(e, "create");
    }
    struct eng_store *s = rc == 0 ? eng_store_open(dir, kek, NULL) : NULL;
    if (rc == 0 && s == NULL) {
        rc = bench_fail_lib(e, "open");
    }
    for (size_t i = 0; rc == 0 && i < x->count; i++) {
        if (new_kek_version(x->keys, smk_path, key) != 0) {
            rc = base_err_set(e, BENCH_ERR_LIB, BASE_HERE, "could not make a new KEK version");
            break;
        }
        double t0 = bench_now();
        if (eng_store_rotate_kek(s) != 0) {
            rc = bench_fail_lib(e, "rotate");
        } else {
            bench_extra_sample(x, (bench_now() - t0) * 1e3);
        }
    }
    eng_store_close(s);
    eng_kek_provider_free(kek);
    bench_remove_tree(dir);
    return rc;
}

/* Dirty + Writeback from /proc/meminfo, in KiB (0 if unreadable). */
static long dirty_kib(void)
{
    char *text = NULL;
    if (base_file_read("/proc/meminfo", 1 << 20, 0, &text, NULL, NULL) != 0) {
        return 0;
    }
    long total = 0;
    for (const char *line = text; line != NULL && *line != '\0';) {
        long v;
        if (sscanf(line, "Dirty: %ld kB", &v) == 1 || sscanf(line, "Writeback: %ld kB", &v) == 1) {
            total += v;
        }
        line = strchr(line, '\n');
        line = line != NULL ? line + 1 : NULL;
    }
    free(text);
    return total;
}

/*
 * The same number of DEKs (16) in a 1 GiB and a 4 GiB store (every unit
 * written at creation): rotation must not depend on the data size. Before
 * sampling the creation's writeback is let finish (sync, then Dirty +
 * Writeback < 4 MiB, at most 60 s), else the rotation's fsyncs queue behind
 * gigabytes. Samples alternate between the two stores (and which goes first).
 * samples: the 1 GiB store's ms; extra_value: the 4 GiB store's median.
 */
static int rotation_size_run(struct bench_extra *x, struct base_err *e)
{
    const char *tmp = bench_tmpdir();
    if (tmp == NULL) {
        return base_err_set(e, BASE_ERR_IO, BASE_HERE, "no temporary folder");
    }
    char smk_path[512], dirs[2][512];
    snprintf(smk_path, sizeof(smk_path), "%s/rotsize.key", tmp);
    struct eng_kek_provider *kek = eng_smk_open(smk_path, 1);
    if (kek == NULL) {
        return bench_fail_lib(e, "key file");
    }
    int rc = 0;
    struct eng_store *st[2] = {NULL, NULL};
    for (int k = 0; k < 2 && rc == 0; k++) {
        uint64_t bytes = x->store_bytes << (2 * k); /* 1x and 4x */
        uint32_t eu = (uint32_t)(bytes / 8192 / 16);
        if (bench_make_store(kek, ENG_MODE_XTS, 16, eu, dirs[k], sizeof(dirs[k])) != 0 ||
            (st[k] = eng_store_open(dirs[k], kek, NULL)) == NULL) {
            rc = bench_fail_lib(e, "create");
        }
    }
    double t0 = bench_now();
    sync();
    while (dirty_kib() > 4096 && bench_now() - t0 < 60.0) {
        usleep(100 * 1000);
    }
    double *large = calloc(x->count, sizeof(double));
    size_t nl = 0;
    if (large == NULL) {
        rc = base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < x->count; i++) {
        for (int j = 0; j < 2 && rc == 0; j++) {
            int k = (int)((i + (size_t)j) % 2);
            if (eng_smk_rotate(smk_path, NULL, 0) != 0) {
                rc = bench_fail_lib(e, "smk rotate");
                break;
            }
            double a = bench_now();
            if (eng_store_rotate_kek(st[k]) != 0) {
                rc = bench_fail_lib(e, "rotate");
                break;
            }
            double ms = (bench_now() - a) * 1e3;
            if (k == 0) {
                bench_extra_sample(x, ms);
            } else {
                large[nl++] = ms;
            }
        }
    }
    if (rc == 0 && nl > 0) {
        qsort(large, nl, sizeof(double), bench_cmp_double);
        x->extra_value = rep_quantile_sorted(large, nl, 0.5);
    }
    free(large);
    for (int k = 0; k < 2; k++) {
        eng_store_close(st[k]);
        bench_remove_tree(dirs[k]);
    }
    eng_kek_provider_free(kek);
    return rc;
}

/* KEK rotation against the DEK count (SMK and CMK), then the 1 GiB vs 4 GiB check. */
static void rotation_plan(struct bench_plan *pl)
{
    const struct bench_profile *p = pl->profile;
    for (size_t i = 0; i < p->nrot; i++) {
        bench_plan_add_extra(pl, &bench_extra_rotation,
                             (struct bench_extra){.keys = "smk",
                                                  .condition = "",
                                                  .dek_count = p->rot_deks[i],
                                                  .count = p->rot_samples});
        bench_plan_add_extra(pl, &bench_extra_rotation,
                             (struct bench_extra){.keys = "cmk",
                                                  .condition = "",
                                                  .rsa_bits = 3072,
                                                  .dek_count = p->rot_deks[i],
                                                  .count = p->rot_samples});
    }
    if (p->rot_size) {
        /* rotation here is two fsyncs of a small file (~6 ms) whose latency on a shared
         * disk varies by 2x: 60 alternating pairs cost ~2 s against 27 s of store set-up */
        bench_plan_add_extra(pl, &bench_extra_rotation_size,
                             (struct bench_extra){.keys = "smk",
                                                  .condition = "",
                                                  .dek_count = 16,
                                                  .store_bytes = 1ULL << 30,
                                                  .count = 60});
    }
}

static void rotation_describe(const struct bench_extra *x, const char *rsa, char *out, size_t max)
{
    snprintf(out, max, "rotation %s%s %d DEKs", x->keys, rsa, x->dek_count);
}

static void rotation_size_describe(const struct bench_extra *x, const char *rsa, char *out,
                                   size_t max)
{
    (void)rsa;
    snprintf(out, max, "rotation-size %s %d DEKs 1 GiB vs 4 GiB", x->keys, x->dek_count);
}

static void rotation_write_json(cJSON *r, const struct bench_extra *x)
{
    cJSON_AddNumberToObject(r, "dek_count", x->dek_count);
}

static void rotation_size_write_results(cJSON *r, const struct bench_extra *x)
{
    cJSON_AddNumberToObject(r, "store_bytes", (double)x->store_bytes);
    cJSON_AddNumberToObject(r, "large_store_bytes", (double)(x->store_bytes * 4));
    cJSON_AddNumberToObject(r, "large_median", x->extra_value);
    cJSON_AddNumberToObject(r, "large_over_small", x->p50 > 0 ? x->extra_value / x->p50 : 0);
}

static void rotation_size_print(FILE *f, const struct bench_extra *x)
{
    fprintf(f, "  4 GiB store median %.3f ms = %.3fx the 1 GiB store's (bar: within 10%%)\n",
            x->extra_value, x->p50 > 0 ? x->extra_value / x->p50 : 0);
}

const struct bench_extra_ops bench_extra_rotation = {
    .id = BENCH_X_ROTATION,
    .kind = "rotation",
    .unit = "ms",
    .op = "rotate-kek",
    .mode = "xts",
    .unit_bytes = 8192,
    .plan = rotation_plan,
    .describe = rotation_describe,
    .run = rotation_run,
    .write_json = rotation_write_json,
};

const struct bench_extra_ops bench_extra_rotation_size = {
    .id = BENCH_X_ROTATION_SIZE,
    .kind = "rotation-size",
    .unit = "ms",
    .op = "rotate-kek",
    .mode = "xts",
    .unit_bytes = 8192,
    .describe = rotation_size_describe,
    .run = rotation_size_run,
    .write_json = rotation_write_json,
    .write_results = rotation_size_write_results,
    .print = rotation_size_print,
};
