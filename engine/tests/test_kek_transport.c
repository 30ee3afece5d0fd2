/*
 * test_kek_transport.c - the HTTP transport of the remote KEK providers
 * (engine/src/kek_http.c) under a second protocol: a small "transit"
 * provider in the style of a Vault transit engine (GET the key, POST
 * encrypt / decrypt with JSON bodies), written here in under 200 lines on
 * eng_http_exchange, the way a new key service would be added. Against the
 * canned-answer fixture server (plain HTTP, so insecure_http is set):
 *   - the round trip through the public eng_kek_* calls and eng_kek_stats;
 *   - the answer cap (one byte under passes, at the cap fails with
 *     ENG_ERR_VAULT_PROTOCOL, retried like any transport failure);
 *   - retry exhaustion (5xx and dropped connections: exactly 1 + max_retries
 *     requests, counted by the fixture);
 *   - Retry-After honoured: 0 retries at once, a wait past the deadline
 *     stops after one request (counted by the fixture, no clock involved);
 *   - eng_http_open's refusals, each with its exact error; eng_kek_stats of a
 *     provider without the operation and of SMK (all zero).
 * The Key Vault protocol on the same transport is tested in test_kek_vault.c.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eng_keys.h"
#include "eng_secure.h"
#include "error_internal.h" /* ENG_SET_ERROR: the toy protocol reports errors as the engine's do */
#include "fixture_server.h"
#include "kek_http.h"

/* fx_suite: the fixture server of every test here, at fx_suite_url. */
TestSuite(kek_transport, .init = fx_suite_setup, .fini = fx_suite_teardown);

/* ---- the toy protocol: a transit-style key service over the transport ---- */

struct transit {
    struct eng_http *http;
};

/* The engine error of a transit answer that is not 2xx. */
static int transit_error(long status)
{
    if (status == 404) {
        return ENG_ERR_KEK_NOT_FOUND;
    }
    if (status == 429) {
        return ENG_ERR_VAULT_THROTTLED;
    }
    return status >= 500 ? ENG_ERR_VAULT_SERVER : ENG_ERR_VAULT_PROTOCOL;
}

/* What a reader fills: the string at data.<field> of the answer (copied, wiped by the caller). */
struct answer {
    const char *field;
    char value[2048];
    int calls;
};

static int read_field(void *arg, long status, const char *body, size_t len)
{
    struct answer *a = arg;
    a->calls++;
    cr_assert_eq(strlen(body), len, "the body is NUL-terminated at |len|");
    if (status < 200 || status >= 300) {
        ENG_SET_ERROR(transit_error(status));
        return -1;
    }
    cJSON *j = cJSON_Parse(body);
    const char *v = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "data"), a->field));
    int ok = v != NULL && strlen(v) < sizeof(a->value);
    if (ok) {
        memcpy(a->value, v, strlen(v) + 1);
    }
    cJSON_Delete(j);
    if (!ok) {
        ENG_SET_ERROR(ENG_ERR_VAULT_PROTOCOL);
        return -1;
    }
    return 0;
}

static void transit_ref(const char *version, struct eng_kek_ref *out)
{
    snprintf(out->provider, sizeof(out->provider), "transit");
    snprintf(out->key_id, sizeof(out->key_id), "transit/db-kek");
    snprintf(out->version, sizeof(out->version), "%s", version != NULL ? version : "");
    snprintf(out->alg, sizeof(out->alg), "aes256-gcm96");
}

static int t_get(void *state, const char *version, struct eng_kek_ref *out)
{
    struct transit *t = state;
    (void)version;
    eng_http_count_call(t->http, ENG_HTTP_CALL_GET);
    struct answer a = {.field = "latest_version"};
    if (eng_http_exchange(t->http, "/v1/transit/keys/db-kek", NULL, read_field, &a) != 0) {
        return -1;
    }
    transit_ref(a.value, out);
    return 0;
}

/* POSTs {"<in_field>": <in>} to |path| and copies data.<out_field> of the answer. */
static int t_post(struct transit *t, const char *path, const char *in_field, const char *in,
                  struct answer *a)
{
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, in_field, in);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    cr_assert_not_null(body);
    int rc = eng_http_exchange(t->http, path, body, read_field, a);
    free(body);
    return rc;
}

