/*
 * test_kek_vault.c - the customer-managed KEK provider against canned vault
 * answers: request shape, every error mapping, bounded retries honouring
 * Retry-After (and its parser), keep-alive, the base64url round trip
 * checked with OpenSSL's decoder, the refusal of plain http:// and of a bad
 * CA file, key expiry. The fixture server speaks plain HTTP, so these
 * providers set insecure_http. (End-to-end tests against vault-mock live
 * with the vault and the store.)
 */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eng_vault.h"
#include "fixture_server.h"
#include "kek_vault_internal.h"

#define VER  "0123456789abcdef0123456789abcdef"
#define VER2 "fedcba9876543210fedcba9876543210"

/* fx_suite: the fixture server of every test here, at fx_suite_url. */
TestSuite(kek_vault, .init = fx_suite_setup, .fini = fx_suite_teardown);

static struct eng_kek_provider *open_p(int retries)
{
    struct eng_vault_config cfg = {.vault_url = fx_suite_url,
                                   .key_name = "db-kek",
                                   .token = "tok-123",
                                   .max_retries = retries,
                                   .backoff_base_ms = 1,
                                   .backoff_max_ms = 20,
                                   .timeout_ms = 2000,
                                   .insecure_http = 1};
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    cr_assert_not_null(p, "%s", eng_strerror(eng_errno()));
    return p;
}

static char bundle[512];
static const char *key_bundle(const char *ver, const char *enabled)
{
    snprintf(
        bundle, sizeof(bundle),
        "{\"key\":{\"kid\":\"https://127.0.0.1/keys/db-kek/%s\",\"kty\":\"RSA\",\"n\":\"AQAB\","
        "\"e\":\"AQAB\"},\"attributes\":{\"enabled\":%s,\"created\":1,\"updated\":1}}",
        ver, enabled);
    return bundle;
}

Test(kek_vault, get_latest_fills_the_ref_and_sends_the_token)
{
    struct eng_kek_provider *p = open_p(0);
    fx_push(fx_suite, 200, key_bundle(VER, "true"), NULL, 0);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0, "%s", eng_strerror(eng_errno()));
    cr_assert_str_eq(ref.provider, "vault");
    cr_assert_str_eq(ref.version, VER);
    cr_assert_str_eq(ref.alg, "RSA-OAEP-256");
    cr_assert(strstr(ref.key_id, "/keys/db-kek") != NULL);
    const struct fx_request *r = fx_req(fx_suite, 0);
    cr_assert_str_eq(r->method, "GET");
    cr_assert_str_eq(r->path, "/keys/db-kek?api-version=7.4");
    cr_assert_str_eq(r->auth, "Bearer tok-123");
    /* a named version goes into the path */
    fx_push(fx_suite, 200, key_bundle(VER2, "true"), NULL, 0);
    cr_assert_eq(eng_kek_get(p, VER2, &ref), 0);
    cr_assert_str_eq(fx_req(fx_suite, 1)->path, "/keys/db-kek/" VER2 "?api-version=7.4");
    eng_kek_provider_free(p);
}

