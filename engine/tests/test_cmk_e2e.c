/*
 * test_cmk_e2e.c - a store under a customer-managed key in a real
 * vault-mock over HTTPS (TLS verified against its generated CA), through
 * the engine's vault provider: create, write, the key officer deletes the
 * key, the store becomes inaccessible, recover, readable again; disable and
 * enable; a revoked permission; KEK rotation in the vault; the vault's
 * audit log against the provider's own counts.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eng_store.h"
#include "eng_vault.h"
#include "tl_vault.h"
#include "vmt_client.h"

#define API "?api-version=7.4"

static struct vmt_server vs;
static char store_dir[256];

static void setup(void)
{
    tl_vault_start(&vs);
    snprintf(store_dir, sizeof(store_dir), "/tmp/cmk-e2e-XXXXXX");
    cr_assert_not_null(mkdtemp(store_dir));
}

static void teardown(void)
{
    vmt_cleanup(&vs);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", store_dir);
    int rc = system(cmd);
    (void)rc;
}

TestSuite(cmk_e2e, .init = setup, .fini = teardown, .timeout = 120);

static struct eng_kek_provider *provider(const char *identity, const char *key)
{
    struct eng_vault_config cfg = {.vault_url = vs.url,
                                   .key_name = key,
                                   .token = vmt_token(&vs, identity),
                                   .ca_file = vs.ca,
                                   .max_retries = 1,
                                   .backoff_base_ms = 10,
                                   .backoff_max_ms = 50};
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    cr_assert_not_null(p, "%s", eng_strerror(eng_errno()));
    return p;
}

static struct eng_store *make_store(struct eng_kek_provider *p, enum eng_mode mode)
{
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.mode = mode;
    cfg.unit_size = 4096;
    cfg.num_units = 64;
    cfg.extent_units = 16;
    /* a short interval, a long grace: a revocation taken for an outage would take 30 s */
    cfg.revalidate_s = 1;
    cfg.grace_s = 30;
    struct eng_store *s = eng_store_create(store_dir, p, &cfg);
    cr_assert_not_null(s, "create: %s", eng_strerror(eng_errno()));
    return s;
}

static void fill(uint8_t *buf, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(seed + i * 31);
    }
}

/* Sleeps past the revalidation interval, then expects reads to fail INACCESSIBLE. */
static void expect_inaccessible(struct eng_store *s, double *seconds)
{
    uint8_t out[4096];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) { /* 5 s at most */
        rc = eng_store_read(s, 0, 1, out);
        if (rc == 0) {
            usleep(50000);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_eq(rc, -1, "store still readable 5 s after the key went away");
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE, "got %s", eng_error_name(eng_errno()));
    if (seconds != NULL) {
        *seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    }
}

