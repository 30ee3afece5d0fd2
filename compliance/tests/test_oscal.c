/*
 * test_oscal.c - assessment-results.json (comp_oscal.c): the SP 800-53
 * mapping against NIST's catalog, the findings and risks of a run with a
 * failing control, and NIST's schema through ajv (compliance/oscal/
 * validate.sh, installed by `make oscal-deps`, a prerequisite of `make
 * test`): NIST's example and our documents pass, a document that breaks
 * each of the schema's pitfalls is refused with the exact message.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "comp_controls.h"
#include "comp_oscal.h"
#include "comp_report.h"
#include "tl_files.h"
#include "vmt_client.h"

#define CATALOG  "compliance/oscal/sp800-53r5-cmk-subset.json"
#define VALIDATE "compliance/oscal/validate.sh"

TestSuite(oscal, .init = tl_suite_tmpdir_setup, .fini = tl_suite_tmpdir_teardown, .timeout = 120);

static cJSON *load(const char *path)
{
    size_t len = 0;
    char *text = vmt_read_file(path, &len);
    cr_assert_not_null(text, "cannot read %s", path);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    cr_assert_not_null(root, "%s is not JSON", path);
    return root;
}

/*
 * The schema tests need ajv (make oscal-deps). Without it they are skipped
 * with the reason, except under CI=true, where that is a failure.
 */
static void need_validator(void)
{
    if (access("compliance/oscal/node_modules/.bin/ajv", X_OK) == 0) {
        return;
    }
    const char *ci = getenv("CI");
    cr_assert(ci == NULL || strcmp(ci, "true") != 0,
              "the OSCAL validator is not installed (make oscal-deps) and CI=true");
    cr_skip_test(
        "SKIPPED: the OSCAL validator (ajv) is not installed: npm could not reach its "
        "registry (make oscal-deps)");
}

/* Runs validate.sh on |path|; returns its exit code and its output (stdout + stderr) in |out|. */
static int validate(const char *path, char *out, size_t max_out)
{
    need_validator();
    char cmd[512], log[128];
    snprintf(log, sizeof(log), "%s/validate.log", tl_suite_dir);
    snprintf(cmd, sizeof(cmd), "%s '%s' > '%s' 2>&1", VALIDATE, path, log);
    int st = system(cmd);
    size_t len = 0;
    char *text = vmt_read_file(log, &len);
    snprintf(out, max_out, "%s", text != NULL ? text : "");
    free(text);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void save(const cJSON *root, const char *name, char *path, size_t max_path)
{
    snprintf(path, max_path, "%s/%s", tl_suite_dir, name);
    char *text = cJSON_Print(root);
    cr_assert_not_null(text);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    free(text);
}

static void add_control(struct comp_report *r, const char *id, enum comp_verdict v,
                        const char *measured, const char *reason)
{
    struct comp_control c;
    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "%s", id);
    snprintf(c.title, sizeof(c.title), "title of %s", id);
    snprintf(c.statement, sizeof(c.statement), "a statement\nover two lines ");
    snprintf(c.method, sizeof(c.method), "a method");
    comp_control_add_evidence(&c, "  first item with spaces around  ");
    comp_control_add_evidence(&c, "second\titem");
    snprintf(c.measured, sizeof(c.measured), "%s", measured);
    c.verdict = v;
    snprintf(c.reason, sizeof(c.reason), "%s", reason);
    cr_assert_eq(comp_report_add_control(r, &c), 0);
}

/* CMK-DEL-01 fails, CMK-AUD-01 passes, CMK-INT-02 reports a finding; one vector file passes. */
static void sample(struct comp_report *r)
{
    memset(r, 0, sizeof(*r));
    add_control(r, "CMK-DEL-01", COMP_VERDICT_FAIL, "3.20 s", "first refusal after 3.20 s");
    add_control(r, "CMK-AUD-01", COMP_VERDICT_PASS, "", "audit matches\n");
    add_control(r, "CMK-INT-02", COMP_VERDICT_NOT_APPLICABLE, "16 bytes garbled", "FINDING: xts");
    struct comp_kat_row k;
    memset(&k, 0, sizeof(k));
    snprintf(k.file, sizeof(k.file), "a.rsp");
    snprintf(k.backend, sizeof(k.backend), "native");
    snprintf(k.arch, sizeof(k.arch), "avx2");
    k.passed = 5;
    k.key_cases = k.key_ran = 5;
    cr_assert_eq(comp_report_add_kat(r, &k), 0);
}

