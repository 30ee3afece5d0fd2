/*
 * cmk-bench - throughput of the engine's cipher layer against the
 * libraries called directly, of the store under the service-managed key
 * (SMK) and the customer-managed key (CMK, the bench's own vault-mock),
 * cold-open latency, the vault's operations next to OpenSSL's RSA rate, and
 * KEK rotation; written to reports/out/bench.json (+ .csv).
 *
 * Usage: cmk-bench [--profile quick|standard|full] [--out DIR] [--filter S]
 *                  [--list] [--samples N] [--min-time MS] [--commit SHA]
 *                  [--strict] [--help]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "eng_cpu.h"
#include "eng_store.h"
#include "vmt_client.h"

#define MAX_CELLS 1024

struct profile {
    const char *name;
    size_t sizes[6];
    size_t nsizes;
    size_t samples;
    double min_time; /* seconds per sample */
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
    int rot_size;      /* 1 GiB vs 4 GiB rotation check */
};

static const struct profile profiles[] = {
    {"quick", {512, 8192}, 2, 5, 0.02, 0, 0, 30, 30, 3, 0.2, 0, {4, 16}, 2, 3, 0},
    {"standard", {512, 4096, 8192, 65536}, 4, 10, 0.05, 1, 1, 200, 200, 5, 0.3, 1, {4, 16, 64, 256}, 4, 5, 0},
    {"full", {512, 4096, 8192, 65536, 1048576}, 5, 20, 0.1, 1, 1, 400, 400, 10, 0.5, 1, {4, 16, 64, 256}, 4, 10, 1},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cmk-bench [options]\n"
            "Measures AES-256 throughput of the engine (XTS, GCM, CTR, CBC; every back end)\n"
            "next to OpenSSL EVP and ipsec-mb called directly, the store under SMK and CMK\n"
            "(its own vault-mock on 127.0.0.1), cold opens, vault operations next to OpenSSL's\n"
            "RSA rate, and KEK rotation, in the same run.\n\n"
            "  --profile NAME   quick (CI, < 1 min), standard (default), full\n"
            "  --out DIR        output folder (default reports/out): bench.json, bench.csv\n"
            "  --filter TEXT    only cells whose description contains TEXT (e.g. 'xts', 'gcm 8KiB');\n"
            "                   several alternatives separated by '|' ('xts native|raw xts')\n"
            "  --list           print the cells and exit\n"
            "  --samples N      samples per cell (default by profile: 5 / 10 / 20; at most %d)\n"
            "  --min-time MS    minimum duration of one sample in ms\n"
            "  --commit SHA     git commit recorded in the results\n"
            "  --strict         exit 3 when a bar is not met\n"
            "  --help           this text\n\n"
            "Environment: ENG_ARCH caps the CPU path of the engine cells, the AES ceiling cells\n"
            "and the bars (ENG_ARCH=vaes-avx2 on an AVX-512 CPU measures as a Zen 3 would run),\n"
            "ENG_BACKEND forces back ends (see README);\n"
            "VMOCK_BIN the vault-mock program (default bin/vault-mock).\n"
            "Exit: 0 done, 1 runtime error, 2 usage error, 3 a bar failed (--strict).\n",
            BENCH_MAX_SAMPLES);
}

static void unit_str(char *out, size_t max, size_t u)
{
    if (u >= 1024 * 1024) {
        snprintf(out, max, "%zuMiB", u >> 20);
    } else if (u >= 1024) {
        snprintf(out, max, "%zuKiB", u >> 10);
    } else {
        snprintf(out, max, "%zuB", u);
    }
}

