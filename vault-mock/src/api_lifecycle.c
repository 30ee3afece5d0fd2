/*
 * api_lifecycle.c - listing with paging, soft delete, deleted keys,
 * recover and purge.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "base_codec.h"

#define PAGE_DEFAULT 25
#define PAGE_MAX     25

/* Read maxresults (1..25, default 25). Answers 400 and returns -1 when invalid. */
static int page_size(struct vmock_call *c, struct vmock_reply *rep, long *out)
{
    const char *s = c->req->query(c->req->ctx, "maxresults");
    *out = PAGE_DEFAULT;
    if (s == NULL) {
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > PAGE_MAX) {
        vmock_reply_error(rep, 400, "BadParameter",
                          "maxresults must be an integer between 1 and 25.", NULL);
        return -1;
    }
    *out = v;
    return 0;
}

/*
 * Decode $skiptoken (base64url text made by this vault) into |out|. Returns
 * 0 (|out| empty when absent), or answers 400 and returns -1.
 */
static int skiptoken(struct vmock_call *c, struct vmock_reply *rep, char *out, size_t out_len)
{
    out[0] = '\0';
    const char *s = c->req->query(c->req->ctx, "$skiptoken");
    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    uint8_t *raw = NULL;
    size_t len = 0;
    if (base_b64url_decode_alloc(s, strlen(s), &raw, &len, NULL) != 0 || len == 0 ||
        len >= out_len || memchr(raw, '\0', len) != NULL) {
        free(raw);
        vmock_reply_error(rep, 400, "BadParameter", "The $skiptoken is not valid.", NULL);
        return -1;
    }
    memcpy(out, raw, len);
    out[len] = '\0';
    free(raw);
    return 0;
}

/* Finish a list page: {"value": items, "nextLink": link-or-null}. */
static void reply_page(struct vmock_call *c, struct vmock_reply *rep, cJSON *items,
                       const char *path, const char *next_marker, long max)
{
    cJSON *doc = cJSON_CreateObject();
    if (doc == NULL || items == NULL) {
        cJSON_Delete(doc);
        cJSON_Delete(items);
        vmock_reply_error(rep, 500, "InternalError", "Out of memory.", NULL);
        return;
    }
    cJSON_AddItemToObject(doc, "value", items);
    if (next_marker != NULL) {
        char *tok = base_b64url_encode_alloc((const uint8_t *)next_marker, strlen(next_marker));
        char *link = tok != NULL ? vmock_bundle_next_link(c, path, tok, max) : NULL;
        if (link != NULL) {
            cJSON_AddStringToObject(doc, "nextLink", link);
        }
        free(link);
        free(tok);
    } else {
        cJSON_AddNullToObject(doc, "nextLink");
    }
    vmock_reply_json(rep, 200, doc);
}

/* List live (|deleted| 0) or deleted (1) keys, one page. */
static void list_keys(struct vmock_call *c, struct vmock_reply *rep, int deleted)
{
    long max = 0;
    char after[VMOCK_NAME_MAX + 1];
    if (page_size(c, rep, &max) != 0 || skiptoken(c, rep, after, sizeof(after)) != 0) {
        return;
    }
    struct vmock_store *st = c->srv->store;
    if (deleted) {
        vmock_store_wrlock(st);
        vmock_store_expire(st, c->now);
    } else {
        vmock_store_rdlock(st);
    }
    cJSON *items = cJSON_CreateArray();
    size_t i = after[0] != '\0' ? vmock_store_index_after(st, after) : 0;
    long n = 0;
    int more = 0;
    /* The marker is the last name on this page; the next page starts after it. */
    char marker[VMOCK_NAME_MAX + 1];
    marker[0] = '\0';
    for (; items != NULL && i < st->n_keys; i++) {
        const struct vmock_key *key = st->keys[i];
        if (key->deleted != deleted) {
            continue;
        }
        if (n == max) {
            more = 1;
            break;
        }
        cJSON *it = vmock_bundle_item(c, key, vmock_key_version(key, ""), 0);
        if (it == NULL) {
            cJSON_Delete(items);
            items = NULL;
            break;
        }
        cJSON_AddItemToArray(items, it);
        snprintf(marker, sizeof(marker), "%s", key->name);
        n++;
    }
    vmock_store_unlock(st);
    reply_page(c, rep, items, deleted ? "/deletedkeys" : "/keys", more ? marker : NULL, max);
}

void vmock_api_list(struct vmock_call *c, struct vmock_reply *rep)
{
    list_keys(c, rep, 0);
}

void vmock_api_list_deleted(struct vmock_call *c, struct vmock_reply *rep)
{
    list_keys(c, rep, 1);
}

