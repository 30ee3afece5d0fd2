/*
 * cmd_keys.c - the key and vault commands of cmk: rotate-kek, rekey and
 * set-vault-url.
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

/* Service-managed key: a new KEK version first (unless kept), then the rewrap. */
static int op_rotate_kek(struct eng_store *s, const struct opts *o)
{
    char path[PATH_MAX];
    if (!o->keep_version && o->k.vault_url == NULL) {
        if (cmk_key_file_path(&o->k, path, sizeof(path), 0) != 0 ||
            eng_smk_rotate(path, NULL, 0) != 0) {
            return -1;
        }
    }
    return eng_store_rotate_kek(s);
}

int cmd_rotate_kek(const struct opts *o)
{
    if (o->npos != 2) {
        return cmk_usage_error("rotate-kek needs DIR", NULL);
    }
    return cmk_with_store(o, "rotate-kek", 0, op_rotate_kek);
}

static int op_rekey(struct eng_store *s, const struct opts *o)
{
    uint32_t extent = 0;
    (void)cmk_parse_u32(o->pos[2], &extent); /* checked by cmd_rekey */
    return eng_store_rekey_extent(s, extent);
}

int cmd_rekey(const struct opts *o)
{
    uint32_t extent;
    if (o->npos != 3 || cmk_parse_u32(o->pos[2], &extent) != 0) {
        return cmk_usage_error("rekey needs DIR EXTENT (a number)", NULL);
    }
    return cmk_with_store(o, "rekey", 0, op_rekey);
}

/*
 * Records the vault's new address (--vault-url) in the key table, after
 * eng_store_move_kek has checked every version, the MAC and every DEK
 * through the vault at that address.
 */
int cmd_set_vault_url(const struct opts *o)
{
    if (o->npos != 2 || o->k.vault_url == NULL) {
        return cmk_usage_error("set-vault-url needs DIR and --vault-url NEW", NULL);
    }
    struct eng_store_config cfg;
    int rc = cmk_run_config(o, &cfg);
    if (rc != EXIT_OK) {
        return rc;
    }
    struct eng_store *in = eng_store_inspect(o->pos[1]);
    struct eng_store_dek d;
    if (in == NULL || eng_store_dek_info(in, 0, &d) != 0) {
        eng_store_close(in);
        return cmk_fail("set-vault-url");
    }
    eng_store_close(in);
    struct eng_kek_provider *kek = cmk_open_kek(&o->k, 0);
    if (kek == NULL) {
        return cmk_kek_exit_code();
    }
    struct eng_kek_ref given;
    int moved = eng_store_move_kek(o->pos[1], kek, &cfg);
    if (moved < 0) {
        rc = cmk_open_failed(o, kek, "set-vault-url", eng_errno());
    } else if (eng_kek_describe(kek, NULL, &given) != 0) {
        rc = cmk_fail("set-vault-url");
    } else if (moved == 0) {
        printf("%s: already recorded: %s\n", o->pos[1], given.key_id);
    } else {
        printf(
            "%s: %s -> %s (every key version found there, key table MAC verified, every "
            "DEK unwrapped)\n",
            o->pos[1], d.kek.key_id, given.key_id);
    }
    eng_kek_provider_free(kek);
    return rc;
}
