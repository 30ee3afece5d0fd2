/*
 * kek_vault.c - the customer-managed KEK provider over the Key Vault keys
 * REST API (libcurl + cJSON; base64url through OpenSSL's EVP encoder).
 *
 * State: VAULT_LANES lanes, each a CURL easy handle (its connection cache
 * keeps the TLS session alive between calls) with its own answer buffer and
 * mutex; the bearer token, the request settings and the counters (under
 * |mu|). A call takes the first free lane, so a single caller always uses
 * lane 0 and one connection, and concurrent callers (a store unwrapping its
 * MAC key and DEKs at once: each unwrap is an RSA private operation in the
 * vault) get a connection each, up to VAULT_LANES; more wait for a lane.
 *
 * Secrets: DEKs travel base64url-encoded in wrap requests and unwrap
 * responses. Every buffer that held one (request body, response body, the
 * cJSON string) is wiped before it is released; the token is wiped on free.
 */
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eng_secure.h"
#include "eng_vault.h"
#include "error_internal.h"
#include "fileio_internal.h"
#include "kek_vault_internal.h"

#define RESP_MAX (256U * 1024U)
#define URL_MAX 120U /* so that URL + "/keys/" + name fits a key_id */
#define VAULT_LANES 2 /* concurrent requests per provider: one per core here */

struct resp {
    char *buf;
    size_t len, cap;
    long retry_after_s; /* -1: none */
    int too_big;
};

/* One connection's worth of state: a call holds the lane's mutex throughout. */
struct lane {
    pthread_mutex_t mu;
    CURL *curl;
    struct resp r;
    unsigned jitter_seed;
};

struct vstate {
    pthread_mutex_t mu; /* the counters and |in_flight| */
    struct lane lanes[VAULT_LANES];
    int in_flight;
    struct curl_slist *headers; /* holds the token: wiped on free */
    char *token_header;
    char url[URL_MAX];
    char name[128];
    char alg[ENG_KEK_ALG_MAX];
    char api[32];
    long timeout_ms, backoff_base_ms, backoff_max_ms, deadline_ms;
    int max_retries;
    struct eng_vault_stats stats;
};

/* Counts one under the provider's mutex (lanes run concurrently). */
static void count(struct vstate *s, uint64_t *counter)
{
    pthread_mutex_lock(&s->mu);
    (*counter)++;
    pthread_mutex_unlock(&s->mu);
}

/* The first free lane, else waits for lane 0. Counts the calls in flight. */
static struct lane *lane_take(struct vstate *s)
{
    struct lane *l = NULL;
    for (int i = 0; i < VAULT_LANES && l == NULL; i++) {
        if (pthread_mutex_trylock(&s->lanes[i].mu) == 0) {
            l = &s->lanes[i];
        }
    }
    if (l == NULL) {
        l = &s->lanes[0];
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_lock(&s->mu);
    if (++s->in_flight > s->stats.max_concurrent) {
        s->stats.max_concurrent = s->in_flight;
    }
    pthread_mutex_unlock(&s->mu);
    return l;
}

static void lane_give(struct vstate *s, struct lane *l)
{
    pthread_mutex_lock(&s->mu);
    s->in_flight--;
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&l->mu);
}

/*
 * The TLS layer keeps received plaintext (the unwrapkey answer, with the DEK
 * in base64url) in its record buffer until the next read overwrites it:
 * SSL_OP_CLEANSE_PLAINTEXT has OpenSSL wipe it once curl has read it, and
 * when the connection is freed. (curl's own download buffer is out of reach:
 * each lane's keeps its last answer until that lane's next call or the
 * provider's free; lane 1 is only used when two calls overlap, at an open.)
 */
