/*
 * cmk_cmd.h - what the files of the cmk tool share (not installed): the parsed
 * options, the commands of each group (cmd_store.c, cmd_backup.c, cmd_keys.c,
 * cmd_help.c) that cmk.c dispatches to, and the helpers of cmd_common.c. A
 * command returns the process exit code (EXIT_* of keyopts.h) and prints its
 * own one-line error.
 */
#ifndef CMK_CMD_H
#define CMK_CMD_H

#include <stdint.h>
#include <stdio.h>

#include "eng_store.h"
#include "keyopts.h"

/* The options and positional arguments of one cmk run (cmk.c parses them). */
struct opts {
    struct cmk_keyopts k;
    const char *mode;
    const char *integrity;
    const char *unit_size;
    const char *size;
    const char *units;
    const char *extent_units;
    const char *offset;
    const char *length;
    const char *output;
    const char *revalidate;
    const char *backend;
    const char *wait;
    const char *anchor_dir;
    int keep_version;
    int force;
    int json;
    int help;
    const char *pos[4];
    int npos;
};

/* ---- the commands (position 0 names them; position 1 is the store or file) ---- */

/* cmd_store.c */
int cmd_create(const struct opts *o);
int cmd_put(const struct opts *o);
int cmd_get(const struct opts *o);
int cmd_status(const struct opts *o);
/* cmd_backup.c */
int cmd_backup(const struct opts *o);
int cmd_verify_backup(const struct opts *o);
int cmd_restore(const struct opts *o);
/* cmd_keys.c */
int cmd_rotate_kek(const struct opts *o);
int cmd_rekey(const struct opts *o);
int cmd_set_vault_url(const struct opts *o);
/* cmd_help.c: writes the usage text (the --help page) to |f|. */
void cmk_print_usage(FILE *f);

/* ---- cmd_common.c ---- */

/* cmk_fail is cmk_fail_with(|what|, the engine's last error code): prints, returns the exit code.
 */
int cmk_fail(const char *what);

/* cmk_parse_size parses a non-negative integer with an optional K/M/G (binary) suffix; 0 or -1. */
int cmk_parse_size(const char *s, uint64_t *out);
/* cmk_parse_u32 is cmk_parse_size for a value that fits 32 bits; 0 or -1. */
int cmk_parse_u32(const char *s, uint32_t *out);

/*
 * cmk_run_config fills |cfg| from --revalidate, --backend, --wait and
 * --anchor-dir; EXIT_OK, or EXIT_USAGE (printed) for a bad value.
 */
int cmk_run_config(const struct opts *o, struct eng_store_config *cfg);

/*
 * Without --vault-url the SMK key file is used. A store or backup whose
 * records name another provider cannot be opened with it: these say which key
 * it needs and which options to pass, and return EXIT_USAGE; EXIT_OK when the
 * records name the SMK's key or nothing. cmk_store_needs_vault reads the key
 * table of the store in |dir| (without any key), cmk_backup_needs_vault the
 * header of the backup stream |path|.
 */
int cmk_store_needs_vault(const struct opts *o, const char *dir);
int cmk_backup_needs_vault(const struct opts *o, const char *path);

/*
 * cmk_open_waiting opens |dir| with |cfg|: one try first; when the store is
 * busy and --wait was given, says so on stderr (one line) and tries again for
 * up to that long. NULL with the engine's error set.
 */
struct eng_store *cmk_open_waiting(const char *dir, struct eng_kek_provider *kek,
                                   struct eng_store_config *cfg);
/*
 * cmk_open_failed prints the one line for a failed open (|what|, engine code
 * |code|) and returns the exit code. A key-table/provider mismatch also names
 * the key the store records and the one given, and the command that moves a
 * store to its vault's new address.
 */
int cmk_open_failed(const struct opts *o, struct eng_kek_provider *kek, const char *what, int code);
/*
 * cmk_open_store opens the store of position 1 (|read_only|: shared lock)
 * with the key provider the options name (*kek, freed by the caller); NULL
 * with *rc the exit code, the error printed.
 */
struct eng_store *cmk_open_store(const struct opts *o, struct eng_kek_provider **kek, int *rc,
                                 int read_only);
/*
 * cmk_with_store opens the store at position 1 (|read_only|: shared), runs
 * |op|, closes it: the exit code (|what| names the command in errors).
 */
int cmk_with_store(const struct opts *o, const char *what, int read_only,
                   int (*op)(struct eng_store *s, const struct opts *o));

#endif /* CMK_CMD_H */
