/*
 * test_gate.c - the regression gate on synthetic bench.json files: a 10%
 * drop of one engine path is flagged, a 0% change with noise is not, machine
 * drift is ignored in ratio mode, and bad inputs give exit 2 with the exact
 * message.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "rep_bench.h"
#include "rep_gate.h"
#include "rep_testutil.h"

#define NS 10

/*
 * One group (gcm, 8 KiB, encrypt) sampled in NS interleaved rounds: the raw
 * ipsec-mb cell runs at base * drift_r, the engine cell at
 * base * engine_factor * drift_r * (1 +- 1%), where drift_r is a round-wide
 * machine drift of +-20% that both cells of a round share.
 */
static void write_run(const char *path, const char *cpu, double speed, double engine_factor,
                      uint64_t seed)
{
    static double raw[NS], eng[NS], rawo[NS], engo[NS];
    uint64_t st = seed;
    for (int i = 0; i < NS; i++) {
        double drift = tu_noise(&st, 0.20) * speed;
        raw[i] = 10.0 * drift * tu_noise(&st, 0.01);
        eng[i] = 10.0 * engine_factor * drift * tu_noise(&st, 0.01);
        rawo[i] = 3.0 * drift * tu_noise(&st, 0.01);
        engo[i] = 3.0 * drift * tu_noise(&st, 0.01);
    }
    const struct tu_cell cells[] = {
        {"raw", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 8192, 1, raw, NS},
        {"engine", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 8192, 1, eng, NS},
        {"raw", "gcm", "openssl", "auto", "encrypt", "none", 8192, 1, rawo, NS},
        {"engine", "gcm", "openssl", "avx512", "encrypt", "none", 8192, 1, engo, NS},
    };
    tu_write_bench(path, cpu, cells, sizeof(cells) / sizeof(cells[0]));
}

static int gate(const char *base, const char *cur, const char *outdir, const char *extra,
                char **out, char **err)
{
    const char *argv[] = {"cmk-gate", "--baseline", base, "--new", cur, "--out", outdir, extra};
    return tu_run(rep_gate_main, extra != NULL ? 8 : 7, argv, out, err);
}

/* gate.json as the gate wrote it to |dir| (free with cJSON_Delete). */
static cJSON *gate_json(const char *dir)
{
    char p[256];
    struct base_err e = BASE_ERR_INIT;
    snprintf(p, sizeof(p), "%s/gate.json", dir);
    cJSON *j = NULL;
    cr_assert_eq(rep_json_load(p, &j, &e), REP_OK, "%s", e.msg);
    return j;
}

static const cJSON *first_metric(const cJSON *j)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(j, "metrics"), 0);
}

struct files {
    char base[128], cur[128], out[128];
};

static void setup_files(struct files *f)
{
    const char *d = tu_tmpdir(0);
    snprintf(f->base, sizeof(f->base), "%s/base.json", d);
    snprintf(f->cur, sizeof(f->cur), "%s/new.json", d);
    snprintf(f->out, sizeof(f->out), "%s/out", d);
}

/* Runs the gate on |f| and checks its exit code and that its report contains |needle|. */
static void expect_gate(const struct files *f, const char *extra, int want_rc, const char *needle)
{
    char *out, *err;
    int rc = gate(f->base, f->cur, f->out, extra, &out, &err);
    cr_assert_eq(rc, want_rc, "exit %d\n%s%s", rc, out, err);
    cr_assert(strstr(out, needle) != NULL, "%s", out);
    free(out);
    free(err);
}

