/*
 * store.c - the store cells: eng_store_write / eng_store_read under the
 * service-managed key (SMK, a key file) and the customer-managed key (CMK,
 * the bench's vault-mock), in memory and in a folder, and the store set-up
 * the extras share (bench_store_config, bench_make_store).
 *
 * The vault-mock runs on this machine and competes with the bench for the
 * same cores: in the vault figures the server's RSA work and the client's
 * HTTPS work share them.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "eng_store.h"
#include "eng_vault.h"
#include "rep_stats.h"

/* ------------------------------------------------------------------ */
/* store throughput cells                                              */

/*
 * Each store cell measures STORE_COPIES stores of its keys, one per sample
 * in turn. The data user buffer is shared with the group, but every store
 * has its own ciphertext memory and DEK ciphers, and on this VM where the
 * host puts a buffer (and so which cache sets it uses) is drawn anew for
 * every allocation: with a single store per cell, one SMK and one CMK draw
 * moved CMK/SMK by up to 6% between runs while its in-run CI was under 1%.
 * Rotating over several stores averages that draw instead of keeping one.
 */
#define STORE_COPIES 4

struct store_state {
    struct eng_kek_provider *kek;
    struct eng_store *store[STORE_COPIES];
    uint8_t *buf; /* the group's input (write cells) or output (read cells) */
    void *buf_handle;
    char dir[STORE_COPIES][512];
    uint64_t requests0; /* vault requests when measuring began */
};

/* Vault requests the provider sent so far (0 for SMK). */
uint64_t bench_vault_requests(const struct eng_kek_provider *p)
{
    struct eng_kek_stats st;
    return eng_kek_stats(p, &st) == 0 ? st.requests : 0;
}

void bench_store_config(struct eng_store_config *cfg, enum eng_mode mode, uint64_t units,
                        uint32_t extent_units, unsigned revalidate_s)
{
    eng_store_config_init(cfg);
    cfg->mode = mode;
    cfg->unit_size = 8192;
    cfg->num_units = units;
    cfg->extent_units = extent_units;
    if (revalidate_s > 0) {
        cfg->revalidate_s = revalidate_s;
    }
}

/* A folder store of |deks| extents of |extent_units| 8 KiB units under |kek|; returns its folder.
 */
int bench_make_store(struct eng_kek_provider *kek, enum eng_mode mode, uint32_t deks,
                     uint32_t extent_units, char *dir, size_t dir_max)
{
    struct eng_store_config cfg;
    bench_store_config(&cfg, mode, (uint64_t)deks * extent_units, extent_units, 0);
    if (bench_new_store_dir(dir, dir_max) == NULL) {
        return -1;
    }
    struct eng_store *s = eng_store_create(dir, kek, &cfg);
    if (s == NULL) {
        return -1;
    }
    eng_store_close(s);
    return 0;
}

/*
 * Store cells of one (mode, direction), in the group of the 8 KiB cipher
 * cells: SMK and CMK side by side per medium, so that they are sampled in
 * the same interleaved rounds as each other and as the cipher cell of the
 * same back end (store/cipher ratio).
 */
static void store_plan(struct bench_plan *pl, const struct bench_cell *group)
{
    if (group->unit_bytes != 8192 || (group->mode != ENG_MODE_XTS && group->mode != ENG_MODE_GCM)) {
        return;
    }
    static const char *const keys[] = {"smk", "cmk"};
    const struct bench_profile *p = pl->profile;
    struct bench_cell base = *group;
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
            bench_plan_add(pl, &bench_kind_store, c);
        }
    }
    if (base.mode == ENG_MODE_XTS) {
        /* the integrity option's cost: per-unit HMAC-SHA-256, same geometry as "smk memory" */
        struct bench_cell c = base;
        c.medium = BENCH_MEDIUM_MEMORY;
        c.keys = "smk-hmac";
        bench_plan_add(pl, &bench_kind_store, c);
    }
    if (p->store_full) {
        struct bench_cell c = base;
        c.medium = BENCH_MEDIUM_MEMORY;
        c.keys = "cmk-reval1s";
        c.revalidate_s = 1;
        bench_plan_add(pl, &bench_kind_store, c);
        if (pl->ncores > 1) {
            for (int k = 0; k < 2; k++) {
                c = base;
                c.medium = BENCH_MEDIUM_MEMORY;
                c.keys = keys[k];
                c.threads = pl->ncores > BENCH_MAX_THREADS ? BENCH_MAX_THREADS : pl->ncores;
                bench_plan_add(pl, &bench_kind_store, c);
            }
        }
    }
}

