/*
 * main.c - bin/vault-mock: command line, start-up, the ready line, clean
 * shutdown on SIGTERM / SIGINT.
 *
 * Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage error.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "api.h"
#include "http.h"
#include "tls.h"

#define EXIT_RUNTIME    1
#define EXIT_USAGE      2
#define MAX_FAULT_FLAGS 32
#define MAX_RSA1_5_KEYS 32
/* Descriptors beyond the connections: listen socket, state and audit files, poll/epoll, pipes. */
#define FD_RESERVE 64

struct options {
    const char *state;
    char host[64];
    unsigned port;
    const char *tls_cert;
    const char *tls_key;
    const char *tls_dns;
    int insecure_http;
    int start_empty;
    const char *identities;
    const char *audit;
    int audit_fsync;
    unsigned long long audit_max_bytes;
    int retention_days;
    int purge_protection;
    const char *throttle;
    const char *faults[MAX_FAULT_FLAGS];
    size_t n_faults;
    size_t max_body;
    unsigned max_connections;
    unsigned max_connections_per_ip;
    unsigned timeout_s;
    long request_timeout_s; /* -1: twice timeout_s */
    unsigned handshake_timeout_s;
    const char *rsa1_5_keys[MAX_RSA1_5_KEYS];
    size_t n_rsa1_5_keys;
    unsigned threads;
    const char *vault_url;
    const char *tenant_id;
};

