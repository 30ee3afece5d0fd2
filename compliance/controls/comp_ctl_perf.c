/*
 * comp_ctl_perf.c - the performance control (CMK-PERF): CMK/SMK pairs of bench.json when
 * given, otherwise its own measurement in CPU time of memory stores with a placebo.
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

/* ---- CMK-PERF: the performance claim ------------------------------------------------------------ */

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

/*
 * A median further than this from 1 fails even when its interval reaches the
 * 2% band: such a run is too noisy to support the claim.
 */
#define NOISE_MAX 0.05

/* The interval lies wholly outside 1 +- 2%: a difference the run shows beyond its noise. */
static int beyond_band(double lo, double hi)
{
    return lo > 1.02 || hi < 0.98;
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
 * median ratio farthest from 1; *beyond: pairs whose interval lies wholly
 * outside 1 +- 2% (a difference this run shows beyond its noise).
 */
static int bench_pairs(struct comp_control *c, const char *path, double *worst, int *beyond)
{
    size_t len = 0;
    char *text = path != NULL ? cc_slurp(path, &len) : NULL;
    cJSON *root = text != NULL ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *results = cJSON_GetObjectItem(root, "results");
    int pairs = 0;
    *worst = 1.0;
    *beyond = 0;
    cJSON *a;
    cJSON_ArrayForEach(a, results)
    {
        const char *keys = cJSON_GetStringValue(cJSON_GetObjectItem(a, "keys"));
        if (keys == NULL || strcmp(keys, "cmk") != 0) {
            continue;
        }
        static const char *const same[] = {"kind", "mode", "backend", "arch", "direction",
                                           "unit_bytes", "batch", "threads"};
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
            if (fabs(r - 1.0) > fabs(*worst - 1.0)) {
                *worst = r;
            }
            int out = beyond_band(lo, hi);
            *beyond += out;
            cc_ev(c, "%s: CMK/SMK per-round ratio median %.4f, interval %.4f .. %.4f over %zu "
                     "rounds%s",
                  label ? label : "cell", r, lo, hi, rounds, out ? " (beyond 2%)" : "");
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
 * median |aamed|, and the vault calls made while measuring.
 * Pass: the median within 2%; or, with no vault call, the interval reaches
 * the 2% band and the median is within NOISE_MAX (a run this noisy cannot
 * tell a CMK cost of 2% from none, but shows none beyond it); or, with no
 * vault call, CMK differs in the same direction as two identical SMK stores
 * and by no more than they do (+0.5%). Anything else fails, saying why.
 */
void cc_perf_judge(struct comp_control *c, double med, double lo, double hi, double aamed,
                   unsigned long long calls)
{
    double dev = fabs(med - 1.0), noise = fabs(aamed - 1.0);
    int in_noise = !beyond_band(lo, hi) && dev <= NOISE_MAX;
    int like_placebo = (med - 1.0) * (aamed - 1.0) > 0 && dev <= noise + 0.005;
    if (dev <= 0.02) {
        comp_control_set(c, COMP_VERDICT_PASS,
                         "CMK within 2%% of SMK (%+.1f%%; placebo %+.1f%%); shared machine, short run",
                         100.0 * (med - 1.0), 100.0 * (aamed - 1.0));
    } else if (calls > 0) {
        cc_fail(c, "CMK differs from SMK by %+.1f%% and made %llu vault calls while measured: the "
                   "data path makes none",
                100.0 * (med - 1.0), calls);
    } else if (in_noise) {
        comp_control_set(c, COMP_VERDICT_PASS,
                         "CMK within 2%% of SMK within this run's noise: the median differs by "
                         "%+.1f%% but its ~95%% interval (%+.1f%% .. %+.1f%%) reaches the 2%% band, "
                         "with 0 vault calls (placebo %+.1f%%)",
                         100.0 * (med - 1.0), 100.0 * (lo - 1.0), 100.0 * (hi - 1.0),
                         100.0 * (aamed - 1.0));
    } else if (like_placebo) {
        comp_control_set(c, COMP_VERDICT_PASS,
                         "CMK differs from SMK by %+.1f%%, no more than two identical SMK stores "
                         "differ in the same rounds (%+.1f%%), with 0 vault calls: within this "
                         "machine's noise, not a cost of CMK",
                         100.0 * (med - 1.0), 100.0 * (aamed - 1.0));
    } else {
        cc_fail(c, "CMK differs from SMK by %+.1f%% (~95%% interval %+.1f%% .. %+.1f%%%s), not as "
                   "two identical SMK stores differ (%+.1f%%); shared machine, short run",
                100.0 * (med - 1.0), 100.0 * (lo - 1.0), 100.0 * (hi - 1.0),
                beyond_band(lo, hi) ? ", wholly beyond 2%" : ", median beyond 5%",
                100.0 * (aamed - 1.0));
    }
}

void ctl_perf(struct ctx *x, struct comp_control *c)
{
    double worst = 1.0;
    int beyond = 0;
    int pairs = bench_pairs(c, x->o->bench_json, &worst, &beyond);
    if (pairs > 0) {
        cc_ev(c, "source: %s, %d CMK/SMK cell pairs", x->o->bench_json, pairs);
        snprintf(c->measured, sizeof(c->measured),
                 "worst CMK/SMK median ratio %.4f over %d cells; %d with the interval beyond 2%%", worst, pairs,
                 beyond);
        if (fabs(worst - 1.0) <= 0.02) {
            comp_control_set(c, COMP_VERDICT_PASS, "every CMK cell within 2%% of its SMK cell");
        } else if (beyond == 0 && fabs(worst - 1.0) <= NOISE_MAX) {
            comp_control_set(c, COMP_VERDICT_PASS,
                             "every CMK cell within 2%% of its SMK cell within the run's noise: the worst "
                             "median differs by %+.1f%% but its ~95%% interval of per-round ratios reaches "
                             "the 2%% band",
                             100.0 * (worst - 1.0));
        } else if (beyond == 0) {
            cc_fail(c, "the worst CMK cell's median differs from its SMK cell by %+.1f%%: its "
                       "interval reaches the 2%% band, but a run this noisy cannot support the "
                       "claim (median beyond 5%%)",
                    100.0 * (worst - 1.0));
        } else {
            cc_fail(c, "%d CMK cell%s differ%s from the SMK cell by more than 2%% beyond the "
                       "run's noise (worst median %+.1f%%)",
                    beyond, beyond == 1 ? "" : "s", beyond == 1 ? "s" : "", 100.0 * (worst - 1.0));
        }
        return;
    }
    cc_ev(c, "no keys=smk/keys=cmk cells in %s: measured here instead",
          x->o->bench_json ? x->o->bench_json : "(none)");
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
    double total = x->o->perf_seconds > 0 ? x->o->perf_seconds : 6.0;
    enum { ROUNDS = 40 };
    double ratio[ROUNDS], aa[ROUNDS], wratio[ROUNDS], ga[ROUNDS], gb[ROUNDS];
    int ok = a != NULL && b != NULL && a2 != NULL && buf != NULL;
    struct eng_vault_stats s0 = {0}, s1 = {0};
    double w1, w2;
    if (ok) {
        slice(a, buf, cfg.num_units, 0.1, &w1); /* warm-up */
        slice(b, buf, cfg.num_units, 0.1, &w2);
        slice(a2, buf, cfg.num_units, 0.1, &w2);
        eng_vault_stats(cmk, &s0);
    }
    for (int i = 0; ok && i < ROUNDS; i++) {
        double sv[3] = {0, 0, 0}, wv[3] = {0, 0, 0};
        struct eng_store *order[3] = {a, b, a2};
        double part = total / (3 * ROUNDS);
        for (int k = 0; k < 3; k++) { /* rotate the order so no store always goes first */
            int j = (i + k) % 3;
            sv[j] = slice(order[j], buf, cfg.num_units, part, &wv[j]);
        }
        ok = sv[0] > 0 && sv[1] > 0 && sv[2] > 0;
        ga[i] = sv[0] / 1e9;
        gb[i] = sv[1] / 1e9;
        ratio[i] = ok ? sv[1] / sv[0] : 0;
        aa[i] = ok ? sv[2] / sv[0] : 0;
        wratio[i] = ok && wv[0] > 0 ? wv[1] / wv[0] : 0;
    }
    if (ok) {
        eng_vault_stats(cmk, &s1);
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
    double med, lo, hi;
    ratio_interval(ratio, ROUNDS, &med, &lo, &hi);
    double wmed = median(wratio, ROUNDS), aamed = median(aa, ROUNDS);
    double ma = median(ga, ROUNDS), mb = median(gb, ROUNDS);
    cc_ev(c, "memory stores, XTS, 8 KiB units, 256 units written then read per pass, auto back "
             "end, revalidation 60 s (the default); %d interleaved rounds of SMK, CMK and a "
             "second SMK store (order rotated), %.1f s in total",
          ROUNDS, total);
    cc_ev(c, "throughput per CPU second of the measuring thread (preemption by other work on a "
             "shared machine does not count): SMK median %.3f GB/s, CMK median %.3f GB/s; "
             "per-round CMK/SMK %.4f .. %.4f, median %.4f, its ~95%% interval %.4f .. %.4f",
          ma, mb, ratio[0], ratio[ROUNDS - 1], med, lo, hi);
    cc_ev(c, "placebo: a second SMK store against the first, same rounds: median ratio %.4f "
             "(%+.1f%%): the difference two identical stores show on this machine",
          aamed, 100.0 * (aamed - 1.0));
    cc_ev(c, "wall-clock CMK/SMK per-round ratios %.4f .. %.4f, median %.4f (shown, not judged: "
             "noise of other processes)",
          wratio[0], wratio[ROUNDS - 1], wmed);
    cc_ev(c, "vault requests during the measured rounds: %llu (the data path never calls the "
             "vault; CMK adds only the open-time unwrap and one get per revalidation interval)",
          (unsigned long long)(s1.requests - s0.requests));
    snprintf(c->measured, sizeof(c->measured),
             "CMK/SMK throughput ratio %.4f per CPU second (SMK/SMK placebo %.4f; wall clock %.4f), "
             "median of %d rounds",
             med, aamed, wmed, ROUNDS);
    cc_perf_judge(c, med, lo, hi, aamed, (unsigned long long)(s1.requests - s0.requests));
}
