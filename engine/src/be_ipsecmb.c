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
        case ENG_ARCH_VAES_AVX2: /* ipsec-mb 1.3 has no VAES code without AVX-512 */
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
 * Whether this build of the library has its no-AES-NI (software AES) code:
 * Debian's libipsec-mb 1.3 is built without it, and alloc_mb_mgr() then
 * refuses IMB_FLAG_AESNI_OFF. Probed once.
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
    return arch > ENG_ARCH_NOAESNI && arch < ENG_ARCH_COUNT;
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
 * Limits of the library that the engine hides:
 * - CTR increments only the low 32 bits of a 16-byte counter block; the
 *   engine promises a 128-bit big-endian increment (as OpenSSL), so a unit
 *   is cut where those 32 bits wrap and continues with a carried counter.
 * - Multi-buffer CBC keeps lane lengths in 16 bits: a job may hold at most
 *   65535 bytes ("Invalid cipher message length" otherwise), so longer units
 *   are chained in segments, each IV being the previous ciphertext block.
 * Both are rare or long-unit cases; the common case is one segment per unit
 * and one burst per IMB_MAX_BURST_SIZE units.
 */
#define CBC_SEG_MAX 65520U

static uint64_t ctr_blocks_to_wrap(const uint8_t iv[16])
{
    uint32_t lo =
        ((uint32_t)iv[12] << 24) | ((uint32_t)iv[13] << 16) | ((uint32_t)iv[14] << 8) | iv[15];
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

struct seg_state {
    size_t off;       /* bytes of the unit already done */
    uint8_t iv[16];   /* IV / counter of the next segment */
    uint8_t next[16]; /* CBC decrypt: last ciphertext block of the segment in flight */
};

static int burst_batch(const struct eng_cipher *c, IMB_MGR *m, IMB_JOB *jobs, enum eng_dir dir,
                       struct eng_unit *units, size_t n)
{
    const struct aes_sched *k = c->sched;
    int cbc = c->mode == ENG_MODE_CBC;
    IMB_CIPHER_MODE cm = cbc ? IMB_CIPHER_CBC : IMB_CIPHER_CNTR;
    /* CTR is its own inverse: ipsec-mb wants the encrypt direction for both. */
    IMB_CIPHER_DIRECTION d = (cbc && dir == ENG_DECRYPT) ? IMB_DIR_DECRYPT : IMB_DIR_ENCRYPT;
    struct seg_state st[IMB_MAX_BURST_SIZE];
    size_t unit_of[IMB_MAX_BURST_SIZE];
    size_t seg_of[IMB_MAX_BURST_SIZE];
    int first = ENG_OK;

    for (size_t base = 0; base < n; base += IMB_MAX_BURST_SIZE) {
        size_t cnt = n - base < IMB_MAX_BURST_SIZE ? n - base : IMB_MAX_BURST_SIZE;
        size_t pending = cnt;
        int chained = 0; /* st[].iv in use: some unit needed a second segment */
        for (size_t j = 0; j < cnt; j++) {
            st[j].off = 0;
            units[base + j].status = ENG_OK;
        }
        while (pending > 0) {
            uint32_t nj = 0;
            for (size_t j = 0; j < cnt; j++) {
                struct eng_unit *u = &units[base + j];
                if (st[j].off >= u->len || u->status != ENG_OK) {
                    continue;
                }
                const uint8_t *iv = st[j].off == 0 ? u->iv : st[j].iv;
                uint64_t room = cbc ? CBC_SEG_MAX : ctr_blocks_to_wrap(iv) * 16;
                size_t seg =
                    (uint64_t)(u->len - st[j].off) < room ? u->len - st[j].off : (size_t)room;
                IMB_JOB *job = &jobs[nj];
                job->enc_keys = k->enc;
                job->dec_keys = k->dec;
                job->key_len_in_bytes = IMB_KEY_256_BYTES;
                job->src = u->in + st[j].off;
                job->dst = u->out + st[j].off;
                job->cipher_start_src_offset_in_bytes = 0;
                job->msg_len_to_cipher_in_bytes = seg;
                job->iv = iv;
                job->iv_len_in_bytes = 16;
                if (cbc && d == IMB_DIR_DECRYPT && seg < u->len - st[j].off) {
                    memcpy(st[j].next, u->in + st[j].off + seg - 16,
                           16); /* before in-place output */
                }
                unit_of[nj] = j;
                seg_of[nj] = seg;
                nj++;
            }
            uint32_t done = IMB_SUBMIT_CIPHER_BURST(m, jobs, nj, cm, d, IMB_KEY_256_BYTES);
            for (uint32_t q = 0; q < nj; q++) {
                size_t j = unit_of[q];
                struct eng_unit *u = &units[base + j];
                if (q >= done || jobs[q].status != IMB_STATUS_COMPLETED) {
                    u->status = ENG_ERR_CRYPTO_LIB;
                    pending--;
                    continue;
                }
                size_t seg = seg_of[q];
                st[j].off += seg;
                if (st[j].off >= u->len) {
                    pending--;
                    continue; /* the common case: one segment, no next IV to compute */
                }
                chained = 1;
                if (!cbc) {
                    if (st[j].off == seg) {
                        memcpy(st[j].iv, u->iv, 16);
                    }
                    ctr_add(st[j].iv, seg / 16);
                } else if (d == IMB_DIR_ENCRYPT) {
                    memcpy(st[j].iv, u->out + st[j].off - 16, 16);
                } else {
                    memcpy(st[j].iv, st[j].next, 16);
                }
            }
        }
        if (chained) {
            eng_cleanse(st, sizeof(st[0]) * cnt);
        }
    }
    for (size_t i = 0; i < n; i++) {
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