static void usage(FILE *out)
{
    fputs(
        "usage: vault-mock [options]\n"
        "An Azure-Key-Vault-compatible HTTPS key vault (keys API) for tests and benchmarks.\n"
        "\n"
        "  --state DIR             state folder (keys, master key, TLS, tokens, audit);\n"
        "                          created mode 0700; an existing one must be a real folder\n"
        "                          (no symbolic link) owned by this user and closed to group\n"
        "                          and others, so /tmp itself is refused but a private folder\n"
        "                          below it is not (default ./vault-mock-state)\n"
        "  --start-empty           start with no keys although STATE/vault.json is missing\n"
        "                          beside an existing master.key or a non-empty audit log\n"
        "                          (without it, that start is refused: the state looks lost)\n"
        "  --listen HOST:PORT      numeric address to serve on; port 0 picks a free one\n"
        "                          (default 127.0.0.1:8443; IPv6 as [::1]:PORT; a name such\n"
        "                          as localhost is refused, not resolved)\n"
        "  --tls-cert FILE         server certificate (PEM) instead of the generated one\n"
        "  --tls-key FILE          its private key (PEM); both or neither\n"
        "  --tls-dns NAMES         extra DNS names (comma-separated) for the generated\n"
        "                          certificate, e.g. myvault.vault.azure.net (used when\n"
        "                          STATE/server.pem is made, i.e. on the first start)\n"
        "  --insecure-http         serve plain HTTP (no TLS); for debugging only\n"
        "  --identities FILE       identities and key permissions (JSON); default: keyofficer,\n"
        "                          dbservice, auditor with random tokens in STATE/tokens.json\n"
        "  --audit FILE            audit log, JSON Lines (default STATE/audit.jsonl)\n"
        "  --audit-fsync           fsync the audit log after every line\n"
        "  --audit-max-bytes N     cap the audit log at N bytes (4096..2^62; default 0 = no cap);\n"
        "                          at the cap every request is refused (500 AuditLogFull)\n"
        "                          until the log is moved away and the vault restarted;\n"
        "                          unauthenticated requests are logged only up to N/2\n"
        "                          (then counted in /admin/stats), the rest is kept for\n"
        "                          known identities\n"
        "  --retention-days N      soft-delete retention, 7..90 (default 90)\n"
        "  --purge-protection on|off  refuse purge of deleted keys (default on)\n"
        "  --throttle SPEC         'off' or rsa2048=N,rsa3072=N,rsa4096=N,hsm2048=N,hsm3072=N,\n"
        "                          hsm4096=N,create=N,window_ms=N (0 = unlimited); default\n"
        "                          the service's: 4000/1000/500, HSM 2000/500/250 per 10 s\n"
        "  --fault SPEC            inject faults (repeatable): op=NAME|*,latency_ms=N,\n"
        "                          jitter_ms=N,error_rate=R,status=5xx,throttle_rate=R,\n"
        "                          drop_rate=R,retry_after=S,fail_save=0|1 (saves fail as on a\n"
        "                          full disk),fail_audit=0|1 (the change's audit line fails)\n"
        "  --max-body BYTES        largest request body (default 65536; larger: 413)\n"
        "  --max-connections N     concurrent connections in all (default 256); at the limit\n"
        "                          new connections wait in the listen queue, and for each\n"
        "                          the oldest connection without a request line yet is closed\n"
        "                          (with --threads 0); the open-file limit is raised to fit,\n"
        "                          else the start is refused\n"
        "  --max-connections-per-ip N  concurrent connections from one client address\n"
        "                          (default 64, 0 = no limit); extra ones are closed at once\n"
        "  --timeout SECONDS       idle timeout: a connection with no byte for this long is\n"
        "                          closed (default 30)\n"
        "  --handshake-timeout SECONDS  a new connection must finish its TLS handshake and\n"
        "                          send its first full request within this long, else it is\n"
        "                          closed (audit error HandshakeTimeout); default 10, 0 = none\n"
        "  --request-timeout SECONDS  whole-request deadline: a request must arrive in full\n"
        "                          within this long of the connection's start or the previous\n"
        "                          answer on it, however slowly its bytes trickle, else the\n"
        "                          connection is closed (audit error RequestTimeout);\n"
        "                          default twice --timeout, 0 = none\n"
        "  --threads N             0: one thread per connection (default; keep-alive clients\n"
        "                          run in parallel); N >= 2: an epoll pool of N workers\n"
        "  --vault-url URL         the vault's public base URL, used in key ids and nextLinks\n"
        "                          (default SCHEME://LISTEN-ADDRESS:PORT; never the request's\n"
        "                          Host header); set it when clients use a DNS name\n"
        "  --allow-rsa1_5 NAME     let key NAME decrypt and unwrapKey with RSA1_5 (repeatable;\n"
        "                          default refused: PKCS#1 v1.5 decryption is a padding\n"
        "                          oracle); each such use gets a warning in its audit line\n"
        "  --tenant-id ID          tenant in the 401 challenge (default all zeros)\n"
        "  --help                  this text\n"
        "\n"
        "Secret files (STATE/*, the --identities file, the audit log, --tls-key) must be\n"
        "regular files, not symbolic links or FIFOs, owned by the user vault-mock runs as,\n"
        "mode 0600 or stricter; anything else stops the start (exit 1) with the path, what\n"
        "was found and what is required; so does a STATE/vault.json whose master.key is\n"
        "missing (no new key is made). SIGTERM/SIGINT stop it at any point, the start-up\n"
        "included (exit 0 once serving). A change (create, import, update, rotate, delete,\n"
        "recover, purge) is audited before it is saved and answered only once both are\n"
        "done; if either fails it is undone (500 AuditLogUnavailable, AuditLogFull or\n"
        "StateWriteFailed). Request strings are cut to 256 bytes in the audit log.\n"
        "\n"
        "On start it prints one line: vault-mock ready url=URL ca=FILE state=DIR tokens=FILE\n"
        "audit=FILE. Admin endpoints (/admin/stats, /admin/faults, /admin/throttle) take the\n"
        "\"admin\" token of tokens.json.\n",
        out);
}

static int parse_unsigned(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end = NULL;
    errno = 0;
    if (s == NULL || *s == '\0' || *s == '-') {
        return -1;
    }
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_listen(struct options *o, const char *arg)
{
    const char *colon = NULL;
    const char *host = arg;
    size_t host_len = 0;
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (close == NULL || close[1] != ':') {
            return -1;
        }
        host = arg + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(arg, ':');
        if (colon == NULL) {
            return -1;
        }
        host_len = (size_t)(colon - arg);
    }
    unsigned long port = 0;
    if (host_len == 0 || host_len >= sizeof(o->host) ||
        parse_unsigned(colon + 1, 0, 65535, &port) != 0) {
        return -1;
    }
    memcpy(o->host, host, host_len);
    o->host[host_len] = '\0';
    uint8_t addr[16];
    int v6 = inet_pton(AF_INET6, o->host, addr) == 1;
    if (arg[0] == '[' ? !v6 : !v6 && inet_pton(AF_INET, o->host, addr) != 1) {
        return -1;
    }
    o->port = (unsigned)port;
    return 0;
}

