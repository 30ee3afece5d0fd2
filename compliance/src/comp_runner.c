/*
 * comp_runner.c - run whole vector files and folders (see comp_runner.h).
 */
#include "comp_runner.h"

#include <dirent.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "comp_internal.h"

#define MAX_PATHS 16

/* ---- rows --------------------------------------------------------------------------- */

static void row_init(struct comp_kat_row *k, const char *file, const char *kind,
                     const char *backend, const char *arch)
{
    memset(k, 0, sizeof(*k));
    snprintf(k->file, sizeof(k->file), "%s", file);
    snprintf(k->kind, sizeof(k->kind), "%s", kind);
    snprintf(k->backend, sizeof(k->backend), "%s", backend);
    snprintf(k->arch, sizeof(k->arch), "%s", arch);
}

/* The skip reasons and acceptable counts of |r| in words. */
static void skip_words(const struct comp_kat_result *r, char *out, size_t max_out_len)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < COMP_SKIP_COUNT; i++) {
        if (r->skipped_by[i] > 0 && len < max_out_len) {
            int n = snprintf(out + len, max_out_len - len, "%s%lu %s", len ? ", " : "",
                             r->skipped_by[i], comp_skip_reason((enum comp_skip)i));
            len += n > 0 ? (size_t)n : 0;
        }
    }
    if (r->acceptable > 0 && len < max_out_len) {
        snprintf(out + len, max_out_len - len, "%s%lu acceptable (%lu of them refused)",
                 len ? ", " : "", r->acceptable, r->acceptable_rejected);
    }
}

static int add_result(struct comp_report *rep, const char *file, const char *kind,
                      const char *backend, const char *arch, const struct comp_kat_result *r)
{
    struct comp_kat_row k;
    row_init(&k, file, kind, backend, arch);
    k.passed = r->passed;
    k.failed = r->failed;
    k.skipped = r->skipped;
    k.acceptable = r->acceptable;
    k.key_cases = r->key_cases;
    k.key_ran = comp_kat_key_ran(r);
    skip_words(r, k.skip_reason, sizeof(k.skip_reason));
    if (r->failed > 0) {
        snprintf(k.detail, sizeof(k.detail), "%s", r->first_failure);
    } else if (k.key_cases > 0 && k.key_ran == 0) {
        /* a file that tests the engine's own key size and ran none of it proves nothing */
        k.failed = 1;
        snprintf(k.detail, sizeof(k.detail),
                 "none of the %lu AES-256 cases ran: every one was skipped", k.key_cases);
    }
    return comp_report_add_kat(rep, &k);
}

/* A file that could not run: failed 1 (|failed|) or skipped 1, with |why|. */
static int add_unrunnable(struct comp_report *rep, const char *file, const char *kind, int failed,
                          const char *why)
{
    struct comp_kat_row k;
    row_init(&k, file, kind, "-", "-");
    if (failed) {
        k.failed = 1;
        snprintf(k.detail, sizeof(k.detail), "%.250s", why);
    } else {
        k.skipped = 1;
        snprintf(k.skip_reason, sizeof(k.skip_reason), "%.250s", why);
    }
    return comp_report_add_kat(rep, &k);
}

/* ---- Wycheproof AES-XTS ----------------------------------------------------------------- */

static void wp_fail(struct comp_kat_result *out, const struct comp_wp_test *t, const char *what)
{
    out->failed++;
    if (out->first_failure[0] == '\0') {
        out->first_failure_at = t->tc_id;
        snprintf(out->first_failure, sizeof(out->first_failure), "tcId %lu: %s", t->tc_id, what);
    }
}

/*
 * Counts one test by |ok| (the engine did what the test's result asks: a
 * valid one computed right, an invalid one refused); "acceptable" ones are
 * counted apart. |what| names the failure.
 */
static void wp_count(struct comp_kat_result *out, const struct comp_wp_test *t, int ok,
                     const char *what)
{
    if (t->result == COMP_WP_ACCEPTABLE) {
        out->acceptable++;
        out->acceptable_rejected += !ok;
    } else if (ok) {
        out->passed++;
    } else {
        wp_fail(out, t, what);
    }
}

/*
 * A Wycheproof XTS "iv" is the tweak; one shorter than 16 bytes is the
 * little-endian data-unit number, padded with zero bytes on the right
 * (IEEE 1619's i). |tweak| receives the 16 bytes; a longer one is passed
 * as it is, for the engine to refuse.
 */
