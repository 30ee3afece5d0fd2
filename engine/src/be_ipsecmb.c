/*
 * be_ipsecmb.c - Intel ipsec-mb back end: GCM, CTR and CBC.
 *
 * One IMB_MGR per thread and CPU path, made on first use and freed when the
 * thread exits. CBC and CTR go through the cipher burst API: up to
 * IMB_MAX_BURST_SIZE independent units in flight at once, which is what makes
 * CBC encryption (serial inside a unit) fast. GCM uses the direct API, whose
 * AVX-512/VAES code is already wide within one unit.
 *
 * Key schedules (AES round keys; GCM round keys + hash-key powers) are made by
 * the manager of the cipher's own path, as the GCM tables differ by path, and
 * live in secure memory.
 */
#include <intel-ipsec-mb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cipher_internal.h"

#define ROUND_KEYS_BYTES (15 * 16)

struct aes_sched {
    uint8_t enc[ROUND_KEYS_BYTES];
    uint8_t dec[ROUND_KEYS_BYTES];
};

struct tl_state {
    IMB_MGR *mgr[ENG_ARCH_COUNT];
    IMB_JOB jobs[IMB_MAX_BURST_SIZE];
};

static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static void tl_free(void *p)
{
    struct tl_state *s = p;
    for (int a = 0; a < ENG_ARCH_COUNT; a++) {
        if (s->mgr[a] != NULL) {
            free_mb_mgr(s->mgr[a]);
        }
    }
    eng_cleanse(s->jobs, sizeof(s->jobs));
    free(s);
}

static void tl_init(void)
{
    (void)pthread_key_create(&tl_key, tl_free);
}

