/*
 * xts_vaes.c - the VAES + AVX-512 XTS kernel (ENG_ARCH_AVX512).
 *
 * Organisation:
 *   - lanes: four 128-bit blocks per zmm register, one per 128-bit lane;
 *   - interleave: XTS_VAES_REGS (8) zmm registers per step, so 32 blocks
 *     (512 bytes) are in flight: with a VAESENC latency of about four
 *     cycles and two issued per cycle, eight independent registers keep the
 *     AES units busy without relying on overlap between steps;
 *   - round keys: taken from the schedule as plain 64-byte memory operands
 *     (pre-broadcast at key setup, see struct eng_xts_zdir), never held in
 *     registers the compiler could spill to the stack; the schedule pointer
 *     is laundered once per step so that the loads are not hoisted;
 *   - tweak schedule: at the start of a unit the encrypted tweak T is
 *     broadcast and lane l of register r gets T*x^(4r+l) with per-lane
 *     variable shifts (VPSLLVQ/VPSRLVQ) and one VPCLMULQDQ for the bits
 *     shifted out of bit 127; at every step each register is multiplied by
 *     x^32 (VPSLLDQ by four bytes per lane, plus VPCLMULQDQ of the four bytes
 *     shifted out by 0x87), all 32 chains in parallel, computed at the top
 *     of the step so that they are ready long before the next one;
 *   - the kernel carries u = T ^ k14 instead of T (see struct eng_xts_zdir):
 *     round 0 is one VPTERNLOGQ (in ^ u ^ (k0 ^ k14)), the last round is
 *     VAESENCLAST(x, u) with no XOR after it;
 *   - the last 1..31 whole blocks of a unit use AVX-512BW masked loads and
 *     stores, so nothing outside the unit is read or written;
 *   - the key2 encryption of the tweaks is batched over sixteen units at a
 *     time (four registers);
 *   - ciphertext stealing (len % 16 != 0) runs on single xmm blocks with
 *     AES-NI and byte-masked loads and stores at the end: encryption uses the
 *     tweaks of positions m-1 then m, decryption m then m-1 (IEEE 1619-2007
 *     5.4.2).
 * The encrypted tweaks of a group of units are wiped after use, no call is
 * made while tweak values are live in registers, and every zmm register is
 * zeroed before the batch returns.
 */
#include <immintrin.h>
#include <string.h>

#include "eng_secure.h"
#include "xts_internal.h"

#define VAES_TARGET "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmul,sse4.1,avx2"
#define VFN         static inline __attribute__((always_inline, target(VAES_TARGET)))

/* zmm registers per step (4 or 8): 4 * XTS_VAES_REGS blocks in flight. */
#ifndef XTS_VAES_REGS
#define XTS_VAES_REGS 8
#endif
#define VR      XTS_VAES_REGS
#define VBLOCKS (4 * VR)

VFN __m512i v_load(const uint8_t p[64])
{
    return _mm512_load_si512((const void *)p);
}

/* Multiply each lane of |b| by x^k, k given per qword (0..63) in |k|, with 64-k in |k64|. */
VFN __m512i v_mul_xk(__m512i b, __m512i k, __m512i k64, __m512i poly)
{
    __m512i sh = _mm512_sllv_epi64(b, k);
    __m512i carry = _mm512_srlv_epi64(_mm512_bslli_epi128(b, 8), k64); /* lo -> hi */
    __m512i over = _mm512_srlv_epi64(_mm512_bsrli_epi128(b, 8), k64);  /* bits out of 127 */
    return _mm512_ternarylogic_epi64(sh, carry, _mm512_clmulepi64_epi128(over, poly, 0x00), 0x96);
}

/*
 * M(t) ^ e, M = multiplication of each lane by x^VBLOCKS: a byte shift per
 * lane, and the bytes shifted out times 0x87.
 */
VFN __m512i v_mul_step_xor(__m512i t, __m512i poly, __m512i e)
{
    __m512i hi = _mm512_bsrli_epi128(t, 16 - VBLOCKS / 8);
    return _mm512_ternarylogic_epi64(_mm512_bslli_epi128(t, VBLOCKS / 8),
                                     _mm512_clmulepi64_epi128(hi, poly, 0x00), e, 0x96);
}

