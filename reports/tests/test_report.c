/*
 * test_report.c - the report generator: every section heading, "not measured
 * yet" where inputs are absent, plots inline, compliance and gate tables, and
 * exact errors for malformed inputs.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rep_bench.h"
#include "rep_gate.h"
#include "rep_report.h"
#include "rep_testutil.h"

static const char *const headings[] = {
    REP_H_SUMMARY, REP_H_ENV,      REP_H_THROUGHPUT, REP_H_RATIOS,   REP_H_CMK,  REP_H_THREADS,
    REP_H_VAULT,   REP_H_ROTATION, REP_H_DB,         REP_H_CONTROLS, REP_H_KATS, REP_H_GATE};
#define NHEAD (sizeof(headings) / sizeof(headings[0]))

static int report(const char *in, const char *extra, char **out, char **err)
{
    const char *argv[] = {"cmk-report", "--in", in, extra};
    return tu_run(rep_report_main, extra != NULL ? 4 : 3, argv, out, err);
}

static char *read_in(const char *dir, const char *name)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return tu_read_file(p);
}

Test(report, no_inputs_says_what_is_missing)
{
    const char *d = tu_tmpdir(0);
    char *out, *err;
    cr_assert_eq(report(d, NULL, &out, &err), 0, "%s", err);
    char *html = read_in(d, "index.html"), *md = read_in(d, "report.md");
    cr_assert(html != NULL && md != NULL);
    for (size_t i = 0; i < NHEAD; i++) {
        char h[128];
        snprintf(h, sizeof(h), ">%s</h2>", headings[i]);
        cr_assert(strstr(html, h) != NULL, "html lacks %s", h);
        snprintf(h, sizeof(h), "\n## %s\n", headings[i]);
        cr_assert(strstr(md, h) != NULL, "md lacks %s", h);
    }
    /* summary, env, throughput, ratios, cmk, threads, vault, rotation, db, controls, kats: 11
     * sections without data */
    cr_assert_eq(tu_count(html, REP_NOT_MEASURED), 11, "%zu", tu_count(html, REP_NOT_MEASURED));
    cr_assert_eq(tu_count(md, REP_NOT_MEASURED), 11);
    cr_assert(strstr(html, "gate.json not found") != NULL);
    cr_assert(strstr(html, "<svg") == NULL);
    free(html);
    free(md);
    free(out);
    free(err);
}

/* Appends raw JSON result objects to the results array of a bench.json. */
static void append_results(const char *path, const char *array_text)
{
    cJSON *root;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(rep_json_load(path, &root, &e), REP_OK, "%s", e.msg);
    cJSON *extra = cJSON_Parse(array_text);
    cr_assert(extra != NULL);
    cJSON *res = cJSON_GetObjectItem(root, "results");
    while (cJSON_GetArraySize(extra) > 0) {
        cJSON_AddItemToArray(res, cJSON_DetachItemFromArray(extra, 0));
    }
    cJSON_Delete(extra);
    char *t = cJSON_Print(root);
    tu_write_file(path, t);
    free(t);
    cJSON_Delete(root);
}

