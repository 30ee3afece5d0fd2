/*
 * test_kat_cavp.c - NIST CAVP AES-256 response files on every back end and CPU path.
 *
 * Two sources: the shared vectors folder (../shared/vectors from the
 * repository root, or $CMK_SHARED_VECTORS) and python3-cryptography-vectors
 * (AES-256 files only: the engine is AES-256 only). Every vector of a file
 * is run on each (back end, arch) pair that eng_backend_supports says runs
 * the file's mode, so a back end that gains a mode (the native XTS) is
 * picked up without changes here. ECB files run as CBC with an all-zero IV,
 * one 16-byte block per unit (see comp_kat_mode). Each file and path logs
 * one summary line; a file that is missing is reported and skipped, never
 * passed in silence.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comp_kat.h"
#include "kat_log.h"
#include "kat_testlib.h"

/*
 * One NIST file as the shared folder and python3-cryptography-vectors each
 * hold it ("" where a source has none). Inline strings: Criterion hands
 * parameters to the worker as bytes, so no pointers.
 */
struct kat_pair {
    char shared[64]; /* relative to the shared vectors folder */
    char pyca[64];   /* relative to cryptography_vectors/ciphers/AES */
    enum comp_kind kind;
};

static struct kat_pair kat_pairs[] = {
    {"cavp-aes/KAT/ECBGFSbox256.rsp", "ECB/ECBGFSbox256.rsp", COMP_KIND_AES_ECB},
    {"cavp-aes/KAT/ECBKeySbox256.rsp", "ECB/ECBKeySbox256.rsp", COMP_KIND_AES_ECB},
    {"cavp-aes/KAT/ECBVarKey256.rsp", "ECB/ECBVarKey256.rsp", COMP_KIND_AES_ECB},
    {"cavp-aes/KAT/ECBVarTxt256.rsp", "ECB/ECBVarTxt256.rsp", COMP_KIND_AES_ECB},
    {"cavp-aes/MMT/ECBMMT256.rsp", "ECB/ECBMMT256.rsp", COMP_KIND_AES_ECB},
    {"cavp-aes/KAT/CBCGFSbox256.rsp", "CBC/CBCGFSbox256.rsp", COMP_KIND_AES_CBC},
    {"cavp-aes/KAT/CBCKeySbox256.rsp", "CBC/CBCKeySbox256.rsp", COMP_KIND_AES_CBC},
    {"cavp-aes/KAT/CBCVarKey256.rsp", "CBC/CBCVarKey256.rsp", COMP_KIND_AES_CBC},
    {"cavp-aes/KAT/CBCVarTxt256.rsp", "CBC/CBCVarTxt256.rsp", COMP_KIND_AES_CBC},
    {"cavp-aes/MMT/CBCMMT256.rsp", "CBC/CBCMMT256.rsp", COMP_KIND_AES_CBC},
    {"cavp-aes/CTR/CTRMMT256.rsp", "CTR/aes-256-ctr.txt", COMP_KIND_AES_CTR},
    {"cavp-aes/GCM/gcmEncryptExtIV256.rsp", "GCM/gcmEncryptExtIV256.rsp", COMP_KIND_AES_GCM_ENC},
    {"cavp-aes/GCM/gcmDecrypt256.rsp", "GCM/gcmDecrypt256.rsp", COMP_KIND_AES_GCM_DEC},
    {"cavp-aes/XTS/tweak-128hexstr/XTSGenAES256.rsp", "XTS/tweak-128hexstr/XTSGenAES256.rsp",
     COMP_KIND_AES_XTS},
    {"cavp-aes/XTS/tweak-dataunitseqno/XTSGenAES256.rsp",
     "XTS/tweak-dataunitseqno/XTSGenAES256.rsp", COMP_KIND_AES_XTS},
};
#define NUM_KAT_PAIRS (sizeof(kat_pairs) / sizeof(kat_pairs[0]))

