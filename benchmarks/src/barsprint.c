/*
 * barsprint.c - the bars: the ratios measured in this run that the engine,
 * the store and the vault must meet, printed with PASS / FAIL (verdicts of
 * the paired ones in bars.c). A bar pairs cells of given kinds, so this file
 * names kinds; it never runs one.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "eng_cpu.h"

/* A cell pattern for the bars: NULL-ish fields (-1) match anything. */
struct pat {
    int kind, mode, backend, arch, dir;
    size_t unit;
    int threads; /* 0 = all cores */
};

static struct bench_cell *find(struct bench_cell *cells, size_t n, struct pat p)
{
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        if (c->skip_reason == NULL && c->nsamples > 0 && (int)c->kind == p.kind &&
            (int)c->mode == p.mode && (int)c->ran_backend == p.backend &&
            (p.arch < 0 || (int)c->ran_arch == p.arch) && (int)c->dir == p.dir &&
            c->unit_bytes == p.unit && (p.threads > 0 ? c->threads == p.threads : c->threads > 1)) {
            return c;
        }
    }
    return NULL;
}

struct bar {
    const char *name;
    struct pat num, den;
    double min_ratio;
};

#define ENGINE_(m, b, a, d, u)              \
    {                                       \
        BENCH_KIND_ENGINE, m, b, a, d, u, 1 \
    }
#define ENGINE_ALL_CORES_(m, b, d, u)        \
    {                                        \
        BENCH_KIND_ENGINE, m, b, -1, d, u, 0 \
    }
#define RAW_(m, b, d, u)                  \
    {                                     \
        BENCH_KIND_RAW, m, b, -1, d, u, 1 \
    }
#define KIB8 8192

static struct bench_extra *find_extra(struct bench_extra *xs, size_t nx, const char *label)
{
    for (size_t i = 0; i < nx; i++) {
        if (strcmp(xs[i].label, label) == 0 && xs[i].skip_reason == NULL && xs[i].nsamples > 0) {
            return &xs[i];
        }
    }
    return NULL;
}

