/*
 * rep_gate_cli.c - the cmk-gate program (rep_gate_main, see rep_gate.h):
 * options, loading the inputs, and writing the outputs into the --out folder.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rep_ab.h"
#include "rep_gate.h"

static void gate_usage(FILE *f)
{
    fprintf(
        f,
        "usage: cmk-gate --baseline FILE --new FILE [--alpha A] [--min-effect E] [--out DIR]\n"
        "                [--absolute auto|on|off] [--correction holm|none]\n"
        "       cmk-gate --ab DIR [--retired FILE] [options above]\n"
        "       cmk-gate --make-baseline FILE RUN.json RUN.json...\n"
        "       cmk-gate --cpu-class RUN.json\n"
        "Compares a new bench.json with a baseline metric by metric and fails on a\n"
        "statistically significant regression larger than the minimum effect.\n\n"
        "  --baseline FILE   the reference (make gate-baseline: "
        "reports/baseline/bench-quick-CLASS.json):\n"
        "                    a multi-run"
        " baseline (cmk-harness/baseline, made by --make-baseline) or one bench.json\n"
        "  --new FILE        the bench.json to judge (make gate-baseline: reports/out/bench.json)\n"
        "  --alpha A         significance level of the one-sided test, 0 < A <= 0.5 (default "
        "0.01)\n"
        "  --min-effect E    smallest relative change that counts, 0 <= E < 1 (default 0.05)\n"
        "  --out DIR         where gate.md, gate.json, gate-junit.xml go (default reports/out)\n"
        "  --absolute MODE   gate absolute figures: auto (only when both files come from the\n"
        "                    same machine, the default), on, off (A/B: on unless off)\n"
        "  --correction C    holm (default: Holm-Bonferroni over the compared metrics, so the\n"
        "                    whole gate false-alarms with probability <= alpha) or none\n"
        "  --state-coef K    run-level model: assumed sensitivity of a ratio to the machine's "
        "state,\n"
        "                    measured by the speed of its reference cell (default %g; 0: ignore)\n"
        "  --ab DIR          same-job A/B (make gate): DIR holds ref-01/, new-01/, ref-02/, ... "
        "(a\n"
        "                    bench.json each, reports/gate-ab.sh); each metric, absolute figures\n"
        "                    included, is judged on its per-round paired differences (paired t)\n"
        "  --retired FILE    the rename/retire list (default %s when it exists);\n"
        "                    with fewer than %.0f%% of the metrics matched the gate exits 2 and\n"
        "                    names the missing ones\n"
        "  --cpu-class FILE  print the CPU class of a bench.json (best path and ceiling width), "
        "which\n"
        "                    names the per-class baseline reports/baseline/bench-quick-CLASS.json\n"
        "  --make-baseline FILE  combine the bench.json runs given after it into one multi-run\n"
        "                    baseline FILE (2 to %d runs, one machine and profile, no test "
        "slowdown)\n"
        "  --help            this text\n\n"
        "Metrics: ratios measured in one run (engine / raw library, CMK / SMK) from per-round\n"
        "paired samples; absolute figures only on the same machine.\n"
        "Test: with a multi-run baseline, the new run's median of each metric against the "
        "baseline\n"
        "runs' medians (t prediction interval with R - 1 degrees of freedom: run-to-run noise);\n"
        "with a single-run baseline, Mann-Whitney U on the samples (within-run noise only).\n"
        "Exit: 0 no significant regression (or baseline written), 1 a significant regression,\n"
        "2 usage or input error, or fewer than 90%% of the metrics with a counterpart.\n",
        REP_GATE_STATE_COEF, REP_RETIRED_DEFAULT, REP_AB_MIN_COVERAGE * 100, REP_BASELINE_MAX_RUNS);
}

static int parse_double(const char *s, double lo, double hi, int lo_open, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || isnan(v) || v > hi || v < lo ||
        (lo_open && v == lo)) {
        return -1;
    }
    *out = v;
    return 0;
}

static int write_outputs(const char *dir, const struct rep_gate_result *r, FILE *err)
{
    if (rep_mkdir_p(dir) != 0) {
        fprintf(err, "cmk-gate: cannot create output folder '%s': %s\n", dir, strerror(errno));
        return -1;
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/gate.md", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL || rep_gate_write_md(f, r) != 0) {
        fprintf(err, "cmk-gate: cannot write %s: %s\n", path, strerror(errno));
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    if (fclose(f) != 0) {
        fprintf(err, "cmk-gate: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/gate.json", dir);
    if (rep_gate_write_json(path, r) != 0) {
        fprintf(err, "cmk-gate: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/gate-junit.xml", dir);
    if (rep_gate_write_junit(path, r) != 0) {
        fprintf(err, "cmk-gate: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int load_input(const char *path, const char *hint, struct rep_bench *b, FILE *err)
{
    struct base_err e = BASE_ERR_INIT;
    enum rep_status st = rep_bench_load(path, b, &e);
    if (st == REP_OK) {
        return 0;
    }
    fprintf(err, "cmk-gate: %s%s\n", e.msg, st == REP_MISSING ? hint : "");
    return -1;
}

static int load_baseline(const char *path, struct rep_baseline *b, FILE *err)
{
    struct base_err e = BASE_ERR_INIT;
    enum rep_status st = rep_baseline_load(path, b, &e);
    if (st == REP_OK) {
        return 0;
    }
    fprintf(err, "cmk-gate: %s%s\n", e.msg,
            st == REP_MISSING ? " (record one with 'make baseline')" : "");
    return -1;
}

/* The fail-loudly rule: 0 when enough metrics were matched, else -1 with the missing ones on |err|.
 */
