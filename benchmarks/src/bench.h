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

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "eng_cipher.h"

enum bench_kind {
    BENCH_KIND_ENGINE = 0, /* eng_cipher_batch */
    BENCH_KIND_RAW,        /* the library called directly, as a baseline */
    BENCH_KIND_STORE,      /* eng_store_write / eng_store_read under a KEK provider */
    BENCH_KIND_CEILING,    /* plain AES-256 over 8 streams at one vector width (ceiling.c) */
};

enum bench_medium {
    BENCH_MEDIUM_NONE = 0,
    BENCH_MEDIUM_MEMORY, /* eng_store_create_memory */
    BENCH_MEDIUM_FILE,   /* a folder store in a temp folder (page cache) */
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
    const char *keys; /* "none"; store cells: "smk", "cmk", "cmk-reval1s" */
    enum bench_medium medium;  /* store cells only */
    unsigned revalidate_s;     /* store cells only */
    int twin;                  /* 1: the A/A twin of the cell before it (same work) */
    int width_bits;            /* ceiling cells: 128 (xmm), 256 (ymm), 512 (zmm) */
    long vault_calls;          /* CMK store cells: vault requests while measured (-1: n/a) */
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
    double mean_gbps[BENCH_MAX_SAMPLES]; /* batch bytes over the mean batch time (counts slow batches) */
    /* statistics (filled by bench_stats) */
    double median, min, max, q1, q3, ci_lo, ci_hi, cpb_median;
    size_t outliers; /* samples outside [q1 - 1.5 IQR, q3 + 1.5 IQR]: reported, kept */
};

/*
 * bench_group_buffer returns thread |t|'s input (|output| 0) or output
 * buffer of |c|'s group (batch x unit bytes), shared with the group's
 * cipher cells, so that cells compared in a ratio touch the same memory.
 * Release it with bench_group_buffer_release(*handle). NULL with *err set.
 */
void *bench_group_buffer(const struct bench_cell *c, int t, int output, void **handle, const char **err);
void bench_group_buffer_release(void *handle);

/*
 * bench_cell_prepare makes c->threads states (0, or -1 with a message in
 * *err); bench_cell_run_once runs one batch on state |t|; release frees all.
 */
int bench_cell_prepare(struct bench_cell *c, const char **err);
int bench_cell_run_once(struct bench_cell *c, int t);
void bench_cell_release(struct bench_cell *c);

/*
 * Store cells (store.c): bench_store_prepare_one makes state |t| (called by
 * bench_cell_prepare for each thread); run and release as for other cells.
 */
int bench_store_prepare_one(struct bench_cell *c, int t, const char **err);
int bench_store_run_once(struct bench_cell *c, int t);
void bench_store_release(struct bench_cell *c);

/*
 * The bench's own vault-mock (store.c): started on loopback with a fresh
 * temporary state folder and --throttle off; keys bench-2048, bench-3072
 * (and bench-4096 when |with_4096|) created by keyofficer. 0, or -1 with a
 * message in *err. bench_vault_provider returns a provider for identity
 * dbservice on key bench-BITS (NULL when the vault is not running).
 */
int bench_vault_start(int with_4096, const char **err);
void bench_vault_stop(void);
int bench_vault_running(void);
struct eng_kek_provider;
struct eng_kek_provider *bench_vault_provider(int bits);
/* bench_tmpdir returns the run's private temporary folder (made on first use; NULL on failure). */
const char *bench_tmpdir(void);
void bench_tmpdir_remove(void);
/* bench_remove_tree removes |path| and everything below it (rm -rf). */
void bench_remove_tree(const char *path);
/* bench_new_store_dir writes a fresh folder name under bench_tmpdir() into |out|; NULL on failure. */
char *bench_new_store_dir(char *out, size_t max);
/* bench_vault_call sends a request as |who| (a tokens.json name) to the bench's vault; the HTTP status. */
long bench_vault_call(const char *who, const char *method, const char *path, const char *body);
/* bench_vault_create_key creates RSA key |name| as keyofficer; the HTTP status (0: no vault). */
long bench_vault_create_key(const char *name, int bits);
/* bench_vault_provider_named: a dbservice provider on key |name| (NULL: no vault or error). */
struct eng_kek_provider *bench_vault_provider_named(const char *name, int max_retries);
/* bench_open_provider: "smk" on the run's key file, else CMK on bench-|bits|; NULL with *err. */
struct eng_kek_provider *bench_open_provider(const char *keys, int bits, const char **err);
/* bench_vault_requests returns the requests a vault provider sent so far (0 for others). */
uint64_t bench_vault_requests(const struct eng_kek_provider *p);
struct eng_store_config;
/* bench_store_config: defaults, then 8 KiB units, |units|, |extent_units|, |revalidate_s| (0: default). */
void bench_store_config(struct eng_store_config *cfg, enum eng_mode mode, uint64_t units,
                        uint32_t extent_units, unsigned revalidate_s);

