/*
 * kek_vault.c - the customer-managed KEK provider: the Azure Key Vault keys
 * REST protocol (paths, api-version, JSON answers read with cJSON,
 * base64url from the base library, answers to engine errors) over the HTTP
 * transport of kek_http.c (connections, TLS, retries, the answer cap, the
 * counters).
 *
 * State: the transport, the vault URL, the key name, the wrap algorithm and
 * the api-version. Calls run concurrently on the transport's lanes.
 *
 * Secrets: DEKs travel base64url-encoded in wrap requests and unwrap
 * responses. Request bodies are built in the transport's secure buffers;
 * every buffer that held a DEK (request body, the transport's answer
 * buffer, the cJSON string) is wiped before it is released; the
 * token header is built in secure memory and wiped (the transport keeps its
 * copy in secure memory and wipes it on free).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base_codec.h"
#include "eng_secure.h"
#include "eng_vault.h"
#include "error_internal.h"
#include "fileio_internal.h"
#include "kek_http.h"

#define URL_MAX 120U /* so that URL + "/keys/" + name fits a key_id */

struct vstate {
    struct eng_http *http;
    char url[URL_MAX];
    char name[128];
    char alg[ENG_KEK_ALG_MAX];
    char api[32];
};

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

/* The engine error of a final answer that is not 2xx (|body|). 400 on unwrapkey: UNWRAP. */
static int status_error(long status, const char *body, int unwrap)
{
    switch (status) {
        case 400:
            return unwrap ? ENG_ERR_UNWRAP : ENG_ERR_VAULT_PROTOCOL;
        case 401:
            return ENG_ERR_VAULT_AUTH;
        case 403:
            return forbidden_code(body);
        case 404:
            return ENG_ERR_KEK_NOT_FOUND;
        case 429:
            return ENG_ERR_VAULT_THROTTLED;
        default:
            return status >= 500 ? ENG_ERR_VAULT_SERVER : ENG_ERR_VAULT_PROTOCOL;
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

/* A get in flight: the version asked for (NULL or "" = the current one) and the ref to fill. */
struct get_call {
    const struct vstate *s;
    const char *version;
    struct eng_kek_ref *out;
};

/* Reads the key bundle of a get: the kid names our key (and the version asked for), RSA, usable. */
static int read_get(void *arg, long status, const char *body, size_t len)
{
    (void)len;
    const struct get_call *g = arg;
    ENG_ENSURE(status >= 200 && status < 300, status_error(status, body, 0));
    const char *version = g->version;
    cJSON *j = cJSON_Parse(body);
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
    if (!cJSON_IsString(kid) || !cJSON_IsString(kty) ||
        kid_version(g->s, kid->valuestring, ver, sizeof(ver)) != 0 ||
        strncmp(kty->valuestring, "RSA", 3) != 0 ||
        (version && *version && strcmp(ver, version) != 0)) {
        rc = ENG_ERR_VAULT_PROTOCOL;
    } else if (cJSON_IsFalse(enabled)) {
        rc = ENG_ERR_KEK_DISABLED;
    } else if (cJSON_IsNumber(nbf) && now < nbf->valuedouble) {
        rc = ENG_ERR_KEK_NOT_YET_VALID;
    } else if (cJSON_IsNumber(exp) && now >= exp->valuedouble) {
        rc = ENG_ERR_KEK_EXPIRED; /* "on or after" exp: no new wraps (unwrap still works) */
    } else {
        fill_ref(g->s, ver, NULL, g->out);
    }
    cJSON_Delete(j);
    ENG_ENSURE(rc == ENG_OK, rc);
    return 0;
}

static int v_get(void *state, const char *version, struct eng_kek_ref *out)
{
    struct vstate *s = state;
    ENG_ENSURE(version == NULL || *version == '\0' || valid_version(version), ENG_ERR_ARG);
    char path[512];
    snprintf(path, sizeof(path), "/keys/%s%s%s?api-version=%s", s->name,
             version && *version ? "/" : "", version && *version ? version : "", s->api);
    eng_http_count_call(s->http, ENG_HTTP_CALL_GET);
    struct get_call g = {s, version, out};
    return eng_http_exchange(s->http, path, NULL, read_get, &g);
}

/* A wrapkey or unwrapkey in flight: the version that must answer, and where its value goes. */
struct crypt_call {
    const struct vstate *s;
    const struct eng_kek_ref *kek;
    uint8_t *out;
    size_t *out_len;
    size_t max_out_len;
    int unwrap;
};

/* Reads a wrapkey / unwrapkey answer: the kid names the version asked; the value goes to |out|. */
static int read_crypt(void *arg, long status, const char *body, size_t len)
{
    (void)len;
    const struct crypt_call *c = arg;
    ENG_ENSURE(status >= 200 && status < 300, status_error(status, body, c->unwrap));
    cJSON *j = cJSON_Parse(body);
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(j, "kid");
    cJSON *val = cJSON_GetObjectItemCaseSensitive(j, "value");
    char ver[ENG_KEK_VERSION_MAX];
    int err = ENG_OK;
    size_t n = 0;
    if (!cJSON_IsString(kid) || !cJSON_IsString(val) ||
        kid_version(c->s, kid->valuestring, ver, sizeof(ver)) != 0 ||
        strcmp(ver, c->kek->version) != 0) {
        err = ENG_ERR_VAULT_PROTOCOL;
    } else if (base_b64url_decode(val->valuestring, strlen(val->valuestring), c->out,
                                  c->max_out_len, &n, NULL) != 0 ||
               n == 0) {
        err = ENG_ERR_VAULT_PROTOCOL; /* not base64url, empty, or longer than |out| */
    }
    if (cJSON_IsString(val)) {
        eng_cleanse(val->valuestring, strlen(val->valuestring));
    }
    cJSON_Delete(j);
    if (err != ENG_OK) {
        eng_cleanse(c->out, c->max_out_len);
        ENG_BAIL(err);
    }
    *c->out_len = n;
    return 0;
}

/* wrapkey / unwrapkey: POST {alg, value} and decode the answer's value into |out|. */
static int v_crypt(struct vstate *s, const char *op, const struct eng_kek_ref *kek, uint8_t *out,
                   size_t *out_len, size_t max_out_len, const uint8_t *in, size_t in_len)
{
    ENG_ENSURE(valid_version(kek->version), ENG_ERR_ARG);
    const char *alg = kek->alg[0] ? kek->alg : s->alg;
    ENG_ENSURE(strcmp(alg, "RSA-OAEP-256") == 0 || strcmp(alg, "RSA-OAEP") == 0, ENG_ERR_ARG);
    char path[512];
    snprintf(path, sizeof(path), "/keys/%s/%s/%s?api-version=%s", s->name, kek->version, op,
             s->api);
    /*
     * {"alg":"RSA-OAEP-256","value":"<base64url>"}, built in secure memory:
     * cJSON's printer would leave copies of the key in its own unwiped
     * buffers, and neither part needs escaping (|alg| is one of two names,
     * base64url has no quote or backslash).
     */
    struct base_buf body;
    eng_http_secret_buf_init(&body, base_b64url_encoded_len(in_len) + strlen(alg) + 32);
    if (base_buf_printf(&body, NULL, "{\"alg\":\"%s\",\"value\":\"", alg) != 0 ||
        base_b64url_encode(in, in_len, &body, NULL) != 0 ||
        base_buf_append_str(&body, "\"}", NULL) != 0) {
        base_buf_free(&body);
        ENG_BAIL(ENG_ERR_NOMEM);
    }
    struct crypt_call c = {s, kek, out, out_len, max_out_len, strcmp(op, "unwrapkey") == 0};
    int rc = eng_http_exchange(s->http, path, base_buf_str(&body), read_crypt, &c);
    base_buf_free(&body); /* wipes */
    return rc;
}

static int v_wrap(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                  size_t max_out_len, const uint8_t *dek, size_t dek_len)
{
    struct vstate *s = state;
    eng_http_count_call(s->http, ENG_HTTP_CALL_WRAP);
    return v_crypt(s, "wrapkey", kek, out, out_len, max_out_len, dek, dek_len);
}

static int v_unwrap(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                    size_t max_out_len, const uint8_t *in, size_t in_len)
{
    struct vstate *s = state;
    eng_http_count_call(s->http, ENG_HTTP_CALL_UNWRAP);
    return v_crypt(s, "unwrapkey", kek, out, out_len, max_out_len, in, in_len);
}

static int v_describe(void *state, const char *version, struct eng_kek_ref *out)
{
    fill_ref(state, version, NULL, out);
    return 0;
}

/* The transport's counters: requests, retries, connections, latency, calls in flight. */
static int v_stats(void *state, struct eng_kek_stats *out)
{
    const struct vstate *s = state;
    eng_http_stats(s->http, out);
    return 0;
}

static void v_free(void *state)
{
    struct vstate *s = state;
    if (s == NULL) {
        return;
    }
    eng_http_free(s->http);
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
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-')) {
            return 0;
        }
    }
    return 1;
}