static CURLcode on_ssl_ctx(CURL *c, void *ssl_ctx, void *arg)
{
    (void)c;
    (void)arg;
    SSL_CTX_set_options((SSL_CTX *)ssl_ctx, SSL_OP_CLEANSE_PLAINTEXT);
    return CURLE_OK;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- base64url (RFC 4648 section 5) on top of OpenSSL's EVP encoder ---- */

/* Encodes |in| as unpadded base64url into a new NUL-terminated string (caller wipes and frees). */
static char *b64url_encode(const uint8_t *in, size_t in_len)
{
    size_t cap = 4 * ((in_len + 2) / 3) + 1;
    char *out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)in_len);
    while (n > 0 && out[n - 1] == '=') {
        n--;
    }
    out[n] = '\0';
    for (int i = 0; i < n; i++) {
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }
    return out;
}

/* Decodes base64url (padded or not) into |out|; returns the length or -1. Wipes its scratch. */
static long b64url_decode(const char *in, uint8_t *out, size_t max_out_len)
{
    size_t n = strlen(in);
    while (n > 0 && in[n - 1] == '=') {
        n--;
    }
    if (n % 4 == 1 || n > 4 * ((ENG_WRAPPED_MAX + 2) / 3) + 4) {
        return -1;
    }
    size_t padded = (n + 3) & ~(size_t)3;
    char tmp[4 * ((ENG_WRAPPED_MAX + 2) / 3) + 8];
    uint8_t dec[sizeof(tmp)];
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '+' || c == '/') {
            return -1; /* not the url alphabet */
        }
        tmp[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    for (size_t i = n; i < padded; i++) {
        tmp[i] = '=';
    }
    int got = EVP_DecodeBlock(dec, (unsigned char *)tmp, (int)padded);
    long len = -1;
    if (got >= 0) {
        len = got - (long)(padded - n); /* EVP counts the padding as zero bytes */
        if (len < 0 || (size_t)len > max_out_len) {
            len = -1;
        } else {
            memcpy(out, dec, (size_t)len);
        }
    }
    eng_cleanse(tmp, sizeof(tmp));
    eng_cleanse(dec, sizeof(dec));
    return len;
}

/* ---- HTTP ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct resp *r = userp;
    size_t n = size * nmemb;
    if (r->len + n + 1 > RESP_MAX) {
        r->too_big = 1;
        return 0; /* abort the transfer */
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1) {
            cap *= 2;
        }
        char *b = malloc(cap);
        if (b == NULL) {
            return 0;
        }
        if (r->buf != NULL) {
            memcpy(b, r->buf, r->len);
            eng_cleanse(r->buf, r->cap);
            free(r->buf);
        }
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    r->buf[r->len] = '\0';
    return n;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", exactly 29 characters) to seconds since 1970. */
static int imf_fixdate(const char *v, size_t len, time_t *out)
{
    char buf[30];
    if (len != 29) {
        return -1;
    }
    memcpy(buf, v, len);
    buf[len] = '\0';
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0' || tm.tm_year < 70 || tm.tm_year > 8099) {
        return -1;
    }
    *out = timegm(&tm);
    return *out == (time_t)-1 ? -1 : 0;
}

long eng_vault_parse_retry_after(const char *v, size_t len, time_t now)
{
    if (v == NULL) {
        return -1;
    }
    while (len > 0 && is_ows(v[0])) {
        v++;
        len--;
    }
    while (len > 0 && is_ows(v[len - 1])) {
        len--;
    }
    if (len == 0) {
        return -1;
    }
    if (v[0] >= '0' && v[0] <= '9') {
        long secs = 0; /* delta-seconds = 1*DIGIT, saturating at the maximum */
        for (size_t i = 0; i < len; i++) {
            if (v[i] < '0' || v[i] > '9') {
                return -1;
            }
            if (secs < ENG_VAULT_RETRY_AFTER_MAX_S) {
                secs = secs * 10 + (v[i] - '0');
            }
        }
        return secs < ENG_VAULT_RETRY_AFTER_MAX_S ? secs : ENG_VAULT_RETRY_AFTER_MAX_S;
    }
    time_t when;
    if (imf_fixdate(v, len, &when) != 0) {
        return -1;
    }
    if (when <= now) {
        return 0;
    }
    return when - now < ENG_VAULT_RETRY_AFTER_MAX_S ? (long)(when - now)
                                                      : ENG_VAULT_RETRY_AFTER_MAX_S;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct resp *r = userp;
    size_t n = size * nmemb;
    static const char key[] = "retry-after:";
    if (n >= sizeof(key) - 1 && strncasecmp(data, key, sizeof(key) - 1) == 0) {
        r->retry_after_s =
            eng_vault_parse_retry_after(data + sizeof(key) - 1, n - (sizeof(key) - 1), time(NULL));
    }
    return n;
}

