/*
 * comp_ctl_data.c - the controls on the data's side: nothing in plaintext at rest and only
 * wrapped DEKs in the key table (CMK-COV), the KEK policy (CMK-POL), integrity against
 * tampering with the data file (CMK-INT).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comp_ctl_internal.h"

/* ---- CMK-COV: nothing in plaintext at rest
 * ------------------------------------------------------- */

void ctl_coverage(struct ctx *x, struct comp_control *c)
{
    static const char needle[] = "CMK-CANARY-";
    const char *needles[1] = {needle};
    size_t lens[1] = {sizeof(needle) - 1};
    uint8_t probe[UNIT];
    cc_canary(probe, sizeof(probe), 1);
    if (memmem(probe, sizeof(probe), needle, lens[0]) == NULL) {
        cc_fail(c, "the scanner cannot see the canary in plaintext");
        return;
    }
    cc_ev(c, "scanner check: the pattern \"%s\" is found in a plaintext canary buffer", needle);
    struct eng_kek_provider *p = NULL;
    char dir[300], dir2[300], ver[64], backup[330];
    struct eng_store *s = cc_store_with_data(x, c, &x->va, "dbservice", "cov-kek", ENG_MODE_XTS, &p,
                                             dir, sizeof(dir), ver);
    struct eng_store *g = p != NULL ? cc_new_store(x, p, ENG_MODE_GCM, dir2, sizeof(dir2)) : NULL;
    uint8_t *data = cc_canary_units(0, UNITS);
    if (s == NULL || g == NULL || data == NULL || eng_store_write(s, 0, UNITS, data) != 0 ||
        eng_store_write(g, 0, UNITS, data) != 0) {
        cc_fail(c, "store setup failed: %s", cc_ename());
    } else {
        cc_ev(c, "%u canary units (%u bytes) written to an XTS store and a GCM store", UNITS,
              UNITS * UNIT);
    }
    snprintf(backup, sizeof(backup), "%s/cov.backup", x->work);
    if (s != NULL && eng_store_backup(s, backup) != 0) {
        cc_fail(c, "backup failed: %s", cc_ename());
    }
    struct eng_tmpfile *t = eng_tmpfile_new(x->work);
    unsigned long tmp_hits = 0, tmp_bytes = 0;
    if (t == NULL || eng_tmpfile_write(t, data, UNITS * UNIT) != 0) {
        cc_fail(c, "temporary file failed: %s", cc_ename());
    } else {
        uint8_t *raw = malloc(2 * UNITS * UNIT);
        ssize_t got = raw != NULL ? pread(eng_tmpfile_fd(t), raw, 2 * UNITS * UNIT, 0) : -1;
        for (ssize_t i = 0; got > 0 && (size_t)i + lens[0] <= (size_t)got; i++) {
            tmp_hits += memcmp(raw + i, needle, lens[0]) == 0;
        }
        tmp_bytes = got > 0 ? (unsigned long)got : 0;
        free(raw);
        uint8_t back[64];
        if (eng_tmpfile_read(t, 100, back, sizeof(back)) != 0 ||
            memcmp(back, data + 100, 64) != 0) {
            cc_fail(c, "the temporary file does not read back");
        }
    }
    eng_tmpfile_free(t);
    eng_store_close(s);
    eng_store_close(g);
    eng_kek_provider_free(p);
    free(data);
    struct scan sc = {.needles = needles, .needle_lens = lens, .num_needles = 1};
    cc_for_files(dir, cc_scan_file, &sc);
    cc_for_files(dir2, cc_scan_file, &sc);
    cc_scan_file(backup, &sc);
    struct scan vault = {.needles = needles, .needle_lens = lens, .num_needles = 1};
    cc_for_files(x->va.state, cc_scan_file, &vault);
    cc_ev(c,
          "data, tags, key tables, lock files of both stores and the backup: %lu files, %lu "
          "bytes, %lu canary hits",
          sc.files, sc.bytes, sc.hits);
    cc_ev(c, "temporary file (O_TMPFILE, read raw through its descriptor): %lu bytes, %lu hits",
          tmp_bytes, tmp_hits);
    cc_ev(c, "vault-mock state folder (keys, audit): %lu files, %lu bytes, %lu hits", vault.files,
          vault.bytes, vault.hits);
    snprintf(c->measured, sizeof(c->measured), "%lu canary hits in %lu bytes on disk",
             sc.hits + tmp_hits + vault.hits, sc.bytes + tmp_bytes + vault.bytes);
    if (sc.hits + tmp_hits + vault.hits > 0) {
        cc_fail(c, "plaintext found at rest (%s)",
                sc.where[0] ? sc.where : "temporary file or vault");
    } else if (sc.files < 5 || tmp_bytes < UNITS * UNIT) {
        cc_fail(c, "too little was scanned to conclude");
    } else if (c->verdict != COMP_VERDICT_FAIL) {
        comp_control_set(c, COMP_VERDICT_PASS,
                         "data, backups and temporary files hold no plaintext");
    }
}

