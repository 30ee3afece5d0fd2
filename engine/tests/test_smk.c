/* test_smk.c - the service-managed KEK provider: key file, RFC 5649 wrap, rotation, refusals. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eng_keys.h"
#include "eng_secure.h"
#include "store_helpers.h"

#define KWP_DIR "/usr/lib/python3/dist-packages/cryptography_vectors/keywrap/kwtestvectors/"

static char dir[256];
static char key_path[320];

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
    tl_path(key_path, sizeof(key_path), dir, "smk.key");
}

static void teardown(void)
{
    tl_rmtree(dir);
}

TestSuite(smk, .init = setup, .fini = teardown);

static int is_hex32(const char *s)
{
    return strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

Test(smk, create_makes_private_file_and_round_trips)
{
    struct eng_kek_provider *p = eng_smk_open(key_path, 1);
    cr_assert_not_null(p, "%s", eng_strerror(eng_errno()));
    struct stat st;
    cr_assert_eq(stat(key_path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0);
    cr_assert_str_eq(ref.provider, "smk");
    cr_assert_str_eq(ref.alg, ENG_SMK_ALG);
    cr_assert(is_hex32(ref.key_id));
    cr_assert(is_hex32(ref.version));
    for (int mode = ENG_MODE_XTS; mode <= ENG_MODE_GCM; mode++) {
        uint8_t dek[64], back[64], wrapped[ENG_WRAPPED_MAX];
        size_t dek_len = eng_dek_len((enum eng_mode)mode), wlen, blen;
        cr_assert_eq(eng_dek_generate((enum eng_mode)mode, dek, sizeof(dek)), 0);
        cr_assert_eq(eng_kek_wrap(p, &ref, wrapped, &wlen, sizeof(wrapped), dek, dek_len), 0);
        cr_assert_eq(wlen, dek_len + 8, "RFC 5649 adds one 8-byte block to a multiple of 8");
        cr_assert_eq(eng_kek_unwrap(p, &ref, back, &blen, sizeof(back), wrapped, wlen), 0);
        cr_assert_eq(blen, dek_len);
        cr_assert_eq(memcmp(dek, back, dek_len), 0);
    }
    eng_kek_provider_free(p);
}

Test(smk, reopen_keeps_the_same_key)
{
    struct eng_kek_provider *a = eng_smk_open(key_path, 1);
    struct eng_kek_provider *b = eng_smk_open(key_path, 1);
    cr_assert(a != NULL && b != NULL);
    struct eng_kek_ref ra, rb;
    cr_assert_eq(eng_kek_get(a, NULL, &ra), 0);
    cr_assert_eq(eng_kek_get(b, NULL, &rb), 0);
    cr_assert_str_eq(ra.key_id, rb.key_id);
    cr_assert_str_eq(ra.version, rb.version);
    eng_kek_provider_free(a);
    eng_kek_provider_free(b);
}

Test(smk, missing_file_without_create_is_not_found)
{
    cr_assert_null(eng_smk_open(key_path, 0));
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_NOT_FOUND);
}

/* A provider over a key file holding the vector's KEK, and that KEK's ref. */
static struct eng_kek_provider *vector_provider(const uint8_t k[32], struct eng_kek_ref *ref)
{
    cr_assert_eq(tl_write_key_file(key_path, k), 0);
    struct eng_kek_provider *p = eng_smk_open(key_path, 0);
    cr_assert_not_null(p);
    cr_assert_eq(eng_kek_get(p, NULL, ref), 0);
    return p;
}

/* NIST SP 800-38F KWP-AE vectors, AES-256: our provider's wrap equals the CAVP ciphertext. */
Test(smk, cavp_kwp_ae_256_vectors)
{
    static struct tl_kw_vector v[600];
    int n = tl_kw_vectors(KWP_DIR "KWP_AE_256.txt", v, 600);
    cr_assert_gt(n, 100, "vector file missing or short");
    int checked = 0;
    for (int i = 0; i < n; i++) {
        if (v[i].p_len == 0 || v[i].p_len > ENG_DEK_MAX_BYTES) {
            continue;
        }
        struct eng_kek_ref ref;
        struct eng_kek_provider *p = vector_provider(v[i].k, &ref);
        uint8_t out[ENG_WRAPPED_MAX];
        size_t out_len;
        cr_assert_eq(eng_kek_wrap(p, &ref, out, &out_len, sizeof(out), v[i].p, v[i].p_len), 0);
        cr_assert_eq(out_len, v[i].c_len, "vector %d", i);
        cr_assert_eq(memcmp(out, v[i].c, out_len), 0, "vector %d", i);
        eng_kek_provider_free(p);
        checked++;
    }
    cr_assert_gt(checked, 20);
}

