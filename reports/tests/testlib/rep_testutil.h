/* rep_testutil.h - helpers for the reports/ tests: synthetic result files and captured output. */
#ifndef REP_TESTUTIL_H
#define REP_TESTUTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A synthetic bench.json cell. */
struct tu_cell {
    const char *kind, *mode, *backend, *arch, *direction, *keys;
    double unit_bytes;
    long threads;
    const double *samples;
    size_t n;
};

/* A bench.json object (schema cmk-harness/bench v1) with env.cpu_model |cpu|; free with
 * cJSON_Delete. */
cJSON *tu_bench_json(const char *cpu, const struct tu_cell *cells, size_t n);

/* Writes a bench.json (schema cmk-harness/bench v1) with env.cpu_model |cpu| to |path|; aborts on
 * error. */
void tu_write_bench(const char *path, const char *cpu, const struct tu_cell *cells, size_t n);

/* Writes |text| to |path|; aborts on error. */
void tu_write_file(const char *path, const char *text);

/* Reads a whole file into a malloc'd string (NULL when it cannot be read). */
char *tu_read_file(const char *path);

/* Makes a fresh temporary folder (removed when the test process exits) and returns its path; slot
 * 0..3. */
const char *tu_tmpdir(int slot);

/* Counts occurrences of |needle| in |hay|. */
size_t tu_count(const char *hay, const char *needle);

/* Deterministic multiplicative noise in [1 - amp, 1 + amp] from a splitmix64 state. */
double tu_noise(uint64_t *state, double amp);

/* A standard normal draw (Box-Muller) from a splitmix64 state. */
double tu_gauss(uint64_t *state);

/*
 * Runs |fn|(argc, argv, out, err) with temporary streams; returns its exit
 * code and the captured texts (malloc'd) in *out_text and *err_text.
 */
int tu_run(int (*fn)(int, char **, FILE *, FILE *), int argc, const char *const *argv,
           char **out_text, char **err_text);

#endif
