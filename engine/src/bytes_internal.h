/*
 * bytes_internal.h - bounds-checked reading and writing of binary records
 * (key table, key file, store metadata, backup headers).
 *
 * A reader is a read-only view {p, left}: every getter checks that enough
 * bytes remain, advances, and returns 0; when they do not, it returns -1,
 * marks the reader "short" and reads nothing. The parser then tells a
 * truncated input (short) from a malformed one. All integers are big-endian.
 * A writer appends to a growable buffer with a hard ceiling (libbase's
 * base_buf, wiping every block it outgrows); after any failure it stays
 * failed (sticky), so a serializer checks once at the end.
 */
#ifndef ENG_BYTES_INTERNAL_H
#define ENG_BYTES_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base_buf.h"

struct eng_rd {
    const uint8_t *p;
    size_t left;
    int short_read;
};

void eng_rd_init(struct eng_rd *r, const uint8_t *data, size_t len);
int eng_rd_u8(struct eng_rd *r, uint8_t *out);
int eng_rd_u16(struct eng_rd *r, uint16_t *out);
int eng_rd_u32(struct eng_rd *r, uint32_t *out);
int eng_rd_u64(struct eng_rd *r, uint64_t *out);
/* Copies |len| bytes to |out|. */
int eng_rd_bytes(struct eng_rd *r, uint8_t *out, size_t len);
/* Points |out| at the next |len| bytes (a borrowed view) and skips them. */
int eng_rd_view(struct eng_rd *r, const uint8_t **out, size_t len);
/*
 * Reads a u8 length and that many bytes into |out| as a NUL-terminated
 * string; -1 (not short) if the length does not fit |max_out_len| - 1 or the
 * bytes hold a NUL.
 */
int eng_rd_str8(struct eng_rd *r, char *out, size_t max_out_len);

/* The bytes are b.data[0 .. b.len) (a base_buf in BASE_BUF_WIPE mode). */
struct eng_wr {
    struct base_buf b;
    int failed;
};

/* eng_wr_init starts an empty writer that may grow to |max| bytes. */
void eng_wr_init(struct eng_wr *w, size_t max);
void eng_wr_u8(struct eng_wr *w, uint8_t v);
void eng_wr_u16(struct eng_wr *w, uint16_t v);
void eng_wr_u32(struct eng_wr *w, uint32_t v);
void eng_wr_u64(struct eng_wr *w, uint64_t v);
void eng_wr_bytes(struct eng_wr *w, const void *data, size_t len);
/* Writes strlen(s) as a u8 and the bytes; fails the writer above 255. */
void eng_wr_str8(struct eng_wr *w, const char *s);
/* eng_wr_cleanup wipes and frees the buffer. */
void eng_wr_cleanup(struct eng_wr *w);

/*
 * eng_secure_base_alloc backs a libbase buffer with eng_secure_alloc (locked,
 * kept out of core dumps, wiped on free), for secrets that grow, e.g. an answer
 * holding a key: base_buf_init_alloc(&b, max, BASE_BUF_WIPE, &eng_secure_base_alloc).
 */
extern const struct base_alloc eng_secure_base_alloc;

/* Big-endian helpers for fixed fields. */
void eng_be64_put(uint8_t out[8], uint64_t v);
uint64_t eng_be64_get(const uint8_t in[8]);

#endif /* ENG_BYTES_INTERNAL_H */
