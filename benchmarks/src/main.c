/*
 * cmk-bench - throughput of the engine's cipher layer against the
 * libraries called directly, of the store under the service-managed key
 * (SMK) and the customer-managed key (CMK, the bench's own vault-mock),
 * cold-open latency, the vault's operations next to OpenSSL's RSA rate, and
 * KEK rotation; written to reports/out/bench.json (+ .csv).
 *
 * This file holds the options, the profiles and the run: what each kind of
 * cell measures is its ops table (kinds.h, one file per kind), the plan of a
 * profile is kinds.c, one sample is sample.c, the output output.c and
 * barsprint.c.
 *
 * Usage: cmk-bench [--profile quick|standard|full|db] [--out DIR] [--filter S]
 *                  [--list] [--samples N] [--min-time MS] [--commit SHA]
 *                  [--strict] [--help]
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "eng_cpu.h"
#include "rep_bench.h"
#include "vmt_client.h"

#define MAX_CELLS  1024
#define MAX_EXTRAS 256

static const struct bench_profile profiles[] = {
    /* quick (CI's gate) has no database section: its set-up alone (three mounts, initdb and
     * pgbench -i at scale 10 each) takes longer than the whole quick profile */
    {"quick", {512, 8192}, 2, 5, 0.02, 0, 0, 30, 30, 3, 0.2, 0, {4, 16}, 2, 3, 0, 0, NULL},
    {"standard",
     {512, 4096, 8192, 65536},
     4,
     10,
     0.05,
     1,
     1,
     200,
     200,
     5,
     0.3,
     1,
     {4, 16, 64, 256},
     4,
     5,
     0,
     1,
     NULL},
    {"full",
     {512, 4096, 8192, 65536, 1048576},
     5,
     20,
     0.1,
     1,
     1,
     400,
     400,
     10,
     0.5,
     1,
     {4, 16, 64, 256},
     4,
     10,
     1,
     1,
     NULL},
    /* the database matrix of issue 15 only: every target, tmpfs and disk backing */
    {"db", {0}, 0, 5, 0.02, 0, 0, 0, 0, 0, 0, 0, {0}, 0, 0, 0, 2, "db"},
};

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: cmk-bench [options]\n"
        "Measures AES-256 throughput of the engine (XTS, GCM, CTR, CBC; every back end)\n"
        "next to OpenSSL EVP and ipsec-mb called directly, the store under SMK and CMK\n"
        "(its own vault-mock on 127.0.0.1), cold opens, vault operations next to OpenSSL's\n"
        "RSA rate, and KEK rotation, in the same run.\n\n"
        "  --profile NAME   quick (CI, < 1 min), standard (default; with a short database\n"
        "                   section), full, db (the database matrix of issue 15 only)\n"
        "  --out DIR        output folder (default reports/out): bench.json, bench.csv\n"
        "  --filter TEXT    only cells whose description contains TEXT (e.g. 'xts', 'gcm 8KiB');\n"
        "                   several alternatives separated by '|' ('xts native|raw xts')\n"
        "  --list           print the cells and exit\n"
        "  --samples N      samples per cell (default by profile: 5 / 10 / 20; at most %d)\n"
        "  --min-time MS    minimum duration of one sample in ms\n"
        "  --commit SHA     git commit recorded in the results\n"
        "  --strict         exit 3 when a bar is not met\n"
        "  --help           this text\n\n"
        "Environment: ENG_ARCH caps the CPU path of the engine cells, the AES ceiling cells\n"
        "and the bars (ENG_ARCH=vaes-avx2 on an AVX-512 CPU measures as a Zen 3 would run),\n"
        "ENG_BACKEND forces back ends (see README);\n"
        "VMOCK_BIN the vault-mock program (default bin/vault-mock); CMK_DB_SCRIPTS,\n"
        "CMK_DB_STATS, CMK_DB_BENCH_ARGS the database section's scripts/db, cmk-db-stats\n"
        "and more scripts/db/bench.sh options (see benchmarks/README.md).\n"
        "Exit: 0 done, 1 runtime error, 2 usage error, 3 a bar failed (--strict).\n",
        BENCH_MAX_SAMPLES);
}