void vmock_api_list_versions(struct vmock_call *c, struct vmock_reply *rep)
{
    long max = 0;
    char start_s[32];
    if (page_size(c, rep, &max) != 0 || skiptoken(c, rep, start_s, sizeof(start_s)) != 0) {
        return;
    }
    size_t start = 0;
    if (start_s[0] != '\0') {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(start_s, &end, 10);
        if (errno != 0 || *end != '\0' || start_s[0] == '-') {
            vmock_reply_error(rep, 400, "BadParameter", "The $skiptoken is not valid.", NULL);
            return;
        }
        start = (size_t)v;
    }
    struct vmock_store *st = c->srv->store;
    vmock_store_rdlock(st);
    const struct vmock_key *key = vmock_store_find(st, c->name);
    if (key == NULL || key->deleted) {
        vmock_store_unlock(st);
        vmock_reply_not_found(rep, c->name, "");
        return;
    }
    cJSON *items = cJSON_CreateArray();
    size_t i = start;
    for (; items != NULL && i < key->n_versions && (long)(i - start) < max; i++) {
        cJSON *it = vmock_bundle_item(c, key, key->versions[i], 1);
        if (it == NULL) {
            cJSON_Delete(items);
            items = NULL;
            break;
        }
        cJSON_AddItemToArray(items, it);
    }
    int more = i < key->n_versions;
    vmock_store_unlock(st);
    char marker[32];
    snprintf(marker, sizeof(marker), "%zu", i);
    char path[VMOCK_NAME_MAX + 32];
    snprintf(path, sizeof(path), "/keys/%s/versions", c->name);
    reply_page(c, rep, items, path, more ? marker : NULL, max);
}

/*
 * Answer |status| with |doc| (consumed; 204: no body) for a change already
 * applied in memory, and commit it (vmock_api_commit) under the write lock.
 * Returns 0, or -1 with the 500 answer in |rep|: the caller undoes the change.
 */
static int commit_reply(struct vmock_call *c, struct vmock_reply *rep, int status, cJSON *doc)
{
    if (status == 204) {
        cJSON_Delete(doc);
        free(rep->body);
        rep->body = NULL;
        rep->status = 204;
        rep->error_code[0] = '\0';
    } else {
        vmock_reply_json(rep, status, doc);
        if (rep->status != status) {
            return -1;
        }
    }
    return vmock_api_commit(c, rep);
}

/* The soft-delete record of a key, kept to undo a change that was not saved. */
struct del_record {
    int deleted;
    int64_t deleted_date;
    int64_t purge_date;
};

static struct del_record del_record_of(const struct vmock_key *key)
{
    struct del_record d = {key->deleted, key->deleted_date, key->purge_date};
    return d;
}

static void del_record_restore(struct vmock_key *key, const struct del_record *d)
{
    key->deleted = d->deleted;
    key->deleted_date = d->deleted_date;
    key->purge_date = d->purge_date;
}

void vmock_api_delete(struct vmock_call *c, struct vmock_reply *rep)
{
    struct vmock_store *st = c->srv->store;
    vmock_store_wrlock(st);
    struct vmock_key *key = vmock_store_find(st, c->name);
    if (key == NULL || key->deleted) {
        vmock_reply_not_found(rep, c->name, "");
    } else {
        struct del_record was = del_record_of(key);
        vmock_store_delete(st, key, c->now);
        if (commit_reply(c, rep, 200, vmock_bundle_deleted(c, key)) != 0) {
            del_record_restore(key, &was);
        }
    }
    vmock_store_unlock(st);
}

/*
 * Take the write lock, purge what is due and find the deleted key of the
 * call; answers 404 when there is none. The caller unlocks.
 */
static struct vmock_key *find_deleted(struct vmock_call *c, struct vmock_reply *rep)
{
    struct vmock_store *st = c->srv->store;
    vmock_store_wrlock(st);
    vmock_store_expire(st, c->now);
    struct vmock_key *key = vmock_store_find(st, c->name);
    if (key == NULL || !key->deleted) {
        vmock_reply_errorf(rep, 404, "KeyNotFound", NULL, "Deleted Key not found: %s", c->name);
        return NULL;
    }
    return key;
}

void vmock_api_get_deleted(struct vmock_call *c, struct vmock_reply *rep)
{
    struct vmock_store *st = c->srv->store;
    struct vmock_key *key = find_deleted(c, rep);
    if (key != NULL) {
        vmock_reply_json(rep, 200, vmock_bundle_deleted(c, key));
    }
    vmock_store_unlock(st);
}

void vmock_api_recover(struct vmock_call *c, struct vmock_reply *rep)
{
    struct vmock_store *st = c->srv->store;
    struct vmock_key *key = find_deleted(c, rep);
    if (key != NULL) {
        struct del_record was = del_record_of(key);
        key->deleted = 0;
        key->deleted_date = 0;
        key->purge_date = 0;
        struct vmock_kver *kv = vmock_key_version(key, "");
        snprintf(rep->version, sizeof(rep->version), "%s", kv->version);
        if (commit_reply(c, rep, 200, vmock_bundle_key(c, key, kv)) != 0) {
            del_record_restore(key, &was);
        }
    }
    vmock_store_unlock(st);
}

void vmock_api_purge(struct vmock_call *c, struct vmock_reply *rep)
{
    struct vmock_store *st = c->srv->store;
    struct vmock_key *key = find_deleted(c, rep);
    if (key == NULL) {
        /* answered */
    } else if (st->purge_protection) {
        vmock_reply_error(rep, 403, "Forbidden",
                          "Operation \"purge\" is not allowed because purge protection is enabled "
                          "for this vault. Key Vault service will automatically purge it after the "
                          "retention period has passed.\r\nVault: vault-mock;location=local",
                          NULL);
    } else {
        vmock_store_detach(st, key);
        if (commit_reply(c, rep, 204, NULL) != 0) {
            vmock_store_reattach(st, key);
        } else {
            vmock_store_key_free(key);
        }
    }
    vmock_store_unlock(st);
}