/* Bars on the store, the vault and the run itself; returns the number failed. */
static int store_bars(FILE *f, struct bench_cell *cells, size_t n, struct bench_extra *xs,
                      size_t nx, double wall, const char *profile)
{
    int failed = 0;
    static const enum eng_mode modes[] = {ENG_MODE_XTS, ENG_MODE_GCM};
    int ncores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    for (size_t m = 0; m < 2; m++) {
        for (int d = 0; d < 2; d++) {
            for (int med = BENCH_MEDIUM_MEMORY; med <= BENCH_MEDIUM_FILE; med++) {
                for (int th = 1; th <= 2; th++) {
                    int threads = th == 1 ? 1 : ncores;
                    if (th == 2 && (ncores < 2 || med == BENCH_MEDIUM_FILE)) {
                        continue;
                    }
                    struct bench_cell *c;
                    struct bench_ratio rt;
                    int v = bench_cmk_smk_bar(cells, n, modes[m], (enum eng_dir)d,
                                              (enum bench_medium)med, threads, &rt, &c);
                    if (c == NULL && med == BENCH_MEDIUM_FILE) {
                        continue;
                    }
                    char name[96];
                    snprintf(name, sizeof(name), "CMK/SMK store %s %s %s%s",
                             eng_mode_name(modes[m]), d == ENG_ENCRYPT ? "write" : "read",
                             bench_medium_name((enum bench_medium)med),
                             th == 2 ? " all cores" : "");
                    int r = bench_print_ratio(f, name, v, &rt, BENCH_CMK_SMK_MIN_RATIO);
                    if (r == 1) {
                        fprintf(
                            f,
                            "    ^ CMK/SMK below 0.98 (%s). The CMK cell made %ld vault requests "
                            "while measured, so %s\n",
                            rt.hi >= BENCH_CMK_SMK_MIN_RATIO
                                ? "its CI reaches 0.98: within this run's noise"
                                : "its whole CI is below 0.98",
                            c->vault_calls,
                            c->vault_calls == 0
                                ? "the gap is not vault work: both stores run the same cipher "
                                  "code; "
                                  "the difference is in where each store's buffers and DEK ciphers "
                                  "sit in memory and cache, and the load of the shared machine"
                                : "part of the gap may be those vault calls (revalidation)");
                    }
                    failed += r == 1;
                }
            }
            struct bench_cell *sm = bench_find_store(cells, n, modes[m], (enum eng_dir)d,
                                                     BENCH_MEDIUM_MEMORY, "smk", 1);
            char name[96];
            snprintf(name, sizeof(name), "store/cipher %s %s memory (smk)", eng_mode_name(modes[m]),
                     d == ENG_ENCRYPT ? "write" : "read");
            failed +=
                bench_ratio_line(f, name, sm,
                                 sm != NULL ? bench_find_cipher_of(cells, n, sm) : NULL, 0.9) == 1;
        }
    }
    /* A/A: twin against its original */
    for (size_t i = 1; i < n; i++) {
        struct bench_cell *t = &cells[i], *o = &cells[i - 1];
        if (!t->twin || t->nsamples == 0 || o->nsamples == 0 || o->median <= 0) {
            continue;
        }
        double diff = t->median / o->median - 1;
        int ok = diff > -0.02 && diff < 0.02;
        failed += !ok;
        char name[96];
        snprintf(name, sizeof(name), "A/A %s %s", o->label, o->dir == ENG_ENCRYPT ? "enc" : "dec");
        fprintf(f, "  %-50s %+5.1f%%  (|diff| < 2%%)   %s   [%.2f / %.2f GB/s]\n", name, diff * 100,
                ok ? "PASS" : "FAIL", t->median, o->median);
    }
    struct bench_extra *co = find_extra(xs, nx, "cold-open cmk RSA-3072");
    if (co != NULL) {
        int ok = co->p50 < 5.0;
        failed += !ok;
        fprintf(f, "  %-50s %6.2f ms (< 5 ms)   %s   [p90 %.2f, p99 %.2f ms]\n",
                "CMK cold open RSA-3072 p50", co->p50, ok ? "PASS" : "FAIL", co->p90, co->p99);
    } else {
        fprintf(f, "  %-50s    n/a  not measured in this run\n", "CMK cold open RSA-3072 p50");
    }
    struct bench_extra *vu = find_extra(xs, nx, "vault-rate unwrapkey RSA-2048 2 clients");
    struct bench_extra *os = find_extra(xs, nx, "openssl-rsa decrypt RSA-2048 2 threads");
    if (vu != NULL && os != NULL && os->p50 > 0) {
        double r = vu->p50 / os->p50;
        int ok = r >= 0.6;
        failed += !ok;
        fprintf(f, "  %-50s %6.2fx (>= 0.60x)  %s   [%.0f / %.0f ops/s]\n",
                "unwrapkey RSA-2048 2 clients / OpenSSL 2 threads", r, ok ? "PASS" : "FAIL",
                vu->p50, os->p50);
    } else {
        fprintf(f, "  %-50s    n/a  not measured in this run\n",
                "unwrapkey RSA-2048 2 clients / OpenSSL 2 threads");
    }
    static const char *const ops[] = {"get", "wrapkey", "unwrapkey"};
    for (size_t o = 0; o < 3; o++) {
        char label[96], name[96];
        snprintf(label, sizeof(label), "vault %s RSA-2048 1 client", ops[o]);
        snprintf(name, sizeof(name), "vault %s RSA-2048 p50, 1 client", ops[o]);
        struct bench_extra *v = find_extra(xs, nx, label);
        if (v == NULL) {
            fprintf(f, "  %-50s    n/a  not measured in this run\n", name);
            continue;
        }
        int ok = v->p50 < 1.0;
        failed += !ok;
        fprintf(f, "  %-50s %6.3f ms (< 1 ms)  %s\n", name, v->p50, ok ? "PASS" : "FAIL");
    }
    struct bench_extra *rs = find_extra(xs, nx, "rotation-size smk 16 DEKs 1 GiB vs 4 GiB");
    if (rs != NULL && rs->p50 > 0) {
        double r = rs->extra_value / rs->p50;
        int ok = r > 0.9 && r < 1.1;
        failed += !ok;
        fprintf(f, "  %-50s %6.2fx (0.90..1.10x) %s   [%.2f / %.2f ms; 1 GiB CI %.2f..%.2f ms]\n",
                "KEK rotation 16 DEKs: 4 GiB / 1 GiB store", r, ok ? "PASS" : "FAIL",
                rs->extra_value, rs->p50, rs->ci_lo, rs->ci_hi);
    }
    double limit =
        strcmp(profile, "quick") == 0 ? 60 : (strcmp(profile, "standard") == 0 ? 600 : 0);
    if (limit > 0) {
        int ok = wall < limit;
        failed += !ok;
        fprintf(f, "  %-50s %6.0f s  (< %.0f s)   %s\n", "wall time of this run (measuring)", wall,
                limit, ok ? "PASS" : "FAIL");
    } else {
        fprintf(f, "  %-50s %6.0f s  (no bar for this profile)\n",
                "wall time of this run (measuring)", wall);
    }
    return failed;
}