Test(gate, flags_a_ten_percent_drop_of_one_engine_path)
{
    /* a single-run baseline (the old format): the within-run test, with a warning */
    struct files f;
    setup_files(&f);
    write_run(f.base, "cpu A", 1.0, 1.0, 1);
    write_run(f.cur, "cpu A", 1.0, 0.90, 2);
    char *out, *err;
    int rc = gate(f.base, f.cur, f.out, "--absolute=off", &out, &err);
    cr_assert_eq(rc, 1, "exit %d\n%s%s", rc, out, err);
    cr_assert_str_eq(err, "cmk-gate: warning: " REP_GATE_SINGLE_RUN_WARNING "\n");
    cr_assert(strstr(out, "- notes: " REP_GATE_SINGLE_RUN_WARNING "\n") != NULL, "%s", out);
    cr_assert(strstr(out, "- test: one-sided Mann-Whitney U") != NULL, "%s", out);
    cr_assert(strstr(out, "**Verdict: REGRESSION** - 2 metrics compared, 1 regressions") != NULL,
              "%s", out);
    cr_assert(
        strstr(out, "| engine gcm ipsec-mb/avx512 / raw ipsec-mb, 8KiB encrypt | engine/raw |") !=
        NULL);
    /* the openssl path did not change and passes */
    char *line = strstr(out, "| engine gcm openssl/avx512 / raw openssl, 8KiB encrypt |");
    cr_assert(line != NULL);
    cr_assert(strncmp(strchr(line, '\n') - 6, "pass |", 6) == 0, "%.200s", line);
    /* the files */
    char p[256];
    snprintf(p, sizeof(p), "%s/gate.md", f.out);
    char *md = tu_read_file(p);
    cr_assert(md != NULL);
    cr_assert_str_eq(md, out);
    snprintf(p, sizeof(p), "%s/gate-junit.xml", f.out);
    char *junit = tu_read_file(p);
    cr_assert(junit != NULL);
    cr_assert_eq(tu_count(junit, "<testcase "), 2);
    cr_assert_eq(tu_count(junit, "<failure "), 1);
    cr_assert(strstr(junit, "tests=\"2\" failures=\"1\"") != NULL);
    /* the strict Ant schema (reports/junit/JUnit.xsd) accepts it */
    char cmd[600];
    snprintf(cmd, sizeof(cmd),
             "xmllint --noout --schema reports/junit/JUnit.xsd '%s' > '%s.lint' 2>&1", p, p);
    int lint = system(cmd);
    snprintf(cmd, sizeof(cmd), "%s.lint", p);
    char *lint_out = tu_read_file(cmd);
    cr_assert(WIFEXITED(lint) && WEXITSTATUS(lint) == 0, "%s", lint_out);
    cr_assert(strstr(lint_out, " validates") != NULL, "%s", lint_out);
    free(lint_out);
    cJSON *j = gate_json(f.out);
    cr_assert_str_eq(rep_json_str(j, "model"), "within");
    cr_assert_float_eq(rep_json_num(j, "baseline_runs"), 1.0, 0);
    cr_assert_str_eq(rep_json_str(j, "verdict"), "regression");
    cr_assert_float_eq(rep_json_num(j, "regressions"), 1.0, 0);
    const cJSON *m0 = first_metric(j);
    cr_assert_str_eq(rep_json_str(m0, "verdict"), "REGRESSION");
    cr_assert(fabs(rep_json_num(m0, "change") + 0.10) < 0.02, "change %g",
              rep_json_num(m0, "change"));
    cJSON_Delete(j);
    free(md);
    free(junit);
    free(out);
    free(err);
}

Test(gate, passes_a_zero_change_with_noise)
{
    struct files f;
    setup_files(&f);
    write_run(f.base, "cpu A", 1.0, 1.0, 1);
    write_run(f.cur, "cpu A", 1.0, 1.0, 99);
    expect_gate(&f, "--absolute=off", 0, "**Verdict: PASS** - 2 metrics compared, 0 regressions");
}

Test(gate, a_significant_change_below_the_minimum_effect_passes)
{
    /* -3% with 1% noise is significant, but smaller than the 5% minimum effect */
    struct files f;
    setup_files(&f);
    write_run(f.base, "cpu A", 1.0, 1.0, 1);
    write_run(f.cur, "cpu A", 1.0, 0.97, 2);
    char *out, *err;
    cr_assert_eq(gate(f.base, f.cur, f.out, "--absolute=off", &out, &err), 0, "%s", out);
    free(out);
    free(err);
    /* with a 2% minimum effect the same data is a regression */
    const char *argv[] = {"cmk-gate", "--baseline",   f.base, "--new",      f.cur, "--out",
                          f.out,      "--min-effect", "0.02", "--absolute", "off"};
    cr_assert_eq(tu_run(rep_gate_main, 11, argv, &out, &err), 1, "%s", out);
    free(out);
    free(err);
}

Test(gate, machine_drift_is_not_a_regression_in_ratio_mode)
{
    /* everything 30% slower on another machine: ratios unchanged, absolute figures not gated */
    struct files f;
    setup_files(&f);
    write_run(f.base, "cpu A", 1.0, 1.0, 1);
    write_run(f.cur, "cpu B", 0.7, 1.0, 2);
    char *out, *err;
    cr_assert_eq(gate(f.base, f.cur, f.out, NULL, &out, &err), 0, "%s", out);
    cr_assert(strstr(out,
                     "- mode: ratios only, not the same machine: env.cpu_model differs: 'cpu A' vs "
                     "'cpu B'") != NULL,
              "%s", out);
    cr_assert_eq(tu_count(out, "| absolute |"), 0);
    free(out);
    free(err);
}

