/*
 * rep_bench.c - JSON loading with error positions, the bench.json reader and
 * the ratio pairs shared by the report and the gate.
 */
#include "rep_bench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base_buf.h"
#include "base_file.h"
#include "rep_pair.h"
#include "rep_stats.h"

#define REP_MAX_JSON_BYTES (256u << 20)

static void copy_str(char *dst, size_t max, const char *src)
{
    snprintf(dst, max, "%s", src != NULL ? src : "");
}

/* Line and column (1-based) of byte |off| in |text|. */
static void line_col(const char *text, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && text[i] != '\0'; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

enum rep_status rep_json_load(const char *path, cJSON **out, struct base_err *e)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int en = errno;
        base_err_set_sys(e, en == ENOENT ? BASE_ERR_NOT_FOUND : BASE_ERR_IO, en, BASE_HERE,
                         "%s: cannot open: %s", path, strerror(en));
        return en == ENOENT ? REP_MISSING : REP_BAD_FILE;
    }
    char *buf = NULL;
    size_t len = 0;
    struct base_err be = BASE_ERR_INIT;
    int rc = base_fd_read(fd, path, REP_MAX_JSON_BYTES - 1, 0, &buf, &len, &be);
    close(fd);
    if (rc != 0) {
        if (be.code == BASE_ERR_CAP) {
            BASE_FAIL(e, BASE_ERR_CAP, "%s: larger than %u MiB", path, REP_MAX_JSON_BYTES >> 20);
        } else if (be.code == BASE_ERR_NOMEM) {
            BASE_FAIL(e, BASE_ERR_NOMEM, "%s: out of memory", path);
        } else {
            BASE_FAIL(e, BASE_ERR_IO, "%s: read error", path);
        }
        return REP_BAD_FILE;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
    if (root == NULL) {
        size_t off = (end != NULL && end >= buf && end <= buf + len) ? (size_t)(end - buf) : len;
        size_t line, col;
        line_col(buf, off, &line, &col);
        if (len == 0) {
            BASE_FAIL(e, BASE_ERR_FORMAT, "%s: malformed JSON: the file is empty", path);
        } else {
            BASE_FAIL(e, BASE_ERR_FORMAT, "%s: malformed JSON at line %zu, column %zu (byte %zu)",
                      path, line, col, off);
        }
        free(buf);
        return REP_BAD_FILE;
    }
    free(buf);
    *out = root;
    return REP_OK;
}

int rep_mkdir_p(const char *dir)
{
    char tmp[4096];
    if (dir == NULL || dir[0] == '\0' || strlen(dir) >= sizeof(tmp)) {
        errno = EINVAL;
        return -1;
    }
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
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
        return -1;
    }
    struct stat st;
    if (stat(tmp, &st) != 0) {
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

void rep_fput_xml(FILE *f, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
            case '&':
                fputs("&amp;", f);
                break;
            case '<':
                fputs("&lt;", f);
                break;
            case '>':
                fputs("&gt;", f);
                break;
            case '"':
                fputs("&quot;", f);
                break;
            case '\'':
                fputs("&#39;", f);
                break;
            default:
                /* control characters other than tab/newline are not allowed in XML 1.0 */
                if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n') {
                    fputc(' ', f);
                } else {
                    fputc(*s, f);
                }
                break;
        }
    }
}

int rep_json_save(const char *path, cJSON *root)
{
    char *text = root != NULL ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (text == NULL) {
        errno = ENOMEM;
        return -1;
    }
    FILE *f = fopen(path, "w");
    int rc = -1;
    if (f != NULL) {
        rc = (fputs(text, f) >= 0 && fputc('\n', f) != EOF) ? 0 : -1;
        if (fclose(f) != 0) {
            rc = -1;
        }
    }
    free(text);
    return rc;
}