static size_t add_cell(struct bench_cell *cells, size_t n, struct bench_cell c)
{
    if (n >= MAX_CELLS) {
        return n;
    }
    char u[24];
    unit_str(u, sizeof(u), c.unit_bytes);
    if (c.kind == BENCH_KIND_CEILING) {
        snprintf(c.label, sizeof(c.label), "ceiling aes256 %s 8 streams",
                 bench_ceiling_width_name(c.width_bits));
    } else if (c.kind == BENCH_KIND_RAW) {
        snprintf(c.label, sizeof(c.label), "raw %s %s", eng_mode_name(c.mode),
                 c.backend == ENG_BACKEND_OPENSSL ? "openssl-evp" : "ipsec-mb");
    } else if (c.kind == BENCH_KIND_STORE) {
        snprintf(c.label, sizeof(c.label), "store %s %s %s%s", eng_mode_name(c.mode), c.keys,
                 c.medium == BENCH_MEDIUM_FILE ? "file" : "memory",
                 c.threads > 1 ? (c.threads == 2 ? " 2T" : " NT") : "");
    } else {
        snprintf(c.label, sizeof(c.label), "engine %s %s/%s%s%s", eng_mode_name(c.mode),
                 eng_backend_name(c.backend), eng_arch_name(c.arch),
                 c.threads > 1 ? (c.threads == 2 ? " 2T" : " NT") : "", c.twin ? " A/A twin" : "");
    }
    c.threads = c.threads > 0 ? c.threads : 1;
    if (c.kind != BENCH_KIND_STORE) {
        c.keys = "none";
    }
    cells[n] = c;
    return n + 1;
}

/*
 * Store cells of one (mode, direction), in the group of the 8 KiB cipher
 * cells: SMK and CMK side by side per medium, so that they are sampled in
 * the same interleaved rounds as each other and as the cipher cell of the
 * same back end (store/cipher ratio).
 */
static size_t add_store_cells(struct bench_cell *cells, size_t n, struct bench_cell base,
                              const struct profile *p, int ncores)
{
    static const char *const keys[] = {"smk", "cmk"};
    base.kind = BENCH_KIND_STORE;
    base.backend = ENG_BACKEND_AUTO;
    base.arch = ENG_ARCH_AUTO;
    base.revalidate_s = ENG_STORE_DEFAULT_REVALIDATE_S;
    for (int med = BENCH_MEDIUM_MEMORY; med <= BENCH_MEDIUM_FILE; med++) {
        if (med == BENCH_MEDIUM_FILE && !p->store_full) {
            continue;
        }
        for (int k = 0; k < 2; k++) {
            struct bench_cell c = base;
            c.medium = (enum bench_medium)med;
            c.keys = keys[k];
            n = add_cell(cells, n, c);
        }
    }
    if (base.mode == ENG_MODE_XTS) {
        /* the integrity option's cost: per-unit HMAC-SHA-256, same geometry as "smk memory" */
        struct bench_cell c = base;
        c.medium = BENCH_MEDIUM_MEMORY;
        c.keys = "smk-hmac";
        n = add_cell(cells, n, c);
    }
    if (p->store_full) {
        struct bench_cell c = base;
        c.medium = BENCH_MEDIUM_MEMORY;
        c.keys = "cmk-reval1s";
        c.revalidate_s = 1;
        n = add_cell(cells, n, c);
        if (ncores > 1) {
            for (int k = 0; k < 2; k++) {
                c = base;
                c.medium = BENCH_MEDIUM_MEMORY;
                c.keys = keys[k];
                c.threads = ncores > BENCH_MAX_THREADS ? BENCH_MAX_THREADS : ncores;
                n = add_cell(cells, n, c);
            }
        }
    }
    return n;
}