static void write_full_inputs(const char *d)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/bench.json", d);
    static const double r512[] = {7.0, 7.2, 6.9, 7.1, 7.0}, e512[] = {6.6, 6.9, 6.5, 6.8, 6.7};
    static const double r8k[] = {11.0, 11.5, 10.8, 11.2, 11.1},
                        e8k[] = {11.3, 11.6, 11.0, 11.5, 11.2};
    static const double smk[] = {10.0, 10.2, 9.8, 10.1, 10.0}, cmk[] = {9.9, 10.1, 9.8, 10.0, 9.9};
    static const double t2[] = {20.0, 20.5, 19.5, 20.1, 20.2},
                        t4[] = {35.0, 36.0, 34.0, 35.5, 35.2};
    /* A/A twins: every round 1.005x (within 2%) and 1.03x (not) the cell they repeat */
    static const double aa512[] = {6.6 * 1.005, 6.9 * 1.005, 6.5 * 1.005, 6.8 * 1.005, 6.7 * 1.005};
    static const double aa8k[] = {11.3 * 1.03, 11.6 * 1.03, 11.0 * 1.03, 11.5 * 1.03, 11.2 * 1.03};
    const struct tu_cell cells[] = {
        {"raw", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 512, 1, r512, 5},
        {"engine", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 512, 1, e512, 5},
        {"raw", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 8192, 1, r8k, 5},
        {"engine", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 8192, 1, e8k, 5},
        {"engine", "gcm", "ipsec-mb", "avx512", "encrypt", "smk", 8192, 1, smk, 5},
        {"engine", "gcm", "ipsec-mb", "avx512", "encrypt", "cmk", 8192, 1, cmk, 5},
        {"engine", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 8192, 2, t2, 5},
        {"engine", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 8192, 4, t4, 5},
        {"store-file", "gcm", "ipsec-mb", "avx512", "encrypt", "smk", 8192, 1, smk, 5},
        {"store-file", "gcm", "ipsec-mb", "avx512", "encrypt", "cmk", 8192, 1, cmk, 5},
        {"engine-aa", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 512, 1, aa512, 5},
        {"engine-aa", "gcm", "ipsec-mb", "avx512", "encrypt", "none", 8192, 1, aa8k, 5},
    };
    tu_write_bench(p, "cpu A", cells, sizeof(cells) / sizeof(cells[0]));
    append_results(
        p,
        "[{\"kind\": \"vault\", \"operation\": \"wrapKey\", \"rsa_bits\": 2048, \"unit\": \"ms\", "
        "\"p50\": 1.5, \"p90\": 2.5, \"p99\": 4.0, \"samples\": [1.4, 1.5, 1.6]},"
        "{\"kind\": \"vault\", \"operation\": \"unwrapKey\", \"label\": \"unwrap RSA-4096\", "
        "\"unit\": \"ms\", \"p50\": 9.5, \"p90\": 12.0, \"p99\": 20.0},"
        "{\"kind\": \"rotation\", \"label\": \"rotate KEK\", \"dek_count\": 10, \"unit\": \"s\", "
        "\"median\": 0.05, \"ci_low\": 0.04, \"ci_high\": 0.06},"
        "{\"kind\": \"rotation\", \"label\": \"rotate KEK\", \"dek_count\": 1000, \"unit\": \"s\", "
        "\"median\": 0.9, \"ci_low\": 0.8, \"ci_high\": 1.0},"
        "{\"kind\": \"rotation\", \"label\": \"rotation smk 4 DEKs\", \"dek_count\": 4, "
        "\"unit\": \"ms\", \"median\": 15, \"ci_low\": 14, \"ci_high\": 16},"
        "{\"kind\": \"rotation\", \"label\": \"rotation smk 16 DEKs\", \"dek_count\": 16, "
        "\"unit\": \"ms\", \"median\": 14, \"ci_low\": 12, \"ci_high\": 16},"
        "{\"kind\": \"vault-rate\", \"label\": \"vault-rate unwrapkey RSA-2048 2 clients\", "
        "\"rsa_bits\": 2048, \"threads\": 2, \"unit\": \"ops/s\", \"median\": 2417.4, "
        "\"ci_low\": 2406, \"ci_high\": 2536},"
        "{\"kind\": \"openssl-rsa\", \"label\": \"openssl-rsa decrypt RSA-2048 1 thread\", "
        "\"threads\": 1, \"unit\": \"ops/s\", \"median\": 3500.2},"
        "{\"kind\": \"hologram\", \"mode\": \"zz\"},"
        /* database rows: cmk-fs twice gocryptfs's speed round by round, securefs not installed */
        "{\"kind\": \"db\", \"mode\": \"tmpfs\", \"backend\": \"cmkfs-smk\", \"arch\": \"avx512\", "
        "\"direction\": \"fio-randread\", \"unit_bytes\": 8192, \"keys\": \"smk\", "
        "\"unit\": \"MB/s\", \"samples\": [200, 300, 400, 250, 350], \"median\": 300, "
        "\"ci_low\": 200, \"ci_high\": 400},"
        "{\"kind\": \"db\", \"mode\": \"tmpfs\", \"backend\": \"gocryptfs\", \"arch\": \"n/a\", "
        "\"direction\": \"fio-randread\", \"unit_bytes\": 8192, \"unit\": \"MB/s\", "
        "\"samples\": [100, 160, 200, 125, 175], \"median\": 160, \"ci_low\": 100, "
        "\"ci_high\": 200},"
        "{\"kind\": \"db\", \"mode\": \"tmpfs\", \"backend\": \"securefs\", \"arch\": \"n/a\", "
        "\"direction\": \"fio-randread\", \"unit_bytes\": 8192, "
        "\"skipped\": \"securefs: not available: securefs not installed\"},"
        "{\"kind\": \"ceiling\", \"mode\": \"gcm\", \"backend\": \"ceiling\", \"arch\": \"zmm\", "
        "\"direction\": \"encrypt\", \"unit_bytes\": 8192, \"batch\": 64, \"threads\": 1, "
        "\"keys\": \"none\", \"unit\": \"GB/s\", \"widest\": true, "
        "\"samples\": [16.0, 16.2, 15.9, 16.1, 16.0]},"
        "{\"kind\": \"ceiling\", \"mode\": \"gcm\", \"backend\": \"ceiling\", \"arch\": \"xmm\", "
        "\"direction\": \"encrypt\", \"unit_bytes\": 8192, \"batch\": 64, \"threads\": 1, "
        "\"keys\": \"none\", \"unit\": \"GB/s\", \"widest\": false, "
        "\"samples\": [8.0, 8.1, 7.9, 8.0, 8.0]},"
        "{\"kind\": \"raw\", \"mode\": \"cbc\", \"backend\": \"ipsec-mb\", \"direction\": "
        "\"encrypt\", "
        "\"unit_bytes\": 1048576, \"skipped\": \"ipsec-mb CBC jobs are limited to 65535 bytes\"}]");
    snprintf(p, sizeof(p), "%s/compliance.json", d);
    tu_write_file(
        p,
        "{\"schema\": \"cmk-harness/compliance\", \"schema_version\": 1, \"controls\": ["
        "{\"id\": \"C-01\", \"title\": \"delete <KEK> makes data inaccessible\", \"statement\": "
        "\"s1\", "
        "\"method\": \"m1\", \"evidence\": [\"audit.log\", \"store.log\"], \"measured\": 12.5, "
        "\"verdict\": \"pass\", \"reason\": \"\"},"
        "{\"id\": \"C-02\", \"title\": \"least privilege\", \"statement\": \"s2\", \"method\": "
        "\"m2\", "
        "\"evidence\": \"e2\", \"measured\": {\"extra_permissions\": 1}, \"verdict\": \"fail\", "
        "\"reason\": \"wrapKey granted to dba\"}],"
        "\"kats\": [{\"file\": \"gcmEncryptExtIV256.rsp\", \"backend\": \"openssl\", \"arch\": "
        "\"auto\", "
        "\"passed\": 100, \"failed\": 0, \"skipped\": 2, \"skip_reason\": \"tag length 4\"},"
        "{\"file\": \"XTSGenAES256.rsp\", \"backend\": \"native\", \"arch\": \"avx512\", "
        "\"passed\": 50, \"failed\": 1, \"skipped\": 0, \"skip_reason\": \"\"}],"
        "\"summary_page\": {\"sp800_53\": [{\"id\": \"sc-28.1\", \"label\": \"SC-28(1)\", "
        "\"title\": \"Cryptographic Protection\", \"state\": \"not-satisfied\", \"reason\": "
        "\"fail\", \"controls\": \"C-01 fail\"}], \"inaccessible\": [{\"event\": \"delete\", "
        "\"control\": \"C-01\", \"verdict\": \"pass\", \"measured\": \"1.98 s from the delete\"}],"
        "\"throughput\": [{\"event\": \"CMK/SMK throughput\", \"control\": \"P-01\", "
        "\"verdict\": \"pass\", \"measured\": \"ratio 0.9950\"}], \"vectors\": {\"files\": 2, "
        "\"rows\": 2, \"passed\": 150, \"failed\": 1, \"skipped\": 2, \"key_cases\": 153, "
        "\"key_ran\": 151, \"skip_reasons\": [{\"reason\": \"GCM tag length not allowed\", "
        "\"count\": 2}]}, \"findings\": [\"XTS stores do not detect tampering\"]}}");
    /* gate.json from the gate itself (baseline = new: a pass) */
    char b[256], out_dir[256];
    snprintf(b, sizeof(b), "%s/bench.json", d);
    snprintf(out_dir, sizeof(out_dir), "%s", d);
    const char *argv[] = {"cmk-gate", "--baseline", b, "--new", b, "--out", out_dir};
    char *o, *e;
    cr_assert_eq(tu_run(rep_gate_main, 7, argv, &o, &e), 0, "%s%s", o, e);
    free(o);
    free(e);
}

