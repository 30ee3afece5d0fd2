/*
 * test_baseline.c - the multi-run baseline file: written by cmk-gate
 * --make-baseline and read back, the old single-run format still read, and
 * malformed files refused with the exact message and exit 2.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "rep_baseline.h"
#include "rep_gate.h"
#include "rep_testutil.h"

static const double raw[3] = {10, 10.5, 9.5}, eng[3] = {9, 9.4, 8.6};

static void write_run(const char *path, const char *cpu, const char *slowdown)
{
    const struct tu_cell cells[] = {
        {"raw", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 8192, 1, raw, 3},
        {"engine", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 8192, 1, eng, 3},
    };
    cJSON *j = tu_bench_json(cpu, cells, 2);
    if (slowdown != NULL) {
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "env"), "ENG_TEST_SLOWDOWN",
                                  cJSON_CreateString(slowdown));
    }
    char *text = cJSON_Print(j);
    tu_write_file(path, text);
    free(text);
    cJSON_Delete(j);
}

struct dirs {
    char run[4][160];
    char base[160], cur[160], out[160];
};

static void setup(struct dirs *d)
{
    const char *t = tu_tmpdir(0);
    for (int i = 0; i < 4; i++) {
        snprintf(d->run[i], sizeof(d->run[i]), "%s/run%d.json", t, i);
        write_run(d->run[i], "cpu A", NULL);
    }
    snprintf(d->base, sizeof(d->base), "%s/baseline.json", t);
    snprintf(d->cur, sizeof(d->cur), "%s/new.json", t);
    snprintf(d->out, sizeof(d->out), "%s/out", t);
    write_run(d->cur, "cpu A", NULL);
}

static int make(const struct dirs *d, size_t n, char **out, char **err)
{
    const char *argv[8] = {"cmk-gate", "--make-baseline", d->base};
    for (size_t i = 0; i < n; i++) {
        argv[3 + i] = d->run[i];
    }
    return tu_run(rep_gate_main, (int)(3 + n), argv, out, err);
}

static int gate(const struct dirs *d, char **out, char **err)
{
    const char *argv[] = {"cmk-gate", "--baseline", d->base, "--new", d->cur, "--out", d->out};
    return tu_run(rep_gate_main, 7, argv, out, err);
}

Test(baseline, make_baseline_writes_runs_that_load_back)
{
    struct dirs d;
    setup(&d);
    char *out, *err;
    cr_assert_eq(make(&d, 3, &out, &err), 0, "%s", err);
    char want[300];
    snprintf(want, sizeof(want), "cmk-gate: wrote %s (3 runs)\n", d.base);
    cr_assert_str_eq(out, want);
    cr_assert_str_eq(err, "");
    free(out);
    free(err);
    struct rep_baseline b;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(rep_baseline_load(d.base, &b, &e), REP_OK, "%s", e.msg);
    cr_assert(b.multi);
    cr_assert_eq(b.nruns, 3);
    cr_assert_eq(strlen(b.created), 20, "created '%s'", b.created); /* 2026-11-23T17:00:00Z */
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(b.runs[i].ncells, 2);
        cr_assert_eq(b.runs[i].cells[0].nsamples, 3); /* samples are kept */
        cr_assert_float_eq(b.runs[i].cells[1].samples[2], 8.6, 0);
    }
    snprintf(want, sizeof(want), "%s: runs[1]", d.base);
    cr_assert_str_eq(b.runs[1].path, want);
    rep_baseline_free(&b);
    /* and the gate uses the run-level model, without the single-run warning */
    cr_assert_eq(gate(&d, &out, &err), 0, "%s%s", out, err);
    cr_assert_str_eq(err, "");
    cr_assert(strstr(out, "(3 runs; first run's commit 0123456789ab)") != NULL, "%s", out);
    free(out);
    free(err);
}

Test(baseline, old_single_run_file_loads)
{
    struct dirs d;
    setup(&d);
    struct rep_baseline b;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(rep_baseline_load(d.run[0], &b, &e), REP_OK, "%s", e.msg);
    cr_assert(!b.multi);
    cr_assert_eq(b.nruns, 1);
    cr_assert_eq(b.runs[0].ncells, 2);
    cr_assert_str_eq(b.runs[0].path, d.run[0]);
    rep_baseline_free(&b);
    cr_assert_eq(rep_baseline_load("/nonexistent/b.json", &b, &e), REP_MISSING);
    cr_assert_eq(e.code, BASE_ERR_NOT_FOUND);
    cr_assert_str_eq(e.msg, "/nonexistent/b.json: cannot open: No such file or directory");
    rep_baseline_free(&b);
}

Test(baseline, make_baseline_refuses_bad_runs)
{
    struct dirs d;
    setup(&d);
    char *out, *err, want[600];
    /* a slowed run */
    write_run(d.run[1], "cpu A", "gcm:10");
    cr_assert_eq(make(&d, 2, &out, &err), 2);
    snprintf(want, sizeof(want),
             "cmk-gate: %s was measured with ENG_TEST_SLOWDOWN=gcm:10: not a valid baseline run\n",
             d.run[1]);
    cr_assert_str_eq(err, want);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
    /* another machine */
    write_run(d.run[1], "cpu B", NULL);
    cr_assert_eq(make(&d, 2, &out, &err), 2);
    snprintf(want, sizeof(want),
             "cmk-gate: %s comes from another machine than the first run (env.cpu_model differs: "
             "'cpu A' vs "
             "'cpu B')\n",
             d.run[1]);
    cr_assert_str_eq(err, want);
    free(out);
    free(err);
    /* one run is not enough */
    cr_assert_eq(make(&d, 1, &out, &err), 2);
    cr_assert_str_eq(err, "cmk-gate: a multi-run baseline needs 2 to 100 runs, got 1\n");
    free(out);
    free(err);
    /* a missing run */
    snprintf(d.run[1], sizeof(d.run[1]), "/nonexistent/run.json");
    cr_assert_eq(make(&d, 2, &out, &err), 2);
    cr_assert_str_eq(err,
                     "cmk-gate: /nonexistent/run.json: cannot open: No such file or directory\n");
    free(out);
    free(err);
    /* nothing was written */
    cr_assert(tu_read_file(d.base) == NULL);
}

