/*
 * test_authz.c - the authorization matrix. Every served route (each row of
 * the API table in vault-mock/README.md, in its versioned form too, and the
 * admin routes) is called by an identity holding only permission P and by
 * one holding every permission but P, for each of the 20 key permissions:
 * allowed exactly when P is (only-P) or is not (all-but-P) the route's
 * permission; a refusal is 403 Forbidden / ForbiddenByPolicy with exactly
 * one audit line naming identity, operation and status; an allowed call
 * has its effect, a refused one none. Then every route for the default
 * identities, with the outcome derived from the permissions the vault
 * wrote to STATE/identities.json; and every route without a token, with a
 * wrong token and with the other plane's token (401 and the challenge).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "vmt.h"
#include "vmt_crypto.h"

#define S (&vmt_srv)

#define N_PERMS 20
static const char *const perms[N_PERMS] = {
    "get",
    "list",
    "create",
    "update",
    "import",
    "delete",
    "recover",
    "purge",
    "rotate",
    "wrapKey",
    "unwrapKey",
    "encrypt",
    "decrypt",
    "sign",
    "verify",
    "backup",
    "restore",
    "release",
    "getrotationpolicy",
    "setrotationpolicy",
};

/* The key a route works on; each has its own so that effects do not mix. */
enum target { T_NONE, T_ACTIVE, T_CRYPTO, T_DEL, T_ROT, T_DELETED, T_NEW, T_COUNT };
static const char *const target_key[T_COUNT] = {NULL, "ka", "kc", "kdel", "krot", "kd", NULL};

enum body {
    B_NONE,
    B_CREATE,
    B_IMPORT,
    B_UPDATE,
    B_WRAP,
    B_UNWRAP,
    B_ENCRYPT,
    B_DECRYPT,
    B_SIGN,
    B_VERIFY,
    B_FAULTS,
    B_THROTTLE,
};

struct route {
    const char *op;   /* audit operation */
    const char *perm; /* the permission it needs; NULL: an admin route */
    const char *method;
    const char *coll; /* keys, deletedkeys, admin */
    enum target target;
    int versioned;
    const char *suffix; /* after name[/version] */
    enum body body;
    long ok; /* status when allowed */
};

#define CRYPTO_ROUTES(v)                                                                     \
    {"encrypt", "encrypt", "POST", "keys", T_CRYPTO, v, "encrypt", B_ENCRYPT, 200},          \
        {"decrypt", "decrypt", "POST", "keys", T_CRYPTO, v, "decrypt", B_DECRYPT, 200},      \
        {"wrapkey", "wrapKey", "POST", "keys", T_CRYPTO, v, "wrapkey", B_WRAP, 200},         \
        {"unwrapkey", "unwrapKey", "POST", "keys", T_CRYPTO, v, "unwrapkey", B_UNWRAP, 200}, \
        {"sign", "sign", "POST", "keys", T_CRYPTO, v, "sign", B_SIGN, 200},                  \
    {                                                                                        \
        "verify", "verify", "POST", "keys", T_CRYPTO, v, "verify", B_VERIFY, 200             \
    }