enum {
    OPT_STATE = 256,
    OPT_LISTEN,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_DNS,
    OPT_INSECURE,
    OPT_START_EMPTY,
    OPT_IDENTITIES,
    OPT_AUDIT,
    OPT_AUDIT_FSYNC,
    OPT_AUDIT_MAX,
    OPT_RETENTION,
    OPT_PURGE_PROTECTION,
    OPT_THROTTLE,
    OPT_FAULT,
    OPT_MAX_BODY,
    OPT_MAX_CONN,
    OPT_MAX_CONN_PER_IP,
    OPT_TIMEOUT,
    OPT_REQUEST_TIMEOUT,
    OPT_HANDSHAKE_TIMEOUT,
    OPT_ALLOW_RSA1_5,
    OPT_THREADS,
    OPT_VAULT_URL,
    OPT_TENANT,
    OPT_HELP,
};

/* Returns 0 to run, 1 after --help, -1 on a usage error (message printed). */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, OPT_STATE},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"tls-dns", required_argument, NULL, OPT_TLS_DNS},
        {"insecure-http", no_argument, NULL, OPT_INSECURE},
        {"start-empty", no_argument, NULL, OPT_START_EMPTY},
        {"identities", required_argument, NULL, OPT_IDENTITIES},
        {"audit", required_argument, NULL, OPT_AUDIT},
        {"audit-fsync", no_argument, NULL, OPT_AUDIT_FSYNC},
        {"audit-max-bytes", required_argument, NULL, OPT_AUDIT_MAX},
        {"retention-days", required_argument, NULL, OPT_RETENTION},
        {"purge-protection", required_argument, NULL, OPT_PURGE_PROTECTION},
        {"throttle", required_argument, NULL, OPT_THROTTLE},
        {"fault", required_argument, NULL, OPT_FAULT},
        {"max-body", required_argument, NULL, OPT_MAX_BODY},
        {"max-connections", required_argument, NULL, OPT_MAX_CONN},
        {"max-connections-per-ip", required_argument, NULL, OPT_MAX_CONN_PER_IP},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
        {"handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT},
        {"allow-rsa1_5", required_argument, NULL, OPT_ALLOW_RSA1_5},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"vault-url", required_argument, NULL, OPT_VAULT_URL},
        {"tenant-id", required_argument, NULL, OPT_TENANT},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int c;
    unsigned long v = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
            case OPT_STATE:
                o->state = optarg;
                break;
            case OPT_LISTEN:
                bad = parse_listen(o, optarg) != 0
                          ? "--listen wants ADDRESS:PORT with a numeric IPv4 address or "
                            "[IPv6]:PORT and a port 0..65535 (names such as localhost are not "
                            "resolved; use 127.0.0.1)"
                          : NULL;
                break;
            case OPT_TLS_CERT:
                o->tls_cert = optarg;
                break;
            case OPT_TLS_KEY:
                o->tls_key = optarg;
                break;
            case OPT_TLS_DNS:
                o->tls_dns = optarg;
                break;
            case OPT_INSECURE:
                o->insecure_http = 1;
                break;
            case OPT_START_EMPTY:
                o->start_empty = 1;
                break;
            case OPT_IDENTITIES:
                o->identities = optarg;
                break;
            case OPT_AUDIT:
                o->audit = optarg;
                break;
            case OPT_AUDIT_FSYNC:
                o->audit_fsync = 1;
                break;
            case OPT_AUDIT_MAX: {
                char *end = NULL;
                errno = 0;
                unsigned long long m = strtoull(optarg, &end, 10);
                bad = optarg[0] == '-' || optarg[0] == '\0' || errno != 0 || *end != '\0' ||
                              (m != 0 && (m < 4096 || m > (1ull << 62)))
                          ? "--audit-max-bytes wants 0 (no cap) or 4096..4611686018427387904"
                          : NULL;
                o->audit_max_bytes = m;
                break;
            }
            case OPT_RETENTION:
                bad =
                    parse_unsigned(optarg, 7, 90, &v) != 0 ? "--retention-days wants 7..90" : NULL;
                o->retention_days = (int)v;
                break;
            case OPT_PURGE_PROTECTION:
                if (strcmp(optarg, "on") == 0 || strcmp(optarg, "off") == 0) {
                    o->purge_protection = strcmp(optarg, "on") == 0;
                } else {
                    bad = "--purge-protection wants on or off";
                }
                break;
            case OPT_THROTTLE:
                o->throttle = optarg;
                break;
            case OPT_FAULT:
                if (o->n_faults == MAX_FAULT_FLAGS) {
                    bad = "too many --fault flags";
                } else {
                    o->faults[o->n_faults++] = optarg;
                }
                break;
            case OPT_MAX_BODY:
                bad = parse_unsigned(optarg, 1024, 64ul << 20, &v) != 0
                          ? "--max-body wants 1024..67108864 bytes"
                          : NULL;
                o->max_body = v;
                break;
            case OPT_MAX_CONN:
                bad = parse_unsigned(optarg, 1, 65536, &v) != 0 ? "--max-connections wants 1..65536"
                                                                : NULL;
                o->max_connections = (unsigned)v;
                break;
            case OPT_MAX_CONN_PER_IP:
                bad = parse_unsigned(optarg, 0, 65536, &v) != 0
                          ? "--max-connections-per-ip wants 0..65536"
                          : NULL;
                o->max_connections_per_ip = (unsigned)v;
                break;
            case OPT_REQUEST_TIMEOUT:
                bad = parse_unsigned(optarg, 0, 86400, &v) != 0
                          ? "--request-timeout wants 0..86400 seconds"
                          : NULL;
                o->request_timeout_s = (long)v;
                break;
            case OPT_HANDSHAKE_TIMEOUT:
                bad = parse_unsigned(optarg, 0, 86400, &v) != 0
                          ? "--handshake-timeout wants 0..86400 seconds"
                          : NULL;
                o->handshake_timeout_s = (unsigned)v;
                break;
            case OPT_ALLOW_RSA1_5:
                if (o->n_rsa1_5_keys == MAX_RSA1_5_KEYS) {
                    bad = "too many --allow-rsa1_5 flags (at most 32)";
                } else if (!vmock_name_valid(optarg)) {
                    bad = "--allow-rsa1_5 wants a key name (1-127 of a-z, A-Z, 0-9, -)";
                } else {
                    o->rsa1_5_keys[o->n_rsa1_5_keys++] = optarg;
                }
                break;
            case OPT_TIMEOUT:
                bad = parse_unsigned(optarg, 1, 86400, &v) != 0 ? "--timeout wants 1..86400 seconds"
                                                                : NULL;
                o->timeout_s = (unsigned)v;
                break;
            case OPT_THREADS:
                bad = parse_unsigned(optarg, 0, 256, &v) != 0 || v == 1
                          ? "--threads wants 0 or 2..256"
                          : NULL;
                o->threads = (unsigned)v;
                break;
            case OPT_VAULT_URL:
                o->vault_url = optarg;
                break;
            case OPT_TENANT:
                o->tenant_id = optarg;
                break;
            case OPT_HELP:
                usage(stdout);
                return 1;
            default:
                fprintf(stderr, "vault-mock: unknown option or missing value: %s\n",
                        argv[optind - 1]);
                fputs("vault-mock: try --help\n", stderr);
                return -1;
        }
        if (bad != NULL) {
            fprintf(stderr, "vault-mock: %s (got \"%s\")\n", bad, optarg);
            return -1;
        }
    }
    if (o->request_timeout_s < 0) {
        o->request_timeout_s = 2 * (long)o->timeout_s;
    }
    if (optind < argc) {
        fprintf(stderr, "vault-mock: unexpected argument: %s\n", argv[optind]);
        return -1;
    }
    if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
        fputs("vault-mock: --tls-cert and --tls-key go together\n", stderr);
        return -1;
    }
    if (o->insecure_http && o->tls_cert != NULL) {
        fputs("vault-mock: --insecure-http and --tls-cert exclude each other\n", stderr);
        return -1;
    }
    if (o->vault_url != NULL && strncmp(o->vault_url, "https://", 8) != 0 &&
        strncmp(o->vault_url, "http://", 7) != 0) {
        fputs("vault-mock: --vault-url must start with https:// or http://\n", stderr);
        return -1;
    }
    return 0;
}

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/*
 * Raise the open-file limit (up to the hard limit) so that |max_connections|
 * fit; returns -1 with a message when they cannot.
 */