static void resp_reset(struct resp *r)
{
    if (r->buf != NULL) {
        eng_cleanse(r->buf, r->cap);
        r->buf[0] = '\0';
    }
    r->len = 0;
    r->retry_after_s = -1;
    r->too_big = 0;
}

/* One HTTP exchange within |left_ms|: the HTTP status, or 0 with *curl_err set (transport failure). */
static long http_once(struct vstate *s, struct lane *l, const char *path, const char *body,
                      long left_ms, CURLcode *curl_err)
{
    char url[URL_MAX + 512];
    snprintf(url, sizeof(url), "%s%s%sapi-version=%s", s->url, path, strchr(path, '?') ? "&" : "?",
             s->api);
    resp_reset(&l->r);
    long t = s->timeout_ms < left_ms ? s->timeout_ms : left_ms;
    curl_easy_setopt(l->curl, CURLOPT_TIMEOUT_MS, t);
    curl_easy_setopt(l->curl, CURLOPT_CONNECTTIMEOUT_MS, t);
    curl_easy_setopt(l->curl, CURLOPT_URL, url);
    if (body != NULL) {
        curl_easy_setopt(l->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(l->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(l->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(l->curl, CURLOPT_HTTPGET, 1L);
    }
    *curl_err = curl_easy_perform(l->curl);
    long nc = 0;
    if (curl_easy_getinfo(l->curl, CURLINFO_NUM_CONNECTS, &nc) != CURLE_OK) {
        nc = 0;
    }
    long status = 0;
    if (*curl_err == CURLE_OK) {
        curl_easy_getinfo(l->curl, CURLINFO_RESPONSE_CODE, &status);
    }
    pthread_mutex_lock(&s->mu);
    s->stats.requests++;
    s->stats.connects += (uint64_t)nc;
    if (status != 0) {
        s->stats.last_http_status = (int)status;
    }
    pthread_mutex_unlock(&s->mu);
    return status;
}

/* The engine error of a transport failure: TLS trust, CA file and handshake are named. */
static int curl_error(CURLcode ce, int too_big)
{
    switch (ce) {
        case CURLE_PEER_FAILED_VERIFICATION: /* also CURLE_SSL_CACERT: unknown CA, host name */
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_ISSUER_ERROR:
            return ENG_ERR_VAULT_TLS_UNTRUSTED;
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CRL_BADFILE:
            return ENG_ERR_VAULT_CA_FILE;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_SHUTDOWN_FAILED:
            return ENG_ERR_VAULT_TLS;
        default:
            return too_big ? ENG_ERR_VAULT_PROTOCOL : ENG_ERR_VAULT_UNREACHABLE;
    }
}

/* Worth another try: 429, 5xx, and transport failures other than trust and CA-file errors. */
static int transient(long status, CURLcode ce)
{
    if (status != 0) {
        return status == 429 || status >= 500;
    }
    int e = curl_error(ce, 0);
    return ce != CURLE_OK && e != ENG_ERR_VAULT_TLS_UNTRUSTED && e != ENG_ERR_VAULT_CA_FILE;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000U + (uint64_t)ts.tv_nsec / 1000000U;
}

/* Sleeps until |until_ms| on the monotonic clock (EINTR resumes). 0, or -1 if the clock refused. */
static int sleep_until_ms(uint64_t until_ms)
{
    struct timespec t = {(time_t)(until_ms / 1000U), (long)(until_ms % 1000U) * 1000000L};
    int rc;
    while ((rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL)) == EINTR) {
    }
    return rc == 0 ? 0 : -1;
}

/*
 * The wait before retry |attempt|, in ms: Retry-After (already clamped to
 * ENG_VAULT_RETRY_AFTER_MAX_S by its parser) or exponential backoff with
 * jitter, capped at backoff_max_ms. -1: Retry-After asks for more than
 * |left_ms|, the time left before the call's deadline: give up now.
 */
static long backoff_ms(const struct vstate *s, struct lane *l, int attempt, long left_ms)
{
    long ms;
    if (l->r.retry_after_s >= 0) {
        ms = l->r.retry_after_s * 1000L; /* <= 86,400,000: no overflow */
        if (ms >= left_ms) {
            return -1;
        }
    } else {
        long d = s->backoff_base_ms << (attempt < 16 ? attempt : 16);
        ms = d / 2 + (long)(rand_r(&l->jitter_seed) % (unsigned)(d / 2 + 1)); /* [d/2, d] */
    }
    return ms < s->backoff_max_ms ? ms : s->backoff_max_ms;
}

/* The code of a 403 body: the key is disabled, expired or not yet valid, else forbidden. */
static int forbidden_code(const char *body)
{
    static const struct {
        const char *inner, *word;
        int code;
    } map[] = {
        {"KeyDisabled", "disabled", ENG_ERR_KEK_DISABLED},
        {"KeyExpired", "expired", ENG_ERR_KEK_EXPIRED},
        {"KeyNotYetValid", "not yet valid", ENG_ERR_KEK_NOT_YET_VALID},
    };
    cJSON *j = cJSON_Parse(body);
    int code = ENG_ERR_KEK_FORBIDDEN;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
    const cJSON *inner = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(err, "innererror"), "code");
    size_t n = sizeof(map) / sizeof(map[0]);
    for (size_t i = 0; code == ENG_ERR_KEK_FORBIDDEN && cJSON_IsString(inner) && i < n; i++) {
        code = strcasecmp(inner->valuestring, map[i].inner) == 0 ? map[i].code : code;
    }
    for (size_t i = 0; code == ENG_ERR_KEK_FORBIDDEN && cJSON_IsString(msg) && i < n; i++) {
        code = strcasestr(msg->valuestring, map[i].word) != NULL ? map[i].code : code;
    }
    cJSON_Delete(j);
    return code;
}

/*
 * A request with bounded retries, all within the call's deadline. Returns 0
 * for a 2xx answer (body in l->r), else -1 with the mapped error. |unwrap|
 * maps 400 to ENG_ERR_UNWRAP.
 */
static int request(struct vstate *s, struct lane *l, const char *path, const char *body,
                   int unwrap)
{
    long status = 0;
    CURLcode ce = CURLE_OK;
    uint64_t deadline = mono_ms() + (uint64_t)s->deadline_ms;
    for (int attempt = 0;; attempt++) {
        uint64_t now = mono_ms();
        long left = now < deadline ? (long)(deadline - now) : 1;
        status = http_once(s, l, path, body, left, &ce);
        if (!transient(status, ce) || attempt >= s->max_retries) {
            break;
        }
        now = mono_ms();
        left = now < deadline ? (long)(deadline - now) : 0;
        long wait = backoff_ms(s, l, attempt, left);
        if (wait < 0 || wait >= left || sleep_until_ms(now + (uint64_t)wait) != 0) {
            break; /* no time left for the wait and another try: the last answer stands */
        }
        count(s, &s->stats.retries);
    }
    if (status >= 200 && status < 300) {
        return 0;
    }
    if (status == 0) {
        ENG_BAIL(curl_error(ce, l->r.too_big));
    }
    switch (status) {
        case 400:
            ENG_BAIL(unwrap ? ENG_ERR_UNWRAP : ENG_ERR_VAULT_PROTOCOL);
        case 401:
            ENG_BAIL(ENG_ERR_VAULT_AUTH);
        case 403:
            ENG_BAIL(forbidden_code(l->r.buf != NULL ? l->r.buf : ""));
        case 404:
            ENG_BAIL(ENG_ERR_KEK_NOT_FOUND);
        case 429:
            ENG_BAIL(ENG_ERR_VAULT_THROTTLED);
        default:
            ENG_BAIL(status >= 500 ? ENG_ERR_VAULT_SERVER : ENG_ERR_VAULT_PROTOCOL);
    }
}

/* The version (last path segment) of a kid "https://host/keys/NAME/VERSION" of our key. */
static int kid_version(const struct vstate *s, const char *kid, char *out, size_t max)
{
    const char *k = strstr(kid, "/keys/");
    if (k == NULL) {
        return -1;
    }
    k += 6;
    size_t nl = strlen(s->name);
    if (strncasecmp(k, s->name, nl) != 0 || k[nl] != '/') { /* names ignore case */
        return -1;
    }
    const char *v = k + nl + 1;
    size_t vl = strlen(v);
    if (vl == 0 || vl >= max || strchr(v, '/') != NULL) {
        return -1;
    }
    for (size_t i = 0; i < vl; i++) {
        char c = v[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
            return -1;
        }
    }
    memcpy(out, v, vl + 1);
    return 0;
}

static void fill_ref(const struct vstate *s, const char *version, const char *alg,
                     struct eng_kek_ref *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->provider, sizeof(out->provider), "vault");
    snprintf(out->key_id, sizeof(out->key_id), "%s/keys/%s", s->url, s->name);
    snprintf(out->version, sizeof(out->version), "%s", version != NULL ? version : "");
    snprintf(out->alg, sizeof(out->alg), "%s", alg != NULL && *alg ? alg : s->alg);
}