static int check_coverage(const struct rep_gate_result *r, const struct rep_retire *l, FILE *err)
{
    char *msg = NULL;
    int c = rep_gate_coverage(r, l, &msg);
    if (c != 0) {
        fprintf(err, "cmk-gate: %s\n", c > 0 ? msg : "out of memory");
    }
    free(msg);
    return c != 0 ? -1 : 0;
}

/* cmk-gate --ab DIR: the A/B verdict, written like the baseline gate's. Returns the exit code. */
static int run_ab(const char *dir, const struct rep_retire *l, const struct rep_gate_opts *o,
                  const char *out_dir, FILE *out, FILE *err)
{
    struct rep_bench *ref = NULL, *cur = NULL;
    size_t n = 0;
    struct base_err e = BASE_ERR_INIT;
    int rc = 2;
    struct rep_gate_result r;
    if (rep_ab_load_rounds(dir, &ref, &cur, &n, &e) != 0 ||
        rep_ab_compare(ref, cur, n, l, o, &r, &e) != 0) {
        fprintf(err, "cmk-gate: %s\n", e.msg);
        rep_ab_rounds_free(ref, cur, n);
        return 2;
    }
    if (check_coverage(&r, l, err) == 0) {
        rep_gate_write_md(out, &r);
        fflush(out);
        rc = write_outputs(out_dir, &r, err) != 0 ? 2 : r.regressions > 0 ? 1 : 0;
    }
    rep_gate_result_free(&r);
    rep_ab_rounds_free(ref, cur, n);
    return rc;
}

/* cmk-gate --cpu-class FILE. */
static int print_class(const char *path, FILE *out, FILE *err)
{
    struct rep_bench b;
    struct base_err e = BASE_ERR_INIT;
    char cls[128];
    int rc = 2;
    if (rep_bench_load(path, &b, &e) != REP_OK) {
        fprintf(err, "cmk-gate: %s\n", e.msg);
    } else if (rep_cpu_class(&b, cls, sizeof(cls)) != 0) {
        fprintf(err, "cmk-gate: %s: env has neither best_path nor cpu_best_arch\n", path);
    } else {
        fprintf(out, "%s\n", cls);
        rc = 0;
    }
    rep_bench_free(&b);
    return rc;
}

