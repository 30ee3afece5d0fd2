/*
 * kinds.h - the kinds of measurement cmk-bench makes, each behind an ops
 * table, and the list of them.
 *
 * Two families:
 *   - cells: interleaved throughput cells (GB/s per sample), sampled in
 *     rounds with the other cells of their group (bench.h, struct
 *     bench_cell): raw library, AES ceiling, engine, store;
 *   - extras: measurements run one after the other after the cells
 *     (samples in ms or ops/s; struct bench_extra): cold opens, vault
 *     operations and rates, OpenSSL's RSA rate, KEK rotation.
 *
 * The lists below are the table: one row per kind, X(ID, name) makes the
 * enum value BENCH_KIND_ID (cells) or BENCH_X_ID (extras) and names the ops
 * object bench_kind_<name> / bench_extra_<name> that the kind's source file
 * defines; kinds.c turns the rows into the arrays the planner walks. The
 * order of the rows is the order of the cells within a group and of the
 * extras in a run (and so of --list, the tables and bench.json).
 *
 * Adding a kind: a new file benchmarks/src/kind_<name>.c that defines the
 * ops object (the makefile's wildcard builds it) and one row here.
 */
#ifndef BENCH_KINDS_H
#define BENCH_KINDS_H

#include <stddef.h>
#include <stdio.h>

#include "base_err.h"

/* Cell kinds, in the order their cells sit in a group. */
#define BENCH_CELL_KINDS(X)                                                              \
    X(RAW, raw)         /* the library called directly, as a baseline (kind_raw.c) */    \
    X(CEILING, ceiling) /* plain AES-256 over 8 streams at one width (kind_ceiling.c) */ \
    X(ENGINE, engine)   /* eng_cipher_batch (kind_engine.c) */                           \
    X(STORE, store)     /* eng_store_write / eng_store_read under a KEK provider (store.c) */

/* Extra kinds, in the order a run makes them. */
#define BENCH_EXTRA_KINDS(X)                                                               \
    X(COLD_OPEN, cold_open)         /* eng_store_open + read one unit, ms (extras.c) */    \
    X(VAULT_OP, vault_op)           /* one provider call, ms (kind_vault.c) */             \
    X(VAULT_RATE, vault_rate)       /* provider calls per second (kind_vault.c) */         \
    X(RSA_RATE, rsa_rate)           /* OpenSSL RSA decrypts per second (kind_vault.c) */   \
    X(ROTATION, rotation)           /* eng_store_rotate_kek, ms (kind_rotation.c) */       \
    X(ROTATION_SIZE, rotation_size) /* the same, 1 GiB vs 4 GiB store (kind_rotation.c) */ \
    X(DB, db) /* fio and pgbench on filesystem targets, scripts/db/bench.sh (kind_db.c) */

#define BENCH_KIND_ENUM_(id, name) BENCH_KIND_##id,
enum bench_kind { BENCH_CELL_KINDS(BENCH_KIND_ENUM_) BENCH_KIND_COUNT };
#undef BENCH_KIND_ENUM_

#define BENCH_X_ENUM_(id, name) BENCH_X_##id,
enum bench_extra_type { BENCH_EXTRA_KINDS(BENCH_X_ENUM_) BENCH_X_COUNT };
#undef BENCH_X_ENUM_

struct bench_cell;
struct bench_extra;
struct bench_plan;
struct cJSON;

/*
 * The ops of a cell kind. Every hook gets the cell; |t| is a thread index
 * (0 .. c->threads - 1), each thread with its own state in c->state[t].
 */
