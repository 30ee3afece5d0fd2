/*
 * api.h - the Key Vault keys REST API over a transport-neutral request:
 * path normalisation, authentication (the 401 challenge), api-version,
 * routing, access-policy checks, faults and throttling (api.c), then the
 * handlers in api_keys.c, api_crypto.c, api_lifecycle.c and api_admin.c,
 * which answer through the reply helpers of api_reply.c (a leaf: the
 * handlers never call back into api.c).
 */
#ifndef VMOCK_API_H
#define VMOCK_API_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "faults.h"
#include "ops.h"
#include "policy.h"
#include "store.h"

#define VMOCK_MAX_SEGMENTS 8

/* Settings the handlers need. */
struct vmock_api_config {
    const char *scheme;        /* "https" or "http" */
    const char *vault_url;     /* the vault's public base URL for kids, or NULL: the next */
    const char *fallback_host; /* host:port of the listen address (never the Host header) */
    const char *tenant_id;
    const char *const *rsa1_5_keys; /* keys that may decrypt/unwrapKey with RSA1_5 */
    size_t n_rsa1_5_keys;
};

struct vmock_server {
    struct vmock_api_config api;
    struct vmock_store *store;
    struct vmock_policy *policy;
    struct vmock_audit audit;
    struct vmock_faults faults;
    struct vmock_throttle throttle;
    struct vmock_stats stats;
};

struct vmock_reply;

struct vmock_request {
    const char *method;
    const char *path; /* path only, as received (no query) */
    const char *(*query)(void *ctx, const char *name);
    const char *(*header)(void *ctx, const char *name);
    /* how many headers are named |name| (case-insensitive); NULL: not checked */
    size_t (*header_count)(void *ctx, const char *name);
    void *ctx;
    const char *raw_uri; /* the request target as sent (not decoded), or NULL: not checked */
    const char *body;
    size_t body_len;
    /*
     * audit writes the request's audit line for the answer in |rep| and
     * returns what vmock_audit_write returns; a change calls it before it is
     * saved (vmock_api_commit). NULL (in-process callers such as the fuzz
     * target): changes are saved without an audit line.
     */
    int (*audit)(void *audit_ctx, const struct vmock_reply *rep);
    void *audit_ctx;
};

struct vmock_reply {
    int status;
    char *body; /* malloc'd JSON text, or NULL for no body */
    char error_code[48];
    unsigned retry_after_s;     /* 0: no Retry-After header */
    char www_authenticate[512]; /* empty: no challenge header */
    int drop;                   /* close the connection without an answer */
    int audited;                /* its audit line is written (by vmock_api_commit) */
    int close;                  /* answer, then close the connection (Connection: close) */
    char allow[32];             /* a 405's Allow header; empty: none */
    const char *warning;        /* a warning for the audit line (static text), or NULL */
    /* for the audit line */
    enum vmock_op op;
    const char *identity;
    char key[VMOCK_NAME_MAX + 1];
    char version[VMOCK_VERSION_LEN + 1];
};

/* Parsed, routed request handed to a handler. */
struct vmock_call {
    struct vmock_server *srv;
    const struct vmock_request *req;
    const struct vmock_identity *who;
    enum vmock_op op;
    const char *name;    /* key name or NULL */
    const char *version; /* version or "" */
    char base_url[300];  /* https://host[:port], no trailing slash */
    int64_t now;
    int fail_save;  /* injected: the save fails (fault rule fail_save) */
    int fail_audit; /* injected: the change's audit line fails (fault rule fail_audit) */
};

/*
 * vmock_api_handle answers |req| into |rep| (which it initialises). The
 * caller owns |rep->body| afterwards. Never fails: every problem becomes
 * an error answer.
 */
void vmock_api_handle(struct vmock_server *srv, const struct vmock_request *req,
                      struct vmock_reply *rep);

/*
 * vmock_api_precheck refuses a request whose framing or target is
 * ambiguous, before its body is read: more than one Content-Length header,
 * Content-Length together with Transfer-Encoding, or a raw URI with an
 * invalid percent-encoding or an encoded NUL (%00, which the decoded path
 * would silently end at). Answers 400 BadParameter (with |rep->close| set)
 * and returns 1, or returns 0 leaving |rep| as it was. vmock_api_handle
 * calls it first too.
 */
int vmock_api_precheck(const struct vmock_request *req, struct vmock_reply *rep);

/*
 * vmock_api_describe notes the operation, key, version and identity of
 * |req| in |rep| (for the audit line of a request answered outside the
 * API, such as a 413), without answering it.
 */
void vmock_api_describe(struct vmock_server *srv, const struct vmock_request *req,
                        struct vmock_reply *rep);

/* vmock_api_account counts |rep| in the statistics (called once per answered or dropped request).
 */
void vmock_api_account(struct vmock_server *srv, const struct vmock_reply *rep);

/* --- replies (api_reply.c) --- */

/* vmock_reply_json sets |status| and the printed |doc| (consumed) as the body. */
void vmock_reply_json(struct vmock_reply *rep, int status, cJSON *doc);
/* vmock_reply_error sets an error answer in the service's shape; |inner| may be NULL. */
void vmock_reply_error(struct vmock_reply *rep, int status, const char *code, const char *message,
                       const char *inner);
