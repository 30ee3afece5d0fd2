/*
 * tl_vectors.h - small readers of the known-answer file formats the engine
 * tests use (tests only): NIST key-wrap (KW/KWP) response files, CAVP
 * AES-GCM response files and Wycheproof AEAD JSON files. They read the
 * vectors only; the tests run them through the engine themselves.
 * (compliance/ has the full readers for its own runner; engine tests do
 * not link them.)
 */
#ifndef TL_VECTORS_H
#define TL_VECTORS_H

#include <stddef.h>
#include <stdint.h>

/* One NIST key-wrap vector: K, P, C, and whether it is marked FAIL. */
struct tl_kw_vector {
    uint8_t k[32];
    uint8_t p[512];
    size_t p_len;
    uint8_t c[520];
    size_t c_len;
    int fail;
};
/*
 * tl_kw_vectors reads up to |max| vectors from a CAVP KW/KWP file into
 * |out|; returns how many, or -1 if the file cannot be read.
 */
int tl_kw_vectors(const char *path, struct tl_kw_vector *out, int max);

/* One AEAD known answer: a CAVP GCM record or a Wycheproof AEAD test. */
struct tl_aead_vector {
    unsigned long id;                        /* CAVP: the record's first line; Wycheproof: tcId */
    uint8_t *key, *iv, *aad, *pt, *ct, *tag; /* malloc'd (NULL when empty) */
    size_t key_len, iv_len, aad_len, pt_len, ct_len, tag_len;
    int has_pt;     /* 0 for a CAVP decrypt record marked FAIL (it has no PT) */
    int fail;       /* CAVP FAIL, Wycheproof "invalid": must be refused */
    int acceptable; /* Wycheproof "acceptable" */
};

struct tl_aead_set {
    struct tl_aead_vector *v;
    size_t n;
};

/*
 * tl_gcm_rsp_read reads every record of a CAVP GCM response file
 * (gcmEncryptExtIV256.rsp, gcmDecrypt256.rsp: "Count = n" starts a record
 * of Key, IV, PT, AAD, CT, Tag and an optional FAIL line; [headers] and
 * # comments are skipped) into |out|. Returns 0, or -1 with |why| naming
 * the file and line (unreadable file, unknown field, malformed hex, no
 * memory); |out| is then empty. Free with tl_aead_set_free.
 */
int tl_gcm_rsp_read(const char *path, struct tl_aead_set *out, char *why, size_t max_why_len);

/*
 * tl_wycheproof_aead_read reads every test of a Wycheproof AEAD JSON file
 * (testGroups[].tests[]: key, iv, aad, msg, ct, tag, result) into |out|.
 * Returns 0, or -1 with |why| set (unreadable file, not JSON, a missing or
 * malformed member); |out| is then empty. Free with tl_aead_set_free.
 */
int tl_wycheproof_aead_read(const char *path, struct tl_aead_set *out, char *why,
                            size_t max_why_len);

/* tl_aead_set_free releases the vectors of |s| and empties it. */
void tl_aead_set_free(struct tl_aead_set *s);

#endif /* TL_VECTORS_H */
