/*
 * data.c - cmk-fs's data path: the contents of open files, unit by unit
 * (see cmkfs.h). fsops.c turns FUSE calls into these.
 *
 * Data units (XTS): unit u of a file is backing bytes CMKFS_HDR + u * unit ..,
 * encrypted with XTS under the file's key with tweak u. Every unit is
 * unit bytes long except the file's last, which is as long as the file
 * has bytes there (length-preserving: ciphertext stealing). A last unit
 * shorter than 16 bytes (below XTS's minimum) is XORed with a key stream
 * block: the XTS encryption of 16 zero bytes under tweak u | 2^127; it is
 * rewritten in full whenever the file grows past it.
 * Holes: a unit whose ciphertext is all zeros (at least 16 bytes) reads as
 * zeros. The backing file's holes (sparse writes, truncate up, fallocate)
 * are zeros there, and a real XTS ciphertext of 16 or more zero bytes has
 * probability 2^-128; a last unit shorter than 16 bytes is never taken for
 * a hole because cmk-fs always writes it (truncate and write encrypt it).
 * GCM: unit u is a CMKFS_GCM_REC-byte record (nonce | tag | key
 * generation) and its ciphertext at CMKFS_HDR + u * (unit + CMKFS_GCM_REC)
 * (phys_off); the last unit is as long as the file has bytes there. A
 * fresh random nonce per encryption, AAD = header nonce || be64(u); a unit
 * that fails authentication reads as EIO (gcm_range). Holes: a unit whose
 * record and ciphertext are all zeros reads as zeros. Keys: one per key
 * generation of the file, counted and retired as the store's DEKs are
 * (gcm_reserve). See fs/README.md.
 * Locking: one read-write lock per backing inode; reads share it, writes,
 * truncates and fallocates take it exclusively (the read-modify-write of a
 * partial unit must not interleave with another write to the same unit).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmkfs.h"
#include "eng_secure.h"

struct cmkfs g_fs;

/* --- key state ----------------------------------------------------------------- */

uint64_t cmkfs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int cmkfs_key_ok(void)
{
    if (g_fs.kr == NULL) {
        return 0;
    }
    if (atomic_load(&g_fs.revoked)) {
        return -EIO;
    }
    if (cmkfs_now_ns() - atomic_load(&g_fs.last_ok_ns) > g_fs.deadline_ns) {
        atomic_store(&g_fs.revoked, 1); /* no good KEK check for too long: a hung provider */
        return -EIO;
    }
    return 0;
}

/* --- scratch buffers (per FUSE worker thread) ----------------------------- */

static __thread uint8_t *tl_buf[3];
static __thread size_t tl_cap[3];

static uint8_t *scratch(int which, size_t len)
{
    if (tl_cap[which] < len) {
        free(tl_buf[which]);
        tl_buf[which] = malloc(len);
        tl_cap[which] = tl_buf[which] != NULL ? len : 0;
    }
    return tl_buf[which];
}

static int pread_full(int fd, uint8_t *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, buf + done, len - done, off + (off_t)done);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -errno;
        }
        if (r == 0) { /* past the backing end: zeros (cannot happen under the node lock) */
            memset(buf + done, 0, len - done);
            break;
        }
        done += (size_t)r;
    }
    return 0;
}

static int pwrite_full(int fd, const uint8_t *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pwrite(fd, buf + done, len - done, off + (off_t)done);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -errno;
        }
        done += (size_t)r;
    }
    return 0;
}

/* --- layout ------------------------------------------------------------------ */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Backing offset of unit |u|: the header, then per unit its record (GCM) and ciphertext. */
static uint64_t phys_off(uint64_t u)
{
    return CMKFS_HDR + u * ((uint64_t)g_fs.unit + g_fs.rec);
}

/* Backing bytes that hold |len| file bytes from a unit's start on. */
static uint64_t phys_len(uint64_t len)
{
    uint64_t r = len % g_fs.unit;
    return len / g_fs.unit * ((uint64_t)g_fs.unit + g_fs.rec) + (r != 0 ? r + g_fs.rec : 0);
}

/*
 * The file size of a backing file of |backing| bytes. GCM: a tail of at most
 * CMKFS_GCM_REC bytes (a torn extension) holds no file byte.
 */
uint64_t cmkfs_logical_size(uint64_t backing)
{
    if (backing <= CMKFS_HDR) {
        return 0;
    }
    uint64_t d = backing - CMKFS_HDR;
    uint64_t pu = (uint64_t)g_fs.unit + g_fs.rec;
    uint64_t r = d % pu;
    return d / pu * g_fs.unit + (r > g_fs.rec ? r - g_fs.rec : 0);
}

