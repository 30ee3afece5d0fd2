/*
 * api.c - request pipeline: normalise the path, authenticate, check the
 * api-version, route, check the access policy, apply injected faults, then
 * call the handler.
 */
#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base_codec.h"
#include "jsonx.h"

#define PATH_MAX_LEN 2048

/* The versions the mock answers: the service's GA versions and their previews, nothing else. */
static const char *const api_versions[] = {
    "2016-10-01",    "7.0",           "7.1",         "7.2",           "7.3",
    "7.4",           "7.5",           "7.6",         "2025-07-01",    "7.0-preview",
    "7.1-preview",   "7.2-preview",   "7.3-preview", "7.4-preview.1", "7.5-preview.1",
    "7.6-preview.1", "7.6-preview.2",
};
#define LATEST_API_VERSION "2025-07-01"

/* Collapse repeated '/', drop a trailing '/', split into segments (in |buf|). */
static int split_path(const char *path, char *buf, size_t buf_len, char **segs, size_t *n_segs)
{
    size_t len = strlen(path);
    if (len + 1 > buf_len || path[0] != '/') {
        return -1;
    }
    memcpy(buf, path, len + 1);
    *n_segs = 0;
    char *save = NULL;
    for (char *s = strtok_r(buf, "/", &save); s != NULL; s = strtok_r(NULL, "/", &save)) {
        if (*n_segs == VMOCK_MAX_SEGMENTS) {
            return -1;
        }
        segs[(*n_segs)++] = s;
    }
    return 0;
}

/*
 * The vault's public URL (--vault-url, else the listen address): never the
 * request's Host header, which any client may set, so that a kid always
 * names this vault.
 */
static void make_base_url(struct vmock_server *srv, char *out, size_t out_len)
{
    if (srv->api.vault_url != NULL) {
        snprintf(out, out_len, "%s", srv->api.vault_url);
        size_t n = strlen(out);
        while (n > 0 && out[n - 1] == '/') {
            out[--n] = '\0';
        }
        return;
    }
    snprintf(out, out_len, "%s://%s", srv->api.scheme, srv->api.fallback_host);
}

