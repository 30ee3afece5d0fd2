/*
 * gcm_vaes_avx2.c - the VAES + VPCLMULQDQ + AVX2 (ymm) AES-256-GCM kernel
 * (ENG_ARCH_VAES_AVX2; at ENG_ARCH_AVX512 it runs the whole 32-block steps of a
 * unit through the zmm loop of gcm_vaes_avx512.c first, and the rest itself).
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
 *     VPCLMULQDQ with 0xc2000000_00000000 and two 64-bit swaps
 *     (eng_gcm_reduce, gcm_internal.h);
 *   - aggregated reduction: 16 blocks (8 ymm, two blocks per register)
 *     are multiplied by H^16..H^1 (the last 16 of the 32 powers kept at key
 *     setup) and their
 *     256-bit products summed, then reduced once: X' = (X ^ C1)H^16 ^ C2
 *     H^15 ^ .. ^ C16 H; Karatsuba, with the (hi ^ lo) halves of the powers
 *     also precomputed, makes that 3 VPCLMULQDQ per register (24 per 16
 *     blocks) plus the reduction;
 *   - interleave: each step runs the 14 AES rounds of 16 counter blocks (8
 *     independent ymm registers: VAESENC has a latency of about four cycles
 *     and two issue per cycle) with the GHASH of 16 other blocks spread
 *     between the rounds, so that the AES and the carry-less multiply units
 *     work at the same time: decryption hashes the ciphertext it is
 *     decrypting (it is known up front); encryption hashes the ciphertext
 *     of the previous step (re-read from the output), and the last step's
 *     after the loop. The loop over a unit's hashed steps is one asm block
 *     (gcm_steps_asm) with fixed registers: written with intrinsics the
 *     compiler spilled the AES state (with 4 registers per step, no spills
 *     but latency-bound: 8.3 GB/s encrypt at 8 KiB; 8 registers in C 9.0;
 *     the asm step 9.0-9.1 on the Zen 4 class CPU of 2026-12-07, where
 *     VPCLMULQDQ and VAESENC compete: there each ymm VPCLMULQDQ costs about
 *     0.8 cycle of AES issue, and 10 AES registers (20 blocks) per step ran
 *     no faster than 8);
 *   - counters: kept byte-reflected, where the 32-bit big-endian counter
 *     field is the low dword and a VPADDD increments it (a unit has at most
 *     2^32 - 2 blocks, so it never wraps); in the asm loop, when the last
 *     byte cannot carry within the step, one byte swap per step and VPADDD
 *     on the big-endian form (+2 in the top byte of dword 3) give the rest,
 *     else each register is swapped on its own;
 *   - the last 1..255 bytes run one 16-block AES pass on a zero-padded stack
 *     copy, and their GHASH one block at a time; the AAD the same way
 *     (16-block aggregated steps, then single blocks);
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
#define GFN                  static inline __attribute__((always_inline, target(GCM_VAES_AVX2_TARGET)))

GFN __m128i x_bswap(__m128i x)
{
    return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

GFN __m256i y_bswap(__m256i x)
{
    const __m256i m = _mm256_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2,
                                      3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
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

/* a * b for one block (both byte-reflected, b a stored power). */
GFN __m128i gf_mul(__m128i a, __m128i b)
{
    __m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
    __m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
    __m128i mi = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01), _mm_clmulepi64_si128(a, b, 0x10));
    return eng_gcm_reduce(lo, mi, hi);
}

/* The unreduced products of the blocks of one step. */
struct gh_acc {
    __m256i lo, mk, hi; /* mk: Karatsuba middle (a_lo ^ a_hi)(b_lo ^ b_hi) */
};

/* ymm registers per step: 2 * GCM_NREG blocks in flight, one reduction per step. */
#define GCM_NREG (ENG_GCM_YMM_BLOCKS / 2)
/* the ymm kernel's powers: the last ENG_GCM_YMM_BLOCKS (H^16 .. H^1) and their pairs */
#define GCM_YPOW       (ENG_GCM_HPOW - ENG_GCM_YMM_BLOCKS)
#define GCM_STEP_BYTES (32 * GCM_NREG)

/*
 * Adds the products of register |r| of a step: the two blocks at |p| + 32r
 * (reflected here; |x|, the accumulator, XORed into the first block of the
 * step) times powers pair |r|.
 */
