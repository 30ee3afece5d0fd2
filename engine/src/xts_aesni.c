/*
 * xts_aesni.c - AES-256 key expansion and the AES-NI XTS kernel (xmm).
 *
 * Organisation of the AES-NI kernel (body in xts_aesni_tmpl.h, compiled
 * twice: legacy SSE encoding for ENG_ARCH_SSE, VEX encoding for
 * ENG_ARCH_AVX/AVX2; AVX2 itself brings nothing to 128-bit AES):
 *   - tweaks: the IVs of up to eight units are encrypted with key2 together
 *     (eight independent AES chains), then each unit runs alone;
 *   - lanes and interleave: one block per xmm register, eight blocks in
 *     flight (AESENC has a latency of about four cycles and two issue per
 *     cycle, so eight chains keep the AES units busy); the round keys stay
 *     in the (secure) schedule and are used as memory operands;
 *   - tweak schedule: the tweaks T*x^j are made by scalar 64-bit code
 *     (shift, carry, conditional 0x87) into a small stack buffer, one group
 *     of eight ahead of the vector code, which reads them as memory
 *     operands: the integer units do the GF(2^128) doubling in parallel and
 *     the vector units only do AES and the three XORs per block (in ^ T,
 *     ^ k0, and out ^ T), which measured 10% faster than doubling in xmm;
 *   - the last 1..7 whole blocks of a unit go through one more eight-wide
 *     pass with the missing lanes zeroed and not stored;
 *   - ciphertext stealing (len % 16 != 0) runs on single blocks at the end
 *     with the tweaks of positions m-1 and m (decryption: m first), the
 *     partial block copied with fixed-size moves (no library call).
 * The tweak buffers and stolen blocks are wiped before the batch returns,
 * and xmm0..15 are zeroed.
 */
#include <immintrin.h>
#include <string.h>

#include "eng_secure.h"
#include "xts_internal.h"

/* AES-256 key expansion (FIPS 197 5.2) with AESKEYGENASSIST. */
static inline __attribute__((always_inline, target("aes"))) __m128i prefix_xor(__m128i k)
{
    /* [w0, w0^w1, w0^w1^w2, w0^w1^w2^w3] */
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    return _mm_xor_si128(k, _mm_slli_si128(k, 8));
}

/* Round keys 2i and 2i+1 from a (even) and b (odd); the rcon must be an immediate. */
#define EXPAND_EVEN(rk, i, a, b, rcon)                                                        \
    do {                                                                                      \
        (a) = _mm_xor_si128(prefix_xor(a),                                                    \
                            _mm_shuffle_epi32(_mm_aeskeygenassist_si128((b), (rcon)), 0xff)); \
        _mm_store_si128((rk) + 2 * (i), (a));                                                 \
    } while (0)
#define EXPAND_ODD(rk, i, a, b)                                                          \
    do {                                                                                 \
        (b) = _mm_xor_si128(prefix_xor(b),                                               \
                            _mm_shuffle_epi32(_mm_aeskeygenassist_si128((a), 0), 0xaa)); \
        _mm_store_si128((rk) + 2 * (i) + 1, (b));                                        \
    } while (0)

static __attribute__((target("aes"))) void expand256(__m128i *rk, const uint8_t key[32])
{
    __m128i a = _mm_loadu_si128((const __m128i *)key);
    __m128i b = _mm_loadu_si128((const __m128i *)(key + 16));
    _mm_store_si128(rk, a);
    _mm_store_si128(rk + 1, b);
    EXPAND_EVEN(rk, 1, a, b, 0x01);
    EXPAND_ODD(rk, 1, a, b);
    EXPAND_EVEN(rk, 2, a, b, 0x02);
    EXPAND_ODD(rk, 2, a, b);
    EXPAND_EVEN(rk, 3, a, b, 0x04);
    EXPAND_ODD(rk, 3, a, b);
    EXPAND_EVEN(rk, 4, a, b, 0x08);
    EXPAND_ODD(rk, 4, a, b);
    EXPAND_EVEN(rk, 5, a, b, 0x10);
    EXPAND_ODD(rk, 5, a, b);
    EXPAND_EVEN(rk, 6, a, b, 0x20);
    EXPAND_ODD(rk, 6, a, b);
    EXPAND_EVEN(rk, 7, a, b, 0x40);
    /* The registers are cleared by the caller. */
}

static __attribute__((target("aes"))) void clear_xmm_sse(void)
{
    __asm__ __volatile__(
        "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\t"
        "pxor %%xmm2, %%xmm2\n\tpxor %%xmm3, %%xmm3\n\t"
        "pxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
        "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
        "pxor %%xmm8, %%xmm8\n\tpxor %%xmm9, %%xmm9\n\t"
        "pxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
        "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\t"
        "pxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15"
        :
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

static __attribute__((target("avx"))) void clear_xmm_avx(void)
{
    __asm__ __volatile__("vzeroall"
                         :
                         :
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                           "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

__attribute__((target("aes"))) void eng_xts_expand_key(struct eng_xts_sched *ks,
                                                       const uint8_t key[ENG_XTS_KEY_BYTES])
{
    __m128i *e1 = (__m128i *)ks->enc1;
    __m128i *d1 = (__m128i *)ks->dec1;
    expand256(e1, key);
    expand256((__m128i *)ks->enc2, key + 32);
    /* Equivalent inverse cipher (FIPS 197 5.3.5): reversed, InvMixColumns on the middle keys. */
    _mm_store_si128(d1, _mm_load_si128(e1 + ENG_AES256_ROUNDS));
    for (int i = 1; i < ENG_AES256_ROUNDS; i++) {
        _mm_store_si128(d1 + i, _mm_aesimc_si128(_mm_load_si128(e1 + ENG_AES256_ROUNDS - i)));
    }
    _mm_store_si128(d1 + ENG_AES256_ROUNDS, _mm_load_si128(e1));
    clear_xmm_sse();
}

__attribute__((target("aes"))) void eng_aes256_expand_key(uint8_t rk[ENG_AES256_RK][16],
                                                          const uint8_t key[ENG_AES256_KEY_BYTES])
{
    expand256((__m128i *)rk, key);
    clear_xmm_sse();
}

/* Legacy SSE encoding: ENG_ARCH_SSE. */
#define XTS_TARGET  "aes,pclmul,sse4.1"
#define XTS_NAME(x) sse_##x
#define XTS_BATCH   eng_xts_batch_sse
#define XTS_CLEAR   clear_xmm_sse()
#include "xts_aesni_tmpl.h"
#undef XTS_TARGET
#undef XTS_NAME
#undef XTS_BATCH
#undef XTS_CLEAR

/* VEX encoding: ENG_ARCH_AVX and ENG_ARCH_AVX2. */
#define XTS_TARGET  "aes,pclmul,sse4.1,avx"
#define XTS_NAME(x) avx_##x
#define XTS_BATCH   eng_xts_batch_avx
#define XTS_CLEAR   clear_xmm_avx()
#include "xts_aesni_tmpl.h"
#undef XTS_TARGET
#undef XTS_NAME
#undef XTS_BATCH
#undef XTS_CLEAR
