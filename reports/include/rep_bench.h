/*
 * rep_bench.h - reading result files for reports and the gate.
 *
 * reports/ reads result files only (it never links the engine). This module
 * loads a JSON file with a precise error (file, line, column, byte offset),
 * and turns a bench.json (schema cmk-harness/bench, see benchmarks/SCHEMA.md)
 * into a flat list of cells. Unknown fields are ignored and unknown kinds are
 * kept as generic cells, so that a newer benchmark stays readable.
 */
#ifndef REP_BENCH_H
#define REP_BENCH_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>

#include "base_err.h"

#define REP_BENCH_SCHEMA         "cmk-harness/bench"
#define REP_BENCH_SCHEMA_VERSION 1

/* Outcomes of the loaders. */
enum rep_status {
    REP_OK = 0,
    REP_MISSING = -1,  /* the file does not exist */
    REP_BAD_FILE = -2, /* unreadable, malformed JSON, or not the expected schema */
};

/* One result entry of bench.json. Strings are "" when the field is absent. */
struct rep_cell {
    const cJSON *json; /* the result object (borrowed from the owning rep_bench) */
    char kind[32];
    char mode[16];
    char backend[24];
    char arch[16];
    char direction[16];
    char keys[16];
    char unit[16];
    char label[128];
    double unit_bytes;
    long batch;
    long threads;
    const char *skipped; /* non-NULL: the cell was not measured, and why */
    double *samples;     /* owned; NULL when there are none */
    size_t nsamples;
    double median;          /* from the file, or computed from samples; NAN if neither */
    double ci_low, ci_high; /* NAN when absent */
    double ci_level;
    char key[256]; /* kind|mode|backend|arch|direction|unit_bytes|batch|threads|keys */
};

struct rep_bench {
    cJSON *root;
    const cJSON *env; /* may be NULL */
    struct rep_cell *cells;
    size_t ncells;
    int schema_version;
    char path[1024];
};

/*
 * rep_json_load reads |path| and parses it. Returns REP_OK and *out (owned by
 * the caller, cJSON_Delete), REP_MISSING when the file does not exist, or
 * REP_BAD_FILE when it cannot be read or is malformed; |err| then holds a
 * message that names the file and, for malformed JSON, cJSON's error position
 * as line, column and byte offset.
 */
enum rep_status rep_json_load(const char *path, cJSON **out, struct base_err *e);

/*
 * rep_bench_load loads a bench.json into |b| (zeroed first). Returns REP_OK,
 * REP_MISSING or REP_BAD_FILE (with |err| set, naming the file) when the file
 * is malformed, has another schema, a newer schema_version, or no results
 * array. The caller frees |b| with rep_bench_free, on every outcome.
 */
enum rep_status rep_bench_load(const char *path, struct rep_bench *b, struct base_err *e);

/*
 * rep_bench_from_json reads a parsed bench.json |root| into |b| (zeroed
 * first), taking ownership of |root| on every outcome (rep_bench_free
 * deletes it). |name| stands for the file in messages and in b->path.
 * Returns REP_OK or REP_BAD_FILE with |err| set, as rep_bench_load.
 */
enum rep_status rep_bench_from_json(cJSON *root, const char *name, struct rep_bench *b,
                                    struct base_err *e);

/* rep_bench_free releases what rep_bench_load allocated; safe on a zeroed struct. */
void rep_bench_free(struct rep_bench *b);

/* rep_env_str returns env.|name| as a string ("" when absent or not a string; never NULL). */
const char *rep_env_str(const struct rep_bench *b, const char *name);

/* rep_env_num returns env.|name| as a number, or NAN when absent. */
double rep_env_num(const struct rep_bench *b, const char *name);

/* rep_cell_measured is 1 when |c| has samples and was not skipped. */
int rep_cell_measured(const struct rep_cell *c);

/* rep_unit_str formats a data unit size as 512B, 8KiB, 1MiB into |out|. */
void rep_unit_str(char *out, size_t out_len, double unit_bytes);

/* rep_mkdir_p creates |dir| and its parents (mode 0755). Returns 0, or -1 with errno set. */
int rep_mkdir_p(const char *dir);

/* rep_fput_xml writes |s| to |f| with &, <, >, " and ' escaped (for XML and HTML). */
void rep_fput_xml(FILE *f, const char *s);

/*
 * rep_json_save writes |root| (indented, with a final newline) to |path| and
 * deletes |root| on every outcome. Returns 0, or -1 with errno set.
 */
int rep_json_save(const char *path, cJSON *root);

/* rep_json_str returns the string member |name| of |obj|, or NULL. */
const char *rep_json_str(const cJSON *obj, const char *name);

/* rep_json_num returns the number member |name| of |obj|, or NAN. */
double rep_json_num(const cJSON *obj, const char *name);

/*
 * Ratio pairs: numerator and denominator cells of one group whose per-round
 * ratios (sample i of num / sample i of den, measured in the same round) are
 * paired samples of the ratio. Rules:
 *   engine cell (keys none)  /  raw cell of the library it wraps (ipsec-mb for
 *       ipsec-mb, OpenSSL for openssl, native and any other back end), same
 *       mode, unit_bytes, direction, batch and threads;
 *   engine cell keys cmk  /  the same engine cell with keys smk.
 */
struct rep_pair {
    const struct rep_cell *num;
    const struct rep_cell *den;
    char type[24];  /* "engine/raw", "cmk/smk" or "engine/ceiling" (the widest AES ceiling) */
    char name[256]; /* human-readable, unique per key */
    char key[520];  /* num key + " / " + den key */
    double *ratios; /* owned, n entries */
    size_t n;
};

/*
 * rep_pairs_build finds every ratio pair in |b| and computes its per-round
 * ratios. Returns the number of pairs (0 with *out NULL when there are none)
 * or -1 on allocation failure. Free with rep_pairs_free.
 */
long rep_pairs_build(const struct rep_bench *b, struct rep_pair **out);

/*
 * rep_round_ratios returns the per-round ratios num->samples[i] /
 * den->samples[i] (rounds with a non-positive denominator left out; *n of
 * them), malloc'd; NULL when memory ran out.
 */
double *rep_round_ratios(const struct rep_cell *num, const struct rep_cell *den, size_t *n);

/* rep_pairs_free releases the array returned by rep_pairs_build (NULL is a no-op). */
void rep_pairs_free(struct rep_pair *p, size_t n);

#endif
