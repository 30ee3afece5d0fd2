/*
 * fuzz/backup.c - the backup stream parser and verifier.
 *
 * Target function: eng_backup_verify (header parsing, geometry checks, the
 * backup DEK's unwrap, every chunk's length, tag and final flag, the end of
 * the stream).
 *
 * eng_backup_verify reads a path, so each input is written to one memfd
 * (truncated and rewritten per input) and verified through /proc/self/fd/N.
 * The KEK is the service-managed (SMK) provider on a fixed test key file
 * (the bytes below, written 0600 to a temporary file once per process): the
 * seeds in fuzz/corpus/backup/ were made by `cmk backup` under this very
 * key, so mutations get past the unwrap to the chunks. The key is a test
 * key made for this corpus, nothing else uses it. Deterministic: the
 * verifier draws no randomness and reads no clock.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eng_keys.h"
#include "eng_store.h"
#include "error_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The SMK key file the seeds were made with (format CMKSMK01, two versions). */
static const uint8_t smk_key_file[] = {
    0x43, 0x4d, 0x4b, 0x53, 0x4d, 0x4b, 0x30, 0x31, 0x4a, 0x05, 0x48, 0xfe, 0xab, 0x5f, 0x94, 0x58,
    0xa7, 0xd3, 0x07, 0xf2, 0x0f, 0x61, 0xc8, 0xa2, 0x00, 0x00, 0x00, 0x02, 0x5e, 0xdb, 0x2e, 0xf7,
    0xdc, 0x7c, 0x6f, 0x5c, 0x03, 0xb3, 0x3f, 0x7f, 0xf0, 0xc8, 0x13, 0xd1, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x6b, 0x04, 0x7e, 0xc8, 0x05, 0x8d, 0x34, 0x95, 0xa1, 0x40, 0x68, 0x8b, 0xa7, 0xa7, 0xb8,
    0xea, 0x3f, 0x29, 0x36, 0x15, 0x0a, 0x59, 0xaa, 0x36, 0x9b, 0xcc, 0x6d, 0xa4, 0xbc, 0xe5, 0x47,
    0xf5, 0xa2, 0x07, 0xf7, 0x14, 0xe4, 0xfb, 0xcb, 0x73, 0x4f, 0xa1, 0x30, 0xe6, 0x20, 0x17, 0xc5,
    0xf7, 0x93, 0x70, 0x2a, 0x8b, 0x01, 0x00, 0x00, 0x00, 0x00, 0x6b, 0x04, 0x7e, 0xcf, 0x06, 0xb4,
    0x55, 0xf2, 0xa2, 0x1b, 0x3a, 0xab, 0xe3, 0x19, 0x49, 0xae, 0xe7, 0x8e, 0x9a, 0xcf, 0x57, 0x1a,
    0x1a, 0x5d, 0x9e, 0xf0, 0x2f, 0xad, 0x7e, 0xea, 0x89, 0x21, 0x65, 0xed, 0xca, 0xf7, 0x4e, 0x31,
    0xe2, 0x00, 0xb6, 0xd0, 0x57, 0xfa, 0x5f, 0x0e, 0x59, 0xa2, 0x31, 0x4c, 0x1b, 0xb7, 0x1a, 0x2d,
    0xd1, 0x36, 0x0d, 0xc3, 0xe6, 0x76, 0x21, 0xa5, 0xf5, 0x0c, 0x33, 0xa0, 0x07, 0x3e,
};

static struct eng_kek_provider *kek;
static int stream_fd = -1;
static char stream_path[64];

static char key_path[256];

static void remove_key_file(void)
{
    unlink(key_path);
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_backup: %s\n", what);
    exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* fuzz/run.sh sets FUZZ_TMPDIR and removes it afterwards (also after a crash). */
    const char *tmp = getenv("FUZZ_TMPDIR");
    snprintf(key_path, sizeof(key_path), "%s/fuzz-backup-smk-XXXXXX", tmp != NULL ? tmp : "/tmp");
    int fd = mkstemp(key_path);
    if (fd < 0 || fchmod(fd, 0600) != 0 ||
        write(fd, smk_key_file, sizeof(smk_key_file)) != (ssize_t)sizeof(smk_key_file)) {
        die("cannot write the key file");
    }
    close(fd);
    atexit(remove_key_file);
    kek = eng_smk_open(key_path, 0);
    if (kek == NULL) {
        die("cannot open the SMK provider");
    }
    /* The provider re-reads the file on every unwrap: it stays until exit. */
    stream_fd = memfd_create("fuzz-backup", MFD_CLOEXEC);
    if (stream_fd < 0) {
        die("memfd_create failed");
    }
    snprintf(stream_path, sizeof(stream_path), "/proc/self/fd/%d", stream_fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(stream_fd, 0) != 0 || pwrite(stream_fd, data, size, 0) != (ssize_t)size) {
        die("cannot write the stream");
    }
    if (eng_backup_verify(stream_path, kek) != 0) {
        int e = eng_errno();
        if (e == ENG_ERR_NULL || e == ENG_ERR_INTERNAL || e == ENG_ERR_NO_STORE) {
            abort(); /* a stream, however bad, is never an internal error */
        }
    }
    return 0;
}
