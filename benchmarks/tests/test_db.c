/*
 * test_db.c - the database kind (kind_db.c) without running anything: the
 * plan of each profile, the rows read from a recorded scripts/db/bench.sh
 * result (benchmarks/tests/data/db-bench-quick.json, a real --quick run),
 * the rows as bench.json writes them, a target that did not run, and the
 * bars' verdicts on fixed samples. Nothing timed.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "rep_bench.h"

#define FIXTURE "benchmarks/tests/data/db-bench-quick.json"
#define MAX_XS  256

/* Profiles shaped as main.c's: no cells, only the db kind; |db| 1 standard's section, 2 the matrix.
 */
static const struct bench_profile standard_db = {"standard", {0}, 0, 5,   0.02, 0, 0, 0, 0,
                                                 0,          0,   0, {0}, 0,    0, 0, 1, "db"};
static const struct bench_profile full_db = {"db", {0}, 0, 5,   0.02, 0, 0, 0, 0,
                                             0,    0,   0, {0}, 0,    0, 0, 2, "db"};
static const struct bench_profile no_db = {"quick", {0}, 0, 5,   0.02, 0, 0, 0, 0,
                                           0,       0,   0, {0}, 0,    0, 0, 0, "db"};

static struct bench_cell cells[4];
static struct bench_extra xs[MAX_XS];

static size_t plan(const struct bench_profile *p)
{
    for (size_t i = 0; i < MAX_XS; i++) {
        free(xs[i].samples);
    }
    memset(xs, 0, sizeof(xs));
    struct bench_plan pl;
    bench_plan_init(&pl, p, cells, 4, xs, MAX_XS);
    bench_plan_extras(&pl);
    return pl.nxs;
}

static struct bench_extra *row(size_t n, const char *backing, const char *target, const char *wl)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(xs[i].json_mode, backing) == 0 && strcmp(xs[i].json_backend, target) == 0 &&
            strcmp(xs[i].op, wl) == 0) {
            return &xs[i];
        }
    }
    return NULL;
}

/* The fixture's values of |target| |workload| in round order (rounds 1..5), straight from the JSON.
 */
static size_t fixture_values(const cJSON *doc, const char *target, const char *wl, double *v)
{
    size_t n = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc, "samples"))
    {
        if (strcmp(rep_json_str(s, "target"), target) == 0 &&
            strcmp(rep_json_str(s, "workload"), wl) == 0) {
            int r = (int)rep_json_num(s, "round");
            cr_assert(r >= 1 && r <= 5, "fixture round %d", r);
            v[r - 1] = rep_json_num(s, "value");
            n++;
        }
    }
    return n;
}

static cJSON *load_fixture(void)
{
    cJSON *doc = NULL;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(rep_json_load(FIXTURE, &doc, &e), REP_OK, "%s", e.msg);
    return doc;
}

/* Runs every planned row (they read the loaded result; bench.sh is never started). */
static void run_all(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        (void)bench_extra_run(&xs[i]);
        bench_extra_stats(&xs[i]);
    }
}

Test(bench_db, plans_the_section_of_each_profile)
{
    cr_assert_eq(plan(&no_db), 0, "the quick profile has no database rows");
    size_t n = plan(&standard_db);
    cr_assert_eq(n, 15, "standard: 3 targets x 5 workloads, got %zu", n);
    struct bench_extra *x = row(n, "tmpfs", "cmkfs-cmk", "pg-ro-c1");
    cr_assert_not_null(x);
    cr_assert_str_eq(x->label, "db tmpfs cmkfs-cmk pg-ro-c1");
    cr_assert_str_eq(x->kind, "db");
    cr_assert_str_eq(x->keys, "cmk");
    cr_assert_str_eq(x->unit, "tps");
    cr_assert_eq(x->count, 5);
    x = row(n, "tmpfs", "gocryptfs", "fio-randwrite");
    cr_assert_not_null(x);
    cr_assert_str_eq(x->unit, "MB/s");
    cr_assert_eq(x->unit_bytes, 8192);
    cr_assert_str_eq(x->json_arch, "n/a");
    cr_assert_null(row(n, "tmpfs", "plain", "fio-seqwrite"), "plain is not in the short section");
    cr_assert_null(row(n, "tmpfs", "cmkfs-smk", "fio-seqread"));

    n = plan(&full_db);
    cr_assert_eq(n, 7 * 8 + 5 * 8, "db: 7 targets on tmpfs and 5 on disk, 8 workloads, got %zu", n);
    x = row(n, "disk", "cmkfs-smk", "pg-rw-c2");
    cr_assert_not_null(x);
    cr_assert_eq(x->threads, 2, "pgbench clients are the row's threads");
    x = row(n, "disk", "cmkfs-cmk", "pg-rw-c1"); /* the CMK row set on disk, beside SMK's */
    cr_assert_not_null(x);
    cr_assert_str_eq(x->keys, "cmk");
    cr_assert_not_null(row(n, "tmpfs", "cryfs", "fio-seqread"));
    cr_assert_null(row(n, "disk", "cryfs", "fio-seqread"));
    /* cryfs is held out of bench.sh's run by default: its rows say why, without running anything */
    x = row(n, "tmpfs", "cryfs", "pg-rw-c1");
    cr_assert_eq(bench_extra_run(x), -1);
    cr_assert_not_null(strstr(x->skip_reason,
                              "cryfs: not run by default: pgbench -i -s 10 on cryfs "
                              "0.11 hung"),
                       "%s", x->skip_reason);
}

