/*
 * store_bench.c - what the store adds on top of the cipher layer, and what
 * KEK rotation costs. Prints one JSON object per line.
 *
 *   store_vs_cipher   (per mode XTS, GCM; per op write, read)
 *       cipher: eng_cipher_batch over batches of 64 units of 8 KiB, walking
 *               a 64 MiB source and a 64 MiB destination (the same memory
 *               traffic as the store), GCM with the store's 24-byte AAD;
 *       store:  eng_store_write / eng_store_read of 64-unit runs over an
 *               in-memory store of the same 64 MiB, same back end;
 *       samples alternate cipher and store (and which goes first); after one warm-up sample of
 *       each, the median of --samples (>= 5) samples is reported, in GB/s
 *       (10^9 bytes/s), with ratio = store / cipher (bar: >= 0.9).
 *   kek_rotation  (folder stores of two sizes with the same number of DEKs)
 *       every unit is really written (encrypted zeros) at creation; each
 *       sample adds a new SMK version and times eng_store_rotate_kek (get,
 *       unwrap + wrap of every DEK and of the table MAC key, key table
 *       write + fsync + rename + folder fsync); both stores are open at
 *       once and their samples alternate; medians, then ratio = large /
 *       small (bar: within 10%). Before sampling, the
 *       creation's writeback is allowed to finish (sync, wait for Dirty +
 *       Writeback < 4 MiB), else the fsyncs queue behind it; settle_s says
 *       how long that took.
 *
 * usage: cmk-store-bench [--quick] [--samples N] [--dir PATH] [--skip-rotation]
 *   --quick  64 MiB / 256 MiB rotation stores instead of 1 GiB / 4 GiB
 */
#include <math.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eng_cipher.h"
#include "eng_keys.h"
#include "eng_store.h"

#define BENCH_UNIT 8192U
#define BENCH_BATCH 64U
#define BENCH_BYTES (64U << 20)
#define BENCH_UNITS (BENCH_BYTES / BENCH_UNIT)
#define ROT_DEKS 16U

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static void die(const char *what)
{
    fprintf(stderr, "cmk-store-bench: %s: %s (%s)\n", what, eng_strerror(eng_errno()),
            eng_error_name(eng_errno()));
    exit(1);
}

/*
 * The cipher layer alone: batches of 64 units, walking |src| to |dst|. GCM
 * nonces repeat across samples here: a throughput baseline under a throwaway
 * key, never data at rest. Decrypt passes read what the encrypt passes wrote.
 */
struct cipher_run {
    struct eng_cipher *c;
    enum eng_mode mode;
    uint8_t *src;
    uint8_t *dst;
    uint8_t ivs[BENCH_BATCH][16];
    uint8_t aads[BENCH_BATCH][24];
    uint8_t *tags; /* 16 per unit of the whole buffer */
    struct eng_unit units[BENCH_BATCH];
};

static void cipher_pass(struct cipher_run *r, enum eng_dir dir)
{
    for (uint32_t first = 0; first < BENCH_UNITS; first += BENCH_BATCH) {
        for (uint32_t j = 0; j < BENCH_BATCH; j++) {
            uint64_t u = first + j;
            struct eng_unit *x = &r->units[j];
            memset(x, 0, sizeof(*x));
            x->in = (dir == ENG_ENCRYPT ? r->src : r->dst) + u * BENCH_UNIT;
            x->out = (dir == ENG_ENCRYPT ? r->dst : r->src) + u * BENCH_UNIT;
            x->len = BENCH_UNIT;
            if (r->mode == ENG_MODE_XTS) {
                eng_xts_tweak_from_u64(r->ivs[j], u);
                x->iv_len = 16;
            } else {
                memset(r->ivs[j], 0, 4);
                memcpy(r->ivs[j] + 4, &u, 8);
                memcpy(r->aads[j] + 16, &u, 8);
                x->iv_len = 12;
                x->aad = r->aads[j];
                x->aad_len = 24;
                x->tag = r->tags + u * 16;
                x->tag_len = 16;
            }
            x->iv = r->ivs[j];
        }
        if (eng_cipher_batch(r->c, dir, r->units, BENCH_BATCH) != 0) {
            die("cipher batch");
        }
    }
}

static void store_pass(struct eng_store *s, enum eng_dir dir, uint8_t *buf)
{
    for (uint32_t first = 0; first < BENCH_UNITS; first += BENCH_BATCH) {
        int rc = dir == ENG_ENCRYPT
                     ? eng_store_write(s, first, BENCH_BATCH, buf + (size_t)first * BENCH_UNIT)
                     : eng_store_read(s, first, BENCH_BATCH, buf + (size_t)first * BENCH_UNIT);
        if (rc != 0) {
            die("store pass");
        }
    }
}

