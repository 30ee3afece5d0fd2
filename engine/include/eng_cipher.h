/*
 * eng_cipher.h - AES-256 data-unit encryption: XTS, GCM, CTR, CBC, in batches.
 *
 * An eng_cipher holds one key (expanded once, in locked memory that is
 * excluded from core dumps and wiped on free) for one mode, bound to one back
 * end and CPU path chosen when it is created. It is immutable after creation
 * and may be used by several threads at once: per-thread state (ipsec-mb
 * managers, OpenSSL contexts) is kept per thread, never in the eng_cipher.
 *
 * The batch call processes N independent data units (for example 64 pages of
 * 8 KiB, each with its own tweak or nonce). That is the unit of work of the
 * store and the benchmarks, and what lets multi-buffer back ends keep many
 * units in flight.
 *
 * WARNING (GCM): a (key, nonce) pair must never be used twice; with random
 * 96-bit nonces keep one key under 2^32 messages (SP 800-38D 8.3).
 * WARNING (XTS): XTS is length preserving and unauthenticated: it hides data
 * but does not detect tampering or replay of a whole data unit.
 */
#ifndef ENG_CIPHER_H
#define ENG_CIPHER_H

#include <stddef.h>
#include <stdint.h>

#include "eng_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ENG_AES256_KEY_BYTES   32U
#define ENG_XTS_KEY_BYTES      64U /* key1 (data) || key2 (tweak) */
#define ENG_BLOCK_BYTES        16U
#define ENG_GCM_NONCE_BYTES    12U
#define ENG_GCM_TAG_BYTES      16U
#define ENG_XTS_TWEAK_BYTES    16U
#define ENG_XTS_MAX_UNIT_BYTES (16U << 20) /* 2^20 blocks, SP 800-38E */

enum eng_mode {
    ENG_MODE_XTS = 0,
    ENG_MODE_GCM,
    ENG_MODE_CTR,
    ENG_MODE_CBC,
    ENG_MODE_COUNT,
};

enum eng_backend {
    ENG_BACKEND_AUTO = 0, /* ENG_BACKEND env var, else the fastest for the mode */
    ENG_BACKEND_NATIVE,   /* the project's own VAES/AES-NI XTS; VAES GCM (vaes-avx2, avx512) */
    ENG_BACKEND_IPSECMB,  /* Intel ipsec-mb: GCM, CTR, CBC */
    ENG_BACKEND_OPENSSL,  /* OpenSSL 3 EVP: all modes; the reference */
    ENG_BACKEND_COUNT,
};

/* CPU paths, narrowest first. AUTO = the ENG_ARCH env var, else the best the CPU has. */
enum eng_arch {
    ENG_ARCH_AUTO = 0,
    ENG_ARCH_NOAESNI,   /* no AES instructions at all */
    ENG_ARCH_SSE,       /* AES-NI + PCLMULQDQ + SSE4.1 */
    ENG_ARCH_AVX,       /* + AVX */
    ENG_ARCH_AVX2,      /* + AVX2 (valgrind's widest) */
    ENG_ARCH_VAES_AVX2, /* + VAES + VPCLMULQDQ on ymm, no AVX-512 ("vaes-avx2": AMD Zen 3) */
    ENG_ARCH_AVX512,    /* + AVX-512F/BW/VL + VAES + VPCLMULQDQ */
    ENG_ARCH_COUNT,
};

enum eng_dir {
    ENG_ENCRYPT = 0,
    ENG_DECRYPT = 1,
};

/*
 * One data unit of a batch.
 *   in, out  may be equal (in place) or not overlap at all; any alignment.
 *   len      XTS: 16 .. ENG_XTS_MAX_UNIT_BYTES, any length (ciphertext stealing);
 *            CBC: a multiple of 16; GCM, CTR: >= 1 (GCM: also 0 with AAD).
 *   iv       XTS: 16-byte tweak (see eng_xts_tweak_from_u64);
 *            GCM: 12-byte nonce; CTR: 16-byte initial counter block
 *            (big-endian 128-bit increment); CBC: 16-byte IV.
 *   iv_len   must be exactly the size above (else ENG_ERR_NONCE_LEN).
 *   aad      GCM only, may be NULL when aad_len is 0.
 *   tag      GCM only: written on encrypt, checked (constant time) on decrypt.
 *   tag_len  GCM only: 0 means 16; else one of 4, 8, 12..16 (SP 800-38D).
 *   status   out: ENG_OK or the error of this unit. A unit that fails has its
 *            output wiped: no unauthenticated plaintext is ever released.
 */
struct eng_unit {
    const uint8_t *in;
    uint8_t *out;
    size_t len;
    const uint8_t *iv;
    size_t iv_len;
    const uint8_t *aad;
    size_t aad_len;
    uint8_t *tag;
    uint32_t tag_len;
    int status;
};

struct eng_cipher;

