/*
 * comp_result.c - the compliance results (see comp_report.h): adding rows,
 * the verdict names, the KAT totals, the failure count, and the Markdown
 * cell every rendering writes. The renderings (comp_report.c,
 * comp_summary.c, comp_oscal.c) build on it; it calls none of them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base_buf.h"
#include "comp_report.h"

const char *comp_verdict_name(enum comp_verdict v)
{
    switch (v) {
        case COMP_VERDICT_PASS:
            return "pass";
        case COMP_VERDICT_FAIL:
            return "fail";
        case COMP_VERDICT_NOT_APPLICABLE:
            return "not_applicable";
        default:
            return "fail";
    }
}

int comp_report_add_control(struct comp_report *r, const struct comp_control *c)
{
    if (base_grow(&r->controls, &r->cap_controls, r->num_controls + 1, sizeof(*c), SIZE_MAX,
                  NULL) != 0) {
        return -1;
    }
    r->controls[r->num_controls++] = *c;
    return 0;
}

int comp_report_add_kat(struct comp_report *r, const struct comp_kat_row *k)
{
    if (base_grow(&r->kats, &r->cap_kats, r->num_kats + 1, sizeof(*k), SIZE_MAX, NULL) != 0) {
        return -1;
    }
    r->kats[r->num_kats++] = *k;
    return 0;
}

void comp_report_cleanup(struct comp_report *r)
{
    free(r->controls);
    free(r->kats);
    memset(r, 0, sizeof(*r));
}

void comp_report_kat_totals(const struct comp_report *r, struct comp_kat_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; r != NULL && i < r->num_kats; i++) {
        const struct comp_kat_row *k = &r->kats[i];
        t->files += i == 0 || strcmp(k->file, r->kats[i - 1].file) != 0;
        t->passed += k->passed;
        t->failed += k->failed;
        t->skipped += k->skipped;
        t->key_cases += k->key_cases;
        t->key_ran += k->key_ran;
    }
}

size_t comp_report_failures(const struct comp_report *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->num_controls; i++) {
        n += r->controls[i].verdict == COMP_VERDICT_FAIL;
    }
    for (size_t i = 0; i < r->num_kats; i++) {
        n += r->kats[i].failed > 0;
    }
    return n;
}

void comp_md_cell(FILE *f, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '|') {
            fputs("\\|", f);
        } else if (*s == '\n') {
            fputs("; ", f);
        } else {
            fputc(*s, f);
        }
    }
}
