/*
 * cells.c - what one sample runs: the engine's batch call, or the library
 * called directly (OpenSSL EVP, ipsec-mb) as the baseline for ratios.
 *
 * Every cell encrypts or decrypts |batch| units of |unit_bytes| out of
 * place from a fixed input buffer, so repeated runs do identical work.
 * Decrypt cells get real ciphertext (and, for GCM, valid tags) made in
 * prepare, so the work measured includes the tag check.
 */
#include <intel-ipsec-mb.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

/*
 * The data of a group: every cipher cell of one group (same mode,
 * direction, unit size and batch) uses the same key, input, output, IVs and
 * tags, thread by thread. This machine is a VM: which host cache sets a
 * buffer lands in changes from run to run, and with a buffer per cell that
 * moved engine/raw ratios and A/A twins by 2-5% between runs of the same
 * build (within a run the ratio's standard error was 0.1-0.6%). With the
 * same buffers the cells compared in a ratio do the same memory traffic.
 */
struct group_data {
    int group, thread, refs;
    uint8_t *in, *out, *ivs, *tags;
    uint8_t key[64];
};

#define MAX_GROUP_DATA (4 * BENCH_MAX_THREADS)

/*
 * A cell also holds several copies of its key schedule (engine context,
 * EVP context, ipsec-mb key data) and uses the next one each sample: where
 * a schedule lands is drawn per allocation too, and two cells with one
 * draw each (an A/A twin and its original) differed by up to 2.3%.
 */
#define KEY_COPIES 4
static struct group_data group_data[MAX_GROUP_DATA];

struct cell_state {
    struct group_data *g;
    uint8_t *in, *out, *ivs, *tags; /* those of g */
    const uint8_t *key;
    struct eng_unit *units;
    /* KEY_COPIES of each key schedule, one per sample in turn (see below) */
    struct eng_cipher *cipher[KEY_COPIES]; /* ENGINE */
    EVP_CIPHER_CTX *evp[KEY_COPIES];       /* RAW openssl */
    const EVP_CIPHER *evp_cipher;
    IMB_MGR *mgr;                          /* RAW ipsec-mb */
    struct gcm_key_data *gcm_key[KEY_COPIES];
    uint8_t *enc_keys[KEY_COPIES], *dec_keys[KEY_COPIES];
    IMB_JOB *jobs;
    uint8_t (*ceil_rk[KEY_COPIES])[64]; /* CEILING: 15 random round keys, broadcast */
};

/* The key schedule copy sample |c->nsamples| uses. */
static size_t key_copy(const struct bench_cell *c)
{
    return c->nsamples % KEY_COPIES;
}

static size_t key_len(enum eng_mode m)
{
    return m == ENG_MODE_XTS ? 64 : 32;
}

static size_t iv_len(enum eng_mode m)
{
    return m == ENG_MODE_GCM ? 12 : 16;
}

/*
 * Buffers are placed deterministically: each in its own page-aligned
 * mapping, at a fixed offset into its first page. With malloc the offsets
 * of input and output modulo 4 KiB (which decide store-to-load aliasing)
 * differed per cell and per run, and moved engine/raw ratios by up to 7%
 * between runs of the same build.
 */
#define PLACE_IN 0U
#define PLACE_OUT 2112U /* half a page and a cache line away from the input */
#define PLACE_META 1088U

struct mapping {
    void *base;
    size_t len;
};

#define HUGE_BYTES (2U << 20)

/*
 * Input and output also ask for transparent huge pages (2 MiB aligned,
 * MADV_HUGEPAGE): within a huge page physical addresses follow virtual ones,
 * so which cache sets a buffer uses no longer depends on the pages the
 * kernel happened to hand out in this run.
 */
