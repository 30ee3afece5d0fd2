/*
 * test_fs_gcm.c - what only GCM (init --mode gcm) promises, against a real
 * mount: a flipped ciphertext byte, a flipped tag byte, a changed key
 * generation, a unit swapped within a file, a unit copied from another
 * file and a torn unit write each make reading THAT unit fail with EIO,
 * while every other unit still reads (a read that runs into the bad unit
 * is short, up to it); an all-zero unit is a hole (zeros, documented);
 * a torn extension of the backing shows as the file's last whole record;
 * every write draws a new nonce; a file whose key reaches its limit moves
 * to the next key generation, and units of every generation read back,
 * also after a remount. The backing layout (fs/README.md): a 4096-byte
 * header, then per unit a 32-byte record (nonce 12 | tag 16 | key
 * generation 4, big-endian) and the unit's ciphertext.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fslib.h"
#include "testutil.h"

#define HDR   4096
#define UNIT  4096
#define REC   32
#define PUNIT (UNIT + REC)
#define NUNIT 5

static struct fsx x;

static void setup(void)
{
    fsx_make(&x);
}

static void teardown(void)
{
    fsx_cleanup(&x);
}

TestSuite(fs_gcm, .init = setup, .fini = teardown, .timeout = 120);

static void mount_gcm(const char *env)
{
    char init[1200];
    snprintf(init, sizeof(init), "--mode gcm %s", x.keyopts);
    int rc = fsx_run(&x, "%s init %s %s >/dev/null", CMKFS_BIN, x.back, init);
    cr_assert_eq(rc, 0, "init: %d %s", rc, fsx_err(&x));
    rc = fsx_run(&x, "%s %s mount %s %s %s", env, CMKFS_BIN, x.back, x.mnt, x.keyopts);
    cr_assert_eq(rc, 0, "mount: %d %s", rc, fsx_err(&x));
    cr_assert(fsx_mounted(x.mnt));
}

/* Unit |u| of file |name|'s contents: byte i = (u * 31 + i * 7 + salt) mod 251. */
static void fill_unit(uint8_t *p, size_t u, int salt)
{
    for (size_t i = 0; i < UNIT; i++) {
        p[i] = (uint8_t)((u * 31 + i * 7 + (size_t)salt) % 251);
    }
}

/* A file of NUNIT whole units through the mount. */
static void make_file(const char *name, int salt)
{
    int fd = open(fsx_path(&x, name, 0), O_RDWR | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0, "%s", strerror(errno));
    uint8_t buf[UNIT];
    for (size_t u = 0; u < NUNIT; u++) {
        fill_unit(buf, u, salt);
        cr_assert_eq(pwrite(fd, buf, UNIT, (off_t)(u * UNIT)), UNIT);
    }
    close(fd);
    struct stat st;
    cr_assert_eq(stat(fsx_path(&x, name, 1), &st), 0);
    cr_assert_eq(st.st_size, HDR + NUNIT * PUNIT, "backing size %lld", (long long)st.st_size);
}

/* Backing bytes of file |name|: read or write |len| at |off|. */
static void backing_io(const char *name, int write, uint8_t *buf, size_t len, off_t off)
{
    int fd = open(fsx_path(&x, name, 1), O_RDWR);
    cr_assert_geq(fd, 0);
    ssize_t r = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
    cr_assert_eq(r, (ssize_t)len);
    close(fd);
}

static void flip(const char *name, off_t off)
{
    uint8_t b;
    backing_io(name, 0, &b, 1, off);
    b ^= 0x01;
    backing_io(name, 1, &b, 1, off);
}

/* Every unit of |name| reads back as written (salt), except those in |bad| (EIO, exactly). */
static void expect_units(const char *name, int salt, unsigned bad)
{
    int fd = open(fsx_path(&x, name, 0), O_RDONLY);
    cr_assert_geq(fd, 0, "%s", strerror(errno));
    uint8_t got[UNIT];
    uint8_t want[UNIT];
    for (size_t u = 0; u < NUNIT; u++) {
        errno = 0;
        ssize_t r = pread(fd, got, UNIT, (off_t)(u * UNIT));
        if (bad & (1U << u)) {
            cr_assert_eq(r, -1, "unit %zu: read %zd, want EIO", u, r);
            cr_assert_eq(errno, EIO, "unit %zu: %s, want EIO", u, strerror(errno));
            /* a read inside the unit fails too */
            errno = 0;
            cr_assert_eq(pread(fd, got, 10, (off_t)(u * UNIT + 100)), -1);
            cr_assert_eq(errno, EIO);
            continue;
        }
        cr_assert_eq(r, UNIT, "unit %zu: read %zd (%s)", u, r, strerror(errno));
        fill_unit(want, u, salt);
        cr_assert_eq(memcmp(got, want, UNIT), 0, "unit %zu differs", u);
    }
    /* a read of the whole file stops short at the first bad unit */
    size_t first_bad = NUNIT;
    for (size_t u = 0; u < NUNIT; u++) {
        if (bad & (1U << u)) {
            first_bad = u;
            break;
        }
    }
    static uint8_t all[NUNIT * UNIT + 1];
    errno = 0;
    ssize_t r = pread(fd, all, sizeof(all), 0);
    if (first_bad == 0) {
        cr_assert_eq(r, -1);
        cr_assert_eq(errno, EIO);
    } else {
        cr_assert_eq(r, (ssize_t)(first_bad * UNIT), "whole-file read %zd (%s)", r,
                     strerror(errno));
    }
    close(fd);
}

