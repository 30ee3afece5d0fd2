/*
 * comp_kat_wp.c - run a Wycheproof AES-GCM file (comp_kat_run_wycheproof):
 * valid tests both ways, invalid ones refused, acceptable ones counted apart.
 * A test the engine gets wrong is counted, never fatal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comp_internal.h"
#include "comp_kat.h"

static void wp_failed(struct run *r, const struct comp_wp_test *t, const char *what)
{
    r->out->failed++;
    ck_note(r->out, t->tc_id, "tcId %lu: %s", t->tc_id, what);
}

/* A GCM unit for |t| over |in| (|len| bytes) into |out|, with tag buffer |tag|. */
static struct eng_unit wp_unit(const struct comp_wp_test *t, const uint8_t *in, size_t len,
                               uint8_t *out, uint8_t *tag)
{
    struct eng_unit u = {
        .in = len ? in : ck_empty,
        .out = out,
        .len = len,
        .iv = t->iv.data,
        .iv_len = t->iv.len,
        .aad = t->aad.data,
        .aad_len = t->aad.len,
        .tag = tag,
        .tag_len = (uint32_t)t->tag.len,
    };
    return u;
}

/* Encrypt and decrypt |t| as a valid vector. 1 if both give the expected answer. */
static int wp_both_ways(struct run *r, const struct eng_cipher *c, const struct comp_wp_test *t,
                        uint8_t *buf, const char **what)
{
    uint8_t tag[ENG_GCM_TAG_BYTES];
    struct eng_unit u = wp_unit(t, t->msg.data, t->msg.len, buf, tag);
    int rc = eng_cipher_batch(c, ENG_ENCRYPT, &u, 1);
    r->out->batches++;
    r->out->units++;
    if (rc != 0 || t->ct.len != t->msg.len || (t->ct.len && memcmp(buf, t->ct.data, t->ct.len)) ||
        memcmp(tag, t->tag.data, t->tag.len) != 0) {
        *what = rc != 0 ? "encrypt refused" : "encrypt gave a wrong ciphertext or tag";
        return 0;
    }
    if (t->ct.len > 0) {
        memcpy(buf, t->ct.data, t->ct.len);
    }
    memcpy(tag, t->tag.data, t->tag.len);
    u = wp_unit(t, buf, t->ct.len, buf, tag); /* in place */
    rc = eng_cipher_batch(c, ENG_DECRYPT, &u, 1);
    r->out->batches++;
    r->out->units++;
    if (rc != 0 || (t->msg.len && memcmp(buf, t->msg.data, t->msg.len) != 0)) {
        *what = rc != 0 ? "decrypt refused" : "decrypt gave a wrong plaintext";
        return 0;
    }
    return 1;
}

/* Decrypt |t|, which must be refused with ENG_ERR_AUTH and a zeroed output. */
static int wp_refused(struct run *r, const struct eng_cipher *c, const struct comp_wp_test *t,
                      uint8_t *buf, const char **what)
{
    uint8_t tag[ENG_GCM_TAG_BYTES];
    memcpy(tag, t->tag.data, t->tag.len);
    if (t->ct.len > 0) {
        memcpy(buf, t->ct.data, t->ct.len);
    }
    struct eng_unit u = wp_unit(t, buf, t->ct.len, buf, tag);
    eng_clear_error();
    int rc = eng_cipher_batch(c, ENG_DECRYPT, &u, 1);
    r->out->batches++;
    r->out->units++;
    if (rc != -1 || eng_errno() != ENG_ERR_AUTH || u.status != ENG_ERR_AUTH) {
        *what =
            rc == 0 ? "invalid vector accepted" : "refused with an error other than ENG_ERR_AUTH";
        return 0;
    }
    if (!ck_all_zero(buf, t->ct.len)) {
        *what = "refused but the output was not zeroed";
        return 0;
    }
    return 1;
}

/* Counts |t| as refused by |reject| (invalid), skipped by |skip| (valid) or acceptable. */
static void wp_count_refusal(struct run *r, const struct comp_wp_test *t, int reject, int skip)
{
    if (t->result == COMP_WP_INVALID) {
        r->out->passed++;
        r->out->rejected_by[reject]++;
    } else if (t->result == COMP_WP_ACCEPTABLE) {
        r->out->acceptable++;
        r->out->acceptable_rejected++;
    } else {
        r->out->skipped++;
        r->out->skipped_by[skip]++;
    }
}

