/*
 * keyopts.c - the key options of the command-line tools (see keyopts.h).
 */
#include "keyopts.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eng_secure.h"
#include "eng_vault.h"

const char *cmk_prog = "cmk";

int cmk_usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s (see %s --help)\n", cmk_prog, what, arg != NULL ? ": " : "",
            arg != NULL ? arg : "", cmk_prog);
    return EXIT_USAGE;
}

int cmk_fail_with(const char *what, int code)
{
    const char *file = eng_error_file();
    fprintf(stderr, "%s: %s: %s%s%s (%s)\n", cmk_prog, what, file, file[0] != '\0' ? ": " : "",
            eng_strerror(code), eng_error_name(code));
    return cmk_exit_code_for(code);
}

const char **cmk_keyopts_field(struct cmk_keyopts *k, const char *name, size_t nlen)
{
    static const struct {
        const char *name;
        size_t field; /* offset of a const char * in struct cmk_keyopts */
    } valued[] = {
        {"key-file", offsetof(struct cmk_keyopts, key_file)},
        {"vault-url", offsetof(struct cmk_keyopts, vault_url)},
        {"vault-key", offsetof(struct cmk_keyopts, vault_key)},
        {"vault-ca", offsetof(struct cmk_keyopts, vault_ca)},
        {"vault-token-file", offsetof(struct cmk_keyopts, vault_token_file)},
    };
    for (size_t i = 0; i < sizeof(valued) / sizeof(valued[0]); i++) {
        if (strlen(valued[i].name) == nlen && strncmp(valued[i].name, name, nlen) == 0) {
            return (const char **)((char *)k + valued[i].field);
        }
    }
    return NULL;
}

int cmk_exit_code_for(int code)
{
    if (code == ENG_ERR_INACCESSIBLE || eng_kek_error_is_revocation(code)) {
        return EXIT_INACCESSIBLE;
    }
    switch (code) {
        case ENG_ERR_KEK_EXPIRED:
        case ENG_ERR_KEK_NOT_YET_VALID:
            return EXIT_INACCESSIBLE;
        case ENG_ERR_VAULT_INSECURE:
        case ENG_ERR_GEOMETRY:
            return EXIT_USAGE;
        case ENG_ERR_AUTH:
        case ENG_ERR_KEYTABLE_CORRUPT:
        case ENG_ERR_KEYTABLE_TRUNCATED:
        case ENG_ERR_KEYTABLE_AUTH:
        case ENG_ERR_KEYTABLE_ROLLBACK:
        case ENG_ERR_BACKUP_CORRUPT:
        case ENG_ERR_BACKUP_TRUNCATED:
        case ENG_ERR_STORE_CORRUPT:
        case ENG_ERR_UNWRAP:
            return EXIT_INTEGRITY;
        default:
            return EXIT_ERR;
    }
}

int cmk_key_file_path(const struct cmk_keyopts *o, char *out, size_t max_out_len, int create_dir)
{
    const char *p = o->key_file != NULL ? o->key_file : getenv("CMK_KEY_FILE");
    if (p != NULL && p[0] != '\0') {
        return snprintf(out, max_out_len, "%s", p) < (int)max_out_len ? 0 : -1;
    }
    const char *home = getenv("HOME");
    if (home == NULL || home[0] == '\0') {
        return -1;
    }
    char d[PATH_MAX];
    if (snprintf(d, sizeof(d), "%s/.cmk", home) >= (int)sizeof(d)) {
        return -1;
    }
    if (create_dir && mkdir(d, 0700) != 0 && errno != EEXIST) {
        return -1;
    }
    return snprintf(out, max_out_len, "%s/smk.key", d) < (int)max_out_len ? 0 : -1;
}

/*
 * After the engine refused the secret file |path| (|kind|: "key file",
 * "token file"): one line naming the file and the error, and for a file
 * that is not ours alone its mode and owner and what to do.
 */