static int xts_crypt(const struct eng_cipher *c, enum eng_dir dir, const struct comp_wp_test *t,
                     const struct comp_bytes *in, uint8_t *buf)
{
    uint8_t tweak[ENG_XTS_TWEAK_BYTES] = {0};
    struct eng_unit u = {
        .in = in->len ? in->data : ck_empty,
        .out = buf,
        .len = in->len,
        .iv = t->iv.len ? t->iv.data : ck_empty,
        .iv_len = t->iv.len,
    };
    if (t->iv.len <= ENG_XTS_TWEAK_BYTES) {
        if (t->iv.len > 0) {
            memcpy(tweak, t->iv.data, t->iv.len);
        }
        u.iv = tweak;
        u.iv_len = ENG_XTS_TWEAK_BYTES;
    }
    eng_clear_error();
    return eng_cipher_batch(c, dir, &u, 1);
}

static void xts_one(const struct comp_wp_test *t, enum eng_backend b, enum eng_arch a,
                    struct comp_kat_result *out, uint8_t *buf)
{
    if (t->key.len != ENG_XTS_KEY_BYTES) {
        eng_clear_error();
        const uint8_t *key = t->key.len ? t->key.data : ck_empty;
        struct eng_cipher *c = eng_cipher_new(ENG_MODE_XTS, b, a, key, t->key.len);
        int refused = c == NULL && eng_errno() == ENG_ERR_KEY_LEN;
        eng_cipher_free(c);
        if (!refused) {
            wp_fail(out, t, "a key of another size was not refused with ENG_ERR_KEY_LEN");
        } else {
            out->skipped++;
            out->skipped_by[COMP_SKIP_XTS_KEY_SIZE]++;
        }
        return;
    }
    out->key_cases++;
    eng_clear_error();
    struct eng_cipher *c = eng_cipher_new(ENG_MODE_XTS, b, a, t->key.data, t->key.len);
    if (c == NULL) {
        if (eng_errno() == ENG_ERR_XTS_KEY_HALVES_EQUAL && t->result != COMP_WP_VALID) {
            wp_count(out, t, t->result == COMP_WP_INVALID, "");
        } else if (eng_errno() == ENG_ERR_XTS_KEY_HALVES_EQUAL) {
            out->skipped++;
            out->skipped_by[COMP_SKIP_XTS_EQUAL_HALVES]++;
        } else {
            wp_fail(out, t, eng_error_name(eng_errno()));
        }
        return;
    }
    out->batches += 2;
    out->units += 2;
    if (t->iv.len > ENG_XTS_TWEAK_BYTES) {
        /* the engine must refuse both ways with the exact error; a valid test is then skipped */
        int enc = xts_crypt(c, ENG_ENCRYPT, t, &t->msg, buf);
        int enc_err = eng_errno();
        int dec = xts_crypt(c, ENG_DECRYPT, t, &t->ct, buf);
        int refused = enc != 0 && dec != 0 && enc_err == ENG_ERR_NONCE_LEN &&
                      eng_errno() == ENG_ERR_NONCE_LEN;
        if (refused && t->result == COMP_WP_VALID) {
            out->skipped++;
            out->skipped_by[COMP_SKIP_XTS_TWEAK_SIZE]++;
        } else {
            wp_count(out, t, refused,
                     "a tweak longer than 16 bytes was not refused with "
                     "ENG_ERR_NONCE_LEN");
        }
        eng_cipher_free(c);
        return;
    }
    if (t->result == COMP_WP_INVALID) {
        int enc = xts_crypt(c, ENG_ENCRYPT, t, &t->msg, buf);
        int dec = xts_crypt(c, ENG_DECRYPT, t, &t->ct, buf);
        wp_count(out, t, enc != 0 && dec != 0, "invalid vector accepted");
        eng_cipher_free(c);
        return;
    }
    int ok = xts_crypt(c, ENG_ENCRYPT, t, &t->msg, buf) == 0 && t->ct.len == t->msg.len &&
             (t->ct.len == 0 || memcmp(buf, t->ct.data, t->ct.len) == 0);
    const char *what = "encrypt refused or gave a wrong ciphertext";
    if (ok) {
        ok = xts_crypt(c, ENG_DECRYPT, t, &t->ct, buf) == 0 &&
             (t->msg.len == 0 || memcmp(buf, t->msg.data, t->msg.len) == 0);
        what = "decrypt refused or gave a wrong plaintext";
    }
    wp_count(out, t, ok, what);
    eng_cipher_free(c);
}