/* The file's size, from its backing size. */
static int file_size(int fd, uint64_t *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return -errno;
    }
    *out = cmkfs_logical_size((uint64_t)st.st_size);
    return 0;
}

/* --- units ------------------------------------------------------------------ */

static int all_zero(const uint8_t *p, size_t len)
{
    static const uint8_t zeros[64];
    if (len >= sizeof(zeros) && memcmp(p, zeros, sizeof(zeros)) != 0) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] != 0) {
            return 0;
        }
    }
    return 1;
}

/* A last unit shorter than 16 bytes: XOR with the XTS encryption of zeros under tweak u | 2^127. */
static int short_unit(const struct eng_cipher *c, uint64_t u, const uint8_t *in, uint8_t *out,
                      size_t len)
{
    uint8_t zero[ENG_BLOCK_BYTES] = {0};
    uint8_t ks[ENG_BLOCK_BYTES];
    uint8_t tweak[ENG_XTS_TWEAK_BYTES];
    eng_xts_tweak_from_u64(tweak, u);
    tweak[15] |= 0x80;
    struct eng_unit unit = {
        .in = zero, .out = ks, .len = sizeof(ks), .iv = tweak, .iv_len = sizeof(tweak)};
    if (eng_cipher_encrypt(c, &unit) != 0) {
        return -EIO;
    }
    for (size_t i = 0; i < len; i++) {
        out[i] = in[i] ^ ks[i];
    }
    eng_cleanse(ks, sizeof(ks));
    return 0;
}

/*
 * XTS: encrypts or decrypts |len| bytes from unit |first| on: whole units,
 * the last one possibly shorter. Decryption turns all-zero units into
 * zeros (holes). |in| and |out| may be equal. Passthrough: a copy.
 */
