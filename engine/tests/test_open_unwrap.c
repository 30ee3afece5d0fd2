/*
 * test_open_unwrap.c - a store's open unwraps the MAC key and its DEKs two at
 * a time when the provider serves calls at once, and keeps the serial
 * order's outcome: the same data, the same first error, and at most one DEK
 * unwrapped for a key table that does not authenticate.
 *
 * A scripted provider wraps the SMK provider and says it serves two calls
 * at once (or none). It knows which wrapped key each call carries (it reads
 * the store's key table), and per key can wait, fail with a given error, or
 * hand back a wrong MAC key. It counts the calls and the most in flight.
 * The waits only make overlaps certain; no assertion depends on timing.
 */
#include <criterion/criterion.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eng_store.h"
#include "error_internal.h"
#include "keytable_internal.h"
#include "store_helpers.h"

#define DEKS 8
#define KEYS (DEKS + 1) /* index 0: the MAC key; 1..DEKS: the DEKs in record order */

static char dir[256];
static char key_path[320];
static char store_dir[320];

struct script {
    struct eng_kek_provider *inner;
    struct eng_kt_wrapped wrapped[KEYS];
    int delay_ms[KEYS];
    int fail[KEYS]; /* an engine error, or 0 */
    int wrong_mac;  /* the MAC key comes back with a flipped bit */
    atomic_int calls[KEYS];
    atomic_int in_flight, max_in_flight, unknown;
};

static struct script sc;

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
    tl_path(key_path, sizeof(key_path), dir, "smk.key");
    tl_path(store_dir, sizeof(store_dir), dir, "store");
    memset(&sc, 0, sizeof(sc));
}

static void teardown(void)
{
    eng_kek_provider_free(sc.inner);
    tl_rmtree(dir);
}

TestSuite(open_unwrap, .init = setup, .fini = teardown, .timeout = 120);

static int key_index(const uint8_t *in, size_t len)
{
    for (int i = 0; i < KEYS; i++) {
        if (sc.wrapped[i].len == len && memcmp(sc.wrapped[i].bytes, in, len) == 0) {
            return i;
        }
    }
    return -1;
}

