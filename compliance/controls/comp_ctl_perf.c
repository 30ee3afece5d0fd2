/*
 * comp_ctl_perf.c - the performance control (CMK-PERF): the claim "no extra performance
 * effect" is one-sided: only CMK measured slower than SMK (beyond 2% and beyond the
 * run's noise) refutes it; CMK faster never does. The CMK/SMK pairs of bench.json decide
 * when they can; when they are too noisy (or absent), the control measures for itself:
 * interleaved rounds of memory stores in CPU time with a placebo (a second SMK store),
 * batch after batch within a stated budget, until the rounds decide. Only then is it
 * "inconclusive" (not applicable, with the figures): never a silent pass.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comp_ctl_internal.h"
#include "eng_vault.h"
#include "rep_stats.h"

/* ---- CMK-PERF: the performance claim ------------------------------------------------------------
 */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/*
 * Sorts the per-round ratios |r| (k > 0) and gives their median and its
 * distribution-free ~95% interval from order statistics (rep_median_ci_ranks,
 * the bench's own interval).
 */
static void ratio_interval(double *r, size_t k, double *med, double *lo, double *hi)
{
    qsort(r, k, sizeof(double), cmp_double);
    size_t lo_rank, hi_rank;
    rep_median_ci_ranks(k, &lo_rank, &hi_rank);
    *med = rep_quantile_sorted(r, k, 0.5);
    *lo = r[lo_rank];
    *hi = r[hi_rank];
}

/* CMK may be this much slower than SMK (ratio of throughputs >= 0.98) and the claim holds. */
#define BAND 0.98

/* Batches of ROUNDS interleaved rounds the own measurement may take before "inconclusive". */
#define MAX_BATCHES 4

/* The interval lies wholly below 0.98: CMK slower by more than 2% beyond the run's noise. */
static int slower_beyond_band(double hi)
{
    return hi < BAND;
}

/*
 * The per-round CMK/SMK ratios of two cells of bench.json (sample i of each
 * was taken in the same interleaved round): their median and interval.
 * Returns the number of rounds (0 when the cells carry no samples).
 */
static size_t paired_ratio(const cJSON *a, const cJSON *b, double *med, double *lo, double *hi)
{
    const cJSON *sa = cJSON_GetObjectItem(a, "samples"), *sb = cJSON_GetObjectItem(b, "samples");
    int na = cJSON_GetArraySize(sa), nb = cJSON_GetArraySize(sb);
    size_t n = (size_t)(na < nb ? na : nb), k = 0;
    double *r = n > 0 ? calloc(n, sizeof(double)) : NULL;
    for (size_t i = 0; r != NULL && i < n; i++) {
        double x = cJSON_GetNumberValue(cJSON_GetArrayItem(sa, (int)i));
        double y = cJSON_GetNumberValue(cJSON_GetArrayItem(sb, (int)i));
        if (y > 0 && !isnan(x)) {
            r[k++] = x / y;
        }
    }
    if (k > 0) {
        ratio_interval(r, k, med, lo, hi);
    }
    free(r);
    return k;
}

/*
 * CMK/SMK pairs from bench.json; returns how many were found. *worst: the
 * lowest median ratio (CMK slowest); *slower: pairs whose interval lies
 * wholly below 0.98 (CMK slower beyond the run's noise: the claim is
 * refuted); *undecided: pairs whose median is below 0.98 but whose interval
 * reaches the band (too noisy to decide).
 */