/* 1 when |filter| is NULL or one of its '|'-separated alternatives occurs in |text|. */
static int matches(const char *filter, const char *text)
{
    if (filter == NULL) {
        return 1;
    }
    for (const char *p = filter;;) {
        size_t len = strcspn(p, "|");
        if (len > 0) {
            for (const char *t = text; *t != '\0'; t++) {
                if (strncmp(t, p, len) == 0) {
                    return 1;
                }
            }
        }
        if (p[len] == '\0') {
            return 0;
        }
        p += len + 1;
    }
}

/* Progress on stderr: one rewritten line with elapsed time and ETA on a tty, else a line per step.
 */
static void progress(int tty, size_t done, size_t total, const char *what, double el)
{
    if (tty) {
        double eta = el / (double)done * (double)(total - done);
        fprintf(stderr, "\r\033[K[%3zu/%zu] %s  elapsed %.0fs  eta %.0fs", done, total, what, el,
                eta);
    } else {
        fprintf(stderr, "cmk-bench: [%zu/%zu] %s (%.0fs)\n", done, total, what, el);
    }
}

/* Makes |dir| and its parents and checks that a file can be written there; 0, or -1 with errno. */
static int ensure_out_dir(const char *dir)
{
    if (rep_mkdir_p(dir) != 0) {
        return -1;
    }
    char probe[4200];
    snprintf(probe, sizeof(probe), "%s/.write-test", dir);
    FILE *f = fopen(probe, "w");
    if (f == NULL) {
        return -1;
    }
    fclose(f);
    unlink(probe);
    return 0;
}