Test(gate, same_machine_gates_absolute_figures)
{
    /* half the speed on the same machine: every absolute cell regresses, ratios (same noise) do not
     */
    struct files f;
    setup_files(&f);
    write_run(f.base, "cpu A", 1.0, 1.0, 1);
    write_run(f.cur, "cpu A", 0.5, 1.0, 1);
    char *out, *err;
    cr_assert_eq(gate(f.base, f.cur, f.out, NULL, &out, &err), 1, "%s", out);
    cr_assert(
        strstr(
            out,
            "- mode: ratios + absolute figures, same machine: env.cpu_model, cpu_flags, cores and "
            "kernel match") != NULL,
        "%s", out);
    cr_assert_eq(tu_count(out, "| absolute |"), 4);
    cr_assert(strstr(out, "6 metrics compared, 4 regressions") != NULL, "%s", out);
    free(out);
    free(err);
}

static void write_json(const char *path, cJSON *j);

/* Appends a db row (pgbench TPS, benchmarks/SCHEMA.md) with |n| samples around |tps| to bench.json
 * |path|. */
static void add_db_row(const char *path, double tps, uint64_t seed)
{
    cJSON *j = NULL;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(rep_json_load(path, &j, &e), REP_OK, "%s", e.msg);
    double v[NS];
    uint64_t st = seed;
    for (int i = 0; i < NS; i++) {
        v[i] = tps * tu_noise(&st, 0.10);
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "kind", "db");
    cJSON_AddStringToObject(r, "mode", "tmpfs");
    cJSON_AddStringToObject(r, "backend", "cmkfs-smk");
    cJSON_AddStringToObject(r, "arch", "avx512");
    cJSON_AddStringToObject(r, "direction", "pg-rw-c1");
    cJSON_AddNumberToObject(r, "unit_bytes", 0);
    cJSON_AddStringToObject(r, "keys", "smk");
    cJSON_AddStringToObject(r, "label", "db tmpfs cmkfs-smk pg-rw-c1");
    cJSON_AddStringToObject(r, "unit", "tps");
    cJSON_AddItemToObject(r, "samples", cJSON_CreateDoubleArray(v, NS));
    cJSON_AddItemToArray(cJSON_GetObjectItem(j, "results"), r);
    write_json(path, j);
}

Test(gate, judges_database_tps_rows)
{
    /* the same machine and speed, but pgbench TPS on cmk-fs halved: the one regression */
    struct files f;
    setup_files(&f);
    write_run(f.base, "cpu A", 1.0, 1.0, 1);
    write_run(f.cur, "cpu A", 1.0, 1.0, 1);
    add_db_row(f.base, 1000, 7);
    add_db_row(f.cur, 500, 8);
    char *out, *err;
    cr_assert_eq(gate(f.base, f.cur, f.out, NULL, &out, &err), 1, "%s", out);
    cr_assert(strstr(out, "7 metrics compared, 1 regressions") != NULL, "%s", out);
    cr_assert(strstr(out, "db tmpfs cmkfs-smk pg-rw-c1") != NULL, "%s", out);
    free(out);
    free(err);
}

Test(gate, pairs_use_per_round_ratios)
{
    const char *d = tu_tmpdir(1);
    char p[128];
    snprintf(p, sizeof(p), "%s/b.json", d);
    const double raw[] = {10, 5, 20}, eng[] = {9, 4.5, 18};
    const struct tu_cell cells[] = {
        {"raw", "xts", "openssl", "auto", "decrypt", "none", 512, 1, raw, 3},
        {"engine", "xts", "native", "avx512", "decrypt", "none", 512, 1, eng, 3},
    };
    tu_write_bench(p, "cpu", cells, 2);
    struct rep_bench b;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(rep_bench_load(p, &b, &e), REP_OK, "%s", e.msg);
    struct rep_pair *pairs;
    cr_assert_eq(rep_pairs_build(&b, &pairs), 1);
    /* native XTS is measured against raw OpenSSL XTS; every round's ratio is exactly 0.9 */
    cr_assert_str_eq(pairs[0].den->backend, "openssl");
    cr_assert_eq(pairs[0].n, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_float_eq(pairs[0].ratios[i], 0.9, 1e-12);
    }
    rep_pairs_free(pairs, 1);
    rep_bench_free(&b);
}

