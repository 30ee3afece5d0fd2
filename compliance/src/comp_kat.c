/*
 * comp_kat.c - drive the engine through known-answer vectors and count.
 *
 * See comp_kat.h for what is checked. A vector the engine gets wrong is
 * counted, never fatal: the caller gets the whole picture and the first
 * failure in words.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comp_internal.h"
#include "comp_kat.h"

#define MAX_BATCH_UNITS 1024

struct comp_kat_set {
    struct comp_rsp_info info;
    char *name;
    struct comp_aes_vector *v; /* pointers into blobs[i] */
    uint8_t **blobs;
    size_t n;
    size_t cap;
};

static const char *const skip_reasons[COMP_SKIP_COUNT] = {
    "key not 256 bits", "GCM IV not 96 bits", "GCM tag length not allowed",
    "XTS data unit not whole bytes", "XTS key halves equal"};
static const char *const reject_names[COMP_REJECT_COUNT] = {
    "ENG_ERR_AUTH", "ENG_ERR_KEY_LEN", "ENG_ERR_NONCE_LEN", "ENG_ERR_TAG_LEN"};

/* Stands in for an empty input so that no NULL pointer reaches the engine. */
static const uint8_t empty[1];

const char *comp_skip_reason(enum comp_skip s)
{
    return (s >= 0 && s < COMP_SKIP_COUNT) ? skip_reasons[s] : "unknown";
}

const char *comp_reject_name(enum comp_reject r)
{
    return (r >= 0 && r < COMP_REJECT_COUNT) ? reject_names[r] : "unknown";
}

/* ---- loading ---------------------------------------------------------------- */

static const uint8_t *put(uint8_t **p, const uint8_t *src, size_t len)
{
    if (len == 0) {
        return NULL;
    }
    uint8_t *at = *p;
    memcpy(at, src, len);
    *p += len;
    return at;
}

static int append(struct comp_kat_set *s, const struct comp_aes_vector *src)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct comp_aes_vector *v = realloc(s->v, cap * sizeof(*v));
        if (v == NULL) {
            return -1;
        }
        s->v = v;
        uint8_t **b = realloc(s->blobs, cap * sizeof(*b));
        if (b == NULL) {
            return -1;
        }
        s->blobs = b;
        s->cap = cap;
    }
    size_t total = src->key_len + src->iv_len + src->pt_len + src->ct_len + src->aad_len +
                   src->tag_len;
    uint8_t *blob = malloc(total > 0 ? total : 1);
    if (blob == NULL) {
        return -1;
    }
    struct comp_aes_vector *dst = &s->v[s->n];
    uint8_t *p = blob;
    *dst = *src;
    dst->key = put(&p, src->key, src->key_len);
    dst->iv = put(&p, src->iv, src->iv_len);
    dst->pt = put(&p, src->pt, src->pt_len);
    dst->ct = put(&p, src->ct, src->ct_len);
    dst->aad = put(&p, src->aad, src->aad_len);
    dst->tag = put(&p, src->tag, src->tag_len);
    s->blobs[s->n++] = blob;
    return 0;
}

static struct comp_kat_set *load_from(struct comp_rsp *r, struct comp_error *err)
{
    struct comp_kat_set *s = calloc(1, sizeof(*s));
    const char *name = comp_rsp_name(r);
    if (s == NULL || (s->name = comp_memdup0(name, strlen(name))) == NULL) {
        free(s);
        comp_fail(err, COMP_ERR_NOMEM, 0, "no memory");
        return NULL;
    }
    if (comp_rsp_info(r, &s->info, err) != 0) {
        comp_kat_free(s);
        return NULL;
    }
    struct comp_rsp_record *rec = NULL;
    int rc;
    while ((rc = comp_rsp_next(r, &rec)) == 1) {
        struct comp_aes_vector v;
        if (comp_aes_vector_get(&s->info, rec, &v, err) != 0) {
            comp_kat_free(s);
            return NULL;
        }
        if (append(s, &v) != 0) {
            comp_kat_free(s);
            comp_fail(err, COMP_ERR_NOMEM, 0, "no memory");
            return NULL;
        }
    }
    if (rc < 0) {
        if (err != NULL) {
            *err = *comp_rsp_error(r);
        }
        comp_kat_free(s);
        return NULL;
    }
    return s;
}