static int t_wrap(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                  size_t max_out_len, const uint8_t *dek, size_t dek_len)
{
    (void)kek;
    struct transit *t = state;
    eng_http_count_call(t->http, ENG_HTTP_CALL_WRAP);
    char b64[4 * ENG_DEK_MAX_BYTES / 3 + 8];
    EVP_EncodeBlock((unsigned char *)b64, dek, (int)dek_len);
    struct answer a = {.field = "ciphertext"};
    if (t_post(t, "/v1/transit/encrypt/db-kek", "plaintext", b64, &a) != 0) {
        return -1;
    }
    size_t n = strlen(a.value);
    if (n > max_out_len) {
        ENG_SET_ERROR(ENG_ERR_WRAPPED_LEN);
        return -1;
    }
    memcpy(out, a.value, n); /* the wrapped key is the ciphertext string */
    *out_len = n;
    return 0;
}

static int t_unwrap(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                    size_t max_out_len, const uint8_t *in, size_t in_len)
{
    (void)kek;
    struct transit *t = state;
    eng_http_count_call(t->http, ENG_HTTP_CALL_UNWRAP);
    char ct[ENG_WRAPPED_MAX + 1];
    memcpy(ct, in, in_len);
    ct[in_len] = '\0';
    struct answer a = {.field = "plaintext"};
    if (t_post(t, "/v1/transit/decrypt/db-kek", "ciphertext", ct, &a) != 0) {
        return -1;
    }
    uint8_t dec[sizeof(a.value)];
    size_t vl = strlen(a.value);
    int n = EVP_DecodeBlock(dec, (const unsigned char *)a.value, (int)vl);
    size_t pad =
        vl >= 2 ? (a.value[vl - 1] == '=') + (a.value[vl - 2] == '=') : 0; /* EVP counts it */
    if (n < 0 || (size_t)n - pad > max_out_len) {
        ENG_SET_ERROR(ENG_ERR_VAULT_PROTOCOL);
        return -1;
    }
    memcpy(out, dec, (size_t)n - pad);
    *out_len = (size_t)n - pad;
    eng_cleanse(dec, sizeof(dec));
    eng_cleanse(a.value, sizeof(a.value));
    return 0;
}

static int t_describe(void *state, const char *version, struct eng_kek_ref *out)
{
    (void)state;
    transit_ref(version, out);
    return 0;
}

static int t_stats(void *state, struct eng_kek_stats *out)
{
    struct transit *t = state;
    eng_http_stats(t->http, out);
    return 0;
}

static void t_free(void *state)
{
    struct transit *t = state;
    eng_http_free(t->http);
    free(t);
}

/* A transit provider on the fixture: |answer_max| 0 = the default cap. */
static struct eng_kek_provider *transit_open(int max_retries, size_t answer_max, long deadline_ms)
{
    const char *const headers[] = {"Authorization: Bearer transit-token",
                                   "Content-Type: application/json", NULL};
    struct eng_http_config cfg = {.base_url = fx_suite_url,
                                  .headers = headers,
                                  .insecure_http = 1,
                                  .answer_max = answer_max,
                                  .timeout_ms = 2000,
                                  .max_retries = max_retries,
                                  .backoff_base_ms = 1,
                                  .backoff_max_ms = 20,
                                  .deadline_ms = deadline_ms};
    struct transit *t = calloc(1, sizeof(*t));
    struct eng_kek_provider *p = calloc(1, sizeof(*p));
    cr_assert(t != NULL && p != NULL);
    t->http = eng_http_open(&cfg);
    cr_assert_not_null(t->http, "%s", eng_strerror(eng_errno()));
    *p = (struct eng_kek_provider){.name = "transit",
                                   .state = t,
                                   .get = t_get,
                                   .wrap = t_wrap,
                                   .unwrap = t_unwrap,
                                   .describe = t_describe,
                                   .stats = t_stats,
                                   .free = t_free,
                                   .concurrency = ENG_HTTP_LANES};
    return p;
}

static struct eng_kek_stats stats_of(const struct eng_kek_provider *p)
{
    struct eng_kek_stats st;
    cr_assert_eq(eng_kek_stats(p, &st), 0);
    return st;
}

#define GET_ANSWER "{\"data\":{\"latest_version\":\"3\"}}"

/* ---- the tests ---- */

