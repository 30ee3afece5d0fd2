/*
 * cmd_store.c - the store commands of cmk: create, put, get and status.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base_codec.h"
#include "cmk_cmd.h"
#include "eng_keys.h"
#include "eng_secure.h"
#include "eng_store.h"
#include "eng_vault.h"
#include "keyopts.h"

#define IO_CHUNK (1U << 20)

int cmd_create(const struct opts *o)
{
    if (o->npos != 2) {
        return cmk_usage_error("create needs DIR", NULL);
    }
    struct eng_store_config cfg;
    int rc = cmk_run_config(o, &cfg);
    if (rc != EXIT_OK) {
        return rc;
    }
    if (o->mode != NULL && (eng_mode_from_name(o->mode, &cfg.mode) != 0 ||
                            (cfg.mode != ENG_MODE_XTS && cfg.mode != ENG_MODE_GCM))) {
        return cmk_usage_error("--mode must be xts or gcm", o->mode);
    }
    if (o->integrity != NULL && strcmp(o->integrity, "hmac-sha256") == 0) {
        cfg.integrity = ENG_STORE_INTEGRITY_HMAC_SHA256;
    } else if (o->integrity != NULL && strcmp(o->integrity, "none") != 0) {
        return cmk_usage_error("--integrity must be none or hmac-sha256", o->integrity);
    }
    if (cfg.integrity != ENG_STORE_INTEGRITY_NONE && cfg.mode != ENG_MODE_XTS) {
        return cmk_usage_error(
            "--integrity hmac-sha256 is for --mode xts (gcm authenticates every "
            "unit already)",
            o->integrity);
    }
    if (o->unit_size != NULL &&
        (cmk_parse_u32(o->unit_size, &cfg.unit_size) != 0 || cfg.unit_size < 512 ||
         cfg.unit_size > 65536 || (cfg.unit_size & (cfg.unit_size - 1)) != 0)) {
        return cmk_usage_error("--unit-size must be a power of two from 512 to 65536",
                               o->unit_size);
    }
    uint64_t v;
    if (o->units != NULL) {
        if (cmk_parse_size(o->units, &v) != 0 || v == 0) {
            return cmk_usage_error("--units must be a number of units, at least 1", o->units);
        }
        cfg.num_units = v;
    } else if (o->size != NULL) {
        if (cmk_parse_size(o->size, &v) != 0 || v == 0 || v > UINT64_MAX - cfg.unit_size) {
            return cmk_usage_error("--size must be a byte count (K, M, G suffixes), at least 1",
                                   o->size);
        }
        cfg.num_units = v / cfg.unit_size + (v % cfg.unit_size != 0);
    } else {
        return cmk_usage_error("create needs --size or --units", NULL);
    }
    if (o->extent_units != NULL && (cmk_parse_u32(o->extent_units, &cfg.extent_units) != 0 ||
                                    cfg.extent_units == 0 || cfg.extent_units > cfg.num_units)) {
        char what[128];
        snprintf(what, sizeof(what),
                 "--extent-units must be from 1 to %" PRIu64 " (the store's units)", cfg.num_units);
        return cmk_usage_error(what, o->extent_units);
    }
    struct eng_kek_provider *kek = cmk_open_kek(&o->k, 1);
    if (kek == NULL) {
        return cmk_kek_exit_code();
    }
    struct eng_store *s = eng_store_create(o->pos[1], kek, &cfg);
    if (s == NULL) {
        rc = cmk_fail("create");
    } else {
        eng_store_close(s);
    }
    eng_kek_provider_free(kek);
    return rc;
}

/* The open store's size in bytes into *total; EXIT_USAGE (printed) if |off| lies past it. */
static int check_offset(const char *cmd, struct eng_store *s, uint64_t off, uint64_t *total)
{
    struct eng_store_info info;
    eng_store_get_info(s, &info);
    *total = info.num_units * info.unit_size;
    if (off <= *total) {
        return EXIT_OK;
    }
    fprintf(stderr,
            "cmk: %s: --offset %" PRIu64 " is past the end of the store (%" PRIu64
            " bytes): %s (%s)\n",
            cmd, off, *total, eng_strerror(ENG_ERR_RANGE), eng_error_name(ENG_ERR_RANGE));
    return EXIT_USAGE;
}

