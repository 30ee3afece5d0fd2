/*
 * test_codec.c - hex and base64url: RFC 4648 vectors, round trips at every
 * length across the internal chunk size, and the exact error of each kind
 * of bad input.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base_codec.h"

/* ---- hex ---- */

Test(hex, encode_lowercase)
{
    const uint8_t in[] = {0x00, 0x01, 0xAB, 0xff, 0x7e};
    char out[11];
    base_hex(out, in, sizeof(in));
    cr_assert_str_eq(out, "0001abff7e");
    char *p = base_hex_alloc(in, sizeof(in));
    cr_assert_str_eq(p, "0001abff7e");
    free(p);
    base_hex(out, in, 0);
    cr_assert_str_eq(out, "");
}

Test(hex, decode_either_case)
{
    uint8_t out[4];
    size_t n = 0, bad = 99;
    cr_assert_eq(base_hex_decode("DeadBEEF", 8, out, sizeof(out), &n, &bad, NULL), 0);
    cr_assert_eq(n, 4);
    cr_assert_eq(bad, 0);
    const uint8_t want[] = {0xde, 0xad, 0xbe, 0xef};
    cr_assert_eq(memcmp(out, want, 4), 0);
    cr_assert_eq(base_hex_decode("", 0, out, 0, &n, NULL, NULL), 0);
    cr_assert_eq(n, 0);
}

/* Decoding |in| fails with |code|, |bad_at| and |msg|, and writes nothing. */
static void expect_hex_error(const char *in, int code, size_t bad_at, const char *msg)
{
    uint8_t out[4] = {0xEE, 0xEE, 0xEE, 0xEE};
    size_t n = 0, bad = 99;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_hex_decode(in, strlen(in), out, sizeof(out), &n, &bad, &e), -1, "%s", in);
    cr_assert_eq(e.code, code, "%s", in);
    cr_assert_eq(bad, bad_at, "%s", in);
    cr_assert_str_eq(e.msg, msg);
    cr_assert_eq(out[0], 0xEE, "%s: output written on error", in);
}

Test(hex, odd_length_is_an_exact_error)
{
    expect_hex_error("abc", BASE_ERR_HEX_ODD, 3, "odd number of hex digits (3)");
}

Test(hex, bad_char_is_an_exact_error_and_wins_over_odd_length)
{
    expect_hex_error("0g1", BASE_ERR_HEX_CHAR, 1, "not a hex digit at offset 1");
    expect_hex_error("g", BASE_ERR_HEX_CHAR, 0, "not a hex digit at offset 0");
    size_t bad = 0;
    cr_assert_eq(base_hex_check("00 1", 4, &bad), BASE_ERR_HEX_CHAR);
    cr_assert_eq(bad, 2);
    cr_assert_eq(base_hex_check("0x", 2, &bad), BASE_ERR_HEX_CHAR);
    cr_assert_eq(base_hex_check("00ff", 4, &bad), BASE_OK);
}

Test(hex, too_small_output_is_cap)
{
    uint8_t out[1];
    size_t n = 0;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_hex_decode("0102", 4, out, sizeof(out), &n, NULL, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_CAP);
    cr_assert_str_eq(e.msg, "hex string decodes to 2 bytes, cap 1");
}

Test(hex, decode_alloc)
{
    uint8_t *p = NULL;
    size_t n = 0, bad = 0;
    cr_assert_eq(base_hex_decode_alloc("00ff10", 6, &p, &n, &bad, NULL), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(p[1], 0xff);
    free(p);
    cr_assert_eq(base_hex_decode_alloc("", 0, &p, &n, &bad, NULL), 0);
    cr_assert_null(p);
    cr_assert_eq(n, 0);
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_hex_decode_alloc("0z", 2, &p, &n, &bad, &e), -1);
    cr_assert_null(p);
    cr_assert_eq(e.code, BASE_ERR_HEX_CHAR);
    cr_assert_eq(bad, 1);
}

