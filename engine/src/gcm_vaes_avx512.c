/*
 * gcm_vaes_avx512.c - the zmm GHASH + AES-CTR step of the native GCM
 * (ENG_ARCH_AVX512).
 *
 * The same step as gcm_step_asm in gcm_vaes_avx2.c (16 blocks, one
 * reduction, the GHASH multiplications between the AES rounds), with four
 * blocks per zmm register: four AES registers instead of eight, half the
 * instructions. Everything else of a unit (AAD, the first encryption step,
 * tails, the tag) is the ymm code: gcm_vaes_avx2.c calls this step only when
 * the cipher's path is avx512. Registers: zmm0-3 the AES state, zmm8 the
 * round key, zmm9 the byte-swap mask, zmm10/11/12 the lo/hi/Karatsuba sums,
 * zmm13-15 temporaries; the counters ([c, c+1], reflected) and the GHASH
 * accumulator pass through memory, as in the ymm step.
 */
#include "gcm_internal.h"

#define GCM_AVX512_TARGET "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,avx2,avx,aes,pclmul"

#if ENG_GCM_HPOW != 16
#error "the zmm step is written for 16 blocks per step"
#endif

static const uint8_t z_bswap_mask[64] __attribute__((aligned(64))) = {
    15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10,
    9,  8,  7,  6,  5,  4,  3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4,
    3,  2,  1,  0,  15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
/* lanes 2 and 3 of the broadcast [c, c+1] become c+2, c+3; then +4 per register */
static const uint32_t z_lane_inc[16] __attribute__((aligned(64))) = {0, 0, 0, 0, 0, 0, 0, 0,
                                                                      2, 0, 0, 0, 2, 0, 0, 0};
static const uint32_t z_four[16] __attribute__((aligned(64))) = {4, 0, 0, 0, 4, 0, 0, 0,
                                                                  4, 0, 0, 0, 4, 0, 0, 0};
static const uint64_t z_poly[2] __attribute__((aligned(16))) = {1, 0xc200000000000000ULL};

#define Z_CTR(i)                                                                                   \
    "vpshufb %%zmm9, %%zmm15, %%zmm" #i "\n\t"                                                     \
    "vpxord %%zmm8, %%zmm" #i ", %%zmm" #i "\n\t"                                                  \
    "vpaddd (%[four]), %%zmm15, %%zmm15\n\t"
#define Z_ENC(i) "vaesenc %%zmm8, %%zmm" #i ", %%zmm" #i "\n\t"
#define Z_ROUND(r)                                                                                 \
    "vbroadcasti32x4 " #r "*32(%[rk]), %%zmm8\n\t" Z_ENC(0) Z_ENC(1) Z_ENC(2) Z_ENC(3)
#define Z_GMUL(r, xin)                                                                             \
    "vmovdqu64 " #r "*64(%[gp]), %%zmm13\n\t"                                                      \
    "vpshufb %%zmm9, %%zmm13, %%zmm13\n\t" xin                                                     \
    "vpclmulqdq $0x00, " #r "*64(%[hp]), %%zmm13, %%zmm14\n\t"                                     \
    "vpxord %%zmm14, %%zmm10, %%zmm10\n\t"                                                         \
    "vpclmulqdq $0x11, " #r "*64(%[hp]), %%zmm13, %%zmm14\n\t"                                     \
    "vpxord %%zmm14, %%zmm11, %%zmm11\n\t"                                                         \
    "vpshufd $0x4e, %%zmm13, %%zmm14\n\t"                                                          \
    "vpxord %%zmm13, %%zmm14, %%zmm14\n\t"                                                         \
    "vpclmulqdq $0x00, " #r "*64(%[hk]), %%zmm14, %%zmm14\n\t"                                     \
    "vpxord %%zmm14, %%zmm12, %%zmm12\n\t"
#define Z_XIN                                                                                      \
    "vmovdqa (%[xp]), %%xmm14\n\t"                                                                 \
    "vpxord %%zmm14, %%zmm13, %%zmm13\n\t"
#define Z_FOLD(r)                                                                                  \
    "vextracti64x4 $1, %%zmm" #r ", %%ymm13\n\t"                                                   \
    "vpxor %%ymm13, %%ymm" #r ", %%ymm" #r "\n\t"                                                  \
    "vextracti128 $1, %%ymm" #r ", %%xmm13\n\t"                                                    \
    "vpxor %%xmm13, %%xmm" #r ", %%xmm" #r "\n\t"
#define Z_REDUCE                                                                                   \
    Z_FOLD(10) Z_FOLD(11) Z_FOLD(12)                                                               \
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
#define Z_LAST(i)                                                                                  \
    "vpxord " #i "*64(%[in]), %%zmm8, %%zmm13\n\t"                                                 \
    "vaesenclast %%zmm13, %%zmm" #i ", %%zmm" #i "\n\t"                                            \
    "vmovdqu64 %%zmm" #i ", " #i "*64(%[out])\n\t"

__attribute__((target(GCM_AVX512_TARGET))) void eng_gcm_step_zmm(const struct eng_gcm_sched *ks,
                                                                 uint8_t ctr[32],
                                                                 const uint8_t *in, uint8_t *out,
                                                                 const uint8_t *gp, uint8_t xp[16])
{
    __asm__ __volatile__(
        "vmovdqa64 (%[mask]), %%zmm9\n\t"
        "vbroadcasti64x4 (%[ctr]), %%zmm15\n\t"
        "vpaddd (%[inc]), %%zmm15, %%zmm15\n\t"
        "vbroadcasti32x4 0(%[rk]), %%zmm8\n\t"
        Z_CTR(0) Z_CTR(1) Z_CTR(2) Z_CTR(3)
        "vmovdqu %%ymm15, (%[ctr])\n\t"
        "vpxor %%xmm10, %%xmm10, %%xmm10\n\t"
        "vpxor %%xmm11, %%xmm11, %%xmm11\n\t"
        "vpxor %%xmm12, %%xmm12, %%xmm12\n\t"
        Z_ROUND(1) Z_GMUL(0, Z_XIN) Z_ROUND(2) Z_ROUND(3) Z_GMUL(1, "") Z_ROUND(4)
        Z_ROUND(5) Z_GMUL(2, "") Z_ROUND(6) Z_ROUND(7) Z_GMUL(3, "") Z_ROUND(8)
        Z_ROUND(9) Z_REDUCE Z_ROUND(10) Z_ROUND(11) Z_ROUND(12) Z_ROUND(13)
        "vbroadcasti32x4 14*32(%[rk]), %%zmm8\n\t"
        Z_LAST(0) Z_LAST(1) Z_LAST(2) Z_LAST(3)
        :
        : [rk] "r"(ks->rk), [hp] "r"(ks->hpow), [hk] "r"(ks->hkar), [ctr] "r"(ctr),
          [in] "r"(in), [out] "r"(out), [gp] "r"(gp), [xp] "r"(xp), [mask] "r"(z_bswap_mask),
          [inc] "r"(z_lane_inc), [four] "r"(z_four), [poly] "r"(z_poly)
        : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
          "xmm13", "xmm14", "xmm15");
}
