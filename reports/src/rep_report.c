/*
 * rep_report.c - the report's driver (see rep_report.h): loads the inputs and
 * writes index.html and report.md, one section after another (the sections:
 * rep_sec_bench.c, rep_sec_scale.c, rep_sec_db.c and rep_sec_doc.c); and the cmk-report program.
 */
#include "rep_report.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rep_bench.h"
#include "rep_doc.h"
#include "rep_gate.h"
#include "rep_report_int.h"

static void toc(struct rep_doc *d)
{
    static const char *const h[] = {REP_H_SUMMARY, REP_H_ENV,      REP_H_THROUGHPUT, REP_H_RATIOS,
                                    REP_H_CMK,     REP_H_THREADS,  REP_H_VAULT,      REP_H_ROTATION,
                                    REP_H_DB,      REP_H_CONTROLS, REP_H_KATS,       REP_H_GATE};
    fprintf(d->html, "<nav><ol>\n");
    for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
        char id[96];
        rep_doc_slug(id, sizeof(id), h[i]);
        fprintf(d->html, "<li><a href=\"#%s\">%s</a></li>\n", id, h[i]);
        fprintf(d->md, "%zu. [%s](#%s)\n", i + 1, h[i], id);
    }
    fprintf(d->html, "</ol></nav>\n");
}