static void expect_get_error(int status, const char *body, int code)
{
    struct eng_kek_provider *p = open_p(0);
    fx_push(fx_suite, status, body, NULL, 0);
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
    expect_get_error(404,
                     "{\"error\":{\"code\":\"KeyNotFound\",\"message\":\"A key with (name/id) "
                     "db-kek was not found\"}}",
                     ENG_ERR_KEK_NOT_FOUND);
    expect_get_error(403,
                     "{\"error\":{\"code\":\"Forbidden\",\"message\":\"does not have keys get "
                     "permission\",\"innererror\":{\"code\":\"ForbiddenByPolicy\"}}}",
                     ENG_ERR_KEK_FORBIDDEN);
    expect_get_error(403,
                     "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Operation get is not "
                     "allowed on a disabled key.\",\"innererror\":{\"code\":\"KeyDisabled\"}}}",
                     ENG_ERR_KEK_DISABLED);
    expect_get_error(401,
                     "{\"error\":{\"code\":\"Unauthorized\",\"message\":\"AKV10000: Request is "
                     "missing a Bearer or PoP token.\"}}",
                     ENG_ERR_VAULT_AUTH);
    expect_get_error(429, "{\"error\":{\"code\":\"Throttled\"}}", ENG_ERR_VAULT_THROTTLED);
    expect_get_error(503, "", ENG_ERR_VAULT_SERVER);
    expect_get_error(400, "{\"error\":{\"code\":\"BadParameter\"}}", ENG_ERR_VAULT_PROTOCOL);
    expect_get_error(200, "{not json", ENG_ERR_VAULT_PROTOCOL);
    expect_get_error(200,
                     "{\"key\":{\"kid\":\"https://x/keys/other-key/" VER "\",\"kty\":\"RSA\"}}",
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
    fx_push(fx_suite, 429, "{}", "0", 0);
    fx_push(fx_suite, 503, "{}", NULL, 0);
    fx_push(fx_suite, 200, key_bundle(VER, "true"), NULL, 0);
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0, "%s", eng_strerror(eng_errno()));
    struct eng_kek_stats st;
    cr_assert_eq(eng_kek_stats(p, &st), 0);
    cr_assert_eq(st.requests, 3);
    cr_assert_eq(st.retries, 2);
    /* always throttled: exactly 1 + max_retries requests, then THROTTLED */
    for (int i = 0; i < 3; i++) {
        fx_push(fx_suite, 429, "{}", "0", 0);
    }
    eng_clear_error();
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_THROTTLED);
    cr_assert_eq(fx_count(fx_suite), 3 + 3);
    /* 404 is not retried */
    fx_push(fx_suite, 404, "{}", NULL, 0);
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_NOT_FOUND);
    cr_assert_eq(fx_count(fx_suite), 7);
    eng_kek_provider_free(p);
}

Test(kek_vault, keep_alive_reuses_one_connection)
{
    struct eng_kek_provider *p = open_p(0);
    struct eng_kek_ref ref;
    for (int i = 0; i < 5; i++) {
        fx_push(fx_suite, 200, key_bundle(VER, "true"), NULL, 0);
        cr_assert_eq(eng_kek_get(p, NULL, &ref), 0);
    }
    struct eng_kek_stats st;
    cr_assert_eq(eng_kek_stats(p, &st), 0);
    cr_assert_eq(st.requests, 5);
    cr_assert_eq(st.connects, 1, "%llu connections for 5 requests",
                 (unsigned long long)st.connects);
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
    fx_push(fx_suite, 200, key_bundle(VER, "true"), NULL, 0);
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0);
    /* a DEK whose base64 contains '+' and '/' in the standard alphabet */
    uint8_t dek[32];
    for (int i = 0; i < 32; i++) {
        dek[i] = (uint8_t)(0xfb + i * 7);
    }
    fx_push(fx_suite, 200,
            "{\"kid\":\"https://h/keys/db-kek/" VER "\",\"value\":\"AAECAwQFBgcICQ\"}", NULL, 0);
    uint8_t wrapped[ENG_WRAPPED_MAX];
    size_t wl = 0;
    cr_assert_eq(eng_kek_wrap(p, &ref, wrapped, &wl, sizeof(wrapped), dek, 32), 0, "%s",
                 eng_strerror(eng_errno()));
    cr_assert_eq(wl, 10);
    for (size_t i = 0; i < wl; i++) {
        cr_assert_eq(wrapped[i], i);
    }
    const struct fx_request *r = fx_req(fx_suite, 1);
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
    fx_push(fx_suite, 200, "{\"kid\":\"https://h/keys/db-kek/" VER "\",\"value\":\"-_8AAQ==\"}",
            NULL, 0);
    uint8_t out[64];
    size_t ol = 0;
    cr_assert_eq(eng_kek_unwrap(p, &ref, out, &ol, sizeof(out), wrapped, wl), 0, "%s",
                 eng_strerror(eng_errno()));
    cr_assert_eq(ol, 4);
    cr_assert(out[0] == 0xfb && out[1] == 0xff && out[2] == 0 && out[3] == 1);
    cr_assert_str_eq(fx_req(fx_suite, 2)->path, "/keys/db-kek/" VER "/unwrapkey?api-version=7.4");

    /* 400 on unwrap: the vault could not decrypt -> ENG_ERR_UNWRAP; output wiped */
    memset(out, 0xaa, sizeof(out));
    fx_push(fx_suite, 400, "{\"error\":{\"code\":\"BadParameter\"}}", NULL, 0);
    cr_assert_eq(eng_kek_unwrap(p, &ref, out, &ol, sizeof(out), wrapped, wl), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_UNWRAP);
    /* bad base64url or a kid of another version -> protocol error, output wiped */
    fx_push(fx_suite, 200, "{\"kid\":\"https://h/keys/db-kek/" VER "\",\"value\":\"ab+/\"}", NULL,
            0);
    cr_assert_eq(eng_kek_unwrap(p, &ref, out, &ol, sizeof(out), wrapped, wl), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_PROTOCOL);
    fx_push(fx_suite, 200, "{\"kid\":\"https://h/keys/db-kek/" VER2 "\",\"value\":\"AAEC\"}", NULL,
            0);
    cr_assert_eq(eng_kek_unwrap(p, &ref, out, &ol, sizeof(out), wrapped, wl), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_PROTOCOL);
    for (size_t i = 0; i < sizeof(out); i++) {
        cr_assert_eq(out[i], 0);
    }
    eng_kek_provider_free(p);
}

