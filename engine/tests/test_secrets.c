/*
 * test_secrets.c - no secret leaves its place, and every file is private.
 *
 * Real bin/cmk sessions, service-managed (SMK) and customer-managed (CMK,
 * against a vault-mock this test starts): create stores (XTS and GCM), put,
 * get to a file and to stdout, status, backup, verify-backup, restore,
 * rotate-kek, rekey. After every command the test collects the secrets:
 * each DEK and table MAC key of every store folder (unwrapped from the key
 * tables through the same provider), every SMK KEK version (from the key
 * file), and the RSA private components (d, p, q, dp, dq, qi) of every KEK
 * version in the vault (the test generates them and imports them, so it
 * knows them). Then every file the session produced - stores, key tables,
 * backups, outputs, the cmk's stdout and stderr, the vault's state folder
 * and audit log - is scanned for any 16-byte window of any secret, raw,
 * hex (both cases), base64 and base64url (vmt_scan.h). Bearer tokens are
 * looked for in the session's own files. The only file allowed to hold a
 * secret is the SMK key file itself. Each session runs under umask 022 and
 * under umask 000: every file must be 0600 and every folder 0700.
 * The scanner has a positive control: secrets planted in every encoding at
 * every alignment are found, so the scan cannot pass by finding nothing.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eng_keys.h"
#include "eng_secure.h"
#include "eng_store.h"
#include "eng_vault.h"
#include "keytable_internal.h"
#include "store_helpers.h"
#include "tl_vault.h"
#include "vmt_client.h"
#include "vmt_scan.h"

#ifndef CMK_BIN
#define CMK_BIN "bin/cmk"
#endif

static char dir[256];      /* the session: everything cmk produces */
static char in_dir[320];   /* the test's inputs (data, token file): not produced by cmk */
static char log_dir[320];  /* cmk's stdout and stderr, one pair per command */
static char key_file[320]; /* SMK key file: the one file allowed to hold the KEK */
static char vault_args[1400];
static struct vmt_server vs;
static struct vmt_scan *sc;
static struct eng_kek_provider *kek; /* the session's provider, to unwrap DEKs */
static int ncmd;

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
    tl_path(in_dir, sizeof(in_dir), dir, "in");
    tl_path(log_dir, sizeof(log_dir), dir, "log");
    tl_path(key_file, sizeof(key_file), dir, "smk.key");
    cr_assert_eq(mkdir(in_dir, 0700), 0);
    cr_assert_eq(mkdir(log_dir, 0700), 0);
    sc = vmt_scan_new();
    cr_assert_not_null(sc);
    memset(&vs, 0, sizeof(vs));
    vault_args[0] = '\0';
    ncmd = 0;
}

static void teardown(void)
{
    eng_kek_provider_free(kek);
    kek = NULL;
    vmt_scan_free(sc);
    sc = NULL;
    vmt_cleanup(&vs);
    tl_rmtree(dir);
}

TestSuite(secrets, .init = setup, .fini = teardown, .timeout = 900);

