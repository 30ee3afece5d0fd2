/*
 * test_kek_vault.c - the customer-managed KEK provider against canned vault
 * answers: request shape, every error mapping, bounded retries honouring
 * Retry-After, keep-alive, and the base64url round trip checked with
 * OpenSSL's decoder. (End-to-end tests against vault-mock live with the
 * vault and the store.)
 */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "eng_vault.h"
#include "fixture_server.h"

#define VER "0123456789abcdef0123456789abcdef"
#define VER2 "fedcba9876543210fedcba9876543210"

static struct fx_server *fx;
static char url[64];

static void setup(void)
{
    fx = fx_start();
    cr_assert_not_null(fx);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", fx_port(fx));
}

static void teardown(void)
{
    fx_stop(fx);
}

TestSuite(kek_vault, .init = setup, .fini = teardown);

static struct eng_kek_provider *open_p(int retries)
{
    struct eng_vault_config cfg = {.vault_url = url, .key_name = "db-kek", .token = "tok-123",
                                   .max_retries = retries, .backoff_base_ms = 1,
                                   .backoff_max_ms = 20, .timeout_ms = 2000};
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    cr_assert_not_null(p, "%s", eng_strerror(eng_errno()));
    return p;
}

static char bundle[512];
static const char *key_bundle(const char *ver, const char *enabled)
{
    snprintf(bundle, sizeof(bundle),
             "{\"key\":{\"kid\":\"https://127.0.0.1/keys/db-kek/%s\",\"kty\":\"RSA\",\"n\":\"AQAB\","
             "\"e\":\"AQAB\"},\"attributes\":{\"enabled\":%s,\"created\":1,\"updated\":1}}",
             ver, enabled);
    return bundle;
}

Test(kek_vault, get_latest_fills_the_ref_and_sends_the_token)
{
    struct eng_kek_provider *p = open_p(0);
    fx_push(fx, 200, key_bundle(VER, "true"), NULL, 0);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0, "%s", eng_strerror(eng_errno()));
    cr_assert_str_eq(ref.provider, "vault");
    cr_assert_str_eq(ref.version, VER);
    cr_assert_str_eq(ref.alg, "RSA-OAEP-256");
    cr_assert(strstr(ref.key_id, "/keys/db-kek") != NULL);
    const struct fx_request *r = fx_req(fx, 0);
    cr_assert_str_eq(r->method, "GET");
    cr_assert_str_eq(r->path, "/keys/db-kek?api-version=7.4");
    cr_assert_str_eq(r->auth, "Bearer tok-123");
    /* a named version goes into the path */
    fx_push(fx, 200, key_bundle(VER2, "true"), NULL, 0);
    cr_assert_eq(eng_kek_get(p, VER2, &ref), 0);
    cr_assert_str_eq(fx_req(fx, 1)->path, "/keys/db-kek/" VER2 "?api-version=7.4");
    eng_kek_provider_free(p);
}

static void expect_get_error(int status, const char *body, int code)
{
    struct eng_kek_provider *p = open_p(0);
    fx_push(fx, status, body, NULL, 0);
    struct eng_kek_ref ref;
    eng_clear_error();
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), code, "HTTP %d: got %s, want %s", status, eng_error_name(eng_errno()),
                 eng_error_name(code));
    eng_kek_provider_free(p);
}

Test(kek_vault, error_mapping)
{
    expect_get_error(200, key_bundle(VER, "false"), ENG_ERR_KEK_DISABLED);
    expect_get_error(404, "{\"error\":{\"code\":\"KeyNotFound\",\"message\":\"A key with (name/id) db-kek was not found\"}}",
                     ENG_ERR_KEK_NOT_FOUND);
    expect_get_error(403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"does not have keys get permission\",\"innererror\":{\"code\":\"ForbiddenByPolicy\"}}}",
                     ENG_ERR_KEK_FORBIDDEN);
    expect_get_error(403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Operation get is not allowed on a disabled key.\",\"innererror\":{\"code\":\"KeyDisabled\"}}}",
                     ENG_ERR_KEK_DISABLED);
    expect_get_error(401, "{\"error\":{\"code\":\"Unauthorized\",\"message\":\"AKV10000: Request is missing a Bearer or PoP token.\"}}",
                     ENG_ERR_VAULT_AUTH);
    expect_get_error(429, "{\"error\":{\"code\":\"Throttled\"}}", ENG_ERR_VAULT_THROTTLED);
    expect_get_error(503, "", ENG_ERR_VAULT_SERVER);
    expect_get_error(400, "{\"error\":{\"code\":\"BadParameter\"}}", ENG_ERR_VAULT_PROTOCOL);
    expect_get_error(200, "{not json", ENG_ERR_VAULT_PROTOCOL);
    expect_get_error(200, "{\"key\":{\"kid\":\"https://x/keys/other-key/" VER "\",\"kty\":\"RSA\"}}",
                     ENG_ERR_VAULT_PROTOCOL);
    expect_get_error(200, "{\"key\":{\"kid\":\"https://x/keys/db-kek/" VER "\",\"kty\":\"oct\"}}",
                     ENG_ERR_VAULT_PROTOCOL);
    expect_get_error(0, NULL, ENG_ERR_VAULT_UNREACHABLE); /* connection dropped */
}

