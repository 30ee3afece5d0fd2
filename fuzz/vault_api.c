/*
 * fuzz/vault_api.c - the vault-mock's request handling without the network.
 *
 * Target function: vmock_api_handle (the request precheck: duplicate
 * Content-Length, Content-Length with Transfer-Encoding, percent-encoding
 * and %00 in the raw target; path splitting, bearer tokens, api-version,
 * routing, access policy, query parameters, JSON bodies, every
 * handler: keys, lifecycle, crypto, admin).
 *
 * An input is one request in a small text framing (not HTTP: the framing
 * only says which string is which; libmicrohttpd's parsing is not under
 * test):
 *
 *     METHOD PATH[?name=value&name=value...]\n
 *     Header-Name: value\n            (any number)
 *     \n
 *     body bytes (passed as is, not NUL-terminated; none = NULL body)
 *
 * The server state is built once per process in a private temporary
 * folder: fixed identities (tokens below), and through the API itself the
 * keys "k1" (RSA), "k2" (RSA-HSM, rotated: two versions) and "gone"
 * (soft-deleted). After a request that may have changed anything
 * (anything but a GET, and every /admin request) the state is put back:
 * vault.json is rewritten from the snapshot taken after set-up and the
 * store reopened, faults and throttling are reset. So each input starts
 * from the same state and the target is deterministic:
 *   - time() returns a fixed instant (vault-mock reads the clock only
 *     through time() in the request path);
 *   - RAND_bytes / RAND_priv_bytes are a counter-mode SHA-256 stream
 *     restarted for every input (key versions, seal nonces, fault draws);
 *   - EVP_PKEY_keygen hands out one fixed RSA-2048 test key (the PEM
 *     below, made for this target and used nowhere else), so a "create"
 *     costs no key generation and the seeds can hold values wrapped and
 *     signed under it (every created key is that key, whatever size was
 *     asked: fine for the parsers and the routing, not a test of key sizes).
 *     For the same reason EVP_PKCS82PKEY and EVP_PKEY2PKCS8, which the
 *     store calls to unseal and seal private keys (OpenSSL 3's decoder and
 *     encoder set-up costs milliseconds under ASan, and the state is reloaded
 *     after every changing request), hand out that key and its PKCS#8 form
 *     (the sealing, the JSON and the DER parsing still run).
 * These overrides replace the libc / libcrypto symbols in this program
 * only; no source of vault-mock is changed for fuzzing.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "faults.h"
#include "persist.h"
#include "policy.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FIXED_NOW   1767225600 /* 2026-01-01T00:00:00Z */
#define MAX_PARAMS  16
#define MAX_HEADERS 16

static const char officer[] = "fuzz-officer-token-0001";
static const char identities_json[] =
    "{\"identities\": ["
    "{\"name\": \"officer\", \"token\": \"fuzz-officer-token-0001\", \"permissions\": [\"all\"]},"
    "{\"name\": \"dbservice\", \"token\": \"fuzz-dbservice-token-01\","
    " \"permissions\": [\"get\", \"wrapKey\", \"unwrapKey\"]},"
    "{\"name\": \"app\", \"token\": \"fuzz-app-token-00000001\", \"permissions\": [\"list\"],"
    " \"keys\": {\"k1\": [\"get\", \"wrapKey\", \"unwrapKey\", \"encrypt\", \"sign\"]}}],"
    " \"admin_token\": \"fuzz-admin-token-000001\"}";

static struct vmock_server srv;
static char state_dir[256];
static char *snapshot;
static size_t snapshot_len;

/* ---- deterministic overrides ------------------------------------------- */

time_t time(time_t *t)
{
    if (t != NULL) {
        *t = FIXED_NOW;
    }
    return FIXED_NOW;
}

static uint64_t rand_counter;

