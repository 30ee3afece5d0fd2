/*
 * kind_raw.c - the raw cells: the libraries called directly, as the
 * baseline the engine is judged against in the same run. OpenSSL EVP with
 * one context and the key set once, the IV set per unit; ipsec-mb's direct
 * GCM API, or one cipher burst per up to 128 units, on the path
 * init_mb_mgr_auto picks.
 */
#include <intel-ipsec-mb.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct raw_state {
    struct bench_units u; /* first (bench_cipher_state_new) */
    /* BENCH_KEY_COPIES of each key schedule, one per sample in turn (group.c) */
    EVP_CIPHER_CTX *evp[BENCH_KEY_COPIES]; /* OpenSSL */
    const EVP_CIPHER *evp_cipher;
    IMB_MGR *mgr; /* ipsec-mb */
    struct gcm_key_data *gcm_key[BENCH_KEY_COPIES];
    uint8_t *enc_keys[BENCH_KEY_COPIES], *dec_keys[BENCH_KEY_COPIES];
    IMB_JOB *jobs;
};

static void raw_plan(struct bench_plan *pl, const struct bench_cell *base)
{
    struct bench_cell c = *base;
    c.backend = ENG_BACKEND_OPENSSL;
    bench_plan_add(pl, &bench_kind_raw, c);
    if (base->mode != ENG_MODE_XTS) {
        c.backend = ENG_BACKEND_IPSECMB;
        if (base->mode == ENG_MODE_CBC && c.unit_bytes > 65535) {
            c.skip_reason = "ipsec-mb CBC jobs are limited to 65535 bytes";
        }
        bench_plan_add(pl, &bench_kind_raw, c);
    }
}

static void raw_describe(const struct bench_cell *c, char *out, size_t max)
{
    snprintf(out, max, "raw %s %s", eng_mode_name(c->mode),
             c->backend == ENG_BACKEND_OPENSSL ? "openssl-evp" : "ipsec-mb");
}

static const EVP_CIPHER *evp_of(enum eng_mode m)
{
    switch (m) {
        case ENG_MODE_XTS:
            return EVP_aes_256_xts();
        case ENG_MODE_GCM:
            return EVP_aes_256_gcm();
        case ENG_MODE_CTR:
            return EVP_aes_256_ctr();
        case ENG_MODE_CBC:
            return EVP_aes_256_cbc();
        case ENG_MODE_COUNT:
        default:
            return NULL;
    }
}

static int prepare_openssl(struct bench_cell *c, struct raw_state *s, struct base_err *e)
{
    s->evp_cipher = evp_of(c->mode);
    for (size_t k = 0; k < BENCH_KEY_COPIES; k++) {
        s->evp[k] = EVP_CIPHER_CTX_new();
        if (s->evp[k] == NULL || EVP_CipherInit_ex2(s->evp[k], s->evp_cipher, s->u.key, NULL,
                                                    c->dir == ENG_ENCRYPT, NULL) != 1) {
            return base_err_set(e, BENCH_ERR_LIB, BASE_HERE, "EVP init failed");
        }
        EVP_CIPHER_CTX_set_padding(s->evp[k], 0);
    }
    return 0;
}

/* ipsec-mb, best path for this CPU, as a user of the library would set it up */
static int prepare_ipsecmb(struct bench_cell *c, struct raw_state *s, struct base_err *e)
{
    s->mgr = alloc_mb_mgr(0);
    if (s->mgr == NULL) {
        return base_err_set(e, BENCH_ERR_LIB, BASE_HERE, "ipsec-mb manager allocation failed");
    }
    IMB_ARCH arch;
    init_mb_mgr_auto(s->mgr, &arch);
    c->ran_arch = arch == IMB_ARCH_AVX512 ? ENG_ARCH_AVX512
                  : arch == IMB_ARCH_AVX2 ? ENG_ARCH_AVX2
                  : arch == IMB_ARCH_AVX  ? ENG_ARCH_AVX
                                          : ENG_ARCH_SSE;
    if (c->mode != ENG_MODE_GCM) {
        s->jobs = calloc(c->batch, sizeof(IMB_JOB));
        if (s->jobs == NULL) {
            return base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "out of memory");
        }
    }
    for (size_t k = 0; k < BENCH_KEY_COPIES; k++) {
        if (c->mode == ENG_MODE_GCM) {
            s->gcm_key[k] = bench_key_place(sizeof(*s->gcm_key[k]));
            if (s->gcm_key[k] == NULL) {
                return base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "out of memory");
            }
            IMB_AES256_GCM_PRE(s->mgr, s->u.key, s->gcm_key[k]);
            continue;
        }
        s->enc_keys[k] = bench_key_place(240);
        s->dec_keys[k] = bench_key_place(240);
        if (!s->enc_keys[k] || !s->dec_keys[k]) {
            return base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "out of memory");
        }
        IMB_AES_KEYEXP_256(s->mgr, s->u.key, s->enc_keys[k], s->dec_keys[k]);
    }
    return 0;
}