struct comp_kat_set *comp_kat_load(const char *path, struct comp_error *err)
{
    struct comp_rsp *r = comp_rsp_open(path, err);
    if (r == NULL) {
        return NULL;
    }
    struct comp_kat_set *s = load_from(r, err);
    comp_rsp_free(r);
    return s;
}

struct comp_kat_set *comp_kat_load_mem(const char *name, const char *text, size_t len,
                                       struct comp_error *err)
{
    struct comp_rsp *r = comp_rsp_open_mem(name, text, len, err);
    if (r == NULL) {
        return NULL;
    }
    struct comp_kat_set *s = load_from(r, err);
    comp_rsp_free(r);
    return s;
}

void comp_kat_free(struct comp_kat_set *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        free(s->blobs[i]);
    }
    free(s->blobs);
    free(s->v);
    free(s->name);
    free(s);
}

const struct comp_rsp_info *comp_kat_info(const struct comp_kat_set *s)
{
    return s != NULL ? &s->info : NULL;
}

size_t comp_kat_size(const struct comp_kat_set *s)
{
    return s != NULL ? s->n : 0;
}

enum eng_mode comp_kat_mode(const struct comp_kat_set *s)
{
    switch (s != NULL ? s->info.kind : COMP_KIND_UNKNOWN) {
        case COMP_KIND_AES_GCM_ENC:
        case COMP_KIND_AES_GCM_DEC:
            return ENG_MODE_GCM;
        case COMP_KIND_AES_XTS:
            return ENG_MODE_XTS;
        case COMP_KIND_AES_CTR:
            return ENG_MODE_CTR;
        case COMP_KIND_AES_ECB: /* run as CBC, zero IV, one block per unit */
        case COMP_KIND_AES_CBC:
        case COMP_KIND_UNKNOWN:
        case COMP_KIND_COUNT:
        default:
            return ENG_MODE_CBC;
    }
}

static int bytes_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

int comp_kat_same_vectors(const struct comp_kat_set *a, const struct comp_kat_set *b)
{
    if (a == NULL || b == NULL || a->info.kind != b->info.kind ||
        a->info.xts_tweak != b->info.xts_tweak || a->n != b->n) {
        return 0;
    }
    for (size_t i = 0; i < a->n; i++) {
        const struct comp_aes_vector *x = &a->v[i];
        const struct comp_aes_vector *y = &b->v[i];
        if (x->dir != y->dir || x->has_seqno != y->has_seqno || x->seqno != y->seqno ||
            x->unit_bits != y->unit_bits || x->expect_fail != y->expect_fail ||
            !bytes_equal(x->key, x->key_len, y->key, y->key_len) ||
            !bytes_equal(x->iv, x->iv_len, y->iv, y->iv_len) ||
            !bytes_equal(x->pt, x->pt_len, y->pt, y->pt_len) ||
            !bytes_equal(x->ct, x->ct_len, y->ct, y->ct_len) ||
            !bytes_equal(x->aad, x->aad_len, y->aad, y->aad_len) ||
            !bytes_equal(x->tag, x->tag_len, y->tag, y->tag_len)) {
            return 0;
        }
    }
    return 1;
}

/* ---- running ---------------------------------------------------------------- */

#define REFUSAL_CACHE 16

/*
 * A refusal the engine has already shown for this run. Refusals depend on
 * sizes only (cipher.c checks them before any back end sees a unit), so one
 * check per (reason, key, IV and tag length) is enough; the CAVP GCM files
 * would otherwise need thousands of throw-away ciphers per run.
 */
struct refusal {
    int reason;
    size_t key_len, iv_len, tag_len;
};

struct run {
    const struct comp_kat_set *s;
    enum eng_mode mode;
    enum eng_backend b;
    enum eng_arch a;
    int ecb;
    struct comp_kat_result *out;
    struct refusal seen[REFUSAL_CACHE];
    size_t num_seen;
};

static void note(struct comp_kat_result *out, unsigned long at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(struct comp_kat_result *out, unsigned long at, const char *fmt, ...)
{
    if (out->first_failure[0] != '\0') {
        return;
    }
    out->first_failure_at = at;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out->first_failure, sizeof(out->first_failure), fmt, ap);
    va_end(ap);
    if (n <= 0) {
        snprintf(out->first_failure, sizeof(out->first_failure), "failure");
    }
}

