/*
 * vmock_bench.c - bin/vault-mock-bench: a small keep-alive HTTPS load loop
 * against a vault (the mock or any Key Vault keys endpoint): N threads, one
 * connection each, for S seconds, one crypto operation over and over.
 * Prints one line of figures: rate and latency percentiles.
 *
 *   vault-mock-bench --url URL --ca FILE --token-file FILE --key NAME
 *                    [--create] [--op unwrapkey|wrapkey] [--alg ALG]
 *                    [--threads N] [--seconds S]
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base_buf.h"
#include "persist.h"

/* The largest token file read. */
#define TOKEN_FILE_MAX 4096

struct cfg {
    const char *url;
    char target[1024]; /* versioned key id the loop calls, from the wrap answer */
    const char *ca;
    const char *token;
    const char *token_file;
    char *token_buf; /* read from token_file */
    const char *key;
    const char *op;
    const char *alg;
    int create;
    unsigned threads;
    double seconds;
};

struct worker {
    const struct cfg *cfg;
    pthread_t tid;
    const char *body;
    double *lat_us;
    size_t n_lat;
    size_t cap_lat;
    unsigned long ok;
    unsigned long errors;
    long last_status;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Answers larger than this abort the transfer (a vault answer is a few hundred bytes). */
#define ANSWER_MAX ((size_t)16 << 20)

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    return base_buf_append(ud, p, size * n, NULL) == 0 ? size * n : 0;
}

static CURL *make_handle(const struct cfg *c, struct curl_slist **hdrs, struct base_buf *out)
{
    CURL *h = curl_easy_init();
    char auth[1024];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
    *hdrs = curl_slist_append(NULL, auth);
    *hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    return h;
}

/* One POST; returns the HTTP status (0 on transport failure) and the body in |out|. */
static long post(CURL *h, const char *url, const char *body, struct base_buf *out)
{
    base_buf_reset(out);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(h) != CURLE_OK) {
        return 0;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    const struct cfg *c = w->cfg;
    struct curl_slist *hdrs = NULL;
    struct base_buf out;
    base_buf_init(&out, ANSWER_MAX, 0);
    CURL *h = make_handle(c, &hdrs, &out);
    char url[2048];
    if (c->target[0] != '\0') {
        snprintf(url, sizeof(url), "%s/%s?api-version=7.4", c->target, c->op);
    } else {
        snprintf(url, sizeof(url), "%s/keys/%s/%s?api-version=7.4", c->url, c->key, c->op);
    }
    double end = now_s() + c->seconds;
    while (now_s() < end) {
        double t0 = now_s();
        long st = post(h, url, w->body, &out);
        double dt = (now_s() - t0) * 1e6;
        if (st != 200) {
            w->errors++;
            w->last_status = st;
            continue;
        }
        w->ok++;
        if (base_grow(&w->lat_us, &w->cap_lat, w->n_lat + 1, sizeof(*w->lat_us), SIZE_MAX, NULL) !=
            0) {
            break;
        }
        w->lat_us[w->n_lat++] = dt;
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    base_buf_free(&out);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(FILE *f)
{
    fputs(
        "usage: vault-mock-bench --url URL --ca FILE --token-file FILE --key NAME [--create]\n"
        "       [--op unwrapkey|wrapkey|decrypt|encrypt] [--alg ALG] [--threads N]\n"
        "       [--seconds S]\n"
        "  --token-file FILE  the bearer token: one word, an optional final newline; the file\n"
        "                     must be a regular file (no symbolic link) of yours, mode 0600\n"
        "  --token TOKEN      the same on the command line (visible to every user in ps;\n"
        "                     kept for old scripts, with a warning)\n",
        f);
}

static int parse(int argc, char **argv, struct cfg *c)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},     {"ca", required_argument, NULL, 'c'},
        {"token", required_argument, NULL, 't'},   {"token-file", required_argument, NULL, 'T'},
        {"key", required_argument, NULL, 'k'},     {"op", required_argument, NULL, 'o'},
        {"alg", required_argument, NULL, 'a'},     {"threads", required_argument, NULL, 'n'},
        {"seconds", required_argument, NULL, 's'}, {"create", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int o;
    char *end = NULL;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
            case 'u':
                c->url = optarg;
                break;
            case 'c':
                c->ca = optarg;
                break;
            case 't':
                c->token = optarg;
                break;
            case 'T':
                c->token_file = optarg;
                break;
            case 'k':
                c->key = optarg;
                break;
            case 'o':
                c->op = optarg;
                break;
            case 'a':
                c->alg = optarg;
                break;
            case 'C':
                c->create = 1;
                break;
            case 'n':
                errno = 0;
                c->threads = (unsigned)strtoul(optarg, &end, 10);
                if (errno != 0 || *end != '\0' || c->threads < 1 || c->threads > 256) {
                    return -1;
                }
                break;
            case 's':
                errno = 0;
                c->seconds = strtod(optarg, &end);
                if (errno != 0 || *end != '\0' || !(c->seconds > 0 && c->seconds <= 3600)) {
                    return -1;
                }
                break;
            case 'h':
                usage(stdout);
                exit(0);
            default:
                return -1;
        }
    }
    return c->url && c->ca && (c->token != NULL) != (c->token_file != NULL) && c->key ? 0 : -1;
}

/*
 * Reads the token from c->token_file (the vault's secret-file rule) into
 * c->token; warns about --token. Returns 0, or -1 after naming the problem.
 */