Test(report, full_inputs_fill_every_section)
{
    const char *d = tu_tmpdir(1);
    write_full_inputs(d);
    char *out, *err;
    cr_assert_eq(report(d, NULL, &out, &err), 0, "%s", err);
    cr_assert_str_eq(err, "");
    char *html = read_in(d, "index.html"), *md = read_in(d, "report.md");
    cr_assert(html != NULL && md != NULL);
    for (size_t i = 0; i < NHEAD; i++) {
        char h[128];
        snprintf(h, sizeof(h), ">%s</h2>", headings[i]);
        cr_assert(strstr(html, h) != NULL, "html lacks %s", h);
    }
    cr_assert_eq(tu_count(html, REP_NOT_MEASURED), 0, "%s", strstr(html, REP_NOT_MEASURED));
    cr_assert_eq(tu_count(md, REP_NOT_MEASURED), 0);
    /* the one-page summary comes first, from compliance.json's summary_page */
    const char *sum = strstr(md, "\n## " REP_H_SUMMARY "\n");
    cr_assert(sum != NULL && sum < strstr(md, "\n## " REP_H_ENV "\n"), "%s", md);
    cr_assert(
        strstr(md, "| SC-28(1) | Cryptographic Protection | **not-satisfied** | C-01 fail |") !=
            NULL,
        "%s", md);
    cr_assert(strstr(md, "| delete | C-01 | pass | 1.98 s from the delete |") != NULL, "%s", md);
    cr_assert(
        strstr(md, "2 files (2 back-end rows): 150 passed, 1 failed, 2 skipped; 151 of 153") !=
            NULL,
        "%s", md);
    cr_assert(strstr(md, "| GCM tag length not allowed | 2 |") != NULL, "%s", md);
    cr_assert(strstr(html, "<p>XTS stores do not detect tampering</p>") != NULL);
    /* database: the targets side by side, per-round ratios (2, 1.875, 2, 2, 2 -> median 2, [1.875,
     * 2]), the target that did not run and why */
    cr_assert(
        strstr(md, "| fio-randread | MB/s | 300 [200, 400] | 160 [100, 200] | not measured |") !=
            NULL,
        "%s", strstr(md, "| fio-randread"));
    cr_assert(strstr(md, "| cmkfs-smk / gocryptfs | 2.000x [1.875, 2.000] |") != NULL, "%s",
              strstr(md, "| cmkfs-smk /"));
    cr_assert(strstr(md,
                     "securefs (tmpfs backing) not measured: securefs: not available: securefs "
                     "not installed") != NULL);
    /* plots: gcm encrypt throughput, gcm engine/raw ratio, cmk/smk, threads, vault, rotation,
     * engine/ceiling */
    static const char *const plots[] = {
        "throughput-gcm-encrypt", "ratio-gcm", "cmk-smk-gcm", "threads-gcm",
        "vault-latency",          "rotation",  "ceiling-gcm"};
    for (size_t i = 0; i < 7; i++) {
        char link[128], path[256];
        snprintf(link, sizeof(link), "(plots/%s.svg)", plots[i]);
        cr_assert(strstr(md, link) != NULL, "md lacks %s", link);
        snprintf(path, sizeof(path), "%s/plots/%s.svg", d, plots[i]);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0, "%s", path);
    }
    cr_assert_eq(tu_count(html, "<svg"), 7);
    /* engine against the widest ceiling only: per round 11.3/16.0, 11.6/16.2, ... -> 0.706 */
    cr_assert(
        strstr(md, "| engine gcm ipsec-mb/avx512 / AES ceiling zmm, 8KiB encrypt | 0.706 |") !=
        NULL);
    cr_assert(strstr(md, "/ AES ceiling xmm") == NULL);
    cr_assert(strstr(md, "AES ceiling xmm") != NULL); /* in the throughput table */
    /* inline SVG: no XML prolog, ids made unique per plot */
    cr_assert_eq(tu_count(html, "<?xml"), 0);
    cr_assert_eq(tu_count(html, "id=\"gnuplot_canvas\""), 0);
    cr_assert_eq(tu_count(html, "id=\"p1_gnuplot_canvas\""), 1);
    /* self-contained: no external resources */
    cr_assert_eq(tu_count(html, "<link"), 0);
    cr_assert_eq(tu_count(html, "<script"), 0);
    cr_assert_eq(tu_count(html, "src=\"http"), 0);
    /* compliance: escaped text, coloured verdicts, evidence arrays joined, objects as JSON */
    cr_assert(strstr(html, "delete &lt;KEK&gt; makes data inaccessible") != NULL);
    cr_assert(strstr(html, "<td class=\"fail\">fail</td>") != NULL);
    cr_assert(strstr(html, "<td class=\"pass\">pass</td>") != NULL);
    cr_assert(strstr(md, "| audit.log; store.log |") != NULL);
    cr_assert(strstr(md, "{\"extra_permissions\":1}") != NULL);
    cr_assert(strstr(md, "2 controls: 1 pass, 1 fail, 0 not applicable.") != NULL);
    cr_assert(strstr(md, "| total |  |  | 150 | **1** | 2 |  |") != NULL, "%s",
              strstr(md, "| total"));
    /* gate, env extras */
    cr_assert(strstr(md, "Verdict: PASS.") != NULL);
    /* the gate's own description of its test (here the single-run one: baseline = new) */
    cr_assert(strstr(md, "Test: one-sided Mann-Whitney U on the samples") != NULL);
    cr_assert(strstr(md, "ipsec-mb CBC jobs are limited to 65535 bytes") != NULL);
    cr_assert(strstr(md, "1 cells of kinds this report does not know ('hologram') are left out.") !=
              NULL);
    /* thread scaling: the 1-thread median and the speed-up (20.1 / 11.3) */
    cr_assert(strstr(md, "| gcm | engine ipsec-mb/avx512 | encrypt | 8KiB | 2 | 20.10 |") != NULL);
    cr_assert(strstr(md, "| 11.30 | 1.78x |") != NULL);
    cr_assert(strstr(md, "| 11.30 | 3.12x |") != NULL); /* 35.2 / 11.3 at 4 threads */
    /* CMK against SMK for the store on a file too: per-round 9.9/10, 10.1/10.2, ... -> median 0.990
     */
    cr_assert(strstr(md, "| cmk/smk store on file gcm ipsec-mb/avx512 8KiB encrypt | 10.00 |") !=
              NULL);
    /* A/A twins: per-round ratio medians, judged against 2% */
    cr_assert(strstr(md, "| engine ipsec-mb/avx512 gcm 512B encrypt | 6.70 | 6.73 | 1.005 |") !=
              NULL);
    cr_assert(strstr(md, "| engine ipsec-mb/avx512 gcm 8KiB encrypt | 11.30 | 11.64 | 1.030 |") !=
              NULL);
    cr_assert_eq(tu_count(md, "| 5 | pass |"), 1);
    cr_assert_eq(tu_count(md, "| 5 | **FAIL** |") + tu_count(md, "| 5 | FAIL |"), 1);
    /* vault throughput next to OpenSSL's RSA rate; RSA size from the label */
    cr_assert(
        strstr(md,
               "| vault-rate unwrapkey RSA-2048 2 clients | 2048 | 2 | 2417 | [2406, 2536] |") !=
        NULL);
    cr_assert(strstr(md, "| openssl-rsa decrypt RSA-2048 1 thread | 2048 | 1 | 3500 | - |") !=
              NULL);
    /* rotation: one series per key management across DEK counts */
    cr_assert_eq(tu_count(html, ">rotation smk<"), 1);
    cr_assert_eq(tu_count(html, ">rotation smk 4 DEKs<"), 1); /* the table row, no legend entry */
    /* vault RSA size from the label when rsa_bits is absent */
    cr_assert(strstr(md, "| unwrapKey | 4096 | 9.5 | 12 | 20 | ms | 0 |") != NULL);
    free(html);
    free(md);
    free(out);
    free(err);
}