static cJSON *result0(const cJSON *root)
{
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(root, "assessment-results");
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ar, "results"), 0);
}

static const cJSON *finding_for(const cJSON *res, const char *objective)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(res, "findings"))
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(f, "target");
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(t, "target-id")), objective) == 0) {
            return f;
        }
    }
    return NULL;
}

static const char *state_of(const cJSON *finding, const char *member)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(finding, "target");
    return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "status"), member));
}

/* Every mapped id is in NIST's catalog with the title comp_sp_title gives; every control is mapped.
 */
Test(oscal, mapping_matches_the_catalog)
{
    cJSON *cat = load(CATALOG);
    const cJSON *controls = cJSON_GetObjectItemCaseSensitive(cat, "controls");
    cr_assert_eq(cJSON_GetArraySize(controls), 23);
    const cJSON *c;
    cJSON_ArrayForEach(c, controls)
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(c, "id"));
        const char *title = comp_sp_title(id);
        cr_assert_not_null(title, "%s has no title in comp_oscal.c", id);
        cr_assert_str_eq(title, cJSON_GetStringValue(cJSON_GetObjectItem(c, "title")), "%s", id);
    }
    cr_assert_null(comp_sp_title("sc-99"));
    cr_assert_gt(comp_sp_map_len, 0);
    for (size_t i = 0; i < comp_sp_map_len; i++) {
        char ids[256];
        snprintf(ids, sizeof(ids), "%s", comp_sp_map[i].sp_ids);
        char *save = NULL;
        for (char *t = strtok_r(ids, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
            cr_assert_not_null(comp_sp_title(t), "%s maps to %s, not in the catalog",
                               comp_sp_map[i].control, t);
        }
        cr_assert_gt(strlen(comp_sp_map[i].rationale), 20, "%s", comp_sp_map[i].control);
    }
    for (const char *const *id = comp_controls_ids(); *id != NULL; id++) {
        cr_assert_not_null(comp_sp_map_find(*id), "%s has no row in sp800-53-map.tsv", *id);
    }
    cr_assert_not_null(comp_sp_map_find("CMK-KAT-01"));
    char label[32];
    comp_sp_label("sc-28.1", label, sizeof(label));
    cr_assert_str_eq(label, "SC-28(1)");
    comp_sp_label("cp-9.8", label, sizeof(label));
    cr_assert_str_eq(label, "CP-9(8)");
    comp_sp_label("au-12", label, sizeof(label));
    cr_assert_str_eq(label, "AU-12");
    cJSON_Delete(cat);
}

/*
 * A failing control makes every objective it maps to not-satisfied (reason
 * fail) with a risk that links back to its observation; a finding (not
 * applicable) makes its objective not-satisfied (reason other); the rest
 * are satisfied. The document passes NIST's schema.
 */
