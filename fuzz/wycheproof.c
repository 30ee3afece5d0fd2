/*
 * fuzz/wycheproof.c - the Wycheproof JSON reader.
 *
 * Target functions: comp_wp_open_mem, comp_wp_next, comp_wp_rewind.
 *
 * Every test of the file is read to the end or the first error; then the
 * reader is rewound and must return the same number of tests again (the
 * runner reads files twice: counting, then running). Deterministic.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comp_vectors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const struct base_err *err)
{
    if (!comp_error_known(err->code) || memchr(err->msg, '\0', sizeof(err->msg)) == NULL) {
        abort();
    }
}

/* Reads every test; returns how many, and whether it ended on an error. */
static size_t walk(struct comp_wp *w, int *failed)
{
    struct comp_wp_test t;
    struct base_err err;
    size_t n = 0;
    int rc;
    memset(&err, 0, sizeof(err));
    while ((rc = comp_wp_next(w, &t, &err)) == 1) {
        n++;
        if (t.comment == NULL || t.num_flags > COMP_WP_MAX_FLAGS ||
            (t.key.data == NULL) != (t.key.len == 0)) {
            abort();
        }
        for (size_t i = 0; i < t.num_flags; i++) {
            if (t.flags[i] == NULL) {
                abort();
            }
        }
    }
    *failed = rc < 0;
    if (rc < 0) {
        check_error(&err);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct base_err err;
    memset(&err, 0, sizeof(err));
    struct comp_wp *w = comp_wp_open_mem("fuzz.json", (const char *)data, size, &err);
    if (w == NULL) {
        check_error(&err);
        return 0;
    }
    (void)comp_wp_schema_name(comp_wp_schema(w));
    (void)comp_wp_declared_tests(w);
    if (comp_wp_algorithm(w) == NULL) {
        abort();
    }
    int failed1 = 0, failed2 = 0;
    size_t n1 = walk(w, &failed1);
    comp_wp_rewind(w);
    size_t n2 = walk(w, &failed2);
    if (n1 != n2 || failed1 != failed2) {
        abort(); /* a rewound reader must read the same tests */
    }
    comp_wp_free(w);
    return 0;
}
