/*
 * base_codec.c - hex and base64url (see base_codec.h). base64url maps the
 * URL alphabet onto the standard one and lets EVP_EncodeBlock /
 * EVP_DecodeBlock do the quantum arithmetic.
 */
#include "base_codec.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* ---- hex --------------------------------------------------------------------------------------
 */

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

void base_hex(char *out, const uint8_t *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

char *base_hex_alloc(const uint8_t *in, size_t len)
{
    if (len > ((size_t)-1 - 1) / 2) {
        return NULL;
    }
    char *out = malloc(2 * len + 1);
    if (out != NULL) {
        base_hex(out, in, len);
    }
    return out;
}

int base_hex_check(const char *hex, size_t len, size_t *bad_at)
{
    size_t at = 0;
    int code = BASE_OK;
    for (size_t i = 0; i < len; i++) {
        if (hex_nibble(hex[i]) < 0) {
            at = i;
            code = BASE_ERR_HEX_CHAR;
            break;
        }
    }
    if (code == BASE_OK && len % 2 != 0) {
        at = len;
        code = BASE_ERR_HEX_ODD;
    }
    if (bad_at != NULL) {
        *bad_at = at;
    }
    return code;
}

int base_hex_decode(const char *hex, size_t len, uint8_t *out, size_t out_cap, size_t *out_len,
                    size_t *bad_at, struct base_err *e)
{
    size_t at;
    int code = base_hex_check(hex, len, &at);
    if (bad_at != NULL) {
        *bad_at = at;
    }
    if (code == BASE_ERR_HEX_CHAR) {
        return base_err_set(e, code, BASE_HERE, "not a hex digit at offset %zu", at);
    }
    if (code == BASE_ERR_HEX_ODD) {
        return base_err_set(e, code, BASE_HERE, "odd number of hex digits (%zu)", len);
    }
    if (len / 2 > out_cap) {
        return base_err_set(e, BASE_ERR_CAP, BASE_HERE, "hex string decodes to %zu bytes, cap %zu",
                            len / 2, out_cap);
    }
    for (size_t i = 0; i < len / 2; i++) {
        out[i] = (uint8_t)((hex_nibble(hex[2 * i]) << 4) | hex_nibble(hex[2 * i + 1]));
    }
    *out_len = len / 2;
    return 0;
}

int base_hex_decode_alloc(const char *hex, size_t len, uint8_t **out, size_t *out_len,
                          size_t *bad_at, struct base_err *e)
{
    *out = NULL;
    *out_len = 0;
    size_t at;
    int code = base_hex_check(hex, len, &at);
    if (code != BASE_OK || len == 0) {
        return base_hex_decode(hex, len, NULL, 0, out_len, bad_at, e);
    }
    uint8_t *p = malloc(len / 2);
    if (p == NULL) {
        return base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "out of memory for %zu bytes", len / 2);
    }
    base_hex_decode(hex, len, p, len / 2, out_len, bad_at, e);
    *out = p;
    return 0;
}

void base_uuid4(char out[37], uint8_t b[16])
{
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const size_t group[5] = {4, 2, 2, 2, 6};
    size_t in = 0, at = 0;
    for (size_t g = 0; g < 5; g++) {
        if (g > 0) {
            out[at++] = '-';
        }
        base_hex(out + at, b + in, group[g]);
        in += group[g];
        at += 2 * group[g];
    }
}

/* ---- base64url --------------------------------------------------------------------------------
 */

#define B64_MAX_IN ((size_t)INT32_MAX / 2)

size_t base_b64url_encoded_len(size_t len)
{
    return len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
}

/* Encodes |len| bytes (a multiple of 3, or the tail) at |in| into |out| as unpadded base64url. */
static size_t enc_chunk(char *out, const uint8_t *in, size_t len)
{
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    size_t m = n > 0 ? (size_t)n : 0;
    while (m > 0 && out[m - 1] == '=') {
        m--;
    }
    for (size_t i = 0; i < m; i++) {
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }
    return m;
}

int base_b64url_encode(const uint8_t *in, size_t len, struct base_buf *b, struct base_err *e)
{
    if (len > B64_MAX_IN) {
        return base_err_set(e, BASE_ERR_ARG, BASE_HERE, "%zu bytes are too many to encode", len);
    }
    /* Room for the whole text first, so that the appends below cannot fail half-way. */
    if (base_buf_reserve(b, base_b64url_encoded_len(len), e) != 0) {
        return -1;
    }
    char tmp[4 * 64 + 1];
    for (size_t off = 0; off < len; off += 3 * 64) {
        size_t n = len - off < 3 * 64 ? len - off : 3 * 64;
        size_t m = enc_chunk(tmp, in + off, n);
        memcpy(b->data + b->len, tmp, m);
        b->len += m;
    }
    b->data[b->len] = '\0';
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return 0;
}

