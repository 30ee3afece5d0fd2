/*
 * xts_vaes_avx2.c - the VAES + AVX2 (ymm) XTS kernel (ENG_ARCH_VAES_AVX2).
 *
 * For CPUs with VAES and VPCLMULQDQ but no AVX-512 (AMD Zen 3), where the
 * AES-NI kernel (one block per xmm) leaves half of the AES throughput
 * unused. Every function here is compiled for VAES_AVX2_TARGET, which names
 * no AVX-512 feature, so the compiler cannot emit an EVEX instruction or
 * touch zmm/k registers (engine/engine.mk checks the object with objdump
 * after every compile).
 *
 * Organisation:
 *   - lanes: two 128-bit blocks per ymm register, one per lane;
 *   - interleave: XTS_VAES_AVX2_REGS (8) ymm registers per step, so 16
 *     blocks (256 bytes) are in flight: with a VAESENC latency of about four
 *     cycles and two issued per cycle, eight independent registers keep the
 *     AES units busy. AVX2 has only 16 vector registers, so the data takes
 *     eight of them and everything else stays in memory: the round keys are
 *     plain 32-byte memory operands (pre-broadcast at key setup in
 *     struct eng_xts_zdir, whose 64-byte rows hold each key four times), and
 *     the tweaks live in a 256-byte buffer of the batch (wiped at its end);
 *     the schedule and tweak pointers are laundered once per step so that
 *     the compiler does not keep them in registers (it would spill the data);
 *   - tweak schedule: at the start of a unit the encrypted tweak T is
 *     broadcast and lane l of register r gets T*x^(2r+l) (per-qword variable
 *     shifts VPSLLVQ/VPSRLVQ, one VPCLMULQDQ for the bits shifted out of bit
 *     127); at every step each register is multiplied by x^16 (VPSLLDQ by
 *     two bytes per lane, plus VPCLMULQDQ of the two bytes shifted out by
 *     0x87), all sixteen chains in parallel and off the AES chains;
 *   - the kernel carries u = T ^ k14 instead of T (see struct eng_xts_zdir,
 *     here with dy = M(k14) ^ k14 for M = x^16): round 0 is in ^ (u ^ c), the
 *     last round VAESENCLAST(x, u) with no XOR after it;
 *   - the last 1..15 whole blocks of a unit go through one more pass of four
 *     or eight registers: whole registers with plain loads and stores, an odd
 *     last block with 16-byte ones, so nothing outside the unit is read or
 *     written;
 *   - the key2 encryption of the tweaks is batched over sixteen units at a
 *     time (eight registers);
 *   - ciphertext stealing (len % 16 != 0) runs on single xmm blocks with
 *     AES-NI (VEX) and fixed-size byte moves at the end: encryption uses the
 *     tweaks of positions m-1 then m, decryption m then m-1 (IEEE 1619-2007
 *     5.4.2).
 * The tweak buffers and stolen blocks are wiped after use, and ymm0..15 are
 * zeroed (VZEROALL) before the batch returns.
 */
#include <immintrin.h>
#include <string.h>

#include "eng_secure.h"
#include "xts_internal.h"

/* No AVX-512 feature here: this file must run on a CPU without it. */
#define VAES_AVX2_TARGET "vaes,vpclmulqdq,avx2,avx,aes,pclmul,sse4.1"
#define YFN static inline __attribute__((always_inline, target(VAES_AVX2_TARGET)))

/* ymm registers per step (4 or 8): 2 * XTS_VAES_AVX2_REGS blocks in flight. */
#ifndef XTS_VAES_AVX2_REGS
#define XTS_VAES_AVX2_REGS 8
#endif
#define YR XTS_VAES_AVX2_REGS
#define YBLOCKS (2 * YR)

YFN __m256i y_load(const uint8_t *p)
{
    return _mm256_load_si256((const __m256i *)p);
}

YFN __m256i y_xor3(__m256i a, __m256i b, __m256i c)
{
    return _mm256_xor_si256(_mm256_xor_si256(a, b), c);
}

