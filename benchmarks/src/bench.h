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

#include "base_err.h"
#include "eng_cipher.h"
#include "kinds.h"

/*
 * The bench's own error codes (base_err convention, base/include/base_err.h);
 * failures of memory, arguments and files use the base codes.
 */
enum bench_err_code {
    BENCH_ERR_LIB = BASE_CODE(BASE_CAT_INTERNAL, 0x81), /* the engine, OpenSSL or ipsec-mb failed */
    BENCH_ERR_VAULT = BASE_CODE(BASE_CAT_IO, 0x81),  /* the bench's vault-mock failed or is down */
    BENCH_ERR_CPU = BASE_CODE(BASE_CAT_USAGE, 0x81), /* this CPU (or ENG_ARCH) lacks the path */
};

/* bench_fail_lib sets |e| to BENCH_ERR_LIB "|what|: <the engine's last error>"; returns -1. */
#define bench_fail_lib(e, what) \
    base_err_set((e), BENCH_ERR_LIB, BASE_HERE, "%s: %s", (what), eng_strerror(eng_errno()))

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
    const struct bench_kind_ops *ops; /* its kind's ops (set by bench_plan_add) */
    enum eng_mode mode;
    enum eng_backend backend; /* for RAW: OPENSSL or IPSECMB */
    enum eng_arch arch;       /* requested path; AUTO = best */
    enum eng_dir dir;
    size_t unit_bytes;
    size_t batch;
    int threads;
    const char *keys;         /* "none"; store cells: "smk", "cmk", "cmk-reval1s" */
    enum bench_medium medium; /* store cells only */
    unsigned revalidate_s;    /* store cells only */
    int twin;                 /* 1: the A/A twin of the cell before it (same work) */
    int width_bits;           /* ceiling cells: 128 (xmm), 256 (ymm), 512 (zmm) */
    long vault_calls;         /* CMK store cells: vault requests while measured (-1: n/a) */
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
    double mean_gbps[BENCH_MAX_SAMPLES]; /* batch bytes over the mean batch time (counts slow
                                            batches) */
    /* statistics (filled by bench_stats) */
    double median, min, max, q1, q3, ci_lo, ci_hi, cpb_median;
    size_t outliers; /* samples outside [q1 - 1.5 IQR, q3 + 1.5 IQR]: reported, kept */
};

/*
 * The data of a group (group.c): every cipher and store cell of one group
 * (same mode, direction, unit size and batch) uses the same key, input,
 * output, IVs and tags, thread by thread, so cells compared in a ratio touch
 * the same memory. bench_group_buffer returns thread |t|'s input (|output|
 * 0) or output buffer of |c|'s group (batch x unit bytes); release it with
 * bench_group_buffer_release(*handle). NULL with |e| set.
 */
void *bench_group_buffer(const struct bench_cell *c, int t, int output, void **handle,
                         struct base_err *e);
void bench_group_buffer_release(void *handle);

/*
 * A cipher cell's units over its group's data (group.c): |units| are |batch|
 * engine units from |in| to |out| with the group's IVs and tags, |key| the
 * group's key (64 bytes). bench_units_get: 0, or -1 with |e| set;
 * bench_units_put releases (a zeroed struct is a no-op).
 */
struct bench_units {
    void *group;
    uint8_t *in, *out, *ivs, *tags;
    const uint8_t *key;
    struct eng_unit *units;
};
int bench_units_get(const struct bench_cell *c, int t, struct bench_units *u, struct base_err *e);
void bench_units_put(struct bench_units *u);
/*
 * bench_cipher_state_new allocates a zeroed state of |size| bytes whose
 * first member is a struct bench_units, stores it in c->state[t] and gets
 * its units. NULL with |e| set (a state already stored is the caller's to
 * release). bench_cipher_state_free puts the units and frees the state.
 */
void *bench_cipher_state_new(struct bench_cell *c, int t, size_t size, struct base_err *e);
void bench_cipher_state_free(void *state);
/* The engine key length of |m| (XTS 64, else 32) and where buffers of key material go. */
size_t bench_key_len(enum eng_mode m);
/*
 * bench_key_place returns |len| bytes in their own mapping at a fixed offset
 * (deterministic placement, see group.c), or NULL; free with bench_key_unplace.
 */
