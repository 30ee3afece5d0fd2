/*
 * test_bars.c - the bars' verdicts (bars.c) on known per-round figures:
 * which cells the CMK/SMK store bar pairs, which way round it divides
 * (CMK over SMK: a slower CMK store gives a ratio below 1), and where it
 * passes (BENCH_CMK_SMK_MIN_RATIO, 0.98).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "bench.h"

#define ROUNDS 9

/* SMK GB/s per round: a drifting machine (every cell of the group slows down alike). */
static const double smk_gbps[ROUNDS] = {4.0, 3.6, 4.4, 2.0, 3.0, 4.2, 3.8, 2.6, 3.4};

/* A measured store cell of group 7 whose round i runs at scale x smk_gbps[i]. */
static void store_cell(struct bench_cell *c, const char *keys, enum eng_mode mode, double scale)
{
    memset(c, 0, sizeof(*c));
    c->kind = BENCH_KIND_STORE;
    c->mode = mode;
    c->dir = ENG_ENCRYPT;
    c->medium = BENCH_MEDIUM_MEMORY;
    c->threads = 1;
    c->keys = keys;
    c->group = 7;
    c->nsamples = ROUNDS;
    for (size_t i = 0; i < ROUNDS; i++) {
        c->gbps[i] = smk_gbps[i] * scale;
    }
}

/* The XTS write bar over cells {smk, cmk at |cmk_scale|} (SMK first: order in the array is not
 * the order of the division). */
static int xts_bar(double cmk_scale, struct bench_ratio *r, struct bench_cell **cmk,
                   struct bench_cell cells[3])
{
    store_cell(&cells[0], "smk", ENG_MODE_XTS, 1.0);
    store_cell(&cells[1], "cmk", ENG_MODE_XTS, cmk_scale);
    /* a decoy: the GCM CMK store at a tenth of the speed must not be picked */
    store_cell(&cells[2], "cmk", ENG_MODE_GCM, 0.1);
    return bench_cmk_smk_bar(cells, 3, ENG_MODE_XTS, ENG_ENCRYPT, BENCH_MEDIUM_MEMORY, 1, r, cmk);
}

Test(bench_bars, cmk_at_half_the_smk_speed_fails)
{
    struct bench_cell cells[3], *cmk = NULL;
    struct bench_ratio r;
    cr_assert_eq(xts_bar(0.5, &r, &cmk, cells), 1,
                 "CMK at half the SMK speed must FAIL the 0.98 bar");
    cr_assert_float_eq(r.median, 0.5, 1e-12, "CMK/SMK, not SMK/CMK: median %f", r.median);
    cr_assert_float_eq(r.lo, 0.5, 1e-12);
    cr_assert_float_eq(r.hi, 0.5, 1e-12);
    cr_assert_eq(cmk, &cells[1]);
}

Test(bench_bars, cmk_equal_to_smk_passes)
{
    struct bench_cell cells[3], *cmk = NULL;
    struct bench_ratio r;
    cr_assert_eq(xts_bar(1.0, &r, &cmk, cells), 0, "CMK as fast as SMK must PASS");
    cr_assert_float_eq(r.median, 1.0, 1e-12);
    cr_assert_eq(cmk, &cells[1]);
}

Test(bench_bars, ratio_is_cmk_over_smk)
{
    struct bench_cell cells[3];
    struct bench_ratio r;
    /* a faster CMK store is above 1 and passes */
    cr_assert_eq(xts_bar(1.25, &r, NULL, cells), 0);
    cr_assert_float_eq(r.median, 1.25, 1e-12);
    /* just under the bar fails, at the bar passes */
    cr_assert_eq(xts_bar(0.97, &r, NULL, cells), 1);
    cr_assert_float_eq(r.median, 0.97, 1e-12);
    cr_assert_eq(xts_bar(BENCH_CMK_SMK_MIN_RATIO, &r, NULL, cells), 0);
}

