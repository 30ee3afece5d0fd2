/*
 * base_codec.h - hex and base64url (RFC 4648 section 5).
 *
 * base64url goes through OpenSSL's EVP_EncodeBlock / EVP_DecodeBlock with the
 * URL alphabet mapped ('+' <-> '-', '/' <-> '_'); this file never decodes a
 * quantum by hand. Output is unpadded. Input may carry the padding that
 * completes the last quantum (at most two '=', total length a multiple of 4),
 * as vault-mock has always accepted; anything else is an exact error:
 *   BASE_ERR_B64_CHAR  a character outside A-Z a-z 0-9 - _ (incl. '+', '/', space)
 *   BASE_ERR_B64_LEN   a length of 4n+1, more than two '=', or '=' that does not
 *                      end a 4-character quantum
 * The decoders work in small stack scratch blocks that they wipe, so secret
 * input (a wrapped or unwrapped key) leaves no copy behind.
 *
 * Hex encodes lowercase and decodes either case; decoding is strict:
 *   BASE_ERR_HEX_CHAR  a character that is not a hex digit (|*bad_at| = its index)
 *   BASE_ERR_HEX_ODD   an odd number of digits (|*bad_at| = the length)
 * Characters are checked before the length, so "0g1" reports the 'g'.
 */
#ifndef BASE_CODEC_H
#define BASE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base_buf.h"
#include "base_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* base_hex writes 2 * |len| lowercase hex digits and a NUL to |out| (>= 2 * len + 1 bytes). */
void base_hex(char *out, const uint8_t *in, size_t len);

/* base_hex_alloc returns a malloc'd lowercase hex string of |in|, or NULL when out of memory. */
char *base_hex_alloc(const uint8_t *in, size_t len);

/*
 * base_hex_check validates |len| characters of |hex| without decoding:
 * BASE_OK, BASE_ERR_HEX_CHAR or BASE_ERR_HEX_ODD, with |*bad_at| (may be
 * NULL) set as described above (0 on success).
 */
int base_hex_check(const char *hex, size_t len, size_t *bad_at);

/*
 * base_hex_decode decodes |len| hex characters into |out| (room for
 * |out_cap| bytes) and sets |*out_len| to len / 2. 0 on success; -1 with
 * BASE_ERR_HEX_CHAR / BASE_ERR_HEX_ODD (|*bad_at| set, may be NULL) or
 * BASE_ERR_CAP when len / 2 > out_cap. |out| is untouched on error.
 */
int base_hex_decode(const char *hex, size_t len, uint8_t *out, size_t out_cap, size_t *out_len,
                    size_t *bad_at, struct base_err *e);

/*
 * base_hex_decode_alloc is base_hex_decode into a new malloc'd block
 * (|*out| NULL for len == 0, never allocated then). Errors as base_hex_decode
 * plus BASE_ERR_NOMEM.
 */
int base_hex_decode_alloc(const char *hex, size_t len, uint8_t **out, size_t *out_len,
                          size_t *bad_at, struct base_err *e);

/*
 * base_uuid4 makes |b| (16 random bytes from the caller's generator) a
 * version-4 RFC 4122 UUID - it sets the version and variant bits in |b| - and
 * writes it as 36 lowercase characters and a NUL to |out|
 * ("xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx").
 */
void base_uuid4(char out[37], uint8_t b[16]);

/* base_b64url_encoded_len is the unpadded encoded length of |len| bytes (without the NUL). */
size_t base_b64url_encoded_len(size_t len);

/*
 * base_b64url_encode appends the unpadded base64url text of |in| to |b| (which
 * stays NUL-terminated). Errors as base_buf_append (BASE_ERR_CAP, NOMEM),
 * BASE_ERR_ARG when |len| > INT32_MAX / 2. Use a BASE_BUF_WIPE buffer for
 * secrets.
 */
int base_b64url_encode(const uint8_t *in, size_t len, struct base_buf *b, struct base_err *e);

/*
 * base_b64url_encode_alloc returns a malloc'd, NUL-terminated unpadded
 * base64url string, or NULL when out of memory or |len| > INT32_MAX / 2.
 * The caller frees it (wiping first if secret).
 */
char *base_b64url_encode_alloc(const uint8_t *in, size_t len);

/*
 * base_b64url_decoded_len returns the decoded length of |in_len| characters
 * of valid input at |in| (padding ignored), or -1 when the length alone is
 * impossible. Does not check the alphabet.
 */
long base_b64url_decoded_len(const char *in, size_t in_len);

/*
 * base_b64url_decode decodes |in_len| characters into |out| (room for
 * |out_cap| bytes), |*out_len| = decoded length. 0 on success; -1 with
 * BASE_ERR_B64_CHAR, BASE_ERR_B64_LEN, or BASE_ERR_CAP when the decoded
 * bytes do not fit |out_cap|. On error |out| holds nothing of the input
 * (it is wiped up to out_cap if anything was written).
 */
int base_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len,
                       struct base_err *e);

/*
 * base_b64url_decode_alloc is base_b64url_decode into a new malloc'd block
 * (at least one byte allocated, so never NULL on success). Errors as
 * base_b64url_decode plus BASE_ERR_NOMEM. The caller wipes (if secret) and frees.
 */
int base_b64url_decode_alloc(const char *in, size_t in_len, uint8_t **out, size_t *out_len,
                             struct base_err *e);

/*
 * base_b64url_decode_buf appends the decoded bytes to |b| (whose cap
 * applies); on error |b| holds what it held before (a BASE_BUF_WIPE buffer
 * has the partial bytes wiped). Errors as base_b64url_decode.
 */
int base_b64url_decode_buf(const char *in, size_t in_len, struct base_buf *b, struct base_err *e);

#ifdef __cplusplus
}
#endif
#endif /* BASE_CODEC_H */
