/*
 * gcm_vaes_avx2.c - the VAES + VPCLMULQDQ + AVX2 (ymm) AES-256-GCM kernel
 * (ENG_ARCH_VAES_AVX2; also run at ENG_ARCH_AVX512 until a zmm kernel exists).
 *
 * Every function here is compiled for GCM_VAES_AVX2_TARGET, which names no
 * AVX-512 feature, so the object holds no EVEX instruction (engine/engine.mk
 * checks it with objdump after every compile) and runs on AMD Zen 3.
 *
 * Organisation (the design of the Gueron-Kounavis papers and of Linux's
 * aes-gcm-avx10 / vaes-avx2 code, written here with intrinsics):
 *   - representation: GHASH works on byte-reflected blocks (VPSHUFB), so
 *     that the GCM bit order becomes a plain reversed polynomial; the hash
 *     key is stored multiplied by x (H' = H<<1 mod the reflected
 *     polynomial), which absorbs the one-bit shift of the reflected
 *     carry-less product, and a 256-bit product is then reduced by two
 *     VPCLMULQDQ with 0xc2000000_00000000 and two 64-bit swaps (gf_reduce);
 *   - aggregated reduction: 8 blocks (4 ymm, two blocks per register) are
 *     multiplied by H^8..H^1 (precomputed at key setup) and their 256-bit
 *     products summed, then reduced once: X' = (X ^ C1)H^8 ^ C2 H^7 ^ ..
 *     ^ C8 H; Karatsuba, with the (hi ^ lo) halves of the powers also
 *     precomputed, makes that 3 VPCLMULQDQ per register (12 per 8 blocks)
 *     plus the reduction;
 *   - interleave: each step runs the 14 AES rounds of 8 counter blocks with
 *     the GHASH of 8 other blocks spread between the rounds, so that the AES
 *     and the carry-less multiply units work at the same time: decryption
 *     hashes the ciphertext it is decrypting (it is known up front);
 *     encryption hashes the ciphertext of the previous step (kept in
 *     registers), and the last step's after the loop;
 *   - counters: kept byte-reflected, where the 32-bit big-endian counter
 *     field is the low dword and a VPADDD increments it (a unit has at most
 *     2^32 - 2 blocks, so it never wraps), reflected back before round 0;
 *   - the last 1..127 bytes run one 8-block AES pass on a zero-padded stack
 *     copy, and their GHASH one block at a time; the AAD the same way
 *     (8-block aggregated steps, then single blocks);
 *   - decryption compares the tag in constant time (eng_ct_equal) and on a
 *     mismatch zeroes that unit's output and sets ENG_ERR_AUTH.
 * Stack copies of data and keystream are wiped, and ymm0..15 zeroed
 * (VZEROALL) before the batch returns.
 */
#include <immintrin.h>
#include <string.h>

#include "eng_secure.h"
#include "gcm_internal.h"

/* No AVX-512 feature here: this file must run on a CPU without it. */
#define GCM_VAES_AVX2_TARGET "vaes,vpclmulqdq,avx2,avx,aes,pclmul,sse4.1"
#define GFN static inline __attribute__((always_inline, target(GCM_VAES_AVX2_TARGET)))

GFN __m128i x_bswap(__m128i x)
{
    return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

GFN __m256i y_bswap(__m256i x)
{
    const __m256i m = _mm256_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1,
                                      2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return _mm256_shuffle_epi8(x, m);
}

GFN __m256i y_rk(const struct eng_gcm_sched *ks, int r)
{
    return _mm256_load_si256((const __m256i *)ks->rk[r]);
}

GFN __m128i x_rk(const struct eng_gcm_sched *ks, int r)
{
    return _mm_load_si128((const __m128i *)ks->rk[r]);
}

/* Reduces the 256-bit product (lo, mi at bits 64..191, hi) modulo the GCM polynomial. */
GFN __m128i gf_reduce(__m128i lo, __m128i mi, __m128i hi)
{
    const __m128i poly = _mm_set_epi64x((long long)0xc200000000000000ULL, 1);
    __m128i t = _mm_clmulepi64_si128(poly, lo, 0x01);
    mi = _mm_xor_si128(mi, _mm_xor_si128(t, _mm_shuffle_epi32(lo, 0x4e)));
    t = _mm_clmulepi64_si128(poly, mi, 0x01);
    return _mm_xor_si128(hi, _mm_xor_si128(t, _mm_shuffle_epi32(mi, 0x4e)));
}

/* a * b for one block (both byte-reflected, b a stored power). */
GFN __m128i gf_mul(__m128i a, __m128i b)
{
    __m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
    __m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
    __m128i mi = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01), _mm_clmulepi64_si128(a, b, 0x10));
    return gf_reduce(lo, mi, hi);
}

