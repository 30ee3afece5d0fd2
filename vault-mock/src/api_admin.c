/*
 * api_admin.c - the admin endpoints, outside the Key Vault API, for tests
 * and benchmarks; they need the admin token from tokens.json.
 *
 *   GET    /admin/stats      request counters
 *   GET    /admin/faults     the fault rules
 *   POST   /admin/faults     {"faults":[{"op":"unwrapkey","latency_ms":10,...}]} replaces them
 *   DELETE /admin/faults     removes every rule
 *   GET    /admin/throttle   the throttling limits
 *   POST   /admin/throttle   {"spec":"rsa2048=100,window_ms=1000"} changes them
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "jsonx.h"

static cJSON *parse_body(const struct vmock_request *req, struct vmock_reply *rep)
{
    const char *why = NULL;
    cJSON *body = vmock_json_parse_object(req->body, req->body_len, &why);
    if (body == NULL) {
        vmock_reply_error(rep, 400, "BadParameter", why, NULL);
    }
    return body;
}

/* 400 BadParameter with the parser's message, cut to 199 bytes as the answers always were. */
static void reply_bad_parameter(struct vmock_reply *rep, const struct base_err *e)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "%.199s", e->msg);
    vmock_reply_error(rep, 400, "BadParameter", msg, NULL);
}

static void set_faults(struct vmock_server *srv, const struct vmock_request *req,
                       struct vmock_reply *rep)
{
    cJSON *body = parse_body(req, rep);
    if (body == NULL) {
        return;
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "faults");
    struct vmock_fault rules[VMOCK_MAX_FAULTS];
    size_t n = 0;
    struct base_err e = BASE_ERR_INIT;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > VMOCK_MAX_FAULTS) {
        vmock_reply_error(rep, 400, "BadParameter",
                          "faults must be an array of at most 32 rule objects.", NULL);
        cJSON_Delete(body);
        return;
    }
    const cJSON *it = NULL;
    cJSON_ArrayForEach(it, arr)
    {
        if (vmock_fault_from_json(&rules[n++], it, &e) != 0) {
            reply_bad_parameter(rep, &e);
            cJSON_Delete(body);
            return;
        }
    }
    cJSON_Delete(body);
    vmock_faults_set(&srv->faults, rules, n);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "faults", vmock_faults_json(&srv->faults));
    vmock_reply_json(rep, 200, doc);
}

static void set_throttle(struct vmock_server *srv, const struct vmock_request *req,
                         struct vmock_reply *rep)
{
    cJSON *body = parse_body(req, rep);
    if (body == NULL) {
        return;
    }
    const char *spec = vmock_json_string(body, "spec");
    struct base_err e = BASE_ERR_INIT;
    if (spec == NULL) {
        vmock_reply_error(rep, 400, "BadParameter", "spec (a string) is required.", NULL);
    } else {
        /* Parse into a copy so that a bad spec changes nothing. */
        struct vmock_throttle *t = &srv->throttle;
        struct vmock_throttle tmp;
        pthread_mutex_lock(&t->mu);
        tmp.window_ms = t->window_ms;
        tmp.identity_pct = t->identity_pct;
        memcpy(tmp.limit, t->limit, sizeof(tmp.limit));
        pthread_mutex_unlock(&t->mu);
        if (vmock_throttle_parse(&tmp, spec, &e) != 0) {
            reply_bad_parameter(rep, &e);
        } else {
            pthread_mutex_lock(&t->mu);
            t->window_ms = tmp.window_ms;
            t->identity_pct = tmp.identity_pct;
            memcpy(t->limit, tmp.limit, sizeof(t->limit));
            memset(t->count, 0, sizeof(t->count));
            memset(t->window_start_ms, 0, sizeof(t->window_start_ms));
            if (t->ids != NULL) {
                memset(t->ids, 0, t->n_ids * sizeof(*t->ids));
            }
            pthread_mutex_unlock(&t->mu);
            vmock_reply_json(rep, 200, vmock_throttle_json(t));
        }
    }
    cJSON_Delete(body);
}

void vmock_api_admin(struct vmock_server *srv, const struct vmock_request *req, char **segs,
                     size_t n_segs, struct vmock_reply *rep)
{
    /*
     * Like the key routes: no token, or a token that is not valid here, is 401
     * with the challenge. A key identity's token is not valid here, as the
     * admin token is not valid on the key routes (a token for another
     * audience is a 401 on the service, not a 403).
     */
    const char *token = vmock_api_bearer(req);
    if (token == NULL || !vmock_policy_is_admin(srv->policy, token)) {
        vmock_api_challenge(srv, rep, token != NULL);
        return;
    }
    const char *what = n_segs == 2 ? segs[1] : "";
    int get = strcmp(req->method, "GET") == 0;
    int post = strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0;
    if (strcmp(what, "stats") == 0 && get) {
        cJSON *doc = vmock_stats_json(&srv->stats, (int64_t)time(NULL));
        cJSON *au = doc != NULL ? cJSON_AddObjectToObject(doc, "audit") : NULL;
        if (au != NULL) {
            cJSON_AddNumberToObject(au, "unauthenticated_not_logged",
                                    (double)vmock_audit_unlogged(&srv->audit));
        }
        vmock_reply_json(rep, 200, doc);
    } else if (strcmp(what, "faults") == 0 && get) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "faults", vmock_faults_json(&srv->faults));
        vmock_reply_json(rep, 200, doc);
    } else if (strcmp(what, "faults") == 0 && post) {
        set_faults(srv, req, rep);
    } else if (strcmp(what, "faults") == 0 && strcmp(req->method, "DELETE") == 0) {
        vmock_faults_set(&srv->faults, NULL, 0);
        rep->status = 204;
    } else if (strcmp(what, "throttle") == 0 && get) {
        vmock_reply_json(rep, 200, vmock_throttle_json(&srv->throttle));
    } else if (strcmp(what, "throttle") == 0 && post) {
        set_throttle(srv, req, rep);
    } else {
        vmock_reply_error(rep, 404, "NotFound", "No such admin endpoint or method.", NULL);
    }
}