/* An engine cell is also paired with the widest AES ceiling of its group (not a narrower one). */
Test(gate, pairs_engine_with_the_widest_ceiling)
{
    const char *d = tu_tmpdir(1);
    char p[128];
    snprintf(p, sizeof(p), "%s/b.json", d);
    const double raw[] = {6, 6, 6}, xmm[] = {8, 8, 8}, ymm[] = {16, 16, 20}, eng[] = {12, 12, 10};
    const struct tu_cell cells[] = {
        {"raw", "xts", "openssl", "auto", "encrypt", "none", 8192, 1, raw, 3},
        {"ceiling", "xts", "ceiling", "xmm", "encrypt", "none", 8192, 1, xmm, 3},
        {"ceiling", "xts", "ceiling", "ymm", "encrypt", "none", 8192, 1, ymm, 3},
        {"engine", "xts", "native", "vaes-avx2", "encrypt", "none", 8192, 1, eng, 3},
    };
    cJSON *root = tu_bench_json("cpu", cells, 4);
    cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "results");
    cJSON_AddBoolToObject(cJSON_GetArrayItem(res, 1), "widest", 0);
    cJSON_AddBoolToObject(cJSON_GetArrayItem(res, 2), "widest", 1);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    cr_assert_not_null(text);
    tu_write_file(p, text);
    free(text);
    struct rep_bench b;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(rep_bench_load(p, &b, &e), REP_OK, "%s", e.msg);
    struct rep_pair *pairs;
    cr_assert_eq(rep_pairs_build(&b, &pairs), 2);
    cr_assert_str_eq(pairs[0].type, "engine/raw");
    cr_assert_str_eq(pairs[1].type, "engine/ceiling");
    cr_assert_str_eq(pairs[1].den->arch, "ymm");
    cr_assert_str_eq(pairs[1].name, "engine xts native/vaes-avx2 / AES ceiling ymm, 8KiB encrypt");
    cr_assert_eq(pairs[1].n, 3);
    cr_assert_float_eq(pairs[1].ratios[0], 0.75, 1e-12);
    cr_assert_float_eq(pairs[1].ratios[2], 0.5, 1e-12);
    rep_pairs_free(pairs, 2);
    rep_bench_free(&b);
}

Test(gate, missing_baseline_exits_2_with_message)
{
    struct files f;
    setup_files(&f);
    write_run(f.cur, "cpu A", 1.0, 1.0, 1);
    char *out, *err;
    cr_assert_eq(gate("/nonexistent/base.json", f.cur, f.out, NULL, &out, &err), 2);
    cr_assert_str_eq(err,
                     "cmk-gate: /nonexistent/base.json: cannot open: No such file or directory "
                     "(record one with 'make baseline')\n");
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
}

Test(gate, malformed_new_file_exits_2_with_position)
{
    struct files f;
    setup_files(&f);
    write_run(f.base, "cpu A", 1.0, 1.0, 1);
    const char *text = "{\"schema\": \"cmk-harness/bench\", \"results\": [1, 2,, 3]}";
    tu_write_file(f.cur, text);
    /* the offending character is the second comma of ",,": on line 1 */
    size_t off = (size_t)(strstr(text, ",,") - text) + 1;
    char want[512];
    snprintf(want, sizeof(want), "cmk-gate: %s: malformed JSON at line 1, column %zu (byte %zu)\n",
             f.cur, off + 1, off);
    char *out, *err;
    cr_assert_eq(gate(f.base, f.cur, f.out, NULL, &out, &err), 2);
    cr_assert_str_eq(err, want);
    free(out);
    free(err);
}

Test(gate, wrong_schema_exits_2)
{
    struct files f;
    setup_files(&f);
    write_run(f.base, "cpu A", 1.0, 1.0, 1);
    tu_write_file(f.cur,
                  "{\"schema\": \"something/else\", \"schema_version\": 1, \"results\": []}");
    char *out, *err;
    cr_assert_eq(gate(f.base, f.cur, f.out, NULL, &out, &err), 2);
    char want[512];
    snprintf(want, sizeof(want),
             "cmk-gate: %s: not a bench result (schema is 'something/else', expected "
             "'cmk-harness/bench')\n",
             f.cur);
    cr_assert_str_eq(err, want);
    free(out);
    free(err);
    tu_write_file(f.cur,
                  "{\"schema\": \"cmk-harness/bench\", \"schema_version\": 2, \"results\": []}");
    cr_assert_eq(gate(f.base, f.cur, f.out, NULL, &out, &err), 2);
    snprintf(want, sizeof(want),
             "cmk-gate: %s: schema_version 2 is newer than this reader (1); update reports/\n",
             f.cur);
    cr_assert_str_eq(err, want);
    free(out);
    free(err);
}