/* a bench.json without ci_method (written before the interval fix) is flagged, a new one is not */
Test(report, old_intervals_are_flagged)
{
    const char *d = tu_tmpdir(1);
    write_full_inputs(d);
    char *out, *err;
    cr_assert_eq(report(d, NULL, &out, &err), 0, "%s", err);
    char *md = read_in(d, "report.md");
    cr_assert_eq(tu_count(md, "This bench.json has no ci_method"), 1);
    free(md);
    free(out);
    free(err);
    char p[256];
    snprintf(p, sizeof(p), "%s/bench.json", d);
    char *text = tu_read_file(p);
    cr_assert_not_null(text);
    char *brace = strchr(text, '{');
    cr_assert_not_null(brace);
    size_t len = strlen(text);
    char *with = malloc(len + 64);
    cr_assert_not_null(with);
    snprintf(with, len + 64, "{\"ci_method\": \"order statistics\", %s", brace + 1);
    tu_write_file(p, with);
    free(with);
    free(text);
    cr_assert_eq(report(d, NULL, &out, &err), 0, "%s", err);
    md = read_in(d, "report.md");
    cr_assert_eq(tu_count(md, "ci_method"), 0);
    free(md);
    free(out);
    free(err);
}

Test(report, no_plots_keeps_the_tables)
{
    const char *d = tu_tmpdir(2);
    write_full_inputs(d);
    char *out, *err;
    cr_assert_eq(report(d, "--no-plots", &out, &err), 0, "%s", err);
    char *html = read_in(d, "index.html");
    cr_assert_eq(tu_count(html, "<svg"), 0);
    cr_assert(strstr(html, "<td>engine gcm ipsec-mb/avx512 / raw ipsec-mb, 8KiB encrypt</td>") !=
              NULL);
    free(html);
    free(out);
    free(err);
}

