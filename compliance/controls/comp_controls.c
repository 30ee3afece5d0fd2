/*
 * comp_controls.c - the key-lifecycle control suite (see comp_controls.h): the
 * catalogue and the runner. The controls are in comp_ctl_lifecycle.c,
 * comp_ctl_data.c and comp_ctl_perf.c, their helpers in comp_ctl_util.c.
 *
 * Every control builds what it needs (a key in the vault, a store in its
 * own folder) so that any subset runs on its own (--only). Evidence is
 * what was observed, in words a reader can check against the audit log
 * and the files; the verdict follows from it and nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comp_ctl_internal.h"

/* ---- the catalogue -----------------------------------------------------------------------------
 */

struct entry {
    const char *id, *title, *statement, *method;
    void (*run)(struct ctx *x, struct comp_control *c);
};

#define SEED "seeds/concepts-customer-managed-keys.md: "

static const struct entry catalogue[] = {
    {"CMK-DEL-01", "Deleting the KEK makes the data inaccessible",
     SEED "\"Since the KEK is required to decrypt the DEKs, the KEK is effectively a single point "
          "and deletion of the KEK effectively deletes the DEKs.\"",
     "GCM store under an RSA-2048 KEK (revalidation 2 s); the key officer deletes the key; read "
     "unit "
     "0 every 20 ms and time the first refusal; pass if <= interval + 1 s with "
     "ENG_ERR_INACCESSIBLE; "
     "reopen must fail with ENG_ERR_KEK_NOT_FOUND",
     ctl_delete},
    {"CMK-DEL-02", "Disabling the KEK ends access; re-enabling restores it",
     SEED "\"With customer-managed encryption, you're responsible for, and in full control of, a "
          "key's lifecycle, usage permissions, and auditing of operations.\"",
     "XTS store; PATCH enabled=false; time to the first refused read; reopen must fail with "
     "ENG_ERR_KEK_DISABLED; PATCH enabled=true; reopen and compare the data",
     ctl_disable},
    {"CMK-DEL-03", "Revoking the service's permission ends access",
     SEED "\"For a cluster to use customer-managed keys stored in Key Vault for encryption of the "
          "DEK, a Key Vault administrator gives the following access rights to the server: get, "
          "wrapKey, unwrapKey\"",
     "identity 'app' holds get/wrapKey/unwrapKey on app-kek only through a per-key grant in the "
     "identities file; restart the vault (same state, same port) without the grant; time the first "
     "refused read; reopen must fail with ENG_ERR_KEK_FORBIDDEN; restore the grant and reopen",
     ctl_revoke},
    {"CMK-DEL-04", "Recovering a soft-deleted KEK restores access",
     "reference/azure-key-vault-keys-rest.md: soft delete and purge protection are required; a "
     "deleted key can be recovered within the retention period",
     "GCM store; soft delete; reopen must fail; POST /deletedkeys/{name}/recover; reopen and "
     "compare "
     "the 8 canary units",
     ctl_recover},
    {"CMK-DEL-05", "Purging the KEK is permanent, backups included",
     SEED "\"deletion of the KEK effectively deletes the DEKs\"; \"Data, including backups, are "
          "encrypted on disk.\"",
     "a vault with purge protection refuses the purge (403); on a second vault started with "
     "--purge-protection off: store, backup (verified), delete, purge; the store, the backup "
     "(verify and restore) and recover must all be refused; a new key of the same name must not "
     "open the store",
     ctl_purge},
    {"CMK-ROT-01", "KEK rotation: rewrap without re-encryption, nothing lost",
     SEED "\"Full control over the key lifecycle, including rotation of the key to align with "
          "specific corporate policies.\"",
     "rotate the key in the vault; a new DEK (re-keyed extent) must be wrapped under the new "
     "version; eng_store_rotate_kek rewraps every DEK; the data file must be byte-identical "
     "before and after; disable the old version; reopen and compare the data",
     ctl_rotate},
    {"CMK-SOD-01", "Least privilege: the service holds get, wrapKey and unwrapKey only",
     SEED "\"a Key Vault administrator gives the following access rights to the server: get ... "
          "wrapKey ... unwrapKey\"",
     "as dbservice: get, wrapkey, unwrapkey must succeed (the DEK comes back); create, import, "
     "update, list, listversions, rotate, delete, listdeleted, recover, purge, encrypt, decrypt, "
     "sign, verify must each answer 403 ForbiddenByPolicy",
     ctl_least_privilege},
    {"CMK-SOD-02", "Separation of duties: key officers never see a DEK or data",
     SEED "\"It also allows organizations to implement separation of duties in the management of "
          "keys and data.\"",
     "an officer identity with management permissions only creates, rotates and updates a key and "
     "is refused wrapkey/unwrapkey/decrypt; the store's folder and files are owner-only and "
     "contain "
     "none of the identities' bearer tokens (byte scan); the audit log shows every successful "
     "wrap/unwrap came from a service identity",
     ctl_separation},
    {"CMK-AUD-01", "Every key use is audited with identity, version and result",
     SEED
     "\"The key vault administrator can also enable logging of Key Vault audit events, so they "
     "can be audited later.\"",
     "create, close, reopen, revalidate and re-key a store; compare eng_kek_stats (get, wrap, "
     "unwrap) with the dbservice lines of audit.jsonl for the key; every wrap/unwrap line must "
     "name "
     "the key version and every line carry the identity and status",
     ctl_audit},
    {"CMK-COV-01", "Data, backups and temporary files hold no plaintext",
     SEED "\"All Data including backups and temporary files created while running queries are "
          "encrypted on disk.\"",
     "write recognisable canary units through an XTS and a GCM store, make a backup, write them to "
     "an encrypted temporary file; scan every byte of every store file, the backup, the temporary "
     "file (raw, through its descriptor) and the vault's state folder for the canary",
     ctl_coverage},
    {"CMK-COV-02", "The key table holds only wrapped DEKs",
     SEED
     "\"The DEKs, encrypted with the KEKs, are stored separately. Only an entity with access to "
     "the KEK can decrypt these DEKs.\"",
     "the public API does not expose DEKs, so: every key-table record must be an RSA-2048 "
     "RSA-OAEP-256 blob (256 bytes) from the vault; the key table must hold no canary; with the "
     "vault failing every unwrapkey (fault injection) the store must not open from its files",
     ctl_keytable},
    {"CMK-POL-01", "RSA KEKs below 2048 bits are refused",
     "announcement-cmk-public-preview.txt: \"supported key types: RSA 2048, 3071, 4096\"",
     "create RSA keys of 1024 (must be 400), 2048, 3072 and 4096 bits (must be 200) as keyofficer",
     ctl_rsa_size},
    {"CMK-POL-02", "RSA1_5 is refused for wrapping",
     "RFC 8017 section 7.2: RSAES-PKCS1-v1_5 is kept only for compatibility; new applications use "
     "RSAES-OAEP",
     "eng_vault_open with alg RSA1_5 must return NULL with ENG_ERR_ARG", ctl_rsa15},
    {"CMK-POL-03", "RSA-OAEP-256 is the default wrap algorithm",
     "RFC 8017 section 7.1 (RSAES-OAEP); reference/azure-key-vault-keys-rest.md: RSA-OAEP-256 for "
     "wrapKey",
     "eng_vault_open without alg: eng_kek_describe and every DEK record of a new store must say "
     "RSA-OAEP-256",
     ctl_oaep256},
    {"CMK-INT-01", "Tampering with GCM data is detected",
     "NIST SP 800-38D section 5.2.2: authenticated decryption returns FAIL when the tag does not "
     "verify",
     "flip one bit of unit 5 in the data file of a GCM store; the read must fail with "
     "ENG_ERR_AUTH, "
     "the output be zeroed and other units stay readable",
     ctl_gcm_tamper},
    {"CMK-INT-02", "XTS does not detect tampering (finding)",
     "IEEE 1619-2007 / NIST SP 800-38E: XTS-AES provides confidentiality; it does not provide "
     "authentication",
     "flip one bit of unit 5 in the data file of an XTS store; read it back and count changed "
     "bytes",
     ctl_xts_tamper},
    {"CMK-PERF-01", "CMK costs no throughput against SMK (not slower by more than 2%)",
     SEED "\"Enabling encryption doesn't have any extra performance effect with or without "
          "customer-managed keys.\"",
     "one-sided: only CMK slower refutes the claim. keys=smk/keys=cmk cells of bench.json when "
     "present: per-round CMK/SMK ratios (same interleaved rounds), median and ~95% "
     "order-statistic interval; fail if an interval lies wholly below 0.98, pass if every "
     "median is >= 0.98 (CMK faster passes); otherwise (too noisy, or no cells) measure here: "
     "SMK, CMK and a second (placebo) SMK memory store, same engine path, write + read of 2 MiB "
     "in 8 KiB units, batches of 40 interleaved rounds (order rotated), throughput per CPU "
     "second of the measuring thread, until the rounds decide, at most 4 batches (budget 4 x "
     "6 s); pass if the median is >= 0.98, or CMK is slower no more than the placebo (+0.5 "
     "points) with 0 vault calls; fail if the interval lies wholly below 0.98 or vault calls "
     "were made; else INCONCLUSIVE (not applicable) with the figures",
     ctl_perf},
    {"DB-DEL", "A running PostgreSQL loses access when the KEK is deleted or disabled",
     SEED "\"Since the KEK is required to decrypt the DEKs, the KEK is effectively a single point "
          "and deletion of the KEK effectively deletes the DEKs.\"",
     "PostgreSQL 15 on cmk-fs (vault CMK, --revalidate-s 2) under pgbench -c 2, an acknowledging "
     "client (records each committed id) and a reading client (sequential scans through the "
     "filesystem); the key officer deletes the key: time from the call to the first failed "
     "write and read, bound revalidation + 2 s; PostgreSQL's log and postmaster recorded; "
     "recover the key, remount, crash recovery, every acknowledged id present; the same for "
     "disable / re-enable (scripts/db/prove.sh del)",
     ctl_db_delete},
    {"DB-COV", "PostgreSQL's data, WAL and temporary files hold no plaintext at rest",
     SEED "\"All Data including backups and temporary files created while running queries are "
          "encrypted on disk.\"",
     "rows carrying a random canary; a sort under work_mem 64kB held open by a cursor (temporary "
     "files, log_temp_files = 0), WAL, CHECKPOINT; scan every byte of the backing folder for the "
     "canary (must be 0); positive control: the same scan of the mount finds it in WAL, "
     "relation and temporary files (scripts/db/prove.sh cov)",
     ctl_db_coverage},
    {"DB-BAK", "Backups of the encrypted database are ciphertext and die with the key",
     SEED "\"Data, including backups, are encrypted on disk.\"; \"deletion of the KEK "
          "effectively deletes the DEKs\"",
     "copy the backing folder (ciphertext and key table) between pg_backup_start and "
     "pg_backup_stop with commits meanwhile, WAL after the stop; 0 canary hits in the copy; "
     "restore into a new folder, mount, start from the backup label, every row present; delete "
     "and purge the key: the copy must not mount (exit 3, ENG_ERR_KEK_NOT_FOUND); finding: canary "
     "hits of a pg_basebackup to a plain folder (scripts/db/prove.sh bak)",
     ctl_db_backup},
    {"DB-CRASH", "No acknowledged commit is lost when cmk-fs is killed",
     "PostgreSQL 15 documentation, 30.1 Reliability: \"a committed transaction ... must be "
     "recoverable\" after a crash, given a filesystem that honours fsync",
     "20 kill -9 of the cmk-fs daemon (fixed-seed points) under pgbench -c 2 and an "
     "acknowledging client; after each: remount, crash recovery, every acknowledged id present, "
     "count(*) of every table, pg_amcheck; at the end pg_checksums --check (initdb "
     "--data-checksums) (scripts/db/prove.sh crash)",
     ctl_db_crash},
};

