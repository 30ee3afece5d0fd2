/*
 * rep_sec_db.c - the report's database section, from bench.json's "db" rows
 * (benchmarks/SCHEMA.md, kind_db.c): per backing, every target side by side
 * (median and the interval of the median over the interleaved rounds), and
 * the ratios the bars of issue 15 compare, from per-round pairs
 * (rep_pair.c), with their intervals.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "rep_pair.h"
#include "rep_report_int.h"

#define DB_MAX 64

static int is_db(const struct rep_cell *c)
{
    return strcmp(c->kind, "db") == 0;
}

/* Distinct values of the field at |off| (backend = target, direction = workload) of db rows of
 * backing |mode|. */
static size_t distinct(const struct rep_bench *b, const char *mode, size_t off, const char **out)
{
    size_t n = 0;
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *c = &b->cells[i];
        const char *v = (const char *)c + off;
        if (!is_db(c) || strcmp(c->mode, mode) != 0) {
            continue;
        }
        size_t j = 0;
        while (j < n && strcmp(out[j], v) != 0) {
            j++;
        }
        if (j == n && n < DB_MAX) {
            out[n++] = v;
        }
    }
    return n;
}

static const struct rep_cell *find(const struct rep_bench *b, const char *mode, const char *target,
                                   const char *workload)
{
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *c = &b->cells[i];
        if (is_db(c) && strcmp(c->mode, mode) == 0 && strcmp(c->backend, target) == 0 &&
            strcmp(c->direction, workload) == 0) {
            return c;
        }
    }
    return NULL;
}

/* The pairs shown: the bars' (issue 15) and every target against the backing folder itself. */
static const char *const db_pairs[][2] = {
    {"cmkfs-cmk", "cmkfs-smk"}, {"cmkfs-smk", "cmkfs-pass"}, {"cmkfs-smk", "gocryptfs"},
    {"cmkfs-smk", "securefs"},  {"cmkfs-smk", "cryfs"},      {"cmkfs-pass", "plain"},
    {"cmkfs-smk", "plain"},     {"gocryptfs", "plain"},
};

/* Starts a table whose first |nfixed| columns are |fixed| (left) and the next |n| are |names|
 * (right). */
static void table_begin(struct rep_doc *d, size_t nfixed, const char *const *fixed,
                        const char **names, size_t n)
{
    const char *head[DB_MAX + 2];
    char align[DB_MAX + 3];
    for (size_t i = 0; i < nfixed + n; i++) {
        head[i] = i < nfixed ? fixed[i] : names[i - nfixed];
        align[i] = i < nfixed ? 'l' : 'r';
    }
    align[nfixed + n] = '\0';
    rep_doc_table_begin(d, nfixed + n, head, align);
}

static void targets_table(struct rep_doc *d, const struct rep_bench *b, const char *mode,
                          const char **targets, size_t nt, const char **works, size_t nw)
{
    static const char *const fixed[] = {"workload", "unit"};
    table_begin(d, 2, fixed, targets, nt);
    static char text[DB_MAX + 2][96];
    for (size_t w = 0; w < nw; w++) {
        const char *cells[DB_MAX + 2] = {works[w], ""};
        enum rep_cls cls[DB_MAX + 2] = {0};
        for (size_t t = 0; t < nt; t++) {
            const struct rep_cell *c = find(b, mode, targets[t], works[w]);
            if (c == NULL || !rep_cell_measured(c)) {
                snprintf(text[t], sizeof(text[t]), "not measured");
                cls[t + 2] = REP_CLS_NA;
            } else {
                char ci[64];
                rr_fmt_ci(ci, sizeof(ci), RR_F0, c->ci_low, c->ci_high);
                snprintf(text[t], sizeof(text[t]), "%.0f %s", c->median, ci);
                cells[1] = c->unit;
            }
            cells[t + 2] = text[t];
        }
        rep_doc_table_row(d, nt + 2, cells, cls);
    }
    rep_doc_table_end(d);
    /* why what is not measured is not */
    for (size_t t = 0; t < nt; t++) {
        for (size_t i = 0; i < b->ncells; i++) {
            const struct rep_cell *c = &b->cells[i];
            if (is_db(c) && strcmp(c->mode, mode) == 0 && strcmp(c->backend, targets[t]) == 0 &&
                c->skipped != NULL) {
                char line[512];
                snprintf(line, sizeof(line), "%s (%s backing) not measured: %s", targets[t], mode,
                         c->skipped);
                rep_doc_missing(d, line);
                break;
            }
        }
    }
}