static const struct route routes[] = {
    {"create", "create", "POST", "keys", T_NEW, 0, "create", B_CREATE, 200},
    {"import", "import", "PUT", "keys", T_NEW, 0, NULL, B_IMPORT, 200},
    {"get", "get", "GET", "keys", T_ACTIVE, 0, NULL, B_NONE, 200},
    {"get", "get", "GET", "keys", T_ACTIVE, 1, NULL, B_NONE, 200},
    {"update", "update", "PATCH", "keys", T_ACTIVE, 0, NULL, B_UPDATE, 200},
    {"update", "update", "PATCH", "keys", T_ACTIVE, 1, NULL, B_UPDATE, 200},
    {"list", "list", "GET", "keys", T_NONE, 0, NULL, B_NONE, 200},
    {"listversions", "list", "GET", "keys", T_ACTIVE, 0, "versions", B_NONE, 200},
    {"rotate", "rotate", "POST", "keys", T_ROT, 0, "rotate", B_NONE, 200},
    {"delete", "delete", "DELETE", "keys", T_DEL, 0, NULL, B_NONE, 200},
    {"listdeleted", "list", "GET", "deletedkeys", T_NONE, 0, NULL, B_NONE, 200},
    {"getdeleted", "get", "GET", "deletedkeys", T_DELETED, 0, NULL, B_NONE, 200},
    {"recover", "recover", "POST", "deletedkeys", T_DELETED, 0, "recover", B_NONE, 200},
    {"purge", "purge", "DELETE", "deletedkeys", T_DELETED, 0, NULL, B_NONE, 204},
    CRYPTO_ROUTES(0),
    CRYPTO_ROUTES(1),
    {"admin", NULL, "GET", "admin", T_NONE, 0, "stats", B_NONE, 200},
    {"admin", NULL, "GET", "admin", T_NONE, 0, "faults", B_NONE, 200},
    {"admin", NULL, "POST", "admin", T_NONE, 0, "faults", B_FAULTS, 200},
    {"admin", NULL, "DELETE", "admin", T_NONE, 0, "faults", B_NONE, 204},
    {"admin", NULL, "GET", "admin", T_NONE, 0, "throttle", B_NONE, 200},
    {"admin", NULL, "POST", "admin", T_NONE, 0, "throttle", B_THROTTLE, 200},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

#define PLAIN  "AAECAwQFBgcICQoLDA0ODw"
#define DIGEST "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

/* What the test knows of the vault's state, to prepare each call and check its effect. */
struct ctx {
    const char *officer; /* token of an identity with every permission */
    char ver[T_COUNT][33];
    char rot_latest[33];
    int del_active; /* kdel: 1 active, 0 soft-deleted */
    int kd_state;   /* kd: 0 deleted, 1 active (recovered), 2 gone (purged) */
    unsigned new_seq;
    char new_name[32];
    char *import_body;
    char unwrap_body[1024];
    char decrypt_body[1024];
    char verify_body[1024];
    /* figures */
    unsigned requests, allowed, refused403, refused401, audit_refused;
};

static void officer_expect(struct ctx *c, const char *method, const char *path, const char *body,
                           long status)
{
    vmt_expect(S, method, path, c->officer, body, status);
}

/* Create the route key |t| as the officer and note its version. */
static void make_key(struct ctx *c, enum target t)
{
    char path[128];
    struct vmt_resp r;
    snprintf(path, sizeof(path), "/keys/%s/create?" VMT_API, target_key[t]);
    cr_assert_eq(vmt_call(S, "POST", path, c->officer, "{\"kty\":\"RSA\"}", &r), 200, "%s", r.body);
    const char *kid = vmt_str(&r, "key.kid");
    cr_assert_not_null(kid);
    snprintf(c->ver[t], sizeof(c->ver[t]), "%s", strrchr(kid, '/') + 1);
    vmt_resp_free(&r);
}

/* |out| = |head| + the value the officer's |op| on kc answers + "\"}". */
static void crypto_body(struct ctx *c, const char *op, const char *body, const char *head,
                        char *out, size_t out_len)
{
    char path[128];
    struct vmt_resp r;
    snprintf(path, sizeof(path), "/keys/kc/%s?" VMT_API, op);
    cr_assert_eq(vmt_call(S, "POST", path, c->officer, body, &r), 200, "%s", r.body);
    snprintf(out, out_len, "%s%s\"}", head, vmt_str(&r, "value"));
    vmt_resp_free(&r);
}

/* The keys and bodies every route needs, made by the officer. */
static void ctx_init(struct ctx *c, const char *officer_token)
{
    memset(c, 0, sizeof(*c));
    c->officer = officer_token;
    for (enum target t = T_ACTIVE; t <= T_DELETED; t++) {
        make_key(c, t);
    }
    officer_expect(c, "DELETE", "/keys/kd?" VMT_API, NULL, 200);
    c->del_active = 1;
    c->kd_state = 0;
    snprintf(c->rot_latest, sizeof(c->rot_latest), "%s", c->ver[T_ROT]);
    crypto_body(c, "wrapkey", "{\"alg\":\"RSA-OAEP-256\",\"value\":\"" PLAIN "\"}",
                "{\"alg\":\"RSA-OAEP-256\",\"value\":\"", c->unwrap_body, sizeof(c->unwrap_body));
    crypto_body(c, "encrypt", "{\"alg\":\"RSA-OAEP\",\"value\":\"" PLAIN "\"}",
                "{\"alg\":\"RSA-OAEP\",\"value\":\"", c->decrypt_body, sizeof(c->decrypt_body));
    crypto_body(c, "sign", "{\"alg\":\"RS256\",\"value\":\"" DIGEST "\"}",
                "{\"alg\":\"RS256\",\"digest\":\"" DIGEST "\",\"value\":\"", c->verify_body,
                sizeof(c->verify_body));
    EVP_PKEY *local = vmt_rsa_generate(2048);
    cr_assert_not_null(local);
    char *jwk = vmt_jwk_private(local, NULL);
    size_t n = strlen(jwk) + 16;
    c->import_body = malloc(n);
    snprintf(c->import_body, n, "{\"key\":{%s}}", jwk);
    free(jwk);
    EVP_PKEY_free(local);
}

static void ctx_free(struct ctx *c)
{
    free(c->import_body);
    c->import_body = NULL;
}

static const char *body_of(struct ctx *c, enum body b)
{
    switch (b) {
        case B_CREATE:
            return "{\"kty\":\"RSA\"}";
        case B_IMPORT:
            return c->import_body;
        case B_UPDATE:
            return "{\"tags\":{\"t\":\"v\"}}";
        case B_WRAP:
            return "{\"alg\":\"RSA-OAEP-256\",\"value\":\"" PLAIN "\"}";
        case B_ENCRYPT:
            return "{\"alg\":\"RSA-OAEP\",\"value\":\"" PLAIN "\"}";
        case B_UNWRAP:
            return c->unwrap_body;
        case B_DECRYPT:
            return c->decrypt_body;
        case B_SIGN:
            return "{\"alg\":\"RS256\",\"value\":\"" DIGEST "\"}";
        case B_VERIFY:
            return c->verify_body;
        case B_FAULTS:
            return "{\"faults\":[]}";
        case B_THROTTLE:
            return "{\"spec\":\"off\"}";
        case B_NONE:
        default:
            return NULL;
    }
}

/* Bring the route's key into the state the route needs (officer calls). */
static void prepare(struct ctx *c, const struct route *rt)
{
    if (rt->target == T_DEL && !c->del_active) {
        officer_expect(c, "POST", "/deletedkeys/kdel/recover?" VMT_API, NULL, 200);
        c->del_active = 1;
    }
    if (rt->target == T_DELETED && c->kd_state == 2) {
        make_key(c, T_DELETED);
        c->kd_state = 1;
    }
    if (rt->target == T_DELETED && c->kd_state == 1) {
        officer_expect(c, "DELETE", "/keys/kd?" VMT_API, NULL, 200);
        c->kd_state = 0;
    }
    if (rt->target == T_NEW) {
        snprintf(c->new_name, sizeof(c->new_name), "n%u", c->new_seq++);
    }
}

static void route_path(const struct ctx *c, const struct route *rt, char *out, size_t out_len)
{
    if (strcmp(rt->coll, "admin") == 0) {
        snprintf(out, out_len, "/admin/%s", rt->suffix);
        return;
    }
    const char *name = rt->target == T_NEW ? c->new_name : target_key[rt->target];
    snprintf(out, out_len, "/%s%s%s%s%s%s%s?" VMT_API, rt->coll, name != NULL ? "/" : "",
             name != NULL ? name : "", rt->versioned ? "/" : "",
             rt->versioned ? c->ver[rt->target] : "", rt->suffix != NULL ? "/" : "",
             rt->suffix != NULL ? rt->suffix : "");
}

static long officer_status(struct ctx *c, const char *path)
{
    struct vmt_resp r;
    long st = vmt_call(S, "GET", path, c->officer, NULL, &r);
    vmt_resp_free(&r);
    return st;
}

/* The route's effect is there (|allowed|) or not; |r| is the answer to the call. */
static void check_effect(struct ctx *c, const struct route *rt, int allowed,
                         const struct vmt_resp *r)
{
    char path[160];
    const char *op = rt->op;
    if (rt->target == T_NEW) {
        snprintf(path, sizeof(path), "/keys/%s?" VMT_API, c->new_name);
        cr_assert_eq(officer_status(c, path), allowed ? 200 : 404, "%s of %s", op, c->new_name);
    } else if (strcmp(op, "delete") == 0) {
        cr_assert_eq(officer_status(c, "/keys/kdel?" VMT_API), allowed ? 404 : 200);
        cr_assert_eq(officer_status(c, "/deletedkeys/kdel?" VMT_API), allowed ? 200 : 404);
        c->del_active = !allowed;
    } else if (strcmp(op, "recover") == 0) {
        cr_assert_eq(officer_status(c, "/keys/kd?" VMT_API), allowed ? 200 : 404);
        c->kd_state = allowed ? 1 : 0;
    } else if (strcmp(op, "purge") == 0) {
        cr_assert_eq(officer_status(c, "/deletedkeys/kd?" VMT_API), allowed ? 404 : 200);
        c->kd_state = allowed ? 2 : 0;
    } else if (strcmp(op, "rotate") == 0) {
        struct vmt_resp g;
        cr_assert_eq(vmt_call(S, "GET", "/keys/krot?" VMT_API, c->officer, NULL, &g), 200);
        const char *kid = strrchr(vmt_str(&g, "key.kid"), '/') + 1;
        if (allowed) {
            cr_assert_str_neq(kid, c->rot_latest, "rotate made a new version");
            cr_assert_str_eq(kid, strrchr(vmt_str(r, "key.kid"), '/') + 1);
        } else {
            cr_assert_str_eq(kid, c->rot_latest, "refused rotate changed nothing");
        }
        snprintf(c->rot_latest, sizeof(c->rot_latest), "%s", kid);
        vmt_resp_free(&g);
    } else if (allowed && (strcmp(op, "unwrapkey") == 0 || strcmp(op, "decrypt") == 0)) {
        cr_assert_str_eq(vmt_str(r, "value"), PLAIN);
    } else if (allowed && strcmp(op, "verify") == 0) {
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(r->json, "value")), "%s", r->body);
    } else if (allowed && strcmp(op, "update") == 0) {
        cr_assert_str_eq(vmt_str(r, "tags.t"), "v");
    } else if (allowed && (strcmp(op, "wrapkey") == 0 || strcmp(op, "encrypt") == 0 ||
                           strcmp(op, "sign") == 0)) {
        cr_assert_not_null(vmt_str(r, "value"));
    }
}

