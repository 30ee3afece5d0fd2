/*
 * test_kinds.c - the table of kinds (kinds.h, kinds.c) and the plan made
 * from it: every row is complete and sits at its own index, every planned
 * cell and extra carries its kind's ops, cells of a group sit together in
 * table order, and no two cells or extras share a description (--list and
 * --filter tell them apart). Then the error convention on two refusals.
 *
 * The plan depends on the CPU (which paths and widths exist), so the tests
 * check properties that hold on every CPU, plus a few cells every CPU with
 * AES-NI plans (raw OpenSSL, the store cells), and nothing timed.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "bench.h"

/* The quick profile's shape (main.c), with every option on. */
static const struct bench_profile profile = {"test", {512, 8192}, 2, 5,       0.02, 1, 1, 30, 30,
                                             3,      0.2,         1, {4, 16}, 2,    3, 1, 2,  NULL};

#define MAX_CELLS  1024
#define MAX_EXTRAS 256
static struct bench_cell cells[MAX_CELLS];
static struct bench_extra xs[MAX_EXTRAS];

static void plan(struct bench_plan *pl, size_t max_cells, size_t max_xs)
{
    memset(cells, 0, sizeof(cells));
    memset(xs, 0, sizeof(xs));
    bench_plan_init(pl, &profile, cells, max_cells, xs, max_xs);
    bench_plan_cells(pl);
    bench_plan_extras(pl);
}

Test(bench_kinds, every_row_is_complete_and_at_its_index)
{
    for (int k = 0; k < BENCH_KIND_COUNT; k++) {
        const struct bench_kind_ops *o = bench_cell_kinds[k];
        cr_assert_not_null(o, "cell kind %d has no ops", k);
        cr_assert_eq((int)o->id, k, "cell kind %s at index %d has id %d", o->name, k, (int)o->id);
        cr_assert(o->name != NULL && o->plan != NULL && o->describe != NULL && o->prepare != NULL &&
                      o->run != NULL && o->release != NULL && o->json_kind != NULL,
                  "cell kind %d lacks a required hook", k);
    }
    for (int k = 0; k < BENCH_X_COUNT; k++) {
        const struct bench_extra_ops *o = bench_extra_kinds[k];
        cr_assert_not_null(o, "extra kind %d has no ops", k);
        cr_assert_eq((int)o->id, k, "extra kind %s at index %d has id %d", o->kind, k, (int)o->id);
        cr_assert(o->kind != NULL && o->unit != NULL && o->mode != NULL && o->describe != NULL &&
                      o->run != NULL,
                  "extra kind %d lacks a required field or hook", k);
    }
}

Test(bench_kinds, planned_cells_carry_their_ops_in_table_order)
{
    struct bench_plan pl;
    plan(&pl, MAX_CELLS, MAX_EXTRAS);
    cr_assert_gt(pl.ncells, 0);
    cr_assert_lt(pl.ncells, MAX_CELLS, "the plan filled the array: raise MAX_CELLS");
    size_t raw = 0, store = 0;
    for (size_t i = 0; i < pl.ncells; i++) {
        const struct bench_cell *c = &cells[i];
        cr_assert_eq(c->ops, bench_cell_kinds[c->kind], "cell %zu (%s)", i, c->label);
        cr_assert_geq(c->threads, 1, "cell %s", c->label);
        cr_assert_not_null(c->keys);
        cr_assert_neq(c->label[0], '\0');
        if (i > 0 && cells[i - 1].group == c->group) {
            cr_assert_geq((int)c->kind, (int)cells[i - 1].kind, "%s before %s: not in table order",
                          cells[i - 1].label, c->label);
        } else if (i > 0) {
            cr_assert_gt(c->group, cells[i - 1].group, "group %d is split", c->group);
        }
        raw += c->kind == BENCH_KIND_RAW && c->backend == ENG_BACKEND_OPENSSL;
        store += c->kind == BENCH_KIND_STORE;
    }
    /* OpenSSL raw: one per group (4 modes x 2 sizes x 2 directions); store cells: XTS and GCM
     * 8 KiB, both directions, smk/cmk x memory/file, smk-hmac (XTS), cmk-reval1s, and 2 more
     * per (mode, direction) on a machine with more than one core */
    cr_assert_eq(raw, 16);
    size_t per = 2 * 2 + 1 + (pl.ncores > 1 ? 2 : 0);
    cr_assert_eq(store, 2 * (per + 1) + 2 * per, "store cells: %zu", store);
    for (size_t i = 0; i < pl.ncells; i++) {
        char a[160];
        bench_describe(&cells[i], a, sizeof(a));
        for (size_t j = i + 1; j < pl.ncells; j++) {
            char b[160];
            bench_describe(&cells[j], b, sizeof(b));
            cr_assert_str_neq(a, b, "cells %zu and %zu are both '%s'", i, j, a);
        }
    }
}

