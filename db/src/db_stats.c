/*
 * db_stats.c - cmk-db-stats: the statistics, the table and the bars of the
 * database bench (scripts/db/bench.sh). Reads the samples the bench took,
 * one line per round, target and workload:
 *
 *   BACKING <TAB> TARGET <TAB> WORKLOAD <TAB> ROUND <TAB> VALUE <TAB> UNIT <TAB> FAILED
 *
 * (VALUE: MB/s for fio, TPS for pgbench; FAILED: pgbench's failed
 * transactions, 0 for fio), and writes one JSON document with the samples,
 * each cell's median and its distribution-free 95% interval
 * (rep_median_ci_ranks, the interval cmk-bench uses), the per-round paired
 * ratios of every target to `plain` and of the pairs the bars compare, and
 * the bars of issue 15 with PASS, FAIL or "not measured". A bar passes when
 * the median of its per-round ratios reaches it, as in cmk-bench. Prints
 * the table and the bars on stdout.
 *
 * usage: cmk-db-stats --samples FILE --env FILE --config FILE --out FILE
 *                     [--elapsed S --budget S]
 * (a bar whose target has no samples says why: config.skipped, or "not in
 * this run's targets")
 * Exit codes: 0 written (bars may fail), 1 bad input or write failure, 2 usage.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base_file.h"
#include "db_bars.h"
#include "rep_stats.h"

#define MAX_SAMPLES  4096
#define NAME_MAX_LEN 48

struct sample {
    char backing[NAME_MAX_LEN], target[NAME_MAX_LEN], workload[NAME_MAX_LEN], unit[16];
    int round;
    double value;
    long failed;
};

static struct sample samples[MAX_SAMPLES];
static size_t nsamples;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int read_samples(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "cmk-db-stats: cannot open samples '%s': %s\n", path, strerror(errno));
        return -1;
    }
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (line[0] == '\n' || line[0] == '#') {
            continue;
        }
        if (nsamples == MAX_SAMPLES) {
            fprintf(stderr, "cmk-db-stats: %s: more than %d samples\n", path, MAX_SAMPLES);
            fclose(f);
            return -1;
        }
        struct sample *s = &samples[nsamples];
        if (sscanf(line, "%47[^\t]\t%47[^\t]\t%47[^\t]\t%d\t%lf\t%15[^\t]\t%ld", s->backing,
                   s->target, s->workload, &s->round, &s->value, s->unit, &s->failed) != 7 ||
            !isfinite(s->value) || s->value < 0) {
            fprintf(stderr,
                    "cmk-db-stats: %s line %d: want BACKING TARGET WORKLOAD ROUND VALUE UNIT "
                    "FAILED (tab-separated, VALUE >= 0)\n",
                    path, lineno);
            fclose(f);
            return -1;
        }
        nsamples++;
    }
    fclose(f);
    return 0;
}

/* A results file larger than this is refused (one run writes a few KiB). */
#define JSON_MAX ((size_t)256 << 20)

static cJSON *read_json(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "cmk-db-stats: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    int rc = base_fd_read(fd, path, JSON_MAX, 0, &buf, NULL, NULL);
    close(fd);
    /* unreadable or too large: reported as not JSON */
    cJSON *j = rc == 0 ? cJSON_Parse(buf) : NULL;
    free(buf);
    if (j == NULL) {
        fprintf(stderr, "cmk-db-stats: '%s' is not JSON\n", path);
    }
    return j;
}

/* values of one cell, in round order; returns the count. |rounds| gets the round numbers. */
static size_t cell_values(const char *backing, const char *target, const char *workload, double *v,
                          int *rounds, const char **unit, long *failed)
{
    size_t n = 0;
    *failed = 0;
    for (size_t i = 0; i < nsamples; i++) {
        const struct sample *s = &samples[i];
        if (strcmp(s->backing, backing) == 0 && strcmp(s->target, target) == 0 &&
            strcmp(s->workload, workload) == 0) {
            v[n] = s->value;
            rounds[n] = s->round;
            *unit = s->unit;
            *failed += s->failed;
            n++;
        }
    }
    return n;
}

