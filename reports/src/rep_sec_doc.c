/*
 * rep_sec_doc.c - the report's sections drawn from compliance.json and
 * gate.json: compliance controls, known-answer tests and the regression gate
 * (see rep_report_int.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rep_report_int.h"

/* Any JSON value as display text: strings as is, arrays joined with "; ", objects as compact JSON.
 */
static void json_text(const cJSON *v, char *out, size_t out_len)
{
    out[0] = '\0';
    if (v == NULL || cJSON_IsNull(v)) {
        return;
    }
    if (cJSON_IsString(v)) {
        snprintf(out, out_len, "%s", v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        snprintf(out, out_len, "%.10g", v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        snprintf(out, out_len, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsArray(v)) {
        size_t off = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, v)
        {
            char part[1024];
            json_text(it, part, sizeof(part));
            if (off < out_len) {
                off += (size_t)snprintf(out + off, out_len - off, "%s%s", off ? "; " : "", part);
            }
        }
    } else {
        char *s = cJSON_PrintUnformatted(v);
        if (s != NULL) {
            snprintf(out, out_len, "%s", s);
            free(s);
        }
    }
}

static enum rep_cls verdict_cls(const char *v)
{
    if (v == NULL) {
        return REP_CLS_NONE;
    }
    if (strcmp(v, "pass") == 0) {
        return REP_CLS_PASS;
    }
    if (strcmp(v, "fail") == 0 || strcmp(v, "regression") == 0 || strcmp(v, "REGRESSION") == 0) {
        return REP_CLS_FAIL;
    }
    return REP_CLS_NA;
}

void rr_section_controls(struct rep_doc *d, const struct rr_inputs *in)
{
    rep_doc_h2(d, REP_H_CONTROLS);
    char t[1400];
    if (in->compliance == NULL) {
        snprintf(t, sizeof(t),
                 "compliance.json not found at %s: controls " REP_NOT_MEASURED
                 " (run make compliance).",
                 in->o->compliance_path);
        rep_doc_missing(d, t);
        return;
    }
    const cJSON *controls = cJSON_GetObjectItemCaseSensitive(in->compliance, "controls");
    if (!cJSON_IsArray(controls) || cJSON_GetArraySize(controls) == 0) {
        rep_doc_missing(d,
                        "compliance.json has no 'controls' array: controls " REP_NOT_MEASURED ".");
        return;
    }
    size_t pass = 0, fail = 0, na = 0, other = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, controls)
    {
        const char *v = rep_json_str(c, "verdict");
        if (v != NULL && strcmp(v, "pass") == 0) {
            pass++;
        } else if (v != NULL && strcmp(v, "fail") == 0) {
            fail++;
        } else if (v != NULL && strcmp(v, "not_applicable") == 0) {
            na++;
        } else {
            other++;
        }
    }
    snprintf(t, sizeof(t), "%d controls: %zu pass, %zu fail, %zu not applicable%s.",
             cJSON_GetArraySize(controls), pass, fail, na,
             other ? ", some without a valid verdict" : "");
    rep_doc_p(d, t);
    static const char *const head[] = {"id",       "control",  "statement", "method",
                                       "evidence", "measured", "verdict",   "reason"};
    rep_doc_table_begin(d, 8, head, "llllllll");
    cJSON_ArrayForEach(c, controls)
    {
        static const char *const fields[] = {"id",       "title",    "statement", "method",
                                             "evidence", "measured", "verdict",   "reason"};
        char buf[8][1024];
        const char *row[8];
        enum rep_cls cls[8] = {0};
        for (size_t i = 0; i < 8; i++) {
            json_text(cJSON_GetObjectItemCaseSensitive(c, fields[i]), buf[i], sizeof(buf[i]));
            row[i] = buf[i];
        }
        if (buf[6][0] == '\0') {
            snprintf(buf[6], sizeof(buf[6]), "(none)");
        }
        cls[6] = verdict_cls(rep_json_str(c, "verdict"));
        rep_doc_table_row(d, 8, row, cls);
    }
    rep_doc_table_end(d);
}

/* A table of |cols| string members of every object of |arr|; |cls_col| (or -1) is a verdict. */
static void summary_table(struct rep_doc *d, const cJSON *arr, size_t ncols,
                          const char *const *head, const char *const *fields, int cls_col)
{
    rep_doc_table_begin(d, ncols, head, "llll");
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        char buf[4][1024];
        const char *row[4];
        enum rep_cls cls[4] = {0};
        for (size_t i = 0; i < ncols && i < 4; i++) {
            json_text(cJSON_GetObjectItemCaseSensitive(it, fields[i]), buf[i], sizeof(buf[i]));
            row[i] = buf[i];
        }
        if (cls_col >= 0) {
            const char *v = buf[cls_col];
            cls[cls_col] = strcmp(v, "satisfied") == 0 || strcmp(v, "pass") == 0 ? REP_CLS_PASS
                           : strcmp(v, "not-satisfied") == 0 || strcmp(v, "fail") == 0
                               ? REP_CLS_FAIL
                               : REP_CLS_NA;
        }
        rep_doc_table_row(d, ncols, row, cls);
    }
    rep_doc_table_end(d);
}

