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
 *     the tweaks live in a 768-byte buffer of the batch (wiped at its end);
 *     the schedule and tweak pointers are laundered once per step so that
 *     the compiler does not keep them in registers (it would spill the data);
 *   - tweak schedule: the first two steps' tweaks are made in vector
 *     registers at the start of a unit (the encrypted tweak T broadcast,
 *     lane l of register r gets T*x^(2r+l) with per-qword variable shifts
 *     VPSLLVQ/VPSRLVQ and one VPCLMULQDQ for the bits shifted out of bit
 *     127: all in parallel, so the first AES round starts early); those of
 *     step s+2 by scalar 64-bit code (shift, carry, conditional 0x87) during
 *     step s, spread between its AES rounds. Two steps ahead: a 32-byte load
 *     cannot take its data from the four 8-byte stores that wrote it while
 *     they are still in the store queue, so one step ahead the next step's
 *     round 0 waited for this step's stores to retire. With only two blocks
 *     per register the vector way (a multiplication by x^16 per register
 *     and step: two byte shifts, a VPCLMULQDQ and two XORs) took pipe slots
 *     from the AES instructions. Measured on a Zen 4 class CPU with
 *     ENG_ARCH=vaes-avx2, 8 KiB units, batches of 64, ymm ceiling 16.1
 *     GB/s (cmk-bench): vector tweaks 11.4 GB/s; scalar ones one step ahead
 *     in a block of their own 12.3, between the rounds 12.5-12.9, storing T
 *     rather than T ^ k14 (two integer XORs a block fewer, one vector XOR a
 *     register more) 12.7-13.2; two steps ahead 13.9-14.1 (0.86-0.87 of the
 *     ceiling; 512 B units unchanged at 11.0);
 *   - round 0 is in ^ T ^ k0, the last round VAESENCLAST(x, T ^ k14);
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
#define YFN              static inline __attribute__((always_inline, target(VAES_AVX2_TARGET)))

/* ymm registers per step (4 or 8): 2 * XTS_VAES_AVX2_REGS blocks in flight. */
#ifndef XTS_VAES_AVX2_REGS
#define XTS_VAES_AVX2_REGS 8
#endif
#define YR      XTS_VAES_AVX2_REGS
#define YBLOCKS (2 * YR)
/* rounds 1..13 write YBLOCKS tweaks: this many rounds write two */
#define TW_EXTRA (YBLOCKS > ENG_AES256_ROUNDS - 1 ? YBLOCKS - (ENG_AES256_ROUNDS - 1) : 0)

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

/* T * x for one block (CTS). */
YFN __m128i y_mul_x(__m128i t)
{
    __m128i m = _mm_srai_epi32(t, 31);
    m = _mm_shuffle_epi32(m, 0x93);
    m = _mm_and_si128(m, _mm_set_epi32(1, 1, 1, 0x87));
    return _mm_xor_si128(_mm_slli_epi32(t, 1), m);
}

/*
 * Scalar 64-bit tweak chain (T = *lo, *hi): writes T into |slot| and
 * advances it to T*x. It runs on the integer units, in parallel with the
 * AES rounds, instead of taking vector slots from them.
 */
static inline __attribute__((always_inline)) void y_tweak1(uint64_t *lo, uint64_t *hi,
                                                           uint8_t slot[16])
{
    uint64_t l = *lo;
    uint64_t h = *hi;
    memcpy(slot, &l, 8);
    memcpy(slot + 8, &h, 8);
    uint64_t carry = (uint64_t)((int64_t)h >> 63) & 0x87;
    *hi = (h << 1) | (l >> 63);
    *lo = (l << 1) ^ carry;
}

/*
 * XTS of the first |nr| (4 or 8, a constant) registers of x[] with the
 * tweaks tw[] (T), in memory. With |next| non-NULL, also writes the next
 * step's YBLOCKS tweaks there from the scalar chain (*lo, *hi), interleaved
 * with the rounds: in one basic block with the AES instructions, the
 * integer work is dispatched between them.
 */
