/*
 * kek_http.c - the HTTP(S) transport of the remote KEK providers (libcurl):
 * lanes, TLS options, retries with backoff and Retry-After, the capped
 * answer buffer, the counters. The contract is in kek_http.h; the protocol
 * on top (kek_vault.c) never sees libcurl.
 *
 * State: ENG_HTTP_LANES lanes, each a CURL easy handle (its connection cache
 * keeps the TLS session alive between calls) with its own answer buffer and
 * mutex; the header lines, the request settings and the counters (under
 * |mu|). A call takes the first free lane, so a single caller always uses
 * lane 0 and one connection, and concurrent callers (a store unwrapping its
 * MAC key and DEKs at once: each unwrap is an RSA private operation in the
 * vault) get a connection each, up to ENG_HTTP_LANES; more wait for a lane.
 */
#include "kek_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base_buf.h"
#include "bytes_internal.h"
#include "eng_secure.h"
#include "error_internal.h"

struct resp {
    struct base_buf buf; /* secure memory, wiped; its max is the answer cap less one */
    long retry_after_s;  /* -1: none */
    int too_big;
};

/* One connection's worth of state: a call holds the lane's mutex throughout. */
struct lane {
    pthread_mutex_t mu;
    CURL *curl;
    struct resp r;
    unsigned jitter_seed;
};

struct eng_http {
    pthread_mutex_t mu; /* the counters and |in_flight| */
    struct lane lanes[ENG_HTTP_LANES];
    int in_flight;
    struct curl_slist *headers;              /* libcurl's copies: freed, not wiped */
    char *header_copy[ENG_HTTP_HEADERS_MAX]; /* secure memory: wiped on free */
    char url[ENG_HTTP_URL_MAX];
    size_t url_len;
    long timeout_ms, backoff_base_ms, backoff_max_ms, deadline_ms;
    int max_retries;
    struct eng_kek_stats stats;
};

/* Counts one under the transport's mutex (lanes run concurrently). */
static void count(struct eng_http *h, uint64_t *counter)
{
    pthread_mutex_lock(&h->mu);
    (*counter)++;
    pthread_mutex_unlock(&h->mu);
}

void eng_http_count_call(struct eng_http *h, enum eng_http_call call)
{
    count(h, call == ENG_HTTP_CALL_GET    ? &h->stats.gets
             : call == ENG_HTTP_CALL_WRAP ? &h->stats.wraps
                                          : &h->stats.unwraps);
}

void eng_http_stats(struct eng_http *h, struct eng_kek_stats *out)
{
    pthread_mutex_lock(&h->mu);
    *out = h->stats;
    pthread_mutex_unlock(&h->mu);
}

