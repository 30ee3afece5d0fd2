/*
 * comp_ctl_lifecycle.c - the controls on the vault's side of the key lifecycle: deletion,
 * disable, revocation, recovery and purge (CMK-DEL), rotation (CMK-ROT), least privilege and
 * separation of duties (CMK-SOD), audit completeness (CMK-AUD).
 */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "comp_ctl_internal.h"
#include "eng_vault.h"

/* ---- vault calls ----------------------------------------------------------------------------- */

/* An HTTP call as |identity|; returns the status (0: no answer). */
static long call(struct vmt_server *vs, const char *identity, const char *method, const char *path,
                 const char *body, struct vmt_resp *keep)
{
    struct vmt_resp r;
    char token[600];
    snprintf(token, sizeof(token), "%s", vmt_token(vs, identity) ? vmt_token(vs, identity) : "");
    long st = vmt_call(vs, method, path, token, body, &r);
    if (keep != NULL) {
        *keep = r;
    } else {
        vmt_resp_free(&r);
    }
    return st;
}

static int key_version_of(const struct vmt_resp *r, char *out, size_t max_out_len)
{
    const char *kid = vmt_str(r, "key.kid");
    const char *slash = kid != NULL ? strrchr(kid, '/') : NULL;
    if (slash == NULL) {
        return -1;
    }
    snprintf(out, max_out_len, "%s", slash + 1);
    return 0;
}

/* Base64url without padding of |len| bytes (OpenSSL's encoder, then the URL alphabet). */
static void b64url(const uint8_t *in, size_t len, char *out, size_t max_out_len)
{
    unsigned char tmp[512];
    if (4 * ((len + 2) / 3) + 1 > sizeof(tmp) || max_out_len == 0) {
        return;
    }
    int n = EVP_EncodeBlock(tmp, in, (int)len);
    size_t j = 0;
    for (int i = 0; i < n && j + 1 < max_out_len; i++) {
        char ch = (char)tmp[i];
        if (ch == '=') {
            break;
        }
        out[j++] = ch == '+' ? '-' : ch == '/' ? '_' : ch;
    }
    out[j] = '\0';
}

/* ---- CMK-DEL: deletion, disable, revocation, recovery, purge --------------------------------- */

/*
 * Reads unit 0 every 20 ms until it is refused or |limit_s| passed.
 * Returns the seconds from |t0| to the first refusal, or -1 (still readable).
 */
static double time_to_refusal(struct eng_store *s, double t0, double limit_s, int *code)
{
    uint8_t out[UNIT];
    while (cc_now_s() - t0 < limit_s) {
        if (eng_store_read(s, 0, 1, out) != 0) {
            *code = eng_errno();
            return cc_now_s() - t0;
        }
        usleep(20000);
    }
    *code = ENG_OK;
    return -1;
}

/* Measures delete/disable/revoke -> first refused read and judges it against the interval. */
static void judge_refusal(struct ctx *x, struct comp_control *c, struct eng_store *s, double t0,
                          const char *what)
{
    int code = ENG_OK;
    double t = time_to_refusal(s, t0, x->reval + 5.0, &code);
    double bound = x->reval + 1.0;
    if (t < 0) {
        snprintf(c->measured, sizeof(c->measured), "still readable %.1f s after %s", x->reval + 5.0,
                 what);
        cc_fail(c, "the store stayed readable after %s", what);
        return;
    }
    snprintf(c->measured, sizeof(c->measured),
             "%.2f s from %s to the first refused read (revalidation interval %u s, bound %.0f s)",
             t, what, x->reval, bound);
    cc_ev(c, "first refused read after %.3f s: %s", t, eng_error_name(code));
    if (code != ENG_ERR_INACCESSIBLE) {
        cc_fail(c, "the read was refused with %s, not ENG_ERR_INACCESSIBLE", eng_error_name(code));
    } else if (t > bound) {
        cc_fail(c, "access ended after %.2f s, more than interval + 1 s = %.0f s", t, bound);
    } else {
        comp_control_set(c, COMP_VERDICT_PASS, "data inaccessible %.2f s after %s (<= %.0f s)", t,
                         what, bound);
    }
    uint8_t unit[UNIT];
    if (eng_store_write(s, 0, 1, unit) == 0 || eng_errno() != ENG_ERR_INACCESSIBLE) {
        cc_fail(c, "a write after %s was not refused with ENG_ERR_INACCESSIBLE", what);
    } else {
        cc_ev(c, "writes refused too: ENG_ERR_INACCESSIBLE");
    }
}