static int api_version_known(const char *v)
{
    for (size_t i = 0; i < sizeof(api_versions) / sizeof(api_versions[0]); i++) {
        if (strcmp(v, api_versions[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Number of headers named |name| (case-insensitive), or 0 when the transport cannot count. */
static size_t header_count(const struct vmock_request *req, const char *name)
{
    return req->header_count != NULL ? req->header_count(req->ctx, name) : 0;
}

int vmock_api_precheck(const struct vmock_request *req, struct vmock_reply *rep)
{
    size_t n_cl = header_count(req, "Content-Length");
    size_t n_te = header_count(req, "Transfer-Encoding");
    if (n_cl > 1) {
        vmock_reply_errorf(rep, 400, "BadParameter", NULL,
                           "The request has %zu Content-Length headers; send exactly one.", n_cl);
    } else if (n_cl > 0 && n_te > 0) {
        vmock_reply_error(rep, 400, "BadParameter",
                          "The request has both Content-Length and Transfer-Encoding headers; "
                          "send one of them.",
                          NULL);
    }
    for (const char *p = req->raw_uri; rep->status == 0 && p != NULL && *p != '\0'; p++) {
        if (*p != '%') {
            continue;
        }
        if (base_hex_check(p + 1, 2, NULL) != BASE_OK) { /* stops at a NUL in p[1] */
            vmock_reply_errorf(rep, 400, "BadParameter", NULL,
                               "The request URI has an invalid percent-encoding at offset %zu: "
                               "'%%' must be followed by two hexadecimal digits.",
                               (size_t)(p - req->raw_uri));
        } else if (p[1] == '0' && p[2] == '0') {
            vmock_reply_errorf(rep, 400, "BadParameter", NULL,
                               "The request URI contains an encoded NUL (%%00) at offset %zu.",
                               (size_t)(p - req->raw_uri));
        }
    }
    if (rep->status == 0) {
        return 0;
    }
    rep->close = 1; /* a body the request may carry is not read: nothing after it is trusted */
    return 1;
}

struct route {
    enum vmock_op op;
    const char *name;
    const char *version;
    unsigned perm;
    void (*fn)(struct vmock_call *c, struct vmock_reply *rep);
    const char *allow; /* the methods this path takes, for a 405 */
};

static int method_is(const struct vmock_request *req, const char *m)
{
    return strcmp(req->method, m) == 0;
}

/* 1 when |req| uses the path's only method |m|, else -1 with |m| noted as the one allowed. */
static int only(const struct vmock_request *req, const char *m, struct route *r)
{
    r->allow = m;
    return method_is(req, m) ? 1 : -1;
}

static int crypto_op(const char *seg, enum vmock_op *op, unsigned *perm)
{
    static const struct {
        const char *seg;
        enum vmock_op op;
        unsigned perm;
    } t[6] = {
        {"encrypt", VMOCK_OP_ENCRYPT, VMOCK_PERM_ENCRYPT},
        {"decrypt", VMOCK_OP_DECRYPT, VMOCK_PERM_DECRYPT},
        {"wrapkey", VMOCK_OP_WRAP, VMOCK_PERM_WRAP},
        {"unwrapkey", VMOCK_OP_UNWRAP, VMOCK_PERM_UNWRAP},
        {"sign", VMOCK_OP_SIGN, VMOCK_PERM_SIGN},
        {"verify", VMOCK_OP_VERIFY, VMOCK_PERM_VERIFY},
    };
    for (size_t i = 0; i < 6; i++) {
        if (strcasecmp(seg, t[i].seg) == 0) {
            *op = t[i].op;
            *perm = t[i].perm;
            return 1;
        }
    }
    return 0;
}

/*
 * Match the segments to a route. Returns 1 matched, 0 no such path, -1 path
 * known but not with this method.
 */
static int match(const struct vmock_request *req, char **s, size_t n, struct route *r)
{
    memset(r, 0, sizeof(*r));
    r->version = "";
    if (n >= 1 && strcasecmp(s[0], "keys") == 0) {
        if (n == 1) {
            *r = (struct route){VMOCK_OP_LIST, NULL, "", VMOCK_PERM_LIST, vmock_api_list, NULL};
            return only(req, "GET", r);
        }
        r->name = s[1];
        if (n == 2) {
            if (method_is(req, "GET")) {
                *r = (struct route){VMOCK_OP_GET, s[1], "", VMOCK_PERM_GET, vmock_api_get, NULL};
            } else if (method_is(req, "PUT")) {
                *r = (struct route){VMOCK_OP_IMPORT,  s[1], "", VMOCK_PERM_IMPORT,
                                    vmock_api_import, NULL};
            } else if (method_is(req, "PATCH")) {
                *r = (struct route){VMOCK_OP_UPDATE,  s[1], "", VMOCK_PERM_UPDATE,
                                    vmock_api_update, NULL};
            } else if (method_is(req, "DELETE")) {
                *r = (struct route){VMOCK_OP_DELETE,  s[1], "", VMOCK_PERM_DELETE,
                                    vmock_api_delete, NULL};
            } else {
                r->allow = "GET, PUT, PATCH, DELETE";
                return -1;
            }
            return 1;
        }
        enum vmock_op cop;
        unsigned cperm;
        if (n == 3 && strcasecmp(s[2], "create") == 0) {
            *r = (struct route){VMOCK_OP_CREATE,  s[1], "", VMOCK_PERM_CREATE,
                                vmock_api_create, NULL};
            return only(req, "POST", r);
        }
        if (n == 3 && strcasecmp(s[2], "rotate") == 0) {
            *r = (struct route){VMOCK_OP_ROTATE,  s[1], "", VMOCK_PERM_ROTATE,
                                vmock_api_rotate, NULL};
            return only(req, "POST", r);
        }
        if (n == 3 && strcasecmp(s[2], "versions") == 0) {
            *r = (struct route){VMOCK_OP_LIST_VERSIONS,  s[1], "", VMOCK_PERM_LIST,
                                vmock_api_list_versions, NULL};
            return only(req, "GET", r);
        }
        if ((n == 3 || n == 4) && crypto_op(s[n - 1], &cop, &cperm)) {
            *r = (struct route){cop, s[1], n == 4 ? s[2] : "", cperm, vmock_api_crypto, NULL};
            return only(req, "POST", r);
        }
        if (n == 3) {
            if (method_is(req, "GET")) {
                *r = (struct route){VMOCK_OP_GET, s[1], s[2], VMOCK_PERM_GET, vmock_api_get, NULL};
            } else if (method_is(req, "PATCH")) {
                *r = (struct route){VMOCK_OP_UPDATE,  s[1], s[2], VMOCK_PERM_UPDATE,
                                    vmock_api_update, NULL};
            } else {
                r->allow = "GET, PATCH";
                return -1;
            }
            return 1;
        }
        return 0;
    }
    if (n >= 1 && strcasecmp(s[0], "deletedkeys") == 0) {
        if (n == 1) {
            *r = (struct route){VMOCK_OP_LIST_DELETED,  NULL, "", VMOCK_PERM_LIST,
                                vmock_api_list_deleted, NULL};
            return only(req, "GET", r);
        }
        if (n == 2) {
            if (method_is(req, "GET")) {
                *r = (struct route){VMOCK_OP_GET_DELETED,  s[1], "", VMOCK_PERM_GET,
                                    vmock_api_get_deleted, NULL};
            } else if (method_is(req, "DELETE")) {
                *r = (struct route){VMOCK_OP_PURGE,  s[1], "", VMOCK_PERM_PURGE,
                                    vmock_api_purge, NULL};
            } else {
                r->allow = "GET, DELETE";
                return -1;
            }
            return 1;
        }
        if (n == 3 && strcasecmp(s[2], "recover") == 0) {
            *r = (struct route){VMOCK_OP_RECOVER,  s[1], "", VMOCK_PERM_RECOVER,
                                vmock_api_recover, NULL};
            return only(req, "POST", r);
        }
    }
    return 0;
}

static void sleep_us(unsigned us)
{
    struct timespec ts = {.tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Apply injected faults; returns 1 when the request has been answered (or dropped). */
static int apply_faults(struct vmock_server *srv, enum vmock_op op, struct vmock_reply *rep,
                        struct vmock_fault_decision *dp)
{
    struct vmock_fault_decision d;
    vmock_faults_decide(&srv->faults, op, &d);
    *dp = d;
    if (d.delay_us > 0) {
        atomic_fetch_add(&srv->stats.faults_delayed, 1);
        sleep_us(d.delay_us);
    }
    switch (d.action) {
        case VMOCK_FAULT_DROP:
            atomic_fetch_add(&srv->stats.faults_drop, 1);
            rep->drop = 1;
            rep->status = 0;
            snprintf(rep->error_code, sizeof(rep->error_code), "InjectedDrop");
            return 1;
        case VMOCK_FAULT_ERROR:
            atomic_fetch_add(&srv->stats.faults_error, 1);
            vmock_reply_errorf(rep, (int)d.status,
                               d.status == 503 ? "ServiceUnavailable" : "InternalServerError",
                               "InjectedFault", "Injected fault: HTTP %u.", d.status);
            return 1;
        case VMOCK_FAULT_THROTTLE:
            atomic_fetch_add(&srv->stats.faults_throttle, 1);
            vmock_reply_throttled(rep, d.retry_after_s);
            return 1;
        case VMOCK_FAULT_NONE:
        default:
            return 0;
    }
}

/* Path parts and the route of a request, as classify() finds them. */
struct classified {
    char buf[PATH_MAX_LEN + 1];
    char *segs[VMOCK_MAX_SEGMENTS];
    size_t n;
    int path_ok;
    int admin;
    int m; /* match(): 1 route, 0 no such path, -1 wrong method */
    struct route r;
    const struct vmock_identity *who;
};

/*
 * Find the route and the caller of |req| and note operation, key, version
 * and identity in |rep| for the audit line; answers nothing.
 */
static void classify(struct vmock_server *srv, const struct vmock_request *req,
                     struct classified *c, struct vmock_reply *rep)
{
    memset(&c->r, 0, sizeof(c->r));
    c->m = 0;
    c->who = NULL;
    c->admin = 0;
    c->path_ok = split_path(req->path, c->buf, sizeof(c->buf), c->segs, &c->n) == 0;
    if (!c->path_ok) {
        return;
    }
    const char *token = vmock_api_bearer(req);
    if (c->n >= 1 && strcmp(c->segs[0], "admin") == 0) {
        c->admin = 1;
        rep->op = VMOCK_OP_ADMIN;
        rep->identity = token != NULL && vmock_policy_is_admin(srv->policy, token) ? "admin" : NULL;
        return;
    }
    c->m = match(req, c->segs, c->n, &c->r);
    if (c->m > 0) {
        rep->op = c->r.op;
        if (c->r.name != NULL) {
            snprintf(rep->key, sizeof(rep->key), "%s", c->r.name);
        }
        snprintf(rep->version, sizeof(rep->version), "%s", c->r.version);
    }
    c->who = token != NULL ? vmock_policy_auth(srv->policy, token) : NULL;
    rep->identity = c->who != NULL ? c->who->name : NULL;
}

void vmock_api_describe(struct vmock_server *srv, const struct vmock_request *req,
                        struct vmock_reply *rep)
{
    struct classified c;
    classify(srv, req, &c, rep);
}

static void handle(struct vmock_server *srv, const struct vmock_request *req,
                   struct vmock_reply *rep)
{
    struct classified cl;
    classify(srv, req, &cl, rep);
    if (vmock_api_precheck(req, rep)) {
        return;
    }
    if (!cl.path_ok) {
        vmock_reply_error(rep, 400, "BadParameter", "The request URI is not valid.", NULL);
        return;
    }
    if (cl.admin) {
        vmock_api_admin(srv, req, cl.segs, cl.n, rep);
        return;
    }
    if (vmock_api_bearer(req) == NULL || cl.who == NULL) {
        vmock_api_challenge(srv, rep, vmock_api_bearer(req) != NULL);
        return;
    }
    const struct vmock_identity *who = cl.who;
    int m = cl.m;
    struct route r = cl.r;
    const char *apiv = req->query(req->ctx, "api-version");
    if (apiv == NULL || apiv[0] == '\0') {
        vmock_reply_error(rep, 400, "BadParameter",
                          "The api-version query parameter is missing; it is required for all "
                          "requests.",
                          NULL);
        return;
    }
    if (!api_version_known(apiv)) {
        vmock_reply_errorf(rep, 400, "BadParameter", NULL,
                           "The specified version (%.32s) is not recognized. Consider using the "
                           "latest supported version (" LATEST_API_VERSION ").",
                           apiv);
        return;
    }
    if (m == 0) {
        vmock_reply_error(rep, 404, "NotFound", "The requested resource was not found.", NULL);
        return;
    }
    if (m < 0) {
        vmock_reply_errorf(rep, 405, "MethodNotAllowed", NULL,
                           "The method %.16s is not allowed on this resource; use %s.", req->method,
                           r.allow);
        snprintf(rep->allow, sizeof(rep->allow), "%s", r.allow);
        return;
    }
    if (r.name != NULL && !vmock_name_valid(r.name)) {
        vmock_reply_errorf(rep, 400, "BadParameter", NULL,
                           "The request URI contains an invalid name: %.200s", r.name);
        return;
    }
    if (strlen(r.version) > VMOCK_VERSION_LEN) {
        vmock_reply_not_found(rep, r.name, "");
        return;
    }
    if (!vmock_policy_allows(who, r.perm, r.name)) {
        vmock_reply_errorf(rep, 403, "Forbidden", "ForbiddenByPolicy",
                           "The user, group or application 'name=%s;appid=vault-mock' does not "
                           "have keys %s permission on key vault 'vault-mock;location=local'. For "
                           "help resolving this issue, please see "
                           "https://go.microsoft.com/fwlink/?linkid=2125287",
                           who->name, vmock_perm_name(r.perm));
        return;
    }
    struct vmock_fault_decision fd;
    if (apply_faults(srv, r.op, rep, &fd)) {
        return;
    }
    struct vmock_call call = {
        .srv = srv,
        .req = req,
        .who = who,
        .op = r.op,
        .name = r.name,
        .version = r.version,
        .now = (int64_t)time(NULL),
        .fail_save = fd.fail_save,
        .fail_audit = fd.fail_audit,
    };
    make_base_url(srv, call.base_url, sizeof(call.base_url));
    r.fn(&call, rep);
}

void vmock_api_handle(struct vmock_server *srv, const struct vmock_request *req,
                      struct vmock_reply *rep)
{
    memset(rep, 0, sizeof(*rep));
    rep->op = VMOCK_OP_UNKNOWN;
    handle(srv, req, rep);
    if (rep->status == 0 && !rep->drop) {
        vmock_reply_error(rep, 500, "InternalError", "No answer was produced.", NULL);
    }
}

void vmock_api_account(struct vmock_server *srv, const struct vmock_reply *rep)
{
    atomic_fetch_add(&srv->stats.requests[rep->op], 1);
    if (rep->status >= 400 || rep->drop) {
        atomic_fetch_add(&srv->stats.errors[rep->op], 1);
    }
    if (rep->status >= 100 && rep->status < 600) {
        atomic_fetch_add(&srv->stats.status_class[rep->status / 100], 1);
    }
}
