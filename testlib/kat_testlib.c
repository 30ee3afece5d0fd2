/*
 * kat_testlib.c - helpers for the known-answer test suites (tests only).
 */
#include "kat_testlib.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base_codec.h"
#include "eng_cpu.h"

#define PYCA_DEFAULT "/usr/lib/python3/dist-packages/cryptography_vectors"

size_t tl_paths(enum eng_mode mode, struct tl_path *out, size_t max_out)
{
    struct eng_path p[TL_MAX_PATHS];
    size_t n = eng_paths(mode, p, TL_MAX_PATHS);
    n = n < max_out ? n : max_out;
    n = n < TL_MAX_PATHS ? n : TL_MAX_PATHS;
    for (size_t i = 0; i < n; i++) {
        out[i].b = p[i].backend;
        out[i].a = p[i].arch;
    }
    return n;
}

const char *tl_path_name(const struct tl_path *p, char *out, size_t max_out_len)
{
    snprintf(out, max_out_len, "%s/%s", eng_backend_name(p->b), eng_arch_name(p->a));
    return out;
}

size_t tl_hex(uint8_t *out, size_t max_out, const char *hex)
{
    /* test literals may be laid out with spaces and line breaks */
    size_t len = strlen(hex), k = 0;
    char *digits = malloc(len + 1);
    cr_assert_not_null(digits);
    for (const char *p = hex; *p != '\0'; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\t') {
            digits[k++] = *p;
        }
    }
    size_t n = 0;
    struct base_err e = BASE_ERR_INIT;
    int rc = base_hex_decode(digits, k, out, max_out, &n, NULL, &e);
    free(digits);
    cr_assert_eq(rc, 0, "hex test literal: %s", e.msg);
    return n;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Walks up from |dir| looking for engine/engine.mk. */
static int find_root(char *dir, char *out, size_t max_out_len)
{
    for (;;) {
        char probe[PATH_MAX];
        int n = snprintf(probe, sizeof(probe), "%s/engine/engine.mk", dir);
        if (n > 0 && (size_t)n < sizeof(probe) && tl_is_file(probe)) {
            n = snprintf(out, max_out_len, "%s", dir);
            return n > 0 && (size_t)n < max_out_len;
        }
        char *slash = strrchr(dir, '/');
        if (slash == NULL || slash == dir) {
            return 0;
        }
        *slash = '\0';
    }
}

int tl_repo_root(char *out, size_t max_out_len)
{
    char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
    if (n > 0) {
        dir[n] = '\0';
        if (find_root(dir, out, max_out_len)) {
            return 1;
        }
    }
    if (getcwd(dir, sizeof(dir)) != NULL && find_root(dir, out, max_out_len)) {
        return 1;
    }
    return 0;
}

int tl_shared_vectors(char *out, size_t max_out_len)
{
    const char *env = getenv("CMK_SHARED_VECTORS");
    int n;
    if (env != NULL && *env != '\0') {
        n = snprintf(out, max_out_len, "%s", env);
    } else {
        char root[PATH_MAX];
        if (!tl_repo_root(root, sizeof(root))) {
            snprintf(out, max_out_len, "(repository root not found)/../shared/vectors");
            return 0;
        }
        n = snprintf(out, max_out_len, "%s/../shared/vectors", root);
    }
    return n > 0 && (size_t)n < max_out_len && is_dir(out);
}

int tl_pyca_aes(char *out, size_t max_out_len)
{
    const char *env = getenv("CMK_PYCA_VECTORS");
    const char *base = (env != NULL && *env != '\0') ? env : PYCA_DEFAULT;
    int n = snprintf(out, max_out_len, "%s/ciphers/AES", base);
    return n > 0 && (size_t)n < max_out_len && is_dir(out);
}

int tl_ref_crypt(const char *cipher, int enc, const uint8_t *key, const uint8_t *iv, size_t iv_len,
                 const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                 uint8_t *tag, size_t tag_len)
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, cipher, NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int gcm = strstr(cipher, "GCM") != NULL;
    int ok = c != NULL && ctx != NULL && EVP_CipherInit_ex2(ctx, c, NULL, NULL, enc, NULL) == 1;
    if (ok && gcm) {
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) == 1;
    }
    ok = ok && EVP_CipherInit_ex2(ctx, NULL, key, iv, enc, NULL) == 1 &&
         EVP_CIPHER_CTX_set_padding(ctx, 0) == 1;
    int outl = 0;
    if (ok && gcm && aad_len > 0) {
        ok = EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aad_len) == 1;
    }
    if (ok && gcm && !enc) {
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)tag_len, tag) == 1;
    }
    if (ok && len > 0) {
        ok = EVP_CipherUpdate(ctx, out, &outl, in, (int)len) == 1 && (size_t)outl == len;
    }
    uint8_t last[32];
    ok = ok && EVP_CipherFinal_ex(ctx, last, &outl) == 1 && outl == 0;
    if (ok && gcm && enc) {
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, (int)tag_len, tag) == 1;
    }
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(c);
    return ok;
}

void tl_note(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0) {
        fprintf(stderr, "[KAT ] %s\n", line); /* one write: lines of parallel workers stay whole */
    }
}
