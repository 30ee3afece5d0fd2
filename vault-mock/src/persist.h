/*
 * persist.h - crash-safe state files and sealing under the vault master key.
 *
 * Every state file is written as: temporary file (mode 0600), fsync,
 * rename over the old one, fsync of the folder. Private keys at rest are
 * sealed with AES-256-GCM under a 32-byte master key kept in
 * STATE/master.key (0600).
 */
#ifndef VMOCK_PERSIST_H
#define VMOCK_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#define VMOCK_MASTER_KEY_BYTES 32U
#define VMOCK_SEAL_NONCE_BYTES 12U
#define VMOCK_SEAL_TAG_BYTES   16U
#define VMOCK_SEAL_OVERHEAD    (VMOCK_SEAL_NONCE_BYTES + VMOCK_SEAL_TAG_BYTES)

/*
 * vmock_dir_private creates |dir| with mode 0700, or accepts an existing
 * folder that only its owner can enter. Returns 0, or -1 with |err| filled
 * (also when an existing folder is open to group or others).
 */
int vmock_dir_private(const char *dir, char *err, size_t err_len);

/*
 * vmock_file_write_atomic replaces |dir|/|name| with |len| bytes of |data|
 * crash-safely (temp file, fsync, rename, fsync dir); the file ends mode
 * 0600. Returns 0, or -1 with |err| filled.
 */
int vmock_file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                            char *err, size_t err_len);

/*
 * vmock_file_read reads the whole file at |path| (at most |max| bytes) into
 * a malloc'd NUL-terminated buffer in |*out| with its length in |*out_len|.
 * Returns 0; 1 when the file does not exist; -1 on any other failure with
 * |err| filled. The caller frees |*out|.
 */
int vmock_file_read(const char *path, size_t max, char **out, size_t *out_len, char *err,
                    size_t err_len);

/*
 * vmock_master_key_load loads STATE/master.key into |key|, generating and
 * storing a fresh random key (0600) on first start. Returns 0, or -1 with
 * |err| filled. The caller wipes |key| when done.
 */
int vmock_master_key_load(const char *dir, uint8_t key[VMOCK_MASTER_KEY_BYTES], char *err,
                          size_t err_len);

/*
 * vmock_seal encrypts |in| with AES-256-GCM under |key|, binding |aad|, into
 * a malloc'd nonce || ciphertext || tag buffer in |*out| (|in_len| +
 * VMOCK_SEAL_OVERHEAD bytes). Returns 0 or -1. The caller frees |*out|.
 */
int vmock_seal(const uint8_t key[VMOCK_MASTER_KEY_BYTES], const uint8_t *aad, size_t aad_len,
               const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len);

/*
 * vmock_unseal reverses vmock_seal. Returns 0 with the plaintext in a
 * malloc'd |*out| (the caller wipes and frees it), or -1 when the blob is
 * malformed or fails authentication (nothing is returned then).
 */
int vmock_unseal(const uint8_t key[VMOCK_MASTER_KEY_BYTES], const uint8_t *aad, size_t aad_len,
                 const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len);

#endif /* VMOCK_PERSIST_H */