/* The unreduced products of the 8 blocks of one step. */
struct gh_acc {
    __m256i lo, mk, hi; /* mk: Karatsuba middle (a_lo ^ a_hi)(b_lo ^ b_hi) */
};

/* Adds the products of register |d| (two reflected blocks) and powers pair |r|. */
GFN void gh_mul_acc(const struct eng_gcm_sched *ks, struct gh_acc *a, __m256i d, int r, int first)
{
    __m256i h = _mm256_loadu_si256((const __m256i *)ks->hpow[2 * r]);
    __m256i lo = _mm256_clmulepi64_epi128(d, h, 0x00);
    __m256i hi = _mm256_clmulepi64_epi128(d, h, 0x11);
    __m256i dk = _mm256_xor_si256(d, _mm256_shuffle_epi32(d, 0x4e));
    __m256i mk = _mm256_clmulepi64_epi128(dk, _mm256_load_si256((const __m256i *)ks->hkar[r]),
                                          0x00);
    if (first) {
        a->lo = lo;
        a->hi = hi;
        a->mk = mk;
    } else {
        a->lo = _mm256_xor_si256(a->lo, lo);
        a->hi = _mm256_xor_si256(a->hi, hi);
        a->mk = _mm256_xor_si256(a->mk, mk);
    }
}

