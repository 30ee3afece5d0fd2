/*
 * test_rules.c - unit tests of the fault-rule and throttle-spec parsers,
 * the throttling window and rule selection, without a server.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "faults.h"

Test(rules, fault_spec_parses_every_setting)
{
    struct vmock_fault r;
    struct base_err err = BASE_ERR_INIT;
    cr_assert_eq(vmock_fault_parse(&r,
                                   "op=unwrapkey,latency_ms=10,jitter_ms=5,error_rate=0.2,"
                                   "status=500,throttle_rate=0.1,drop_rate=0.05,retry_after=3",
                                   &err),
                 0, "%s", err.msg);
    cr_assert_eq(r.op, VMOCK_OP_UNWRAP);
    cr_assert_eq(r.latency_ms, 10);
    cr_assert_eq(r.jitter_ms, 5);
    cr_assert_float_eq(r.error_rate, 0.2, 1e-12);
    cr_assert_eq(r.status, 500);
    cr_assert_float_eq(r.throttle_rate, 0.1, 1e-12);
    cr_assert_float_eq(r.drop_rate, 0.05, 1e-12);
    cr_assert_eq(r.retry_after_s, 3);
    cr_assert_eq(vmock_fault_parse(&r, "op=*", &err), 0);
    cr_assert_eq(r.op, -1);
    cr_assert_eq(r.status, 503, "503 by default");
}

Test(rules, fault_spec_rejects_bad_settings)
{
    static const char *const bad[] = {
        "op=fly",          "op=admin",
        "latency_ms=-5",   "latency_ms=99999999",
        "error_rate=1.01", "error_rate=abc",
        "status=404",      "speed=3",
        "latency_ms",      "error_rate=0.6,drop_rate=0.5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vmock_fault r;
        struct base_err err = BASE_ERR_INIT;
        cr_assert_eq(vmock_fault_parse(&r, bad[i], &err), -1, "%s", bad[i]);
        cr_assert_neq(err.msg[0], '\0', "a message for %s", bad[i]);
    }
}

Test(rules, throttle_spec_and_defaults)
{
    struct vmock_throttle t;
    struct base_err err = BASE_ERR_INIT;
    vmock_throttle_init(&t);
    cr_assert_eq(t.limit[VMOCK_TC_RSA2048], 4000);
    cr_assert_eq(t.limit[VMOCK_TC_RSA3072], 1000);
    cr_assert_eq(t.limit[VMOCK_TC_RSA4096], 500);
    cr_assert_eq(t.limit[VMOCK_TC_HSM2048], 2000);
    cr_assert_eq(t.limit[VMOCK_TC_CREATE], 0);
    cr_assert_eq(t.window_ms, 10000);
    cr_assert_eq(vmock_throttle_parse(&t, "rsa2048=7,create=2,window_ms=500", &err), 0);
    cr_assert_eq(t.limit[VMOCK_TC_RSA2048], 7);
    cr_assert_eq(t.limit[VMOCK_TC_CREATE], 2);
    cr_assert_eq(t.window_ms, 500);
    cr_assert_eq(vmock_throttle_parse(&t, "off", &err), 0);
    for (int i = 0; i < VMOCK_TC_COUNT; i++) {
        cr_assert_eq(t.limit[i], 0);
    }
    cr_assert_eq(vmock_throttle_parse(&t, "rsa1024=1", &err), -1);
    cr_assert_eq(vmock_throttle_parse(&t, "window_ms=0", &err), -1);
    cr_assert_eq(vmock_throttle_parse(&t, "rsa2048", &err), -1);
    cr_assert_eq(vmock_throttle_class(2048, 0), VMOCK_TC_RSA2048);
    cr_assert_eq(vmock_throttle_class(4096, 1), VMOCK_TC_HSM4096);
    cr_assert_eq(vmock_throttle_class(1024, 0), -1);
}

Test(rules, throttle_window_counts_and_answers_retry_after)
{
    struct vmock_throttle t;
    struct base_err err = BASE_ERR_INIT;
    vmock_throttle_init(&t);
    cr_assert_eq(vmock_throttle_parse(&t, "rsa2048=2,window_ms=60000", &err), 0);
    unsigned retry = 99;
    cr_assert_eq(vmock_throttle_take(&t, VMOCK_TC_RSA2048, &retry), 0);
    cr_assert_eq(retry, 0);
    cr_assert_eq(vmock_throttle_take(&t, VMOCK_TC_RSA2048, &retry), 0);
    cr_assert_eq(vmock_throttle_take(&t, VMOCK_TC_RSA2048, &retry), 1);
    cr_assert(retry >= 1 && retry <= 60, "Retry-After %u", retry);
    cr_assert_eq(vmock_throttle_take(&t, VMOCK_TC_RSA2048, &retry), 1,
                 "refused calls do not count");
    cr_assert_eq(vmock_throttle_take(&t, VMOCK_TC_RSA3072, &retry), 0, "classes are separate");
    cr_assert_eq(vmock_throttle_take(&t, -1, &retry), 0, "unknown sizes are not limited");
}

Test(rules, the_operations_own_rule_beats_the_star_rule)
{
    struct vmock_faults f;
    struct vmock_fault star;
    struct vmock_fault get;
    struct base_err err = BASE_ERR_INIT;
    vmock_faults_init(&f);
    cr_assert_eq(vmock_fault_parse(&star, "op=*,error_rate=1,status=500", &err), 0);
    cr_assert_eq(vmock_fault_parse(&get, "op=get,latency_ms=0", &err), 0);
    cr_assert_eq(vmock_faults_add(&f, &star), 0);
    cr_assert_eq(vmock_faults_add(&f, &get), 0);
    struct vmock_fault_decision d;
    vmock_faults_decide(&f, VMOCK_OP_GET, &d);
    cr_assert_eq(d.action, VMOCK_FAULT_NONE);
    vmock_faults_decide(&f, VMOCK_OP_LIST, &d);
    cr_assert_eq(d.action, VMOCK_FAULT_ERROR);
    cr_assert_eq(d.status, 500);
    cr_assert_eq(vmock_faults_set(&f, NULL, 0), 0);
    vmock_faults_decide(&f, VMOCK_OP_LIST, &d);
    cr_assert_eq(d.action, VMOCK_FAULT_NONE);
}