static void fill_stream(unsigned char *buf, int num)
{
    while (num > 0) {
        uint8_t block[SHA256_DIGEST_LENGTH];
        uint8_t ctr[8];
        for (int i = 0; i < 8; i++) {
            ctr[i] = (uint8_t)(rand_counter >> (8 * i));
        }
        rand_counter++;
        SHA256(ctr, sizeof(ctr), block);
        int n = num < (int)sizeof(block) ? num : (int)sizeof(block);
        memcpy(buf, block, (size_t)n);
        buf += n;
        num -= n;
    }
}

int RAND_bytes(unsigned char *buf, int num)
{
    fill_stream(buf, num);
    return 1;
}

int RAND_priv_bytes(unsigned char *buf, int num)
{
    fill_stream(buf, num);
    return 1;
}

static const char fixed_rsa_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCXVlqqjqUKqrJ7\n"
    "VStAyz881pf/Hz985SITePQ7aA0J1ZGSiSUZZKpSWxOnIbFJacgFzc6V2eh/0i5E\n"
    "eKtjTGAlap9T+b/fqfkEssyMDonjqgIYoWFUACgRi787QjPQ31DJyR0/4lk53JgC\n"
    "Gd/eVPt8b9VBY6xFrwgoMilg0pUNqUQnfcfAozuglqx11supIDhAVsucEIQ4zMCc\n"
    "j4ZL7cggxuz9vzBOJCOXLGyiU1IhDhrvzx0Zl9+tkFB7JCgZn48In5e6k1tXH8hj\n"
    "2CcZ8+fe+CvYBy9vEQCUp28D7hN7/HlRgqyzk9Tk7xoTZxMYtSDr+fmxpEYDlorN\n"
    "ur12VvSnAgMBAAECggEAIzz8R5KHY4BzprwiIigxRV1Cbyk7gz1nPdmAJQUJZCzS\n"
    "hKhidxM1hY+nd9ckjM+Qv6k4XTQsKvcpxs/COJDkIlI9XzRcNRxC25E2h7Yq7VP8\n"
    "wPdyzjhrHArKMGYt4ojdKt8lbGasGAkBbBvSQNbQ6ByyL1OiHWewIovrjpv6EP/p\n"
    "MLypqSsWQUOj1K2HmtblolRX+WLm3O09xoz1EU4Xz3JsXxjJFQ7JqxD3BWvz6iTx\n"
    "hbBXVa1G0LuWKaPvGCst1OGG6gbUyLDTRRFplj1GQkWFAEvBKuUQDHoG7v8xZrsd\n"
    "+9FEy+yy6xmVyCtHDT3kPSRoH/HEqhe1WKc93E6BwQKBgQDFTHZmBxPStpLMb6ve\n"
    "Si4aQ8wbJieqNNo5lSy2QLYPvxy8DraQPUlkmrjJWrlG2aeh9DMY2uybwokuQZ0h\n"
    "qojujZluBLXGh33dv17KfmbJHmYJgStY8tJFNrKJl6emIlcucjyZTr9fDFFXqqnF\n"
    "G6fxfn8LyE+wAeeJP4ubp/1mHwKBgQDEXS25iFxajE6K/6LE9+ZdttroD3YZsxX6\n"
    "2mF6HQOhEhwRo1JNS9c1/yil7H4KGlwCkWueJX6zRrfV+Xm57yahjZ9dHoSOCqgX\n"
    "PAytNG6lkiOPSPSkP1g/vImstApLsvOoTFRbx1AVn4CwVDAhwi+VpH6IHAdoHC7q\n"
    "MoLEm1hQeQKBgQCi4G+x5M/ZmT1xJhN1jDmpFyUtmH8QRVeOR/dEcgGa2EPJgD/4\n"
    "rY+kTRKVr57avZ5k1etE7p58K8oB9MraWyV2AlGSgLLrtTkUUgLYGieSitTjrc3y\n"
    "PWuXFgOoERmmzhy4zDf4vAjCV7HjNJG4lg88DxikynX2sGvLYzlGhBVuMwKBgQCa\n"
    "xfbsbhadKEogNS5OojbpVt9kWgt0ZjvE5aw/W+8oXeXR4TFVy5lt7hhT7/vIas5r\n"
    "F8QDevpKxErSVTkk3ONOIxqhgxRoAO5MogA75T/xMSbmIVLywxsD4c+CWMZktEBp\n"
    "PwCe9pKg+H+ufC0T7sMi5+zzy2PrI4u2/OklnmwVwQKBgGQ5z9Ynl6pOl2TFhsaA\n"
    "+hxiYQoJsyARSpkqtf9rvnOWw2QsfeKISXf8QdMnKhbwiKMMns+mGXbA8xZK04dq\n"
    "n798N5njeBII6YJ+2Xd5RGT7a4on8Hr2lMn/h9gVCanxVmOqQDy/57sgSkZBpd95\n"
    "C/2GR2uo0BkruP1s3de9f/Za\n"
    "-----END PRIVATE KEY-----\n";

