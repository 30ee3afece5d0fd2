/*
 * group.c - the data of a group and where buffers sit in memory, shared by
 * the cipher cells (kind_raw.c, kind_ceiling.c, kind_engine.c) and the
 * store cells (store.c).
 *
 * Every cell encrypts or decrypts |batch| units of |unit_bytes| out of
 * place from a fixed input buffer, so repeated runs do identical work.
 * Decrypt cells get real ciphertext (and, for GCM, valid tags) made when
 * the group's data is filled, so the work measured includes the tag check.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

/*
 * The data of a group: every cipher cell of one group (same mode,
 * direction, unit size and batch) uses the same key, input, output, IVs and
 * tags, thread by thread. This machine is a VM: which host cache sets a
 * buffer lands in changes from run to run, and with a buffer per cell that
 * moved engine/raw ratios and A/A twins by 2-5% between runs of the same
 * build (within a run the ratio's standard error was 0.1-0.6%). With the
 * same buffers the cells compared in a ratio do the same memory traffic.
 */
struct group_data {
    int group, thread, refs;
    uint8_t *in, *out, *ivs, *tags;
    uint8_t key[64];
};

#define MAX_GROUP_DATA (4 * BENCH_MAX_THREADS)

/*
 * A cell also holds several copies of its key schedule (engine context,
 * EVP context, ipsec-mb key data) and uses the next one each sample: where
 * a schedule lands is drawn per allocation too, and two cells with one
 * draw each (an A/A twin and its original) differed by up to 2.3%.
 */
static struct group_data group_data[MAX_GROUP_DATA];

size_t bench_key_copy(const struct bench_cell *c)
{
    return c->nsamples % BENCH_KEY_COPIES;
}

size_t bench_key_len(enum eng_mode m)
{
    return m == ENG_MODE_XTS ? 64 : 32;
}

static size_t iv_len(enum eng_mode m)
{
    return m == ENG_MODE_GCM ? 12 : 16;
}

/*
 * Buffers are placed deterministically: each in its own page-aligned
 * mapping, at a fixed offset into its first page. With malloc the offsets
 * of input and output modulo 4 KiB (which decide store-to-load aliasing)
 * differed per cell and per run, and moved engine/raw ratios by up to 7%
 * between runs of the same build.
 */
#define PLACE_IN   0U
#define PLACE_OUT  2112U /* half a page and a cache line away from the input */
#define PLACE_META 1088U

struct mapping {
    void *base;
    size_t len;
};

#define HUGE_BYTES (2U << 20)

/*
 * Input and output also ask for transparent huge pages (2 MiB aligned,
 * MADV_HUGEPAGE): within a huge page physical addresses follow virtual ones,
 * so which cache sets a buffer uses no longer depends on the pages the
 * kernel happened to hand out in this run.
 */