static void check_challenge(const struct vmt_resp *r, int bad_token)
{
#define CHALLENGE                                               \
    "Bearer authorization=\"https://login.microsoftonline.com/" \
    "00000000-0000-0000-0000-000000000000\", resource=\"https://vault.azure.net\""
    cr_assert_eq(r->status, 401, "%ld %s", r->status, r->body);
    cr_assert_str_eq(vmt_error_code(r), "Unauthorized");
    if (bad_token) {
        cr_assert_str_eq(r->www_authenticate, CHALLENGE ", error=\"invalid_token\"");
        cr_assert(strncmp(vmt_str(r, "error.message"), "AKV10032:", 9) == 0, "%s", r->body);
    } else {
        cr_assert_str_eq(r->www_authenticate, CHALLENGE);
        cr_assert_str_eq(vmt_str(r, "error.message"),
                         "AKV10000: Request is missing a Bearer or PoP token.");
    }
}

/*
 * One call of |rt| by |who| (token |token|; NULL for none) expected
 * allowed or refused with |refusal| (403, or 401 with |bad_token|). Asserts
 * the answer, exactly one audit line and the effect.
 */
static void check_call(struct ctx *c, const struct route *rt, const char *who, const char *token,
                       int allowed, long refusal, int bad_token)
{
    char path[256];
    struct vmt_resp r;
    prepare(c, rt);
    route_path(c, rt, path, sizeof(path));
    long off = vmt_audit_end(S);
    vmt_call(S, rt->method, path, token, body_of(c, rt->body), &r);
    c->requests++;
    cJSON *lines[2] = {NULL, NULL};
    size_t n = vmt_audit_tail(S, &off, lines, 2);
    cr_assert_eq(n, 1, "%s %s by %s: %zu audit lines", rt->method, path, who, n);
    cr_assert_str_eq(vmt_jstr(lines[0], "request_id"), r.request_id);
    cr_assert_str_eq(vmt_jstr(lines[0], "operation"), rt->op);
    cr_assert_eq(vmt_jint(lines[0], "status"), (int)r.status);
    const char *line_id = vmt_jstr(lines[0], "identity");
    if (allowed) {
        cr_assert_eq(r.status, rt->ok, "%s %s by %s: %ld %s", rt->method, path, who, r.status,
                     r.body);
        c->allowed++;
    } else if (refusal == 403) {
        cr_assert_eq(r.status, 403, "%s %s by %s: %ld %s", rt->method, path, who, r.status, r.body);
        cr_assert_str_eq(vmt_error_code(&r), "Forbidden");
        cr_assert_str_eq(vmt_inner_code(&r), "ForbiddenByPolicy");
        char what[64];
        snprintf(what, sizeof(what), "keys %s permission", rt->perm);
        cr_assert(strstr(vmt_str(&r, "error.message"), what) != NULL, "%s", r.body);
        cr_assert(strstr(vmt_str(&r, "error.message"), who) != NULL, "%s", r.body);
        cr_assert_str_eq(vmt_jstr(lines[0], "error"), "Forbidden");
        c->refused403++;
        c->audit_refused++;
    } else {
        check_challenge(&r, bad_token);
        cr_assert_str_eq(vmt_jstr(lines[0], "error"), "Unauthorized");
        cr_assert_null(line_id, "a 401 names no identity");
        c->refused401++;
        c->audit_refused++;
    }
    if (allowed || refusal == 403) {
        cr_assert_not_null(line_id);
        cr_assert_str_eq(line_id, strcmp(rt->coll, "admin") == 0 ? "admin" : who);
    }
    cJSON_Delete(lines[0]);
    if (rt->perm != NULL) {
        check_effect(c, rt, allowed, &r);
    }
    vmt_resp_free(&r);
}