void *bench_key_place(size_t len);
void bench_key_unplace(void *p);
/* The key schedule copy sample c->nsamples uses (cells hold BENCH_KEY_COPIES, see group.c). */
#define BENCH_KEY_COPIES 4
size_t bench_key_copy(const struct bench_cell *c);

/*
 * The generic cell layer (cell.c), through the cell's ops: prepare makes
 * c->threads states (0, or -1 with |e| set), run_once runs one batch on
 * state |t|, release frees every state.
 */
int bench_cell_prepare(struct bench_cell *c, struct base_err *e);
int bench_cell_run_once(struct bench_cell *c, int t);
void bench_cell_release(struct bench_cell *c);
/* JSON kind, backend and arch of a cell (its ops', else the engine's names). */
const char *bench_cell_json_kind(const struct bench_cell *c);
const char *bench_cell_json_backend(const struct bench_cell *c);
const char *bench_cell_json_arch(const struct bench_cell *c);
/* bench_unit_str formats a unit size as 512B, 8KiB, 1MiB. */
void bench_unit_str(char *out, size_t max, size_t unit_bytes);
/* bench_describe: "<label> <unit> <encrypt|decrypt>", what --list and --filter see. */
void bench_describe(const struct bench_cell *c, char *out, size_t max);

/*
 * The run's environment (runenv.c): its temporary folder, its own
 * vault-mock, KEK providers, CPU affinity and store set-up.
 *
 * bench_vault_start starts the bench's vault-mock on loopback with a fresh
 * temporary state folder and --throttle off; keys bench-2048, bench-3072
 * (and bench-4096 when |with_4096|) created by keyofficer. 0, or -1 with |e|
 * set (BENCH_ERR_VAULT). bench_vault_provider returns a provider for
 * identity dbservice on key bench-BITS (NULL when the vault is not running).
 */
int bench_vault_start(int with_4096, struct base_err *e);
void bench_vault_stop(void);
int bench_vault_running(void);
struct eng_kek_provider;
struct eng_kek_provider *bench_vault_provider(int bits);
/* bench_tmpdir returns the run's private temporary folder (made on first use; NULL on failure). */
const char *bench_tmpdir(void);
void bench_tmpdir_remove(void);
/* bench_remove_tree removes |path| and everything below it (rm -rf). */
void bench_remove_tree(const char *path);
/* bench_new_store_dir writes a fresh folder name under bench_tmpdir() into |out|; NULL on failure.
 */
char *bench_new_store_dir(char *out, size_t max);
/* bench_vault_call sends a request as |who| (a tokens.json name) to the bench's vault; the HTTP
 * status. */
long bench_vault_call(const char *who, const char *method, const char *path, const char *body);
/* bench_vault_create_key creates RSA key |name| as keyofficer; the HTTP status (0: no vault). */
long bench_vault_create_key(const char *name, int bits);
/* bench_vault_provider_named: a dbservice provider on key |name| (NULL: no vault or error). */
struct eng_kek_provider *bench_vault_provider_named(const char *name, int max_retries);
/*
 * bench_open_provider: "smk" on the run's key file, else CMK on
 * bench-|bits|; NULL with |e| set (BENCH_ERR_VAULT when the vault is not
 * running, else BENCH_ERR_LIB with the engine's message).
 */
struct eng_kek_provider *bench_open_provider(const char *keys, int bits, struct base_err *e);
/* bench_vault_requests: the requests a vault provider sent so far (0 for others; store.c). */
uint64_t bench_vault_requests(const struct eng_kek_provider *p);
struct eng_store_config;
/* bench_store_config: defaults, then 8 KiB units, |units|, |extent_units|, |revalidate_s| (0:
 * default). */
void bench_store_config(struct eng_store_config *cfg, enum eng_mode mode, uint64_t units,
                        uint32_t extent_units, unsigned revalidate_s);