/* The first free lane, else waits for lane 0. Counts the calls in flight. */
static struct lane *lane_take(struct eng_http *h)
{
    struct lane *l = NULL;
    for (int i = 0; i < ENG_HTTP_LANES && l == NULL; i++) {
        if (pthread_mutex_trylock(&h->lanes[i].mu) == 0) {
            l = &h->lanes[i];
        }
    }
    if (l == NULL) {
        l = &h->lanes[0];
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_lock(&h->mu);
    if (++h->in_flight > h->stats.max_concurrent) {
        h->stats.max_concurrent = h->in_flight;
    }
    pthread_mutex_unlock(&h->mu);
    return l;
}

static void lane_give(struct eng_http *h, struct lane *l)
{
    pthread_mutex_lock(&h->mu);
    h->in_flight--;
    pthread_mutex_unlock(&h->mu);
    pthread_mutex_unlock(&l->mu);
}

/*
 * The TLS layer keeps received plaintext (an unwrap answer, with the DEK in
 * base64url) in its record buffer until the next read overwrites it:
 * SSL_OP_CLEANSE_PLAINTEXT has OpenSSL wipe it once curl has read it, and
 * when the connection is freed. (curl's own download buffer is out of reach:
 * each lane's keeps its last answer until that lane's next call or the
 * transport's free; lane 1 is only used when two calls overlap, at an open.)
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

/* ---- secure buffers, the answer ---- */

/* The engine's locked, non-dumpable memory (eng_secure_base_alloc) under a base_buf (which wipes
 * before freeing). */
void eng_http_secret_buf_init(struct base_buf *b, size_t max)
{
    base_buf_init_alloc(b, max, BASE_BUF_WIPE, &eng_secure_base_alloc);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct resp *r = userp;
    size_t n = size * nmemb;
    if (n > r->buf.max - r->buf.len) {
        r->too_big = 1;
        return 0; /* abort the transfer */
    }
    return base_buf_append(&r->buf, data, n, NULL) == 0 ? n : 0; /* 0: out of memory */
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

long eng_http_parse_retry_after(const char *v, size_t len, time_t now)
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
            if (secs < ENG_HTTP_RETRY_AFTER_MAX_S) {
                secs = secs * 10 + (v[i] - '0');
            }
        }
        return secs < ENG_HTTP_RETRY_AFTER_MAX_S ? secs : ENG_HTTP_RETRY_AFTER_MAX_S;
    }
    time_t when;
    if (imf_fixdate(v, len, &when) != 0) {
        return -1;
    }
    if (when <= now) {
        return 0;
    }
    return when - now < ENG_HTTP_RETRY_AFTER_MAX_S ? (long)(when - now)
                                                   : ENG_HTTP_RETRY_AFTER_MAX_S;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct resp *r = userp;
    size_t n = size * nmemb;
    static const char key[] = "retry-after:";
    if (n >= sizeof(key) - 1 && strncasecmp(data, key, sizeof(key) - 1) == 0) {
        r->retry_after_s =
            eng_http_parse_retry_after(data + sizeof(key) - 1, n - (sizeof(key) - 1), time(NULL));
    }
    return n;
}

static void resp_reset(struct resp *r)
{
    base_buf_reset(&r->buf); /* wipes */
    r->retry_after_s = -1;
    r->too_big = 0;
}

/* ---- one request, and the retries ---- */

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000U + (uint64_t)ts.tv_nsec / 1000U;
}

static uint64_t mono_ms(void)
{
    return mono_us() / 1000U;
}