Test(kek_vault, timeout_and_refused_connection_are_unreachable)
{
    struct eng_vault_config cfg = {.vault_url = fx_suite_url,
                                   .key_name = "db-kek",
                                   .token = "t",
                                   .max_retries = 0,
                                   .timeout_ms = 200,
                                   .insecure_http = 1};
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    cr_assert_not_null(p);
    fx_push(fx_suite, 200, key_bundle(VER, "true"), NULL, 1000);
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
    struct eng_vault_config cfg = {.vault_url = fx_suite_url,
                                   .key_name = "db-kek",
                                   .token = "t",
                                   .max_retries = -1,
                                   .insecure_http = 1};
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
    cr_assert_eq(fx_count(fx_suite), 0);
    struct eng_kek_stats st;
    cr_assert_eq(eng_kek_stats(NULL, &st), -1);
    eng_kek_provider_free(p);
}

/*
 * Attack report B7: Key Vault key names ignore case and the service answers
 * with its own spelling in the kid; --vault-key DB-KEK for "db-kek" gave
 * ENG_ERR_VAULT_PROTOCOL. Another name in the kid is still refused.
 */
Test(kek_vault, key_name_in_the_kid_ignores_case)
{
    struct eng_vault_config cfg = {.vault_url = fx_suite_url,
                                   .key_name = "DB-Kek",
                                   .token = "tok-123",
                                   .max_retries = 0,
                                   .timeout_ms = 2000,
                                   .insecure_http = 1};
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    cr_assert_not_null(p, "%s", eng_strerror(eng_errno()));
    fx_push(fx_suite, 200, key_bundle(VER, "true"), NULL, 0); /* kid .../keys/db-kek/VER */
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0, "%s", eng_error_name(eng_errno()));
    cr_assert_str_eq(ref.version, VER);
    eng_kek_provider_free(p);
    cfg.key_name = "db-kek2";
    p = eng_vault_open(&cfg);
    cr_assert_not_null(p);
    fx_push(fx_suite, 200, key_bundle(VER, "true"), NULL, 0);
    eng_clear_error();
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1, "another key's kid accepted");
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_PROTOCOL, "got %s", eng_error_name(eng_errno()));
    eng_kek_provider_free(p);
}