static size_t build_cells(struct bench_cell *cells, const struct profile *p)
{
    size_t n = 0;
    int ncores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    int group = 0;
    /* the best path within the ENG_ARCH cap: ENG_ARCH=vaes-avx2 measures as on a Zen 3 */
    enum eng_arch best = eng_cpu_best_arch();
    (void)eng_arch_effective(ENG_ARCH_AUTO, &best);
    for (int m = 0; m < ENG_MODE_COUNT; m++) {
        for (size_t si = 0; si < p->nsizes; si++) {
            for (int d = 0; d < 2; d++) {
                struct bench_cell base = {.mode = (enum eng_mode)m, .dir = (enum eng_dir)d,
                                          .unit_bytes = p->sizes[si], .group = group++};
                base.batch = base.unit_bytes >= (1 << 20) ? 8 : 64;
                struct bench_cell c = base;
                c.kind = BENCH_KIND_RAW;
                c.backend = ENG_BACKEND_OPENSSL;
                n = add_cell(cells, n, c);
                /* the AES ceiling at every width this CPU has (XTS groups: the native bars) */
                static const int widths[] = {128, 256, 512};
                for (size_t w = 0; m == ENG_MODE_XTS && w < 3; w++) {
                    if (bench_ceiling_supported(widths[w])) {
                        struct bench_cell cc = base;
                        cc.kind = BENCH_KIND_CEILING;
                        cc.width_bits = widths[w];
                        n = add_cell(cells, n, cc);
                    }
                }
                if (m != ENG_MODE_XTS) {
                    c.backend = ENG_BACKEND_IPSECMB;
                    if (m == ENG_MODE_CBC && c.unit_bytes > 65535) {
                        c.skip_reason = "ipsec-mb CBC jobs are limited to 65535 bytes";
                    }
                    n = add_cell(cells, n, c);
                }
                for (int b = ENG_BACKEND_NATIVE; b < ENG_BACKEND_COUNT; b++) {
                    if (!eng_backend_supports((enum eng_backend)b, (enum eng_mode)m, best)) {
                        continue;
                    }
                    c = base;
                    c.kind = BENCH_KIND_ENGINE;
                    c.backend = (enum eng_backend)b;
                    c.arch = best;
                    n = add_cell(cells, n, c);
                    /* A/A: the same cell twice in one group (XTS native, GCM ipsec-mb, 8 KiB encrypt) */
                    if (c.unit_bytes == 8192 && c.dir == ENG_ENCRYPT &&
                        ((m == ENG_MODE_XTS && b == ENG_BACKEND_NATIVE) ||
                         (m == ENG_MODE_GCM && b == ENG_BACKEND_IPSECMB))) {
                        struct bench_cell tw = c;
                        tw.twin = 1;
                        n = add_cell(cells, n, tw);
                    }
                    /* thread scaling: the mode's default back end on every core */
                    enum eng_backend def;
                    enum eng_arch da;
                    if (ncores > 1 && c.unit_bytes >= 8192 && c.unit_bytes <= 65536 &&
                        eng_resolve((enum eng_mode)m, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, &def, &da) == 0 &&
                        def == (enum eng_backend)b) {
                        struct bench_cell tc = c;
                        tc.threads = ncores > BENCH_MAX_THREADS ? BENCH_MAX_THREADS : ncores;
                        n = add_cell(cells, n, tc);
                    }
                    /* the narrower paths of multi-path back ends (native always: they have
                     * bars): the ymm VAES path where it is not the best (ipsec-mb runs its avx2
                     * code there), and the AES-NI path */
                    int variants = p->arch_variants || b == ENG_BACKEND_NATIVE;
                    if (variants && b == ENG_BACKEND_NATIVE && best > ENG_ARCH_VAES_AVX2 &&
                        eng_backend_supports((enum eng_backend)b, (enum eng_mode)m,
                                             ENG_ARCH_VAES_AVX2)) {
                        c.arch = ENG_ARCH_VAES_AVX2;
                        n = add_cell(cells, n, c);
                    }
                    if (variants && b != ENG_BACKEND_OPENSSL && best > ENG_ARCH_AVX2 &&
                        eng_backend_supports((enum eng_backend)b, (enum eng_mode)m, ENG_ARCH_AVX2)) {
                        c.arch = ENG_ARCH_AVX2;
                        n = add_cell(cells, n, c);
                    }
                }
                if (base.unit_bytes == 8192 && (m == ENG_MODE_XTS || m == ENG_MODE_GCM)) {
                    n = add_store_cells(cells, n, base, p, ncores);
                }
            }
        }
    }
    return n;
}

#define MAX_EXTRAS 128