Test(bench_bars, the_bar_is_on_the_median_of_the_rounds)
{
    /* two bad rounds (0.5) among nine at 1.0: the median round passes, the CI's low end shows them
     */
    struct bench_cell cells[3];
    struct bench_ratio r;
    store_cell(&cells[0], "smk", ENG_MODE_XTS, 1.0);
    store_cell(&cells[1], "cmk", ENG_MODE_XTS, 1.0);
    store_cell(&cells[2], "cmk", ENG_MODE_GCM, 0.1);
    cells[1].gbps[0] = smk_gbps[0] * 0.5;
    cells[1].gbps[3] = smk_gbps[3] * 0.5;
    cr_assert_eq(
        bench_cmk_smk_bar(cells, 3, ENG_MODE_XTS, ENG_ENCRYPT, BENCH_MEDIUM_MEMORY, 1, &r, NULL),
        0);
    cr_assert_float_eq(r.median, 1.0, 1e-12);
    cr_assert_float_eq(r.hi, 1.0, 1e-12);
    cr_assert_float_eq(r.lo, 0.5, 1e-12);
    /* five bad rounds of nine: the median is 0.5, FAIL */
    cells[1].gbps[1] = smk_gbps[1] * 0.5;
    cells[1].gbps[5] = smk_gbps[5] * 0.5;
    cells[1].gbps[8] = smk_gbps[8] * 0.5;
    cr_assert_eq(
        bench_cmk_smk_bar(cells, 3, ENG_MODE_XTS, ENG_ENCRYPT, BENCH_MEDIUM_MEMORY, 1, &r, NULL),
        1);
    cr_assert_float_eq(r.median, 0.5, 1e-12);
}

Test(bench_bars, unmeasured_cells_have_no_verdict)
{
    struct bench_cell cells[3], *cmk = &cells[0];
    struct bench_ratio r;
    /* no SMK cell for this mode */
    store_cell(&cells[0], "cmk", ENG_MODE_XTS, 0.5);
    cr_assert_eq(
        bench_cmk_smk_bar(cells, 1, ENG_MODE_XTS, ENG_ENCRYPT, BENCH_MEDIUM_MEMORY, 1, &r, &cmk),
        -1);
    cr_assert_eq(cmk, &cells[0]);
    /* an SMK cell that was skipped is not measured */
    store_cell(&cells[1], "smk", ENG_MODE_XTS, 1.0);
    cells[1].skip_reason = "no key file";
    cr_assert_eq(
        bench_cmk_smk_bar(cells, 2, ENG_MODE_XTS, ENG_ENCRYPT, BENCH_MEDIUM_MEMORY, 1, &r, NULL),
        -1);
    /* no CMK cell: -1 and *cmk NULL (the file medium's bar line is left out then) */
    cells[1].skip_reason = NULL;
    cr_assert_eq(bench_cmk_smk_bar(&cells[1], 1, ENG_MODE_XTS, ENG_ENCRYPT, BENCH_MEDIUM_MEMORY, 1,
                                   &r, &cmk),
                 -1);
    cr_assert_null(cmk);
    /* different groups are not paired */
    cells[0].group = 8;
    cr_assert_eq(
        bench_cmk_smk_bar(cells, 2, ENG_MODE_XTS, ENG_ENCRYPT, BENCH_MEDIUM_MEMORY, 1, &r, NULL),
        -1);
}

Test(bench_bars, ratio_verdict_without_a_bar_never_fails)
{
    struct bench_cell a, b;
    struct bench_ratio r;
    store_cell(&a, "smk", ENG_MODE_XTS, 0.25);
    store_cell(&b, "smk", ENG_MODE_XTS, 1.0);
    cr_assert_eq(bench_ratio_verdict(&a, &b, 0, &r), 0);
    cr_assert_float_eq(r.median, 0.25, 1e-12);
    cr_assert_eq(bench_ratio_verdict(&a, &b, 0.9, &r), 1);
    cr_assert_eq(bench_ratio_verdict(&b, &a, 0.9, &r), 0);
    cr_assert_float_eq(r.median, 4.0, 1e-12);
    cr_assert_eq(bench_ratio_verdict(NULL, &a, 0.9, &r), -1);
}
