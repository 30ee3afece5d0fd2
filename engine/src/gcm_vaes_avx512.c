/*
 * gcm_vaes_avx512.c - the zmm AES-CTR + GHASH bulk loop of the native GCM
 * (ENG_ARCH_AVX512).
 *
 * The same design as the ymm kernel (gcm_vaes_avx2.c: reflected blocks, the
 * hash key stored times x, Karatsuba with precomputed (hi ^ lo) halves of
 * the powers, one reduction per step, the GHASH multiplications spread
 * between the AES rounds), with four blocks per zmm register and eight AES
 * registers per step: 32 blocks in flight, as many as the AES ceiling cell
 * keeps, so that the VPCLMULQDQ and the shuffles of the hash fill the gaps
 * of the AES pipes instead of stretching the latency chain of each round
 * (with 4 zmm registers per step, 16 blocks, the same loop ran 8.7 GB/s
 * encrypt at 8 KiB on the Zen 4 class CPU of 2026-12-07; see the commit).
 * The 32 blocks are hashed with H^32 .. H^1 (the key schedule keeps 32
 * powers) and reduced once. Decryption hashes the ciphertext it loads;
 * encryption hashes the previous step's ciphertext, kept in registers, and
 * the last step's after the loop. Written with intrinsics: AVX-512 has 32
 * vector registers, enough that nothing spills (checked in the object: the
 * loop has no stack access). Everything else of a unit (AAD, the steps left
 * over, the tail, the tag) is the ymm code, which calls this first.
 */
#include "gcm_internal.h"

#define GCM_AVX512_TARGET "avx512f,avx512bw,avx512vl,avx512dq,vaes,vpclmulqdq,avx2,avx,aes,pclmul"
#define ZFN               static inline __attribute__((always_inline, target(GCM_AVX512_TARGET)))

/* AES registers (4 blocks each) per step: one GHASH power per block. */
#define Z_NREG (ENG_GCM_HPOW / 4)

