/*
 * comp_internal.h - helpers shared by the vector readers (not installed).
 */
#ifndef COMP_INTERNAL_H
#define COMP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "comp_vectors.h"

/* Fills |err| (may be NULL) and returns -1. */
int comp_fail(struct comp_error *err, int code, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Reads the whole file at |path| into a NUL-terminated heap buffer (*out,
 * *out_len without the NUL). Returns 0 or -1 with |err| set.
 */
int comp_read_file(const char *path, char **out, size_t *out_len, struct comp_error *err);

/* Copies |len| bytes into a NUL-terminated heap buffer; NULL on no memory. */
char *comp_memdup0(const char *text, size_t len);

/*
 * Decodes |len| hex digits at |hex| into a new heap buffer (*out, NULL when
 * |len| is 0). Returns 0, -1 for odd length or a non-hex digit (*bad_at is
 * then the offending offset), -2 on no memory.
 */
int comp_hex_decode(const char *hex, size_t len, uint8_t **out, size_t *bad_at);

/* Parses a decimal unsigned 64-bit number made of digits only. 0 or -1. */
int comp_parse_u64(const char *s, size_t len, uint64_t *out);

/* Case-insensitive "does |hay| contain |needle|". */
int comp_contains_ci(const char *hay, const char *needle);

#endif /* COMP_INTERNAL_H */
