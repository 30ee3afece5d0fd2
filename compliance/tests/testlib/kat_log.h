/*
 * kat_log.h - compliance-only helper of the known-answer suites: one
 * summary line per file and path (the shared helpers are in testlib/).
 */
#ifndef COMP_KAT_LOG_H
#define COMP_KAT_LOG_H

#include "comp_kat.h"
#include "kat_testlib.h"

/* tl_log_result prints one summary line for |label| on path |p| (tl_note). */
void tl_log_result(const char *label, const char *what, const struct tl_path *p,
                   const struct comp_kat_result *r);

#endif /* COMP_KAT_LOG_H */