Test(kek_transport, a_second_protocol_round_trips_through_the_public_calls)
{
    struct eng_kek_provider *p = transit_open(0, 0, 0);
    const uint8_t dek[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                             17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    char b64[64];
    EVP_EncodeBlock((unsigned char *)b64, dek, sizeof(dek));
    char decrypt_answer[256];
    snprintf(decrypt_answer, sizeof(decrypt_answer), "{\"data\":{\"plaintext\":\"%s\"}}", b64);
    fx_push(fx_suite, 200, GET_ANSWER, NULL, 0);
    fx_push(fx_suite, 200, "{\"data\":{\"ciphertext\":\"vault:v3:c2VhbGVk\"}}", NULL, 0);
    fx_push(fx_suite, 200, decrypt_answer, NULL, 0);

    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0, "%s", eng_strerror(eng_errno()));
    cr_assert_str_eq(ref.version, "3");
    uint8_t wrapped[ENG_WRAPPED_MAX], back[ENG_DEK_MAX_BYTES];
    size_t wlen = 0, blen = 0;
    cr_assert_eq(eng_kek_wrap(p, &ref, wrapped, &wlen, sizeof(wrapped), dek, sizeof(dek)), 0, "%s",
                 eng_strerror(eng_errno()));
    cr_assert_eq(wlen, strlen("vault:v3:c2VhbGVk"));
    cr_assert(memcmp(wrapped, "vault:v3:c2VhbGVk", wlen) == 0);
    cr_assert_eq(eng_kek_unwrap(p, &ref, back, &blen, sizeof(back), wrapped, wlen), 0, "%s",
                 eng_strerror(eng_errno()));
    cr_assert_eq(blen, sizeof(dek));
    cr_assert(memcmp(back, dek, sizeof(dek)) == 0);

    /* what went on the wire: the protocol's paths and bodies, the transport's headers */
    cr_assert_eq(fx_count(fx_suite), 3);
    cr_assert_str_eq(fx_req(fx_suite, 0)->method, "GET");
    cr_assert_str_eq(fx_req(fx_suite, 0)->path, "/v1/transit/keys/db-kek?api-version=");
    cr_assert_str_eq(fx_req(fx_suite, 1)->method, "POST");
    cr_assert_str_eq(fx_req(fx_suite, 1)->path, "/v1/transit/encrypt/db-kek?api-version=");
    char want[128];
    snprintf(want, sizeof(want), "{\"plaintext\":\"%s\"}", b64);
    cr_assert_str_eq(fx_req(fx_suite, 1)->body, want);
    cr_assert_str_eq(fx_req(fx_suite, 2)->body, "{\"ciphertext\":\"vault:v3:c2VhbGVk\"}");
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq(fx_req(fx_suite, i)->auth, "Bearer transit-token");
    }

    /* the counters, through the generic call */
    struct eng_kek_stats st = stats_of(p);
    cr_assert_eq(st.requests, 3);
    cr_assert_eq(st.retries, 0);
    cr_assert_eq(st.gets, 1);
    cr_assert_eq(st.wraps, 1);
    cr_assert_eq(st.unwraps, 1);
    cr_assert_eq(st.connects, 1, "keep-alive: %llu connections", (unsigned long long)st.connects);
    cr_assert_eq(st.last_status, 200);
    cr_assert_eq(st.max_concurrent, 1);
    cr_assert_leq(st.latency_us_max, st.latency_us_total);
    eng_kek_provider_free(p);
}

/* One get whose answer body is |len| bytes (a JSON string padded with spaces). */
static int get_with_body_of(struct eng_kek_provider *p, size_t len)
{
    char *body = malloc(len + 1);
    cr_assert_not_null(body);
    size_t head = strlen(GET_ANSWER);
    cr_assert_geq(len, head);
    memcpy(body, GET_ANSWER, head);
    memset(body + head, ' ', len - head); /* JSON allows trailing white space */
    body[len] = '\0';
    fx_push(fx_suite, 200, body, NULL, 0);
    free(body);
    struct eng_kek_ref ref;
    eng_clear_error();
    return eng_kek_get(p, NULL, &ref);
}

