/*
 * store_io.c - the store's data path: units in and out of slots, byte
 * ranges, the initial fill (see eng_store.h for the model and layout).
 *
 * The hot path is: check access (one clock read), then the range split at
 * extent and batch boundaries, each piece one batch of store_chunk.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eng_secure.h"
#include "error_internal.h"
#include "store_internal.h"

typedef int (*chunk_fn)(struct eng_store *s, const struct eng_cipher *c, const uint8_t *ikey,
                        uint32_t slot, uint64_t first, uint64_t u, size_t n, uint8_t *buf);

static int write_chunk_fn(struct eng_store *s, const struct eng_cipher *c, const uint8_t *ikey,
                          uint32_t slot, uint64_t first, uint64_t u, size_t n, uint8_t *buf)
{
    return st_write_chunk(s, c, ikey, slot, first, u, n, buf);
}

/* Splits [first_unit, first_unit + num_units) at extent and batch boundaries. */
static int for_each_chunk(struct eng_store *s, uint64_t first_unit, size_t num_units, uint8_t *buf,
                          chunk_fn fn)
{
    ENG_ENSURE(first_unit <= s->kt.num_units && num_units <= s->kt.num_units - first_unit,
               ENG_ERR_RANGE);
    size_t us = s->kt.unit_size;
    uint64_t u = first_unit;
    uint64_t end = first_unit + num_units;
    int first_err = ENG_OK;
    while (u < end) {
        uint32_t e = (uint32_t)(u / s->kt.extent_units);
        ENG_ENSURE(s->ciphers[e] != NULL, ENG_ERR_INTERNAL);
        const struct eng_kt_record *r = &s->kt.records[s->active[e]];
        uint64_t ext_end = r->first_unit + r->num_units;
        size_t n = (size_t)((ext_end < end ? ext_end : end) - u);
        if (n > ENG_STORE_BATCH) {
            n = ENG_STORE_BATCH;
        }
        if (fn(s, s->ciphers[e], st_ikey(s, e), r->slot, r->first_unit, u, n,
               buf + (u - first_unit) * us) != 0) {
            /* An authentication failure affects only its units (zeroed); go on, report it. */
            if (eng_errno() != ENG_ERR_AUTH) {
                return -1;
            }
            first_err = ENG_ERR_AUTH;
        }
        u += n;
    }
    ENG_ENSURE(first_err == ENG_OK, first_err);
    return 0;
}

/* Writes every unit once: zeros, or what |fill| supplies. */
int st_initial_fill(struct eng_store *s, eng_store_fill_fn fill, void *arg)
{
    size_t chunk = ENG_STORE_BATCH;
    uint8_t *buf = calloc(chunk, s->kt.unit_size);
    ENG_ENSURE(buf != NULL, ENG_ERR_NOMEM);
    int rc = 0;
    for (uint64_t u = 0; u < s->kt.num_units && rc == 0; u += chunk) {
        size_t n = s->kt.num_units - u < chunk ? (size_t)(s->kt.num_units - u) : chunk;
        if (fill != NULL) {
            rc = fill(arg, u, n, buf);
        }
        if (rc == 0) {
            rc = for_each_chunk(s, u, n, buf, write_chunk_fn);
        }
    }
    eng_cleanse(buf, chunk * s->kt.unit_size);
    free(buf);
    return rc;
}

int eng_store_write(struct eng_store *s, uint64_t first_unit, size_t num_units, const void *in)
{
    ENG_ENSURE_REF(s);
    ENG_ENSURE(in != NULL || num_units == 0, ENG_ERR_NULL);
    ENG_GUARD(eng_store_check_access(s));
    ENG_ENSURE(s->kek_expired == ENG_OK, s->kek_expired); /* expired KEK: reads only */
    /* The chunk walker takes a mutable buffer for both directions; writes only read it. */
    uint8_t *buf = (uint8_t *)(uintptr_t)in;
    ENG_GUARD(st_prepare_write(s, first_unit, num_units));
    ENG_GUARD(for_each_chunk(s, first_unit, num_units, buf, write_chunk_fn));
    if ((s->cfg.flags & ENG_STORE_SYNC) != 0) {
        ENG_GUARD(eng_store_sync(s));
    }
    return 0;
}

int eng_store_read(struct eng_store *s, uint64_t first_unit, size_t num_units, void *out)
{
    ENG_ENSURE_REF(s);
    ENG_ENSURE(out != NULL || num_units == 0, ENG_ERR_NULL);
    ENG_GUARD(eng_store_check_access(s));
    return for_each_chunk(s, first_unit, num_units, out, st_read_chunk);
}

/*
 * Byte ranges: whole units go straight through; a partial head or tail is
 * read, patched, written.
 */
static int bytes_op(struct eng_store *s, uint64_t offset, uint8_t *buf, size_t len, int write)
{
    ENG_ENSURE_REF(s);
    ENG_ENSURE(buf != NULL || len == 0, ENG_ERR_NULL);
    uint64_t total = s->kt.num_units * s->kt.unit_size;
    ENG_ENSURE(offset <= total && len <= total - offset, ENG_ERR_RANGE);
    size_t us = s->kt.unit_size;
    uint8_t *unit = malloc(us);
    ENG_ENSURE(unit != NULL, ENG_ERR_NOMEM);
    int rc = 0;
    while (len > 0 && rc == 0) {
        uint64_t u = offset / us;
        size_t in_unit = (size_t)(offset % us);
        if (in_unit == 0 && len >= us) {
            size_t n = len / us;
            rc = write ? eng_store_write(s, u, n, buf) : eng_store_read(s, u, n, buf);
            n *= us;
            buf += n;
            offset += n;
            len -= n;
            continue;
        }
        size_t take = us - in_unit < len ? us - in_unit : len;
        rc = eng_store_read(s, u, 1, unit);
        if (rc == 0 && write) {
            memcpy(unit + in_unit, buf, take);
            rc = eng_store_write(s, u, 1, unit);
        } else if (rc == 0) {
            memcpy(buf, unit + in_unit, take);
        }
        buf += take;
        offset += take;
        len -= take;
    }
    eng_cleanse(unit, us);
    free(unit);
    return rc;
}

int eng_store_write_bytes(struct eng_store *s, uint64_t offset, const void *in, size_t in_len)
{
    return bytes_op(s, offset, (uint8_t *)(uintptr_t)in, in_len, 1);
}

int eng_store_read_bytes(struct eng_store *s, uint64_t offset, void *out, size_t out_len)
{
    return bytes_op(s, offset, out, out_len, 0);
}