/*
 * bench_make_store creates a folder store of |deks| extents of
 * |extent_units| 8 KiB units under |kek| in a new folder (its name into
 * |dir|) and closes it. 0, or -1 (the engine's error in eng_errno).
 */
int bench_make_store(struct eng_kek_provider *kek, enum eng_mode mode, uint32_t deks,
                     uint32_t extent_units, char *dir, size_t dir_max);

/*
 * Extras: results that are not interleaved throughput cells: cold opens,
 * vault operation latency and rate, the OpenSSL RSA private-key rate, KEK
 * rotation (enum bench_extra_type and their ops: kinds.h). Each is a list
 * of samples (ms, or ops/s per window).
 */
#define BENCH_MAX_EXTRA_SAMPLES 1024

struct bench_extra {
    enum bench_extra_type type;
    const struct bench_extra_ops *ops; /* its kind's ops (set by bench_plan_add_extra) */
    const char *kind;                  /* JSON kind */
    const char *keys;                  /* "smk", "cmk", "none" */
    const char *op;                    /* operation name */
    const char *condition;             /* "" or e.g. "fault 10 ms", "throttled", "new connection" */
    int rsa_bits;                      /* 0: none (SMK) */
    int threads;
    int fault_ms;
    int throttle;   /* 1: vault throttled to a low limit */
    int fresh_conn; /* 1: a new provider (TLS connection) per open */
    int dek_count;
    uint64_t store_bytes;
    /* JSON "mode", "backend", "arch", "unit_bytes" of this row; NULL / 0: the kind's defaults */
    const char *json_mode, *json_backend, *json_arch;
    double unit_bytes;
    size_t count;    /* samples wanted */
    double window_s; /* rates: seconds per sample */
    char label[112];
    /* results */
    const char *unit;
    double *samples;
    size_t nsamples;
    double p50, p90, p99, mean, min, max, ci_lo, ci_hi;
    double extra_value; /* ROTATION_SIZE: the large store's median; VAULT_RATE: mean connections */
    const char *skip_reason;
    char note[160];
};

/*
 * bench_extra_run measures |x| through its ops (0, or -1 with x->skip_reason
 * set to the error's message); bench_extra_stats fills percentiles;
 * bench_extra_free frees the samples. bench_extra_sample adds one sample
 * (up to x->count). All in cell.c but bench_extra_stats (stats.c).
 */
int bench_extra_run(struct bench_extra *x);
void bench_extra_stats(struct bench_extra *x);
void bench_extra_free(struct bench_extra *x);
void bench_extra_sample(struct bench_extra *x, double v);

/*
 * Profiles (main.c) and the plan of a run: the cells and extras a profile
 * measures, made by each kind's plan hook (kinds.c walks the table).
 */
struct bench_profile {
    const char *name;
    size_t sizes[6];
    size_t nsizes;
    size_t samples;
    double min_time;   /* seconds per sample */
    int arch_variants; /* also measure narrower paths of multi-path back ends */
    int store_full;    /* store cells: folder medium, 1 s revalidation, 2 threads too */
    size_t opens;      /* cold opens per latency cell */
    size_t vault_ops;  /* timed calls per vault latency cell */
    size_t windows;    /* rate samples */
    double window_s;   /* seconds per rate sample */
    int all_rsa;       /* RSA 2048, 3072, 4096 (else the few cells the bars need) */
    int rot_deks[4];
    size_t nrot;
    size_t rot_samples;
    int rot_size; /* 1 GiB vs 4 GiB rotation check */
    int db;       /* database section (kind_db.c): 0 none, 1 short (bench.sh --quick), 2 full */
    const char *only_kind; /* the only extra kind (JSON kind) this profile plans; NULL: all */
};

struct bench_plan {
    const struct bench_profile *profile;
    enum eng_arch best; /* the best path of this CPU within the ENG_ARCH cap */
    int ncores;         /* online cores */
    struct bench_cell *cells;
    size_t ncells, max_cells;
    struct bench_extra *xs;
    size_t nxs, max_xs;
};

