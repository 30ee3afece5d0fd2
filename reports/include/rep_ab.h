/*
 * rep_ab.h - the same-job A/B gate: the reference build and the new build
 * measured in interleaved rounds on one machine (old, new, old, new, ...),
 * each metric judged on its per-round paired differences; the list of cells
 * renamed or retired on purpose; the rule that a gate with too few metrics in
 * common fails loudly instead of passing vacuously; and the CPU class that
 * names a committed multi-run baseline.
 *
 * A/B model: round i gives the metric's log median in the reference run,
 * a_i, and in the new run, b_i (per-round ratios for ratio metrics, samples
 * for absolute ones: both builds share the machine and the minute, so GB/s
 * are fair to compare). d_i = b_i - a_i; with n rounds, mean d and standard
 * deviation s, (d - 0) / (s / sqrt(n)) follows Student's t with n - 1
 * degrees of freedom when nothing changed. One-sided p of "new is worse",
 * Holm over every compared metric, and a regression needs the adjusted
 * p <= alpha AND a change exp(d) - 1 worse than the minimum effect, as in the
 * other models (rep_gate.h).
 */
#ifndef REP_AB_H
#define REP_AB_H

#include <stddef.h>

#include "base_err.h"
#include "rep_bench.h"
#include "rep_gate.h"

/* At least this share of the new build's metrics must have a counterpart in the reference. */
#define REP_AB_MIN_COVERAGE 0.90
#define REP_AB_MAX_ROUNDS   99
/* The committed rename/retire list (relative to the source tree). */
#define REP_RETIRED_DEFAULT "reports/baseline/retired.tsv"

enum rep_retire_kind {
    REP_RETIRE_RENAME = 0, /* old key renamed to new key */
    REP_RETIRE_REMOVE,     /* old key removed on purpose */
    REP_RETIRE_ADD,        /* new key added on purpose (no counterpart expected) */
};

struct rep_retire_entry {
    enum rep_retire_kind kind;
    char old_key[256]; /* "" for add */
    char new_key[256]; /* "" for retire */
};

struct rep_retire {
    struct rep_retire_entry *e;
    size_t n;
    char path[1024];
};

/*
 * rep_retire_load reads the rename/retire list |path| (zeroing |l| first):
 * one entry a line, tab-separated, '#' starts a comment line:
 *   rename <TAB> OLD_KEY <TAB> NEW_KEY [<TAB> reason]
 *   retire <TAB> OLD_KEY [<TAB> reason]
 *   add    <TAB> NEW_KEY [<TAB> reason]
 * A key is a cell key (kind|mode|backend|arch|direction|unit_bytes|batch|
 * threads|keys, see rep_bench.h) or a metric key; a cell key stands for
 * every metric it is part of. A missing file is an empty list when
 * |missing_ok|. Returns 0, or -1 with |err| naming the file, the line and
 * the problem. Free with rep_retire_free on every outcome.
 */
int rep_retire_load(const char *path, int missing_ok, struct rep_retire *l, struct base_err *e);

/* rep_retire_free releases |l|; safe on a zeroed struct. */
void rep_retire_free(struct rep_retire *l);

/* 1 when the list entry key |entry| stands for metric key |key| (equal, or one cell of a pair). */
int rep_key_covers(const char *entry, const char *key);

/*
 * rep_ab_compare judges the |n| rounds (ref[i], cur[i] measured one after
 * the other; 2 <= n <= REP_AB_MAX_ROUNDS) into |r| (zeroed first; free with
 * rep_gate_result_free): every ratio metric and every absolute metric of
 * the new runs against its counterpart in the reference runs (found through
 * the renames of |l|, which may be NULL). r->model is REP_MODEL_AB; each
 * compared metric's per-round paired ratios exp(d_i) are in m->rounds.
 * Returns 0, or -1 with |err| set (bad n, out of memory).
 */
int rep_ab_compare(const struct rep_bench *ref, const struct rep_bench *cur, size_t n,
                   const struct rep_retire *l, const struct rep_gate_opts *o,
                   struct rep_gate_result *r, struct base_err *e);

/*
 * rep_ab_load_rounds loads the rounds of an A/B folder |dir|: ref-01/bench.json,
 * new-01/bench.json, ref-02/..., up to the first ref-NN that does not exist
 * (at least 2 rounds). *ref and *cur (arrays of *n) are set on every
 * outcome; free them with rep_ab_rounds_free(*ref, *cur, *n). Returns 0, or
 * -1 with |err| naming the file and the problem.
 */
int rep_ab_load_rounds(const char *dir, struct rep_bench **ref, struct rep_bench **cur, size_t *n,
                       struct base_err *e);

/* rep_ab_rounds_free releases what rep_ab_load_rounds allocated (NULL arrays are skipped). */
void rep_ab_rounds_free(struct rep_bench *ref, struct rep_bench *cur, size_t n);

/*
 * rep_gate_coverage applies the fail-loudly rule to a result |r| of any
 * model: the new build's metrics (compared, or only in new) and the
 * reference's metrics absent in the new build are counted; a metric only in
 * new that |l| lists as added or renamed, and one only in the reference that
 * |l| retires or renames, is not missing. When fewer than
 * REP_AB_MIN_COVERAGE of (new metrics + missing reference metrics) have a
 * counterpart, returns 1 with |msg| (malloc'd, caller frees) naming every
 * missing metric; otherwise 0 (*msg NULL); -1 when memory ran out.
 */
int rep_gate_coverage(const struct rep_gate_result *r, const struct rep_retire *l, char **msg);

/*
 * rep_cpu_class writes the CPU class of a run into |out|: the engine path
 * that ran (env.best_path, else env.cpu_best_arch) and the widest AES
 * ceiling measured (env.ceiling_width), e.g. "avx512-zmm", "avx2-ymm";
 * "unknown" parts when absent. Returns 0, or -1 when env has neither.
 */
int rep_cpu_class(const struct rep_bench *b, char *out, size_t out_len);

#endif