/* |rel| under the shared folder (|shared|) or pyca's AES folder; 1 if the file exists. */
static int kat_path(int shared, const char *rel, char *out, size_t max_out_len)
{
    char dir[PATH_MAX];
    int have = shared ? tl_shared_vectors(dir, sizeof(dir)) : tl_pyca_aes(dir, sizeof(dir));
    int n = snprintf(out, max_out_len, "%s/%s", dir, rel);
    return have && rel[0] != '\0' && n > 0 && (size_t)n < max_out_len && tl_is_file(out);
}

/* Loads |path| and checks what it is; |want| COMP_KIND_UNKNOWN accepts any kind. */
static struct comp_kat_set *load_checked(const char *label, const char *path, enum comp_kind want)
{
    struct base_err err = BASE_ERR_INIT;
    struct comp_kat_set *s = comp_kat_load(path, &err);
    cr_assert_not_null(s, "%s: %s: %s", label, comp_error_name(err.code), err.msg);
    const struct comp_rsp_info *info = comp_kat_info(s);
    if (want != COMP_KIND_UNKNOWN) {
        cr_expect_eq(info->kind, want, "%s detected as %s, expected %s", label,
                     comp_kind_name(info->kind), comp_kind_name(want));
    }
    cr_expect_eq(info->key_bits, 256, "%s: %u-bit keys", label, info->key_bits);
    return s;
}

/* Runs every vector of |s| on every path that runs its mode; one line per path. */
static void run_set(const char *label, const struct comp_kat_set *s)
{
    const struct comp_rsp_info *info = comp_kat_info(s);
    struct tl_path paths[TL_MAX_PATHS];
    size_t n = tl_paths(comp_kat_mode(s), paths, TL_MAX_PATHS);
    cr_assert_gt(n, 0, "%s: no back end runs %s", label, eng_mode_name(comp_kat_mode(s)));
    char what[64];
    snprintf(what, sizeof(what), "%s %s, %zu vectors", comp_kind_name(info->kind), info->test,
             comp_kat_size(s));
    for (size_t i = 0; i < n; i++) {
        struct comp_kat_result r;
        char pname[64];
        int rc = comp_kat_run(s, paths[i].b, paths[i].a, &r);
        tl_log_result(label, what, &paths[i], &r);
        tl_path_name(&paths[i], pname, sizeof(pname));
        cr_expect_eq(rc, 0, "%s on %s did not run: %s", label, pname, r.first_failure);
        cr_expect_eq(r.failed, 0, "%s on %s: %lu failed; first: %s", label, pname, r.failed,
                     r.first_failure);
        cr_expect_gt(r.passed, 0, "%s on %s: nothing passed", label, pname);
        cr_expect_eq(r.passed + r.failed + r.skipped, comp_kat_size(s), "%s on %s: vectors lost",
                     label, pname);
    }
}

ParameterizedTestParameters(kat_cavp, file)
{
    return cr_make_param_array(struct kat_pair, kat_pairs, NUM_KAT_PAIRS);
}

/*
 * Both copies of a file are read and checked. When the second holds exactly
 * the vectors of the first (pyca's copies are NIST's files, some with CR
 * stripped), running them again on every path would prove nothing new and
 * cost thousands of keys: it is compared field by field instead and the
 * comparison is reported. CMK_KAT_RERUN_DUPLICATES=1 runs it anyway.
 */
ParameterizedTest(struct kat_pair *p, kat_cavp, file)
{
    const char *rerun = getenv("CMK_KAT_RERUN_DUPLICATES");
    struct comp_kat_set *first = NULL;
    char first_label[96] = "";
    int found = 0;
    for (int side = 0; side < 2; side++) {
        const char *rel = side == 0 ? p->shared : p->pyca;
        char path[PATH_MAX + 128];
        char label[96];
        snprintf(label, sizeof(label), "%s:%s", side == 0 ? "shared" : "pyca", rel);
        if (rel[0] == '\0') {
            continue;
        }
        if (!kat_path(side == 0, rel, path, sizeof(path))) {
            tl_note("%s: skipped, file not found: %s", label, path);
            continue;
        }
        found++;
        struct comp_kat_set *s = load_checked(label, path, p->kind);
        if (first != NULL && comp_kat_same_vectors(first, s) &&
            !(rerun != NULL && strcmp(rerun, "1") == 0)) {
            tl_note(
                "%s: the same %zu vectors as %s (compared field by field); results above "
                "apply, not run again",
                label, comp_kat_size(s), first_label);
            comp_kat_free(s);
            continue;
        }
        run_set(label, s);
        if (first == NULL) {
            first = s;
            snprintf(first_label, sizeof(first_label), "%s", label);
        } else {
            comp_kat_free(s);
        }
    }
    comp_kat_free(first);
    if (found == 0) {
        cr_skip_test("neither %s nor %s found", p->shared, p->pyca);
    }
}

