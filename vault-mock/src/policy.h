/*
 * policy.h - identities (bearer tokens) and their key permissions, the
 * access-policy model of a Key Vault: each identity has vault-wide key
 * permissions plus optional extra permissions per key name.
 */
#ifndef VMOCK_POLICY_H
#define VMOCK_POLICY_H

#include <stddef.h>

#include "base_err.h"

/* Key permissions (ARM KeyPermissions names). */
enum vmock_perm {
    VMOCK_PERM_GET = 1u << 0,
    VMOCK_PERM_LIST = 1u << 1,
    VMOCK_PERM_CREATE = 1u << 2,
    VMOCK_PERM_UPDATE = 1u << 3,
    VMOCK_PERM_IMPORT = 1u << 4,
    VMOCK_PERM_DELETE = 1u << 5,
    VMOCK_PERM_RECOVER = 1u << 6,
    VMOCK_PERM_PURGE = 1u << 7,
    VMOCK_PERM_ROTATE = 1u << 8,
    VMOCK_PERM_WRAP = 1u << 9,
    VMOCK_PERM_UNWRAP = 1u << 10,
    VMOCK_PERM_ENCRYPT = 1u << 11,
    VMOCK_PERM_DECRYPT = 1u << 12,
    VMOCK_PERM_SIGN = 1u << 13,
    VMOCK_PERM_VERIFY = 1u << 14,
    VMOCK_PERM_BACKUP = 1u << 15,
    VMOCK_PERM_RESTORE = 1u << 16,
    VMOCK_PERM_RELEASE = 1u << 17,
    VMOCK_PERM_GETROTATIONPOLICY = 1u << 18,
    VMOCK_PERM_SETROTATIONPOLICY = 1u << 19,
};
#define VMOCK_PERM_ALL ((1u << 20) - 1u)

struct vmock_key_grant {
    char *key;
    unsigned perms;
};

struct vmock_identity {
    char *name;
    char *token;
    unsigned perms;
    struct vmock_key_grant *grants;
    size_t n_grants;
};

struct vmock_policy {
    struct vmock_identity *ids;
    size_t n_ids;
    char *admin_token;
};

/* vmock_perm_name returns the ARM name of one permission bit ("wrapKey"), or "?". */
const char *vmock_perm_name(unsigned perm);

/*
 * vmock_policy_load builds the identities: from |identities_file| when not
 * NULL; else from STATE/identities.json of an earlier start; else the
 * defaults keyofficer (all), dbservice (get, wrapKey, unwrapKey) and
 * auditor (get, list) with fresh random tokens, saved to
 * STATE/identities.json. In every case it writes STATE/tokens.json (0600):
 * {"admin": TOKEN, NAME: TOKEN, ...}. Returns the policy (caller frees
 * with vmock_policy_free) or NULL with |e| filled.
 */
struct vmock_policy *vmock_policy_load(const char *state_dir, const char *identities_file,
                                       struct base_err *e);
/* vmock_policy_free wipes the tokens and frees |p|; NULL is a no-op. */
void vmock_policy_free(struct vmock_policy *p);

/*
 * vmock_policy_auth returns the identity whose token is |token| (compared
 * in constant time against every identity), or NULL.
 */
const struct vmock_identity *vmock_policy_auth(const struct vmock_policy *p, const char *token);
/* vmock_policy_is_admin is 1 when |token| is the admin token. */
int vmock_policy_is_admin(const struct vmock_policy *p, const char *token);

/*
 * vmock_policy_allows is 1 when |id| holds |perm| vault-wide or for the key
 * named |key| (NULL for vault-wide operations such as list), else 0.
 */
int vmock_policy_allows(const struct vmock_identity *id, unsigned perm, const char *key);

#endif /* VMOCK_POLICY_H */