/* KWP-AD vectors: valid ones unwrap to P, the FAIL ones give ENG_ERR_UNWRAP. */
Test(smk, cavp_kwp_ad_256_vectors)
{
    static struct tl_kw_vector v[600];
    int n = tl_kw_vectors(KWP_DIR "KWP_AD_256.txt", v, 600);
    cr_assert_gt(n, 100);
    int ok = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        if (v[i].c_len > ENG_DEK_MAX_BYTES + 8 || (!v[i].fail && v[i].p_len == 0)) {
            continue;
        }
        struct eng_kek_ref ref;
        struct eng_kek_provider *p = vector_provider(v[i].k, &ref);
        uint8_t out[ENG_WRAPPED_MAX];
        size_t out_len;
        int rc = eng_kek_unwrap(p, &ref, out, &out_len, sizeof(out), v[i].c, v[i].c_len);
        if (v[i].fail) {
            cr_assert_eq(rc, -1, "vector %d must fail", i);
            cr_assert_eq(eng_errno(), ENG_ERR_UNWRAP);
            bad++;
        } else {
            cr_assert_eq(rc, 0, "vector %d: %s", i, eng_error_name(eng_errno()));
            cr_assert_eq(out_len, v[i].p_len);
            cr_assert_eq(memcmp(out, v[i].p, out_len), 0);
            ok++;
        }
        eng_kek_provider_free(p);
    }
    cr_assert_gt(ok, 10);
    cr_assert_gt(bad, 5);
}

Test(smk, permissions_0644_refused)
{
    struct eng_kek_provider *p = eng_smk_open(key_path, 1);
    cr_assert_not_null(p);
    cr_assert_eq(chmod(key_path, 0644), 0);
    cr_assert_null(eng_smk_open(key_path, 0));
    cr_assert_eq(eng_errno(), ENG_ERR_PERM_LOOSE);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1, "an open provider re-checks every time");
    cr_assert_eq(eng_errno(), ENG_ERR_PERM_LOOSE);
    cr_assert_eq(chmod(key_path, 0640), 0);
    cr_assert_null(eng_smk_open(key_path, 0));
    cr_assert_eq(eng_errno(), ENG_ERR_PERM_LOOSE);
    cr_assert_eq(chmod(key_path, 0400), 0);
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0, "stricter than 0600 is fine");
    eng_kek_provider_free(p);
}

Test(smk, foreign_owner_refused)
{
    if (geteuid() != 0) {
        cr_skip_test("needs root to chown");
    }
    struct eng_kek_provider *p = eng_smk_open(key_path, 1);
    cr_assert_not_null(p);
    cr_assert_eq(chown(key_path, 1, 1), 0);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_PERM_OWNER);
    eng_kek_provider_free(p);
}

Test(smk, symlink_refused)
{
    struct eng_kek_provider *p = eng_smk_open(key_path, 1);
    cr_assert_not_null(p);
    eng_kek_provider_free(p);
    char link_path[400];
    tl_path(link_path, sizeof(link_path), dir, "link.key");
    cr_assert_eq(symlink(key_path, link_path), 0);
    cr_assert_null(eng_smk_open(link_path, 0));
    cr_assert_eq(eng_errno(), ENG_ERR_NOT_REGULAR, "got %s", eng_error_name(eng_errno()));
}

Test(smk, deleted_file_is_not_found)
{
    struct eng_kek_provider *p = eng_smk_open(key_path, 1);
    cr_assert_not_null(p);
    cr_assert_eq(unlink(key_path), 0);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_NOT_FOUND);
    eng_kek_provider_free(p);
}