/* Runs cmk (SMK key file, or the vault options) in the session folder; its exit code. */
static int cmk(const char *fmt, ...)
{
    char args[1024], out[32], err[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    ncmd++;
    snprintf(out, sizeof(out), ">log/%02d.out", ncmd);
    snprintf(err, sizeof(err), "2>log/%02d.err", ncmd);
    const struct tl_cmk_io io = {.out = out, .err = err};
    int rc = tl_cmk_run_io(CMK_BIN, dir, &io, "%s %s",
                           vault_args[0] != '\0' ? vault_args : "--key-file smk.key", args);
    cr_assert_geq(rc, 0, "cmk %s did not run or did not exit normally", args);
    return rc;
}

/* --- collecting the secrets -------------------------------------------------- */

static void add_secret(const char *label, const uint8_t *b, size_t len)
{
    cr_assert_eq(vmt_scan_add_secret(sc, label, b, len), 0, "%s (%zu bytes)", label, len);
}

/* Every KEK version of the SMK key file (format in smk.c). */
static void collect_smk_keks(void)
{
    size_t len;
    uint8_t *f = tl_read_file(key_file, &len);
    cr_assert_not_null(f);
    cr_assert_geq(len, 8 + 16 + 4 + 32);
    cr_assert_eq(memcmp(f, "CMKSMK01", 8), 0);
    uint32_t n = (uint32_t)f[24] << 24 | (uint32_t)f[25] << 16 | (uint32_t)f[26] << 8 | f[27];
    const size_t rec = 16 + 1 + 8 + 32;
    cr_assert_eq(len, 28 + n * rec + 32, "key file of %u versions is %zu bytes", n, len);
    for (uint32_t i = 0; i < n; i++) {
        char label[64];
        snprintf(label, sizeof(label), "SMK KEK version %u", i);
        add_secret(label, f + 28 + i * rec + 25, 32);
    }
    eng_cleanse(f, len);
    free(f);
}

static void unwrap_into_scan(const struct eng_kt_wrapped *w, const char *label)
{
    uint8_t *k = eng_secure_alloc(ENG_DEK_MAX_BYTES);
    size_t klen = 0;
    cr_assert_not_null(k);
    cr_assert_eq(eng_kek_unwrap(kek, &w->kek, k, &klen, ENG_DEK_MAX_BYTES, w->bytes, w->len), 0,
                 "%s: unwrap under %s: %s", label, w->kek.version, eng_error_name(eng_errno()));
    add_secret(label, k, klen);
    eng_secure_free(k);
}

/* Every DEK (active and retired) and the MAC key of the store at |name|. */
static void collect_deks(const char *name)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/%s/keytable", dir, name);
    struct eng_keytable kt;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    cr_assert_eq(eng_kt_load(p, &kt, &raw, &raw_len), 0, "%s: %s", p, eng_error_name(eng_errno()));
    char label[64];
    snprintf(label, sizeof(label), "%s table MAC key", name);
    unwrap_into_scan(&kt.mac_key, label);
    for (uint32_t i = 0; i < kt.num_records; i++) {
        snprintf(label, sizeof(label), "%s DEK %u", name, kt.records[i].dek_id);
        unwrap_into_scan(&kt.records[i].w, label);
    }
    free(raw);
    eng_kt_cleanup(&kt);
}

/* --- the RSA KEKs of the vault ------------------------------------------------- */

static char *b64url_bn(const BIGNUM *bn)
{
    int n = BN_num_bytes(bn);
    uint8_t *b = malloc((size_t)n);
    char *s = malloc((size_t)n / 3 * 4 + 8);
    cr_assert(b != NULL && s != NULL);
    BN_bn2bin(bn, b);
    int m = EVP_EncodeBlock((unsigned char *)s, b, n);
    while (m > 0 && s[m - 1] == '=') {
        m--;
    }
    s[m] = '\0';
    for (int i = 0; i < m; i++) {
        s[i] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
    }
    eng_cleanse(b, (size_t)n);
    free(b);
    return s;
}

/*
 * Generates an RSA-2048 key, adds its private components to the scan,
 * imports it into the vault as (a new version of) |name|.
 */
static void import_rsa_kek(const char *name, int generation)
{
    static const char *const params[8] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    static const char *const jwk[8] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
    EVP_PKEY *pk = EVP_RSA_gen(2048);
    cr_assert_not_null(pk);
    char *body = malloc(16384);
    cr_assert_not_null(body);
    size_t off = (size_t)snprintf(body, 16384, "{\"key\":{\"kty\":\"RSA\"");
    for (int i = 0; i < 8; i++) {
        BIGNUM *bn = NULL;
        cr_assert_eq(EVP_PKEY_get_bn_param(pk, params[i], &bn), 1, "%s", params[i]);
        if (i >= 2) { /* the private components */
            int n = BN_num_bytes(bn);
            uint8_t *b = malloc((size_t)n);
            BN_bn2bin(bn, b);
            char label[64];
            snprintf(label, sizeof(label), "RSA KEK %s v%d %s", name, generation, jwk[i]);
            add_secret(label, b, (size_t)n);
            eng_cleanse(b, (size_t)n);
            free(b);
        }
        char *v = b64url_bn(bn);
        off += (size_t)snprintf(body + off, 16384 - off, ",\"%s\":\"%s\"", jwk[i], v);
        free(v);
        BN_clear_free(bn);
    }
    snprintf(body + off, 16384 - off, "}}");
    EVP_PKEY_free(pk);
    char path[128];
    snprintf(path, sizeof(path), "/keys/%s?" VMT_API, name);
    struct vmt_resp r;
    long st = vmt_call(&vs, "PUT", path, vmt_token(&vs, "keyofficer"), body, &r);
    cr_assert_eq(st, 200, "import %s: %ld %s", name, st, r.body != NULL ? r.body : "");
    vmt_resp_free(&r);
    eng_cleanse(body, 16384);
    free(body);
}