Test(fs_gcm, flipped_ciphertext_byte_is_eio_for_that_unit_only)
{
    mount_gcm("");
    make_file("f", 1);
    expect_units("f", 1, 0);
    flip("f", HDR + 2 * PUNIT + REC + 1000);
    expect_units("f", 1, 1U << 2);
}

Test(fs_gcm, flipped_tag_byte_is_eio_for_that_unit_only)
{
    mount_gcm("");
    make_file("f", 2);
    flip("f", HDR + 3 * PUNIT + 12 + 5); /* record: nonce 12 | tag 16 | generation 4 */
    expect_units("f", 2, 1U << 3);
}

Test(fs_gcm, flipped_nonce_or_generation_is_eio_for_that_unit_only)
{
    mount_gcm("");
    make_file("f", 3);
    flip("f", HDR + 0 * PUNIT + 2);  /* nonce */
    flip("f", HDR + 4 * PUNIT + 31); /* key generation 0 -> 1: another key */
    expect_units("f", 3, 1U << 0 | 1U << 4);
}

Test(fs_gcm, unit_swapped_within_a_file_is_eio)
{
    mount_gcm("");
    make_file("f", 4);
    uint8_t a[PUNIT];
    uint8_t b[PUNIT];
    backing_io("f", 0, a, PUNIT, HDR + 1 * PUNIT);
    backing_io("f", 0, b, PUNIT, HDR + 3 * PUNIT);
    backing_io("f", 1, b, PUNIT, HDR + 1 * PUNIT);
    backing_io("f", 1, a, PUNIT, HDR + 3 * PUNIT);
    expect_units("f", 4, 1U << 1 | 1U << 3);
}

Test(fs_gcm, unit_copied_from_another_file_is_eio)
{
    mount_gcm("");
    make_file("f", 5);
    make_file("g", 5); /* the same plaintext at the same position, another file */
    uint8_t a[PUNIT];
    backing_io("g", 0, a, PUNIT, HDR + 2 * PUNIT);
    backing_io("f", 1, a, PUNIT, HDR + 2 * PUNIT);
    expect_units("f", 5, 1U << 2);
    expect_units("g", 5, 0);
}

/* A unit write torn half way (the first half new, the rest old) is EIO, not garbage. */
Test(fs_gcm, torn_unit_write_is_eio)
{
    mount_gcm("");
    make_file("f", 6);
    uint8_t old[PUNIT];
    backing_io("f", 0, old, PUNIT, HDR + 1 * PUNIT);
    int fd = open(fsx_path(&x, "f", 0), O_RDWR);
    uint8_t buf[UNIT];
    memset(buf, 0x5a, sizeof(buf));
    cr_assert_eq(pwrite(fd, buf, UNIT, UNIT), UNIT);
    close(fd);
    backing_io("f", 1, old + PUNIT / 2, PUNIT / 2, HDR + 1 * PUNIT + PUNIT / 2);
    expect_units("f", 6, 1U << 1);
    /* a whole-unit write over the bad unit repairs it; a partial one needs it: EIO */
    fd = open(fsx_path(&x, "f", 0), O_RDWR);
    errno = 0;
    cr_assert_eq(pwrite(fd, buf, 100, UNIT + 10), -1);
    cr_assert_eq(errno, EIO);
    fill_unit(buf, 1, 6);
    cr_assert_eq(pwrite(fd, buf, UNIT, UNIT), UNIT);
    close(fd);
    expect_units("f", 6, 0);
}