/* The measured ceiling cell of |width_bits| in the XTS group of (dir, unit), or NULL. */
static struct bench_cell *find_ceiling(struct bench_cell *cells, size_t n, enum eng_dir dir,
                                       size_t unit, int width_bits)
{
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        if (c->kind == BENCH_KIND_CEILING && c->skip_reason == NULL && c->nsamples > 0 &&
            c->mode == ENG_MODE_XTS && c->dir == dir && c->unit_bytes == unit &&
            c->width_bits == width_bits) {
            return c;
        }
    }
    return NULL;
}

/* One ratio-of-medians bar line; returns 1 if failed, 0 if met or informational, -1 if n/a. */
static int bar_line(FILE *f, const char *name, const struct bench_cell *x,
                    const struct bench_cell *y, double min_ratio)
{
    if (x == NULL || y == NULL || y->median <= 0) {
        if (min_ratio > 0) {
            fprintf(f, "  %-58s    n/a  (>= %.2fx)  not measured in this run\n", name, min_ratio);
        } else {
            fprintf(f, "  %-58s    n/a  not measured in this run\n", name);
        }
        return -1;
    }
    double r = x->median / y->median;
    if (min_ratio <= 0) {
        fprintf(f, "  %-58s %6.2fx                   [%.2f / %.2f GB/s]\n", name, r, x->median,
                y->median);
        return 0;
    }
    int ok = r >= min_ratio;
    fprintf(f, "  %-58s %6.2fx (>= %.2fx)  %s   [%.2f / %.2f GB/s]\n", name, r, min_ratio,
            ok ? "PASS" : "FAIL", x->median, y->median);
    return !ok;
}

/*
 * The native XTS bars, named by the path that ran: the best path of this
 * CPU within ENG_ARCH ("best path (vaes-avx2)" on a Zen 3, "(avx512)" on a
 * Zen 4) against the AES ceiling at the widest width and against OpenSSL;
 * the forced AES-NI path against OpenSSL; then, without bars, every native
 * path measured against the ceiling of its own width and the widest.
 */