#define NUM_CONTROLS (sizeof(catalogue) / sizeof(catalogue[0]))

const char *const *comp_controls_ids(void)
{
    static const char *ids[NUM_CONTROLS + 1];
    for (size_t i = 0; i < NUM_CONTROLS; i++) {
        ids[i] = catalogue[i].id;
    }
    ids[NUM_CONTROLS] = NULL;
    return ids;
}

static int selected(const char *only, const char *id)
{
    if (only == NULL) {
        return 1;
    }
    size_t n = strlen(id);
    for (const char *p = only; (p = strstr(p, id)) != NULL; p += n) {
        if ((p == only || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) {
            return 1;
        }
    }
    return 0;
}

static void fill_head(struct comp_control *c, const struct entry *e)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", e->id);
    snprintf(c->title, sizeof(c->title), "%s", e->title);
    snprintf(c->statement, sizeof(c->statement), "%s", e->statement);
    snprintf(c->method, sizeof(c->method), "%s", e->method);
    c->verdict = COMP_VERDICT_NOT_APPLICABLE; /* until the control says otherwise */
}

int comp_controls_run(const struct comp_controls_options *o, struct comp_report *rep)
{
    static const struct comp_controls_options defaults = {.only = NULL};
    struct ctx *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return -1;
    }
    x->o = o != NULL ? o : &defaults;
    x->reval = x->o->revalidate_s ? x->o->revalidate_s : 2;
    int rc = 0;
    if (cc_setup(x) != 0) {
        struct comp_control c;
        const struct entry e = {"CMK-SETUP", "The control suite's vault and folders start", "-",
                                "start vault-mock twice, make a temporary folder", NULL};
        fill_head(&c, &e);
        cc_fail(&c, "setup failed (vault-mock at %s?)", vmt_bin());
        comp_report_add_control(rep, &c);
        if (x->o->progress != NULL) {
            x->o->progress(&c, x->o->arg);
        }
        rc = -1;
    }
    if (x->o->vaults_out != NULL && x->o->vaults_out_len > 0) {
        snprintf(x->o->vaults_out, x->o->vaults_out_len, "%s", "");
        if (rc == 0) {
            snprintf(x->o->vaults_out, x->o->vaults_out_len,
                     "vault-mock %s (--throttle off) and %s (--throttle off, --purge-protection "
                     "off), started by the control suite",
                     x->va.url, x->vb.url);
        }
    }
    for (size_t i = 0; rc == 0 && i < NUM_CONTROLS; i++) {
        const struct entry *e = &catalogue[i];
        if (!selected(x->o->only, e->id)) {
            continue;
        }
        struct comp_control c;
        fill_head(&c, e);
        double t0 = cc_now_s();
        e->run(x, &c);
        c.seconds = cc_now_s() - t0;
        if (c.verdict == COMP_VERDICT_NOT_APPLICABLE && c.reason[0] == '\0') {
            cc_fail(&c, "the control reached no verdict");
        }
        if (comp_report_add_control(rep, &c) != 0) {
            rc = -1;
        }
        if (x->o->progress != NULL) {
            x->o->progress(&c, x->o->arg);
        }
    }
    cc_teardown(x);
    free(x);
    return rc;
}