/* Writes |text| as the baseline, runs the gate, and checks exit 2 with "cmk-gate: <base>: |want|".
 */
static void expect_bad(const struct dirs *d, const char *text, const char *want)
{
    tu_write_file(d->base, text);
    char *out, *err, full[1200];
    snprintf(full, sizeof(full), "cmk-gate: %s: %s\n", d->base, want);
    cr_assert_eq(gate(d, &out, &err), 2, "%s", text);
    cr_assert_str_eq(err, full);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
}

/* A multi-run baseline text with the runs given as JSON texts. */
static char *baseline_text(const char *head, const char *const *runs, size_t n)
{
    size_t len = strlen(head) + 64;
    for (size_t i = 0; i < n; i++) {
        len += strlen(runs[i]) + 2;
    }
    char *t = malloc(len);
    cr_assert(t != NULL);
    size_t off = (size_t)snprintf(t, len, "{%s, \"runs\": [", head);
    for (size_t i = 0; i < n; i++) {
        off += (size_t)snprintf(t + off, len - off, "%s%s", i > 0 ? ", " : "", runs[i]);
    }
    snprintf(t + off, len - off, "]}");
    return t;
}

Test(baseline, malformed_multi_run_files_exit_2_with_the_exact_error)
{
    struct dirs d;
    setup(&d);
    const char *head = "\"schema\": \"cmk-harness/baseline\", \"schema_version\": 1";
    char *good = tu_read_file(d.run[0]);
    char *slowed_path = d.run[3];
    write_run(slowed_path, "cpu A", "gcm:10");
    char *slowed = tu_read_file(slowed_path);
    write_run(d.run[3], "cpu B", NULL);
    char *other = tu_read_file(d.run[3]);
    cr_assert(good != NULL && slowed != NULL && other != NULL);

    expect_bad(&d, "{\"schema\": \"cmk-harness/baseline\", \"schema_version\": 1}",
               "no 'runs' array");
    expect_bad(&d, "{\"schema\": \"cmk-harness/baseline\", \"schema_version\": 1, \"runs\": {}}",
               "no 'runs' array");
    expect_bad(&d, "{\"schema\": \"cmk-harness/baseline\", \"runs\": []}",
               "schema_version is missing or not a positive integer");
    expect_bad(&d, "{\"schema\": \"cmk-harness/baseline\", \"schema_version\": 2, \"runs\": []}",
               "schema_version 2 is newer than this reader (1); update reports/");
    expect_bad(&d, "{\"schema\": \"something/else\", \"schema_version\": 1}",
               "not a baseline (schema is 'something/else', expected 'cmk-harness/baseline' or "
               "'cmk-harness/bench')");
    expect_bad(&d, "[1, 2]", "not a baseline (the top level is not a JSON object)");

    const char *one[] = {good};
    char *t = baseline_text(head, one, 1);
    expect_bad(&d, t, "a multi-run baseline needs 2 to 100 runs, found 1");
    free(t);

    const char *notbench[] = {good, "{\"schema\": \"cmk-harness/gate\", \"schema_version\": 1}"};
    t = baseline_text(head, notbench, 2);
    expect_bad(
        &d, t,
        "runs[1]: not a bench result (schema is 'cmk-harness/gate', expected 'cmk-harness/bench')");
    free(t);

    const char *noresults[] = {good, good,
                               "{\"schema\": \"cmk-harness/bench\", \"schema_version\": 1}"};
    t = baseline_text(head, noresults, 3);
    expect_bad(&d, t, "runs[2]: no 'results' array");
    free(t);

    const char *notobj[] = {good, "7"};
    t = baseline_text(head, notobj, 2);
    expect_bad(&d, t, "runs[1]: not a bench result (the top level is not a JSON object)");
    free(t);

    const char *withslow[] = {good, slowed};
    t = baseline_text(head, withslow, 2);
    expect_bad(&d, t,
               "runs[1] was measured with ENG_TEST_SLOWDOWN=gcm:10: not a valid baseline run");
    free(t);

    const char *mixed[] = {good, good, other};
    t = baseline_text(head, mixed, 3);
    expect_bad(
        &d, t,
        "runs[2] comes from another machine than the first run (env.cpu_model differs: 'cpu A' vs "
        "'cpu B')");
    free(t);

    /* malformed JSON still gives the position */
    tu_write_file(d.base, "{\"schema\": \"cmk-harness/baseline\",\n \"runs\": [}");
    char *out, *err, want[600];
    snprintf(want, sizeof(want), "cmk-gate: %s: malformed JSON at line 2, column 11 (byte 45)\n",
             d.base);
    cr_assert_eq(gate(&d, &out, &err), 2);
    cr_assert_str_eq(err, want);
    free(out);
    free(err);
    free(good);
    free(slowed);
    free(other);
}
