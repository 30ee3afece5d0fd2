/*
 * kind_engine.c - the engine cells: eng_cipher_batch on every back end the
 * CPU runs (its best path within ENG_ARCH, the narrower native paths, A/A
 * twins, all cores), each with BENCH_KEY_COPIES engine contexts.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

struct engine_state {
    struct bench_units u; /* first (bench_cipher_state_new) */
    struct eng_cipher *cipher[BENCH_KEY_COPIES];
};

static void engine_plan(struct bench_plan *pl, const struct bench_cell *base)
{
    enum eng_mode m = base->mode;
    enum eng_arch best = pl->best;
    for (int b = ENG_BACKEND_NATIVE; b < ENG_BACKEND_COUNT; b++) {
        if (!eng_backend_supports((enum eng_backend)b, m, best)) {
            continue;
        }
        struct bench_cell c = *base;
        c.backend = (enum eng_backend)b;
        c.arch = best;
        bench_plan_add(pl, &bench_kind_engine, c);
        /* A/A: the same cell twice in one group (XTS native, GCM ipsec-mb, 8 KiB encrypt) */
        if (c.unit_bytes == 8192 && c.dir == ENG_ENCRYPT &&
            ((m == ENG_MODE_XTS && b == ENG_BACKEND_NATIVE) ||
             (m == ENG_MODE_GCM && b == ENG_BACKEND_IPSECMB))) {
            struct bench_cell tw = c;
            tw.twin = 1;
            bench_plan_add(pl, &bench_kind_engine, tw);
        }
        /* thread scaling: the mode's default back end on every core */
        enum eng_backend def;
        enum eng_arch da;
        if (pl->ncores > 1 && c.unit_bytes >= 8192 && c.unit_bytes <= 65536 &&
            eng_resolve(m, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, &def, &da) == 0 &&
            def == (enum eng_backend)b) {
            struct bench_cell tc = c;
            tc.threads = pl->ncores > BENCH_MAX_THREADS ? BENCH_MAX_THREADS : pl->ncores;
            bench_plan_add(pl, &bench_kind_engine, tc);
        }
        /* the narrower paths of multi-path back ends (native always: they have bars): the ymm
         * VAES path where it is not the best (ipsec-mb runs its avx2 code there), and the
         * AES-NI path */
        int variants = pl->profile->arch_variants || b == ENG_BACKEND_NATIVE;
        if (variants && b == ENG_BACKEND_NATIVE && best > ENG_ARCH_VAES_AVX2 &&
            eng_backend_supports((enum eng_backend)b, m, ENG_ARCH_VAES_AVX2)) {
            c.arch = ENG_ARCH_VAES_AVX2;
            bench_plan_add(pl, &bench_kind_engine, c);
        }
        if (variants && b != ENG_BACKEND_OPENSSL && best > ENG_ARCH_AVX2 &&
            eng_backend_supports((enum eng_backend)b, m, ENG_ARCH_AVX2)) {
            c.arch = ENG_ARCH_AVX2;
            bench_plan_add(pl, &bench_kind_engine, c);
        }
    }
}

static void engine_describe(const struct bench_cell *c, char *out, size_t max)
{
    snprintf(out, max, "engine %s %s/%s%s%s", eng_mode_name(c->mode), eng_backend_name(c->backend),
             eng_arch_name(c->arch), c->threads > 1 ? (c->threads == 2 ? " 2T" : " NT") : "",
             c->twin ? " A/A twin" : "");
}

static int engine_prepare(struct bench_cell *c, int t, struct base_err *e)
{
    struct engine_state *s = bench_cipher_state_new(c, t, sizeof(*s), e);
    if (s == NULL) {
        return -1;
    }
    for (size_t k = 0; k < BENCH_KEY_COPIES; k++) {
        s->cipher[k] =
            eng_cipher_new(c->mode, c->backend, c->arch, s->u.key, bench_key_len(c->mode));
        if (s->cipher[k] == NULL) {
            return base_err_set(e, BENCH_ERR_LIB, BASE_HERE, "%s", eng_strerror(eng_errno()));
        }
    }
    c->ran_backend = eng_cipher_backend(s->cipher[0]);
    c->ran_arch = eng_cipher_arch(s->cipher[0]);
    return 0;
}

static int engine_run(struct bench_cell *c, int t)
{
    struct engine_state *s = c->state[t];
    return eng_cipher_batch(s->cipher[bench_key_copy(c)], c->dir, s->u.units, c->batch);
}

static void engine_release(struct bench_cell *c, int t)
{
    struct engine_state *s = c->state[t];
    for (size_t k = 0; k < BENCH_KEY_COPIES; k++) {
        eng_cipher_free(s->cipher[k]);
    }
    bench_cipher_state_free(s);
}

/* An A/A twin is "engine-aa", so that its key differs from its original's. */
static const char *engine_json_kind(const struct bench_cell *c)
{
    return c->twin ? "engine-aa" : "engine";
}

static void engine_write_json(cJSON *r, const struct bench_cell *c)
{
    if (c->twin) {
        cJSON_AddBoolToObject(r, "aa_twin", 1);
    }
}

/*
 * The engine cell's throughput over each ceiling cell of its group, as
 * median of the per-round ratios with its order-statistic CI (the same
 * estimator as the bars), e.g. [{"width": "zmm", "widest": true, ...}].
 */
static void engine_write_results(cJSON *r, const struct bench_cell *c,
                                 const struct bench_cell *cells, size_t n)
{
    cJSON *arr = NULL;
    for (size_t j = 0; j < n; j++) {
        const struct bench_cell *y = &cells[j];
        double med, lo, hi, level;
        if (y->kind != BENCH_KIND_CEILING || y->group != c->group || y->threads != c->threads ||
            bench_paired_ratio(c, y, &med, &lo, &hi, &level) != 0) {
            continue;
        }
        if (arr == NULL) {
            arr = cJSON_AddArrayToObject(r, "ceiling_ratios");
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "width", bench_ceiling_width_name(y->width_bits));
        cJSON_AddBoolToObject(o, "widest", y->width_bits == bench_ceiling_widest());
        cJSON_AddNumberToObject(o, "median", med);
        cJSON_AddNumberToObject(o, "ci_low", lo);
        cJSON_AddNumberToObject(o, "ci_high", hi);
        cJSON_AddNumberToObject(o, "ci_level", level);
        cJSON_AddItemToArray(arr, o);
    }
}

const struct bench_kind_ops bench_kind_engine = {
    .id = BENCH_KIND_ENGINE,
    .name = "engine",
    .plan = engine_plan,
    .describe = engine_describe,
    .prepare = engine_prepare,
    .run = engine_run,
    .release = engine_release,
    .json_kind = engine_json_kind,
    .write_json = engine_write_json,
    .write_results = engine_write_results,
};