static int valid_version(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= ENG_KEK_VERSION_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
            return 0;
        }
    }
    return 1;
}

/* ---- provider operations ---- */

static int v_get_on(struct vstate *s, struct lane *l, const char *version, struct eng_kek_ref *out)
{
    char path[512];
    ENG_ENSURE(version == NULL || *version == '\0' || valid_version(version), ENG_ERR_ARG);
    snprintf(path, sizeof(path), "/keys/%s%s%s", s->name, version && *version ? "/" : "",
             version && *version ? version : "");
    count(s, &s->stats.gets);
    ENG_GUARD(request(s, l, path, NULL, 0));
    cJSON *j = cJSON_Parse(l->r.buf);
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "key");
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(key, "kid");
    const cJSON *kty = cJSON_GetObjectItemCaseSensitive(key, "kty");
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(j, "attributes");
    const cJSON *enabled = cJSON_GetObjectItemCaseSensitive(attrs, "enabled");
    const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(attrs, "nbf");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(attrs, "exp");
    double now = (double)time(NULL);
    char ver[ENG_KEK_VERSION_MAX];
    int rc = ENG_OK;
    if (!cJSON_IsString(kid) || !cJSON_IsString(kty) || kid_version(s, kid->valuestring, ver, sizeof(ver)) != 0 ||
        strncmp(kty->valuestring, "RSA", 3) != 0 || (version && *version && strcmp(ver, version) != 0)) {
        rc = ENG_ERR_VAULT_PROTOCOL;
    } else if (cJSON_IsFalse(enabled)) {
        rc = ENG_ERR_KEK_DISABLED;
    } else if (cJSON_IsNumber(nbf) && now < nbf->valuedouble) {
        rc = ENG_ERR_KEK_NOT_YET_VALID;
    } else if (cJSON_IsNumber(exp) && now >= exp->valuedouble) {
        rc = ENG_ERR_KEK_EXPIRED; /* "on or after" exp: no new wraps (unwrap still works) */
    } else {
        fill_ref(s, ver, NULL, out);
    }
    cJSON_Delete(j);
    ENG_ENSURE(rc == ENG_OK, rc);
    return 0;
}