/* An identities file with only-P and allbut-P for every permission, and an officer. */
static char *write_identities(void)
{
    static char path[] = "/tmp/vmock-authz-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cJSON *root = cJSON_CreateObject();
    cJSON *ids = cJSON_AddArrayToObject(root, "identities");
    for (int v = 0; v < 2; v++) {
        for (int p = 0; p < N_PERMS; p++) {
            cJSON *id = cJSON_CreateObject();
            char name[64];
            char token[96];
            snprintf(name, sizeof(name), "%s-%s", v == 0 ? "only" : "allbut", perms[p]);
            snprintf(token, sizeof(token), "tok-%s-0123456789abcdef", name);
            cJSON_AddStringToObject(id, "name", name);
            cJSON_AddStringToObject(id, "token", token);
            cJSON *list = cJSON_AddArrayToObject(id, "permissions");
            for (int q = 0; q < N_PERMS; q++) {
                if ((v == 0) == (q == p)) {
                    cJSON_AddItemToArray(list, cJSON_CreateString(perms[q]));
                }
            }
            cJSON_AddItemToArray(ids, id);
        }
    }
    cJSON *off = cJSON_CreateObject();
    cJSON_AddStringToObject(off, "name", "officer");
    cJSON_AddStringToObject(off, "token", "tok-officer-0123456789abcdef");
    cJSON *all = cJSON_AddArrayToObject(off, "permissions");
    cJSON_AddItemToArray(all, cJSON_CreateString("all"));
    cJSON_AddItemToArray(ids, off);
    cJSON_AddStringToObject(root, "admin_token", "tok-admin-0123456789abcdef");
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    free(text);
    return path;
}