/* Loads an optional JSON input: absent is fine (NULL), malformed is an error. */
static int load_optional(const char *path, const char *schema_word, int max_version, cJSON **out,
                         struct base_err *e)
{
    *out = NULL;
    enum rep_status st = rep_json_load(path, out, e);
    if (st == REP_MISSING) {
        return 0;
    }
    if (st != REP_OK) {
        return -1;
    }
    if (!cJSON_IsObject(*out)) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "%s: the top level is not a JSON object", path);
        cJSON_Delete(*out);
        *out = NULL;
        return -1;
    }
    const char *schema = rep_json_str(*out, "schema");
    if (schema != NULL && strstr(schema, schema_word) == NULL) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "%s: schema is '%s', expected a %s file", path, schema,
                  schema_word);
        cJSON_Delete(*out);
        *out = NULL;
        return -1;
    }
    double ver = rep_json_num(*out, "schema_version");
    if (!isnan(ver) && ver > max_version) {
        BASE_FAIL(e, BASE_ERR_FORMAT,
                  "%s: schema_version %.0f is newer than this reader (%d); update reports/", path,
                  ver, max_version);
        cJSON_Delete(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static int finish_file(FILE *f, const char *tmp, const char *final, struct base_err *e)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot write %s", tmp);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, final) != 0) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int rep_report_write(const struct rep_report_opts *o, struct base_err *e, FILE *warn)
{
    struct rr_inputs in;
    memset(&in, 0, sizeof(in));
    in.o = o;
    int rc = -1;
    FILE *html = NULL, *md = NULL;
    char html_tmp[4200], md_tmp[4200], html_path[4200], md_path[4200];
    enum rep_status st = rep_bench_load(o->bench_path, &in.bench, e);
    if (st == REP_BAD_FILE) {
        goto out;
    }
    in.have_bench = st == REP_OK;
    if (load_optional(o->compliance_path, "compliance", REP_COMPLIANCE_SCHEMA_VERSION,
                      &in.compliance, e) != 0 ||
        load_optional(o->gate_path, "gate", REP_GATE_SCHEMA_VERSION, &in.gate, e) != 0) {
        goto out;
    }
    struct rep_doc d;
    memset(&d, 0, sizeof(d));
    snprintf(d.plot_dir, sizeof(d.plot_dir), "%s/plots", o->out_dir);
    snprintf(d.plot_rel, sizeof(d.plot_rel), "plots");
    d.plots = o->plots;
    d.warn = warn;
    if (rep_mkdir_p(o->out_dir) != 0 || (d.plots && rep_mkdir_p(d.plot_dir) != 0)) {
        BASE_FAIL(e, BASE_ERR_ARG, "cannot create %s: %s", d.plots ? d.plot_dir : o->out_dir,
                  strerror(errno));
        goto out;
    }
    snprintf(html_path, sizeof(html_path), "%s/index.html", o->out_dir);
    snprintf(md_path, sizeof(md_path), "%s/report.md", o->out_dir);
    snprintf(html_tmp, sizeof(html_tmp), "%s/.index.html.tmp", o->out_dir);
    snprintf(md_tmp, sizeof(md_tmp), "%s/.report.md.tmp", o->out_dir);
    html = fopen(html_tmp, "w");
    md = fopen(md_tmp, "w");
    if (html == NULL || md == NULL) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot write in %s: %s", o->out_dir, strerror(errno));
        goto out;
    }
    d.html = html;
    d.md = md;
    char sub[2000], when[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
    if (in.have_bench) {
        const char *started = rep_env_str(&in.bench, "started");
        snprintf(sub, sizeof(sub), "Generated %s from %s (commit %s, profile %s%s%s).", when,
                 o->bench_path, rep_env_str(&in.bench, "git_commit"),
                 rep_env_str(&in.bench, "profile"), started[0] ? ", measured " : "", started);
    } else {
        snprintf(sub, sizeof(sub), "Generated %s; no benchmark results (%s not found).", when,
                 o->bench_path);
    }
    rep_doc_begin(&d, "cmk-harness report", sub);
    toc(&d);
    rr_section_summary(&d, &in);
    rr_section_env(&d, &in);
    rr_section_throughput(&d, &in);
    rr_section_ratios(&d, &in);
    rr_section_cmk(&d, &in);
    rr_section_threads(&d, &in);
    rr_section_vault(&d, &in);
    rr_section_rotation(&d, &in);
    rr_section_db(&d, &in);
    rr_section_controls(&d, &in);
    rr_section_kats(&d, &in);
    rr_section_gate(&d, &in);
    rep_doc_end(&d);
    FILE *h = html, *m = md;
    html = md = NULL;
    if (finish_file(h, html_tmp, html_path, e) != 0) {
        fclose(m);
        unlink(md_tmp);
        goto out;
    }
    if (finish_file(m, md_tmp, md_path, e) != 0) {
        goto out;
    }
    rc = 0;
out:
    if (html != NULL) {
        fclose(html);
        unlink(html_tmp);
    }
    if (md != NULL) {
        fclose(md);
        unlink(md_tmp);
    }
    rep_bench_free(&in.bench);
    cJSON_Delete(in.compliance);
    cJSON_Delete(in.gate);
    return rc;
}

static void report_usage(FILE *f)
{
    fprintf(f,
            "usage: cmk-report [--in DIR] [--out DIR] [--bench FILE] [--compliance FILE] [--gate "
            "FILE]\n"
            "                  [--no-plots]\n"
            "Writes DIR/index.html (self-contained, plots inline) and DIR/report.md (plots in "
            "DIR/plots/)\n"
            "from bench.json, compliance.json and gate.json; a missing input is reported, not "
            "fatal.\n\n"
            "  --in DIR           where the inputs are (default reports/out)\n"
            "  --out DIR          where the report goes (default: the --in folder)\n"
            "  --bench FILE       bench.json (default DIR/bench.json)\n"
            "  --compliance FILE  compliance.json (default DIR/compliance.json)\n"
            "  --gate FILE        gate.json (default DIR/gate.json)\n"
            "  --no-plots         tables only, without gnuplot\n"
            "  --help             this text\n\n"
            "Exit: 0 written, 1 malformed input or output error, 2 usage error.\n");
}

int rep_report_main(int argc, char **argv, FILE *out, FILE *err)
{
    const char *in_dir = "reports/out", *out_dir = NULL, *bench = NULL, *comp = NULL, *gate = NULL;
    int plots = 1;
    static const struct option opts[] = {
        {"in", required_argument, 0, 'i'},    {"out", required_argument, 0, 'o'},
        {"bench", required_argument, 0, 'b'}, {"compliance", required_argument, 0, 'c'},
        {"gate", required_argument, 0, 'g'},  {"no-plots", no_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    optind = 0;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":i:o:b:c:g:nh", opts, NULL)) != -1) {
        switch (ch) {
            case 'i':
                in_dir = optarg;
                break;
            case 'o':
                out_dir = optarg;
                break;
            case 'b':
                bench = optarg;
                break;
            case 'c':
                comp = optarg;
                break;
            case 'g':
                gate = optarg;
                break;
            case 'n':
                plots = 0;
                break;
            case 'h':
                report_usage(out);
                return 0;
            case ':':
                fprintf(err, "cmk-report: option '%s' needs a value (see --help)\n",
                        argv[optind - 1]);
                return 2;
            default:
                fprintf(err, "cmk-report: unknown option '%s' (see --help)\n", argv[optind - 1]);
                return 2;
        }
    }
    if (optind < argc) {
        fprintf(err, "cmk-report: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    char bp[4200], cp[4200], gp[4200];
    snprintf(bp, sizeof(bp), "%s/bench.json", in_dir);
    snprintf(cp, sizeof(cp), "%s/compliance.json", in_dir);
    snprintf(gp, sizeof(gp), "%s/gate.json", in_dir);
    struct rep_report_opts o = {
        .bench_path = bench != NULL ? bench : bp,
        .compliance_path = comp != NULL ? comp : cp,
        .gate_path = gate != NULL ? gate : gp,
        .out_dir = out_dir != NULL ? out_dir : in_dir,
        .plots = plots,
    };
    struct base_err e = BASE_ERR_INIT;
    if (rep_report_write(&o, &e, err) != 0) {
        fprintf(err, "cmk-report: %s\n", e.msg);
        return 1;
    }
    fprintf(out, "cmk-report: wrote %s/index.html and %s/report.md\n", o.out_dir, o.out_dir);
    return 0;
}
