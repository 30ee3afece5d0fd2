/*
 * test_persist.c - state across restarts (SIGTERM and kill -9 after an
 * acknowledged change), file modes, no key material or tokens at rest,
 * a wrong master key or a damaged state file refusing the start.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmt.h"
#include "vmt_crypto.h"

#define S  (&vmt_srv)
#define KO vmt_token(S, "keyofficer")

TestSuite(persist, .init = vmt_setup, .fini = vmt_teardown, .timeout = 60);

static const char *wrap_body = "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAECAwQFBgcICQoLDA0ODw\"}";

static void restart(void)
{
    cr_assert_eq(vmt_stop(S), 0, "SIGTERM ends the server with exit code 0");
    cr_assert_eq(vmt_start(S, NULL), 0, "restart on the same state");
}

static char *wrap(const char *path)
{
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "POST", path, KO, wrap_body, &r), 200, "%s", r.body);
    char *v = strdup(vmt_str(&r, "value"));
    vmt_resp_free(&r);
    return v;
}

static void expect_unwrap(const char *path, const char *wrapped)
{
    char body[2048];
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", wrapped);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "POST", path, KO, body, &r), 200, "%s: %s", path, r.body);
    cr_assert_str_eq(vmt_str(&r, "value"), "AAECAwQFBgcICQoLDA0ODw");
    vmt_resp_free(&r);
}

Test(persist, restart_keeps_keys_versions_attributes_and_deleted_keys)
{
    char v1[33];
    char v2[33];
    cr_assert_eq(vmt_create_key(S, "k1", 2048, NULL, v1), 200);
    cr_assert_eq(vmt_create_key(S, "k1", 2048, NULL, v2), 200);
    cr_assert_eq(vmt_create_key(S, "k3", 2048, NULL, NULL), 200);
    char path[128];
    snprintf(path, sizeof(path), "/keys/k1/%s/wrapkey?" VMT_API, v1);
    char *wrapped = wrap(path);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "PATCH", "/keys/k1?" VMT_API, KO,
                          "{\"attributes\":{\"exp\":4102444800},\"tags\":{\"env\":\"ci\"},"
                          "\"key_ops\":[\"wrapKey\",\"unwrapKey\",\"sign\"]}",
                          &r),
                 200);
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call(S, "DELETE", "/keys/k3?" VMT_API, KO, NULL, &r), 200);
    double deleted = vmt_num(&r, "deletedDate");
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call(S, "GET", "/keys/k1?" VMT_API, KO, NULL, &r), 200);
    char *before = strdup(r.body);
    vmt_resp_free(&r);
    char token[600];
    snprintf(token, sizeof(token), "%s", KO);

    restart();

    cr_assert_str_eq(vmt_token(S, "keyofficer"), token, "identities survive the restart");
    cr_assert_eq(vmt_call(S, "GET", "/keys/k1?" VMT_API, KO, NULL, &r), 200);
    /* Same document except the port in the kids. */
    cr_assert_str_eq(vmt_str(&r, "tags.env"), "ci");
    cr_assert_eq(vmt_num(&r, "attributes.exp"), 4102444800.0);
    cr_assert(strstr(vmt_str(&r, "key.kid"), v2) != NULL);
    cJSON *old = cJSON_Parse(before);
    cr_assert_str_eq(vmt_str(&r, "key.n"), cJSON_GetStringValue(cJSON_GetObjectItem(
                                               cJSON_GetObjectItem(old, "key"), "n")));
    cr_assert_eq(
        vmt_num(&r, "attributes.updated"),
        cJSON_GetObjectItem(cJSON_GetObjectItem(old, "attributes"), "updated")->valuedouble);
    cr_assert_eq(
        cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "key"), "key_ops")), 3);
    cJSON_Delete(old);
    free(before);
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call(S, "GET", "/keys/k1/versions?" VMT_API, KO, NULL, &r), 200);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "value")), 2);
    vmt_resp_free(&r);
    snprintf(path, sizeof(path), "/keys/k1/%s/unwrapkey?" VMT_API, v1);
    expect_unwrap(path, wrapped);
    cr_assert_eq(vmt_call(S, "GET", "/deletedkeys/k3?" VMT_API, KO, NULL, &r), 200);
    cr_assert_eq(vmt_num(&r, "deletedDate"), deleted);
    vmt_resp_free(&r);
    vmt_expect(S, "GET", "/keys/k3?" VMT_API, KO, NULL, 404);
    free(wrapped);
}

