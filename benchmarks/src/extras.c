/*
 * extras.c - the cold-open extras: eng_store_open + eng_store_read of
 * unit 0 (get, unwraps, MAC, first read) of a folder store under SMK or
 * CMK, with a fault or throttle rule on the vault or a new connection per
 * open, and the vault requests each open made (see benchmarks/SCHEMA.md).
 *
 * The vault-mock runs on this machine and competes with the bench for the
 * same cores: in the vault figures the server's RSA work and the client's
 * HTTPS work share them.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "eng_store.h"
#include "eng_vault.h"

static int set_fault(int ms)
{
    char body[128];
    if (ms <= 0) {
        return bench_vault_call("admin", "DELETE", "/admin/faults", NULL) == 200 ? 0 : -1;
    }
    snprintf(body, sizeof(body), "{\"faults\":[{\"op\":\"*\",\"latency_ms\":%d}]}", ms);
    return bench_vault_call("admin", "POST", "/admin/faults", body) == 200 ? 0 : -1;
}

static int set_throttle(const char *spec)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"spec\":\"%s\"}", spec);
    return bench_vault_call("admin", "POST", "/admin/throttle", body) == 200 ? 0 : -1;
}

/* Vault counters summed over providers (sign -1 to subtract a starting point). */
struct vcount {
    double requests, gets, unwraps, retries, connects;
};

static void vcount_add(struct vcount *v, const struct eng_kek_provider *p, double sign)
{
    struct eng_kek_stats st;
    if (p != NULL && eng_kek_stats(p, &st) == 0) {
        v->requests += sign * (double)st.requests;
        v->gets += sign * (double)st.gets;
        v->unwraps += sign * (double)st.unwraps;
        v->retries += sign * (double)st.retries;
        v->connects += sign * (double)st.connects;
    }
}

/* Cold opens: eng_store_open + eng_store_read of unit 0 (get, unwraps, MAC, first read). */
static int cold_open_run(struct bench_extra *x, struct base_err *e)
{
    struct eng_kek_provider *kek = bench_open_provider(x->keys, x->rsa_bits, e);
    if (kek == NULL) {
        return -1;
    }
    char dir[512];
    if (bench_make_store(kek, ENG_MODE_XTS, 1, 128, dir, sizeof(dir)) != 0) {
        eng_kek_provider_free(kek);
        return bench_fail_lib(e, "create");
    }
    uint8_t *buf = malloc(8192);
    int rc = buf == NULL ? base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "out of memory") : 0;
    if (rc == 0 && x->fault_ms > 0 && set_fault(x->fault_ms) != 0) {
        rc = base_err_set(e, BENCH_ERR_VAULT, BASE_HERE, "vault-mock refused the fault rule");
    }
    if (rc == 0 && x->throttle &&
        set_throttle("rsa2048=20,rsa3072=20,rsa4096=20,window_ms=1000") != 0) {
        rc = base_err_set(e, BENCH_ERR_VAULT, BASE_HERE, "vault-mock refused the throttle limits");
    }
    struct vcount vc = {0};
    vcount_add(&vc, kek, -1);
    for (size_t i = 0; rc == 0 && i < x->count; i++) {
        struct eng_kek_provider *p = kek;
        double t0 = bench_now();
        if (x->fresh_conn) {
            p = bench_vault_provider(x->rsa_bits);
        }
        struct eng_store *s = p != NULL ? eng_store_open(dir, p, NULL) : NULL;
        if (s == NULL || eng_store_read(s, 0, 1, buf) != 0) {
            rc = bench_fail_lib(e, "open");
        } else {
            bench_extra_sample(x, (bench_now() - t0) * 1e3);
        }
        eng_store_close(s);
        if (x->fresh_conn) {
            vcount_add(&vc, p, 1);
            eng_kek_provider_free(p);
        }
    }
    vcount_add(&vc, kek, 1);
    if (rc == 0 && strcmp(x->keys, "cmk") == 0 && x->nsamples > 0) {
        double n = (double)x->nsamples;
        snprintf(x->note, sizeof(x->note),
                 "per open: %.2f vault requests (%.2f get, %.2f unwrapkey, %.2f retries), %.2f new "
                 "connections",
                 vc.requests / n, vc.gets / n, vc.unwraps / n, vc.retries / n, vc.connects / n);
    }
    if (x->fault_ms > 0) {
        set_fault(0);
    }
    if (x->throttle) {
        set_throttle("off");
    }
    free(buf);
    eng_kek_provider_free(kek);
    bench_remove_tree(dir);
    return rc;
}

/* Cold opens: SMK, CMK per RSA size, a new connection per open, vault faults, throttling. */
static void cold_open_plan(struct bench_plan *pl)
{
    const struct bench_profile *p = pl->profile;
    const int *sizes;
    size_t nsizes = bench_profile_rsa_sizes(p, &sizes);
    const struct bench_extra_ops *ops = &bench_extra_cold_open;
    bench_plan_add_extra(pl, ops,
                         (struct bench_extra){.keys = "smk", .condition = "", .count = p->opens});
    for (size_t i = 0; i < nsizes; i++) {
        bench_plan_add_extra(
            pl, ops,
            (struct bench_extra){
                .keys = "cmk", .condition = "", .rsa_bits = sizes[i], .count = p->opens});
    }
    bench_plan_add_extra(pl, ops,
                         (struct bench_extra){.keys = "cmk",
                                              .condition = "new connection",
                                              .fresh_conn = 1,
                                              .rsa_bits = 3072,
                                              .count = p->opens});
    /* vault latency */
    static const int faults[] = {1, 10, 50};
    static const char *const fault_names[] = {"fault 1 ms", "fault 10 ms", "fault 50 ms"};
    for (size_t i = 0; i < 3; i++) {
        if (!p->store_full && faults[i] != 10) {
            continue;
        }
        bench_plan_add_extra(pl, ops,
                             (struct bench_extra){.keys = "cmk",
                                                  .condition = fault_names[i],
                                                  .fault_ms = faults[i],
                                                  .rsa_bits = 3072,
                                                  .count = p->opens});
    }
    bench_plan_add_extra(pl, ops,
                         (struct bench_extra){.keys = "cmk",
                                              .condition = "throttled 20/s",
                                              .throttle = 1,
                                              .rsa_bits = 3072,
                                              .count = p->opens < 60 ? 30 : 60});
}

static void cold_open_describe(const struct bench_extra *x, const char *rsa, char *out, size_t max)
{
    snprintf(out, max, "cold-open %s%s%s%s", x->keys, rsa, x->condition[0] ? " " : "",
             x->condition);
}

/* What cmk-report names the row by: "cold-open cmk new connection". */
static void cold_open_operation(const struct bench_extra *x, char *out, size_t max)
{
    snprintf(out, max, "%s %s%s%s", x->op, x->keys, x->condition[0] ? " " : "", x->condition);
}

const struct bench_extra_ops bench_extra_cold_open = {
    .id = BENCH_X_COLD_OPEN,
    .kind = "latency",
    .unit = "ms",
    .op = "cold-open",
    .mode = "xts",
    .unit_bytes = 8192,
    .plan = cold_open_plan,
    .describe = cold_open_describe,
    .operation = cold_open_operation,
    .run = cold_open_run,
    .write_results = bench_extra_write_percentiles,
};
