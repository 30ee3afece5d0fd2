/*
 * store_helpers.h - engine-only helpers for the key, store, backup and
 * temporary-file tests: a key file written independently of smk.c (from
 * its documented format) and a provider whose get() can be switched to
 * fail. It includes the shared testlib's folders and files (tl_files.h),
 * cmk runner (tl_cmk.h) and vector readers (tl_vectors.h).
 */
#ifndef STORE_HELPERS_H
#define STORE_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "eng_keys.h"
#include "eng_store.h"
#include "tl_cmk.h"
#include "tl_files.h"
#include "tl_vectors.h"

/*
 * tl_write_key_file writes a one-version SMK key file with KEK |kek| at
 * |path| (mode 0600), building the format by hand (see smk.c): key id
 * 0x11.., version id 0x22... Returns 0 or -1.
 */
int tl_write_key_file(const char *path, const uint8_t kek[32]);

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

/*
 * tl_store_config is eng_store_config_init's configuration with the
 * geometry |mode|, |unit_size|, |num_units|, |extent_units| set.
 */
struct eng_store_config tl_store_config(enum eng_mode mode, uint32_t unit_size, uint64_t num_units,
                                        uint32_t extent_units);
/* tl_random_buf returns |len| random bytes (RAND_bytes) in a malloc'd buffer; asserts. */
uint8_t *tl_random_buf(size_t len);

#endif /* STORE_HELPERS_H */