Test(gate, nothing_in_common_exits_2)
{
    struct files f;
    setup_files(&f);
    write_run(f.base, "cpu A", 1.0, 1.0, 1);
    tu_write_file(
        f.cur,
        "{\"schema\": \"cmk-harness/bench\", \"schema_version\": 1, \"results\": [{\"kind\": "
        "\"vault\", \"p50\": 3}]}");
    char *out, *err;
    cr_assert_eq(gate(f.base, f.cur, f.out, "--absolute=off", &out, &err), 2);
    char want[512];
    snprintf(want, sizeof(want),
             "cmk-gate: warning: " REP_GATE_SINGLE_RUN_WARNING
             "\n"
             "cmk-gate: no metric in common between %s and %s (2 metrics not comparable)\n",
             f.base, f.cur);
    cr_assert_str_eq(err, want);
    free(out);
    free(err);
}

Test(gate, usage_errors_exit_2)
{
    char *out, *err;
    const char *a1[] = {"cmk-gate"};
    cr_assert_eq(tu_run(rep_gate_main, 1, a1, &out, &err), 2);
    cr_assert_str_eq(err, "cmk-gate: --baseline FILE and --new FILE are required (see --help)\n");
    free(out);
    free(err);
    const char *a2[] = {"cmk-gate", "--alpha", "0", "--baseline", "x", "--new", "y"};
    cr_assert_eq(tu_run(rep_gate_main, 7, a2, &out, &err), 2);
    cr_assert_str_eq(err, "cmk-gate: --alpha must be a number in (0, 0.5], got '0'\n");
    free(out);
    free(err);
    const char *a3[] = {"cmk-gate", "--bogus"};
    cr_assert_eq(tu_run(rep_gate_main, 2, a3, &out, &err), 2);
    cr_assert_str_eq(err, "cmk-gate: unknown option '--bogus' (see --help)\n");
    free(out);
    free(err);
    const char *a4[] = {"cmk-gate", "--absolute", "sometimes"};
    cr_assert_eq(tu_run(rep_gate_main, 3, a4, &out, &err), 2);
    cr_assert_str_eq(err, "cmk-gate: --absolute must be auto, on or off, got 'sometimes'\n");
    free(out);
    free(err);
    const char *a6[] = {"cmk-gate", "--state-coef", "-1"};
    cr_assert_eq(tu_run(rep_gate_main, 3, a6, &out, &err), 2);
    cr_assert_str_eq(err, "cmk-gate: --state-coef must be a number in [0, 10], got '-1'\n");
    free(out);
    free(err);
    const char *a7[] = {"cmk-gate", "--make-baseline", "b.json", "--new",
                        "n.json",   "r1.json",         "r2.json"};
    cr_assert_eq(tu_run(rep_gate_main, 7, a7, &out, &err), 2);
    cr_assert_str_eq(
        err, "cmk-gate: --make-baseline does not go with --baseline or --new (see --help)\n");
    free(out);
    free(err);
    const char *a5[] = {"cmk-gate", "--help"};
    cr_assert_eq(tu_run(rep_gate_main, 2, a5, &out, &err), 0);
    cr_assert(strstr(out, "usage: cmk-gate") == out);
    free(out);
    free(err);
}

Test(gate, holm_adjusted_p_values)
{
    /*
     * p = {0.01, 0.04, 0.03, 0.005}; sorted 0.005, 0.01, 0.03, 0.04 are
     * multiplied by 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04, and made monotone:
     * 0.02, 0.03, 0.06, 0.06; back in the input order: 0.03, 0.06, 0.06, 0.02.
     */
    double p[] = {0.01, 0.04, 0.03, 0.005};
    cr_assert_eq(rep_holm(p, 4), 0);
    cr_assert_float_eq(p[0], 0.03, 1e-15);
    cr_assert_float_eq(p[1], 0.06, 1e-15);
    cr_assert_float_eq(p[2], 0.06, 1e-15);
    cr_assert_float_eq(p[3], 0.02, 1e-15);
    double one[] = {0.7, 0.6};
    cr_assert_eq(rep_holm(one, 2), 0);
    cr_assert_float_eq(one[0], 1.0, 0); /* capped */
}