Test(bench_db, reads_a_recorded_result_into_rows_and_bench_json)
{
    size_t n = plan(&standard_db);
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(bench_db_load_result("tmpfs", FIXTURE, 95.5, &e), 0, "%s", e.msg);
    run_all(n);
    cJSON *doc = load_fixture();
    for (size_t i = 0; i < n; i++) {
        double want[5];
        cr_assert_null(xs[i].skip_reason, "%s: %s", xs[i].label, xs[i].skip_reason);
        cr_assert_eq(fixture_values(doc, xs[i].json_backend, xs[i].op, want), 5);
        cr_assert_eq(xs[i].nsamples, 5, "%s", xs[i].label);
        for (size_t r = 0; r < 5; r++) {
            cr_assert_eq(xs[i].samples[r], want[r], "%s round %zu: %g, recorded %g", xs[i].label,
                         r + 1, xs[i].samples[r], want[r]);
        }
    }
    cJSON_Delete(doc);
    cr_assert_eq(bench_db_wall_seconds(), 95.5);

    char path[] = "/tmp/bench-test-db-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    struct bench_env env = {.profile = "standard", .commit = "test"};
    cr_assert_eq(bench_write_json(path, &env, cells, 0, xs, n, 1.0), 0);
    struct rep_bench b;
    cr_assert_eq(rep_bench_load(path, &b, &e), REP_OK, "%s", e.msg);
    unlink(path);
    cr_assert_eq(b.ncells, 15);
    const struct rep_cell *c = NULL;
    for (size_t i = 0; i < b.ncells; i++) {
        if (strcmp(b.cells[i].backend, "cmkfs-smk") == 0 &&
            strcmp(b.cells[i].direction, "pg-rw-c1") == 0) {
            c = &b.cells[i];
        }
    }
    cr_assert_not_null(c, "the cmkfs-smk pg-rw-c1 row is in bench.json");
    cr_assert_str_eq(c->kind, "db");
    cr_assert_str_eq(c->mode, "tmpfs");
    cr_assert_str_eq(c->keys, "smk");
    cr_assert_str_eq(c->unit, "tps");
    cr_assert_eq(c->nsamples, 5);
    cr_assert_eq(c->threads, 1);
    cr_assert(rep_cell_measured(c));
    const char *what[] = {"target",         "workload",         "engine_backend", "engine_arch",
                          "target_version", "postgres_version", "db_commit",      "db_profile"};
    for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
        const char *v = rep_json_str(c->json, what[i]);
        cr_assert(v != NULL && v[0] != '\0', "row field '%s' is missing or empty", what[i]);
    }
    cr_assert_str_eq(rep_json_str(c->json, "db_profile"), "quick");
    cr_assert_str_eq(c->arch, rep_json_str(c->json, "engine_arch"), "arch is the engine's path");
    cr_assert(rep_json_num(c->json, "failed_transactions") >= 0);
    rep_bench_free(&b);
}

/*
 * A copy of the fixture without |target|'s samples and with it in config.skipped (as bench.sh
 * writes it: {"target", "reason"}); its path.
 */
