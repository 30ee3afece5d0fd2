/*
 * comp_kat_rsp.c - run a vector set (comp_kat_run): every vector of one CAVP
 * file through one back end at one CPU path, both ways, batched per key.
 *
 * See comp_kat.h for what is checked. A vector the engine gets wrong is
 * counted, never fatal: the caller gets the whole picture and the first
 * failure in words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comp_internal.h"
#include "comp_kat.h"

#define MAX_BATCH_UNITS 1024

static void vector_failed(struct run *r, const struct comp_aes_vector *v, const char *what)
{
    r->out->failed++;
    ck_note(r->out, v->line, "line %lu (COUNT %llu): %s", v->line, (unsigned long long)v->count,
            what);
}

static int skip_reason(const struct run *r, const struct comp_aes_vector *v)
{
    size_t want = r->mode == ENG_MODE_XTS ? ENG_XTS_KEY_BYTES : ENG_AES256_KEY_BYTES;
    if (v->key_len != want) {
        return r->mode == ENG_MODE_XTS ? COMP_SKIP_XTS_KEY_SIZE : COMP_SKIP_KEY_SIZE;
    }
    if (r->mode == ENG_MODE_GCM && v->iv_len != ENG_GCM_NONCE_BYTES) {
        return COMP_SKIP_NONCE_SIZE;
    }
    if (r->mode == ENG_MODE_GCM && !ck_tag_len_ok(v->tag_len)) {
        return COMP_SKIP_TAG_SIZE;
    }
    if (r->mode == ENG_MODE_XTS && v->unit_bits % 8 != 0) {
        return COMP_SKIP_PARTIAL_BYTE;
    }
    if (r->mode == ENG_MODE_XTS && memcmp(v->key, v->key + 32, 32) == 0) {
        return COMP_SKIP_XTS_EQUAL_HALVES;
    }
    return -1;
}

static int seen_refusal(struct run *r, int reason, const struct comp_aes_vector *v, int add)
{
    for (size_t i = 0; i < r->num_seen; i++) {
        const struct refusal *f = &r->seen[i];
        if (f->reason == reason && f->key_len == v->key_len && f->iv_len == v->iv_len &&
            f->tag_len == v->tag_len) {
            return 1;
        }
    }
    if (add && r->num_seen < REFUSAL_CACHE) {
        r->seen[r->num_seen++] = (struct refusal){reason, v->key_len, v->iv_len, v->tag_len};
    }
    return 0;
}

/* A vector the engine cannot take: check it is refused exactly, then count it as skipped. */
static int skip_vector(struct run *r, const struct comp_aes_vector *v, int reason)
{
    char why[160] = "";
    int refused = 1;
    if (reason != COMP_SKIP_XTS_EQUAL_HALVES && seen_refusal(r, reason, v, 0)) {
        r->out->skipped++;
        r->out->skipped_by[reason]++;
        return 0;
    }
    struct eng_cipher *c = NULL;
    const uint8_t *key = v->key_len ? v->key : ck_empty;
    switch (reason) {
        case COMP_SKIP_KEY_SIZE:
        case COMP_SKIP_XTS_KEY_SIZE:
        case COMP_SKIP_XTS_EQUAL_HALVES: {
            int want = reason == COMP_SKIP_XTS_EQUAL_HALVES ? ENG_ERR_XTS_KEY_HALVES_EQUAL
                                                            : ENG_ERR_KEY_LEN;
            eng_clear_error();
            c = eng_cipher_new(r->mode, r->b, r->a, key, v->key_len);
            refused = c == NULL && eng_errno() == want;
            if (!refused) {
                snprintf(why, sizeof(why), "expected %s from eng_cipher_new, got %s",
                         eng_error_name(want),
                         c != NULL ? "a cipher" : eng_error_name(eng_errno()));
            }
            break;
        }
        case COMP_SKIP_NONCE_SIZE:
        case COMP_SKIP_TAG_SIZE:
            c = eng_cipher_new(r->mode, r->b, r->a, key, v->key_len);
            if (c == NULL) {
                refused = 0;
                snprintf(why, sizeof(why), "eng_cipher_new: %s", eng_error_name(eng_errno()));
                break;
            }
            refused = ck_gcm_refuses(
                c, v->ct, v->ct_len, v->iv, v->iv_len, v->aad, v->aad_len, v->tag, v->tag_len,
                reason == COMP_SKIP_NONCE_SIZE ? ENG_ERR_NONCE_LEN : ENG_ERR_TAG_LEN, why,
                sizeof(why));
            break;
        case COMP_SKIP_PARTIAL_BYTE: /* nothing to ask: the engine's lengths are in bytes */
        default:
            break;
    }
    eng_cipher_free(c);
    if (refused < 0) {
        return -1;
    }
    if (refused) {
        seen_refusal(r, reason, v, 1);
        r->out->skipped++;
        r->out->skipped_by[reason]++;
    } else {
        vector_failed(r, v, why);
    }
    return 0;
}

