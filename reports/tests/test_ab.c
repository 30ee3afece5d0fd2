/*
 * test_ab.c - the same-job A/B gate (rep_ab.c) on synthetic paired rounds:
 * a 10x slowdown (and a 10% one) of one engine path is flagged and nothing
 * else, identical rounds and A/A rounds with noise are not flagged, fewer
 * than 90% of the metrics with a counterpart exits 2 with the exact message,
 * and the rename/retire list restores the comparison.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rep_ab.h"
#include "rep_bench.h"
#include "rep_gate.h"
#include "rep_report.h"
#include "rep_testutil.h"

#define NS     5 /* samples per cell per run */
#define ROUNDS 6 /* A/B rounds */

/* The factors one run applies to its cells' speeds. */
struct run_spec {
    double gcm_engine; /* speed of the engine GCM cells (1: unchanged, 0.1: ten times slower) */
    const char
        *xts_arch; /* arch of the engine XTS cell ("avx512", or "avx2" as under ENG_ARCH=avx2) */
    int with_cbc;  /* 1: the CBC group is measured */
};

/*
 * One run: groups gcm 8 KiB (raw and engine ipsec-mb, raw and engine
 * OpenSSL), xts 8 KiB (raw OpenSSL, engine native) and, with |with_cbc|,
 * cbc 512 B (raw and engine ipsec-mb). |state| is the machine's speed in
 * this round (shared by both builds' runs of the round); every sample has
 * +-1.5% noise of its own.
 */
static cJSON *run_json(const struct run_spec *s, double state, uint64_t *st)
{
    static double v[8][NS];
    const double level[8] = {10, 9 * s->gcm_engine, 4, 3.6 * s->gcm_engine, 5, 4.5, 2, 1.9};
    for (int c = 0; c < 8; c++) {
        for (int i = 0; i < NS; i++) {
            v[c][i] = level[c] * state * tu_noise(st, 0.015);
        }
    }
    const struct tu_cell cells[] = {
        {"raw", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 8192, 1, v[0], NS},
        {"engine", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 8192, 1, v[1], NS},
        {"raw", "gcm", "openssl", "auto", "encrypt", "none", 8192, 1, v[2], NS},
        {"engine", "gcm", "openssl", "avx512", "encrypt", "none", 8192, 1, v[3], NS},
        {"raw", "xts", "openssl", "auto", "encrypt", "none", 8192, 1, v[4], NS},
        {"engine", "xts", "native", s->xts_arch, "encrypt", "none", 8192, 1, v[5], NS},
        {"raw", "cbc", "ipsec-mb", "avx512", "encrypt", "none", 512, 1, v[6], NS},
        {"engine", "cbc", "ipsec-mb", "avx512", "encrypt", "none", 512, 1, v[7], NS},
    };
    return tu_bench_json("cpu A", cells, s->with_cbc ? 8 : 6);
}

/* ROUNDS rounds of reference runs |a| and new runs |b|; the machine's state drifts by +-10% a
 * round. */
static void make_rounds(struct rep_bench *ref, struct rep_bench *cur, const struct run_spec *a,
                        const struct run_spec *b, uint64_t seed)
{
    uint64_t st = seed;
    struct base_err e = BASE_ERR_INIT;
    for (int i = 0; i < ROUNDS; i++) {
        double state = tu_noise(&st, 0.10);
        cr_assert_eq(rep_bench_from_json(run_json(a, state, &st), "ref", &ref[i], &e), REP_OK, "%s",
                     e.msg);
        cr_assert_eq(rep_bench_from_json(run_json(b, state, &st), "new", &cur[i], &e), REP_OK, "%s",
                     e.msg);
    }
}

static void free_rounds(struct rep_bench *ref, struct rep_bench *cur)
{
    for (int i = 0; i < ROUNDS; i++) {
        rep_bench_free(&ref[i]);
        rep_bench_free(&cur[i]);
    }
}

static const struct run_spec plain = {1.0, "avx512", 1};

/* Runs rep_ab_compare on the rounds and returns the result (free with rep_gate_result_free). */
static struct rep_gate_result judge(const struct run_spec *a, const struct run_spec *b,
                                    uint64_t seed)
{
    struct rep_bench ref[ROUNDS], cur[ROUNDS];
    make_rounds(ref, cur, a, b, seed);
    struct rep_gate_opts o;
    rep_gate_opts_default(&o);
    struct rep_gate_result r;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(rep_ab_compare(ref, cur, ROUNDS, NULL, &o, &r, &e), 0, "%s", e.msg);
    free_rounds(ref, cur);
    return r;
}

