/*
 * comp_summary.c - the one-page summary of a compliance run (see
 * comp_report.h): the verdict per SP 800-53 control, the measured time to
 * inaccessible after delete, disable and revoke, CMK/SMK throughput, the
 * vectors run/passed/skipped with the skip reasons, and the findings. It
 * is "summary_page" in compliance.json (cmk-report draws it at the top of
 * the HTML report) and the top of compliance.md.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comp_oscal.h"
#include "comp_report.h"

#define MAX_REASONS 24

static const struct comp_control *find(const struct comp_report *r, const char *id)
{
    for (size_t i = 0; i < r->num_controls; i++) {
        if (strcmp(r->controls[i].id, id) == 0) {
            return &r->controls[i];
        }
    }
    return NULL;
}

struct reason {
    char text[96];
    unsigned long count;
};

/* Adds the "N reason, M reason" items of |words| to |t| (acceptable counts are not skips). */
static void add_reasons(struct reason *t, size_t *n, const char *words)
{
    const char *p = words;
    while (p != NULL && *p != '\0') {
        char *end = NULL;
        unsigned long count = strtoul(p, &end, 10);
        const char *next = strstr(end, ", ");
        size_t len = next != NULL ? (size_t)(next - end) : strlen(end);
        while (len > 0 && *end == ' ') {
            end++;
            len--;
        }
        char text[96];
        snprintf(text, sizeof(text), "%.*s", (int)(len < sizeof(text) ? len : sizeof(text) - 1),
                 end);
        if (end != p && count > 0 && strncmp(text, "acceptable", 10) != 0) {
            size_t i = 0;
            while (i < *n && strcmp(t[i].text, text) != 0) {
                i++;
            }
            if (i == *n && *n < MAX_REASONS) {
                snprintf(t[(*n)++].text, sizeof(t[0].text), "%s", text);
            }
            if (i < *n) {
                t[i].count += count;
            }
        }
        p = next != NULL ? next + 2 : NULL;
    }
}

static void add_event(cJSON *arr, const struct comp_report *r, const char *event, const char *id)
{
    const struct comp_control *c = find(r, id);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", event);
    cJSON_AddStringToObject(o, "control", id);
    cJSON_AddStringToObject(o, "verdict", c != NULL ? comp_verdict_name(c->verdict) : "not run");
    cJSON_AddStringToObject(o, "measured", c != NULL ? c->measured : "");
    cJSON_AddItemToArray(arr, o);
}

cJSON *comp_summary_json(const struct comp_report *r)
{
    cJSON *s = cJSON_CreateObject();
    if (s == NULL || r == NULL) {
        return s;
    }
    /* verdict per SP 800-53 control */
    struct comp_sp_verdict *v = calloc(32, sizeof(*v));
    size_t nv = v != NULL ? comp_sp_judge(r, v, 32) : 0;
    cJSON *sp = cJSON_AddArrayToObject(s, "sp800_53");
    for (size_t i = 0; i < nv; i++) {
        cJSON *o = cJSON_CreateObject();
        char label[32];
        comp_sp_label(v[i].id, label, sizeof(label));
        cJSON_AddStringToObject(o, "id", v[i].id);
        cJSON_AddStringToObject(o, "label", label);
        cJSON_AddStringToObject(o, "title", comp_sp_title(v[i].id));
        cJSON_AddStringToObject(o, "state", v[i].satisfied ? "satisfied" : "not-satisfied");
        cJSON_AddStringToObject(o, "reason", v[i].reason);
        cJSON_AddStringToObject(o, "controls", v[i].by);
        cJSON_AddItemToArray(sp, o);
    }
    free(v);
    /* time to inaccessible, throughput */
    cJSON *ev = cJSON_AddArrayToObject(s, "inaccessible");
    add_event(ev, r, "delete", "CMK-DEL-01");
    add_event(ev, r, "disable", "CMK-DEL-02");
    add_event(ev, r, "revoke", "CMK-DEL-03");
    cJSON *tp = cJSON_AddArrayToObject(s, "throughput");
    add_event(tp, r, "CMK/SMK throughput", "CMK-PERF-01");
    /* vectors */
    struct comp_kat_totals t;
    comp_report_kat_totals(r, &t);
    struct reason reasons[MAX_REASONS];
    size_t nr = 0;
    memset(reasons, 0, sizeof(reasons));
    for (size_t i = 0; i < r->num_kats; i++) {
        add_reasons(reasons, &nr, r->kats[i].skip_reason);
    }
    cJSON *vec = cJSON_AddObjectToObject(s, "vectors");
    cJSON_AddNumberToObject(vec, "files", (double)t.files);
    cJSON_AddNumberToObject(vec, "rows", (double)r->num_kats);
    cJSON_AddNumberToObject(vec, "passed", (double)t.passed);
    cJSON_AddNumberToObject(vec, "failed", (double)t.failed);
    cJSON_AddNumberToObject(vec, "skipped", (double)t.skipped);
    cJSON_AddNumberToObject(vec, "key_cases", (double)t.key_cases);
    cJSON_AddNumberToObject(vec, "key_ran", (double)t.key_ran);
    cJSON *sr = cJSON_AddArrayToObject(vec, "skip_reasons");
    for (size_t i = 0; i < nr; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "reason", reasons[i].text);
        cJSON_AddNumberToObject(o, "count", (double)reasons[i].count);
        cJSON_AddItemToArray(sr, o);
    }
    /* findings */
    cJSON *fi = cJSON_AddArrayToObject(s, "findings");
    char text[1400];
    const struct comp_control *xts = find(r, "CMK-INT-02");
    if (xts != NULL) {
        const struct comp_control *gcm = find(r, "CMK-INT-01");
        snprintf(text, sizeof(text),
                 "XTS stores do not detect tampering unless created with an integrity option "
                 "(CMK-INT-02, %s: %s)%s%s.",
                 comp_verdict_name(xts->verdict), xts->measured,
                 gcm == NULL                         ? ""
                 : gcm->verdict == COMP_VERDICT_PASS ? "; GCM stores do (CMK-INT-01 pass)"
                                                     : "; GCM stores: CMK-INT-01 did not pass",
                 "");
        cJSON_AddItemToArray(fi, cJSON_CreateString(text));
    }
    if (r->num_controls > 0) {
        cJSON_AddItemToArray(
            fi, cJSON_CreateString(
                    "A store's size is visible without the key: the data file holds every unit "
                    "from creation (unit count x unit size) and the key table its geometry. The "
                    "engine keeps no file names of its own (a store is a device of fixed-size "
                    "units; its folder name is the caller's)."));
        cJSON_AddItemToArray(
            fi, cJSON_CreateString(
                    "cmk-fs (the FUSE filesystem under PostgreSQL) encrypts file contents only: "
                    "file and folder names, sizes, owners, modes and times stay plaintext in its "
                    "backing folder (see fs/README.md), as EDB's and pg_tde's documents say of "
                    "theirs."));
    }
    /* Evidence lines a control marks "FINDING: " (e.g. DB-BAK: pg_basebackup is plaintext). */
    for (size_t i = 0; i < r->num_controls; i++) {
        const struct comp_control *c = &r->controls[i];
        for (const char *e = c->evidence; (e = strstr(e, "FINDING: ")) != NULL; e += 9) {
            if (e == c->evidence || e[-1] == '\n') {
                snprintf(text, sizeof(text), "%s: %.*s", c->id, (int)strcspn(e + 9, "\n"), e + 9);
                cJSON_AddItemToArray(fi, cJSON_CreateString(text));
            }
        }
    }
    for (size_t i = 0; i < r->num_controls; i++) {
        const struct comp_control *c = &r->controls[i];
        if (c->verdict == COMP_VERDICT_FAIL) {
            snprintf(text, sizeof(text), "%s failed: %s", c->id, c->reason);
            cJSON_AddItemToArray(fi, cJSON_CreateString(text));
        } else if (c->verdict == COMP_VERDICT_NOT_APPLICABLE && c != xts) {
            snprintf(text, sizeof(text), "%s not decided: %s", c->id, c->reason);
            cJSON_AddItemToArray(fi, cJSON_CreateString(text));
        }
    }
    if (t.failed > 0) {
        snprintf(text, sizeof(text), "%lu vectors failed (see the known-answer table).", t.failed);
        cJSON_AddItemToArray(fi, cJSON_CreateString(text));
    }
    return s;
}