static void expect_open_fails(struct ctx *x, struct comp_control *c, const char *dir,
                              struct eng_kek_provider *p, int want, const char *when)
{
    struct eng_store *s = cc_reopen(x, dir, p);
    if (s != NULL) {
        eng_store_close(s);
        cc_fail(c, "the store opened %s", when);
    } else if (eng_errno() != want) {
        cc_fail(c, "reopening %s failed with %s, expected %s", when, cc_ename(),
                eng_error_name(want));
    } else {
        cc_ev(c, "reopening %s refused: %s", when, eng_error_name(want));
    }
}

/* Reopens the store in |dir| and compares the 8 canary units; records evidence or a failure. */
static int reopen_intact(struct ctx *x, struct comp_control *c, const char *dir,
                         struct eng_kek_provider *p, const char *when)
{
    struct eng_store *s = cc_reopen(x, dir, p);
    int ok = s != NULL && cc_data_intact(s);
    if (ok) {
        cc_ev(c, "%s: reopened, 8 of 8 canary units read back identical", when);
    } else {
        cc_fail(c, "%s: the store does not open or read back (%s)", when, cc_ename());
    }
    eng_store_close(s);
    return ok;
}

void ctl_delete(struct ctx *x, struct comp_control *c)
{
    struct eng_kek_provider *p = NULL;
    char dir[300], ver[64];
    struct eng_store *s = cc_store_with_data(x, c, &x->va, "dbservice", "del-kek", ENG_MODE_GCM, &p,
                                             dir, sizeof(dir), ver);
    if (s != NULL) {
        long st = call(&x->va, "keyofficer", "DELETE", "/keys/del-kek" API, NULL, NULL);
        double t0 = cc_now_s();
        cc_ev(c, "keyofficer DELETE /keys/del-kek: %ld", st);
        judge_refusal(x, c, s, t0, "the delete");
        eng_store_close(s);
        expect_open_fails(x, c, dir, p, ENG_ERR_KEK_NOT_FOUND, "while the key is deleted");
    }
    eng_kek_provider_free(p);
}

void ctl_disable(struct ctx *x, struct comp_control *c)
{
    struct eng_kek_provider *p = NULL;
    char dir[300], ver[64];
    struct eng_store *s = cc_store_with_data(x, c, &x->va, "dbservice", "dis-kek", ENG_MODE_XTS, &p,
                                             dir, sizeof(dir), ver);
    if (s != NULL) {
        long st = call(&x->va, "keyofficer", "PATCH", "/keys/dis-kek/" API,
                       "{\"attributes\":{\"enabled\":false}}", NULL);
        double t0 = cc_now_s();
        cc_ev(c, "keyofficer PATCH enabled=false: %ld", st);
        judge_refusal(x, c, s, t0, "disabling the key");
        eng_store_close(s);
        expect_open_fails(x, c, dir, p, ENG_ERR_KEK_DISABLED, "while the key is disabled");
        st = call(&x->va, "keyofficer", "PATCH", "/keys/dis-kek/" API,
                  "{\"attributes\":{\"enabled\":true}}", NULL);
        cc_ev(c, "keyofficer PATCH enabled=true: %ld", st);
        reopen_intact(x, c, dir, p, "after re-enabling");
    }
    eng_kek_provider_free(p);
}