char *base_b64url_encode_alloc(const uint8_t *in, size_t len)
{
    if (len > B64_MAX_IN) {
        return NULL;
    }
    struct base_buf b;
    base_buf_init(&b, base_b64url_encoded_len(len), BASE_BUF_WIPE);
    if (base_b64url_encode(in, len, &b, NULL) != 0) {
        base_buf_free(&b);
        return NULL;
    }
    char *p = base_buf_take(&b, NULL);
    if (p == NULL) {
        base_buf_free(&b);
    }
    return p;
}

static int url_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Length checks shared by the decoders: |*data_len| = characters before the padding. */
static int b64_lengths(const char *in, size_t in_len, size_t *data_len, struct base_err *e)
{
    if (in_len > B64_MAX_IN) {
        return base_err_set(e, BASE_ERR_B64_LEN, BASE_HERE,
                            "base64url text of %zu characters is too long", in_len);
    }
    size_t pad = 0;
    while (pad < in_len && in[in_len - 1 - pad] == '=') {
        pad++;
    }
    size_t n = in_len - pad;
    if (pad > 2 || (pad > 0 && in_len % 4 != 0) || n % 4 == 1) {
        return base_err_set(e, BASE_ERR_B64_LEN, BASE_HERE,
                            "base64url length %zu (%zu padding) is impossible", in_len, pad);
    }
    for (size_t i = 0; i < n; i++) {
        if (!url_char_ok(in[i])) {
            return base_err_set(e, BASE_ERR_B64_CHAR, BASE_HERE,
                                "character at offset %zu is not base64url", i);
        }
    }
    *data_len = n;
    return 0;
}

long base_b64url_decoded_len(const char *in, size_t in_len)
{
    size_t pad = 0;
    while (pad < in_len && in[in_len - 1 - pad] == '=') {
        pad++;
    }
    size_t n = in_len - pad;
    if (in_len > B64_MAX_IN || pad > 2 || (pad > 0 && in_len % 4 != 0) || n % 4 == 1) {
        return -1;
    }
    return (long)(n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1));
}

/*
 * Decodes |n| validated characters at |in| into |out| (room for their
 * decoded length), 256 characters at a time through wiped stack blocks.
 */
static void dec_validated(const char *in, size_t n, uint8_t *out)
{
    char tmp[256 + 1];
    uint8_t dec[192];
    size_t o = 0;
    for (size_t off = 0; off < n; off += 256) {
        size_t m = n - off < 256 ? n - off : 256;
        size_t padded = (m + 3) & ~(size_t)3;
        for (size_t i = 0; i < m; i++) {
            char c = in[off + i];
            tmp[i] = c == '-' ? '+' : c == '_' ? '/' : c;
        }
        memset(tmp + m, '=', padded - m);
        int got = EVP_DecodeBlock(dec, (const unsigned char *)tmp, (int)padded);
        /* Validated input always decodes; EVP counts each '=' it was given as a zero byte. */
        size_t k = got > 0 ? (size_t)got - (padded - m) : 0;
        memcpy(out + o, dec, k);
        o += k;
    }
    OPENSSL_cleanse(tmp, sizeof(tmp));
    OPENSSL_cleanse(dec, sizeof(dec));
}

int base_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len,
                       struct base_err *e)
{
    size_t n;
    if (b64_lengths(in, in_len, &n, e) != 0) {
        return -1;
    }
    size_t want = (size_t)base_b64url_decoded_len(in, in_len);
    if (want > out_cap) {
        return base_err_set(e, BASE_ERR_CAP, BASE_HERE,
                            "base64url text decodes to %zu bytes, cap %zu", want, out_cap);
    }
    dec_validated(in, n, out);
    *out_len = want;
    return 0;
}

int base_b64url_decode_alloc(const char *in, size_t in_len, uint8_t **out, size_t *out_len,
                             struct base_err *e)
{
    *out = NULL;
    *out_len = 0;
    size_t n;
    if (b64_lengths(in, in_len, &n, e) != 0) {
        return -1;
    }
    size_t want = (size_t)base_b64url_decoded_len(in, in_len);
    uint8_t *p = malloc(want > 0 ? want : 1);
    if (p == NULL) {
        return base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "out of memory for %zu bytes", want);
    }
    dec_validated(in, n, p);
    *out = p;
    *out_len = want;
    return 0;
}

int base_b64url_decode_buf(const char *in, size_t in_len, struct base_buf *b, struct base_err *e)
{
    size_t n;
    if (b64_lengths(in, in_len, &n, e) != 0) {
        return -1;
    }
    size_t want = (size_t)base_b64url_decoded_len(in, in_len);
    if (base_buf_reserve(b, want, e) != 0) {
        return -1;
    }
    dec_validated(in, n, b->data + b->len);
    b->len += want;
    b->data[b->len] = '\0';
    return 0;
}