static int fit_open_files(unsigned max_connections)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)max_connections + FD_RESERVE;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
        return 0;
    }
    rlim_t hard = rl.rlim_max;
    rlim_t cur = rl.rlim_cur;
    rl.rlim_cur = hard != RLIM_INFINITY && hard < need ? hard : need;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur >= need) {
            return 0;
        }
        cur = rl.rlim_cur;
    }
    fprintf(stderr,
            "vault-mock: --max-connections %u needs %llu open files, but the limit is %llu "
            "(ulimit -n, hard limit %llu); lower --max-connections or raise the limit\n",
            max_connections, (unsigned long long)need, (unsigned long long)cur,
            (unsigned long long)hard);
    return -1;
}

/* cJSON memory is wiped on free: request and response documents carry key material. */
static void wiping_free(void *p)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, malloc_usable_size(p));
        free(p);
    }
}

/*
 * 1 (|e| filled) when STATE/vault.json is missing although master.key or a
 * non-empty audit log shows that this vault ran before (a vault writes its
 * empty vault.json at its first start): starting empty would lose its keys
 * without a word.
 */
__attribute__((noinline)) static int state_looks_lost(const char *dir, const char *audit,
                                                      struct base_err *e)
{
    char vault[4096];
    char key[4096];
    struct stat st;
    snprintf(vault, sizeof(vault), "%s/vault.json", dir);
    snprintf(key, sizeof(key), "%s/master.key", dir);
    if (lstat(vault, &st) == 0 || errno != ENOENT) {
        return 0; /* there (or unreadable: the store's own checks name the problem) */
    }
    /* Only regular files count: the checks of each file name other problems. */
    if (lstat(key, &st) == 0 && S_ISREG(st.st_mode)) {
        BASE_FAIL(e, BASE_ERR_ARG,
                  "state looks lost: %s/vault.json is missing but %s/master.key exists (this "
                  "vault ran before); restore vault.json from a backup, or start with "
                  "--start-empty to start with no keys",
                  dir, dir);
        return 1;
    }
    if (lstat(audit, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        BASE_FAIL(e, BASE_ERR_ARG,
                  "state looks lost: %s/vault.json is missing but the audit log %s holds %lld "
                  "bytes (this vault ran before); restore the state from a backup, or start "
                  "with --start-empty to start with no keys",
                  dir, audit, (long long)st.st_size);
        return 1;
    }
    return 0;
}

static int run(struct options *o)
{
    struct base_err e = BASE_ERR_INIT;
    int rc = EXIT_RUNTIME;
    struct vmock_server srv;
    struct vmock_tls tls;
    struct vmock_http *http = NULL;
    char audit_path[4096];
    char fallback[128];
    memset(&srv, 0, sizeof(srv));
    memset(&tls, 0, sizeof(tls));

    vmock_throttle_init(&srv.throttle);
    vmock_faults_init(&srv.faults);
    if (o->throttle != NULL && vmock_throttle_parse(&srv.throttle, o->throttle, &e) != 0) {
        fprintf(stderr, "vault-mock: %.511s\n", e.msg); /* as long as it always was */
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < o->n_faults; i++) {
        struct vmock_fault rule;
        if (vmock_fault_parse(&rule, o->faults[i], &e) != 0) {
            fprintf(stderr, "vault-mock: %.511s\n", e.msg); /* as long as it always was */
            return EXIT_USAGE;
        }
        vmock_faults_add(&srv.faults, &rule);
    }
    if (vmock_dir_private(o->state, &e) != 0) {
        goto fail;
    }
    snprintf(audit_path, sizeof(audit_path), "%s/audit.jsonl", o->state);
    if (!o->start_empty &&
        state_looks_lost(o->state, o->audit != NULL ? o->audit : audit_path, &e)) {
        goto fail;
    }
    srv.store = vmock_store_open(o->state, o->retention_days, o->purge_protection, &e);
    if (srv.store == NULL) {
        goto fail;
    }
    srv.policy = vmock_policy_load(o->state, o->identities, &e);
    if (srv.policy == NULL) {
        goto fail;
    }
    if (vmock_throttle_identities(&srv.throttle, srv.policy->n_ids) != 0) {
        BASE_FAIL(&e, BASE_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (vmock_audit_open(&srv.audit, o->audit != NULL ? o->audit : audit_path, o->audit_fsync,
                         o->audit_max_bytes, &e) != 0) {
        goto fail;
    }
    if (!o->insecure_http &&
        vmock_tls_prepare(&tls, o->state, o->tls_cert, o->tls_key, o->tls_dns, &e) != 0) {
        goto fail;
    }
    struct vmock_http_config hc = {
        .host = o->host,
        .port = (uint16_t)o->port,
        .cert_pem = o->insecure_http ? NULL : tls.cert_pem,
        .key_pem = o->insecure_http ? NULL : tls.key_pem,
        .max_body = o->max_body,
        .max_connections = o->max_connections,
        .max_connections_per_ip = o->max_connections_per_ip,
        .timeout_s = o->timeout_s,
        .request_timeout_s = (unsigned)o->request_timeout_s,
        .handshake_timeout_s = o->handshake_timeout_s,
        .threads = o->threads,
        .thread_per_connection = o->threads == 0,
    };
    int v6 = strchr(o->host, ':') != NULL;
    srv.api.scheme = o->insecure_http ? "http" : "https";
    srv.api.vault_url = o->vault_url;
    srv.api.fallback_host = fallback;
    srv.api.tenant_id = o->tenant_id;
    srv.api.rsa1_5_keys = o->rsa1_5_keys;
    srv.api.n_rsa1_5_keys = o->n_rsa1_5_keys;
    srv.stats.started = (int64_t)time(NULL);
    uint16_t port = 0;
    /* The fallback host is completed once the port is known; no request arrives before. */
    snprintf(fallback, sizeof(fallback), "%s%s%s", v6 ? "[" : "", o->host, v6 ? "]" : "");
    /*
     * Until here SIGTERM and SIGINT keep their default action: they end the start-up at once
     * (state files are replaced atomically, so nothing is half written). The server's threads
     * are created with the two blocked, so that only this thread takes them. While it prints
     * the ready line they only set stop_requested and interrupt the write (a full stdout pipe
     * must not make the program unstoppable); then it takes them with sigwait.
     */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    http = vmock_http_start(&srv, &hc, &port, &e);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: a blocked write returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
    if (http == NULL) {
        goto fail;
    }
    size_t fl = strlen(fallback);
    snprintf(fallback + fl, sizeof(fallback) - fl, ":%u", (unsigned)port);
    printf("vault-mock ready url=%s://%s ca=%s state=%s tokens=%s/tokens.json audit=%s\n",
           srv.api.scheme, fallback, o->insecure_http ? "-" : tls.ca_path, o->state, o->state,
           o->audit != NULL ? o->audit : audit_path);
    fflush(stdout);
    if (srv.throttle.limit[VMOCK_TC_RSA2048] != 0) {
        fprintf(stderr,
                "vault-mock: throttling RSA-2048 crypto at %u per %u ms like the service; "
                "--throttle off for benchmarks\n",
                srv.throttle.limit[VMOCK_TC_RSA2048], srv.throttle.window_ms);
    }

    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    int sig = 0;
    while (!stop_requested && sigwait(&stop, &sig) != 0) {
    }
    vmock_http_stop(http);
    http = NULL;
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "vault-mock: %.511s\n", e.msg); /* as long as it always was */
out:
    vmock_http_stop(http);
    vmock_audit_close(&srv.audit);
    vmock_tls_free(&tls);
    vmock_policy_free(srv.policy);
    vmock_store_free(srv.store);
    vmock_throttle_free(&srv.throttle);
    return rc;
}

int main(int argc, char **argv)
{
    /*
     * No core dump and no ptrace or /proc/PID/mem access by anyone without
     * CAP_SYS_PTRACE: the process holds master.key, the tokens and the TLS key.
     */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        fprintf(stderr, "vault-mock: cannot make the process non-dumpable: %s\n", strerror(errno));
        return EXIT_RUNTIME;
    }
    struct options o = {
        .state = "vault-mock-state",
        .host = "127.0.0.1",
        .port = 8443,
        .retention_days = 90,
        .purge_protection = 1,
        .max_body = 64 * 1024,
        .max_connections = 256,
        .max_connections_per_ip = 64,
        .timeout_s = 30,
        .handshake_timeout_s = 10,
        .request_timeout_s = -1,
        .threads = 0,
        .tenant_id = "00000000-0000-0000-0000-000000000000",
    };
    int p = parse_args(argc, argv, &o);
    if (p != 0) {
        return p > 0 ? 0 : EXIT_USAGE;
    }
    if (fit_open_files(o.max_connections) != 0) {
        return EXIT_USAGE;
    }
    /* SIGTERM and SIGINT stay deliverable through the start-up; see run(). */
    signal(SIGPIPE, SIG_IGN);
    cJSON_Hooks hooks = {.malloc_fn = malloc, .free_fn = wiping_free};
    cJSON_InitHooks(&hooks);
    return run(&o);
}