void ctl_revoke(struct ctx *x, struct comp_control *c)
{
    struct eng_kek_provider *p = NULL;
    char dir[300], ver[64];
    cc_ev(c,
          "identity app has only 'list' plus a per-key grant {app-kek: get, wrapKey, unwrapKey} "
          "in the identities file");
    struct eng_store *s =
        cc_store_with_data(x, c, &x->va, "app", "app-kek", ENG_MODE_XTS, &p, dir, sizeof(dir), ver);
    if (s == NULL) {
        eng_kek_provider_free(p);
        return;
    }
    const char *colon = strrchr(x->va.url, ':');
    char port[16];
    snprintf(port, sizeof(port), "%s", colon != NULL ? colon + 1 : "0");
    vmt_stop(&x->va);
    x->va_up = 0;
    if (cc_write_identities(x, 0) != 0 || cc_start_va(x, port) != 0) {
        cc_fail(c, "could not restart the vault without the grant on port %s", port);
        eng_store_close(s);
        eng_kek_provider_free(p);
        return;
    }
    double t0 = cc_now_s();
    cc_ev(c,
          "vault restarted on the same port with the grant removed from the identities file; "
          "time counted from its ready line (while it restarted, the store saw transient "
          "errors, tolerated within the grace period)");
    judge_refusal(x, c, s, t0, "the revocation");
    eng_store_close(s);
    expect_open_fails(x, c, dir, p, ENG_ERR_KEK_FORBIDDEN, "without the grant");
    vmt_stop(&x->va);
    x->va_up = 0;
    if (cc_write_identities(x, 1) != 0 || cc_start_va(x, port) != 0) {
        cc_fail(c, "could not restart the vault with the grant restored");
    } else {
        reopen_intact(x, c, dir, p, "grant restored (revocation is access control, not loss)");
    }
    eng_kek_provider_free(p);
}

void ctl_recover(struct ctx *x, struct comp_control *c)
{
    struct eng_kek_provider *p = NULL;
    char dir[300], ver[64];
    struct eng_store *s = cc_store_with_data(x, c, &x->va, "dbservice", "rec-kek", ENG_MODE_GCM, &p,
                                             dir, sizeof(dir), ver);
    if (s == NULL) {
        eng_kek_provider_free(p);
        return;
    }
    eng_store_close(s);
    long st = call(&x->va, "keyofficer", "DELETE", "/keys/rec-kek" API, NULL, NULL);
    cc_ev(c, "keyofficer DELETE /keys/rec-kek: %ld (soft delete)", st);
    expect_open_fails(x, c, dir, p, ENG_ERR_KEK_NOT_FOUND, "after the soft delete");
    st = call(&x->va, "keyofficer", "POST", "/deletedkeys/rec-kek/recover" API, NULL, NULL);
    cc_ev(c, "keyofficer POST /deletedkeys/rec-kek/recover: %ld", st);
    if (reopen_intact(x, c, dir, p, "after recover")) {
        snprintf(c->measured, sizeof(c->measured),
                 "8 of 8 canary units identical after delete + recover");
        comp_control_set(c, COMP_VERDICT_PASS, "access restored by recover, data unchanged");
    } else {
        snprintf(c->measured, sizeof(c->measured), "not readable after recover");
    }
    eng_kek_provider_free(p);
}