/* --- modes -------------------------------------------------------------------- */

static const char *mode_root;
static int bad_modes;
static char bad_mode_path[512];
static unsigned bad_mode;
static size_t checked_modes;

static int check_mode(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (strncmp(path, in_dir, strlen(in_dir)) == 0 ||
        strncmp(path, log_dir, strlen(log_dir)) == 0 || strcmp(path, mode_root) == 0) {
        return 0; /* the test's own inputs and redirections */
    }
    unsigned want = type == FTW_D ? 0700 : 0600;
    if (type != FTW_D && type != FTW_F) {
        return 0;
    }
    checked_modes++;
    if ((st->st_mode & 0777) != want) {
        if (bad_modes++ == 0) {
            snprintf(bad_mode_path, sizeof(bad_mode_path), "%s", path);
            bad_mode = st->st_mode & 0777;
        }
    }
    return 0;
}

static void expect_private_modes(const char *root)
{
    mode_root = root;
    bad_modes = 0;
    checked_modes = 0;
    cr_assert_eq(nftw(root, check_mode, 16, FTW_PHYS), 0);
    cr_assert_eq(bad_modes, 0, "%d files/folders not private, first %s (mode %03o)", bad_modes,
                 bad_mode_path, bad_mode);
    cr_assert_gt(checked_modes, 0);
}

/* --- the scan ------------------------------------------------------------------- */

static int skip_inputs(const char *path)
{
    return strncmp(path, in_dir, strlen(in_dir)) == 0 || strcmp(path, key_file) == 0;
}

static void expect_no_secret(const char *root, const char *what, size_t min_files)
{
    struct vmt_scan_hit h;
    size_t files = 0;
    size_t hits = vmt_scan_tree(sc, root, skip_inputs, &files, &h);
    cr_assert_neq(hits, (size_t)-1, "%s: scan failed", what);
    cr_assert_eq(hits, 0, "%s: %zu hits, first: %s (%s) in %s at %zu", what, hits, h.label,
                 h.encoding, h.where, h.offset);
    cr_assert_geq(files, min_files, "%s: only %zu files scanned", what, files);
    fprintf(stderr, "secrets: %s: %zu files, %zu secrets, 0 hits\n", what, files,
            vmt_scan_count(sc));
}

static void write_input(const char *name, size_t len)
{
    char p[400];
    tl_path(p, sizeof(p), in_dir, name);
    uint8_t *b = malloc(len);
    cr_assert_not_null(b);
    cr_assert_eq(RAND_bytes(b, (int)len), 1);
    cr_assert_eq(tl_write_file(p, b, len), 0);
    free(b);
}

/* The session both providers share; |collect| gathers the secrets after each command. */
static void session(void (*collect)(void))
{
    write_input("data", 150001);
    cr_assert_eq(cmk("create s --mode xts --size 256K --unit-size 4096 --extent-units 16"), 0);
    cr_assert_eq(cmk("create g --mode gcm --size 256K --unit-size 4096 --extent-units 8"), 0);
    collect();
    cr_assert_eq(cmk("put s in/data --offset 1000"), 0);
    cr_assert_eq(cmk("put g in/data --offset 7"), 0);
    cr_assert_eq(cmk("get s --offset 1000 --length 150001 --output out.bin"), 0);
    cr_assert_eq(cmk("get g --length 4096"), 0); /* to stdout (a log file) */
    cr_assert_eq(cmk("status s --json"), 0);
    cr_assert_eq(cmk("backup s s.cmkb"), 0);
    cr_assert_eq(cmk("verify-backup s.cmkb"), 0);
    cr_assert_eq(cmk("restore s.cmkb r"), 0);
    collect();
    cr_assert_eq(cmk("rekey s 1"), 0);
    cr_assert_eq(cmk("rekey g 0"), 0);
    collect();
}

static void rotate_and_finish(void (*collect)(void))
{
    cr_assert_eq(cmk("rotate-kek s"), 0);
    cr_assert_eq(cmk("rotate-kek g"), 0);
    collect();
    cr_assert_eq(cmk("get s --offset 1000 --length 150001 --output out2.bin"), 0);
    cr_assert_eq(cmk("backup g g.cmkb"), 0);
    cr_assert_eq(cmk("restore g.cmkb rg"), 0);
    cr_assert_eq(cmk("status g"), 0);
    collect();
}

