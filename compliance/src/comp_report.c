/*
 * comp_report.c - the JSON, JUnit XML and Markdown renderings of the
 * compliance results (see comp_report.h); the results themselves are in
 * comp_result.c.
 */
#include "comp_report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base_buf.h"
#include "comp_oscal.h"
#include "rep_bench.h"
#include "rep_junit.h"

static void vappend(char *buf, size_t cap, const char *sep, const char *fmt, va_list ap)
{
    size_t len = strlen(buf);
    if (len > 0 && sep != NULL && len + strlen(sep) < cap) {
        memcpy(buf + len, sep, strlen(sep) + 1);
        len += strlen(sep);
    }
    if (len + 1 < cap) {
        vsnprintf(buf + len, cap - len, fmt, ap);
    }
}

void comp_control_add_evidence(struct comp_control *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vappend(c->evidence, sizeof(c->evidence), "\n", fmt, ap);
    va_end(ap);
}

void comp_control_set(struct comp_control *c, enum comp_verdict v, const char *fmt, ...)
{
    if (c->verdict == COMP_VERDICT_FAIL && v != COMP_VERDICT_FAIL) {
        return;
    }
    if (v == COMP_VERDICT_FAIL && c->verdict != COMP_VERDICT_FAIL) {
        c->reason[0] = '\0'; /* the failure is what a reader needs first */
    }
    c->verdict = v;
    va_list ap;
    va_start(ap, fmt);
    vappend(c->reason, sizeof(c->reason), "; ", fmt, ap);
    va_end(ap);
}

/* ---- JSON ---------------------------------------------------------------------- */

