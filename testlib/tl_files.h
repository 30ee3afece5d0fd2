/*
 * tl_files.h - temporary folders and whole-file helpers for the test
 * programs of every module (tests only; not for production code).
 */
#ifndef TL_FILES_H
#define TL_FILES_H

#include <stddef.h>
#include <stdint.h>

/* tl_tmpdir makes a fresh folder under /tmp and writes its path to |out|; aborts on failure. */
void tl_tmpdir(char *out, size_t max_out_len);
/* tl_rmtree removes |path| and everything below it (best effort). */
void tl_rmtree(const char *path);
/*
 * One temporary folder for each test of a Criterion suite:
 *     TestSuite(name, .init = tl_suite_tmpdir_setup, .fini = tl_suite_tmpdir_teardown);
 * the setup makes tl_suite_dir (tl_tmpdir), the teardown removes it and all below it.
 */
extern char tl_suite_dir[64];
void tl_suite_tmpdir_setup(void);
void tl_suite_tmpdir_teardown(void);

/* tl_path writes "<dir>/<name>" into |out|; aborts when it does not fit. */
void tl_path(char *out, size_t max_out_len, const char *dir, const char *name);
/* 1 if |path| is a regular file. */
int tl_is_file(const char *path);

/*
 * tl_read_file reads a whole file into a malloc'd buffer (NUL-terminated
 * past |*out_len| bytes; vmt_read_file of vault-mock/client); NULL on failure.
 */
uint8_t *tl_read_file(const char *path, size_t *out_len);
/*
 * tl_read_text reads the whole file at |path| into a malloc'd string (a NUL
 * added after its bytes) and fails the calling Criterion test when it cannot
 * be read. Never NULL.
 */
char *tl_read_text(const char *path);
/* tl_write_file replaces |path| with |len| bytes; 0 or -1. */
int tl_write_file(const char *path, const void *data, size_t len);
/* tl_flip_bit flips bit |bit| of the byte at |off| in |path|; 0 or -1. */
int tl_flip_bit(const char *path, uint64_t off, int bit);

#endif /* TL_FILES_H */