static EVP_PKEY *cached_rsa;
static int debug;

int EVP_PKEY_keygen(EVP_PKEY_CTX *ctx, EVP_PKEY **ppkey)
{
    (void)ctx;
    if (cached_rsa == NULL || ppkey == NULL || EVP_PKEY_up_ref(cached_rsa) != 1) {
        return 0;
    }
    *ppkey = cached_rsa;
    return 1;
}

static uint8_t *cached_p8_der;
static long cached_p8_len;

EVP_PKEY *EVP_PKCS82PKEY(const PKCS8_PRIV_KEY_INFO *p8)
{
    if (p8 == NULL || cached_rsa == NULL || EVP_PKEY_up_ref(cached_rsa) != 1) {
        return NULL;
    }
    return cached_rsa;
}

PKCS8_PRIV_KEY_INFO *EVP_PKEY2PKCS8(const EVP_PKEY *pkey)
{
    const unsigned char *p = cached_p8_der;
    return pkey != NULL ? d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, cached_p8_len) : NULL;
}

/* ---- the request framing ------------------------------------------------ */

struct pair {
    const char *name;
    const char *value;
};

struct fuzz_req {
    struct pair params[MAX_PARAMS];
    size_t n_params;
    struct pair headers[MAX_HEADERS];
    size_t n_headers;
};

/* The value of |name| among |n| pairs (header names without regard to case), or NULL. */
static const char *find_pair(const struct pair *p, size_t n, const char *name, int any_case)
{
    for (size_t i = 0; i < n; i++) {
        if ((any_case ? strcasecmp(p[i].name, name) : strcmp(p[i].name, name)) == 0) {
            return p[i].value;
        }
    }
    return NULL;
}

static const char *lookup_query(void *ctx, const char *name)
{
    const struct fuzz_req *f = ctx;
    return find_pair(f->params, f->n_params, name, 0);
}

static const char *lookup_header(void *ctx, const char *name)
{
    const struct fuzz_req *f = ctx;
    return find_pair(f->headers, f->n_headers, name, 1);
}

/* How many headers are named |name| (duplicates are kept, as libmicrohttpd keeps them). */
static size_t count_header(void *ctx, const char *name)
{
    const struct fuzz_req *f = ctx;
    size_t n = 0;
    for (size_t i = 0; i < f->n_headers; i++) {
        n += strcasecmp(f->headers[i].name, name) == 0;
    }
    return n;
}

/* Splits "a=b&c=d" (in place) into the parameters. */
static void split_query(char *q, struct fuzz_req *f)
{
    char *save = NULL;
    for (char *p = strtok_r(q, "&", &save); p != NULL && f->n_params < MAX_PARAMS;
         p = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(p, '=');
        if (eq != NULL) {
            *eq = '\0';
        }
        f->params[f->n_params].name = p;
        f->params[f->n_params].value = eq != NULL ? eq + 1 : "";
        f->n_params++;
    }
}

/* ---- state -------------------------------------------------------------- */

