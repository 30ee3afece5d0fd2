/*
 * fuzz/cmk_vault.c - the CMK (vault) key provider's answer parsing.
 *
 * Target functions (static in engine/src/kek_vault.c, the Key Vault
 * protocol, and engine/src/kek_http.c, its HTTP transport): v_get and
 * v_crypt through the provider (the JSON of get / wrapkey / unwrapkey
 * answers in read_get and read_crypt, kid_version, the base library's
 * base64url decoder, the status-to-error mapping with forbidden_code, the
 * transport's on_body and on_header with the Retry-After parser), plus
 * base_b64url_decode (a round trip), kid_version and
 * eng_vault_parse_retry_after called directly.
 *
 * Why this way: those parsers are static, and the brief was to expose
 * nothing new. This file includes kek_http.c and kek_vault.c itself, so
 * the static functions are in this translation unit; before the include, the two
 * libcurl calls that talk to the network, curl_easy_perform and
 * curl_easy_getinfo, are redirected by macro to an in-process canned
 * responder that feeds the fuzzer's answer through the provider's own
 * write and header callbacks (set with the real curl_easy_setopt). No
 * socket is opened, no thread, no wait: one input = one exchange, about
 * ten times faster than the libmicrohttpd fixture server and deterministic.
 * Retries are off (max_retries 0), so the backoff never sleeps (the call's
 * deadline is read from the clock but never reached; attributes exp/nbf
 * are compared with the time, so the seeds use dates far from now).
 *
 * Input: byte 0 = operation (get latest, get a version, wrap, unwrap),
 * byte 1 = HTTP status (from a table; one entry is a transport failure),
 * byte 2 bit 0 = the body starts with a header line (up to '\n') handed to
 * the header callback (Retry-After), then the answer body. The header line
 * and the body also go to eng_vault_parse_retry_after with a fixed "now"
 * (the callback itself takes the clock only for the HTTP-date form, which
 * changes a wait, not a path): the result must be -1 or within 0 ..
 * ENG_VAULT_RETRY_AFTER_MAX_S, and a value of digits must parse as its
 * clamped number.
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

static CURLcode fuzz_perform(CURL *c);
static CURLcode fuzz_getinfo(CURL *c, CURLINFO info, void *out);
#undef curl_easy_perform
#undef curl_easy_getinfo
#define curl_easy_perform(c)            fuzz_perform(c)
#define curl_easy_getinfo(c, info, out) fuzz_getinfo((c), (info), (out))

#include "../engine/src/kek_http.c"
#include "../engine/src/kek_vault.c"
#include "kek_vault_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_KEY     "kek"
#define FUZZ_VERSION "0123456789abcdef0123456789abcdef"

static const long statuses[] = {200, 200, 200, 200, 400, 401, 403, 404, 429, 500, 503, 302, 0};

/* The canned answer of the current exchange. */
static struct {
    long status; /* 0: transport failure */
    const char *header;
    size_t header_len;
    const char *body;
    size_t body_len;
} answer;

static struct eng_kek_provider *prov;

static CURLcode fuzz_perform(CURL *c)
{
    struct eng_http *h = ((struct vstate *)prov->state)->http;
    struct resp *r = NULL; /* the answer buffer of the lane that owns |c| */
    for (int i = 0; i < ENG_HTTP_LANES; i++) {
        if (h->lanes[i].curl == c) {
            r = &h->lanes[i].r;
        }
    }
    if (r == NULL) {
        abort();
    }
    if (answer.status == 0) {
        return CURLE_COULDNT_CONNECT;
    }
    if (answer.header_len > 0) {
        char line[256];
        size_t n = answer.header_len < sizeof(line) ? answer.header_len : sizeof(line);
        memcpy(line, answer.header, n); /* the callback gets a copy, as libcurl's buffer */
        if (on_header(line, 1, n, r) != n) {
            return CURLE_WRITE_ERROR;
        }
    }
    /* Hand the body over in pieces, as libcurl does with a large answer. */
    size_t off = 0;
    while (off < answer.body_len) {
        size_t n = answer.body_len - off < 1000 ? answer.body_len - off : 1000;
        char *piece = malloc(n);
        if (piece == NULL) {
            return CURLE_OUT_OF_MEMORY;
        }
        memcpy(piece, answer.body + off, n);
        size_t took = on_body(piece, 1, n, r);
        free(piece);
        if (took != n) {
            return CURLE_WRITE_ERROR;
        }
        off += n;
    }
    return CURLE_OK;
}

static CURLcode fuzz_getinfo(CURL *c, CURLINFO info, void *out)
{
    (void)c;
    if (info == CURLINFO_RESPONSE_CODE) {
        *(long *)out = answer.status;
        return CURLE_OK;
    }
    if (info == CURLINFO_NUM_CONNECTS) {
        *(long *)out = 0;
        return CURLE_OK;
    }
    return CURLE_UNKNOWN_OPTION;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct eng_vault_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.vault_url = "https://vault.fuzz";
    cfg.key_name = FUZZ_KEY;
    cfg.token = "fuzz-token";
    cfg.max_retries = 0;
    prov = eng_vault_open(&cfg);
    if (prov == NULL) {
        abort();
    }
    for (int i = 0; i < ENG_HTTP_LANES; i++) {
        ((struct vstate *)prov->state)->http->lanes[i].jitter_seed = 1;
    }
    return 0;
}