/* T * x for one block (CTS). */
VFN __m128i x_mul_x(__m128i t)
{
    __m128i m = _mm_srai_epi32(t, 31);
    m = _mm_shuffle_epi32(m, 0x93);
    m = _mm_and_si128(m, _mm_set_epi32(1, 1, 1, 0x87));
    return _mm_xor_si128(_mm_slli_epi32(t, 1), m);
}

/* XTS of VBLOCKS blocks held in x[] with carried tweaks u[] (u = T ^ k14). */
VFN void v_xts(const struct eng_xts_zdir *z, int dec, __m512i x[VR], const __m512i u[VR])
{
    const __m512i c = v_load(z->c);
#pragma GCC unroll 8
    for (int j = 0; j < VR; j++) {
        x[j] = _mm512_ternarylogic_epi64(x[j], u[j], c, 0x96);
    }
#pragma GCC unroll 13
    for (int r = 1; r < ENG_AES256_ROUNDS; r++) {
        const __m512i k = v_load(z->rk[r]);
#pragma GCC unroll 8
        for (int j = 0; j < VR; j++) {
            x[j] = dec ? _mm512_aesdec_epi128(x[j], k) : _mm512_aesenc_epi128(x[j], k);
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < VR; j++) {
        x[j] = dec ? _mm512_aesdeclast_epi128(x[j], u[j]) : _mm512_aesenclast_epi128(x[j], u[j]);
    }
}

/* One block with AES-NI: AES(x ^ tw) ^ tw. */
VFN __m128i x_block1(const uint8_t (*rk)[16], int dec, __m128i x, __m128i tw)
{
    x = _mm_ternarylogic_epi64(x, tw, _mm_load_si128((const __m128i *)rk[0]), 0x96);
#pragma GCC unroll 13
    for (int r = 1; r < ENG_AES256_ROUNDS; r++) {
        __m128i kr = _mm_load_si128((const __m128i *)rk[r]);
        x = dec ? _mm_aesdec_si128(x, kr) : _mm_aesenc_si128(x, kr);
    }
    __m128i kl = _mm_xor_si128(tw, _mm_load_si128((const __m128i *)rk[ENG_AES256_ROUNDS]));
    return dec ? _mm_aesdeclast_si128(x, kl) : _mm_aesenclast_si128(x, kl);
}

/* Byte mask covering |blocks| (0..4) blocks of one register. */
VFN __mmask64 v_mask(size_t blocks)
{
    return blocks >= 4 ? ~(__mmask64)0 : (((__mmask64)1 << (16 * blocks)) - 1);
}

VFN void v_unit(const struct eng_xts_sched *ks, int dec, const uint8_t *in, uint8_t *out,
                size_t len, __m128i t0)
{
    const struct eng_xts_zdir *z = &ks->z[dec];
    const __m512i poly = _mm512_set_epi64(0, 0x87, 0, 0x87, 0, 0x87, 0, 0x87);
    const size_t tail = len % 16;
    const size_t nb = len / 16 - (tail != 0);
    /* Lane l of register j: T * x^(4j + l), carried as u = T ^ k14. */
    const __m512i b = _mm512_broadcast_i32x4(t0);
    const __m512i lane = _mm512_set_epi64(3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i c64 = _mm512_set1_epi64(64);
    const __m512i kl = v_load(z->rk[ENG_AES256_ROUNDS]);
    __m512i u[VR];
    __m512i x[VR];
#pragma GCC unroll 8
    for (int j = 0; j < VR; j++) {
        __m512i kk = _mm512_add_epi64(lane, _mm512_set1_epi64(4 * j));
        u[j] = _mm512_xor_si512(v_mul_xk(b, kk, _mm512_sub_epi64(c64, kk), poly), kl);
    }
    size_t i = 0;
    for (; i + VBLOCKS <= nb; i += VBLOCKS) {
        const uint8_t *ip = in + 16 * i;
        uint8_t *op = out + 16 * i;
        /* Keep the compiler from hoisting the round keys into registers. */
        __asm__("" : "+r"(z));
        /* The next step's tweaks first, off the critical path of this step
         * (not when nothing follows, as for a 512-byte unit). */
        __m512i un[VR];
        if (i + VBLOCKS < nb || tail != 0) {
            const __m512i d = v_load(z->d);
#pragma GCC unroll 8
            for (int j = 0; j < VR; j++) {
                un[j] = v_mul_step_xor(u[j], poly, d);
            }
        } else {
#pragma GCC unroll 8
            for (int j = 0; j < VR; j++) {
                un[j] = u[j];
            }
        }
#pragma GCC unroll 8
        for (int j = 0; j < VR; j++) {
            x[j] = _mm512_loadu_si512((const void *)(ip + 64 * j));
        }
        v_xts(z, dec, x, u);
#pragma GCC unroll 8
        for (int j = 0; j < VR; j++) {
            _mm512_storeu_si512((void *)(op + 64 * j), x[j]);
            u[j] = un[j];
        }
    }
    const size_t rem = nb - i; /* whole blocks left before the stealing pair */
    if (rem > 0) {
        const uint8_t *ip = in + 16 * i;
        uint8_t *op = out + 16 * i;
        __mmask64 m[VR];
#pragma GCC unroll 8
        for (size_t j = 0; j < VR; j++) {
            size_t have = rem > 4 * j ? rem - 4 * j : 0;
            m[j] = v_mask(have);
            /* A zero mask reads nothing; keep the address inside the unit anyway. */
            x[j] = _mm512_maskz_loadu_epi8(m[j], (const void *)(have ? ip + 64 * j : ip));
        }
        v_xts(z, dec, x, u);
#pragma GCC unroll 8
        for (size_t j = 0; j < VR; j++) {
            size_t have = rem > 4 * j ? rem - 4 * j : 0;
            _mm512_mask_storeu_epi8((void *)(have ? op + 64 * j : op), m[j], x[j]);
        }
    }
    if (tail == 0) {
        return;
    }
    /*= IEEE 1619-2007 5.3.2 / 5.4.2 (ciphertext stealing)
     *# Encrypt: CC = Enc(P[m-1], tweak m-1); C[m] = MSB(CC); PP = P[m] | LSB(CC);
     *# C[m-1] = Enc(PP, tweak m). Decrypt: PP = Dec(C[m-1], tweak m);
     *# P[m] = MSB(PP); CC = C[m] | LSB(PP); P[m-1] = Dec(CC, tweak m-1). */
    const uint8_t(*rk)[16] = dec ? ks->dec1 : ks->enc1;
    __m512i uv = u[0];
#pragma GCC unroll 8
    for (size_t j = 1; j < VR; j++) {
        uv = rem / 4 == j ? u[j] : uv;
    }
    __m512i idx = _mm512_add_epi64(_mm512_set_epi64(1, 0, 1, 0, 1, 0, 1, 0),
                                   _mm512_set1_epi64((long long)(2 * (rem % 4))));
    const __m128i t_last = _mm_xor_si128(_mm512_castsi512_si128(_mm512_permutexvar_epi64(idx, uv)),
                                         _mm512_castsi512_si128(kl));
    const __m128i t_next = x_mul_x(t_last);
    const uint8_t *ip = in + 16 * nb;
    uint8_t *op = out + 16 * nb;
    const __mmask16 tm = (__mmask16)((1U << tail) - 1);
    /* Masked byte loads and stores: no call, no stack copy of the stolen block. */
    __m128i a = x_block1(rk, dec, _mm_loadu_si128((const __m128i *)ip), dec ? t_next : t_last);
    /* Read the partial input before writing the partial output (in place). */
    __m128i second = _mm_mask_blend_epi8(tm, a, _mm_maskz_loadu_epi8(tm, ip + 16));
    _mm_mask_storeu_epi8(op + 16, tm, a);
    a = x_block1(rk, dec, second, dec ? t_last : t_next);
    _mm_storeu_si128((__m128i *)op, a);
}

/* Encrypts the IVs of up to sixteen units with key2 into t[0..cnt-1]. */
VFN void v_tweaks16(const struct eng_xts_sched *ks, const struct eng_unit *units, size_t cnt,
                    uint8_t t[16][16])
{
    eng_xts_gather_ivs(units, cnt, t);
    const uint8_t(*rk)[16] = ks->enc2;
    __asm__("" : "+r"(rk));
    __m512i x[4];
    __m512i k = _mm512_broadcast_i32x4(_mm_load_si128((const __m128i *)rk[0]));
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        x[j] = _mm512_xor_si512(_mm512_load_si512((const void *)t[4 * j]), k);
    }
#pragma GCC unroll 13
    for (int r = 1; r < ENG_AES256_ROUNDS; r++) {
        k = _mm512_broadcast_i32x4(_mm_load_si128((const __m128i *)rk[r]));
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            x[j] = _mm512_aesenc_epi128(x[j], k);
        }
    }
    k = _mm512_broadcast_i32x4(_mm_load_si128((const __m128i *)rk[ENG_AES256_ROUNDS]));
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        _mm512_store_si512((void *)t[4 * j], _mm512_aesenclast_epi128(x[j], k));
    }
}

