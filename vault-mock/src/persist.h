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

#include "base_err.h"

#define VMOCK_MASTER_KEY_BYTES 32U
#define VMOCK_SEAL_NONCE_BYTES 12U
#define VMOCK_SEAL_TAG_BYTES   16U
#define VMOCK_SEAL_OVERHEAD    (VMOCK_SEAL_NONCE_BYTES + VMOCK_SEAL_TAG_BYTES)

/*
 * vmock_dir_private creates |dir| with mode 0700, or accepts an existing
 * folder (not a symbolic link) that the effective user owns and that only
 * its owner can enter. Returns 0, or -1 with |e| filled naming the
 * folder, what was found and what is required.
 */
int vmock_dir_private(const char *dir, struct base_err *e);

/*
 * vmock_file_check checks the opened |fd| of |path|: a regular file and,
 * when |secret|, owned by the effective user with no group or other
 * permission bits (0600 or stricter). Returns 0, or -1 with |e| filled.
 */
int vmock_file_check(int fd, const char *path, int secret, struct base_err *e);

/*
 * vmock_file_open opens |path| with |flags| (O_CREAT creates it mode 0600)
 * without blocking on a FIFO and, when |secret|, without following a
 * symbolic link, then applies vmock_file_check. Returns the descriptor
 * (blocking mode), -2 when the file does not exist (no O_CREAT), or -1,
 * with |e| filled in both failure cases.
 */
int vmock_file_open(const char *path, int flags, int secret, struct base_err *e);

/*
 * vmock_file_write_atomic replaces |dir|/|name| with |len| bytes of |data|
 * crash-safely (temp file, fsync, rename, fsync dir); the file ends mode
 * 0600. Returns 0, or -1 with |e| filled.
 */
int vmock_file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                            struct base_err *e);

/*
 * vmock_file_read reads the whole file at |path| (at most |max| bytes) into
 * a malloc'd NUL-terminated buffer in |*out| with its length in |*out_len|.
 * The file must pass the secret-file rule of vmock_file_open (regular, not
 * a symbolic link, ours, 0600). Returns 0; 1 when the file does not exist;
 * -1 on any other failure with |e| filled. The caller frees |*out|.
 */
int vmock_file_read(const char *path, size_t max, char **out, size_t *out_len, struct base_err *e);
/*
 * vmock_file_read_public is vmock_file_read for a public file (a
 * certificate): any owner and mode, symbolic links followed; still a
 * regular file, never a FIFO.
 */
int vmock_file_read_public(const char *path, size_t max, char **out, size_t *out_len,
                           struct base_err *e);

/*
 * vmock_master_key_load loads STATE/master.key into |key|, generating and
 * storing a fresh random key (0600) on first start. A missing master.key
 * next to an existing STATE/vault.json is an error (nothing is created).
 * Returns 0, or -1 with |e| filled. The caller wipes |key| when done.
 */
int vmock_master_key_load(const char *dir, uint8_t key[VMOCK_MASTER_KEY_BYTES], struct base_err *e);

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