/* The codes a vault answer may map to (eng_keys.h), and the argument checks'. */
static int documented(int e)
{
    switch (e) {
        case ENG_ERR_VAULT_PROTOCOL:
        case ENG_ERR_VAULT_AUTH:
        case ENG_ERR_VAULT_SERVER:
        case ENG_ERR_VAULT_THROTTLED:
        case ENG_ERR_VAULT_UNREACHABLE:
        case ENG_ERR_KEK_NOT_FOUND:
        case ENG_ERR_KEK_DISABLED:
        case ENG_ERR_KEK_FORBIDDEN:
        case ENG_ERR_KEK_EXPIRED:
        case ENG_ERR_KEK_NOT_YET_VALID:
        case ENG_ERR_VAULT_TLS_UNTRUSTED:
        case ENG_ERR_VAULT_CA_FILE:
        case ENG_ERR_VAULT_TLS:
        case ENG_ERR_UNWRAP:
        case ENG_ERR_WRAPPED_LEN:
        case ENG_ERR_NOMEM:
            return 1;
        default:
            return 0;
    }
}

/* The Retry-After parser on |len| bytes: -1 or a wait in range; digits give their clamped value. */
static void retry_after(const char *v, size_t len)
{
    long got = eng_vault_parse_retry_after(v, len, (time_t)1700000000);
    if (got < -1 || got > ENG_VAULT_RETRY_AFTER_MAX_S) {
        abort();
    }
    size_t i = 0, digits = 0;
    long want = 0;
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')) {
        i++;
    }
    for (; i < len && v[i] >= '0' && v[i] <= '9'; i++, digits++) {
        want = want < ENG_VAULT_RETRY_AFTER_MAX_S ? want * 10 + (v[i] - '0') : want;
    }
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')) {
        i++;
    }
    want = want < ENG_VAULT_RETRY_AFTER_MAX_S ? want : ENG_VAULT_RETRY_AFTER_MAX_S;
    if (digits > 0 && i == len && got != want) {
        abort(); /* delta-seconds must parse to their (clamped) value */
    }
    if (digits > 0 && i != len && got != -1) {
        abort(); /* digits followed by anything else are malformed */
    }
}

/* The base64url decoder the provider uses and kid_version on the body as a string, with a round
 * trip. */
static void direct(const char *text)
{
    uint8_t out[ENG_WRAPPED_MAX];
    size_t n = 0;
    if (base_b64url_decode(text, strlen(text), out, sizeof(out), &n, NULL) == 0 && n > 0) {
        char *enc = base_b64url_encode_alloc(out, n);
        uint8_t again[ENG_WRAPPED_MAX];
        size_t m = 0;
        if (enc == NULL ||
            base_b64url_decode(enc, strlen(enc), again, sizeof(again), &m, NULL) != 0 || m != n ||
            memcmp(again, out, n) != 0) {
            abort(); /* decode(encode(x)) must give x back */
        }
        free(enc);
    }
    char ver[ENG_KEK_VERSION_MAX];
    if (kid_version(prov->state, text, ver, sizeof(ver)) == 0 && !valid_version(ver)) {
        abort(); /* a version taken from a kid must be one we would send */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size > ENG_HTTP_ANSWER_MAX) {
        return 0;
    }
    int op = data[0] % 4;
    answer.status = statuses[data[1] % (sizeof(statuses) / sizeof(statuses[0]))];
    const char *rest = (const char *)data + 3;
    size_t rest_len = size - 3;
    answer.header = NULL;
    answer.header_len = 0;
    if ((data[2] & 1) != 0) {
        const char *nl = memchr(rest, '\n', rest_len);
        size_t hl = nl != NULL ? (size_t)(nl - rest) + 1 : rest_len;
        answer.header = rest;
        answer.header_len = hl;
        rest += hl;
        rest_len -= hl;
    }
    answer.body = rest;
    answer.body_len = rest_len;
    if (answer.header_len > 12) {
        retry_after(answer.header + 12, answer.header_len - 12); /* past "Retry-After:" */
    }
    retry_after(answer.body, answer.body_len < 64 ? answer.body_len : 64);

    struct eng_kek_ref ref;
    memset(&ref, 0, sizeof(ref));
    snprintf(ref.provider, sizeof(ref.provider), "vault");
    snprintf(ref.key_id, sizeof(ref.key_id), "https://vault.fuzz/keys/" FUZZ_KEY);
    snprintf(ref.version, sizeof(ref.version), FUZZ_VERSION);
    snprintf(ref.alg, sizeof(ref.alg), "RSA-OAEP-256");
    int rc;
    eng_clear_error();
    if (op == 0 || op == 1) {
        struct eng_kek_ref got;
        rc = eng_kek_get(prov, op == 0 ? NULL : FUZZ_VERSION, &got);
        if (rc == 0 &&
            (!valid_version(got.version) || (op == 1 && strcmp(got.version, FUZZ_VERSION) != 0))) {
            abort();
        }
    } else {
        uint8_t in[256];
        memset(in, 0x5a, sizeof(in));
        uint8_t *out = malloc(ENG_WRAPPED_MAX);
        size_t out_len = 0;
        if (out == NULL) {
            return 0;
        }
        if (op == 2) {
            rc = eng_kek_wrap(prov, &ref, out, &out_len, ENG_WRAPPED_MAX, in, 32);
            if (rc == 0 && (out_len == 0 || out_len > ENG_WRAPPED_MAX)) {
                abort();
            }
        } else {
            rc = eng_kek_unwrap(prov, &ref, out, &out_len, ENG_DEK_MAX_BYTES, in, sizeof(in));
            if (rc == 0 && (out_len == 0 || out_len > ENG_DEK_MAX_BYTES)) {
                abort();
            }
        }
        free(out);
    }
    if (rc != 0 && !documented(eng_errno())) {
        abort();
    }
    /* The parsers on their own, on the body as a string. */
    char *text = malloc(answer.body_len + 1);
    if (text != NULL) {
        memcpy(text, answer.body, answer.body_len);
        text[answer.body_len] = '\0';
        direct(text);
        free(text);
    }
    return 0;
}