static void *xplaced_huge(size_t len, size_t offset, int huge)
{
    size_t align = huge ? HUGE_BYTES : 4096;
    size_t total = (4096 + offset + len + align - 1) & ~(size_t)(align - 1);
    uint8_t *m =
        mmap(NULL, total + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        return NULL;
    }
    uint8_t *a = (uint8_t *)(((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1));
#ifdef MADV_HUGEPAGE
    if (huge) {
        (void)madvise(a, total, MADV_HUGEPAGE);
    }
#endif
    struct mapping *hdr = (struct mapping *)a; /* first 4 KiB: bookkeeping only */
    hdr->base = m;
    hdr->len = total + align;
    return a + 4096 + offset;
}

static void *xplaced(size_t len, size_t offset)
{
    return xplaced_huge(len, offset, 1);
}

static void xunplace(void *p, size_t offset)
{
    if (p == NULL) {
        return;
    }
    struct mapping *hdr = (struct mapping *)((uint8_t *)p - offset - 4096);
    munmap(hdr->base, hdr->len);
}

static void *xaligned(size_t len)
{
    return xplaced_huge(len, PLACE_META, 0);
}

void *bench_key_place(size_t len)
{
    return xaligned(len);
}

void bench_key_unplace(void *p)
{
    xunplace(p, PLACE_META);
}

static void set_units(struct eng_unit *units, const struct bench_cell *c, uint8_t *in, uint8_t *out,
                      uint8_t *ivs, uint8_t *tags)
{
    for (size_t i = 0; i < c->batch; i++) {
        units[i] = (struct eng_unit){.in = in + i * c->unit_bytes,
                                     .out = out + i * c->unit_bytes,
                                     .len = c->unit_bytes,
                                     .iv = ivs + i * 16,
                                     .iv_len = iv_len(c->mode),
                                     .tag = tags + i * 16,
                                     .tag_len = 16};
    }
}

static void group_data_release(struct group_data *g)
{
    if (g == NULL || --g->refs > 0) {
        return;
    }
    xunplace(g->in, PLACE_IN);
    xunplace(g->out, PLACE_OUT);
    xunplace(g->ivs, PLACE_META);
    xunplace(g->tags, PLACE_META);
    OPENSSL_cleanse(g->key, sizeof(g->key));
    memset(g, 0, sizeof(*g));
}

/* Fills a new group's data: random key, input and IVs; for decrypt, real ciphertext (+ tags) made
 * by OpenSSL. */
static int group_data_fill(struct group_data *g, const struct bench_cell *c, struct base_err *e)
{
    size_t total = c->batch * c->unit_bytes;
    g->in = xplaced(total, PLACE_IN);
    g->out = xplaced(total, PLACE_OUT);
    g->ivs = xaligned(c->batch * 16);
    g->tags = xaligned(c->batch * 16);
    if (!g->in || !g->out || !g->ivs || !g->tags) {
        return base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "out of memory");
    }
    if (RAND_bytes(g->in, (int)total) != 1 || RAND_bytes(g->key, 64) != 1 ||
        RAND_bytes(g->ivs, (int)(c->batch * 16)) != 1) {
        return base_err_set(e, BENCH_ERR_LIB, BASE_HERE, "random generator failed");
    }
    if (c->dir != ENG_DECRYPT) {
        return 0;
    }
    struct eng_cipher *ref =
        eng_cipher_new(c->mode, ENG_BACKEND_OPENSSL, 0, g->key, bench_key_len(c->mode));
    uint8_t *pt = malloc(total);
    struct eng_unit *units = calloc(c->batch, sizeof(*units));
    if (ref == NULL || pt == NULL || units == NULL) {
        if (ref == NULL) {
            base_err_set(e, BENCH_ERR_LIB, BASE_HERE, "%s", eng_strerror(eng_errno()));
        } else {
            base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "out of memory");
        }
        eng_cipher_free(ref);
        free(pt);
        free(units);
        return -1;
    }
    memcpy(pt, g->in, total);
    set_units(units, c, pt, g->in, g->ivs, g->tags);
    int rc = eng_cipher_batch(ref, ENG_ENCRYPT, units, c->batch);
    eng_cipher_free(ref);
    free(pt);
    free(units);
    if (rc != 0) {
        return base_err_set(e, BENCH_ERR_LIB, BASE_HERE, "%s", eng_strerror(eng_errno()));
    }
    return 0;
}

/* The data of cell |c|'s group for thread |t|, made by its first cell. */
static struct group_data *group_data_get(const struct bench_cell *c, int t, struct base_err *e)
{
    struct group_data *free_slot = NULL;
    for (size_t i = 0; i < MAX_GROUP_DATA; i++) {
        struct group_data *g = &group_data[i];
        if (g->refs > 0 && g->group == c->group && g->thread == t) {
            g->refs++;
            return g;
        }
        if (g->refs == 0 && free_slot == NULL) {
            free_slot = g;
        }
    }
    if (free_slot == NULL) {
        base_err_set(e, BASE_ERR_CAP, BASE_HERE, "too many groups prepared at once");
        return NULL;
    }
    *free_slot = (struct group_data){.group = c->group, .thread = t, .refs = 1};
    if (group_data_fill(free_slot, c, e) != 0) {
        group_data_release(free_slot);
        return NULL;
    }
    return free_slot;
}

void *bench_group_buffer(const struct bench_cell *c, int t, int output, void **handle,
                         struct base_err *e)
{
    struct group_data *g = group_data_get(c, t, e);
    *handle = g;
    return g == NULL ? NULL : output ? g->out : g->in;
}

void bench_group_buffer_release(void *handle)
{
    group_data_release(handle);
}

int bench_units_get(const struct bench_cell *c, int t, struct bench_units *u, struct base_err *e)
{
    memset(u, 0, sizeof(*u));
    u->units = calloc(c->batch, sizeof(*u->units));
    if (u->units == NULL) {
        return base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "out of memory");
    }
    struct group_data *g = group_data_get(c, t, e);
    if (g == NULL) {
        return -1;
    }
    u->group = g;
    u->in = g->in;
    u->out = g->out;
    u->ivs = g->ivs;
    u->tags = g->tags;
    u->key = g->key;
    set_units(u->units, c, u->in, u->out, u->ivs, u->tags);
    return 0;
}

void bench_units_put(struct bench_units *u)
{
    group_data_release(u->group);
    free(u->units);
    memset(u, 0, sizeof(*u));
}

void *bench_cipher_state_new(struct bench_cell *c, int t, size_t size, struct base_err *e)
{
    struct bench_units *u = calloc(1, size);
    if (u == NULL) {
        base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "out of memory");
        return NULL;
    }
    c->state[t] = u;
    return bench_units_get(c, t, u, e) == 0 ? u : NULL;
}

void bench_cipher_state_free(void *state)
{
    bench_units_put(state);
    free(state);
}
