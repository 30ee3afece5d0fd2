/*
 * comp_report.h - the compliance results (lifecycle controls and per-file
 * known-answer counts) and their three renderings: JSON for machines
 * (read by cmk-report), JUnit XML for CI, Markdown for people.
 *
 * Schema of the JSON ("cmk-harness/compliance", version 1):
 *   {"schema", "schema_version", "generated", "tool",
 *    "summary": {controls_pass, controls_fail, controls_not_applicable,
 *                kat_files, kat_rows, kat_passed, kat_failed, kat_skipped},
 *    "controls": [{id, title, statement, method, evidence: [strings],
 *                  measured, verdict: "pass"|"fail"|"not_applicable", reason,
 *                  seconds}],
 *    "kats": [{file, kind, backend, arch, passed, failed, skipped,
 *              acceptable, key_cases, key_ran, skip_reason, detail}],
 *    "summary_page": (comp_summary_json)}
 *
 * The writers never print; they return 0, or -1 with errno set by the
 * failing file call (ENOMEM when cJSON runs out of memory).
 */
#ifndef COMP_REPORT_H
#define COMP_REPORT_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COMP_REPORT_SCHEMA         "cmk-harness/compliance"
#define COMP_REPORT_SCHEMA_VERSION 1

enum comp_verdict {
    COMP_VERDICT_PASS = 0,
    COMP_VERDICT_FAIL,
    COMP_VERDICT_NOT_APPLICABLE,
};

/* One lifecycle control; every string NUL-terminated, evidence items separated by '\n'. */
struct comp_control {
    char id[32]; /* "CMK-DEL-01" */
    char title[160];
    char statement[768]; /* the seed's sentence or the standard's clause, quoted */
    char method[1024];
    char evidence[4096];
    char measured[256];
    enum comp_verdict verdict;
    char reason[1024];
    double seconds; /* wall time of the control */
};

/* Known-answer counts of one vector file on one back end and path. */
struct comp_kat_row {
    char file[512];
    char kind[48];    /* "aes-gcm-decrypt", "wycheproof aead", "pyca rsa-oaep", ... */
    char backend[32]; /* "native", "ipsec-mb", "openssl"; "-" when nothing ran */
    char arch[32];    /* "avx512", ...; "evp" for the OpenSSL-only paths; "-" */
    unsigned long passed, failed, skipped, acceptable;
    unsigned long key_cases; /* cases of the engine's own key size (AES-256), run or not */
    unsigned long key_ran;   /* ... of which ran (not skipped) */
    char skip_reason[256];
    char detail[256]; /* first failure or why the file could not run; "" */
};

struct comp_report {
    struct comp_control *controls;
    size_t num_controls, cap_controls;
    struct comp_kat_row *kats;
    size_t num_kats, cap_kats;
};

/* comp_verdict_name returns "pass", "fail" or "not_applicable"; never NULL. */
const char *comp_verdict_name(enum comp_verdict v);

/* comp_report_add_control copies |c| into |r|. 0, or -1 on no memory. */
int comp_report_add_control(struct comp_report *r, const struct comp_control *c);
/* comp_report_add_kat copies |k| into |r|. 0, or -1 on no memory. */
int comp_report_add_kat(struct comp_report *r, const struct comp_kat_row *k);
/* comp_report_cleanup frees what |r| holds and zeroes it. */
void comp_report_cleanup(struct comp_report *r);

/* Known-answer totals over every row of a report. */
struct comp_kat_totals {
    unsigned long files; /* distinct files (rows of one file are consecutive) */
    unsigned long passed, failed, skipped;
    unsigned long key_cases, key_ran; /* AES-256 cases, and of them those that ran */
};

/* comp_report_kat_totals sums the rows of |r| into *t. */
void comp_report_kat_totals(const struct comp_report *r, struct comp_kat_totals *t);

/* comp_md_cell writes |s| as a Markdown table cell: '|' escaped, newlines as "; ". */
void comp_md_cell(FILE *f, const char *s);

/* comp_report_failures returns the number of failed controls plus KAT rows with failures. */
size_t comp_report_failures(const struct comp_report *r);

/*
 * comp_control_add_evidence appends one evidence item (printf format) to
 * |c| (truncated when full). comp_control_set sets the verdict and the
 * reason (printf format); a FAIL verdict is never downgraded by a later
 * PASS.
 */
void comp_control_add_evidence(struct comp_control *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void comp_control_set(struct comp_control *c, enum comp_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * comp_summary_json returns the one-page summary of |r| (comp_summary.c):
 * {"sp800_53": [{id, label, title, state, reason, controls}],
 *  "inaccessible": [{event: delete|disable|revoke, control, verdict, measured}],
 *  "throughput": [{event, control, verdict, measured}],
 *  "vectors": {files, rows, passed, failed, skipped, key_cases, key_ran,
 *              skip_reasons: [{reason, count}]},
 *  "findings": [strings]}. NULL on no memory.
 */
struct cJSON *comp_summary_json(const struct comp_report *r);

/* comp_summary_md writes the summary (from comp_summary_json) as Markdown. */
void comp_summary_md(FILE *f, const struct cJSON *summary);

/* comp_report_json returns the report as a cJSON tree (caller frees with cJSON_Delete), or NULL. */
struct cJSON *comp_report_json(const struct comp_report *r);

/* Write the JSON, JUnit XML and Markdown renderings to |path|. 0 or -1 (errno). */
int comp_report_write_json(const struct comp_report *r, const char *path);
int comp_report_write_junit(const struct comp_report *r, const char *path);
int comp_report_write_md(const struct comp_report *r, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* COMP_REPORT_H */
