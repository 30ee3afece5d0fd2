/*
 * bars.c - the verdicts behind the printed bars, apart from the printing
 * (output.c) so that tests can check them on known figures: which cells a
 * bar pairs, which way round it divides, and where it passes.
 */
#include <string.h>

#include "bench.h"

struct bench_cell *bench_find_store(struct bench_cell *cells, size_t n, enum eng_mode mode,
                                    enum eng_dir dir, enum bench_medium medium, const char *keys,
                                    int threads)
{
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        if (c->kind == BENCH_KIND_STORE && c->skip_reason == NULL && c->nsamples > 0 &&
            c->mode == mode && c->dir == dir && c->medium == medium && strcmp(c->keys, keys) == 0 &&
            c->threads == threads) {
            return c;
        }
    }
    return NULL;
}

int bench_ratio_verdict(const struct bench_cell *num, const struct bench_cell *den,
                        double min_ratio, struct bench_ratio *r)
{
    memset(r, 0, sizeof(*r));
    if (num == NULL || den == NULL ||
        bench_paired_ratio(num, den, &r->median, &r->lo, &r->hi, &r->level) != 0) {
        return -1;
    }
    return min_ratio > 0 && r->median < min_ratio;
}

int bench_cmk_smk_bar(struct bench_cell *cells, size_t n, enum eng_mode mode, enum eng_dir dir,
                      enum bench_medium medium, int threads, struct bench_ratio *r,
                      struct bench_cell **cmk)
{
    struct bench_cell *c = bench_find_store(cells, n, mode, dir, medium, "cmk", threads);
    struct bench_cell *s = bench_find_store(cells, n, mode, dir, medium, "smk", threads);
    if (cmk != NULL) {
        *cmk = c;
    }
    return bench_ratio_verdict(c, s, BENCH_CMK_SMK_MIN_RATIO, r);
}
