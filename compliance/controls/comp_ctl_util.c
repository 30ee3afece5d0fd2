/*
 * comp_ctl_util.c - the control suite's helpers (evidence, failures, providers, stores
 * holding canary data, file scans) and the setup and teardown of its two vault-mocks.
 */
#include <dirent.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base_codec.h"
#include "comp_ctl_internal.h"
#include "eng_vault.h"

/* ---- small helpers ------------------------------------------------------------------------ */

double cc_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void cc_ev(struct comp_control *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    comp_control_add_evidence(c, "%s", line);
}

void cc_fail(struct comp_control *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    comp_control_set(c, COMP_VERDICT_FAIL, "%s", line);
}

const char *cc_ename(void)
{
    return eng_error_name(eng_errno());
}

struct eng_kek_provider *cc_provider(struct vmt_server *vs, const char *identity, const char *key,
                                     const char *alg)
{
    char token[600];
    snprintf(token, sizeof(token), "%s", vmt_token(vs, identity) ? vmt_token(vs, identity) : "");
    struct eng_vault_config cfg = {.vault_url = vs->url,
                                   .key_name = key,
                                   .token = token,
                                   .ca_file = vs->ca,
                                   .alg = alg,
                                   .max_retries = 1,
                                   .backoff_base_ms = 10,
                                   .backoff_max_ms = 50};
    return eng_vault_open(&cfg);
}

static void store_cfg(struct eng_store_config *cfg, enum eng_mode mode, unsigned reval)
{
    eng_store_config_init(cfg);
    cfg->mode = mode;
    cfg->unit_size = UNIT;
    cfg->num_units = UNITS;
    cfg->extent_units = EXTENT_UNITS;
    cfg->revalidate_s = reval;
    cfg->grace_s = 1;
}

struct eng_store *cc_new_store(struct ctx *x, struct eng_kek_provider *p, enum eng_mode mode,
                               char *dir, size_t max_dir)
{
    snprintf(dir, max_dir, "%s/store-%d", x->work, ++x->seq);
    struct eng_store_config cfg;
    store_cfg(&cfg, mode, x->reval);
    return eng_store_create(dir, p, &cfg);
}

struct eng_store *cc_reopen(struct ctx *x, const char *dir, struct eng_kek_provider *p)
{
    struct eng_store_config cfg;
    store_cfg(&cfg, ENG_MODE_XTS, x->reval);
    return eng_store_open(dir, p, &cfg);
}

/* Recognisable plaintext: "CMK-CANARY-<unit>-" repeated. */
void cc_canary(uint8_t *buf, size_t len, unsigned unit)
{
    char pat[32];
    int n = snprintf(pat, sizeof(pat), "CMK-CANARY-%04u-", unit);
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)pat[i % (size_t)n];
    }
}

uint8_t *cc_canary_units(size_t first, size_t n)
{
    uint8_t *b = malloc(n * UNIT);
    for (size_t i = 0; b != NULL && i < n; i++) {
        cc_canary(b + i * UNIT, UNIT, (unsigned)(first + i));
    }
    return b;
}

/* ---- stores holding canary data -------------------------------------------------------------- */

/* A store under |key| (created as keyofficer) holding canary units 0..7; NULL on failure. */
struct eng_store *cc_store_with_data(struct ctx *x, struct comp_control *c, struct vmt_server *vs,
                                     const char *identity, const char *key, enum eng_mode mode,
                                     struct eng_kek_provider **p, char *dir, size_t max_dir,
                                     char *version)
{
    long st = vmt_create_key(vs, key, 2048, NULL, version);
    if (st != 200) {
        cc_fail(c, "creating key %s answered %ld", key, st);
        return NULL;
    }
    *p = cc_provider(vs, identity, key, NULL);
    if (*p == NULL) {
        cc_fail(c, "eng_vault_open: %s", cc_ename());
        return NULL;
    }
    struct eng_store *s = cc_new_store(x, *p, mode, dir, max_dir);
    uint8_t *data = cc_canary_units(0, 8);
    if (s == NULL || data == NULL || eng_store_write(s, 0, 8, data) != 0) {
        cc_fail(c, "store setup failed: %s", cc_ename());
        eng_store_close(s);
        free(data);
        return NULL;
    }
    free(data);
    cc_ev(c,
          "store %s (%s, %u x %u B, revalidation %u s) under %s version %s as %s, 8 canary "
          "units written",
          dir, eng_mode_name(mode), UNITS, UNIT, x->reval, key, version, identity);
    return s;
}

int cc_data_intact(struct eng_store *s)
{
    uint8_t *want = cc_canary_units(0, 8);
    uint8_t *got = malloc(8 * UNIT);
    int ok = want != NULL && got != NULL && eng_store_read(s, 0, 8, got) == 0 &&
             memcmp(want, got, 8 * UNIT) == 0;
    free(want);
    free(got);
    return ok;
}

/* ---- file scans ------------------------------------------------------------------------------ */

