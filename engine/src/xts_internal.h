/*
 * xts_internal.h - the native AES-256-XTS kernels behind be_native.c.
 *
 * One key schedule layout shared by every path, and one batch entry point
 * per CPU path. Each kernel file compiles its functions with a per-function
 * __attribute__((target(...))), never with -m flags, so the library runs on
 * any x86-64; be_native.c calls a kernel only for a path the CPU has
 * (cipher.c resolved c->arch against CPUID before key_init).
 */
#ifndef ENG_XTS_INTERNAL_H
#define ENG_XTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "eng_cipher.h"

#define ENG_AES256_ROUNDS 14
#define ENG_AES256_RK     (ENG_AES256_ROUNDS + 1)

/*
 * The expanded XTS key, in secure memory (64-byte aligned by
 * eng_secure_alloc; every round key is 16-byte aligned, as legacy-SSE
 * memory operands require).
 *   enc1  key1 (data key) encryption schedule, round keys 0..14
 *   dec1  key1 decryption schedule for AESDEC (equivalent inverse cipher):
 *         dec1[0] = enc1[14], dec1[i] = InvMixColumns(enc1[14 - i]) for
 *         i = 1..13, dec1[14] = enc1[0]
 *   enc2  key2 (tweak key) encryption schedule
 */
/*
 * What the VAES kernel needs per direction, filled by eng_xts_vaes_init:
 *   rk  the direction's key1 round keys broadcast to four lanes, so that the
 *       kernel uses them as plain 64-byte memory operands (a broadcast load
 *       costs a vector ALU slot on some cores, a plain load does not)
 *   c   rk[0] ^ rk[14]
 *   d   M(rk[14]) ^ rk[14], M = multiplication by x^(blocks per step)
 * The kernel carries u = T ^ rk[14] instead of the tweak T: round 0 is then
 * in ^ u ^ c, the last round AESENCLAST(x, u), and the step update
 * u' = M(u) ^ d, which saves one XOR per register and step.
 */
struct eng_xts_zdir {
    uint8_t rk[ENG_AES256_RK][64];
    uint8_t c[64];
    uint8_t d[64];
} __attribute__((aligned(64)));

struct eng_xts_sched {
    uint8_t enc1[ENG_AES256_RK][16];
    uint8_t dec1[ENG_AES256_RK][16];
    uint8_t enc2[ENG_AES256_RK][16];
    struct eng_xts_zdir z[2]; /* [0] encrypt, [1] decrypt; VAES paths only */
} __attribute__((aligned(64)));

/*
 * eng_xts_expand_key fills |ks| from the 64-byte XTS key (key1 || key2)
 * with AES-NI. Call only when the CPU has AES-NI. Leaves no key material
 * on the stack.
 */
void eng_xts_expand_key(struct eng_xts_sched *ks, const uint8_t key[ENG_XTS_KEY_BYTES]);

/*
 * eng_aes256_expand_key writes the 15 AES-256 encryption round keys of
 * |key| (16-byte aligned |rk|) with AES-NI. Call only when the CPU has
 * AES-NI. Leaves no key material in registers.
 */
void eng_aes256_expand_key(uint8_t rk[ENG_AES256_RK][16], const uint8_t key[ENG_AES256_KEY_BYTES]);

/*
 * eng_xts_vaes_init fills ks->z from the 16-byte schedules (call after
 * eng_xts_expand_key, and only when the CPU has the AVX-512 VAES path).
 * eng_xts_vaes_avx2_init fills what the ymm kernel reads of ks->z (the
 * broadcast round keys rk; not c or d), with ymm instructions only (call only when the CPU has VAES
 * + AVX2).
 */
void eng_xts_vaes_init(struct eng_xts_sched *ks);
void eng_xts_vaes_avx2_init(struct eng_xts_sched *ks);

/*
 * eng_clear_zmm (xts_vaes.c) zeroes zmm0..zmm31 (VZEROALL covers only
 * 0..15): the zmm XTS and GCM kernels call it before they return, so that
 * no key material stays in vector registers. Call only on a CPU with
 * AVX-512.
 */
void eng_clear_zmm(void);

/*
 * Batch kernels: encrypt (|dec| == 0) or decrypt every unit of |units|
 * (already validated by cipher.c: 16 <= len <= ENG_XTS_MAX_UNIT_BYTES,
 * iv of 16 bytes, in == out or no overlap). They cannot fail and do not
 * touch |status|.
 *   _vaes       VAES + VPCLMULQDQ + AVX-512F/BW/VL (ENG_ARCH_AVX512)
 *   _vaes_avx2  VAES + VPCLMULQDQ + AVX2 on ymm, no AVX-512 (ENG_ARCH_VAES_AVX2)
 *   _avx   AES-NI + PCLMULQDQ, VEX-encoded (ENG_ARCH_AVX, ENG_ARCH_AVX2)
 *   _sse   AES-NI + PCLMULQDQ + SSE4.1, legacy encoding (ENG_ARCH_SSE)
 */
void eng_xts_batch_vaes(const struct eng_xts_sched *ks, int dec, struct eng_unit *units, size_t n);
void eng_xts_batch_vaes_avx2(const struct eng_xts_sched *ks, int dec, struct eng_unit *units,
                             size_t n);
void eng_xts_batch_avx(const struct eng_xts_sched *ks, int dec, struct eng_unit *units, size_t n);
void eng_xts_batch_sse(const struct eng_xts_sched *ks, int dec, struct eng_unit *units, size_t n);

/*
 * Copies n < 16 bytes with fixed-size moves, so that no memcpy call (and no
 * register spill around it) happens inside a kernel (ciphertext stealing).
 */
static inline __attribute__((always_inline)) void eng_xts_copy_tail(uint8_t *dst,
                                                                    const uint8_t *src, size_t n)
{
    size_t o = 0;
    if (n & 8) {
        __builtin_memcpy(dst + o, src + o, 8);
        o += 8;
    }
    if (n & 4) {
        __builtin_memcpy(dst + o, src + o, 4);
        o += 4;
    }
    if (n & 2) {
        __builtin_memcpy(dst + o, src + o, 2);
        o += 2;
    }
    if (n & 1) {
        dst[o] = src[o];
    }
}

/* Copies the IVs of units[0..cnt-1] (cnt <= 16) into t[], zeroes the rest of the 16 rows. */
static inline void eng_xts_gather_ivs(const struct eng_unit *units, size_t cnt, uint8_t t[16][16])
{
    for (size_t j = 0; j < 16; j++) {
        if (j < cnt) {
            __builtin_memcpy(t[j], units[j].iv, 16);
        } else {
            __builtin_memset(t[j], 0, 16);
        }
    }
}

#endif /* ENG_XTS_INTERNAL_H */