/* vmock_reply_errorf is vmock_reply_error with a printf-style message. */
void vmock_reply_errorf(struct vmock_reply *rep, int status, const char *code, const char *inner,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* vmock_reply_not_found answers 404 KeyNotFound for |name| (and |version| if not empty). */
void vmock_reply_not_found(struct vmock_reply *rep, const char *name, const char *version);
/* The message of the 500 StateWriteFailed answer: no path, no system error (those go to stderr). */
#define VMOCK_STATE_WRITE_FAILED_MSG \
    "The change was not made: the vault could not save its state. Nothing changed; retry later."
/*
 * vmock_reply_persist_failed answers 500 StateWriteFailed after a failed (and
 * undone) change; |why| (which names the state file) goes to stderr only.
 */
void vmock_reply_persist_failed(struct vmock_reply *rep, const char *why);
/*
 * vmock_reply_audit_failed answers 500 AuditLogFull or AuditLogUnavailable
 * (|why| from vmock_audit_write): the request was not carried out.
 */
void vmock_reply_audit_failed(struct vmock_reply *rep, int why, const struct vmock_audit *a);
/*
 * vmock_api_commit makes a change durable, all or nothing. The caller holds
 * the write lock, has applied the change in memory and put its answer in
 * |rep|. First the request's audit line is written with that answer
 * (through req->audit, fsync'd with --audit-fsync), then vault.json.
 * Returns 0 (|rep| is marked audited), or -1 with |rep| replaced by the
 * 500 answer; the caller then undoes the change in memory. When the save
 * fails after the line was written, the HTTP layer writes a second line
 * with the same request id and the 500 StateWriteFailed.
 */
int vmock_api_commit(struct vmock_call *c, struct vmock_reply *rep);
/*
 * vmock_reply_throttled answers 429 Throttled with Retry-After.
 */
void vmock_reply_throttled(struct vmock_reply *rep, unsigned retry_after_s);
/*
 * vmock_api_bearer returns the token of the request's "Authorization: Bearer
 * TOKEN" header (scheme case-insensitive, spaces after it skipped), or NULL.
 */
const char *vmock_api_bearer(const struct vmock_request *req);
/*
 * vmock_api_challenge answers 401 Unauthorized with the WWW-Authenticate
 * Bearer challenge the SDKs parse; |bad_token| 1 adds error="invalid_token"
 * (a token was sent but is not valid here), 0 is the missing-token answer.
 */
void vmock_api_challenge(struct vmock_server *srv, struct vmock_reply *rep, int bad_token);
/* vmock_call_identity is the caller's index in the policy (for its own throttling windows). */
long vmock_call_identity(const struct vmock_call *c);
/*
 * vmock_api_body parses the request body as a JSON object, answering 400
 * BadParameter itself when it is not. Returns the object (caller frees) or
 * NULL.
 */
cJSON *vmock_api_body(struct vmock_call *c, struct vmock_reply *rep);

/* Handlers (api_keys.c). */
void vmock_api_create(struct vmock_call *c, struct vmock_reply *rep);
void vmock_api_import(struct vmock_call *c, struct vmock_reply *rep);
void vmock_api_get(struct vmock_call *c, struct vmock_reply *rep);
void vmock_api_update(struct vmock_call *c, struct vmock_reply *rep);
void vmock_api_rotate(struct vmock_call *c, struct vmock_reply *rep);
/* Handlers (api_lifecycle.c). */
void vmock_api_list(struct vmock_call *c, struct vmock_reply *rep);
void vmock_api_list_versions(struct vmock_call *c, struct vmock_reply *rep);
void vmock_api_list_deleted(struct vmock_call *c, struct vmock_reply *rep);
void vmock_api_delete(struct vmock_call *c, struct vmock_reply *rep);
void vmock_api_get_deleted(struct vmock_call *c, struct vmock_reply *rep);
void vmock_api_recover(struct vmock_call *c, struct vmock_reply *rep);
void vmock_api_purge(struct vmock_call *c, struct vmock_reply *rep);
/* Handlers (api_crypto.c): encrypt, decrypt, wrapkey, unwrapkey, sign, verify. */
void vmock_api_crypto(struct vmock_call *c, struct vmock_reply *rep);

/* Admin endpoints (api_admin.c): /admin/faults, /admin/throttle, /admin/stats. */
void vmock_api_admin(struct vmock_server *srv, const struct vmock_request *req, char **segs,
                     size_t n_segs, struct vmock_reply *rep);

/* Rendering (bundle.c). Each returns a new object (caller owns) or NULL. */
cJSON *vmock_bundle_attributes(const struct vmock_store *st, const struct vmock_kver *kv);
cJSON *vmock_bundle_key(const struct vmock_call *c, const struct vmock_key *key,
                        const struct vmock_kver *kv);
cJSON *vmock_bundle_deleted(const struct vmock_call *c, const struct vmock_key *key);
cJSON *vmock_bundle_item(const struct vmock_call *c, const struct vmock_key *key,
                         const struct vmock_kver *kv, int versioned);
/* vmock_bundle_next_link returns the nextLink URL for |path| with |skiptoken| (caller frees). */
char *vmock_bundle_next_link(const struct vmock_call *c, const char *path, const char *skiptoken,
                             long maxresults);

#endif /* VMOCK_API_H */