/* Adds median, ci_low, ci_high, coverage of |v| (n > 0; sorted in place) to |o|. */
static double add_median_ci(cJSON *o, double *v, size_t n, double *lo, double *hi)
{
    size_t j, k;
    qsort(v, n, sizeof(double), cmp_double);
    double level = rep_median_ci_ranks(n, &j, &k);
    double med = rep_quantile_sorted(v, n, 0.5);
    *lo = v[j];
    *hi = v[k];
    cJSON_AddNumberToObject(o, "median", med);
    cJSON_AddNumberToObject(o, "ci_low", *lo);
    cJSON_AddNumberToObject(o, "ci_high", *hi);
    cJSON_AddNumberToObject(o, "ci_coverage", level);
    return med;
}

/*
 * paired_ratio: per-round ratios num/den of one workload (rounds where both
 * ran), their median and interval into |o|. Returns the count of pairs.
 */
static size_t paired_ratio(const char *backing, const char *workload, const char *num,
                           const char *den, cJSON *o, double *med, double *lo, double *hi)
{
    static double a[MAX_SAMPLES], b[MAX_SAMPLES], r[MAX_SAMPLES];
    static int ra[MAX_SAMPLES], rb[MAX_SAMPLES];
    const char *unit;
    long failed;
    size_t na = cell_values(backing, num, workload, a, ra, &unit, &failed);
    size_t nb = cell_values(backing, den, workload, b, rb, &unit, &failed);
    size_t m = 0;
    cJSON *per = cJSON_AddArrayToObject(o, "per_round");
    for (size_t i = 0; i < na; i++) {
        for (size_t j = 0; j < nb; j++) {
            if (ra[i] == rb[j] && b[j] > 0) {
                r[m++] = a[i] / b[j];
                cJSON_AddItemToArray(per, cJSON_CreateNumber(a[i] / b[j]));
            }
        }
    }
    cJSON_AddNumberToObject(o, "n", (double)m);
    if (m > 0) {
        *med = add_median_ci(o, r, m, lo, hi);
    }
    return m;
}

/* distinct values of one field (0 backing, 1 target, 2 workload) in first-seen order */
static size_t distinct(int field, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < nsamples; i++) {
        const char *v = field == 0   ? samples[i].backing
                        : field == 1 ? samples[i].target
                                     : samples[i].workload;
        size_t j;
        for (j = 0; j < n && strcmp(out[j], v) != 0; j++) {
        }
        if (j == n && n < max) {
            out[n++] = v;
        }
    }
    return n;
}

struct bar {
    const char *name;
    const char *workload_prefix; /* workloads whose name starts with this */
    const char *num, *den;
    double min;
};

/* Issue 15's bars (db_bars.h). */
#define DB_BAR_ROW_(name, prefix, num, den, min) {name, prefix, num, den, min},
static const struct bar bars[] = {DB_BARS(DB_BAR_ROW_)};
#undef DB_BAR_ROW_

