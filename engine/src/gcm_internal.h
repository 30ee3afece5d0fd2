/*
 * gcm_internal.h - the native AES-256-GCM kernels behind be_native.c.
 *
 * Same rules as xts_internal.h: each kernel file compiles its functions with
 * a per-function __attribute__((target(...))), and be_native.c calls a
 * kernel only for a path the CPU has.
 */
#ifndef ENG_GCM_INTERNAL_H
#define ENG_GCM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "eng_cipher.h"
#include "xts_internal.h"

/* Powers of the hash key kept: one GHASH reduction per this many blocks. */
#define ENG_GCM_HPOW 16

/*
 * The expanded GCM key, in secure memory (64-byte aligned).
 *   rk    AES-256 encryption round keys 0..14, each broadcast to both
 *         128-bit lanes (plain 32-byte memory operands for the ymm kernel;
 *         the xmm code reads the low 16 bytes)
 *   hpow  H^16, H^15, .. H^1 (hpow[i] = H^(16-i)), where H = AES_K(0^128),
 *         each byte-reflected and multiplied by x (the form the carry-less
 *         multiplication with one-step reduction needs; see gcm_vaes_avx2.c)
 *   hkar  per pair of powers (lanes of one ymm), the XOR of the two 64-bit
 *         halves of each power in both qwords (Karatsuba middle products)
 */
struct eng_gcm_sched {
    uint8_t rk[ENG_AES256_RK][32];
    uint8_t hpow[ENG_GCM_HPOW][16];
    uint8_t hkar[ENG_GCM_HPOW / 2][32];
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

/*
 * eng_gcm_step_zmm (gcm_vaes_avx512.c; call only on a CPU with AVX-512 and
 * VAES): one 16-block step with zmm registers: the keystream of the
 * counters from |ctr| (reflected [c, c+1], advanced by 16) XORed with |in|
 * into |out|, and the GHASH of the 256 bytes at |gp| folded into the
 * accumulator at |xp| (16-byte aligned). The batch above uses it for every
 * step with GHASH when |zmm| is set.
 */
void eng_gcm_step_zmm(const struct eng_gcm_sched *ks, uint8_t ctr[32], const uint8_t *in,
                      uint8_t *out, const uint8_t *gp, uint8_t xp[16]);

#endif /* ENG_GCM_INTERNAL_H */
