/*
 * test_report.c - the shapes of compliance.json (the field names
 * cmk-report reads), compliance-junit.xml (one test case per control and
 * per vector file) and compliance.md.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "comp_report.h"
#include "vmt_client.h"

static void sample(struct comp_report *r)
{
    memset(r, 0, sizeof(*r));
    struct comp_control c;
    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "CMK-T-01");
    snprintf(c.title, sizeof(c.title), "passes <&\"quoted\">");
    snprintf(c.statement, sizeof(c.statement), "\"a sentence\"");
    snprintf(c.method, sizeof(c.method), "look");
    comp_control_add_evidence(&c, "first %d", 1);
    comp_control_add_evidence(&c, "second | piped");
    snprintf(c.measured, sizeof(c.measured), "1.00 s");
    comp_control_set(&c, COMP_VERDICT_PASS, "fine");
    cr_assert_eq(comp_report_add_control(r, &c), 0);
    snprintf(c.id, sizeof(c.id), "CMK-T-02");
    comp_control_set(&c, COMP_VERDICT_FAIL, "broken");
    comp_control_set(&c, COMP_VERDICT_PASS, "too late"); /* never downgrades a failure */
    cr_assert_eq(comp_report_add_control(r, &c), 0);
    snprintf(c.id, sizeof(c.id), "CMK-T-03");
    c.verdict = COMP_VERDICT_NOT_APPLICABLE;
    snprintf(c.reason, sizeof(c.reason), "FINDING: by design");
    cr_assert_eq(comp_report_add_control(r, &c), 0);
    struct comp_kat_row k;
    memset(&k, 0, sizeof(k));
    snprintf(k.file, sizeof(k.file), "a.rsp");
    snprintf(k.backend, sizeof(k.backend), "openssl");
    snprintf(k.arch, sizeof(k.arch), "avx2");
    k.passed = 5;
    cr_assert_eq(comp_report_add_kat(r, &k), 0);
    snprintf(k.backend, sizeof(k.backend), "ipsec-mb");
    k.failed = 1;
    snprintf(k.detail, sizeof(k.detail), "line 3: wrong");
    cr_assert_eq(comp_report_add_kat(r, &k), 0);
    memset(&k, 0, sizeof(k));
    snprintf(k.file, sizeof(k.file), "b.rsp");
    k.skipped = 7;
    snprintf(k.skip_reason, sizeof(k.skip_reason), "7 key not 256 bits");
    cr_assert_eq(comp_report_add_kat(r, &k), 0);
}

Test(comp_report, verdict_never_downgraded)
{
    struct comp_report r;
    sample(&r);
    cr_assert_eq(r.controls[1].verdict, COMP_VERDICT_FAIL);
    cr_assert_str_eq(r.controls[1].reason, "broken");
    cr_assert_eq(comp_report_failures(&r), 2); /* one control, one KAT row */
    comp_report_cleanup(&r);
}

/* Writes |r| with |write| to a temporary file and returns its contents (caller frees). */
static char *render(int (*write)(const struct comp_report *, const char *),
                    const struct comp_report *r)
{
    char path[] = "/tmp/comp-report-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(write(r, path), 0);
    size_t len = 0;
    char *text = vmt_read_file(path, &len);
    unlink(path);
    cr_assert_not_null(text);
    return text;
}

Test(comp_report, json_fields)
{
    struct comp_report r;
    sample(&r);
    char *text = render(comp_report_write_json, &r);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(root);
    cr_assert_not_null(
        strstr(cJSON_GetStringValue(cJSON_GetObjectItem(root, "schema")), "compliance"));
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(root, "schema_version")), 1);
    cJSON *controls = cJSON_GetObjectItem(root, "controls");
    cr_assert_eq(cJSON_GetArraySize(controls), 3);
    static const char *const cf[] = {"id",       "title",   "statement", "method",
                                     "measured", "verdict", "reason"};
    cJSON *c;
    cJSON_ArrayForEach(c, controls)
    {
        for (size_t i = 0; i < sizeof(cf) / sizeof(cf[0]); i++) {
            cr_assert(cJSON_IsString(cJSON_GetObjectItem(c, cf[i])), "control lacks %s", cf[i]);
        }
        cr_assert(cJSON_IsArray(cJSON_GetObjectItem(c, "evidence")));
    }
    cJSON *c0 = cJSON_GetArrayItem(controls, 0);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(c0, "evidence")), 2);
    cr_assert_str_eq(
        cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(c0, "evidence"), 1)),
        "second | piped");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c0, "verdict")), "pass");
    cr_assert_str_eq(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(controls, 1), "verdict")),
        "fail");
    cr_assert_str_eq(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(controls, 2), "verdict")),
        "not_applicable");
    cJSON *kats = cJSON_GetObjectItem(root, "kats");
    cr_assert_eq(cJSON_GetArraySize(kats), 3);
    static const char *const sf[] = {"file", "backend", "arch", "skip_reason"};
    static const char *const nf[] = {"passed", "failed", "skipped"};
    cJSON *k;
    cJSON_ArrayForEach(k, kats)
    {
        for (size_t i = 0; i < 4; i++) {
            cr_assert(cJSON_IsString(cJSON_GetObjectItem(k, sf[i])), "kat lacks %s", sf[i]);
        }
        for (size_t i = 0; i < 3; i++) {
            cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(k, nf[i])), "kat lacks %s", nf[i]);
        }
    }
    cJSON *sum = cJSON_GetObjectItem(root, "summary");
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(sum, "kat_files")), 2);
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(sum, "controls_fail")), 1);
    cJSON_Delete(root);
    comp_report_cleanup(&r);
}