const char *rep_json_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double rep_json_num(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *rep_env_str(const struct rep_bench *b, const char *name)
{
    const char *s = b->env != NULL ? rep_json_str(b->env, name) : NULL;
    return s != NULL ? s : "";
}

double rep_env_num(const struct rep_bench *b, const char *name)
{
    return b->env != NULL ? rep_json_num(b->env, name) : NAN;
}

int rep_cell_measured(const struct rep_cell *c)
{
    return c->skipped == NULL && c->nsamples > 0;
}

void rep_unit_str(char *out, size_t out_len, double unit_bytes)
{
    double u = unit_bytes;
    if (!(u >= 0)) {
        snprintf(out, out_len, "?");
    } else if (u >= 1048576 && fmod(u, 1048576) == 0) {
        snprintf(out, out_len, "%.0fMiB", u / 1048576);
    } else if (u >= 1024 && fmod(u, 1024) == 0) {
        snprintf(out, out_len, "%.0fKiB", u / 1024);
    } else {
        snprintf(out, out_len, "%.0fB", u);
    }
}

static long num_or(const cJSON *o, const char *name, long dflt)
{
    double v = rep_json_num(o, name);
    return isnan(v) ? dflt : (long)v;
}

static int read_cell(const cJSON *r, struct rep_cell *c)
{
    memset(c, 0, sizeof(*c));
    c->json = r;
    copy_str(c->kind, sizeof(c->kind), rep_json_str(r, "kind"));
    copy_str(c->mode, sizeof(c->mode), rep_json_str(r, "mode"));
    copy_str(c->backend, sizeof(c->backend), rep_json_str(r, "backend"));
    copy_str(c->arch, sizeof(c->arch), rep_json_str(r, "arch"));
    copy_str(c->direction, sizeof(c->direction), rep_json_str(r, "direction"));
    const char *keys = rep_json_str(r, "keys");
    copy_str(c->keys, sizeof(c->keys), keys != NULL ? keys : "none");
    copy_str(c->unit, sizeof(c->unit), rep_json_str(r, "unit"));
    copy_str(c->label, sizeof(c->label), rep_json_str(r, "label"));
    c->unit_bytes = rep_json_num(r, "unit_bytes");
    c->batch = num_or(r, "batch", 0);
    c->threads = num_or(r, "threads", 1);
    c->skipped = rep_json_str(r, "skipped");
    if (c->skipped == NULL && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "skipped"))) {
        c->skipped = "skipped";
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "samples");
    if (cJSON_IsArray(s) && cJSON_GetArraySize(s) > 0) {
        size_t n = (size_t)cJSON_GetArraySize(s);
        c->samples = calloc(n, sizeof(double));
        if (c->samples == NULL) {
            return -1;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, s)
        {
            if (cJSON_IsNumber(it) && isfinite(it->valuedouble)) {
                c->samples[c->nsamples++] = it->valuedouble;
            }
        }
    }
    c->median = rep_json_num(r, "median");
    if (isnan(c->median) && c->nsamples > 0) {
        c->median = rep_median(c->samples, c->nsamples);
    }
    c->ci_low = rep_json_num(r, "ci_low");
    c->ci_high = rep_json_num(r, "ci_high");
    c->ci_level = rep_json_num(r, "ci_level");
    char u[32];
    snprintf(u, sizeof(u), "%.0f", isnan(c->unit_bytes) ? -1.0 : c->unit_bytes);
    snprintf(c->key, sizeof(c->key), "%s|%s|%s|%s|%s|%s|%ld|%ld|%s", c->kind, c->mode, c->backend,
             c->arch, c->direction, u, c->batch, c->threads, c->keys);
    return 0;
}

void rep_bench_free(struct rep_bench *b)
{
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < b->ncells; i++) {
        free(b->cells[i].samples);
    }
    free(b->cells);
    cJSON_Delete(b->root);
    memset(b, 0, sizeof(*b));
}