static cJSON *evidence_array(const char *ev)
{
    cJSON *a = cJSON_CreateArray();
    const char *p = ev;
    while (a != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        char *item = malloc(n + 1);
        if (item == NULL) {
            cJSON_Delete(a);
            return NULL;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        cJSON_AddItemToArray(a, cJSON_CreateString(item));
        free(item);
        p += n + (nl != NULL);
    }
    return a;
}

static void summary(const struct comp_report *r, unsigned long *out)
{
    /* pass, fail, na, rows, passed, failed, skipped */
    memset(out, 0, 7 * sizeof(*out));
    for (size_t i = 0; i < r->num_controls; i++) {
        out[r->controls[i].verdict == COMP_VERDICT_PASS   ? 0
            : r->controls[i].verdict == COMP_VERDICT_FAIL ? 1
                                                          : 2]++;
    }
    out[3] = r->num_kats;
    for (size_t i = 0; i < r->num_kats; i++) {
        out[4] += r->kats[i].passed;
        out[5] += r->kats[i].failed;
        out[6] += r->kats[i].skipped;
    }
}

static unsigned long count_files(const struct comp_report *r)
{
    unsigned long n = 0;
    for (size_t i = 0; i < r->num_kats; i++) {
        n += i == 0 || strcmp(r->kats[i].file, r->kats[i - 1].file) != 0;
    }
    return n;
}

cJSON *comp_report_json(const struct comp_report *r)
{
    cJSON *root = cJSON_CreateObject();
    if (root == NULL) {
        return NULL;
    }
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(root, "schema", COMP_REPORT_SCHEMA);
    cJSON_AddNumberToObject(root, "schema_version", COMP_REPORT_SCHEMA_VERSION);
    cJSON_AddStringToObject(root, "generated", when);
    cJSON_AddStringToObject(root, "tool", "cmk-compliance");
    unsigned long s[7];
    summary(r, s);
    cJSON *sum = cJSON_AddObjectToObject(root, "summary");
    cJSON_AddNumberToObject(sum, "controls_pass", (double)s[0]);
    cJSON_AddNumberToObject(sum, "controls_fail", (double)s[1]);
    cJSON_AddNumberToObject(sum, "controls_not_applicable", (double)s[2]);
    cJSON_AddNumberToObject(sum, "kat_files", (double)count_files(r));
    cJSON_AddNumberToObject(sum, "kat_rows", (double)s[3]);
    cJSON_AddNumberToObject(sum, "kat_passed", (double)s[4]);
    cJSON_AddNumberToObject(sum, "kat_failed", (double)s[5]);
    cJSON_AddNumberToObject(sum, "kat_skipped", (double)s[6]);
    cJSON *controls = cJSON_AddArrayToObject(root, "controls");
    for (size_t i = 0; i < r->num_controls; i++) {
        const struct comp_control *c = &r->controls[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(controls, o);
        cJSON_AddStringToObject(o, "id", c->id);
        cJSON_AddStringToObject(o, "title", c->title);
        cJSON_AddStringToObject(o, "statement", c->statement);
        cJSON_AddStringToObject(o, "method", c->method);
        cJSON *ev = evidence_array(c->evidence);
        if (ev != NULL) {
            cJSON_AddItemToObject(o, "evidence", ev);
        }
        cJSON_AddStringToObject(o, "measured", c->measured);
        cJSON_AddStringToObject(o, "verdict", comp_verdict_name(c->verdict));
        cJSON_AddStringToObject(o, "reason", c->reason);
        cJSON_AddNumberToObject(o, "seconds", c->seconds);
    }
    cJSON *kats = cJSON_AddArrayToObject(root, "kats");
    for (size_t i = 0; i < r->num_kats; i++) {
        const struct comp_kat_row *k = &r->kats[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(kats, o);
        cJSON_AddStringToObject(o, "file", k->file);
        cJSON_AddStringToObject(o, "kind", k->kind);
        cJSON_AddStringToObject(o, "backend", k->backend);
        cJSON_AddStringToObject(o, "arch", k->arch);
        cJSON_AddNumberToObject(o, "passed", (double)k->passed);
        cJSON_AddNumberToObject(o, "failed", (double)k->failed);
        cJSON_AddNumberToObject(o, "skipped", (double)k->skipped);
        cJSON_AddNumberToObject(o, "acceptable", (double)k->acceptable);
        cJSON_AddNumberToObject(o, "key_cases", (double)k->key_cases);
        cJSON_AddNumberToObject(o, "key_ran", (double)k->key_ran);
        cJSON_AddStringToObject(o, "skip_reason", k->skip_reason);
        cJSON_AddStringToObject(o, "detail", k->detail);
    }
    cJSON *page = comp_summary_json(r);
    if (page != NULL) {
        cJSON_AddItemToObject(root, "summary_page", page);
    }
    return root;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -1;
}

int comp_report_write_json(const struct comp_report *r, const char *path)
{
    cJSON *root = comp_report_json(r);
    char *text = root != NULL ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (text == NULL) {
        errno = ENOMEM;
        return -1;
    }
    struct base_buf b;
    base_buf_init(&b, SIZE_MAX, 0);
    int ok = base_buf_append_str(&b, text, NULL) == 0 && base_buf_append_str(&b, "\n", NULL) == 0;
    free(text);
    int rc = ok ? write_text(path, base_buf_str(&b)) : -1;
    base_buf_free(&b);
    if (!ok) {
        errno = ENOMEM;
    }
    return rc;
}

/* ---- JUnit XML ------------------------------------------------------------------- */

/*
 * One test case per vector file; what every back end's row of that file
 * says goes to |out| (the suite's system-out: the schema has no per-case
 * output).
 */
static void junit_kat_file(FILE *f, FILE *out, const struct comp_report *r, size_t first,
                           size_t end)
{
    unsigned long failed = 0, ran = 0;
    for (size_t i = first; i < end; i++) {
        failed += r->kats[i].failed;
        ran += r->kats[i].passed + r->kats[i].failed;
    }
    fputs("    <testcase classname=\"compliance.kat\" name=\"", f);
    rep_fput_xml(f, r->kats[first].file);
    fputs("\" time=\"0\">\n", f);
    if (failed > 0) {
        fprintf(f, "      <failure type=\"vector-failed\" message=\"%lu vectors failed\">", failed);
        for (size_t i = first; i < end; i++) {
            if (r->kats[i].failed > 0 || r->kats[i].detail[0] != '\0') {
                fprintf(f, "%s/%s: ", r->kats[i].backend, r->kats[i].arch);
                rep_fput_xml(f, r->kats[i].detail);
                fputs("&#10;", f);
            }
        }
        fputs("</failure>\n", f);
    } else if (ran == 0) {
        fputs("      <skipped message=\"", f);
        rep_fput_xml(
            f, r->kats[first].skip_reason[0] ? r->kats[first].skip_reason : r->kats[first].detail);
        fputs("\"/>\n", f);
    }
    fputs("    </testcase>\n", f);
    for (size_t i = first; i < end; i++) {
        const struct comp_kat_row *k = &r->kats[i];
        fprintf(out, "%s %s %s/%s: %lu passed, %lu failed, %lu skipped, %lu acceptable", k->file,
                k->kind, k->backend, k->arch, k->passed, k->failed, k->skipped, k->acceptable);
        if (k->key_cases > 0) {
            fprintf(out, "; %lu of %lu AES-256 cases ran", k->key_ran, k->key_cases);
        }
        if (k->skip_reason[0] != '\0') {
            fprintf(out, " (%s)", k->skip_reason);
        }
        fputc('\n', out);
    }
}

#define JUNIT_PROPERTIES                                                               \
    "    <properties>\n      <property name=\"tool\" value=\"bin/cmk-compliance\"/>\n" \
    "    </properties>\n"

int comp_report_write_junit(const struct comp_report *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    unsigned long s[7];
    summary(r, s);
    unsigned long files = count_files(r);
    unsigned long kat_failed_files = 0, kat_skipped_files = 0;
    for (size_t i = 0; i < r->num_kats;) {
        size_t j = i;
        unsigned long failed = 0, ran = 0;
        while (j < r->num_kats && strcmp(r->kats[j].file, r->kats[i].file) == 0) {
            failed += r->kats[j].failed;
            ran += r->kats[j].passed + r->kats[j].failed;
            j++;
        }
        kat_failed_files += failed > 0;
        kat_skipped_files += failed == 0 && ran == 0;
        i = j;
    }
    double ctl_time = 0;
    for (size_t i = 0; i < r->num_controls; i++) {
        ctl_time += r->controls[i].seconds;
    }
    /* each suite's system-out is gathered in memory while its cases are written */
    char *text = NULL;
    size_t text_len = 0;
    FILE *out = NULL;
    int id = 0, rc = 0;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", f);
    if (r->num_controls > 0 && (out = open_memstream(&text, &text_len)) != NULL) {
        struct rep_junit_suite suite = {"compliance.controls",
                                        "cmk-harness.compliance",
                                        id++,
                                        (unsigned long)r->num_controls,
                                        s[1],
                                        0,
                                        s[2],
                                        ctl_time};
        rep_junit_suite_open(f, 2, &suite);
        fputs(JUNIT_PROPERTIES, f);
        for (size_t i = 0; i < r->num_controls; i++) {
            const struct comp_control *c = &r->controls[i];
            fputs("    <testcase classname=\"compliance.controls\" name=\"", f);
            rep_fput_xml(f, c->id);
            fputs(" ", f);
            rep_fput_xml(f, c->title);
            fprintf(f, "\" time=\"%.3f\">\n", c->seconds);
            if (c->verdict == COMP_VERDICT_FAIL) {
                fputs("      <failure type=\"control-failed\" message=\"", f);
                rep_fput_xml(f, c->reason);
                fputs("\">", f);
                rep_fput_xml(f, c->evidence);
                fputs("</failure>\n", f);
            } else if (c->verdict == COMP_VERDICT_NOT_APPLICABLE) {
                fputs("      <skipped message=\"not applicable: ", f);
                rep_fput_xml(f, c->reason);
                fputs("\"/>\n", f);
            }
            fputs("    </testcase>\n", f);
            fprintf(out, "%s %s: measured: %s\n%s\n", c->id, comp_verdict_name(c->verdict),
                    c->measured, c->evidence);
        }
        fclose(out);
        rep_junit_suite_close(f, 2, text);
        free(text);
        text = NULL;
    } else if (r->num_controls > 0) {
        rc = -1;
    }
    if (files > 0 && (out = open_memstream(&text, &text_len)) != NULL) {
        struct rep_junit_suite suite = {"compliance.kat",
                                        "cmk-harness.compliance",
                                        id++,
                                        files,
                                        kat_failed_files,
                                        0,
                                        kat_skipped_files,
                                        0};
        rep_junit_suite_open(f, 2, &suite);
        fputs(JUNIT_PROPERTIES, f);
        for (size_t i = 0; i < r->num_kats;) {
            size_t j = i;
            while (j < r->num_kats && strcmp(r->kats[j].file, r->kats[i].file) == 0) {
                j++;
            }
            junit_kat_file(f, out, r, i, j);
            i = j;
        }
        fclose(out);
        rep_junit_suite_close(f, 2, text);
        free(text);
    } else if (files > 0) {
        rc = -1;
    }
    if (rc != 0) {
        fclose(f);
        errno = ENOMEM;
        return -1;
    }
    fputs("</testsuites>\n", f);
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- Markdown ---------------------------------------------------------------------- */

/* The verdict of control |id| in |r| ("pass", ...), "not run" when absent. */
static const char *verdict_of(const struct comp_report *r, const char *id)
{
    if (strcmp(id, "CMK-KAT-01") == 0 && r->num_kats > 0) {
        for (size_t i = 0; i < r->num_kats; i++) {
            if (r->kats[i].failed > 0) {
                return "fail";
            }
        }
        return "pass";
    }
    for (size_t i = 0; i < r->num_controls; i++) {
        if (strcmp(r->controls[i].id, id) == 0) {
            return comp_verdict_name(r->controls[i].verdict);
        }
    }
    return "not run";
}

/* The SP 800-53 mapping (compliance/sp800-53-map.tsv, the one source) with this run's verdicts. */
static void md_mapping(FILE *f, const struct comp_report *r)
{
    fputs(
        "## NIST SP 800-53 rev 5 mapping\n\n"
        "From compliance/sp800-53-map.tsv (CMK-KAT-01 stands for the known-answer vectors; "
        "DB-* are the PostgreSQL controls of issue 15). "
        "assessment-results.json holds the same as OSCAL.\n\n"
        "| control | verdict | SP 800-53 rev 5 | rationale |\n|---|---|---|---|\n",
        f);
    for (size_t i = 0; i < comp_sp_map_len; i++) {
        const struct comp_sp_map *m = &comp_sp_map[i];
        fprintf(f, "| %s | %s | ", m->control, verdict_of(r, m->control));
        char ids[256];
        snprintf(ids, sizeof(ids), "%s", m->sp_ids);
        char *save = NULL;
        const char *sep = "";
        for (char *t = strtok_r(ids, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
            char label[32];
            comp_sp_label(t, label, sizeof(label));
            fprintf(f, "%s%s", sep, label);
            sep = ", ";
        }
        fputs(" | ", f);
        comp_md_cell(f, m->rationale);
        fputs(" |\n", f);
    }
    fputs("\n", f);
}

/* The seeds' claims and the controls that test them. */
static void md_claims(FILE *f, const struct comp_report *r)
{
    static const struct {
        const char *claim, *source, *controls;
    } claims[] = {
        {"Enabling encryption doesn't have any extra performance effect with or without "
         "customer-managed keys.",
         "concepts", "CMK-PERF-01"},
        {"You fully control data access with the ability to remove the key and make the "
         "database inaccessible.",
         "concepts, announcement", "CMK-DEL-01, CMK-DEL-02, CMK-DEL-03, CMK-DEL-05, DB-DEL"},
        {"Deletion of the KEK effectively deletes the DEKs.", "concepts",
         "CMK-DEL-01, CMK-DEL-05, CMK-COV-02, DB-DEL, DB-BAK"},
        {"All Data including backups and temporary files created while running queries are "
         "encrypted on disk.",
         "concepts",
         "CMK-COV-01, CMK-DEL-05 (backups unreadable after purge), DB-COV, DB-BAK (PostgreSQL)"},
        {"A Key Vault administrator gives the following access rights to the server: get, "
         "wrapKey, unwrapKey.",
         "concepts", "CMK-SOD-01, CMK-DEL-03"},
        {"Separation of duties between security officers, database administrators and system "
         "administrators.",
         "concepts, announcement", "CMK-SOD-02"},
        {"Full control over the key lifecycle, including rotation of the key.",
         "concepts, announcement", "CMK-ROT-01, CMK-DEL-02, CMK-DEL-04"},
        {"Logging of Key Vault audit events, so they can be audited later.", "concepts",
         "CMK-AUD-01"},
        {"Supported key types: RSA 2048, 3071 [sic], 4096.", "announcement",
         "CMK-POL-01 (1024 refused; 2048, 3072, 4096 accepted)"},
        {"The DEKs, encrypted with the KEKs, are stored separately; only an entity with access "
         "to the KEK can decrypt these DEKs.",
         "concepts", "CMK-COV-02"},
        {"The service uses the AES 256-bit cipher (FIPS 140-2 validated module).", "concepts",
         "CMK-KAT-01 (known-answer vectors; no FIPS validation is claimed by this harness)"},
    };
    fputs(
        "## Seed claims and the controls that test them\n\n"
        "Claims of ../shared/seeds (concepts-customer-managed-keys.md, "
        "announcement-cmk-public-preview.txt).\n\n"
        "| claim | seed | tested by | verdicts in this run |\n|---|---|---|---|\n",
        f);
    for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
        fprintf(f, "| %s | %s | %s | ", claims[i].claim, claims[i].source, claims[i].controls);
        const char *p = claims[i].controls;
        const char *sep = "";
        while ((p = strstr(p, "CMK-")) != NULL) {
            size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
            char id[32];
            snprintf(id, sizeof(id), "%.*s", (int)(n < sizeof(id) ? n : sizeof(id) - 1), p);
            fprintf(f, "%s%s %s", sep, id, verdict_of(r, id));
            sep = ", ";
            p += n;
        }
        fputs(" |\n", f);
    }
    fputs("\n", f);
}

int comp_report_write_md(const struct comp_report *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    unsigned long s[7];
    summary(r, s);
    fputs("# Compliance\n\n", f);
    cJSON *page = comp_summary_json(r);
    if (page != NULL) {
        comp_summary_md(f, page);
        cJSON_Delete(page);
    }
    fputs("## All results\n\n", f);
    fprintf(f,
            "Controls: %lu pass, %lu fail, %lu not applicable. Known-answer vectors: %lu files, "
            "%lu passed, %lu failed, %lu skipped.\n\n",
            s[0], s[1], s[2], count_files(r), s[4], s[5], s[6]);
    if (r->num_controls > 0) {
        fputs(
            "## Lifecycle controls\n\n| id | title | verdict | measured | reason |\n"
            "|---|---|---|---|---|\n",
            f);
        for (size_t i = 0; i < r->num_controls; i++) {
            const struct comp_control *c = &r->controls[i];
            fprintf(f, "| %s | ", c->id);
            comp_md_cell(f, c->title);
            fprintf(f, " | %s | ", comp_verdict_name(c->verdict));
            comp_md_cell(f, c->measured);
            fputs(" | ", f);
            comp_md_cell(f, c->reason);
            fputs(" |\n", f);
        }
        fputs("\n### Details\n\n", f);
        for (size_t i = 0; i < r->num_controls; i++) {
            const struct comp_control *c = &r->controls[i];
            fprintf(f, "#### %s %s: %s\n\n", c->id, c->title, comp_verdict_name(c->verdict));
            fprintf(f, "- statement: %s\n- method: %s\n- measured: %s\n- reason: %s\n- evidence:\n",
                    c->statement, c->method, c->measured, c->reason);
            const char *p = c->evidence;
            while (*p != '\0') {
                const char *nl = strchr(p, '\n');
                int n = nl != NULL ? (int)(nl - p) : (int)strlen(p);
                fprintf(f, "  - %.*s\n", n, p);
                p += n + (nl != NULL);
            }
            fputs("\n", f);
        }
    }
    if (r->num_kats > 0) {
        fputs(
            "## Known-answer vectors\n\n| file | kind | back end/path | passed | failed | skipped "
            "| acceptable | AES-256 cases run | skip reason / detail |\n"
            "|---|---|---|---|---|---|---|---|---|\n",
            f);
        for (size_t i = 0; i < r->num_kats; i++) {
            const struct comp_kat_row *k = &r->kats[i];
            fputs("| ", f);
            comp_md_cell(f, k->file);
            fprintf(f, " | %s | %s/%s | %lu | %lu | %lu | %lu | ", k->kind, k->backend, k->arch,
                    k->passed, k->failed, k->skipped, k->acceptable);
            if (k->key_cases > 0) {
                fprintf(f, "%lu of %lu | ", k->key_ran, k->key_cases);
            } else {
                fputs("- | ", f);
            }
            comp_md_cell(f, k->skip_reason);
            if (k->detail[0] != '\0') {
                fputs(k->skip_reason[0] ? "; " : "", f);
                comp_md_cell(f, k->detail);
            }
            fputs(" |\n", f);
        }
    }
    md_mapping(f, r);
    md_claims(f, r);
    return fclose(f) == 0 ? 0 : -1;
}