Test(oscal, failing_control_gives_not_satisfied_and_a_risk)
{
    struct comp_report r;
    sample(&r);
    struct comp_oscal_run run = {.start = 1796630400, .end = 1796630460, .vault = "vault-mock"};
    cJSON *root = comp_oscal_json(&r, &run);
    cr_assert_not_null(root);
    const cJSON *res = result0(root);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(res, "start")),
                     "2026-12-07T08:00:00Z");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(res, "end")), "2026-12-07T08:01:00Z");
    const cJSON *obs = cJSON_GetObjectItemCaseSensitive(res, "observations");
    cr_assert_eq(cJSON_GetArraySize(obs), 4); /* 3 controls + the vectors (CMK-KAT-01) */
    const cJSON *o;
    cJSON_ArrayForEach(o, obs)
    {
        const cJSON *m = cJSON_GetObjectItem(o, "methods");
        cr_assert_eq(cJSON_GetArraySize(m), 1);
        cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(m, 0)), "TEST");
        cr_assert_gt(cJSON_GetArraySize(cJSON_GetObjectItem(o, "relevant-evidence")), 0);
    }
    /* reviewed controls: the union of the rows of the four */
    const cJSON *inc = cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(res, "reviewed-controls"),
                                               "control-selections"),
                           0),
        "include-controls");
    static const char *const want[] = {"au-12", "au-2",    "au-3", "mp-6", "sc-12",
                                       "sc-13", "sc-28.1", "si-6", "si-7"}; /* catalog order */
    cr_assert_eq(cJSON_GetArraySize(inc), 9);
    for (size_t i = 0; i < 9; i++) {
        cr_assert_str_eq(cJSON_GetStringValue(
                             cJSON_GetObjectItem(cJSON_GetArrayItem(inc, (int)i), "control-id")),
                         want[i]);
    }
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(res, "findings")), 9);
    static const char *const failed[] = {"sc-12_obj", "sc-28.1_obj", "mp-6_obj"};
    const cJSON *risks = cJSON_GetObjectItemCaseSensitive(res, "risks");
    cr_assert_eq(cJSON_GetArraySize(risks), 2); /* CMK-DEL-01 and CMK-INT-02 */
    const cJSON *del_risk = cJSON_GetArrayItem(risks, 0);
    cr_assert_not_null(
        strstr(cJSON_GetStringValue(cJSON_GetObjectItem(del_risk, "title")), "CMK-DEL-01 failed"));
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(del_risk, "status")), "open");
    const char *del_obs =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(obs, 0), "uuid"));
    cr_assert_str_eq(
        cJSON_GetStringValue(cJSON_GetObjectItem(
            cJSON_GetArrayItem(cJSON_GetObjectItem(del_risk, "related-observations"), 0),
            "observation-uuid")),
        del_obs);
    for (size_t i = 0; i < 3; i++) {
        const cJSON *f = finding_for(res, failed[i]);
        cr_assert_not_null(f, "%s", failed[i]);
        cr_assert_str_eq(state_of(f, "state"), "not-satisfied", "%s", failed[i]);
        cr_assert_str_eq(state_of(f, "reason"), "fail", "%s", failed[i]);
        const cJSON *rr = cJSON_GetArrayItem(cJSON_GetObjectItem(f, "related-risks"), 0);
        cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(rr, "risk-uuid")),
                         cJSON_GetStringValue(cJSON_GetObjectItem(del_risk, "uuid")));
    }
    cr_assert_str_eq(state_of(finding_for(res, "si-7_obj"), "state"), "not-satisfied");
    cr_assert_str_eq(state_of(finding_for(res, "si-7_obj"), "reason"), "other");
    static const char *const ok[] = {"au-2_obj", "au-3_obj", "au-12_obj", "sc-13_obj", "si-6_obj"};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_str_eq(state_of(finding_for(res, ok[i]), "state"), "satisfied", "%s", ok[i]);
        cr_assert_null(cJSON_GetObjectItem(finding_for(res, ok[i]), "related-risks"));
    }
    /* props hold cleaned evidence: no edge spaces, no line breaks, empty ones left out */
    const cJSON *p;
    int evidence = 0, measured = 0;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(cJSON_GetArrayItem(obs, 1), "props"))
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(p, "name"));
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(p, "value"));
        evidence += strcmp(name, "evidence") == 0;
        measured += strcmp(name, "measured") == 0;
        if (strcmp(name, "reason") == 0) {
            cr_assert_str_eq(v, "audit matches");
        }
        if (strcmp(name, "evidence") == 0 && evidence == 1) {
            cr_assert_str_eq(v, "first item with spaces around");
        }
        if (strcmp(name, "evidence") == 0 && evidence == 2) {
            cr_assert_str_eq(v, "second item");
        }
    }
    cr_assert_eq(evidence, 2);
    cr_assert_eq(measured, 0); /* CMK-AUD-01's measured is empty */
    char path[128], out[4096];
    save(root, "failing.json", path, sizeof(path));
    cr_assert_eq(validate(path, out, sizeof(out)), 0, "%s", out);
    cJSON_Delete(root);
    comp_report_cleanup(&r);
}