void ctl_keytable(struct ctx *x, struct comp_control *c)
{
    struct eng_kek_provider *p = NULL;
    char dir[300], ver[64], path[330];
    struct eng_store *s = cc_store_with_data(x, c, &x->va, "dbservice", "kt-kek", ENG_MODE_XTS, &p,
                                             dir, sizeof(dir), ver);
    if (s == NULL) {
        eng_kek_provider_free(p);
        return;
    }
    struct eng_store_info info;
    eng_store_get_info(s, &info);
    unsigned ok = 0;
    for (uint32_t i = 0; i < info.num_records; i++) {
        struct eng_store_dek d;
        if (eng_store_dek_info(s, i, &d) == 0 && d.wrapped_len == 256 &&
            strcmp(d.kek.provider, "vault") == 0 && strcmp(d.kek.alg, "RSA-OAEP-256") == 0) {
            ok++;
        }
    }
    cc_ev(c,
          "%u of %u key-table records hold a 256-byte RSA-OAEP-256 blob from the vault provider "
          "(a plaintext XTS DEK is 64 bytes)",
          ok, info.num_records);
    eng_store_close(s);
    snprintf(path, sizeof(path), "%s/keytable", dir);
    size_t size = 0;
    long hits = cc_count_in_file(path, "CMK-CANARY-", 11, &size);
    cc_ev(c, "keytable file %zu bytes, %ld canary hits", size, hits);
    /* the local files alone must not open the store: the vault refuses every unwrap */
    long f = vmt_set_faults(
        &x->va, "{\"faults\":[{\"op\":\"unwrapkey\",\"error_rate\":1,\"status\":503}]}");
    eng_clear_error();
    s = cc_reopen(x, dir, p);
    int err = eng_errno();
    cc_ev(c, "with the vault failing every unwrapkey (fault injection %ld): open %s (%s)", f,
          s == NULL ? "refused" : "SUCCEEDED", eng_error_name(err));
    int local_only_fails = s == NULL;
    eng_store_close(s);
    (void)vmt_set_faults(&x->va, NULL);
    s = cc_reopen(x, dir, p);
    int reopened = s != NULL && cc_data_intact(s);
    eng_store_close(s);
    cc_ev(c, "faults removed: reopened %s", reopened ? "and read back" : "FAILED");
    eng_kek_provider_free(p);
    snprintf(c->measured, sizeof(c->measured),
             "%u/%u records wrapped (256 B); open without the vault's unwrap: %s", ok,
             info.num_records, local_only_fails ? "refused" : "succeeded");
    if (ok != info.num_records || hits != 0 || !local_only_fails || !reopened || f != 200) {
        cc_fail(c, "the key table does not hold only wrapped DEKs (or the check could not run)");
    } else {
        comp_control_set(
            c, COMP_VERDICT_PASS,
            "the key table holds wrapped DEKs only: DEK bytes cannot be read through the "
            "public API, so shown indirectly (record sizes, no plaintext, and the store "
            "cannot open from its files without the vault's unwrap)");
    }
}

/* ---- CMK-POL: KEK policy --------------------------------------------------------------------- */

