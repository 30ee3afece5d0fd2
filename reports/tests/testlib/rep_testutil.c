/* rep_testutil.c - helpers for the reports/ tests. */
#include "rep_testutil.h"

#include <cjson/cJSON.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rep_stats.h"

static void die(const char *what)
{
    perror(what);
    abort();
}

void tu_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        die(path);
    }
}

char *tu_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (buf == NULL) {
            die("malloc");
        }
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) {
            break;
        }
        cap *= 2;
        buf = realloc(buf, cap + 1);
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

cJSON *tu_bench_json(const char *cpu, const struct tu_cell *cells, size_t n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "cmk-harness/bench");
    cJSON_AddNumberToObject(root, "schema_version", 1);
    cJSON *env = cJSON_AddObjectToObject(root, "env");
    cJSON_AddStringToObject(env, "cpu_model", cpu);
    cJSON_AddStringToObject(env, "cpu_flags", "aesni avx2");
    cJSON_AddNumberToObject(env, "cores", 2);
    cJSON_AddStringToObject(env, "kernel", "Linux 6.1 x86_64");
    cJSON_AddStringToObject(env, "git_commit", "0123456789ab");
    cJSON_AddStringToObject(env, "profile", "quick");
    cJSON_AddStringToObject(env, "ENG_TEST_SLOWDOWN", "");
    cJSON *res = cJSON_AddArrayToObject(root, "results");
    for (size_t i = 0; i < n; i++) {
        const struct tu_cell *c = &cells[i];
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "kind", c->kind);
        cJSON_AddStringToObject(r, "mode", c->mode);
        cJSON_AddStringToObject(r, "backend", c->backend);
        cJSON_AddStringToObject(r, "arch", c->arch);
        cJSON_AddStringToObject(r, "direction", c->direction);
        cJSON_AddNumberToObject(r, "unit_bytes", c->unit_bytes);
        cJSON_AddNumberToObject(r, "batch", 64);
        cJSON_AddNumberToObject(r, "threads", c->threads ? (double)c->threads : 1);
        cJSON_AddStringToObject(r, "keys", c->keys ? c->keys : "none");
        char label[128];
        snprintf(label, sizeof(label), "%s %s %s/%s", c->kind, c->mode, c->backend, c->arch);
        cJSON_AddStringToObject(r, "label", label);
        cJSON_AddStringToObject(r, "unit", "GB/s");
        cJSON_AddItemToObject(r, "samples", cJSON_CreateDoubleArray(c->samples, (int)c->n));
        cJSON_AddNumberToObject(r, "median", rep_median(c->samples, c->n));
        cJSON_AddNumberToObject(r, "future_field", 42); /* readers must ignore unknown fields */
        cJSON_AddItemToArray(res, r);
    }
    return root;
}

void tu_write_bench(const char *path, const char *cpu, const struct tu_cell *cells, size_t n)
{
    cJSON *root = tu_bench_json(cpu, cells, n);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL) {
        die("cJSON_Print");
    }
    tu_write_file(path, text);
    free(text);
}

static char tmpdirs[4][64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes the test's temporary folders when its process exits. */
static void cleanup_tmpdirs(void)
{
    for (int i = 0; i < 4; i++) {
        if (tmpdirs[i][0] != '\0') {
            nftw(tmpdirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        }
    }
}

const char *tu_tmpdir(int slot)
{
    static int registered;
    if (!registered) {
        atexit(cleanup_tmpdirs);
        registered = 1;
    }
    snprintf(tmpdirs[slot], sizeof(tmpdirs[slot]), "/tmp/rep-test-XXXXXX");
    if (mkdtemp(tmpdirs[slot]) == NULL) {
        die("mkdtemp");
    }
    return tmpdirs[slot];
}

size_t tu_count(const char *hay, const char *needle)
{
    size_t n = 0, l = strlen(needle);
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + l, needle)) {
        n++;
    }
    return n;
}

double tu_noise(uint64_t *state, double amp)
{
    double u = (double)(rep_rng_next(state) >> 11) / 9007199254740992.0; /* [0, 1) */
    return 1 + amp * (2 * u - 1);
}

double tu_gauss(uint64_t *state)
{
    /* Box-Muller: two uniforms in (0, 1] and [0, 1) */
    double u1 = ((double)(rep_rng_next(state) >> 11) + 1) / 9007199254740992.0;
    double u2 = (double)(rep_rng_next(state) >> 11) / 9007199254740992.0;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

static char *slurp(FILE *f)
{
    long len = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)len + 1);
    if (buf == NULL) {
        die("malloc");
    }
    size_t got = fread(buf, 1, (size_t)len, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

int tu_run(int (*fn)(int, char **, FILE *, FILE *), int argc, const char *const *argv,
           char **out_text, char **err_text)
{
    FILE *out = tmpfile(), *err = tmpfile();
    if (out == NULL || err == NULL) {
        die("tmpfile");
    }
    char **args = calloc((size_t)argc + 1, sizeof(char *));
    for (int i = 0; i < argc; i++) {
        args[i] = strdup(argv[i]);
    }
    int rc = fn(argc, args, out, err);
    for (int i = 0; i < argc; i++) {
        free(args[i]);
    }
    free(args);
    fflush(out);
    fflush(err);
    *out_text = slurp(out);
    *err_text = slurp(err);
    return rc;
}