/* Every uuid is a fresh version 4 UUID. */
Test(oscal, uuids_are_v4_and_unique)
{
    struct comp_report r;
    sample(&r);
    cJSON *root = comp_oscal_json(&r, NULL);
    char *text = cJSON_PrintUnformatted(root);
    regex_t re;
    cr_assert_eq(regcomp(&re,
                         "\"(uuid|[a-z-]+-uuid)\":\"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                         "[0-9a-f]{4}-[0-9a-f]{12})\"",
                         REG_EXTENDED),
                 0);
    regex_t v4;
    cr_assert_eq(
        regcomp(&v4, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-", REG_EXTENDED), 0);
    char seen[64][37];
    size_t n = 0;
    regmatch_t m[3];
    for (const char *p = text; regexec(&re, p, 3, m, 0) == 0; p += m[0].rm_eo) {
        char u[37];
        snprintf(u, sizeof(u), "%.*s", (int)(m[2].rm_eo - m[2].rm_so), p + m[2].rm_so);
        const char *key = p + m[1].rm_so;
        cr_assert_eq(regexec(&v4, u, 0, NULL, 0), 0, "%s is not a v4 UUID", u);
        if (strncmp(key, "uuid\"", 5) == 0) { /* a definition, not a reference */
            for (size_t i = 0; i < n; i++) {
                cr_assert_str_neq(seen[i], u);
            }
            cr_assert_lt(n, 64);
            snprintf(seen[n++], 37, "%s", u);
        }
    }
    cr_assert_gt(n, 20);
    regfree(&re);
    regfree(&v4);
    free(text);
    cJSON_Delete(root);
    comp_report_cleanup(&r);
}

Test(oscal, nist_example_passes)
{
    char out[4096];
    cr_assert_eq(
        validate("compliance/oscal/nist-example-ifa_assessment-results.json", out, sizeof(out)), 0,
        "%s", out);
    cr_assert_not_null(strstr(out, "valid"), "%s", out);
}

/* Each pitfall of NIST's schema, applied to a valid document of ours, is refused by name. */
Test(oscal, pitfalls_are_refused)
{
    static const struct {
        const char *name, *message;
    } cases[] = {
        {"empty-array", "results/0/risks must NOT have fewer than 1 items"},
        {"no-timezone", "results/0/start must match pattern"},
        {"v1-uuid", "results/0/uuid must match pattern \"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[45]"},
        {"trailing-space",
         "results/0/observations/0/props/0/value must match pattern \"^\\S(.*\\S)?$\""},
    };
    struct comp_report r;
    sample(&r);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *root = comp_oscal_json(&r, NULL);
        cJSON *res = result0(root);
        switch (i) {
            case 0:
                cJSON_ReplaceItemInObject(res, "risks", cJSON_CreateArray());
                break;
            case 1:
                cJSON_ReplaceItemInObject(res, "start", cJSON_CreateString("2026-12-07T09:00:00"));
                break;
            case 2: /* a time-based (version 1) UUID */
                cJSON_ReplaceItemInObject(
                    res, "uuid", cJSON_CreateString("c232d3d2-3a0b-11ef-9454-0242ac120002"));
                break;
            default: {
                cJSON *prop = cJSON_GetArrayItem(
                    cJSON_GetObjectItem(
                        cJSON_GetArrayItem(cJSON_GetObjectItem(res, "observations"), 0), "props"),
                    0);
                char v[64];
                snprintf(v, sizeof(v), "%s ",
                         cJSON_GetStringValue(cJSON_GetObjectItem(prop, "value")));
                cJSON_ReplaceItemInObject(prop, "value", cJSON_CreateString(v));
                break;
            }
        }
        char path[128], out[8192], name[64];
        snprintf(name, sizeof(name), "%s.json", cases[i].name);
        save(root, name, path, sizeof(path));
        cr_assert_eq(validate(path, out, sizeof(out)), 1, "%s: %s", cases[i].name, out);
        cr_assert_not_null(strstr(out, " invalid"), "%s: %s", cases[i].name, out);
        cr_assert_not_null(strstr(out, cases[i].message), "%s: want \"%s\" in %s", cases[i].name,
                           cases[i].message, out);
        cJSON_Delete(root);
    }
    comp_report_cleanup(&r);
}

