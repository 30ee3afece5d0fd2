/*
 * base_file.h - whole-file reading with a size cap.
 *
 * Reads until end of file (so /proc files and pipes, whose size fstat
 * cannot tell, read whole too) into one malloc'd, NUL-terminated block.
 * A file longer than the cap is an error naming the path and the cap; a
 * missing file has its own code (BASE_ERR_NOT_FOUND) so that callers can
 * treat "absent" as "use the default". Messages name the path:
 *
 *   BASE_ERR_NOT_FOUND    "<path>: No such file or directory"
 *   BASE_ERR_IO           "<path>: <strerror>" (open/read failed)
 *   BASE_ERR_NOT_REGULAR  "<path>: not a regular file" (BASE_FILE_REGULAR, or a symbolic
 *                         link under BASE_FILE_NOFOLLOW)
 *   BASE_ERR_CAP          "<path>: larger than the cap of <max> bytes"
 *   BASE_ERR_NOMEM        "<path>: out of memory"
 */
#ifndef BASE_FILE_H
#define BASE_FILE_H

#include <stddef.h>

#include "base_buf.h"
#include "base_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BASE_FILE_REGULAR  1u /* refuse anything but a regular file (FIFO, device, folder) */
#define BASE_FILE_NOFOLLOW 2u /* refuse a symbolic link as the last path component */
#define BASE_FILE_WIPE     4u /* secret contents: wipe every scratch and partial block */

/*
 * base_file_read reads the file at |path| (at most |max| bytes) into a new
 * NUL-terminated block stored in |*out| with its length in |*out_len|
 * (|out_len| may be NULL). 0 on success (the caller frees |*out|, wiping it
 * first if secret); -1 with |*out| NULL and |e| set as listed above.
 */
int base_file_read(const char *path, size_t max, unsigned flags, char **out, size_t *out_len,
                   struct base_err *e);

/*
 * base_fd_read is base_file_read on an open descriptor |fd| (read from its
 * current offset; not closed). |name| stands for the file in messages.
 * BASE_FILE_NOFOLLOW does not apply (the file is already open).
 */
int base_fd_read(int fd, const char *name, size_t max, unsigned flags, char **out, size_t *out_len,
                 struct base_err *e);

/*
 * base_fd_read_buf appends the rest of |fd| to |b|, whose own cap applies
 * (BASE_ERR_CAP names |name| and b->max). On failure |b| keeps what it held
 * before the call. |flags|: BASE_FILE_REGULAR only.
 */
int base_fd_read_buf(int fd, const char *name, unsigned flags, struct base_buf *b,
                     struct base_err *e);

#ifdef __cplusplus
}
#endif
#endif /* BASE_FILE_H */