/* Attack report B6: a password in the vault URL went into the key table and messages. */
Test(kek_vault, url_with_user_info_is_refused)
{
    static const char *const urls[] = {"https://user:SECRETPW@127.0.0.1:1",
                                       "https://user@127.0.0.1:1/", "https://:pw@host",
                                       "HTTPS://u:SECRETPW@127.0.0.1:1", "hTtP://u:pw@h:1"};
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        struct eng_vault_config cfg = {
            .vault_url = urls[i], .key_name = "db-kek", .token = "t", .max_retries = 0};
        eng_clear_error();
        cr_assert_null(eng_vault_open(&cfg), "%s accepted", urls[i]);
        cr_assert_eq(eng_errno(), ENG_ERR_VAULT_URL_USERINFO, "%s: got %s", urls[i],
                     eng_error_name(eng_errno()));
    }
    /* an @ after the host (in the path) is not user info */
    struct eng_vault_config cfg = {.vault_url = "https://127.0.0.1:1/a@b",
                                   .key_name = "db-kek",
                                   .token = "t",
                                   .max_retries = 0};
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    cr_assert_not_null(p, "%s", eng_error_name(eng_errno()));
    eng_kek_provider_free(p);
    cr_assert_eq(fx_count(fx_suite), 0, "a request went out");
}

/* Issue 17 item 4: the bearer token must not go out over plain HTTP unless asked for. */
Test(kek_vault, plain_http_is_refused_without_the_flag)
{
    struct eng_vault_config cfg = {
        .vault_url = fx_suite_url, .key_name = "db-kek", .token = "t", .max_retries = 0};
    eng_clear_error();
    cr_assert_null(eng_vault_open(&cfg), "http:// accepted without insecure_http");
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_INSECURE, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(fx_count(fx_suite), 0, "a request went out");
    cfg.vault_url = "HTTP://127.0.0.1:1"; /* not https either: refused as a bad URL */
    cr_assert_null(eng_vault_open(&cfg));
    cr_assert_eq(eng_errno(), ENG_ERR_ARG, "got %s", eng_error_name(eng_errno()));
    cfg.vault_url = fx_suite_url;
    cfg.insecure_http = 1;
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    cr_assert_not_null(p, "%s", eng_error_name(eng_errno()));
    fx_push(fx_suite, 200, key_bundle(VER, "true"), NULL, 0);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0, "%s", eng_error_name(eng_errno()));
    eng_kek_provider_free(p);
}

/*
 * A token that is not one printable word is refused before any request, from
 * any source (the CLI's $CMK_VAULT_TOKEN included): CR or LF in it would
 * inject header lines.
 */
Test(kek_vault, token_with_control_bytes_is_refused)
{
    static const char *const bad[] = {"t\r\nX-Injected: 1", "t\nX: 1", "two words", "t\x7f",
                                      "t\tx"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct eng_vault_config cfg = {.vault_url = fx_suite_url,
                                       .key_name = "db-kek",
                                       .token = bad[i],
                                       .max_retries = 0,
                                       .insecure_http = 1};
        eng_clear_error();
        cr_assert_null(eng_vault_open(&cfg), "token %zu accepted", i);
        cr_assert_eq(eng_errno(), ENG_ERR_ARG, "token %zu: got %s", i, eng_error_name(eng_errno()));
    }
    cr_assert_eq(fx_count(fx_suite), 0, "a request went out");
}