static int xts_bars(FILE *f, struct bench_cell *cells, size_t n)
{
    enum eng_arch best = eng_cpu_best_arch();
    (void)eng_arch_effective(ENG_ARCH_AUTO, &best);
    int wide = bench_ceiling_widest();
    const char *wn = bench_ceiling_width_name(wide);
    const char *bn = eng_arch_name(best);
    int failed = 0;
    char name[128];
    for (int d = 0; d < 2; d++) {
        enum eng_dir dir = (enum eng_dir)d;
        const char *dn = d == 0 ? "enc" : "dec";
        struct bench_cell *nat =
            find(cells, n,
                 (struct pat)ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, (int)best, (int)dir, KIB8));
        snprintf(name, sizeof(name), "native XTS %s, best path (%s) / ceiling (%s)", dn, bn, wn);
        failed += bar_line(f, name, nat, find_ceiling(cells, n, dir, KIB8, wide), 0.85) == 1;
        snprintf(name, sizeof(name), "native XTS %s, best path (%s) / OpenSSL XTS", dn, bn);
        failed +=
            bar_line(
                f, name, nat,
                find(cells, n, (struct pat)RAW_(ENG_MODE_XTS, ENG_BACKEND_OPENSSL, (int)dir, KIB8)),
                2.0) == 1;
        snprintf(name, sizeof(name), "native XTS %s 512 B, best path (%s) / OpenSSL 512 B", dn, bn);
        failed += bar_line(f, name,
                           find(cells, n,
                                (struct pat)ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, (int)best,
                                                    (int)dir, 512)),
                           find(cells, n,
                                (struct pat)RAW_(ENG_MODE_XTS, ENG_BACKEND_OPENSSL, (int)dir, 512)),
                           1.5) == 1;
    }
    snprintf(name, sizeof(name), "native XTS enc, best path (%s) / raw ipsec-mb CTR", bn);
    failed += bar_line(f, name,
                       find(cells, n,
                            (struct pat)ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, (int)best,
                                                ENG_ENCRYPT, KIB8)),
                       find(cells, n,
                            (struct pat)RAW_(ENG_MODE_CTR, ENG_BACKEND_IPSECMB, ENG_ENCRYPT, KIB8)),
                       0.85) == 1;
    if (best > ENG_ARCH_AVX2) {
        failed +=
            bar_line(f, "native XTS enc (AES-NI, forced avx2) / OpenSSL XTS",
                     find(cells, n,
                          (struct pat)ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ARCH_AVX2,
                                              ENG_ENCRYPT, KIB8)),
                     find(cells, n,
                          (struct pat)RAW_(ENG_MODE_XTS, ENG_BACKEND_OPENSSL, ENG_ENCRYPT, KIB8)),
                     1.0) == 1;
    }
    /* every native path against the ceilings (no bars: what each width reaches) */
    static const enum eng_arch paths[] = {ENG_ARCH_AVX2, ENG_ARCH_VAES_AVX2, ENG_ARCH_AVX512};
    static const int own[] = {128, 256, 512};
    static const size_t units[] = {512, KIB8};
    int head = 0;
    for (size_t p = 0; p < 3; p++) {
        for (size_t u = 0; u < 2; u++) {
            for (int d = 0; d < 2; d++) {
                struct bench_cell *x = find(cells, n,
                                            (struct pat)ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE,
                                                                (int)paths[p], d, units[u]));
                if (x == NULL) {
                    continue;
                }
                if (!head) {
                    fprintf(f,
                            "  native XTS per path (no bars), ceiling of the path's own width and "
                            "of the widest:\n");
                    head = 1;
                }
                snprintf(name, sizeof(name), "  %s %s %zu B / ceiling %s", eng_arch_name(paths[p]),
                         d == 0 ? "enc" : "dec", units[u], bench_ceiling_width_name(own[p]));
                bar_line(f, name, x, find_ceiling(cells, n, (enum eng_dir)d, units[u], own[p]), 0);
                if (own[p] != wide) {
                    snprintf(name, sizeof(name), "  %s %s %zu B / ceiling %s",
                             eng_arch_name(paths[p]), d == 0 ? "enc" : "dec", units[u], wn);
                    bar_line(f, name, x, find_ceiling(cells, n, (enum eng_dir)d, units[u], wide),
                             0);
                }
                snprintf(name, sizeof(name), "  %s %s %zu B / OpenSSL XTS", eng_arch_name(paths[p]),
                         d == 0 ? "enc" : "dec", units[u]);
                bar_line(f, name, x,
                         find(cells, n,
                              (struct pat)RAW_(ENG_MODE_XTS, ENG_BACKEND_OPENSSL, d, units[u])),
                         0);
            }
        }
    }
    return failed;
}

