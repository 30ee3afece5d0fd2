/*
 * rep_sec_ab.c - the A/B part of the report's gate section (gate.json with
 * model "ab", written by cmk-gate --ab): which builds were compared, and the
 * per-round paired ratios (new / reference of the same round) of every
 * flagged metric as a plot, so a reader sees whether a regression held in
 * every round or came from one.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rep_report_int.h"

/* 1 when gate.json |g| comes from the A/B gate. */
int rr_gate_is_ab(const cJSON *g)
{
    const char *model = rep_json_str(g, "model");
    return model != NULL && strcmp(model, "ab") == 0;
}

void rr_gate_ab_intro(struct rep_doc *d, const cJSON *g)
{
    const char *rc = rep_json_str(g, "baseline_commit"), *nc = rep_json_str(g, "new_commit");
    char t[600];
    snprintf(t, sizeof(t),
             "A/B in one job: reference commit %s and new commit %s, built side by side and "
             "measured in %.0f "
             "interleaved rounds on this machine; each metric is judged on its per-round paired "
             "differences "
             "(the reference column is the geometric mean of the reference runs, the change and "
             "its interval "
             "are new against reference).",
             rc != NULL && rc[0] != '\0' ? rc : "?", nc != NULL && nc[0] != '\0' ? nc : "?",
             rep_json_num(g, "baseline_runs"));
    rep_doc_p(d, t);
}

void rr_gate_ab_plot(struct rep_doc *d, const cJSON *g)
{
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(g, "metrics"), *m;
    struct rep_plot *p = calloc(1, sizeof(*p));
    if (p == NULL || !cJSON_IsArray(ms)) {
        free(p);
        return;
    }
    snprintf(p->name, sizeof(p->name), "gate-ab-rounds");
    snprintf(p->title, sizeof(p->title), "Flagged metrics: new / reference, round by round");
    snprintf(p->xlabel, sizeof(p->xlabel), "round");
    snprintf(p->ylabel, sizeof(p->ylabel), "new / reference (same round)");
    p->hline_one = 1;
    p->data_tics = 1;
    size_t flagged = 0;
    cJSON_ArrayForEach(m, ms)
    {
        const char *v = rep_json_str(m, "verdict"), *name = rep_json_str(m, "name");
        const cJSON *rr = cJSON_GetObjectItemCaseSensitive(m, "round_ratios"), *x;
        if (v == NULL || strcmp(v, "REGRESSION") != 0 || !cJSON_IsArray(rr)) {
            continue;
        }
        flagged++;
        int k = 0;
        cJSON_ArrayForEach(x, rr)
        {
            k++;
            if (cJSON_IsNumber(x)) {
                rep_series_add(p, name != NULL ? name : "?", k, x->valuedouble, NAN, NAN);
            }
        }
    }
    if (flagged > 0) {
        if (flagged > REP_PLOT_MAX_SERIES) {
            char t[160];
            snprintf(t, sizeof(t), "%zu metrics flagged; the plot shows the first %d.", flagged,
                     REP_PLOT_MAX_SERIES);
            rep_doc_missing(d, t);
        }
        rep_doc_figures_begin(d);
        rep_doc_plot(d, p);
        rep_doc_figures_end(d);
    }
    free(p);
}