static int bench_pairs(struct comp_control *c, const char *path, double *worst, int *slower,
                       int *undecided)
{
    size_t len = 0;
    char *text = path != NULL ? vmt_read_file(path, &len) : NULL;
    cJSON *root = text != NULL ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *results = cJSON_GetObjectItem(root, "results");
    int pairs = 0;
    *worst = INFINITY;
    *slower = 0;
    *undecided = 0;
    cJSON *a;
    cJSON_ArrayForEach(a, results)
    {
        const char *keys = cJSON_GetStringValue(cJSON_GetObjectItem(a, "keys"));
        if (keys == NULL || strcmp(keys, "cmk") != 0) {
            continue;
        }
        static const char *const same[] = {"kind",      "mode",       "backend", "arch",
                                           "direction", "unit_bytes", "batch",   "threads"};
        cJSON *b;
        cJSON_ArrayForEach(b, results)
        {
            const char *kb = cJSON_GetStringValue(cJSON_GetObjectItem(b, "keys"));
            int match = kb != NULL && strcmp(kb, "smk") == 0;
            for (size_t i = 0; match && i < sizeof(same) / sizeof(same[0]); i++) {
                cJSON *x1 = cJSON_GetObjectItem(a, same[i]), *x2 = cJSON_GetObjectItem(b, same[i]);
                char *s1 = x1 ? cJSON_PrintUnformatted(x1) : NULL;
                char *s2 = x2 ? cJSON_PrintUnformatted(x2) : NULL;
                match = (s1 == NULL && s2 == NULL) || (s1 && s2 && strcmp(s1, s2) == 0);
                free(s1);
                free(s2);
            }
            if (!match) {
                continue;
            }
            const char *label = cJSON_GetStringValue(cJSON_GetObjectItem(a, "label"));
            double r, lo, hi;
            size_t rounds = paired_ratio(a, b, &r, &lo, &hi);
            if (rounds == 0) {
                /* no samples: the ratio of the medians, with no interval */
                double ma = cJSON_GetNumberValue(cJSON_GetObjectItem(a, "median"));
                double mb = cJSON_GetNumberValue(cJSON_GetObjectItem(b, "median"));
                if (!(mb > 0) || isnan(ma)) {
                    continue;
                }
                r = lo = hi = ma / mb;
            }
            pairs++;
            *worst = r < *worst ? r : *worst;
            int out = slower_beyond_band(hi);
            int open = !out && r < BAND;
            *slower += out;
            *undecided += open;
            cc_ev(c,
                  "%s: CMK/SMK per-round ratio median %.4f, interval %.4f .. %.4f over %zu "
                  "rounds%s",
                  label ? label : "cell", r, lo, hi, rounds,
                  out    ? " (CMK slower beyond 2%)"
                  : open ? " (undecided: too noisy)"
                         : "");
        }
    }
    cJSON_Delete(root);
    return pairs;
}

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/*
 * Write + read every unit for about |secs| of wall time; returns bytes per
 * second of this thread's CPU time (*wall gets bytes per wall second).
 */
static double slice(struct eng_store *s, uint8_t *buf, size_t units, double secs, double *wall)
{
    double t0 = cc_now_s(), c0 = cpu_s(), t;
    unsigned long bytes = 0;
    do {
        if (eng_store_write(s, 0, units, buf) != 0 || eng_store_read(s, 0, units, buf) != 0) {
            return -1;
        }
        bytes += 2UL * units * ENG_STORE_DEFAULT_UNIT;
        t = cc_now_s() - t0;
    } while (t < secs);
    double c = cpu_s() - c0;
    *wall = (double)bytes / t;
    return c > 0 ? (double)bytes / c : -1;
}

/* Sorts |v| (the evidence quotes its extremes) and returns its median. */
static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(double), cmp_double);
    return rep_quantile_sorted(v, n, 0.5);
}

/*
 * The verdict of the in-process measurement: the per-round CMK/SMK ratios'
 * median |med| and its ~95% interval [lo, hi], the placebo's (SMK/SMK)
 * median |aamed|, and the vault calls made while measuring. One-sided:
 * pass when the median is >= 0.98 (CMK faster passes); or when CMK is slower
 * no more than two identical SMK stores differ in the same rounds, in the
 * same direction (+0.5 points), with no vault call. Fail when CMK is slower
 * with vault calls made (the data path makes none), or when the interval
 * lies wholly below 0.98 unlike the placebo. Otherwise undecided: returns 0
 * and sets "not applicable", reason "INCONCLUSIVE: ..." with the figures;
 * returns 1 when decided.
 */