void ctl_purge(struct ctx *x, struct comp_control *c)
{
    /* Vault A keeps purge protection on: a purge there must be refused. */
    char v0[64];
    if (vmt_create_key(&x->va, "prot-kek", 2048, NULL, v0) == 200) {
        call(&x->va, "keyofficer", "DELETE", "/keys/prot-kek" API, NULL, NULL);
        long st = call(&x->va, "keyofficer", "DELETE", "/deletedkeys/prot-kek" API, NULL, NULL);
        cc_ev(c, "vault with purge protection on: purge of a deleted key answered %ld", st);
        if (st != 403) {
            cc_fail(c, "purge protection did not refuse the purge (%ld)", st);
        }
    }
    struct eng_kek_provider *p = NULL;
    char dir[300], ver[64], backup[320], restored[320];
    struct eng_store *s = cc_store_with_data(x, c, &x->vb, "dbservice", "pur-kek", ENG_MODE_GCM, &p,
                                             dir, sizeof(dir), ver);
    if (s == NULL) {
        eng_kek_provider_free(p);
        return;
    }
    cc_ev(c, "second vault started with --purge-protection off for this control");
    snprintf(backup, sizeof(backup), "%s/pur.backup", x->work);
    snprintf(restored, sizeof(restored), "%s/pur-restored", x->work);
    if (eng_store_backup(s, backup) != 0 || eng_backup_verify(backup, p) != 0) {
        cc_fail(c, "backup before the purge failed: %s", cc_ename());
    } else {
        cc_ev(c, "backup %s made and verified before the purge", backup);
    }
    eng_store_close(s);
    long del = call(&x->vb, "keyofficer", "DELETE", "/keys/pur-kek" API, NULL, NULL);
    long pur = call(&x->vb, "keyofficer", "DELETE", "/deletedkeys/pur-kek" API, NULL, NULL);
    cc_ev(c, "keyofficer DELETE /keys/pur-kek: %ld; DELETE /deletedkeys/pur-kek (purge): %ld", del,
          pur);
    if (pur != 200 && pur != 204) {
        cc_fail(c, "the purge was not accepted (%ld)", pur);
    }
    long rec = call(&x->vb, "keyofficer", "POST", "/deletedkeys/pur-kek/recover" API, NULL, NULL);
    cc_ev(c, "recover after the purge: %ld", rec);
    if (rec != 404) {
        cc_fail(c, "recover after purge answered %ld, expected 404", rec);
    }
    expect_open_fails(x, c, dir, p, ENG_ERR_KEK_NOT_FOUND, "after the purge");
    eng_clear_error();
    int vr = eng_backup_verify(backup, p);
    int rr = vr == 0 ? -1 : eng_store_restore(backup, restored, p, NULL);
    int rerr = eng_errno();
    if (vr == 0 || rr == 0) {
        cc_fail(c, "the pre-purge backup still verifies or restores");
    } else {
        cc_ev(c, "pre-purge backup: verify and restore refused (%s); nothing created at %s",
              eng_error_name(rerr), restored);
    }
    char v2[64];
    long cr = vmt_create_key(&x->vb, "pur-kek", 2048, NULL, v2);
    expect_open_fails(x, c, dir, p, ENG_ERR_KEK_NOT_FOUND, "with a new key of the same name");
    cc_ev(c, "a new key named pur-kek (%ld, version %s) does not bring the data back", cr, v2);
    if (c->verdict != COMP_VERDICT_FAIL) {
        snprintf(c->measured, sizeof(c->measured),
                 "store, backup and recover all refused after the purge");
        comp_control_set(c, COMP_VERDICT_PASS, "purge is permanent, backups included");
    }
    eng_kek_provider_free(p);
}

/* ---- CMK-ROT: rotation ---------------------------------------------------------------------- */