Test(hex, uuid4_sets_version_and_variant)
{
    uint8_t b[16];
    memset(b, 0xff, sizeof(b));
    char out[37];
    base_uuid4(out, b);
    cr_assert_str_eq(out, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    memset(b, 0, sizeof(b));
    base_uuid4(out, b);
    cr_assert_str_eq(out, "00000000-0000-4000-8000-000000000000");
    cr_assert_eq(b[6], 0x40);
    cr_assert_eq(b[8], 0x80);
}

/* ---- base64url ---- */

/* RFC 4648 section 10 vectors (the alphabet letters coincide for these). */
static const char *const rfc_in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const rfc_out[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

Test(b64url, rfc4648_vectors_unpadded)
{
    for (size_t i = 0; i < 7; i++) {
        char *enc = base_b64url_encode_alloc((const uint8_t *)rfc_in[i], strlen(rfc_in[i]));
        cr_assert_str_eq(enc, rfc_out[i]);
        cr_assert_eq(base_b64url_encoded_len(strlen(rfc_in[i])), strlen(rfc_out[i]));
        free(enc);
        uint8_t out[16];
        size_t n = 99;
        cr_assert_eq(base_b64url_decode(rfc_out[i], strlen(rfc_out[i]), out, sizeof(out), &n, NULL),
                     0);
        cr_assert_eq(n, strlen(rfc_in[i]));
        cr_assert_eq(memcmp(out, rfc_in[i], n), 0);
    }
}

Test(b64url, url_alphabet_both_ways)
{
    const uint8_t in[] = {0xfb, 0xff, 0xbf};
    char *enc = base_b64url_encode_alloc(in, sizeof(in));
    cr_assert_str_eq(enc, "-_-_");
    free(enc);
    uint8_t out[3];
    size_t n = 0;
    cr_assert_eq(base_b64url_decode("-_-_", 4, out, sizeof(out), &n, NULL), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(memcmp(out, in, 3), 0);
}

/* Through buffers, one text after another: every length from 0 to 700 crosses the 256-character
 * decode chunk and the 192-byte encode chunk. */
Test(b64url, round_trip_every_length_across_chunks)
{
    uint8_t in[700];
    for (size_t i = 0; i < sizeof(in); i++) {
        in[i] = (uint8_t)(i * 151 + 7);
    }
    struct base_buf text, back;
    base_buf_init(&text, 1 << 20, 0);
    base_buf_init(&back, 1 << 20, BASE_BUF_WIPE);
    size_t at = 0;
    for (size_t len = 0; len <= sizeof(in); len++) {
        cr_assert_eq(base_b64url_encode(in, len, &text, NULL), 0);
        const char *enc = (const char *)text.data + at;
        size_t enc_len = text.len - at;
        cr_assert_eq(enc_len, base_b64url_encoded_len(len), "len %zu", len);
        cr_assert_eq(base_b64url_decoded_len(enc, enc_len), (long)len);
        base_buf_reset(&back);
        cr_assert_eq(base_b64url_decode_buf(enc, enc_len, &back, NULL), 0, "len %zu", len);
        cr_assert_eq(back.len, len);
        cr_assert(len == 0 || memcmp(back.data, in, len) == 0, "len %zu", len);
        at = text.len;
    }
    base_buf_free(&text);
    base_buf_free(&back);
}

Test(b64url, padded_input_is_accepted)
{
    uint8_t out[8];
    size_t n = 0;
    cr_assert_eq(base_b64url_decode("Zg==", 4, out, sizeof(out), &n, NULL), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(out[0], 'f');
    cr_assert_eq(base_b64url_decode("Zm8=", 4, out, sizeof(out), &n, NULL), 0);
    cr_assert_eq(n, 2);
}

static void expect_bad(const char *in, int code, const char *msg)
{
    uint8_t out[64];
    size_t n = 0;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_b64url_decode(in, strlen(in), out, sizeof(out), &n, &e), -1, "%s", in);
    cr_assert_eq(e.code, code, "%s: code %d", in, e.code);
    cr_assert_str_eq(e.msg, msg);
    uint8_t *p = (uint8_t *)1;
    cr_assert_eq(base_b64url_decode_alloc(in, strlen(in), &p, &n, &e), -1);
    cr_assert_null(p);
    cr_assert_eq(e.code, code);
}

Test(b64url, bad_input_exact_errors)
{
    expect_bad("Zm9v+g", BASE_ERR_B64_CHAR, "character at offset 4 is not base64url");
    expect_bad("Zm9v/g", BASE_ERR_B64_CHAR, "character at offset 4 is not base64url");
    expect_bad(" Zm9", BASE_ERR_B64_CHAR, "character at offset 0 is not base64url");
    expect_bad("Zm9\n", BASE_ERR_B64_CHAR, "character at offset 3 is not base64url");
    /* the length is checked before the alphabet */
    expect_bad(" Zm9v", BASE_ERR_B64_LEN, "base64url length 5 (0 padding) is impossible");
    expect_bad("Zm=v", BASE_ERR_B64_CHAR, "character at offset 2 is not base64url");
    expect_bad("Zm9vY", BASE_ERR_B64_LEN, "base64url length 5 (0 padding) is impossible");
    expect_bad("Z===", BASE_ERR_B64_LEN, "base64url length 4 (3 padding) is impossible");
    expect_bad("Zg=", BASE_ERR_B64_LEN, "base64url length 3 (1 padding) is impossible");
    expect_bad("Zm9vYg=", BASE_ERR_B64_LEN, "base64url length 7 (1 padding) is impossible");
}

Test(b64url, output_too_small_is_cap)
{
    uint8_t out[5];
    size_t n = 0;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_b64url_decode("Zm9vYmFy", 8, out, sizeof(out), &n, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_CAP);
    cr_assert_str_eq(e.msg, "base64url text decodes to 6 bytes, cap 5");
    cr_assert_eq(base_b64url_decode("Zm9vYmE", 7, out, sizeof(out), &n, &e), 0);
    cr_assert_eq(n, 5);
}

Test(b64url, encode_and_decode_into_buffers_respect_the_cap)
{
    struct base_buf b;
    base_buf_init(&b, 9, BASE_BUF_WIPE);
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_buf_append_str(&b, "x=", &e), 0);
    cr_assert_eq(base_b64url_encode((const uint8_t *)"foob", 4, &b, &e), 0);
    cr_assert_str_eq(base_buf_str(&b), "x=Zm9vYg");
    cr_assert_eq(base_b64url_encode((const uint8_t *)"fo", 2, &b, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_CAP);
    cr_assert_str_eq(base_buf_str(&b), "x=Zm9vYg");
    base_buf_reset(&b);
    cr_assert_eq(base_b64url_decode_buf("Zm9vYmFy", 8, &b, &e), 0);
    cr_assert_str_eq(base_buf_str(&b), "foobar");
    cr_assert_eq(base_b64url_decode_buf("Zm9vYg", 6, &b, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_CAP);
    cr_assert_str_eq(base_buf_str(&b), "foobar");
    cr_assert_eq(base_b64url_decode_buf("Z!", 2, &b, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_B64_CHAR);
    cr_assert_str_eq(base_buf_str(&b), "foobar");
    base_buf_free(&b);
}
