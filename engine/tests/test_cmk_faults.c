/*
 * test_cmk_faults.c - the engine against a faulty vault (vault-mock fault
 * injection): latency up to 500 ms, 503s at 20%, bursts of 429 with
 * Retry-After, dropped connections, a TLS handshake the client cannot
 * verify, and a vault killed and restarted in the middle of a run.
 *
 * For each fault: every operation either succeeds or fails with one of the
 * expected, specific errors; retries stay bounded (requests <= (1 + max
 * retries) x calls); afterwards, with the vault healthy, the store opens
 * and every byte written is read back (no store corrupted, no DEK lost).
 * A table of the outcomes goes to stderr.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eng_store.h"
#include "eng_vault.h"
#include "tl_vault.h"
#include "vmt_client.h"

#define API     "?api-version=7.4"
#define RETRIES 3
#define OPS     20

static struct vmt_server vs;
static char dir[256];
static uint8_t data[4 * 4096];

static struct eng_kek_provider *provider(const char *ca)
{
    struct eng_vault_config cfg = {.vault_url = vs.url,
                                   .key_name = "fk",
                                   .token = vmt_token(&vs, "dbservice"),
                                   .ca_file = ca,
                                   .max_retries = RETRIES,
                                   .backoff_base_ms = 5,
                                   .backoff_max_ms = 100,
                                   .timeout_ms = 2000};
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    cr_assert_not_null(p);
    return p;
}

static void set_faults(const char *json)
{
    long st = vmt_set_faults(&vs, json);
    cr_assert(st == 200 || st == 204, "admin/faults: %ld", st);
}

static void setup(void)
{
    tl_vault_start(&vs);
    char ver[40];
    cr_assert_eq(vmt_create_key(&vs, "fk", 2048, NULL, ver), 200);
    snprintf(dir, sizeof(dir), "/tmp/cmk-faults-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i * 13 + 5);
    }
    struct eng_kek_provider *p = provider(vs.ca);
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.mode = ENG_MODE_GCM;
    cfg.unit_size = 4096;
    cfg.num_units = 16;
    cfg.extent_units = 4;
    struct eng_store *s = eng_store_create(dir, p, &cfg);
    cr_assert_not_null(s, "%s", eng_strerror(eng_errno()));
    cr_assert_eq(eng_store_write(s, 0, 4, data), 0);
    eng_store_close(s);
    eng_kek_provider_free(p);
}

static void teardown(void)
{
    vmt_cleanup(&vs);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    int rc = system(cmd);
    (void)rc;
}

TestSuite(cmk_faults, .init = setup, .fini = teardown, .timeout = 180);

/* With the vault healthy: the store opens and the data is intact. */
static void check_intact(void)
{
    set_faults(NULL);
    struct eng_kek_provider *p = provider(vs.ca);
    struct eng_store *s = eng_store_open(dir, p, NULL);
    cr_assert_not_null(s, "store does not open after the fault: %s", eng_strerror(eng_errno()));
    uint8_t back[sizeof(data)];
    cr_assert_eq(eng_store_read(s, 0, 4, back), 0);
    cr_assert(memcmp(back, data, sizeof(data)) == 0, "data changed");
    eng_store_close(s);
    eng_kek_provider_free(p);
}

/*
 * Runs OPS cold opens (get + unwraps) and KEK rewraps under the current
 * faults; every failure must be one of |allowed|. Prints one table row.
 */
static void run_fault_n(const char *name, const char *faults, const char *ca, const int *allowed,
                        size_t n_allowed, int min_ok, int ops)
{
    if (faults != NULL) {
        set_faults(faults);
    }
    struct eng_kek_provider *p = provider(ca);
    int ok = 0, calls = 0;
    int errs[8] = {0};
    char errtext[256] = "";
    for (int i = 0; i < ops; i++) {
        struct eng_store *s = eng_store_open(dir, p, NULL);
        calls++;
        int rc = s != NULL ? 0 : -1;
        if (s != NULL) {
            uint8_t back[sizeof(data)];
            cr_assert_eq(eng_store_read(s, 0, 4, back), 0);
            cr_assert(memcmp(back, data, sizeof(data)) == 0);
            if (i % 4 == 0) { /* a rotation now and then: a rewrap under faults */
                calls++;
                rc = eng_store_rotate_kek(s);
            }
            eng_store_close(s);
        }
        if (rc == 0) {
            ok++;
            continue;
        }
        int e = eng_errno();
        size_t k = 0;
        while (k < n_allowed && allowed[k] != e) {
            k++;
        }
        cr_assert_lt(k, n_allowed, "%s: unexpected error %s", name, eng_error_name(e));
        errs[k]++;
    }
    struct eng_kek_stats st;
    cr_assert_eq(eng_kek_stats(p, &st), 0);
    eng_kek_provider_free(p);
    for (size_t k = 0; k < n_allowed; k++) {
        if (errs[k] > 0) {
            size_t l = strlen(errtext);
            snprintf(errtext + l, sizeof(errtext) - l, "%s%d %s", l ? ", " : "", errs[k],
                     eng_error_name(allowed[k]));
        }
    }
    /* each call makes at most a handful of requests, each retried at most RETRIES times */
    uint64_t bound = (uint64_t)(1 + RETRIES) * (uint64_t)calls * 8;
    cr_assert_leq(st.requests, bound, "%s: %llu requests for %d calls", name,
                  (unsigned long long)st.requests, calls);
    cr_assert_geq(ok, min_ok, "%s: only %d of %d opens succeeded", name, ok, ops);
    check_intact();
    fprintf(stderr, "| %-34s | %2d/%2d ok | %-40s | %5llu req | %4llu retries | intact |\n", name,
            ok, ops, errtext[0] ? errtext : "-", (unsigned long long)st.requests,
            (unsigned long long)st.retries);
}