/* The one-page summary: verdicts per SP 800-53 control, measured times, vectors, findings. */
Test(oscal, summary_page)
{
    struct comp_report r;
    sample(&r);
    struct comp_kat_row k;
    memset(&k, 0, sizeof(k));
    snprintf(k.file, sizeof(k.file), "b.json");
    k.passed = 1;
    k.skipped = 5;
    snprintf(k.skip_reason, sizeof(k.skip_reason),
             "3 GCM IV not 96 bits, 2 key not 256 bits, 1 acceptable (1 of them refused)");
    cr_assert_eq(comp_report_add_kat(&r, &k), 0);
    snprintf(k.skip_reason, sizeof(k.skip_reason), "4 GCM IV not 96 bits");
    cr_assert_eq(comp_report_add_kat(&r, &k), 0);
    cJSON *s = comp_summary_json(&r);
    cr_assert_not_null(s);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(s, "sp800_53")), 9);
    const cJSON *del = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "inaccessible"), 0);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(del, "event")), "delete");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(del, "verdict")), "fail");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(del, "measured")), "3.20 s");
    const cJSON *rev = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "inaccessible"), 2);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(rev, "verdict")), "not run");
    const cJSON *sr = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "vectors"), "skip_reasons");
    cr_assert_eq(cJSON_GetArraySize(sr), 2); /* acceptable is not a skip */
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(sr, 0), "reason")),
                     "GCM IV not 96 bits");
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(sr, 0), "count")), 7);
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(sr, 1), "count")), 2);
    const cJSON *fi = cJSON_GetObjectItem(s, "findings");
    cr_assert_not_null(strstr(cJSON_GetStringValue(cJSON_GetArrayItem(fi, 0)),
                              "XTS stores do not detect tampering unless created with an "
                              "integrity option (CMK-INT-02, not_applicable: 16 bytes garbled)"));
    int del_failed = 0, names = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, fi)
    {
        del_failed +=
            strcmp(cJSON_GetStringValue(f), "CMK-DEL-01 failed: first refusal after 3.20 s") == 0;
        names += strstr(cJSON_GetStringValue(f),
                        "cmk-fs (the FUSE filesystem under PostgreSQL) "
                        "encrypts file contents only: file and folder "
                        "names, sizes") != NULL;
    }
    cr_assert_eq(del_failed, 1);
    cr_assert_eq(names, 1, "the plaintext-names finding of cmk-fs is listed once");
    cJSON_Delete(s);
    char path[128];
    snprintf(path, sizeof(path), "%s/compliance.md", tl_suite_dir);
    cr_assert_eq(comp_report_write_md(&r, path), 0);
    size_t len = 0;
    char *md = vmt_read_file(path, &len);
    cr_assert_eq(strncmp(md,
                         "# Compliance\n\n## Summary\n\n### Verdict per NIST SP 800-53 rev 5 "
                         "control\n",
                         61),
                 0, "%s", md);
    cr_assert_not_null(strstr(md,
                              "| SC-28(1) | Cryptographic Protection | not-satisfied | "
                              "CMK-DEL-01 fail |"),
                       "%s", md);
    cr_assert_not_null(strstr(md, "| GCM IV not 96 bits | 7 |"), "%s", md);
    cr_assert_not_null(strstr(md, "## Seed claims and the controls that test them"), "%s", md);
    free(md);
    comp_report_cleanup(&r);
}
