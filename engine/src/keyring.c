/*
 * keyring.c - a master DEK under the store's key table (see eng_keyring.h).
 *
 * The keyring is a store of one unit in one extent: the store keeps the key
 * table, the lock, the anchor and the revalidation; the keyring unwraps the
 * active DEK of extent 0 once more into its own secure memory, for HKDF.
 */
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "eng_keyring.h"
#include "eng_secure.h"
#include "error_internal.h"
#include "store_internal.h"

struct eng_keyring {
    struct eng_store *store;
    pthread_mutex_t lock; /* guards master (derive vs the wipe after a revocation) */
    uint8_t *master;      /* secure memory; NULL once revoked */
    size_t master_len;
};

void eng_keyring_config_init(struct eng_keyring_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->mode = ENG_MODE_XTS;
    cfg->unit_size = 4096;
    cfg->revalidate_s = ENG_STORE_DEFAULT_REVALIDATE_S;
    cfg->grace_s = ENG_STORE_DEFAULT_GRACE_S;
}

static void store_config(const struct eng_keyring_config *cfg, struct eng_store_config *sc)
{
    eng_store_config_init(sc);
    sc->mode = cfg->mode;
    sc->unit_size = cfg->unit_size;
    sc->num_units = 1;
    sc->extent_units = 1;
    sc->revalidate_s = cfg->revalidate_s;
    sc->grace_s = cfg->grace_s;
    sc->anchor_dir = cfg->anchor_dir;
    sc->flags = cfg->flags;
}

static void wipe_master(struct eng_keyring *kr)
{
    pthread_mutex_lock(&kr->lock);
    eng_secure_free(kr->master); /* wipes */
    kr->master = NULL;
    kr->master_len = 0;
    pthread_mutex_unlock(&kr->lock);
}

void eng_keyring_close(struct eng_keyring *kr)
{
    if (kr == NULL) {
        return;
    }
    wipe_master(kr);
    eng_store_close(kr->store);
    pthread_mutex_destroy(&kr->lock);
    free(kr);
}

/* Wraps an open store: unwraps the active DEK of extent 0 into the keyring's secure memory. */
static struct eng_keyring *keyring_from(struct eng_store *s)
{
    if (s == NULL) {
        return NULL;
    }
    struct eng_keyring *kr = calloc(1, sizeof(*kr));
    if (kr == NULL) {
        eng_store_close(s);
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    kr->store = s;
    pthread_mutex_init(&kr->lock, NULL);
    long i = eng_kt_active(&s->kt, 0);
    kr->master = eng_secure_alloc(ENG_DEK_MAX_BYTES);
    if (i < 0 || kr->master == NULL) {
        ENG_SET_ERROR(i < 0 ? ENG_ERR_STORE_CORRUPT : ENG_ERR_NOMEM);
        eng_keyring_close(kr);
        return NULL;
    }
    int bad = st_unwrap_into(s, &s->kt.records[i].w, kr->master, &kr->master_len) != 0;
    if (!bad && kr->master_len != eng_dek_len((enum eng_mode)s->kt.mode)) {
        ENG_SET_ERROR(ENG_ERR_UNWRAP);
        bad = 1;
    }
    if (bad) {
        eng_keyring_close(kr);
        return NULL;
    }
    return kr;
}

static int check_config(const struct eng_keyring_config *cfg)
{
    ENG_ENSURE_REF(cfg);
    ENG_ENSURE(cfg->mode == ENG_MODE_XTS || cfg->mode == ENG_MODE_GCM, ENG_ERR_MODE);
    ENG_ENSURE(cfg->revalidate_s >= 1, ENG_ERR_ARG);
    return 0;
}

struct eng_keyring *eng_keyring_create(const char *dir, struct eng_kek_provider *kek,
                                       const struct eng_keyring_config *cfg)
{
    if (check_config(cfg) != 0) {
        return NULL;
    }
    struct eng_store_config sc;
    store_config(cfg, &sc);
    sc.flags &= ~ENG_STORE_READ_ONLY;
    return keyring_from(eng_store_create(dir, kek, &sc));
}

struct eng_keyring *eng_keyring_open(const char *dir, struct eng_kek_provider *kek,
                                     const struct eng_keyring_config *cfg)
{
    if (check_config(cfg) != 0) {
        return NULL;
    }
    struct eng_store_config sc;
    store_config(cfg, &sc);
    return keyring_from(eng_store_open(dir, kek, &sc));
}

int eng_keyring_derive(struct eng_keyring *kr, const char *label, const uint8_t *context,
                       size_t context_len, uint8_t *out, size_t out_len)
{
    ENG_ENSURE(kr != NULL && label != NULL && out != NULL, ENG_ERR_NULL);
    ENG_ENSURE(context != NULL || context_len == 0, ENG_ERR_NULL);
    ENG_ENSURE(out_len >= 1 && out_len <= 255U * 32U && context_len <= 1024, ENG_ERR_ARG);
    size_t llen = strlen(label);
    ENG_ENSURE(llen <= 256, ENG_ERR_ARG);
    uint8_t info[256 + 1024];
    memcpy(info, label, llen);
    if (context_len > 0) {
        memcpy(info + llen, context, context_len);
    }
    int rc = -1;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    static char digest[] = "SHA256";
    pthread_mutex_lock(&kr->lock);
    if (kr->master == NULL) {
        ENG_SET_ERROR(ENG_ERR_INACCESSIBLE);
    } else if (ctx == NULL) {
        ENG_SET_ERROR(ENG_ERR_INTERNAL);
    } else {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, kr->master, kr->master_len),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, kr->store->kt.store_id,
                                              ENG_KEYRING_ID_BYTES),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, llen + context_len),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_KDF_derive(ctx, out, out_len, params) == 1) {
            rc = 0;
        } else {
            eng_cleanse(out, out_len);
            ENG_SET_ERROR(ENG_ERR_INTERNAL);
        }
    }
    pthread_mutex_unlock(&kr->lock);
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rc;
}

int eng_keyring_revalidate(struct eng_keyring *kr)
{
    ENG_ENSURE_REF(kr);
    if (eng_store_revalidate(kr->store) != 0) {
        wipe_master(kr);
        return -1;
    }
    return 0;
}

int eng_keyring_rotate_kek(struct eng_keyring *kr)
{
    ENG_ENSURE_REF(kr);
    return eng_store_rotate_kek(kr->store);
}

int eng_keyring_info(const struct eng_keyring *kr, struct eng_store_info *out)
{
    ENG_ENSURE_REF(kr);
    return eng_store_get_info(kr->store, out);
}

int eng_keyring_dek_info(const struct eng_keyring *kr, struct eng_store_dek *out)
{
    ENG_ENSURE_REF(kr);
    long i = eng_kt_active(&kr->store->kt, 0);
    ENG_ENSURE(i >= 0, ENG_ERR_STORE_CORRUPT);
    return eng_store_dek_info(kr->store, (uint32_t)i, out);
}