/* Multiply each lane of |b| by x^k, k given per qword (0..63) in |k|, with 64-k in |k64|. */
YFN __m256i y_mul_xk(__m256i b, __m256i k, __m256i k64, __m256i poly)
{
    __m256i sh = _mm256_sllv_epi64(b, k);
    __m256i carry = _mm256_srlv_epi64(_mm256_slli_si256(b, 8), k64); /* lo -> hi */
    __m256i over = _mm256_srlv_epi64(_mm256_srli_si256(b, 8), k64);  /* bits out of 127 */
    return y_xor3(sh, carry, _mm256_clmulepi64_epi128(over, poly, 0x00));
}

/*
 * M(t) ^ e, M = multiplication of each lane by x^16: a two-byte shift per
 * lane, and the two bytes shifted out times 0x87 (at most 23 bits).
 */
YFN __m256i y_mul_step_xor(__m256i t, __m256i poly, __m256i e)
{
    __m256i hi = _mm256_srli_si256(t, 16 - YBLOCKS / 8);
    return y_xor3(_mm256_slli_si256(t, YBLOCKS / 8), _mm256_clmulepi64_epi128(hi, poly, 0x00), e);
}

/* T * x for one block (CTS). */
YFN __m128i y_mul_x(__m128i t)
{
    __m128i m = _mm_srai_epi32(t, 31);
    m = _mm_shuffle_epi32(m, 0x93);
    m = _mm_and_si128(m, _mm_set_epi32(1, 1, 1, 0x87));
    return _mm_xor_si128(_mm_slli_epi32(t, 1), m);
}

/*
 * XTS of the first |nr| (4 or 8, a constant) registers of x[] with the
 * carried tweaks tw[] (u = T ^ k14), in memory.
 */
YFN void y_xts(const struct eng_xts_zdir *z, int dec, __m256i x[YR], const __m256i *tw, int nr)
{
    const __m256i c = y_load(z->c);
#pragma GCC unroll 8
    for (int j = 0; j < nr; j++) {
        x[j] = _mm256_xor_si256(x[j], _mm256_xor_si256(_mm256_load_si256(tw + j), c));
    }
#pragma GCC unroll 13
    for (int r = 1; r < ENG_AES256_ROUNDS; r++) {
        const __m256i k = y_load(z->rk[r]);
#pragma GCC unroll 8
        for (int j = 0; j < nr; j++) {
            x[j] = dec ? _mm256_aesdec_epi128(x[j], k) : _mm256_aesenc_epi128(x[j], k);
        }
    }
    /* A fresh pointer: the tweaks are loaded again, not kept in registers across the rounds. */
    __asm__("" : "+r"(tw));
#pragma GCC unroll 8
    for (int j = 0; j < nr; j++) {
        const __m256i u = _mm256_load_si256(tw + j);
        x[j] = dec ? _mm256_aesdeclast_epi128(x[j], u) : _mm256_aesenclast_epi128(x[j], u);
    }
}

/* One block with AES-NI (VEX): AES(x ^ tw) ^ tw. */
YFN __m128i y_block1(const uint8_t (*rk)[16], int dec, __m128i x, __m128i tw)
{
    x = _mm_xor_si128(x, _mm_xor_si128(tw, _mm_load_si128((const __m128i *)rk[0])));
#pragma GCC unroll 13
    for (int r = 1; r < ENG_AES256_ROUNDS; r++) {
        __m128i kr = _mm_load_si128((const __m128i *)rk[r]);
        x = dec ? _mm_aesdec_si128(x, kr) : _mm_aesenc_si128(x, kr);
    }
    __m128i kl = _mm_xor_si128(tw, _mm_load_si128((const __m128i *)rk[ENG_AES256_ROUNDS]));
    return dec ? _mm_aesdeclast_si128(x, kl) : _mm_aesenclast_si128(x, kl);
}

/*
 * The last |rem| (1..15) whole blocks at |ip|/|op| through |nr| (4 or 8)
 * registers: whole registers with 32-byte moves, an odd last block with
 * 16-byte ones (the upper lane zero and not stored).
 */