enum rep_status rep_bench_from_json(cJSON *root, const char *name, struct rep_bench *b,
                                    struct base_err *e)
{
    memset(b, 0, sizeof(*b));
    copy_str(b->path, sizeof(b->path), name);
    b->root = root;
    if (!cJSON_IsObject(b->root)) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "%s: not a bench result (the top level is not a JSON object)",
                  name);
        return REP_BAD_FILE;
    }
    const char *schema = rep_json_str(b->root, "schema");
    if (schema == NULL || strcmp(schema, REP_BENCH_SCHEMA) != 0) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "%s: not a bench result (schema is '%s', expected '%s')",
                  name, schema != NULL ? schema : "(missing)", REP_BENCH_SCHEMA);
        return REP_BAD_FILE;
    }
    double ver = rep_json_num(b->root, "schema_version");
    if (isnan(ver) || ver < 1 || ver != floor(ver)) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "%s: schema_version is missing or not a positive integer",
                  name);
        return REP_BAD_FILE;
    }
    if (ver > REP_BENCH_SCHEMA_VERSION) {
        BASE_FAIL(e, BASE_ERR_FORMAT,
                  "%s: schema_version %.0f is newer than this reader (%d); update reports/", name,
                  ver, REP_BENCH_SCHEMA_VERSION);
        return REP_BAD_FILE;
    }
    b->schema_version = (int)ver;
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(b->root, "env");
    b->env = cJSON_IsObject(env) ? env : NULL;
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(b->root, "results");
    if (!cJSON_IsArray(res)) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "%s: no 'results' array", name);
        return REP_BAD_FILE;
    }
    size_t n = (size_t)cJSON_GetArraySize(res);
    if (n > 0) {
        b->cells = calloc(n, sizeof(*b->cells));
        if (b->cells == NULL) {
            BASE_FAIL(e, BASE_ERR_NOMEM, "%s: out of memory", name);
            return REP_BAD_FILE;
        }
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, res)
    {
        if (!cJSON_IsObject(r)) {
            continue; /* tolerated: a reader skips what it does not understand */
        }
        if (read_cell(r, &b->cells[b->ncells]) != 0) {
            BASE_FAIL(e, BASE_ERR_NOMEM, "%s: out of memory", name);
            return REP_BAD_FILE;
        }
        b->ncells++;
    }
    return REP_OK;
}

enum rep_status rep_bench_load(const char *path, struct rep_bench *b, struct base_err *e)
{
    memset(b, 0, sizeof(*b));
    copy_str(b->path, sizeof(b->path), path);
    cJSON *root = NULL;
    enum rep_status st = rep_json_load(path, &root, e);
    if (st != REP_OK) {
        return st;
    }
    return rep_bench_from_json(root, path, b, e);
}

/* The raw library an engine back end is measured against. */
static const char *raw_library_for(const char *backend)
{
    return strcmp(backend, "ipsec-mb") == 0 ? "ipsec-mb" : "openssl";
}

static int same_group(const struct rep_cell *a, const struct rep_cell *b)
{
    return strcmp(a->mode, b->mode) == 0 && strcmp(a->direction, b->direction) == 0 &&
           a->unit_bytes == b->unit_bytes && a->batch == b->batch && a->threads == b->threads;
}

static void pair_name(struct rep_pair *p)
{
    const struct rep_cell *x = p->num, *y = p->den;
    char u[24], extra[96] = "";
    rep_unit_str(u, sizeof(u), x->unit_bytes);
    size_t off = 0;
    if (x->batch != 64) {
        off += (size_t)snprintf(extra + off, sizeof(extra) - off, ", batch %ld", x->batch);
    }
    if (x->threads != 1 && off < sizeof(extra)) {
        off += (size_t)snprintf(extra + off, sizeof(extra) - off, ", %ld threads", x->threads);
    }
    (void)off;
    if (strcmp(p->type, "engine/ceiling") == 0) {
        snprintf(p->name, sizeof(p->name), "engine %s %s/%s / AES ceiling %s, %s %s%s", x->mode,
                 x->backend, x->arch, y->arch, u, x->direction, extra);
    } else if (strcmp(p->type, "cmk/smk") == 0) {
        snprintf(p->name, sizeof(p->name), "cmk/smk %s%s %s/%s %s %s%s",
                 strcmp(x->kind, "store-file") == 0 ? "store on file " : "", x->mode, x->backend,
                 x->arch, u, x->direction, extra);
    } else {
        snprintf(p->name, sizeof(p->name), "engine %s %s/%s / raw %s, %s %s%s", x->mode, x->backend,
                 x->arch, y->backend, u, x->direction, extra);
    }
    snprintf(p->key, sizeof(p->key), "%s / %s", x->key, y->key);
}

