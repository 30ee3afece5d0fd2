/*
 * keyopts.h - the key options shared by the command-line tools (bin/cmk,
 * bin/cmk-fs): --key-file, or --vault-url with --vault-key, --vault-ca,
 * --vault-token-file (and --vault-insecure-http), their parsing, the
 * provider they open, and the exit code an engine error maps to.
 *
 * Messages go to stderr as one line starting with cmk_prog ("cmk", "cmk-fs").
 */
#ifndef CMK_KEYOPTS_H
#define CMK_KEYOPTS_H

#include <stddef.h>

#include "eng_keys.h"

enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2, EXIT_INACCESSIBLE = 3, EXIT_INTEGRITY = 4 };

/* The program name the messages start with; each tool sets it first thing in main. */
extern const char *cmk_prog;

struct cmk_keyopts {
    const char *key_file;
    const char *vault_url;
    const char *vault_key;
    const char *vault_ca;
    const char *vault_token_file;
    int insecure_http;
};

/*
 * cmk_keyopts_field returns where the value of the valued key option |name|
 * (|nlen| bytes, without the leading "--": "key-file", "vault-url", ...) goes
 * in |k|, or NULL when |name| is not one of them.
 */
const char **cmk_keyopts_field(struct cmk_keyopts *k, const char *name, size_t nlen);

/*
 * cmk_key_file_path writes the SMK key file's path: --key-file, else
 * $CMK_KEY_FILE, else $HOME/.cmk/smk.key (the folder made 0700 when
 * |create_dir|). 0, or -1 when none can be named.
 */
int cmk_key_file_path(const struct cmk_keyopts *k, char *out, size_t max_out_len, int create_dir);

/*
 * cmk_open_kek opens the provider the options name: the vault (token from
 * --vault-token-file or $CMK_VAULT_TOKEN) when --vault-url is given, else the
 * SMK key file (created when |create|). NULL after one line on stderr naming
 * the option or file and the engine error (eng_errno() tells which).
 */
struct eng_kek_provider *cmk_open_kek(const struct cmk_keyopts *k, int create);

/* cmk_exit_code_for maps an engine error to the exit code: 3 key, 4 integrity, 2, 1. */
int cmk_exit_code_for(int code);

/* cmk_usage_error prints "PROG: WHAT[: ARG] (see PROG --help)" and returns EXIT_USAGE. */
int cmk_usage_error(const char *what, const char *arg);

/* cmk_fail_with prints "PROG: WHAT: <error text> (<ERROR_NAME>)" and returns its exit code. */
int cmk_fail_with(const char *what, int code);

#endif /* CMK_KEYOPTS_H */
