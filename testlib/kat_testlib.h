/*
 * kat_testlib.h - helpers for the known-answer test suites of the engine
 * and of compliance (tests only): the (back end, arch) paths that run a
 * mode, hex literals, where the vector files are, a reference cipher
 * through OpenSSL EVP, and one-line notes.
 */
#ifndef KAT_TESTLIB_H
#define KAT_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "eng_cipher.h"
#include "tl_files.h"

/* A back end and CPU path that runs a mode on this build and machine. */
struct tl_path {
    enum eng_backend b;
    enum eng_arch a;
};

#define TL_MAX_PATHS (ENG_BACKEND_COUNT * ENG_ARCH_COUNT)

/*
 * tl_paths fills |out| with every (back end, arch) pair, back ends NATIVE,
 * IPSECMB, OPENSSL and archs NOAESNI .. eng_cpu_best_arch(), for which
 * eng_backend_supports(b, mode, a) holds. Returns how many.
 */
size_t tl_paths(enum eng_mode mode, struct tl_path *out, size_t max_out);

/* tl_path_name writes "ipsec-mb/avx512" into |out|; returns |out|. */
const char *tl_path_name(const struct tl_path *p, char *out, size_t max_out_len);

/*
 * tl_hex decodes the hex literal |hex| (whitespace allowed between digits)
 * into |out| and returns the byte count. A malformed literal or one longer
 * than |max_out| fails the calling test.
 */
size_t tl_hex(uint8_t *out, size_t max_out, const char *hex);

/*
 * tl_repo_root finds the checkout this test binary was built in (the folder
 * holding engine/engine.mk, searched upwards from the binary, then from the
 * working directory). 1 and |out| filled, or 0.
 */
int tl_repo_root(char *out, size_t max_out_len);

/*
 * tl_shared_vectors finds the shared vectors folder: $CMK_SHARED_VECTORS if
 * set, else <repo root>/../shared/vectors. Returns 1 with |out| filled when
 * the folder exists, 0 otherwise (|out| then holds the path looked at).
 */
int tl_shared_vectors(char *out, size_t max_out_len);

/*
 * tl_pyca_aes finds python3-cryptography-vectors' AES folder:
 * $CMK_PYCA_VECTORS (the cryptography_vectors folder) if set, else the
 * Debian location. Same return as tl_shared_vectors.
 */
int tl_pyca_aes(char *out, size_t max_out_len);

/*
 * tl_ref_crypt runs |cipher| ("AES-256-ECB", "-CBC", "-CTR", "-XTS",
 * "-GCM") through OpenSSL EVP directly, independently of the engine.
 * GCM: any IV length; |aad| may be NULL; encrypt writes |tag_len| bytes to
 * |tag|, decrypt checks them. Returns 1 on success (decrypt: tag matched),
 * 0 otherwise.
 */
int tl_ref_crypt(const char *cipher, int enc, const uint8_t *key, const uint8_t *iv, size_t iv_len,
                 const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                 uint8_t *tag, size_t tag_len);

/*
 * tl_note prints one line "[KAT ] ..." to stderr, where `make test` shows
 * it (Criterion hides cr_log_info unless run with --verbose).
 */
void tl_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* KAT_TESTLIB_H */
