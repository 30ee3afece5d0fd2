/*
 * fileio_internal.h - whole, retried, durable file I/O for the store.
 *
 * All functions return 0 or -1 with the engine error set (ENG_ERR_IO unless
 * said otherwise). Short reads and writes and EINTR are retried.
 */
#ifndef ENG_FILEIO_INTERNAL_H
#define ENG_FILEIO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * eng_open_regular opens |path| with |flags| (O_RDONLY or O_RDWR, and
 * O_NOFOLLOW where a symbolic link is not expected; never O_CREAT) without
 * blocking, and requires a regular file: a FIFO, device or folder (or, with
 * O_NOFOLLOW, a symlink) in its place gives ENG_ERR_NOT_REGULAR at once
 * instead of a hang. A missing file
 * gives |missing_code|, anything else ENG_ERR_IO. The path is recorded with
 * the error (eng_error_file). The fd is returned blocking, close-on-exec.
 */
int eng_open_regular(const char *path, int flags, int missing_code);

int eng_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Reads exactly |len| bytes at |off|; end of file first gives |eof_code|. */
int eng_pread_all(int fd, void *buf, size_t len, uint64_t off, int eof_code);
/*
 * eng_read_fd reads the whole regular file |fd| (from offset 0) into a new
 * malloc'd, NUL-terminated buffer (*out, free with free() after wiping if
 * secret; base_fd_read underneath, wiping every outgrown block). A file
 * larger than |max_len| gives |too_long_code|, not a regular file ENG_ERR_IO.
 */
int eng_read_fd(int fd, size_t max_len, int too_long_code, uint8_t **out, size_t *out_len);
/*
 * eng_file_replace makes |path| hold exactly |data| with permissions |mode|,
 * crash-safely: write "<path>.tmp" (created with |mode|), fsync it, rename
 * it over |path|, fsync the folder. A crash leaves the old or the new file.
 */
int eng_file_replace(const char *path, const void *data, size_t len, mode_t mode);
/* eng_fsync_dir fsyncs the folder |dir|. */
int eng_fsync_dir(const char *dir);
/* eng_fsync_parent fsyncs the folder that holds |path|. */
int eng_fsync_parent(const char *path);
/*
 * eng_secret_open opens the secret file |path| (an SMK key file, a vault
 * token file: every secret file the engine reads) read-only and returns the
 * descriptor, or -1 if it is not the caller's alone. One rule for all of
 * them: a symbolic link is not followed and gives ENG_ERR_NOT_REGULAR;
 * EACCES gives ENG_ERR_KEK_FORBIDDEN; a missing file gives
 * |missing_code|; anything but a regular file (a FIFO is not waited on)
 * gives |not_regular_code|; an owner other than the effective user gives
 * ENG_ERR_PERM_OWNER; any group or other permission bit gives
 * ENG_ERR_PERM_LOOSE; other failures ENG_ERR_IO.
 */
int eng_secret_open(const char *path, int missing_code, int not_regular_code);
/* eng_path_join writes "<dir>/<name>" into |out|; ENG_ERR_ARG if it does not fit. */
int eng_path_join(char *out, size_t max_out_len, const char *dir, const char *name);

#endif /* ENG_FILEIO_INTERNAL_H */