int comp_wp_run_xts(struct comp_wp *w, enum eng_backend b, enum eng_arch a,
                    struct comp_kat_result *out, struct base_err *err)
{
    if (w == NULL || out == NULL) {
        return comp_fail(err, COMP_ERR_NULL, 0, "NULL argument");
    }
    memset(out, 0, sizeof(*out));
    if (comp_wp_schema(w) != COMP_WP_IND_CPA || strcmp(comp_wp_algorithm(w), "AES-XTS") != 0) {
        return comp_fail(err, COMP_ERR_SCHEMA, 0, "%s: not an AES-XTS file", comp_wp_name(w));
    }
    if (!eng_backend_supports(b, ENG_MODE_XTS, a)) {
        return comp_fail(err, COMP_ERR_UNSUPPORTED, 0, "%s does not run XTS at %s",
                         eng_backend_name(b), eng_arch_name(a));
    }
    comp_wp_rewind(w);
    struct comp_wp_test t;
    int rc;
    while ((rc = comp_wp_next(w, &t, err)) == 1) {
        size_t n = (t.msg.len > t.ct.len ? t.msg.len : t.ct.len) + 1;
        uint8_t *buf = malloc(n);
        if (buf == NULL) {
            return comp_fail(err, COMP_ERR_NOMEM, 0, "no memory");
        }
        xts_one(&t, b, a, out, buf);
        free(buf);
    }
    return rc < 0 ? -1 : 0;
}

/* ---- Wycheproof AES-KWP: the SMK provider's wrap ------------------------------------------ */

/* One OpenSSL AES-256-WRAP-PAD operation, as engine/src/smk.c runs it. 1 on success. */
static int kwp_crypt(EVP_CIPHER *kwp, int enc, const struct comp_bytes *key,
                     const struct comp_bytes *in, uint8_t *out, size_t *out_len)
{
    if (!enc && in->len < 16) {
        return 0;
    }
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return 0;
    }
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    int outl = 0, fin = 0;
    int ok = EVP_CipherInit_ex2(ctx, kwp, key->data, NULL, enc, NULL) == 1 &&
             EVP_CipherUpdate(ctx, out, &outl, in->len ? in->data : ck_empty, (int)in->len) == 1 &&
             outl > 0 && EVP_CipherFinal_ex(ctx, out + outl, &fin) == 1;
    EVP_CIPHER_CTX_free(ctx);
    *out_len = ok ? (size_t)(outl + fin) : 0;
    return ok;
}

int comp_wp_run_kwp(struct comp_wp *w, struct comp_kat_result *out, struct base_err *err)
{
    if (w == NULL || out == NULL) {
        return comp_fail(err, COMP_ERR_NULL, 0, "NULL argument");
    }
    memset(out, 0, sizeof(*out));
    if (comp_wp_schema(w) != COMP_WP_KEYWRAP || strcmp(comp_wp_algorithm(w), "AES-KWP") != 0) {
        return comp_fail(err, COMP_ERR_SCHEMA, 0, "%s: not an AES-KWP file", comp_wp_name(w));
    }
    EVP_CIPHER *kwp = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
    if (kwp == NULL) {
        return comp_fail(err, COMP_ERR_UNSUPPORTED, 0, "OpenSSL has no AES-256-WRAP-PAD");
    }
    comp_wp_rewind(w);
    struct comp_wp_test t;
    int rc;
    while ((rc = comp_wp_next(w, &t, err)) == 1) {
        if (t.key.len != 32) {
            out->skipped++;
            out->skipped_by[COMP_SKIP_KEY_SIZE]++;
            continue;
        }
        out->key_cases++;
        size_t n = t.msg.len + t.ct.len + 32;
        uint8_t *buf = malloc(n);
        if (buf == NULL) {
            EVP_CIPHER_free(kwp);
            return comp_fail(err, COMP_ERR_NOMEM, 0, "no memory");
        }
        size_t got = 0;
        out->units++;
        if (t.result == COMP_WP_INVALID) {
            wp_count(out, &t, !kwp_crypt(kwp, 0, &t.key, &t.ct, buf, &got),
                     "invalid wrapped key unwrapped");
        } else {
            int ok = kwp_crypt(kwp, 1, &t.key, &t.msg, buf, &got) && got == t.ct.len &&
                     memcmp(buf, t.ct.data, got) == 0;
            ok = ok && kwp_crypt(kwp, 0, &t.key, &t.ct, buf, &got) && got == t.msg.len &&
                 (got == 0 || memcmp(buf, t.msg.data, got) == 0);
            wp_count(out, &t, ok, "wrap or unwrap gave a wrong answer");
        }
        free(buf);
    }
    EVP_CIPHER_free(kwp);
    return rc < 0 ? -1 : 0;
}

/* ---- RSA-OAEP: the vault's unwrap ----------------------------------------------------------- */

/*
 * Decrypts |ct| with |pkey| under OAEP(|md|, MGF1(|mgf|), |label|). Returns
 * 1 with *out_len set, 0 when OpenSSL refuses.
 */