/*
 * The native GCM bars, named by the path that ran (the widest native GCM
 * path within ENG_ARCH: vaes-avx2 or avx512, which today both run the ymm
 * kernel), against the AES ceiling at the widest width, OpenSSL GCM and raw
 * ipsec-mb GCM (8 KiB units); then, without bars, each native GCM path at
 * 512 B and 8 KiB against the same three.
 */
static int gcm_bars(FILE *f, struct bench_cell *cells, size_t n)
{
    enum eng_arch best = eng_cpu_best_arch();
    (void)eng_arch_effective(ENG_ARCH_AUTO, &best);
    int wide = bench_ceiling_widest();
    const char *wn = bench_ceiling_width_name(wide);
    int failed = 0;
    char name[128];
    if (best < ENG_ARCH_VAES_AVX2) {
        fprintf(f, "  %-58s    n/a  no native GCM path at %s (it needs VAES)\n",
                "native GCM, best path", eng_arch_name(best));
        return 0;
    }
    const char *bn = eng_arch_name(best);
    for (int d = 0; d < 2; d++) {
        enum eng_dir dir = (enum eng_dir)d;
        const char *dn = d == 0 ? "enc" : "dec";
        struct bench_cell *nat =
            find(cells, n,
                 (struct pat)ENGINE_(ENG_MODE_GCM, ENG_BACKEND_NATIVE, (int)best, (int)dir, KIB8));
        snprintf(name, sizeof(name), "native GCM %s, best path (%s) / ceiling (%s)", dn, bn, wn);
        failed += bar_line(f, name, nat, find_ceiling(cells, n, dir, KIB8, wide), 0.70) == 1;
        snprintf(name, sizeof(name), "native GCM %s, best path (%s) / OpenSSL GCM", dn, bn);
        failed +=
            bar_line(
                f, name, nat,
                find(cells, n, (struct pat)RAW_(ENG_MODE_GCM, ENG_BACKEND_OPENSSL, (int)dir, KIB8)),
                2.0) == 1;
        snprintf(name, sizeof(name), "native GCM %s, best path (%s) / raw ipsec-mb GCM", dn, bn);
        failed +=
            bar_line(
                f, name, nat,
                find(cells, n, (struct pat)RAW_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, (int)dir, KIB8)),
                1.0) == 1;
    }
    static const enum eng_arch paths[] = {ENG_ARCH_VAES_AVX2, ENG_ARCH_AVX512};
    static const size_t units[] = {512, KIB8};
    int head = 0;
    for (size_t p = 0; p < 2; p++) {
        for (size_t u = 0; u < 2; u++) {
            for (int d = 0; d < 2; d++) {
                struct bench_cell *x = find(cells, n,
                                            (struct pat)ENGINE_(ENG_MODE_GCM, ENG_BACKEND_NATIVE,
                                                                (int)paths[p], d, units[u]));
                if (x == NULL) {
                    continue;
                }
                if (!head) {
                    fprintf(f, "  native GCM per path (no bars):\n");
                    head = 1;
                }
                const char *pn = eng_arch_name(paths[p]);
                const char *dn = d == 0 ? "enc" : "dec";
                snprintf(name, sizeof(name), "  %s %s %zu B / ceiling %s", pn, dn, units[u], wn);
                bar_line(f, name, x, find_ceiling(cells, n, (enum eng_dir)d, units[u], wide), 0);
                snprintf(name, sizeof(name), "  %s %s %zu B / OpenSSL GCM", pn, dn, units[u]);
                bar_line(f, name, x,
                         find(cells, n,
                              (struct pat)RAW_(ENG_MODE_GCM, ENG_BACKEND_OPENSSL, d, units[u])),
                         0);
                snprintf(name, sizeof(name), "  %s %s %zu B / raw ipsec-mb GCM", pn, dn, units[u]);
                bar_line(f, name, x,
                         find(cells, n,
                              (struct pat)RAW_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, d, units[u])),
                         0);
            }
        }
    }
    return failed;
}

