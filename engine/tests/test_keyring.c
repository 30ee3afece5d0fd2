/*
 * test_keyring.c - eng_keyring.h: a master DEK under the store's key table,
 * HKDF derivations from it; the same keys after reopen and KEK rotation,
 * distinct keys per context and per keyring; revocation wipes the master
 * DEK (derive fails with ENG_ERR_INACCESSIBLE); a transient error within
 * the grace does not; the folder lock; a wrong KEK is refused.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "eng_keyring.h"
#include "eng_secure.h"
#include "store_helpers.h"

static char dir[256];
static char ring[300];
static char key[300];

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
    tl_path(ring, sizeof(ring), dir, "ring");
    tl_path(key, sizeof(key), dir, "smk.key");
}

static void teardown(void)
{
    tl_rmtree(dir);
}

TestSuite(keyring, .init = setup, .fini = teardown, .timeout = 60);

static const uint8_t nonce_a[32] = {1};
static const uint8_t nonce_b[32] = {2};

static void derive(struct eng_keyring *kr, const uint8_t *nonce, uint8_t out[64])
{
    cr_assert_eq(eng_keyring_derive(kr, "test ", nonce, 32, out, 64), 0, "%s",
                 eng_error_name(eng_errno()));
}

Test(keyring, derivations_survive_reopen_and_kek_rotation)
{
    struct eng_kek_provider *kek = eng_smk_open(key, 1);
    cr_assert_not_null(kek);
    struct eng_keyring_config cfg;
    eng_keyring_config_init(&cfg);
    struct eng_keyring *kr = eng_keyring_create(ring, kek, &cfg);
    cr_assert_not_null(kr, "%s", eng_error_name(eng_errno()));
    uint8_t a[64], b[64], a2[64], other[64];
    derive(kr, nonce_a, a);
    derive(kr, nonce_b, b);
    cr_assert_neq(memcmp(a, b, 64), 0, "another context, another key");
    struct eng_store_info in;
    cr_assert_eq(eng_keyring_info(kr, &in), 0);
    cr_assert_eq(in.mode, ENG_MODE_XTS);
    cr_assert_eq(in.unit_size, 4096);
    /* the lock: a second writer is refused while open */
    cr_assert_null(eng_keyring_open(ring, kek, &cfg));
    cr_assert_eq(eng_errno(), ENG_ERR_STORE_BUSY);
    eng_keyring_close(kr);

    cr_assert_eq(eng_smk_rotate(key, NULL, 0), 0);
    kr = eng_keyring_open(ring, kek, &cfg);
    cr_assert_not_null(kr);
    cr_assert_eq(eng_keyring_rotate_kek(kr), 0);
    eng_keyring_close(kr);
    kr = eng_keyring_open(ring, kek, &cfg);
    cr_assert_not_null(kr);
    derive(kr, nonce_a, a2);
    cr_assert_eq(memcmp(a, a2, 64), 0, "the same key after reopen and KEK rotation");
    eng_keyring_close(kr);

    /* another keyring, the same context: another key */
    char ring2[320];
    tl_path(ring2, sizeof(ring2), dir, "ring2");
    kr = eng_keyring_create(ring2, kek, &cfg);
    cr_assert_not_null(kr);
    derive(kr, nonce_a, other);
    cr_assert_neq(memcmp(a, other, 64), 0);
    eng_keyring_close(kr);
    eng_kek_provider_free(kek);

    /* a different KEK cannot open it */
    char key2[320];
    tl_path(key2, sizeof(key2), dir, "other.key");
    kek = eng_smk_open(key2, 1);
    cr_assert_null(eng_keyring_open(ring, kek, &cfg));
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_MISMATCH, "%s", eng_error_name(eng_errno()));
    eng_kek_provider_free(kek);
}

Test(keyring, revocation_wipes_the_master_key)
{
    struct tl_switch sw;
    memset(&sw, 0, sizeof(sw));
    struct eng_kek_provider *kek = tl_switch_provider(&sw, eng_smk_open(key, 1));
    struct eng_keyring_config cfg;
    eng_keyring_config_init(&cfg);
    cfg.revalidate_s = 1;
    cfg.grace_s = 3600;
    struct eng_keyring *kr = eng_keyring_create(ring, kek, &cfg);
    cr_assert_not_null(kr);
    uint8_t out[64];
    derive(kr, nonce_a, out);
    /* transient: still accessible within the grace */
    sw.fail_code = ENG_ERR_VAULT_UNREACHABLE;
    cr_assert_eq(eng_keyring_revalidate(kr), 0);
    derive(kr, nonce_a, out);
    /* revoked: inaccessible, final */
    sw.fail_code = ENG_ERR_KEK_NOT_FOUND;
    cr_assert_eq(eng_keyring_revalidate(kr), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    memset(out, 0xaa, sizeof(out));
    cr_assert_eq(eng_keyring_derive(kr, "test ", nonce_a, 32, out, 64), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    sw.fail_code = 0;
    cr_assert_eq(eng_keyring_revalidate(kr), -1, "a revoked keyring stays revoked");
    struct eng_store_info in;
    cr_assert_eq(eng_keyring_info(kr, &in), 0);
    cr_assert_eq(in.accessible, 0);
    eng_keyring_close(kr);
    eng_kek_provider_free(kek);
}

Test(keyring, bad_arguments)
{
    struct eng_keyring_config cfg;
    eng_keyring_config_init(&cfg);
    cfg.mode = ENG_MODE_CTR;
    struct eng_kek_provider *kek = eng_smk_open(key, 1);
    cr_assert_null(eng_keyring_create(ring, kek, &cfg));
    cr_assert_eq(eng_errno(), ENG_ERR_MODE);
    cfg.mode = ENG_MODE_XTS;
    struct eng_keyring *kr = eng_keyring_create(ring, kek, &cfg);
    cr_assert_not_null(kr);
    uint8_t out[64];
    cr_assert_eq(eng_keyring_derive(kr, "x", NULL, 0, out, 0), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_ARG);
    cr_assert_eq(eng_keyring_derive(NULL, "x", NULL, 0, out, 64), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_NULL);
    eng_keyring_close(kr);
    eng_kek_provider_free(kek);
}