static void store_describe(const struct bench_cell *c, char *out, size_t max)
{
    snprintf(out, max, "store %s %s %s%s", eng_mode_name(c->mode), c->keys,
             c->medium == BENCH_MEDIUM_FILE ? "file" : "memory",
             c->threads > 1 ? (c->threads == 2 ? " 2T" : " NT") : "");
}

static int store_prepare(struct bench_cell *c, int t, struct base_err *e)
{
    c->vault_calls = strncmp(c->keys, "cmk", 3) == 0 ? 0 : -1;
    struct store_state *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "out of memory");
    }
    c->state[t] = s;
    /* SMK and CMK cells of a group share it, as cipher cells share theirs */
    s->buf = bench_group_buffer(c, t, c->dir == ENG_DECRYPT, &s->buf_handle, e);
    if (s->buf == NULL) {
        return -1;
    }
    s->kek = bench_open_provider(strncmp(c->keys, "cmk", 3) == 0 ? "cmk" : "smk", 3072, e);
    if (s->kek == NULL) {
        return -1;
    }
    struct eng_store_config cfg;
    bench_store_config(&cfg, c->mode, c->batch, (uint32_t)c->batch, c->revalidate_s);
    if (strcmp(c->keys, "smk-hmac") == 0) {
        cfg.integrity = ENG_STORE_INTEGRITY_HMAC_SHA256; /* XTS with per-unit MACs */
    }
    for (int k = 0; k < STORE_COPIES; k++) {
        struct eng_store *st = NULL;
        if (c->medium == BENCH_MEDIUM_MEMORY) {
            st = eng_store_create_memory(s->kek, &cfg);
        } else if (bench_new_store_dir(s->dir[k], sizeof(s->dir[k])) != NULL) {
            st = eng_store_create(s->dir[k], s->kek, &cfg);
        }
        s->store[k] = st;
        /* read cells read real ciphertext */
        if (st == NULL || eng_store_write(st, 0, c->batch, s->buf) != 0) {
            return base_err_set(e, BENCH_ERR_LIB, BASE_HERE, "%s", eng_strerror(eng_errno()));
        }
        struct eng_store_info info;
        eng_store_get_info(st, &info);
        c->ran_backend = info.backend;
        c->ran_arch = info.arch;
    }
    s->requests0 = bench_vault_requests(s->kek);
    return 0;
}

static int store_run(struct bench_cell *c, int t)
{
    struct store_state *s = c->state[t];
    struct eng_store *st = s->store[c->nsamples % STORE_COPIES]; /* the next store each sample */
    return c->dir == ENG_ENCRYPT ? eng_store_write(st, 0, c->batch, s->buf)
                                 : eng_store_read(st, 0, c->batch, s->buf);
}

static void store_release(struct bench_cell *c, int t)
{
    struct store_state *s = c->state[t];
    if (c->vault_calls >= 0 && s->kek != NULL) {
        c->vault_calls += (long)(bench_vault_requests(s->kek) - s->requests0);
    }
    for (int k = 0; k < STORE_COPIES; k++) {
        eng_store_close(s->store[k]);
        if (s->dir[k][0] != '\0') {
            bench_remove_tree(s->dir[k]);
        }
    }
    eng_kek_provider_free(s->kek);
    bench_group_buffer_release(s->buf_handle);
    free(s);
}

/*
 * JSON kind: in memory "engine" with keys smk / cmk (what cmk-report and
 * cmk-gate pair as CMK against SMK), in a folder "store-file".
 */
static const char *store_json_kind(const struct bench_cell *c)
{
    return c->medium == BENCH_MEDIUM_FILE ? "store-file" : "engine";
}

