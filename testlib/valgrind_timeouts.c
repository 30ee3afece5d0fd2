/*
 * valgrind_timeouts.c - under make valgrind (CMK_UNDER_VALGRIND=1), every
 * Criterion timeout of the program is multiplied by VMT_VALGRIND_SLOWDOWN:
 * memcheck runs the tests and every process they start (vault-mock, cmk)
 * 20-50 times slower, and a timeout that fits a native run would fail a
 * clean program. Linked (as an object: see testlib.mk) into the engine, fs,
 * compliance and vault-mock test programs.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/internal/ordered-set.h>

#include "vmt_client.h"

#define VMT_VALGRIND_SLOWDOWN 10.0

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    if (!vmt_under_valgrind()) {
        return;
    }
    FOREACH_SET(struct criterion_suite_set * ss, set->suites)
    {
        if (ss->suite.data != NULL && ss->suite.data->timeout > 0) {
            ss->suite.data->timeout *= VMT_VALGRIND_SLOWDOWN;
        }
        FOREACH_SET(struct criterion_test * t, ss->tests)
        {
            if (t->data != NULL && t->data->timeout > 0) {
                t->data->timeout *= VMT_VALGRIND_SLOWDOWN;
            }
        }
    }
}