GFN __m128i y_fold(__m256i v)
{
    return _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

/* The reduced sum of a step's products: the new GHASH accumulator. */
GFN __m128i gh_finish(const struct gh_acc *a)
{
    __m128i lo = y_fold(a->lo);
    __m128i hi = y_fold(a->hi);
    __m128i mi = _mm_xor_si128(y_fold(a->mk), _mm_xor_si128(lo, hi));
    return gf_reduce(lo, mi, hi);
}

/* GHASH of 8 reflected blocks g[0..3] (accumulator already XORed into g[0]), no AES. */
GFN __m128i gh_8(const struct eng_gcm_sched *ks, const __m256i g[4])
{
    struct gh_acc a;
    gh_mul_acc(ks, &a, g[0], 0, 1);
    gh_mul_acc(ks, &a, g[1], 1, 0);
    gh_mul_acc(ks, &a, g[2], 2, 0);
    gh_mul_acc(ks, &a, g[3], 3, 0);
    return gh_finish(&a);
}

/* Loads 8 blocks at |p| reflected into g[0..3] and XORs the accumulator |x| into the first. */
GFN void gh_load8(__m256i g[4], const uint8_t *p, __m128i x)
{
    for (int r = 0; r < 4; r++) {
        g[r] = y_bswap(_mm256_loadu_si256((const __m256i *)(p + 32 * r)));
    }
    g[0] = _mm256_xor_si256(g[0], _mm256_zextsi128_si256(x));
}

#define Y_ROUND(r)                                                                               \
    do {                                                                                         \
        __m256i k_ = y_rk(ks, (r));                                                              \
        s0 = _mm256_aesenc_epi128(s0, k_);                                                       \
        s1 = _mm256_aesenc_epi128(s1, k_);                                                       \
        s2 = _mm256_aesenc_epi128(s2, k_);                                                       \
        s3 = _mm256_aesenc_epi128(s3, k_);                                                       \
    } while (0)

/*
 * One step: the keystream of the 8 counters from |*ctr| (reflected; advanced
 * by 8) XORed with |in| into |out|; when |hash|, the GHASH of g[0..3]
 * interleaved with the rounds, returned (else |x| is returned). When |enc|,
 * g[0..3] are then set to the new ciphertext, reflected.
 */
GFN __m128i gcm_step(const struct eng_gcm_sched *ks, __m256i *ctr, const uint8_t *in,
                     uint8_t *out, __m256i g[4], __m128i x, int hash, int enc)
{
    const __m256i two = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
    __m256i k0 = y_rk(ks, 0);
    __m256i c = *ctr;
    __m256i s0 = _mm256_xor_si256(y_bswap(c), k0);
    c = _mm256_add_epi32(c, two);
    __m256i s1 = _mm256_xor_si256(y_bswap(c), k0);
    c = _mm256_add_epi32(c, two);
    __m256i s2 = _mm256_xor_si256(y_bswap(c), k0);
    c = _mm256_add_epi32(c, two);
    __m256i s3 = _mm256_xor_si256(y_bswap(c), k0);
    *ctr = _mm256_add_epi32(c, two);
    struct gh_acc a;
    Y_ROUND(1);
    if (hash) {
        gh_mul_acc(ks, &a, g[0], 0, 1);
    }
    Y_ROUND(2);
    Y_ROUND(3);
    if (hash) {
        gh_mul_acc(ks, &a, g[1], 1, 0);
    }
    Y_ROUND(4);
    Y_ROUND(5);
    if (hash) {
        gh_mul_acc(ks, &a, g[2], 2, 0);
    }
    Y_ROUND(6);
    Y_ROUND(7);
    if (hash) {
        gh_mul_acc(ks, &a, g[3], 3, 0);
    }
    Y_ROUND(8);
    Y_ROUND(9);
    if (hash) {
        x = gh_finish(&a);
    }
    Y_ROUND(10);
    Y_ROUND(11);
    Y_ROUND(12);
    Y_ROUND(13);
    __m256i k14 = y_rk(ks, 14);
    const __m256i *ip = (const __m256i *)in;
    __m256i *op = (__m256i *)out;
    s0 = _mm256_aesenclast_epi128(s0, _mm256_xor_si256(k14, _mm256_loadu_si256(ip)));
    s1 = _mm256_aesenclast_epi128(s1, _mm256_xor_si256(k14, _mm256_loadu_si256(ip + 1)));
    s2 = _mm256_aesenclast_epi128(s2, _mm256_xor_si256(k14, _mm256_loadu_si256(ip + 2)));
    s3 = _mm256_aesenclast_epi128(s3, _mm256_xor_si256(k14, _mm256_loadu_si256(ip + 3)));
    _mm256_storeu_si256(op, s0);
    _mm256_storeu_si256(op + 1, s1);
    _mm256_storeu_si256(op + 2, s2);
    _mm256_storeu_si256(op + 3, s3);
    if (enc) {
        g[0] = y_bswap(s0);
        g[1] = y_bswap(s1);
        g[2] = y_bswap(s2);
        g[3] = y_bswap(s3);
    }
    return x;
}

/* GHASH of |len| bytes at |p| one block at a time, the last zero-padded. */
GFN __m128i gh_tail(const struct eng_gcm_sched *ks, __m128i x, const uint8_t *p, size_t len)
{
    const __m128i h1 = _mm_load_si128((const __m128i *)ks->hpow[ENG_GCM_HPOW - 1]);
    while (len >= 16) {
        x = gf_mul(_mm_xor_si128(x, x_bswap(_mm_loadu_si128((const __m128i *)p))), h1);
        p += 16;
        len -= 16;
    }
    if (len > 0) {
        uint8_t b[16] __attribute__((aligned(16))) = {0};
        memcpy(b, p, len);
        x = gf_mul(_mm_xor_si128(x, x_bswap(_mm_load_si128((const __m128i *)b))), h1);
        eng_cleanse(b, sizeof(b));
    }
    return x;
}

/* GHASH of the AAD into |x|: 8-block aggregated steps, then single blocks. */
GFN __m128i gh_aad(const struct eng_gcm_sched *ks, __m128i x, const uint8_t *p, size_t len)
{
    __m256i g[4];
    for (; len >= 128; p += 128, len -= 128) {
        gh_load8(g, p, x);
        x = gh_8(ks, g);
    }
    return gh_tail(ks, x, p, len);
}

/* AES_K of one block. */
GFN __m128i x_aes(const struct eng_gcm_sched *ks, __m128i b)
{
    b = _mm_xor_si128(b, x_rk(ks, 0));
    for (int r = 1; r < ENG_AES256_ROUNDS; r++) {
        b = _mm_aesenc_si128(b, x_rk(ks, r));
    }
    return _mm_aesenclast_si128(b, x_rk(ks, ENG_AES256_ROUNDS));
}

/* One unit: encrypt (or decrypt) and return the full 16-byte tag block (big-endian order). */
GFN __m128i gcm_unit(const struct eng_gcm_sched *ks, const struct eng_unit *u, int dec)
{
    uint8_t j0b[16] __attribute__((aligned(16)));
    memcpy(j0b, u->iv, ENG_GCM_NONCE_BYTES);
    j0b[12] = 0;
    j0b[13] = 0;
    j0b[14] = 0;
    j0b[15] = 1;
    __m128i j0 = _mm_load_si128((const __m128i *)j0b);
    __m128i x = gh_aad(ks, _mm_setzero_si128(), u->aad, u->aad_len);
    /* Counters of blocks 0 and 1: inc32(J0) and inc32(inc32(J0)). */
    __m256i ctr = _mm256_add_epi32(_mm256_broadcastsi128_si256(x_bswap(j0)),
                                   _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 1));
    const uint8_t *in = u->in;
    uint8_t *out = u->out;
    size_t len = u->len;
    __m256i g[4];
    if (dec) {
        for (; len >= 128; in += 128, out += 128, len -= 128) {
            gh_load8(g, in, x);
            x = gcm_step(ks, &ctr, in, out, g, x, 1, 0);
        }
    } else if (len >= 128) {
        x = gcm_step(ks, &ctr, in, out, g, x, 0, 1);
        for (in += 128, out += 128, len -= 128; len >= 128; in += 128, out += 128, len -= 128) {
            g[0] = _mm256_xor_si256(g[0], _mm256_zextsi128_si256(x));
            x = gcm_step(ks, &ctr, in, out, g, x, 1, 1);
        }
        g[0] = _mm256_xor_si256(g[0], _mm256_zextsi128_si256(x));
        x = gh_8(ks, g);
    }
    if (len > 0) {
        /* 1..127 bytes: one more pass on a zero-padded copy, nothing outside the unit touched. */
        uint8_t buf[128] __attribute__((aligned(32))) = {0};
        memcpy(buf, in, len);
        if (dec) {
            x = gh_tail(ks, x, buf, len);
        }
        (void)gcm_step(ks, &ctr, buf, buf, g, x, 0, 0);
        memcpy(out, buf, len);
        if (!dec) {
            x = gh_tail(ks, x, buf, len);
        }
        eng_cleanse(buf, sizeof(buf));
    }
    const __m128i lens = _mm_set_epi64x((long long)((uint64_t)u->aad_len * 8),
                                        (long long)((uint64_t)u->len * 8));
    x = gf_mul(_mm_xor_si128(x, lens),
               _mm_load_si128((const __m128i *)ks->hpow[ENG_GCM_HPOW - 1]));
    eng_cleanse(g, sizeof(g));
    return _mm_xor_si128(x_bswap(x), x_aes(ks, j0));
}