void ctl_rsa_size(struct ctx *x, struct comp_control *c)
{
    char v[64];
    long weak = vmt_create_key(&x->va, "weak-kek", 1024, NULL, v);
    long ok2 = vmt_create_key(&x->va, "k2048", 2048, NULL, v);
    long ok3 = vmt_create_key(&x->va, "k3072", 3072, NULL, v);
    long ok4 = vmt_create_key(&x->va, "k4096", 4096, NULL, v);
    cc_ev(c, "create RSA 1024: %ld; 2048: %ld; 3072: %ld; 4096: %ld", weak, ok2, ok3, ok4);
    snprintf(c->measured, sizeof(c->measured), "RSA-1024 create answered %ld", weak);
    if (weak != 400) {
        cc_fail(c, "an RSA-1024 key was not refused with 400");
    } else if (ok2 != 200 || ok3 != 200 || ok4 != 200) {
        cc_fail(c, "a supported size was refused");
    } else {
        comp_control_set(c, COMP_VERDICT_PASS, "below 2048 bits refused, 2048/3072/4096 accepted");
    }
}

void ctl_rsa15(struct ctx *x, struct comp_control *c)
{
    eng_clear_error();
    struct eng_kek_provider *p = cc_provider(&x->va, "dbservice", "k2048", "RSA1_5");
    int err = eng_errno();
    cc_ev(c, "eng_vault_open(alg = \"RSA1_5\"): %s, %s", p == NULL ? "NULL" : "a provider",
          eng_error_name(err));
    snprintf(c->measured, sizeof(c->measured), "eng_vault_open with RSA1_5: %s",
             p == NULL ? eng_error_name(err) : "accepted");
    if (p != NULL || err != ENG_ERR_ARG) {
        cc_fail(c, "RSA1_5 was not refused with ENG_ERR_ARG");
    } else {
        comp_control_set(c, COMP_VERDICT_PASS, "the engine refuses RSA1_5 for wrapping");
    }
    eng_kek_provider_free(p);
}

void ctl_oaep256(struct ctx *x, struct comp_control *c)
{
    struct eng_kek_provider *p = cc_provider(&x->va, "dbservice", "k2048", NULL);
    struct eng_kek_ref ref;
    if (p == NULL || eng_kek_describe(p, NULL, &ref) != 0) {
        cc_fail(c, "no provider: %s", cc_ename());
        eng_kek_provider_free(p);
        return;
    }
    cc_ev(c, "eng_vault_open without alg: eng_kek_describe says alg %s", ref.alg);
    char dir[300];
    struct eng_store *s = cc_new_store(x, p, ENG_MODE_GCM, dir, sizeof(dir));
    unsigned n = 0, oaep = 0;
    if (s != NULL) {
        struct eng_store_info info;
        eng_store_get_info(s, &info);
        for (uint32_t i = 0; i < info.num_records; i++) {
            struct eng_store_dek d;
            n += eng_store_dek_info(s, i, &d) == 0;
            oaep += strcmp(d.kek.alg, "RSA-OAEP-256") == 0;
        }
        eng_store_close(s);
    }
    cc_ev(c,
          "a store created with it: %u of %u DEK records say RSA-OAEP-256 (the alg sent in each "
          "wrapkey request; the vault's audit line does not carry the algorithm)",
          oaep, n);
    snprintf(c->measured, sizeof(c->measured), "default alg %s; %u/%u records RSA-OAEP-256",
             ref.alg, oaep, n);
    if (strcmp(ref.alg, "RSA-OAEP-256") != 0 || n == 0 || oaep != n) {
        cc_fail(c, "the default wrap algorithm is not RSA-OAEP-256");
    } else {
        comp_control_set(c, COMP_VERDICT_PASS, "RSA-OAEP-256 is the default");
    }
    eng_kek_provider_free(p);
}

/* ---- CMK-INT: integrity -----------------------------------------------------------------------
 */

