/*
 * test_db_stats.c - cmk-db-stats (the database bench's statistics) on fixed
 * samples: each cell's median and its order-statistic interval, per-round
 * paired ratios, the bars' PASS / FAIL / "not measured", the duration bar,
 * and the exact error for a malformed samples line.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef DB_STATS_BIN
#define DB_STATS_BIN "bin/cmk-db-stats"
#endif

static char dir[64], samples[128], env[128], config[128], out[128], log_path[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/db-stats-test.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(samples, sizeof(samples), "%s/samples.tsv", dir);
    snprintf(env, sizeof(env), "%s/env.json", dir);
    snprintf(config, sizeof(config), "%s/config.json", dir);
    snprintf(out, sizeof(out), "%s/out.json", dir);
    snprintf(log_path, sizeof(log_path), "%s/log", dir);
    FILE *f = fopen(env, "w");
    cr_assert_not_null(f);
    fputs("{\"commit\": \"test\"}\n", f);
    fclose(f);
    f = fopen(config, "w");
    cr_assert_not_null(f);
    fputs(
        "{\"rounds\": 5, \"skipped\": [{\"target\": \"cmkfs-cmk\", \"reason\": "
        "\"cmk-fs not built (bin/cmk-fs missing)\"}]}\n",
        f);
    fclose(f);
}

static void teardown(void)
{
    unlink(samples);
    unlink(env);
    unlink(config);
    unlink(out);
    unlink(log_path);
    rmdir(dir);
}

TestSuite(db_stats, .init = setup, .fini = teardown, .timeout = 60);

/* runs cmk-db-stats with |extra| (NULL-terminated) appended; stdout+stderr to log_path */
static int run_stats(const char *const *extra)
{
    const char *argv[20] = {DB_STATS_BIN, "--samples", samples, "--env", env,
                            "--config",   config,      "--out", out};
    int n = 9;
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 19; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (!freopen(log_path, "w", stdout) || dup2(fileno(stdout), 2) < 0) {
            _exit(126);
        }
        execv(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static cJSON *load(const char *path)
{
    static char buf[1 << 20];
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s missing", path);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    cr_assert_not_null(j, "%s is not JSON", path);
    return j;
}

static void write_samples(const char *text)
{
    FILE *f = fopen(samples, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* the element of array |arr| whose string fields match (NULL = any) */
static cJSON *find(cJSON *arr, const char *k1, const char *v1, const char *k2, const char *v2,
                   const char *k3, const char *v3)
{
    cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        if ((k1 == NULL || strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, k1)), v1) == 0) &&
            (k2 == NULL || strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, k2)), v2) == 0) &&
            (k3 == NULL || strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, k3)), v3) == 0)) {
            return e;
        }
    }
    return NULL;
}

static double num(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItem(o, k);
    cr_assert(cJSON_IsNumber(v), "no number %s", k);
    return v->valuedouble;
}