/* Every compared metric whose key involves an engine GCM cell regresses, every other one passes. */
static void expect_gcm_flagged(const struct rep_gate_result *r)
{
    cr_assert_eq(r->model, REP_MODEL_AB);
    cr_assert_eq(r->not_compared, 0);
    size_t gcm = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct rep_gate_metric *m = &r->m[i];
        int is_gcm = strstr(m->key, "engine|gcm|") != NULL;
        gcm += is_gcm;
        cr_assert_eq(m->verdict, is_gcm ? REP_V_REGRESSION : REP_V_PASS,
                     "%s: %s, change %+.3f, p adj %.3g", m->name, rep_verdict_name(m->verdict),
                     m->change, m->p_worse_adj);
        cr_assert_eq(m->nrounds, ROUNDS);
    }
    /* 2 engine GCM cells (absolute) + their 2 engine/raw ratios */
    cr_assert_eq(gcm, 4);
    cr_assert_eq(r->regressions, 4);
}

Test(ab, flags_a_tenfold_slowdown_of_one_mode)
{
    struct run_spec slow = plain;
    slow.gcm_engine = 0.1;
    struct rep_gate_result r = judge(&plain, &slow, 1);
    expect_gcm_flagged(&r);
    /* 8 cells + 4 ratios (engine/raw of gcm ipsec-mb, gcm openssl, xts native, cbc ipsec-mb) */
    cr_assert_eq(r.n, 12);
    for (size_t i = 0; i < r.n; i++) {
        if (r.m[i].verdict == REP_V_REGRESSION) {
            cr_assert_float_eq(r.m[i].change, -0.9, 0.02, "%s: %+.3f", r.m[i].name, r.m[i].change);
            for (size_t k = 0; k < r.m[i].nrounds; k++) {
                cr_assert_float_eq(r.m[i].rounds[k], 0.1, 0.01, "round %zu: %g", k,
                                   r.m[i].rounds[k]);
            }
        }
    }
    rep_gate_result_free(&r);
}

Test(ab, flags_a_ten_percent_slowdown_of_one_mode)
{
    struct run_spec slow = plain;
    slow.gcm_engine = 0.9;
    struct rep_gate_result r = judge(&plain, &slow, 2);
    expect_gcm_flagged(&r);
    rep_gate_result_free(&r);
}