static void fixture_without(const char *target, const char *reason, char *path, size_t path_len)
{
    cJSON *doc = load_fixture();
    cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "samples");
    for (int i = cJSON_GetArraySize(s) - 1; i >= 0; i--) {
        if (strcmp(rep_json_str(cJSON_GetArrayItem(s, i), "target"), target) == 0) {
            cJSON_DeleteItemFromArray(s, i);
        }
    }
    cJSON *skipped = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "config"), "skipped");
    cr_assert(cJSON_IsArray(skipped));
    cJSON *entry = cJSON_CreateObject();
    cr_assert_not_null(entry);
    cJSON_AddStringToObject(entry, "target", target);
    cJSON_AddStringToObject(entry, "reason", reason);
    cJSON_AddItemToArray(skipped, entry);
    snprintf(path, path_len, "%s", "/tmp/bench-test-db-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(rep_json_save(path, doc), 0);
}

Test(bench_db, a_target_that_did_not_run_is_not_measured)
{
    size_t n = plan(&standard_db);
    char path[64];
    fixture_without("gocryptfs", "gocryptfs not installed", path, sizeof(path));
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(bench_db_load_result("tmpfs", path, 50, &e), 0, "%s", e.msg);
    unlink(path);
    run_all(n);
    struct bench_extra *g = row(n, "tmpfs", "gocryptfs", "fio-randread");
    cr_assert_str_eq(g->skip_reason, "gocryptfs: not available: gocryptfs not installed");
    cr_assert_eq(g->nsamples, 0);
    cr_assert_null(row(n, "tmpfs", "cmkfs-smk", "fio-randread")->skip_reason);

    struct bench_db_bar bars[64];
    size_t nb = bench_db_bars(xs, n, bars, 64);
    size_t gocryptfs_bars = 0, pass_bars = 0, cmk_smk = 0;
    for (size_t i = 0; i < nb; i++) {
        if (strstr(bars[i].name, "/ gocryptfs") != NULL) {
            gocryptfs_bars++;
            cr_assert_eq(bars[i].status, BENCH_DB_NOT_MEASURED, "%s", bars[i].name);
            cr_assert_str_eq(bars[i].why,
                             "gocryptfs: gocryptfs: not available: gocryptfs not installed");
        } else if (strstr(bars[i].name, "/ cmkfs-pass") != NULL) {
            pass_bars++;
            cr_assert_eq(bars[i].status, BENCH_DB_NOT_MEASURED, "%s", bars[i].name);
            cr_assert_str_eq(bars[i].why,
                             "cmkfs-pass is not run on the tmpfs backing in this "
                             "profile (benchmarks/README.md, Database section)");
        } else {
            cmk_smk++;
            cr_assert_neq(bars[i].status, BENCH_DB_NOT_MEASURED, "%s: %s", bars[i].name,
                          bars[i].why);
        }
    }
    /* vs gocryptfs: pgbench 2 + random 2 + seqwrite 1 + every fio 3; vs passthrough: pgbench 2 +
     * fio sequential 1 (seqwrite); CMK/SMK: pgbench 2 */
    cr_assert_eq(gocryptfs_bars, 8);
    cr_assert_eq(pass_bars, 3);
    cr_assert_eq(cmk_smk, 2);

    /* bench.sh failed: every row says why, and so do the bars */
    n = plan(&standard_db);
    cr_assert_eq(bench_db_load_result("tmpfs", "/nonexistent/db-bench.json", 1, &e), -1);
    run_all(n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_not_null(xs[i].skip_reason);
        cr_assert_not_null(strstr(xs[i].skip_reason, "/nonexistent/db-bench.json"), "%s",
                           xs[i].skip_reason);
    }
    nb = bench_db_bars(xs, n, bars, 64);
    for (size_t i = 0; i < nb; i++) {
        cr_assert_eq(bars[i].status, BENCH_DB_NOT_MEASURED, "%s", bars[i].name);
    }
}

/* Sets row |x|'s samples (five rounds). */
static void set_samples(struct bench_extra *x, const double *v)
{
    x->samples = calloc(5, sizeof(double));
    cr_assert_not_null(x->samples);
    for (size_t i = 0; i < 5; i++) {
        bench_extra_sample(x, v[i]);
    }
}

static const struct bench_db_bar *bar_named(const struct bench_db_bar *b, size_t n,
                                            const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(b[i].name, name) == 0) {
            return &b[i];
        }
    }
    cr_assert_fail("no bar '%s'", name);
    return NULL;
}