/* Flips one bit in unit 5 of the data file; returns the file offset or -1. */
static long flip_unit5(struct eng_store *s, const char *dir)
{
    struct eng_store_info info;
    eng_store_get_info(s, &info);
    long slot = -1;
    for (uint32_t i = 0; i < info.num_records; i++) {
        struct eng_store_dek d;
        if (eng_store_dek_info(s, i, &d) == 0 && d.active && d.extent == 0) {
            slot = d.slot;
        }
    }
    if (slot < 0) {
        return -1;
    }
    long off = slot * (long)EXTENT_UNITS * UNIT + 5L * UNIT + 100;
    char path[330];
    snprintf(path, sizeof(path), "%s/data", dir);
    int fd = open(path, O_RDWR);
    uint8_t b;
    int ok = fd >= 0 && pread(fd, &b, 1, off) == 1;
    b ^= 0x04;
    ok = ok && pwrite(fd, &b, 1, off) == 1;
    if (fd >= 0) {
        close(fd);
    }
    return ok ? off : -1;
}

static void ctl_integrity(struct ctx *x, struct comp_control *c, enum eng_mode mode)
{
    struct eng_kek_provider *p = NULL;
    char dir[300], ver[64];
    struct eng_store *s =
        cc_store_with_data(x, c, &x->va, "dbservice", mode == ENG_MODE_GCM ? "gcm-kek" : "xts-kek",
                           mode, &p, dir, sizeof(dir), ver);
    if (s == NULL) {
        eng_kek_provider_free(p);
        return;
    }
    eng_store_sync(s);
    long off = flip_unit5(s, dir);
    eng_store_close(s);
    s = cc_reopen(x, dir, p);
    uint8_t got[UNIT], want[UNIT];
    cc_canary(want, sizeof(want), 5);
    eng_clear_error();
    int rc = s != NULL ? eng_store_read(s, 5, 1, got) : -1;
    int err = eng_errno();
    size_t diff = 0, zero = 0;
    for (size_t i = 0; i < UNIT; i++) {
        diff += got[i] != want[i];
        zero += got[i] == 0;
    }
    uint8_t other[UNIT];
    int others_ok = s != NULL && eng_store_read(s, 4, 1, other) == 0;
    eng_store_close(s);
    eng_kek_provider_free(p);
    cc_ev(c, "one bit flipped at byte %ld of the data file (unit 5)", off);
    if (off < 0) {
        cc_fail(c, "could not tamper with the data file");
        return;
    }
    if (mode == ENG_MODE_GCM) {
        cc_ev(c, "read of unit 5: %s; output %zu of %u bytes zero; unit 4 still reads: %s",
              rc == 0 ? "accepted" : eng_error_name(err), zero, UNIT, others_ok ? "yes" : "no");
        snprintf(c->measured, sizeof(c->measured), "tampered unit read: %s",
                 rc == 0 ? "accepted" : eng_error_name(err));
        if (rc == 0 || err != ENG_ERR_AUTH || zero != UNIT || !others_ok) {
            cc_fail(c, "GCM tampering was not refused with ENG_ERR_AUTH and a zeroed output");
        } else {
            comp_control_set(c, COMP_VERDICT_PASS, "GCM detects the flipped bit (ENG_ERR_AUTH)");
        }
    } else {
        cc_ev(c, "read of unit 5: %s; %zu of %u plaintext bytes differ from what was written",
              rc == 0 ? "accepted" : eng_error_name(err), diff, UNIT);
        snprintf(c->measured, sizeof(c->measured), "tampered unit read %s, %zu bytes garbled",
                 rc == 0 ? "accepted" : "refused", diff);
        comp_control_set(
            c, COMP_VERDICT_NOT_APPLICABLE,
            "FINDING: XTS is length-preserving and unauthenticated by design (IEEE "
            "1619): the flipped bit went undetected and garbled %zu bytes (one 16-byte "
            "block) of the unit. Confidentiality holds; integrity needs GCM stores",
            diff);
    }
}

void ctl_gcm_tamper(struct ctx *x, struct comp_control *c)
{
    ctl_integrity(x, c, ENG_MODE_GCM);
}

void ctl_xts_tamper(struct ctx *x, struct comp_control *c)
{
    ctl_integrity(x, c, ENG_MODE_XTS);
}