Test(ab, identical_rounds_are_not_flagged)
{
    struct rep_bench ref[ROUNDS], cur[ROUNDS];
    struct base_err e = BASE_ERR_INIT;
    uint64_t st = 3;
    for (int i = 0; i < ROUNDS; i++) {
        double state = tu_noise(&st, 0.10);
        uint64_t st2 = st;
        cr_assert_eq(rep_bench_from_json(run_json(&plain, state, &st), "ref", &ref[i], &e), REP_OK);
        cr_assert_eq(rep_bench_from_json(run_json(&plain, state, &st2), "new", &cur[i], &e),
                     REP_OK);
    }
    struct rep_gate_opts o;
    rep_gate_opts_default(&o);
    struct rep_gate_result r;
    cr_assert_eq(rep_ab_compare(ref, cur, ROUNDS, NULL, &o, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(r.compared, 12);
    cr_assert_eq(r.regressions, 0);
    cr_assert_eq(r.improvements, 0);
    for (size_t i = 0; i < r.n; i++) {
        cr_assert_float_eq(r.m[i].change, 0.0, 1e-12, "%s", r.m[i].name);
        cr_assert_float_eq(r.m[i].p_worse, 1.0, 1e-12, "%s", r.m[i].name);
    }
    rep_gate_result_free(&r);
    free_rounds(ref, cur);
}

Test(ab, aa_rounds_with_noise_are_not_flagged)
{
    for (uint64_t seed = 10; seed < 30; seed++) {
        struct rep_gate_result r = judge(&plain, &plain, seed);
        cr_assert_eq(r.compared, 12);
        cr_assert_eq(r.regressions, 0, "seed %llu: %zu regressions", (unsigned long long)seed,
                     r.regressions);
        rep_gate_result_free(&r);
    }
}

Test(ab, needs_two_rounds)
{
    struct rep_gate_opts o;
    rep_gate_opts_default(&o);
    struct rep_gate_result r;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(rep_ab_compare(NULL, NULL, 1, NULL, &o, &r, &e), -1);
    cr_assert_str_eq(e.msg, "the A/B gate needs 2 to 99 rounds, got 1");
}

Test(ab, key_covers_cells_of_a_pair)
{
    cr_assert(rep_key_covers("a|b", "a|b"));
    cr_assert(rep_key_covers("a|b", "a|b / c|d"));
    cr_assert(rep_key_covers("c|d", "a|b / c|d"));
    cr_assert_not(rep_key_covers("a|", "a|b / c|d"));
    cr_assert_not(rep_key_covers("b / c", "a|b / c|d"));
    cr_assert_not(rep_key_covers("", "a|b"));
}

Test(ab, cpu_class_names_the_path_that_ran)
{
    struct rep_bench b;
    struct base_err e = BASE_ERR_INIT;
    char cls[64];
    cJSON *j = tu_bench_json("cpu A", NULL, 0);
    cJSON *env = cJSON_GetObjectItem(j, "env");
    cJSON_AddStringToObject(env, "cpu_best_arch", "avx512");
    cJSON_AddStringToObject(env, "best_path", "avx2");
    cJSON_AddStringToObject(env, "ceiling_width", "ymm");
    cr_assert_eq(rep_bench_from_json(j, "x", &b, &e), REP_OK, "%s", e.msg);
    cr_assert_eq(rep_cpu_class(&b, cls, sizeof(cls)), 0);
    cr_assert_str_eq(cls, "avx2-ymm");
    rep_bench_free(&b);
    cr_assert_eq(rep_bench_from_json(tu_bench_json("cpu A", NULL, 0), "y", &b, &e), REP_OK, "%s",
                 e.msg);
    cr_assert_eq(rep_cpu_class(&b, cls, sizeof(cls)), -1);
    rep_bench_free(&b);
}

/* The rounds as files in |dir| (ref-01/bench.json, new-01/bench.json, ...), for cmk-gate --ab. */
static void write_rounds(const char *dir, const struct run_spec *a, const struct run_spec *b,
                         uint64_t seed)
{
    uint64_t st = seed;
    for (int i = 0; i < ROUNDS; i++) {
        double state = tu_noise(&st, 0.10);
        for (int side = 0; side < 2; side++) {
            char d[256], p[300];
            snprintf(d, sizeof(d), "%s/%s-%02d", dir, side == 0 ? "ref" : "new", i + 1);
            cr_assert_eq(mkdir(d, 0755), 0, "%s", d);
            snprintf(p, sizeof(p), "%s/bench.json", d);
            cJSON *j = run_json(side == 0 ? a : b, state, &st);
            char *text = cJSON_Print(j);
            cJSON_Delete(j);
            tu_write_file(p, text);
            free(text);
        }
    }
}

/* cmk-gate --ab DIR --out DIR/out [--retired FILE]; returns the exit code and the captured streams.
 */
static int gate_ab(const char *dir, const char *retired, char **out, char **err)
{
    char o[300];
    snprintf(o, sizeof(o), "%s/out", dir);
    const char *argv[] = {"cmk-gate", "--ab", dir, "--out", o, "--retired", retired};
    return tu_run(rep_gate_main, retired != NULL ? 7 : 5, argv, out, err);
}

/*
 * A temporary folder with ROUNDS rounds of plain reference runs and new runs |b|, and the list
 * file |rl| (DIR/retired.tsv) holding |list|; returns the folder.
 */
static const char *setup_ab(const struct run_spec *b, uint64_t seed, const char *list, char *rl,
                            size_t rl_len)
{
    const char *d = tu_tmpdir(0);
    write_rounds(d, &plain, b, seed);
    snprintf(rl, rl_len, "%s/retired.tsv", d);
    tu_write_file(rl, list);
    return d;
}

#define XTS512 "engine|xts|native|avx512|encrypt|8192|64|1|none"
#define XTS2   "engine|xts|native|avx2|encrypt|8192|64|1|none"
#define XTSRAW "raw|xts|openssl|auto|encrypt|8192|64|1|none"

/* The new build ran another XTS path (as ENG_ARCH=avx2 does): 10 of 12 metrics in common. */
static const struct run_spec other_path = {1.0, "avx2", 1};

Test(ab, fewer_than_90_percent_in_common_exits_2_naming_the_missing)
{
    char rl[300];
    const char *d = setup_ab(&other_path, 5, "# nothing renamed or retired\n", rl, sizeof(rl));
    char *out, *err;
    cr_assert_eq(gate_ab(d, rl, &out, &err), 2, "%s%s", out, err);
    char want[2048];
    snprintf(
        want, sizeof(want),
        "cmk-gate: 10 of 14 metrics have a counterpart in the reference (71%%); at least 90%% are "
        "needed, "
        "or the gate would pass without comparing them. Missing (4):\n"
        "  only in new: engine xts native/avx2 / raw openssl, 8KiB encrypt [" XTS2 " / " XTSRAW
        "]\n"
        "  only in new: engine xts native/avx2, 8KiB encrypt [" XTS2
        "]\n"
        "  only in reference: engine xts native/avx512 / raw openssl, 8KiB encrypt [" XTS512
        " / " XTSRAW
        "]\n"
        "  only in reference: engine xts native/avx512, 8KiB encrypt [" XTS512
        "]\n"
        "A metric renamed or removed on purpose needs a line in the rename/retire list (%s).\n",
        rl);
    cr_assert_str_eq(err, want);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
}

Test(ab, a_rename_in_the_list_pairs_the_renamed_cell)
{
    char rl[300];
    const char *d =
        setup_ab(&other_path, 5,
                 "# old key, new key, why\nrename\t" XTS512 "\t" XTS2 "\tthe new build runs avx2\n",
                 rl, sizeof(rl));
    char *out, *err;
    cr_assert_eq(gate_ab(d, rl, &out, &err), 0, "%s%s", out, err);
    cr_assert(
        strstr(
            out,
            "**Verdict: PASS** - 12 metrics compared, 0 regressions, 0 improved, 0 not compared") !=
            NULL,
        "%s", out);
    cr_assert_str_eq(err, "");
    free(out);
    free(err);
}

Test(ab, retired_cells_are_not_missing)
{
    /* the new build no longer measures the CBC group: 2 cells and 1 ratio of 12 are gone (75% left)
     */
    struct run_spec no_cbc = plain;
    no_cbc.with_cbc = 0;
    char rl[300];
    const char *d = setup_ab(&no_cbc, 6, "", rl, sizeof(rl));
    char *out, *err;
    cr_assert_eq(gate_ab(d, rl, &out, &err), 2, "%s%s", out, err);
    cr_assert(
        strstr(err, "cmk-gate: 9 of 12 metrics have a counterpart in the reference (75%)") == err,
        "%s", err);
    cr_assert_eq(tu_count(err, "  only in reference: "), 3, "%s", err);
    free(out);
    free(err);
    tu_write_file(
        rl,
        "retire\traw|cbc|ipsec-mb|avx512|encrypt|512|64|1|none\tCBC measured elsewhere now\n"
        "retire\tengine|cbc|ipsec-mb|avx512|encrypt|512|64|1|none\n");
    cr_assert_eq(gate_ab(d, rl, &out, &err), 0, "%s%s", out, err);
    cr_assert(strstr(out, "9 metrics compared, 0 regressions, 0 improved, 3 not compared") != NULL,
              "%s", out);
    free(out);
    free(err);
}

Test(ab, a_bad_list_line_exits_2)
{
    char rl[300];
    const char *d = setup_ab(&plain, 7, "# ok\nremove\tx\n", rl, sizeof(rl));
    char *out, *err;
    cr_assert_eq(gate_ab(d, rl, &out, &err), 2);
    char want[1024];
    snprintf(want, sizeof(want),
             "cmk-gate: %s:2: expected 'rename<TAB>OLD_KEY<TAB>NEW_KEY', 'retire<TAB>OLD_KEY' or "
             "'add<TAB>NEW_KEY' (keys non-empty, under 256 characters), got 'remove'\n",
             rl);
    cr_assert_str_eq(err, want);
    free(out);
    free(err);
}

Test(ab, cli_flags_a_slowdown_and_writes_round_ratios)
{
    const char *d = tu_tmpdir(0);
    struct run_spec slow = plain;
    slow.gcm_engine = 0.1;
    write_rounds(d, &plain, &slow, 8);
    char *out, *err;
    cr_assert_eq(gate_ab(d, NULL, &out, &err), 1, "%s%s", out, err);
    cr_assert(strstr(out, "**Verdict: REGRESSION** - 12 metrics compared, 4 regressions") != NULL,
              "%s", out);
    free(out);
    free(err);
    char p[300];
    struct base_err e = BASE_ERR_INIT;
    snprintf(p, sizeof(p), "%s/out/gate.json", d);
    cJSON *j = NULL;
    cr_assert_eq(rep_json_load(p, &j, &e), REP_OK, "%s", e.msg);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "ab");
    const cJSON *m;
    size_t flagged = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(j, "metrics"))
    {
        const cJSON *rr = cJSON_GetObjectItem(m, "round_ratios");
        cr_assert_eq(cJSON_GetArraySize(rr), ROUNDS);
        if (strcmp(cJSON_GetObjectItem(m, "verdict")->valuestring, "REGRESSION") == 0) {
            flagged++;
            cr_assert_float_eq(cJSON_GetArrayItem(rr, 0)->valuedouble, 0.1, 0.01);
        }
    }
    cr_assert_eq(flagged, 4);
    cJSON_Delete(j);
}