static void bench_store_vs_cipher(struct eng_kek_provider *kek, enum eng_mode mode, int samples)
{
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.mode = mode;
    cfg.unit_size = BENCH_UNIT;
    cfg.num_units = BENCH_UNITS;
    cfg.extent_units = 1024;
    struct eng_store *s = eng_store_create_memory(kek, &cfg);
    if (s == NULL) {
        die("memory store");
    }
    struct eng_store_info info;
    eng_store_get_info(s, &info);
    uint8_t key[64];
    if (eng_dek_generate(mode, key, sizeof(key)) != 0) {
        die("key");
    }
    struct cipher_run *r = calloc(1, sizeof(*r));
    uint8_t *buf = malloc(BENCH_BYTES);
    if (r == NULL || buf == NULL) {
        die("memory");
    }
    r->mode = mode;
    r->c = eng_cipher_new(mode, info.backend, ENG_ARCH_AUTO, key, eng_dek_len(mode));
    r->src = malloc(BENCH_BYTES);
    r->dst = malloc(BENCH_BYTES);
    r->tags = malloc((size_t)BENCH_UNITS * 16);
    if (r->c == NULL || r->src == NULL || r->dst == NULL || r->tags == NULL) {
        die("cipher");
    }
    RAND_bytes(r->src, BENCH_BYTES);
    memcpy(buf, r->src, BENCH_BYTES);
    memset(r->dst, 0, BENCH_BYTES);
    for (int op = 0; op < 2; op++) {
        enum eng_dir dir = op == 0 ? ENG_ENCRYPT : ENG_DECRYPT;
        double *cs = calloc((size_t)samples, sizeof(double));
        double *ss = calloc((size_t)samples, sizeof(double));
        for (int i = -1; i < samples; i++) { /* i = -1: warm-up */
            double tc = 0.0;
            double ts = 0.0;
            /* Alternate which goes first, so drift and neighbours' load fall on both. */
            for (int k = 0; k < 2; k++) {
                double t0 = now_s();
                if ((k == 0) == (i % 2 == 0)) {
                    cipher_pass(r, dir);
                    tc = now_s() - t0;
                } else {
                    store_pass(s, dir, buf);
                    ts = now_s() - t0;
                }
            }
            if (i >= 0) {
                cs[i] = BENCH_BYTES / tc / 1e9;
                ss[i] = BENCH_BYTES / ts / 1e9;
            }
        }
        double c = median(cs, samples);
        double st = median(ss, samples);
        printf("{\"bench\":\"store_vs_cipher\",\"schema_version\":1,\"mode\":\"%s\","
               "\"op\":\"%s\",\"backend\":\"%s\",\"arch\":\"%s\",\"unit_size\":%u,"
               "\"batch_units\":%u,\"bytes_per_sample\":%u,\"samples\":%d,"
               "\"cipher_gbps\":%.3f,\"store_gbps\":%.3f,\"ratio\":%.3f,\"bar\":0.9,"
               "\"pass\":%s}\n",
               eng_mode_name(mode), op == 0 ? "write" : "read", eng_backend_name(info.backend),
               eng_arch_name(info.arch), BENCH_UNIT, BENCH_BATCH, BENCH_BYTES, samples, c, st,
               st / c, st / c >= 0.9 ? "true" : "false");
        fflush(stdout);
        free(cs);
        free(ss);
    }
    if (memcmp(buf, r->src, BENCH_BYTES) != 0) {
        die("store read back wrong data");
    }
    eng_cipher_free(r->c);
    free(r->src);
    free(r->dst);
    free(r->tags);
    free(r);
    free(buf);
    eng_store_close(s);
}

/* Dirty + Writeback from /proc/meminfo, in KiB (0 if unreadable). */
static long dirty_kib(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL) {
        return 0;
    }
    char line[256];
    long total = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        long v;
        if (sscanf(line, "Dirty: %ld kB", &v) == 1 || sscanf(line, "Writeback: %ld kB", &v) == 1) {
            total += v;
        }
    }
    fclose(f);
    return total;
}

/*
 * Lets the writeback of the store just created finish (sync, then wait for
 * Dirty + Writeback under 4 MiB, at most 60 s), so that the rotation
 * samples, whose cost is mostly two fsyncs, do not queue behind gigabytes of
 * creation writes. Returns the seconds waited.
 */
static double settle_disk(void)
{
    double t0 = now_s();
    sync();
    while (dirty_kib() > 4096 && now_s() - t0 < 60.0) {
        usleep(100 * 1000);
    }
    return now_s() - t0;
}

static struct eng_store *rotation_store(const char *work, struct eng_kek_provider *kek,
                                       uint64_t bytes, double *create_s)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/rot-%llu", work, (unsigned long long)bytes);
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.mode = ENG_MODE_XTS;
    cfg.unit_size = BENCH_UNIT;
    cfg.num_units = bytes / BENCH_UNIT;
    cfg.extent_units = (uint32_t)(cfg.num_units / ROT_DEKS);
    double t0 = now_s();
    struct eng_store *s = eng_store_create(dir, kek, &cfg);
    if (s == NULL) {
        die("rotation store");
    }
    *create_s = now_s() - t0;
    return s;
}