int cc_perf_judge(struct comp_control *c, double med, double lo, double hi, double aamed,
                  unsigned long long calls)
{
    double dev = med - 1.0, noise = aamed - 1.0;
    int like_placebo = dev < 0 && noise < 0 && -dev <= -noise + 0.005;
    if (med >= BAND) {
        comp_control_set(c, COMP_VERDICT_PASS,
                         "CMK not slower than SMK by more than 2%% (%+.1f%%; placebo %+.1f%%); "
                         "shared machine, short run",
                         100.0 * dev, 100.0 * noise);
        return 1;
    }
    if (calls > 0) {
        cc_fail(c,
                "CMK slower than SMK by %.1f%% and made %llu vault calls while measured: the "
                "data path makes none",
                -100.0 * dev, calls);
        return 1;
    }
    if (like_placebo) {
        comp_control_set(c, COMP_VERDICT_PASS,
                         "CMK slower than SMK by %.1f%%, no more than two identical SMK stores "
                         "differ in the same rounds (%+.1f%%), with 0 vault calls: within this "
                         "machine's noise, not a cost of CMK",
                         -100.0 * dev, 100.0 * noise);
        return 1;
    }
    if (slower_beyond_band(hi)) {
        cc_fail(c,
                "CMK slower than SMK by %.1f%% (~95%% interval %+.1f%% .. %+.1f%%, wholly "
                "below -2%%), not as two identical SMK stores differ (%+.1f%%); shared machine",
                -100.0 * dev, 100.0 * (lo - 1.0), 100.0 * (hi - 1.0), 100.0 * noise);
        return 1;
    }
    c->verdict = COMP_VERDICT_NOT_APPLICABLE;
    snprintf(c->reason, sizeof(c->reason),
             "INCONCLUSIVE: CMK/SMK median %+.1f%%, ~95%% interval %+.1f%% .. %+.1f%% reaches the "
             "-2%% band, placebo %+.1f%%: this machine's noise cannot tell a 2%% CMK cost from "
             "none",
             100.0 * dev, 100.0 * (lo - 1.0), 100.0 * (hi - 1.0), 100.0 * noise);
    return 0;
}