static struct tl_state *tl_get(void)
{
    pthread_once(&tl_once, tl_init);
    struct tl_state *s = pthread_getspecific(tl_key);
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL || pthread_setspecific(tl_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    return s;
}

/* This thread's manager for |arch|, or NULL with the error set. */
static IMB_MGR *mgr_for(enum eng_arch arch)
{
    struct tl_state *s = tl_get();
    if (s == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    if (s->mgr[arch] != NULL) {
        return s->mgr[arch];
    }
    IMB_MGR *m = alloc_mb_mgr(arch == ENG_ARCH_NOAESNI ? IMB_FLAG_AESNI_OFF : 0);
    if (m == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    switch (arch) {
        case ENG_ARCH_AVX512:
            init_mb_mgr_avx512(m);
            break;
        case ENG_ARCH_AVX2:
            init_mb_mgr_avx2(m);
            break;
        case ENG_ARCH_AVX:
            init_mb_mgr_avx(m);
            break;
        case ENG_ARCH_SSE:
        case ENG_ARCH_NOAESNI:
            init_mb_mgr_sse(m);
            break;
        case ENG_ARCH_AUTO:
        case ENG_ARCH_COUNT:
        default:
            free_mb_mgr(m);
            ENG_BAIL_PTR(ENG_ERR_INTERNAL);
    }
    if (imb_get_errno(m) != 0) {
        free_mb_mgr(m);
        ENG_BAIL_PTR(ENG_ERR_CPU);
    }
    s->mgr[arch] = m;
    return m;
}

const char *eng_ipsecmb_version(void)
{
    return imb_get_version_str();
}

/*
 * The no-AES-NI path needs a library built with AES-NI emulation; without
 * it (Debian's 1.3 package) alloc_mb_mgr(IMB_FLAG_AESNI_OFF) fails with
 * IMB_ERR_NO_AESNI_EMU. Ask the library once instead of promising a path
 * that eng_cipher_new then cannot make.
 */
static int noaesni_ok;
static pthread_once_t noaesni_once = PTHREAD_ONCE_INIT;

static void probe_noaesni(void)
{
    IMB_MGR *m = alloc_mb_mgr(IMB_FLAG_AESNI_OFF);
    noaesni_ok = m != NULL;
    if (m != NULL) {
        free_mb_mgr(m);
    }
}

static int imb_supports(enum eng_mode mode, enum eng_arch arch)
{
    if (mode != ENG_MODE_GCM && mode != ENG_MODE_CTR && mode != ENG_MODE_CBC) {
        return 0;
    }
    if (arch == ENG_ARCH_NOAESNI) {
        pthread_once(&noaesni_once, probe_noaesni);
        return noaesni_ok;
    }
    return arch > ENG_ARCH_AUTO && arch < ENG_ARCH_COUNT;
}

static int imb_key_init(struct eng_cipher *c, const uint8_t *key)
{
    IMB_MGR *m = mgr_for(c->arch);
    if (m == NULL) {
        return -1;
    }
    size_t len = c->mode == ENG_MODE_GCM ? sizeof(struct gcm_key_data) : sizeof(struct aes_sched);
    c->sched = eng_secure_alloc(len);
    if (c->sched == NULL) {
        return -1;
    }
    c->sched_len = len;
    if (c->mode == ENG_MODE_GCM) {
        IMB_AES256_GCM_PRE(m, key, (struct gcm_key_data *)c->sched);
    } else {
        struct aes_sched *s = c->sched;
        IMB_AES_KEYEXP_256(m, key, s->enc, s->dec);
    }
    ENG_ENSURE(imb_get_errno(m) == 0, ENG_ERR_CRYPTO_LIB);
    return 0;
}

static int gcm_batch(const struct eng_cipher *c, IMB_MGR *m, enum eng_dir dir,
                     struct eng_unit *units, size_t n)
{
    const struct gcm_key_data *k = c->sched;
    struct gcm_context_data ctx;
    uint8_t tag[ENG_GCM_TAG_BYTES];
    static const uint8_t empty[1];
    int first = ENG_OK;
    for (size_t i = 0; i < n; i++) {
        struct eng_unit *u = &units[i];
        const uint8_t *in = u->len ? u->in : empty;
        uint8_t *out = u->len ? u->out : (uint8_t *)tag; /* never written when len is 0 */
        const uint8_t *aad = u->aad_len ? u->aad : empty;
        if (dir == ENG_ENCRYPT) {
            IMB_AES256_GCM_ENC(m, k, &ctx, out, in, u->len, u->iv, aad, u->aad_len, u->tag,
                               u->tag_len);
            u->status = ENG_OK;
        } else {
            IMB_AES256_GCM_DEC(m, k, &ctx, out, in, u->len, u->iv, aad, u->aad_len, tag,
                               u->tag_len);
            if (eng_ct_equal(tag, u->tag, u->tag_len)) {
                u->status = ENG_OK;
            } else {
                u->status = ENG_ERR_AUTH;
                eng_cleanse(u->out, u->len);
            }
        }
        if (u->status == ENG_OK && imb_get_errno(m) != 0) {
            u->status = ENG_ERR_CRYPTO_LIB;
            eng_cleanse(u->out, u->len);
        }
        if (first == ENG_OK && u->status != ENG_OK) {
            first = u->status;
        }
    }
    eng_cleanse(&ctx, sizeof(ctx));
    eng_cleanse(tag, sizeof(tag));
    if (first != ENG_OK) {
        ENG_BAIL(first);
    }
    return 0;
}

/*
 * ipsec-mb's CTR increments only the low 32 bits of a 16-byte counter block;
 * the engine promises a 128-bit big-endian increment (as OpenSSL). Returns
 * the number of whole blocks before the low 32 bits wrap (2^32 at most).
 */
static uint64_t ctr_blocks_to_wrap(const uint8_t iv[16])
{
    uint32_t lo = ((uint32_t)iv[12] << 24) | ((uint32_t)iv[13] << 16) | ((uint32_t)iv[14] << 8) | iv[15];
    return (1ULL << 32) - lo;
}

static void ctr_add(uint8_t ctr[16], uint64_t blocks)
{
    unsigned carry = 0;
    for (int i = 15; i >= 0; i--) {
        unsigned v = ctr[i] + (unsigned)(blocks & 0xff) + carry;
        ctr[i] = (uint8_t)v;
        carry = v >> 8;
        blocks >>= 8;
    }
}

static void fill_job(IMB_JOB *job, const struct aes_sched *k, const uint8_t *in, uint8_t *out,
                     size_t len, const uint8_t *iv)
{
    job->enc_keys = k->enc;
    job->dec_keys = k->dec;
    job->key_len_in_bytes = IMB_KEY_256_BYTES;
    job->src = in;
    job->dst = out;
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = len;
    job->iv = iv;
    job->iv_len_in_bytes = 16;
}

/* A CTR unit that crosses a 32-bit counter wrap: one job per segment. */
static int ctr_split_unit(IMB_MGR *m, IMB_JOB *job, const struct aes_sched *k, struct eng_unit *u)
{
    uint8_t ctr[16];
    memcpy(ctr, u->iv, 16);
    size_t off = 0;
    int rc = ENG_OK;
    while (off < u->len && rc == ENG_OK) {
        uint64_t room = ctr_blocks_to_wrap(ctr) * 16;
        size_t seg = (uint64_t)(u->len - off) < room ? u->len - off : (size_t)room;
        fill_job(job, k, u->in + off, u->out + off, seg, ctr);
        if (IMB_SUBMIT_CIPHER_BURST(m, job, 1, IMB_CIPHER_CNTR, IMB_DIR_ENCRYPT, IMB_KEY_256_BYTES) != 1 ||
            job->status != IMB_STATUS_COMPLETED) {
            rc = ENG_ERR_CRYPTO_LIB;
        }
        off += seg;
        ctr_add(ctr, seg / 16);
    }
    eng_cleanse(ctr, sizeof(ctr));
    return rc;
}

/*
 * CBC and CTR: up to IMB_MAX_BURST_SIZE units go into one cipher burst. A CTR
 * unit that crosses a 32-bit counter wrap (about one in 2^32 / blocks) is
 * done on its own, segment by segment, after the burst.
 */
static int burst_batch(const struct eng_cipher *c, IMB_MGR *m, IMB_JOB *jobs, enum eng_dir dir,
                       struct eng_unit *units, size_t n)
{
    const struct aes_sched *k = c->sched;
    IMB_CIPHER_MODE cm = c->mode == ENG_MODE_CBC ? IMB_CIPHER_CBC : IMB_CIPHER_CNTR;
    /* CTR is its own inverse: ipsec-mb wants the encrypt direction for both. */
    IMB_CIPHER_DIRECTION d =
        (c->mode == ENG_MODE_CBC && dir == ENG_DECRYPT) ? IMB_DIR_DECRYPT : IMB_DIR_ENCRYPT;
    int first = ENG_OK;
    size_t unit_of[IMB_MAX_BURST_SIZE];
    size_t i = 0;
    while (i < n) {
        uint32_t cnt = 0;
        for (; i < n && cnt < IMB_MAX_BURST_SIZE; i++) {
            struct eng_unit *u = &units[i];
            if (cm == IMB_CIPHER_CNTR && (u->len + 15) / 16 > ctr_blocks_to_wrap(u->iv)) {
                u->status = ctr_split_unit(m, &jobs[IMB_MAX_BURST_SIZE - 1], k, u);
                continue; /* the last slot is free: cnt < IMB_MAX_BURST_SIZE here */
            }
            fill_job(&jobs[cnt], k, u->in, u->out, u->len, u->iv);
            unit_of[cnt++] = i;
        }
        uint32_t done = cnt ? IMB_SUBMIT_CIPHER_BURST(m, jobs, cnt, cm, d, IMB_KEY_256_BYTES) : 0;
        for (uint32_t j = 0; j < cnt; j++) {
            units[unit_of[j]].status =
                (j < done && jobs[j].status == IMB_STATUS_COMPLETED) ? ENG_OK : ENG_ERR_CRYPTO_LIB;
        }
    }
    for (i = 0; i < n; i++) {
        if (units[i].status != ENG_OK) {
            eng_cleanse(units[i].out, units[i].len);
            if (first == ENG_OK) {
                first = units[i].status;
            }
        }
    }
    if (first != ENG_OK) {
        ENG_BAIL(first);
    }
    return 0;
}

static int imb_batch(const struct eng_cipher *c, enum eng_dir dir, struct eng_unit *units, size_t n)
{
    IMB_MGR *m = mgr_for(c->arch);
    if (m == NULL) {
        for (size_t i = 0; i < n; i++) {
            units[i].status = eng_errno();
        }
        return -1;
    }
    if (c->mode == ENG_MODE_GCM) {
        return gcm_batch(c, m, dir, units, n);
    }
    return burst_batch(c, m, tl_get()->jobs, dir, units, n);
}

const struct eng_backend_ops eng_backend_ipsecmb_ops = {
    .id = ENG_BACKEND_IPSECMB,
    .supports = imb_supports,
    .key_init = imb_key_init,
    .key_cleanup = NULL,
    .batch = imb_batch,
};