Test(kek_vault, retries_are_bounded_and_honour_retry_after)
{
    struct eng_kek_provider *p = open_p(2);
    struct eng_kek_ref ref;
    /* 429 (Retry-After: 0), 503, then success: three requests, two retries */
    fx_push(fx, 429, "{}", "0", 0);
    fx_push(fx, 503, "{}", NULL, 0);
    fx_push(fx, 200, key_bundle(VER, "true"), NULL, 0);
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0, "%s", eng_strerror(eng_errno()));
    struct eng_vault_stats st;
    cr_assert_eq(eng_vault_stats(p, &st), 0);
    cr_assert_eq(st.requests, 3);
    cr_assert_eq(st.retries, 2);
    /* always throttled: exactly 1 + max_retries requests, then THROTTLED */
    for (int i = 0; i < 3; i++) {
        fx_push(fx, 429, "{}", "0", 0);
    }
    eng_clear_error();
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_THROTTLED);
    cr_assert_eq(fx_count(fx), 3 + 3);
    /* 404 is not retried */
    fx_push(fx, 404, "{}", NULL, 0);
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_NOT_FOUND);
    cr_assert_eq(fx_count(fx), 7);
    eng_kek_provider_free(p);
}

Test(kek_vault, keep_alive_reuses_one_connection)
{
    struct eng_kek_provider *p = open_p(0);
    struct eng_kek_ref ref;
    for (int i = 0; i < 5; i++) {
        fx_push(fx, 200, key_bundle(VER, "true"), NULL, 0);
        cr_assert_eq(eng_kek_get(p, NULL, &ref), 0);
    }
    struct eng_vault_stats st;
    cr_assert_eq(eng_vault_stats(p, &st), 0);
    cr_assert_eq(st.requests, 5);
    cr_assert_eq(st.connects, 1, "%llu connections for 5 requests", (unsigned long long)st.connects);
    eng_kek_provider_free(p);
}

/* Decodes base64url with OpenSSL directly (independent of the provider's own decoder). */
static int ossl_b64url(const char *in, unsigned char *out)
{
    char tmp[2048];
    size_t n = strlen(in), i;
    for (i = 0; i < n; i++) {
        tmp[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    }
    while (i % 4) {
        tmp[i++] = '=';
    }
    tmp[i] = '\0';
    int len = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)i);
    return len - (int)(i - n);
}

