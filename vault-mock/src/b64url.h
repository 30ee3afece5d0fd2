/*
 * b64url.h - base64url (RFC 4648 section 5) on top of OpenSSL's EVP
 * encoder: unpadded out, padded or unpadded in.
 */
#ifndef VMOCK_B64URL_H
#define VMOCK_B64URL_H

#include <stddef.h>
#include <stdint.h>

/*
 * vmock_b64url_encode returns a malloc'd, NUL-terminated, unpadded
 * base64url string for |in_len| bytes at |in|, or NULL when out of memory.
 * The caller frees it.
 */
char *vmock_b64url_encode(const uint8_t *in, size_t in_len);

/*
 * vmock_b64url_decode decodes the |in_len| characters at |in| (base64url
 * alphabet, optional '=' padding) into a malloc'd buffer stored in |*out|
 * (at least one byte allocated, so never NULL on success) with its length
 * in |*out_len|. Returns 0 on success, -1 on a character outside the
 * alphabet, misplaced padding, an impossible length or no memory. The
 * caller wipes (if secret) and frees |*out|.
 */
int vmock_b64url_decode(const char *in, size_t in_len, uint8_t **out, size_t *out_len);

#endif /* VMOCK_B64URL_H */