static int xts_range(const struct cmkfs_node *n, enum eng_dir dir, uint64_t first,
                     const uint8_t *in, uint8_t *out, size_t len)
{
    if (g_fs.passthrough) {
        if (in != out) {
            memcpy(out, in, len);
        }
        return 0;
    }
    if (n->cipher == NULL) {
        return -EIO;
    }
    struct eng_unit units[CMKFS_BATCH];
    uint8_t tweaks[CMKFS_BATCH][ENG_XTS_TWEAK_BYTES];
    size_t nu = 0;
    size_t unit = g_fs.unit;
    for (size_t pos = 0; pos < len; pos += unit) {
        uint64_t u = first + pos / unit;
        size_t ul = len - pos < unit ? len - pos : unit;
        if (ul < ENG_BLOCK_BYTES) {
            int rc = short_unit(n->cipher, u, in + pos, out + pos, ul);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        if (dir == ENG_DECRYPT && all_zero(in + pos, ul)) {
            memset(out + pos, 0, ul);
            continue;
        }
        eng_xts_tweak_from_u64(tweaks[nu], u);
        units[nu] = (struct eng_unit){.in = in + pos,
                                      .out = out + pos,
                                      .len = ul,
                                      .iv = tweaks[nu],
                                      .iv_len = ENG_XTS_TWEAK_BYTES};
        if (++nu == CMKFS_BATCH) {
            if (eng_cipher_batch(n->cipher, dir, units, nu) != 0) {
                return -EIO;
            }
            nu = 0;
        }
    }
    if (nu > 0 && eng_cipher_batch(n->cipher, dir, units, nu) != 0) {
        return -EIO;
    }
    return 0;
}

/* GCM: the cipher of key generation |gen| of the file with header nonce |fnonce|. */
static int gcm_derive(const uint8_t *fnonce, uint32_t gen, struct eng_cipher **out)
{
    uint8_t ctx[CMKFS_NONCE_BYTES + 4];
    memcpy(ctx, fnonce, CMKFS_NONCE_BYTES);
    put_be32(ctx + CMKFS_NONCE_BYTES, gen);
    uint8_t *key = eng_secure_alloc(ENG_AES256_KEY_BYTES);
    if (key == NULL) {
        return -ENOMEM;
    }
    *out = NULL;
    if (eng_keyring_derive(g_fs.kr, CMKFS_HKDF_LABEL "gcm", ctx, sizeof(ctx), key,
                           ENG_AES256_KEY_BYTES) == 0) {
        *out = eng_cipher_new(ENG_MODE_GCM, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, key,
                              ENG_AES256_KEY_BYTES);
    }
    eng_secure_free(key);
    return *out != NULL ? 0 : -EIO;
}

/* GCM: the header's key generation and reservation := n->gen, |count| (|sync|: durably). */
static int gcm_save_count(struct cmkfs_node *n, int fd, uint64_t count, int sync)
{
    uint8_t b[12];
    put_be32(b, n->gen);
    put_be32(b + 4, (uint32_t)(count >> 32));
    put_be32(b + 8, (uint32_t)count);
    int rc = pwrite_full(fd, b, sizeof(b), CMKFS_HDR_GCM_OFF);
    if (rc == 0 && sync && fdatasync(fd) != 0) {
        rc = -errno;
    }
    if (rc == 0) {
        n->inv_reserved = count;
    }
    return rc;
}

/*
 * GCM: keeps |c| (generation |gen|) for reading units of that generation,
 * or frees it when CMKFS_OLD_GENS are kept already. Entries stay until the
 * node goes or its keys are wiped, so readers may use them without a lock.
 */
static void gcm_keep_old(struct cmkfs_node *n, uint32_t gen, struct eng_cipher *c)
{
    pthread_mutex_lock(&n->old_lock);
    if (c != NULL && n->n_old < CMKFS_OLD_GENS) {
        n->old_gen[n->n_old] = gen;
        n->old[n->n_old++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&n->old_lock);
    eng_cipher_free(c);
}

/* GCM: the cipher of generation |gen| (*tmp: one the caller frees, when none is kept). */
static int gcm_cipher_of(struct cmkfs_node *n, uint32_t gen, const struct eng_cipher **c,
                         struct eng_cipher **tmp)
{
    *tmp = NULL;
    if (gen == n->gen) {
        *c = n->cipher;
        return 0;
    }
    pthread_mutex_lock(&n->old_lock);
    for (size_t i = 0; i < n->n_old; i++) {
        if (n->old_gen[i] == gen) {
            *c = n->old[i];
            pthread_mutex_unlock(&n->old_lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&n->old_lock);
    struct eng_cipher *d = NULL;
    int rc = gcm_derive(n->fnonce, gen, &d);
    if (rc != 0) {
        return rc;
    }
    *c = d;
    pthread_mutex_lock(&n->old_lock);
    if (gen < n->gen && n->n_old < CMKFS_OLD_GENS) { /* a real older generation: keep it */
        n->old_gen[n->n_old] = gen;
        n->old[n->n_old++] = d;
    } else { /* a corrupt record's generation, or no room */
        *tmp = d;
    }
    pthread_mutex_unlock(&n->old_lock);
    return 0;
}

/*
 * GCM: counts |k| encryptions under the file's current key (node lock held
 * exclusively). Counts are reserved in the header (generation, reserved
 * count; made durable) before they are used, so a crash only over-counts;
 * a key that would pass g_fs.gcm_limit is retired for the next generation.
 */
static int gcm_reserve(struct cmkfs_node *n, int fd, uint64_t k)
{
    if (n->inv_used + k > g_fs.gcm_limit) {
        struct eng_cipher *c = NULL;
        int rc = gcm_derive(n->fnonce, n->gen + 1, &c);
        if (rc != 0) {
            return rc;
        }
        gcm_keep_old(n, n->gen, n->cipher); /* its units still read */
        n->cipher = c;
        n->gen++;
        n->inv_used = 0;
        n->inv_reserved = 0;
    }
    if (n->inv_used + k > n->inv_reserved) {
        uint64_t want = n->inv_used + k + CMKFS_GCM_RESERVE;
        want = want < g_fs.gcm_limit ? want : g_fs.gcm_limit;
        int rc = gcm_save_count(n, fd, want, 1);
        if (rc != 0) {
            return rc;
        }
    }
    n->inv_used += k;
    return 0;
}

/*
 * GCM: encrypts |len| file bytes from unit |first| on from |plain| into
 * |phys| (per unit: record, then ciphertext; phys_len(len) bytes), or
 * decrypts them back. Every encryption draws a fresh random 96-bit nonce
 * (as the store, SP 800-38D 8.2.2). AAD = the file's header nonce || be64
 * unit number, so a unit cannot move within a file or to another file.
 * Decryption: an all-zero unit (record and ciphertext) is a hole (zeros);
 * a unit that fails authentication is zeroed and *bad (else len) is set to
 * the file bytes before the first such unit.
 */
static int gcm_range(struct cmkfs_node *n, int fd, enum eng_dir dir, uint64_t first, uint8_t *plain,
                     uint8_t *phys, size_t len, size_t *bad)
{
    if (n->cipher == NULL) {
        return -EIO;
    }
    struct eng_unit units[CMKFS_BATCH];
    uint8_t aads[CMKFS_BATCH][CMKFS_GCM_AAD];
    size_t at[CMKFS_BATCH];
    size_t unit = g_fs.unit;
    size_t pu = unit + CMKFS_GCM_REC;
    *bad = len;
    for (size_t base = 0; base < len; base += CMKFS_BATCH * unit) {
        size_t nu = 0;
        size_t stop = len - base < CMKFS_BATCH * unit ? len : base + CMKFS_BATCH * unit;
        size_t count = (stop - base + unit - 1) / unit;
        if (dir == ENG_ENCRYPT) {
            int rc = gcm_reserve(n, fd, count);
            if (rc != 0) {
                return rc;
            }
        }
        uint8_t nonces[CMKFS_BATCH][ENG_GCM_NONCE_BYTES];
        if (dir == ENG_ENCRYPT &&
            RAND_bytes(&nonces[0][0], (int)(count * ENG_GCM_NONCE_BYTES)) != 1) {
            return -EIO;
        }
        for (size_t pos = base; pos < stop; pos += unit) {
            uint64_t u = first + pos / unit;
            size_t ul = len - pos < unit ? len - pos : unit;
            uint8_t *rec = phys + pos / unit * pu;
            if (dir == ENG_ENCRYPT) {
                memcpy(rec, nonces[pos / unit - base / unit], ENG_GCM_NONCE_BYTES);
                put_be32(rec + CMKFS_GCM_REC - 4, n->gen);
            } else if (all_zero(rec, ul + CMKFS_GCM_REC)) {
                memset(plain + pos, 0, ul);
                continue;
            }
            memcpy(aads[nu], n->fnonce, CMKFS_NONCE_BYTES);
            put_be32(aads[nu] + CMKFS_NONCE_BYTES, (uint32_t)(u >> 32));
            put_be32(aads[nu] + CMKFS_NONCE_BYTES + 4, (uint32_t)u);
            units[nu] =
                (struct eng_unit){.in = dir == ENG_ENCRYPT ? plain + pos : rec + CMKFS_GCM_REC,
                                  .out = dir == ENG_ENCRYPT ? rec + CMKFS_GCM_REC : plain + pos,
                                  .len = ul,
                                  .iv = rec,
                                  .iv_len = ENG_GCM_NONCE_BYTES,
                                  .aad = aads[nu],
                                  .aad_len = CMKFS_GCM_AAD,
                                  .tag = rec + ENG_GCM_NONCE_BYTES,
                                  .tag_len = ENG_GCM_TAG_BYTES};
            at[nu++] = pos;
        }
        if (nu == 0) {
            continue;
        }
        if (dir == ENG_ENCRYPT) {
            if (eng_cipher_batch(n->cipher, dir, units, nu) != 0) {
                return -EIO;
            }
            continue;
        }
        /* Decrypt, each unit under the key generation its record names. */
        size_t j = 0;
        while (j < nu) {
            uint32_t gen = get_be32(units[j].iv + CMKFS_GCM_REC - 4);
            size_t k = j + 1;
            while (k < nu && get_be32(units[k].iv + CMKFS_GCM_REC - 4) == gen) {
                k++;
            }
            struct eng_cipher *tmp = NULL;
            const struct eng_cipher *c = NULL;
            int rc = gcm_cipher_of(n, gen, &c, &tmp); /* gen != n->gen: before a re-key */
            if (rc != 0) {
                return rc;
            }
            eng_cipher_batch(c, dir, units + j, k - j);
            eng_cipher_free(tmp);
            for (size_t i = j; i < k; i++) {
                if (units[i].status != ENG_OK && at[i] < *bad) {
                    *bad = at[i];
                }
            }
            j = k;
        }
        if (*bad < len) {
            return 0;
        }
    }
    return 0;
}

/*
 * Encrypts (|plain| -> |phys|) or decrypts (|phys| -> |plain|) |len| file
 * bytes from unit |first| on; phys holds phys_len(len) bytes. XTS and
 * passthrough: phys may equal plain. *bad: as gcm_range (len under XTS).
 */
static int crypt_units(struct cmkfs_node *n, int fd, enum eng_dir dir, uint64_t first,
                       uint8_t *plain, uint8_t *phys, size_t len, size_t *bad)
{
    *bad = len;
    if (!g_fs.passthrough && g_fs.mode == ENG_MODE_GCM) {
        return gcm_range(n, fd, dir, first, plain, phys, len, bad);
    }
    return dir == ENG_ENCRYPT ? xts_range(n, dir, first, plain, phys, len)
                              : xts_range(n, dir, first, phys, plain, len);
}

/* Encrypts |len| file bytes of |plain| from unit |first| on and writes them. */
static int store_units(struct cmkfs_node *n, int fd, uint64_t first, uint8_t *plain, size_t len)
{
    size_t plen = (size_t)phys_len(len);
    uint8_t *c = g_fs.rec == 0 ? plain : scratch(2, plen);
    size_t bad;
    if (c == NULL) {
        return -ENOMEM;
    }
    int rc = crypt_units(n, fd, ENG_ENCRYPT, first, plain, c, len, &bad);
    return rc != 0 ? rc : pwrite_full(fd, c, plen, (off_t)phys_off(first));
}

/* Plaintext of unit |u| of a file of |size| bytes into |dst| (unit bytes, zero-padded). */
static int load_plain(struct cmkfs_node *n, int fd, uint64_t u, uint64_t size, uint8_t *dst)
{
    uint64_t start = u * g_fs.unit;
    memset(dst, 0, g_fs.unit);
    if (start >= size) {
        return 0;
    }
    size_t len = size - start < g_fs.unit ? (size_t)(size - start) : g_fs.unit;
    size_t plen = (size_t)phys_len(len);
    uint8_t *c = g_fs.rec == 0 ? dst : scratch(2, plen);
    if (c == NULL) {
        return -ENOMEM;
    }
    size_t bad;
    int rc = pread_full(fd, c, plen, (off_t)phys_off(u));
    if (rc == 0) {
        rc = crypt_units(n, fd, ENG_DECRYPT, u, dst, c, len, &bad);
    }
    return rc != 0 ? rc : (bad < len ? -EIO : 0);
}

/* Re-encrypts unit |u| (plaintext of a file of |old| bytes) at its length in a file of |size|. */
static int rewrite_unit(struct cmkfs_node *n, int fd, uint64_t u, uint64_t old, uint64_t size)
{
    uint8_t *p = scratch(0, g_fs.unit);
    if (p == NULL) {
        return -ENOMEM;
    }
    int rc = load_plain(n, fd, u, old, p);
    uint64_t start = u * g_fs.unit;
    size_t len = size - start < g_fs.unit ? (size_t)(size - start) : g_fs.unit;
    return rc != 0 ? rc : store_units(n, fd, u, p, len);
}

/* Sets the file's size to |size| (node lock held exclusively). */
static int set_size(struct cmkfs_node *n, int fd, uint64_t size)
{
    uint64_t old;
    int rc = file_size(fd, &old);
    if (rc != 0 || size == old) {
        return rc;
    }
    uint64_t unit = g_fs.unit;
    if (size > old) {
        if (old % unit != 0) { /* the old last unit grows */
            rc = rewrite_unit(n, fd, old / unit, old, size);
        }
        if (rc == 0 && ftruncate(fd, (off_t)(CMKFS_HDR + phys_len(size))) != 0) {
            rc = -errno;
        }
        if (rc == 0 && size % unit != 0 && size / unit * unit >= old) { /* a new last unit */
            rc = rewrite_unit(n, fd, size / unit, old, size);
        }
        return rc;
    }
    if (size % unit == 0) {
        return ftruncate(fd, (off_t)(CMKFS_HDR + phys_len(size))) != 0 ? -errno : 0;
    }
    /* shrinking into a unit: keep its plaintext, cut, re-encrypt at the new length */
    uint64_t u = size / unit;
    uint8_t *p = scratch(0, unit);
    if (p == NULL) {
        return -ENOMEM;
    }
    rc = load_plain(n, fd, u, old, p);
    if (rc == 0 && ftruncate(fd, (off_t)(CMKFS_HDR + phys_len(size))) != 0) {
        rc = -errno;
    }
    return rc != 0 ? rc : store_units(n, fd, u, p, (size_t)(size - u * unit));
}

/* --- headers and nodes ------------------------------------------------------ */

/*
 * Header: magic (8) | mode (1) | 0 (3) | unit size (4, BE) | nonce (32) |
 * fs id (16) | GCM: key generation (4, BE) | reserved encryptions (8, BE) | zeros.
 */
int cmkfs_write_header(int fd)
{
    uint8_t *h = calloc(1, CMKFS_HDR);
    if (h == NULL) {
        return -ENOMEM;
    }
    memcpy(h, CMKFS_MAGIC, 8);
    h[8] = g_fs.passthrough ? CMKFS_MODE_PLAIN : (uint8_t)g_fs.mode;
    put_be32(h + 12, g_fs.unit);
    int rc = RAND_bytes(h + 16, CMKFS_NONCE_BYTES) == 1 ? 0 : -EIO;
    memcpy(h + 16 + CMKFS_NONCE_BYTES, g_fs.fs_id, sizeof(g_fs.fs_id));
    if (rc == 0) {
        rc = pwrite_full(fd, h, CMKFS_HDR, 0);
    }
    free(h);
    return rc;
}

/* Reads and checks the header; derives the file's cipher. Node lock held exclusively. */
static int load_key(struct cmkfs_node *n, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return -errno;
    }
    if (st.st_size == 0) { /* a bare file (made outside cmk-fs, or a crash at create) */
        int rc = cmkfs_write_header(fd);
        if (rc != 0) {
            return rc;
        }
    } else if (st.st_size < (off_t)CMKFS_HDR) {
        return -EIO;
    }
    uint8_t h[CMKFS_HDR_GCM_OFF + 12];
    int rc = pread_full(fd, h, sizeof(h), 0);
    if (rc != 0) {
        return rc;
    }
    uint8_t mode = g_fs.passthrough ? CMKFS_MODE_PLAIN : (uint8_t)g_fs.mode;
    if (memcmp(h, CMKFS_MAGIC, 8) != 0 || h[8] != mode || get_be32(h + 12) != g_fs.unit ||
        memcmp(h + 16 + CMKFS_NONCE_BYTES, g_fs.fs_id, sizeof(g_fs.fs_id)) != 0) {
        return -EIO; /* not a file of this filesystem */
    }
    if (g_fs.passthrough || n->cipher != NULL) {
        return 0;
    }
    if (g_fs.mode == ENG_MODE_GCM) {
        memcpy(n->fnonce, h + 16, CMKFS_NONCE_BYTES);
        n->gen = get_be32(h + CMKFS_HDR_GCM_OFF);
        n->inv_reserved = (uint64_t)get_be32(h + CMKFS_HDR_GCM_OFF + 4) << 32 |
                          get_be32(h + CMKFS_HDR_GCM_OFF + 8);
        n->inv_used = n->inv_reserved; /* what happened after the last reservation is unknown */
        return gcm_derive(n->fnonce, n->gen, &n->cipher);
    }
    uint8_t *key = eng_secure_alloc(ENG_XTS_KEY_BYTES);
    if (key == NULL) {
        return -ENOMEM;
    }
    rc = eng_keyring_derive(g_fs.kr, CMKFS_HKDF_LABEL "xts", h + 16, CMKFS_NONCE_BYTES, key,
                            ENG_XTS_KEY_BYTES);
    if (rc == 0) {
        n->cipher =
            eng_cipher_new(ENG_MODE_XTS, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, key, ENG_XTS_KEY_BYTES);
    }
    eng_secure_free(key);
    return n->cipher != NULL ? 0 : -EIO;
}

/* Wipes the node's ciphers (its lock held exclusively, or no other user). */
static void node_wipe(struct cmkfs_node *n)
{
    eng_cipher_free(n->cipher); /* wipes the key schedule */
    n->cipher = NULL;
    for (size_t i = 0; i < n->n_old; i++) {
        eng_cipher_free(n->old[i]);
        n->old[i] = NULL;
    }
    n->n_old = 0;
}

/* Drops a reference to |n| (|fd|: an open descriptor of its backing file). */
void cmkfs_node_put(struct cmkfs_node *n, int fd)
{
    pthread_mutex_lock(&g_fs.nodes_lock);
    if (--n->refs > 0) {
        pthread_mutex_unlock(&g_fs.nodes_lock);
        return;
    }
    if (n->cipher != NULL && g_fs.rec != 0 && n->inv_used < n->inv_reserved) {
        /*
         * GCM, last close: the header's reservation shrinks to what was
         * used, so the next open goes on counting from there (a crash
         * leaves the reservation, which only over-counts). Under
         * nodes_lock: no new node of this file reads the header meanwhile.
         */
        gcm_save_count(n, fd, n->inv_used, 0);
    }
    for (struct cmkfs_node **pp = &g_fs.nodes; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == n) {
            *pp = n->next;
            break;
        }
    }
    pthread_mutex_unlock(&g_fs.nodes_lock);
    node_wipe(n);
    pthread_mutex_destroy(&n->old_lock);
    pthread_rwlock_destroy(&n->rw);
    free(n);
}

/* The node of the backing file |fd| (one per inode), its key loaded. */
int cmkfs_node_get(int fd, struct cmkfs_node **out)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return -errno;
    }
    pthread_mutex_lock(&g_fs.nodes_lock);
    struct cmkfs_node *n = g_fs.nodes;
    while (n != NULL && (n->dev != st.st_dev || n->ino != st.st_ino)) {
        n = n->next;
    }
    if (n == NULL) {
        n = calloc(1, sizeof(*n));
        if (n == NULL) {
            pthread_mutex_unlock(&g_fs.nodes_lock);
            return -ENOMEM;
        }
        n->dev = st.st_dev;
        n->ino = st.st_ino;
        pthread_rwlock_init(&n->rw, NULL);
        pthread_mutex_init(&n->old_lock, NULL);
        n->next = g_fs.nodes;
        g_fs.nodes = n;
    }
    n->refs++;
    pthread_mutex_unlock(&g_fs.nodes_lock);
    pthread_rwlock_wrlock(&n->rw);
    int rc = cmkfs_key_ok();
    if (rc == 0) {
        rc = load_key(n, fd);
    }
    pthread_rwlock_unlock(&n->rw);
    if (rc != 0) {
        cmkfs_node_put(n, fd);
        return rc;
    }
    *out = n;
    return 0;
}

