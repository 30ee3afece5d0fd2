/*
 * comp_runner.h - run whole vector files (or folders of them) and record
 * one comp_kat_row per file, back end and path in a comp_report.
 *
 * What a file holds is detected from its content:
 *   - '{' first: Project Wycheproof JSON. AES-GCM (aead) and AES-XTS
 *     (ind-cpa) run on every engine path of the mode (eng_paths); AES-KWP
 *     (keywrap) runs through OpenSSL "AES-256-WRAP-PAD", the SMK provider's
 *     wrap; RSA-OAEP runs through OpenSSL EVP_PKEY_decrypt with the test's
 *     private key, the vault's unwrap. valid must pass, invalid must be
 *     refused, acceptable is counted apart.
 *   - "# OAEP Example": pyca/cryptography's RSA-OAEP text vectors
 *     (pkcs-1v2-1d2-vec/oaep-vect.txt, the oaep-custom folder), decrypted the same way.
 *   - else a NIST CAVP response file (comp_kat_load) on every engine path.
 * Keys the engine does not take (AES-128/192) are skipped with the reason
 * (after checking the engine refuses them, see comp_kat.h). A file that is
 * none of these (CFB, OFB, CCM files, read-me texts, other JSON) gets one
 * row with skipped 1 and the reason; a file that names a kind we run (in
 * its name or header comments) but cannot be read gets one row with
 * failed 1 and the error.
 */
#ifndef COMP_RUNNER_H
#define COMP_RUNNER_H

#include <stddef.h>

#include "comp_kat.h"
#include "comp_report.h"
#include "comp_vectors.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * comp_run_path runs the file at |path|, or every .rsp, .txt and .json
 * file under the folder |path| (recursively, in name order), adding rows
 * to |rep|. Returns 0, or -1 when |path| cannot be read at all or on no
 * memory (a row with failed 1 says why for a missing path).
 */
int comp_run_path(const char *path, struct comp_report *rep);

/* comp_run_text is comp_run_path on |len| bytes at |text| named |name|. */
int comp_run_text(const char *name, const char *text, size_t len, struct comp_report *rep);

/*
 * comp_run_embedded runs the vectors built into the library (FIPS 197 C.3,
 * SP 800-38A F.2.5 and F.5.5, the GCM specification's test case 14), each
 * as a CAVP file named "embedded/...". Returns 0 or -1 (no memory).
 */
int comp_run_embedded(struct comp_report *rep);

/*
 * comp_wp_run_xts runs an AES-XTS Wycheproof file (ind-cpa schema) on |b|
 * at |a|; comp_wp_run_kwp an AES-KWP file (keywrap schema) through OpenSSL
 * AES-256-WRAP-PAD; comp_wp_run_oaep an RSA-OAEP file through OpenSSL.
 * Same return and counting rules as comp_kat_run_wycheproof.
 */
int comp_wp_run_xts(struct comp_wp *w, enum eng_backend b, enum eng_arch a,
                    struct comp_kat_result *out, struct base_err *err);
int comp_wp_run_kwp(struct comp_wp *w, struct comp_kat_result *out, struct base_err *err);
int comp_wp_run_oaep(struct comp_wp *w, struct comp_kat_result *out, struct base_err *err);

/*
 * comp_oaep_txt_run decrypts every example of a pyca RSA-OAEP text file
 * (|len| bytes at |text|) with its private key and compares the message.
 * Returns 0 when the file was read (see out->failed), -1 with |err| set
 * (COMP_ERR_KIND: no example; COMP_ERR_HEX; COMP_ERR_INCOMPLETE: an example
 * before any private key or without its message; COMP_ERR_NOMEM).
 */
int comp_oaep_txt_run(const char *name, const char *text, size_t len, struct comp_kat_result *out,
                      struct base_err *err);

#ifdef __cplusplus
}
#endif
#endif /* COMP_RUNNER_H */