/* Documented: an all-zero unit (record and ciphertext) is a hole and reads as zeros. */
Test(fs_gcm, all_zero_unit_is_a_hole)
{
    mount_gcm("");
    make_file("f", 7);
    static uint8_t zero[PUNIT];
    backing_io("f", 1, zero, PUNIT, HDR + 2 * PUNIT);
    int fd = open(fsx_path(&x, "f", 0), O_RDONLY);
    uint8_t got[UNIT];
    cr_assert_eq(pread(fd, got, UNIT, 2 * UNIT), UNIT);
    cr_assert_eq(memcmp(got, zero, UNIT), 0);
    close(fd);
    /* a sparse write leaves real holes in the backing, read as zeros */
    fd = open(fsx_path(&x, "s", 0), O_RDWR | O_CREAT, 0644);
    cr_assert_eq(pwrite(fd, "x", 1, 10 * UNIT + 5), 1);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_size, 10 * UNIT + 6);
    cr_assert_eq(pread(fd, got, UNIT, 3 * UNIT), UNIT);
    cr_assert_eq(memcmp(got, zero, UNIT), 0);
    close(fd);
    cr_assert_eq(stat(fsx_path(&x, "s", 1), &st), 0);
    cr_assert_eq(st.st_size, HDR + 10 * PUNIT + REC + 6, "backing %lld", (long long)st.st_size);
}

/* A backing cut inside the last unit's record: the file ends at the last whole unit. */
Test(fs_gcm, torn_extension_shows_whole_units_only)
{
    mount_gcm("");
    make_file("f", 8);
    cr_assert_eq(truncate(fsx_path(&x, "f", 1), HDR + 4 * PUNIT + 20), 0);
    struct stat st;
    cr_assert_eq(stat(fsx_path(&x, "f", 0), &st), 0);
    cr_assert_eq(st.st_size, 4 * UNIT);
    /* cut inside the ciphertext: a shorter last unit that fails authentication (another
       file: the kernel caches the first one's size for a second) */
    make_file("g", 8);
    cr_assert_eq(truncate(fsx_path(&x, "g", 1), HDR + 3 * PUNIT + REC + 100), 0);
    cr_assert_eq(stat(fsx_path(&x, "g", 0), &st), 0);
    cr_assert_eq(st.st_size, 3 * UNIT + 100);
    int fd = open(fsx_path(&x, "g", 0), O_RDONLY);
    uint8_t got[UNIT];
    errno = 0;
    cr_assert_eq(pread(fd, got, 100, 3 * UNIT), -1);
    cr_assert_eq(errno, EIO);
    cr_assert_eq(pread(fd, got, UNIT, 2 * UNIT), UNIT);
    close(fd);
}

/* Every write of a unit draws a new nonce: the same plaintext twice gives different records. */
Test(fs_gcm, rewrites_draw_new_nonces)
{
    mount_gcm("");
    make_file("f", 9);
    uint8_t r1[REC];
    uint8_t r2[REC];
    backing_io("f", 0, r1, REC, HDR + PUNIT);
    int fd = open(fsx_path(&x, "f", 0), O_RDWR);
    uint8_t buf[UNIT];
    fill_unit(buf, 1, 9);
    cr_assert_eq(pwrite(fd, buf, UNIT, UNIT), UNIT);
    close(fd);
    backing_io("f", 0, r2, REC, HDR + PUNIT);
    cr_assert_neq(memcmp(r1, r2, 12), 0, "nonce repeated");
    cr_assert_neq(memcmp(r1 + 12, r2 + 12, 16), 0, "tag repeated");
    expect_units("f", 9, 0);
}

static uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Re-key: with the key limit lowered to 128 encryptions (test hook), 300
 * unit writes move the file through key generations 0, 1 and 2 (each
 * recorded in the header before use); units written under every
 * generation read back, also after a remount.
 */
Test(fs_gcm, key_limit_moves_to_the_next_generation)
{
    mount_gcm("CMKFS_TEST_GCM_LIMIT=128");
    make_file("f", 10); /* 5 encryptions under generation 0 */
    int fd = open(fsx_path(&x, "f", 0), O_RDWR);
    uint8_t buf[UNIT];
    for (int i = 0; i < 300; i++) {
        size_t u = 1 + (size_t)i % 3; /* units 1..3 rewritten; 0 and 4 stay at generation 0 */
        fill_unit(buf, u, 10);
        cr_assert_eq(pwrite(fd, buf, UNIT, (off_t)(u * UNIT)), UNIT, "write %d: %s", i,
                     strerror(errno));
    }
    close(fd);
    uint8_t h[76];
    backing_io("f", 0, h, sizeof(h), 0);
    cr_assert_eq(be32_at(h + 64), 2, "header generation %u", be32_at(h + 64));
    uint8_t rec[REC];
    backing_io("f", 0, rec, REC, HDR + 0 * PUNIT);
    cr_assert_eq(be32_at(rec + 28), 0);
    backing_io("f", 0, rec, REC, HDR + 2 * PUNIT);
    cr_assert_eq(be32_at(rec + 28), 2);
    expect_units("f", 10, 0);
    fsx_unmount(&x);
    int rc = fsx_run(&x, "%s mount %s %s %s", CMKFS_BIN, x.back, x.mnt, x.keyopts);
    cr_assert_eq(rc, 0, "remount: %s", fsx_err(&x));
    expect_units("f", 10, 0);
}
