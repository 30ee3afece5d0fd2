/*
 * cmk_compliance.c - bin/cmk-compliance: the known-answer runner and the
 * key-lifecycle control suite; writes compliance.json, compliance-junit.xml,
 * compliance.md and assessment-results.json (OSCAL 1.1.3, see comp_oscal.h).
 * Exit 0 when every vector and control passed (or is not applicable), 1 on
 * any failure, 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "comp_controls.h"
#include "comp_oscal.h"
#include "comp_report.h"
#include "comp_runner.h"

#define PYCA            "/usr/lib/python3/dist-packages/cryptography_vectors"
#define MAX_VECTOR_ARGS 64

static const char *const default_sources[] = {
    PYCA "/ciphers/AES/ECB",
    PYCA "/ciphers/AES/CBC",
    PYCA "/ciphers/AES/CTR",
    PYCA "/ciphers/AES/GCM",
    PYCA "/ciphers/AES/XTS",
    PYCA "/asymmetric/RSA/pkcs-1v2-1d2-vec/oaep-vect.txt",
    PYCA "/asymmetric/RSA/oaep-custom",
};

static void usage(FILE *f)
{
    fputs(
        "usage: cmk-compliance [--vectors PATH...] [--defaults] [--controls] [--only IDS]\n"
        "                      [--out DIR] [--bench FILE] [--quiet]\n"
        "Runs known-answer vectors through every engine back end and path, and the\n"
        "key-lifecycle controls against a vault-mock it starts itself.\n\n"
        "  --vectors PATH...  vector files or folders (recursive: .rsp, .txt, .json);\n"
        "                     NIST CAVP AES, Wycheproof AES-GCM/AES-XTS/AES-KWP/RSA-OAEP,\n"
        "                     pyca RSA-OAEP text; detected from the content\n"
        "  --defaults         also run the default sources (python3-cryptography-vectors\n"
        "                     AES and RSA-OAEP files, and the embedded vectors)\n"
        "  --controls         run the controls (with --vectors: both)\n"
        "  --only IDS         comma-separated control ids (implies --controls)\n"
        "  --out DIR          output folder (default reports/out)\n"
        "  --bench FILE       bench.json with keys=smk/cmk cells (default DIR/bench.json)\n"
        "  --quiet            print only the summary\n"
        "Without --vectors and --controls: the default sources and every control.\n"
        "Exit: 0 all passed, 1 a vector or control failed, 2 usage or output error.\n",
        f);
}

struct opts {
    const char *vectors[MAX_VECTOR_ARGS];
    size_t num_vectors;
    int defaults, controls, quiet;
    const char *only, *out, *bench;
};

static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->out = "reports/out";
    int any_vectors = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--vectors") == 0) {
            any_vectors = 1;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                if (o->num_vectors == MAX_VECTOR_ARGS) {
                    fprintf(stderr, "cmk-compliance: at most %d vector paths\n", MAX_VECTOR_ARGS);
                    return -1;
                }
                o->vectors[o->num_vectors++] = argv[++i];
            }
            if (o->num_vectors == 0) {
                fprintf(stderr, "cmk-compliance: --vectors needs at least one path\n");
                return -1;
            }
        } else if (strcmp(a, "--defaults") == 0) {
            o->defaults = 1;
        } else if (strcmp(a, "--controls") == 0) {
            o->controls = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if ((strcmp(a, "--only") == 0 || strcmp(a, "--out") == 0 ||
                    strcmp(a, "--bench") == 0) &&
                   i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(a, "--only") == 0) {
                o->only = v;
                o->controls = 1;
            } else if (strcmp(a, "--out") == 0) {
                o->out = v;
            } else {
                o->bench = v;
            }
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "cmk-compliance: unknown or incomplete option '%s'\n", a);
            return -1;
        }
    }
    if (!any_vectors && !o->controls) {
        o->defaults = 1;
        o->controls = 1;
    }
    return 0;
}

static void print_rows(const struct comp_report *rep, size_t from)
{
    for (size_t i = from; i < rep->num_kats; i++) {
        const struct comp_kat_row *k = &rep->kats[i];
        printf("kat %s [%s] %s/%s: %lu passed, %lu failed, %lu skipped", k->file, k->kind,
               k->backend, k->arch, k->passed, k->failed, k->skipped);
        if (k->acceptable > 0) {
            printf(", %lu acceptable", k->acceptable);
        }
        if (k->key_cases > 0) {
            printf("; %lu of %lu AES-256 cases ran", k->key_ran, k->key_cases);
        }
        if (k->skip_reason[0] != '\0') {
            printf(" (%s)", k->skip_reason);
        }
        if (k->detail[0] != '\0') {
            printf(": %s", k->detail);
        }
        printf("\n");
    }
    fflush(stdout);
}

static void print_control(const struct comp_control *c, void *arg)
{
    (void)arg;
    printf("control %-11s %-15s %s | measured: %s | %s\n", c->id, comp_verdict_name(c->verdict),
           c->title, c->measured, c->reason);
    fflush(stdout);
}

static int mkdir_p(const char *dir)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    return (mkdir(tmp, 0755) == 0 || errno == EEXIST) ? 0 : -1;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int run_vectors(const struct opts *o, struct comp_report *rep)
{
    size_t from = rep->num_kats;
    if (o->defaults) {
        if (comp_run_embedded(rep) != 0) {
            return -1;
        }
        for (size_t i = 0; i < sizeof(default_sources) / sizeof(default_sources[0]); i++) {
            struct stat st;
            if (stat(default_sources[i], &st) != 0) {
                fprintf(stderr,
                        "cmk-compliance: default source %s not found (install "
                        "python3-cryptography-vectors); skipped\n",
                        default_sources[i]);
                continue;
            }
            comp_run_path(default_sources[i], rep);
            if (!o->quiet) {
                print_rows(rep, from);
            }
            from = rep->num_kats;
        }
    }
    for (size_t i = 0; i < o->num_vectors; i++) {
        if (comp_run_path(o->vectors[i], rep) != 0) {
            fprintf(stderr, "cmk-compliance: %s: cannot read\n", o->vectors[i]);
        }
        if (!o->quiet) {
            print_rows(rep, from);
        }
        from = rep->num_kats;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    struct comp_report rep = {0};
    time_t started = time(NULL);
    double t0 = now_s();
    if ((o.defaults || o.num_vectors > 0) && run_vectors(&o, &rep) != 0) {
        fprintf(stderr, "cmk-compliance: out of memory\n");
        return 2;
    }
    double t1 = now_s();
    char vaults[512] = "";
    if (o.controls) {
        char bench[1024];
        snprintf(bench, sizeof(bench), "%s/bench.json", o.out);
        struct comp_controls_options co = {
            .only = o.only,
            .bench_json = o.bench != NULL ? o.bench : bench,
            .progress = o.quiet ? NULL : print_control,
            .vaults_out = vaults,
            .vaults_out_len = sizeof(vaults),
        };
        if (comp_controls_run(&co, &rep) != 0) {
            fprintf(stderr, "cmk-compliance: the control suite could not start\n");
        }
    }
    double t2 = now_s();
    if (mkdir_p(o.out) != 0) {
        fprintf(stderr, "cmk-compliance: cannot create %s: %s\n", o.out, strerror(errno));
        comp_report_cleanup(&rep);
        return 2;
    }
    char path[1100], bench[1100];
    int rc = 0;
    snprintf(bench, sizeof(bench), "%s/bench.json", o.out);
    struct comp_oscal_run run = {
        .start = started,
        .end = time(NULL),
        .vault = vaults[0] != '\0' ? vaults : NULL,
        .bench_json = o.bench != NULL ? o.bench : bench,
    };
    snprintf(path, sizeof(path), "%s/assessment-results.json", o.out);
    rc |= comp_oscal_write(&rep, &run, path);
    snprintf(path, sizeof(path), "%s/compliance.json", o.out);
    rc |= comp_report_write_json(&rep, path);
    snprintf(path, sizeof(path), "%s/compliance-junit.xml", o.out);
    rc |= comp_report_write_junit(&rep, path);
    snprintf(path, sizeof(path), "%s/compliance.md", o.out);
    rc |= comp_report_write_md(&rep, path);
    if (rc != 0) {
        fprintf(stderr, "cmk-compliance: cannot write %s: %s\n", path, strerror(errno));
        comp_report_cleanup(&rep);
        return 2;
    }
    unsigned long cpass = 0, cfail = 0, cna = 0;
    struct comp_kat_totals kt;
    comp_report_kat_totals(&rep, &kt);
    for (size_t i = 0; i < rep.num_controls; i++) {
        cpass += rep.controls[i].verdict == COMP_VERDICT_PASS;
        cfail += rep.controls[i].verdict == COMP_VERDICT_FAIL;
        cna += rep.controls[i].verdict == COMP_VERDICT_NOT_APPLICABLE;
    }
    size_t failures = comp_report_failures(&rep);
    printf(
        "compliance: vectors: %lu files, %lu passed, %lu failed, %lu skipped (%.1f s); "
        "controls: %lu pass, %lu fail, %lu not applicable (%.1f s); written to %s\n",
        kt.files, kt.passed, kt.failed, kt.skipped, t1 - t0, cpass, cfail, cna, t2 - t1, o.out);
    comp_report_cleanup(&rep);
    return failures > 0 ? 1 : 0;
}
