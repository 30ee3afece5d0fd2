/*
 * comp_oscal.h - the compliance results as an OSCAL 1.1.3 assessment-results
 * document (NIST's model for "what was tested, how, with what evidence,
 * and is each objective satisfied"), built with cJSON.
 *
 * One result per run: start and end; reviewed-controls lists the NIST SP
 * 800-53 rev 5 controls that the run's controls map to
 * (compliance/sp800-53-map.tsv, the one source, compiled into comp_sp_map);
 * one observation per control (method TEST, the measured evidence as
 * props, relevant-evidence links to the run's files); the known-answer
 * vectors count as one more control, CMK-KAT-01. One finding per
 * SP 800-53 control objective (<id>_obj of the catalog): satisfied when
 * every mapped control that ran passed, else not-satisfied with reason
 * "fail" (a control failed) or "other" (a control reported a finding, i.e.
 * not applicable, or could not decide). A risk for each failed control and
 * each finding. The harness is a component; the engine build, the vault
 * and the CPU are inventory items. UUIDs are version 4 from getrandom(2);
 * times are UTC with "Z". Strings that the schema forbids (empty, leading
 * or trailing white space, line breaks in a prop) are cleaned or left out.
 */
#ifndef COMP_OSCAL_H
#define COMP_OSCAL_H

#include <stddef.h>
#include <time.h>

#include "comp_report.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One row of compliance/sp800-53-map.tsv. */
struct comp_sp_map {
    const char *control; /* "CMK-DEL-01" */
    const char *sp_ids;  /* "sc-12,sc-28.1,mp-6": OSCAL control ids, comma-separated */
    const char *rationale;
};

/* The rows, generated at build time. */
extern const struct comp_sp_map comp_sp_map[];
extern const size_t comp_sp_map_len;

/* comp_sp_map_find returns the row of |control|, or NULL. */
const struct comp_sp_map *comp_sp_map_find(const char *control);

/*
 * comp_sp_title returns the SP 800-53 rev 5 title of OSCAL id |id|
 * ("sc-28.1" -> "Cryptographic Protection"), or NULL for an id outside the
 * 23 controls of compliance/oscal/sp800-53r5-cmk-subset.json.
 */
const char *comp_sp_title(const char *id);

/* comp_sp_label writes the usual form of |id| ("sc-28.1" -> "SC-28(1)") to |out|. */
void comp_sp_label(const char *id, char *out, size_t max_out_len);

/* The judgement of one SP 800-53 control objective from the run's controls. */
struct comp_sp_verdict {
    const char *id;     /* "sc-28.1" */
    int satisfied;      /* every mapped control that ran passed */
    const char *reason; /* "pass"; "fail" (a mapped control failed); "other" (one reported a
                           finding or could not decide: not applicable) */
    char by[1024];      /* "CMK-DEL-01 fail, CMK-COV-01 pass" */
};

/*
 * comp_sp_judge fills |out| (up to |max|) with the SP 800-53 controls that
 * the controls of |r| map to (the vectors count as CMK-KAT-01), in the
 * catalog's order, and returns how many. The findings of the OSCAL document
 * and the summaries use it.
 */
size_t comp_sp_judge(const struct comp_report *r, struct comp_sp_verdict *out, size_t max);

/* What the run was: times and the system under test. NULL strings are left out. */
struct comp_oscal_run {
    time_t start, end;
    const char *vault;      /* "vault-mock (bin/vault-mock ...)" or a real vault's URL */
    const char *bench_json; /* the bench.json CMK-PERF-01 read, when it exists */
};

/* comp_oscal_json returns the document as a cJSON tree (caller frees), or NULL (no memory). */
struct cJSON *comp_oscal_json(const struct comp_report *r, const struct comp_oscal_run *run);

/* comp_oscal_write writes it to |path|. 0, or -1 with errno set. */
int comp_oscal_write(const struct comp_report *r, const struct comp_oscal_run *run,
                     const char *path);

#ifdef __cplusplus
}
#endif
#endif /* COMP_OSCAL_H */
