/*
 * test_kat_embedded.c - known answers from the standards, on every back end and path.
 *
 * Each value below is copied from its standard (cited at the vector) and is
 * checked twice: against OpenSSL EVP called directly (a second
 * implementation, independent of the engine's code), and against every
 * engine back end and CPU path that runs the mode. A typo in a value fails
 * both, it cannot pass.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "eng_cipher.h"
#include "eng_error.h"
#include "ieee1619.h"
#include "kat_testlib.h"

#define MAX_BYTES 512

struct vec {
    uint8_t key[64];
    size_t key_len;
    uint8_t iv[64];
    size_t iv_len;
    uint8_t aad[64];
    size_t aad_len;
    uint8_t pt[MAX_BYTES];
    size_t pt_len;
    uint8_t ct[MAX_BYTES];
    size_t ct_len;
    uint8_t tag[16];
    size_t tag_len;
};

static void load(struct vec *v, const char *key, const char *iv, const char *aad, const char *pt,
                 const char *ct, const char *tag)
{
    memset(v, 0, sizeof(*v));
    v->key_len = tl_hex(v->key, sizeof(v->key), key);
    v->iv_len = tl_hex(v->iv, sizeof(v->iv), iv);
    v->aad_len = tl_hex(v->aad, sizeof(v->aad), aad);
    v->pt_len = tl_hex(v->pt, sizeof(v->pt), pt);
    v->ct_len = tl_hex(v->ct, sizeof(v->ct), ct);
    v->tag_len = tl_hex(v->tag, sizeof(v->tag), tag);
    cr_assert_eq(v->pt_len, v->ct_len, "plaintext and ciphertext literals differ in length");
}

/* The second implementation: OpenSSL EVP, both directions. */
static void check_reference(const char *cipher, const struct vec *v)
{
    uint8_t out[MAX_BYTES];
    uint8_t tag[16];
    cr_assert(tl_ref_crypt(cipher, 1, v->key, v->iv, v->iv_len, v->aad, v->aad_len, v->pt,
                           v->pt_len, out, tag, v->tag_len),
              "OpenSSL %s encrypt failed", cipher);
    cr_assert_arr_eq(out, v->ct, v->ct_len, "OpenSSL %s disagrees with the standard", cipher);
    if (v->tag_len > 0) {
        cr_assert_arr_eq(tag, v->tag, v->tag_len, "OpenSSL %s tag disagrees", cipher);
    }
    memcpy(tag, v->tag, v->tag_len);
    cr_assert(tl_ref_crypt(cipher, 0, v->key, v->iv, v->iv_len, v->aad, v->aad_len, v->ct,
                           v->ct_len, out, tag, v->tag_len),
              "OpenSSL %s decrypt failed", cipher);
    cr_assert_arr_eq(out, v->pt, v->pt_len, "OpenSSL %s decrypt disagrees", cipher);
}

static struct eng_unit unit(const struct vec *v, const uint8_t *in, uint8_t *out, uint8_t *tag)
{
    struct eng_unit u = {
        .in = in,
        .out = out,
        .len = v->pt_len,
        .iv = v->iv,
        .iv_len = v->iv_len,
        .aad = v->aad_len ? v->aad : NULL,
        .aad_len = v->aad_len,
        .tag = tag,
        .tag_len = (uint32_t)v->tag_len,
    };
    return u;
}

/* Every path that runs |mode|; fails the test when there is none. */
static size_t paths_for(enum eng_mode mode, struct tl_path *paths)
{
    size_t n = tl_paths(mode, paths, TL_MAX_PATHS);
    cr_assert_gt(n, 0, "no back end runs %s", eng_mode_name(mode));
    return n;
}

/* A cipher on exactly path |p|; fails the test when it cannot be made. */
static struct eng_cipher *cipher_on(const struct tl_path *p, enum eng_mode mode, const uint8_t *key,
                                    size_t key_len)
{
    char name[64];
    struct eng_cipher *c = eng_cipher_new(mode, p->b, p->a, key, key_len);
    cr_assert_not_null(c, "%s: eng_cipher_new: %s", tl_path_name(p, name, sizeof(name)),
                       eng_error_name(eng_errno()));
    cr_assert_eq(eng_cipher_backend(c), p->b);
    cr_assert_eq(eng_cipher_arch(c), p->a);
    return c;
}