static int raw_prepare(struct bench_cell *c, int t, struct base_err *e)
{
    struct raw_state *s = bench_cipher_state_new(c, t, sizeof(*s), e);
    if (s == NULL) {
        return -1;
    }
    c->ran_backend = c->backend;
    c->ran_arch = ENG_ARCH_AUTO;
    return c->backend == ENG_BACKEND_OPENSSL ? prepare_openssl(c, s, e) : prepare_ipsecmb(c, s, e);
}

static int run_raw_openssl(struct bench_cell *c, struct raw_state *s)
{
    int enc = c->dir == ENG_ENCRYPT;
    int outl;
    EVP_CIPHER_CTX *evp = s->evp[bench_key_copy(c)];
    for (size_t i = 0; i < c->batch; i++) {
        struct eng_unit *u = &s->u.units[i];
        if (EVP_CipherInit_ex2(evp, NULL, NULL, u->iv, enc, NULL) != 1) {
            return -1;
        }
        if (c->mode == ENG_MODE_GCM && !enc) {
            EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_GCM_SET_TAG, 16, u->tag);
        }
        if (EVP_CipherUpdate(evp, u->out, &outl, u->in, (int)u->len) != 1 ||
            EVP_CipherFinal_ex(evp, u->out + outl, &outl) != 1) {
            return -1;
        }
        if (c->mode == ENG_MODE_GCM && enc) {
            EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_GCM_GET_TAG, 16, u->tag);
        }
    }
    return 0;
}

static int run_raw_ipsecmb(struct bench_cell *c, struct raw_state *s)
{
    size_t k = bench_key_copy(c);
    if (c->mode == ENG_MODE_GCM) {
        struct gcm_context_data ctx;
        uint8_t tag[16];
        for (size_t i = 0; i < c->batch; i++) {
            struct eng_unit *u = &s->u.units[i];
            if (c->dir == ENG_ENCRYPT) {
                IMB_AES256_GCM_ENC(s->mgr, s->gcm_key[k], &ctx, u->out, u->in, u->len, u->iv,
                                   u->tag, 0, u->tag, 16);
            } else {
                IMB_AES256_GCM_DEC(s->mgr, s->gcm_key[k], &ctx, u->out, u->in, u->len, u->iv,
                                   u->tag, 0, tag, 16);
            }
        }
        return 0;
    }
    IMB_CIPHER_MODE cm = c->mode == ENG_MODE_CBC ? IMB_CIPHER_CBC : IMB_CIPHER_CNTR;
    IMB_CIPHER_DIRECTION d =
        (c->mode == ENG_MODE_CBC && c->dir == ENG_DECRYPT) ? IMB_DIR_DECRYPT : IMB_DIR_ENCRYPT;
    for (size_t base = 0; base < c->batch; base += IMB_MAX_BURST_SIZE) {
        size_t cnt = c->batch - base < IMB_MAX_BURST_SIZE ? c->batch - base : IMB_MAX_BURST_SIZE;
        for (size_t i = 0; i < cnt; i++) {
            struct eng_unit *u = &s->u.units[base + i];
            IMB_JOB *j = &s->jobs[i];
            j->enc_keys = s->enc_keys[k];
            j->dec_keys = s->dec_keys[k];
            j->key_len_in_bytes = 32;
            j->src = u->in;
            j->dst = u->out;
            j->cipher_start_src_offset_in_bytes = 0;
            j->msg_len_to_cipher_in_bytes = u->len;
            j->iv = u->iv;
            j->iv_len_in_bytes = 16;
        }
        if (IMB_SUBMIT_CIPHER_BURST(s->mgr, s->jobs, (uint32_t)cnt, cm, d, IMB_KEY_256_BYTES) !=
            cnt) {
            return -1;
        }
    }
    return 0;
}

static int raw_run(struct bench_cell *c, int t)
{
    struct raw_state *s = c->state[t];
    return c->backend == ENG_BACKEND_OPENSSL ? run_raw_openssl(c, s) : run_raw_ipsecmb(c, s);
}

static void raw_release(struct bench_cell *c, int t)
{
    struct raw_state *s = c->state[t];
    for (size_t k = 0; k < BENCH_KEY_COPIES; k++) {
        EVP_CIPHER_CTX_free(s->evp[k]);
        bench_key_unplace(s->gcm_key[k]);
        bench_key_unplace(s->enc_keys[k]);
        bench_key_unplace(s->dec_keys[k]);
    }
    if (s->mgr != NULL) {
        free_mb_mgr(s->mgr);
    }
    free(s->jobs);
    bench_cipher_state_free(s);
}

static const char *raw_json_kind(const struct bench_cell *c)
{
    (void)c;
    return "raw";
}

const struct bench_kind_ops bench_kind_raw = {
    .id = BENCH_KIND_RAW,
    .name = "raw",
    .plan = raw_plan,
    .describe = raw_describe,
    .prepare = raw_prepare,
    .run = raw_run,
    .release = raw_release,
    .json_kind = raw_json_kind,
};