/*
 * bench_plan_add appends cell |c| of kind |ops| to the plan (dropped when
 * the plan is full): sets its kind, ops and label (ops->describe), one
 * thread unless said, keys "none" unless said. bench_plan_add_extra appends
 * extra |x| of kind |ops|: sets its type, ops, JSON kind, unit, operation
 * (if the kind fixes it), label, one thread unless said. Both in cell.c.
 */
/* bench_profile_rsa_sizes: the RSA sizes the extras of |p| use (2048, 3072 and, with all_rsa,
 * 4096). */
size_t bench_profile_rsa_sizes(const struct bench_profile *p, const int **sizes);
void bench_plan_add(struct bench_plan *pl, const struct bench_kind_ops *ops, struct bench_cell c);
void bench_plan_add_extra(struct bench_plan *pl, const struct bench_extra_ops *ops,
                          struct bench_extra x);
/* bench_plan_init starts an empty plan for |p| into the caller's arrays (kinds.c). */
void bench_plan_init(struct bench_plan *pl, const struct bench_profile *p, struct bench_cell *cells,
                     size_t max_cells, struct bench_extra *xs, size_t max_xs);
/*
 * bench_plan_cells and bench_plan_extras fill the plan for |pl->profile|
 * (kinds.c): the groups (mode x unit size x direction) with each cell
 * kind's cells in table order, then each extra kind's extras.
 */
void bench_plan_cells(struct bench_plan *pl);
void bench_plan_extras(struct bench_plan *pl);

/*
 * The AES ceiling (ceiling.c): plain AES-256 rounds over 8 independent
 * streams of |width_bits| registers, no mode around them. supported: 1 when
 * this CPU has the width within the ENG_ARCH cap (128: path avx or wider,
 * 256: vaes-avx2 or wider, 512: avx512); widest: the widest it has; chunk: bytes per step (|len| of
 * a run must be a multiple); run: -1 when unsupported or |len| is not a multiple. |rk|: 15 round
 * keys, each 16 bytes broadcast to 64.
 */
#define BENCH_CEILING_STREAMS 8
int bench_ceiling_supported(int width_bits);
int bench_ceiling_widest(void);
size_t bench_ceiling_chunk(int width_bits);
const char *bench_ceiling_width_name(int width_bits);
int bench_ceiling_run(int width_bits, int dec, const uint8_t (*rk)[64], const uint8_t *in,
                      uint8_t *out, size_t len);

/*
 * bench_sample takes one sample of |c| (sample.c): each of its threads
 * (thread t on cpu (first_cpu + t) % ncpu; ncpu 0: not pinned) runs
 * batches for at least |min_time| seconds after one untimed batch, each
 * timed with the TSC; the sample is the sum of the threads' batch bytes over
 * their median batch time, appended to c->gbps (with cycles per byte and
 * the mean-batch figure). 0, or -1 when a batch or thread failed.
 * bench_pin pins the calling thread to |cpu| (< 0: no-op).
 */
int bench_sample(struct bench_cell *c, double min_time, int first_cpu, int ncpu);
void bench_pin(int cpu);

/* Statistics over c->gbps: median, IQR, 95% order-statistic CI of the median. */
void bench_stats(struct bench_cell *c);

/* Timing: monotonic seconds and the calibrated time-stamp counter. */
double bench_now(void);
uint64_t bench_rdtsc(void);
double bench_tsc_hz(void); /* calibrated once against CLOCK_MONOTONIC */

/* Environment capture (env.c) and output (output.c: bench.json, CSV, tables; barsprint.c: the
 * bars). */
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
/* bench_loadavg writes /proc/loadavg's 1, 5 and 15 minute figures as "0.12 0.30 0.25" ("" if
 * unreadable). */
void bench_loadavg(char *out, size_t out_len);
int bench_write_json(const char *path, const struct bench_env *e, struct bench_cell *cells,
                     size_t n, struct bench_extra *xs, size_t nx, double wall_seconds);
/* bench_extra_write_percentiles adds "p50", "p90", "p99" (a write_results hook of latency kinds).
 */