/*
 * The transport for |cfg| and the URL without trailing '/' in |url|: the
 * bearer token goes into the Authorization header (built in secure memory,
 * wiped here; the transport keeps its own copy in secure memory).
 */
static struct eng_http *open_http(const struct eng_vault_config *cfg, const char *url)
{
    size_t hl = strlen(cfg->token) + 32;
    char *auth = eng_secure_alloc(hl); /* locked, left out of core dumps */
    if (auth == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    snprintf(auth, hl, "Authorization: Bearer %s", cfg->token);
    const char *const headers[] = {auth, "Content-Type: application/json",
                                   "Accept: application/json", NULL};
    struct eng_http_config hc = {
        .base_url = url,
        .headers = headers,
        .ca_file = cfg->ca_file,
        .insecure_http = cfg->insecure_http,
        .timeout_ms = cfg->timeout_ms,
        .max_retries = cfg->max_retries,
        .backoff_base_ms = cfg->backoff_base_ms,
        .backoff_max_ms = cfg->backoff_max_ms,
        .deadline_ms = cfg->deadline_ms,
    };
    struct eng_http *h = eng_http_open(&hc);
    eng_secure_free(auth); /* wipes */
    return h;
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
    if (eng_http_url_has_userinfo(cfg->vault_url)) {
        ENG_BAIL_PTR(ENG_ERR_VAULT_URL_USERINFO); /* a password would go into the key table */
    }
    size_t ul = strlen(cfg->vault_url);
    if (!valid_name(cfg->key_name) || ul < 8 || ul >= URL_MAX ||
        (strncmp(cfg->vault_url, "https://", 8) != 0 &&
         strncmp(cfg->vault_url, "http://", 7) != 0) ||
        strlen(cfg->token) == 0 || strlen(cfg->token) > ENG_VAULT_TOKEN_MAX) {
        ENG_BAIL_PTR(ENG_ERR_ARG);
    }
    for (const char *t = cfg->token; *t != '\0'; t++) {
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f) {
            ENG_BAIL_PTR(ENG_ERR_ARG); /* one printable word: no header injection (CR, LF) */
        }
    }
    char url[URL_MAX];
    memcpy(url, cfg->vault_url, ul + 1);
    while (ul > 0 && url[ul - 1] == '/') {
        url[--ul] = '\0';
    }
    /* the transport refuses http:// without insecure_http, and checks the CA file */
    struct eng_http *http = open_http(cfg, url);
    if (http == NULL) {
        return NULL;
    }
    struct eng_kek_provider *p = calloc(1, sizeof(*p));
    struct vstate *s = calloc(1, sizeof(*s));
    if (p == NULL || s == NULL) {
        free(p);
        free(s);
        eng_http_free(http);
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    s->http = http;
    memcpy(s->url, url, ul + 1);
    snprintf(s->name, sizeof(s->name), "%s", cfg->key_name);
    snprintf(s->alg, sizeof(s->alg), "%s", alg);
    snprintf(s->api, sizeof(s->api), "%s", cfg->api_version != NULL ? cfg->api_version : "7.4");
    p->name = "vault";
    p->state = s;
    p->get = v_get;
    p->wrap = v_wrap;
    p->unwrap = v_unwrap;
    p->describe = v_describe;
    p->stats = v_stats;
    p->free = v_free;
    p->concurrency = ENG_HTTP_LANES;
    return p;
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