static void secret_file_error(const char *kind, const char *path)
{
    int code = eng_errno();
    struct stat st;
    int found = lstat(path, &st) == 0;
    if (found && (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode))) {
        fprintf(stderr, "%s: %s %s is %s, refused (give a regular file): %s (%s)\n", cmk_prog, kind,
                path, S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file",
                eng_strerror(code), eng_error_name(code));
        return;
    }
    if (found && (code == ENG_ERR_PERM_LOOSE || code == ENG_ERR_PERM_OWNER)) {
        fprintf(stderr,
                "%s: %s %s has mode %04o and owner uid %lu: %s (%s); it must be a "
                "regular file owned by uid %lu, no group or other access (chmod 600)\n",
                cmk_prog, kind, path, (unsigned)(st.st_mode & 07777), (unsigned long)st.st_uid,
                eng_strerror(code), eng_error_name(code), (unsigned long)geteuid());
        return;
    }
    fprintf(stderr, "%s: %s %s: %s (%s)\n", cmk_prog, kind, path, eng_strerror(code),
            eng_error_name(code));
}

/* The customer-managed provider: token from --vault-token-file or $CMK_VAULT_TOKEN. */
static struct eng_kek_provider *open_vault(const struct cmk_keyopts *o)
{
    char token[ENG_VAULT_TOKEN_MAX + 1] = "";
    if (o->vault_key == NULL) {
        fprintf(stderr, "%s: --vault-url needs --vault-key NAME\n", cmk_prog);
        return NULL;
    }
    if (o->vault_token_file != NULL) {
        if (eng_vault_read_token(o->vault_token_file, token, sizeof(token)) != 0) {
            secret_file_error("token file", o->vault_token_file);
            return NULL;
        }
    } else if (getenv("CMK_VAULT_TOKEN") != NULL) {
        snprintf(token, sizeof(token), "%s", getenv("CMK_VAULT_TOKEN"));
    } else {
        fprintf(stderr, "%s: --vault-url needs --vault-token-file or $CMK_VAULT_TOKEN\n", cmk_prog);
        return NULL;
    }
    struct eng_vault_config cfg = {.vault_url = o->vault_url,
                                   .key_name = o->vault_key,
                                   .token = token,
                                   .ca_file = o->vault_ca,
                                   .max_retries = -1,
                                   .insecure_http = o->insecure_http};
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    eng_cleanse(token, sizeof(token));
    int code = eng_errno();
    if (p == NULL && code == ENG_ERR_VAULT_INSECURE) {
        fprintf(stderr,
                "%s: --vault-url %s: %s; use https://, or --vault-insecure-http to "
                "accept it (%s)\n",
                cmk_prog, o->vault_url, eng_strerror(code), eng_error_name(code));
    } else if (p == NULL && code == ENG_ERR_VAULT_CA_FILE) {
        struct stat st;
        const char *why = stat(o->vault_ca, &st) != 0 || access(o->vault_ca, R_OK) != 0
                              ? strerror(errno)
                          : !S_ISREG(st.st_mode) ? "not a regular file"
                                                 : "no PEM certificate in it";
        fprintf(stderr, "%s: --vault-ca %s: %s: %s (%s)\n", cmk_prog, o->vault_ca, why,
                eng_strerror(code), eng_error_name(code));
    } else if (p == NULL) {
        fprintf(stderr, "%s: vault %s key %s: %s (%s)\n", cmk_prog, o->vault_url, o->vault_key,
                eng_strerror(code), eng_error_name(code));
    } else if (o->insecure_http && strncmp(o->vault_url, "http://", 7) == 0) {
        fprintf(stderr,
                "%s: warning: --vault-insecure-http: the bearer token goes to %s in "
                "clear text\n",
                cmk_prog, o->vault_url);
    }
    return p;
}

struct eng_kek_provider *cmk_open_kek(const struct cmk_keyopts *o, int create)
{
    if (o->vault_url != NULL) {
        return open_vault(o);
    }
    char path[PATH_MAX];
    if (cmk_key_file_path(o, path, sizeof(path), create) != 0) {
        fprintf(stderr, "%s: no key file: give --key-file or set CMK_KEY_FILE or HOME\n", cmk_prog);
        return NULL;
    }
    struct eng_kek_provider *p = eng_smk_open(path, create);
    if (p == NULL) {
        secret_file_error("key file", path);
    }
    return p;
}
