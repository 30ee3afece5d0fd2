/*
 * fuzz/rsp.c - the CAVP .rsp reader.
 *
 * Target functions: comp_rsp_open_mem, comp_rsp_info (comp_rsp_detect),
 * comp_rsp_next, comp_aes_vector_get, comp_rsp_first_unused.
 *
 * The first byte picks the file name the reader is given (kind detection
 * weighs name and content together), the rest is the file. Every record is
 * read to the end of the file or the first error, and each record the
 * reader returns goes through comp_aes_vector_get and the unused-field
 * check, as the compliance runner does. Deterministic.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comp_vectors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
    NULL,
    "fuzz.rsp",
    "ECBGFSbox256.rsp",
    "CBCMMT256.rsp",
    "gcmEncryptExtIV256.rsp",
    "gcmDecrypt256.rsp",
    "XTSGenAES256.rsp",
    "aes-256-ctr.txt",
};

static void check_error(const struct base_err *err)
{
    if (!comp_error_known(err->code) || memchr(err->msg, '\0', sizeof(err->msg)) == NULL) {
        abort(); /* a failure must carry a known code and a terminated message */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const char *name = names[data[0] % (sizeof(names) / sizeof(names[0]))];
    struct base_err err;
    memset(&err, 0, sizeof(err));
    struct comp_rsp *r = comp_rsp_open_mem(name, (const char *)data + 1, size - 1, &err);
    if (r == NULL) {
        check_error(&err);
        return 0;
    }
    struct comp_rsp_info info;
    int have_info = comp_rsp_info(r, &info, &err) == 0;
    if (!have_info) {
        check_error(&err);
    }
    struct comp_rsp_record *rec = NULL;
    int rc;
    size_t records = 0;
    while ((rc = comp_rsp_next(r, &rec)) == 1) {
        records++;
        if (rec == NULL || rec->num_fields > COMP_RSP_MAX_FIELDS) {
            abort();
        }
        if (have_info) {
            struct comp_aes_vector v;
            struct base_err verr;
            memset(&verr, 0, sizeof(verr));
            if (comp_aes_vector_get(&info, rec, &v, &verr) != 0) {
                check_error(&verr);
            } else {
                unsigned long line = 0;
                (void)comp_rsp_first_unused(rec, &line);
            }
        }
    }
    if (rc < 0) {
        check_error(comp_rsp_error(r));
    } else if (rc != 0) {
        abort();
    }
    comp_rsp_free(r);
    return 0;
}
