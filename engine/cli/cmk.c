/*
 * cmk - the encrypted store from the command line, for people and scripts.
 *
 * Exit codes: 0 ok, 1 error, 2 usage (bad or missing options, a refused
 * --output or range, a vault store without the vault options), 3
 * inaccessible (the KEK is gone, disabled, expired or not permitted, or its
 * key or token file is not the user's alone), 4 integrity (authentication
 * failed, corrupt, truncated or rolled-back key table, corrupt backup),
 * where it is detected: a GCM store or an XTS store made with --integrity
 * hmac-sha256 detects changed data; a plain XTS store does not. Errors are
 * one line on stderr. get, status and backup open the store read-only
 * (shared lock: any number at once); put, rotate-kek and rekey open it
 * exclusively.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "cmk_cmd.h"
#include "keyopts.h"

/*
 * The commands live by group: cmd_store.c (create, put, get, status),
 * cmd_backup.c (backup, verify-backup, restore), cmd_keys.c (rotate-kek,
 * rekey, set-vault-url), cmd_help.c (the usage text); cmd_common.c holds what
 * they share. This file parses the options and dispatches.
 */

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct {
        const char *name;
        size_t field; /* offset of a const char * in struct opts */
    } valued[] = {
        {"mode", offsetof(struct opts, mode)},
        {"integrity", offsetof(struct opts, integrity)},
        {"unit-size", offsetof(struct opts, unit_size)},
        {"size", offsetof(struct opts, size)},
        {"units", offsetof(struct opts, units)},
        {"extent-units", offsetof(struct opts, extent_units)},
        {"offset", offsetof(struct opts, offset)},
        {"length", offsetof(struct opts, length)},
        {"output", offsetof(struct opts, output)},
        {"revalidate", offsetof(struct opts, revalidate)},
        {"backend", offsetof(struct opts, backend)},
        {"wait", offsetof(struct opts, wait)},
        {"anchor-dir", offsetof(struct opts, anchor_dir)},
    };
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->help = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (o->npos == (int)(sizeof(o->pos) / sizeof(o->pos[0]))) {
                return cmk_usage_error("too many arguments", a);
            }
            o->pos[o->npos++] = a;
            continue;
        }
        const char *name = a + 2;
        if (strcmp(name, "json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(name, "keep-kek-version") == 0) {
            o->keep_version = 1;
            continue;
        }
        if (strcmp(name, "force") == 0) {
            o->force = 1;
            continue;
        }
        if (strcmp(name, "vault-insecure-http") == 0) {
            o->k.insecure_http = 1;
            continue;
        }
        const char *eq = strchr(name, '=');
        size_t nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
        size_t k;
        for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++) {
            if (strlen(valued[k].name) == nlen && strncmp(valued[k].name, name, nlen) == 0) {
                break;
            }
        }
        const char **field = cmk_keyopts_field(&o->k, name, nlen);
        if (field == NULL && k == sizeof(valued) / sizeof(valued[0])) {
            return cmk_usage_error("unknown option", a);
        }
        const char *val = eq != NULL ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (val == NULL) {
            return cmk_usage_error("option needs a value", a);
        }
        *(field != NULL ? field : (const char **)((char *)o + valued[k].field)) = val;
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    /* No core dump, no ptrace by the same user: cmk holds DEKs, KEKs and vault tokens. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    cmk_prog = "cmk";
    struct opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != EXIT_OK) {
        return rc;
    }
    if (o.help || (o.npos > 0 && strcmp(o.pos[0], "help") == 0)) {
        cmk_print_usage(stdout);
        return EXIT_OK;
    }
    if (o.npos == 0) {
        cmk_print_usage(stderr);
        return EXIT_USAGE;
    }
    static const struct {
        const char *name;
        int (*fn)(const struct opts *o);
    } cmds[] = {
        {"create", cmd_create},
        {"put", cmd_put},
        {"get", cmd_get},
        {"backup", cmd_backup},
        {"verify-backup", cmd_verify_backup},
        {"restore", cmd_restore},
        {"rotate-kek", cmd_rotate_kek},
        {"rekey", cmd_rekey},
        {"status", cmd_status},
        {"set-vault-url", cmd_set_vault_url},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(o.pos[0], cmds[i].name) == 0) {
            return cmds[i].fn(&o);
        }
    }
    return cmk_usage_error("unknown command", o.pos[0]);
}