static int has_target(const char *t)
{
    for (size_t i = 0; i < nsamples; i++) {
        if (strcmp(samples[i].target, t) == 0) {
            return 1;
        }
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: cmk-db-stats --samples FILE --env FILE --config FILE --out FILE "
            "[--elapsed S --budget S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *samples_path = NULL, *env_path = NULL, *config_path = NULL, *out_path = NULL;
    double elapsed = -1, budget = -1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            fprintf(stderr, "cmk-db-stats: option '%s' needs a value\n", argv[i]);
            usage();
        }
        const char *v = argv[++i];
        if (strcmp(argv[i - 1], "--samples") == 0) {
            samples_path = v;
        } else if (strcmp(argv[i - 1], "--env") == 0) {
            env_path = v;
        } else if (strcmp(argv[i - 1], "--config") == 0) {
            config_path = v;
        } else if (strcmp(argv[i - 1], "--out") == 0) {
            out_path = v;
        } else if (strcmp(argv[i - 1], "--elapsed") == 0) {
            elapsed = strtod(v, NULL);
        } else if (strcmp(argv[i - 1], "--budget") == 0) {
            budget = strtod(v, NULL);
        } else {
            fprintf(stderr, "cmk-db-stats: unknown option '%s'\n", argv[i - 1]);
            usage();
        }
    }
    if (samples_path == NULL || env_path == NULL || config_path == NULL || out_path == NULL) {
        usage();
    }
    if (read_samples(samples_path) != 0) {
        return 1;
    }
    cJSON *env = read_json(env_path), *config = read_json(config_path);
    if (env == NULL || config == NULL) {
        return 1;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "schema", "cmk-db-bench/1");
    cJSON_AddItemToObject(doc, "env", env);
    cJSON_AddItemToObject(doc, "config", config);
    if (elapsed >= 0) {
        cJSON_AddNumberToObject(doc, "elapsed_s", elapsed);
    }
    cJSON *js = cJSON_AddArrayToObject(doc, "samples");
    for (size_t i = 0; i < nsamples; i++) {
        const struct sample *s = &samples[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "backing", s->backing);
        cJSON_AddStringToObject(o, "target", s->target);
        cJSON_AddStringToObject(o, "workload", s->workload);
        cJSON_AddNumberToObject(o, "round", s->round);
        cJSON_AddNumberToObject(o, "value", s->value);
        cJSON_AddStringToObject(o, "unit", s->unit);
        cJSON_AddNumberToObject(o, "failed", (double)s->failed);
        cJSON_AddItemToArray(js, o);
    }

    const char *backs[8], *targets[16], *works[32];
    size_t nback = distinct(0, backs, 8), ntarget = distinct(1, targets, 16),
           nwork = distinct(2, works, 32);
    static double v[MAX_SAMPLES];
    static int rounds[MAX_SAMPLES];
    cJSON *cells = cJSON_AddArrayToObject(doc, "cells");
    cJSON *ratios = cJSON_AddArrayToObject(doc, "ratios");
    long total_failed = 0;
    for (size_t b = 0; b < nback; b++) {
        printf(
            "\ndatabase bench, backing %s: median [95%% interval of the median] over rounds; "
            "x = median of per-round ratios to plain\n",
            backs[b]);
        printf("  %-14s", "workload");
        for (size_t t = 0; t < ntarget; t++) {
            printf(" %32s", targets[t]);
        }
        printf("\n");
        for (size_t w = 0; w < nwork; w++) {
            const char *unit = "";
            printf("  %-14s", works[w]);
            for (size_t t = 0; t < ntarget; t++) {
                long failed;
                size_t n = cell_values(backs[b], targets[t], works[w], v, rounds, &unit, &failed);
                if (n == 0) {
                    printf(" %32s", "-");
                    continue;
                }
                total_failed += failed;
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "backing", backs[b]);
                cJSON_AddStringToObject(o, "workload", works[w]);
                cJSON_AddStringToObject(o, "target", targets[t]);
                cJSON_AddStringToObject(o, "unit", unit);
                cJSON_AddNumberToObject(o, "n", (double)n);
                cJSON_AddNumberToObject(o, "failed", (double)failed);
                double lo, hi, med = add_median_ci(o, v, n, &lo, &hi);
                cJSON_AddItemToArray(cells, o);
                char cell[64], x[16] = "";
                if (strcmp(targets[t], "plain") != 0 && has_target("plain")) {
                    cJSON *r = cJSON_CreateObject();
                    double rm = NAN, rl, rh;
                    cJSON_AddStringToObject(r, "backing", backs[b]);
                    cJSON_AddStringToObject(r, "workload", works[w]);
                    cJSON_AddStringToObject(r, "num", targets[t]);
                    cJSON_AddStringToObject(r, "den", "plain");
                    if (paired_ratio(backs[b], works[w], targets[t], "plain", r, &rm, &rl, &rh) >
                        0) {
                        snprintf(x, sizeof(x), " %.2fx", rm);
                    }
                    cJSON_AddItemToArray(ratios, r);
                }
                snprintf(cell, sizeof(cell), "%.0f [%.0f,%.0f]%s", med, lo, hi, x);
                printf(" %32s", cell);
            }
            printf("  %s\n", unit);
        }
    }
    if (total_failed > 0) {
        printf("\nWARNING: pgbench reported %ld failed transactions in total\n", total_failed);
    }
    cJSON_AddNumberToObject(doc, "failed_transactions", (double)total_failed);

    cJSON *jb = cJSON_AddArrayToObject(doc, "bars");
    int failures = 0;
    for (size_t b = 0; b < nback; b++) {
        printf("\nbars (backing %s; median of per-round ratios [95%% interval]):\n", backs[b]);
        for (size_t i = 0; i < sizeof(bars) / sizeof(bars[0]); i++) {
            const struct bar *br = &bars[i];
            for (size_t w = 0; w < nwork; w++) {
                if (strncmp(works[w], br->workload_prefix, strlen(br->workload_prefix)) != 0) {
                    continue;
                }
                cJSON *o = cJSON_CreateObject();
                char name[160];
                snprintf(name, sizeof(name), "%s %s", br->name, works[w]);
                cJSON_AddStringToObject(o, "bar", name);
                cJSON_AddStringToObject(o, "backing", backs[b]);
                cJSON_AddStringToObject(o, "workload", works[w]);
                cJSON_AddStringToObject(o, "num", br->num);
                cJSON_AddStringToObject(o, "den", br->den);
                cJSON_AddNumberToObject(o, "min", br->min);
                double med = NAN, lo = NAN, hi = NAN;
                const char *missing = !has_target(br->num)   ? br->num
                                      : !has_target(br->den) ? br->den
                                                             : NULL;
                if (missing != NULL) {
                    const char *why = db_skip_reason(
                        cJSON_GetObjectItemCaseSensitive(config, "skipped"), missing);
                    char reason[192];
                    snprintf(reason, sizeof(reason), "not measured: %s (%s)",
                             why != NULL ? why : "not in this run's targets", missing);
                    cJSON_AddStringToObject(o, "status", "not measured");
                    cJSON_AddStringToObject(o, "reason", reason);
                    printf("  %-52s %-10s  (>= %.2fx)  %s\n", name, "n/a", br->min, reason);
                } else if (paired_ratio(backs[b], works[w], br->num, br->den, o, &med, &lo, &hi) ==
                           0) {
                    cJSON_AddStringToObject(o, "status", "not measured");
                    cJSON_AddStringToObject(o, "reason", "no paired rounds");
                    printf("  %-52s %-10s  (>= %.2fx)  not measured: no paired rounds\n", name,
                           "n/a", br->min);
                } else {
                    int ok = med >= br->min;
                    failures += !ok;
                    cJSON_AddStringToObject(o, "status", ok ? "PASS" : "FAIL");
                    printf("  %-52s %6.3fx [%.3f, %.3f]  (>= %.2fx)  %s\n", name, med, lo, hi,
                           br->min, ok ? "PASS" : "FAIL");
                }
                cJSON_AddItemToArray(jb, o);
            }
        }
    }
    if (budget > 0 && elapsed >= 0) {
        int ok = elapsed <= budget;
        failures += !ok;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "bar", "database section of the standard run within its budget");
        cJSON_AddNumberToObject(o, "elapsed_s", elapsed);
        cJSON_AddNumberToObject(o, "budget_s", budget);
        cJSON_AddStringToObject(o, "status", ok ? "PASS" : "FAIL");
        cJSON_AddItemToArray(jb, o);
        printf("  %-52s %6.1f s  (<= %.0f s)  %s\n", "database section (--quick) duration", elapsed,
               budget, ok ? "PASS" : "FAIL");
    }
    cJSON_AddNumberToObject(doc, "bars_failed", failures);

    char *text = cJSON_Print(doc);
    FILE *f = text != NULL ? fopen(out_path, "w") : NULL;
    int rc = 0;
    if (f == NULL || fputs(text, f) == EOF || fputc('\n', f) == EOF || fclose(f) != 0) {
        fprintf(stderr, "cmk-db-stats: cannot write '%s': %s\n", out_path, strerror(errno));
        rc = 1;
    }
    free(text);
    cJSON_Delete(doc);
    if (rc == 0) {
        printf("\nwritten: %s\n", out_path);
    }
    return rc;
}