/* wrapkey / unwrapkey: POST {alg, value} and decode the answer's value into |out|. */
static int v_crypt_on(struct vstate *s, struct lane *l, const char *op, const struct eng_kek_ref *kek,
                      uint8_t *out, size_t *out_len, size_t max_out_len, const uint8_t *in,
                      size_t in_len)
{
    ENG_ENSURE(valid_version(kek->version), ENG_ERR_ARG);
    const char *alg = kek->alg[0] ? kek->alg : s->alg;
    ENG_ENSURE(strcmp(alg, "RSA-OAEP-256") == 0 || strcmp(alg, "RSA-OAEP") == 0, ENG_ERR_ARG);
    char path[512];
    snprintf(path, sizeof(path), "/keys/%s/%s/%s", s->name, kek->version, op);
    char *b64 = b64url_encode(in, in_len);
    ENG_ENSURE(b64 != NULL, ENG_ERR_NOMEM);
    size_t body_cap = strlen(b64) + strlen(alg) + 32;
    char *body = malloc(body_cap);
    if (body == NULL) {
        eng_cleanse(b64, strlen(b64));
        free(b64);
        ENG_BAIL(ENG_ERR_NOMEM);
    }
    snprintf(body, body_cap, "{\"alg\":\"%s\",\"value\":\"%s\"}", alg, b64);
    eng_cleanse(b64, strlen(b64));
    free(b64);
    int unwrap = strcmp(op, "unwrapkey") == 0;
    int rc = request(s, l, path, body, unwrap);
    eng_cleanse(body, body_cap);
    free(body);
    ENG_GUARD(rc);

    cJSON *j = cJSON_Parse(l->r.buf);
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(j, "kid");
    cJSON *val = cJSON_GetObjectItemCaseSensitive(j, "value");
    char ver[ENG_KEK_VERSION_MAX];
    int err = ENG_OK;
    long n = -1;
    if (!cJSON_IsString(kid) || !cJSON_IsString(val) ||
        kid_version(s, kid->valuestring, ver, sizeof(ver)) != 0 || strcmp(ver, kek->version) != 0) {
        err = ENG_ERR_VAULT_PROTOCOL;
    } else {
        n = b64url_decode(val->valuestring, out, max_out_len);
        if (n <= 0) {
            err = ENG_ERR_VAULT_PROTOCOL; /* not base64url, empty, or longer than |out| */
        }
    }
    if (cJSON_IsString(val)) {
        eng_cleanse(val->valuestring, strlen(val->valuestring));
    }
    cJSON_Delete(j);
    resp_reset(&l->r);
    if (err != ENG_OK) {
        eng_cleanse(out, max_out_len);
        ENG_BAIL(err);
    }
    *out_len = (size_t)n;
    return 0;
}

