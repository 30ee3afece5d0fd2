/*
 * test_controls.c - controls run end to end against the vault-mock they
 * start: the KEK size policy, GCM tamper detection, the XTS finding and
 * the audit comparison. Verdicts that rest on elapsed time (the
 * revocation controls, the performance claim) are not asserted here: they
 * are measurements, run by make compliance.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "comp_controls.h"

TestSuite(comp_controls, .timeout = 120);

static const struct comp_control *find(const struct comp_report *r, const char *id)
{
    for (size_t i = 0; i < r->num_controls; i++) {
        if (strcmp(r->controls[i].id, id) == 0) {
            return &r->controls[i];
        }
    }
    return NULL;
}

Test(comp_controls, catalogue_ids_are_unique)
{
    const char *const *ids = comp_controls_ids();
    size_t n = 0;
    for (; ids[n] != NULL; n++) {
        for (size_t j = 0; j < n; j++) {
            cr_assert_str_neq(ids[n], ids[j]);
        }
    }
    cr_assert_geq(n, 15);
}

Test(comp_controls, policy_integrity_and_audit_end_to_end)
{
    struct comp_report rep = {0};
    struct comp_controls_options o = {.only = "CMK-POL-01,CMK-POL-02,CMK-INT-01,CMK-INT-02,CMK-AUD-01"};
    cr_assert_eq(comp_controls_run(&o, &rep), 0);
    cr_assert_eq(rep.num_controls, 5);
    const struct comp_control *c = find(&rep, "CMK-POL-01");
    cr_assert_not_null(c);
    cr_assert_eq(c->verdict, COMP_VERDICT_PASS, "%s | %s", c->reason, c->evidence);
    cr_assert_not_null(strstr(c->evidence, "create RSA 1024: 400"), "%s", c->evidence);
    c = find(&rep, "CMK-POL-02");
    cr_assert_eq(c->verdict, COMP_VERDICT_PASS, "%s", c->reason);
    c = find(&rep, "CMK-INT-01");
    cr_assert_eq(c->verdict, COMP_VERDICT_PASS, "%s | %s", c->reason, c->evidence);
    cr_assert_not_null(strstr(c->evidence, "ENG_ERR_AUTH"));
    c = find(&rep, "CMK-INT-02");
    cr_assert_eq(c->verdict, COMP_VERDICT_NOT_APPLICABLE, "%s", c->reason);
    cr_assert_eq(strncmp(c->reason, "FINDING", 7), 0, "%s", c->reason);
    c = find(&rep, "CMK-AUD-01");
    cr_assert_eq(c->verdict, COMP_VERDICT_PASS, "%s | %s", c->reason, c->evidence);
    comp_report_cleanup(&rep);
}

Test(comp_controls, unknown_id_runs_nothing)
{
    struct comp_report rep = {0};
    struct comp_controls_options o = {.only = "CMK-NOPE-99"};
    cr_assert_eq(comp_controls_run(&o, &rep), 0);
    cr_assert_eq(rep.num_controls, 0);
    comp_report_cleanup(&rep);
}