void cmkfs_drop_keys(void)
{
    pthread_mutex_lock(&g_fs.nodes_lock);
    for (struct cmkfs_node *n = g_fs.nodes; n != NULL; n = n->next) {
        pthread_rwlock_wrlock(&n->rw);
        node_wipe(n);
        pthread_rwlock_unlock(&n->rw);
    }
    pthread_mutex_unlock(&g_fs.nodes_lock);
}

/* --- reads and writes -------------------------------------------------------- */

/*
 * Reads |len| bytes at |off| (within a file of |fsize| bytes) into |buf|:
 * whole units straight into the caller's buffer, else through a scratch one.
 * Returns the bytes read (short before a unit that failed authentication),
 * or -errno.
 */
static int read_span(struct cmkfs_handle *h, char *buf, uint64_t len, uint64_t off, uint64_t fsize)
{
    uint64_t unit = g_fs.unit;
    uint64_t first = off / unit;
    uint64_t end = (off + len + unit - 1) / unit * unit;
    end = end < fsize ? end : fsize;
    size_t span = (size_t)(end - first * unit);
    size_t skip = (size_t)(off - first * unit);
    uint8_t *p = skip == 0 && span == len ? (uint8_t *)buf : scratch(0, span);
    uint8_t *c = g_fs.rec == 0 ? p : scratch(1, (size_t)phys_len(span));
    size_t bad = span;
    int rc = p == NULL || c == NULL
                 ? -ENOMEM
                 : pread_full(h->fd, c, (size_t)phys_len(span), (off_t)phys_off(first));
    if (rc == 0) {
        rc = crypt_units(h->n, h->fd, ENG_DECRYPT, first, p, c, span, &bad);
    }
    if (rc == 0 && bad <= skip) { /* the first unit asked for failed authentication */
        return -EIO;
    }
    if (rc != 0) {
        return rc;
    }
    len = bad - skip < len ? bad - skip : len; /* a short read stops before a unit that failed */
    if (p != (uint8_t *)buf) {
        memcpy(buf, p + skip, len);
    }
    return (int)len;
}