void rr_section_summary(struct rep_doc *d, const struct rr_inputs *in)
{
    rep_doc_h2(d, REP_H_SUMMARY);
    const cJSON *s = in->compliance != NULL
                         ? cJSON_GetObjectItemCaseSensitive(in->compliance, "summary_page")
                         : NULL;
    if (!cJSON_IsObject(s)) {
        char t[1200];
        snprintf(t, sizeof(t),
                 "%s has no one-page summary: " REP_NOT_MEASURED
                 " (run make compliance with this version).",
                 in->compliance != NULL ? in->o->compliance_path : "compliance.json (not found)");
        rep_doc_missing(d, t);
        return;
    }
    rep_doc_h3(d, "Verdict per NIST SP 800-53 rev 5 control");
    static const char *const sp_head[] = {"control", "title", "verdict", "from"};
    static const char *const sp_fields[] = {"label", "title", "state", "controls"};
    summary_table(d, cJSON_GetObjectItemCaseSensitive(s, "sp800_53"), 4, sp_head, sp_fields, 2);
    rep_doc_h3(d, "Time to inaccessible and CMK/SMK throughput (measured)");
    static const char *const m_head[] = {"after / what", "control", "verdict", "measured"};
    static const char *const m_fields[] = {"event", "control", "verdict", "measured"};
    summary_table(d, cJSON_GetObjectItemCaseSensitive(s, "inaccessible"), 4, m_head, m_fields, 2);
    summary_table(d, cJSON_GetObjectItemCaseSensitive(s, "throughput"), 4, m_head, m_fields, 2);
    rep_doc_h3(d, "Known-answer vectors");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "vectors");
    char t[600];
    snprintf(t, sizeof(t),
             "%.0f files (%.0f back-end rows): %.0f passed, %.0f failed, %.0f skipped; %.0f of "
             "%.0f cases of the engine's own key size (AES-256) ran.",
             rep_json_num(v, "files"), rep_json_num(v, "rows"), rep_json_num(v, "passed"),
             rep_json_num(v, "failed"), rep_json_num(v, "skipped"), rep_json_num(v, "key_ran"),
             rep_json_num(v, "key_cases"));
    rep_doc_p(d, t);
    static const char *const r_head[] = {"skipped because", "cases"};
    static const char *const r_fields[] = {"reason", "count"};
    summary_table(d, cJSON_GetObjectItemCaseSensitive(v, "skip_reasons"), 2, r_head, r_fields, -1);
    rep_doc_h3(d, "Findings");
    const cJSON *f;
    int any = 0;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(s, "findings"))
    {
        if (cJSON_IsString(f)) {
            rep_doc_p(d, f->valuestring);
            any = 1;
        }
    }
    if (!any) {
        rep_doc_p(d, "None.");
    }
}