Test(bench_kinds, planned_extras_carry_their_ops)
{
    struct bench_plan pl;
    plan(&pl, MAX_CELLS, MAX_EXTRAS);
    cr_assert_gt(pl.nxs, 0);
    cr_assert_lt(pl.nxs, MAX_EXTRAS);
    size_t per_type[BENCH_X_COUNT] = {0};
    for (size_t i = 0; i < pl.nxs; i++) {
        const struct bench_extra *x = &xs[i];
        cr_assert_eq(x->ops, bench_extra_kinds[x->type], "extra %s", x->label);
        cr_assert_str_eq(x->kind, x->ops->kind);
        if (x->type == BENCH_X_DB) { /* a db row's unit is its tool's */
            cr_assert(strcmp(x->unit, "MB/s") == 0 || strcmp(x->unit, "tps") == 0, "%s: %s",
                      x->label, x->unit);
        } else {
            cr_assert_str_eq(x->unit, x->ops->unit);
        }
        cr_assert_not_null(x->op, "extra %s has no operation", x->label);
        per_type[x->type]++;
        for (size_t j = i + 1; j < pl.nxs; j++) {
            cr_assert_str_neq(x->label, xs[j].label, "extras %zu and %zu are both '%s'", i, j,
                              x->label);
        }
    }
    for (int k = 0; k < BENCH_X_COUNT; k++) {
        cr_assert_gt(per_type[k], 0, "no extra of kind %s in a full profile",
                     bench_extra_kinds[k]->kind);
    }
    /* rotation: SMK and CMK per DEK count; one 1 GiB vs 4 GiB check */
    cr_assert_eq(per_type[BENCH_X_ROTATION], 4);
    cr_assert_eq(per_type[BENCH_X_ROTATION_SIZE], 1);
}

Test(bench_kinds, a_full_plan_drops_what_does_not_fit)
{
    struct bench_plan pl;
    plan(&pl, 5, 3);
    cr_assert_eq(pl.ncells, 5);
    cr_assert_eq(pl.nxs, 3);
    cr_assert_eq(cells[5].ops, NULL, "nothing written past the end");
    cr_assert_eq(xs[3].ops, NULL, "nothing written past the end");
}

Test(bench_kinds, prepare_refuses_a_bad_thread_count)
{
    struct bench_cell c = {.kind = BENCH_KIND_ENGINE, .ops = &bench_kind_engine, .threads = 0};
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(bench_cell_prepare(&c, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_ARG);
    cr_assert_str_eq(e.msg, "bad thread count");
    c.threads = BENCH_MAX_THREADS + 1;
    base_err_clear(&e);
    cr_assert_eq(bench_cell_prepare(&c, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_ARG);
}

Test(bench_kinds, a_ceiling_width_the_cpu_lacks_is_refused)
{
    /* 384 bits is no vector width: unsupported on every CPU */
    struct bench_cell c = {.mode = ENG_MODE_XTS,
                           .dir = ENG_ENCRYPT,
                           .unit_bytes = 512,
                           .batch = 4,
                           .threads = 1,
                           .width_bits = 384,
                           .group = 9000};
    struct bench_plan pl = {.profile = &profile, .cells = cells, .max_cells = 1};
    bench_plan_add(&pl, &bench_kind_ceiling, c);
    struct bench_cell *cc = &cells[0];
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(bench_cell_prepare(cc, &e), -1);
    cr_assert_eq(e.code, BENCH_ERR_CPU, "code %#x: %s", e.code, e.msg);
    cr_assert_str_eq(e.msg,
                     "the CPU lacks this width, or the batch is not a whole number of its steps");
    bench_cell_release(cc);
    for (int t = 0; t < BENCH_MAX_THREADS; t++) {
        cr_assert_null(cc->state[t], "state %d left after release", t);
    }
}