/* ---- every AES-256 file on disk is run, listed above or not ---------------- */

struct scan {
    char found[64][PATH_MAX];
    size_t num_found;
    size_t num_other_sizes;
};

static struct scan scan_state;

static int scan_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    size_t n = strlen(base);
    int vec = n > 4 && (strcmp(base + n - 4, ".rsp") == 0 || strcmp(base + n - 4, ".txt") == 0);
    if (flag != FTW_F || !vec) {
        return 0;
    }
    if (strstr(base, "256") == NULL) {
        scan_state.num_other_sizes++; /* 128/192-bit keys: the engine is AES-256 only */
        return 0;
    }
    if (scan_state.num_found < sizeof(scan_state.found) / sizeof(scan_state.found[0])) {
        snprintf(scan_state.found[scan_state.num_found++], PATH_MAX, "%s", path);
    }
    return 0;
}

static int listed(const char *path)
{
    char p[PATH_MAX + 128];
    for (size_t i = 0; i < NUM_KAT_PAIRS; i++) {
        if ((kat_path(1, kat_pairs[i].shared, p, sizeof(p)) && strcmp(p, path) == 0) ||
            (kat_path(0, kat_pairs[i].pyca, p, sizeof(p)) && strcmp(p, path) == 0)) {
            return 1;
        }
    }
    return 0;
}

Test(kat_cavp, every_aes256_file_on_disk_runs)
{
    static const char *const pyca_modes[] = {"ECB", "CBC", "CTR", "GCM", "XTS"};
    char dir[PATH_MAX];
    char sub[PATH_MAX + 16];
    size_t listed_present = 0;
    memset(&scan_state, 0, sizeof(scan_state));
    if (tl_shared_vectors(dir, sizeof(dir))) {
        snprintf(sub, sizeof(sub), "%s/cavp-aes", dir);
        nftw(sub, scan_one, 16, FTW_PHYS);
    } else {
        tl_note("shared vectors folder not found (%s): skipped", dir);
    }
    if (tl_pyca_aes(dir, sizeof(dir))) {
        for (size_t i = 0; i < sizeof(pyca_modes) / sizeof(pyca_modes[0]); i++) {
            snprintf(sub, sizeof(sub), "%s/%s", dir, pyca_modes[i]);
            nftw(sub, scan_one, 16, FTW_PHYS);
        }
    } else {
        tl_note("python3-cryptography-vectors not found (%s): skipped", dir);
    }
    for (size_t i = 0; i < NUM_KAT_PAIRS; i++) {
        char p[PATH_MAX + 128];
        listed_present += kat_path(1, kat_pairs[i].shared, p, sizeof(p));
        listed_present += kat_path(0, kat_pairs[i].pyca, p, sizeof(p));
    }
    if (scan_state.num_found == 0 && listed_present == 0) {
        cr_skip_test("no vector folder present");
    }
    size_t unlisted = 0;
    for (size_t i = 0; i < scan_state.num_found; i++) {
        if (!listed(scan_state.found[i])) {
            unlisted++;
            tl_note("%s is not in the list; running it here", scan_state.found[i]);
            struct comp_kat_set *s =
                load_checked(scan_state.found[i], scan_state.found[i], COMP_KIND_UNKNOWN);
            run_set(scan_state.found[i], s);
            comp_kat_free(s);
        }
    }
    tl_note(
        "%zu AES-256 files found on disk (%zu listed, %zu not), %zu files with "
        "128/192-bit keys left out",
        scan_state.num_found, listed_present, unlisted, scan_state.num_other_sizes);
    /* The list and the disk agree: every listed file that exists was found by the walk. */
    cr_expect_eq(scan_state.num_found - unlisted, listed_present);
}
