/*
 * test_b64url.c - base64url as vault-mock uses it (libbase, base_codec.h)
 * against the RFC 4648 section 10 vectors (the base64url form is identical
 * for them) and the section 5 alphabet.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base_codec.h"

static const char *const rfc_in[7] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const rfc_out[7] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
static const char *const rfc_padded[7] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                          "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

Test(b64url, encodes_rfc4648_vectors_unpadded)
{
    for (int i = 0; i < 7; i++) {
        char *e = base_b64url_encode_alloc((const uint8_t *)rfc_in[i], strlen(rfc_in[i]));
        cr_assert_not_null(e);
        cr_assert_str_eq(e, rfc_out[i], "vector %d", i);
        free(e);
    }
}

Test(b64url, decodes_padded_and_unpadded)
{
    for (int i = 0; i < 7; i++) {
        const char *forms[2] = {rfc_out[i], rfc_padded[i]};
        for (int f = 0; f < 2; f++) {
            uint8_t *out = NULL;
            size_t len = 0;
            cr_assert_eq(base_b64url_decode_alloc(forms[f], strlen(forms[f]), &out, &len, NULL), 0);
            cr_assert_eq(len, strlen(rfc_in[i]));
            cr_assert(memcmp(out, rfc_in[i], len) == 0);
            free(out);
        }
    }
}

/* RFC 4648 section 5: 62 and 63 are '-' and '_' (standard base64: '+' and '/'). */
Test(b64url, uses_url_alphabet)
{
    const uint8_t in[3] = {0xfb, 0xff, 0xbf};
    char *e = base_b64url_encode_alloc(in, sizeof(in));
    cr_assert_str_eq(e, "-_-_");
    uint8_t *out = NULL;
    size_t len = 0;
    cr_assert_eq(base_b64url_decode_alloc(e, strlen(e), &out, &len, NULL), 0);
    cr_assert_eq(len, 3);
    cr_assert(memcmp(out, in, 3) == 0);
    free(out);
    free(e);
}

Test(b64url, rejects_standard_alphabet_and_junk)
{
    const char *bad[] = {"+/8=",  "Zm9v!", "Zm 9v", "Z",       "Zm9vY",
                         "Zg===", "=Zg=",  "Zg=a",  "Zm8=Zm8="};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *out = NULL;
        size_t len = 0;
        cr_assert_eq(base_b64url_decode_alloc(bad[i], strlen(bad[i]), &out, &len, NULL), -1,
                     "input %s", bad[i]);
        cr_assert_null(out);
    }
}

Test(b64url, round_trips_every_length)
{
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 37 + 11);
    }
    for (size_t n = 0; n <= sizeof(buf); n++) {
        char *e = base_b64url_encode_alloc(buf, n);
        cr_assert_not_null(e);
        cr_assert_null(strchr(e, '='));
        uint8_t *out = NULL;
        size_t len = 0;
        cr_assert_eq(base_b64url_decode_alloc(e, strlen(e), &out, &len, NULL), 0);
        cr_assert_eq(len, n);
        cr_assert(n == 0 || memcmp(out, buf, n) == 0);
        free(out);
        free(e);
    }
}