static int oaep_decrypt(EVP_PKEY *pkey, const char *md, const char *mgf, const uint8_t *label,
                        size_t label_len, const uint8_t *ct, size_t ct_len, uint8_t *out,
                        size_t *out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, mgf, NULL) == 1;
    if (ok && label_len > 0) {
        void *l = OPENSSL_memdup(label, label_len);
        ok = l != NULL && EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l, (int)label_len) == 1;
        if (!ok) {
            OPENSSL_free(l);
        }
    }
    ok = ok && EVP_PKEY_decrypt(ctx, out, out_len, ct_len ? ct : ck_empty, ct_len) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static EVP_PKEY *wp_private_key(const struct comp_wp_test *t)
{
    if (t->private_key_pkcs8.len > 0) {
        const unsigned char *p = t->private_key_pkcs8.data;
        return d2i_AutoPrivateKey(NULL, &p, (long)t->private_key_pkcs8.len);
    }
    if (t->private_key_pem != NULL) {
        BIO *bio = BIO_new_mem_buf(t->private_key_pem, -1);
        EVP_PKEY *k = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        return k;
    }
    return NULL;
}

int comp_wp_run_oaep(struct comp_wp *w, struct comp_kat_result *out, struct base_err *err)
{
    if (w == NULL || out == NULL) {
        return comp_fail(err, COMP_ERR_NULL, 0, "NULL argument");
    }
    memset(out, 0, sizeof(*out));
    if (comp_wp_schema(w) != COMP_WP_RSA_OAEP) {
        return comp_fail(err, COMP_ERR_SCHEMA, 0, "%s: not an RSA-OAEP file", comp_wp_name(w));
    }
    comp_wp_rewind(w);
    struct comp_wp_test t;
    int rc;
    EVP_PKEY *pkey = NULL;
    size_t group = (size_t)-1;
    while ((rc = comp_wp_next(w, &t, err)) == 1) {
        if (t.group != group) {
            EVP_PKEY_free(pkey);
            pkey = wp_private_key(&t);
            group = t.group;
        }
        if (pkey == NULL || t.sha == NULL) {
            wp_fail(out, &t, "the group's private key or hash cannot be read");
            continue;
        }
        const char *mgf = t.mgf_sha != NULL ? t.mgf_sha : t.sha;
        size_t n = (size_t)EVP_PKEY_get_size(pkey) + 1;
        uint8_t *buf = malloc(n);
        if (buf == NULL) {
            EVP_PKEY_free(pkey);
            return comp_fail(err, COMP_ERR_NOMEM, 0, "no memory");
        }
        size_t got = n;
        out->units++;
        int dec = oaep_decrypt(pkey, t.sha, mgf, t.label.data, t.label.len, t.ct.data, t.ct.len,
                               buf, &got);
        if (t.result == COMP_WP_INVALID) {
            wp_count(out, &t, !dec, "invalid ciphertext decrypted");
        } else {
            int ok = dec && got == t.msg.len && (got == 0 || memcmp(buf, t.msg.data, got) == 0);
            wp_count(out, &t, ok, dec ? "wrong message" : "valid ciphertext refused");
        }
        free(buf);
    }
    EVP_PKEY_free(pkey);
    return rc < 0 ? -1 : 0;
}

/* ---- pyca RSA-OAEP text files ---------------------------------------------------------------- */

enum oaep_field { F_NONE, F_N, F_E, F_D, F_P, F_Q, F_DP, F_DQ, F_QI, F_MSG, F_CT, F_IGNORE };

struct oaep_state {
    uint8_t *f[F_IGNORE]; /* decoded fields of the current key / example */
    size_t len[F_IGNORE];
    int in_private;
    char md[16], mgf[16];
    EVP_PKEY *pkey;
};

static void oaep_clear(struct oaep_state *s, int from, int to)
{
    for (int i = from; i <= to; i++) {
        free(s->f[i]);
        s->f[i] = NULL;
        s->len[i] = 0;
    }
}

static enum oaep_field oaep_label(const struct oaep_state *s, const char *label)
{
    static const struct {
        const char *name;
        enum oaep_field f;
    } map[] = {{"Modulus", F_N},           {"Public exponent", F_E},
               {"Exponent", F_D},          {"Prime 1", F_P},
               {"Prime 2", F_Q},           {"Prime exponent 1", F_DP},
               {"Prime exponent 2", F_DQ}, {"Coefficient", F_QI},
               {"Message", F_MSG},         {"Message to be encrypted", F_MSG},
               {"Encryption", F_CT}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(label, map[i].name) == 0) {
            if (!s->in_private && map[i].f <= F_QI) {
                return F_IGNORE; /* the public key block repeats n and e */
            }
            return map[i].f;
        }
    }
    return F_IGNORE;
}

