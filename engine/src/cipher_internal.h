/*
 * cipher_internal.h - the back-end ops table behind eng_cipher.
 *
 * A back end is one file that fills one struct eng_backend_ops. cipher.c
 * validates every argument of every unit before calling a back end, so a
 * back end's batch function sees only well-formed units: non-NULL pointers,
 * lengths valid for the mode, tag_len already resolved (1..16, never 0).
 */
#ifndef ENG_CIPHER_INTERNAL_H
#define ENG_CIPHER_INTERNAL_H

#include "eng_cipher.h"
#include "eng_cpu.h"
#include "eng_secure.h"
#include "error_internal.h"

struct eng_cipher;

struct eng_backend_ops {
    enum eng_backend id;
    /* 1 if the back end implements |mode| at CPU path |arch| (never AUTO). */
    int (*supports)(enum eng_mode mode, enum eng_arch arch);
    /*
     * Expands |key| into c->sched (allocate it with eng_secure_alloc, set
     * c->sched_len); key length and XTS halves are already checked.
     * Returns 0 or -1 with the error set. On failure c->sched may be
     * non-NULL; cipher.c frees it.
     */
    int (*key_init)(struct eng_cipher *c, const uint8_t *key);
    /* Releases anything key_init made besides c->sched (may be NULL). */
    void (*key_cleanup)(struct eng_cipher *c);
    /*
     * Processes validated units. Sets each unit's status; returns 0 if all
     * are ENG_OK, else -1 with the first failure's error set. Must be safe
     * to call from several threads at once on the same cipher.
     */
    int (*batch)(const struct eng_cipher *c, enum eng_dir dir, struct eng_unit *units, size_t n);
};

struct eng_cipher {
    enum eng_mode mode;
    enum eng_backend backend;
    enum eng_arch arch;
    const struct eng_backend_ops *ops;
    void *sched; /* back end's key schedule, in secure memory */
    size_t sched_len;
    void *extra; /* back end's other per-key state (not secret or separately wiped) */
};

extern const struct eng_backend_ops eng_backend_native_ops;
extern const struct eng_backend_ops eng_backend_ipsecmb_ops;
extern const struct eng_backend_ops eng_backend_openssl_ops;

#endif /* ENG_CIPHER_INTERNAL_H */
