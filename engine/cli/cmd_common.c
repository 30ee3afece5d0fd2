/*
 * cmd_common.c - what the command groups of cmk share: parsing sizes, the
 * store configuration from the options, whether a store or backup needs the
 * vault options, opening a store (waiting for its lock) and its errors. See
 * cmk_cmd.h.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base_codec.h"
#include "cmk_cmd.h"
#include "eng_keys.h"
#include "eng_secure.h"
#include "eng_store.h"
#include "eng_vault.h"
#include "keyopts.h"

int cmk_fail(const char *what)
{
    return cmk_fail_with(what, eng_errno());
}

/* Parses a non-negative integer with an optional K/M/G (binary) suffix. */
int cmk_parse_size(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s) {
        return -1;
    }
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k') {
        shift = 10;
    } else if (*end == 'M' || *end == 'm') {
        shift = 20;
    } else if (*end == 'G' || *end == 'g') {
        shift = 30;
    } else if (*end != '\0') {
        return -1;
    }
    if (shift != 0 && end[1] != '\0') {
        return -1;
    }
    if (shift != 0 && v > (UINT64_MAX >> shift)) {
        return -1;
    }
    *out = (uint64_t)v << shift;
    return 0;
}

int cmk_parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;
    if (cmk_parse_size(s, &v) != 0 || v > UINT32_MAX) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int cmk_run_config(const struct opts *o, struct eng_store_config *cfg)
{
    eng_store_config_init(cfg);
    if (o->revalidate != NULL &&
        (cmk_parse_u32(o->revalidate, &cfg->revalidate_s) != 0 || cfg->revalidate_s == 0)) {
        return cmk_usage_error("bad --revalidate", o->revalidate);
    }
    if (o->backend != NULL && eng_backend_from_name(o->backend, &cfg->backend) != 0) {
        return cmk_usage_error("unknown --backend", o->backend);
    }
    if (o->wait != NULL &&
        (cmk_parse_u32(o->wait, &cfg->lock_wait_s) != 0 || cfg->lock_wait_s > 86400)) {
        return cmk_usage_error("bad --wait (seconds, 0..86400)", o->wait);
    }
    cfg->anchor_dir = o->anchor_dir;
    return EXIT_OK;
}

/*
 * Without --vault-url the SMK key file is used. A store or backup whose
 * records name another provider cannot be opened with it: say which key it
 * needs and which options to pass (|what|: "store S", "backup F"), and
 * return EXIT_USAGE. EXIT_OK when |rec| is the SMK's, or empty (unknown).
 */
static int need_vault_options(const struct opts *o, const char *what, const struct eng_kek_ref *rec)
{
    if (o->k.vault_url != NULL || rec->provider[0] == '\0' ||
        strcmp(rec->provider, ENG_SMK_PROVIDER_NAME) == 0) {
        return EXIT_OK;
    }
    const char *keys = strstr(rec->key_id, "/keys/");
    if (keys == NULL) {
        fprintf(stderr,
                "cmk: %s: %s is under the key %s (version %s) of key provider \"%s\", "
                "which cmk cannot reach\n",
                o->pos[0], what, rec->key_id, rec->version, rec->provider);
        return EXIT_USAGE;
    }
    fprintf(stderr,
            "cmk: %s: %s is under the customer-managed key %s (version %s) in a key "
            "vault; give --vault-url %.*s --vault-key %s --vault-ca CA_FILE --vault-token-file "
            "TOKEN_FILE (an identity allowed get, wrapKey and unwrapKey on that key)\n",
            o->pos[0], what, rec->key_id, rec->version, (int)(keys - rec->key_id), rec->key_id,
            keys + strlen("/keys/"));
    return EXIT_USAGE;
}

/* need_vault_options for the store in |dir| (its key table, read without any key). */
int cmk_store_needs_vault(const struct opts *o, const char *dir)
{
    struct eng_kek_ref rec;
    memset(&rec, 0, sizeof(rec));
    struct eng_store_dek d;
    struct eng_store *s = o->k.vault_url == NULL ? eng_store_inspect(dir) : NULL;
    if (s != NULL && eng_store_dek_info(s, 0, &d) == 0) {
        rec = d.kek;
    }
    eng_store_close(s);
    char what[PATH_MAX + 8];
    snprintf(what, sizeof(what), "store %s", dir);
    return need_vault_options(o, what, &rec);
}

/* A provider that only records the ref of the first unwrap asked of it, and fails. */
static int probe_unwrap(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                        size_t max_out_len, const uint8_t *in, size_t in_len)
{
    (void)out, (void)out_len, (void)max_out_len, (void)in, (void)in_len;
    struct eng_kek_ref *rec = state;
    if (rec->provider[0] == '\0') {
        *rec = *kek;
    }
    return -1;
}