int cmkfs_read(struct cmkfs_handle *h, char *buf, size_t size, uint64_t off)
{
    pthread_rwlock_rdlock(&h->n->rw);
    uint64_t fsize = 0;
    int rc = file_size(h->fd, &fsize);
    if (rc != 0 || off >= fsize || size == 0) {
        pthread_rwlock_unlock(&h->n->rw);
        return rc;
    }
    uint64_t len = fsize - off < size ? fsize - off : size;
    /*
     * XTS and passthrough (no per-unit records) with an aligned start: the
     * whole units go straight into the caller's buffer, and only a partial
     * last unit through scratch. (The kernel cuts a 1 MiB read into an
     * unaligned user buffer into 1 MiB - 16 and 16 bytes: without this the
     * whole MiB took a detour and a copy.)
     */
    uint64_t whole = 0;
    if (g_fs.rec == 0 && off % g_fs.unit == 0) {
        whole = len / g_fs.unit * g_fs.unit;
    }
    /* in chunks of CMKFS_BATCH units: each is read and decrypted while it is in cache */
    uint64_t chunk = (uint64_t)CMKFS_BATCH * g_fs.unit, done = 0;
    while (rc >= 0 && (uint64_t)rc == done && done < whole) {
        uint64_t n = whole - done < chunk ? whole - done : chunk;
        int got = read_span(h, buf + done, n, off + done, fsize);
        rc = got < 0 ? got : rc + got;
        done += n;
    }
    if (rc >= 0 && (uint64_t)rc == whole && whole < len) {
        int more = read_span(h, buf + whole, len - whole, off + whole, fsize);
        rc = more < 0 ? more : rc + more;
    }
    pthread_rwlock_unlock(&h->n->rw);
    return rc;
}