void ctl_rotate(struct ctx *x, struct comp_control *c)
{
    struct eng_kek_provider *p = NULL;
    char dir[300], v1[64], v2[64] = "", path[330];
    struct eng_store *s = cc_store_with_data(x, c, &x->va, "dbservice", "rot-kek", ENG_MODE_GCM, &p,
                                             dir, sizeof(dir), v1);
    if (s == NULL) {
        eng_kek_provider_free(p);
        return;
    }
    struct vmt_resp r;
    long st = call(&x->va, "keyofficer", "POST", "/keys/rot-kek/rotate" API, NULL, &r);
    key_version_of(&r, v2, sizeof(v2));
    vmt_resp_free(&r);
    cc_ev(c, "keyofficer POST /keys/rot-kek/rotate: %ld, new version %s", st, v2);
    /* a new wrap (re-keying extent 1) picks the new version by itself */
    struct eng_store_info info;
    if (eng_store_rekey_extent(s, 1) != 0 || eng_store_get_info(s, &info) != 0) {
        cc_fail(c, "re-keying an extent after the rotation failed: %s", cc_ename());
    }
    for (uint32_t i = 0; c->verdict != COMP_VERDICT_FAIL && i < info.num_records; i++) {
        struct eng_store_dek d;
        if (eng_store_dek_info(s, i, &d) == 0 && d.active && d.extent == 1) {
            cc_ev(c, "new DEK of extent 1 wrapped under version %s", d.kek.version);
            if (strcmp(d.kek.version, v2) != 0) {
                cc_fail(c, "a wrap after the rotation used version %s, not %s", d.kek.version, v2);
            }
        }
    }
    eng_store_sync(s);
    snprintf(path, sizeof(path), "%s/data", dir);
    size_t before_len = 0, after_len = 0;
    char *before = vmt_read_file(path, &before_len);
    if (eng_store_rotate_kek(s) != 0 || eng_store_get_info(s, &info) != 0) {
        cc_fail(c, "eng_store_rotate_kek: %s", cc_ename());
    }
    unsigned on_v2 = 0, active = 0;
    for (uint32_t i = 0; i < info.num_records; i++) {
        struct eng_store_dek d;
        if (eng_store_dek_info(s, i, &d) == 0 && d.active) {
            active++;
            on_v2 += strcmp(d.kek.version, v2) == 0;
        }
    }
    cc_ev(c, "after eng_store_rotate_kek: %u of %u active DEKs wrapped under %s", on_v2, active,
          v2);
    if (on_v2 != active) {
        cc_fail(c, "%u active DEKs are still wrapped under the old version", active - on_v2);
    }
    eng_store_close(s);
    char *after = vmt_read_file(path, &after_len);
    int same = before != NULL && after != NULL && before_len == after_len &&
               memcmp(before, after, before_len) == 0;
    cc_ev(c, "data file %zu bytes before, %zu after the rewrap: %s", before_len, after_len,
          same ? "byte-identical (no re-encryption)" : "DIFFERENT");
    if (!same) {
        cc_fail(c, "the rewrap changed the data file");
    }
    free(before);
    free(after);
    char vpath[160];
    snprintf(vpath, sizeof(vpath), "/keys/rot-kek/%s" API, v1);
    st = call(&x->va, "keyofficer", "PATCH", vpath, "{\"attributes\":{\"enabled\":false}}", NULL);
    cc_ev(c, "old version %s disabled: %ld", v1, st);
    reopen_intact(x, c, dir, p, "with the old version disabled");
    snprintf(c->measured, sizeof(c->measured), "%u/%u DEKs on the new version; data file %s", on_v2,
             active, same ? "unchanged" : "changed");
    if (c->verdict != COMP_VERDICT_FAIL) {
        comp_control_set(c, COMP_VERDICT_PASS,
                         "rotation rewraps only, data readable, old version can be disabled");
    }
    eng_kek_provider_free(p);
}

/* ---- CMK-SOD: least privilege, separation of duties
 * ----------------------------------------------- */

struct probe {
    const char *op, *method, *path, *body;
};