/* The DEKs of every store the session has made so far. */
static void collect_stores(void)
{
    static const char *const stores[] = {"s", "g", "r", "rg"};
    for (size_t i = 0; i < 4; i++) {
        char p[400];
        snprintf(p, sizeof(p), "%s/%s/keytable", dir, stores[i]);
        if (access(p, F_OK) == 0) {
            collect_deks(stores[i]);
        }
    }
}

static void collect_smk(void)
{
    if (kek == NULL) {
        kek = eng_smk_open(key_file, 0);
        cr_assert_not_null(kek, "%s", eng_error_name(eng_errno()));
    }
    collect_smk_keks();
    collect_stores();
}

static void smk_session(mode_t mask)
{
    umask(mask);
    session(collect_smk);
    rotate_and_finish(collect_smk);
    cr_assert_geq(vmt_scan_count(sc), 20, "secrets collected: %zu", vmt_scan_count(sc));
    expect_no_secret(dir, mask == 0 ? "smk session, umask 000" : "smk session, umask 022", 20);
    struct stat st;
    cr_assert_eq(stat(key_file, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    expect_private_modes(dir);
}

Test(secrets, smk_session_umask_022)
{
    smk_session(022);
}

Test(secrets, smk_session_umask_000)
{
    smk_session(0);
}

static void collect_cmk(void)
{
    if (kek == NULL) {
        struct eng_vault_config cfg = {.vault_url = vs.url,
                                       .key_name = "kek",
                                       .token = vmt_token(&vs, "dbservice"),
                                       .ca_file = vs.ca,
                                       .max_retries = 3};
        kek = eng_vault_open(&cfg);
        cr_assert_not_null(kek, "%s", eng_error_name(eng_errno()));
    }
    collect_stores();
}

static void cmk_session(mode_t mask)
{
    umask(mask);
    tl_vault_start(&vs);
    import_rsa_kek("kek", 1);
    char token_file[400];
    tl_path(token_file, sizeof(token_file), in_dir, "token");
    tl_vault_token_file(&vs, "dbservice", token_file); /* 0600: cmk refuses one open to others */
    snprintf(vault_args, sizeof(vault_args),
             "--vault-url %s --vault-key kek --vault-ca %s --vault-token-file in/token", vs.url,
             vs.ca);
    session(collect_cmk);
    import_rsa_kek("kek", 2); /* the key officer's rotation: a new version, then rewrap */
    rotate_and_finish(collect_cmk);
    cr_assert_geq(vmt_scan_count(sc), 20, "secrets collected: %zu", vmt_scan_count(sc));
    const char *what = mask == 0 ? "umask 000" : "umask 022";
    char label[96];
    /* The vault's state folder: sealed keys, vault.json, audit log (it holds the tokens by design).
     */
    snprintf(label, sizeof(label), "vault state folder, %s", what);
    expect_no_secret(vs.state, label, 5);
    expect_private_modes(vs.state);
    /* Tokens must not reach the session's files either. */
    cr_assert_eq(vmt_scan_add_text(sc, "dbservice token", vmt_token(&vs, "dbservice")), 0);
    cr_assert_eq(vmt_scan_add_text(sc, "keyofficer token", vmt_token(&vs, "keyofficer")), 0);
    snprintf(label, sizeof(label), "cmk session, %s", what);
    expect_no_secret(dir, label, 20);
    expect_private_modes(dir);
    cr_assert_eq(vmt_stop(&vs), 0);
}

Test(secrets, cmk_session_umask_022)
{
    cmk_session(022);
}

Test(secrets, cmk_session_umask_000)
{
    cmk_session(0);
}

/* --- positive control ------------------------------------------------------------- */

Test(secrets, scanner_finds_planted_secrets)
{
    uint8_t secret[64], other[64];
    RAND_bytes(secret, sizeof(secret));
    RAND_bytes(other, sizeof(other));
    /* Each window below starts with a hex letter: a window of digits only reads the same in
     * both cases, and would be reported as "hex" where "HEX" is expected. */
    for (size_t i = 0; i < sizeof(secret); i += 7) {
        secret[i] |= 0xa0;
    }
    add_secret("planted", secret, sizeof(secret));
    struct vmt_scan_hit h;
    /* Nothing in unrelated random bytes or in a different key. */
    cr_assert_eq(vmt_scan_buf(sc, other, sizeof(other), "other", &h), 0);
    uint8_t noise[65536];
    RAND_bytes(noise, sizeof(noise));
    cr_assert_eq(vmt_scan_buf(sc, noise, sizeof(noise), "noise", &h), 0);
    /* A 15-byte window is below the threshold: not reported. */
    cr_assert_eq(vmt_scan_buf(sc, secret + 3, 15, "short", &h), 0);
    for (size_t at = 0; at + 16 <= sizeof(secret); at += 7) {
        const uint8_t *w = secret + at;
        char buf[256];
        /* raw, inside other bytes; the neighbours differ from the secret's
         * own, or the window one byte wider would match too (a second hit) */
        uint8_t raw[64];
        memcpy(raw, noise, sizeof(raw));
        memcpy(raw + 11, w, 16);
        if (at > 0) {
            raw[10] = (uint8_t)~secret[at - 1];
        }
        if (at + 16 < sizeof(secret)) {
            raw[27] = (uint8_t)~secret[at + 16];
        }
        cr_assert_eq(vmt_scan_buf(sc, raw, sizeof(raw), "raw", &h), 1, "raw window at %zu", at);
        cr_assert_str_eq(h.encoding, "raw");
        cr_assert_eq(h.offset, 11);
        cr_assert_str_eq(h.label, "planted");
        /* hex, both cases */
        for (int up = 0; up < 2; up++) {
            int n = snprintf(buf, sizeof(buf), "key=");
            for (int i = 0; i < 16; i++) {
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, up ? "%02X" : "%02x", w[i]);
            }
            cr_assert_geq(vmt_scan_buf(sc, buf, (size_t)n, "hex", &h), 1, "hex at %zu", at);
            cr_assert_str_eq(h.encoding, up ? "HEX" : "hex");
        }
        /* base64 and base64url, the window at each alignment of the stream */
        for (int shift = 0; shift < 3; shift++) {
            uint8_t stream[24];
            memcpy(stream, noise + 100, sizeof(stream));
            memcpy(stream + shift, w, 16);
            int n = EVP_EncodeBlock((unsigned char *)buf, stream, 16 + shift);
            cr_assert_geq(vmt_scan_buf(sc, buf, (size_t)n, "b64", &h), 1, "base64 at %zu+%d", at,
                          shift);
            int url = 0;
            for (int i = 0; i < n; i++) {
                if (buf[i] == '+' || buf[i] == '/') {
                    buf[i] = buf[i] == '+' ? '-' : '_';
                    url = 1;
                }
            }
            cr_assert_geq(vmt_scan_buf(sc, buf, (size_t)n, "b64url", &h), 1, "base64url at %zu+%d",
                          at, shift);
            (void)url;
        }
    }
    /* base64url alone: every group of 0xfb bytes encodes as "+/v7" ("-_v7" in base64url). */
    uint8_t fb[48];
    memset(fb, 0xfb, sizeof(fb));
    add_secret("planted 0xfb", fb, sizeof(fb));
    char enc[80];
    int m = EVP_EncodeBlock((unsigned char *)enc, fb, 33);
    for (int i = 0; i < m; i++) {
        enc[i] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : enc[i];
    }
    cr_assert_geq(vmt_scan_buf(sc, enc, (size_t)m, "b64url", &h), 1);
    cr_assert_str_eq(h.encoding, "base64url");
    /* And through the file walk, in a file of the session folder. */
    char p[400];
    tl_path(p, sizeof(p), dir, "planted.log");
    char line[128];
    int n = snprintf(line, sizeof(line), "unwrapped: ");
    for (int i = 20; i < 40; i++) {
        n += snprintf(line + n, sizeof(line) - (size_t)n, "%02x", secret[i]);
    }
    cr_assert_eq(tl_write_file(p, line, (size_t)n), 0);
    size_t files = 0;
    cr_assert_geq(vmt_scan_tree(sc, dir, skip_inputs, &files, &h), 1);
    cr_assert_str_eq(h.where, p);
    cr_assert_str_eq(h.encoding, "hex");
    fprintf(stderr,
            "secrets: positive control: raw, hex, HEX, base64, base64url planted at every "
            "alignment, all found\n");
}
