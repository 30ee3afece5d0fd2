/*
 * cmd_backup.c - the backup commands of cmk: backup, verify-backup and restore.
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

static int op_backup(struct eng_store *s, const struct opts *o)
{
    return eng_store_backup(s, o->pos[2]);
}

int cmd_backup(const struct opts *o)
{
    if (o->npos != 3) {
        return cmk_usage_error("backup needs DIR FILE", NULL);
    }
    return cmk_with_store(o, "backup", 1, op_backup);
}

int cmd_verify_backup(const struct opts *o)
{
    if (o->npos != 2) {
        return cmk_usage_error("verify-backup needs FILE", NULL);
    }
    int rc = cmk_backup_needs_vault(o, o->pos[1]);
    if (rc != EXIT_OK) {
        return rc;
    }
    struct eng_kek_provider *kek = cmk_open_kek(&o->k, 0);
    if (kek == NULL) {
        return cmk_kek_exit_code();
    }
    rc = eng_backup_verify(o->pos[1], kek) == 0 ? EXIT_OK : cmk_fail("verify-backup");
    eng_kek_provider_free(kek);
    return rc;
}

int cmd_restore(const struct opts *o)
{
    if (o->npos != 3) {
        return cmk_usage_error("restore needs FILE DIR", NULL);
    }
    struct eng_store_config cfg;
    int rc = cmk_run_config(o, &cfg);
    if (rc != EXIT_OK || (rc = cmk_backup_needs_vault(o, o->pos[1])) != EXIT_OK) {
        return rc;
    }
    struct eng_kek_provider *kek = cmk_open_kek(&o->k, 0);
    if (kek == NULL) {
        return cmk_kek_exit_code();
    }
    if (eng_store_restore(o->pos[1], o->pos[2], kek, &cfg) != 0) {
        rc = cmk_fail("restore");
    }
    eng_kek_provider_free(kek);
    return rc;
}