Test(cmk_e2e, delete_makes_inaccessible_and_recover_restores)
{
    char ver[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 3072, NULL, ver), 200);
    struct eng_kek_provider *p = provider("dbservice", "db-kek");
    struct eng_store *s = make_store(p, ENG_MODE_GCM);
    uint8_t data[8 * 4096], back[8 * 4096];
    fill(data, sizeof(data), 7);
    cr_assert_eq(eng_store_write(s, 3, 8, data), 0);
    cr_assert_eq(eng_store_read(s, 3, 8, back), 0);
    cr_assert(memcmp(data, back, sizeof(data)) == 0);
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);

    tl_vault_officer(&vs, "DELETE", "/keys/db-kek" API, NULL, 200);
    double t = 0;
    expect_inaccessible(s, &t);
    cr_log_info("delete -> first refused read: %.2f s (interval 1 s)", t);
    cr_assert_lt(t, 4.0, "inaccessible only after %.2f s with a 1 s interval", t);
    cr_assert_eq(eng_store_write(s, 3, 1, data), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    eng_store_close(s);
    /* while deleted, open fails: the key is not found */
    cr_assert_null(eng_store_open(store_dir, p, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_NOT_FOUND, "got %s", eng_error_name(eng_errno()));

    tl_vault_officer(&vs, "POST", "/deletedkeys/db-kek/recover" API, NULL, 200);
    s = eng_store_open(store_dir, p, NULL);
    cr_assert_not_null(s, "reopen after recover: %s", eng_strerror(eng_errno()));
    memset(back, 0, sizeof(back));
    cr_assert_eq(eng_store_read(s, 3, 8, back), 0);
    cr_assert(memcmp(data, back, sizeof(data)) == 0, "data changed across delete/recover");
    eng_store_close(s);
    eng_kek_provider_free(p);
}

Test(cmk_e2e, disable_then_enable)
{
    char ver[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, ver), 200);
    struct eng_kek_provider *p = provider("dbservice", "db-kek");
    struct eng_store *s = make_store(p, ENG_MODE_XTS);
    uint8_t data[4096], back[4096];
    fill(data, sizeof(data), 1);
    cr_assert_eq(eng_store_write(s, 0, 1, data), 0);
    tl_vault_officer(&vs, "PATCH", "/keys/db-kek/" API, "{\"attributes\":{\"enabled\":false}}",
                     200);
    expect_inaccessible(s, NULL);
    eng_store_close(s);
    cr_assert_null(eng_store_open(store_dir, p, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_DISABLED, "got %s", eng_error_name(eng_errno()));
    tl_vault_officer(&vs, "PATCH", "/keys/db-kek/" API, "{\"attributes\":{\"enabled\":true}}", 200);
    s = eng_store_open(store_dir, p, NULL);
    cr_assert_not_null(s, "%s", eng_strerror(eng_errno()));
    cr_assert_eq(eng_store_read(s, 0, 1, back), 0);
    cr_assert(memcmp(data, back, sizeof(data)) == 0);
    eng_store_close(s);
    eng_kek_provider_free(p);
}

/* An identity without unwrapKey (the auditor: get, list) cannot open the store. */
Test(cmk_e2e, identity_without_permission_is_refused)
{
    char ver[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, ver), 200);
    struct eng_kek_provider *p = provider("dbservice", "db-kek");
    eng_store_close(make_store(p, ENG_MODE_XTS));
    eng_kek_provider_free(p);
    struct eng_kek_provider *aud = provider("auditor", "db-kek");
    cr_assert_null(eng_store_open(store_dir, aud, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_FORBIDDEN, "got %s", eng_error_name(eng_errno()));
    eng_kek_provider_free(aud);
}

static char *read_all(const char *path, size_t *len)
{
    return vmt_read_file(path, len);
}

/* Rotation in the vault: rewrap under the new version, data bytes untouched, old version can go. */
Test(cmk_e2e, kek_rotation_in_the_vault)
{
    char v1[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, v1), 200);
    struct eng_kek_provider *p = provider("dbservice", "db-kek");
    struct eng_store *s = make_store(p, ENG_MODE_GCM);
    uint8_t data[16 * 4096], back[16 * 4096];
    fill(data, sizeof(data), 9);
    cr_assert_eq(eng_store_write(s, 10, 16, data), 0);
    cr_assert_eq(eng_store_sync(s), 0);
    char path[300];
    snprintf(path, sizeof(path), "%s/data", store_dir);
    size_t before_len, after_len;
    char *before = read_all(path, &before_len);
    cr_assert_not_null(before);

    struct vmt_resp r;
    cr_assert_eq(
        vmt_call(&vs, "POST", "/keys/db-kek/rotate" API, vmt_token(&vs, "keyofficer"), NULL, &r),
        200);
    const char *kid = vmt_str(&r, "key.kid");
    cr_assert_not_null(kid);
    char v2[40];
    snprintf(v2, sizeof(v2), "%s", strrchr(kid, '/') + 1);
    vmt_resp_free(&r);
    cr_assert_str_neq(v1, v2);

    cr_assert_eq(eng_store_rotate_kek(s), 0, "%s", eng_strerror(eng_errno()));
    struct eng_store_dek d;
    cr_assert_eq(eng_store_dek_info(s, 0, &d), 0);
    cr_assert_str_eq(d.kek.version, v2, "DEK still wrapped under %s", d.kek.version);
    eng_store_close(s);
    char *after = read_all(path, &after_len);
    cr_assert_eq(before_len, after_len);
    cr_assert(memcmp(before, after, before_len) == 0, "rotation re-encrypted data");
    free(before);
    free(after);

    /* the old version can now be disabled without loss */
    char vpath[128];
    snprintf(vpath, sizeof(vpath), "/keys/db-kek/%s" API, v1);
    tl_vault_officer(&vs, "PATCH", vpath, "{\"attributes\":{\"enabled\":false}}", 200);
    s = eng_store_open(store_dir, p, NULL);
    cr_assert_not_null(s, "%s", eng_strerror(eng_errno()));
    cr_assert_eq(eng_store_read(s, 10, 16, back), 0);
    cr_assert(memcmp(data, back, sizeof(data)) == 0);
    eng_store_close(s);
    eng_kek_provider_free(p);
}

static void faults(const char *json)
{
    long st = vmt_set_faults(&vs, json);
    cr_assert(st == 200 || st == 204, "admin/faults: %ld", st);
}