void ctl_least_privilege(struct ctx *x, struct comp_control *c)
{
    char ver[64];
    if (vmt_create_key(&x->va, "lp-kek", 2048, NULL, ver) != 200) {
        cc_fail(c, "cannot create lp-kek");
        return;
    }
    uint8_t dek[32];
    char dek64[64], body[1024];
    RAND_bytes(dek, sizeof(dek));
    b64url(dek, sizeof(dek), dek64, sizeof(dek64));
    unsigned allowed_ok = 0;
    long st = call(&x->va, "dbservice", "GET", "/keys/lp-kek" API, NULL, NULL);
    allowed_ok += st == 200;
    cc_ev(c, "dbservice get: %ld", st);
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", dek64);
    struct vmt_resp r;
    st = call(&x->va, "dbservice", "POST", "/keys/lp-kek/wrapkey" API, body, &r);
    allowed_ok += st == 200;
    cc_ev(c, "dbservice wrapkey: %ld", st);
    const char *wrapped = vmt_str(&r, "value");
    char wbody[1400];
    snprintf(wbody, sizeof(wbody), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}",
             wrapped != NULL ? wrapped : "");
    vmt_resp_free(&r);
    st = call(&x->va, "dbservice", "POST", "/keys/lp-kek/unwrapkey" API, wbody, &r);
    const char *back = vmt_str(&r, "value");
    int same = back != NULL && strcmp(back, dek64) == 0;
    allowed_ok += st == 200 && same;
    cc_ev(c, "dbservice unwrapkey: %ld (%s)", st, same ? "the DEK came back" : "wrong DEK");
    vmt_resp_free(&r);
    const struct probe probes[] = {
        {"create", "POST", "/keys/lp-new/create" API, "{\"kty\":\"RSA\",\"key_size\":2048}"},
        {"import", "PUT", "/keys/lp-imp" API,
         "{\"key\":{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}}"},
        {"update", "PATCH", "/keys/lp-kek/" API, "{\"attributes\":{\"enabled\":false}}"},
        {"list", "GET", "/keys" API, NULL},
        {"listversions", "GET", "/keys/lp-kek/versions" API, NULL},
        {"rotate", "POST", "/keys/lp-kek/rotate" API, NULL},
        {"delete", "DELETE", "/keys/lp-kek" API, NULL},
        {"listdeleted", "GET", "/deletedkeys" API, NULL},
        {"recover", "POST", "/deletedkeys/lp-kek/recover" API, NULL},
        {"purge", "DELETE", "/deletedkeys/lp-kek" API, NULL},
        {"encrypt", "POST", "/keys/lp-kek/encrypt" API, body},
        {"decrypt", "POST", "/keys/lp-kek/decrypt" API, wbody},
        {"sign", "POST", "/keys/lp-kek/sign" API, NULL},
        {"verify", "POST", "/keys/lp-kek/verify" API, NULL},
    };
    char sbody[256], vbody[512];
    snprintf(sbody, sizeof(sbody), "{\"alg\":\"RS256\",\"value\":\"%s\"}", dek64);
    snprintf(vbody, sizeof(vbody), "{\"alg\":\"RS256\",\"digest\":\"%s\",\"value\":\"%s\"}", dek64,
             dek64);
    unsigned refused = 0, n = sizeof(probes) / sizeof(probes[0]);
    char line[1024] = "";
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) {
        const char *b = probes[i].body;
        if (strcmp(probes[i].op, "sign") == 0) {
            b = sbody;
        } else if (strcmp(probes[i].op, "verify") == 0) {
            b = vbody;
        }
        struct vmt_resp pr;
        st = call(&x->va, "dbservice", probes[i].method, probes[i].path, b, &pr);
        int forbidden = st == 403 && strcmp(vmt_inner_code(&pr), "ForbiddenByPolicy") == 0;
        vmt_resp_free(&pr);
        refused += forbidden;
        int k =
            snprintf(line + len, sizeof(line) - len, "%s%s %ld", len ? ", " : "", probes[i].op, st);
        len += k > 0 && (size_t)k < sizeof(line) - len ? (size_t)k : 0;
        if (!forbidden) {
            cc_fail(c, "dbservice %s answered %ld, not 403 ForbiddenByPolicy", probes[i].op, st);
        }
    }
    cc_ev(c, "dbservice, everything else: %s", line);
    snprintf(c->measured, sizeof(c->measured),
             "3/3 allowed operations succeeded: %s; %u/%u others refused with 403",
             allowed_ok == 3 ? "yes" : "no", refused, n);
    if (allowed_ok != 3) {
        cc_fail(c, "get, wrapKey or unwrapKey did not work for dbservice");
    }
    if (c->verdict != COMP_VERDICT_FAIL) {
        comp_control_set(c, COMP_VERDICT_PASS,
                         "dbservice holds exactly get, wrapKey, unwrapKey; %u other operations "
                         "refused (403 ForbiddenByPolicy)",
                         n);
    }
}