/* Every engine path: encrypt out of place, then decrypt in place. */
static void check_engine(enum eng_mode mode, const struct vec *v)
{
    struct tl_path paths[TL_MAX_PATHS];
    size_t n = paths_for(mode, paths);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        tl_path_name(&paths[i], name, sizeof(name));
        struct eng_cipher *c = cipher_on(&paths[i], mode, v->key, v->key_len);
        uint8_t buf[MAX_BYTES] = {0};
        uint8_t tag[16] = {0};
        struct eng_unit u = unit(v, v->pt, buf, tag);
        cr_assert_eq(eng_cipher_encrypt(c, &u), 0, "%s encrypt: %s", name,
                     eng_error_name(eng_errno()));
        cr_assert_arr_eq(buf, v->ct, v->ct_len, "%s: wrong ciphertext", name);
        cr_assert_arr_eq(tag, v->tag, v->tag_len, "%s: wrong tag", name);
        u = unit(v, buf, buf, tag);
        cr_assert_eq(eng_cipher_decrypt(c, &u), 0, "%s decrypt: %s", name,
                     eng_error_name(eng_errno()));
        cr_assert_arr_eq(buf, v->pt, v->pt_len, "%s: wrong plaintext", name);
        eng_cipher_free(c);
    }
}

/* ---- FIPS 197 Appendix C.3: AES-256 ---------------------------------------------- */

Test(kat_embedded, fips197_c3_aes256_block)
{
    struct vec v;
    /* FIPS 197 C.3. The engine has no ECB: one-block CBC with an all-zero IV is the block cipher.
     */
    load(&v, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
         "00000000000000000000000000000000", "", "00112233445566778899aabbccddeeff",
         "8ea2b7ca516745bfeafc49904b496089", "");
    check_reference("AES-256-ECB", &v);
    check_engine(ENG_MODE_CBC, &v);
}

/* ---- SP 800-38A F.2.5 / F.2.6: CBC-AES256 ------------------------------------------ */

static void sp800_38a_cbc(struct vec *v)
{
    load(v, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
         "000102030405060708090a0b0c0d0e0f", "",
         "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
         "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710",
         "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d"
         "39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b",
         "");
}

Test(kat_embedded, sp800_38a_f25_f26_cbc_aes256)
{
    struct vec v;
    sp800_38a_cbc(&v);
    check_reference("AES-256-CBC", &v); /* F.2.5 encrypt, F.2.6 decrypt */
    check_engine(ENG_MODE_CBC, &v);
}

/*
 * The same vector as a batch of four one-block units: block k is CBC with
 * IV = ciphertext block k-1 (the IV for k = 0), by the definition of CBC.
 */
Test(kat_embedded, sp800_38a_cbc_as_a_batch_of_chained_blocks)
{
    struct vec v;
    sp800_38a_cbc(&v);
    struct tl_path paths[TL_MAX_PATHS];
    size_t n = paths_for(ENG_MODE_CBC, paths);
    for (size_t i = 0; i < n; i++) {
        struct eng_cipher *c = cipher_on(&paths[i], ENG_MODE_CBC, v.key, 32);
        uint8_t out[64] = {0};
        struct eng_unit u[4];
        for (int dir = ENG_ENCRYPT; dir <= ENG_DECRYPT; dir++) {
            for (int k = 0; k < 4; k++) {
                memset(&u[k], 0, sizeof(u[k]));
                u[k].in = (dir == ENG_ENCRYPT ? v.pt : v.ct) + 16 * k;
                u[k].out = out + 16 * k;
                u[k].len = 16;
                u[k].iv = k == 0 ? v.iv : v.ct + 16 * (k - 1);
                u[k].iv_len = 16;
            }
            cr_assert_eq(eng_cipher_batch(c, (enum eng_dir)dir, u, 4), 0);
            cr_assert_arr_eq(out, dir == ENG_ENCRYPT ? v.ct : v.pt, 64, "path %zu dir %d", i, dir);
        }
        eng_cipher_free(c);
    }
}

