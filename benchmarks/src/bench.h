/*
 * bench.h - cmk-bench internals: cells, samples, statistics, output.
 *
 * A cell is one thing measured (kind + mode + back end + path + direction +
 * unit size + batch + threads + key management). Cells of one group (same
 * mode, unit size, direction) are sampled in interleaved rounds
 * (A B C A B C ...) so that drift of a shared machine hits all of them
 * alike and the ratios between them stay honest.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "eng_cipher.h"

enum bench_kind {
    BENCH_KIND_ENGINE = 0, /* eng_cipher_batch */
    BENCH_KIND_RAW,        /* the library called directly, as a baseline */
};

#define BENCH_MAX_SAMPLES 64
#define BENCH_MAX_THREADS 64

struct bench_cell {
    /* what */
    enum bench_kind kind;
    enum eng_mode mode;
    enum eng_backend backend; /* for RAW: OPENSSL or IPSECMB */
    enum eng_arch arch;       /* requested path; AUTO = best */
    enum eng_dir dir;
    size_t unit_bytes;
    size_t batch;
    int threads;
    const char *keys; /* "none" */
    int group;
    char label[96];
    /* run state: one per thread (own buffers and cipher; same key) */
    void *state[BENCH_MAX_THREADS];
    enum eng_backend ran_backend;
    enum eng_arch ran_arch;
    const char *skip_reason; /* non-NULL: not measured, and why */
    /* results: GB/s per sample, cycles per byte per sample */
    size_t nsamples;
    double gbps[BENCH_MAX_SAMPLES];
    double cpb[BENCH_MAX_SAMPLES];
    /* statistics (filled by bench_stats) */
    double median, min, max, q1, q3, ci_lo, ci_hi, cpb_median;
    size_t outliers; /* samples outside [q1 - 1.5 IQR, q3 + 1.5 IQR]: reported, kept */
};

/*
 * bench_cell_prepare makes c->threads states (0, or -1 with a message in
 * *err); bench_cell_run_once runs one batch on state |t|; release frees all.
 */
int bench_cell_prepare(struct bench_cell *c, const char **err);
int bench_cell_run_once(struct bench_cell *c, int t);
void bench_cell_release(struct bench_cell *c);

/* Statistics over c->gbps: median, IQR, 95% order-statistic CI of the median. */
void bench_stats(struct bench_cell *c);

/* Timing: monotonic seconds and the calibrated time-stamp counter. */
double bench_now(void);
uint64_t bench_rdtsc(void);
double bench_tsc_hz(void); /* calibrated once against CLOCK_MONOTONIC */

/* Environment capture and output. */
struct bench_env {
    char cpu_model[128];
    char cpu_flags[160];
    int cores;
    char kernel[200];
    char compiler[64];
    char openssl[64];
    char ipsecmb[32];
    char commit[64];
    char profile[16];
    char started[32];
    double tsc_hz;
    int mlock_ok;
    char eng_arch_env[32];
    char eng_backend_env[64];
};
void bench_env_capture(struct bench_env *e, const char *profile, const char *commit);
int bench_write_json(const char *path, const struct bench_env *e, struct bench_cell *cells,
                     size_t n, double wall_seconds);
int bench_write_csv(const char *path, struct bench_cell *cells, size_t n);
void bench_print_table(FILE *f, struct bench_cell *cells, size_t n);
/* Prints the bars (ratios measured in this run) and returns the number failed. */
int bench_print_bars(FILE *f, struct bench_cell *cells, size_t n);

#endif