/* |nm| engine/raw groups, 5 rounds each; the engine runs at |factor| of its baseline speed. */
static void write_groups(const char *path, const char *cpu, size_t nm, double factor)
{
    static const char *const modes[] = {"gcm", "ctr", "cbc"};
    static const double raw[5] = {10, 10, 10, 10, 10};
    static double eng[3][5];
    static const double wiggle[5] = {1.00, 1.01, 0.99, 1.005, 0.995};
    struct tu_cell cells[6];
    for (size_t m = 0; m < nm; m++) {
        for (int i = 0; i < 5; i++) {
            eng[m][i] = 10 * factor * wiggle[i];
        }
        cells[2 * m] = (struct tu_cell){"raw",  modes[m], "ipsec-mb", "avx512", "encrypt",
                                        "none", 8192,     1,          raw,      5};
        cells[2 * m + 1] = (struct tu_cell){"engine", modes[m], "ipsec-mb", "avx512", "encrypt",
                                            "none",   8192,     1,          eng[m],   5};
    }
    tu_write_bench(path, cpu, cells, 2 * nm);
}

Test(gate, holm_controls_the_family_of_metrics)
{
    /*
     * Every metric drops 20% with complete separation of 5 vs 5 samples:
     * exact one-sided p = 1/C(10,5) = 1/252 = 0.00397 each. With 3 metrics
     * Holm gives 3/252 = 0.0119 > 0.01 for all: no regression; without the
     * correction all 3 regress. With 2 metrics Holm gives 2/252 = 0.0079: both.
     */
    struct files f;
    setup_files(&f);
    /* another machine, so only the ratios are compared */
    write_groups(f.base, "cpu A", 3, 1.0);
    write_groups(f.cur, "cpu B", 3, 0.8);
    char *out, *err;
    cr_assert_eq(gate(f.base, f.cur, f.out, NULL, &out, &err), 0, "%s", out);
    cr_assert(strstr(out, "| 0.004 | 0.012 | pass |") != NULL, "%s", out);
    free(out);
    free(err);
    cr_assert_eq(gate(f.base, f.cur, f.out, "--correction=none", &out, &err), 1, "%s", out);
    cr_assert(strstr(out, "3 metrics compared, 3 regressions") != NULL, "%s", out);
    free(out);
    free(err);
    write_groups(f.base, "cpu A", 2, 1.0);
    write_groups(f.cur, "cpu B", 2, 0.8);
    cr_assert_eq(gate(f.base, f.cur, f.out, NULL, &out, &err), 1, "%s", out);
    cr_assert(strstr(out, "| 0.004 | 0.0079 | **REGRESSION** |") != NULL, "%s", out);
    free(out);
    free(err);
}

/*
 * The run-level model on synthetic runs: one group (gcm 8 KiB encrypt)
 * with the engine ipsec-mb and OpenSSL paths, NR interleaved rounds. A run
 * has a level per path (its engine/raw ratio; the run-level effect), every
 * round a machine drift of +-20% shared by the cells of the round, and
 * every sample a within-run noise of +-|within|; |speed| scales every cell
 * (the machine's state).
 */
#define NR 15

static cJSON *synth_run_at(const char *cpu, double speed, double level_ipsec, double level_ossl,
                           double within, uint64_t *st)
{
    static double raw[NR], eng[NR], rawo[NR], engo[NR];
    for (int i = 0; i < NR; i++) {
        double drift = tu_noise(st, 0.20) * speed;
        raw[i] = 10.0 * drift * tu_noise(st, within);
        eng[i] = 10.0 * level_ipsec * drift * tu_noise(st, within);
        rawo[i] = 3.0 * drift * tu_noise(st, within);
        engo[i] = 3.0 * level_ossl * drift * tu_noise(st, within);
    }
    const struct tu_cell cells[] = {
        {"raw", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 8192, 1, raw, NR},
        {"engine", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 8192, 1, eng, NR},
        {"raw", "gcm", "openssl", "auto", "encrypt", "none", 8192, 1, rawo, NR},
        {"engine", "gcm", "openssl", "avx512", "encrypt", "none", 8192, 1, engo, NR},
    };
    return tu_bench_json(cpu, cells, sizeof(cells) / sizeof(cells[0]));
}

static cJSON *synth_run(const char *cpu, double level_ipsec, double level_ossl, double within,
                        uint64_t *st)
{
    return synth_run_at(cpu, 1.0, level_ipsec, level_ossl, within, st);
}

static void write_json(const char *path, cJSON *j)
{
    char *text = cJSON_Print(j);
    cr_assert(text != NULL);
    tu_write_file(path, text);
    free(text);
    cJSON_Delete(j);
}

/* Writes a baseline of |R| runs at the given levels (both paths alike) through cmk-gate
 * --make-baseline. */