static void store_write_json(cJSON *r, const struct bench_cell *c)
{
    cJSON_AddStringToObject(r, "store", c->medium == BENCH_MEDIUM_FILE ? "file" : "memory");
    cJSON_AddNumberToObject(r, "revalidate_s", c->revalidate_s);
    if (strncmp(c->keys, "cmk", 3) == 0) {
        cJSON_AddNumberToObject(r, "rsa_bits", 3072);
        cJSON_AddNumberToObject(r, "vault_calls_measured", (double)c->vault_calls);
    }
}

/* The store section: CMK/SMK and store/cipher ratios with their CIs. */
static void store_print(FILE *f, struct bench_cell *cells, size_t n)
{
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        any |= cells[i].kind == BENCH_KIND_STORE;
    }
    if (!any) {
        return;
    }
    fprintf(
        f,
        "\nstore: CMK/SMK and store/cipher, median of the per-round ratios (cells sampled in the\n"
        "same interleaved rounds), 95%% order-statistic CI; 8 KiB units, batches of 64.\n"
        "CMK = vault provider on the bench's vault-mock (RSA-3072, identity dbservice, "
        "revalidation\n"
        "every 60 s unless said), SMK = key file; smk-hmac = SMK, XTS with --integrity "
        "hmac-sha256\n"
        "(a per-unit HMAC-SHA-256). mean-batch GB/s counts every slow batch (e.g. a\n"
        "revalidation call), the median estimator does not.\n");
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        if (c->kind != BENCH_KIND_STORE || strcmp(c->keys, "smk") == 0 || c->nsamples == 0) {
            continue;
        }
        struct bench_cell *smk =
            bench_find_store(cells, n, c->mode, c->dir, c->medium, "smk", c->threads);
        char name[96];
        snprintf(name, sizeof(name), "%s/smk %s %s %s%s", c->keys, eng_mode_name(c->mode),
                 c->dir == ENG_ENCRYPT ? "write" : "read", bench_medium_name(c->medium),
                 c->threads > 1 ? " 2T" : "");
        bench_ratio_line(f, name, c, smk, 0);
        if (strncmp(c->keys, "cmk", 3) == 0) {
            fprintf(f, "    vault requests by the CMK cell while measured: %ld\n", c->vault_calls);
        }
        if (strcmp(c->keys, "cmk-reval1s") == 0 && smk != NULL) {
            double mc[BENCH_MAX_SAMPLES], ms[BENCH_MAX_SAMPLES];
            memcpy(mc, c->mean_gbps, c->nsamples * sizeof(double));
            memcpy(ms, smk->mean_gbps, smk->nsamples * sizeof(double));
            qsort(mc, c->nsamples, sizeof(double), bench_cmp_double);
            qsort(ms, smk->nsamples, sizeof(double), bench_cmp_double);
            fprintf(f, "    mean-batch GB/s: cmk-reval1s %.2f, smk %.2f (%.3fx)\n",
                    rep_quantile_sorted(mc, c->nsamples, 0.5),
                    rep_quantile_sorted(ms, smk->nsamples, 0.5),
                    rep_quantile_sorted(mc, c->nsamples, 0.5) /
                        rep_quantile_sorted(ms, smk->nsamples, 0.5));
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        if (c->kind != BENCH_KIND_STORE || c->threads != 1 || strcmp(c->keys, "reval") == 0 ||
            strcmp(c->keys, "cmk-reval1s") == 0 || c->nsamples == 0) {
            continue;
        }
        char name[96];
        snprintf(name, sizeof(name), "store %s/cipher %s %s %s", c->keys, eng_mode_name(c->mode),
                 c->dir == ENG_ENCRYPT ? "write" : "read", bench_medium_name(c->medium));
        bench_ratio_line(f, name, c, bench_find_cipher_of(cells, n, c), 0);
    }
}

const struct bench_kind_ops bench_kind_store = {
    .id = BENCH_KIND_STORE,
    .name = "store",
    .plan = store_plan,
    .describe = store_describe,
    .prepare = store_prepare,
    .run = store_run,
    .release = store_release,
    .json_kind = store_json_kind,
    .write_json = store_write_json,
    .print = store_print,
};