Test(kek_transport, answer_cap_is_exact_and_an_answer_at_the_cap_is_refused)
{
    enum { CAP = 512 };
    struct eng_kek_provider *p = transit_open(0, CAP, 0);
    cr_assert_eq(get_with_body_of(p, CAP - 1), 0, "one byte under the cap: %s",
                 eng_strerror(eng_errno()));
    cr_assert_eq(get_with_body_of(p, CAP), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_PROTOCOL, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(fx_count(fx_suite), 2);
    eng_kek_provider_free(p);
}

Test(kek_transport, an_answer_over_the_cap_is_retried_then_refused)
{
    enum { CAP = 256 };
    struct eng_kek_provider *p = transit_open(2, CAP, 0);
    char big[CAP * 4];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 3; i++) {
        fx_push(fx_suite, 200, big, NULL, 0);
    }
    struct eng_kek_ref ref;
    eng_clear_error();
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_PROTOCOL, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(fx_count(fx_suite), 3, "1 + max_retries requests");
    struct eng_kek_stats st = stats_of(p);
    cr_assert_eq(st.requests, 3);
    cr_assert_eq(st.retries, 2);
    eng_kek_provider_free(p);
}

Test(kek_transport, retry_exhaustion_makes_exactly_one_plus_max_retries_requests)
{
    struct eng_kek_provider *p = transit_open(3, 0, 0);
    for (int i = 0; i < 4; i++) {
        fx_push(fx_suite, 503, "{}", NULL, 0);
    }
    fx_push(fx_suite, 200, GET_ANSWER, NULL, 0); /* never reached */
    struct eng_kek_ref ref;
    eng_clear_error();
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_SERVER, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(fx_count(fx_suite), 4);
    struct eng_kek_stats st = stats_of(p);
    cr_assert_eq(st.retries, 3);
    cr_assert_eq(st.last_status, 503);
    /* the answer left in the queue is the next call's */
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0, "%s", eng_strerror(eng_errno()));
    cr_assert_eq(fx_count(fx_suite), 5);
    /* a dropped connection, every time: no answer to read, the transport's own error (a new
     * provider: libcurl itself resends once when a kept-alive connection turns out dead) */
    eng_kek_provider_free(p);
    p = transit_open(3, 0, 0);
    for (int i = 0; i < 4; i++) {
        fx_push(fx_suite, 0, NULL, NULL, 0);
    }
    eng_clear_error();
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_UNREACHABLE, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(fx_count(fx_suite), 9);
    /* 404 is final: not retried */
    fx_push(fx_suite, 404, "{}", NULL, 0);
    eng_clear_error();
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_NOT_FOUND, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(fx_count(fx_suite), 10);
    eng_kek_provider_free(p);
}

Test(kek_transport, retry_after_is_honoured)
{
    /* Retry-After: 0 (and a date in the past) retry at once */
    struct eng_kek_provider *p = transit_open(3, 0, 0);
    fx_push(fx_suite, 429, "{}", "0", 0);
    fx_push(fx_suite, 503, "{}", "Sun, 06 Nov 1994 08:49:37 GMT", 0);
    fx_push(fx_suite, 200, GET_ANSWER, NULL, 0);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0, "%s", eng_strerror(eng_errno()));
    cr_assert_eq(fx_count(fx_suite), 3);
    cr_assert_eq(stats_of(p).retries, 2);
    eng_kek_provider_free(p);

    /* a wait longer than the time left before the deadline: one request, then the answer stands */
    p = transit_open(3, 0, 1000);
    fx_push(fx_suite, 429, "{}", "2", 0);
    fx_push(fx_suite, 200, GET_ANSWER, NULL, 0);
    eng_clear_error();
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_THROTTLED, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(fx_count(fx_suite), 4, "retried although Retry-After passes the deadline");
    cr_assert_eq(stats_of(p).retries, 0);
    /* the same with a day-long wait (clamped to a day, still past the deadline) */
    fx_push(fx_suite, 503, "{}", "99999999999999999999", 0);
    eng_clear_error();
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0, "the 200 queued above answers first: %s",
                 eng_strerror(eng_errno()));
    eng_clear_error();
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_SERVER, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(fx_count(fx_suite), 6);
    eng_kek_provider_free(p);
}

static void expect_open_error(const struct eng_http_config *cfg, int code)
{
    eng_clear_error();
    struct eng_http *h = eng_http_open(cfg);
    cr_assert_null(h);
    cr_assert_eq(eng_errno(), code, "got %s, want %s", eng_error_name(eng_errno()),
                 eng_error_name(code));
}