Test(persist, kill9_after_an_acknowledged_change_loses_nothing)
{
    char v1[33];
    cr_assert_eq(vmt_create_key(S, "durable", 2048, NULL, v1), 200);
    char *wrapped = wrap("/keys/durable/wrapkey?" VMT_API);
    cr_assert_eq(vmt_create_key(S, "doomed", 2048, NULL, NULL), 200);
    struct vmt_resp r;
    vmt_expect(S, "DELETE", "/keys/doomed?" VMT_API, KO, NULL, 200);
    vmt_expect(S, "PATCH", "/keys/durable?" VMT_API, KO, "{\"tags\":{\"k\":\"9\"}}", 200);

    vmt_kill9(S);
    cr_assert_eq(vmt_start(S, NULL), 0);

    cr_assert_eq(vmt_call(S, "GET", "/keys/durable?" VMT_API, KO, NULL, &r), 200);
    cr_assert(strstr(vmt_str(&r, "key.kid"), v1) != NULL);
    cr_assert_str_eq(vmt_str(&r, "tags.k"), "9");
    vmt_resp_free(&r);
    expect_unwrap("/keys/durable/unwrapkey?" VMT_API, wrapped);
    vmt_expect(S, "GET", "/deletedkeys/doomed?" VMT_API, KO, NULL, 200);
    free(wrapped);
    /* no temporary files left behind by the atomic writes */
    DIR *d = opendir(S->state);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        cr_assert_null(strstr(e->d_name, ".tmp"), "%s", e->d_name);
    }
    closedir(d);
}