static int v_get(void *state, const char *version, struct eng_kek_ref *out)
{
    struct vstate *s = state;
    struct lane *l = lane_take(s);
    int rc = v_get_on(s, l, version, out);
    lane_give(s, l);
    return rc;
}

static int v_wrap(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                  size_t max_out_len, const uint8_t *dek, size_t dek_len)
{
    struct vstate *s = state;
    count(s, &s->stats.wraps);
    struct lane *l = lane_take(s);
    int rc = v_crypt_on(s, l, "wrapkey", kek, out, out_len, max_out_len, dek, dek_len);
    lane_give(s, l);
    return rc;
}

static int v_unwrap(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                    size_t max_out_len, const uint8_t *in, size_t in_len)
{
    struct vstate *s = state;
    count(s, &s->stats.unwraps);
    struct lane *l = lane_take(s);
    int rc = v_crypt_on(s, l, "unwrapkey", kek, out, out_len, max_out_len, in, in_len);
    lane_give(s, l);
    return rc;
}

static int v_describe(void *state, const char *version, struct eng_kek_ref *out)
{
    fill_ref(state, version, NULL, out);
    return 0;
}

static void v_free(void *state)
{
    struct vstate *s = state;
    if (s == NULL) {
        return;
    }
    for (int i = 0; i < VAULT_LANES; i++) {
        struct lane *l = &s->lanes[i];
        if (l->curl != NULL) {
            curl_easy_cleanup(l->curl);
        }
        if (l->r.buf != NULL) {
            eng_cleanse(l->r.buf, l->r.cap);
            free(l->r.buf);
        }
        pthread_mutex_destroy(&l->mu);
    }
    curl_slist_free_all(s->headers); /* the slist copied the header: it is freed, not wiped */
    if (s->token_header != NULL) {
        eng_secure_free(s->token_header); /* wipes */
    }
    pthread_mutex_destroy(&s->mu);
    eng_cleanse(s, sizeof(*s));
    free(s);
}