static size_t units_of(const struct run *r, const struct comp_aes_vector *v)
{
    return r->ecb ? v->ct_len / ENG_BLOCK_BYTES : 1;
}

/* Per-unit scratch: the IV/tweak when it is not the vector's own, and the tag. */
struct aux {
    uint8_t iv[ENG_BLOCK_BYTES];
    uint8_t tag[ENG_GCM_TAG_BYTES];
    size_t vec; /* index in the set */
    size_t off; /* of the unit within the vector's data */
};

struct group {
    struct eng_unit *u;
    struct aux *x;
    uint8_t *enc; /* encrypt output, out of place */
    uint8_t *dec; /* decrypt buffer, in place */
    int *bad;     /* per vector of the group */
};

/* Fills unit |u| for |v|, block |k| (ECB) or the whole vector, over |buf|. */
static void fill_unit(const struct run *r, struct eng_unit *u, struct aux *x,
                      const struct comp_aes_vector *v, size_t k, const uint8_t *in, uint8_t *out)
{
    size_t off = r->ecb ? k * ENG_BLOCK_BYTES : 0;
    size_t len = r->ecb ? ENG_BLOCK_BYTES : v->ct_len;
    memset(u, 0, sizeof(*u));
    x->off = off;
    u->in = in != NULL ? in + off : ck_empty;
    u->out = out + off;
    u->len = len;
    if (r->ecb) {
        memset(x->iv, 0, sizeof(x->iv)); /* CBC with a zero IV over one block is ECB */
        u->iv = x->iv;
        u->iv_len = ENG_BLOCK_BYTES;
    } else if (v->has_seqno) {
        eng_xts_tweak_from_u64(x->iv, v->seqno);
        u->iv = x->iv;
        u->iv_len = ENG_XTS_TWEAK_BYTES;
    } else {
        u->iv = v->iv;
        u->iv_len = v->iv_len;
    }
    if (r->mode == ENG_MODE_GCM) {
        u->aad = v->aad;
        u->aad_len = v->aad_len;
        u->tag = x->tag;
        u->tag_len = (uint32_t)v->tag_len;
    }
}

static void group_free(struct group *g)
{
    free(g->u);
    free(g->x);
    free(g->enc);
    free(g->dec);
    free(g->bad);
}

/* Encrypt every vector of [first, end) that has a plaintext, in one batch. */
static void encrypt_pass(struct run *r, const struct eng_cipher *c, struct group *g, size_t first,
                         size_t end)
{
    const struct comp_aes_vector *v = r->s->v;
    size_t nu = 0;
    size_t pos = 0;
    for (size_t i = first; i < end; i++) {
        if (v[i].expect_fail) {
            continue;
        }
        for (size_t k = 0; k < units_of(r, &v[i]); k++) {
            g->x[nu].vec = i;
            fill_unit(r, &g->u[nu], &g->x[nu], &v[i], k, v[i].pt, g->enc + pos);
            nu++;
        }
        pos += v[i].ct_len;
    }
    if (nu == 0) {
        return;
    }
    eng_clear_error();
    int rc = eng_cipher_batch(c, ENG_ENCRYPT, g->u, nu);
    r->out->batches++;
    r->out->units += nu;
    for (size_t j = 0; j < nu; j++) {
        const struct comp_aes_vector *vv = &v[g->x[j].vec];
        int *bad = &g->bad[g->x[j].vec - first];
        const struct eng_unit *u = &g->u[j];
        size_t off = g->x[j].off;
        if (u->status != ENG_OK) {
            if (!*bad) {
                vector_failed(r, vv, "encrypt refused");
            }
            *bad = 1;
        } else if (u->len > 0 && memcmp(u->out, vv->ct + off, u->len) != 0) {
            if (!*bad) {
                vector_failed(r, vv, "encrypt gave a wrong ciphertext");
            }
            *bad = 1;
        } else if (r->mode == ENG_MODE_GCM && memcmp(u->tag, vv->tag, vv->tag_len) != 0) {
            if (!*bad) {
                vector_failed(r, vv, "encrypt gave a wrong tag");
            }
            *bad = 1;
        } else if (rc != 0) {
            if (!*bad) {
                vector_failed(r, vv, "encrypt batch returned -1 though every unit succeeded");
            }
            *bad = 1;
        }
    }
}