/* Zeroes ymm0..ymm15 (all the vector registers there are without AVX-512). */
static __attribute__((target(GCM_VAES_AVX2_TARGET))) void clear_ymm(void)
{
    __asm__ __volatile__("vzeroall"
                         :
                         :
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                           "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

__attribute__((target(GCM_VAES_AVX2_TARGET))) void eng_gcm_vaes_avx2_init(
    struct eng_gcm_sched *ks, const uint8_t key[ENG_AES256_KEY_BYTES])
{
    uint8_t rk[ENG_AES256_RK][16] __attribute__((aligned(16)));
    eng_aes256_expand_key(rk, key);
    for (int r = 0; r < ENG_AES256_RK; r++) {
        __m256i k = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)rk[r]));
        _mm256_store_si256((__m256i *)ks->rk[r], k);
    }
    eng_cleanse(rk, sizeof(rk));
    /* H' = reflect(AES_K(0)) * x: shift left by one, fold bit 127 back with the polynomial. */
    __m128i h = x_bswap(x_aes(ks, _mm_setzero_si128()));
    uint64_t lo = (uint64_t)_mm_cvtsi128_si64(h);
    uint64_t hi = (uint64_t)_mm_extract_epi64(h, 1);
    uint64_t carry = 0 - (hi >> 63);
    hi = (hi << 1) | (lo >> 63);
    lo <<= 1;
    hi ^= carry & 0xc200000000000000ULL;
    lo ^= carry & 1;
    __m128i h1 = _mm_set_epi64x((long long)hi, (long long)lo);
    __m128i p = h1;
    for (int i = ENG_GCM_HPOW - 1; i >= 0; i--) {
        _mm_store_si128((__m128i *)ks->hpow[i], p);
        p = gf_mul(p, h1);
    }
    for (int r = 0; r < ENG_GCM_HPOW / 2; r++) {
        __m256i v = _mm256_load_si256((const __m256i *)ks->hpow[2 * r]);
        _mm256_store_si256((__m256i *)ks->hkar[r],
                           _mm256_xor_si256(v, _mm256_shuffle_epi32(v, 0x4e)));
    }
    lo = hi = carry = 0;
    __asm__ __volatile__("" : : "r"(lo), "r"(hi), "r"(carry) : "memory");
    clear_ymm();
}

static __attribute__((target(GCM_VAES_AVX2_TARGET))) void gcm_batch(
    const struct eng_gcm_sched *ks, int dec, struct eng_unit *units, size_t n)
{
    uint8_t tag[16] __attribute__((aligned(16)));
    for (size_t i = 0; i < n; i++) {
        struct eng_unit *u = &units[i];
        _mm_store_si128((__m128i *)tag, gcm_unit(ks, u, dec));
        if (!dec) {
            memcpy(u->tag, tag, u->tag_len);
            u->status = ENG_OK;
        } else if (eng_ct_equal(tag, u->tag, u->tag_len)) {
            u->status = ENG_OK;
        } else {
            u->status = ENG_ERR_AUTH;
            eng_cleanse(u->out, u->len);
        }
    }
    eng_cleanse(tag, sizeof(tag));
}

__attribute__((target(GCM_VAES_AVX2_TARGET))) void eng_gcm_batch_vaes_avx2(
    const struct eng_gcm_sched *ks, int dec, struct eng_unit *units, size_t n)
{
    /* Two copies, so that the direction is a constant inside each. */
    if (dec) {
        gcm_batch(ks, 1, units, n);
    } else {
        gcm_batch(ks, 0, units, n);
    }
    clear_ymm();
}