static EVP_PKEY *oaep_key(struct oaep_state *s)
{
    static const char *const names[] = {NULL,
                                        OSSL_PKEY_PARAM_RSA_N,
                                        OSSL_PKEY_PARAM_RSA_E,
                                        OSSL_PKEY_PARAM_RSA_D,
                                        OSSL_PKEY_PARAM_RSA_FACTOR1,
                                        OSSL_PKEY_PARAM_RSA_FACTOR2,
                                        OSSL_PKEY_PARAM_RSA_EXPONENT1,
                                        OSSL_PKEY_PARAM_RSA_EXPONENT2,
                                        OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn[F_QI + 1] = {0};
    int ok = bld != NULL && s->f[F_N] != NULL && s->f[F_E] != NULL && s->f[F_D] != NULL;
    int all_crt = 1;
    for (int i = F_P; i <= F_QI; i++) {
        all_crt &= s->f[i] != NULL;
    }
    for (int i = F_N; ok && i <= F_QI; i++) {
        if (i >= F_P && !all_crt) {
            break;
        }
        bn[i] = BN_bin2bn(s->f[i], (int)s->len[i], NULL);
        ok = bn[i] != NULL && OSSL_PARAM_BLD_push_BN(bld, names[i], bn[i]) == 1;
    }
    OSSL_PARAM *params = ok ? OSSL_PARAM_BLD_to_param(bld) : NULL;
    EVP_PKEY_CTX *ctx = params != NULL ? EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL) : NULL;
    EVP_PKEY *pkey = NULL;
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1) {
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    for (int i = 0; i <= F_QI; i++) {
        BN_free(bn[i]);
    }
    return pkey;
}

/* "alg=sha256 mgf1=sha1" in an example header; SHA-1 when absent (PKCS #1 v2.1 vectors). */
static void oaep_hashes(struct oaep_state *s, const char *line)
{
    snprintf(s->md, sizeof(s->md), "SHA1");
    snprintf(s->mgf, sizeof(s->mgf), "SHA1");
    const char *a = strstr(line, "alg=");
    const char *m = strstr(line, "mgf1=");
    if (a != NULL) {
        snprintf(s->md, sizeof(s->md), "%.*s", (int)strcspn(a + 4, " \t"), a + 4);
    }
    if (m != NULL) {
        snprintf(s->mgf, sizeof(s->mgf), "%.*s", (int)strcspn(m + 5, " \t"), m + 5);
    }
}

static void oaep_check(struct oaep_state *s, unsigned long line, struct comp_kat_result *out)
{
    size_t n = (size_t)EVP_PKEY_get_size(s->pkey) + 1;
    uint8_t *buf = malloc(n);
    size_t got = n;
    out->units++;
    int ok = buf != NULL &&
             oaep_decrypt(s->pkey, s->md, s->mgf, NULL, 0, s->f[F_CT], s->len[F_CT], buf, &got) &&
             got == s->len[F_MSG] && (got == 0 || memcmp(buf, s->f[F_MSG], got) == 0);
    free(buf);
    if (ok) {
        out->passed++;
    } else {
        out->failed++;
        if (out->first_failure[0] == '\0') {
            out->first_failure_at = line;
            snprintf(out->first_failure, sizeof(out->first_failure),
                     "line %lu: OAEP(%s, MGF1-%s) decryption did not give the message", line, s->md,
                     s->mgf);
        }
    }
    oaep_clear(s, F_MSG, F_CT);
}

/* Decodes the hex collected for |field| (spaces removed) into the state. */
static int oaep_store(struct oaep_state *s, enum oaep_field field, const char *hex, size_t len,
                      unsigned long line, struct base_err *err)
{
    if (field == F_NONE || field == F_IGNORE) {
        return 0;
    }
    uint8_t *bytes = NULL;
    size_t bad = 0;
    char *padded = NULL;
    if (len % 2 == 1) { /* pyca writes integers without a leading zero: "10001" */
        if ((padded = malloc(len + 2)) == NULL) {
            return comp_fail(err, COMP_ERR_NOMEM, line, "no memory");
        }
        padded[0] = '0';
        memcpy(padded + 1, hex, len);
        hex = padded;
        len++;
    }
    struct base_err e = BASE_ERR_INIT;
    size_t nbytes = 0;
    int rc = base_hex_decode_alloc(hex, len, &bytes, &nbytes, &bad, &e);
    free(padded);
    if (rc != 0 && e.code == BASE_ERR_NOMEM) {
        return comp_fail(err, COMP_ERR_NOMEM, line, "no memory");
    }
    if (rc != 0) {
        return comp_fail(err, COMP_ERR_HEX, line, "line %lu: not a hex value", line);
    }
    free(s->f[field]);
    s->f[field] = bytes;
    s->len[field] = len / 2;
    return 0;
}

