/* tl_vault.c - see tl_vault.h. */
#include "tl_vault.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tl_files.h"

void tl_vault_start(struct vmt_server *vs)
{
    static const char *const args[] = {"--throttle", "off", NULL};
    memset(vs, 0, sizeof(*vs));
    cr_assert_eq(vmt_start(vs, args), 0, "vault-mock did not start (%s)", vmt_bin());
}

void tl_vault_token_file(struct vmt_server *vs, const char *who, const char *path)
{
    const char *tok = vmt_token(vs, who);
    cr_assert_not_null(tok, "no token for %s", who);
    cr_assert_eq(tl_write_file(path, tok, strlen(tok)), 0, "cannot write %s", path);
    cr_assert_eq(chmod(path, 0600), 0, "chmod %s", path);
}

void tl_vault_officer(struct vmt_server *vs, const char *method, const char *path, const char *body,
                      long want)
{
    struct vmt_resp r;
    long st = vmt_call(vs, method, path, vmt_token(vs, "keyofficer"), body, &r);
    cr_assert_eq(st, want, "%s %s: %ld %s", method, path, st, r.body ? r.body : "");
    vmt_resp_free(&r);
}

int tl_vault_port(const struct vmt_server *vs)
{
    const char *c = strrchr(vs->url, ':');
    char *end = NULL;
    long v = c != NULL ? strtol(c + 1, &end, 10) : -1;
    return c != NULL && end != c + 1 && *end == '\0' && v > 0 && v <= 65535 ? (int)v : -1;
}