/* need_vault_options for the backup stream |path|: its header names the KEK. */
int cmk_backup_needs_vault(const struct opts *o, const char *path)
{
    struct eng_kek_ref rec;
    memset(&rec, 0, sizeof(rec));
    struct eng_kek_provider probe = {.name = "probe", .state = &rec, .unwrap = probe_unwrap};
    if (o->k.vault_url == NULL) {
        (void)eng_backup_verify(path, &probe); /* fails at the unwrap, or earlier */
    }
    char what[PATH_MAX + 8];
    snprintf(what, sizeof(what), "backup %s", path);
    return need_vault_options(o, what, &rec);
}

/*
 * Opens with |cfg|: one try first; when the store is busy and --wait was
 * given, says so on stderr (one line) and tries again for up to that long.
 */
struct eng_store *cmk_open_waiting(const char *dir, struct eng_kek_provider *kek,
                                   struct eng_store_config *cfg)
{
    uint32_t wait = cfg->lock_wait_s;
    cfg->lock_wait_s = 0;
    struct eng_store *s = eng_store_open(dir, kek, cfg);
    if (s == NULL && eng_errno() == ENG_ERR_STORE_BUSY && wait > 0) {
        fprintf(stderr, "cmk: %s is busy (open in another process); waiting up to %" PRIu32 " s\n",
                dir, wait);
        fflush(stderr);
        cfg->lock_wait_s = wait;
        s = eng_store_open(dir, kek, cfg);
    }
    return s;
}

/*
 * The one line for a failed open. A key-table/provider mismatch also names
 * the key the store records and the one given, and the command that moves
 * a store to its vault's new address.
 */
int cmk_open_failed(const struct opts *o, struct eng_kek_provider *kek, const char *what, int code)
{
    struct eng_kek_ref given;
    struct eng_store_dek d;
    struct eng_store *in = NULL;
    if ((code != ENG_ERR_KEK_MISMATCH && code != ENG_ERR_KEK_URL_MISMATCH) ||
        eng_kek_describe(kek, NULL, &given) != 0 || (in = eng_store_inspect(o->pos[1])) == NULL ||
        eng_store_dek_info(in, 0, &d) != 0) {
        eng_store_close(in);
        return cmk_fail_with(what, code);
    }
    eng_store_close(in);
    fprintf(stderr,
            "cmk: %s: %s (%s): the store's key table names %s key %s version %s; "
            "given: %s key %s%s%s%s\n",
            what, eng_strerror(code), eng_error_name(code), d.kek.provider, d.kek.key_id,
            d.kek.version, given.provider, given.key_id,
            code == ENG_ERR_KEK_URL_MISMATCH ? "; if the vault moved: cmk set-vault-url " : "",
            code == ENG_ERR_KEK_URL_MISMATCH ? o->pos[1] : "",
            code == ENG_ERR_KEK_URL_MISMATCH ? " with these vault options" : "");
    return cmk_exit_code_for(code);
}

/* Opens the store of command position 1 (read-only: shared lock); prints the error itself. */
struct eng_store *cmk_open_store(const struct opts *o, struct eng_kek_provider **kek, int *rc,
                                 int read_only)
{
    struct eng_store_config cfg;
    *rc = cmk_run_config(o, &cfg);
    if (*rc != EXIT_OK || (*rc = cmk_store_needs_vault(o, o->pos[1])) != EXIT_OK) {
        return NULL;
    }
    if (read_only) {
        cfg.flags |= ENG_STORE_READ_ONLY;
    }
    *kek = cmk_open_kek(&o->k, 0);
    if (*kek == NULL) {
        *rc = cmk_kek_exit_code();
        return NULL;
    }
    struct eng_store *s = cmk_open_waiting(o->pos[1], *kek, &cfg);
    if (s == NULL) {
        *rc = cmk_open_failed(o, *kek, "open", eng_errno());
        eng_kek_provider_free(*kek);
        *kek = NULL;
    }
    return s;
}

/* Opens the store at position 1 (|read_only|: shared), runs |op|, closes: the exit code. */
int cmk_with_store(const struct opts *o, const char *what, int read_only,
                   int (*op)(struct eng_store *s, const struct opts *o))
{
    struct eng_kek_provider *kek = NULL;
    int rc;
    struct eng_store *s = cmk_open_store(o, &kek, &rc, read_only);
    if (s == NULL) {
        return rc;
    }
    if (op(s, o) != 0) {
        rc = cmk_fail(what);
    }
    eng_store_close(s);
    eng_kek_provider_free(kek);
    return rc;
}