static int wp_one(struct run *r, const struct comp_wp_test *t)
{
    const uint8_t *key = t->key.len ? t->key.data : ck_empty;
    char why[160];
    if (t->key.len != ENG_AES256_KEY_BYTES) {
        eng_clear_error();
        struct eng_cipher *c = eng_cipher_new(ENG_MODE_GCM, r->b, r->a, key, t->key.len);
        int ok = c == NULL && eng_errno() == ENG_ERR_KEY_LEN;
        eng_cipher_free(c);
        if (!ok) {
            snprintf(why, sizeof(why), "a %zu-bit key was not refused with ENG_ERR_KEY_LEN",
                     t->key.len * 8);
            wp_failed(r, t, why);
        } else {
            r->out->skipped++;
            r->out->skipped_by[COMP_SKIP_KEY_SIZE]++;
        }
        return 0;
    }
    r->out->key_cases++;
    if (t->tag.len == 0) { /* tag_len 0 means "16" to the engine: cannot be asked */
        r->out->skipped++;
        r->out->skipped_by[COMP_SKIP_TAG_SIZE]++;
        return 0;
    }
    struct eng_cipher *c = eng_cipher_new(ENG_MODE_GCM, r->b, r->a, key, t->key.len);
    if (c == NULL) {
        snprintf(why, sizeof(why), "eng_cipher_new: %s", eng_error_name(eng_errno()));
        wp_failed(r, t, why);
        return 0;
    }
    int rc = 0;
    if (t->iv.len != ENG_GCM_NONCE_BYTES || !ck_tag_len_ok(t->tag.len)) {
        int nonce = t->iv.len != ENG_GCM_NONCE_BYTES;
        int ok = ck_gcm_refuses(c, t->ct.data, t->ct.len, t->iv.data, t->iv.len, t->aad.data,
                                t->aad.len, t->tag.data, t->tag.len,
                                nonce ? ENG_ERR_NONCE_LEN : ENG_ERR_TAG_LEN, why, sizeof(why));
        r->out->batches++;
        r->out->units++;
        if (ok < 0) {
            rc = -1;
        } else if (ok) {
            wp_count_refusal(r, t, nonce ? COMP_REJECT_NONCE_LEN : COMP_REJECT_TAG_LEN,
                             nonce ? COMP_SKIP_NONCE_SIZE : COMP_SKIP_TAG_SIZE);
        } else {
            wp_failed(r, t, why);
        }
        eng_cipher_free(c);
        return rc;
    }
    size_t n = t->ct.len > t->msg.len ? t->ct.len : t->msg.len;
    uint8_t *buf = malloc(n + 1);
    if (buf == NULL) {
        eng_cipher_free(c);
        return -1;
    }
    const char *what = NULL;
    if (t->result == COMP_WP_INVALID) {
        if (wp_refused(r, c, t, buf, &what)) {
            r->out->passed++;
            r->out->rejected_by[COMP_REJECT_AUTH]++;
        } else {
            wp_failed(r, t, what);
        }
    } else if (t->result == COMP_WP_ACCEPTABLE) {
        r->out->acceptable++;
        r->out->acceptable_rejected += !wp_both_ways(r, c, t, buf, &what);
    } else if (wp_both_ways(r, c, t, buf, &what)) {
        r->out->passed++;
    } else {
        wp_failed(r, t, what);
    }
    free(buf);
    eng_cipher_free(c);
    return 0;
}

int comp_kat_run_wycheproof(struct comp_wp *w, enum eng_backend b, enum eng_arch a,
                            struct comp_kat_result *out, struct base_err *err)
{
    if (w == NULL || out == NULL) {
        return comp_fail(err, COMP_ERR_NULL, 0, "NULL argument");
    }
    if (comp_wp_schema(w) != COMP_WP_AEAD || strcmp(comp_wp_algorithm(w), "AES-GCM") != 0) {
        return comp_fail(err, COMP_ERR_SCHEMA, 0, "%s: not an AES-GCM AEAD file (%s, %s)",
                         comp_wp_name(w), comp_wp_schema_name(comp_wp_schema(w)),
                         comp_wp_algorithm(w));
    }
    struct run r = {.s = NULL};
    if (ck_start_run(&r, ENG_MODE_GCM, b, a, out) != 0) {
        return comp_fail(err, COMP_ERR_UNSUPPORTED, 0, "%s", out->first_failure);
    }
    comp_wp_rewind(w);
    struct comp_wp_test t;
    int rc;
    while ((rc = comp_wp_next(w, &t, err)) == 1) {
        if (wp_one(&r, &t) != 0) {
            return comp_fail(err, COMP_ERR_NOMEM, 0, "no memory");
        }
    }
    return rc < 0 ? -1 : 0;
}
