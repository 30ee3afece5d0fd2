/*
 * vmt_scan.h - find secrets in bytes, files and folder trees.
 *
 * A secret (a DEK, a KEK, an RSA private component) is found when any
 * 16-byte window of it appears in one of these encodings:
 *   raw        the 16 bytes
 *   hex        32 hex digits, lower case or upper case
 *   base64     standard and URL alphabets, at each of the three byte
 *              alignments a secret can have inside a longer encoded stream:
 *              any 16 raw bytes of a stream cover at least 4 whole 3-byte
 *              groups, so every window of 4 groups (16 characters) of the
 *              secret's encoding at each alignment is looked for
 * Text secrets (bearer tokens) are looked for as they are.
 * Shared by the engine and vault-mock secret tests; no test framework.
 */
#ifndef VMT_SCAN_H
#define VMT_SCAN_H

#include <stddef.h>
#include <stdint.h>

struct vmt_scan;

struct vmt_scan_hit {
    char label[64];    /* the secret's label */
    char encoding[16]; /* raw, hex, HEX, base64, base64url, text */
    char where[512];   /* file path (or "buffer") */
    size_t offset;
};

struct vmt_scan *vmt_scan_new(void);
/* vmt_scan_free wipes the secrets and frees the scanner. NULL is a no-op. */
void vmt_scan_free(struct vmt_scan *sc);

/* vmt_scan_add_secret adds every 16-byte window of |len| (>= 16) bytes; 0 or -1. */
int vmt_scan_add_secret(struct vmt_scan *sc, const char *label, const uint8_t *secret, size_t len);
/* vmt_scan_add_text adds |text| (>= 8 characters) as one needle; 0 or -1. */
int vmt_scan_add_text(struct vmt_scan *sc, const char *label, const char *text);
/* vmt_scan_count returns the number of secrets added. */
size_t vmt_scan_count(const struct vmt_scan *sc);

/*
 * vmt_scan_buf looks for every needle in |buf|; returns the number of hits
 * and copies the first into |first| (may be NULL), with |where| as its place.
 */
size_t vmt_scan_buf(struct vmt_scan *sc, const void *buf, size_t len, const char *where,
                    struct vmt_scan_hit *first);
/* vmt_scan_file scans one file; (size_t)-1 when it cannot be read. */
size_t vmt_scan_file(struct vmt_scan *sc, const char *path, struct vmt_scan_hit *first);

/*
 * vmt_scan_tree scans every regular file below |dir| except paths that
 * |skip| (may be NULL) returns 1 for. *files gets the number scanned.
 * Returns the number of hits ((size_t)-1 on a walk or read error).
 */
size_t vmt_scan_tree(struct vmt_scan *sc, const char *dir, int (*skip)(const char *path),
                     size_t *files, struct vmt_scan_hit *first);

#endif /* VMT_SCAN_H */