/* Issue 17 item 12: the Retry-After parser's range checks. */
Test(kek_vault, retry_after_parser)
{
    const time_t now = 1700000000; /* 2023-11-14 22:13:20 GMT */
    static const struct {
        const char *in;
        long want;
    } cases[] = {
        {"0", 0},
        {"1", 1},
        {" 120\r\n", 120},
        {"\t7 ", 7},
        {"86400", ENG_VAULT_RETRY_AFTER_MAX_S},
        {"86401", ENG_VAULT_RETRY_AFTER_MAX_S},
        {"9223372036854775807", ENG_VAULT_RETRY_AFTER_MAX_S}, /* LONG_MAX: was * 1000 */
        {"9223372036854775808", ENG_VAULT_RETRY_AFTER_MAX_S}, /* past LONG_MAX */
        {"99999999999999999999999999999999999999", ENG_VAULT_RETRY_AFTER_MAX_S},
        {"-1", -1},
        {"-9223372036854775808", -1},
        {"+5", -1},
        {"1.5", -1},
        {"5s", -1},
        {"5 5", -1},
        {"0x10", -1},
        {"", -1},
        {"   ", -1},
        {"soon", -1},
        {"Tue, 14 Nov 2023 22:13:50 GMT", 30},                          /* HTTP-date, 30 s ahead */
        {"Tue, 14 Nov 2023 22:13:20 GMT", 0},                           /* now */
        {"Mon, 01 Jan 2001 00:00:00 GMT", 0},                           /* the past */
        {"Fri, 31 Dec 9999 23:59:59 GMT", ENG_VAULT_RETRY_AFTER_MAX_S}, /* far future */
        {"Tue, 14 Nov 2023 22:13:50 UTC", -1},                          /* not IMF-fixdate */
        {"Tuesday, 14-Nov-23 22:13:50 GMT", -1},                        /* RFC 850: not supported */
        {"Tue, 32 Nov 2023 22:13:50 GMT", -1},
        {"Tue, 14 Nov 2023 25:13:50 GMT", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long got = eng_vault_parse_retry_after(cases[i].in, strlen(cases[i].in), now);
        cr_expect_eq(got, cases[i].want, "Retry-After \"%s\": got %ld, want %ld", cases[i].in, got,
                     cases[i].want);
    }
    /* |len| bounds the value: no NUL needed, nothing read past it */
    cr_assert_eq(eng_vault_parse_retry_after("12345", 2, now), 12);
    cr_assert_eq(eng_vault_parse_retry_after(NULL, 0, now), -1);
}

/*
 * Issue 17 item 12: "Retry-After: 9223372036854775807" made the provider
 * sleep with a negative time in a loop forever. Now: a wait longer than
 * the call's deadline gives up at once with THROTTLED, after one request.
 * (.timeout turns the old hang into a failure.)
 */
Test(kek_vault, huge_retry_after_gives_up_throttled, .timeout = 60)
{
    struct eng_kek_provider *p = open_p(3);
    static const char *const values[] = {"9223372036854775807", "-1", "99999999999999999999",
                                         "3600", "Fri, 31 Dec 9999 23:59:59 GMT"};
    struct eng_kek_ref ref;
    size_t sent = 0;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        /* "-1" is garbage, so absent: backoff (capped at 20 ms) and every retry; the others
           ask for more than the 30 s deadline: one request, no wait */
        size_t want = strcmp(values[i], "-1") == 0 ? 4 : 1;
        for (size_t k = 0; k < want; k++) {
            fx_push(fx_suite, 429, "{\"error\":{\"code\":\"Throttled\"}}", values[i], 0);
        }
        eng_clear_error();
        cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
        cr_assert_eq(eng_errno(), ENG_ERR_VAULT_THROTTLED, "Retry-After %s: got %s", values[i],
                     eng_error_name(eng_errno()));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        cr_log_info("Retry-After %s: THROTTLED after %.3f s, %zu requests", values[i], s,
                    fx_count(fx_suite) - sent);
        cr_assert_eq(fx_count(fx_suite) - sent, want, "Retry-After %s: %zu requests", values[i],
                     fx_count(fx_suite) - sent);
        sent = fx_count(fx_suite);
    }
    eng_kek_provider_free(p);
}

/* A Retry-After within the deadline is waited for (capped at backoff_max_ms), and the call's
   deadline bounds the whole call. */
Test(kek_vault, retry_after_within_the_deadline_is_honoured, .timeout = 60)
{
    struct eng_vault_config cfg = {.vault_url = fx_suite_url,
                                   .key_name = "db-kek",
                                   .token = "t",
                                   .max_retries = 50,
                                   .backoff_max_ms = 300,
                                   .deadline_ms = 3000,
                                   .insecure_http = 1};
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    cr_assert_not_null(p);
    for (int k = 0; k < 50; k++) {
        fx_push(fx_suite, 429, "{}", "1", 0);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_THROTTLED);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    /* 300 ms waits (the 1 s asked for, capped) while more than 1 s is left of the 3 s
       deadline: a wait starts before 2 s only, so 2 + 2000 / 300 = 8 requests at most */
    cr_log_info("Retry-After 1, cap 300 ms, deadline 3 s: %zu requests, %.3f s", fx_count(fx_suite),
                s);
    cr_assert_geq(fx_count(fx_suite), 2, "the 1 s Retry-After was not retried (capped to 300 ms)");
    cr_assert_leq(fx_count(fx_suite), 8, "%zu requests: waits shorter than 300 ms",
                  fx_count(fx_suite));
    cr_assert_geq(s, 0.3, "gave up after %.3f s without waiting", s);
    cr_assert_lt(s, 3.0 + 2.0, "the call ran %.3f s past its 3 s deadline", s);
    eng_kek_provider_free(p);
}

