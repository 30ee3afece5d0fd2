/*
 * rep_junit.h - the parts of a JUnit XML report that every writer shares,
 * to the strict Ant schema (reports/junit/JUnit.xsd): a suite's opening
 * tag with every required attribute, and its closing part (system-out
 * from a buffer, an empty system-err). The writers put `<properties>`
 * right after rep_junit_suite_open and then their test cases.
 */
#ifndef REP_JUNIT_H
#define REP_JUNIT_H

#include <stddef.h>
#include <stdio.h>

struct rep_junit_suite {
    const char *name;    /* "compliance.controls" */
    const char *package; /* "cmk-harness.compliance" */
    int id;              /* 0, 1, ... within the file */
    unsigned long tests, failures, errors, skipped;
    double time; /* seconds */
};

/*
 * rep_junit_suite_open writes `<testsuite name package id timestamp
 * hostname tests failures errors skipped time>` (timestamp: now in UTC,
 * without a zone as the schema's pattern asks; hostname from gethostname,
 * "localhost" when that fails). |indent| spaces come first.
 */
void rep_junit_suite_open(FILE *f, int indent, const struct rep_junit_suite *s);

/*
 * rep_junit_suite_close writes `<system-out>` holding |out| (escaped; may
 * be NULL), an empty `<system-err/>` and `</testsuite>`.
 */
void rep_junit_suite_close(FILE *f, int indent, const char *out);

#endif /* REP_JUNIT_H */
