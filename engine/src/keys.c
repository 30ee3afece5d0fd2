/*
 * keys.c - DEK generation and the checked calls into a KEK provider.
 *
 * The store talks to a provider only through these functions, so every
 * provider (SMK here, the vault provider elsewhere) gets the same argument
 * checks and the same guarantees on what comes back.
 */
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "eng_keys.h"
#include "eng_secure.h"
#include "error_internal.h"

size_t eng_dek_len(enum eng_mode mode)
{
    return mode == ENG_MODE_XTS ? ENG_XTS_KEY_BYTES : ENG_AES256_KEY_BYTES;
}

int eng_dek_generate(enum eng_mode mode, uint8_t *out, size_t max_out_len)
{
    ENG_ENSURE_REF(out);
    ENG_ENSURE(mode >= 0 && mode < ENG_MODE_COUNT, ENG_ERR_MODE);
    size_t len = eng_dek_len(mode);
    ENG_ENSURE(max_out_len >= len, ENG_ERR_KEY_LEN);
    /* SP 800-38E: XTS key halves must differ; a collision of 256 random bits never
     * happens in practice, but the check is what makes it a guarantee. */
    for (int tries = 0; tries < 4; tries++) {
        if (RAND_priv_bytes(out, (int)len) != 1) {
            break;
        }
        if (mode != ENG_MODE_XTS || !eng_ct_equal(out, out + 32, 32)) {
            return 0;
        }
    }
    eng_cleanse(out, len);
    ENG_BAIL(ENG_ERR_RANDOM);
}

/* A provider that failed must have said why; if it did not, that is our bug. */
static int provider_failed(void)
{
    if (eng_errno() == ENG_OK) {
        ENG_SET_ERROR(ENG_ERR_INTERNAL);
    }
    return -1;
}

static int ref_terminated(const struct eng_kek_ref *r)
{
    return memchr(r->provider, 0, sizeof(r->provider)) != NULL &&
           memchr(r->key_id, 0, sizeof(r->key_id)) != NULL &&
           memchr(r->version, 0, sizeof(r->version)) != NULL &&
           memchr(r->alg, 0, sizeof(r->alg)) != NULL;
}

typedef int (*ref_fn)(void *state, const char *version, struct eng_kek_ref *out);

/* get and describe share a signature and the checks around the call. */
static int ask_ref(struct eng_kek_provider *p, ref_fn fn, const char *version,
                   struct eng_kek_ref *out)
{
    ENG_ENSURE(fn != NULL && out != NULL, ENG_ERR_NULL);
    /* |version| may point into |out| (re-checking a ref): copy it before clearing |out|. */
    char ver[ENG_KEK_VERSION_MAX];
    if (version != NULL) {
        ENG_ENSURE(strnlen(version, sizeof(ver)) < sizeof(ver), ENG_ERR_ARG);
        memcpy(ver, version, strlen(version) + 1);
    }
    memset(out, 0, sizeof(*out));
    eng_clear_error();
    if (fn(p->state, version != NULL ? ver : NULL, out) != 0) {
        return provider_failed();
    }
    ENG_ENSURE(ref_terminated(out), ENG_ERR_INTERNAL);
    return 0;
}

int eng_kek_get(struct eng_kek_provider *p, const char *version, struct eng_kek_ref *out)
{
    ENG_ENSURE_REF(p);
    ENG_GUARD(ask_ref(p, p->get, version, out));
    ENG_ENSURE(out->version[0] != '\0', ENG_ERR_INTERNAL);
    return 0;
}

int eng_kek_describe(struct eng_kek_provider *p, const char *version, struct eng_kek_ref *out)
{
    ENG_ENSURE_REF(p);
    return ask_ref(p, p->describe, version, out);
}

/* The checks wrap and unwrap share: the provider has the function, no NULLs, a sane ref. */
static int crypt_args(int has_fn, const struct eng_kek_ref *kek, const uint8_t *out,
                      const size_t *out_len, const uint8_t *in)
{
    ENG_ENSURE(has_fn && kek != NULL && out != NULL && out_len != NULL && in != NULL, ENG_ERR_NULL);
    ENG_ENSURE(ref_terminated(kek), ENG_ERR_ARG);
    return 0;
}

int eng_kek_wrap(struct eng_kek_provider *p, const struct eng_kek_ref *kek, uint8_t *out,
                 size_t *out_len, size_t max_out_len, const uint8_t *dek, size_t dek_len)
{
    ENG_ENSURE_REF(p);
    ENG_GUARD(crypt_args(p->wrap != NULL, kek, out, out_len, dek));
    ENG_ENSURE(dek_len > 0 && dek_len <= ENG_DEK_MAX_BYTES, ENG_ERR_KEY_LEN);
    *out_len = 0;
    eng_clear_error();
    if (p->wrap(p->state, kek, out, out_len, max_out_len, dek, dek_len) != 0) {
        return provider_failed();
    }
    ENG_ENSURE(*out_len > 0 && *out_len <= ENG_WRAPPED_MAX && *out_len <= max_out_len,
               ENG_ERR_WRAPPED_LEN);
    return 0;
}

int eng_kek_unwrap(struct eng_kek_provider *p, const struct eng_kek_ref *kek, uint8_t *out,
                   size_t *out_len, size_t max_out_len, const uint8_t *in, size_t in_len)
{
    ENG_ENSURE_REF(p);
    ENG_GUARD(crypt_args(p->unwrap != NULL, kek, out, out_len, in));
    ENG_ENSURE(in_len > 0 && in_len <= ENG_WRAPPED_MAX, ENG_ERR_WRAPPED_LEN);
    *out_len = 0;
    eng_clear_error();
    if (p->unwrap(p->state, kek, out, out_len, max_out_len, in, in_len) != 0) {
        eng_cleanse(out, max_out_len);
        *out_len = 0;
        return provider_failed();
    }
    if (*out_len == 0 || *out_len > max_out_len || *out_len > ENG_DEK_MAX_BYTES) {
        eng_cleanse(out, max_out_len);
        *out_len = 0;
        ENG_BAIL(ENG_ERR_UNWRAP);
    }
    return 0;
}

int eng_kek_stats(const struct eng_kek_provider *p, struct eng_kek_stats *out)
{
    ENG_ENSURE(p != NULL && out != NULL, ENG_ERR_NULL);
    memset(out, 0, sizeof(*out));
    if (p->stats == NULL) {
        return 0;
    }
    eng_clear_error();
    if (p->stats(p->state, out) != 0) {
        memset(out, 0, sizeof(*out));
        return provider_failed();
    }
    return 0;
}

void eng_kek_provider_free(struct eng_kek_provider *p)
{
    if (p == NULL) {
        return;
    }
    if (p->free != NULL) {
        p->free(p->state);
    }
    free(p);
}

int eng_kek_error_is_revocation(int code)
{
    switch (code) {
        case ENG_ERR_KEK_NOT_FOUND:
        case ENG_ERR_KEK_DISABLED:
        case ENG_ERR_KEK_FORBIDDEN:
        case ENG_ERR_PERM_LOOSE:
        case ENG_ERR_PERM_OWNER:
        case ENG_ERR_KEYFILE_CORRUPT:
        case ENG_ERR_VAULT_AUTH:
            return 1;
        default:
            return 0;
    }
}

int eng_kek_error_is_transient(int code)
{
    switch (code) {
        case ENG_ERR_VAULT_THROTTLED:
        case ENG_ERR_VAULT_UNREACHABLE:
        case ENG_ERR_VAULT_SERVER:
        case ENG_ERR_VAULT_TLS:
            return 1;
        default:
            return 0;
    }
}