ZFN __m512i z_bswap(__m512i x)
{
    const __m512i m =
        _mm512_broadcast_i32x4(_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    return _mm512_shuffle_epi8(x, m);
}

ZFN __m512i z_rk(const struct eng_gcm_sched *ks, int r)
{
    return _mm512_load_si512((const void *)ks->zrk[r]);
}

/* The unreduced products of one step's 32 blocks. */
struct z_acc {
    __m512i lo, hi, mk;
};

/* Adds the products of register |j| of a step (4 reflected blocks |d|) times H^(32-4j) .. */
ZFN void z_mul_acc(const struct eng_gcm_sched *ks, struct z_acc *a, __m512i d, int j)
{
    const __m512i h = _mm512_load_si512((const void *)ks->hpow[4 * j]);
    const __m512i hk = _mm512_load_si512((const void *)ks->hkar[2 * j]);
    ENG_GCM_MUL_ACC(_mm512, si512, a, d, h, hk, j == 0);
}

ZFN __m128i z_fold(__m512i v)
{
    __m256i t = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    return _mm_xor_si128(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

/* The reduced sum of a step's products: the new accumulator. */
ZFN __m128i z_finish(const struct z_acc *a)
{
    return eng_gcm_finish(z_fold(a->lo), z_fold(a->hi), z_fold(a->mk));
}

/* Register |j| of the step to hash: reflected, the accumulator XORed into block 0. */
ZFN __m512i z_hash_in(__m512i c, __m128i x, int j)
{
    c = z_bswap(c);
    return j == 0 ? _mm512_xor_si512(c, _mm512_zextsi128_si512(x)) : c;
}

/* GHASH of the 32 blocks in |c| (ciphertext as stored) into |x|, no AES. */
ZFN __m128i z_hash(const struct eng_gcm_sched *ks, const __m512i c[Z_NREG], __m128i x)
{
    struct z_acc a;
    _Pragma("GCC unroll 8") for (int j = 0; j < Z_NREG; j++)
    {
        z_mul_acc(ks, &a, z_hash_in(c[j], x, j), j);
    }
    return z_finish(&a);
}

/*
 * One step: the keystream of the counters from |*ctr| (reflected [c .. c+3],
 * advanced by 32) XORed with |in| into |out|, the ciphertext also left in
 * |ct|; with |hash| set, the GHASH of the step's ciphertext |hc| (the
 * previous step's, or |in| when |dec|) folded into |x| between the rounds.
 */
ZFN __m128i z_step(const struct eng_gcm_sched *ks, int dec, int hash, __m512i *ctr,
                   const uint8_t *in, uint8_t *out, __m512i ct[Z_NREG], __m128i x)
{
    const __m512i k0 = z_rk(ks, 0);
    __m512i s[Z_NREG];
    if ((_mm_cvtsi128_si32(_mm512_castsi512_si128(*ctr)) & 0xff) <= 256 - 4 * Z_NREG) {
        /* no carry out of the counters' last byte in this step: one byte swap, then each
           register's counters are the previous ones plus 4 in that byte (big-endian form) */
        const __m512i four_be = _mm512_broadcast_i32x4(_mm_set_epi32(4 << 24, 0, 0, 0));
        __m512i b = z_bswap(*ctr);
        _Pragma("GCC unroll 8") for (int j = 0; j < Z_NREG; j++)
        {
            s[j] = _mm512_xor_si512(b, k0);
            b = _mm512_add_epi32(b, four_be);
        }
    } else {
        const __m512i four = _mm512_broadcast_i32x4(_mm_set_epi32(0, 0, 0, 4));
        __m512i c = *ctr;
        _Pragma("GCC unroll 8") for (int j = 0; j < Z_NREG; j++)
        {
            s[j] = _mm512_xor_si512(z_bswap(c), k0);
            c = _mm512_add_epi32(c, four);
        }
    }
    *ctr = _mm512_add_epi32(*ctr, _mm512_broadcast_i32x4(_mm_set_epi32(0, 0, 0, 4 * Z_NREG)));
    struct z_acc a;
    _Pragma("GCC unroll 16") for (int r = 1; r < ENG_AES256_ROUNDS; r++)
    {
        const __m512i k = z_rk(ks, r);
        _Pragma("GCC unroll 8") for (int j = 0; j < Z_NREG; j++)
        {
            s[j] = _mm512_aesenc_epi128(s[j], k);
        }
        /* the multiplications of register r - 1 after round r, the reduction after round 9 */
        if (hash && r <= Z_NREG) {
            const int j = r - 1;
            __m512i c = _mm512_loadu_si512(
                (const void *)((dec ? in : out - ENG_GCM_ZMM_STEP_BYTES) + 64 * j));
            z_mul_acc(ks, &a, z_hash_in(c, x, j), j);
        }
        if (hash && r == Z_NREG + 1) {
            x = z_finish(&a);
        }
    }
    const __m512i kl = z_rk(ks, ENG_AES256_ROUNDS);
    _Pragma("GCC unroll 8") for (int j = 0; j < Z_NREG; j++)
    {
        __m512i d = _mm512_loadu_si512((const void *)(in + 64 * j));
        ct[j] = _mm512_aesenclast_epi128(s[j], _mm512_xor_si512(kl, d));
        _mm512_storeu_si512((void *)(out + 64 * j), ct[j]);
    }
    return x;
}

/* The loop, one copy per direction (|dec| a constant in each). */
ZFN __m128i z_bulk(const struct eng_gcm_sched *ks, int dec, __m512i *ctr, const uint8_t *in,
                   uint8_t *out, size_t nsteps, __m128i x)
{
    __m512i ct[Z_NREG];
    size_t i = 0;
    if (!dec) {
        x = z_step(ks, 0, 0, ctr, in, out, ct, x);
        i = 1;
    }
    for (; i < nsteps; i++) {
        x = z_step(ks, dec, 1, ctr, in + i * ENG_GCM_ZMM_STEP_BYTES,
                   out + i * ENG_GCM_ZMM_STEP_BYTES, ct, x);
    }
    return dec ? x : z_hash(ks, ct, x);
}

__attribute__((target(GCM_AVX512_TARGET))) void eng_gcm_bulk_zmm(const struct eng_gcm_sched *ks,
                                                                 int dec, uint8_t ctr[32],
                                                                 const uint8_t *in, uint8_t *out,
                                                                 size_t nsteps, uint8_t xp[16])
{
    if (nsteps == 0) {
        return;
    }
    /* [c, c+1] in both halves, then lanes 2 and 3 advanced by 2: [c, c+1, c+2, c+3] */
    __m512i c = _mm512_broadcast_i64x4(_mm256_load_si256((const __m256i *)ctr));
    c = _mm512_add_epi32(c, _mm512_set_epi32(0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0));
    __m128i x = _mm_load_si128((const __m128i *)xp);
    x = dec ? z_bulk(ks, 1, &c, in, out, nsteps, x) : z_bulk(ks, 0, &c, in, out, nsteps, x);
    _mm256_store_si256((__m256i *)ctr, _mm512_castsi512_si256(c));
    _mm_store_si128((__m128i *)xp, x);
    eng_clear_zmm();
}