static void write_baseline(const char *path, const double *levels, size_t R, uint64_t seed)
{
    const char *d = tu_tmpdir(1);
    char files[8][160];
    const char *argv[11] = {"cmk-gate", "--make-baseline", path};
    uint64_t st = seed;
    cr_assert(R <= 8);
    for (size_t i = 0; i < R; i++) {
        snprintf(files[i], sizeof(files[i]), "%s/run%zu.json", d, i);
        write_json(files[i], synth_run("cpu A", levels[i], levels[i], 0.01, &st));
        argv[3 + i] = files[i];
    }
    char *out, *err;
    cr_assert_eq(tu_run(rep_gate_main, (int)(3 + R), argv, &out, &err), 0, "%s", err);
    free(out);
    free(err);
}

/* Run medians that scatter over 3% (0.985 to 1.015 of their mean), as the shared machine gives. */
static const double scatter3[5] = {1.000, 0.985, 1.015, 0.995, 1.005};

Test(gate, runs_model_flags_a_ten_percent_drop)
{
    struct files f;
    setup_files(&f);
    write_baseline(f.base, scatter3, 5, 7);
    uint64_t st = 99;
    write_json(f.cur, synth_run("cpu A", 0.90, 1.0, 0.01, &st));
    char *out, *err;
    int rc = gate(f.base, f.cur, f.out, "--absolute=off", &out, &err);
    cr_assert_eq(rc, 1, "exit %d\n%s%s", rc, out, err);
    cr_assert_str_eq(err, "");
    cr_assert(strstr(out, "(5 runs; first run's commit 0123456789ab)") != NULL, "%s", out);
    cr_assert(strstr(out, "- test: run-level prediction interval") != NULL, "%s", out);
    cr_assert(strstr(out, "**Verdict: REGRESSION** - 2 metrics compared, 1 regressions") != NULL,
              "%s", out);
    char *line =
        strstr(out, "| engine gcm ipsec-mb/avx512 / raw ipsec-mb, 8KiB encrypt | engine/raw |");
    cr_assert(line != NULL);
    cr_assert(strncmp(strchr(line, '\n') - 18, "| **REGRESSION** |", 18) == 0, "%.300s", line);
    cJSON *j = gate_json(f.out);
    cr_assert_str_eq(rep_json_str(j, "model"), "runs");
    cr_assert_float_eq(rep_json_num(j, "baseline_runs"), 5.0, 0);
    const cJSON *m0 = first_metric(j);
    cr_assert_str_eq(rep_json_str(m0, "verdict"), "REGRESSION");
    cr_assert_float_eq(rep_json_num(m0, "df"), 4.0, 0);
    cr_assert(fabs(rep_json_num(m0, "change") + 0.10) < 0.02, "change %g",
              rep_json_num(m0, "change"));
    /* the between-run spread is that of the run levels: sd of log(scatter3) = 1.15% */
    cr_assert(fabs(rep_json_num(m0, "sd_between_runs") - 0.0115) < 0.003, "sd %g",
              rep_json_num(m0, "sd_between_runs"));
    cJSON_Delete(j);
    free(out);
    free(err);
}

Test(gate, runs_model_ignores_a_shift_inside_the_run_to_run_spread)
{
    /*
     * Baseline runs scatter by 3% (standard deviation) between runs but are
     * tight within a run (+-0.5%); a new run 6% below their mean is two
     * run-level deviations away: the run-level model passes it, while the
     * within-run test against one of those runs alone flags it.
     */
    struct files f;
    setup_files(&f);
    const double levels[5] = {1.00, 0.97, 1.03, 0.96, 1.04};
    write_baseline(f.base, levels, 5, 3);
    uint64_t st = 11;
    write_json(f.cur, synth_run("cpu A", 0.94, 0.94, 0.005, &st));
    expect_gate(&f, "--absolute=off", 0, "**Verdict: PASS** - 2 metrics compared, 0 regressions");
    st = 5;
    write_json(f.base, synth_run("cpu A", 1.00, 1.00, 0.005, &st));
    expect_gate(&f, "--absolute=off", 1, "2 metrics compared, 2 regressions");
}