Test(db_stats, medians_intervals_ratios_and_bars)
{
    /* 5 rounds; cmkfs-smk is 3x gocryptfs on fio-randread in rounds 1-4 and 1x in round 5,
       cmkfs-smk/gocryptfs on pg-rw-c1 is 0.5x every round. */
    char text[4096] = "";
    const double plain[] = {100, 300, 200, 500, 400}, gocr[] = {10, 20, 30, 40, 50};
    for (int r = 0; r < 5; r++) {
        char line[512];
        snprintf(line, sizeof(line),
                 "tmpfs\tplain\tfio-randread\t%d\t%g\tMB/s\t0\n"
                 "tmpfs\tgocryptfs\tfio-randread\t%d\t%g\tMB/s\t0\n"
                 "tmpfs\tcmkfs-smk\tfio-randread\t%d\t%g\tMB/s\t0\n"
                 "tmpfs\tgocryptfs\tpg-rw-c1\t%d\t%g\ttps\t0\n"
                 "tmpfs\tcmkfs-smk\tpg-rw-c1\t%d\t%g\ttps\t%d\n",
                 r + 1, plain[r], r + 1, gocr[r], r + 1, gocr[r] * (r < 4 ? 3 : 1), r + 1,
                 gocr[r] * 10, r + 1, gocr[r] * 5, r == 2 ? 7 : 0);
        size_t used = strlen(text);
        int w = snprintf(text + used, sizeof(text) - used, "%s", line);
        cr_assert(w >= 0 && (size_t)w < sizeof(text) - used, "the sample text fits");
    }
    write_samples(text);
    const char *extra[] = {"--elapsed", "130.5", "--budget", "120", NULL};
    cr_assert_eq(run_stats(extra), 0);
    cJSON *j = load(out);
    cJSON *cells = cJSON_GetObjectItem(j, "cells");
    cJSON *c = find(cells, "target", "plain", "workload", "fio-randread", NULL, NULL);
    cr_assert_not_null(c);
    cr_expect_float_eq(num(c, "median"), 300, 1e-9);
    cr_expect_float_eq(num(c, "ci_low"), 100, 1e-9); /* n = 5: [min, max] */
    cr_expect_float_eq(num(c, "ci_high"), 500, 1e-9);
    cr_expect_float_eq(num(c, "ci_coverage"), 1 - 2.0 / 32, 1e-9);
    cr_expect_float_eq(num(j, "failed_transactions"), 7, 1e-9);
    /* gocryptfs / plain per round: 0.1, 1/15, 0.15, 0.08, 0.125 -> median 0.1 */
    cJSON *r = find(cJSON_GetObjectItem(j, "ratios"), "num", "gocryptfs", "workload",
                    "fio-randread", NULL, NULL);
    cr_assert_not_null(r);
    cr_expect_float_eq(num(r, "median"), 0.1, 1e-9);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "per_round")), 5);
    cJSON *bars = cJSON_GetObjectItem(j, "bars");
    cJSON *b = find(bars, "bar", "cmk-fs/gocryptfs, fio random 8 KiB fio-randread", NULL, NULL,
                    NULL, NULL);
    cr_assert_not_null(b);
    cr_expect_float_eq(num(b, "median"), 3.0, 1e-9); /* ratios 3,3,3,3,1 */
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(b, "status")), "PASS");
    b = find(bars, "bar", "cmk-fs/gocryptfs, pgbench TPS pg-rw-c1", NULL, NULL, NULL, NULL);
    cr_assert_not_null(b);
    cr_expect_float_eq(num(b, "median"), 0.5, 1e-9);
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(b, "status")), "FAIL");
    b = find(bars, "bar", "pgbench TPS CMK/SMK pg-rw-c1", NULL, NULL, NULL, NULL);
    cr_assert_not_null(b);
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(b, "status")), "not measured");
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(b, "reason")),
                     "not measured: cmk-fs not built (bin/cmk-fs missing) (cmkfs-cmk)");
    /* cmkfs-pass was neither run nor skipped: not one of the run's targets */
    b = find(bars, "bar", "cmk-fs SMK/passthrough, pgbench pg-rw-c1", NULL, NULL, NULL, NULL);
    cr_assert_not_null(b);
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(b, "reason")),
                     "not measured: not in this run's targets (cmkfs-pass)");
    b = find(bars, "bar", "database section of the standard run within its budget", NULL, NULL,
             NULL, NULL);
    cr_assert_not_null(b);
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(b, "status")), "FAIL");
    cr_expect_float_eq(num(j, "bars_failed"), 2, 1e-9);
    cJSON_Delete(j);
}

Test(db_stats, malformed_line_refused)
{
    write_samples(
        "tmpfs\tplain\tfio-randread\t1\t100\tMB/s\t0\ntmpfs\tplain\tfio-randread\tone\t100\tMB/"
        "s\t0\n");
    cr_assert_eq(run_stats(NULL), 1);
    char buf[1024] = "";
    FILE *f = fopen(log_path, "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    char want[256];
    snprintf(want, sizeof(want),
             "cmk-db-stats: %s line 2: want BACKING TARGET WORKLOAD ROUND VALUE UNIT FAILED",
             samples);
    cr_expect_not_null(strstr(buf, want), "%s", buf);
    cr_expect_neq(access(out, F_OK), 0, "an output was written from bad input");
}