VFN void v_batch(const struct eng_xts_sched *ks, int dec, struct eng_unit *units, size_t n)
{
    uint8_t t[16][16] __attribute__((aligned(64)));
    for (size_t g = 0; g < n; g += 16) {
        size_t cnt = n - g < 16 ? n - g : 16;
        v_tweaks16(ks, units + g, cnt, t);
        for (size_t j = 0; j < cnt; j++) {
            struct eng_unit *u = &units[g + j];
            v_unit(ks, dec, u->in, u->out, u->len, _mm_load_si128((const __m128i *)t[j]));
        }
    }
    eng_cleanse(t, sizeof(t));
}

__attribute__((target(VAES_TARGET))) void eng_clear_zmm(void)
{
    __asm__ __volatile__(
        "vzeroall\n\t"
        "vpxord %%zmm16, %%zmm16, %%zmm16\n\tvpxord %%zmm17, %%zmm17, %%zmm17\n\t"
        "vpxord %%zmm18, %%zmm18, %%zmm18\n\tvpxord %%zmm19, %%zmm19, %%zmm19\n\t"
        "vpxord %%zmm20, %%zmm20, %%zmm20\n\tvpxord %%zmm21, %%zmm21, %%zmm21\n\t"
        "vpxord %%zmm22, %%zmm22, %%zmm22\n\tvpxord %%zmm23, %%zmm23, %%zmm23\n\t"
        "vpxord %%zmm24, %%zmm24, %%zmm24\n\tvpxord %%zmm25, %%zmm25, %%zmm25\n\t"
        "vpxord %%zmm26, %%zmm26, %%zmm26\n\tvpxord %%zmm27, %%zmm27, %%zmm27\n\t"
        "vpxord %%zmm28, %%zmm28, %%zmm28\n\tvpxord %%zmm29, %%zmm29, %%zmm29\n\t"
        "vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpxord %%zmm31, %%zmm31, %%zmm31"
        :
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20",
          "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30",
          "xmm31");
}