int comp_oaep_txt_run(const char *name, const char *text, size_t len, struct comp_kat_result *out,
                      struct base_err *err)
{
    if (text == NULL || out == NULL) {
        return comp_fail(err, COMP_ERR_NULL, 0, "NULL argument");
    }
    memset(out, 0, sizeof(*out));
    struct oaep_state s = {.in_private = 0};
    oaep_hashes(&s, "");
    char *hex = malloc(len + 1);
    if (hex == NULL) {
        return comp_fail(err, COMP_ERR_NOMEM, 0, "no memory");
    }
    size_t hex_len = 0;
    enum oaep_field field = F_NONE;
    unsigned long line = 0, field_line = 0, examples = 0;
    int rc = 0;
    const char *p = text, *end = text + len;
    while (rc == 0 && p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl != NULL ? nl : end;
        line++;
        if (p < le && *p == '#') {
            rc = oaep_store(&s, field, hex, hex_len, field_line, err);
            hex_len = 0;
            field = F_NONE;
            char lab[128];
            const char *q = p + 1;
            while (q < le && *q == ' ') {
                q++;
            }
            size_t n = (size_t)(le - q);
            while (n > 0 && (q[n - 1] == ' ' || q[n - 1] == '\r' || q[n - 1] == ':')) {
                n--; /* "Modulus: " -> "Modulus" */
            }
            snprintf(lab, sizeof(lab), "%.*s", (int)(n < sizeof(lab) ? n : sizeof(lab) - 1), q);
            int labelled = le > p && memchr(p, ':', (size_t)(le - p)) != NULL;
            if (strncmp(lab, "Private key", 11) == 0) {
                s.in_private = 1;
            } else if (strncmp(lab, "Public key", 10) == 0 || strncmp(lab, "Example", 7) == 0 ||
                       strncmp(lab, "=====", 5) == 0) {
                s.in_private = 0;
                EVP_PKEY_free(s.pkey);
                s.pkey = NULL;
                oaep_clear(&s, F_N, F_CT);
            } else if (strncmp(lab, "OAEP Example", 12) == 0) {
                oaep_hashes(&s, lab);
                s.in_private = 0;
                if (s.pkey == NULL && (s.pkey = oaep_key(&s)) == NULL) {
                    rc = comp_fail(err, COMP_ERR_INCOMPLETE, line,
                                   "%s: line %lu: an example without a usable private key", name,
                                   line);
                }
            } else if (labelled && rc == 0) {
                field = oaep_label(&s, lab);
                field_line = line + 1;
            }
        } else {
            for (const char *c = p; c < le; c++) {
                if (*c != ' ' && *c != '\t' && *c != '\r') {
                    hex[hex_len++] = *c;
                }
            }
        }
        if (rc == 0 && s.f[F_MSG] != NULL && s.f[F_CT] != NULL) {
            examples++;
            if (s.pkey == NULL) {
                rc = comp_fail(err, COMP_ERR_INCOMPLETE, line, "%s: example before its key", name);
            } else {
                oaep_check(&s, field_line, out);
            }
        }
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    if (rc == 0) {
        rc = oaep_store(&s, field, hex, hex_len, field_line, err);
        if (rc == 0 && s.f[F_MSG] != NULL && s.f[F_CT] != NULL && s.pkey != NULL) {
            examples++;
            oaep_check(&s, field_line, out);
        }
    }
    free(hex);
    EVP_PKEY_free(s.pkey);
    oaep_clear(&s, F_N, F_CT);
    if (rc == 0 && examples == 0) {
        rc = comp_fail(err, COMP_ERR_KIND, 0, "%s: no OAEP example found", name);
    }
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static int run_paths_rsp(const char *name, struct comp_kat_set *set, struct comp_report *rep)
{
    enum eng_mode mode = comp_kat_mode(set);
    struct eng_path paths[MAX_PATHS];
    size_t n = eng_paths(mode, paths, MAX_PATHS);
    const char *kind = comp_kind_name(comp_kat_info(set)->kind);
    if (n == 0) {
        return add_unrunnable(rep, name, kind, 1, "no engine path runs this mode");
    }
    for (size_t i = 0; i < n && i < MAX_PATHS; i++) {
        struct comp_kat_result r;
        if (comp_kat_run(set, paths[i].backend, paths[i].arch, &r) != 0) {
            r.failed++;
        }
        if (add_result(rep, name, kind, eng_backend_name(paths[i].backend),
                       eng_arch_name(paths[i].arch), &r) != 0) {
            return -1;
        }
    }
    return 0;
}

/*
 * why_of writes "COMP_ERR_X: message" for a file that could not run. The
 * message is cut at 199 characters, as the readers' old 200-byte detail cut it,
 * so that compliance.json keeps the same text for the same inputs.
 */
static void why_of(char *why, size_t n, const struct base_err *err)
{
    snprintf(why, n, "%s: %.199s", comp_error_name(err->code), err->msg);
}

static int run_wycheproof(const char *name, const char *text, size_t len, struct comp_report *rep)
{
    struct base_err err = BASE_ERR_INIT;
    struct comp_wp *w = comp_wp_open_mem(name, text, len, &err);
    if (w == NULL) {
        int unknown = err.code == COMP_ERR_SCHEMA;
        char why[300];
        why_of(why, sizeof(why), &err);
        return add_unrunnable(rep, name, unknown ? "json (unknown)" : "wycheproof", !unknown, why);
    }
    char kind[48];
    snprintf(kind, sizeof(kind), "wycheproof %s %s", comp_wp_schema_name(comp_wp_schema(w)),
             comp_wp_algorithm(w));
    int rc = 0;
    enum comp_wp_schema schema = comp_wp_schema(w);
    const char *alg = comp_wp_algorithm(w);
    int gcm = schema == COMP_WP_AEAD && strcmp(alg, "AES-GCM") == 0;
    int xts = schema == COMP_WP_IND_CPA && strcmp(alg, "AES-XTS") == 0;
    if (gcm || xts) {
        struct eng_path paths[MAX_PATHS];
        size_t n = eng_paths(gcm ? ENG_MODE_GCM : ENG_MODE_XTS, paths, MAX_PATHS);
        for (size_t i = 0; rc == 0 && i < n && i < MAX_PATHS; i++) {
            struct comp_kat_result r;
            int run = gcm ? comp_kat_run_wycheproof(w, paths[i].backend, paths[i].arch, &r, &err)
                          : comp_wp_run_xts(w, paths[i].backend, paths[i].arch, &r, &err);
            if (run != 0) {
                snprintf(r.first_failure, sizeof(r.first_failure), "%.40s: %.150s",
                         comp_error_name(err.code), err.msg);
                r.failed++;
            }
            rc = add_result(rep, name, kind, eng_backend_name(paths[i].backend),
                            eng_arch_name(paths[i].arch), &r);
        }
    } else if ((schema == COMP_WP_KEYWRAP && strcmp(alg, "AES-KWP") == 0) ||
               schema == COMP_WP_RSA_OAEP) {
        struct comp_kat_result r;
        int kw = schema == COMP_WP_KEYWRAP;
        int run = kw ? comp_wp_run_kwp(w, &r, &err) : comp_wp_run_oaep(w, &r, &err);
        if (run != 0) {
            snprintf(r.first_failure, sizeof(r.first_failure), "%.40s: %.150s",
                     comp_error_name(err.code), err.msg);
            r.failed++;
        }
        rc = add_result(rep, name, kind, "openssl", kw ? "evp (smk wrap)" : "evp (vault unwrap)",
                        &r);
    } else {
        char why[160];
        snprintf(why, sizeof(why), "Wycheproof %s %s is not used by this system",
                 comp_wp_schema_name(schema), alg);
        rc = add_unrunnable(rep, name, kind, 0, why);
    }
    comp_wp_free(w);
    return rc;
}

/*
 * 1 when the file name or the first header lines name a mode this runner
 * takes (ECB, CBC, CTR, GCM, XTS). CFB, OFB, CCM files and read-me texts
 * say none of these: whatever their syntax, they are "not supported", not
 * "malformed".
 */
static int claims_supported_kind(const char *name, const char *text, size_t len)
{
    static const char *const modes[] = {"ECB", "CBC", "CTR", "GCM", "XTS", "Counter"};
    const char *base = strrchr(name, '/');
    char head[1024];
    size_t n = len < sizeof(head) - 1 ? len : sizeof(head) - 1;
    memcpy(head, text, n);
    head[n] = '\0';
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (comp_contains_ci(base != NULL ? base + 1 : name, modes[i]) ||
            comp_contains_ci(head, modes[i])) {
            return 1;
        }
    }
    return 0;
}

int comp_run_text(const char *name, const char *text, size_t len, struct comp_report *rep)
{
    const char *p = text;
    while (p < text + len && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
        p++;
    }
    if (p < text + len && *p == '{') {
        return run_wycheproof(name, text, len, rep);
    }
    if (memmem(text, len, "# OAEP Example", 14) != NULL) {
        struct comp_kat_result r;
        struct base_err err = BASE_ERR_INIT;
        if (comp_oaep_txt_run(name, text, len, &r, &err) != 0) {
            char why[300];
            why_of(why, sizeof(why), &err);
            return add_unrunnable(rep, name, "pyca rsa-oaep", 1, why);
        }
        return add_result(rep, name, "pyca rsa-oaep", "openssl", "evp (vault unwrap)", &r);
    }
    struct base_err err = BASE_ERR_INIT;
    struct comp_kat_set *set = comp_kat_load_mem(name, text, len, &err);
    if (set == NULL) {
        char why[300];
        why_of(why, sizeof(why), &err);
        /* a parse error counts as malformed only in a file that says it holds a kind we run */
        int unknown = err.code == COMP_ERR_KIND || err.code == COMP_ERR_SECTION ||
                      !claims_supported_kind(name, text, len);
        return add_unrunnable(rep, name, unknown ? "unknown" : "cavp", !unknown, why);
    }
    int rc = run_paths_rsp(name, set, rep);
    comp_kat_free(set);
    return rc;
}

static int run_file(const char *path, struct comp_report *rep)
{
    struct base_err err = BASE_ERR_INIT;
    char *text = NULL;
    size_t len = 0;
    if (comp_read_file(path, &text, &len, &err) != 0) {
        char why[300];
        why_of(why, sizeof(why), &err);
        return add_unrunnable(rep, path, "unreadable", 1, why);
    }
    int rc = comp_run_text(path, text, len, rep);
    free(text);
    return rc;
}

static int wanted(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcmp(name + n - 4, ".rsp") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".txt") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int comp_run_path(const char *path, struct comp_report *rep)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        add_unrunnable(rep, path, "missing", 1, "no such file or folder");
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        return run_file(path, rep);
    }
    struct dirent **list = NULL;
    int n = scandir(path, &list, NULL, by_name);
    if (n < 0) {
        add_unrunnable(rep, path, "unreadable", 1, "cannot list the folder");
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *d = list[i]->d_name;
        if (rc == 0 && d[0] != '.') {
            char sub[4096];
            snprintf(sub, sizeof(sub), "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", d);
            struct stat s2;
            if (stat(sub, &s2) == 0 && S_ISDIR(s2.st_mode)) {
                rc = comp_run_path(sub, rep);
            } else if (wanted(d)) {
                rc = run_file(sub, rep);
            }
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

/* ---- embedded vectors ---------------------------------------------------------------------- */

struct embedded {
    const char *name;
    const char *text;
};

static const struct embedded embedded_files[] = {
    {"embedded/ECB-fips197-appendix-c3.rsp",
     "# FIPS 197 Appendix C.3, AES-256 (one block: the cipher itself)\n[ENCRYPT]\n\n"
     "COUNT = 0\nKEY = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
     "PLAINTEXT = 00112233445566778899aabbccddeeff\n"
     "CIPHERTEXT = 8ea2b7ca516745bfeafc49904b496089\n"},
    {"embedded/CBC-sp800-38a-f25.rsp",
     "# SP 800-38A F.2.5 CBC-AES256.Encrypt\n[ENCRYPT]\n\n"
     "COUNT = 0\nKEY = 603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4\n"
     "IV = 000102030405060708090a0b0c0d0e0f\n"
     "PLAINTEXT = 6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
     "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710\n"
     "CIPHERTEXT = f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
     "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b\n"},
    {"embedded/CTR-sp800-38a-f55.rsp",
     "# SP 800-38A F.5.5 CTR-AES256.Encrypt\n[ENCRYPT]\n\n"
     "COUNT = 0\nKEY = 603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4\n"
     "IV = f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\n"
     "PLAINTEXT = 6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
     "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710\n"
     "CIPHERTEXT = 601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
     "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6\n"},
    {"embedded/gcmEncrypt-spec-test-case-14.rsp",
     "# The GCM specification (McGrew, Viega), test case 14: AES-256, zero key, IV, plaintext\n"
     "[Keylen = 256]\n[IVlen = 96]\n[PTlen = 128]\n[AADlen = 0]\n[Taglen = 128]\n\n"
     "Count = 0\nKey = 0000000000000000000000000000000000000000000000000000000000000000\n"
     "IV = 000000000000000000000000\nPT = 00000000000000000000000000000000\nAAD = \n"
     "CT = cea7403d4d606b6e074ec5d3baf39d18\nTag = d0d1c8a799996bf0265b98b5d48ab919\n"},
};

int comp_run_embedded(struct comp_report *rep)
{
    for (size_t i = 0; i < sizeof(embedded_files) / sizeof(embedded_files[0]); i++) {
        const struct embedded *e = &embedded_files[i];
        if (comp_run_text(e->name, e->text, strlen(e->text), rep) != 0) {
            return -1;
        }
    }
    return 0;
}