int main(int argc, char **argv)
{
    const char *profile_name = "standard", *out_dir = "reports/out", *filter = NULL, *commit = NULL;
    int list = 0, strict = 0;
    long samples = 0, min_ms = 0;
    static const struct option opts[] = {
        {"profile", required_argument, 0, 'p'}, {"out", required_argument, 0, 'o'},
        {"filter", required_argument, 0, 'f'},  {"list", no_argument, 0, 'l'},
        {"samples", required_argument, 0, 's'}, {"min-time", required_argument, 0, 't'},
        {"commit", required_argument, 0, 'c'},  {"strict", no_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "p:o:f:ls:t:c:Sh", opts, NULL)) != -1) {
        switch (ch) {
            case 'p':
                profile_name = optarg;
                break;
            case 'o':
                out_dir = optarg;
                break;
            case 'f':
                filter = optarg;
                break;
            case 'l':
                list = 1;
                break;
            case 's':
                samples = strtol(optarg, &end, 10);
                if (*end != '\0' || samples < 3 || samples > BENCH_MAX_SAMPLES) {
                    fprintf(stderr, "cmk-bench: --samples must be 3..%d, got '%s'\n",
                            BENCH_MAX_SAMPLES, optarg);
                    return 2;
                }
                break;
            case 't':
                min_ms = strtol(optarg, &end, 10);
                if (*end != '\0' || min_ms < 1 || min_ms > 60000) {
                    fprintf(stderr, "cmk-bench: --min-time must be 1..60000 ms, got '%s'\n",
                            optarg);
                    return 2;
                }
                break;
            case 'c':
                commit = optarg;
                break;
            case 'S':
                strict = 1;
                break;
            case 'h':
                usage(stdout);
                return 0;
            default:
                usage(stderr);
                return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cmk-bench: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    const struct bench_profile *p = NULL;
    for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        if (strcmp(profiles[i].name, profile_name) == 0) {
            p = &profiles[i];
        }
    }
    if (p == NULL) {
        fprintf(stderr, "cmk-bench: unknown profile '%s' (quick, standard, full, db)\n",
                profile_name);
        return 2;
    }
    size_t nsamples = samples ? (size_t)samples : p->samples;
    double min_time = min_ms ? (double)min_ms / 1000.0 : p->min_time;
    enum eng_arch a;
    if (eng_arch_effective(ENG_ARCH_AUTO, &a) != 0) {
        fprintf(stderr, "cmk-bench: %s (ENG_ARCH='%s')\n", eng_strerror(eng_errno()),
                getenv("ENG_ARCH"));
        return 2;
    }

    static struct bench_cell all[MAX_CELLS];
    static struct bench_extra allx[MAX_EXTRAS];
    struct bench_plan plan;
    bench_plan_init(&plan, p, all, MAX_CELLS, allx, MAX_EXTRAS);
    bench_plan_cells(&plan);
    bench_plan_extras(&plan);
    size_t nall = plan.ncells, nallx = plan.nxs;
    static struct bench_cell cells[MAX_CELLS];
    size_t n = 0;
    for (size_t i = 0; i < nall; i++) {
        char d[160];
        bench_describe(&all[i], d, sizeof(d));
        if (matches(filter, d)) {
            cells[n++] = all[i];
        }
    }
    static struct bench_extra xs[MAX_EXTRAS];
    size_t nx = 0;
    int need_vault = 0, need_4096 = 0;
    for (size_t i = 0; i < nallx; i++) {
        if (matches(filter, allx[i].label)) {
            xs[nx++] = allx[i];
        }
    }
    for (size_t i = 0; i < nx; i++) {
        if (strcmp(xs[i].keys, "cmk") == 0 && !xs[i].ops->own_vault) {
            need_vault = 1;
            need_4096 |= xs[i].rsa_bits == 4096;
        }
    }
    for (size_t i = 0; i < n; i++) {
        need_vault |= strncmp(cells[i].keys, "cmk", 3) == 0;
    }
    if (list) {
        for (size_t i = 0; i < n; i++) {
            char d[160];
            bench_describe(&cells[i], d, sizeof(d));
            printf("%s%s%s\n", d, cells[i].skip_reason ? "  (skipped: " : "",
                   cells[i].skip_reason ? cells[i].skip_reason : "");
        }
        for (size_t i = 0; i < nx; i++) {
            printf("%s (%zu %s)\n", xs[i].label, xs[i].count,
                   strcmp(xs[i].unit, "ops/s") == 0 ? "windows" : "samples");
        }
        return 0;
    }
    if (n + nx == 0) {
        fprintf(stderr, "cmk-bench: no cell matches --filter '%s' (see --list)\n", filter);
        return 2;
    }
    if (ensure_out_dir(out_dir) != 0) {
        fprintf(stderr, "cmk-bench: cannot write to output folder '%s': %s\n", out_dir,
                strerror(errno));
        return 1;
    }

    /* One core, so that samples are not migrated mid-measurement; threads of
     * a multi-thread cell take this core and the next ones. */
    int cpu = sched_getcpu();
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    bench_pin(cpu);
    struct bench_env env;
    bench_env_capture(&env, p->name, commit);
    fprintf(stderr,
            "cmk-bench: profile %s, %zu cells, %zu samples x >= %.0f ms, pinned to cpu %d; "
            "%zu latency/vault/rotation cells\n",
            p->name, n, nsamples, min_time * 1000, cpu, nx);
    fprintf(stderr, "cmk-bench: %s | %s | OpenSSL %s | ipsec-mb %s | commit %s\n", env.cpu_model,
            env.cpu_flags, env.openssl, env.ipsecmb, env.commit);
    double load1 = env.loadavg_start[0] != '\0' ? strtod(env.loadavg_start, NULL) : 0;
    if (load1 > 0.5 * env.cores) {
        fprintf(stderr,
                "cmk-bench: warning: load average %s on %d cores: other processes compete with "
                "this run%s\n",
                env.loadavg_start, env.cores,
                env.sched_autogroup == 1
                    ? " (scheduler autogroups are on, so their nice value does not yield the "
                      "CPU to this run; sysctl kernel.sched_autogroup_enabled=0 restores it)"
                    : "");
    }

    int tty = isatty(STDERR_FILENO);
    double start = bench_now();
    if (bench_tmpdir() == NULL) {
        fprintf(stderr, "cmk-bench: cannot make a temporary folder: %s\n", strerror(errno));
        return 1;
    }
    if (need_vault) {
        struct base_err verr = BASE_ERR_INIT;
        fprintf(stderr,
                "cmk-bench: starting vault-mock (%s) on 127.0.0.1, --throttle off, "
                "fresh state; it shares the cores with the bench\n",
                vmt_bin());
        if (bench_vault_start(need_4096, &verr) != 0) {
            fprintf(stderr, "cmk-bench: %s\n", verr.msg);
            bench_tmpdir_remove();
            return 1;
        }
    }
    size_t total_steps = n + nx;
    size_t measured_cells = 0;
    for (size_t g0 = 0; g0 < n;) {
        size_t g1 = g0;
        while (g1 < n && cells[g1].group == cells[g0].group) {
            g1++;
        }
        for (size_t i = g0; i < g1; i++) {
            if (cells[i].skip_reason != NULL) {
                continue;
            }
            struct base_err err = BASE_ERR_INIT;
            if (bench_cell_prepare(&cells[i], &err) != 0 ||
                bench_cell_run_once(&cells[i], 0) != 0) {
                char d[160];
                bench_describe(&cells[i], d, sizeof(d));
                fprintf(stderr, "cmk-bench: %s: %s\n", d,
                        err.code != BASE_OK ? err.msg : eng_strerror(eng_errno()));
                bench_cell_release(&cells[i]);
                cells[i].skip_reason = "failed to run (see stderr)";
            }
        }
        for (size_t r = 0; r < nsamples; r++) {
            for (size_t i = g0; i < g1; i++) {
                if (cells[i].skip_reason == NULL &&
                    bench_sample(&cells[i], min_time, cpu, ncpu) != 0) {
                    cells[i].skip_reason = "a sample failed";
                }
            }
        }
        for (size_t i = g0; i < g1; i++) {
            bench_cell_release(&cells[i]);
            bench_stats(&cells[i]);
        }
        measured_cells += g1 - g0;
        char d[160];
        bench_describe(&cells[g0], d, sizeof(d));
        progress(tty, measured_cells, total_steps, d, bench_now() - start);
        g0 = g1;
    }
    for (size_t i = 0; i < nx; i++) {
        if (bench_extra_run(&xs[i]) != 0) {
            fprintf(stderr, "%scmk-bench: %s: %s\n", tty ? "\r\033[K" : "", xs[i].label,
                    xs[i].skip_reason);
        }
        bench_extra_stats(&xs[i]);
        measured_cells++;
        progress(tty, measured_cells, total_steps, xs[i].label, bench_now() - start);
    }
    bench_vault_stop();
    bench_tmpdir_remove();
    double wall = bench_now() - start;
    if (tty) {
        fprintf(stderr, "\n");
    }
    bench_print_table(stdout, cells, n);
    bench_print_sections(stdout, cells, n);
    bench_print_extras(stdout, xs, nx);
    bench_print_extra_sections(stdout, xs, nx);
    int failed = bench_print_bars(stdout, cells, n, xs, nx, wall, p->name);
    char path[4200];
    snprintf(path, sizeof(path), "%s/bench.json", out_dir);
    if (bench_write_json(path, &env, cells, n, xs, nx, wall) != 0) {
        fprintf(stderr, "cmk-bench: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    printf("\nwrote %s", path);
    snprintf(path, sizeof(path), "%s/bench.csv", out_dir);
    if (bench_write_csv(path, cells, n) != 0) {
        fprintf(stderr, "cmk-bench: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    printf(" and %s (%.0f s)\n", path, wall);
    for (size_t i = 0; i < nx; i++) {
        bench_extra_free(&xs[i]);
    }
    return (strict && failed > 0) ? 3 : 0;
}