__attribute__((target(VAES_TARGET))) void eng_xts_vaes_init(struct eng_xts_sched *ks)
{
    const __m512i poly = _mm512_set_epi64(0, 0x87, 0, 0x87, 0, 0x87, 0, 0x87);
    for (int dir = 0; dir < 2; dir++) {
        const uint8_t(*rk)[16] = dir ? ks->dec1 : ks->enc1;
        struct eng_xts_zdir *z = &ks->z[dir];
        for (int r = 0; r < ENG_AES256_RK; r++) {
            _mm512_store_si512((void *)z->rk[r],
                               _mm512_broadcast_i32x4(_mm_load_si128((const __m128i *)rk[r])));
        }
        const __m512i k0 = v_load(z->rk[0]);
        const __m512i kl = v_load(z->rk[ENG_AES256_ROUNDS]);
        _mm512_store_si512((void *)z->c, _mm512_xor_si512(k0, kl));
        _mm512_store_si512((void *)z->d, v_mul_step_xor(kl, poly, kl));
    }
    eng_clear_zmm();
}

__attribute__((target(VAES_TARGET))) void eng_xts_batch_vaes(const struct eng_xts_sched *ks,
                                                             int dec, struct eng_unit *units,
                                                             size_t n)
{
    /* Two copies, so that the direction is a constant inside each. */
    if (dec) {
        v_batch(ks, 1, units, n);
    } else {
        v_batch(ks, 0, units, n);
    }
    eng_clear_zmm();
}