GFN void gh_mul_acc(const struct eng_gcm_sched *ks, struct gh_acc *a, const uint8_t *p, __m128i x,
                    int r)
{
    __m256i d = y_bswap(_mm256_loadu_si256((const __m256i *)(p + 32 * r)));
    if (r == 0) {
        d = _mm256_xor_si256(d, _mm256_zextsi128_si256(x));
    }
    __m256i h = _mm256_loadu_si256((const __m256i *)ks->hpow[GCM_YPOW + 2 * r]);
    __m256i hk = _mm256_load_si256((const __m256i *)ks->hkar[GCM_YPOW / 2 + r]);
    ENG_GCM_MUL_ACC(_mm256, si256, a, d, h, hk, r == 0);
}

GFN __m128i y_fold(__m256i v)
{
    return _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

/* The reduced sum of a step's products: the new GHASH accumulator. */
GFN __m128i gh_finish(const struct gh_acc *a)
{
    return eng_gcm_finish(y_fold(a->lo), y_fold(a->hi), y_fold(a->mk));
}

/* GHASH of the GCM_STEP_BYTES at |p| into |x|, no AES. */
GFN __m128i gh_step(const struct eng_gcm_sched *ks, const uint8_t *p, __m128i x)
{
    struct gh_acc a;
    _Pragma("GCC unroll 16") for (int r = 0; r < GCM_NREG; r++)
    {
        gh_mul_acc(ks, &a, p, x, r);
    }
    return gh_finish(&a);
}

/*
 * One step: the keystream of the 2 * GCM_NREG counters from |*ctr|
 * (reflected; advanced past them) XORed with |in| into |out|; when |gp| is
 * not NULL, the GHASH of the step at |gp| into |x|, interleaved with the
 * rounds, is returned (else |x|). |gp| may be |in| (decryption: it is read
 * before |out| is written) or the previous step's output.
 */
GFN __m128i gcm_step(const struct eng_gcm_sched *ks, __m256i *ctr, const uint8_t *in, uint8_t *out,
                     const uint8_t *gp, __m128i x)
{
    const __m256i two = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
    __m256i k0 = y_rk(ks, 0);
    __m256i c = *ctr;
    __m256i s[GCM_NREG];
    _Pragma("GCC unroll 16") for (int i = 0; i < GCM_NREG; i++)
    {
        s[i] = _mm256_xor_si256(y_bswap(c), k0);
        c = _mm256_add_epi32(c, two);
    }
    *ctr = c;
    struct gh_acc a;
    _Pragma("GCC unroll 16") for (int r = 1; r < ENG_AES256_ROUNDS; r++)
    {
        __m256i k = y_rk(ks, r);
        _Pragma("GCC unroll 16") for (int i = 0; i < GCM_NREG; i++)
        {
            s[i] = _mm256_aesenc_epi128(s[i], k);
        }
        /* the GHASH multiplications after rounds 1..GCM_NREG, the reduction after the next */
        if (gp != NULL && r <= GCM_NREG) {
            gh_mul_acc(ks, &a, gp, x, r - 1);
        }
        if (gp != NULL && r == GCM_NREG + 1) {
            x = gh_finish(&a);
        }
    }
    __m256i k14 = y_rk(ks, ENG_AES256_ROUNDS);
    _Pragma("GCC unroll 16") for (int i = 0; i < GCM_NREG; i++)
    {
        __m256i d = _mm256_loadu_si256((const __m256i *)(in + 32 * i));
        s[i] = _mm256_aesenclast_epi128(s[i], _mm256_xor_si256(k14, d));
        _mm256_storeu_si256((__m256i *)(out + 32 * i), s[i]);
    }
    return x;
}

/*
 * The hot step, with GHASH: the same computation as gcm_step(.., gp, x)
 * written as one asm block, because with 8 AES registers, 3 GHASH
 * accumulators, the data, a round key and the byte-swap mask all 16 ymm
 * registers are needed and the compiler spilled the AES state to the stack
 * in every round (9.0 GB/s encrypt at 8 KiB against 11+ here). Fixed
 * registers: ymm0-7 the AES state (16 blocks), ymm8 the round key, ymm9
 * the byte-swap mask, ymm10/11/12 the lo/hi/Karatsuba-middle sums, ymm13-15
 * temporaries. The accumulator goes in and out through *xp; the counters
 * through *ctr. The GHASH multiplication of register r follows AES round
 * r + 1; the reduction follows round 9.
 */
#if ENG_GCM_YMM_BLOCKS != 16
#error "the asm step is written for 8 ymm registers (16 blocks) per step"
#endif

static const uint8_t gcm_bswap_mask[32]
    __attribute__((aligned(32))) = {15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
                                    15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
/*
 * Counter increments, per 128-bit lane: +2 on the reflected counter (low
 * dword), +2 on the big-endian one when its last byte cannot carry (the top
 * byte of dword 3), and +16 on the reflected counter (one step).
 */
static const uint32_t gcm_inc[3][8] __attribute__((aligned(32))) = {
    {2, 0, 0, 0, 2, 0, 0, 0}, {0, 0, 0, 2u << 24, 0, 0, 0, 2u << 24}, {16, 0, 0, 0, 16, 0, 0, 0}};
static const uint64_t gcm_poly[2] __attribute__((aligned(16))) = {1, 0xc200000000000000ULL};

#define A_CTR(i)                          \
    "vpshufb %%ymm9, %%ymm15, %%ymm" #i   \
    "\n\t"                                \
    "vpxor %%ymm8, %%ymm" #i ", %%ymm" #i \
    "\n\t"                                \
    "vpaddd (%[inc]), %%ymm15, %%ymm15\n\t"
/* the same from the big-endian counters in ymm15 (no byte swap) */
#define A_CTR_BE(i)                   \
    "vpxor %%ymm8, %%ymm15, %%ymm" #i \
    "\n\t"                            \
    "vpaddd 32(%[inc]), %%ymm15, %%ymm15\n\t"
#define A_ENC(i) "vaesenc %%ymm8, %%ymm" #i ", %%ymm" #i "\n\t"
#define A_ROUND(r)                                                                               \
    "vmovdqa " #r "*32(%[rk]), %%ymm8\n\t" A_ENC(0) A_ENC(1) A_ENC(2) A_ENC(3) A_ENC(4) A_ENC(5) \
        A_ENC(6) A_ENC(7)
#define A_GMUL(r, xin)                                                 \
    "vmovdqu " #r                                                      \
    "*32(%[gp]), %%ymm13\n\t"                                          \
    "vpshufb %%ymm9, %%ymm13, %%ymm13\n\t" xin "vpclmulqdq $0x00, " #r \
    "*32(%[hp]), %%ymm13, %%ymm14\n\t"                                 \
    "vpxor %%ymm14, %%ymm10, %%ymm10\n\t"                              \
    "vpclmulqdq $0x11, " #r                                            \
    "*32(%[hp]), %%ymm13, %%ymm14\n\t"                                 \
    "vpxor %%ymm14, %%ymm11, %%ymm11\n\t"                              \
    "vpshufd $0x4e, %%ymm13, %%ymm14\n\t"                              \
    "vpxor %%ymm13, %%ymm14, %%ymm14\n\t"                              \
    "vpclmulqdq $0x00, " #r                                            \
    "*32(%[hk]), %%ymm14, %%ymm14\n\t"                                 \
    "vpxor %%ymm14, %%ymm12, %%ymm12\n\t"
#define A_XIN                      \
    "vmovdqa (%[xp]), %%xmm14\n\t" \
    "vpxor %%ymm14, %%ymm13, %%ymm13\n\t"
#define A_FOLD(r)               \
    "vextracti128 $1, %%ymm" #r \
    ", %%xmm13\n\t"             \
    "vpxor %%xmm13, %%xmm" #r ", %%xmm" #r "\n\t"
/* x = hi ^ swap(mi') ^ t', mi' = mk ^ lo ^ hi ^ swap(lo) ^ t, t = poly_hi * lo_lo, ... */
#define A_REDUCE \
    A_FOLD(10) A_FOLD(11) A_FOLD(12)                                                               \
    "vpxor %%xmm10, %%xmm12, %%xmm12\n\t"                                                          \
    "vpxor %%xmm11, %%xmm12, %%xmm12\n\t"                                                          \
    "vpclmulqdq $0x10, (%[poly]), %%xmm10, %%xmm13\n\t"                                            \
    "vpshufd $0x4e, %%xmm10, %%xmm10\n\t"                                                          \
    "vpxor %%xmm10, %%xmm12, %%xmm12\n\t"                                                          \
    "vpxor %%xmm13, %%xmm12, %%xmm12\n\t"                                                          \
    "vpclmulqdq $0x10, (%[poly]), %%xmm12, %%xmm13\n\t"                                            \
    "vpshufd $0x4e, %%xmm12, %%xmm12\n\t"                                                          \
    "vpxor %%xmm12, %%xmm11, %%xmm11\n\t"                                                          \
    "vpxor %%xmm13, %%xmm11, %%xmm11\n\t"                                                          \
    "vmovdqa %%xmm11, (%[xp])\n\t"
#define A_LAST(i)                                \
    "vpxor " #i                                  \
    "*32(%[in]), %%ymm8, %%ymm13\n\t"            \
    "vaesenclast %%ymm13, %%ymm" #i ", %%ymm" #i \
    "\n\t"                                       \
    "vmovdqu %%ymm" #i ", " #i "*32(%[out])\n\t"

/*
 * |nsteps| (>= 1) steps with GHASH: step i reads in + 256i, writes out + 256i
 * and hashes gp + 256i (|gp| == |in| for decryption, out - 256 for
 * encryption). The counters (reflected [c, c+1]) and the accumulator pass
 * through *ctr and *xp. When the last byte of c cannot carry within the step
 * (c mod 256 <= 240), the 16 counters are one byte swap and additions in
 * the big-endian form; else each register's are swapped on their own.
 */
static __attribute__((target(GCM_VAES_AVX2_TARGET))) void gcm_steps_asm(
    const struct eng_gcm_sched *ks, uint8_t ctr[32], const uint8_t *in, uint8_t *out,
    const uint8_t *gp, uint8_t xp[16], size_t nsteps)
{
    __asm__ __volatile__(
        "vmovdqa (%[mask]), %%ymm9\n\t"
        "1:\n\t"
        "vmovdqu (%[ctr]), %%ymm15\n\t"
        "vmovdqa 0(%[rk]), %%ymm8\n\t"
        "cmpb $240, (%[ctr])\n\t"
        "ja 2f\n\t"
        "vpshufb %%ymm9, %%ymm15, %%ymm15\n\t"
        A_CTR_BE(0) A_CTR_BE(1) A_CTR_BE(2) A_CTR_BE(3) A_CTR_BE(4) A_CTR_BE(5) A_CTR_BE(6)
        A_CTR_BE(7)
        "jmp 3f\n\t"
        "2:\n\t"
        A_CTR(0) A_CTR(1) A_CTR(2) A_CTR(3) A_CTR(4) A_CTR(5) A_CTR(6) A_CTR(7)
        "3:\n\t"
        "vmovdqu (%[ctr]), %%ymm15\n\t"
        "vpaddd 64(%[inc]), %%ymm15, %%ymm15\n\t"
        "vmovdqu %%ymm15, (%[ctr])\n\t"
        "vpxor %%ymm10, %%ymm10, %%ymm10\n\t"
        "vpxor %%ymm11, %%ymm11, %%ymm11\n\t"
        "vpxor %%ymm12, %%ymm12, %%ymm12\n\t"
        A_ROUND(1) A_GMUL(0, A_XIN) A_ROUND(2) A_GMUL(1, "") A_ROUND(3) A_GMUL(2, "")
        A_ROUND(4) A_GMUL(3, "") A_ROUND(5) A_GMUL(4, "") A_ROUND(6) A_GMUL(5, "")
        A_ROUND(7) A_GMUL(6, "") A_ROUND(8) A_GMUL(7, "") A_ROUND(9) A_REDUCE
        A_ROUND(10) A_ROUND(11) A_ROUND(12) A_ROUND(13)
        "vmovdqa 14*32(%[rk]), %%ymm8\n\t"
        A_LAST(0) A_LAST(1) A_LAST(2) A_LAST(3) A_LAST(4) A_LAST(5) A_LAST(6) A_LAST(7)
        "add $256, %[in]\n\t"
        "add $256, %[out]\n\t"
        "add $256, %[gp]\n\t"
        "dec %[n]\n\t"
        "jnz 1b\n\t"
        : [in] "+r"(in), [out] "+r"(out), [gp] "+r"(gp), [n] "+r"(nsteps)
        : [rk] "r"(ks->rk), [hp] "r"(ks->hpow[GCM_YPOW]), [hk] "r"(ks->hkar[GCM_YPOW / 2]),
          [ctr] "r"(ctr), [xp] "r"(xp), [mask] "r"(gcm_bswap_mask), [inc] "r"(gcm_inc),
          [poly] "r"(gcm_poly)
        : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
          "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/*
 * The whole steps with GHASH (|nsteps| >= 1) through the asm loop: the
 * counters and accumulator pass through memory. |gp| as gcm_steps_asm.
 */
GFN __m128i gcm_steps_hash(const struct eng_gcm_sched *ks, __m256i *ctr, const uint8_t *in,
                           uint8_t *out, const uint8_t *gp, __m128i x, size_t nsteps)
{
    uint8_t xb[16] __attribute__((aligned(16)));
    uint8_t cb[32] __attribute__((aligned(32)));
    _mm_store_si128((__m128i *)xb, x);
    _mm256_store_si256((__m256i *)cb, *ctr);
    gcm_steps_asm(ks, cb, in, out, gp, xb, nsteps);
    *ctr = _mm256_load_si256((const __m256i *)cb);
    return _mm_load_si128((const __m128i *)xb);
}

/*
 * The whole zmm steps of a unit through eng_gcm_bulk_zmm (counters and
 * accumulator through memory); advances |*in|, |*out| and |*len| past them.
 */
GFN __m128i gcm_bulk_zmm(const struct eng_gcm_sched *ks, int dec, __m256i *ctr, const uint8_t **in,
                         uint8_t **out, size_t *len, __m128i x)
{
    size_t ns = *len / ENG_GCM_ZMM_STEP_BYTES;
    if (ns == 0) {
        return x;
    }
    uint8_t xb[16] __attribute__((aligned(16)));
    uint8_t cb[32] __attribute__((aligned(32)));
    _mm_store_si128((__m128i *)xb, x);
    _mm256_store_si256((__m256i *)cb, *ctr);
    eng_gcm_bulk_zmm(ks, dec, cb, *in, *out, ns, xb);
    *ctr = _mm256_load_si256((const __m256i *)cb);
    *in += ns * ENG_GCM_ZMM_STEP_BYTES;
    *out += ns * ENG_GCM_ZMM_STEP_BYTES;
    *len -= ns * ENG_GCM_ZMM_STEP_BYTES;
    return _mm_load_si128((const __m128i *)xb);
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

/* GHASH of the AAD into |x|: aggregated steps, then single blocks. */
GFN __m128i gh_aad(const struct eng_gcm_sched *ks, __m128i x, const uint8_t *p, size_t len)
{
    for (; len >= GCM_STEP_BYTES; p += GCM_STEP_BYTES, len -= GCM_STEP_BYTES) {
        x = gh_step(ks, p, x);
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
GFN __m128i gcm_unit(const struct eng_gcm_sched *ks, const struct eng_unit *u, int dec, int zmm)
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
    const size_t step = GCM_STEP_BYTES;
    if (zmm) {
        x = gcm_bulk_zmm(ks, dec, &ctr, &in, &out, &len, x);
    }
    size_t ns = len / step;
    if (dec && ns > 0) {
        x = gcm_steps_hash(ks, &ctr, in, out, in, x, ns);
    } else if (ns > 0) {
        x = gcm_step(ks, &ctr, in, out, NULL, x);
        if (ns > 1) {
            x = gcm_steps_hash(ks, &ctr, in + step, out + step, out, x, ns - 1);
        }
        x = gh_step(ks, out + (ns - 1) * step, x);
    }
    in += ns * step;
    out += ns * step;
    len -= ns * step;
    if (len > 0) {
        /* 1..step-1 bytes: one more pass on a zero-padded copy; nothing outside the unit touched.
         */
        uint8_t buf[GCM_STEP_BYTES] __attribute__((aligned(32))) = {0};
        memcpy(buf, in, len);
        if (dec) {
            x = gh_tail(ks, x, buf, len);
        }
        (void)gcm_step(ks, &ctr, buf, buf, NULL, x);
        memcpy(out, buf, len);
        if (!dec) {
            x = gh_tail(ks, x, buf, len);
        }
        eng_cleanse(buf, sizeof(buf));
    }
    const __m128i lens =
        _mm_set_epi64x((long long)((uint64_t)u->aad_len * 8), (long long)((uint64_t)u->len * 8));
    x = gf_mul(_mm_xor_si128(x, lens), _mm_load_si128((const __m128i *)ks->hpow[ENG_GCM_HPOW - 1]));
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
        _mm256_store_si256((__m256i *)ks->zrk[r], k);
        _mm256_store_si256((__m256i *)(ks->zrk[r] + 32), k);
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

GFN void gcm_batch(const struct eng_gcm_sched *ks, int dec, int zmm, struct eng_unit *units,
                   size_t n)
{
    uint8_t tag[16] __attribute__((aligned(16)));
    for (size_t i = 0; i < n; i++) {
        struct eng_unit *u = &units[i];
        _mm_store_si128((__m128i *)tag, gcm_unit(ks, u, dec, zmm));
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
    const struct eng_gcm_sched *ks, int dec, int zmm, struct eng_unit *units, size_t n)
{
    /* One copy per direction and width, so that both are constants inside each. */
    if (dec) {
        if (zmm) {
            gcm_batch(ks, 1, 1, units, n);
        } else {
            gcm_batch(ks, 1, 0, units, n);
        }
    } else if (zmm) {
        gcm_batch(ks, 0, 1, units, n);
    } else {
        gcm_batch(ks, 0, 0, units, n);
    }
    clear_ymm();
}
