/*
 * kinds.c - the table of kinds (rows in kinds.h) and what walks it: the
 * planner (the cells of every group in row order, then the extras) and the
 * kinds' own printed sections.
 */
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "eng_cpu.h"

#define BENCH_KIND_ROW_(id, name) [BENCH_KIND_##id] = &bench_kind_##name,
const struct bench_kind_ops *const bench_cell_kinds[BENCH_KIND_COUNT] = {
    BENCH_CELL_KINDS(BENCH_KIND_ROW_)};
#undef BENCH_KIND_ROW_

#define BENCH_X_ROW_(id, name) [BENCH_X_##id] = &bench_extra_##name,
const struct bench_extra_ops *const bench_extra_kinds[BENCH_X_COUNT] = {
    BENCH_EXTRA_KINDS(BENCH_X_ROW_)};
#undef BENCH_X_ROW_

void bench_plan_init(struct bench_plan *pl, const struct bench_profile *p, struct bench_cell *cells,
                     size_t max_cells, struct bench_extra *xs, size_t max_xs)
{
    *pl = (struct bench_plan){
        .profile = p, .cells = cells, .max_cells = max_cells, .xs = xs, .max_xs = max_xs};
    pl->ncores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    /* the best path within the ENG_ARCH cap: ENG_ARCH=vaes-avx2 measures as on a Zen 3 */
    pl->best = eng_cpu_best_arch();
    (void)eng_arch_effective(ENG_ARCH_AUTO, &pl->best);
}

void bench_plan_cells(struct bench_plan *pl)
{
    const struct bench_profile *p = pl->profile;
    int group = 0;
    for (int m = 0; m < ENG_MODE_COUNT; m++) {
        for (size_t si = 0; si < p->nsizes; si++) {
            for (int d = 0; d < 2; d++) {
                struct bench_cell base = {.mode = (enum eng_mode)m,
                                          .dir = (enum eng_dir)d,
                                          .unit_bytes = p->sizes[si],
                                          .group = group++};
                base.batch = base.unit_bytes >= (1 << 20) ? 8 : 64;
                for (int k = 0; k < BENCH_KIND_COUNT; k++) {
                    if (bench_cell_kinds[k]->plan != NULL) {
                        bench_cell_kinds[k]->plan(pl, &base);
                    }
                }
            }
        }
    }
}

void bench_plan_extras(struct bench_plan *pl)
{
    const char *only = pl->profile->only_kind;
    for (int k = 0; k < BENCH_X_COUNT; k++) {
        if (only != NULL && strcmp(bench_extra_kinds[k]->kind, only) != 0) {
            continue;
        }
        if (bench_extra_kinds[k]->plan != NULL) {
            bench_extra_kinds[k]->plan(pl);
        }
    }
}

void bench_print_sections(FILE *f, struct bench_cell *cells, size_t n)
{
    for (int k = 0; k < BENCH_KIND_COUNT; k++) {
        if (bench_cell_kinds[k]->print != NULL) {
            bench_cell_kinds[k]->print(f, cells, n);
        }
    }
}

void bench_print_extra_sections(FILE *f, struct bench_extra *xs, size_t nx)
{
    for (int k = 0; k < BENCH_X_COUNT; k++) {
        const struct bench_extra_ops *o = bench_extra_kinds[k];
        for (size_t i = 0; o->print_section != NULL && i < nx; i++) {
            if (xs[i].ops == o) {
                o->print_section(f, xs, nx);
                break;
            }
        }
    }
}