TestSuite(authz, .fini = vmt_teardown, .timeout = 900);

Test(authz, every_route_for_every_permission_alone_and_withheld)
{
    char *ids = write_identities();
    const char *args[] = {"--identities",       ids,   "--throttle", "off",
                          "--purge-protection", "off", NULL};
    vmt_setup_args(args);
    unlink(ids);
    struct ctx c;
    ctx_init(&c, "tok-officer-0123456789abcdef");
    const char *admin = "tok-admin-0123456789abcdef";
    cr_assert_str_eq(vmt_token(S, "admin"), admin);
    unsigned matrix = 0;
    for (size_t i = 0; i < N_ROUTES; i++) {
        const struct route *rt = &routes[i];
        for (int p = 0; p < N_PERMS; p++) {
            for (int v = 0; v < 2; v++) {
                char name[64];
                char token[96];
                snprintf(name, sizeof(name), "%s-%s", v == 0 ? "only" : "allbut", perms[p]);
                snprintf(token, sizeof(token), "tok-%s-0123456789abcdef", name);
                int holds = rt->perm != NULL && (strcasecmp(rt->perm, perms[p]) == 0) == (v == 0);
                /* a key token on an admin route is not valid there: 401 */
                check_call(&c, rt, name, token, holds, rt->perm != NULL ? 403 : 401, 1);
                matrix++;
            }
        }
        /* 'all' may call every key route; the admin token every admin route, and only those */
        check_call(&c, rt, "officer", c.officer, rt->perm != NULL, 401, 1);
        check_call(&c, rt, "admin", admin, rt->perm == NULL, 401, 1);
    }
    /* only-P is allowed on the routes needing P, all-but-P on all other key routes */
    size_t key_routes = 0;
    for (size_t i = 0; i < N_ROUTES; i++) {
        key_routes += routes[i].perm != NULL;
    }
    cr_assert_eq(matrix, N_ROUTES * N_PERMS * 2);
    cr_assert_eq(c.allowed, key_routes * N_PERMS + key_routes + (N_ROUTES - key_routes));
    cr_assert_eq(c.refused403, key_routes * N_PERMS);
    cr_assert_eq(c.refused401, (N_ROUTES - key_routes) * N_PERMS * 2 + N_ROUTES);
    fprintf(stderr,
            "authz: %zu routes x %d permissions: %u requests, %u allowed, %u refused "
            "(%u 403 ForbiddenByPolicy, %u 401), %u audit lines for the refused\n",
            N_ROUTES, N_PERMS, c.requests, c.allowed, c.refused403 + c.refused401, c.refused403,
            c.refused401, c.audit_refused);
    ctx_free(&c);
}