struct bench_kind_ops {
    enum bench_kind id;
    const char *name;
    /*
     * plan adds this kind's cells to one group with bench_plan_add; |base|
     * holds the group's mode, direction, unit size, batch and group number.
     * NULL: the kind adds no cells by itself.
     */
    void (*plan)(struct bench_plan *pl, const struct bench_cell *base);
    /* describe writes the cell's label ("engine xts native/avx512 2T") into |out|. */
    void (*describe)(const struct bench_cell *c, char *out, size_t max);
    /*
     * prepare makes thread |t|'s state in c->state[t] and sets c->ran_backend
     * and c->ran_arch. 0, or -1 with |e| set; the caller then calls release.
     */
    int (*prepare)(struct bench_cell *c, int t, struct base_err *e);
    /* run does one batch on state |t|: 0, or -1 (the engine's error in eng_errno). */
    int (*run)(struct bench_cell *c, int t);
    /* release frees c->state[t] (never NULL here; partly made states too). */
    void (*release)(struct bench_cell *c, int t);
    /* json_kind: the JSON "kind" of the cell (the report and the gate key on it). */
    const char *(*json_kind)(const struct bench_cell *c);
    /* json_backend, json_arch: JSON "backend" / "arch"; NULL: the engine's names of what ran. */
    const char *(*json_backend)(const struct bench_cell *c);
    const char *(*json_arch)(const struct bench_cell *c);
    /* write_json adds the kind's own fields after "label", for measured and skipped cells. */
    void (*write_json)(struct cJSON *r, const struct bench_cell *c);
    /* write_results adds the kind's own figures after the common ones (measured cells only). */
    void (*write_results)(struct cJSON *r, const struct bench_cell *c,
                          const struct bench_cell *cells, size_t n);
    /* print writes the kind's own section after the summary table (NULL: none). */
    void (*print)(FILE *f, struct bench_cell *cells, size_t n);
};

/* The ops of an extra kind. */
struct bench_extra_ops {
    enum bench_extra_type id;
    const char *kind;  /* JSON "kind" */
    const char *unit;  /* "ms" or "ops/s" */
    const char *op;    /* the operation when the kind fixes it ("cold-open"); NULL: the planner's */
    const char *mode;  /* JSON "mode": "xts" (it measures a store) or "rsa-oaep-256" */
    double unit_bytes; /* JSON "unit_bytes": 8192 for a store, else 0 */
    /* JSON "backend" (before the condition); NULL: "vault-mock" for keys cmk, else "smk" */
    const char *side;
    /* 1: the kind starts its own vault (keys "cmk" need not the bench's vault-mock) */
    int own_vault;
    /*
     * plan adds this kind's extras of a run with bench_plan_add_extra (in run
     * order; a kind may also add the extras of kinds it shares code with).
     * NULL: added by another kind's plan.
     */
    void (*plan)(struct bench_plan *pl);
    /* describe writes the label into |out|; |rsa| is " RSA-NNNN" or "". */
    void (*describe)(const struct bench_extra *x, const char *rsa, char *out, size_t max);
    /* operation writes the JSON "operation" into |out|; NULL: x->op. */
    void (*operation)(const struct bench_extra *x, char *out, size_t max);
    /*
     * run measures |x| into its samples (x->samples has room for x->count,
     * add them with bench_extra_sample). 0, or -1 with |e| set.
     */
    int (*run)(struct bench_extra *x, struct base_err *e);
    /* write_json adds the kind's own fields before the figures, also when skipped (NULL: none). */
    void (*write_json)(struct cJSON *r, const struct bench_extra *x);
    /* write_results adds the kind's own figures after the common ones (NULL: none). */
    void (*write_results)(struct cJSON *r, const struct bench_extra *x);
    /* print writes the kind's own line after its row of the extras table (NULL: none). */
    void (*print)(FILE *f, const struct bench_extra *x);
    /*
     * print_section writes the kind's own table of all its rows |xs| (other
     * kinds' rows among them are the hook's to skip) after the extras table;
     * a kind with it has no rows in the extras table (NULL: rows there).
     */
    void (*print_section)(FILE *f, struct bench_extra *xs, size_t nx);
};

/* Every kind's ops object, declared from the rows (defined in the kind's file). */
#define BENCH_KIND_DECL_(id, name) extern const struct bench_kind_ops bench_kind_##name;
BENCH_CELL_KINDS(BENCH_KIND_DECL_)
#undef BENCH_KIND_DECL_
#define BENCH_X_DECL_(id, name) extern const struct bench_extra_ops bench_extra_##name;
BENCH_EXTRA_KINDS(BENCH_X_DECL_)
#undef BENCH_X_DECL_

/* The table (kinds.c): ops of every kind, indexed by its enum value. */
extern const struct bench_kind_ops *const bench_cell_kinds[BENCH_KIND_COUNT];
extern const struct bench_extra_ops *const bench_extra_kinds[BENCH_X_COUNT];

#endif
