/*
 * b64url.c - base64url through EVP_EncodeBlock / EVP_DecodeBlock plus the
 * URL-alphabet mapping ('+' <-> '-', '/' <-> '_') and padding handling.
 */
#include "b64url.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

char *vmock_b64url_encode(const uint8_t *in, size_t in_len)
{
    if (in_len > (size_t)INT32_MAX / 2) {
        return NULL;
    }
    size_t cap = 4 * ((in_len + 2) / 3) + 1;
    char *out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)in_len);
    if (n < 0) {
        free(out);
        return NULL;
    }
    size_t len = (size_t)n;
    while (len > 0 && out[len - 1] == '=') {
        len--;
    }
    out[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if (out[i] == '+') {
            out[i] = '-';
        } else if (out[i] == '/') {
            out[i] = '_';
        }
    }
    return out;
}

static int url_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int vmock_b64url_decode(const char *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (in_len > (size_t)INT32_MAX / 2) {
        return -1;
    }
    /* Padding: at most two '=' and only where they complete a quantum. */
    size_t pad = 0;
    while (pad < in_len && in[in_len - 1 - pad] == '=') {
        pad++;
    }
    size_t data_len = in_len - pad;
    if (pad > 2 || (pad > 0 && in_len % 4 != 0) || data_len % 4 == 1) {
        return -1;
    }
    size_t std_len = (data_len + 3) / 4 * 4;
    char *std = malloc(std_len + 1);
    if (std == NULL) {
        return -1;
    }
    for (size_t i = 0; i < data_len; i++) {
        char c = in[i];
        if (!url_char_ok(c)) {
            OPENSSL_cleanse(std, i);
            free(std);
            return -1;
        }
        std[i] = c == '-' ? '+' : (c == '_' ? '/' : c);
    }
    size_t missing = std_len - data_len;
    memset(std + data_len, '=', missing);
    std[std_len] = '\0';

    size_t cap = std_len / 4 * 3;
    uint8_t *buf = malloc(cap > 0 ? cap : 1);
    if (buf == NULL) {
        OPENSSL_cleanse(std, std_len);
        free(std);
        return -1;
    }
    int n = std_len > 0 ? EVP_DecodeBlock(buf, (const unsigned char *)std, (int)std_len) : 0;
    OPENSSL_cleanse(std, std_len);
    free(std);
    if (n < 0 || (size_t)n < missing) {
        OPENSSL_cleanse(buf, cap);
        free(buf);
        return -1;
    }
    /* EVP_DecodeBlock counts the zero bytes that the padding stands for. */
    *out = buf;
    *out_len = (size_t)n - missing;
    return 0;
}
