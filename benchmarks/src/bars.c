/*
 * bars.c - the verdicts behind the printed bars, apart from the printing
 * (barsprint.c) so that tests can check them on known figures: which cells a
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

/* The cipher cell a store cell runs on: engine, same group, back end and path, one thread. */
struct bench_cell *bench_find_cipher_of(struct bench_cell *cells, size_t n,
                                        const struct bench_cell *s)
{
    for (size_t i = 0; i < n; i++) {
        struct bench_cell *c = &cells[i];
        if (c->kind == BENCH_KIND_ENGINE && !c->twin && c->skip_reason == NULL && c->nsamples > 0 &&
            c->group == s->group && c->ran_backend == s->ran_backend &&
            c->ran_arch == s->ran_arch && c->threads == 1) {
            return c;
        }
    }
    return NULL;
}

const char *bench_medium_name(enum bench_medium m)
{
    return m == BENCH_MEDIUM_FILE ? "file" : "memory";
}

/* Prints one paired ratio line of verdict |v| (bench_ratio_verdict's) and returns |v|. */
int bench_print_ratio(FILE *f, const char *name, int v, const struct bench_ratio *r, double bar)
{
    if (v < 0) {
        fprintf(f, "  %-50s    n/a  not measured in this run\n", name);
        return -1;
    }
    char ci[48];
    snprintf(ci, sizeof(ci), "[%.3f, %.3f] (%.0f%%)", r->lo, r->hi, r->level * 100);
    if (bar > 0) {
        fprintf(f, "  %-50s %6.3fx %-24s (>= %.2fx)  %s\n", name, r->median, ci, bar,
                v == 0 ? "PASS" : "FAIL");
    } else {
        fprintf(f, "  %-50s %6.3fx %-24s\n", name, r->median, ci);
    }
    return v;
}

/* Prints one paired ratio line; returns 1 if a bar was failed, 0 if met, -1 if not measured. */
int bench_ratio_line(FILE *f, const char *name, const struct bench_cell *a,
                     const struct bench_cell *b, double bar)
{
    struct bench_ratio r;
    return bench_print_ratio(f, name, bench_ratio_verdict(a, b, bar, &r), &r, bar);
}