static const char *str(const cJSON *o, const char *name)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
    return v != NULL ? v : "";
}

static double num(const cJSON *o, const char *name)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

void comp_summary_md(FILE *f, const cJSON *s)
{
    const cJSON *it;
    fputs("## Summary\n\n### Verdict per NIST SP 800-53 rev 5 control\n\n", f);
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(s, "sp800_53");
    if (cJSON_GetArraySize(sp) == 0) {
        fputs("No control of this run maps to SP 800-53.\n\n", f);
    } else {
        fputs("| control | title | verdict | from |\n|---|---|---|---|\n", f);
        cJSON_ArrayForEach(it, sp)
        {
            fprintf(f, "| %s | %s | %s | ", str(it, "label"), str(it, "title"), str(it, "state"));
            comp_md_cell(f, str(it, "controls"));
            fputs(" |\n", f);
        }
        fputs("\n", f);
    }
    fputs("### Measured\n\n| what | control | verdict | measured |\n|---|---|---|---|\n", f);
    static const char *const groups[] = {"inaccessible", "throughput"};
    for (size_t g = 0; g < 2; g++) {
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(s, groups[g]))
        {
            fprintf(f, "| %s%s | %s | %s | ", g == 0 ? "time to inaccessible after " : "",
                    str(it, "event"), str(it, "control"), str(it, "verdict"));
            comp_md_cell(f, str(it, "measured"));
            fputs(" |\n", f);
        }
    }
    const cJSON *vec = cJSON_GetObjectItemCaseSensitive(s, "vectors");
    fprintf(f,
            "\n### Known-answer vectors\n\n%.0f files (%.0f back-end rows): %.0f passed, %.0f "
            "failed, %.0f skipped; %.0f of %.0f cases of the engine's own key size (AES-256) "
            "ran.\n\n",
            num(vec, "files"), num(vec, "rows"), num(vec, "passed"), num(vec, "failed"),
            num(vec, "skipped"), num(vec, "key_ran"), num(vec, "key_cases"));
    const cJSON *sr = cJSON_GetObjectItemCaseSensitive(vec, "skip_reasons");
    if (cJSON_GetArraySize(sr) > 0) {
        fputs("| skipped because | cases (summed over back ends) |\n|---|---|\n", f);
        cJSON_ArrayForEach(it, sr)
        {
            fputs("| ", f);
            comp_md_cell(f, str(it, "reason"));
            fprintf(f, " | %.0f |\n", num(it, "count"));
        }
        fputs("\n", f);
    }
    fputs("### Findings\n\n", f);
    const cJSON *fi = cJSON_GetObjectItemCaseSensitive(s, "findings");
    if (cJSON_GetArraySize(fi) == 0) {
        fputs("None.\n", f);
    }
    cJSON_ArrayForEach(it, fi)
    {
        fputs("- ", f);
        comp_md_cell(f, cJSON_GetStringValue(it));
        fputs("\n", f);
    }
    fputs("\n", f);
}