void rr_section_kats(struct rep_doc *d, const struct rr_inputs *in)
{
    rep_doc_h2(d, REP_H_KATS);
    char t[1400];
    if (in->compliance == NULL) {
        snprintf(t, sizeof(t),
                 "compliance.json not found at %s: KAT counts " REP_NOT_MEASURED
                 " (run make compliance).",
                 in->o->compliance_path);
        rep_doc_missing(d, t);
        return;
    }
    const cJSON *kats = cJSON_GetObjectItemCaseSensitive(in->compliance, "kats");
    if (!cJSON_IsArray(kats) || cJSON_GetArraySize(kats) == 0) {
        rep_doc_missing(d, "compliance.json has no 'kats' array: KAT counts " REP_NOT_MEASURED ".");
        return;
    }
    static const char *const head[] = {"file",   "back end", "arch",       "passed",
                                       "failed", "skipped",  "skip reason"};
    rep_doc_table_begin(d, 7, head, "lllrrrl");
    double tp = 0, tf = 0, ts = 0;
    const cJSON *k;
    cJSON_ArrayForEach(k, kats)
    {
        char buf[7][1024];
        const char *row[7];
        enum rep_cls cls[7] = {0};
        static const char *const fields[] = {"file",   "backend", "arch",       "passed",
                                             "failed", "skipped", "skip_reason"};
        for (size_t i = 0; i < 7; i++) {
            json_text(cJSON_GetObjectItemCaseSensitive(k, fields[i]), buf[i], sizeof(buf[i]));
            row[i] = buf[i];
        }
        double p = rep_json_num(k, "passed"), f = rep_json_num(k, "failed"),
               s = rep_json_num(k, "skipped");
        tp += isnan(p) ? 0 : p;
        tf += isnan(f) ? 0 : f;
        ts += isnan(s) ? 0 : s;
        cls[4] = f > 0 ? REP_CLS_FAIL : REP_CLS_NONE;
        rep_doc_table_row(d, 7, row, cls);
    }
    char a[32], b[32], c[32];
    snprintf(a, sizeof(a), "%.0f", tp);
    snprintf(b, sizeof(b), "%.0f", tf);
    snprintf(c, sizeof(c), "%.0f", ts);
    const char *row[] = {"total", "", "", a, b, c, ""};
    enum rep_cls cls[7] = {0, 0, 0, 0, tf > 0 ? REP_CLS_FAIL : REP_CLS_PASS, 0, 0};
    rep_doc_table_row(d, 7, row, cls);
    rep_doc_table_end(d);
}