static void *xplaced_huge(size_t len, size_t offset, int huge)
{
    size_t align = huge ? HUGE_BYTES : 4096;
    size_t total = (4096 + offset + len + align - 1) & ~(size_t)(align - 1);
    uint8_t *m = mmap(NULL, total + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        return NULL;
    }
    uint8_t *a = (uint8_t *)(((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1));
#ifdef MADV_HUGEPAGE
    if (huge) {
        (void)madvise(a, total, MADV_HUGEPAGE);
    }
#endif
    struct mapping *hdr = (struct mapping *)a; /* first 4 KiB: bookkeeping only */
    hdr->base = m;
    hdr->len = total + align;
    return a + 4096 + offset;
}

static void *xplaced(size_t len, size_t offset)
{
    return xplaced_huge(len, offset, 1);
}

static void xunplace(void *p, size_t offset)
{
    if (p == NULL) {
        return;
    }
    struct mapping *hdr = (struct mapping *)((uint8_t *)p - offset - 4096);
    munmap(hdr->base, hdr->len);
}

static void *xaligned(size_t len)
{
    return xplaced_huge(len, PLACE_META, 0);
}

static void set_units(struct cell_state *s, const struct bench_cell *c, uint8_t *in, uint8_t *out)
{
    for (size_t i = 0; i < c->batch; i++) {
        s->units[i] = (struct eng_unit){.in = in + i * c->unit_bytes,
                                        .out = out + i * c->unit_bytes,
                                        .len = c->unit_bytes,
                                        .iv = s->ivs + i * 16,
                                        .iv_len = iv_len(c->mode),
                                        .tag = s->tags + i * 16,
                                        .tag_len = 16};
    }
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

static void group_data_release(struct group_data *g)
{
    if (g == NULL || --g->refs > 0) {
        return;
    }
    xunplace(g->in, PLACE_IN);
    xunplace(g->out, PLACE_OUT);
    xunplace(g->ivs, PLACE_META);
    xunplace(g->tags, PLACE_META);
    OPENSSL_cleanse(g->key, sizeof(g->key));
    memset(g, 0, sizeof(*g));
}

/* Fills a new group's data: random key, input and IVs; for decrypt, real ciphertext (+ tags) made by OpenSSL. */
static int group_data_fill(struct group_data *g, const struct bench_cell *c, const char **err)
{
    size_t total = c->batch * c->unit_bytes;
    *err = "out of memory";
    g->in = xplaced(total, PLACE_IN);
    g->out = xplaced(total, PLACE_OUT);
    g->ivs = xaligned(c->batch * 16);
    g->tags = xaligned(c->batch * 16);
    if (!g->in || !g->out || !g->ivs || !g->tags) {
        return -1;
    }
    *err = "random generator failed";
    if (RAND_bytes(g->in, (int)total) != 1 || RAND_bytes(g->key, 64) != 1 ||
        RAND_bytes(g->ivs, (int)(c->batch * 16)) != 1) {
        return -1;
    }
    if (c->dir != ENG_DECRYPT) {
        return 0;
    }
    struct eng_cipher *ref = eng_cipher_new(c->mode, ENG_BACKEND_OPENSSL, 0, g->key, key_len(c->mode));
    uint8_t *pt = malloc(total);
    struct eng_unit *units = calloc(c->batch, sizeof(*units));
    if (ref == NULL || pt == NULL || units == NULL) {
        *err = ref == NULL ? eng_strerror(eng_errno()) : "out of memory";
        eng_cipher_free(ref);
        free(pt);
        free(units);
        return -1;
    }
    memcpy(pt, g->in, total);
    struct cell_state tmp = {.g = g, .in = pt, .out = g->in, .ivs = g->ivs, .tags = g->tags, .units = units};
    set_units(&tmp, c, pt, g->in);
    int rc = eng_cipher_batch(ref, ENG_ENCRYPT, units, c->batch);
    eng_cipher_free(ref);
    free(pt);
    free(units);
    if (rc != 0) {
        *err = eng_strerror(eng_errno());
        return -1;
    }
    return 0;
}

/* The data of cell |c|'s group for thread |t|, made by its first cell. */
static struct group_data *group_data_get(const struct bench_cell *c, int t, const char **err)
{
    struct group_data *free_slot = NULL;
    for (size_t i = 0; i < MAX_GROUP_DATA; i++) {
        struct group_data *g = &group_data[i];
        if (g->refs > 0 && g->group == c->group && g->thread == t) {
            g->refs++;
            return g;
        }
        if (g->refs == 0 && free_slot == NULL) {
            free_slot = g;
        }
    }
    *err = "too many groups prepared at once";
    if (free_slot == NULL) {
        return NULL;
    }
    *free_slot = (struct group_data){.group = c->group, .thread = t, .refs = 1};
    if (group_data_fill(free_slot, c, err) != 0) {
        group_data_release(free_slot);
        return NULL;
    }
    return free_slot;
}

void *bench_group_buffer(const struct bench_cell *c, int t, int output, void **handle, const char **err)
{
    struct group_data *g = group_data_get(c, t, err);
    *handle = g;
    return g == NULL ? NULL : output ? g->out : g->in;
}

void bench_group_buffer_release(void *handle)
{
    group_data_release(handle);
}

static int prepare_one(struct bench_cell *c, struct cell_state *s, int t, const char **err)
{
    *err = "out of memory";
    s->units = calloc(c->batch, sizeof(*s->units));
    if (s->units == NULL) {
        return -1;
    }
    s->g = group_data_get(c, t, err);
    if (s->g == NULL) {
        return -1;
    }
    s->in = s->g->in;
    s->out = s->g->out;
    s->ivs = s->g->ivs;
    s->tags = s->g->tags;
    s->key = s->g->key;
    set_units(s, c, s->in, s->out);

    if (c->kind == BENCH_KIND_ENGINE) {
        for (size_t k = 0; k < KEY_COPIES; k++) {
            s->cipher[k] = eng_cipher_new(c->mode, c->backend, c->arch, s->key, key_len(c->mode));
            if (s->cipher[k] == NULL) {
                *err = eng_strerror(eng_errno());
                return -1;
            }
        }
        c->ran_backend = eng_cipher_backend(s->cipher[0]);
        c->ran_arch = eng_cipher_arch(s->cipher[0]);
        return 0;
    }
    c->ran_backend = c->backend;
    c->ran_arch = ENG_ARCH_AUTO;
    if (c->kind == BENCH_KIND_CEILING) {
        if (!bench_ceiling_supported(c->width_bits) ||
            (c->batch * c->unit_bytes) % bench_ceiling_chunk(c->width_bits) != 0) {
            *err = "the CPU lacks this width, or the batch is not a whole number of its steps";
            return -1;
        }
        for (size_t k = 0; k < KEY_COPIES; k++) {
            s->ceil_rk[k] = xaligned(15 * 64);
            uint8_t rk[15][16];
            *err = "random generator failed";
            if (s->ceil_rk[k] == NULL || RAND_bytes(&rk[0][0], sizeof(rk)) != 1) {
                return -1;
            }
            for (int r = 0; r < 15; r++) {
                for (int l = 0; l < 4; l++) {
                    memcpy(&s->ceil_rk[k][r][16 * l], rk[r], 16);
                }
            }
        }
        return 0;
    }
    if (c->backend == ENG_BACKEND_OPENSSL) {
        s->evp_cipher = evp_of(c->mode);
        *err = "EVP init failed";
        for (size_t k = 0; k < KEY_COPIES; k++) {
            s->evp[k] = EVP_CIPHER_CTX_new();
            if (s->evp[k] == NULL ||
                EVP_CipherInit_ex2(s->evp[k], s->evp_cipher, s->key, NULL, c->dir == ENG_ENCRYPT, NULL) != 1) {
                return -1;
            }
            EVP_CIPHER_CTX_set_padding(s->evp[k], 0);
        }
        return 0;
    }
    /* ipsec-mb, best path for this CPU, as a user of the library would set it up */
    s->mgr = alloc_mb_mgr(0);
    *err = "ipsec-mb manager allocation failed";
    if (s->mgr == NULL) {
        return -1;
    }
    IMB_ARCH arch;
    init_mb_mgr_auto(s->mgr, &arch);
    c->ran_arch = arch == IMB_ARCH_AVX512 ? ENG_ARCH_AVX512
                  : arch == IMB_ARCH_AVX2 ? ENG_ARCH_AVX2
                  : arch == IMB_ARCH_AVX  ? ENG_ARCH_AVX
                                          : ENG_ARCH_SSE;
    *err = "out of memory";
    if (c->mode != ENG_MODE_GCM) {
        s->jobs = calloc(c->batch, sizeof(IMB_JOB));
        if (s->jobs == NULL) {
            return -1;
        }
    }
    for (size_t k = 0; k < KEY_COPIES; k++) {
        if (c->mode == ENG_MODE_GCM) {
            s->gcm_key[k] = xaligned(sizeof(*s->gcm_key[k]));
            if (s->gcm_key[k] == NULL) {
                return -1;
            }
            IMB_AES256_GCM_PRE(s->mgr, s->key, s->gcm_key[k]);
            continue;
        }
        s->enc_keys[k] = xaligned(240);
        s->dec_keys[k] = xaligned(240);
        if (!s->enc_keys[k] || !s->dec_keys[k]) {
            return -1;
        }
        IMB_AES_KEYEXP_256(s->mgr, s->key, s->enc_keys[k], s->dec_keys[k]);
    }
    return 0;
}

static int run_raw_openssl(struct bench_cell *c, struct cell_state *s)
{
    int enc = c->dir == ENG_ENCRYPT;
    int outl;
    EVP_CIPHER_CTX *evp = s->evp[key_copy(c)];
    for (size_t i = 0; i < c->batch; i++) {
        struct eng_unit *u = &s->units[i];
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

static int run_raw_ipsecmb(struct bench_cell *c, struct cell_state *s)
{
    size_t k = key_copy(c);
    if (c->mode == ENG_MODE_GCM) {
        struct gcm_context_data ctx;
        uint8_t tag[16];
        for (size_t i = 0; i < c->batch; i++) {
            struct eng_unit *u = &s->units[i];
            if (c->dir == ENG_ENCRYPT) {
                IMB_AES256_GCM_ENC(s->mgr, s->gcm_key[k], &ctx, u->out, u->in, u->len, u->iv, u->tag, 0,
                                   u->tag, 16);
            } else {
                IMB_AES256_GCM_DEC(s->mgr, s->gcm_key[k], &ctx, u->out, u->in, u->len, u->iv, u->tag, 0,
                                   tag, 16);
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
            struct eng_unit *u = &s->units[base + i];
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
        if (IMB_SUBMIT_CIPHER_BURST(s->mgr, s->jobs, (uint32_t)cnt, cm, d, IMB_KEY_256_BYTES) != cnt) {
            return -1;
        }
    }
    return 0;
}

int bench_cell_prepare(struct bench_cell *c, const char **err)
{
    *err = "bad thread count";
    if (c->threads < 1 || c->threads > BENCH_MAX_THREADS) {
        return -1;
    }
    for (int t = 0; t < c->threads; t++) {
        if (c->kind == BENCH_KIND_STORE) {
            if (bench_store_prepare_one(c, t, err) != 0) {
                return -1;
            }
            continue;
        }
        struct cell_state *s = calloc(1, sizeof(*s));
        *err = "out of memory";
        if (s == NULL) {
            return -1;
        }
        c->state[t] = s;
        if (prepare_one(c, s, t, err) != 0) {
            return -1;
        }
    }
    return 0;
}

int bench_cell_run_once(struct bench_cell *c, int t)
{
    if (c->kind == BENCH_KIND_STORE) {
        return bench_store_run_once(c, t);
    }
    struct cell_state *s = c->state[t];
    if (c->kind == BENCH_KIND_ENGINE) {
        return eng_cipher_batch(s->cipher[key_copy(c)], c->dir, s->units, c->batch);
    }
    if (c->kind == BENCH_KIND_CEILING) {
        return bench_ceiling_run(c->width_bits, c->dir == ENG_DECRYPT,
                                 (const uint8_t(*)[64])s->ceil_rk[key_copy(c)], s->in, s->out,
                                 c->batch * c->unit_bytes);
    }
    if (c->backend == ENG_BACKEND_OPENSSL) {
        return run_raw_openssl(c, s);
    }
    return run_raw_ipsecmb(c, s);
}

static void release_one(struct cell_state *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t k = 0; k < KEY_COPIES; k++) {
        eng_cipher_free(s->cipher[k]);
        EVP_CIPHER_CTX_free(s->evp[k]);
        xunplace(s->gcm_key[k], PLACE_META);
        xunplace(s->enc_keys[k], PLACE_META);
        xunplace(s->dec_keys[k], PLACE_META);
        xunplace(s->ceil_rk[k], PLACE_META);
    }
    if (s->mgr != NULL) {
        free_mb_mgr(s->mgr);
    }
    free(s->jobs);
    group_data_release(s->g);
    free(s->units);
    free(s);
}

void bench_cell_release(struct bench_cell *c)
{
    if (c->kind == BENCH_KIND_STORE) {
        bench_store_release(c);
        return;
    }
    for (int t = 0; t < BENCH_MAX_THREADS; t++) {
        release_one(c->state[t]);
        c->state[t] = NULL;
    }
}