Test(smk, rotation_keeps_old_versions)
{
    struct eng_kek_provider *p = eng_smk_open(key_path, 1);
    cr_assert_not_null(p);
    struct eng_kek_ref old_ref, new_ref;
    cr_assert_eq(eng_kek_get(p, NULL, &old_ref), 0);
    uint8_t dek[32] = {1, 2, 3}, back[64], w_old[ENG_WRAPPED_MAX], w_new[ENG_WRAPPED_MAX];
    size_t lo, ln, lb;
    cr_assert_eq(eng_kek_wrap(p, &old_ref, w_old, &lo, sizeof(w_old), dek, 32), 0);
    char ver[ENG_KEK_VERSION_MAX];
    cr_assert_eq(eng_smk_rotate(key_path, ver, sizeof(ver)), 0);
    cr_assert_eq(eng_kek_get(p, NULL, &new_ref), 0);
    cr_assert_str_eq(new_ref.version, ver);
    cr_assert_str_neq(new_ref.version, old_ref.version);
    cr_assert_str_eq(new_ref.key_id, old_ref.key_id);
    cr_assert_eq(eng_kek_wrap(p, &new_ref, w_new, &ln, sizeof(w_new), dek, 32), 0);
    cr_assert(memcmp(w_old, w_new, lo) != 0, "a new version is a new key");
    cr_assert_eq(eng_kek_unwrap(p, &old_ref, back, &lb, sizeof(back), w_old, lo), 0);
    cr_assert_eq(memcmp(back, dek, 32), 0);
    /* A record under the new version does not unwrap under the old one. */
    cr_assert_eq(eng_kek_unwrap(p, &old_ref, back, &lb, sizeof(back), w_new, ln), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_UNWRAP);
    struct stat st;
    cr_assert_eq(stat(key_path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    eng_kek_provider_free(p);
}

Test(smk, disabled_version_is_refused)
{
    struct eng_kek_provider *p = eng_smk_open(key_path, 1);
    cr_assert_not_null(p);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0);
    uint8_t dek[32] = {7}, back[64], w[ENG_WRAPPED_MAX];
    size_t wl, bl;
    cr_assert_eq(eng_kek_wrap(p, &ref, w, &wl, sizeof(w), dek, 32), 0);
    cr_assert_eq(eng_smk_set_enabled(key_path, ref.version, 0), 0);
    struct eng_kek_ref now;
    cr_assert_eq(eng_kek_get(p, ref.version, &now), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_DISABLED);
    cr_assert_eq(eng_kek_get(p, NULL, &now), -1, "the current version is the disabled one");
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_DISABLED);
    cr_assert_eq(eng_kek_unwrap(p, &ref, back, &bl, sizeof(back), w, wl), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_DISABLED);
    cr_assert_eq(eng_smk_set_enabled(key_path, ref.version, 1), 0);
    cr_assert_eq(eng_kek_unwrap(p, &ref, back, &bl, sizeof(back), w, wl), 0);
    cr_assert_eq(eng_smk_set_enabled(key_path, "00000000000000000000000000000000", 0), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_NOT_FOUND);
    eng_kek_provider_free(p);
}

Test(smk, corrupt_or_truncated_key_file)
{
    struct eng_kek_provider *p = eng_smk_open(key_path, 1);
    cr_assert_not_null(p);
    size_t len;
    uint8_t *orig = tl_read_file(key_path, &len);
    cr_assert_not_null(orig);
    struct eng_kek_ref ref;
    for (size_t off = 0; off < len; off += 7) {
        cr_assert_eq(tl_flip_bit(key_path, off, (int)(off % 8)), 0);
        cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
        cr_assert_eq(eng_errno(), ENG_ERR_KEYFILE_CORRUPT, "bit at %zu", off);
        cr_assert_eq(tl_flip_bit(key_path, off, (int)(off % 8)), 0);
    }
    for (size_t cut = 0; cut < len; cut += 5) {
        cr_assert_eq(tl_write_file(key_path, orig, cut), 0);
        cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
        cr_assert_eq(eng_errno(), ENG_ERR_KEYFILE_CORRUPT, "cut at %zu", cut);
    }
    cr_assert_eq(tl_write_file(key_path, orig, len), 0);
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0);
    free(orig);
    eng_kek_provider_free(p);
}