Test(ab, a_missing_round_folder_exits_2)
{
    const char *d = tu_tmpdir(0);
    char *out, *err;
    cr_assert_eq(gate_ab(d, NULL, &out, &err), 2);
    char want[1024];
    snprintf(want, sizeof(want),
             "cmk-gate: %s/ref-01/bench.json: cannot open: No such file or directory (an A/B "
             "folder holds ref-01/, new-01/, ref-02/, "
             "new-02/, ... with a bench.json each, at least 2 rounds: reports/gate-ab.sh)\n",
             d);
    cr_assert_str_eq(err, want);
    free(out);
    free(err);
}

Test(ab, report_shows_the_builds_and_plots_the_flagged_rounds)
{
    const char *d = tu_tmpdir(0);
    struct run_spec slow = plain;
    slow.gcm_engine = 0.1;
    write_rounds(d, &plain, &slow, 9);
    char *out, *err;
    cr_assert_eq(gate_ab(d, NULL, &out, &err), 1, "%s%s", out, err);
    free(out);
    free(err);
    char in[300];
    snprintf(in, sizeof(in), "%s/out", d);
    const char *argv[] = {"cmk-report", "--in", in};
    cr_assert_eq(tu_run(rep_report_main, 3, argv, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    char p[400];
    snprintf(p, sizeof(p), "%s/report.md", in);
    char *md = tu_read_file(p);
    cr_assert_not_null(md);
    cr_assert(
        strstr(
            md,
            "A/B in one job: reference commit 0123456789ab and new commit 0123456789ab, built side "
            "by side and measured in 6 interleaved rounds") != NULL,
        "%s", md);
    cr_assert(strstr(md, "| metric | kind | reference | new |") != NULL, "%s", md);
    cr_assert_eq(tu_count(md, "plots/gate-ab-rounds.svg"), 1, "%s", md);
    free(md);
    snprintf(p, sizeof(p), "%s/plots/gate-ab-rounds.svg", in);
    char *svg = tu_read_file(p);
    cr_assert_not_null(svg, "%s missing", p);
    /* one series per flagged metric */
    cr_assert(strstr(svg, "engine gcm ipsec-mb/avx512, 8KiB encrypt") != NULL);
    free(svg);
}

Test(ab, report_draws_no_round_plot_without_a_flag)
{
    const char *d = tu_tmpdir(0);
    write_rounds(d, &plain, &plain, 10);
    char *out, *err;
    cr_assert_eq(gate_ab(d, NULL, &out, &err), 0, "%s%s", out, err);
    free(out);
    free(err);
    char in[300], p[400];
    snprintf(in, sizeof(in), "%s/out", d);
    const char *argv[] = {"cmk-report", "--in", in};
    cr_assert_eq(tu_run(rep_report_main, 3, argv, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    snprintf(p, sizeof(p), "%s/report.md", in);
    char *md = tu_read_file(p);
    cr_assert_not_null(md);
    cr_assert(strstr(md, "A/B in one job") != NULL, "%s", md);
    cr_assert_eq(tu_count(md, "gate-ab-rounds"), 0, "%s", md);
    free(md);
}

Test(ab, absolute_off_judges_the_ratios_only)
{
    struct run_spec slow = plain;
    slow.gcm_engine = 0.9;
    struct rep_bench ref[ROUNDS], cur[ROUNDS];
    make_rounds(ref, cur, &plain, &slow, 11);
    struct rep_gate_opts o;
    rep_gate_opts_default(&o);
    o.absolute = REP_ABS_OFF;
    struct rep_gate_result r;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(rep_ab_compare(ref, cur, ROUNDS, NULL, &o, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(r.n, 4);
    cr_assert_eq(r.compared, 4);
    cr_assert_eq(r.regressions, 2);
    cr_assert_eq(r.absolute_used, 0);
    for (size_t i = 0; i < r.n; i++) {
        cr_assert_str_eq(r.m[i].unit, "ratio");
    }
    rep_gate_result_free(&r);
    free_rounds(ref, cur);
}
