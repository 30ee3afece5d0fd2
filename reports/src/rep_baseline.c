/*
 * rep_baseline.c - the multi-run baseline file: reading (with the old
 * single-run bench.json still accepted) and writing.
 */
#include "rep_baseline.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rep_gate.h"

void rep_baseline_free(struct rep_baseline *b)
{
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < b->nruns; i++) {
        rep_bench_free(&b->runs[i]);
    }
    free(b->runs);
    memset(b, 0, sizeof(*b));
}

/*
 * What every run of a baseline must satisfy: no test slowdown, and the
 * machine and profile of the first run. |label| names run i in messages.
 */
static int check_runs(const struct rep_bench *runs, size_t n,
                      void (*label)(char *, size_t, size_t, const void *), const void *ctx,
                      struct base_err *e)
{
    char who[1100];
    for (size_t i = 0; i < n; i++) {
        label(who, sizeof(who), i, ctx);
        const char *slow = rep_env_str(&runs[i], "ENG_TEST_SLOWDOWN");
        if (slow[0] != '\0') {
            BASE_FAIL(e, BASE_ERR_ARG,
                      "%s was measured with ENG_TEST_SLOWDOWN=%s: not a valid baseline run", who,
                      slow);
            return -1;
        }
        if (i == 0) {
            continue;
        }
        char why[400];
        if (!rep_gate_same_machine(&runs[0], &runs[i], why, sizeof(why))) {
            BASE_FAIL(e, BASE_ERR_ARG, "%s comes from another machine than the first run (%s)", who,
                      why);
            return -1;
        }
        const char *p0 = rep_env_str(&runs[0], "profile"), *pi = rep_env_str(&runs[i], "profile");
        if (strcmp(p0, pi) != 0) {
            BASE_FAIL(e, BASE_ERR_ARG, "%s has profile '%s', the first run '%s'", who, pi, p0);
            return -1;
        }
    }
    return 0;
}

static void label_in_file(char *out, size_t out_len, size_t i, const void *ctx)
{
    snprintf(out, out_len, "%s: runs[%zu]", (const char *)ctx, i);
}

static void label_file(char *out, size_t out_len, size_t i, const void *ctx)
{
    snprintf(out, out_len, "%s", ((const char *const *)ctx)[i]);
}