void ctl_separation(struct ctx *x, struct comp_control *c)
{
    /* (a) an officer identity that manages keys without any cryptographic permission */
    char ver[64];
    struct vmt_resp r;
    long cr = call(&x->va, "secofficer", "POST", "/keys/sod-kek/create" API,
                   "{\"kty\":\"RSA\",\"key_size\":2048}", &r);
    key_version_of(&r, ver, sizeof(ver));
    vmt_resp_free(&r);
    long rot = call(&x->va, "secofficer", "POST", "/keys/sod-kek/rotate" API, NULL, NULL);
    long dis = call(&x->va, "secofficer", "PATCH", "/keys/sod-kek/" API,
                    "{\"attributes\":{\"enabled\":true}}", NULL);
    cc_ev(c,
          "secofficer (create, get, list, update, delete, recover, purge, rotate): create %ld, "
          "rotate %ld, update %ld",
          cr, rot, dis);
    if (cr != 200 || rot != 200 || dis != 200) {
        cc_fail(c, "the key officer cannot manage the key");
    }
    uint8_t dek[32];
    char dek64[64], body[256];
    RAND_bytes(dek, sizeof(dek));
    b64url(dek, sizeof(dek), dek64, sizeof(dek64));
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", dek64);
    long w = call(&x->va, "secofficer", "POST", "/keys/sod-kek/wrapkey" API, body, NULL);
    long u = call(&x->va, "secofficer", "POST", "/keys/sod-kek/unwrapkey" API, body, NULL);
    long d = call(&x->va, "secofficer", "POST", "/keys/sod-kek/decrypt" API, body, NULL);
    cc_ev(c,
          "secofficer wrapkey %ld, unwrapkey %ld, decrypt %ld: the vault itself keeps it from "
          "any DEK",
          w, u, d);
    if (w != 403 || u != 403 || d != 403) {
        cc_fail(c, "the key officer may use the key for cryptography");
    }
    /* (b) the store's files: owner-only, and no credential of any identity in them */
    struct eng_kek_provider *p = NULL;
    char dir[300];
    struct eng_store *s = cc_store_with_data(x, c, &x->va, "dbservice", "sod2-kek", ENG_MODE_XTS,
                                             &p, dir, sizeof(dir), ver);
    if (s != NULL) {
        eng_store_sync(s);
        struct stat st;
        int dir_ok = stat(dir, &st) == 0 && (st.st_mode & 077) == 0;
        const char *needles[6];
        size_t lens[6];
        for (int i = 0; i < 6; i++) {
            needles[i] = x->tok[i];
            lens[i] = strlen(x->tok[i]);
        }
        struct scan sc = {.needles = needles, .needle_lens = lens, .num_needles = 6};
        cc_for_files(dir, cc_scan_file, &sc);
        cc_ev(c,
              "store folder mode %03o; %lu files, %lu with group/other access; %lu bytes "
              "scanned for the 6 bearer tokens: %lu hits",
              (unsigned)(st.st_mode & 0777), sc.files, sc.loose_modes, sc.bytes, sc.hits);
        if (!dir_ok || sc.loose_modes > 0) {
            cc_fail(c, "the store's files are open to other users");
        }
        if (sc.hits > 0) {
            cc_fail(c, "a credential was found in %s", sc.where);
        }
        eng_store_close(s);
    }
    eng_kek_provider_free(p);
    /* (c) who wrapped and unwrapped, per the audit log */
    size_t len = 0;
    char *audit = vmt_read_file(x->va.audit, &len);
    unsigned long by_service = 0, by_officers = 0, other = 0;
    for (char *save = NULL, *line = audit ? strtok_r(audit, "\n", &save) : NULL; line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(j, "operation"));
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(j, "identity"));
        double status = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "status"));
        if (op != NULL && id != NULL && status == 200 &&
            (strcmp(op, "wrapkey") == 0 || strcmp(op, "unwrapkey") == 0)) {
            if (strcmp(id, "dbservice") == 0 || strcmp(id, "app") == 0) {
                by_service++;
            } else if (strcmp(id, "keyofficer") == 0 || strcmp(id, "secofficer") == 0) {
                by_officers++;
            } else {
                other++;
            }
        }
        cJSON_Delete(j);
    }
    free(audit);
    cc_ev(c,
          "audit log so far: %lu successful wrapkey/unwrapkey by the service identities, %lu by "
          "key officers, %lu by others",
          by_service, by_officers, other);
    if (by_officers + other > 0) {
        cc_fail(c, "a key officer (or another identity) wrapped or unwrapped a DEK");
    }
    snprintf(c->measured, sizeof(c->measured),
             "officer crypto refused (%ld/%ld/%ld); %lu service vs %lu officer DEK operations", w,
             u, d, by_service, by_officers);
    if (c->verdict != COMP_VERDICT_FAIL) {
        comp_control_set(
            c, COMP_VERDICT_PASS,
            "shown: the officer role manages keys but is refused wrap/unwrap/decrypt by the vault; "
            "store files are owner-only and hold no credential; every DEK wrap/unwrap came from "
            "the "
            "service. Not shown (cannot be, from the audit): request bodies; the vault sees a "
            "plaintext DEK only inside the service's wrapkey requests by construction of "
            "eng_vault. "
            "The default vault-mock 'keyofficer' has 'all' (unwrapKey too): there, separation "
            "rests "
            "on file permissions alone");
    }
}