Test(report, malformed_bench_exits_1_with_position)
{
    const char *d = tu_tmpdir(0);
    char p[256];
    snprintf(p, sizeof(p), "%s/bench.json", d);
    const char *text = "{\n  \"schema\": \"cmk-harness/bench\",\n  \"results\": [1, 2,, 3]\n}\n";
    tu_write_file(p, text);
    /* the offending second comma of ",," is on line 3 */
    const char *bad = strstr(text, ",,") + 1;
    const char *line3 = strstr(strchr(text, '\n') + 1, "\n") + 1;
    char want[512];
    snprintf(want, sizeof(want),
             "cmk-report: %s: malformed JSON at line 3, column %zu (byte %zu)\n", p,
             (size_t)(bad - line3) + 1, (size_t)(bad - text));
    char *out, *err;
    cr_assert_eq(report(d, NULL, &out, &err), 1);
    cr_assert_str_eq(err, want);
    char *html = read_in(d, "index.html");
    cr_assert(html == NULL, "no report is written from a malformed input");
    free(out);
    free(err);
}

Test(report, malformed_compliance_exits_1)
{
    const char *d = tu_tmpdir(0);
    char p[256];
    snprintf(p, sizeof(p), "%s/compliance.json", d);
    tu_write_file(p, "");
    char *out, *err;
    cr_assert_eq(report(d, NULL, &out, &err), 1);
    char want[512];
    snprintf(want, sizeof(want), "cmk-report: %s: malformed JSON: the file is empty\n", p);
    cr_assert_str_eq(err, want);
    free(out);
    free(err);
}