static void ratios_table(struct rep_doc *d, const struct rep_bench *b, const char *mode,
                         const char **works, size_t nw)
{
    static const char *const fixed[] = {"ratio (per-round pairs)"};
    table_begin(d, 1, fixed, works, nw);
    static char text[DB_MAX + 1][96];
    for (size_t p = 0; p < sizeof(db_pairs) / sizeof(db_pairs[0]); p++) {
        char name[96];
        snprintf(name, sizeof(name), "%s / %s", db_pairs[p][0], db_pairs[p][1]);
        const char *cells[DB_MAX + 1] = {name};
        int any = 0;
        for (size_t w = 0; w < nw; w++) {
            const struct rep_cell *x = find(b, mode, db_pairs[p][0], works[w]);
            const struct rep_cell *y = find(b, mode, db_pairs[p][1], works[w]);
            struct rep_pair_stats s;
            size_t n = 0;
            double *r = x != NULL && y != NULL && rep_cell_measured(x) && rep_cell_measured(y)
                            ? rep_round_ratios(x, y, &n)
                            : NULL;
            if (r != NULL && rep_pair_summary(r, n, &s) == 0) {
                char ci[64];
                rr_fmt_ci(ci, sizeof(ci), RR_F3, s.lo, s.hi);
                snprintf(text[w], sizeof(text[w]), "%.3fx %s", s.median, ci);
                any = 1;
            } else {
                snprintf(text[w], sizeof(text[w]), "-");
            }
            free(r);
            cells[w + 1] = text[w];
        }
        if (any) {
            rep_doc_table_row(d, nw + 1, cells, NULL);
        }
    }
    rep_doc_table_end(d);
}

void rr_section_db(struct rep_doc *d, const struct rr_inputs *in)
{
    rep_doc_h2(d, REP_H_DB);
    const struct rep_bench *b = &in->bench;
    const char *modes[DB_MAX];
    size_t nm = in->have_bench ? rr_distinct_modes(b, modes, DB_MAX, is_db) : 0;
    if (nm == 0) {
        rep_doc_missing(d, in->have_bench
                               ? "Database section " REP_NOT_MEASURED
                                 ": bench.json has no db rows "
                                 "(make bench runs a short one, make bench PROFILE=db the matrix)."
                               : "Database section " REP_NOT_MEASURED
                                 ": bench.json not found (run make bench).");
        return;
    }
    rep_doc_p(d,
              "fio (MB/s) and pgbench (TPS) on each filesystem target, the targets interleaved "
              "in rounds by scripts/db/bench.sh: the median over the rounds and its "
              "distribution-free interval; ratios are medians of per-round ratios (a round's "
              "value of one target over the same round's of the other) with their intervals.");
    for (size_t m = 0; m < nm; m++) {
        const char *targets[DB_MAX], *works[DB_MAX];
        size_t nt = distinct(b, modes[m], offsetof(struct rep_cell, backend), targets);
        size_t nw = distinct(b, modes[m], offsetof(struct rep_cell, direction), works);
        char h[96];
        snprintf(h, sizeof(h), "Backing folder on %s", modes[m]);
        rep_doc_h3(d, h);
        targets_table(d, b, modes[m], targets, nt, works, nw);
        ratios_table(d, b, modes[m], works, nw);
    }
}