Test(kek_transport, open_refusals_name_the_problem)
{
    expect_open_error(NULL, ENG_ERR_NULL);
    struct eng_http_config cfg = {.base_url = NULL};
    expect_open_error(&cfg, ENG_ERR_NULL);
    cfg.base_url = "https://user:pw@127.0.0.1:1";
    expect_open_error(&cfg, ENG_ERR_VAULT_URL_USERINFO);
    cfg.base_url = "ftp://127.0.0.1:1";
    expect_open_error(&cfg, ENG_ERR_ARG);
    char long_url[ENG_HTTP_URL_MAX + 8];
    memset(long_url, 'a', sizeof(long_url) - 1);
    memcpy(long_url, "https://", 8);
    long_url[sizeof(long_url) - 1] = '\0';
    cfg.base_url = long_url;
    expect_open_error(&cfg, ENG_ERR_ARG);
    cfg.base_url = "https://127.0.0.1:1";
    const char *const injected[] = {"Authorization: Bearer a\r\nX-Evil: 1", NULL};
    cfg.headers = injected;
    expect_open_error(&cfg, ENG_ERR_ARG);
    const char *const no_colon[] = {"Authorization", NULL};
    cfg.headers = no_colon;
    expect_open_error(&cfg, ENG_ERR_ARG);
    const char *many[ENG_HTTP_HEADERS_MAX + 2];
    for (int i = 0; i <= ENG_HTTP_HEADERS_MAX; i++) {
        many[i] = "X-A: b";
    }
    many[ENG_HTTP_HEADERS_MAX + 1] = NULL;
    cfg.headers = many;
    expect_open_error(&cfg, ENG_ERR_ARG);
    cfg.headers = NULL;
    cfg.base_url = fx_suite_url; /* http:// */
    expect_open_error(&cfg, ENG_ERR_VAULT_INSECURE);
    cfg.insecure_http = 1;
    cfg.ca_file = "/nonexistent/ca.pem";
    expect_open_error(&cfg, ENG_ERR_VAULT_CA_FILE);
    cfg.ca_file = "/dev/null"; /* not a regular file */
    expect_open_error(&cfg, ENG_ERR_VAULT_CA_FILE);
    cfg.ca_file = NULL;
    struct eng_http *h = eng_http_open(&cfg);
    cr_assert_not_null(h, "%s", eng_strerror(eng_errno()));
    eng_http_free(h);
}

static int never_read(void *arg, long status, const char *body, size_t len)
{
    (void)arg;
    (void)status;
    (void)body;
    (void)len;
    cr_assert_fail("the reader ran without an answer");
    return 0;
}

Test(kek_transport, exchange_refuses_a_path_past_the_url_limit)
{
    struct eng_http_config cfg = {.base_url = fx_suite_url, .insecure_http = 1};
    struct eng_http *h = eng_http_open(&cfg);
    cr_assert_not_null(h);
    char path[ENG_HTTP_URL_MAX];
    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    eng_clear_error();
    cr_assert_eq(eng_http_exchange(h, path, NULL, never_read, NULL), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_ARG, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(fx_count(fx_suite), 0);
    eng_http_free(h);
}

Test(kek_transport, stats_of_any_provider)
{
    struct eng_kek_stats st;
    eng_clear_error();
    cr_assert_eq(eng_kek_stats(NULL, &st), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_NULL);
    struct eng_kek_provider bare = {.name = "bare"}; /* no stats operation: all zero */
    memset(&st, 0xa5, sizeof(st));
    cr_assert_eq(eng_kek_stats(&bare, &st), 0);
    const struct eng_kek_stats zero = {0};
    cr_assert(memcmp(&st, &zero, sizeof(st)) == 0);
    eng_clear_error();
    cr_assert_eq(eng_kek_stats(&bare, NULL), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_NULL);
}

Test(kek_transport, smk_stats_are_all_zero)
{
    char dir[] = "/tmp/kek_transport_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/smk.key", dir);
    struct eng_kek_provider *p = eng_smk_open(path, 1);
    cr_assert_not_null(p, "%s", eng_strerror(eng_errno()));
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0);
    struct eng_kek_stats st;
    memset(&st, 0xa5, sizeof(st));
    cr_assert_eq(eng_kek_stats(p, &st), 0);
    const struct eng_kek_stats zero = {0};
    cr_assert(memcmp(&st, &zero, sizeof(st)) == 0, "SMK sends no request: every counter 0");
    eng_kek_provider_free(p);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(rmdir(dir), 0);
}