static size_t add_extra(struct bench_extra *xs, size_t n, struct bench_extra x)
{
    if (n >= MAX_EXTRAS) {
        return n;
    }
    char rsa[16] = "";
    if (x.rsa_bits > 0) {
        snprintf(rsa, sizeof(rsa), " RSA-%d", x.rsa_bits);
    }
    if (x.threads < 1) {
        x.threads = 1;
    }
    switch (x.type) {
        case BENCH_X_COLD_OPEN:
            x.kind = "latency";
            x.unit = "ms";
            x.op = "cold-open";
            snprintf(x.label, sizeof(x.label), "cold-open %s%s%s%s", x.keys, rsa,
                     x.condition[0] ? " " : "", x.condition);
            break;
        case BENCH_X_VAULT_OP:
            x.kind = "vault";
            x.unit = "ms";
            snprintf(x.label, sizeof(x.label), "vault %s%s 1 client", x.op, rsa);
            break;
        case BENCH_X_VAULT_RATE:
            x.kind = "vault-rate";
            x.unit = "ops/s";
            snprintf(x.label, sizeof(x.label), "vault-rate %s%s %d client%s", x.op, rsa, x.threads,
                     x.threads > 1 ? "s" : "");
            break;
        case BENCH_X_RSA_RATE:
            x.kind = "openssl-rsa";
            x.unit = "ops/s";
            x.op = "rsa-oaep-256-decrypt";
            snprintf(x.label, sizeof(x.label), "openssl-rsa decrypt%s %d thread%s", rsa, x.threads,
                     x.threads > 1 ? "s" : "");
            break;
        case BENCH_X_ROTATION:
            x.kind = "rotation";
            x.unit = "ms";
            x.op = "rotate-kek";
            snprintf(x.label, sizeof(x.label), "rotation %s%s %d DEKs", x.keys, rsa, x.dek_count);
            break;
        case BENCH_X_ROTATION_SIZE:
            x.kind = "rotation-size";
            x.unit = "ms";
            x.op = "rotate-kek";
            snprintf(x.label, sizeof(x.label), "rotation-size %s %d DEKs 1 GiB vs 4 GiB", x.keys,
                     x.dek_count);
            break;
    }
    xs[n] = x;
    return n + 1;
}

/* The extras of a profile, in the order they run. */
static size_t build_extras(struct bench_extra *xs, const struct profile *p)
{
    size_t n = 0;
    static const int all[] = {2048, 3072, 4096};
    static const int few[] = {2048, 3072};
    const int *sizes = p->all_rsa ? all : few;
    size_t nsizes = p->all_rsa ? 3 : 2;
    /* cold opens */
    n = add_extra(xs, n, (struct bench_extra){.type = BENCH_X_COLD_OPEN, .keys = "smk", .condition = "",
                                              .count = p->opens});
    for (size_t i = 0; i < nsizes; i++) {
        n = add_extra(xs, n, (struct bench_extra){.type = BENCH_X_COLD_OPEN, .keys = "cmk", .condition = "",
                                                  .rsa_bits = sizes[i], .count = p->opens});
    }
    n = add_extra(xs, n, (struct bench_extra){.type = BENCH_X_COLD_OPEN, .keys = "cmk",
                                              .condition = "new connection", .fresh_conn = 1,
                                              .rsa_bits = 3072, .count = p->opens});
    /* vault latency */
    static const int faults[] = {1, 10, 50};
    static const char *const fault_names[] = {"fault 1 ms", "fault 10 ms", "fault 50 ms"};
    for (size_t i = 0; i < 3; i++) {
        if (!p->store_full && faults[i] != 10) {
            continue;
        }
        n = add_extra(xs, n, (struct bench_extra){.type = BENCH_X_COLD_OPEN, .keys = "cmk",
                                                  .condition = fault_names[i], .fault_ms = faults[i],
                                                  .rsa_bits = 3072, .count = p->opens});
    }
    n = add_extra(xs, n, (struct bench_extra){.type = BENCH_X_COLD_OPEN, .keys = "cmk",
                                              .condition = "throttled 20/s", .throttle = 1,
                                              .rsa_bits = 3072, .count = p->opens < 60 ? 30 : 60});
    /* the vault's operations and OpenSSL's RSA rate */
    static const char *const ops[] = {"get", "wrapkey", "unwrapkey"};
    for (size_t i = 0; i < nsizes; i++) {
        if (!p->all_rsa && sizes[i] != 2048) {
            continue;
        }
        for (size_t o = 0; o < 3; o++) {
            n = add_extra(xs, n, (struct bench_extra){.type = BENCH_X_VAULT_OP, .keys = "cmk", .op = ops[o],
                                                      .condition = "", .rsa_bits = sizes[i],
                                                      .count = p->vault_ops});
            for (int t = 1; t <= 2; t++) {
                if (!p->all_rsa && (t == 1 || o != 2)) {
                    continue;
                }
                n = add_extra(xs, n, (struct bench_extra){.type = BENCH_X_VAULT_RATE, .keys = "cmk",
                                                          .op = ops[o], .condition = "", .threads = t,
                                                          .rsa_bits = sizes[i], .count = p->windows,
                                                          .window_s = p->window_s});
            }
        }
        for (int t = 1; t <= 2; t++) {
            n = add_extra(xs, n, (struct bench_extra){.type = BENCH_X_RSA_RATE, .keys = "none", .condition = "",
                                                      .threads = t, .rsa_bits = sizes[i], .count = p->windows,
                                                      .window_s = p->window_s});
        }
    }
    /* KEK rotation against the DEK count */
    for (size_t i = 0; i < p->nrot; i++) {
        n = add_extra(xs, n, (struct bench_extra){.type = BENCH_X_ROTATION, .keys = "smk", .condition = "",
                                                  .dek_count = p->rot_deks[i], .count = p->rot_samples});
        n = add_extra(xs, n, (struct bench_extra){.type = BENCH_X_ROTATION, .keys = "cmk", .condition = "",
                                                  .rsa_bits = 3072, .dek_count = p->rot_deks[i],
                                                  .count = p->rot_samples});
    }
    if (p->rot_size) {
        /* rotation here is two fsyncs of a small file (~6 ms) whose latency on a shared
         * disk varies by 2x: 60 alternating pairs cost ~2 s against 27 s of store set-up */
        n = add_extra(xs, n, (struct bench_extra){.type = BENCH_X_ROTATION_SIZE, .keys = "smk", .condition = "",
                                                  .dek_count = 16, .store_bytes = 1ULL << 30,
                                                  .count = 60});
    }
    return n;
}

