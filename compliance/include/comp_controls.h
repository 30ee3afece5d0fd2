/*
 * comp_controls.h - the key-lifecycle control suite: each control states a
 * promise (the seed's sentence or a standard's clause), checks it against a
 * real vault-mock and real stores through the engine's public API, and
 * records method, evidence, the measured value and a verdict.
 *
 * The suite starts its own vault-mock processes (127.0.0.1, a free port,
 * a fresh temporary state folder, --throttle off): one with purge
 * protection on and an identities file with a per-key grant, and one with
 * --purge-protection off for the purge control. Stores live in a temporary
 * folder that is removed afterwards.
 */
#ifndef COMP_CONTROLS_H
#define COMP_CONTROLS_H

#include "comp_report.h"

#ifdef __cplusplus
extern "C" {
#endif

struct comp_controls_options {
    const char *only;       /* comma-separated control ids to run; NULL = all */
    const char *bench_json; /* bench results with keys=smk/cmk cells; NULL or missing = measure */
    unsigned revalidate_s;  /* store revalidation interval; 0 = 2 */
    double perf_seconds;    /* seconds per batch of 40 rounds of the own CMK/SMK measurement
                               (at most 4 batches); 0 = 6 */
    /* called after each control (may be NULL), e.g. to print a line */
    void (*progress)(const struct comp_control *c, void *arg);
    void *arg;
    /* when not NULL, receives the URLs of the vaults the suite started (for the OSCAL
       inventory), e.g. "vault-mock https://127.0.0.1:40567 and https://127.0.0.1:40569
       (--purge-protection off)"; "" when none started */
    char *vaults_out;
    size_t vaults_out_len;
};

/*
 * comp_controls_run runs the controls (all, or those in o->only) and adds
 * one comp_control per control to |rep|. Returns 0 when the suite ran
 * (verdicts are in |rep|), -1 when it could not start (vault-mock missing,
 * no temporary folder, no memory); then one failed control says why.
 */
int comp_controls_run(const struct comp_controls_options *o, struct comp_report *rep);

/* comp_controls_ids returns the ids of the catalogue, NULL-terminated, in run order. */
const char *const *comp_controls_ids(void);

#ifdef __cplusplus
}
#endif
#endif /* COMP_CONTROLS_H */