YFN void y_tail(const struct eng_xts_zdir *z, int dec, const uint8_t *ip, uint8_t *op,
                size_t rem, const __m256i *tw, int nr)
{
    __m256i x[YR];
#pragma GCC unroll 8
    for (int j = 0; j < nr; j++) {
        size_t b = 2 * (size_t)j;
        if (b + 1 < rem) {
            x[j] = _mm256_loadu_si256((const __m256i *)(ip + 16 * b));
        } else if (b < rem) {
            x[j] = _mm256_set_m128i(_mm_setzero_si128(),
                                    _mm_loadu_si128((const __m128i *)(ip + 16 * b)));
        } else {
            x[j] = _mm256_setzero_si256();
        }
    }
    y_xts(z, dec, x, tw, nr);
#pragma GCC unroll 8
    for (int j = 0; j < nr; j++) {
        size_t b = 2 * (size_t)j;
        if (b + 1 < rem) {
            _mm256_storeu_si256((__m256i *)(op + 16 * b), x[j]);
        } else if (b < rem) {
            _mm_storeu_si128((__m128i *)(op + 16 * b), _mm256_castsi256_si128(x[j]));
        }
    }
}

/*
 * One data unit. |t0| is the encrypted tweak (tweak of block 0); |tw| the
 * batch's tweak buffer (YR registers, 32-byte aligned).
 */
YFN void y_unit(const struct eng_xts_sched *ks, int dec, const uint8_t *in, uint8_t *out,
                size_t len, __m128i t0, __m256i *tw)
{
    const struct eng_xts_zdir *z = &ks->z[dec];
    const __m256i poly = _mm256_set_epi64x(0, 0x87, 0, 0x87);
    const size_t tail = len % 16;
    const size_t nb = len / 16 - (tail != 0);
    /* Lane l of register j: T * x^(2j + l), carried as u = T ^ k14. */
    {
        const __m256i b = _mm256_broadcastsi128_si256(t0);
        const __m256i lane = _mm256_set_epi64x(1, 1, 0, 0);
        const __m256i c64 = _mm256_set1_epi64x(64);
        const __m256i kl = y_load(z->rk[ENG_AES256_ROUNDS]);
#pragma GCC unroll 8
        for (int j = 0; j < YR; j++) {
            __m256i kk = _mm256_add_epi64(lane, _mm256_set1_epi64x(2 * j));
            _mm256_store_si256(tw + j, _mm256_xor_si256(
                                           y_mul_xk(b, kk, _mm256_sub_epi64(c64, kk), poly), kl));
        }
    }
    size_t i = 0;
    for (; i + YBLOCKS <= nb; i += YBLOCKS) {
        const uint8_t *ip = in + 16 * i;
        uint8_t *op = out + 16 * i;
        /* Keep the compiler from hoisting round keys or tweaks into registers. */
        __asm__("" : "+r"(z), "+r"(tw));
        __m256i x[YR];
#pragma GCC unroll 8
        for (int j = 0; j < YR; j++) {
            x[j] = _mm256_loadu_si256((const __m256i *)(ip + 32 * j));
        }
        y_xts(z, dec, x, tw, YR);
        /* The next step's tweaks (independent of the AES chains above). */
        const __m256i d = y_load(z->dy);
#pragma GCC unroll 8
        for (int j = 0; j < YR; j++) {
            _mm256_storeu_si256((__m256i *)(op + 32 * j), x[j]);
            _mm256_store_si256(tw + j, y_mul_step_xor(_mm256_load_si256(tw + j), poly, d));
        }
    }
    const size_t rem = nb - i; /* whole blocks left before the stealing pair */
    if (rem > 0) {
        if (rem <= YBLOCKS / 2) {
            y_tail(z, dec, in + 16 * i, out + 16 * i, rem, tw, YR / 2);
        } else {
            y_tail(z, dec, in + 16 * i, out + 16 * i, rem, tw, YR);
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
    const __m256i uv = _mm256_load_si256(tw + rem / 2);
    const __m128i ul = rem % 2 ? _mm256_extracti128_si256(uv, 1) : _mm256_castsi256_si128(uv);
    const __m128i t_last =
        _mm_xor_si128(ul, _mm_load_si128((const __m128i *)z->rk[ENG_AES256_ROUNDS]));
    const __m128i t_next = y_mul_x(t_last);
    const uint8_t *ip = in + 16 * nb;
    uint8_t *op = out + 16 * nb;
    uint8_t first[16];
    uint8_t second[16];
    __m128i a = y_block1(rk, dec, _mm_loadu_si128((const __m128i *)ip), dec ? t_next : t_last);
    _mm_storeu_si128((__m128i *)first, a);
    _mm_storeu_si128((__m128i *)second, a);
    /* Read the partial input before writing the partial output (in place). */
    eng_xts_copy_tail(second, ip + 16, tail);
    eng_xts_copy_tail(op + 16, first, tail);
    a = y_block1(rk, dec, _mm_loadu_si128((const __m128i *)second), dec ? t_last : t_next);
    _mm_storeu_si128((__m128i *)op, a);
    _mm_storeu_si128((__m128i *)first, _mm_setzero_si128());
    _mm_storeu_si128((__m128i *)second, _mm_setzero_si128());
    __asm__ __volatile__("" : : "r"(first), "r"(second) : "memory");
}

/* Encrypts the IVs of up to sixteen units with key2 into t[0..cnt-1]. */
YFN void y_tweaks16(const struct eng_xts_sched *ks, const struct eng_unit *units, size_t cnt,
                    uint8_t t[16][16])
{
    for (size_t j = 0; j < 16; j++) {
        if (j < cnt) {
            memcpy(t[j], units[j].iv, 16);
        } else {
            memset(t[j], 0, 16);
        }
    }
    const uint8_t(*rk)[16] = ks->enc2;
    __asm__("" : "+r"(rk));
    __m256i x[8];
    __m256i k = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)rk[0]));
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
        x[j] = _mm256_xor_si256(_mm256_load_si256((const __m256i *)t[2 * j]), k);
    }
