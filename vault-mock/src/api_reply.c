/*
 * api_reply.c - what every handler answers with: JSON and error replies
 * (Key Vault's error body), not found, throttled, the audit-then-persist
 * commit of a change, the request's JSON body and caller, and the bearer
 * token and its 401 challenge. A leaf of the request pipeline: api.c and
 * the handlers (api_keys.c, api_crypto.c, api_lifecycle.c, api_admin.c)
 * call it, and it calls none of them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "jsonx.h"

void vmock_reply_json(struct vmock_reply *rep, int status, cJSON *doc)
{
    free(rep->body);
    rep->body = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (rep->body == NULL) {
        vmock_reply_error(rep, 500, "InternalError", "Out of memory while answering.", NULL);
        return;
    }
    rep->status = status;
    rep->error_code[0] = '\0';
}

void vmock_reply_error(struct vmock_reply *rep, int status, const char *code, const char *message,
                       const char *inner)
{
    free(rep->body);
    rep->body = vmock_error_body(code, message, inner);
    rep->status = status;
    snprintf(rep->error_code, sizeof(rep->error_code), "%s", code);
}

void vmock_reply_errorf(struct vmock_reply *rep, int status, const char *code, const char *inner,
                        const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vmock_reply_error(rep, status, code, msg, inner);
}

void vmock_reply_not_found(struct vmock_reply *rep, const char *name, const char *version)
{
    vmock_reply_errorf(rep, 404, "KeyNotFound", NULL,
                       "A key with (name/id) %s%s%s was not found in this key vault. If you "
                       "recently deleted this key you may be able to recover it using the correct "
                       "recovery command. For help resolving this issue, please see "
                       "https://go.microsoft.com/fwlink/?linkid=2125182",
                       name, version != NULL && version[0] != '\0' ? "/" : "",
                       version != NULL ? version : "");
}

void vmock_reply_persist_failed(struct vmock_reply *rep, const char *why)
{
    /* The detail names the vault's own files: its operator sees it, its clients do not. */
    fprintf(stderr, "vault-mock: a change was not made: %s\n", why);
    vmock_reply_error(rep, 500, "StateWriteFailed", VMOCK_STATE_WRITE_FAILED_MSG, NULL);
}

void vmock_reply_audit_failed(struct vmock_reply *rep, int why, const struct vmock_audit *a)
{
    if (why == VMOCK_AUDIT_FULL) {
        vmock_reply_errorf(rep, 500, "AuditLogFull", NULL,
                           "The request was not carried out: the audit log reached its size "
                           "limit of %llu bytes (--audit-max-bytes).",
                           (unsigned long long)a->max_bytes);
    } else {
        vmock_reply_error(rep, 500, "AuditLogUnavailable",
                          "The request was not carried out: the audit log cannot be written.",
                          NULL);
    }
}

int vmock_api_commit(struct vmock_call *c, struct vmock_reply *rep)
{
    const struct vmock_request *req = c->req;
    int why = c->fail_audit                            ? VMOCK_AUDIT_UNWRITABLE
              : req->audit != NULL && rep->status != 0 ? req->audit(req->audit_ctx, rep)
                                                       : VMOCK_AUDIT_OK;
    if (why != VMOCK_AUDIT_OK) {
        vmock_reply_audit_failed(rep, why, &c->srv->audit);
        return -1;
    }
    struct base_err e = BASE_ERR_INIT;
    int rc = -1;
    if (c->fail_save) {
        base_err_set_sys(&e, BASE_ERR_IO, ENOSPC, BASE_HERE,
                         "cannot write %s/vault.json: %s (injected fault)", c->srv->store->dir,
                         strerror(ENOSPC));
    } else {
        rc = vmock_store_persist(c->srv->store, &e);
    }
    if (rc != 0) {
        char msg[512]; /* the answer carries at most 511 bytes of it, as it always has */
        snprintf(msg, sizeof(msg), "%.511s", e.msg);
        vmock_reply_persist_failed(rep, msg);
        return -1;
    }
    rep->audited = req->audit != NULL;
    return 0;
}

void vmock_reply_throttled(struct vmock_reply *rep, unsigned retry_after_s)
{
    vmock_reply_error(rep, 429, "Throttled",
                      "Request was not processed because too many requests were received. "
                      "Reason: VaultRequestTypeLimitReached",
                      NULL);
    rep->retry_after_s = retry_after_s > 0 ? retry_after_s : 1;
}

long vmock_call_identity(const struct vmock_call *c)
{
    return c->who != NULL && c->srv->policy != NULL ? (long)(c->who - c->srv->policy->ids) : -1;
}

cJSON *vmock_api_body(struct vmock_call *c, struct vmock_reply *rep)
{
    const char *why = NULL;
    cJSON *root = vmock_json_parse_object(c->req->body, c->req->body_len, &why);
    if (root == NULL) {
        vmock_reply_error(rep, 400, "BadParameter", why, NULL);
    }
    return root;
}

void vmock_api_challenge(struct vmock_server *srv, struct vmock_reply *rep, int bad_token)
{
    if (bad_token) {
        vmock_reply_error(rep, 401, "Unauthorized",
                          "AKV10032: The bearer token is not valid for this vault.", NULL);
    } else {
        vmock_reply_error(rep, 401, "Unauthorized",
                          "AKV10000: Request is missing a Bearer or PoP token.", NULL);
    }
    snprintf(rep->www_authenticate, sizeof(rep->www_authenticate),
             "Bearer authorization=\"https://login.microsoftonline.com/%s\", "
             "resource=\"https://vault.azure.net\"%s",
             srv->api.tenant_id, bad_token ? ", error=\"invalid_token\"" : "");
}

const char *vmock_api_bearer(const struct vmock_request *req)
{
    const char *auth = req->header(req->ctx, "Authorization");
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
        return NULL;
    }
    auth += 7;
    while (*auth == ' ') {
        auth++;
    }
    return *auth != '\0' ? auth : NULL;
}