/* ---- SP 800-38A F.5.5 / F.5.6: CTR-AES256 ------------------------------------------ */

static void sp800_38a_ctr(struct vec *v)
{
    load(v, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
         "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", "",
         "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
         "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710",
         "601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5"
         "2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6",
         "");
}

Test(kat_embedded, sp800_38a_f55_f56_ctr_aes256)
{
    struct vec v;
    sp800_38a_ctr(&v);
    check_reference("AES-256-CTR", &v); /* F.5.5 encrypt, F.5.6 decrypt */
    check_engine(ENG_MODE_CTR, &v);
}

/* 128-bit big-endian add, for counter blocks. */
static void ctr_add(uint8_t ctr[16], unsigned k)
{
    unsigned carry = k;
    for (int i = 15; i >= 0 && carry != 0; i--) {
        unsigned s = ctr[i] + (carry & 0xff);
        ctr[i] = (uint8_t)s;
        carry = (carry >> 8) + (s >> 8);
    }
}

/* The same vector as four units starting at counter blocks T1 .. T4 (F.5.5 lists them). */
Test(kat_embedded, sp800_38a_ctr_as_a_batch_of_counter_blocks)
{
    struct vec v;
    sp800_38a_ctr(&v);
    uint8_t ctrs[4][16];
    for (unsigned k = 0; k < 4; k++) {
        memcpy(ctrs[k], v.iv, 16);
        ctr_add(ctrs[k], k);
    }
    uint8_t t4[16];
    tl_hex(t4, sizeof(t4), "f0f1f2f3f4f5f6f7f8f9fafbfcfdff02"); /* F.5.5 Block #4 input block */
    cr_assert_arr_eq(ctrs[3], t4, 16);
    struct tl_path paths[TL_MAX_PATHS];
    size_t n = paths_for(ENG_MODE_CTR, paths);
    for (size_t i = 0; i < n; i++) {
        struct eng_cipher *c = cipher_on(&paths[i], ENG_MODE_CTR, v.key, 32);
        uint8_t out[64] = {0};
        struct eng_unit u[4];
        for (int k = 0; k < 4; k++) {
            memset(&u[k], 0, sizeof(u[k]));
            u[k].in = v.pt + 16 * k;
            u[k].out = out + 16 * k;
            u[k].len = 16;
            u[k].iv = ctrs[k];
            u[k].iv_len = 16;
        }
        cr_assert_eq(eng_cipher_batch(c, ENG_ENCRYPT, u, 4), 0);
        cr_assert_arr_eq(out, v.ct, 64, "path %zu", i);
        eng_cipher_free(c);
    }
}

/* ---- IEEE 1619-2007 Annex B, vector 10: XTS-AES-256, 512-byte data unit ------------- */

static void ieee1619_vector10(struct vec *v)
{
    uint8_t pt[IEEE1619_UNIT_BYTES];
    char pt_hex[2 * IEEE1619_UNIT_BYTES + 1];
    ieee1619_plaintext(pt);
    for (size_t i = 0; i < sizeof(pt); i++) {
        snprintf(pt_hex + 2 * i, 3, "%02x", pt[i]);
    }
    cr_assert_eq(ieee1619_vectors[0].number, 10);
    load(v, ieee1619_key_hex, "ff000000000000000000000000000000", "", pt_hex,
         ieee1619_vectors[0].ct_hex, "");
}

Test(kat_embedded, ieee1619_vector10_xts_aes256)
{
    struct vec v;
    ieee1619_vector10(&v);
    /* The vector's data unit sequence number is 0xff: the tweak is its 128-bit little-endian form.
     */
    uint8_t tweak[16];
    eng_xts_tweak_from_u64(tweak, 0xff);
    cr_assert_arr_eq(tweak, v.iv, 16);
    check_reference("AES-256-XTS", &v);
    check_engine(ENG_MODE_XTS, &v);
}