Test(bench_db, bar_verdicts_from_per_round_pairs)
{
    size_t n = plan(&standard_db);
    /* gocryptfs random reads: the rounds drift together (a shared machine) */
    static const double gocr[5] = {100, 200, 150, 120, 180};
    static const double slower[5] = {90, 180, 140, 100, 170}; /* ratio < 1: slower than gocryptfs */
    static const double twice[5] = {210, 400, 310, 250, 370}; /* ratio >= 2 every round */
    set_samples(row(n, "tmpfs", "gocryptfs", "fio-randread"), gocr);
    set_samples(row(n, "tmpfs", "cmkfs-smk", "fio-randread"), slower);
    set_samples(row(n, "tmpfs", "gocryptfs", "fio-randwrite"), gocr);
    set_samples(row(n, "tmpfs", "cmkfs-smk", "fio-randwrite"), twice);
    /* CMK/SMK pgbench: 0.99 of SMK round by round; 0.90 on -S */
    static const double smk[5] = {1000, 600, 800, 900, 700};
    static const double cmk99[5] = {990, 594, 792, 891, 693};
    static const double cmk90[5] = {900, 540, 720, 810, 630};
    set_samples(row(n, "tmpfs", "cmkfs-smk", "pg-rw-c1"), smk);
    set_samples(row(n, "tmpfs", "cmkfs-cmk", "pg-rw-c1"), cmk99);
    set_samples(row(n, "tmpfs", "cmkfs-smk", "pg-ro-c1"), smk);
    set_samples(row(n, "tmpfs", "cmkfs-cmk", "pg-ro-c1"), cmk90);
    /* seqwrite: gocryptfs two rounds only */
    static const double two[5] = {100, 100, 0, 0, 0};
    struct bench_extra *g = row(n, "tmpfs", "gocryptfs", "fio-seqwrite");
    g->samples = calloc(5, sizeof(double));
    bench_extra_sample(g, two[0]);
    bench_extra_sample(g, two[1]);
    set_samples(row(n, "tmpfs", "cmkfs-smk", "fio-seqwrite"), twice);

    struct bench_db_bar bars[64];
    size_t nb = bench_db_bars(xs, n, bars, 64);
    const struct bench_db_bar *b = bar_named(
        bars, nb,
        "cmk-fs/gocryptfs, fio random 8 KiB, fio-randread (cmkfs-smk / gocryptfs, tmpfs)");
    cr_assert_eq(b->status, BENCH_DB_FAIL, "cmk-fs slower than gocryptfs fails the 2x bar");
    cr_assert_float_eq(b->r.median, 0.9, 1e-9);
    cr_assert_float_eq(b->r.lo, 100.0 / 120.0, 1e-9, "5 rounds: the interval is [min, max]");
    b = bar_named(
        bars, nb,
        "cmk-fs/gocryptfs, not slower on any fio, fio-randread (cmkfs-smk / gocryptfs, tmpfs)");
    cr_assert_eq(b->status, BENCH_DB_FAIL, "and the not-slower bar");
    b = bar_named(
        bars, nb,
        "cmk-fs/gocryptfs, fio random 8 KiB, fio-randwrite (cmkfs-smk / gocryptfs, tmpfs)");
    cr_assert_eq(b->status, BENCH_DB_PASS);
    cr_assert_geq(b->r.lo, 2.0);
    b = bar_named(bars, nb, "pgbench TPS CMK/SMK, pg-rw-c1 (cmkfs-cmk / cmkfs-smk, tmpfs)");
    cr_assert_eq(b->status, BENCH_DB_PASS);
    cr_assert_float_eq(b->r.median, 0.99, 1e-9);
    b = bar_named(bars, nb, "pgbench TPS CMK/SMK, pg-ro-c1 (cmkfs-cmk / cmkfs-smk, tmpfs)");
    cr_assert_eq(b->status, BENCH_DB_FAIL);
    b = bar_named(bars, nb,
                  "cmk-fs/gocryptfs, fio sequential write, fio-seqwrite (cmkfs-smk / gocryptfs, "
                  "tmpfs)");
    cr_assert_eq(b->status, BENCH_DB_NOT_MEASURED, "two paired rounds are too few");
    cr_assert_str_eq(b->why, "fewer than 3 paired rounds");
    /* a row planned but never run (no samples) is not measured either */
    b = bar_named(bars, nb,
                  "cmk-fs/gocryptfs, pgbench TPS, pg-rw-c1 (cmkfs-smk / gocryptfs, tmpfs)");
    cr_assert_eq(b->status, BENCH_DB_NOT_MEASURED);
}