YFN void y_xts(const struct eng_xts_zdir *z, int dec, __m256i x[YR], const __m256i *tw, int nr,
               uint8_t (*next)[16], uint64_t *lo, uint64_t *hi)
{
    const __m256i k0 = y_load(z->rk[0]);
#pragma GCC unroll 8
    for (int j = 0; j < nr; j++) {
        x[j] = _mm256_xor_si256(x[j], _mm256_xor_si256(_mm256_load_si256(tw + j), k0));
    }
    int t = 0;
#pragma GCC unroll 13
    for (int r = 1; r < ENG_AES256_ROUNDS; r++) {
        const __m256i k = y_load(z->rk[r]);
#pragma GCC unroll 8
        for (int j = 0; j < nr; j++) {
            x[j] = dec ? _mm256_aesdec_epi128(x[j], k) : _mm256_aesenc_epi128(x[j], k);
        }
        /* YBLOCKS tweaks over the thirteen rounds: one a round, two in the
         * first TW_EXTRA (16: 2, 2, 2, 1, 1, ...); straight-line code */
        if (next != NULL && r <= YBLOCKS) {
            y_tweak1(lo, hi, next[t++]);
            if (r <= TW_EXTRA) {
                y_tweak1(lo, hi, next[t++]);
            }
        }
    }
    /* A fresh pointer: the tweaks are loaded again, not kept in registers across the rounds. */
    __asm__("" : "+r"(tw));
    const __m256i kl = y_load(z->rk[ENG_AES256_ROUNDS]);
#pragma GCC unroll 8
    for (int j = 0; j < nr; j++) {
        const __m256i u = _mm256_xor_si256(_mm256_load_si256(tw + j), kl);
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
YFN void y_tail(const struct eng_xts_zdir *z, int dec, const uint8_t *ip, uint8_t *op, size_t rem,
                const __m256i *tw, int nr)
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
    y_xts(z, dec, x, tw, nr, NULL, NULL, NULL);
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
 * One data unit. |t0| is the encrypted tweak (tweak of block 0); |tb| the
 * batch's tweak buffer: three sets of YBLOCKS tweaks, used in turn. Steps 0
 * and 1's are made in vector registers at the start (in parallel), those of
 * step s + 2 by scalar code during step s, and only when a later step or
 * the stealing pair needs them.
 */
YFN void y_unit(const struct eng_xts_sched *ks, int dec, const uint8_t *in, uint8_t *out,
                size_t len, __m128i t0, uint8_t tb[3][YBLOCKS][16])
{
    const struct eng_xts_zdir *z = &ks->z[dec];
    const size_t tail = len % 16;
    const size_t nb = len / 16 - (tail != 0);
    const size_t need = nb + (tail != 0); /* blocks whose tweak the unit uses */
    uint64_t lo = 0, hi = 0;              /* T * x^32: where the scalar chain starts */
    {
        /* Steps 0 and 1: lane l of register j gets T * x^(2j + l) (+16). */
        const __m256i poly = _mm256_set_epi64x(0, 0x87, 0, 0x87);
        const __m256i b = _mm256_broadcastsi128_si256(t0);
        const __m256i lane = _mm256_set_epi64x(1, 1, 0, 0);
        const __m256i c64 = _mm256_set1_epi64x(64);
        for (int s = 0; s < 2; s++) {
            if (s == 1 && need <= YBLOCKS) {
                break;
            }
            __m256i *tw = (__m256i *)tb[s];
#pragma GCC unroll 8
            for (int j = 0; j < YR; j++) {
                __m256i kk = _mm256_add_epi64(lane, _mm256_set1_epi64x(YBLOCKS * s + 2 * j));
                _mm256_store_si256(tw + j, y_mul_xk(b, kk, _mm256_sub_epi64(c64, kk), poly));
            }
        }
        if (need > 2 * YBLOCKS) {
            __m256i kk = _mm256_add_epi64(lane, _mm256_set1_epi64x(2 * YBLOCKS));
            __m128i t32 = _mm256_castsi256_si128(y_mul_xk(b, kk, _mm256_sub_epi64(c64, kk), poly));
            lo = (uint64_t)_mm_cvtsi128_si64(t32);
            hi = (uint64_t)_mm_extract_epi64(t32, 1);
        }
    }
    size_t i = 0;
    unsigned cur = 0;
    for (; i + YBLOCKS <= nb; i += YBLOCKS) {
        const uint8_t *ip = in + 16 * i;
        uint8_t *op = out + 16 * i;
        /* Keep the compiler from hoisting round keys or tweaks into registers. */
        __asm__("" : "+r"(z), "+r"(tb));
        __m256i x[YR];
#pragma GCC unroll 8
        for (int j = 0; j < YR; j++) {
            x[j] = _mm256_loadu_si256((const __m256i *)(ip + 32 * j));
        }
        const unsigned ahead = cur == 0 ? 2 : cur - 1; /* (cur + 2) % 3 */
        /* with the tweaks of two steps ahead when the unit needs them */
        if (i + 2 * YBLOCKS < need) {
            y_xts(z, dec, x, (const __m256i *)tb[cur], YR, tb[ahead], &lo, &hi);
        } else {
            y_xts(z, dec, x, (const __m256i *)tb[cur], YR, NULL, NULL, NULL);
        }
#pragma GCC unroll 8
        for (int j = 0; j < YR; j++) {
            _mm256_storeu_si256((__m256i *)(op + 32 * j), x[j]);
        }
        cur = cur == 2 ? 0 : cur + 1;
    }
    const __m256i *tw = (const __m256i *)tb[cur];
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
    const __m128i t_last = _mm_load_si128((const __m128i *)tb[cur][rem]);
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
    eng_xts_gather_ivs(units, cnt, t);
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
    uint8_t tb[3][YBLOCKS][16] __attribute__((aligned(32)));
    for (size_t g = 0; g < n; g += 16) {
        size_t cnt = n - g < 16 ? n - g : 16;
        y_tweaks16(ks, units + g, cnt, t);
        for (size_t j = 0; j < cnt; j++) {
            struct eng_unit *u = &units[g + j];
            y_unit(ks, dec, u->in, u->out, u->len, _mm_load_si128((const __m128i *)t[j]), tb);
        }
    }
    eng_cleanse(t, sizeof(t));
    eng_cleanse(tb, sizeof(tb));
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
    for (int dir = 0; dir < 2; dir++) {
        const uint8_t(*rk)[16] = dir ? ks->dec1 : ks->enc1;
        struct eng_xts_zdir *z = &ks->z[dir];
        for (int r = 0; r < ENG_AES256_RK; r++) {
            __m256i k = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)rk[r]));
            _mm256_store_si256((__m256i *)z->rk[r], k);
            _mm256_store_si256((__m256i *)(z->rk[r] + 32), k);
        }
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
