/*
 * cell.c - the generic layer of cells and extras: adding them to a plan,
 * and preparing, running, releasing and naming them through their kind's
 * ops (kinds.h). It knows no kind: a new kind needs nothing here.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

size_t bench_profile_rsa_sizes(const struct bench_profile *p, const int **sizes)
{
    static const int all[] = {2048, 3072, 4096};
    *sizes = all;
    return p->all_rsa ? 3 : 2;
}

void bench_plan_add(struct bench_plan *pl, const struct bench_kind_ops *ops, struct bench_cell c)
{
    if (pl->ncells >= pl->max_cells) {
        return;
    }
    c.kind = ops->id;
    c.ops = ops;
    ops->describe(&c, c.label, sizeof(c.label));
    c.threads = c.threads > 0 ? c.threads : 1;
    if (c.keys == NULL) {
        c.keys = "none";
    }
    pl->cells[pl->ncells++] = c;
}

void bench_plan_add_extra(struct bench_plan *pl, const struct bench_extra_ops *ops,
                          struct bench_extra x)
{
    if (pl->nxs >= pl->max_xs) {
        return;
    }
    char rsa[16] = "";
    if (x.rsa_bits > 0) {
        snprintf(rsa, sizeof(rsa), " RSA-%d", x.rsa_bits);
    }
    if (x.threads < 1) {
        x.threads = 1;
    }
    x.type = ops->id;
    x.ops = ops;
    x.kind = ops->kind;
    if (x.unit == NULL) {
        x.unit = ops->unit;
    }
    if (ops->op != NULL) {
        x.op = ops->op;
    }
    ops->describe(&x, rsa, x.label, sizeof(x.label));
    pl->xs[pl->nxs++] = x;
}

int bench_cell_prepare(struct bench_cell *c, struct base_err *e)
{
    if (c->threads < 1 || c->threads > BENCH_MAX_THREADS) {
        return base_err_set(e, BASE_ERR_ARG, BASE_HERE, "bad thread count");
    }
    for (int t = 0; t < c->threads; t++) {
        if (c->ops->prepare(c, t, e) != 0) {
            return -1;
        }
    }
    return 0;
}

int bench_cell_run_once(struct bench_cell *c, int t)
{
    return c->ops->run(c, t);
}

void bench_cell_release(struct bench_cell *c)
{
    for (int t = 0; t < BENCH_MAX_THREADS; t++) {
        if (c->state[t] != NULL) {
            c->ops->release(c, t);
            c->state[t] = NULL;
        }
    }
}

const char *bench_cell_json_kind(const struct bench_cell *c)
{
    return c->ops->json_kind(c);
}

const char *bench_cell_json_backend(const struct bench_cell *c)
{
    return c->ops->json_backend != NULL ? c->ops->json_backend(c)
                                        : eng_backend_name(c->ran_backend);
}

const char *bench_cell_json_arch(const struct bench_cell *c)
{
    return c->ops->json_arch != NULL ? c->ops->json_arch(c) : eng_arch_name(c->ran_arch);
}

void bench_unit_str(char *out, size_t max, size_t u)
{
    if (u >= 1024 * 1024) {
        snprintf(out, max, "%zuMiB", u >> 20);
    } else if (u >= 1024) {
        snprintf(out, max, "%zuKiB", u >> 10);
    } else {
        snprintf(out, max, "%zuB", u);
    }
}

void bench_describe(const struct bench_cell *c, char *out, size_t max)
{
    char u[24];
    bench_unit_str(u, sizeof(u), c->unit_bytes);
    snprintf(out, max, "%s %s %s", c->label, u, c->dir == ENG_ENCRYPT ? "encrypt" : "decrypt");
}

void bench_extra_free(struct bench_extra *x)
{
    free(x->samples);
    x->samples = NULL;
}

void bench_extra_sample(struct bench_extra *x, double v)
{
    if (x->nsamples < x->count) {
        x->samples[x->nsamples++] = v;
    }
}

/* Records why |x| failed (a copy; not freed: the process ends soon after). */
static int skip(struct bench_extra *x, const char *why)
{
    x->skip_reason = strdup(why);
    if (x->skip_reason == NULL) {
        x->skip_reason = "failed";
    }
    return -1;
}

int bench_extra_run(struct bench_extra *x)
{
    x->samples = calloc(x->count > 0 ? x->count : 1, sizeof(double));
    if (x->samples == NULL) {
        return skip(x, "out of memory");
    }
    int needs_vault = strcmp(x->keys, "cmk") == 0 && !x->ops->own_vault;
    if (needs_vault && !bench_vault_running()) {
        return skip(x, "the vault is not running");
    }
    struct base_err e = BASE_ERR_INIT;
    cpu_set_t saved;
    bench_affinity_widen(&saved);
    int rc = x->ops->run(x, &e);
    bench_affinity_restore(&saved);
    return rc == 0 ? 0 : skip(x, e.msg[0] != '\0' ? e.msg : "failed");
}
