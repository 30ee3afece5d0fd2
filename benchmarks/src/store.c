/*
 * store.c - the store throughput cells (SMK and CMK, memory and folder),
 * the bench's own vault-mock and temporary folder, and the helpers the
 * extras (extras.c) share with them.
 *
 * The vault-mock runs on this machine and competes with the bench for the
 * same cores: in the vault figures the server's RSA work and the client's
 * HTTPS work share them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "eng_store.h"
#include "eng_vault.h"
#include "vmt_client.h"

/* ------------------------------------------------------------------ */
/* temporary folder and vault                                          */

static char tmp_root[256];

const char *bench_tmpdir(void)
{
    if (tmp_root[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(tmp_root, sizeof(tmp_root), "%s/cmk-bench-XXXXXX",
                 base != NULL && base[0] != '\0' ? base : "/tmp");
        if (mkdtemp(tmp_root) == NULL) {
            tmp_root[0] = '\0';
            return NULL;
        }
        /* The stores' freshness anchors go with them, not to ~/.cmk/anchors (eng_store.h). */
        char anchors[300];
        snprintf(anchors, sizeof(anchors), "%s/anchors", tmp_root);
        setenv("CMK_ANCHOR_DIR", anchors, 1);
    }
    return tmp_root;
}

void bench_remove_tree(const char *path)
{
    if (path == NULL || path[0] == '\0' || strchr(path, '\'') != NULL) {
        return;
    }
    char cmd[1100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    int rc = system(cmd);
    (void)rc;
}

void bench_tmpdir_remove(void)
{
    if (tmp_root[0] != '\0') {
        bench_remove_tree(tmp_root);
        tmp_root[0] = '\0';
    }
}

static struct vmt_server vsrv;
static int vault_up;

int bench_vault_running(void)
{
    return vault_up;
}

int bench_vault_start(int with_4096, const char **err)
{
    static char msg[512];
    if (vault_up) {
        return 0;
    }
    memset(&vsrv, 0, sizeof(vsrv));
    vsrv.timeout_ms = 120000; /* RSA-4096 key generation on a busy machine */
    static const char *const args[] = {"--throttle", "off", NULL};
    if (access(vmt_bin(), X_OK) != 0) {
        snprintf(msg, sizeof(msg), "vault-mock program '%s' is not there or not executable (%s); "
                 "build it (make) or set VMOCK_BIN", vmt_bin(), strerror(errno));
        *err = msg;
        return -1;
    }
    cpu_set_t saved;
    bench_affinity_widen(&saved); /* the vault runs on every core, not on the bench's */
    int started = vmt_start(&vsrv, args);
    bench_affinity_restore(&saved);
    if (started != 0) {
        snprintf(msg, sizeof(msg), "vault-mock '%s' did not start (no ready line)", vmt_bin());
        *err = msg;
        return -1;
    }
    vault_up = 1;
    static const int sizes[] = {2048, 3072, 4096};
    for (size_t i = 0; i < 3; i++) {
        if (sizes[i] == 4096 && !with_4096) {
            continue;
        }
        char name[32], ver[40];
        snprintf(name, sizeof(name), "bench-%d", sizes[i]);
        long st = vmt_create_key(&vsrv, name, sizes[i], NULL, ver);
        if (st != 200) {
            snprintf(msg, sizeof(msg), "vault-mock: creating key %s (RSA-%d) answered HTTP %ld",
                     name, sizes[i], st);
            *err = msg;
            bench_vault_stop();
            return -1;
        }
    }
    return 0;
}

void bench_vault_stop(void)
{
    if (vault_up) {
        vmt_cleanup(&vsrv);
        vault_up = 0;
    }
}

struct eng_kek_provider *bench_vault_provider_named(const char *key, int max_retries)
{
    if (!vault_up) {
        return NULL;
    }
    struct eng_vault_config cfg = {.vault_url = vsrv.url, .key_name = key,
                                   .token = vmt_token(&vsrv, "dbservice"), .ca_file = vsrv.ca,
                                   .max_retries = max_retries};
    return eng_vault_open(&cfg);
}

long bench_vault_create_key(const char *name, int bits)
{
    char ver[40];
    return vault_up ? vmt_create_key(&vsrv, name, bits, NULL, ver) : 0;
}

struct eng_kek_provider *bench_vault_provider(int bits)
{
    char name[32];
    snprintf(name, sizeof(name), "bench-%d", bits);
    return bench_vault_provider_named(name, -1);
}

/* An admin or key-officer call; returns the HTTP status. */
long bench_vault_call(const char *who, const char *method, const char *path, const char *body)
{
    struct vmt_resp r;
    long st = vmt_call(&vsrv, method, path, vmt_token(&vsrv, who), body, &r);
    vmt_resp_free(&r);
    return st;
}

/* A provider of |keys| ("smk" on the run's key file, or "cmk" on RSA-|bits|). */
struct eng_kek_provider *bench_open_provider(const char *keys, int bits, const char **err)
{
    struct eng_kek_provider *p;
    if (strcmp(keys, "smk") == 0) {
        const char *tmp = bench_tmpdir();
        char path[512];
        snprintf(path, sizeof(path), "%s/smk.key", tmp != NULL ? tmp : "/nonexistent");
        p = eng_smk_open(path, 1);
    } else {
        p = bench_vault_provider(bits);
        if (p == NULL && !vault_up) {
            *err = "the vault is not running";
            return NULL;
        }
    }
    if (p == NULL) {
        *err = eng_strerror(eng_errno());
    }
    return p;
}

char *bench_new_store_dir(char *out, size_t max)
{
    static unsigned counter;
    const char *tmp = bench_tmpdir();
    if (tmp == NULL) {
        return NULL;
    }
    snprintf(out, max, "%s/store-%u", tmp, counter++);
    return out;
}

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

int bench_store_prepare_one(struct bench_cell *c, int t, const char **err)
{
    c->vault_calls = strncmp(c->keys, "cmk", 3) == 0 ? 0 : -1;
    struct store_state *s = calloc(1, sizeof(*s));
    *err = "out of memory";
    if (s == NULL) {
        return -1;
    }
    c->state[t] = s;
    /* SMK and CMK cells of a group share it, as cipher cells share theirs */
    s->buf = bench_group_buffer(c, t, c->dir == ENG_DECRYPT, &s->buf_handle, err);
    if (s->buf == NULL) {
        return -1;
    }
    s->kek = bench_open_provider(strncmp(c->keys, "cmk", 3) == 0 ? "cmk" : "smk", 3072, err);
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
            *err = eng_strerror(eng_errno());
            return -1;
        }
        struct eng_store_info info;
        eng_store_get_info(st, &info);
        c->ran_backend = info.backend;
        c->ran_arch = info.arch;
    }
    s->requests0 = bench_vault_requests(s->kek);
    return 0;
}

int bench_store_run_once(struct bench_cell *c, int t)
{
    struct store_state *s = c->state[t];
    struct eng_store *st = s->store[c->nsamples % STORE_COPIES]; /* the next store each sample */
    return c->dir == ENG_ENCRYPT ? eng_store_write(st, 0, c->batch, s->buf)
                                 : eng_store_read(st, 0, c->batch, s->buf);
}

void bench_store_release(struct bench_cell *c)
{
    for (int t = 0; t < BENCH_MAX_THREADS; t++) {
        struct store_state *s = c->state[t];
        if (s == NULL) {
            continue;
        }
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
        c->state[t] = NULL;
    }
}