/*
 * eng_cipher_new creates a cipher for |mode| with |key| (32 bytes, or 64 for
 * XTS, whose two halves must differ). |backend| and |arch| may be AUTO. It
 * returns NULL on failure with eng_errno() set: ENG_ERR_KEY_LEN,
 * ENG_ERR_XTS_KEY_HALVES_EQUAL, ENG_ERR_UNSUPPORTED (back end lacks the mode),
 * ENG_ERR_CPU (path not on this CPU), ENG_ERR_ENV, ENG_ERR_NOMEM, ENG_ERR_MLOCK.
 * The caller keeps ownership of |key| and should wipe it; the cipher keeps
 * its own copy/schedule in secure memory.
 */
ENG_API struct eng_cipher *eng_cipher_new(enum eng_mode mode, enum eng_backend backend,
                                          enum eng_arch arch, const uint8_t *key, size_t key_len);

/* eng_cipher_free wipes and frees |c|. NULL is a no-op. */
ENG_API void eng_cipher_free(struct eng_cipher *c);

/*
 * eng_cipher_batch encrypts or decrypts |num_units| units. Returns 0 when
 * every unit succeeded; -1 otherwise with eng_errno() set to the first
 * failing unit's code (each unit's own code is in its |status|). Argument
 * errors (NULL, bad lengths) are detected for all units before any is
 * processed; then nothing is written. GCM decryption failures (ENG_ERR_AUTH)
 * affect only the failing unit, whose output is zeroed.
 */
ENG_API int eng_cipher_batch(const struct eng_cipher *c, enum eng_dir dir, struct eng_unit *units,
                             size_t num_units);

/* Convenience single-unit forms of eng_cipher_batch. */
ENG_API int eng_cipher_encrypt(const struct eng_cipher *c, struct eng_unit *unit);
ENG_API int eng_cipher_decrypt(const struct eng_cipher *c, struct eng_unit *unit);

/* What ran: the cipher's mode, back end and CPU path. */
ENG_API enum eng_mode eng_cipher_mode(const struct eng_cipher *c);
ENG_API enum eng_backend eng_cipher_backend(const struct eng_cipher *c);
ENG_API enum eng_arch eng_cipher_arch(const struct eng_cipher *c);

/* eng_xts_tweak_from_u64 writes data unit number |n| as the 16-byte little-endian XTS tweak. */
ENG_API void eng_xts_tweak_from_u64(uint8_t tweak[ENG_XTS_TWEAK_BYTES], uint64_t n);

/* Names: "xts", "gcm", "ctr", "cbc"; "auto", "native", "ipsec-mb", "openssl";
 * "auto", "noaesni", "sse", "avx", "avx2", "vaes-avx2", "avx512". Never NULL. */
ENG_API const char *eng_mode_name(enum eng_mode m);
ENG_API const char *eng_backend_name(enum eng_backend b);
ENG_API const char *eng_arch_name(enum eng_arch a);
/* Parse a name; 0 on success, -1 with ENG_ERR_MODE / ENG_ERR_BACKEND / ENG_ERR_ARCH. */
ENG_API int eng_mode_from_name(const char *name, enum eng_mode *out);
ENG_API int eng_backend_from_name(const char *name, enum eng_backend *out);
ENG_API int eng_arch_from_name(const char *name, enum eng_arch *out);

/*
 * eng_backend_supports returns 1 if |b| implements |mode| on this build and
 * CPU at |arch| (AUTO = best available), else 0.
 */
ENG_API int eng_backend_supports(enum eng_backend b, enum eng_mode mode, enum eng_arch arch);

/* One way the engine can run a mode: a back end on a CPU path. */
struct eng_path {
    enum eng_backend backend;
    enum eng_arch arch;
};

/*
 * eng_paths lists the distinct paths that run |mode| on this CPU (ENG_ARCH
 * ignored), native first, then ipsec-mb, then OpenSSL: every path of the
 * back ends whose code depends on the arch argument, and OpenSSL once (it
 * picks its own path from CPUID); ipsec-mb not at vaes-avx2, where it runs
 * its avx2 code. Writes at most |max_out| entries; returns
 * how many exist.
 */
ENG_API size_t eng_paths(enum eng_mode mode, struct eng_path *out, size_t max_out);

/*
 * eng_resolve picks what eng_cipher_new would pick for (mode, backend, arch)
 * after applying ENG_BACKEND / ENG_ARCH. Returns 0 or -1 (ENG_ERR_ENV,
 * ENG_ERR_UNSUPPORTED, ENG_ERR_CPU).
 */
ENG_API int eng_resolve(enum eng_mode mode, enum eng_backend backend, enum eng_arch arch,
                        enum eng_backend *out_backend, enum eng_arch *out_arch);

/* Library versions, for reports: "OpenSSL 3.0.x ...", "1.3.0". */
ENG_API const char *eng_openssl_version(void);
ENG_API const char *eng_ipsecmb_version(void);

#ifdef __cplusplus
}
#endif
#endif /* ENG_CIPHER_H */