void ctl_perf(struct ctx *x, struct comp_control *c)
{
    double worst = 1.0;
    int slower = 0, undecided = 0;
    int pairs = bench_pairs(c, x->o->bench_json, &worst, &slower, &undecided);
    if (pairs > 0) {
        cc_ev(c, "source: %s, %d CMK/SMK cell pairs", x->o->bench_json, pairs);
        snprintf(c->measured, sizeof(c->measured),
                 "lowest CMK/SMK median ratio %.4f over %d cells; %d slower beyond 2%%, %d "
                 "undecided",
                 worst, pairs, slower, undecided);
        if (slower > 0) {
            cc_fail(c,
                    "%d CMK cell%s slower than the SMK cell by more than 2%% beyond the run's "
                    "noise (lowest median %+.1f%%)",
                    slower, slower == 1 ? " is" : "s are", 100.0 * (worst - 1.0));
            return;
        }
        if (undecided == 0) {
            comp_control_set(c, COMP_VERDICT_PASS,
                             "no CMK cell slower than its SMK cell by more than 2%% (lowest "
                             "median %+.1f%%; CMK faster does not refute the claim)",
                             100.0 * (worst - 1.0));
            return;
        }
        cc_ev(c,
              "bench.json too noisy to decide: %d cell%s with a median below -2%% but an "
              "interval reaching the band: measured here instead",
              undecided, undecided == 1 ? "" : "s");
    } else {
        cc_ev(c, "no keys=smk/keys=cmk cells in %s: measured here instead",
              x->o->bench_json ? x->o->bench_json : "(none)");
    }
    char keyfile[330];
    snprintf(keyfile, sizeof(keyfile), "%s/smk.key", x->work);
    char ver[64];
    struct eng_kek_provider *smk = eng_smk_open(keyfile, 1);
    long st = vmt_create_key(&x->va, "perf-kek", 2048, NULL, ver);
    struct eng_kek_provider *cmk = cc_provider(&x->va, "dbservice", "perf-kek", NULL);
    struct eng_store_config cfg;
    eng_store_config_init(&cfg); /* XTS, 8 KiB units, revalidation 60 s: the product defaults */
    cfg.num_units = 256;
    cfg.extent_units = 64;
    struct eng_store *a = smk ? eng_store_create_memory(smk, &cfg) : NULL;
    struct eng_store *b = cmk && st == 200 ? eng_store_create_memory(cmk, &cfg) : NULL;
    /* a placebo: a second SMK store, identical to |a|, measured in the same rounds */
    struct eng_store *a2 = smk ? eng_store_create_memory(smk, &cfg) : NULL;
    uint8_t *buf = calloc(cfg.num_units, ENG_STORE_DEFAULT_UNIT);
    double batch_s = x->o->perf_seconds > 0 ? x->o->perf_seconds : 6.0;
    enum { ROUNDS = 40, MAX_ROUNDS = ROUNDS * MAX_BATCHES };
    double ratio[MAX_ROUNDS], aa[MAX_ROUNDS], wratio[MAX_ROUNDS], ga[MAX_ROUNDS], gb[MAX_ROUNDS];
    double sorted[MAX_ROUNDS];
    int ok = a != NULL && b != NULL && a2 != NULL && buf != NULL;
    struct eng_kek_stats s0 = {0}, s1 = {0};
    double w1, w2;
    if (ok) {
        slice(a, buf, cfg.num_units, 0.1, &w1); /* warm-up */
        slice(b, buf, cfg.num_units, 0.1, &w2);
        slice(a2, buf, cfg.num_units, 0.1, &w2);
        eng_kek_stats(cmk, &s0);
    }
    int n = 0, batches = 0, decided = 0;
    double med = 0, lo = 0, hi = 0, aamed = 0;
    unsigned long long calls = 0;
    while (ok && !decided && batches < MAX_BATCHES) {
        for (int i = 0; ok && i < ROUNDS; i++, n++) {
            double sv[3] = {0, 0, 0}, wv[3] = {0, 0, 0};
            struct eng_store *order[3] = {a, b, a2};
            double part = batch_s / (3 * ROUNDS);
            for (int k = 0; k < 3; k++) { /* rotate the order so no store always goes first */
                int j = (n + k) % 3;
                sv[j] = slice(order[j], buf, cfg.num_units, part, &wv[j]);
            }
            ok = sv[0] > 0 && sv[1] > 0 && sv[2] > 0;
            ga[n] = sv[0] / 1e9;
            gb[n] = sv[1] / 1e9;
            ratio[n] = ok ? sv[1] / sv[0] : 0;
            aa[n] = ok ? sv[2] / sv[0] : 0;
            wratio[n] = ok && wv[0] > 0 ? wv[1] / wv[0] : 0;
        }
        if (!ok) {
            break;
        }
        batches++;
        eng_kek_stats(cmk, &s1);
        calls = (unsigned long long)(s1.requests - s0.requests);
        memcpy(sorted, ratio, (size_t)n * sizeof(double));
        ratio_interval(sorted, (size_t)n, &med, &lo, &hi);
        memcpy(sorted, aa, (size_t)n * sizeof(double));
        aamed = median(sorted, (size_t)n);
        struct comp_control trial;
        memset(&trial, 0, sizeof(trial));
        decided = cc_perf_judge(&trial, med, lo, hi, aamed, calls);
        cc_ev(c,
              "batch %d (%d rounds so far): CMK/SMK median %.4f, ~95%% interval %.4f .. %.4f, "
              "placebo %.4f: %s",
              batches, n, med, lo, hi, aamed, decided ? "decided" : "undecided");
    }
    eng_store_close(a);
    eng_store_close(a2);
    eng_store_close(b);
    eng_kek_provider_free(smk);
    eng_kek_provider_free(cmk);
    free(buf);
    if (!ok) {
        cc_fail(c, "the measurement could not run: %s", cc_ename());
        return;
    }
    double wmed = median(wratio, (size_t)n), ma = median(ga, (size_t)n), mb = median(gb, (size_t)n);
    cc_ev(c,
          "memory stores, XTS, 8 KiB units, 256 units written then read per pass, auto back "
          "end, revalidation 60 s (the default); batches of %d interleaved rounds of SMK, CMK "
          "and a second SMK store (order rotated), %.1f s each, until the rounds decide, at "
          "most %d batches (budget %.1f s); %d batches ran",
          ROUNDS, batch_s, MAX_BATCHES, batch_s * MAX_BATCHES, batches);
    cc_ev(c,
          "throughput per CPU second of the measuring thread (preemption by other work on a "
          "shared machine does not count): SMK median %.3f GB/s, CMK median %.3f GB/s; "
          "per-round CMK/SMK median %.4f, its ~95%% interval %.4f .. %.4f",
          ma, mb, med, lo, hi);
    cc_ev(c,
          "placebo: a second SMK store against the first, same rounds: median ratio %.4f "
          "(%+.1f%%): the difference two identical stores show on this machine",
          aamed, 100.0 * (aamed - 1.0));
    cc_ev(c,
          "wall-clock CMK/SMK per-round ratios %.4f .. %.4f, median %.4f (shown, not judged: "
          "noise of other processes)",
          wratio[0], wratio[n - 1], wmed);
    cc_ev(c,
          "vault requests during the measured rounds: %llu (the data path never calls the "
          "vault; CMK adds only the open-time unwrap and one get per revalidation interval)",
          calls);
    snprintf(
        c->measured, sizeof(c->measured),
        "CMK/SMK throughput ratio %.4f per CPU second (SMK/SMK placebo %.4f; wall clock %.4f), "
        "median of %d rounds",
        med, aamed, wmed, n);
    cc_perf_judge(c, med, lo, hi, aamed, calls);
}