/* Vector 10 twice in one batch: out of place and in place must agree. */
Test(kat_embedded, ieee1619_vector10_batch_in_and_out_of_place)
{
    struct vec v;
    ieee1619_vector10(&v);
    struct tl_path paths[TL_MAX_PATHS];
    size_t n = paths_for(ENG_MODE_XTS, paths);
    for (size_t i = 0; i < n; i++) {
        struct eng_cipher *c = cipher_on(&paths[i], ENG_MODE_XTS, v.key, 64);
        uint8_t a[512];
        uint8_t b[512];
        memcpy(b, v.pt, 512);
        struct eng_unit u[2] = {
            {.in = v.pt, .out = a, .len = 512, .iv = v.iv, .iv_len = 16},
            {.in = b, .out = b, .len = 512, .iv = v.iv, .iv_len = 16},
        };
        cr_assert_eq(eng_cipher_batch(c, ENG_ENCRYPT, u, 2), 0);
        cr_assert_arr_eq(a, v.ct, 512);
        cr_assert_arr_eq(b, v.ct, 512);
        eng_cipher_free(c);
    }
}

/* ---- GCM specification (McGrew & Viega), AES-256 test cases 13-18 ------------------- */

#define GCM_K15 "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define GCM_P15                                                        \
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
#define GCM_P16                                                        \
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define GCM_A16 "feedfacedeadbeeffeedfacedeadbeefabaddad2"