Test(persist, state_folder_and_files_are_private)
{
    cr_assert_eq(vmt_create_key(S, "p", 2048, NULL, NULL), 200);
    struct stat st;
    cr_assert_eq(stat(S->state, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    static const char *const files[] = {"vault.json",      "master.key",  "tokens.json",
                                        "identities.json", "audit.jsonl", "ca.pem",
                                        "ca.key",          "server.pem",  "server.key"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", S->state, files[i]);
        cr_assert_eq(stat(path, &st), 0, "%s exists", files[i]);
        cr_assert_eq(st.st_mode & 0777, 0600, "%s mode %o", files[i], st.st_mode & 0777);
    }
}

/* 1 when |needle| (|len| bytes) occurs in any file of the state folder. */
static int found_in_state(const void *needle, size_t len, char *where, size_t where_len)
{
    DIR *d = opendir(S->state);
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", S->state, e->d_name);
        size_t n = 0;
        char *text = vmt_read_file(path, &n);
        if (text != NULL && memmem(text, n, needle, len) != NULL) {
            found = 1;
            snprintf(where, where_len, "%s", e->d_name);
        }
        free(text);
    }
    closedir(d);
    return found;
}

static void std_b64(const uint8_t *in, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

Test(persist, no_private_key_material_or_tokens_at_rest)
{
    EVP_PKEY *local = vmt_import_local(S, "secret", 2048);
    char *wrapped = wrap("/keys/secret/wrapkey?" VMT_API);
    expect_unwrap("/keys/secret/unwrapkey?" VMT_API, wrapped);
    free(wrapped);
    cr_assert_eq(vmt_stop(S), 0);

    static const char *const params[] = {OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1,
                                         OSSL_PKEY_PARAM_RSA_FACTOR2,
                                         OSSL_PKEY_PARAM_RSA_EXPONENT1};
    char where[256];
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        size_t len = 0;
        uint8_t *raw = vmt_param_bytes(local, params[i], &len);
        cr_assert_not_null(raw);
        /* a 24-byte window is enough to recognise the value in any encoding */
        cr_assert_not(found_in_state(raw + 8, 24, where, sizeof(where)), "raw %s in %s", params[i],
                      where);
        char *url = vmt_b64(raw, len);
        cr_assert_not(found_in_state(url + 8, 32, where, sizeof(where)), "b64url %s in %s",
                      params[i], where);
        char std[1024];
        std_b64(raw, len, std);
        cr_assert_not(found_in_state(std + 8, 32, where, sizeof(where)), "base64 %s in %s",
                      params[i], where);
        char hex[1100];
        for (size_t j = 0; j < len && j < 500; j++) {
            snprintf(hex + 2 * j, 3, "%02x", raw[j]);
        }
        cr_assert_not(found_in_state(hex + 16, 48, where, sizeof(where)), "hex %s in %s", params[i],
                      where);
        free(url);
        free(raw);
    }
    /* the sealed record is there, the JWK is not */
    char vault[600];
    snprintf(vault, sizeof(vault), "%s/vault.json", S->state);
    char *text = vmt_read_file(vault, NULL);
    cr_assert(strstr(text, "\"sealed\"") != NULL);
    cr_assert_null(strstr(text, "\"d\""));
    free(text);
    /* tokens appear in tokens.json and identities.json only, never in the audit log */
    const char *names[] = {"keyofficer", "dbservice", "auditor", "admin"};
    char *audit = vmt_read_file(S->audit, NULL);
    cr_assert_not_null(audit);
    for (int i = 0; i < 4; i++) {
        const char *t = vmt_token(S, names[i]);
        cr_assert_not_null(t);
        cr_assert_null(strstr(audit, t), "%s token in the audit log", names[i]);
    }
    free(audit);
    EVP_PKEY_free(local);
}

Test(persist, state_folder_open_to_others_is_refused)
{
    cr_assert_eq(vmt_stop(S), 0);
    cr_assert_eq(chmod(S->state, 0755), 0);
    const char *args[] = {"--state", S->state, "--listen", "127.0.0.1:0", NULL};
    cr_assert_eq(vmt_run_exit(args, 10000), 1);
    struct stat st;
    cr_assert_eq(stat(S->state, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0755, "the folder's mode is left alone");
    cr_assert_eq(chmod(S->state, 0700), 0);
    cr_assert_eq(vmt_run_exit(args, 300), -1, "0700 is accepted (still running)");
}

Test(persist, wrong_master_key_or_damaged_state_refuses_to_start)
{
    cr_assert_eq(vmt_create_key(S, "m", 2048, NULL, NULL), 200);
    cr_assert_eq(vmt_stop(S), 0);
    char path[600];
    snprintf(path, sizeof(path), "%s/master.key", S->state);
    size_t len = 0;
    char *good = vmt_read_file(path, &len);
    cr_assert_eq(len, 32);
    char bad[32];
    memcpy(bad, good, 32);
    bad[0] ^= 1;
    FILE *f = fopen(path, "wb");
    fwrite(bad, 1, 32, f);
    fclose(f);
    const char *args[] = {"--state", S->state, "--listen", "127.0.0.1:0", NULL};
    cr_assert_eq(vmt_run_exit(args, 10000), 1, "a wrong master key must not start");
    f = fopen(path, "wb");
    fwrite(good, 1, 32, f);
    fclose(f);
    free(good);
    snprintf(path, sizeof(path), "%s/vault.json", S->state);
    f = fopen(path, "ab");
    fputs("garbage", f);
    fclose(f);
    cr_assert_eq(vmt_run_exit(args, 10000), 1, "a damaged state file must not start");
}
