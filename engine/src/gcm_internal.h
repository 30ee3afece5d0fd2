/*
 * gcm_internal.h - the native AES-256-GCM kernels behind be_native.c.
 *
 * Same rules as xts_internal.h: each kernel file compiles its functions with
 * a per-function __attribute__((target(...))), and be_native.c calls a
 * kernel only for a path the CPU has.
 */
#ifndef ENG_GCM_INTERNAL_H
#define ENG_GCM_INTERNAL_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "eng_cipher.h"
#include "xts_internal.h"

/*
 * Powers of the hash key kept: the zmm kernel reduces once per this many
 * blocks (8 zmm registers); the ymm kernel once per ENG_GCM_YMM_BLOCKS (8 ymm
 * registers) with the last ENG_GCM_YMM_BLOCKS powers.
 */
#define ENG_GCM_HPOW       32
#define ENG_GCM_YMM_BLOCKS 16

/*
 * The expanded GCM key, in secure memory (64-byte aligned).
 *   rk    AES-256 encryption round keys 0..14, each broadcast to both
 *         128-bit lanes (plain 32-byte memory operands for the ymm kernel;
 *         the xmm code reads the low 16 bytes)
 *   hpow  H^32, H^31, .. H^1 (hpow[i] = H^(32-i)), where H = AES_K(0^128),
 *         each byte-reflected and multiplied by x (the form the carry-less
 *         multiplication with one-step reduction needs; see gcm_vaes_avx2.c)
 *   hkar  per pair of powers (lanes of one ymm), the XOR of the two 64-bit
 *         halves of each power in both qwords (Karatsuba middle products)
 *   zrk   the round keys broadcast to four lanes (the zmm kernel's plain
 *         64-byte memory operands: a broadcast load costs a vector ALU slot
 *         on AMD Zen 4, where it competes with the AES pipes)
 * hpow, hkar and zrk come first, so that the zmm kernel's 64-byte loads are aligned.
 */
struct eng_gcm_sched {
    uint8_t hpow[ENG_GCM_HPOW][16];
    uint8_t hkar[ENG_GCM_HPOW / 2][32];
    uint8_t zrk[ENG_AES256_RK][64];
    uint8_t rk[ENG_AES256_RK][32];
} __attribute__((aligned(64)));

/*
 * eng_gcm_vaes_avx2_init fills |ks| from the 32-byte key (call only when the
 * CPU has VAES + VPCLMULQDQ + AVX2). Leaves no key material in registers.
 */
void eng_gcm_vaes_avx2_init(struct eng_gcm_sched *ks, const uint8_t key[ENG_AES256_KEY_BYTES]);

/*
 * eng_gcm_batch_vaes_avx2 encrypts (|dec| == 0: writes each unit's tag,
 * tag_len bytes) or decrypts and verifies every unit (validated by cipher.c:
 * 12-byte nonce, tag_len resolved to 4, 8 or 12..16). Sets each unit's
 * status: ENG_OK, or ENG_ERR_AUTH with the unit's output zeroed.
 */
void eng_gcm_batch_vaes_avx2(const struct eng_gcm_sched *ks, int dec, int zmm,
                             struct eng_unit *units, size_t n);

/* Bytes of one step of the zmm kernel (8 zmm registers of 4 blocks). */
#define ENG_GCM_ZMM_STEP_BYTES (16 * ENG_GCM_HPOW)

/*
 * eng_gcm_bulk_zmm (gcm_vaes_avx512.c; call only on a CPU with AVX-512,
 * VAES and VPCLMULQDQ): the |nsteps| * ENG_GCM_ZMM_STEP_BYTES bytes at |in|
 * encrypted (|dec| == 0) or decrypted into |out| (same or disjoint), with
 * the counters from |ctr| (reflected [c, c+1] as the ymm kernel keeps them;
 * advanced past the blocks used) and the GHASH of the ciphertext folded into
 * the accumulator at |xp| (reflected, 16-byte aligned), all of it: the caller
 * continues with the ymm kernel for the rest of the unit. Clears every
 * vector register it used (zmm0..31) before it returns.
 */
void eng_gcm_bulk_zmm(const struct eng_gcm_sched *ks, int dec, uint8_t ctr[32], const uint8_t *in,
                      uint8_t *out, size_t nsteps, uint8_t xp[16]);

/*
 * Reduces the 256-bit carry-less product (lo, mi at bits 64..191, hi) of two
 * reflected blocks, one of them stored times x, modulo the GCM polynomial:
 * two multiplications by 0xc2000000_00000000 and two 64-bit swaps. Shared by
 * the ymm and zmm kernels (inlined into each with its own target).
 */
static inline __attribute__((always_inline, target("pclmul,avx"))) __m128i eng_gcm_reduce(
    __m128i lo, __m128i mi, __m128i hi)
{
    const __m128i poly = _mm_set_epi64x((long long)0xc200000000000000ULL, 1);
    __m128i t = _mm_clmulepi64_si128(poly, lo, 0x01);
    mi = _mm_xor_si128(mi, _mm_xor_si128(t, _mm_shuffle_epi32(lo, 0x4e)));
    t = _mm_clmulepi64_si128(poly, mi, 0x01);
    return _mm_xor_si128(hi, _mm_xor_si128(t, _mm_shuffle_epi32(mi, 0x4e)));
}

/* The reduced sum of folded Karatsuba products (lo, hi, mk = middle before correction). */
static inline __attribute__((always_inline, target("pclmul,avx"))) __m128i eng_gcm_finish(
    __m128i lo, __m128i hi, __m128i mk)
{
    return eng_gcm_reduce(lo, _mm_xor_si128(mk, _mm_xor_si128(lo, hi)), hi);
}

/*
 * ENG_GCM_MUL_ACC adds to the unreduced sums a->lo, a->hi, a->mk (assigns
 * them when |first|) the Karatsuba products of the reflected blocks |d|
 * with the powers |h| (hk: each power's two halves XORed, in both qwords),
 * one block per 128-bit lane: lo = d_lo h_lo, hi = d_hi h_hi, mk =
 * (d_lo ^ d_hi)(h_lo ^ h_hi). |P| and |S| name the width's intrinsics
 * (_mm256, si256 or _mm512, si512). The sums are formed at once (an empty
 * asm pins them): left to itself the compiler kept the products apart and
 * spilled them in the zmm loop.
 */
#define ENG_GCM_MUL_ACC(P, S, a, d, h, hk, first)                                              \
    do {                                                                                       \
        __typeof__(d) lo_ = P##_clmulepi64_epi128((d), (h), 0x00);                             \
        __typeof__(d) hi_ = P##_clmulepi64_epi128((d), (h), 0x11);                             \
        __typeof__(d) mk_ =                                                                    \
            P##_clmulepi64_epi128(P##_xor_##S((d), P##_shuffle_epi32((d), 0x4e)), (hk), 0x00); \
        if (first) {                                                                           \
            (a)->lo = lo_;                                                                     \
            (a)->hi = hi_;                                                                     \
            (a)->mk = mk_;                                                                     \
        } else {                                                                               \
            (a)->lo = P##_xor_##S((a)->lo, lo_);                                               \
            (a)->hi = P##_xor_##S((a)->hi, hi_);                                               \
            (a)->mk = P##_xor_##S((a)->mk, mk_);                                               \
        }                                                                                      \
        __asm__("" : "+v"((a)->lo), "+v"((a)->hi), "+v"((a)->mk));                             \
    } while (0)

#endif /* ENG_GCM_INTERNAL_H */
