/*
 * ceiling.c - the AES throughput ceiling of this CPU at a vector width.
 *
 * Plain AES-256 (14 rounds) over CEIL_STREAMS (8) independent streams: eight
 * registers of 1 (xmm, AES-NI), 2 (ymm, VAES) or 4 (zmm, VAES + AVX-512)
 * blocks, each encrypted (decrypt cells: decrypted) on its own, reading the
 * group's input and writing its output buffer like the cipher cells beside
 * it. Nothing else is done per block: no tweak, no counter, no hash, so this
 * is the limit an XTS or GCM kernel of that width can approach. The round
 * keys are 15 random 128-bit values (the time of AESENC/AESDEC does not
 * depend on them), each stored broadcast to 64 bytes and used as a memory
 * operand, as the engine's kernels use theirs. Every function is compiled
 * for its own width only (target attribute); the bench calls one only when
 * the CPU has that width within the ENG_ARCH cap (bench_ceiling_supported):
 * xmm from avx, ymm from vaes-avx2, zmm from avx512.
 */
#include <immintrin.h>

#include "bench.h"
#include "eng_cpu.h"

#define CEIL_STREAMS BENCH_CEILING_STREAMS

const char *bench_ceiling_width_name(int width_bits)
{
    return width_bits == 512 ? "zmm" : width_bits == 256 ? "ymm" : "xmm";
}

int bench_ceiling_supported(int width_bits)
{
    /* the CPU's paths as ENG_ARCH caps them (ENG_ARCH=vaes-avx2: ymm at most) */
    enum eng_arch a;
    if (eng_arch_effective(ENG_ARCH_AUTO, &a) != 0) {
        return 0;
    }
    switch (width_bits) {
        case 128:
            return a >= ENG_ARCH_AVX;
        case 256:
            return a >= ENG_ARCH_VAES_AVX2;
        case 512:
            return a >= ENG_ARCH_AVX512;
        default:
            return 0;
    }
}

int bench_ceiling_widest(void)
{
    return bench_ceiling_supported(512) ? 512 : bench_ceiling_supported(256) ? 256 : 128;
}

size_t bench_ceiling_chunk(int width_bits)
{
    return (size_t)CEIL_STREAMS * (size_t)width_bits / 8;
}

#define CEIL_FN(target_str) static inline __attribute__((always_inline, target(target_str)))

/*
 * One pass over |len| bytes at one width: CEIL_STREAMS registers of |bytes|
 * bytes per step, 14 rounds each. Instantiated below with each width's
 * intrinsics (the loads and stores take void pointers).
 */
#define CEIL_PASS(name, tgt, vec, bytes, load, loadu, storeu, vxor, enc, dec_, enclast, declast) \
    CEIL_FN(tgt)                                                                                 \
    void name(const uint8_t(*rk)[64], int dec, const uint8_t *in, uint8_t *out, size_t len)      \
    {                                                                                            \
        for (size_t off = 0; off + (bytes)*CEIL_STREAMS <= len; off += (bytes)*CEIL_STREAMS) {   \
            __asm__("" : "+r"(rk)); /* the keys stay memory operands */                          \
            vec x[CEIL_STREAMS];                                                                 \
            const vec k0 = load((const void *)rk[0]);                                            \
            _Pragma("GCC unroll 8") for (int j = 0; j < CEIL_STREAMS; j++)                       \
            {                                                                                    \
                x[j] = vxor(loadu((const void *)(in + off + (bytes)*j)), k0);                    \
            }                                                                                    \
            _Pragma("GCC unroll 13") for (int r = 1; r < 14; r++)                                \
            {                                                                                    \
                const vec k = load((const void *)rk[r]);                                         \
                _Pragma("GCC unroll 8") for (int j = 0; j < CEIL_STREAMS; j++)                   \
                {                                                                                \
                    x[j] = dec ? dec_(x[j], k) : enc(x[j], k);                                   \
                }                                                                                \
            }                                                                                    \
            const vec kl = load((const void *)rk[14]);                                           \
            _Pragma("GCC unroll 8") for (int j = 0; j < CEIL_STREAMS; j++)                       \
            {                                                                                    \
                storeu((void *)(out + off + (bytes)*j),                                          \
                       dec ? declast(x[j], kl) : enclast(x[j], kl));                             \
            }                                                                                    \
        }                                                                                        \
    }

CEIL_PASS(xmm_pass, "avx,aes", __m128i, 16, _mm_load_si128, _mm_loadu_si128, _mm_storeu_si128,
          _mm_xor_si128, _mm_aesenc_si128, _mm_aesdec_si128, _mm_aesenclast_si128,
          _mm_aesdeclast_si128)
CEIL_PASS(ymm_pass, "avx2,vaes", __m256i, 32, _mm256_load_si256, _mm256_loadu_si256,
          _mm256_storeu_si256, _mm256_xor_si256, _mm256_aesenc_epi128, _mm256_aesdec_epi128,
          _mm256_aesenclast_epi128, _mm256_aesdeclast_epi128)
CEIL_PASS(zmm_pass, "avx512f,vaes", __m512i, 64, _mm512_load_si512, _mm512_loadu_si512,
          _mm512_storeu_si512, _mm512_xor_si512, _mm512_aesenc_epi128, _mm512_aesdec_epi128,
          _mm512_aesenclast_epi128, _mm512_aesdeclast_epi128)

/* One function per width and direction, so that the direction is a constant in each. */
static __attribute__((target("avx,aes"))) void xmm_run(const uint8_t (*rk)[64], int dec,
                                                       const uint8_t *in, uint8_t *out, size_t len)
{
    if (dec) {
        xmm_pass(rk, 1, in, out, len);
    } else {
        xmm_pass(rk, 0, in, out, len);
    }
}

static __attribute__((target("avx2,vaes"))) void ymm_run(const uint8_t (*rk)[64], int dec,
                                                         const uint8_t *in, uint8_t *out,
                                                         size_t len)
{
    if (dec) {
        ymm_pass(rk, 1, in, out, len);
    } else {
        ymm_pass(rk, 0, in, out, len);
    }
    _mm256_zeroupper();
}

static __attribute__((target("avx512f,vaes"))) void zmm_run(const uint8_t (*rk)[64], int dec,
                                                            const uint8_t *in, uint8_t *out,
                                                            size_t len)
{
    if (dec) {
        zmm_pass(rk, 1, in, out, len);
    } else {
        zmm_pass(rk, 0, in, out, len);
    }
    _mm256_zeroupper();
}

int bench_ceiling_run(int width_bits, int dec, const uint8_t (*rk)[64], const uint8_t *in,
                      uint8_t *out, size_t len)
{
    if (!bench_ceiling_supported(width_bits) || len % bench_ceiling_chunk(width_bits) != 0) {
        return -1;
    }
    switch (width_bits) {
        case 512:
            zmm_run(rk, dec, in, out, len);
            break;
        case 256:
            ymm_run(rk, dec, in, out, len);
            break;
        default:
            xmm_run(rk, dec, in, out, len);
            break;
    }
    return 0;
}