void rr_section_gate(struct rep_doc *d, const struct rr_inputs *in)
{
    rep_doc_h2(d, REP_H_GATE);
    char t[2400];
    if (in->gate == NULL) {
        snprintf(t, sizeof(t), "gate.json not found at %s: no gate verdicts yet (run make gate).",
                 in->o->gate_path);
        rep_doc_missing(d, t);
        return;
    }
    const cJSON *g = in->gate;
    const char *verdict = rep_json_str(g, "verdict");
    snprintf(
        t, sizeof(t),
        "Verdict: %s. %.0f metrics compared, %.0f regressions, %.0f improved, %.0f not compared. "
        "Baseline %s (commit %s), new %s (commit %s).",
        verdict != NULL ? (strcmp(verdict, "pass") == 0 ? "PASS" : "REGRESSION") : "?",
        rep_json_num(g, "compared"), rep_json_num(g, "regressions"),
        rep_json_num(g, "improvements"), rep_json_num(g, "not_compared"),
        rep_json_str(g, "baseline") ? rep_json_str(g, "baseline") : "?",
        rep_json_str(g, "baseline_commit") ? rep_json_str(g, "baseline_commit") : "?",
        rep_json_str(g, "new") ? rep_json_str(g, "new") : "?",
        rep_json_str(g, "new_commit") ? rep_json_str(g, "new_commit") : "?");
    rep_doc_p(d, t);
    if (rr_gate_is_ab(g)) {
        rr_gate_ab_intro(d, g);
    }
    const char *corr = rep_json_str(g, "correction");
    const char *test = rep_json_str(g, "test");
    if (test != NULL && test[0] != '\0') {
        /* gate.json says how it decided (Mann-Whitney on samples, or the run-level model) */
        snprintf(t, sizeof(t), "Mode: %s. Test: %s.",
                 rep_json_str(g, "mode") ? rep_json_str(g, "mode") : "?", test);
    } else {
        snprintf(
            t, sizeof(t),
            "Mode: %s. Test: one-sided Mann-Whitney U at alpha %g (%s); a regression also needs a "
            "change larger than %g%%; interval: bootstrap of the ratio of medians.",
            rep_json_str(g, "mode") ? rep_json_str(g, "mode") : "?", rep_json_num(g, "alpha"),
            corr != NULL && strcmp(corr, "holm") == 0 ? "Holm-Bonferroni over the compared metrics"
                                                      : "p not adjusted for the number of metrics",
            rep_json_num(g, "min_effect") * 100);
    }
    rep_doc_p(d, t);
    const char *notes = rep_json_str(g, "notes");
    if (notes != NULL && notes[0] != '\0') {
        snprintf(t, sizeof(t), "Notes: %s.", notes);
        rep_doc_missing(d, t);
    }
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(g, "metrics");
    if (!cJSON_IsArray(ms)) {
        return;
    }
    const char *head[] = {"metric",    "kind",       rr_gate_is_ab(g) ? "reference" : "baseline",
                          "new",       "change",     "CI of change",
                          "p (worse)", "p adjusted", "verdict"};
    rep_doc_table_begin(d, 9, head, "llrrrrrrl");
    /* regressions first, then improvements, passes, and what was not compared */
    static const char *const order[] = {"REGRESSION", "improved", "pass", NULL};
    for (size_t pass = 0; pass < 4; pass++) {
        const cJSON *m;
        cJSON_ArrayForEach(m, ms)
        {
            const char *vv = rep_json_str(m, "verdict");
            int known = 0;
            for (size_t k = 0; k < 3; k++) {
                known |= vv != NULL && strcmp(vv, order[k]) == 0;
            }
            if (pass < 3 ? (vv == NULL || strcmp(vv, order[pass]) != 0) : known) {
                continue;
            }
            char b[32], n[32], c[32], ci[64], p[32], pa[32];
            const char *unit = rep_json_str(m, "unit");
            enum rr_nstyle f = unit != NULL && strcmp(unit, "ratio") == 0 ? RR_F3 : RR_G3;
            rr_fmt(b, sizeof(b), f, rep_json_num(m, "baseline_median"));
            rr_fmt(n, sizeof(n), f, rep_json_num(m, "new_median"));
            rr_fmt(c, sizeof(c), RR_PCT, rep_json_num(m, "change"));
            double lo = rep_json_num(m, "ci_low"), hi = rep_json_num(m, "ci_high");
            rr_fmt_ci(ci, sizeof(ci), RR_PCT, lo, hi);
            rr_fmt(p, sizeof(p), RR_G3, rep_json_num(m, "p_worse"));
            rr_fmt(pa, sizeof(pa), RR_G3, rep_json_num(m, "p_worse_adjusted"));
            const char *v = rep_json_str(m, "verdict");
            const char *row[] = {rep_json_str(m, "name") ? rep_json_str(m, "name") : "?",
                                 rep_json_str(m, "type") ? rep_json_str(m, "type") : "",
                                 b,
                                 n,
                                 c,
                                 ci,
                                 p,
                                 pa,
                                 v ? v : "?"};
            enum rep_cls cls[9] = {0};
            cls[8] = v == NULL                                              ? REP_CLS_NONE
                     : strcmp(v, "REGRESSION") == 0                         ? REP_CLS_FAIL
                     : strcmp(v, "pass") == 0 || strcmp(v, "improved") == 0 ? REP_CLS_PASS
                                                                            : REP_CLS_NA;
            rep_doc_table_row(d, 9, row, cls);
        }
    }
    rep_doc_table_end(d);
    if (rr_gate_is_ab(g)) {
        rr_gate_ab_plot(d, g);
    }
}