static void vector_failed(struct run *r, const struct comp_aes_vector *v, const char *what)
{
    r->out->failed++;
    note(r->out, v->line, "line %lu (COUNT %llu): %s", v->line, (unsigned long long)v->count,
         what);
}

static int tag_len_ok(size_t t)
{
    return t == 4 || t == 8 || (t >= 12 && t <= 16);
}

static int skip_reason(const struct run *r, const struct comp_aes_vector *v)
{
    size_t want = r->mode == ENG_MODE_XTS ? ENG_XTS_KEY_BYTES : ENG_AES256_KEY_BYTES;
    if (v->key_len != want) {
        return COMP_SKIP_KEY_SIZE;
    }
    if (r->mode == ENG_MODE_GCM && v->iv_len != ENG_GCM_NONCE_BYTES) {
        return COMP_SKIP_NONCE_SIZE;
    }
    if (r->mode == ENG_MODE_GCM && !tag_len_ok(v->tag_len)) {
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

/*
 * A one-unit GCM decrypt with these sizes must fail with |want|. Returns 1
 * if it does, 0 if not (|why| says what happened), -1 on no memory.
 */
static int gcm_refuses(const struct eng_cipher *c, const uint8_t *in, size_t len,
                       const uint8_t *iv, size_t iv_len, const uint8_t *aad, size_t aad_len,
                       const uint8_t *tag, size_t tag_len, int want, char *why, size_t why_len)
{
    uint8_t *out = malloc(len + 1);
    if (out == NULL) {
        return -1;
    }
    uint8_t t[ENG_GCM_TAG_BYTES] = {0};
    if (tag_len > 0) {
        memcpy(t, tag, tag_len < sizeof(t) ? tag_len : sizeof(t));
    }
    struct eng_unit u = {
        .in = len ? in : empty,
        .out = out,
        .len = len,
        .iv = iv_len ? iv : empty,
        .iv_len = iv_len,
        .aad = aad_len ? aad : NULL,
        .aad_len = aad_len,
        .tag = t,
        .tag_len = (uint32_t)tag_len,
    };
    eng_clear_error();
    int rc = eng_cipher_batch(c, ENG_DECRYPT, &u, 1);
    free(out);
    if (rc == -1 && eng_errno() == want && u.status == want) {
        return 1;
    }
    snprintf(why, why_len, "expected %s, the engine returned %d (%s)", eng_error_name(want), rc,
             eng_error_name(rc == 0 ? ENG_OK : eng_errno()));
    return 0;
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
    const uint8_t *key = v->key_len ? v->key : empty;
    switch (reason) {
        case COMP_SKIP_KEY_SIZE:
        case COMP_SKIP_XTS_EQUAL_HALVES: {
            int want = reason == COMP_SKIP_KEY_SIZE ? ENG_ERR_KEY_LEN : ENG_ERR_XTS_KEY_HALVES_EQUAL;
            eng_clear_error();
            c = eng_cipher_new(r->mode, r->b, r->a, key, v->key_len);
            refused = c == NULL && eng_errno() == want;
            if (!refused) {
                snprintf(why, sizeof(why), "expected %s from eng_cipher_new, got %s",
                         eng_error_name(want), c != NULL ? "a cipher" : eng_error_name(eng_errno()));
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
            refused = gcm_refuses(c, v->ct, v->ct_len, v->iv, v->iv_len, v->aad, v->aad_len,
                                  v->tag, v->tag_len,
                                  reason == COMP_SKIP_NONCE_SIZE ? ENG_ERR_NONCE_LEN
                                                                 : ENG_ERR_TAG_LEN,
                                  why, sizeof(why));
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
    uint8_t *enc;  /* encrypt output, out of place */
    uint8_t *dec;  /* decrypt buffer, in place */
    int *bad;      /* per vector of the group */
};

/* Fills unit |u| for |v|, block |k| (ECB) or the whole vector, over |buf|. */
static void fill_unit(const struct run *r, struct eng_unit *u, struct aux *x,
                      const struct comp_aes_vector *v, size_t k, const uint8_t *in, uint8_t *out)
{
    size_t off = r->ecb ? k * ENG_BLOCK_BYTES : 0;
    size_t len = r->ecb ? ENG_BLOCK_BYTES : v->ct_len;
    memset(u, 0, sizeof(*u));
    x->off = off;
    u->in = in != NULL ? in + off : empty;
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

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
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
            } else if (!all_zero(u->out, u->len)) {
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
        note(r->out, 0, "no memory");
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

static int start_run(struct run *r, enum eng_mode mode, enum eng_backend b, enum eng_arch a,
                     struct comp_kat_result *out)
{
    memset(out, 0, sizeof(*out));
    r->mode = mode;
    r->b = b;
    r->a = a;
    r->out = out;
    if (b == ENG_BACKEND_AUTO || a == ENG_ARCH_AUTO || !eng_backend_supports(b, mode, a)) {
        note(out, 0, "back end %s does not run %s at %s", eng_backend_name(b),
             eng_mode_name(mode), eng_arch_name(a));
        return -1;
    }
    return 0;
}

int comp_kat_run(const struct comp_kat_set *s, enum eng_backend b, enum eng_arch a,
                 struct comp_kat_result *out)
{
    if (s == NULL || out == NULL) {
        return -1;
    }
    struct run r = {.s = s, .ecb = s->info.kind == COMP_KIND_AES_ECB};
    if (start_run(&r, comp_kat_mode(s), b, a, out) != 0) {
        return -1;
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

/* ---- Wycheproof AES-GCM ----------------------------------------------------------- */

static void wp_failed(struct run *r, const struct comp_wp_test *t, const char *what)
{
    r->out->failed++;
    note(r->out, t->tc_id, "tcId %lu: %s", t->tc_id, what);
}

/* A GCM unit for |t| over |in| (|len| bytes) into |out|, with tag buffer |tag|. */
static struct eng_unit wp_unit(const struct comp_wp_test *t, const uint8_t *in, size_t len,
                               uint8_t *out, uint8_t *tag)
{
    struct eng_unit u = {
        .in = len ? in : empty,
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
        *what = rc == 0 ? "invalid vector accepted" : "refused with an error other than ENG_ERR_AUTH";
        return 0;
    }
    if (!all_zero(buf, t->ct.len)) {
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
    const uint8_t *key = t->key.len ? t->key.data : empty;
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
    if (t->iv.len != ENG_GCM_NONCE_BYTES || !tag_len_ok(t->tag.len)) {
        int nonce = t->iv.len != ENG_GCM_NONCE_BYTES;
        int ok = gcm_refuses(c, t->ct.data, t->ct.len, t->iv.data, t->iv.len, t->aad.data,
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
                            struct comp_kat_result *out, struct comp_error *err)
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
    if (start_run(&r, ENG_MODE_GCM, b, a, out) != 0) {
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

/* ---- summary ---------------------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t cap;
    size_t len;
};

static void add(struct sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct sbuf *s, const char *fmt, ...)
{
    if (s->len >= s->cap) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        s->len += (size_t)n;
    }
}

void comp_kat_summary(const struct comp_kat_result *r, char *out, size_t max_out_len)
{
    if (out == NULL || max_out_len == 0) {
        return;
    }
    out[0] = '\0';
    if (r == NULL) {
        return;
    }
    struct sbuf s = {out, max_out_len, 0};
    add(&s, "%lu passed", r->passed);
    unsigned long refused = 0;
    for (int i = 0; i < COMP_REJECT_COUNT; i++) {
        refused += r->rejected_by[i];
    }
    if (refused > 0) {
        add(&s, " (%lu refused as required:", refused);
        for (int i = 0; i < COMP_REJECT_COUNT; i++) {
            if (r->rejected_by[i] > 0) {
                add(&s, " %lu %s", r->rejected_by[i], reject_names[i]);
            }
        }
        add(&s, ")");
    }
    add(&s, ", %lu failed, %lu skipped", r->failed, r->skipped);
    if (r->skipped > 0) {
        const char *sep = " (";
        for (int i = 0; i < COMP_SKIP_COUNT; i++) {
            if (r->skipped_by[i] > 0) {
                add(&s, "%s%lu %s", sep, r->skipped_by[i], skip_reasons[i]);
                sep = ", ";
            }
        }
        add(&s, ")");
    }
    if (r->acceptable > 0) {
        add(&s, ", %lu acceptable (%lu of them refused)", r->acceptable, r->acceptable_rejected);
    }
    add(&s, "; %lu units in %lu batches", r->units, r->batches);
    if (r->failed > 0) {
        add(&s, "; first failure: %s", r->first_failure);
    }
}
