/*
 * xts_aesni_tmpl.h - the AES-NI XTS kernel body, instantiated twice by
 * xts_aesni.c: once with legacy SSE encoding (ENG_ARCH_SSE) and once
 * VEX-encoded (ENG_ARCH_AVX, ENG_ARCH_AVX2). See xts_aesni.c for how the
 * kernel is organised. The includer defines:
 *   XTS_TARGET   the target("...") string of every function here
 *   XTS_NAME(x)  the per-instantiation name of helper x
 *   XTS_BATCH    the name of the exported batch function
 *   XTS_CLEAR    a statement that zeroes xmm0..xmm15
 * No include guard: this file is meant to be included more than once.
 */

#define XTS_FN static inline __attribute__((always_inline, target(XTS_TARGET)))

/* T * x in GF(2^128), little-endian bit order (IEEE 1619 5.2). */
XTS_FN __m128i XTS_NAME(mul_x)(__m128i t)
{
    /* Each dword shifts left by one; its top bit carries into the next
     * dword, and bit 127 folds back as x^7 + x^2 + x + 1 = 0x87. */
    __m128i m = _mm_srai_epi32(t, 31);
    m = _mm_shuffle_epi32(m, 0x93);
    m = _mm_and_si128(m, _mm_set_epi32(1, 1, 1, 0x87));
    return _mm_xor_si128(_mm_slli_epi32(t, 1), m);
}

/*
 * Rounds 1..13 of eight blocks. Round keys stay in memory (the schedule)
 * and are used as memory operands.
 */
XTS_FN void XTS_NAME(rounds8)(const __m128i *rk, int dec, __m128i x[8])
{
    for (int r = 1; r < ENG_AES256_ROUNDS; r++) {
        __m128i k = _mm_load_si128(rk + r);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            x[j] = dec ? _mm_aesdec_si128(x[j], k) : _mm_aesenc_si128(x[j], k);
        }
    }
}

/* One whole block: AES(x ^ tw) ^ tw. */
XTS_FN __m128i XTS_NAME(block1)(const __m128i *rk, int dec, __m128i x, __m128i tw)
{
    x = _mm_xor_si128(x, _mm_xor_si128(tw, _mm_load_si128(rk)));
    for (int r = 1; r < ENG_AES256_ROUNDS; r++) {
        x = dec ? _mm_aesdec_si128(x, _mm_load_si128(rk + r))
                : _mm_aesenc_si128(x, _mm_load_si128(rk + r));
    }
    __m128i kl = _mm_xor_si128(tw, _mm_load_si128(rk + ENG_AES256_ROUNDS));
    return dec ? _mm_aesdeclast_si128(x, kl) : _mm_aesenclast_si128(x, kl);
}

/*
 * Writes T*x^0 .. T*x^7 (T = (*lo, *hi)) into slots[0..7] and leaves T*x^8
 * in (*lo, *hi). Scalar 64-bit code: it runs on the integer units, in
 * parallel with the AES rounds, instead of taking vector slots from them.
 */
static inline __attribute__((always_inline)) void XTS_NAME(tweaks_scalar)(uint64_t *lo,
                                                                          uint64_t *hi,
                                                                          uint8_t slots[8][16])
{
    uint64_t l = *lo;
    uint64_t h = *hi;
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
        memcpy(slots[j], &l, 8);
        memcpy(slots[j] + 8, &h, 8);
        uint64_t carry = (uint64_t)((int64_t)h >> 63) & 0x87;
        h = (h << 1) | (l >> 63);
        l = (l << 1) ^ carry;
    }
    *lo = l;
    *hi = h;
}

/*
 * One data unit. |t0| is the encrypted tweak (tweak of block 0). Blocks
 * 0..nb-1 go eight at a time, with up to seven left over in one final
 * partial group; then, when len is not a multiple of 16, ciphertext
 * stealing over the last full block and the partial one. The tweaks of a
 * group are computed by scalar code one group ahead into |tb| (two sets of
 * eight slots, used alternately).
 */