static int valid_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 127) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* The options every lane's handle shares (the header list is read-only, shared by all). */
static void lane_setup(const struct vstate *s, struct lane *l, const char *ca_file, int http_ok)
{
    CURL *c = l->curl;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &l->r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &l->r);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, http_ok ? "https,http" : "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (ca_file != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    }
}

/*
 * The CA file must be a readable regular file (opened without blocking: a
 * FIFO does not hang us) holding at least one PEM certificate.
 */
static int check_ca_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ENG_ENSURE(fd >= 0, ENG_ERR_VAULT_CA_FILE);
    struct stat st;
    FILE *f = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (f = fdopen(fd, "r")) == NULL) {
        close(fd);
        ENG_BAIL(ENG_ERR_VAULT_CA_FILE);
    }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    ENG_ENSURE(x != NULL, ENG_ERR_VAULT_CA_FILE);
    X509_free(x);
    return 0;
}

struct eng_kek_provider *eng_vault_open(const struct eng_vault_config *cfg)
{
    if (cfg == NULL || cfg->vault_url == NULL || cfg->key_name == NULL || cfg->token == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NULL);
    }
    const char *alg = cfg->alg != NULL ? cfg->alg : "RSA-OAEP-256";
    /* RSA1_5 is refused for wrapping: PKCS#1 v1.5 encryption invites padding oracles. */
    if (strcmp(alg, "RSA-OAEP-256") != 0 && strcmp(alg, "RSA-OAEP") != 0) {
        ENG_BAIL_PTR(ENG_ERR_ARG);
    }
    /* User info is refused before anything else looks at the URL (any scheme, any case). */
    const char *sep = strstr(cfg->vault_url, "://");
    const char *auth = sep != NULL ? sep + 3 : cfg->vault_url;
    if (memchr(auth, '@', strcspn(auth, "/?#")) != NULL) {
        ENG_BAIL_PTR(ENG_ERR_VAULT_URL_USERINFO); /* a password would go into the key table */
    }
    size_t ul = strlen(cfg->vault_url);
    if (!valid_name(cfg->key_name) || ul < 8 || ul >= URL_MAX ||
        (strncmp(cfg->vault_url, "https://", 8) != 0 && strncmp(cfg->vault_url, "http://", 7) != 0) ||
        strlen(cfg->token) == 0 || strlen(cfg->token) > 4096) {
        ENG_BAIL_PTR(ENG_ERR_ARG);
    }
    for (const char *t = cfg->token; *t != '\0'; t++) {
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f) {
            ENG_BAIL_PTR(ENG_ERR_ARG); /* one printable word: no header injection (CR, LF) */
        }
    }
    if (strncmp(cfg->vault_url, "http://", 7) == 0 && !cfg->insecure_http) {
        ENG_BAIL_PTR(ENG_ERR_VAULT_INSECURE);
    }
    if (cfg->ca_file != NULL && check_ca_file(cfg->ca_file) != 0) {
        return NULL;
    }
    pthread_once(&curl_once, curl_init_once);
    struct eng_kek_provider *p = calloc(1, sizeof(*p));
    struct vstate *s = calloc(1, sizeof(*s));
    if (p == NULL || s == NULL) {
        free(p);
        free(s);
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    pthread_mutex_init(&s->mu, NULL);
    for (int i = 0; i < VAULT_LANES; i++) {
        pthread_mutex_init(&s->lanes[i].mu, NULL);
        s->lanes[i].r.retry_after_s = -1;
    }
    memcpy(s->url, cfg->vault_url, ul + 1);
    while (ul > 0 && s->url[ul - 1] == '/') {
        s->url[--ul] = '\0';
    }
    snprintf(s->name, sizeof(s->name), "%s", cfg->key_name);
    snprintf(s->alg, sizeof(s->alg), "%s", alg);
    snprintf(s->api, sizeof(s->api), "%s", cfg->api_version != NULL ? cfg->api_version : "7.4");
    s->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
    s->max_retries = cfg->max_retries >= 0 ? cfg->max_retries : 3;
    s->backoff_base_ms = cfg->backoff_base_ms > 0 ? cfg->backoff_base_ms : 50;
    s->backoff_max_ms = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : 2000;
    s->deadline_ms = cfg->deadline_ms > 0 ? cfg->deadline_ms : 30000;
    unsigned seed = 0;
    (void)RAND_bytes((unsigned char *)&seed, sizeof(seed));
    seed ^= (unsigned)time(NULL);

    size_t hl = strlen(cfg->token) + 32;
    s->token_header = eng_secure_alloc(hl); /* locked, left out of core dumps */
    int ok = s->token_header != NULL;
    for (int i = 0; i < VAULT_LANES; i++) {
        s->lanes[i].jitter_seed = seed + (unsigned)i * 0x9e3779b9U;
        s->lanes[i].curl = curl_easy_init();
        ok = ok && s->lanes[i].curl != NULL;
    }
    if (!ok) {
        v_free(s);
        free(p);
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    snprintf(s->token_header, hl, "Authorization: Bearer %s", cfg->token);
    struct curl_slist *h = curl_slist_append(NULL, s->token_header);
    h = h ? curl_slist_append(h, "Content-Type: application/json") : NULL;
    h = h ? curl_slist_append(h, "Accept: application/json") : NULL;
    if (h == NULL) {
        v_free(s);
        free(p);
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    s->headers = h;
    for (int i = 0; i < VAULT_LANES; i++) {
        lane_setup(s, &s->lanes[i], cfg->ca_file, cfg->insecure_http);
    }
    p->name = "vault";
    p->state = s;
    p->get = v_get;
    p->wrap = v_wrap;
    p->unwrap = v_unwrap;
    p->describe = v_describe;
    p->free = v_free;
    p->concurrency = VAULT_LANES;
    return p;
}

int eng_vault_stats(const struct eng_kek_provider *p, struct eng_vault_stats *out)
{
    ENG_ENSURE(p != NULL && out != NULL && p->get == v_get, ENG_ERR_ARG);
    struct vstate *s = p->state;
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int eng_vault_read_token(const char *path, char *out, size_t max_out_len)
{
    ENG_ENSURE(path != NULL && out != NULL, ENG_ERR_NULL);
    ENG_ENSURE(max_out_len > 0, ENG_ERR_ARG);
    out[0] = '\0';
    int fd = eng_secret_open(path, ENG_ERR_IO, ENG_ERR_NOT_REGULAR);
    ENG_GUARD(fd);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = eng_read_fd(fd, ENG_VAULT_TOKEN_MAX + 2, ENG_ERR_TOO_LONG, &buf, &len);
    close(fd);
    ENG_GUARD(rc);
    size_t read_len = len;
    /* Trailing white space (the line end that editors and echo add) is dropped. */
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                       buf[len - 1] == '\t')) {
        len--;
    }
    int err = ENG_OK;
    if (len == 0) {
        err = ENG_ERR_ARG;
    } else if (len > ENG_VAULT_TOKEN_MAX || len >= max_out_len) {
        err = ENG_ERR_TOO_LONG;
    }
    for (size_t i = 0; i < len && err == ENG_OK; i++) {
        if (buf[i] <= 0x20 || buf[i] >= 0x7f) {
            err = ENG_ERR_ARG; /* a token is one printable word: no header injection */
        }
    }
    if (err == ENG_OK) {
        memcpy(out, buf, len);
        out[len] = '\0';
    }
    eng_cleanse(buf, read_len);
    free(buf);
    ENG_ENSURE(err == ENG_OK, err);
    return 0;
}