static void die(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_vault_api: %s%s%s\n", what, err != NULL ? ": " : "",
            err != NULL ? err : "");
    exit(1);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_state(void)
{
    nftw(state_dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *api_version_only(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "api-version") == 0 ? "7.4" : NULL;
}

static const char *officer_header(void *ctx, const char *name)
{
    (void)ctx;
    static char auth[64];
    snprintf(auth, sizeof(auth), "Bearer %s", officer);
    if (strcasecmp(name, "Authorization") == 0) {
        return auth;
    }
    return strcasecmp(name, "Host") == 0 ? "vault.fuzz" : NULL;
}

/* One set-up request as the officer; fails the start unless it answers 200. */
static void setup_call(const char *method, const char *path, const char *body)
{
    struct vmock_request req = {
        .method = method,
        .path = path,
        .query = api_version_only,
        .header = officer_header,
        .ctx = NULL,
        .body = body,
        .body_len = body != NULL ? strlen(body) : 0,
    };
    struct vmock_reply rep;
    vmock_api_handle(&srv, &req, &rep);
    if (rep.status != 200) {
        die(path, rep.body);
    }
    free(rep.body);
}

static void reset_runtime(void)
{
    struct base_err err = BASE_ERR_INIT;
    vmock_faults_init(&srv.faults);
    vmock_throttle_init(&srv.throttle);
    if (vmock_throttle_parse(&srv.throttle, "off", &err) != 0) {
        die("throttle", err.msg);
    }
}

static void open_store(void)
{
    struct base_err err = BASE_ERR_INIT;
    srv.store = vmock_store_open(state_dir, 90, 1, &err);
    if (srv.store == NULL) {
        die("store", err.msg);
    }
}

static void restore_state(void)
{
    struct base_err err = BASE_ERR_INIT;
    vmock_store_free(srv.store);
    if (vmock_file_write_atomic(state_dir, "vault.json", snapshot, snapshot_len, &err) != 0) {
        die("restore", err.msg);
    }
    open_store();
    reset_runtime();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct base_err err = BASE_ERR_INIT;
    debug = getenv("FUZZ_VAULT_DEBUG") != NULL;
    BIO *bio = BIO_new_mem_buf(fixed_rsa_pem, (int)strlen(fixed_rsa_pem));
    cached_rsa = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (cached_rsa == NULL) {
        die("the fixed RSA key", NULL);
    }
    /* Its PKCS#8 form, once, through the real EVP_PKEY2PKCS8 found past ours. */
    PKCS8_PRIV_KEY_INFO *(*real_p8)(const EVP_PKEY *) =
        (PKCS8_PRIV_KEY_INFO * (*)(const EVP_PKEY *)) dlsym(RTLD_NEXT, "EVP_PKEY2PKCS8");
    PKCS8_PRIV_KEY_INFO *p8 = real_p8 != NULL ? real_p8(cached_rsa) : NULL;
    cached_p8_len = p8 != NULL ? i2d_PKCS8_PRIV_KEY_INFO(p8, &cached_p8_der) : -1;
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (cached_p8_len <= 0) {
        die("the fixed key's PKCS#8 form", NULL);
    }

    /* fuzz/run.sh sets FUZZ_TMPDIR and removes it afterwards (also after a crash). */
    const char *base = getenv("FUZZ_TMPDIR");
    if (base == NULL) {
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    }
    snprintf(state_dir, sizeof(state_dir), "%s/fuzz-vmock-XXXXXX", base);
    if (mkdtemp(state_dir) == NULL) {
        die("mkdtemp", NULL);
    }
    atexit(remove_state);
    if (vmock_file_write_atomic(state_dir, "identities-in.json", identities_json,
                                strlen(identities_json), &err) != 0) {
        die("identities", err.msg);
    }
    char ids_path[128];
    snprintf(ids_path, sizeof(ids_path), "%s/identities-in.json", state_dir);
    rand_counter = 0;
    open_store();
    srv.policy = vmock_policy_load(state_dir, ids_path, &err);
    if (srv.policy == NULL) {
        die("policy", err.msg);
    }
    srv.api.scheme = "https";
    srv.api.vault_url = NULL;
    srv.api.fallback_host = "127.0.0.1:8443";
    srv.api.tenant_id = "00000000-0000-0000-0000-000000000000";
    reset_runtime();

    setup_call("POST", "/keys/k1/create", "{\"kty\":\"RSA\",\"key_size\":2048}");
    setup_call("POST", "/keys/k2/create",
               "{\"kty\":\"RSA-HSM\",\"key_size\":2048,"
               "\"key_ops\":[\"wrapKey\",\"unwrapKey\"],"
               "\"tags\":{\"team\":\"fuzz\"}}");
    setup_call("POST", "/keys/k2/rotate", NULL);
    setup_call("POST", "/keys/gone/create", "{\"kty\":\"RSA\"}");
    setup_call("DELETE", "/keys/gone", NULL);

    char path[128];
    snprintf(path, sizeof(path), "%s/vault.json", state_dir);
    if (vmock_file_read(path, 1u << 20, &snapshot, &snapshot_len, &err) != 0) {
        die("snapshot", err.msg);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) {
        return 0; /* the server's default body limit answers 413 before the API */
    }
    /* Head: everything up to the first empty line; body: the rest. */
    size_t head_len = size, body_off = size;
    for (size_t i = 0; i + 1 < size; i++) {
        if (data[i] == '\n' && data[i + 1] == '\n') {
            head_len = i;
            body_off = i + 2;
            break;
        }
    }
    char *head = malloc(head_len + 1);
    if (head == NULL) {
        return 0;
    }
    memcpy(head, data, head_len);
    head[head_len] = '\0';
    if (strlen(head) != head_len) {
        free(head); /* a NUL in the head: libmicrohttpd would never hand that over */
        return 0;
    }
    struct fuzz_req f;
    memset(&f, 0, sizeof(f));
    char *save = NULL;
    char *line = strtok_r(head, "\n", &save);
    char *sp = line != NULL ? strchr(line, ' ') : NULL;
    if (sp == NULL) {
        free(head);
        return 0;
    }
    *sp = '\0';
    const char *method = line;
    char *path = sp + 1;
    char *raw_uri = strdup(path); /* the target as sent, for the percent-encoding checks */
    if (raw_uri == NULL) {
        free(head);
        return 0;
    }
    char *q = strchr(path, '?');
    if (q != NULL) {
        *q = '\0';
        split_query(q + 1, &f);
    }
    for (char *h = strtok_r(NULL, "\n", &save); h != NULL && f.n_headers < MAX_HEADERS;
         h = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(h, ':');
        if (colon == NULL) {
            continue;
        }
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ') {
            v++;
        }
        f.headers[f.n_headers].name = h;
        f.headers[f.n_headers].value = v;
        f.n_headers++;
    }
    size_t body_len = size - body_off;
    char *body = NULL;
    if (body_len > 0) {
        body = malloc(body_len); /* exactly the bytes: no NUL after them */
        if (body == NULL) {
            free(raw_uri);
            free(head);
            return 0;
        }
        memcpy(body, data + body_off, body_len);
    }

    rand_counter = 1000;
    struct vmock_request req = {
        .method = method,
        .path = path,
        .query = lookup_query,
        .header = lookup_header,
        .header_count = count_header,
        .ctx = &f,
        .raw_uri = raw_uri,
        .body = body,
        .body_len = body_len,
    };
    struct vmock_reply rep;
    vmock_api_handle(&srv, &req, &rep);
    if (rep.status < 100 || rep.status > 599) {
        if (!rep.drop) {
            abort(); /* every request gets an HTTP status or a deliberate drop */
        }
    }
    if (debug) {
        fprintf(stderr, "fuzz_vault_api: %d %s\n", rep.status, rep.body != NULL ? rep.body : "");
    }
    if (rep.body != NULL && strlen(rep.body) == 0) {
        abort();
    }
    int changed = strcmp(method, "GET") != 0 || strstr(path, "admin") != NULL;
    free(rep.body);
    free(body);
    free(raw_uri);
    free(head);
    if (changed) {
        restore_state();
    }
    return 0;
}