static void expect_get_error_at(const char *body, int code)
{
    expect_get_error(200, body, code);
}

/* Issue 17 item 21: an expired key is "expired", not "disabled"; before nbf "not yet valid". */
Test(kek_vault, expired_and_not_yet_valid_keys)
{
    char b[512];
    long now = (long)time(NULL);
    snprintf(b, sizeof(b),
             "{\"key\":{\"kid\":\"https://h/keys/db-kek/" VER
             "\",\"kty\":\"RSA\"},"
             "\"attributes\":{\"enabled\":true,\"exp\":%ld}}",
             now - 60);
    expect_get_error_at(b, ENG_ERR_KEK_EXPIRED);
    snprintf(b, sizeof(b),
             "{\"key\":{\"kid\":\"https://h/keys/db-kek/" VER
             "\",\"kty\":\"RSA\"},"
             "\"attributes\":{\"enabled\":true,\"nbf\":%ld}}",
             now + 3600);
    expect_get_error_at(b, ENG_ERR_KEK_NOT_YET_VALID);
    snprintf(b, sizeof(b),
             "{\"key\":{\"kid\":\"https://h/keys/db-kek/" VER
             "\",\"kty\":\"RSA\"},"
             "\"attributes\":{\"enabled\":false,\"exp\":%ld}}",
             now - 60);
    expect_get_error_at(b, ENG_ERR_KEK_DISABLED); /* disabled first */
    /* valid window: fine */
    struct eng_kek_provider *p = open_p(0);
    snprintf(b, sizeof(b),
             "{\"key\":{\"kid\":\"https://h/keys/db-kek/" VER
             "\",\"kty\":\"RSA\"},"
             "\"attributes\":{\"enabled\":true,\"nbf\":%ld,\"exp\":%ld}}",
             now - 60, now + 3600);
    fx_push(fx_suite, 200, b, NULL, 0);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0, "%s", eng_error_name(eng_errno()));
    eng_kek_provider_free(p);
    /* the service's 403 answers to wrapKey */
    expect_get_error(403,
                     "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Operation wrapKey is "
                     "not allowed on an expired key.\",\"innererror\":{\"code\":\"KeyExpired\"}}}",
                     ENG_ERR_KEK_EXPIRED);
    expect_get_error(403,
                     "{\"error\":{\"code\":\"Forbidden\",\"message\":\"x\",\"innererror\":"
                     "{\"code\":\"KeyNotYetValid\"}}}",
                     ENG_ERR_KEK_NOT_YET_VALID);
    expect_get_error(403,
                     "{\"error\":{\"code\":\"Forbidden\",\"message\":\"The key is expired.\"}}",
                     ENG_ERR_KEK_EXPIRED);
}

/* Issue 17 item 18: the CA file is checked at open: missing, not a file, no certificate. */
Test(kek_vault, bad_ca_file_is_named_at_open)
{
    struct eng_vault_config cfg = {
        .vault_url = "https://127.0.0.1:1", .key_name = "db-kek", .token = "t", .max_retries = 0};
    char garbage[] = "/tmp/cmk-ca-XXXXXX";
    int fd = mkstemp(garbage);
    cr_assert_geq(fd, 0);
    static const char junk[] =
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
        "-----END CERTIFICATE-----\n";
    cr_assert_eq(write(fd, junk, sizeof(junk) - 1), (ssize_t)(sizeof(junk) - 1));
    close(fd);
    const char *const bad[] = {"/nonexistent/cmk-ca.pem", "/tmp", garbage, "/dev/null"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg.ca_file = bad[i];
        eng_clear_error();
        cr_assert_null(eng_vault_open(&cfg), "CA file %s accepted", bad[i]);
        cr_assert_eq(eng_errno(), ENG_ERR_VAULT_CA_FILE, "CA file %s: got %s", bad[i],
                     eng_error_name(eng_errno()));
    }
    unlink(garbage);
}