Test(kek_vault, wrap_and_unwrap_carry_base64url)
{
    struct eng_kek_provider *p = open_p(0);
    struct eng_kek_ref ref;
    fx_push(fx, 200, key_bundle(VER, "true"), NULL, 0);
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0);
    /* a DEK whose base64 contains '+' and '/' in the standard alphabet */
    uint8_t dek[32];
    for (int i = 0; i < 32; i++) {
        dek[i] = (uint8_t)(0xfb + i * 7);
    }
    fx_push(fx, 200, "{\"kid\":\"https://h/keys/db-kek/" VER "\",\"value\":\"AAECAwQFBgcICQ\"}", NULL, 0);
    uint8_t wrapped[ENG_WRAPPED_MAX];
    size_t wl = 0;
    cr_assert_eq(eng_kek_wrap(p, &ref, wrapped, &wl, sizeof(wrapped), dek, 32), 0, "%s",
                 eng_strerror(eng_errno()));
    cr_assert_eq(wl, 10);
    for (size_t i = 0; i < wl; i++) {
        cr_assert_eq(wrapped[i], i);
    }
    const struct fx_request *r = fx_req(fx, 1);
    cr_assert_str_eq(r->path, "/keys/db-kek/" VER "/wrapkey?api-version=7.4");
    cr_assert(strstr(r->body, "\"alg\":\"RSA-OAEP-256\"") != NULL, "%s", r->body);
    const char *v = strstr(r->body, "\"value\":\"");
    cr_assert_not_null(v);
    char val[256];
    cr_assert_eq(sscanf(v + 9, "%255[^\"]", val), 1);
    cr_assert(strchr(val, '=') == NULL && strchr(val, '+') == NULL && strchr(val, '/') == NULL,
              "not unpadded base64url: %s", val);
    unsigned char back[64];
    cr_assert_eq(ossl_b64url(val, back), 32);
    cr_assert(memcmp(back, dek, 32) == 0);

    /* unwrap: padded input is accepted too */
    fx_push(fx, 200, "{\"kid\":\"https://h/keys/db-kek/" VER "\",\"value\":\"-_8AAQ==\"}", NULL, 0);
    uint8_t out[64];
    size_t ol = 0;
    cr_assert_eq(eng_kek_unwrap(p, &ref, out, &ol, sizeof(out), wrapped, wl), 0, "%s",
                 eng_strerror(eng_errno()));
    cr_assert_eq(ol, 4);
    cr_assert(out[0] == 0xfb && out[1] == 0xff && out[2] == 0 && out[3] == 1);
    cr_assert_str_eq(fx_req(fx, 2)->path, "/keys/db-kek/" VER "/unwrapkey?api-version=7.4");

    /* 400 on unwrap: the vault could not decrypt -> ENG_ERR_UNWRAP; output wiped */
    memset(out, 0xaa, sizeof(out));
    fx_push(fx, 400, "{\"error\":{\"code\":\"BadParameter\"}}", NULL, 0);
    cr_assert_eq(eng_kek_unwrap(p, &ref, out, &ol, sizeof(out), wrapped, wl), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_UNWRAP);
    /* bad base64url or a kid of another version -> protocol error, output wiped */
    fx_push(fx, 200, "{\"kid\":\"https://h/keys/db-kek/" VER "\",\"value\":\"ab+/\"}", NULL, 0);
    cr_assert_eq(eng_kek_unwrap(p, &ref, out, &ol, sizeof(out), wrapped, wl), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_PROTOCOL);
    fx_push(fx, 200, "{\"kid\":\"https://h/keys/db-kek/" VER2 "\",\"value\":\"AAEC\"}", NULL, 0);
    cr_assert_eq(eng_kek_unwrap(p, &ref, out, &ol, sizeof(out), wrapped, wl), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_PROTOCOL);
    for (size_t i = 0; i < sizeof(out); i++) {
        cr_assert_eq(out[i], 0);
    }
    eng_kek_provider_free(p);
}

Test(kek_vault, timeout_and_refused_connection_are_unreachable)
{
    struct eng_vault_config cfg = {.vault_url = url, .key_name = "db-kek", .token = "t",
                                   .max_retries = 0, .timeout_ms = 200};
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    cr_assert_not_null(p);
    fx_push(fx, 200, key_bundle(VER, "true"), NULL, 1000);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_UNREACHABLE);
    eng_kek_provider_free(p);
    cfg.vault_url = "http://127.0.0.1:1"; /* nothing listens on port 1 */
    p = eng_vault_open(&cfg);
    cr_assert_not_null(p);
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_UNREACHABLE);
    eng_kek_provider_free(p);
}

Test(kek_vault, open_refuses_bad_configuration)
{
    struct eng_vault_config cfg = {.vault_url = url, .key_name = "db-kek", .token = "t", .max_retries = -1};
    struct eng_vault_config c = cfg;
    c.alg = "RSA1_5";
    cr_assert_null(eng_vault_open(&c));
    cr_assert_eq(eng_errno(), ENG_ERR_ARG);
    c = cfg;
    c.key_name = "bad/name";
    cr_assert_null(eng_vault_open(&c));
    cr_assert_eq(eng_errno(), ENG_ERR_ARG);
    c = cfg;
    c.vault_url = "ftp://x";
    cr_assert_null(eng_vault_open(&c));
    cr_assert_eq(eng_errno(), ENG_ERR_ARG);
    c = cfg;
    c.token = NULL;
    cr_assert_null(eng_vault_open(&c));
    cr_assert_eq(eng_errno(), ENG_ERR_NULL);
    cr_assert_null(eng_vault_open(NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_NULL);
    /* describe needs no I/O */
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_describe(p, VER, &ref), 0);
    cr_assert_str_eq(ref.version, VER);
    cr_assert_eq(fx_count(fx), 0);
    struct eng_vault_stats st;
    cr_assert_eq(eng_vault_stats(NULL, &st), -1);
    eng_kek_provider_free(p);
}
