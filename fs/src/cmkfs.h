/*
 * cmkfs.h - cmk-fs internals shared by main.c (command line, mount, key
 * revalidation), fsops.c (the FUSE operations) and data.c (the data path).
 *
 * Backing folder layout:
 *   BACKING/keyring/   the key table (an eng_keyring; absent for --passthrough)
 *   BACKING/passthrough  marker file of a plaintext backing (absent when encrypted)
 *   BACKING/files/     the tree the mount shows; names, sizes, modes, owners
 *                      and times in plaintext; each regular file is a
 *                      CMKFS_HDR-byte header followed by the contents'
 *                      ciphertext, unit by unit (XTS: length-preserving,
 *                      file size = backing size - CMKFS_HDR; GCM: each unit
 *                      is a CMKFS_GCM_REC-byte record then its ciphertext).
 *   BACKING/orphans/   files unlinked while open, until their last close
 *                      (emptied at every mount)
 *   BACKING/mount.lock flock'ed while mounted, holds the mount point (mountlock.h)
 */
#ifndef CMKFS_H
#define CMKFS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "eng_cipher.h"
#include "eng_keyring.h"

#define CMKFS_HDR         4096U      /* header bytes at the start of every backing file */
#define CMKFS_MAGIC       "CMKFSH01" /* header magic (8 bytes) */
#define CMKFS_NONCE_BYTES 32U        /* per-file nonce, as fscrypt v2 */
#define CMKFS_MODE_PLAIN  0xffU      /* header mode byte of a passthrough file */
#define CMKFS_HKDF_LABEL  "cmk-fs file key v1 "
#define CMKFS_BATCH       64U /* units per engine batch */
/* GCM: per unit a record of nonce (12) | tag (16) | key generation (4, BE) before the ciphertext */
#define CMKFS_GCM_REC     32U
#define CMKFS_GCM_AAD     (CMKFS_NONCE_BYTES + 8U) /* header nonce || be64(unit number) */
#define CMKFS_HDR_GCM_OFF 64U            /* header: key generation (4) | reserved encryptions (8) */
#define CMKFS_GCM_LIMIT   (1ULL << 28)   /* encryptions per file key (as the store's DEK limit) */
#define CMKFS_GCM_RESERVE (1ULL << 16)   /* encryptions reserved in the header at a time */
#define CMKFS_OLD_GENS    4U             /* ciphers of older key generations kept per open file */
#define CMKFS_HIDDEN      ".fuse_hidden" /* libfuse's names for unlinked open files (reserved) */
#define CMKFS_ORPHANS     "orphans"      /* BACKING/orphans: where those live */

/* The mounted filesystem: one per process. */
struct cmkfs {
    int root_fd;        /* BACKING/files, O_PATH|O_DIRECTORY */
    int passthrough;    /* 1: no cipher, copies instead */
    enum eng_mode mode; /* ENG_MODE_XTS or ENG_MODE_GCM */
    uint32_t unit;      /* unit size, bytes */
    uint32_t rec;       /* backing bytes per unit besides its ciphertext: CMKFS_GCM_REC or 0 */
    uint64_t gcm_limit; /* CMKFS_GCM_LIMIT (tests may lower it: CMKFS_TEST_GCM_LIMIT) */
    uint8_t fs_id[ENG_KEYRING_ID_BYTES];
    struct eng_keyring *kr; /* NULL for passthrough */
    /* Key state, read by the I/O path without locks. */
    atomic_int revoked; /* 1 once the KEK is gone: every open/read/write/fsync -> EIO */
    atomic_uint_fast64_t last_ok_ns; /* monotonic time of the last good KEK check */
    uint64_t deadline_ns;       /* revalidate_s + grace_s (+ 2 s slack): no good check -> EIO */
    pthread_mutex_t nodes_lock; /* guards the node table */
    struct cmkfs_node *nodes;   /* open files, by backing inode */
};

/* One open backing file (shared by every handle on the same inode). */
struct cmkfs_node {
    struct cmkfs_node *next;
    dev_t dev;
    ino_t ino;
    int refs;                  /* open handles; guarded by nodes_lock */
    pthread_rwlock_t rw;       /* readers share; writes, truncates take it exclusively */
    struct eng_cipher *cipher; /* per-file key (NULL: passthrough, or wiped after revocation) */
    /* GCM only; written under rw held exclusively */
    uint8_t fnonce[CMKFS_NONCE_BYTES]; /* the header's nonce (the file's identity, in the AAD) */
    uint32_t gen;                      /* the key generation cipher belongs to */
    uint64_t inv_used;                 /* encryptions under it (counted from the reservation) */
    uint64_t inv_reserved;             /* encryptions reserved in the header */
    pthread_mutex_t old_lock;          /* guards adding to old[] (readers add too) */
    size_t n_old;                      /* ciphers of older generations kept, for reading */
    uint32_t old_gen[CMKFS_OLD_GENS];
    struct eng_cipher *old[CMKFS_OLD_GENS];
};

extern struct cmkfs g_fs;

/* An open file: fuse_file_info.fh. */
struct cmkfs_handle {
    int fd;     /* the backing file */
    int append; /* opened O_APPEND: every write goes to the end */
    struct cmkfs_node *n;
};

/* cmkfs_now_ns: CLOCK_MONOTONIC in nanoseconds. */
uint64_t cmkfs_now_ns(void);

/* cmkfs_key_ok: 0 while the key is usable, else -EIO (and the state becomes revoked). */
int cmkfs_key_ok(void);

/* cmkfs_drop_keys wipes every open file's cipher (after a revocation). */
void cmkfs_drop_keys(void);

/* --- data.c: the contents of open files ----------------------------------- */

/* cmkfs_node_get: the node of backing file |fd| (one per inode), its key loaded; 0 or -errno. */
int cmkfs_node_get(int fd, struct cmkfs_node **out);
/* cmkfs_node_put drops a reference (|fd| an open descriptor of it); the last frees the node. */
void cmkfs_node_put(struct cmkfs_node *n, int fd);
/* cmkfs_write_header writes a new file's header (random nonce; mode, unit, fs id); 0 or -errno. */
int cmkfs_write_header(int fd);
/* cmkfs_logical_size: a regular backing file's size -> the size the mount shows. */
uint64_t cmkfs_logical_size(uint64_t backing);
/*
 * The open file's contents, each under the node's lock (reads share it):
 * cmkfs_read returns the bytes read (short at the end of the file or before
 * a unit that failed authentication) or -errno; cmkfs_write the bytes
 * written or -errno, and may leave ciphertext in |buf| (XTS encrypts whole
 * units in place); cmkfs_resize (truncate, up or down) and
 * cmkfs_allocate (fallocate mode 0) 0 or -errno.
 */
int cmkfs_read(struct cmkfs_handle *h, char *buf, size_t size, uint64_t off);
int cmkfs_write(struct cmkfs_handle *h, char *buf, size_t size, uint64_t off);
int cmkfs_resize(struct cmkfs_handle *h, uint64_t size);
int cmkfs_allocate(struct cmkfs_handle *h, uint64_t off, uint64_t len);

/* cmkfs_operations fills the FUSE operation table. */
struct fuse_operations;
void cmkfs_operations(struct fuse_operations *ops);

#endif /* CMKFS_H */