/* The default identities' permissions, as the vault wrote them to STATE/identities.json. */
static int default_holds(const cJSON *ids, const char *name, const char *perm)
{
    const cJSON *id = NULL;
    cJSON_ArrayForEach(id, ids)
    {
        if (strcmp(vmt_jstr(id, "name"), name) != 0) {
            continue;
        }
        const cJSON *p = NULL;
        cJSON_ArrayForEach(p, cJSON_GetObjectItem(id, "permissions"))
        {
            if (strcasecmp(p->valuestring, perm) == 0 || strcasecmp(p->valuestring, "all") == 0) {
                return 1;
            }
        }
        return 0;
    }
    cr_assert_fail("identity %s not in identities.json", name);
    return 0;
}

Test(authz, every_route_for_the_default_identities_and_without_valid_tokens)
{
    const char *args[] = {"--throttle", "off", "--purge-protection", "off", NULL};
    vmt_setup_args(args);
    char path[600];
    snprintf(path, sizeof(path), "%s/identities.json", S->state);
    char *text = vmt_read_file(path, NULL);
    cr_assert_not_null(text);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    const cJSON *ids = cJSON_GetObjectItem(doc, "identities");
    cr_assert_eq(cJSON_GetArraySize(ids), 3);
    static const char *const names[3] = {"keyofficer", "dbservice", "auditor"};
    struct ctx c;
    ctx_init(&c, vmt_token(S, "keyofficer"));
    const char *admin = vmt_token(S, "admin");
    unsigned per_id[3] = {0, 0, 0};
    for (size_t i = 0; i < N_ROUTES; i++) {
        const struct route *rt = &routes[i];
        for (int k = 0; k < 3; k++) {
            int holds = rt->perm != NULL && default_holds(ids, names[k], rt->perm);
            unsigned before = c.allowed;
            check_call(&c, rt, names[k], vmt_token(S, names[k]), holds,
                       rt->perm != NULL ? 403 : 401, 1);
            per_id[k] += c.allowed - before;
        }
        check_call(&c, rt, "(none)", NULL, 0, 401, 0);
        check_call(&c, rt, "(wrong)", "not-a-token-of-this-vault", 0, 401, 1);
        check_call(&c, rt, "admin", admin, rt->perm == NULL, 401, 1);
    }
    /* spaces after the scheme are skipped on both planes */
    struct vmt_resp r;
    char auth[256];
    snprintf(auth, sizeof(auth), "Authorization: Bearer   %s", vmt_token(S, "auditor"));
    cr_assert_eq(vmt_call_raw(S, "GET", "/keys?" VMT_API, NULL, NULL, 0, auth, &r), 200);
    vmt_resp_free(&r);
    snprintf(auth, sizeof(auth), "Authorization: Bearer   %s", admin);
    cr_assert_eq(vmt_call_raw(S, "GET", "/admin/stats", NULL, NULL, 0, auth, &r), 200);
    vmt_resp_free(&r);
    cJSON_Delete(doc);
    fprintf(stderr,
            "authz defaults: %zu routes: keyofficer %u allowed, dbservice %u, auditor %u; "
            "%u requests, %u refused with 403, %u with 401 (no token, wrong token, other plane)\n",
            N_ROUTES, per_id[0], per_id[1], per_id[2], c.requests, c.refused403, c.refused401);
    ctx_free(&c);
}