static int load_token(struct cfg *c)
{
    if (c->token != NULL) {
        fputs(
            "vault-mock-bench: warning: --token puts the token on the command line, where "
            "every user sees it (ps); use --token-file FILE\n",
            stderr);
        return 0;
    }
    struct base_err e = BASE_ERR_INIT;
    size_t len = 0;
    int rc = vmock_file_read(c->token_file, TOKEN_FILE_MAX, &c->token_buf, &len, &e);
    if (rc != 0) {
        fprintf(stderr, "vault-mock-bench: --token-file: %.1023s\n",
                rc == 1 ? "the file does not exist" : e.msg);
        return -1;
    }
    if (len > 0 && c->token_buf[len - 1] == '\n') {
        c->token_buf[--len] = '\0';
    }
    int ok = len > 0 && strlen(c->token_buf) == len;
    for (size_t i = 0; ok && i < len; i++) {
        ok = c->token_buf[i] > ' ' && c->token_buf[i] < 0x7f;
    }
    if (!ok) {
        fprintf(stderr,
                "vault-mock-bench: --token-file %s does not hold one token (one word of "
                "printable characters, an optional final newline)\n",
                c->token_file);
        OPENSSL_cleanse(c->token_buf, len);
        free(c->token_buf);
        c->token_buf = NULL;
        return -1;
    }
    c->token = c->token_buf;
    return 0;
}

int main(int argc, char **argv)
{
    struct cfg c = {.op = "unwrapkey", .alg = "RSA-OAEP-256", .threads = 2, .seconds = 5};
    if (parse(argc, argv, &c) != 0) {
        usage(stderr);
        return 2;
    }
    if (load_token(&c) != 0) {
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct curl_slist *hdrs = NULL;
    struct base_buf out;
    base_buf_init(&out, ANSWER_MAX, 0);
    CURL *h = make_handle(&c, &hdrs, &out);
    char url[1024];
    char body[4096];
    if (c.create) {
        snprintf(url, sizeof(url), "%s/keys/%s/create?api-version=7.4", c.url, c.key);
        long st = post(h, url, "{\"kty\":\"RSA\",\"key_size\":2048}", &out);
        if (st != 200) {
            fprintf(stderr, "vault-mock-bench: create answered %ld: %s\n", st, base_buf_str(&out));
            return 1;
        }
    }
    /* Input: a 32-byte DEK for wrap/encrypt; its wrapped form for unwrap/decrypt. */
    const char *dek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    snprintf(body, sizeof(body), "{\"alg\":\"%s\",\"value\":\"%s\"}", c.alg, dek);
    int unwrapping = strcmp(c.op, "unwrapkey") == 0 || strcmp(c.op, "decrypt") == 0;
    if (unwrapping) {
        snprintf(url, sizeof(url), "%s/keys/%s/%s?api-version=7.4", c.url, c.key,
                 strcmp(c.op, "unwrapkey") == 0 ? "wrapkey" : "encrypt");
        long st = post(h, url, body, &out);
        cJSON *doc = st == 200 ? cJSON_ParseWithLength(base_buf_str(&out), out.len) : NULL;
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "value"));
        if (v == NULL) {
            fprintf(stderr, "vault-mock-bench: wrap answered %ld: %s\n", st, base_buf_str(&out));
            return 1;
        }
        snprintf(body, sizeof(body), "{\"alg\":\"%s\",\"value\":\"%s\"}", c.alg, v);
        /* Unwrap with the version that wrapped, so a rotation meanwhile does not matter. */
        const char *kid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "kid"));
        if (kid != NULL) {
            snprintf(c.target, sizeof(c.target), "%s", kid);
        }
        cJSON_Delete(doc);
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    base_buf_free(&out);

    struct worker *w = calloc(c.threads, sizeof(*w));
    if (w == NULL) {
        return 1;
    }
    double t0 = now_s();
    for (unsigned i = 0; i < c.threads; i++) {
        w[i].cfg = &c;
        w[i].body = body;
        pthread_create(&w[i].tid, NULL, work, &w[i]);
    }
    size_t total = 0;
    unsigned long errors = 0;
    long last_status = 0;
    for (unsigned i = 0; i < c.threads; i++) {
        pthread_join(w[i].tid, NULL);
        total += w[i].n_lat;
        errors += w[i].errors;
        if (w[i].errors > 0) {
            last_status = w[i].last_status;
        }
    }
    double elapsed = now_s() - t0;
    double *all = malloc((total > 0 ? total : 1) * sizeof(*all));
    size_t k = 0;
    for (unsigned i = 0; i < c.threads && all != NULL; i++) {
        memcpy(all + k, w[i].lat_us, w[i].n_lat * sizeof(*all));
        k += w[i].n_lat;
        free(w[i].lat_us);
    }
    if (all != NULL && total > 0) {
        qsort(all, total, sizeof(*all), cmp_double);
    }
    double p50 = total > 0 ? all[total / 2] : 0;
    double p99 = total > 0 ? all[(size_t)((double)total * 0.99)] : 0;
    printf(
        "vault-mock-bench op=%s alg=%s threads=%u seconds=%.2f requests=%zu errors=%lu "
        "rate=%.0f/s p50_us=%.0f p99_us=%.0f\n",
        c.op, c.alg, c.threads, elapsed, total, errors, (double)total / elapsed, p50, p99);
    if (errors > 0) {
        fprintf(stderr, "vault-mock-bench: last error status %ld\n", last_status);
    }
    free(all);
    free(w);
    curl_global_cleanup();
    if (c.token_buf != NULL) {
        OPENSSL_cleanse(c.token_buf, strlen(c.token_buf));
        free(c.token_buf);
    }
    return errors > 0 ? 1 : 0;
}