static int write_locked(struct cmkfs_handle *h, char *buf, size_t size, uint64_t off)
{
    uint64_t old;
    int rc = file_size(h->fd, &old);
    if (rc != 0) {
        return rc;
    }
    if (h->append) {
        off = old;
    }
    uint64_t unit = g_fs.unit;
    uint64_t end = off + size;
    uint64_t size_new = end > old ? end : old;
    uint64_t first = off / unit;
    if (old % unit != 0 && first > old / unit) { /* the old last unit becomes a whole unit */
        rc = rewrite_unit(h->n, h->fd, old / unit, old, size_new);
        if (rc != 0) {
            return rc;
        }
    }
    uint64_t span_end = (end + unit - 1) / unit * unit;
    span_end = span_end < size_new ? span_end : size_new;
    size_t span = (size_t)(span_end - first * unit);
    if (g_fs.rec == 0 && off == first * unit && span == size) {
        /*
         * XTS or passthrough, covering its units exactly (aligned start; the
         * end on a unit boundary or the file's new end): nothing old to merge,
         * so the caller's buffer is encrypted in place (or, in passthrough,
         * written as it is) without a copy.
         */
        if (g_fs.passthrough) {
            rc = pwrite_full(h->fd, (const uint8_t *)buf, size, (off_t)phys_off(first));
            return rc != 0 ? rc : (int)size;
        }
        /* in chunks of CMKFS_BATCH units, so that what pwrite reads is still in cache */
        size_t chunk = (size_t)CMKFS_BATCH * unit;
        for (size_t done = 0; rc == 0 && done < size; done += chunk) {
            size_t n = size - done < chunk ? size - done : chunk;
            uint64_t u = first + done / unit;
            uint8_t *b = (uint8_t *)buf + done;
            rc = xts_range(h->n, ENG_ENCRYPT, u, b, b, n);
            if (rc == 0) {
                rc = pwrite_full(h->fd, b, n, (off_t)phys_off(u));
            }
        }
        return rc != 0 ? rc : (int)size;
    }
    uint8_t *p = scratch(0, span + unit);
    uint8_t *c = scratch(1, (size_t)phys_len(span));
    if (p == NULL || c == NULL) {
        return -ENOMEM;
    }
    uint64_t last = (end - 1) / unit;
    if (off > first * unit) {
        rc = load_plain(h->n, h->fd, first, old, p);
    }
    if (rc == 0 && end < span_end && (last != first || off == first * unit)) {
        rc = load_plain(h->n, h->fd, last, old, p + (last - first) * unit);
    }
    if (rc != 0) {
        return rc;
    }
    memcpy(p + (off - first * unit), buf, size);
    size_t bad;
    rc = crypt_units(h->n, h->fd, ENG_ENCRYPT, first, p, c, span, &bad);
    if (rc == 0) {
        rc = pwrite_full(h->fd, c, (size_t)phys_len(span), (off_t)phys_off(first));
    }
    return rc != 0 ? rc : (int)size;
}

