/*
 * be_openssl.c - OpenSSL 3 EVP back end: all four modes; the reference.
 *
 * The cipher keeps the raw key in secure memory. Each batch call takes a
 * fresh EVP_CIPHER_CTX, expands the key once, then only resets the IV per
 * unit; the context is freed (OpenSSL cleanses the schedule) before return,
 * so no OpenSSL-held key schedule outlives the call. Arch: OpenSSL chooses
 * its own path from CPUID (OPENSSL_ia32cap overrides it); the cipher records
 * the engine's resolved arch for reference only.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <pthread.h>
#include <string.h>

#include "cipher_internal.h"

static EVP_CIPHER *fetched[ENG_MODE_COUNT];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
    static const char *const names[ENG_MODE_COUNT] = {"AES-256-XTS", "AES-256-GCM", "AES-256-CTR",
                                                      "AES-256-CBC"};
    for (int m = 0; m < ENG_MODE_COUNT; m++) {
        fetched[m] = EVP_CIPHER_fetch(NULL, names[m], NULL);
    }
}

static const EVP_CIPHER *evp_of(enum eng_mode m)
{
    pthread_once(&fetch_once, fetch_all);
    return fetched[m];
}

const char *eng_openssl_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}

static int ossl_supports(enum eng_mode mode, enum eng_arch arch)
{
    (void)arch; /* OpenSSL has a portable path for every CPU */
    return mode >= 0 && mode < ENG_MODE_COUNT && evp_of(mode) != NULL;
}

static int ossl_key_init(struct eng_cipher *c, const uint8_t *key)
{
    size_t len = c->mode == ENG_MODE_XTS ? ENG_XTS_KEY_BYTES : ENG_AES256_KEY_BYTES;
    c->sched = eng_secure_alloc(len);
    if (c->sched == NULL) {
        return -1;
    }
    c->sched_len = len;
    memcpy(c->sched, key, len);
    return 0;
}

static int do_unit(EVP_CIPHER_CTX *ctx, enum eng_mode mode, int enc, struct eng_unit *u)
{
    int outl = 0;
    int fin = 0;
    if (EVP_CipherInit_ex2(ctx, NULL, NULL, u->iv, enc, NULL) != 1) {
        return ENG_ERR_CRYPTO_LIB;
    }
    if (mode == ENG_MODE_GCM) {
        if (u->aad_len > 0 && EVP_CipherUpdate(ctx, NULL, &outl, u->aad, (int)u->aad_len) != 1) {
            return ENG_ERR_CRYPTO_LIB;
        }
        if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)u->tag_len, u->tag) != 1) {
            return ENG_ERR_CRYPTO_LIB;
        }
    }
    /* EVP takes int lengths; units above 1 GiB go in slices (not XTS: one unit, one call). */
    size_t done = 0;
    while (done < u->len) {
        size_t n = u->len - done;
        if (n > (1U << 30) && mode != ENG_MODE_XTS) {
            n = 1U << 30;
        }
        if (EVP_CipherUpdate(ctx, u->out + done, &outl, u->in + done, (int)n) != 1) {
            return ENG_ERR_CRYPTO_LIB;
        }
        done += n;
    }
    uint8_t fin_out[ENG_BLOCK_BYTES]; /* no mode here emits bytes at final (no padding) */
    if (EVP_CipherFinal_ex(ctx, fin_out, &fin) != 1) {
        return mode == ENG_MODE_GCM && !enc ? ENG_ERR_AUTH : ENG_ERR_CRYPTO_LIB;
    }
    if (mode == ENG_MODE_GCM && enc &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, (int)u->tag_len, u->tag) != 1) {
        return ENG_ERR_CRYPTO_LIB;
    }
    return ENG_OK;
}

static int ossl_batch(const struct eng_cipher *c, enum eng_dir dir, struct eng_unit *units,
                      size_t n)
{
    int enc = dir == ENG_ENCRYPT;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        ENG_BAIL(ENG_ERR_NOMEM);
    }
    int first = ENG_OK;
    if (EVP_CipherInit_ex2(ctx, evp_of(c->mode), c->sched, NULL, enc, NULL) != 1 ||
        (c->mode == ENG_MODE_CBC && EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)) {
        first = ENG_ERR_CRYPTO_LIB;
        for (size_t i = 0; i < n; i++) {
            units[i].status = first;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            struct eng_unit *u = &units[i];
            u->status = do_unit(ctx, c->mode, enc, u);
            if (u->status != ENG_OK) {
                eng_cleanse(u->out, u->len); /* never release unauthenticated plaintext */
                if (first == ENG_OK) {
                    first = u->status;
                }
            }
        }
    }
    EVP_CIPHER_CTX_free(ctx); /* cleanses the expanded key */
    if (first != ENG_OK) {
        ENG_BAIL(first);
    }
    return 0;
}

const struct eng_backend_ops eng_backend_openssl_ops = {
    .id = ENG_BACKEND_OPENSSL,
    .supports = ossl_supports,
    .key_init = ossl_key_init,
    .key_cleanup = NULL,
    .batch = ossl_batch,
};