/*
 * A cold open unwraps the MAC key and the 4 DEKs two at a time, each call on
 * its own connection, so the vault's RSA work can use both cores. 200 ms of
 * injected latency per unwrap makes the overlap certain on a loaded machine;
 * the provider counts the calls in flight. Every extent reads back. With
 * every unwrap failing, the open fails with the vault's error, and no more
 * unwraps are sent than the two in flight when the first one failed.
 */
Test(cmk_e2e, open_unwraps_two_at_a_time)
{
    char ver[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 3072, NULL, ver), 200);
    struct eng_kek_provider *p = provider("dbservice", "db-kek");
    struct eng_store *s = make_store(p, ENG_MODE_XTS);
    const size_t units = 64;
    uint8_t *data = malloc(units * 4096), *back = malloc(units * 4096);
    cr_assert(data != NULL && back != NULL);
    fill(data, units * 4096, 5);
    cr_assert_eq(eng_store_write(s, 0, units, data), 0);
    eng_store_close(s);
    eng_kek_provider_free(p);

    faults("{\"faults\":[{\"op\":\"unwrapkey\",\"latency_ms\":200}]}");
    p = provider("dbservice", "db-kek");
    s = eng_store_open(store_dir, p, NULL);
    cr_assert_not_null(s, "%s", eng_strerror(eng_errno()));
    struct eng_kek_stats st; /* before a slow read could revalidate */
    cr_assert_eq(eng_kek_stats(p, &st), 0);
    cr_assert_eq(eng_store_read(s, 0, units, back), 0);
    cr_assert(memcmp(data, back, units * 4096) == 0);
    eng_store_close(s);
    cr_log_info("open of 4 DEKs: %llu get, %llu unwrap, %llu connections, %d at once",
                (unsigned long long)st.gets, (unsigned long long)st.unwraps,
                (unsigned long long)st.connects, st.max_concurrent);
    cr_assert_eq(st.gets, 1);
    cr_assert_eq(st.unwraps, 5, "the MAC key and 4 DEKs");
    cr_assert_eq(st.max_concurrent, 2);
    cr_assert_eq(st.connects, 2, "one connection per lane, kept alive");
    eng_kek_provider_free(p);

    faults(
        "{\"faults\":[{\"op\":\"unwrapkey\",\"latency_ms\":200,\"error_rate\":1,\"status\":503}]}");
    p = provider("dbservice", "db-kek");
    cr_assert_null(eng_store_open(store_dir, p, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_VAULT_SERVER, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(eng_kek_stats(p, &st), 0);
    cr_assert_geq(st.unwraps, 1);
    cr_assert_leq(st.unwraps, 2, "unwraps went on after one had failed");
    cr_assert_eq(st.requests, 1 + st.unwraps * 2, "1 get, each unwrap tried twice (max_retries 1)");
    eng_kek_provider_free(p);
    faults(NULL);
    free(data);
    free(back);
}

/* Every get, wrapkey and unwrapkey the provider sent is in the audit log, as dbservice. */
Test(cmk_e2e, audit_counts_match_the_provider)
{
    char ver[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, ver), 200);
    struct eng_kek_provider *p = provider("dbservice", "db-kek");
    eng_store_close(make_store(p, ENG_MODE_XTS));
    struct eng_store *s = eng_store_open(store_dir, p, NULL);
    cr_assert_not_null(s);
    cr_assert_eq(eng_store_revalidate(s), 0);
    eng_store_close(s);
    struct eng_kek_stats st;
    cr_assert_eq(eng_kek_stats(p, &st), 0);
    eng_kek_provider_free(p);

    size_t len;
    char *audit = vmt_read_file(vs.audit, &len);
    cr_assert_not_null(audit);
    uint64_t gets = 0, wraps = 0, unwraps = 0, lines = 0;
    for (char *line = strtok(audit, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        lines++;
        if (strstr(line, "\"dbservice\"") == NULL) {
            continue;
        }
        gets += strstr(line, "\"operation\":\"get\"") != NULL;
        wraps += strstr(line, "\"operation\":\"wrapkey\"") != NULL;
        unwraps += strstr(line, "\"operation\":\"unwrapkey\"") != NULL;
    }
    free(audit);
    cr_log_info("provider: %llu get, %llu wrap, %llu unwrap; audit: %llu, %llu, %llu (%llu lines)",
                (unsigned long long)st.gets, (unsigned long long)st.wraps,
                (unsigned long long)st.unwraps, (unsigned long long)gets, (unsigned long long)wraps,
                (unsigned long long)unwraps, (unsigned long long)lines);
    cr_assert_gt(st.wraps, 0);
    cr_assert_gt(st.unwraps, 0);
    cr_assert_eq(gets, st.gets);
    cr_assert_eq(wraps, st.wraps);
    cr_assert_eq(unwraps, st.unwraps);
}