static int put_too_large(const char *name, uint64_t len, int at_least, uint64_t off, uint64_t cap)
{
    fprintf(stderr,
            "cmk: put: %s holds %s%" PRIu64 " bytes, more than the %" PRIu64
            " bytes the store has from --offset %" PRIu64 " (capacity %" PRIu64
            "); nothing was written (%s)\n",
            strcmp(name, "-") == 0 ? "stdin" : name, at_least ? "at least " : "", len, cap - off,
            off, cap, eng_error_name(ENG_ERR_RANGE));
    return EXIT_ERR;
}

/*
 * Checks, before anything is written, that the input fits at |off|: a
 * regular file by its size; any other input (stdin, a pipe) is read to its
 * end into an encrypted spool file (*spool), refused as soon as it passes
 * the room left, and written from there. EXIT_OK or the exit code (printed).
 */
static int put_input_fits(struct eng_store *s, FILE *in, const char *name, uint64_t off,
                          uint8_t *buf, struct eng_tmpfile **spool)
{
    struct eng_store_info info;
    struct stat st;
    eng_store_get_info(s, &info);
    uint64_t cap = info.num_units * info.unit_size;
    uint64_t room = cap - off; /* check_offset refused an offset past the end */
    if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode)) {
        uint64_t len = (uint64_t)st.st_size;
        return len <= room ? EXIT_OK : put_too_large(name, len, 0, off, cap);
    }
    *spool = eng_tmpfile_new(NULL);
    if (*spool == NULL) {
        return cmk_fail("put: spool file for the input");
    }
    size_t n;
    while ((n = fread(buf, 1, IO_CHUNK, in)) > 0) {
        if (n > room - eng_tmpfile_size(*spool)) {
            return put_too_large(name, eng_tmpfile_size(*spool) + n, 1, off, cap);
        }
        if (eng_tmpfile_write(*spool, buf, n) != 0) {
            return cmk_fail("put: spool file for the input");
        }
    }
    if (ferror(in)) {
        fprintf(stderr, "cmk: put: reading %s failed\n", name);
        return EXIT_ERR;
    }
    return EXIT_OK;
}

/* The next chunk of input into |buf|: *n bytes (0 at the end); EXIT_OK or the exit code. */
static int put_next(FILE *in, const char *name, struct eng_tmpfile *spool, uint64_t done,
                    uint8_t *buf, size_t *n)
{
    if (spool == NULL) {
        *n = fread(buf, 1, IO_CHUNK, in);
        if (*n == 0 && ferror(in)) {
            fprintf(stderr, "cmk: put: reading %s failed\n", name);
            return EXIT_ERR;
        }
        return EXIT_OK;
    }
    uint64_t left = eng_tmpfile_size(spool) - done;
    *n = left < IO_CHUNK ? (size_t)left : IO_CHUNK;
    return *n == 0 || eng_tmpfile_read(spool, done, buf, *n) == 0
               ? EXIT_OK
               : cmk_fail("put: spool file for the input");
}

int cmd_put(const struct opts *o)
{
    if (o->npos != 3) {
        return cmk_usage_error("put needs DIR FILE", NULL);
    }
    uint64_t off = 0;
    if (o->offset != NULL && cmk_parse_size(o->offset, &off) != 0) {
        return cmk_usage_error("bad --offset", o->offset);
    }
    FILE *in = strcmp(o->pos[2], "-") == 0 ? stdin : fopen(o->pos[2], "rb");
    if (in == NULL) {
        fprintf(stderr, "cmk: put: cannot open %s: %s\n", o->pos[2], strerror(errno));
        return EXIT_ERR;
    }
    struct eng_kek_provider *kek = NULL;
    int rc;
    struct eng_store *s = cmk_open_store(o, &kek, &rc, 0);
    uint64_t total;
    if (s != NULL) {
        rc = check_offset("put", s, off, &total);
    }
    uint8_t *buf = malloc(IO_CHUNK);
    struct eng_tmpfile *spool = NULL;
    if (s != NULL && buf == NULL) {
        fprintf(stderr, "cmk: put: out of memory\n");
        rc = EXIT_ERR;
    }
    if (s != NULL && rc == EXIT_OK) {
        rc = put_input_fits(s, in, o->pos[2], off, buf, &spool);
    }
    for (uint64_t done = 0; s != NULL && rc == EXIT_OK;) {
        size_t n = 0;
        rc = put_next(in, o->pos[2], spool, done, buf, &n);
        if (n == 0 || rc != EXIT_OK) {
            break;
        }
        if (eng_store_write_bytes(s, off, buf, n) != 0) {
            rc = cmk_fail("put");
            break;
        }
        off += n;
        done += n;
    }
    if (s != NULL && rc == EXIT_OK && eng_store_sync(s) != 0) {
        rc = cmk_fail("put");
    }
    eng_tmpfile_free(spool);
    if (buf != NULL) {
        eng_cleanse(buf, IO_CHUNK);
    }
    free(buf);
    if (in != stdin) {
        fclose(in);
    }
    eng_store_close(s);
    eng_kek_provider_free(kek);
    return rc;
}