/* Decrypt every vector of [first, end) in place, in one batch; FAIL records must be refused. */
static void decrypt_pass(struct run *r, const struct eng_cipher *c, struct group *g, size_t first,
                         size_t end)
{
    const struct comp_aes_vector *v = r->s->v;
    size_t nu = 0;
    size_t pos = 0;
    int want_rc = 0;
    for (size_t i = first; i < end; i++) {
        if (v[i].ct_len > 0) {
            memcpy(g->dec + pos, v[i].ct, v[i].ct_len);
        }
        for (size_t k = 0; k < units_of(r, &v[i]); k++) {
            g->x[nu].vec = i;
            fill_unit(r, &g->u[nu], &g->x[nu], &v[i], k, g->dec + pos, g->dec + pos);
            if (r->mode == ENG_MODE_GCM) {
                memcpy(g->x[nu].tag, v[i].tag, v[i].tag_len);
            }
            nu++;
        }
        pos += v[i].ct_len;
        want_rc |= v[i].expect_fail ? -1 : 0;
    }
    eng_clear_error();
    int rc = eng_cipher_batch(c, ENG_DECRYPT, g->u, nu);
    int err = eng_errno();
    r->out->batches++;
    r->out->units += nu;
    int batch_ok = rc == want_rc && (want_rc == 0 || err == ENG_ERR_AUTH);
    for (size_t j = 0; j < nu; j++) {
        const struct comp_aes_vector *vv = &v[g->x[j].vec];
        int *bad = &g->bad[g->x[j].vec - first];
        const struct eng_unit *u = &g->u[j];
        const char *what = NULL;
        if (vv->expect_fail) {
            if (u->status != ENG_ERR_AUTH) {
                what = "FAIL record not refused with ENG_ERR_AUTH";
            } else if (!ck_all_zero(u->out, u->len)) {
                what = "FAIL record refused but its output not zeroed";
            }
        } else if (u->status != ENG_OK) {
            what = "decrypt refused";
        } else if (u->len > 0 && memcmp(u->out, vv->pt + g->x[j].off, u->len) != 0) {
            what = "decrypt gave a wrong plaintext";
        }
        if (what == NULL && !batch_ok) {
            what = "decrypt batch returned the wrong code";
        }
        if (what != NULL) {
            if (!*bad) {
                vector_failed(r, vv, what);
            }
            *bad = 1;
        }
    }
}

/* Runs vectors [first, end), which share one key and are all runnable. -1 only on no memory. */
static int run_group(struct run *r, size_t first, size_t end)
{
    const struct comp_aes_vector *v = r->s->v;
    size_t nu = 0;
    size_t bytes = 1;
    for (size_t i = first; i < end; i++) {
        nu += units_of(r, &v[i]);
        bytes += v[i].ct_len;
    }
    struct group g = {
        .u = calloc(nu, sizeof(struct eng_unit)),
        .x = calloc(nu, sizeof(struct aux)),
        .enc = malloc(bytes),
        .dec = malloc(bytes),
        .bad = calloc(end - first, sizeof(int)),
    };
    if (g.u == NULL || g.x == NULL || g.enc == NULL || g.dec == NULL || g.bad == NULL) {
        group_free(&g);
        ck_note(r->out, 0, "no memory");
        return -1;
    }
    eng_clear_error();
    struct eng_cipher *c = eng_cipher_new(r->mode, r->b, r->a, v[first].key, v[first].key_len);
    if (c == NULL) {
        char why[96];
        snprintf(why, sizeof(why), "eng_cipher_new: %s", eng_error_name(eng_errno()));
        for (size_t i = first; i < end; i++) {
            vector_failed(r, &v[i], why);
        }
        group_free(&g);
        return 0;
    }
    encrypt_pass(r, c, &g, first, end);
    decrypt_pass(r, c, &g, first, end);
    eng_cipher_free(c);
    for (size_t i = first; i < end; i++) {
        if (!g.bad[i - first]) {
            r->out->passed++;
            if (v[i].expect_fail) {
                r->out->rejected_by[COMP_REJECT_AUTH]++;
            }
        }
    }
    group_free(&g);
    return 0;
}

static int same_key(const struct comp_aes_vector *a, const struct comp_aes_vector *b)
{
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

int comp_kat_run(const struct comp_kat_set *s, enum eng_backend b, enum eng_arch a,
                 struct comp_kat_result *out)
{
    if (s == NULL || out == NULL) {
        return -1;
    }
    struct run r = {.s = s, .ecb = s->info.kind == COMP_KIND_AES_ECB};
    if (ck_start_run(&r, comp_kat_mode(s), b, a, out) != 0) {
        return -1;
    }
    size_t want = r.mode == ENG_MODE_XTS ? ENG_XTS_KEY_BYTES : ENG_AES256_KEY_BYTES;
    for (size_t k = 0; k < s->n; k++) {
        out->key_cases += s->v[k].key_len == want;
    }
    size_t i = 0;
    while (i < s->n) {
        int reason = skip_reason(&r, &s->v[i]);
        if (reason >= 0) {
            if (skip_vector(&r, &s->v[i], reason) != 0) {
                return -1;
            }
            i++;
            continue;
        }
        size_t j = i + 1;
        size_t nu = units_of(&r, &s->v[i]);
        while (j < s->n && skip_reason(&r, &s->v[j]) < 0 && same_key(&s->v[i], &s->v[j]) &&
               nu + units_of(&r, &s->v[j]) <= MAX_BATCH_UNITS) {
            nu += units_of(&r, &s->v[j]);
            j++;
        }
        if (run_group(&r, i, j) != 0) {
            return -1;
        }
        i = j;
    }
    return 0;
}