/* ---- CMK-AUD: audit completeness --------------------------------------------------------------
 */

void ctl_audit(struct ctx *x, struct comp_control *c)
{
    struct eng_kek_provider *p = NULL;
    char dir[300], ver[64];
    struct eng_store *s = cc_store_with_data(x, c, &x->va, "dbservice", "aud-kek", ENG_MODE_XTS, &p,
                                             dir, sizeof(dir), ver);
    if (s == NULL) {
        eng_kek_provider_free(p);
        return;
    }
    eng_store_close(s);
    s = cc_reopen(x, dir, p);
    if (s == NULL || eng_store_revalidate(s) != 0 || eng_store_rekey_extent(s, 0) != 0) {
        cc_fail(c, "store operations failed: %s", cc_ename());
    }
    eng_store_close(s);
    struct eng_kek_stats st;
    eng_kek_stats(p, &st);
    eng_kek_provider_free(p);
    size_t len = 0;
    char *audit = vmt_read_file(x->va.audit, &len);
    unsigned long n[3] = {0}, complete = 0, lines = 0;
    static const char *const ops[3] = {"get", "wrapkey", "unwrapkey"};
    for (char *save = NULL, *line = audit ? strtok_r(audit, "\n", &save) : NULL; line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(j, "operation"));
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(j, "identity"));
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItem(j, "key"));
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(j, "version"));
        cJSON *status = cJSON_GetObjectItem(j, "status");
        if (op != NULL && id != NULL && key != NULL && strcmp(id, "dbservice") == 0 &&
            strcmp(key, "aud-kek") == 0) {
            for (int i = 0; i < 3; i++) {
                if (strcmp(op, ops[i]) == 0) {
                    n[i]++;
                    lines++;
                    /* a get without a version names the key; wrap and unwrap must name the version
                     */
                    complete += cJSON_IsNumber(status) && (i == 0 || (v != NULL && v[0] != '\0'));
                }
            }
        }
        cJSON_Delete(j);
    }
    free(audit);
    cc_ev(c, "eng_kek_stats: %llu get, %llu wrap, %llu unwrap (%llu requests, %llu retries)",
          (unsigned long long)st.gets, (unsigned long long)st.wraps, (unsigned long long)st.unwraps,
          (unsigned long long)st.requests, (unsigned long long)st.retries);
    cc_ev(c,
          "audit.jsonl, identity dbservice, key aud-kek: %lu get, %lu wrapkey, %lu unwrapkey; "
          "%lu of %lu lines carry identity, key version (wrap/unwrap) and status",
          n[0], n[1], n[2], complete, lines);
    snprintf(c->measured, sizeof(c->measured),
             "engine %llu/%llu/%llu vs audit %lu/%lu/%lu (get/wrap/unwrap)",
             (unsigned long long)st.gets, (unsigned long long)st.wraps,
             (unsigned long long)st.unwraps, n[0], n[1], n[2]);
    if (n[0] != st.gets || n[1] != st.wraps || n[2] != st.unwraps) {
        cc_fail(c, "the audit log and the engine's counters disagree");
    } else if (complete != lines || st.wraps == 0 || st.unwraps == 0) {
        cc_fail(c, "audit lines lack identity, version or status (or nothing was wrapped)");
    } else {
        comp_control_set(c, COMP_VERDICT_PASS,
                         "every get, wrap and unwrap the engine sent is audited");
    }
}