/*
 * Where `get` writes: a regular file (new, or replaced with --force) is
 * written to a private temp file in the same folder and renamed over the
 * target only when every byte is in, so a failed get leaves an existing
 * file as it was; a device or FIFO (/dev/null) is written in place.
 */
struct output {
    char path[PATH_MAX]; /* the target, symbolic links resolved */
    char tmp[PATH_MAX];  /* the temp file while writing; "" for a device */
    FILE *f;
};

static int same_inode(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * Is the output |path| (symbolic links resolved) in the store folder
 * |store_dir| or below it, by identity (device and inode), not by name: a
 * bind mount or another alias of the folder is found too. Checked: the
 * output's folder and each folder above it against the store folder, and
 * an existing output file against each file of the store (a hard link).
 */
static int output_in_store(const char *path, int exists, const char *store_dir)
{
    struct stat sd, st;
    if (stat(store_dir, &sd) != 0) {
        return 0; /* no store: opening it fails later */
    }
    char folder[PATH_MAX];
    snprintf(folder, sizeof(folder), "%s", path);
    char *slash = strrchr(folder, '/');
    if (slash != NULL) {
        slash[slash == folder ? 1 : 0] = '\0';
    } else {
        snprintf(folder, sizeof(folder), ".");
    }
    int found = 0;
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (int depth = 0; fd >= 0 && !found && depth < PATH_MAX / 2; depth++) {
        if (fstat(fd, &st) != 0) {
            break;
        }
        found = same_inode(&st, &sd);
        struct stat up;
        int parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        close(fd);
        fd = parent;
        if (fd >= 0 && (fstat(fd, &up) != 0 || same_inode(&up, &st))) {
            break; /* the root */
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    DIR *d = exists && !found && stat(path, &st) == 0 ? opendir(store_dir) : NULL;
    for (struct dirent *e; d != NULL && !found && (e = readdir(d)) != NULL;) {
        struct stat sf;
        found = fstatat(dirfd(d), e->d_name, &sf, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISREG(sf.st_mode) && same_inode(&sf, &st);
    }
    if (d != NULL) {
        closedir(d);
    }
    return found;
}

/* Are |path|'s and |other|'s files (links followed) the same file? */
static int same_file(const char *path, const char *other)
{
    struct stat a, b;
    return other != NULL && stat(path, &a) == 0 && stat(other, &b) == 0 && same_inode(&a, &b);
}

/*
 * The key material |o| uses that an output at |path| (resolved; |exists|)
 * would overwrite: the SMK key file or the vault token file (the same file
 * by device and inode), or a file in the freshness-anchor folder. NULL when
 * none. Losing the key file loses every store under it.
 */
static const char *output_is_key_material(const struct opts *o, const char *path, int exists)
{
    char key[PATH_MAX];
    if (exists && o->k.vault_url == NULL && cmk_key_file_path(&o->k, key, sizeof(key), 0) == 0 &&
        same_file(path, key)) {
        return "the key file";
    }
    if (exists && o->k.vault_url != NULL && same_file(path, o->k.vault_token_file)) {
        return "the vault token file";
    }
    char anchors[PATH_MAX] = "";
    const char *env = getenv("CMK_ANCHOR_DIR"), *home = getenv("HOME");
    if (o->anchor_dir != NULL) {
        snprintf(anchors, sizeof(anchors), "%s", o->anchor_dir);
    } else if (env != NULL && env[0] != '\0') {
        snprintf(anchors, sizeof(anchors), "%s", env);
    } else if (home != NULL) {
        snprintf(anchors, sizeof(anchors), "%s/.cmk/anchors", home);
    }
    char folder[PATH_MAX];
    snprintf(folder, sizeof(folder), "%s", path);
    char *slash = strrchr(folder, '/');
    if (slash != NULL) {
        slash[slash == folder ? 1 : 0] = '\0';
    }
    return anchors[0] != '\0' && slash != NULL && same_file(folder, anchors)
               ? "the freshness-anchor folder"
               : NULL;
}

/*
 * Resolves get's --output |arg| into |out| and refuses what would destroy
 * data: a path inside the store folder |store_dir| (compared by device and
 * inode, so symbolic links, bind mounts and hard links are found), the key
 * file, token file or anchor folder in use, a folder, a dangling link, and
 * an existing file without --force. Prints the error; EXIT_OK or
 * EXIT_USAGE.
 */
static int check_output(const struct opts *o, const char *arg, const char *store_dir, int force,
                        struct output *out)
{
    memset(out, 0, sizeof(*out));
    struct stat st;
    int exists = lstat(arg, &st) == 0;
    if (!exists && errno != ENOENT) {
        fprintf(stderr, "cmk: get: --output %s: %s\n", arg, strerror(errno));
        return EXIT_USAGE;
    }
    if (exists && stat(arg, &st) != 0) {
        fprintf(stderr, "cmk: get: --output %s is a symbolic link to a missing file\n", arg);
        return EXIT_USAGE;
    }
    if (exists && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "cmk: get: --output %s is a folder, not a file\n", arg);
        return EXIT_USAGE;
    }
    if (exists && !S_ISREG(st.st_mode)) {
        snprintf(out->path, sizeof(out->path), "%s", arg); /* a device or FIFO */
        return EXIT_OK;
    }
    if (exists) {
        if (realpath(arg, out->path) == NULL) {
            fprintf(stderr, "cmk: get: --output %s: %s\n", arg, strerror(errno));
            return EXIT_USAGE;
        }
    } else {
        /* Not there yet: resolve its folder, then add the name. */
        const char *slash = strrchr(arg, '/');
        const char *name = slash != NULL ? slash + 1 : arg;
        char folder[PATH_MAX] = ".";
        if (slash != NULL) {
            size_t flen = slash == arg ? 1 : (size_t)(slash - arg); /* "/name": "/" */
            snprintf(folder, sizeof(folder), "%.*s", (int)flen, arg);
        }
        if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            fprintf(stderr, "cmk: get: --output %s names a folder, not a file\n", arg);
            return EXIT_USAGE;
        }
        char real[PATH_MAX];
        if (realpath(folder, real) == NULL) {
            fprintf(stderr, "cmk: get: --output %s: the folder %s does not exist\n", arg, folder);
            return EXIT_USAGE;
        }
        int n = snprintf(out->path, sizeof(out->path), "%s%s%s", real,
                         strcmp(real, "/") == 0 ? "" : "/", name);
        if (n < 0 || (size_t)n >= sizeof(out->path)) {
            fprintf(stderr, "cmk: get: --output %s: path too long\n", arg);
            return EXIT_USAGE;
        }
    }
    if (output_in_store(out->path, exists, store_dir)) {
        fprintf(stderr,
                "cmk: get: --output %s is inside the store %s; refused (it would "
                "overwrite the store's own files)\n",
                arg, store_dir);
        return EXIT_USAGE;
    }
    const char *key = output_is_key_material(o, out->path, exists);
    if (key != NULL) {
        fprintf(stderr,
                "cmk: get: --output %s is %s in use; refused (the stores under it would be "
                "lost)\n",
                arg, key);
        return EXIT_USAGE;
    }
    if (exists && !force) {
        fprintf(stderr, "cmk: get: --output %s exists; give --force to replace it\n", arg);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/*
 * Opens |out| for writing: a temp file (created 0600 whatever the umask:
 * plaintext is as private as the store) beside a regular target, the
 * device itself otherwise. EXIT_OK or EXIT_ERR (printed).
 */
static int open_output(struct output *out)
{
    struct stat st;
    int fd;
    if (stat(out->path, &st) == 0 && !S_ISREG(st.st_mode)) {
        fd = open(out->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    } else {
        int n = snprintf(out->tmp, sizeof(out->tmp), "%s.cmk-get-XXXXXX", out->path);
        fd = n > 0 && (size_t)n < sizeof(out->tmp) ? mkostemp(out->tmp, O_CLOEXEC) : -1;
        if (fd < 0) {
            out->tmp[0] = '\0';
        }
    }
    out->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (out->f == NULL) {
        fprintf(stderr, "cmk: get: cannot write %s: %s\n", out->path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        if (out->tmp[0] != '\0') {
            unlink(out->tmp);
        }
        return EXIT_ERR;
    }
    return EXIT_OK;
}

/* Closes |out|: on success renames the temp file over the target, else removes it. */
static int close_output(struct output *out, int rc)
{
    if (fflush(out->f) != 0 || (out->tmp[0] != '\0' && fsync(fileno(out->f)) != 0)) {
        if (rc == EXIT_OK) {
            fprintf(stderr, "cmk: get: write failed: %s\n", strerror(errno));
            rc = EXIT_ERR;
        }
    }
    if (fclose(out->f) != 0 && rc == EXIT_OK) {
        fprintf(stderr, "cmk: get: write failed: %s\n", strerror(errno));
        rc = EXIT_ERR;
    }
    if (out->tmp[0] == '\0') {
        return rc;
    }
    if (rc == EXIT_OK && rename(out->tmp, out->path) != 0) {
        fprintf(stderr, "cmk: get: cannot rename %s to %s: %s\n", out->tmp, out->path,
                strerror(errno));
        rc = EXIT_ERR;
    }
    if (rc != EXIT_OK) {
        unlink(out->tmp);
    }
    return rc;
}

int cmd_get(const struct opts *o)
{
    if (o->npos != 2) {
        return cmk_usage_error("get needs DIR", NULL);
    }
    uint64_t off = 0, len = 0;
    if (o->offset != NULL && cmk_parse_size(o->offset, &off) != 0) {
        return cmk_usage_error("bad --offset", o->offset);
    }
    if (o->length != NULL && cmk_parse_size(o->length, &len) != 0) {
        return cmk_usage_error("bad --length", o->length);
    }
    struct output out;
    out.f = NULL;
    int rc = EXIT_OK;
    struct stat so;
    if (o->output == NULL && fstat(STDOUT_FILENO, &so) == 0 && S_ISREG(so.st_mode)) {
        /* A shell redirect (1<> s/data) must not write plaintext over the store or its keys. */
        const char *key = output_is_key_material(o, "/proc/self/fd/1", 1);
        if (key != NULL || output_in_store("/proc/self/fd/1", 1, o->pos[1])) {
            fprintf(stderr, "cmk: get: standard output is %s; refused\n",
                    key != NULL ? key : "a file of the store");
            return EXIT_USAGE;
        }
    }
    if (o->output != NULL &&
        (rc = check_output(o, o->output, o->pos[1], o->force, &out)) != EXIT_OK) {
        return rc;
    }
    struct eng_kek_provider *kek = NULL;
    struct eng_store *s = cmk_open_store(o, &kek, &rc, 1);
    if (s == NULL) {
        return rc;
    }
    uint64_t total;
    rc = check_offset("get", s, off, &total);
    if (rc == EXIT_OK && o->length == NULL) {
        len = total - off;
    } else if (rc == EXIT_OK && len > total - off) {
        fprintf(stderr,
                "cmk: get: --offset %" PRIu64 " --length %" PRIu64
                " ends past the end of the store (%" PRIu64 " bytes): %s (%s)\n",
                off, len, total, eng_strerror(ENG_ERR_RANGE), eng_error_name(ENG_ERR_RANGE));
        rc = EXIT_USAGE;
    }
    uint8_t *buf = rc == EXIT_OK ? malloc(IO_CHUNK) : NULL;
    if (rc == EXIT_OK && buf == NULL) {
        fprintf(stderr, "cmk: get: out of memory\n");
        rc = EXIT_ERR;
    }
    FILE *f = stdout;
    if (rc == EXIT_OK && o->output != NULL) {
        rc = open_output(&out);
        f = out.f;
    }
    while (rc == EXIT_OK && len > 0) {
        size_t n = len < IO_CHUNK ? (size_t)len : IO_CHUNK;
        if (eng_store_read_bytes(s, off, buf, n) != 0) {
            rc = cmk_fail("get");
            break;
        }
        if (fwrite(buf, 1, n, f) != n) {
            fprintf(stderr, "cmk: get: write failed: %s\n", strerror(errno));
            rc = EXIT_ERR;
        }
        off += n;
        len -= n;
    }
    if (o->output != NULL && out.f != NULL) {
        rc = close_output(&out, rc);
    }
    if (buf != NULL) {
        eng_cleanse(buf, IO_CHUNK);
    }
    free(buf);
    eng_store_close(s);
    eng_kek_provider_free(kek);
    return rc;
}

static void print_status_text(const char *dir, struct eng_store *s, const struct eng_store_info *in)
{
    char id[2 * ENG_STORE_ID_BYTES + 1];
    base_hex(id, in->store_id, ENG_STORE_ID_BYTES);
    printf("store       %s\n", dir);
    printf("store id    %s\n", id);
    printf("mode        %s\n", eng_mode_name(in->mode));
    printf("unit size   %" PRIu32 "\n", in->unit_size);
    printf("units       %" PRIu64 " (%" PRIu64 " bytes)\n", in->num_units,
           in->num_units * in->unit_size);
    printf("extents     %" PRIu32 " of %" PRIu32 " units\n", in->num_extents, in->extent_units);
    printf("integrity   %s\n", in->mode == ENG_MODE_GCM ? "gcm tag per unit"
                               : in->integrity != ENG_STORE_INTEGRITY_NONE
                                   ? "hmac-sha256 per unit (macs)"
                                   : "none (xts: changed data is not detected)");
    printf("generation  %" PRIu64 "\n", in->generation);
    if (in->accessible) {
        /* An expired KEK still unwraps: say "reads only" where "ok" is read first. */
        printf("access      %s (key table MAC verified, KEK checked at open, then every %" PRIu32
               " s while open)\n",
               in->kek_expired != ENG_OK ? "reads only" : "ok", in->revalidate_s);
        if (in->kek_expired != ENG_OK) {
            printf("writes      refused: %s (%s)\n", eng_strerror(in->kek_expired),
                   eng_error_name(in->kek_expired));
        }
    } else {
        printf("access      inaccessible: %s (%s)\n", eng_strerror(in->cause),
               eng_error_name(in->cause));
    }
    printf("deks\n  %-6s %-6s %-21s %-4s %-8s %-40s %s\n", "id", "extent", "units", "slot", "state",
           "kek (provider:key id/version)", "wrap");
    for (uint32_t i = 0; i < in->num_records; i++) {
        struct eng_store_dek d;
        if (eng_store_dek_info(s, i, &d) != 0) {
            continue;
        }
        char range[48];
        snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, d.first_unit,
                 d.first_unit + d.num_units - 1);
        printf("  %-6" PRIu32 " %-6" PRIu32 " %-21s %-4" PRIu32 " %-8s %s:%s/%s %s (%zu B)\n",
               d.dek_id, d.extent, range, d.slot, d.active ? "active" : "retired", d.kek.provider,
               d.kek.key_id, d.kek.version, d.kek.alg, d.wrapped_len);
    }
}

static void print_status_json(const char *dir, struct eng_store *s, const struct eng_store_info *in)
{
    char id[2 * ENG_STORE_ID_BYTES + 1];
    base_hex(id, in->store_id, ENG_STORE_ID_BYTES);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "schema_version", 1);
    cJSON_AddStringToObject(root, "store", dir);
    cJSON_AddStringToObject(root, "store_id", id);
    cJSON_AddStringToObject(root, "mode", eng_mode_name(in->mode));
    cJSON_AddNumberToObject(root, "unit_size", in->unit_size);
    cJSON_AddNumberToObject(root, "num_units", (double)in->num_units);
    cJSON_AddNumberToObject(root, "extent_units", in->extent_units);
    cJSON_AddNumberToObject(root, "num_extents", in->num_extents);
    cJSON_AddStringToObject(root, "integrity",
                            in->mode == ENG_MODE_GCM                    ? "gcm"
                            : in->integrity != ENG_STORE_INTEGRITY_NONE ? "hmac-sha256"
                                                                        : "none");
    cJSON_AddNumberToObject(root, "generation", (double)in->generation);
    cJSON_AddBoolToObject(root, "accessible", in->accessible);
    cJSON_AddBoolToObject(root, "mac_verified", in->mac_verified);
    cJSON_AddStringToObject(root, "cause", in->accessible ? "" : eng_error_name(in->cause));
    cJSON_AddStringToObject(root, "kek_expired",
                            in->kek_expired == ENG_OK ? "" : eng_error_name(in->kek_expired));
    cJSON *deks = cJSON_AddArrayToObject(root, "deks");
    for (uint32_t i = 0; i < in->num_records; i++) {
        struct eng_store_dek d;
        if (eng_store_dek_info(s, i, &d) != 0) {
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "dek_id", d.dek_id);
        cJSON_AddNumberToObject(o, "extent", d.extent);
        cJSON_AddNumberToObject(o, "first_unit", (double)d.first_unit);
        cJSON_AddNumberToObject(o, "num_units", (double)d.num_units);
        cJSON_AddNumberToObject(o, "slot", d.slot);
        cJSON_AddStringToObject(o, "state", d.active ? "active" : "retired");
        cJSON_AddNumberToObject(o, "created", (double)d.created);
        cJSON_AddStringToObject(o, "kek_provider", d.kek.provider);
        cJSON_AddStringToObject(o, "kek_key_id", d.kek.key_id);
        cJSON_AddStringToObject(o, "kek_version", d.kek.version);
        cJSON_AddStringToObject(o, "wrap_alg", d.kek.alg);
        cJSON_AddNumberToObject(o, "wrapped_len", (double)d.wrapped_len);
        cJSON_AddItemToArray(deks, o);
    }
    char *text = cJSON_Print(root);
    if (text != NULL) {
        puts(text);
    }
    free(text);
    cJSON_Delete(root);
}

int cmd_status(const struct opts *o)
{
    if (o->npos != 2) {
        return cmk_usage_error("status needs DIR", NULL);
    }
    /* With the key: full check. Without it (revoked): the key table alone, and exit 3. */
    struct eng_store_config cfg;
    int rc = cmk_run_config(o, &cfg);
    if (rc != EXIT_OK || (rc = cmk_store_needs_vault(o, o->pos[1])) != EXIT_OK) {
        return rc;
    }
    cfg.flags |= ENG_STORE_READ_ONLY;
    struct eng_kek_provider *kek = cmk_open_kek(&o->k, 0);
    struct eng_store *s = kek != NULL ? cmk_open_waiting(o->pos[1], kek, &cfg) : NULL;
    int open_err = s == NULL ? eng_errno() : ENG_OK;
    if (s == NULL && cmk_exit_code_for(open_err) == EXIT_INACCESSIBLE) {
        s = eng_store_inspect(o->pos[1]);
    }
    if (s == NULL) {
        if (open_err != ENG_OK && kek != NULL) {
            rc = cmk_open_failed(o, kek, "status", open_err);
            eng_kek_provider_free(kek);
            return rc;
        }
        eng_kek_provider_free(kek);
        return kek == NULL ? cmk_kek_exit_code() : cmk_fail("status");
    }
    struct eng_store_info info;
    eng_store_get_info(s, &info);
    if (open_err != ENG_OK) {
        info.cause = open_err;
        rc = EXIT_INACCESSIBLE;
    }
    if (o->json) {
        print_status_json(o->pos[1], s, &info);
    } else {
        print_status_text(o->pos[1], s, &info);
    }
    eng_store_close(s);
    eng_kek_provider_free(kek);
    return rc;
}