int cmkfs_write(struct cmkfs_handle *h, char *buf, size_t size, uint64_t off)
{
    if (size == 0) {
        return 0;
    }
    pthread_rwlock_wrlock(&h->n->rw);
    /*
     * XTS and passthrough: an aligned write that ends inside a unit goes as
     * its whole units (no copy, see write_locked) and then the rest (merged
     * with the old bytes of its unit). The kernel cuts a 1 MiB write from an
     * unaligned user buffer into 1 MiB - 16 and 16 bytes.
     */
    size_t whole = 0;
    if (g_fs.rec == 0 && !h->append && off % g_fs.unit == 0) {
        whole = size / g_fs.unit * g_fs.unit;
        whole = whole < size ? whole : 0;
    }
    int rc = write_locked(h, buf, whole > 0 ? whole : size, off);
    if (whole > 0 && rc == (int)whole) {
        int more = write_locked(h, buf + whole, size - whole, off + whole);
        rc = more < 0 ? more : rc + more;
    }
    pthread_rwlock_unlock(&h->n->rw);
    return rc;
}

int cmkfs_resize(struct cmkfs_handle *h, uint64_t size)
{
    pthread_rwlock_wrlock(&h->n->rw);
    int rc = set_size(h->n, h->fd, size);
    pthread_rwlock_unlock(&h->n->rw);
    return rc;
}

int cmkfs_allocate(struct cmkfs_handle *h, uint64_t off, uint64_t len)
{
    pthread_rwlock_wrlock(&h->n->rw);
    uint64_t old = 0;
    int rc = file_size(h->fd, &old);
    if (rc == 0 && off + len > old) {
        rc = set_size(h->n, h->fd, off + len);
    }
    uint64_t pstart = phys_off(off / g_fs.unit);
    uint64_t pend = CMKFS_HDR + phys_len(off + len);
    if (rc == 0 && fallocate(h->fd, 0, (off_t)pstart, (off_t)(pend - pstart)) != 0) {
        rc = -errno;
    }
    pthread_rwlock_unlock(&h->n->rw);
    return rc;
}