#pragma GCC unroll 13
    for (int r = 1; r < ENG_AES256_ROUNDS; r++) {
        k = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)rk[r]));
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            x[j] = _mm256_aesenc_epi128(x[j], k);
        }
    }
    k = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)rk[ENG_AES256_ROUNDS]));
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
        _mm256_store_si256((__m256i *)t[2 * j], _mm256_aesenclast_epi128(x[j], k));
    }
}

YFN void y_batch(const struct eng_xts_sched *ks, int dec, struct eng_unit *units, size_t n)
{
    uint8_t t[16][16] __attribute__((aligned(32)));
    __m256i tw[YR];
    for (size_t g = 0; g < n; g += 16) {
        size_t cnt = n - g < 16 ? n - g : 16;
        y_tweaks16(ks, units + g, cnt, t);
        for (size_t j = 0; j < cnt; j++) {
            struct eng_unit *u = &units[g + j];
            y_unit(ks, dec, u->in, u->out, u->len, _mm_load_si128((const __m128i *)t[j]), tw);
        }
    }
    eng_cleanse(t, sizeof(t));
    eng_cleanse(tw, sizeof(tw));
}

/* Zeroes ymm0..ymm15 (all the vector registers there are without AVX-512). */
static __attribute__((target(VAES_AVX2_TARGET))) void clear_ymm(void)
{
    __asm__ __volatile__("vzeroall"
                         :
                         :
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                           "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

__attribute__((target(VAES_AVX2_TARGET))) void eng_xts_vaes_avx2_init(struct eng_xts_sched *ks)
{
    const __m256i poly = _mm256_set_epi64x(0, 0x87, 0, 0x87);
    for (int dir = 0; dir < 2; dir++) {
        const uint8_t(*rk)[16] = dir ? ks->dec1 : ks->enc1;
        struct eng_xts_zdir *z = &ks->z[dir];
        for (int r = 0; r < ENG_AES256_RK; r++) {
            __m256i k = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)rk[r]));
            _mm256_store_si256((__m256i *)z->rk[r], k);
            _mm256_store_si256((__m256i *)(z->rk[r] + 32), k);
        }
        const __m256i k0 = y_load(z->rk[0]);
        const __m256i kl = y_load(z->rk[ENG_AES256_ROUNDS]);
        _mm256_store_si256((__m256i *)z->c, _mm256_xor_si256(k0, kl));
        _mm256_store_si256((__m256i *)(z->c + 32), _mm256_xor_si256(k0, kl));
        _mm256_store_si256((__m256i *)z->dy, y_mul_step_xor(kl, poly, kl));
    }
    clear_ymm();
}

__attribute__((target(VAES_AVX2_TARGET))) void eng_xts_batch_vaes_avx2(
    const struct eng_xts_sched *ks, int dec, struct eng_unit *units, size_t n)
{
    /* Two copies, so that the direction is a constant inside each. */
    if (dec) {
        y_batch(ks, 1, units, n);
    } else {
        y_batch(ks, 0, units, n);
    }
    clear_ymm();
}