static void run_fault(const char *name, const char *faults, const char *ca, const int *allowed,
                      size_t n_allowed, int min_ok)
{
    run_fault_n(name, faults, ca, allowed, n_allowed, min_ok, OPS);
}

Test(cmk_faults, table)
{
    fprintf(stderr, "| fault | opens ok | errors | vault requests | retries | data after |\n");
    static const int none[] = {ENG_OK};
    run_fault("none", NULL, vs.ca, none, 0, OPS);
    run_fault_n("latency 0-500 ms",
                "{\"faults\":[{\"op\":\"*\",\"latency_ms\":0,\"jitter_ms\":500}]}", vs.ca, none, 0,
                6, 6);
    /*
     * 20% errors, 1 + 3 attempts: a request fails for good with 0.2^4 = 1.6e-3, an open (6 or
     * 7 requests) with at most 1.1e-2, so 8 or more of 20 opens fail with about 1e-11 (the
     * faults are drawn from a random seed). Without retries an open fails with 1 - 0.8^6 = 0.74,
     * and 13 or more successes would have a chance of 3e-4.
     */
    static const int server[] = {ENG_ERR_VAULT_SERVER};
    run_fault("503 at 20%", "{\"faults\":[{\"op\":\"*\",\"error_rate\":0.2,\"status\":503}]}",
              vs.ca, server, 1, OPS - 7);
    run_fault("500 at 20%", "{\"faults\":[{\"op\":\"*\",\"error_rate\":0.2,\"status\":500}]}",
              vs.ca, server, 1, OPS - 7);
    static const int thr[] = {ENG_ERR_VAULT_THROTTLED};
    run_fault("429 at 30%, Retry-After 0",
              "{\"faults\":[{\"op\":\"*\",\"throttle_rate\":0.3,\"retry_after\":0}]}", vs.ca, thr,
              1, OPS / 2);
    static const int unr[] = {ENG_ERR_VAULT_UNREACHABLE};
    run_fault("dropped connections 30%", "{\"faults\":[{\"op\":\"*\",\"drop_rate\":0.3}]}", vs.ca,
              unr, 1, OPS / 2);
    /* TLS: the client trusts another CA (the system's), so the handshake cannot verify: named */
    static const int untrusted[] = {ENG_ERR_VAULT_TLS_UNTRUSTED};
    run_fault("TLS handshake fails (wrong CA)", NULL, "/etc/ssl/certs/ca-certificates.crt",
              untrusted, 1, 0);
    /* every op 100% 503: each call fails after exactly 1 + RETRIES requests */
    run_fault("503 always", "{\"faults\":[{\"op\":\"*\",\"error_rate\":1,\"status\":503}]}", vs.ca,
              server, 1, 0);
}

/* The vault is killed mid-run: within grace reads go on; it comes back on the same port and
 * state; the open store revalidates by itself and stays accessible. */
Test(cmk_faults, vault_restart_mid_run)
{
    struct eng_kek_provider *p = provider(vs.ca);
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.revalidate_s = 1;
    cfg.grace_s = 30;
    struct eng_store *s = eng_store_open(dir, p, &cfg);
    cr_assert_not_null(s);
    uint8_t back[sizeof(data)];
    const char *port = strrchr(vs.url, ':') + 1;
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%s", port);
    vmt_kill9(&vs);
    sleep(2); /* past the interval: the check fails as unreachable, tolerated within grace */
    cr_assert_eq(eng_store_read(s, 0, 4, back), 0, "%s", eng_strerror(eng_errno()));
    cr_assert_eq(eng_store_revalidate(s), 0, "unreachable vault within grace must not revoke");
    static const char *const args[] = {"--throttle", "off", "--listen", NULL, NULL};
    const char *a[5];
    memcpy(a, args, sizeof(a));
    a[3] = listen;
    cr_assert_eq(vmt_start(&vs, a), 0, "restart on %s", listen);
    sleep(2);
    cr_assert_eq(eng_store_revalidate(s), 0, "%s", eng_strerror(eng_errno()));
    cr_assert_eq(eng_store_read(s, 0, 4, back), 0);
    cr_assert(memcmp(back, data, sizeof(data)) == 0);
    struct eng_kek_stats st;
    cr_assert_eq(eng_kek_stats(p, &st), 0);
    fprintf(stderr,
            "| %-34s | store stayed open, revalidated after restart | %llu req | %llu retries | "
            "intact |\n",
            "vault killed (-9) and restarted", (unsigned long long)st.requests,
            (unsigned long long)st.retries);
    eng_store_close(s);
    eng_kek_provider_free(p);
    check_intact();
}