/* One HTTP exchange within |left_ms|: the HTTP status, or 0 with *curl_err set (no answer). */
static long http_once(struct eng_http *h, struct lane *l, const char *url, const char *body,
                      long left_ms, CURLcode *curl_err)
{
    resp_reset(&l->r);
    long t = h->timeout_ms < left_ms ? h->timeout_ms : left_ms;
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
    uint64_t t0 = mono_us();
    *curl_err = curl_easy_perform(l->curl);
    uint64_t took = mono_us() - t0;
    long nc = 0;
    if (curl_easy_getinfo(l->curl, CURLINFO_NUM_CONNECTS, &nc) != CURLE_OK) {
        nc = 0;
    }
    long status = 0;
    if (*curl_err == CURLE_OK) {
        curl_easy_getinfo(l->curl, CURLINFO_RESPONSE_CODE, &status);
    }
    pthread_mutex_lock(&h->mu);
    h->stats.requests++;
    h->stats.connects += (uint64_t)nc;
    h->stats.latency_us_total += took;
    if (took > h->stats.latency_us_max) {
        h->stats.latency_us_max = took;
    }
    if (status != 0) {
        h->stats.last_status = (int)status;
    }
    pthread_mutex_unlock(&h->mu);
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

/*
 * Worth another try: 429, 5xx, and transport failures other than trust and
 * CA-file errors (an answer over the cap is a write error: retried too).
 */
static int transient(long status, CURLcode ce)
{
    if (status != 0) {
        return status == 429 || status >= 500;
    }
    int e = curl_error(ce, 0);
    return ce != CURLE_OK && e != ENG_ERR_VAULT_TLS_UNTRUSTED && e != ENG_ERR_VAULT_CA_FILE;
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
 * ENG_HTTP_RETRY_AFTER_MAX_S by its parser) or exponential backoff with
 * jitter, capped at backoff_max_ms. -1: Retry-After asks for more than
 * |left_ms|, the time left before the call's deadline: give up now.
 */
static long backoff_ms(const struct eng_http *h, struct lane *l, int attempt, long left_ms)
{
    long ms;
    if (l->r.retry_after_s >= 0) {
        ms = l->r.retry_after_s * 1000L; /* <= 86,400,000: no overflow */
        if (ms >= left_ms) {
            return -1;
        }
    } else {
        long d = h->backoff_base_ms << (attempt < 16 ? attempt : 16);
        ms = d / 2 + (long)(rand_r(&l->jitter_seed) % (unsigned)(d / 2 + 1)); /* [d/2, d] */
    }
    return ms < h->backoff_max_ms ? ms : h->backoff_max_ms;
}

/*
 * A request with bounded retries on lane |l|, all within the call's
 * deadline: the final HTTP status (the answer in l->r), or -1 with the
 * transport error set when no answer came back.
 */
static long request(struct eng_http *h, struct lane *l, const char *url, const char *body)
{
    long status = 0;
    CURLcode ce = CURLE_OK;
    uint64_t deadline = mono_ms() + (uint64_t)h->deadline_ms;
    for (int attempt = 0;; attempt++) {
        uint64_t now = mono_ms();
        long left = now < deadline ? (long)(deadline - now) : 1;
        status = http_once(h, l, url, body, left, &ce);
        if (!transient(status, ce) || attempt >= h->max_retries) {
            break;
        }
        now = mono_ms();
        left = now < deadline ? (long)(deadline - now) : 0;
        long wait = backoff_ms(h, l, attempt, left);
        if (wait < 0 || wait >= left || sleep_until_ms(now + (uint64_t)wait) != 0) {
            break; /* no time left for the wait and another try: the last answer stands */
        }
        count(h, &h->stats.retries);
    }
    if (status == 0) {
        ENG_BAIL(curl_error(ce, l->r.too_big));
    }
    return status;
}

int eng_http_exchange(struct eng_http *h, const char *path, const char *body, eng_http_reader read,
                      void *arg)
{
    ENG_ENSURE(h != NULL && path != NULL && read != NULL, ENG_ERR_NULL);
    size_t pl = strlen(path);
    ENG_ENSURE(h->url_len + pl < sizeof(h->url), ENG_ERR_ARG);
    char url[ENG_HTTP_URL_MAX];
    memcpy(url, h->url, h->url_len);
    memcpy(url + h->url_len, path, pl + 1);
    struct lane *l = lane_take(h);
    int rc = -1;
    long status = request(h, l, url, body);
    if (status > 0) {
        rc = read(arg, status, base_buf_str(&l->r.buf), l->r.buf.len);
    }
    resp_reset(&l->r);
    lane_give(h, l);
    return rc;
}

/* ---- open and free ---- */

int eng_http_url_has_userinfo(const char *url)
{
    const char *sep = strstr(url, "://");
    const char *auth = sep != NULL ? sep + 3 : url;
    return memchr(auth, '@', strcspn(auth, "/?#")) != NULL;
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

/* A header line: "Name: value", printable ASCII only (no CR or LF: no header injection). */
static int valid_header(const char *line)
{
    if (line[0] == '\0' || strchr(line, ':') == NULL) {
        return 0;
    }
    for (const char *c = line; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* eng_http_open's checks, in its documented order; *n_headers: the number of header lines. */
static int check_config(const struct eng_http_config *cfg, size_t *n_headers)
{
    ENG_ENSURE(cfg != NULL && cfg->base_url != NULL, ENG_ERR_NULL);
    const char *u = cfg->base_url;
    ENG_ENSURE(!eng_http_url_has_userinfo(u), ENG_ERR_VAULT_URL_USERINFO);
    int https = strncmp(u, "https://", 8) == 0;
    ENG_ENSURE(https || strncmp(u, "http://", 7) == 0, ENG_ERR_ARG);
    ENG_ENSURE(strlen(u) < ENG_HTTP_URL_MAX, ENG_ERR_ARG);
    size_t n = 0;
    for (; cfg->headers != NULL && cfg->headers[n] != NULL; n++) {
        ENG_ENSURE(n < ENG_HTTP_HEADERS_MAX && valid_header(cfg->headers[n]), ENG_ERR_ARG);
    }
    ENG_ENSURE(https || cfg->insecure_http, ENG_ERR_VAULT_INSECURE);
    if (cfg->ca_file != NULL) {
        ENG_GUARD(check_ca_file(cfg->ca_file));
    }
    *n_headers = n;
    return 0;
}

/* The options every lane's handle shares (the header list is read-only, shared by all). */
static void lane_setup(const struct eng_http *h, struct lane *l, const char *ca_file, int http_ok)
{
    CURL *c = l->curl;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
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

void eng_http_free(struct eng_http *h)
{
    if (h == NULL) {
        return;
    }
    for (int i = 0; i < ENG_HTTP_LANES; i++) {
        struct lane *l = &h->lanes[i];
        if (l->curl != NULL) {
            curl_easy_cleanup(l->curl);
        }
        base_buf_free(&l->r.buf); /* wipes */
        pthread_mutex_destroy(&l->mu);
    }
    curl_slist_free_all(h->headers); /* the slist copied the lines: they are freed, not wiped */
    for (int i = 0; i < ENG_HTTP_HEADERS_MAX; i++) {
        if (h->header_copy[i] != NULL) {
            eng_secure_free(h->header_copy[i]); /* wipes */
        }
    }
    pthread_mutex_destroy(&h->mu);
    eng_cleanse(h, sizeof(*h));
    free(h);
}

struct eng_http *eng_http_open(const struct eng_http_config *cfg)
{
    size_t n_headers = 0;
    if (check_config(cfg, &n_headers) != 0) {
        return NULL;
    }
    pthread_once(&curl_once, curl_init_once);
    struct eng_http *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    pthread_mutex_init(&h->mu, NULL);
    size_t answer_max = cfg->answer_max > 0 ? cfg->answer_max : ENG_HTTP_ANSWER_MAX;
    for (int i = 0; i < ENG_HTTP_LANES; i++) {
        pthread_mutex_init(&h->lanes[i].mu, NULL);
        h->lanes[i].r.retry_after_s = -1;
        eng_http_secret_buf_init(&h->lanes[i].r.buf, answer_max - 1); /* answers are shorter */
    }
    h->url_len = strlen(cfg->base_url);
    memcpy(h->url, cfg->base_url, h->url_len + 1);
    h->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
    h->max_retries = cfg->max_retries >= 0 ? cfg->max_retries : 3;
    h->backoff_base_ms = cfg->backoff_base_ms > 0 ? cfg->backoff_base_ms : 50;
    h->backoff_max_ms = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : 2000;
    h->deadline_ms = cfg->deadline_ms > 0 ? cfg->deadline_ms : 30000;
    unsigned seed = 0;
    (void)RAND_bytes((unsigned char *)&seed, sizeof(seed));
    seed ^= (unsigned)time(NULL);

    int ok = 1;
    for (int i = 0; i < ENG_HTTP_LANES; i++) {
        h->lanes[i].jitter_seed = seed + (unsigned)i * 0x9e3779b9U;
        h->lanes[i].curl = curl_easy_init();
        ok = ok && h->lanes[i].curl != NULL;
    }
    for (size_t i = 0; ok && i < n_headers; i++) {
        size_t len = strlen(cfg->headers[i]) + 1;
        h->header_copy[i] = eng_secure_alloc(len); /* locked, left out of core dumps */
        ok = h->header_copy[i] != NULL;
        if (ok) {
            memcpy(h->header_copy[i], cfg->headers[i], len);
            struct curl_slist *sl = curl_slist_append(h->headers, h->header_copy[i]);
            ok = sl != NULL;
            h->headers = sl != NULL ? sl : h->headers;
        }
    }
    if (!ok) {
        eng_http_free(h);
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    for (int i = 0; i < ENG_HTTP_LANES; i++) {
        lane_setup(h, &h->lanes[i], cfg->ca_file, cfg->insecure_http);
    }
    return h;
}