int bench_print_bars(FILE *f, struct bench_cell *cells, size_t n, struct bench_extra *xs, size_t nx,
                     double wall_seconds, const char *profile)
{
    static const struct bar bars[] = {
        {"engine GCM enc (ipsec-mb) / OpenSSL GCM",
         ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, KIB8),
         RAW_(ENG_MODE_GCM, ENG_BACKEND_OPENSSL, ENG_ENCRYPT, KIB8), 2.5},
        {"engine GCM dec (ipsec-mb) / OpenSSL GCM",
         ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_DECRYPT, KIB8),
         RAW_(ENG_MODE_GCM, ENG_BACKEND_OPENSSL, ENG_DECRYPT, KIB8), 2.5},
        {"engine GCM enc (ipsec-mb) / raw ipsec-mb GCM",
         ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, KIB8),
         RAW_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, ENG_ENCRYPT, KIB8), 0.95},
        {"engine GCM dec (ipsec-mb) / raw ipsec-mb GCM",
         ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_DECRYPT, KIB8),
         RAW_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, ENG_DECRYPT, KIB8), 0.95},
        {"engine CBC enc (ipsec-mb burst) / OpenSSL CBC enc",
         ENGINE_(ENG_MODE_CBC, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, KIB8),
         RAW_(ENG_MODE_CBC, ENG_BACKEND_OPENSSL, ENG_ENCRYPT, KIB8), 6.0},
        {"engine CTR (ipsec-mb) / OpenSSL CTR",
         ENGINE_(ENG_MODE_CTR, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, KIB8),
         RAW_(ENG_MODE_CTR, ENG_BACKEND_OPENSSL, ENG_ENCRYPT, KIB8), 1.6},
        {"XTS 64 KiB enc: all cores / 1 thread (native)",
         ENGINE_ALL_CORES_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ENCRYPT, 65536),
         ENGINE_(ENG_MODE_XTS, ENG_BACKEND_NATIVE, -1, ENG_ENCRYPT, 65536), 1.8},
        {"GCM 64 KiB enc: all cores / 1 thread (ipsec-mb)",
         ENGINE_ALL_CORES_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, ENG_ENCRYPT, 65536),
         ENGINE_(ENG_MODE_GCM, ENG_BACKEND_IPSECMB, -1, ENG_ENCRYPT, 65536), 1.8},
    };
    int failed = 0;
    if (n > 0) { /* the db profile has no cells */
        fprintf(f,
                "\nbars (batches of 64, single thread unless said, ratios of medians measured in "
                "this run):\n");
        for (size_t i = 0; i < sizeof(bars) / sizeof(bars[0]); i++) {
            const struct bar *b = &bars[i];
            failed += bar_line(f, b->name, find(cells, n, b->num), find(cells, n, b->den),
                               b->min_ratio) == 1;
        }
        failed += xts_bars(f, cells, n);
        failed += gcm_bars(f, cells, n);
        failed += store_bars(f, cells, n, xs, nx, wall_seconds, profile);
    }
    failed += bench_db_print_bars(f, xs, nx, profile);
    fprintf(f, "%d bar%s failed\n", failed, failed == 1 ? "" : "s");
    return failed;
}