/*
 * Extras: results that are not interleaved throughput cells: cold opens,
 * vault operation latency and rate, the OpenSSL RSA private-key rate, KEK
 * rotation. Each is a list of samples (ms, or ops/s per window).
 */
enum bench_extra_type {
    BENCH_X_COLD_OPEN = 0, /* eng_store_open + read one unit, ms */
    BENCH_X_VAULT_OP,      /* one provider call (get / wrapkey / unwrapkey), ms */
    BENCH_X_VAULT_RATE,    /* provider calls per second, |threads| clients */
    BENCH_X_RSA_RATE,      /* OpenSSL EVP_PKEY_decrypt RSA-OAEP-256 per second */
    BENCH_X_ROTATION,      /* eng_store_rotate_kek, ms, against the DEK count */
    BENCH_X_ROTATION_SIZE, /* the same DEK count in a 1 GiB and a 4 GiB store */
};

#define BENCH_MAX_EXTRA_SAMPLES 1024

struct bench_extra {
    enum bench_extra_type type;
    const char *kind;      /* JSON kind */
    const char *keys;      /* "smk", "cmk", "none" */
    const char *op;        /* operation name */
    const char *condition; /* "" or e.g. "fault 10 ms", "throttled", "new connection" */
    int rsa_bits;          /* 0: none (SMK) */
    int threads;
    int fault_ms;
    int throttle;          /* 1: vault throttled to a low limit */
    int fresh_conn;        /* 1: a new provider (TLS connection) per open */
    int dek_count;
    uint64_t store_bytes;
    size_t count;          /* samples wanted */
    double window_s;       /* rates: seconds per sample */
    char label[112];
    /* results */
    const char *unit;
    double *samples;
    size_t nsamples;
    double p50, p90, p99, mean, min, max, ci_lo, ci_hi;
    double extra_value;    /* ROTATION_SIZE: the large store's median; VAULT_RATE: mean connections */
    const char *skip_reason;
    char note[160];
};

/* bench_extra_run measures |x| (0, or -1 with x->skip_reason set); bench_extra_stats fills percentiles. */
int bench_extra_run(struct bench_extra *x);
void bench_extra_stats(struct bench_extra *x);
void bench_extra_free(struct bench_extra *x);

/*
 * The AES ceiling (ceiling.c): plain AES-256 rounds over 8 independent
 * streams of |width_bits| registers, no mode around them. supported: 1 when
 * this CPU has the width within the ENG_ARCH cap (128: path avx or wider,
 * 256: vaes-avx2 or wider, 512: avx512); widest: the widest it has; chunk: bytes per step (|len| of a
 * run must be a multiple); run: -1 when unsupported or |len| is not a
 * multiple. |rk|: 15 round keys, each 16 bytes broadcast to 64.
 */