/* Counts occurrences of |needle| in the file at |path|; -1 if unreadable. */
long cc_count_in_file(const char *path, const void *needle, size_t needle_len, size_t *size)
{
    size_t len = 0;
    char *buf = vmt_read_file(path, &len);
    if (buf == NULL) {
        return -1;
    }
    long hits = 0;
    const char *p = buf, *end = buf + len;
    while (p < end && (p = memmem(p, (size_t)(end - p), needle, needle_len)) != NULL) {
        hits++;
        p++;
    }
    free(buf);
    *size = len;
    return hits;
}

/* Visits every regular file under |dir| (one level plus subfolders). */
void cc_for_files(const char *dir, void (*fn)(const char *path, void *arg), void *arg)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            cc_for_files(p, fn, arg);
        } else if (S_ISREG(st.st_mode)) {
            fn(p, arg);
        }
    }
    closedir(d);
}

void cc_scan_file(const char *path, void *arg)
{
    struct scan *s = arg;
    s->files++;
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
        s->loose_modes++;
    }
    for (size_t i = 0; i < s->num_needles; i++) {
        size_t size = 0;
        long h = cc_count_in_file(path, s->needles[i], s->needle_lens[i], &size);
        if (i == 0) {
            s->bytes += size;
        }
        if (h > 0) {
            s->hits += (unsigned long)h;
            snprintf(s->where, sizeof(s->where), "%s", path);
        }
    }
}

/* ---- vault setup ------------------------------------------------------------------------ */

int cc_write_identities(struct ctx *x, int app_grant)
{
    FILE *f = fopen(x->ids_path, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f,
            "{\"identities\": [\n"
            " {\"name\": \"keyofficer\", \"token\": \"%s\", \"permissions\": [\"all\"]},\n"
            " {\"name\": \"dbservice\", \"token\": \"%s\", \"permissions\": [\"get\", \"wrapKey\", "
            "\"unwrapKey\"]},\n"
            " {\"name\": \"auditor\", \"token\": \"%s\", \"permissions\": [\"get\", \"list\"]},\n"
            " {\"name\": \"secofficer\", \"token\": \"%s\", \"permissions\": [\"create\", \"get\", "
            "\"list\", \"update\", \"delete\", \"recover\", \"purge\", \"rotate\"]},\n"
            " {\"name\": \"app\", \"token\": \"%s\", \"permissions\": [\"list\"]%s}],\n"
            " \"admin_token\": \"%s\"}\n",
            x->tok[T_OFFICER], x->tok[T_DBSERVICE], x->tok[T_AUDITOR], x->tok[T_SECOFFICER],
            x->tok[T_APP],
            app_grant ? ", \"keys\": {\"app-kek\": [\"get\", \"wrapKey\", \"unwrapKey\"]}" : "",
            x->tok[T_ADMIN]);
    int rc = fclose(f);
    chmod(x->ids_path, 0600);
    return rc == 0 ? 0 : -1;
}

/* (Re)starts vault A with the identities file; |port| 0 = any free port. */
int cc_start_va(struct ctx *x, const char *port)
{
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%s", port);
    const char *args[] = {"--throttle", "off", "--identities", x->ids_path, "--listen",
                          listen,       NULL};
    x->va_up = vmt_start(&x->va, args) == 0;
    return x->va_up ? 0 : -1;
}

int cc_setup(struct ctx *x)
{
    snprintf(x->work, sizeof(x->work), "/tmp/cmk-compliance-XXXXXX");
    if (mkdtemp(x->work) == NULL) {
        return -1;
    }
    /* The stores' freshness anchors stay in the work folder (eng_store.h), cmk's too. */
    char anchors[sizeof(x->work) + 16];
    snprintf(anchors, sizeof(anchors), "%s/anchors", x->work);
    setenv("CMK_ANCHOR_DIR", anchors, 1);
    for (int i = 0; i < 6; i++) {
        uint8_t r[TOKEN_HEX];
        if (RAND_bytes(r, sizeof(r)) != 1) {
            return -1;
        }
        base_hex(x->tok[i], r, TOKEN_HEX);
    }
    snprintf(x->ids_path, sizeof(x->ids_path), "%s/identities.json", x->work);
    if (cc_write_identities(x, 1) != 0 || cc_start_va(x, "0") != 0) {
        return -1;
    }
    const char *args[] = {"--throttle", "off", "--purge-protection", "off", NULL};
    x->vb_up = vmt_start(&x->vb, args) == 0;
    return x->vb_up ? 0 : -1;
}

void cc_teardown(struct ctx *x)
{
    if (x->va_up || x->va.state[0] != '\0') {
        vmt_cleanup(&x->va);
    }
    if (x->vb_up || x->vb.state[0] != '\0') {
        vmt_cleanup(&x->vb);
    }
    if (x->work[0] != '\0') {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->work);
        int rc = system(cmd);
        (void)rc;
    }
}