static double rotate_once(struct eng_store *s, const char *key_path)
{
    if (eng_smk_rotate(key_path, NULL, 0) != 0) {
        die("smk rotate");
    }
    double a = now_s();
    if (eng_store_rotate_kek(s) != 0) {
        die("rotate kek");
    }
    return (now_s() - a) * 1e3;
}

static void print_rotation(uint64_t bytes, double *v, int samples, double create_s, double settle)
{
    double m = median(v, samples); /* sorts v */
    printf("{\"bench\":\"kek_rotation\",\"schema_version\":1,\"store_bytes\":%llu,\"deks\":%u,"
           "\"records_rewrapped\":%u,\"samples\":%d,\"median_ms\":%.3f,\"min_ms\":%.3f,"
           "\"max_ms\":%.3f,\"create_s\":%.2f,\"settle_s\":%.2f}\n",
           (unsigned long long)bytes, ROT_DEKS, ROT_DEKS + 1, samples, m, v[0], v[samples - 1],
           create_s, settle);
}

/*
 * KEK rotation of a small and a large store with the same number of DEKs.
 * Both stores are open at once and their samples alternate (and alternate
 * which goes first), so disk and machine noise falls on both alike.
 */
static void bench_rotation(const char *work, const char *key_path, struct eng_kek_provider *kek,
                           uint64_t small, uint64_t large, int samples)
{
    double cs, cl;
    struct eng_store *ss = rotation_store(work, kek, small, &cs);
    struct eng_store *sl = rotation_store(work, kek, large, &cl);
    double settle = settle_disk();
    double *vs = calloc((size_t)samples, sizeof(double));
    double *vl = calloc((size_t)samples, sizeof(double));
    for (int i = -1; i < samples; i++) { /* i = -1: warm-up */
        double a, b;
        if (i % 2 == 0) {
            a = rotate_once(ss, key_path);
            b = rotate_once(sl, key_path);
        } else {
            b = rotate_once(sl, key_path);
            a = rotate_once(ss, key_path);
        }
        if (i >= 0) {
            vs[i] = a;
            vl[i] = b;
        }
    }
    print_rotation(small, vs, samples, cs, settle);
    print_rotation(large, vl, samples, cl, settle);
    double ms = median(vs, samples);
    double ml = median(vl, samples);
    double ratio = ml / ms;
    printf("{\"bench\":\"kek_rotation_scaling\",\"schema_version\":1,\"small_bytes\":%llu,"
           "\"large_bytes\":%llu,\"deks\":%u,\"samples\":%d,\"small_ms\":%.3f,"
           "\"large_ms\":%.3f,\"ratio\":%.3f,\"bar\":\"within 10%%\",\"pass\":%s}\n",
           (unsigned long long)small, (unsigned long long)large, ROT_DEKS, samples, ms, ml, ratio,
           fabs(ratio - 1.0) <= 0.10 ? "true" : "false");
    free(vs);
    free(vl);
    eng_store_close(ss);
    eng_store_close(sl);
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'/rot-*", work);
    if (system(cmd) != 0) {
        fprintf(stderr, "cmk-store-bench: could not remove the rotation stores\n");
    }
}

int main(int argc, char **argv)
{
    int samples = 5;
    int quick = 0;
    int skip_rotation = 0;
    const char *base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--skip-rotation") == 0) {
            skip_rotation = 1;
        } else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
            char *end = NULL;
            long n = strtol(argv[++i], &end, 10);
            if (end == NULL || *end != '\0' || n < 5 || n > 1000) {
                fprintf(stderr, "cmk-store-bench: --samples must be 5..1000\n");
                return 2;
            }
            samples = (int)n;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            base = argv[++i];
        } else {
            fprintf(stderr,
                    "usage: cmk-store-bench [--quick] [--samples N] [--dir PATH] "
                    "[--skip-rotation]\n");
            return 2;
        }
    }
    char work[1024];
    snprintf(work, sizeof(work), "%s/cmk-store-bench-XXXXXX", base);
    if (mkdtemp(work) == NULL) {
        perror("cmk-store-bench: mkdtemp");
        return 1;
    }
    char key_path[1100];
    snprintf(key_path, sizeof(key_path), "%s/smk.key", work);
    struct eng_kek_provider *kek = eng_smk_open(key_path, 1);
    if (kek == NULL) {
        die("key file");
    }
    bench_store_vs_cipher(kek, ENG_MODE_XTS, samples);
    bench_store_vs_cipher(kek, ENG_MODE_GCM, samples);
    if (!skip_rotation) {
        uint64_t small = quick ? (64ULL << 20) : (1ULL << 30);
        bench_rotation(work, key_path, kek, small, small * 4, samples);
    }
    eng_kek_provider_free(kek);
    unlink(key_path);
    char lock[1200];
    snprintf(lock, sizeof(lock), "%s.lock", key_path);
    unlink(lock);
    rmdir(work);
    return 0;
}