enum rep_status rep_baseline_load(const char *path, struct rep_baseline *b, struct base_err *e)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->path, sizeof(b->path), "%s", path);
    cJSON *root = NULL;
    enum rep_status st = rep_json_load(path, &root, e);
    if (st != REP_OK) {
        return st;
    }
    const char *schema = cJSON_IsObject(root) ? rep_json_str(root, "schema") : NULL;
    if (schema == NULL || strcmp(schema, REP_BASELINE_SCHEMA) != 0) {
        if (schema != NULL && strcmp(schema, REP_BENCH_SCHEMA) == 0) {
            /* the old format: one bench.json */
            b->runs = calloc(1, sizeof(*b->runs));
            if (b->runs == NULL) {
                cJSON_Delete(root);
                BASE_FAIL(e, BASE_ERR_NOMEM, "%s: out of memory", path);
                return REP_BAD_FILE;
            }
            b->nruns = 1;
            return rep_bench_from_json(root, path, &b->runs[0], e);
        }
        if (!cJSON_IsObject(root)) {
            BASE_FAIL(e, BASE_ERR_FORMAT, "%s: not a baseline (the top level is not a JSON object)",
                      path);
        } else {
            BASE_FAIL(e, BASE_ERR_FORMAT,
                      "%s: not a baseline (schema is '%s', expected '%s' or '%s')", path,
                      schema != NULL ? schema : "(missing)", REP_BASELINE_SCHEMA, REP_BENCH_SCHEMA);
        }
        cJSON_Delete(root);
        return REP_BAD_FILE;
    }
    b->multi = 1;
    enum rep_status rc = REP_BAD_FILE;
    double ver = rep_json_num(root, "schema_version");
    const char *created = rep_json_str(root, "created");
    snprintf(b->created, sizeof(b->created), "%s", created != NULL ? created : "");
    cJSON *runs = cJSON_GetObjectItemCaseSensitive(root, "runs");
    if (isnan(ver) || ver < 1 || ver != floor(ver)) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "%s: schema_version is missing or not a positive integer",
                  path);
    } else if (ver > REP_BASELINE_SCHEMA_VERSION) {
        BASE_FAIL(e, BASE_ERR_FORMAT,
                  "%s: schema_version %.0f is newer than this reader (%d); update reports/", path,
                  ver, REP_BASELINE_SCHEMA_VERSION);
    } else if (!cJSON_IsArray(runs)) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "%s: no 'runs' array", path);
    } else if (cJSON_GetArraySize(runs) < 2 || cJSON_GetArraySize(runs) > REP_BASELINE_MAX_RUNS) {
        BASE_FAIL(e, BASE_ERR_ARG, "%s: a multi-run baseline needs 2 to %d runs, found %d", path,
                  REP_BASELINE_MAX_RUNS, cJSON_GetArraySize(runs));
    } else {
        size_t n = (size_t)cJSON_GetArraySize(runs);
        b->runs = calloc(n, sizeof(*b->runs));
        if (b->runs == NULL) {
            BASE_FAIL(e, BASE_ERR_NOMEM, "%s: out of memory", path);
        } else {
            rc = REP_OK;
            for (size_t i = 0; i < n && rc == REP_OK; i++) {
                char name[1100];
                label_in_file(name, sizeof(name), i, path);
                /* each run takes its own subtree: always the first item left */
                cJSON *item = cJSON_DetachItemFromArray(runs, 0);
                b->nruns++;
                rc = rep_bench_from_json(item, name, &b->runs[i], e);
            }
            if (rc == REP_OK && check_runs(b->runs, b->nruns, label_in_file, path, e) != 0) {
                rc = REP_BAD_FILE;
            }
        }
    }
    cJSON_Delete(root);
    return rc;
}

int rep_baseline_write(const char *path, const char *const *run_paths, size_t n, struct base_err *e)
{
    if (n < 2 || n > REP_BASELINE_MAX_RUNS) {
        BASE_FAIL(e, BASE_ERR_ARG, "a multi-run baseline needs 2 to %d runs, got %zu",
                  REP_BASELINE_MAX_RUNS, n);
        return -1;
    }
    struct rep_bench *runs = calloc(n, sizeof(*runs));
    cJSON *root = cJSON_CreateObject();
    int rc = -1;
    if (runs == NULL || root == NULL) {
        BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (rep_bench_load(run_paths[i], &runs[i], e) != REP_OK) {
            goto out;
        }
    }
    if (check_runs(runs, n, label_file, run_paths, e) != 0) {
        goto out;
    }
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    cJSON_AddStringToObject(root, "schema", REP_BASELINE_SCHEMA);
    cJSON_AddNumberToObject(root, "schema_version", REP_BASELINE_SCHEMA_VERSION);
    cJSON_AddStringToObject(root, "created", now);
    cJSON *arr = cJSON_AddArrayToObject(root, "runs");
    for (size_t i = 0; i < n; i++) {
        cJSON *dup = cJSON_Duplicate(runs[i].root, 1);
        if (arr == NULL || dup == NULL || !cJSON_AddItemToArray(arr, dup)) {
            cJSON_Delete(dup);
            BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    char *text = cJSON_Print(root);
    if (text == NULL) {
        BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        goto out;
    }
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int ok = f != NULL && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f != NULL && fclose(f) != 0) {
        ok = 0;
    }
    free(text);
    if (!ok || rename(tmp, path) != 0) {
        BASE_FAIL(e, BASE_ERR_IO, "%s: cannot write: %s", ok ? path : tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    if (runs != NULL) {
        for (size_t i = 0; i < n; i++) {
            rep_bench_free(&runs[i]);
        }
    }
    free(runs);
    cJSON_Delete(root);
    return rc;
}