XTS_FN void XTS_NAME(unit)(const __m128i *rk, int dec, const uint8_t *in, uint8_t *out, size_t len,
                           __m128i t0, uint8_t tb[16][16])
{
    const __m128i k0 = _mm_load_si128(rk);
    const size_t tail = len % 16;
    const size_t nb = len / 16 - (tail != 0);
    __m128i x[8];
    uint64_t lo = (uint64_t)_mm_cvtsi128_si64(t0);
    uint64_t hi = (uint64_t)_mm_extract_epi64(t0, 1);
    XTS_NAME(tweaks_scalar)(&lo, &hi, tb);
    size_t i = 0;
    unsigned cur = 0;
    for (; i + 8 <= nb; i += 8) {
        const uint8_t *ip = in + 16 * i;
        uint8_t *op = out + 16 * i;
        const __m128i *tw = (const __m128i *)tb[cur];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            x[j] = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(ip + 16 * j)),
                                 _mm_load_si128(tw + j));
            x[j] = _mm_xor_si128(x[j], k0);
        }
        /* the next group's tweaks, off the vector units */
        XTS_NAME(tweaks_scalar)(&lo, &hi, tb + (cur ^ 8));
        XTS_NAME(rounds8)(rk, dec, x);
        const __m128i kl = _mm_load_si128(rk + ENG_AES256_ROUNDS);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            x[j] = dec ? _mm_aesdeclast_si128(x[j], kl) : _mm_aesenclast_si128(x[j], kl);
            _mm_storeu_si128((__m128i *)(op + 16 * j), _mm_xor_si128(x[j], _mm_load_si128(tw + j)));
        }
        cur ^= 8;
    }
    const __m128i *tw = (const __m128i *)tb[cur];
    const size_t rem = nb - i; /* 0..7 whole blocks left before the stealing pair */
    if (rem > 0) {
        const uint8_t *ip = in + 16 * i;
        uint8_t *op = out + 16 * i;
#pragma GCC unroll 8
        for (size_t j = 0; j < 8; j++) {
            x[j] = j < rem ? _mm_loadu_si128((const __m128i *)(ip + 16 * j)) : _mm_setzero_si128();
            x[j] = _mm_xor_si128(x[j], _mm_xor_si128(_mm_load_si128(tw + j), k0));
        }
        XTS_NAME(rounds8)(rk, dec, x);
        const __m128i kl = _mm_load_si128(rk + ENG_AES256_ROUNDS);
#pragma GCC unroll 8
        for (size_t j = 0; j < 8; j++) {
            x[j] = dec ? _mm_aesdeclast_si128(x[j], kl) : _mm_aesenclast_si128(x[j], kl);
            if (j < rem) {
                _mm_storeu_si128((__m128i *)(op + 16 * j),
                                 _mm_xor_si128(x[j], _mm_load_si128(tw + j)));
            }
        }
    }
    if (tail == 0) {
        return;
    }
    /*= IEEE 1619-2007 5.3.2 / 5.4.2 (ciphertext stealing)
     *# Encrypt: CC = Enc(P[m-1], tweak m-1); C[m] = MSB(CC); PP = P[m] | LSB(CC);
     *# C[m-1] = Enc(PP, tweak m). Decrypt: PP = Dec(C[m-1], tweak m);
     *# P[m] = MSB(PP); CC = C[m] | LSB(PP); P[m-1] = Dec(CC, tweak m-1). */
    const __m128i t_last = _mm_load_si128(tw + rem); /* tweak of block nb = m-1 */
    const __m128i t_next = XTS_NAME(mul_x)(t_last);
    const uint8_t *ip = in + 16 * nb;
    uint8_t *op = out + 16 * nb;
    uint8_t first[16];
    uint8_t second[16];
    __m128i a =
        XTS_NAME(block1)(rk, dec, _mm_loadu_si128((const __m128i *)ip), dec ? t_next : t_last);
    _mm_storeu_si128((__m128i *)first, a);
    _mm_storeu_si128((__m128i *)second, a);
    /* Read the partial input before writing the partial output (in place). */
    eng_xts_copy_tail(second, ip + 16, tail);
    eng_xts_copy_tail(op + 16, first, tail);
    a = XTS_NAME(block1)(rk, dec, _mm_loadu_si128((const __m128i *)second), dec ? t_last : t_next);
    _mm_storeu_si128((__m128i *)op, a);
    _mm_storeu_si128((__m128i *)first, _mm_setzero_si128());
    _mm_storeu_si128((__m128i *)second, _mm_setzero_si128());
    __asm__ __volatile__("" : : "r"(first), "r"(second) : "memory");
}

/* Encrypts the tweaks (IVs) of up to eight units with key2 into t[0..cnt-1]. */
XTS_FN void XTS_NAME(tweaks8)(const struct eng_xts_sched *ks, const struct eng_unit *units,
                              size_t cnt, __m128i t[8])
{
    const __m128i *rk = (const __m128i *)ks->enc2;
    const __m128i k0 = _mm_load_si128(rk);
#pragma GCC unroll 8
    for (size_t j = 0; j < 8; j++) {
        t[j] = j < cnt ? _mm_loadu_si128((const __m128i *)units[j].iv) : _mm_setzero_si128();
        t[j] = _mm_xor_si128(t[j], k0);
    }
    XTS_NAME(rounds8)(rk, 0, t);
    const __m128i kl = _mm_load_si128(rk + ENG_AES256_ROUNDS);
#pragma GCC unroll 8
    for (size_t j = 0; j < 8; j++) {
        t[j] = _mm_aesenclast_si128(t[j], kl);
    }
}

XTS_FN void XTS_NAME(batch)(const struct eng_xts_sched *ks, int dec, struct eng_unit *units,
                            size_t n)
{
    const __m128i *rk = (const __m128i *)(dec ? ks->dec1 : ks->enc1);
    __m128i t[8];
    uint8_t tb[16][16] __attribute__((aligned(16)));
    for (size_t g = 0; g < n; g += 8) {
        size_t cnt = n - g < 8 ? n - g : 8;
        XTS_NAME(tweaks8)(ks, units + g, cnt, t);
        for (size_t j = 0; j < cnt; j++) {
            struct eng_unit *u = &units[g + j];
            XTS_NAME(unit)(rk, dec, u->in, u->out, u->len, t[j], tb);
        }
    }
    eng_cleanse(t, sizeof(t));
    eng_cleanse(tb, sizeof(tb));
}

__attribute__((target(XTS_TARGET))) void XTS_BATCH(const struct eng_xts_sched *ks, int dec,
                                                   struct eng_unit *units, size_t n)
{
    /* Two copies, so that the direction is a constant inside each. */
    if (dec) {
        XTS_NAME(batch)(ks, 1, units, n);
    } else {
        XTS_NAME(batch)(ks, 0, units, n);
    }
    XTS_CLEAR;
}

#undef XTS_FN