Test(gate, runs_model_widens_when_the_machine_state_moved)
{
    /*
     * The same 10% drop, but every cell of the new run 30% slower than in
     * the baseline runs (a co-runner): the reference cell's log shift of
     * 0.36 adds about 0.3 * 0.36 = 0.11 to the prediction's standard
     * deviation, so the drop is no longer significant; with --state-coef 0
     * the state is ignored and it is.
     */
    struct files f;
    setup_files(&f);
    write_baseline(f.base, scatter3, 5, 7);
    uint64_t st = 99;
    write_json(f.cur, synth_run_at("cpu A", 0.7, 0.90, 1.0, 0.01, &st));
    char *out, *err;
    int rc = gate(f.base, f.cur, f.out, "--absolute=off", &out, &err);
    cr_assert_eq(rc, 0, "exit %d\n%s%s", rc, out, err);
    cr_assert(
        strstr(out,
               "- notes: the reference (raw library) cells ran -30% against the baseline runs") !=
            NULL,
        "%s", out);
    cJSON *j = gate_json(f.out);
    const cJSON *m0 = first_metric(j);
    cr_assert(fabs(rep_json_num(m0, "machine_shift") + 0.30) < 0.03, "shift %g",
              rep_json_num(m0, "machine_shift"));
    cr_assert(fabs(rep_json_num(m0, "sd_machine_state") - 0.107) < 0.015, "sd %g",
              rep_json_num(m0, "sd_machine_state"));
    cJSON_Delete(j);
    free(out);
    free(err);
    const char *argv[] = {"cmk-gate", "--baseline", f.base,           "--new",         f.cur,
                          "--out",    f.out,        "--absolute=off", "--state-coef=0"};
    rc = tu_run(rep_gate_main, 9, argv, &out, &err);
    cr_assert_eq(rc, 1, "exit %d\n%s%s", rc, out, err);
    cr_assert(strstr(out, "2 metrics compared, 1 regressions") != NULL, "%s", out);
    free(out);
    free(err);
}

/*
 * |draws| synthetic experiments: R = 5 baseline runs and one new run, all
 * with run levels drawn from the same distribution (log-normal, |tau|
 * standard deviation; within-run noise +-1%). Returns how many draws the
 * gate called a regression.
 */
static int false_alarms(int draws, double tau, const struct rep_gate_opts *o, uint64_t seed)
{
    uint64_t st = seed;
    int alarms = 0;
    for (int d = 0; d < draws; d++) {
        struct rep_bench runs[5], cur;
        struct rep_baseline base = {.runs = runs, .nruns = 5, .multi = 1};
        struct base_err e = BASE_ERR_INIT;
        for (size_t i = 0; i < 5; i++) {
            double a = exp(tau * tu_gauss(&st)), b = exp(tau * tu_gauss(&st));
            cr_assert_eq(
                rep_bench_from_json(synth_run("cpu A", a, b, 0.01, &st), "run", &runs[i], &e),
                REP_OK);
        }
        double a = exp(tau * tu_gauss(&st)), b = exp(tau * tu_gauss(&st));
        cr_assert_eq(rep_bench_from_json(synth_run("cpu A", a, b, 0.01, &st), "new", &cur, &e),
                     REP_OK);
        struct rep_gate_result r;
        cr_assert_eq(rep_gate_compare(&base, &cur, o, &r, &e), 0, "%s", e.msg);
        cr_assert_eq(r.compared, 2);
        alarms += r.regressions > 0;
        rep_gate_result_free(&r);
        for (size_t i = 0; i < 5; i++) {
            rep_bench_free(&runs[i]);
        }
        rep_bench_free(&cur);
    }
    return alarms;
}

Test(gate, runs_model_false_alarm_rate_is_near_alpha)
{
    /*
     * As CI: alpha 0.01, Holm over the 2 metrics, minimum effect 5%, run
     * levels scattering by 3%: the family-wise false-alarm rate is at most
     * alpha when the model holds, so at most 2% of 500 draws.
     */
    struct rep_gate_opts o;
    rep_gate_opts_default(&o);
    o.absolute = REP_ABS_OFF;
    int n = false_alarms(500, 0.03, &o, 2026);
    cr_log_info("alpha 0.01, Holm, minimum effect 5%%: %d false alarms in 500 draws", n);
    cr_assert(n <= 10, "%d false alarms in 500 draws", n);
    /*
     * Calibration: with no minimum effect and no correction, each metric's
     * one-sided p is uniform under the model, so at alpha 0.1 two metrics
     * raise an alarm in 1 - 0.9^2 = 19% of draws: 95 of 500, binomial
     * standard deviation 8.8; accept 3.4 standard deviations either way.
     */
    o.alpha = 0.1;
    o.min_effect = 0;
    o.correction = REP_CORR_NONE;
    n = false_alarms(500, 0.03, &o, 77);
    cr_log_info("alpha 0.1, no correction, no minimum effect: %d alarms in 500 draws", n);
    cr_assert(n >= 65 && n <= 125, "%d alarms in 500 draws at alpha 0.1 (expected about 95)", n);
}