static int sc_unwrap(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                     size_t max_out_len, const uint8_t *in, size_t in_len)
{
    (void)state;
    int k = key_index(in, in_len);
    if (k < 0) {
        atomic_fetch_add(&sc.unknown, 1);
        eng_set_error_at(ENG_ERR_UNWRAP, "script: unknown wrapped key");
        return -1;
    }
    atomic_fetch_add(&sc.calls[k], 1);
    int now = atomic_fetch_add(&sc.in_flight, 1) + 1;
    int seen = atomic_load(&sc.max_in_flight);
    while (now > seen && !atomic_compare_exchange_weak(&sc.max_in_flight, &seen, now)) {
    }
    struct timespec ts = {sc.delay_ms[k] / 1000, (sc.delay_ms[k] % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    int rc = 0;
    if (sc.fail[k] != 0) {
        eng_set_error_at(sc.fail[k], "script");
        rc = -1;
    } else {
        rc = sc.inner->unwrap(sc.inner->state, kek, out, out_len, max_out_len, in, in_len);
        if (rc == 0 && k == 0 && sc.wrong_mac) {
            out[0] ^= 1;
        }
    }
    atomic_fetch_sub(&sc.in_flight, 1);
    return rc;
}

static int sc_get(void *state, const char *version, struct eng_kek_ref *out)
{
    (void)state;
    return sc.inner->get(sc.inner->state, version, out);
}

static int sc_wrap(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                   size_t max_out_len, const uint8_t *dek, size_t dek_len)
{
    (void)state;
    return sc.inner->wrap(sc.inner->state, kek, out, out_len, max_out_len, dek, dek_len);
}

static int sc_describe(void *state, const char *version, struct eng_kek_ref *out)
{
    (void)state;
    return sc.inner->describe(sc.inner->state, version, out);
}

static struct eng_kek_provider script_provider(int concurrency)
{
    return (struct eng_kek_provider){.name = sc.inner->name,
                                     .get = sc_get,
                                     .wrap = sc_wrap,
                                     .unwrap = sc_unwrap,
                                     .describe = sc_describe,
                                     .concurrency = concurrency};
}

/* A store of DEKS extents with |data| written, under the SMK; the script learns its keys. */
static void make_store(uint8_t *data, size_t len)
{
    sc.inner = eng_smk_open(key_path, 1);
    cr_assert_not_null(sc.inner, "%s", eng_error_name(eng_errno()));
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.mode = ENG_MODE_XTS;
    cfg.unit_size = 4096;
    cfg.extent_units = 4;
    cfg.num_units = DEKS * 4;
    cr_assert_eq(len, cfg.num_units * cfg.unit_size);
    struct eng_store *s = eng_store_create(store_dir, sc.inner, &cfg);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    RAND_bytes(data, (int)len);
    cr_assert_eq(eng_store_write(s, 0, cfg.num_units, data), 0);
    eng_store_close(s);

    char p[400];
    tl_path(p, sizeof(p), store_dir, "keytable");
    struct eng_keytable kt;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    cr_assert_eq(eng_kt_load(p, &kt, &raw, &raw_len), 0);
    sc.wrapped[0] = kt.mac_key;
    int k = 1;
    for (uint32_t i = 0; i < kt.num_records; i++) {
        if (kt.records[i].state == ENG_KT_ACTIVE) {
            cr_assert_lt(k, KEYS);
            sc.wrapped[k++] = kt.records[i].w;
        }
    }
    cr_assert_eq(k, KEYS, "%d active DEKs", k - 1);
    free(raw);
    eng_kt_cleanup(&kt);
}

static int dek_calls(void)
{
    int n = 0;
    for (int i = 1; i < KEYS; i++) {
        n += atomic_load(&sc.calls[i]);
    }
    return n;
}

static void reset_counts(void)
{
    for (int i = 0; i < KEYS; i++) {
        atomic_store(&sc.calls[i], 0);
    }
    atomic_store(&sc.max_in_flight, 0);
}

Test(open_unwrap, two_at_a_time_reads_the_same_data)
{
    static uint8_t data[DEKS * 4 * 4096], back[sizeof(data)];
    make_store(data, sizeof(data));
    for (int i = 0; i < KEYS; i++) {
        sc.delay_ms[i] = 30;
    }
    static const int conc[] = {2, 0};
    for (size_t c = 0; c < 2; c++) {
        reset_counts();
        struct eng_kek_provider p = script_provider(conc[c]);
        struct eng_store *s = eng_store_open(store_dir, &p, NULL);
        cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
        cr_assert_eq(eng_store_read(s, 0, DEKS * 4, back), 0);
        cr_assert(memcmp(data, back, sizeof(data)) == 0, "concurrency %d", conc[c]);
        eng_store_close(s);
        for (int i = 0; i < KEYS; i++) {
            cr_assert_eq(atomic_load(&sc.calls[i]), 1, "key %d unwrapped %d times", i,
                         atomic_load(&sc.calls[i]));
        }
        cr_assert_eq(atomic_load(&sc.max_in_flight), conc[c] == 2 ? 2 : 1);
    }
    cr_assert_eq(atomic_load(&sc.unknown), 0);
}

/* DEK 2 fails slowly, DEK 3 at once: the error is DEK 2's, as in a serial open. */
Test(open_unwrap, the_first_failure_in_order_is_reported)
{
    static uint8_t data[DEKS * 4 * 4096];
    make_store(data, sizeof(data));
    sc.delay_ms[2] = 150;
    sc.fail[2] = ENG_ERR_KEK_FORBIDDEN;
    sc.fail[3] = ENG_ERR_VAULT_SERVER;
    static const int conc[] = {2, 0};
    for (size_t c = 0; c < 2; c++) {
        reset_counts();
        struct eng_kek_provider p = script_provider(conc[c]);
        cr_assert_null(eng_store_open(store_dir, &p, NULL));
        cr_assert_eq(eng_errno(), ENG_ERR_KEK_FORBIDDEN, "concurrency %d: got %s", conc[c],
                     eng_error_name(eng_errno()));
        cr_assert_eq(atomic_load(&sc.calls[2]), 1);
        if (conc[c] == 0) {
            cr_assert_eq(dek_calls(), 2, "a serial open stops at the first failure");
        }
    }
}

/* A MAC key that does not authenticate the table: at most one DEK unwrapped meanwhile. */
Test(open_unwrap, a_table_that_does_not_authenticate_stops_the_unwraps)
{
    static uint8_t data[DEKS * 4 * 4096];
    make_store(data, sizeof(data));
    sc.wrong_mac = 1;
    sc.delay_ms[0] = 100; /* the helper has long finished its one DEK */
    static const int conc[] = {2, 0};
    static const int most[] = {1, 0};
    for (size_t c = 0; c < 2; c++) {
        reset_counts();
        struct eng_kek_provider p = script_provider(conc[c]);
        cr_assert_null(eng_store_open(store_dir, &p, NULL));
        cr_assert_eq(eng_errno(), ENG_ERR_KEYTABLE_AUTH, "concurrency %d: got %s", conc[c],
                     eng_error_name(eng_errno()));
        cr_assert_leq(dek_calls(), most[c], "concurrency %d: %d DEKs unwrapped", conc[c],
                      dek_calls());
    }
    /* and a MAC key that fails to unwrap: its own error */
    sc.wrong_mac = 0;
    sc.fail[0] = ENG_ERR_KEK_NOT_FOUND;
    reset_counts();
    struct eng_kek_provider p = script_provider(2);
    cr_assert_null(eng_store_open(store_dir, &p, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_NOT_FOUND, "got %s", eng_error_name(eng_errno()));
    cr_assert_leq(dek_calls(), 1);
}