/* 1 when |filter| is NULL or one of its '|'-separated alternatives occurs in |text|. */
static int matches(const char *filter, const char *text)
{
    if (filter == NULL) {
        return 1;
    }
    for (const char *p = filter;;) {
        size_t len = strcspn(p, "|");
        if (len > 0) {
            for (const char *t = text; *t != '\0'; t++) {
                if (strncmp(t, p, len) == 0) {
                    return 1;
                }
            }
        }
        if (p[len] == '\0') {
            return 0;
        }
        p += len + 1;
    }
}

static void describe(const struct bench_cell *c, char *out, size_t max)
{
    char u[24];
    unit_str(u, sizeof(u), c->unit_bytes);
    snprintf(out, max, "%s %s %s", c->label, u, c->dir == ENG_ENCRYPT ? "encrypt" : "decrypt");
}

#define MAX_TIMED_BATCHES 65536

struct worker {
    struct bench_cell *c;
    int t, cpu, rc;
    double min_time;
    uint64_t batches, recorded;
    uint32_t *cycles; /* TSC ticks of each timed batch (saturated at 2^32-1) */
    pthread_barrier_t *go;
};

static void pin(int cpu)
{
    if (cpu < 0) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)sched_setaffinity(0, sizeof(set), &set);
}

/* Runs batches on state |t| for at least |min_time| (after one untimed batch), timing each. */
static void *work(void *arg)
{
    struct worker *w = arg;
    pin(w->cpu);
    w->rc = bench_cell_run_once(w->c, w->t); /* untimed: warms caches after other cells ran */
    if (w->go != NULL) {
        pthread_barrier_wait(w->go);
    }
    double t0 = bench_now();
    uint64_t b0 = bench_rdtsc();
    while (w->rc == 0) {
        w->rc = bench_cell_run_once(w->c, w->t);
        uint64_t b1 = bench_rdtsc();
        if (w->recorded < MAX_TIMED_BATCHES) {
            uint64_t d = b1 - b0;
            w->cycles[w->recorded++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
        }
        w->batches++;
        b0 = b1;
        if ((w->batches & 15) == 0 || w->recorded >= MAX_TIMED_BATCHES) {
            if (bench_now() - t0 >= w->min_time) {
                break;
            }
        }
    }
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/*
 * One sample: every thread runs batches for at least |min_time|, each batch
 * timed with the TSC. A thread's speed is its batch bytes over its median
 * batch time, so preemption by other processes (which lengthens a few
 * batches on a shared machine) does not count as engine time; the sample is
 * the sum of the threads' speeds (they run at the same time, started by a
 * barrier). Cycles per byte: the median batch's TSC ticks over its bytes.
 */
static int sample(struct bench_cell *c, double min_time, int first_cpu, int ncpu)
{
    struct worker w[BENCH_MAX_THREADS];
    pthread_t th[BENCH_MAX_THREADS];
    pthread_barrier_t go;
    int n = c->threads;
    int rc = 0;
    if (n > 1) {
        pthread_barrier_init(&go, NULL, (unsigned)n);
    }
    for (int t = 0; t < n; t++) {
        w[t] = (struct worker){.c = c, .t = t, .cpu = ncpu > 0 ? (first_cpu + t) % ncpu : -1,
                               .min_time = min_time, .go = n > 1 ? &go : NULL,
                               .cycles = malloc(MAX_TIMED_BATCHES * sizeof(uint32_t))};
        if (w[t].cycles == NULL) {
            rc = -1;
        }
    }
    int started = 0;
    for (int t = 0; t < n && rc == 0; t++) {
        if (n == 1) {
            w[t].cpu = -1; /* the main thread is already pinned */
            work(&w[t]);
        } else if (pthread_create(&th[t], NULL, work, &w[t]) != 0) {
            rc = -1; /* the others would wait at the barrier forever: give up the cell */
            break;
        }
        started++;
    }
    double gbps = 0, cpb = 0, mean_gbps = 0;
    double batch_bytes = (double)c->batch * (double)c->unit_bytes;
    double hz = bench_tsc_hz();
    for (int t = 0; t < started; t++) {
        if (n > 1) {
            pthread_join(th[t], NULL);
        }
        rc |= w[t].rc;
        if (w[t].recorded == 0) {
            rc = -1;
            continue;
        }
        double sum = 0;
        for (uint64_t k = 0; k < w[t].recorded; k++) {
            sum += w[t].cycles[k];
        }
        mean_gbps += batch_bytes / (sum / (double)w[t].recorded / hz) / 1e9;
        qsort(w[t].cycles, w[t].recorded, sizeof(uint32_t), cmp_u32);
        double med = w[t].cycles[w[t].recorded / 2];
        gbps += batch_bytes / (med / hz) / 1e9;
        cpb += med / batch_bytes / n;
    }
    for (int t = 0; t < n; t++) {
        free(w[t].cycles);
    }
    if (n > 1) {
        pthread_barrier_destroy(&go);
    }
    if (rc != 0) {
        return -1;
    }
    c->gbps[c->nsamples] = gbps;
    c->cpb[c->nsamples] = cpb;
    c->mean_gbps[c->nsamples] = mean_gbps;
    c->nsamples++;
    return 0;
}

/* Progress on stderr: one rewritten line with elapsed time and ETA on a tty, else a line per step. */
static void progress(int tty, size_t done, size_t total, const char *what, double el)
{
    if (tty) {
        double eta = el / (double)done * (double)(total - done);
        fprintf(stderr, "\r\033[K[%3zu/%zu] %s  elapsed %.0fs  eta %.0fs", done, total, what, el, eta);
    } else {
        fprintf(stderr, "cmk-bench: [%zu/%zu] %s (%.0fs)\n", done, total, what, el);
    }
}

static int ensure_out_dir(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
        return -1;
    }
    char probe[4200];
    snprintf(probe, sizeof(probe), "%s/.write-test", dir);
    FILE *f = fopen(probe, "w");
    if (f == NULL) {
        return -1;
    }
    fclose(f);
    unlink(probe);
    return 0;
}

int main(int argc, char **argv)
{
    const char *profile_name = "standard", *out_dir = "reports/out", *filter = NULL, *commit = NULL;
    int list = 0, strict = 0;
    long samples = 0, min_ms = 0;
    static const struct option opts[] = {
        {"profile", required_argument, 0, 'p'}, {"out", required_argument, 0, 'o'},
        {"filter", required_argument, 0, 'f'},  {"list", no_argument, 0, 'l'},
        {"samples", required_argument, 0, 's'}, {"min-time", required_argument, 0, 't'},
        {"commit", required_argument, 0, 'c'},  {"strict", no_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "p:o:f:ls:t:c:Sh", opts, NULL)) != -1) {
        switch (ch) {
            case 'p':
                profile_name = optarg;
                break;
            case 'o':
                out_dir = optarg;
                break;
            case 'f':
                filter = optarg;
                break;
            case 'l':
                list = 1;
                break;
            case 's':
                samples = strtol(optarg, &end, 10);
                if (*end != '\0' || samples < 3 || samples > BENCH_MAX_SAMPLES) {
                    fprintf(stderr, "cmk-bench: --samples must be 3..%d, got '%s'\n", BENCH_MAX_SAMPLES, optarg);
                    return 2;
                }
                break;
            case 't':
                min_ms = strtol(optarg, &end, 10);
                if (*end != '\0' || min_ms < 1 || min_ms > 60000) {
                    fprintf(stderr, "cmk-bench: --min-time must be 1..60000 ms, got '%s'\n", optarg);
                    return 2;
                }
                break;
            case 'c':
                commit = optarg;
                break;
            case 'S':
                strict = 1;
                break;
            case 'h':
                usage(stdout);
                return 0;
            default:
                usage(stderr);
                return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cmk-bench: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    const struct profile *p = NULL;
    for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        if (strcmp(profiles[i].name, profile_name) == 0) {
            p = &profiles[i];
        }
    }
    if (p == NULL) {
        fprintf(stderr, "cmk-bench: unknown profile '%s' (quick, standard, full)\n", profile_name);
        return 2;
    }
    size_t nsamples = samples ? (size_t)samples : p->samples;
    double min_time = min_ms ? (double)min_ms / 1000.0 : p->min_time;
    enum eng_arch a;
    if (eng_arch_effective(ENG_ARCH_AUTO, &a) != 0) {
        fprintf(stderr, "cmk-bench: %s (ENG_ARCH='%s')\n", eng_strerror(eng_errno()), getenv("ENG_ARCH"));
        return 2;
    }

    static struct bench_cell all[MAX_CELLS];
    size_t nall = build_cells(all, p);
    static struct bench_cell cells[MAX_CELLS];
    size_t n = 0;
    for (size_t i = 0; i < nall; i++) {
        char d[160];
        describe(&all[i], d, sizeof(d));
        if (matches(filter, d)) {
            cells[n++] = all[i];
        }
    }
    static struct bench_extra allx[MAX_EXTRAS];
    size_t nallx = build_extras(allx, p);
    static struct bench_extra xs[MAX_EXTRAS];
    size_t nx = 0;
    int need_vault = 0, need_4096 = 0;
    for (size_t i = 0; i < nallx; i++) {
        if (matches(filter, allx[i].label)) {
            xs[nx++] = allx[i];
        }
    }
    for (size_t i = 0; i < nx; i++) {
        if (strcmp(xs[i].keys, "cmk") == 0) {
            need_vault = 1;
            need_4096 |= xs[i].rsa_bits == 4096;
        }
    }
    for (size_t i = 0; i < n; i++) {
        need_vault |= strncmp(cells[i].keys, "cmk", 3) == 0;
    }
    if (list) {
        for (size_t i = 0; i < n; i++) {
            char d[160];
            describe(&cells[i], d, sizeof(d));
            printf("%s%s%s\n", d, cells[i].skip_reason ? "  (skipped: " : "",
                   cells[i].skip_reason ? cells[i].skip_reason : "");
        }
        for (size_t i = 0; i < nx; i++) {
            printf("%s (%zu %s)\n", xs[i].label, xs[i].count,
                   strcmp(xs[i].unit, "ops/s") == 0 ? "windows" : "samples");
        }
        return 0;
    }
    if (n + nx == 0) {
        fprintf(stderr, "cmk-bench: no cell matches --filter '%s' (see --list)\n", filter);
        return 2;
    }
    if (ensure_out_dir(out_dir) != 0) {
        fprintf(stderr, "cmk-bench: cannot write to output folder '%s': %s\n", out_dir, strerror(errno));
        return 1;
    }

    /* One core, so that samples are not migrated mid-measurement; threads of
     * a multi-thread cell take this core and the next ones. */
    int cpu = sched_getcpu();
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    pin(cpu);
    struct bench_env env;
    bench_env_capture(&env, p->name, commit);
    fprintf(stderr, "cmk-bench: profile %s, %zu cells, %zu samples x >= %.0f ms, pinned to cpu %d; "
            "%zu latency/vault/rotation cells\n", p->name, n, nsamples, min_time * 1000, cpu, nx);
    fprintf(stderr, "cmk-bench: %s | %s | OpenSSL %s | ipsec-mb %s | commit %s\n", env.cpu_model,
            env.cpu_flags, env.openssl, env.ipsecmb, env.commit);
    double load1 = env.loadavg_start[0] != '\0' ? strtod(env.loadavg_start, NULL) : 0;
    if (load1 > 0.5 * env.cores) {
        fprintf(stderr, "cmk-bench: warning: load average %s on %d cores: other processes compete with this run%s\n",
                env.loadavg_start, env.cores,
                env.sched_autogroup == 1 ? " (scheduler autogroups are on, so their nice value does not yield the "
                                           "CPU to this run; sysctl kernel.sched_autogroup_enabled=0 restores it)"
                                         : "");
    }

    int tty = isatty(STDERR_FILENO);
    double start = bench_now();
    if (bench_tmpdir() == NULL) {
        fprintf(stderr, "cmk-bench: cannot make a temporary folder: %s\n", strerror(errno));
        return 1;
    }
    if (need_vault) {
        const char *verr = NULL;
        fprintf(stderr, "cmk-bench: starting vault-mock (%s) on 127.0.0.1, --throttle off, "
                "fresh state; it shares the cores with the bench\n", vmt_bin());
        if (bench_vault_start(need_4096, &verr) != 0) {
            fprintf(stderr, "cmk-bench: %s\n", verr);
            bench_tmpdir_remove();
            return 1;
        }
    }
    size_t total_steps = n + nx;
    size_t measured_cells = 0;
    for (size_t g0 = 0; g0 < n;) {
        size_t g1 = g0;
        while (g1 < n && cells[g1].group == cells[g0].group) {
            g1++;
        }
        for (size_t i = g0; i < g1; i++) {
            if (cells[i].skip_reason != NULL) {
                continue;
            }
            const char *err = NULL;
            if (bench_cell_prepare(&cells[i], &err) != 0 || bench_cell_run_once(&cells[i], 0) != 0) {
                char d[160];
                describe(&cells[i], d, sizeof(d));
                fprintf(stderr, "cmk-bench: %s: %s\n", d, err != NULL ? err : eng_strerror(eng_errno()));
                bench_cell_release(&cells[i]);
                cells[i].skip_reason = "failed to run (see stderr)";
            }
        }
        for (size_t r = 0; r < nsamples; r++) {
            for (size_t i = g0; i < g1; i++) {
                if (cells[i].skip_reason == NULL && sample(&cells[i], min_time, cpu, ncpu) != 0) {
                    cells[i].skip_reason = "a sample failed";
                }
            }
        }
        for (size_t i = g0; i < g1; i++) {
            bench_cell_release(&cells[i]);
            bench_stats(&cells[i]);
        }
        measured_cells += g1 - g0;
        char d[160];
        describe(&cells[g0], d, sizeof(d));
        progress(tty, measured_cells, total_steps, d, bench_now() - start);
        g0 = g1;
    }
    for (size_t i = 0; i < nx; i++) {
        if (bench_extra_run(&xs[i]) != 0) {
            fprintf(stderr, "%scmk-bench: %s: %s\n", tty ? "\r\033[K" : "", xs[i].label, xs[i].skip_reason);
        }
        bench_extra_stats(&xs[i]);
        measured_cells++;
        progress(tty, measured_cells, total_steps, xs[i].label, bench_now() - start);
    }
    bench_vault_stop();
    bench_tmpdir_remove();
    double wall = bench_now() - start;
    if (tty) {
        fprintf(stderr, "\n");
    }
    bench_print_table(stdout, cells, n);
    bench_print_store(stdout, cells, n);
    bench_print_extras(stdout, xs, nx);
    int failed = bench_print_bars(stdout, cells, n, xs, nx, wall, p->name);
    char path[4200];
    snprintf(path, sizeof(path), "%s/bench.json", out_dir);
    if (bench_write_json(path, &env, cells, n, xs, nx, wall) != 0) {
        fprintf(stderr, "cmk-bench: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    printf("\nwrote %s", path);
    snprintf(path, sizeof(path), "%s/bench.csv", out_dir);
    if (bench_write_csv(path, cells, n) != 0) {
        fprintf(stderr, "cmk-bench: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    printf(" and %s (%.0f s)\n", path, wall);
    for (size_t i = 0; i < nx; i++) {
        bench_extra_free(&xs[i]);
    }
    return (strict && failed > 0) ? 3 : 0;
}
