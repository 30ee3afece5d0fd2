/*
 * test_idthrottle.c - per-identity throttling next to the vault-wide
 * limit: an identity that uses up its own share (identity_pct of the
 * vault's limit, 50 % by default) gets 429 while another identity is still
 * served; the vault-wide limit still caps the sum; identity_pct=100 turns
 * the identities' own limits off.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmt.h"

#define S (&vmt_srv)

TestSuite(idthrottle, .fini = vmt_teardown, .timeout = 120);

static const char ids_json[] =
    "{\"identities\": ["
    "{\"name\": \"officer\", \"token\": \"officer-token-0123456789\", \"permissions\": [\"all\"]},"
    "{\"name\": \"appa\", \"token\": \"appa-token-0123456789ab\","
    " \"permissions\": [\"get\", \"wrapKey\", \"unwrapKey\"]},"
    "{\"name\": \"appb\", \"token\": \"appb-token-0123456789ab\","
    " \"permissions\": [\"get\", \"wrapKey\", \"unwrapKey\"]}]}";

#define OFFICER "officer-token-0123456789"
#define APP_A   "appa-token-0123456789ab"
#define APP_B   "appb-token-0123456789ab"

/* Start the vault with three identities and |throttle|; creates RSA-2048 key "k". */
static void start(const char *throttle)
{
    char dir[] = "/tmp/vmock-ids-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    static char path[64];
    snprintf(path, sizeof(path), "%s/ids.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fputs(ids_json, f) >= 0, 1);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(path, 0600), 0);
    const char *args[] = {"--identities", path, "--throttle", throttle, NULL};
    vmt_setup_args(args);
    remove(path);
    rmdir(dir);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "POST", "/keys/k/create?" VMT_API, OFFICER,
                          "{\"kty\":\"RSA\",\"key_size\":2048}", &r),
                 200, "%s", r.body);
    vmt_resp_free(&r);
}

/* One wrapkey of "k" as |token|; the status (429 checked for its shape). */
static long wrap_as(const char *token)
{
    struct vmt_resp r;
    long st = vmt_call(S, "POST", "/keys/k/wrapkey?" VMT_API, token,
                       "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAECAwQFBgcICQoLDA0ODw\"}", &r);
    if (st == 429) {
        cr_assert_str_eq(vmt_error_code(&r), "Throttled");
        cr_assert_neq(r.retry_after[0], '\0', "429 with Retry-After");
    }
    vmt_resp_free(&r);
    return st;
}

/* Wrap as |token| until the first 429 (at most |max| calls); the number served before it. */
static int served_until_429(const char *token, int max)
{
    for (int i = 0; i < max; i++) {
        long st = wrap_as(token);
        if (st == 429) {
            return i;
        }
        cr_assert_eq(st, 200, "call %d", i);
    }
    return max;
}

Test(idthrottle, one_identity_cannot_use_up_the_vault_limit)
{
    /* a 10-minute window: no window ends during the test, however slow the machine */
    start("rsa2048=10,window_ms=600000");
    int a = served_until_429(APP_A, 50);
    cr_assert_eq(a, 5, "identity A gets its share (50 %% of 10), then 429; got %d", a);
    cr_assert_eq(wrap_as(APP_A), 429, "A stays throttled");
    cr_assert_eq(wrap_as(APP_B), 200, "identity B is still served");
    int b = served_until_429(APP_B, 50);
    cr_assert_eq(b, 4, "B's share is 5 in all; got %d more", b);
    /* the vault-wide limit still caps the sum: 10 used */
    cr_assert_eq(wrap_as(OFFICER), 429, "the vault-wide limit of 10 is reached");
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "GET", "/admin/throttle", vmt_token(S, "admin"), NULL, &r), 200);
    cr_assert_eq(vmt_num(&r, "identity_pct"), 50, "the default share");
    vmt_resp_free(&r);
}

Test(idthrottle, identity_pct_sets_the_share_and_100_turns_it_off)
{
    start("rsa2048=10,window_ms=600000,identity_pct=30");
    cr_assert_eq(served_until_429(APP_A, 50), 3, "30 %% of 10");
    cr_assert_eq(wrap_as(APP_B), 200);
    vmt_teardown();
    start("rsa2048=10,window_ms=600000,identity_pct=100");
    cr_assert_eq(served_until_429(APP_A, 50), 10, "no limit of its own: the vault's 10");
    cr_assert_eq(wrap_as(APP_B), 429, "then the vault-wide limit throttles everyone");
}

Test(idthrottle, bad_identity_pct_is_a_usage_error)
{
    char state[] = "/tmp/vmock-test-XXXXXX";
    cr_assert_not_null(mkdtemp(state));
    snprintf(vmt_srv.state, sizeof(vmt_srv.state), "%s", state);
    static const char *const bad[] = {"identity_pct=0", "identity_pct=101", "identity_pct=x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[] = {"--state", state, "--throttle", bad[i], NULL};
        cr_assert_eq(vmt_run_exit(args, 10000), 2, "%s", bad[i]);
    }
}