/* Test case |tc| (13..18). */
static void gcm_case(struct vec *v, int tc)
{
    switch (tc) {
        case 13:
            load(v, "0000000000000000000000000000000000000000000000000000000000000000",
                 "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b");
            break;
        case 14:
            load(v, "0000000000000000000000000000000000000000000000000000000000000000",
                 "000000000000000000000000", "", "00000000000000000000000000000000",
                 "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919");
            break;
        case 15:
            load(v, GCM_K15, "cafebabefacedbaddecaf888", "", GCM_P15,
                 "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
                 "b094dac5d93471bdec1a502270e3cc6c");
            break;
        case 16:
            load(v, GCM_K15, "cafebabefacedbaddecaf888", GCM_A16, GCM_P16,
                 "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                 "76fc6ece0f4e1768cddf8853bb2d551b");
            break;
        case 17: /* 64-bit IV */
            load(v, GCM_K15, "cafebabefacedbad", GCM_A16, GCM_P16,
                 "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
                 "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
                 "3a337dbf46a792c45e454913fe2ea8f2");
            break;
        case 18: /* 480-bit IV */
            load(v, GCM_K15,
                 "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"
                 "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
                 GCM_A16, GCM_P16,
                 "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
                 "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
                 "a44a8266ee1c8eb0c8b5d4cf5ae9f19a");
            break;
        default:
            cr_assert_fail("no GCM test case %d", tc);
    }
}

/* Decrypting with one tag bit flipped must fail with ENG_ERR_AUTH and zero the output. */
static void check_flipped_tag(const struct vec *v)
{
    struct tl_path paths[TL_MAX_PATHS];
    size_t n = paths_for(ENG_MODE_GCM, paths);
    for (size_t i = 0; i < n; i++) {
        struct eng_cipher *c = cipher_on(&paths[i], ENG_MODE_GCM, v->key, 32);
        for (size_t bit = 0; bit < 8 * v->tag_len; bit += 37) {
            uint8_t buf[MAX_BYTES];
            uint8_t tag[16];
            memcpy(buf, v->ct, v->ct_len);
            memcpy(tag, v->tag, v->tag_len);
            tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            struct eng_unit u = unit(v, buf, buf, tag);
            eng_clear_error();
            cr_assert_eq(eng_cipher_decrypt(c, &u), -1, "path %zu bit %zu accepted", i, bit);
            cr_assert_eq(eng_errno(), ENG_ERR_AUTH);
            cr_assert_eq(u.status, ENG_ERR_AUTH);
            for (size_t k = 0; k < v->ct_len; k++) {
                cr_assert_eq(buf[k], 0, "path %zu: byte %zu of a refused unit not zeroed", i, k);
            }
        }
        eng_cipher_free(c);
    }
}

Test(kat_embedded, gcm_spec_cases_13_to_16_aes256)
{
    for (int tc = 13; tc <= 16; tc++) {
        struct vec v;
        gcm_case(&v, tc);
        check_reference("AES-256-GCM", &v);
        check_engine(ENG_MODE_GCM, &v);
        check_flipped_tag(&v);
    }
}

/*
 * Cases 17 and 18 use 64- and 480-bit IVs. OpenSSL checks the values; the
 * engine takes 96-bit nonces only, by design, and must refuse them exactly.
 */
Test(kat_embedded, gcm_spec_cases_17_18_long_and_short_iv_refused)
{
    for (int tc = 17; tc <= 18; tc++) {
        struct vec v;
        gcm_case(&v, tc);
        check_reference("AES-256-GCM", &v);
        struct tl_path paths[TL_MAX_PATHS];
        size_t n = paths_for(ENG_MODE_GCM, paths);
        for (size_t i = 0; i < n; i++) {
            struct eng_cipher *c = cipher_on(&paths[i], ENG_MODE_GCM, v.key, 32);
            uint8_t buf[MAX_BYTES] = {0};
            uint8_t tag[16] = {0};
            struct eng_unit u = unit(&v, v.pt, buf, tag);
            eng_clear_error();
            cr_assert_eq(eng_cipher_encrypt(c, &u), -1);
            cr_assert_eq(eng_errno(), ENG_ERR_NONCE_LEN);
            cr_assert_eq(u.status, ENG_ERR_NONCE_LEN);
            eng_cipher_free(c);
        }
    }
}

/*
 * Cases 15 and 16 share a key: one batch with 15, 16, and 16 with a flipped
 * tag. The bad unit fails alone; the others decrypt.
 */
Test(kat_embedded, gcm_batch_isolates_the_unit_with_a_bad_tag)
{
    struct vec v15;
    struct vec v16;
    gcm_case(&v15, 15);
    gcm_case(&v16, 16);
    struct tl_path paths[TL_MAX_PATHS];
    size_t n = paths_for(ENG_MODE_GCM, paths);
    for (size_t i = 0; i < n; i++) {
        struct eng_cipher *c = cipher_on(&paths[i], ENG_MODE_GCM, v15.key, 32);
        uint8_t b15[64];
        uint8_t b16[64];
        uint8_t bad[64];
        uint8_t t15[16];
        uint8_t t16[16];
        uint8_t tbad[16];
        memcpy(b15, v15.ct, v15.ct_len);
        memcpy(b16, v16.ct, v16.ct_len);
        memcpy(bad, v16.ct, v16.ct_len);
        memcpy(t15, v15.tag, 16);
        memcpy(t16, v16.tag, 16);
        memcpy(tbad, v16.tag, 16);
        tbad[15] ^= 0x80;
        struct eng_unit u[3] = {unit(&v15, b15, b15, t15), unit(&v16, bad, bad, tbad),
                                unit(&v16, b16, b16, t16)};
        eng_clear_error();
        cr_assert_eq(eng_cipher_batch(c, ENG_DECRYPT, u, 3), -1);
        cr_assert_eq(eng_errno(), ENG_ERR_AUTH);
        cr_assert_eq(u[0].status, ENG_OK);
        cr_assert_eq(u[1].status, ENG_ERR_AUTH);
        cr_assert_eq(u[2].status, ENG_OK);
        cr_assert_arr_eq(b15, v15.pt, v15.pt_len);
        cr_assert_arr_eq(b16, v16.pt, v16.pt_len);
        for (size_t k = 0; k < v16.ct_len; k++) {
            cr_assert_eq(bad[k], 0);
        }
        eng_cipher_free(c);
    }
}