void bench_extra_write_percentiles(struct cJSON *r, const struct bench_extra *x);
int bench_write_csv(const char *path, struct bench_cell *cells, size_t n);
void bench_print_table(FILE *f, struct bench_cell *cells, size_t n);
/* Prints the bars (ratios measured in this run) and returns the number failed. */
int bench_print_bars(FILE *f, struct bench_cell *cells, size_t n, struct bench_extra *xs, size_t nx,
                     double wall_seconds, const char *profile);
/* Prints each cell kind's own section in table order (its print hook: the store's CMK/SMK ratios;
 * kinds.c). */
void bench_print_sections(FILE *f, struct bench_cell *cells, size_t n);
/* Prints the extras table (output.c): the rows of kinds without a print_section hook. */
void bench_print_extras(FILE *f, struct bench_extra *xs, size_t nx);
/* Prints each extra kind's own section (its print_section hook) once, in table order (kinds.c). */
void bench_print_extra_sections(FILE *f, struct bench_extra *xs, size_t nx);
/* Per-round ratio a_i / b_i of two cells of one group: median and order-statistic CI; -1 if
 * unpaired (rep_pair_paired of the reports library: the one pairing implementation, shared with
 * cmk-report). */
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
/* The cipher cell a store cell runs on: engine, same group, back end and path, one thread; or NULL.
 */
struct bench_cell *bench_find_cipher_of(struct bench_cell *cells, size_t n,
                                        const struct bench_cell *s);
/* "memory" or "file". */
const char *bench_medium_name(enum bench_medium m);
/*
 * bench_print_ratio prints one paired ratio line of verdict |v|
 * (bench_ratio_verdict's) with its CI, and the bar when |bar| > 0; returns
 * |v|. bench_ratio_line computes the verdict of |a| / |b| and prints it.
 */
int bench_print_ratio(FILE *f, const char *name, int v, const struct bench_ratio *r, double bar);
int bench_ratio_line(FILE *f, const char *name, const struct bench_cell *a,
                     const struct bench_cell *b, double bar);

/*
 * The database section (kind_db.c). bench_db_load_result reads a
 * scripts/db/bench.sh result file (cmk-db-stats' JSON) at |path| as the
 * result of the planned pass of |backing| that took |wall_s| seconds (the
 * run hook then reads it instead of running bench.sh): 0, or -1 with |e| set
 * (no such pass planned, unreadable, or no "samples" array).
 * bench_db_wall_seconds: the summed wall time of the passes run (-1: none).
 */
int bench_db_load_result(const char *backing, const char *path, double wall_s, struct base_err *e);
double bench_db_wall_seconds(void);

/* The standard run's database section budget (issue 15), seconds. */
#define BENCH_DB_BUDGET_S 120.0

enum bench_db_status { BENCH_DB_NOT_MEASURED = -1, BENCH_DB_FAIL = 0, BENCH_DB_PASS = 1 };

/* One bar of issue 15 on one backing and workload. */
struct bench_db_bar {
    char name[160]; /* "cmk-fs/gocryptfs, fio random 8 KiB, fio-randread (cmkfs-smk / gocryptfs,
                       tmpfs)" */
    double min;     /* the bar: median of the per-round ratios >= min */
    enum bench_db_status status;
    struct bench_ratio r; /* PASS / FAIL: the paired ratio num / den */
    char why[200];        /* not measured: why (a target not planned, skipped, too few rounds) */
};

/*
 * bench_db_bars - the bars of issue 15 over the db rows of |xs| (other rows
 * ignored): for each backing, bar and workload the bar covers that the plan
 * has, the per-round paired ratio num / den (rep_pair_paired) against the
 * bar; "not measured" with the reason when a target is not planned, did not
 * run (its skip reason) or has fewer than REP_PAIR_MIN_ROUNDS paired rounds.
 * Writes up to |max| into |out|; returns the count.
 */
size_t bench_db_bars(const struct bench_extra *xs, size_t nx, struct bench_db_bar *out, size_t max);
/*
 * bench_db_print_bars prints them, and for the standard profile the
 * section's duration bar (<= BENCH_DB_BUDGET_S); returns the number failed.
 */
int bench_db_print_bars(FILE *f, const struct bench_extra *xs, size_t nx, const char *profile);

#endif