/* a newer compliance.json or gate.json, or a file of the wrong kind, is refused by name */
Test(report, newer_or_wrong_schema_exits_1)
{
    static const struct {
        const char *file, *text, *want;
    } cases[] = {
        {"compliance.json", "{\"schema\": \"cmk-harness/compliance\", \"schema_version\": 2}",
         "schema_version 2 is newer than this reader (1); update reports/"},
        {"gate.json", "{\"schema\": \"cmk-harness/gate\", \"schema_version\": 3}",
         "schema_version 3 is newer than this reader (1); update reports/"},
        {"gate.json", "{\"schema\": \"cmk-harness/compliance\"}",
         "schema is 'cmk-harness/compliance', expected a gate file"},
    };
    const char *d = tu_tmpdir(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char p[256];
        snprintf(p, sizeof(p), "%s/%s", d, cases[i].file);
        tu_write_file(p, cases[i].text);
        char *out, *err, want[512];
        cr_assert_eq(report(d, NULL, &out, &err), 1, "%s", cases[i].text);
        snprintf(want, sizeof(want), "cmk-report: %s: %s\n", p, cases[i].want);
        cr_assert_str_eq(err, want);
        char *html = read_in(d, "index.html");
        cr_assert(html == NULL, "no report is written from a refused input");
        free(out);
        free(err);
        unlink(p); /* one input at a time */
    }
}

Test(report, usage_error_exits_2)
{
    const char *argv[] = {"cmk-report", "extra"};
    char *out, *err;
    cr_assert_eq(tu_run(rep_report_main, 2, argv, &out, &err), 2);
    cr_assert_str_eq(err, "cmk-report: unexpected argument 'extra' (see --help)\n");
    free(out);
    free(err);
}