static const struct rep_cell *find_den(const struct rep_bench *b, const struct rep_cell *x,
                                       const char **type)
{
    for (size_t j = 0; j < b->ncells; j++) {
        const struct rep_cell *y = &b->cells[j];
        if (!rep_cell_measured(y) || !same_group(x, y)) {
            continue;
        }
        if (strcmp(x->keys, "none") == 0) {
            if (strcmp(y->kind, "raw") == 0 && strcmp(y->keys, "none") == 0 &&
                strcmp(y->backend, raw_library_for(x->backend)) == 0) {
                *type = "engine/raw";
                return y;
            }
        } else if (strcmp(x->keys, "cmk") == 0) {
            if (strcmp(y->kind, x->kind) == 0 && strcmp(y->keys, "smk") == 0 &&
                strcmp(y->backend, x->backend) == 0 && strcmp(y->arch, x->arch) == 0) {
                *type = "cmk/smk";
                return y;
            }
        }
    }
    return NULL;
}

/*
 * The ceiling cell of |x|'s group at the widest width measured (bench.json
 * marks it "widest": true), for engine cells without keys; NULL if none.
 */
static const struct rep_cell *find_ceiling(const struct rep_bench *b, const struct rep_cell *x)
{
    if (strcmp(x->keys, "none") != 0) {
        return NULL;
    }
    for (size_t j = 0; j < b->ncells; j++) {
        const struct rep_cell *y = &b->cells[j];
        if (rep_cell_measured(y) && strcmp(y->kind, "ceiling") == 0 && same_group(x, y) &&
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(y->json, "widest"))) {
            return y;
        }
    }
    return NULL;
}

double *rep_round_ratios(const struct rep_cell *num, const struct rep_cell *den, size_t *n)
{
    size_t m = num->nsamples < den->nsamples ? num->nsamples : den->nsamples;
    double *r = calloc(m > 0 ? m : 1, sizeof(double));
    *n = r != NULL ? rep_pair_ratios(num->samples, m, den->samples, m, r) : 0;
    return r;
}

void rep_pairs_free(struct rep_pair *p, size_t n)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(p[i].ratios);
    }
    free(p);
}

long rep_pairs_build(const struct rep_bench *b, struct rep_pair **out)
{
    *out = NULL;
    size_t n = 0, cap = 0;
    struct rep_pair *pairs = NULL;
    for (size_t i = 0; i < b->ncells; i++) {
        const struct rep_cell *x = &b->cells[i];
        /* engine cells against raw (keys none) or SMK (keys cmk); store-on-file cells CMK against
         * SMK */
        int file_cmk = strcmp(x->kind, "store-file") == 0 && strcmp(x->keys, "cmk") == 0;
        if ((strcmp(x->kind, "engine") != 0 && !file_cmk) || !rep_cell_measured(x)) {
            continue;
        }
        /* its raw library or SMK cell, then the AES ceiling of its group */
        for (int k = 0; k < 2; k++) {
            const char *type = "engine/ceiling";
            const struct rep_cell *y = k == 0 ? find_den(b, x, &type) : find_ceiling(b, x);
            if (y == NULL) {
                continue;
            }
            size_t nr;
            double *r = rep_round_ratios(x, y, &nr);
            if (r == NULL || base_grow(&pairs, &cap, n + 1, sizeof(*pairs), SIZE_MAX, NULL) != 0) {
                free(r);
                rep_pairs_free(pairs, n);
                return -1;
            }
            struct rep_pair *p = &pairs[n];
            memset(p, 0, sizeof(*p));
            p->num = x;
            p->den = y;
            copy_str(p->type, sizeof(p->type), type);
            p->ratios = r;
            p->n = nr;
            pair_name(p);
            n++;
        }
    }
    *out = pairs;
    return (long)n;
}