static long count(const char *hay, const char *needle)
{
    long n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    return n;
}

Test(comp_report, junit_and_markdown_shapes)
{
    struct comp_report r;
    sample(&r);
    char *x = render(comp_report_write_junit, &r);
    cr_assert_eq(count(x, "<testcase "), 5, "3 controls + 2 vector files:\n%s", x);
    cr_assert_eq(count(x, "<testsuite "), 2);
    cr_assert_eq(count(x, "<failure "), 2, "%s", x); /* CMK-T-02 and a.rsp */
    cr_assert_eq(count(x, "<skipped "), 2, "%s", x); /* CMK-T-03 and b.rsp (nothing ran) */
    cr_assert_not_null(strstr(x, "passes &lt;&amp;&quot;quoted&quot;&gt;"), "%s", x);
    cr_assert_null(strstr(x, "<&\""));
    cr_assert_not_null(strstr(x, "tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""), "%s", x);
    cr_assert_not_null(strstr(x, "tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"1\""), "%s", x);
    free(x);
    x = render(comp_report_write_md, &r);
    cr_assert_not_null(strstr(x, "| id | title | verdict | measured | reason |"));
    cr_assert_not_null(strstr(x, "| CMK-T-02 | "));
    cr_assert_not_null(strstr(x, "| a.rsp | "));
    cr_assert_not_null(strstr(x, "  - second | piped\n"), "%s", x); /* evidence as a list */
    free(x);
    comp_report_cleanup(&r);
}

/* xmllint --schema reports/junit/JUnit.xsd on |path|: exit code, output in |out|. */
static int xmllint(const char *path, char *out, size_t max_out)
{
    char cmd[512], log[] = "/tmp/comp-junit-log-XXXXXX";
    int fd = mkstemp(log);
    cr_assert_geq(fd, 0);
    close(fd);
    snprintf(cmd, sizeof(cmd), "xmllint --noout --schema reports/junit/JUnit.xsd '%s' > '%s' 2>&1",
             path, log);
    int st = system(cmd);
    size_t len = 0;
    char *text = vmt_read_file(log, &len);
    snprintf(out, max_out, "%s", text != NULL ? text : "");
    free(text);
    unlink(log);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * compliance-junit.xml passes the strict Ant schema (windyroad JUnit.xsd):
 * with controls and vectors, and with vectors only (no empty suite).
 */
Test(comp_report, junit_passes_the_strict_schema)
{
    struct comp_report r;
    sample(&r);
    char path[] = "/tmp/comp-junit-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    char out[8192];
    cr_assert_eq(comp_report_write_junit(&r, path), 0);
    cr_assert_eq(xmllint(path, out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out, " validates"), "%s", out);
    size_t len = 0;
    char *x = vmt_read_file(path, &len);
    cr_assert_not_null(strstr(x, "<testsuites>\n"), "%s", x);
    cr_assert_not_null(strstr(x, "hostname=\""), "%s", x);
    cr_assert_not_null(strstr(x, "<failure type=\"control-failed\""), "%s", x);
    free(x);
    r.num_controls = 0; /* vectors only: no controls suite at all */
    cr_assert_eq(comp_report_write_junit(&r, path), 0);
    cr_assert_eq(xmllint(path, out, sizeof(out)), 0, "%s", out);
    x = vmt_read_file(path, &len);
    cr_assert_null(strstr(x, "compliance.controls"), "%s", x);
    free(x);
    unlink(path);
    comp_report_cleanup(&r);
}
