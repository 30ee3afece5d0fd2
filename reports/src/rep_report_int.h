/*
 * rep_report_int.h - what the report's driver (rep_report.c), its sections
 * (rep_sec_bench.c, rep_sec_scale.c, rep_sec_doc.c) and their number formats
 * (rep_fmt.c) share; private to reports/src. The driver calls the sections,
 * and a section calls only rep_fmt.c, the reports library and another
 * section's helpers (rep_sec_scale.c uses rep_sec_bench.c's), never the driver.
 */
#ifndef REP_REPORT_INT_H
#define REP_REPORT_INT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "rep_bench.h"
#include "rep_doc.h"
#include "rep_report.h"

/* What the report was made from; any of the three may be absent. */
struct rr_inputs {
    struct rep_bench bench;
    int have_bench;
    cJSON *compliance;
    cJSON *gate;
    const struct rep_report_opts *o;
};

/* Number styles for tables (literal formats, so the compiler checks them). */
enum rr_nstyle { RR_F0, RR_F2, RR_F3, RR_G3, RR_G4, RR_PCT };

/*
 * rr_fmt writes |v| in style |st| ("-" for NAN); rr_fmt_ci "[lo, hi]" ("-" if
 * either is NAN). In rep_fmt.c.
 */
void rr_fmt(char *out, size_t out_len, enum rr_nstyle st, double v);
void rr_fmt_ci(char *out, size_t out_len, enum rr_nstyle st, double lo, double hi);

/* Cell classifiers of the bench sections (rep_sec_bench.c). */
size_t rr_distinct_modes(const struct rep_bench *b, const char **out, size_t max_out,
                         int (*want)(const struct rep_cell *));
int rr_is_throughput(const struct rep_cell *c);
void rr_series_title(const struct rep_cell *c, char *out, size_t out_len, int with_dir);

/*
 * The sections, in the order of the report. Each writes its heading, then
 * its content or a note saying what is missing.
 */
/* From bench.json (rep_sec_bench.c; threads, vault, rotation: rep_sec_scale.c). */
void rr_section_env(struct rep_doc *d, const struct rr_inputs *in);
void rr_section_throughput(struct rep_doc *d, const struct rr_inputs *in);
void rr_section_ratios(struct rep_doc *d, const struct rr_inputs *in);
void rr_section_cmk(struct rep_doc *d, const struct rr_inputs *in);
void rr_section_threads(struct rep_doc *d, const struct rr_inputs *in);
void rr_section_vault(struct rep_doc *d, const struct rr_inputs *in);
void rr_section_rotation(struct rep_doc *d, const struct rr_inputs *in);
/* The database rows (kind "db"): targets side by side, per-round paired ratios (rep_sec_db.c). */
void rr_section_db(struct rep_doc *d, const struct rr_inputs *in);
/* From compliance.json and gate.json (rep_sec_doc.c). */
void rr_section_controls(struct rep_doc *d, const struct rr_inputs *in);
/* The one-page summary: compliance.json's "summary_page" (written by cmk-compliance). */
void rr_section_summary(struct rep_doc *d, const struct rr_inputs *in);
void rr_section_kats(struct rep_doc *d, const struct rr_inputs *in);
void rr_section_gate(struct rep_doc *d, const struct rr_inputs *in);
/* The A/B gate's part of it (rep_sec_ab.c): is gate.json |g| from cmk-gate --ab; which builds; the
 * per-round paired ratios of the flagged metrics, plotted. */
int rr_gate_is_ab(const cJSON *g);
void rr_gate_ab_intro(struct rep_doc *d, const cJSON *g);
void rr_gate_ab_plot(struct rep_doc *d, const cJSON *g);

#endif
