/*
 * tl_vault.h - the vault fixture shared by the engine's and cmk-fs's
 * end-to-end tests (tests only): a vault-mock started through
 * vault-mock/client (vmt_client.h), a token file for an identity, and the
 * key officer's calls. Each function fails the calling Criterion test when
 * it cannot do its job.
 */
#ifndef TL_VAULT_H
#define TL_VAULT_H

#include "vmt_client.h"

/*
 * tl_vault_start starts a vault-mock into |vs| (zeroed first) with
 * "--throttle off" (the tests' own call rates would trip the throttle).
 */
void tl_vault_start(struct vmt_server *vs);
/* tl_vault_token_file writes identity |who|'s token ("dbservice") to |path|, mode 0600. */
void tl_vault_token_file(struct vmt_server *vs, const char *who, const char *path);
/*
 * tl_vault_officer makes one call as "keyofficer" (|body| may be NULL) and
 * asserts the answer's status is |want| (the body is shown otherwise).
 */
void tl_vault_officer(struct vmt_server *vs, const char *method, const char *path, const char *body,
                      long want);
/* tl_vault_port is the port of |vs|'s URL ("https://127.0.0.1:PORT"), or -1. */
int tl_vault_port(const struct vmt_server *vs);

#endif /* TL_VAULT_H */