#define BENCH_CEILING_STREAMS 8
int bench_ceiling_supported(int width_bits);
int bench_ceiling_widest(void);
size_t bench_ceiling_chunk(int width_bits);
const char *bench_ceiling_width_name(int width_bits);
int bench_ceiling_run(int width_bits, int dec, const uint8_t (*rk)[64], const uint8_t *in,
                      uint8_t *out, size_t len);

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
    char loadavg_start[64]; /* /proc/loadavg's 1, 5, 15 minute figures when the run began */
    int sched_autogroup;    /* kernel.sched_autogroup_enabled: 1, 0, or -1 unknown */
};
/*
 * The bench pins its main thread to one core for the cipher cells; threads
 * and processes inherit that. bench_affinity_widen lets the calling thread
 * (and what it starts from now on) run on every online core, saving the old
 * set; bench_affinity_restore puts it back. The vault-mock and the vault /
 * RSA cells (clients, servers, rate threads) run widened: pinned to one core
 * they would share it, and "2 threads" would measure one core.
 */
void bench_affinity_widen(cpu_set_t *saved);
void bench_affinity_restore(const cpu_set_t *saved);
void bench_env_capture(struct bench_env *e, const char *profile, const char *commit);
int bench_write_json(const char *path, const struct bench_env *e, struct bench_cell *cells,
                     size_t n, struct bench_extra *xs, size_t nx, double wall_seconds);
int bench_write_csv(const char *path, struct bench_cell *cells, size_t n);
void bench_print_table(FILE *f, struct bench_cell *cells, size_t n);
/* Prints the bars (ratios measured in this run) and returns the number failed. */
int bench_print_bars(FILE *f, struct bench_cell *cells, size_t n, struct bench_extra *xs, size_t nx,
                     double wall_seconds, const char *profile);
/* Prints the store section (CMK/SMK and store/cipher ratios with CIs) and the extras table. */
void bench_print_store(FILE *f, struct bench_cell *cells, size_t n);
void bench_print_extras(FILE *f, struct bench_extra *xs, size_t nx);
/* Per-round ratio a_i / b_i of two cells of one group: median and order-statistic CI; -1 if unpaired
 * (rep_pair_paired of the reports library: the one pairing implementation, shared with cmk-report). */
int bench_paired_ratio(const struct bench_cell *a, const struct bench_cell *b, double *median,
                       double *lo, double *hi, double *level);
/* qsort comparator of doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);

/*
 * The bars' verdicts (bars.c), apart from the printing so tests can check
 * them. A paired ratio: median of the per-round ratios, its order-statistic
 * CI [lo, hi] and the CI's coverage.
 */
struct bench_ratio {
    double median, lo, hi, level;
};
/* The CMK/SMK store bar: the CMK store keeps at least 98% of the SMK store's speed. */
#define BENCH_CMK_SMK_MIN_RATIO 0.98
/* The measured store cell of |keys| ("smk", "cmk", ...) for this mode, direction, medium and
 * thread count; NULL if none (or skipped, or no samples). */
struct bench_cell *bench_find_store(struct bench_cell *cells, size_t n, enum eng_mode mode,
                                    enum eng_dir dir, enum bench_medium medium, const char *keys,
                                    int threads);
/*
 * bench_ratio_verdict - the paired ratio |num| / |den| (round by round) into
 * |r|, against the bar |min_ratio| (<= 0: no bar). Returns 1 if the median is
 * below the bar (FAIL), 0 if it meets it or there is no bar, -1 if either
 * cell is NULL or the two are not paired (|r| zeroed).
 */
int bench_ratio_verdict(const struct bench_cell *num, const struct bench_cell *den,
                        double min_ratio, struct bench_ratio *r);
/*
 * bench_cmk_smk_bar - the CMK/SMK store bar for one mode, direction, medium
 * and thread count: finds the "cmk" and "smk" store cells in |cells| and
 * divides CMK by SMK (throughputs: below 1 the CMK store is slower), against
 * BENCH_CMK_SMK_MIN_RATIO. Returns as bench_ratio_verdict; *|cmk| (if not
 * NULL) gets the CMK cell or NULL.
 */
int bench_cmk_smk_bar(struct bench_cell *cells, size_t n, enum eng_mode mode, enum eng_dir dir,
                      enum bench_medium medium, int threads, struct bench_ratio *r,
                      struct bench_cell **cmk);

#endif
