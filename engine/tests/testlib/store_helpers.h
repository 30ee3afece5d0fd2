/*
 * store_helpers.h - test-only helpers for the key, store, backup and
 * temporary-file tests: scratch folders, a key file written independently
 * of smk.c (from its documented format), a provider whose get() can be
 * switched to fail, and a reader for NIST "K = ... / P = ..." vector files.
 */
#ifndef STORE_HELPERS_H
#define STORE_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "eng_keys.h"

/* tl_tmpdir makes a fresh folder under /tmp and writes its path to |out|; aborts on failure. */
void tl_tmpdir(char *out, size_t max_out_len);
/*
 * tl_cmk_path writes the absolute path of the cmk program under test:
 * $CMK_BIN, else |compiled_default| (relative paths taken from the current
 * folder). Returns 0, or -1 when it does not fit.
 */
int tl_cmk_path(const char *compiled_default, char *out, size_t max_out_len);
/*
 * tl_cmk_run runs the cmk program under test (see tl_cmk_path) in folder
 * |dir| with the printf-style arguments, its output in |dir|/stdout and
 * |dir|/stderr. Returns its exit code, or -1 if the command did not fit,
 * could not start, or cmk did not exit normally.
 */
int tl_cmk_run(const char *compiled_default, const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* tl_rmtree removes |path| and everything below it (best effort). */
void tl_rmtree(const char *path);
/* tl_path writes "<dir>/<name>" into |out|. */
void tl_path(char *out, size_t max_out_len, const char *dir, const char *name);

/*
 * tl_write_key_file writes a one-version SMK key file with KEK |kek| at
 * |path| (mode 0600), building the format by hand (see smk.c): key id
 * 0x11.., version id 0x22... Returns 0 or -1.
 */
int tl_write_key_file(const char *path, const uint8_t kek[32]);

/* tl_read_file reads a whole file into a malloc'd buffer; NULL on failure. */
uint8_t *tl_read_file(const char *path, size_t *out_len);
/* tl_write_file replaces |path| with |len| bytes; 0 or -1. */
int tl_write_file(const char *path, const void *data, size_t len);
/* tl_flip_bit flips bit |bit| of the byte at |off| in |path|; 0 or -1. */
int tl_flip_bit(const char *path, uint64_t off, int bit);

/*
 * A provider that forwards to |inner| but whose get() fails with *fail_code
 * while that is non-zero; wrap/unwrap fail too when *fail_all is non-zero.
 * Owns |inner|.
 */
struct tl_switch {
    struct eng_kek_provider *inner;
    int fail_code;
    int fail_all;
    unsigned gets; /* calls to get() */
};
struct eng_kek_provider *tl_switch_provider(struct tl_switch *sw, struct eng_kek_provider *inner);

/* One NIST key-wrap vector: K, P, C, and whether it is marked FAIL. */
struct tl_kw_vector {
    uint8_t k[32];
    uint8_t p[512];
    size_t p_len;
    uint8_t c[520];
    size_t c_len;
    int fail;
};
/*
 * tl_kw_vectors reads up to |max| vectors from a CAVP KW/KWP file into
 * |out|; returns how many, or -1 if the file cannot be read.
 */
int tl_kw_vectors(const char *path, struct tl_kw_vector *out, int max);

#endif /* STORE_HELPERS_H */
