/*
 * rep_baseline.h - the gate's baseline: several runs of the quick benchmark
 * in one file (schema cmk-harness/baseline), or one bench.json (the old,
 * single-run format, still read).
 *
 * A multi-run file is {"schema": "cmk-harness/baseline", "schema_version": 1,
 * "created": "...", "runs": [<bench.json>, ...]}: every run is a whole
 * bench.json object, samples included, so the gate can see both the spread
 * of a metric between runs and the uncertainty within each run.
 */
#ifndef REP_BASELINE_H
#define REP_BASELINE_H

#include <stddef.h>

#include "base_err.h"
#include "rep_bench.h"

#define REP_BASELINE_SCHEMA         "cmk-harness/baseline"
#define REP_BASELINE_SCHEMA_VERSION 1
#define REP_BASELINE_MAX_RUNS       100

struct rep_baseline {
    struct rep_bench *runs; /* nruns runs; each owns its JSON */
    size_t nruns;
    int multi;        /* 1: a cmk-harness/baseline file; 0: one bench.json (old format) */
    char created[64]; /* "" when unknown */
    char path[1024];
};

/*
 * rep_baseline_load reads |path|: a multi-run baseline (2 to
 * REP_BASELINE_MAX_RUNS runs, all from one machine and profile, none measured
 * with ENG_TEST_SLOWDOWN) or a single bench.json. Returns REP_OK,
 * REP_MISSING, or REP_BAD_FILE with |err| naming the file (and the run,
 * "runs[i]") and the problem. The caller frees |b| with rep_baseline_free
 * on every outcome.
 */
enum rep_status rep_baseline_load(const char *path, struct rep_baseline *b, struct base_err *e);

/* rep_baseline_free releases what rep_baseline_load allocated; safe on a zeroed struct. */
void rep_baseline_free(struct rep_baseline *b);

/*
 * rep_baseline_write combines the |n| bench.json files |run_paths| into one
 * multi-run baseline at |path| (written to a temporary file, then renamed).
 * The runs must satisfy what rep_baseline_load demands. Returns 0, or -1
 * with |err| set (the offending file and why).
 */
int rep_baseline_write(const char *path, const char *const *run_paths, size_t n,
                       struct base_err *e);

#endif