Test(smk, wrong_kek_or_tampered_record)
{
    uint8_t k1[32], k2[32];
    memset(k1, 0xa5, sizeof(k1));
    memset(k2, 0x5a, sizeof(k2));
    cr_assert_eq(tl_write_key_file(key_path, k1), 0);
    struct eng_kek_provider *p = eng_smk_open(key_path, 0);
    cr_assert_not_null(p);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0);
    uint8_t dek[32] = {9}, back[64], w[ENG_WRAPPED_MAX];
    size_t wl, bl;
    cr_assert_eq(eng_kek_wrap(p, &ref, w, &wl, sizeof(w), dek, 32), 0);
    w[3] ^= 1;
    cr_assert_eq(eng_kek_unwrap(p, &ref, back, &bl, sizeof(back), w, wl), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_UNWRAP);
    w[3] ^= 1;
    /* Same key id and version, different key bytes: the wrap integrity check catches it. */
    cr_assert_eq(tl_write_key_file(key_path, k2), 0);
    cr_assert_eq(eng_kek_unwrap(p, &ref, back, &bl, sizeof(back), w, wl), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_UNWRAP);
    /* Another key file altogether (another key id). */
    char other[400];
    tl_path(other, sizeof(other), dir, "other.key");
    struct eng_kek_provider *q = eng_smk_open(other, 1);
    cr_assert_not_null(q);
    cr_assert_eq(eng_kek_unwrap(q, &ref, back, &bl, sizeof(back), w, wl), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_MISMATCH);
    eng_kek_provider_free(p);
    eng_kek_provider_free(q);
}

Test(smk, argument_checks)
{
    struct eng_kek_provider *p = eng_smk_open(key_path, 1);
    cr_assert_not_null(p);
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0);
    uint8_t big[ENG_WRAPPED_MAX + 1] = {0}, out[64];
    size_t n;
    cr_assert_eq(eng_kek_unwrap(p, &ref, out, &n, sizeof(out), big, sizeof(big)), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_WRAPPED_LEN);
    cr_assert_eq(eng_kek_wrap(p, &ref, out, &n, sizeof(out), big, 65), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEY_LEN);
    cr_assert_eq(eng_kek_wrap(p, &ref, out, &n, 16, big, 32), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_WRAPPED_LEN);
    cr_assert_eq(eng_kek_get(NULL, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_NULL);
    cr_assert_eq(eng_kek_get(p, "ffffffffffffffffffffffffffffffff", &ref), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_NOT_FOUND);
    eng_kek_provider_free(p);
}

Test(dek, generate_fresh_keys_of_the_right_size)
{
    uint8_t a[64], b[64];
    cr_assert_eq(eng_dek_len(ENG_MODE_XTS), 64);
    cr_assert_eq(eng_dek_len(ENG_MODE_GCM), 32);
    cr_assert_eq(eng_dek_generate(ENG_MODE_XTS, a, sizeof(a)), 0);
    cr_assert_eq(eng_dek_generate(ENG_MODE_XTS, b, sizeof(b)), 0);
    cr_assert(memcmp(a, b, 64) != 0);
    cr_assert(memcmp(a, a + 32, 32) != 0);
    cr_assert_eq(eng_dek_generate(ENG_MODE_XTS, a, 32), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEY_LEN);
}

Test(kek, error_classes)
{
    cr_assert(eng_kek_error_is_revocation(ENG_ERR_KEK_NOT_FOUND));
    cr_assert(eng_kek_error_is_revocation(ENG_ERR_KEK_DISABLED));
    cr_assert(eng_kek_error_is_revocation(ENG_ERR_KEK_FORBIDDEN));
    cr_assert(!eng_kek_error_is_revocation(ENG_ERR_VAULT_THROTTLED));
    cr_assert(eng_kek_error_is_transient(ENG_ERR_VAULT_THROTTLED));
    cr_assert(eng_kek_error_is_transient(ENG_ERR_VAULT_UNREACHABLE));
    cr_assert(!eng_kek_error_is_transient(ENG_ERR_KEK_DISABLED));
    cr_assert_eq(eng_error_category(ENG_ERR_INACCESSIBLE), ENG_CAT_KEY);
    cr_assert_eq(eng_error_category(ENG_ERR_VAULT_THROTTLED), ENG_CAT_VAULT);
    cr_assert_str_eq(eng_error_name(ENG_ERR_PERM_LOOSE), "ENG_ERR_PERM_LOOSE");
}
