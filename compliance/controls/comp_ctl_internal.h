/*
 * comp_ctl_internal.h - what the files of the control suite share (not installed).
 * comp_controls.c holds the catalogue and runs it; comp_ctl_util.c the helpers and the
 * vault-mock setup declared here; comp_ctl_lifecycle.c, comp_ctl_data.c and comp_ctl_perf.c
 * the controls. The helpers carry a cc_ prefix because libcompctl.a exports them.
 */
#ifndef COMP_CTL_INTERNAL_H
#define COMP_CTL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "comp_controls.h"
#include "eng_store.h"
#include "vmt_client.h"

#define API          "?api-version=7.4"
#define UNIT         4096U
#define UNITS        64U
#define EXTENT_UNITS 16U
#define TOKEN_HEX    24

struct ctx {
    const struct comp_controls_options *o;
    unsigned reval;
    char work[256];
    struct vmt_server va; /* purge protection on, identities file with per-key grants */
    int va_up;
    char ids_path[300];
    char tok[6][TOKEN_HEX * 2 + 1]; /* keyofficer, dbservice, auditor, secofficer, app, admin */
    struct vmt_server vb;           /* purge protection off, default identities */
    int vb_up;
    int seq;
};

enum { T_OFFICER, T_DBSERVICE, T_AUDITOR, T_SECOFFICER, T_APP, T_ADMIN };

/* ---- helpers (comp_ctl_util.c) --------------------------------------------------------------- */

/* CLOCK_MONOTONIC in seconds. */
double cc_now_s(void);

/* Adds one line of evidence to |c|. */
void cc_ev(struct comp_control *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Marks |c| failed and adds this to its reasons (a later pass cannot undo it). */
void cc_fail(struct comp_control *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The name of the engine's last error in this thread. */
const char *cc_ename(void);

/* An eng_vault provider for |key| on |vs| as |identity| (|alg| NULL: the default). */
struct eng_kek_provider *cc_provider(struct vmt_server *vs, const char *identity, const char *key,
                                     const char *alg);

/* A new store in a fresh folder under the work folder (its path in |dir|). */
struct eng_store *cc_new_store(struct ctx *x, struct eng_kek_provider *p, enum eng_mode mode,
                               char *dir, size_t max_dir);

/* Opens the store in |dir| again (the suite's units, extents and revalidation interval). */
struct eng_store *cc_reopen(struct ctx *x, const char *dir, struct eng_kek_provider *p);

/* The recognisable plaintext of |unit|; cc_canary_units: |n| units from |first| (malloc'd). */
void cc_canary(uint8_t *buf, size_t len, unsigned unit);
uint8_t *cc_canary_units(size_t first, size_t n);

/* A store under a new key |key| holding canary units 0..7; NULL (and |c| failed) otherwise. */
struct eng_store *cc_store_with_data(struct ctx *x, struct comp_control *c, struct vmt_server *vs,
                                     const char *identity, const char *key, enum eng_mode mode,
                                     struct eng_kek_provider **p, char *dir, size_t max_dir,
                                     char *version);

/* Whether units 0..7 of |s| read back as the canary cc_store_with_data wrote. */
int cc_data_intact(struct eng_store *s);

/* Occurrences of |needle| in the file at |path| (its size in *size); -1 if unreadable. */
long cc_count_in_file(const char *path, const void *needle, size_t needle_len, size_t *size);

/* Calls |fn| on every regular file under |dir|, subfolders included. */
void cc_for_files(const char *dir, void (*fn)(const char *path, void *arg), void *arg);

/* What cc_scan_file counts, over all the files it is given. */
struct scan {
    const char *const *needles;
    const size_t *needle_lens;
    size_t num_needles;
    unsigned long files, hits, bytes, loose_modes;
    char where[512];
};

/* Scans one file for the needles of |arg| (a struct scan) and notes group/other access. */
void cc_scan_file(const char *path, void *arg);

/* Writes the identities file of vault A; |app_grant|: app's per-key grant on app-kek. */
int cc_write_identities(struct ctx *x, int app_grant);

/* (Re)starts vault A with the identities file; |port| "0" = any free port. */
int cc_start_va(struct ctx *x, const char *port);

/* The work folder, the tokens and both vaults; -1 on failure (cc_teardown still cleans up). */
int cc_setup(struct ctx *x);
void cc_teardown(struct ctx *x);

/* ---- the controls the catalogue names -------------------------------------------------------- */

/* comp_ctl_lifecycle.c */
void ctl_delete(struct ctx *x, struct comp_control *c);
void ctl_disable(struct ctx *x, struct comp_control *c);
void ctl_revoke(struct ctx *x, struct comp_control *c);
void ctl_recover(struct ctx *x, struct comp_control *c);
void ctl_purge(struct ctx *x, struct comp_control *c);
void ctl_rotate(struct ctx *x, struct comp_control *c);
void ctl_least_privilege(struct ctx *x, struct comp_control *c);
void ctl_separation(struct ctx *x, struct comp_control *c);
void ctl_audit(struct ctx *x, struct comp_control *c);

/* comp_ctl_data.c */
void ctl_coverage(struct ctx *x, struct comp_control *c);
void ctl_keytable(struct ctx *x, struct comp_control *c);
void ctl_rsa_size(struct ctx *x, struct comp_control *c);
void ctl_rsa15(struct ctx *x, struct comp_control *c);
void ctl_oaep256(struct ctx *x, struct comp_control *c);
void ctl_gcm_tamper(struct ctx *x, struct comp_control *c);
void ctl_xts_tamper(struct ctx *x, struct comp_control *c);

/* comp_ctl_perf.c; cc_perf_judge is the in-process measurement's verdict (tested alone). */
void ctl_perf(struct ctx *x, struct comp_control *c);
int cc_perf_judge(struct comp_control *c, double med, double lo, double hi, double aamed,
                  unsigned long long calls);

/* comp_ctl_db.c: PostgreSQL on cmk-fs under CMK, through scripts/db/prove.sh */
void ctl_db_delete(struct ctx *x, struct comp_control *c);
void ctl_db_coverage(struct ctx *x, struct comp_control *c);
void ctl_db_backup(struct ctx *x, struct comp_control *c);
void ctl_db_crash(struct ctx *x, struct comp_control *c);

#endif /* COMP_CTL_INTERNAL_H */