int rep_gate_main(int argc, char **argv, FILE *out, FILE *err)
{
    struct rep_gate_opts o;
    rep_gate_opts_default(&o);
    const char *base_path = NULL, *new_path = NULL, *out_dir = "reports/out";
    static const struct option opts[] = {{"baseline", required_argument, 0, 'b'},
                                         {"new", required_argument, 0, 'n'},
                                         {"alpha", required_argument, 0, 'a'},
                                         {"min-effect", required_argument, 0, 'm'},
                                         {"out", required_argument, 0, 'o'},
                                         {"absolute", required_argument, 0, 'A'},
                                         {"correction", required_argument, 0, 'C'},
                                         {"help", no_argument, 0, 'h'},
                                         {"make-baseline", required_argument, 0, 'M'},
                                         {"state-coef", required_argument, 0, 'S'},
                                         {"ab", required_argument, 0, 'B'},
                                         {"retired", required_argument, 0, 'R'},
                                         {"cpu-class", required_argument, 0, 'K'},
                                         {0, 0, 0, 0}};
    const char *ab_dir = NULL, *retired = NULL, *class_of = NULL;
    const char *make_baseline = NULL;
    optind = 0; /* GNU: full re-initialisation, so the function can run more than once */
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":b:n:a:m:o:A:C:M:S:B:R:K:h", opts, NULL)) != -1) {
        switch (ch) {
            case 'b':
                base_path = optarg;
                break;
            case 'n':
                new_path = optarg;
                break;
            case 'a':
                if (parse_double(optarg, 0, 0.5, 1, &o.alpha) != 0) {
                    fprintf(err, "cmk-gate: --alpha must be a number in (0, 0.5], got '%s'\n",
                            optarg);
                    return 2;
                }
                break;
            case 'm':
                if (parse_double(optarg, 0, 0.999, 0, &o.min_effect) != 0) {
                    fprintf(err, "cmk-gate: --min-effect must be a number in [0, 1), got '%s'\n",
                            optarg);
                    return 2;
                }
                break;
            case 'o':
                out_dir = optarg;
                break;
            case 'A':
                if (strcmp(optarg, "auto") == 0) {
                    o.absolute = REP_ABS_AUTO;
                } else if (strcmp(optarg, "on") == 0) {
                    o.absolute = REP_ABS_ON;
                } else if (strcmp(optarg, "off") == 0) {
                    o.absolute = REP_ABS_OFF;
                } else {
                    fprintf(err, "cmk-gate: --absolute must be auto, on or off, got '%s'\n",
                            optarg);
                    return 2;
                }
                break;
            case 'C':
                if (strcmp(optarg, "holm") == 0) {
                    o.correction = REP_CORR_HOLM;
                } else if (strcmp(optarg, "none") == 0) {
                    o.correction = REP_CORR_NONE;
                } else {
                    fprintf(err, "cmk-gate: --correction must be holm or none, got '%s'\n", optarg);
                    return 2;
                }
                break;
            case 'M':
                make_baseline = optarg;
                break;
            case 'S':
                if (parse_double(optarg, 0, 10, 0, &o.state_coef) != 0) {
                    fprintf(err, "cmk-gate: --state-coef must be a number in [0, 10], got '%s'\n",
                            optarg);
                    return 2;
                }
                break;
            case 'B':
                ab_dir = optarg;
                break;
            case 'R':
                retired = optarg;
                break;
            case 'K':
                class_of = optarg;
                break;
            case 'h':
                gate_usage(out);
                return 0;
            case ':':
                fprintf(err, "cmk-gate: option '%s' needs a value (see --help)\n",
                        argv[optind - 1]);
                return 2;
            default:
                fprintf(err, "cmk-gate: unknown option '%s' (see --help)\n", argv[optind - 1]);
                return 2;
        }
    }
    if (make_baseline != NULL) {
        if (base_path != NULL || new_path != NULL) {
            fprintf(
                err,
                "cmk-gate: --make-baseline does not go with --baseline or --new (see --help)\n");
            return 2;
        }
        struct base_err e = BASE_ERR_INIT;
        size_t n = (size_t)(argc - optind);
        if (rep_baseline_write(make_baseline, (const char *const *)(argv + optind), n, &e) != 0) {
            fprintf(err, "cmk-gate: %s\n", e.msg);
            return 2;
        }
        fprintf(out, "cmk-gate: wrote %s (%zu runs)\n", make_baseline, n);
        return 0;
    }
    if (optind < argc) {
        fprintf(err, "cmk-gate: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (class_of != NULL) {
        return print_class(class_of, out, err);
    }
    struct rep_retire ret;
    struct base_err re = BASE_ERR_INIT;
    if (rep_retire_load(retired != NULL ? retired : REP_RETIRED_DEFAULT, retired == NULL, &ret,
                        &re) != 0) {
        fprintf(err, "cmk-gate: %s\n", re.msg);
        rep_retire_free(&ret);
        return 2;
    }
    if (ab_dir != NULL) {
        int abrc = base_path != NULL || new_path != NULL
                       ? -1
                       : run_ab(ab_dir, &ret, &o, out_dir, out, err);
        if (abrc < 0) {
            fprintf(err, "cmk-gate: --ab does not go with --baseline or --new (see --help)\n");
        }
        rep_retire_free(&ret);
        return abrc < 0 ? 2 : abrc;
    }
    if (base_path == NULL || new_path == NULL) {
        rep_retire_free(&ret);
        fprintf(err, "cmk-gate: --baseline FILE and --new FILE are required (see --help)\n");
        return 2;
    }
    struct rep_baseline base;
    struct rep_bench cur;
    memset(&cur, 0, sizeof(cur));
    int rc = 2;
    if (load_baseline(base_path, &base, err) != 0 ||
        load_input(new_path, " (run 'make bench PROFILE=quick' first)", &cur, err) != 0) {
        goto done;
    }
    if (!base.multi) {
        fprintf(err, "cmk-gate: warning: %s\n", REP_GATE_SINGLE_RUN_WARNING);
    }
    struct rep_gate_result r;
    struct base_err e = BASE_ERR_INIT;
    if (rep_gate_compare(&base, &cur, &o, &r, &e) != 0) {
        fprintf(err, "cmk-gate: %s\n", e.msg);
        goto done;
    }
    if (check_coverage(&r, &ret, err) != 0) {
        rep_gate_result_free(&r);
        goto done;
    }
    rep_gate_write_md(out, &r);
    fflush(out);
    if (write_outputs(out_dir, &r, err) != 0) {
        rep_gate_result_free(&r);
        goto done;
    }
    rc = r.regressions > 0 ? 1 : 0;
    rep_gate_result_free(&r);
done:
    rep_retire_free(&ret);
    rep_baseline_free(&base);
    rep_bench_free(&cur);
    return rc;
}
